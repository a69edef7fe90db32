"""Compare the read models with chain state at the indexed block and list every difference.

Checked: every certificate's holder, value, lineage and lock, every payable's status and paid
amounts, every credit line, every participant, every settlement-token balance, and that the
database knows every slot and token the chain has created. The comparison reads the chain at the
checkpoint block, so a running indexer and a moving head do not produce false alarms.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.engine import Engine
from web3 import Web3
from web3.contract import Contract
from web3.exceptions import ContractLogicError

from tierflow.errors import ConfigurationError
from tierflow.platform.models import (
    ZERO_ADDRESS,
    BillPackage,
    BillRange,
    Certificate,
    Checkpoint,
    CreditLine,
    FinancingRequest,
    Participant,
    Payable,
    SettlementBalance,
)

SLOT_STATUS = ["None", "Issued", "Accepted", "Rejected", "Cancelled", "Defaulted", "Repaid"]
PARTICIPANT_STATUS = ["none", "active", "suspended"]
REQUEST_STATUS = ["None", "Requested", "Quoted", "Accepted", "Funded", "Cancelled", "Declined", "Recoursed"]
PACKAGE_STATUS = ["None", "Issued", "Accepted", "Received", "Rejected", "Cancelled"]
RANGE_STATUS = ["None", "Held", "Pledged", "Presented", "Paid", "Dishonoured", "Closed"]


@dataclass(frozen=True)
class Difference:
    what: str  # table or check name
    key: str
    field: str
    database: Any
    chain: Any


@dataclass
class ReconcileReport:
    block_number: int
    checked: dict[str, int] = field(default_factory=dict)
    differences: list[Difference] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.differences


def _rows(engine: Engine, model: Any) -> list[dict[str, Any]]:
    table = model.__table__
    with engine.connect() as conn:
        return [
            dict(row) for row in conn.execute(select(table).order_by(*table.primary_key.columns)).mappings()
        ]


def _call(function: Any, block: int) -> Any:
    """The view's result at `block`, or None when it reverts (unknown id)."""
    try:
        return function.call(block_identifier=block)
    except ContractLogicError:
        return None


class _Comparer:
    def __init__(self, report: ReconcileReport) -> None:
        self.report = report

    def check(self, what: str, key: Any, pairs: Iterable[tuple[str, Any, Any]]) -> None:
        self.report.checked[what] = self.report.checked.get(what, 0) + 1
        for name, database, chain in pairs:
            if database != chain:
                self.report.differences.append(Difference(what, str(key), name, database, chain))


def reconcile(engine: Engine, w3: Web3, deployment: Any, block: int | None = None) -> ReconcileReport:
    """Differences between the database behind `engine` and the chain at `block` (default: the checkpoint)."""
    with engine.connect() as conn:
        checkpoint = conn.execute(select(Checkpoint.__table__)).mappings().first()  # type: ignore[attr-defined]
    if checkpoint is None:
        raise ConfigurationError("the database has no checkpoint yet: run `tierflow index --once` first")
    if block is None:
        block = int(checkpoint["block_number"])
    report = ReconcileReport(block_number=block)
    compare = _Comparer(report)
    contracts = {name: deployment.contract(w3, name) for name in deployment.contracts}
    checks: list[Callable[[Engine, dict[str, Contract], int, _Comparer], None]] = [
        _certificates,
        _payables,
        _credit_lines,
        _participants,
        _balances,
        _financing,
        _bills,
    ]
    for check in checks:
        if check in (_financing, _bills) and _CHECK_NEEDS[check.__name__] not in contracts:
            continue
        check(engine, contracts, block, compare)
    return report


_CHECK_NEEDS = {"_financing": "Financing", "_bills": "Bills"}


def _certificates(engine: Engine, contracts: dict[str, Contract], block: int, compare: _Comparer) -> None:
    receivables = contracts["Receivables"]
    rows = _rows(engine, Certificate)
    for row in rows:
        token = _call(receivables.functions.token(row["token_id"]), block)
        if row["status"] == "burned":
            holder = ZERO_ADDRESS if token is None else token[0]
            compare.check("certificate", row["token_id"], [("holder", ZERO_ADDRESS, holder)])
            continue
        if token is None:
            compare.check("certificate", row["token_id"], [("exists", True, False)])
            continue
        holder, slot_id, value, parent, root, locked, lock_ref = token
        compare.check(
            "certificate",
            row["token_id"],
            [
                ("holder", row["holder"], holder),
                ("slot_id", row["slot_id"], slot_id),
                ("value", row["value"], value),
                ("parent_id", row["parent_id"] or 0, parent),
                ("root_id", row["root_id"], root),
                ("locked", row["locked"], locked),
                ("lock_ref", row["lock_ref"] or 0, lock_ref),
            ],
        )
    last = _call(receivables.functions.lastTokenId(), block)
    compare.check("certificate", "*", [("count", len(rows), last)])


def _payables(engine: Engine, contracts: dict[str, Contract], block: int, compare: _Comparer) -> None:
    receivables = contracts["Receivables"]
    rows = _rows(engine, Payable)
    for row in rows:
        slot = _call(receivables.functions.slot(row["slot_id"]), block)
        if slot is None:
            compare.check("payable", row["slot_id"], [("exists", True, False)])
            continue
        obligor, line_id, face, maturity, _issued_at, status, paid_in, paid_out, root_token_id, _count = slot
        compare.check(
            "payable",
            row["slot_id"],
            [
                ("obligor", row["obligor"], obligor),
                ("line_id", row["line_id"], line_id),
                ("face", row["face"], face),
                ("maturity", row["maturity"], maturity),
                ("status", row["status"], SLOT_STATUS[status]),
                ("paid_in", row["paid_in"], paid_in),
                ("paid_out", row["paid_out"], paid_out),
                ("root_token_id", row["root_token_id"], root_token_id),
            ],
        )
    last = _call(receivables.functions.lastSlotId(), block)
    compare.check("payable", "*", [("count", len(rows), last)])


def _credit_lines(engine: Engine, contracts: dict[str, Contract], block: int, compare: _Comparer) -> None:
    credit_lines = contracts["CreditLines"]
    rows = _rows(engine, CreditLine)
    for row in rows:
        line = _call(credit_lines.functions.line(row["line_id"]), block)
        if line is None:
            compare.check("credit_line", row["line_id"], [("exists", True, False)])
            continue
        financier, obligor, limit, used, expiry = line
        compare.check(
            "credit_line",
            row["line_id"],
            [
                ("financier", row["financier"], financier),
                ("obligor", row["obligor"], obligor),
                ("limit", row["limit"], limit),
                ("used", row["used"], used),
                ("available", row["available"], limit - used),
                ("expiry", row["expiry"], expiry),
            ],
        )
    # Lines are numbered from 1 without gaps: the next id must be unknown on chain.
    beyond = _call(credit_lines.functions.line(len(rows) + 1), block)
    compare.check(
        "credit_line", "*", [("unindexed line", None, None if _empty_line(beyond) else len(rows) + 1)]
    )


def _empty_line(line: Any) -> bool:
    return line is None or line[1] == ZERO_ADDRESS


def _participants(engine: Engine, contracts: dict[str, Contract], block: int, compare: _Comparer) -> None:
    registry = contracts["ParticipantRegistry"]
    for row in _rows(engine, Participant):
        roles, status, entity_hash = registry.functions.participant(row["address"]).call(
            block_identifier=block
        )
        compare.check(
            "participant",
            row["address"],
            [
                ("roles", row["roles"], roles),
                ("status", row["status"], PARTICIPANT_STATUS[status]),
                ("entity_hash", row["entity_hash"], "0x" + bytes(entity_hash).hex()),
            ],
        )


def _balances(engine: Engine, contracts: dict[str, Contract], block: int, compare: _Comparer) -> None:
    token = contracts["SettlementToken"]
    rows = _rows(engine, SettlementBalance)
    for row in rows:
        balance = token.functions.balanceOf(row["address"]).call(block_identifier=block)
        compare.check("settlement_balance", row["address"], [("balance", row["balance"], balance)])
    with engine.connect() as conn:
        total = sum(
            balance
            for (balance,) in conn.execute(select(SettlementBalance.__table__.c.balance))  # type: ignore[attr-defined]
        )
    supply = token.functions.totalSupply().call(block_identifier=block)
    compare.check("settlement_balance", "*", [("total supply", total, supply)])


def _financing(engine: Engine, contracts: dict[str, Contract], block: int, compare: _Comparer) -> None:
    financing = contracts["Financing"]
    rows = _rows(engine, FinancingRequest)
    for row in rows:
        request = _call(financing.functions.getRequest(row["request_id"]), block)
        if request is None:
            compare.check("financing_request", row["request_id"], [("exists", True, False)])
            continue
        token_id, seller, financier, amount, with_recourse, status, rate, expiry, discount, price = request
        compare.check(
            "financing_request",
            row["request_id"],
            [
                ("token_id", row["token_id"], token_id),
                ("seller", row["seller"], seller),
                ("financier", row["financier"], financier),
                ("amount", row["amount"], amount),
                ("with_recourse", row["with_recourse"], with_recourse),
                ("status", row["status"], REQUEST_STATUS[status]),
                ("rate_bps", row["rate_bps"] or 0, rate),
                ("quote_expiry", row["quote_expiry"] or 0, expiry),
                ("discount", row["discount"] or 0, discount),
                ("price", row["price"] or 0, price),
            ],
        )
    last = _call(financing.functions.lastRequestId(), block)
    compare.check("financing_request", "*", [("count", len(rows), last)])


def _bills(engine: Engine, contracts: dict[str, Contract], block: int, compare: _Comparer) -> None:
    bills = contracts["Bills"]
    packages = _rows(engine, BillPackage)
    for row in packages:
        drawer, maturity, status, _split, _nt, _bank, acceptor, face, payee, _digest = (
            bills.functions.package(row["package_id"]).call(block_identifier=block)
        )
        compare.check(
            "bill_package",
            row["package_id"],
            [
                ("drawer", row["drawer"], drawer),
                ("acceptor", row["acceptor"], acceptor),
                ("payee", row["payee"], payee),
                ("face", row["face"], face),
                ("maturity", row["maturity"], maturity),
                ("status", row["status"], PACKAGE_STATUS[status]),
            ],
        )
    next_package = bills.functions.nextPackageId().call(block_identifier=block)
    compare.check("bill_package", "*", [("count", len(packages), next_package - 1)])
    ranges = _rows(engine, BillRange)
    for row in ranges:
        holder, package_id, status, start, end, prev, _presented = bills.functions.range(
            row["range_id"]
        ).call(block_identifier=block)
        pledgee = bills.functions.pledgeeOf(row["range_id"]).call(block_identifier=block)
        compare.check(
            "bill_range",
            row["range_id"],
            [
                ("holder", row["holder"], holder),
                ("package_id", row["package_id"], package_id),
                ("status", row["status"], RANGE_STATUS[status]),
                ("start", row["start"], start),
                ("end", row["end"], end),
                ("prev", row["prev"], prev),
                ("pledgee", row["pledgee"] or ZERO_ADDRESS, pledgee),
            ],
        )
    next_range = bills.functions.nextRangeId().call(block_identifier=block)
    compare.check("bill_range", "*", [("count", len(ranges), next_range - 1)])
