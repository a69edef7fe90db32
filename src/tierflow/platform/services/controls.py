"""Asset-level controls (issue 15): judicial holds, forced transfers and lost-key recovery.

A hold (freeze, unfreeze) is one transaction of the operator's key, which holds the registry's
CONTROLLER_ROLE: a court's freeze cannot wait. A forced transfer or a recovery is governance's: the
operator (a governor) proposes it to the council, and it runs once `threshold` governors approved and the
delay passed (services/governance.py). The order behind a control stays off chain: the chain records
keccak-256 of its reference. A recovery is ONE batch proposal: every call (the registry first, then each
contract's positions in runs of at most 200 ids) approved once and executed atomically by the timelock.
Only a participant with more positions than one block's gas can carry is split, into the fewest batches
that fit, the registry's step in the first.
"""

from __future__ import annotations

from typing import Any, TypeVar

from eth_utils.crypto import keccak
from sqlalchemy import or_, select
from sqlmodel import Session, col

from tierflow.chain.gateway import Call
from tierflow.platform.models import (
    AssetControl,
    AssetHold,
    BillPackage,
    BillQuote,
    BillRange,
    Certificate,
    CreditLine,
    FinancingRequest,
    Payable,
    SettlementBalance,
)
from tierflow.platform.models.service import DirectoryParticipant
from tierflow.platform.services import governance
from tierflow.platform.services.context import ServiceContext
from tierflow.platform.services.schemas.certificates import TxResult
from tierflow.platform.services.schemas.controls import (
    CertificateForce,
    CertificateFreeze,
    ControlPublic,
    HoldPublic,
    RangeForce,
    RangeFreeze,
    Recovery,
    RecoveryPublic,
)
from tierflow.platform.services.writes import finish

RECOVERY_BATCH = 200  # Receivables.MAX_RECOVERY_BATCH and Bills.MAX_RECOVERY_BATCH
# [gas] what a batch's proposeBatch spends per 32-byte word of calldata: it stores the calls (a new slot,
# 22,100), logs them, and each call's length and target slots (bench/controls_gas.py measure_recovery:
# 26,100 a word over a 100-position recovery; rounded up)
PROPOSE_GAS_PER_WORD = 27_000
# [gas] execution's bookkeeping per call besides the call's own gas: the council reads the stored call
# (2,100 a word) and the timelock calls out; and, per call, what eth_simulateV1 counts that a call from
# the timelock does not pay (the 21,000 of a transaction)
EXECUTE_GAS_PER_WORD = 2_600
EXECUTE_GAS_PER_CALL = 15_000
# [gas] per id when the node cannot simulate the batch (no eth_simulateV1): above every recovery call's
# measured cost per item (docs/contracts.md)
FALLBACK_GAS_PER_ITEM = 40_000
BLOCK_SHARE = 0.9  # of the block gas limit a batch plans to use: state may grow before it runs
T = TypeVar("T")  # what a recovery batches: ids, or (kind, id) pairs


def reason_hash(order: str) -> bytes:
    """The hash the chain records for an order's reference (the reference itself stays off chain)."""
    return keccak(text=order.strip())


def _send(ctx: ServiceContext, contract: str, function: str, *args: object) -> TxResult:
    return finish(ctx=ctx, outcome=ctx.gateway().send_direct(ctx.operator, Call(contract, function, args)))


def _propose(
    ctx: ServiceContext, contract: str, function: str, *args: object, check: bool = True
) -> TxResult:
    """A council proposal by the operator (a governor): `result.proposal_id` for the other governors."""
    return governance.propose_as(ctx, ctx.operator, Call(contract, function, args), check=check)


# -- certificates -----------------------------------------------------------------------------------
def freeze_certificate(*, ctx: ServiceContext, token_id: int, data: CertificateFreeze) -> TxResult:
    return _send(ctx, "Receivables", "freeze", token_id, data.amount, reason_hash(data.order))


def unfreeze_certificate(*, ctx: ServiceContext, token_id: int, order: str) -> TxResult:
    return _send(ctx, "Receivables", "unfreeze", token_id, reason_hash(order))


def force_certificate(*, ctx: ServiceContext, token_id: int, data: CertificateForce) -> TxResult:
    return _propose(
        ctx, "Receivables", "forceTransfer", token_id, data.to, data.value, reason_hash(data.order)
    )


# -- bill ranges ------------------------------------------------------------------------------------
def freeze_range(*, ctx: ServiceContext, range_id: int, data: RangeFreeze) -> TxResult:
    return _send(ctx, "Bills", "freezeRange", range_id, data.start, data.end, reason_hash(data.order))


def unfreeze_range(*, ctx: ServiceContext, range_id: int, order: str) -> TxResult:
    return _send(ctx, "Bills", "unfreezeRange", range_id, reason_hash(order))


def force_range(*, ctx: ServiceContext, range_id: int, data: RangeForce) -> TxResult:
    return _propose(
        ctx, "Bills", "forceTransferRange", range_id, data.start, data.end, data.to, reason_hash(data.order)
    )


# -- lost-key recovery ------------------------------------------------------------------------------
def _batches(items: list[T]) -> list[list[T]]:
    """`items` in runs of at most RECOVERY_BATCH (a recovery call's limit of ids)."""
    return [items[i : i + RECOVERY_BATCH] for i in range(0, len(items), RECOVERY_BATCH)]


def recover(*, ctx: ServiceContext, session: Session, address: str, data: Recovery) -> RecoveryPublic:
    """Move everything `address` holds on chain to `data.new_address`, then bar `address` for good.

    Holdings come from the read models (the chain does not enumerate). Financing requests that name the
    old address (open, or funded and so still open to recourse) move with its recourse debts, so a sale
    under way goes on with the new key as the seller.
    """
    old, new = address, data.new_address
    tokens = _ids(
        session,
        col(Certificate.token_id),
        col(Certificate.holder) == old,
        col(Certificate.status) != "burned",
    )
    # open requests and funded ones that may still turn into recourse: their seller or financier moves
    requests = _ids(
        session,
        col(FinancingRequest.request_id),
        or_(col(FinancingRequest.seller) == old, col(FinancingRequest.financier) == old),
        col(FinancingRequest.status).in_(["Requested", "Quoted", "Accepted", "Funded"]),
    )
    packages = _ids(
        session,
        col(BillPackage.package_id),
        or_(col(BillPackage.drawer) == old, col(BillPackage.acceptor) == old, col(BillPackage.payee) == old),
    )
    ranges = _ids(
        session,
        col(BillRange.range_id),
        or_(
            col(BillRange.holder) == old,
            col(BillRange.pledgee) == old,
            col(BillRange.recourse_obligor) == old,
        ),
    )
    payables = _ids(session, col(Payable.slot_id), col(Payable.obligor) == old)
    lines = _ids(
        session,
        col(CreditLine.line_id),
        or_(col(CreditLine.obligor) == old, col(CreditLine.financier) == old),
    )
    quotes = _ids(
        session, col(BillQuote.quote_id), col(BillQuote.financier) == old, col(BillQuote.status) == "open"
    )
    balance_row = session.get(SettlementBalance, old)
    balance = int(balance_row.balance) if balance_row is not None else 0
    session.commit()  # end the read transaction before the chain calls
    why = reason_hash(data.order)
    calls = [Call("ParticipantRegistry", "recover", (old, new, why))]
    calls += [Call("Receivables", "recoverTokens", (old, new, b, why)) for b in _batches(tokens)]
    owed = int(ctx.gateway().call("Financing", "recourseOwed", old))
    for batch in _batches(requests) or ([[]] if owed else []):
        calls.append(Call("Financing", "recoverPositions", (old, new, batch, why)))
    calls += [Call("Receivables", "recoverObligations", (old, new, b, why)) for b in _batches(payables)]
    calls += [Call("CreditLines", "recoverLines", (old, new, b, why)) for b in _batches(lines)]
    calls += [Call("Bills", "recoverParties", (old, new, b, why)) for b in _batches(ranges)]
    # packages and quotes share one call (and its limit of 200 ids): quotes fill what packages leave
    tagged = [("package", i) for i in packages] + [("quote", i) for i in quotes]
    for chunk in _batches(tagged):
        package_ids = [i for kind, i in chunk if kind == "package"]
        quote_ids = [i for kind, i in chunk if kind == "quote"]
        calls.append(Call("Bills", "recoverPackageParties", (old, new, package_ids, quote_ids, why)))
    if balance:
        calls.append(Call("SettlementToken", "recoverBalance", (old, new)))
    batches = _plan(ctx, calls)
    description = f"recover {old} to {new}"
    steps = [governance.propose_batch_as(ctx, ctx.operator, batch, description) for batch in batches]
    # the directory bars the old key at once (it is lost, so the platform stops signing with it), ahead
    # of the registry, which bars it when the council executes the (first) batch; the company moves to
    # the new address then (succession.rebind_company, from governance.act)
    row = session.get(DirectoryParticipant, old)
    if row is not None:
        row.status = "suspended"
        session.add(row)
        session.commit()
    ids = [int(step.result["proposal_id"]) for step in steps]
    return RecoveryPublic(
        old_address=old,
        new_address=new,
        reason_hash="0x" + why.hex(),
        tx_hashes=[step.tx_hash for step in steps],
        proposal_id=ids[0],
        proposal_ids=ids if len(ids) > 1 else None,
        calls=len(calls),
        certificates=len(tokens),
        financing_requests=len(requests),
        bill_packages=len(packages),
        bill_ranges=len(ranges),
        balance=balance,
        payables=len(payables),
        credit_lines=len(lines),
        bill_quotes=len(quotes),
    )


def _plan(ctx: ServiceContext, calls: list[Call]) -> list[list[Call]]:
    """`calls` as the fewest batch proposals whose proposing and executing each fit in a block, in order.

    The whole recovery is first run as the timelock would run it (one eth_simulateV1, each call on the
    state the ones before it left): a recovery that would fail is refused now with the contract's reason,
    and each call's gas is known. Without eth_simulateV1 only the registry's step is checked and each id
    is counted at FALLBACK_GAS_PER_ITEM.
    """
    gateway = ctx.gateway()
    encoded = [gateway.calldata(call) for call in calls]
    timelock = gateway.deployment.timelock
    used = gateway.preview_sequence(timelock, encoded)
    if used is None:
        gateway.preview(timelock, *encoded[0])
        used = [21_000 + FALLBACK_GAS_PER_ITEM * max(1, (len(d) - 4) // 32 - 4) for _, d in encoded]
    costs = []
    for (_, data), gas in zip(encoded, used, strict=True):
        words = (len(data) + 31) // 32
        costs.append(
            (PROPOSE_GAS_PER_WORD * words, gas - 21_000 + EXECUTE_GAS_PER_CALL + EXECUTE_GAS_PER_WORD * words)
        )
    budget = int(gateway.block_gas_limit() * BLOCK_SHARE)
    return [[calls[i] for i in group] for group in pack(costs, budget)]


def pack(costs: list[tuple[int, int]], budget: int) -> list[list[int]]:
    """Indexes of `costs` ((proposing, executing) gas per call) in consecutive groups, each within
    `budget` on both counts: greedy, which for calls kept in order gives the fewest groups. A call over
    the budget alone still gets its own group (the chain will refuse it, as it should)."""
    groups: list[list[int]] = []
    propose = execute = 0
    for index, (p, e) in enumerate(costs):
        if groups and propose + p <= budget and execute + e <= budget:
            groups[-1].append(index)
            propose, execute = propose + p, execute + e
        else:
            groups.append([index])
            propose, execute = p, e
    return groups


def _ids(session: Session, column: Any, *where: Any) -> list[int]:
    return [int(i) for i in session.execute(select(column).where(*where).order_by(column)).scalars().all()]


# -- reads ------------------------------------------------------------------------------------------
def hold_public(row: AssetHold) -> HoldPublic:
    return HoldPublic.model_validate(row, from_attributes=True)


def holds(*, session: Session, holder: str | None = None, status: str | None = "frozen") -> list[HoldPublic]:
    """Holds, newest first: all of them (operator, auditor) or one holder's (its own, or a bank's)."""
    query = select(AssetHold)
    if holder is not None:
        query = query.where(col(AssetHold.holder) == holder)
    if status is not None:
        query = query.where(col(AssetHold.status) == status)
    rows = session.execute(query.order_by(col(AssetHold.frozen_block).desc()).limit(500)).scalars().all()
    return [hold_public(r) for r in rows]


def history(*, session: Session, limit: int = 100) -> list[ControlPublic]:
    """The latest controls, for the operator's and the auditor's views."""
    rows = (
        session.execute(
            select(AssetControl)
            .order_by(col(AssetControl.block_number).desc(), col(AssetControl.log_index).desc())
            .limit(limit)
        )
        .scalars()
        .all()
    )
    return [ControlPublic.model_validate(r, from_attributes=True) for r in rows]
