"""Compare the read models with chain state at the indexed block and list every difference.

Checked: every certificate's holder, value, lineage and lock, every payable's status and paid
amounts, every credit line, every participant, every settlement-token balance, every governance
proposal (approvals, state, eta, deadline, cancel votes) and every judicial hold, and that the database
knows every slot, token and proposal the chain has created. The comparison reads the chain at the
checkpoint block, so a running indexer and a moving head do not produce false alarms. The summary
tables (models.summary) are compared with their recomputation from the rows they sum, and each
certificate's kept tier with the lineage walk's (indexer.tiers); `tierflow index --rebuild`
(Indexer.rebuild) rebuilds them with every read model.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from eth_abi.abi import decode as abi_decode
from eth_utils.abi import get_abi_output_types
from eth_utils.crypto import keccak
from sqlalchemy import select
from sqlalchemy.engine import Engine
from web3 import Web3
from web3.contract import Contract
from web3.types import RPCEndpoint

from tierflow.chain.abi import checksum
from tierflow.chain.vocabulary import (
    PackageStatus,
    ParticipantStatus,
    ProposalState,
    RangeStatus,
    RequestStatus,
    SlotStatus,
    status_name,
)
from tierflow.errors import ConfigurationError
from tierflow.platform.indexer import summary, tiers
from tierflow.platform.models import (
    ZERO_ADDRESS,
    AssetHold,
    BillPackage,
    BillRange,
    Certificate,
    Checkpoint,
    CreditLine,
    FinancingRequest,
    GovernanceProposal,
    Participant,
    Payable,
    RecourseDebt,
    SettlementBalance,
)
from tierflow.platform.models.governance import proposal_state
from tierflow.platform.models.summary import FundedSummary, Position

SUMMARY_MODELS = {"position": Position, "funded_summary": FundedSummary}


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


def _normalise(item: dict[str, Any], value: Any) -> Any:
    """An eth_abi output value the way web3 returns it: checksummed addresses, tuples for structs."""
    abi_type = str(item["type"])
    if abi_type.endswith("]"):
        inner = {**item, "type": abi_type[: abi_type.rindex("[")]}
        return [_normalise(inner, element) for element in value]
    if abi_type == "tuple":
        return tuple(_normalise(c, v) for c, v in zip(item["components"], value, strict=True))
    if abi_type == "address":
        return checksum(value)
    return value


class _Views:
    """Contract views read at one block through batched JSON-RPC (one round trip per 500 calls)."""

    BATCH = 500

    def __init__(self, w3: Web3, block: int) -> None:
        self.w3 = w3
        self.block = hex(block)

    def many(self, contract: Contract, name: str, args: list[list[Any]]) -> list[Any]:
        """`contract.name(*a)` for every a in args; None where the call reverts (unknown id)."""
        abi = contract.get_function_by_name(name).abi
        outputs = list(abi["outputs"])
        types = [str(t) for t in get_abi_output_types(abi)]
        address = contract.address
        results: list[Any] = []
        for begin in range(0, len(args), self.BATCH):
            requests = [
                (RPCEndpoint("eth_call"), [{"to": address, "data": contract.encode_abi(name, a)}, self.block])
                for a in args[begin : begin + self.BATCH]
            ]
            responses = self.w3.provider.make_batch_request(requests)  # type: ignore[attr-defined]
            if not isinstance(responses, list):
                raise ConfigurationError(f"the node refused a batch of eth_call: {responses}")
            for response in sorted(responses, key=lambda r: int(r["id"])):
                if response.get("error") or response.get("result") in (None, "0x"):
                    results.append(None)
                    continue
                decoded = abi_decode(types, bytes.fromhex(response["result"][2:]))
                values = tuple(_normalise(o, v) for o, v in zip(outputs, decoded, strict=True))
                results.append(values[0] if len(values) == 1 else values)
        return results

    def one(self, contract: Contract, name: str, *args: Any) -> Any:
        return self.many(contract, name, [list(args)])[0]


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
    views = _Views(w3, block)
    checks: list[Check] = [
        _certificates,
        _payables,
        _credit_lines,
        _participants,
        _balances,
        _financing,
        _bills,
        _governance,
        _holds,
    ]
    for check in checks:
        needs = {"_financing": "Financing", "_bills": "Bills", "_governance": "GovernanceCouncil"}.get(
            check.__name__
        )
        if needs is None or needs in contracts:
            check(engine, contracts, views, compare)
    _summaries(engine, compare)
    _tiers(engine, compare)
    return report


def _summaries(engine: Engine, compare: _Comparer) -> None:
    """Each non-zero summary row against the same sums recomputed from the certificates and requests."""
    with engine.connect() as conn:
        expected = summary.recompute(conn)
        for name, spec in summary.SUMMARIES.items():
            table = SUMMARY_MODELS[name].__table__  # type: ignore[attr-defined]
            stored = {
                tuple(row[k] for k in spec.keys): tuple(int(row[c]) for c in spec.columns)
                for row in conn.execute(select(table)).mappings()
            }
            stored = {key: values for key, values in stored.items() if any(values)}
            for key in sorted(stored.keys() | expected[name].keys(), key=str):
                compare.check(name, key, [("sums", stored.get(key), expected[name].get(key))])


def _tiers(engine: Engine, compare: _Comparer) -> None:
    """Each certificate's kept tier (certificate.tier) against the lineage walk of its payable."""
    table = tiers.CERTIFICATE
    with engine.connect() as conn:
        kept = dict(conn.execute(select(table.c.token_id, table.c.tier)).all())
        expected = tiers.walk_slots(conn, {int(slot) for (slot,) in conn.execute(select(table.c.slot_id))})
    for token in sorted(kept):
        compare.check("certificate_tier", token, [("tier", kept[token], expected.get(token))])


Check = Callable[[Engine, dict[str, Contract], _Views, _Comparer], None]


def _certificates(engine: Engine, contracts: dict[str, Contract], views: _Views, compare: _Comparer) -> None:
    receivables = contracts["Receivables"]
    rows = _rows(engine, Certificate)
    tokens = views.many(receivables, "token", [[row["token_id"]] for row in rows])
    for row, token in zip(rows, tokens, strict=True):
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
    compare.check("certificate", "*", [("count", len(rows), views.one(receivables, "lastTokenId"))])


def _payables(engine: Engine, contracts: dict[str, Contract], views: _Views, compare: _Comparer) -> None:
    receivables = contracts["Receivables"]
    rows = _rows(engine, Payable)
    slots = views.many(receivables, "slot", [[row["slot_id"]] for row in rows])
    for row, slot in zip(rows, slots, strict=True):
        if slot is None:
            compare.check("payable", row["slot_id"], [("exists", True, False)])
            continue
        obligor, line_id, face, maturity, _issued_at, status, paid_in, paid_out, root_token_id, count = slot
        compare.check(
            "payable",
            row["slot_id"],
            [
                ("obligor", row["obligor"], obligor),
                ("line_id", row["line_id"], line_id),
                ("face", row["face"], face),
                ("maturity", row["maturity"], maturity),
                ("status", row["status"], status_name(SlotStatus, status)),
                ("paid_in", row["paid_in"], paid_in),
                ("paid_out", row["paid_out"], paid_out),
                ("root_token_id", row["root_token_id"], root_token_id),
                ("invoice_count", len(row["invoice_hashes"]), count),
            ],
        )
    compare.check("payable", "*", [("count", len(rows), views.one(receivables, "lastSlotId"))])


def _credit_lines(engine: Engine, contracts: dict[str, Contract], views: _Views, compare: _Comparer) -> None:
    credit_lines = contracts["CreditLines"]
    rows = _rows(engine, CreditLine)
    lines = views.many(credit_lines, "line", [[row["line_id"]] for row in rows] + [[len(rows) + 1]])
    for row, line in zip(rows, lines, strict=False):
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
    beyond = lines[-1]
    unknown = beyond is None or beyond[1] == ZERO_ADDRESS
    compare.check("credit_line", "*", [("unindexed line", None, None if unknown else len(rows) + 1)])


def _participants(engine: Engine, contracts: dict[str, Contract], views: _Views, compare: _Comparer) -> None:
    registry = contracts["ParticipantRegistry"]
    rows = _rows(engine, Participant)
    for row, found in zip(
        rows, views.many(registry, "participant", [[r["address"]] for r in rows]), strict=True
    ):
        roles, status, entity_hash = found
        compare.check(
            "participant",
            row["address"],
            [
                ("roles", row["roles"], roles),
                ("status", row["status"], ParticipantStatus(status).name.lower()),
                ("entity_hash", row["entity_hash"], "0x" + bytes(entity_hash).hex()),
            ],
        )


def _balances(engine: Engine, contracts: dict[str, Contract], views: _Views, compare: _Comparer) -> None:
    token = contracts["SettlementToken"]
    rows = _rows(engine, SettlementBalance)
    for row, balance in zip(
        rows, views.many(token, "balanceOf", [[r["address"]] for r in rows]), strict=True
    ):
        compare.check("settlement_balance", row["address"], [("balance", row["balance"], balance)])
    total = sum(row["balance"] for row in rows)
    compare.check("settlement_balance", "*", [("total supply", total, views.one(token, "totalSupply"))])


def _financing(engine: Engine, contracts: dict[str, Contract], views: _Views, compare: _Comparer) -> None:
    financing = contracts["Financing"]
    rows = _rows(engine, FinancingRequest)
    requests = views.many(financing, "getRequest", [[row["request_id"]] for row in rows])
    for row, request in zip(rows, requests, strict=True):
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
                ("status", row["status"], status_name(RequestStatus, status)),
                ("rate_bps", row["rate_bps"] or 0, rate),
                ("quote_expiry", row["quote_expiry"] or 0, expiry),
                ("discount", row["discount"] or 0, discount),
                ("price", row["price"] or 0, price),
            ],
        )
    compare.check("financing_request", "*", [("count", len(rows), views.one(financing, "lastRequestId"))])
    _recourse_debts(engine, financing, views, compare)


def _recourse_debts(engine: Engine, financing: Contract, views: _Views, compare: _Comparer) -> None:
    """Each debt's remaining against recourseDebt(requestId), each seller's total against recourseOwed."""
    rows = _rows(engine, RecourseDebt)
    remaining = views.many(financing, "recourseDebt", [[row["request_id"]] for row in rows])
    owed: dict[str, int] = {}
    for row, left in zip(rows, remaining, strict=True):
        compare.check(
            "recourse_debt",
            row["request_id"],
            [
                ("remaining", row["remaining"], left),
                ("owed", row["owed"], row["collected"] + row["remaining"]),
            ],
        )
        owed[row["seller"]] = owed.get(row["seller"], 0) + row["remaining"]
    sellers = sorted(owed)
    for seller, total in zip(
        sellers, views.many(financing, "recourseOwed", [[s] for s in sellers]), strict=True
    ):
        compare.check("recourse_debt", seller, [("seller total", owed[seller], total)])


def _bills(engine: Engine, contracts: dict[str, Contract], views: _Views, compare: _Comparer) -> None:
    bills = contracts["Bills"]
    packages = _rows(engine, BillPackage)
    for row, package in zip(
        packages, views.many(bills, "package", [[r["package_id"]] for r in packages]), strict=True
    ):
        drawer, maturity, status, _split, _not_transferable, _bank, acceptor, face, payee, digest = package
        # Bills keeps 96 bits of the proposed invoices' hash: the indexed list must give the same digest.
        proposed = keccak(b"".join(bytes.fromhex(h[2:]) for h in row["invoice_hashes"]))[:12]
        compare.check(
            "bill_package",
            row["package_id"],
            [
                ("drawer", row["drawer"], drawer),
                ("acceptor", row["acceptor"], acceptor),
                ("payee", row["payee"], payee),
                ("face", row["face"], face),
                ("maturity", row["maturity"], maturity),
                ("status", row["status"], status_name(PackageStatus, status)),
                ("invoices_digest", "0x" + proposed.hex(), "0x" + bytes(digest).hex()),
            ],
        )
    next_package = views.one(bills, "nextPackageId")
    compare.check("bill_package", "*", [("count", len(packages), next_package - 1)])
    ranges = _rows(engine, BillRange)
    records = views.many(bills, "range", [[r["range_id"]] for r in ranges])
    pledgees = views.many(bills, "pledgeeOf", [[r["range_id"]] for r in ranges])
    for row, record, pledgee in zip(ranges, records, pledgees, strict=True):
        holder, package_id, status, depth, start, end, prev, _presented_at = record
        compare.check(
            "bill_range",
            row["range_id"],
            [
                ("holder", row["holder"], holder),
                ("package_id", row["package_id"], package_id),
                ("status", row["status"], status_name(RangeStatus, status)),
                ("start", row["start"], start),
                ("end", row["end"], end),
                ("prev", row["prev"], prev),
                ("depth", row["depth"], depth),
                ("pledgee", row["pledgee"] or ZERO_ADDRESS, pledgee),
            ],
        )
    next_range = views.one(bills, "nextRangeId")
    compare.check("bill_range", "*", [("count", len(ranges), next_range - 1)])


def _governance(engine: Engine, contracts: dict[str, Contract], views: _Views, compare: _Comparer) -> None:
    """Each proposal against the council; ids count up from 1, so a gap or a missing last one shows."""
    council = contracts["GovernanceCouncil"]
    rows = {r["proposal_id"]: r for r in _rows(engine, GovernanceProposal)}
    ids = list(range(1, max(rows, default=0) + 2))  # one past the last: the chain must not know it
    found = views.many(council, "proposal", [[i] for i in ids])
    lives = views.many(council, "proposalLife", [[i] for i in ids])
    batches = [i for i in ids if rows.get(i) is not None and rows[i]["calls"] is not None]
    calls = dict(zip(batches, views.many(council, "proposalCalls", [[i] for i in batches]), strict=True))
    now = int(views.w3.eth.get_block(int(views.block, 16))["timestamp"])
    for proposal_id, proposal, life in zip(ids, found, lives, strict=True):
        target, data, approvals, state, eta = proposal
        proposer, deadline, cancels = life
        on_chain = status_name(ProposalState, state)
        row = rows.get(proposal_id)
        if row is None:
            missing = state != ProposalState.NONE
            compare.check(
                "governance_proposal", proposal_id, [("unindexed", None, on_chain if missing else None)]
            )
            continue
        stored = proposal_state(row["state"], row["deadline"], now)  # Expired is no event
        compare.check(
            "governance_proposal",
            proposal_id,
            [
                ("proposer", row["proposer"], proposer),
                ("target", row["target"], target),
                ("data", row["data"], "0x" + bytes(data).hex()),
                ("approvals", row["approvals"], approvals),
                ("state", stored, on_chain),
                ("eta", row["eta"] or 0, eta),
                ("deadline", row["deadline"], deadline),
                ("cancels", row["cancels"], cancels),
            ],
        )
        if proposal_id in calls:  # a batch: each of its calls, in order
            targets, datas = calls[proposal_id]
            chain_calls = [
                [str(t).lower(), "0x" + bytes(d).hex()] for t, d in zip(targets, datas, strict=True)
            ]
            stored_calls = [[str(t).lower(), str(d)] for t, d in json.loads(row["calls"])]
            compare.check("governance_proposal", proposal_id, [("calls", stored_calls, chain_calls)])


def _holds(engine: Engine, contracts: dict[str, Contract], views: _Views, compare: _Comparer) -> None:
    """Each certificate hold against Receivables.hold, each bill-range hold against its record's status."""
    rows = _rows(engine, AssetHold)
    tokens = [r for r in rows if r["asset"] == "certificate"]
    receivables = contracts["Receivables"]
    for row, found in zip(
        tokens, views.many(receivables, "hold", [[r["asset_id"]] for r in tokens]), strict=True
    ):
        frozen, reason_hash, escrowed = found
        open_escrow = row["escrowed"] - row["released"] if row["status"] == "frozen" else 0
        order = "0x" + bytes(reason_hash).hex() if frozen else None
        compare.check(
            "asset_hold",
            f"certificate {row['asset_id']}",
            [
                ("status", row["status"], "frozen" if frozen else "released"),
                ("reason_hash", row["reason_hash"] if row["status"] == "frozen" else None, order),
                ("escrow", open_escrow, escrowed),
            ],
        )
    ranges = [r for r in rows if r["asset"] == "bill_range"]
    if ranges and "Bills" in contracts:
        records = views.many(contracts["Bills"], "range", [[r["asset_id"]] for r in ranges])
        for row, record in zip(ranges, records, strict=True):
            frozen = record is not None and status_name(RangeStatus, record[2]) == "Frozen"
            compare.check(
                "asset_hold",
                f"bill_range {row['asset_id']}",
                [("status", row["status"], "frozen" if frozen else "released")],
            )
