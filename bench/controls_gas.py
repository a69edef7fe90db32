"""Gas of the asset-level controls (issue 15): holds, forced transfers, key recovery, on anvil."""

from __future__ import annotations

from typing import Any

from eth_utils.crypto import keccak

from tierflow.chain.vocabulary import Role
from tierflow.testing.chain import Platform

DAY = 86_400  # [s]
YUAN = 100  # [fen]
ORDER = keccak(text="bench-court-order")
RECOVERED_TOKENS = 50  # tokens of one recoverTokens call (the contract takes up to 200)


def measure(tf: Platform) -> dict[str, int]:
    """Each control once on a 1,000,000-yuan certificate and a bill; a recovery of 50 tokens.

    Holds are the controller's (the operator's) transactions. Forced transfers and recoveries are run as
    the timelock runs them (anvil impersonates it), so the figure is the control's own gas, not the
    council's and timelock's bookkeeping around an execution. The caller snapshots and reverts around it.
    """
    c = tf.c
    gas: dict[str, int] = {}

    def run(name: str, fn: Any, sender: str) -> Any:
        receipt = tf.transact(fn, sender) if sender != "governance" else _as_timelock(tf, fn)
        if name:
            gas[name] = int(receipt["gasUsed"])
        return receipt

    receipt = run(
        "", c.credit_lines.functions.grant(tf.address("core1"), 10**12, tf.now() + 365 * DAY), "bank1"
    )
    line_id = tf.events(receipt, c.credit_lines, "CreditLineGranted")[0]["lineId"]
    face = 1_000_000 * YUAN
    receipt = run(
        "",
        c.receivables.functions.issue(tf.address("supplier1"), face, tf.now() + 90 * DAY, line_id, [ORDER]),
        "core1",
    )
    issued = tf.events(receipt, c.receivables, "CertificateIssued")[0]
    root = issued["tokenId"]
    run("", c.receivables.functions.accept(issued["slotId"]), "supplier1")
    rc = c.receivables.functions
    receipt = run("freeze_part", rc.freeze(root, 100_000 * YUAN, ORDER), "operator")
    frozen = tf.events(receipt, c.receivables, "CertificateFrozen")[0]["tokenId"]
    run(
        "force_transfer_frozen_whole",
        rc.forceTransfer(frozen, tf.address("supplier2"), 100_000 * YUAN, ORDER),
        "governance",
    )
    run("unfreeze_no_escrow", rc.unfreeze(frozen, ORDER), "operator")
    run(
        "force_transfer_part",
        rc.forceTransfer(root, tf.address("supplier3"), 50_000 * YUAN, ORDER),
        "governance",
    )
    # a supplier with 50 tokens loses its key
    lost, heir = tf.extra_account(60), tf.extra_account(61)
    run("", c.registry.functions.register(lost.address, int(Role.SUPPLIER), keccak(b"lost")), "operator")
    tokens = []
    for _ in range(RECOVERED_TOKENS):
        receipt = run("", rc.transferValue(root, lost.address, 100 * YUAN), "supplier1")
        tokens.append(tf.events(receipt, c.receivables, "CertificateSplit")[0]["newTokenId"])
    run("", c.token.functions.mint(lost.address, 1_000 * YUAN), "bank1")
    run("recover_registry", c.registry.functions.recover(lost.address, heir.address, ORDER), "governance")
    run(
        f"recover_tokens_{RECOVERED_TOKENS}",
        rc.recoverTokens(lost.address, heir.address, tokens, ORDER),
        "governance",
    )
    run("recover_balance", c.token.functions.recoverBalance(lost.address, heir.address), "governance")
    return gas


def _as_timelock(tf: Platform, fn: Any) -> Any:
    """Send `fn` from the timelock itself (anvil impersonation): a governance call without the council."""
    timelock = tf.deployment.timelock
    tf.w3.provider.make_request("anvil_impersonateAccount", [timelock])  # type: ignore[arg-type]
    tf.w3.provider.make_request("anvil_setBalance", [timelock, hex(10**18)])  # type: ignore[arg-type]
    try:
        tx_hash = tf.w3.eth.send_transaction(
            {"from": timelock, "to": fn.address, "data": fn._encode_transaction_data(), "gas": 8_000_000}
        )
        receipt = tf.w3.eth.wait_for_transaction_receipt(tx_hash)
        assert receipt["status"] == 1, f"{fn.fn_name} as the timelock reverted"
        return receipt
    finally:
        tf.w3.provider.make_request("anvil_stopImpersonatingAccount", [timelock])  # type: ignore[arg-type]
