"""Gas per operation of the certificate lifecycle, measured on real contracts on anvil."""

from __future__ import annotations

from typing import Any

from eth_utils.crypto import keccak

from tierflow.chain.vocabulary import Role
from tierflow.testing.chain import Platform

DAY = 86_400
YUAN = 100  # [fen]


def invoice(label: str) -> bytes:
    return keccak(text=f"bench-invoice:{label}")


def measure(tf: Platform) -> dict[str, int]:
    """Run each operation once in a realistic state and return gasUsed by operation name."""
    c = tf.c
    gas: dict[str, int] = {}

    def run(name: str, fn: Any, sender: str) -> Any:
        receipt = tf.transact(fn, sender)
        if name:
            gas[name] = int(receipt["gasUsed"])
        return receipt

    newcomer = tf.extra_account(0)
    run(
        "onboard",
        c.registry.functions.register(newcomer.address, int(Role.SUPPLIER), keccak(b"x")),
        "operator",
    )
    receipt = run(
        "grant_credit_line",
        c.credit_lines.functions.grant(tf.address("core1"), 10**12, tf.now() + 365 * DAY),
        "bank1",
    )
    line_id = tf.events(receipt, c.credit_lines, "CreditLineGranted")[0]["lineId"]
    maturity = tf.now() + 90 * DAY
    face = 1_000_000 * YUAN
    receipt = run(
        "issue",
        c.receivables.functions.issue(tf.address("supplier1"), face, maturity, line_id, [invoice("1")]),
        "core1",
    )
    issued = tf.events(receipt, c.receivables, "CertificateIssued")[0]
    slot_id, root = issued["slotId"], issued["tokenId"]
    run("accept", c.receivables.functions.accept(slot_id), "supplier1")
    receipt = run(
        "split_transfer_new_holder",
        c.receivables.functions.transferValue(root, tf.address("supplier2"), 300_000 * YUAN),
        "supplier1",
    )
    tier2 = tf.events(receipt, c.receivables, "CertificateSplit")[0]["newTokenId"]
    run("transfer_whole", c.receivables.functions.transfer(tier2, tf.address("supplier3")), "supplier2")

    # Financing: supplier1 sells 200,000 yuan of its token to bank1 at 3.5 % a year.
    run("mint_settlement", c.token.functions.mint(tf.address("bank1"), 10**12), "bank1")
    run("", c.token.functions.approve(c.financing.address, 2**256 - 1), "bank1")
    receipt = run(
        "financing_request",
        c.financing.functions.request(root, 200_000 * YUAN, tf.address("bank1"), True),
        "supplier1",
    )
    request_id = tf.events(receipt, c.financing, "FinancingRequested")[0]["requestId"]
    run("financing_quote", c.financing.functions.quote(request_id, 350, tf.now() + DAY // 2), "bank1")
    quoted = c.financing.functions.getRequest(request_id).call()
    accept = c.financing.functions.acceptQuote(request_id, quoted[6], quoted[9], quoted[7])  # the terms seen
    run("financing_accept_quote", accept, "supplier1")
    run("financing_fund", c.financing.functions.fund(request_id), "bank1")

    # Spread the rest over 50 holders for the batch payout.
    holders = [tf.extra_account(1 + i) for i in range(50)]
    payout_tokens = []
    for holder in holders:
        run("", c.registry.functions.register(holder.address, int(Role.SUPPLIER), keccak(b"h")), "operator")
        receipt = run(
            "", c.receivables.functions.transferValue(root, holder.address, 1_000 * YUAN), "supplier1"
        )
        payout_tokens.append(tf.events(receipt, c.receivables, "CertificateSplit")[0]["newTokenId"])

    run("", c.token.functions.mint(tf.address("core1"), face), "bank1")
    run("", c.token.functions.approve(c.receivables.address, face), "core1")
    run("repay_full", c.receivables.functions.repay(slot_id, face), "core1")
    tf.increase_time(91 * DAY)
    run("claim", c.receivables.functions.claim(tier2), "supplier3")
    run("batch_payout_50", c.receivables.functions.payout(payout_tokens), "operator")
    return gas


REFERENCES = {
    "split_transfer_new_holder": ("ERC-3525 reference transferFrom(value) to a new owner", 230_000),
    "issue": ("Huma create receivable", 297_000),
}
TARGETS = {"split_transfer_new_holder": 115_000, "issue": 250_000, "financing_fund": 150_000}
