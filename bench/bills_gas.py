"""Gas per operation of the digital-bill lifecycle (Bills.sol), measured on real contracts on anvil."""

from __future__ import annotations

from typing import Any

from eth_utils.crypto import keccak

from tierflow.testing.chain import Platform

DAY = 86_400  # [s]
YUAN = 100  # [fen]
MAX_UINT = 2**256 - 1


def measure(platform: Platform) -> dict[str, int]:
    """Run each bill operation once in a realistic state and return gasUsed by operation name.

    A 1,000,000.00-yuan commercial bill (core1 draws and accepts, supplier1 payee): issue, accept,
    receive, endorse a part (middle cut, the costliest carve) and a whole range, discount a part to
    bank1 at 2.85 % (quote + accept, DvP), pledge and release, present and pay a range at maturity.
    The caller snapshots and reverts around it.
    """
    tf = platform
    bills, token = tf.c.bills, tf.c.token
    gas: dict[str, int] = {}

    def run(name: str, fn: Any, sender: str) -> Any:
        receipt = tf.transact(fn, sender)
        if name:
            gas[name] = int(receipt["gasUsed"])
        return receipt

    def event(receipt: Any, name: str) -> dict[str, Any]:
        return tf.events(receipt, bills, name)[0]

    face = 1_000_000 * YUAN
    maturity = tf.now() + 90 * DAY
    # Steady state: the id counters (one storage word) are already non-zero, as on any live chain.
    warm_up = keccak(text=f"bench-bill-invoice:warm-up:{tf.now()}")
    run(
        "",
        bills.functions.issue(
            tf.address("core1"), tf.address("supplier1"), 1, maturity, True, False, [warm_up]
        ),
        "core1",
    )
    invoice = keccak(text=f"bench-bill-invoice:{tf.now()}")
    receipt = run(
        "bill_issue",
        bills.functions.issue(
            tf.address("core1"), tf.address("supplier1"), face, maturity, True, False, [invoice]
        ),
        "core1",
    )
    package_id = event(receipt, "BillIssued")["packageId"]
    run("bill_accept", bills.functions.accept(package_id), "core1")
    receipt = run("bill_receive", bills.functions.receiveBill(package_id), "supplier1")
    root = event(receipt, "BillReceived")["rangeId"]

    # endorse part: a prefix cut (one new record) and a middle cut (new record + remainder record)
    receipt = run(
        "bill_endorse_part",
        bills.functions.endorse(root, 1, 300_000 * YUAN, tf.address("supplier2")),
        "supplier1",
    )
    tier2 = event(receipt, "BillEndorsed")["newRangeId"]
    run(
        "bill_endorse_part_middle",
        bills.functions.endorse(tier2, 100_001, 200_000, tf.address("supplier3")),
        "supplier2",
    )
    receipt = run(
        "bill_endorse_whole",
        bills.functions.endorse(tier2, 1, 100_000, tf.address("supplier4")),
        "supplier2",
    )

    # discount part of supplier1's range to bank1: quote, then the holder accepts (DvP)
    run("", token.functions.mint(tf.address("bank1"), face), "bank1")
    run("", token.functions.approve(bills.address, MAX_UINT), "bank1")
    receipt = run(
        "bill_quote",
        bills.functions.quoteDiscount(root, 300_000 * YUAN + 1, 500_000 * YUAN, 285, tf.now() + 3 * DAY),
        "bank1",
    )
    quote_id = event(receipt, "BillQuoted")["quoteId"]
    receipt = run("bill_discount", bills.functions.acceptQuote(quote_id), "supplier1")
    bank_range = event(receipt, "BillDiscounted")["newRangeId"]

    receipt = run(
        "bill_pledge_part",
        bills.functions.pledge(root, 900_000 * YUAN + 1, face, tf.address("bank2")),
        "supplier1",
    )
    pledged = event(receipt, "BillPledged")["rangeId"]
    run("bill_release_pledge", bills.functions.releasePledge(pledged), "bank2")

    tf.increase_time(maturity - tf.now())
    run("bill_present", bills.functions.present(bank_range), "bank1")
    run("", token.functions.mint(tf.address("core1"), face), "bank1")
    run("", token.functions.approve(bills.address, MAX_UINT), "core1")
    run("bill_pay", bills.functions.pay(bank_range), "core1")
    return gas


# The lead's table keys: issue, accept, endorse part, discount, pay.
HEADLINE = ("bill_issue", "bill_accept", "bill_endorse_part", "bill_discount", "bill_pay")


if __name__ == "__main__":
    platform = Platform.start()
    try:
        for name, used in measure(platform).items():
            print(f"{name:28} {used:>9,}")
    finally:
        platform.stop()
