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


RECOVERY_ITEMS = 20  # of each kind a recovered participant holds in measure_recovery


def measure_recovery(tf: Platform, n: int = RECOVERY_ITEMS) -> dict[str, int]:
    """A whole key recovery as ONE batch proposal, through the council as the service proposes it.

    The lost participant (core enterprise and supplier) holds `n` certificates, has `n` open financing
    requests on them, owes `n` payables on `n` credit lines it borrows on, holds `n` bill ranges, and has
    cash. Figures: gas of proposeBatch (it stores every call), of the approval that schedules the batch
    on the timelock, and of the execution that runs every call; and each per position (5n positions).
    The caller snapshots and reverts around it.
    """
    c = tf.c
    lost, heir = tf.extra_account(62), tf.extra_account(63)
    tf.w3.provider.make_request("anvil_setBalance", [lost.address, hex(10**21)])  # type: ignore[arg-type]
    roles = int(Role.SUPPLIER | Role.CORE_ENTERPRISE)
    tf.transact(c.registry.functions.register(lost.address, roles, keccak(b"lost-both")), "operator")
    maturity = tf.now() + 90 * DAY
    receipt = tf.transact(
        c.credit_lines.functions.grant(tf.address("core1"), 10**12, maturity + DAY), "bank1"
    )
    line = tf.events(receipt, c.credit_lines, "CreditLineGranted")[0]["lineId"]
    receipt = tf.transact(
        c.receivables.functions.issue(
            tf.address("supplier1"), 1_000_000 * YUAN, maturity, line, [keccak(text=f"rec-root:{tf.now()}")]
        ),
        "core1",
    )
    issued = tf.events(receipt, c.receivables, "CertificateIssued")[0]
    tf.transact(c.receivables.functions.accept(issued["slotId"]), "supplier1")
    tokens, requests, lines, slots, ranges = [], [], [], [], []
    for i in range(n):
        receipt = tf.transact(
            c.receivables.functions.transferValue(issued["tokenId"], lost.address, 100 * YUAN), "supplier1"
        )
        token = tf.events(receipt, c.receivables, "CertificateSplit")[0]["newTokenId"]
        tokens.append(token)
        receipt = tf.transact(
            c.financing.functions.request(token, 50 * YUAN, tf.address("bank1"), False), lost
        )
        requests.append(tf.events(receipt, c.financing, "FinancingRequested")[0]["requestId"])
        receipt = tf.transact(c.credit_lines.functions.grant(lost.address, 10**9, maturity + DAY), "bank1")
        lines.append(tf.events(receipt, c.credit_lines, "CreditLineGranted")[0]["lineId"])
        invoice = [keccak(text=f"rec-payable:{i}:{tf.now()}")]
        receipt = tf.transact(
            c.receivables.functions.issue(
                tf.address("supplier2"), 1_000 * YUAN, maturity, lines[-1], invoice
            ),
            lost,
        )
        slots.append(tf.events(receipt, c.receivables, "CertificateIssued")[0]["slotId"])
    bills = c.bills.functions
    invoice = [keccak(text=f"rec-bill:{tf.now()}")]
    receipt = tf.transact(
        bills.issue(
            tf.address("core1"), tf.address("supplier1"), 1_000_000 * YUAN, maturity, True, False, invoice
        ),
        "core1",
    )
    package = tf.events(receipt, c.bills, "BillIssued")[0]["packageId"]
    tf.transact(bills.accept(package), "core1")
    receipt = tf.transact(bills.receiveBill(package, invoice), "supplier1")
    root = tf.events(receipt, c.bills, "BillReceived")[0]["rangeId"]
    for i in range(n):  # prefix cuts: the remainder keeps the root's id
        receipt = tf.transact(bills.endorse(root, i * 100 + 1, i * 100 + 100, lost.address), "supplier1")
        ranges.append(tf.events(receipt, c.bills, "BillEndorsed")[0]["newRangeId"])
    tf.transact(c.token.functions.mint(lost.address, 1_000 * YUAN), "bank1")
    old, new = lost.address, heir.address
    fns = [
        c.registry.functions.recover(old, new, ORDER),
        c.receivables.functions.recoverTokens(old, new, tokens, ORDER),
        c.financing.functions.recoverPositions(old, new, requests, ORDER),
        c.receivables.functions.recoverObligations(old, new, slots, ORDER),
        c.credit_lines.functions.recoverLines(old, new, lines, ORDER),
        c.bills.functions.recoverParties(old, new, ranges, ORDER),
        c.token.functions.recoverBalance(old, new),
    ]
    council = c.council.functions
    targets = [fn.address for fn in fns]
    datas = [fn._encode_transaction_data() for fn in fns]
    words = sum((len(d) - 2) // 64 for d in datas)  # 32-byte words of calldata (hex: 64 digits a word)
    receipt = tf.transact(council.proposeBatch(targets, datas, b"\0" * 32), "operator")
    proposal_id = tf.events(receipt, c.council, "BatchProposalCreated")[0]["proposalId"]
    proposed = int(receipt["gasUsed"])
    scheduled = int(tf.transact(council.approve(proposal_id), "bank1")["gasUsed"])
    tf.increase_time(int(c.timelock.functions.getMinDelay().call()) + 1)
    executed = int(tf.transact(council.execute(proposal_id), "operator")["gasUsed"])
    assert c.registry.functions.recoveredTo(old).call() == new
    positions = 5 * n
    return {
        f"recovery_batch_{positions}_positions_propose": proposed,
        f"recovery_batch_{positions}_positions_approve_schedule": scheduled,
        f"recovery_batch_{positions}_positions_execute": executed,
        "recovery_batch_propose_per_calldata_word": proposed // words,
        "recovery_batch_propose_per_position": proposed // positions,
        "recovery_batch_execute_per_position": executed // positions,
        "block_gas_limit": int(tf.w3.eth.get_block("latest")["gasLimit"]),
    }
