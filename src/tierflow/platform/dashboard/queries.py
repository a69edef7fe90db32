"""Read-model queries behind the dashboard pages: one participant's queue, book, holdings, payables.

Each reads what its arguments name (a bank's address, a supplier's); the pages ask services/access.py
first whether the viewer may see that. Amounts are summed in SQL where that is exact (services/sums.py),
or from the indexer's summary tables where a sum spans many rows: a bank's book reads one row per
payable and depth (models.summary), not one per certificate.
"""

from __future__ import annotations

import datetime as dt
import json
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from eth_utils.crypto import keccak
from sqlalchemy import func, literal, literal_column, or_, tuple_
from sqlalchemy import select as sa_select
from sqlmodel import Session, col, select

from tierflow.chain.vocabulary import Role
from tierflow.platform import i18n
from tierflow.platform.dashboard import format as fmt
from tierflow.platform.dashboard import labels
from tierflow.platform.models.bills import BillPackage, BillRange
from tierflow.platform.models.credit import CreditLine
from tierflow.platform.models.documents import SettlementBalance
from tierflow.platform.models.financing import FinancingRequest, RecourseDebt
from tierflow.platform.models.governance import GovernanceProposal
from tierflow.platform.models.indexer import Checkpoint, RawEvent
from tierflow.platform.models.receivables import Certificate, CertificateTransfer, Payable, Payout, Repayment
from tierflow.platform.models.registry import Participant, PlatformState
from tierflow.platform.models.service import DirectoryParticipant, StoredDocument
from tierflow.platform.models.summary import FundedSummary, Position
from tierflow.platform.services import estimates, keyset
from tierflow.platform.services import queries as service_queries
from tierflow.platform.services.errors import InvalidRequest
from tierflow.platform.services.forecast import cash_forecast as cash_forecast
from tierflow.platform.services.lineage import (
    TierSpread,
    holder_tiers,
    tier_label,
    tier_spread,
    tiers_of,
)
from tierflow.platform.services.queries import clock as clock
from tierflow.platform.services.queries import note_chain_time as note_chain_time
from tierflow.platform.services.sums import exact_groups

OPEN_REQUEST_STATUSES = ("Requested", "Quoted", "Accepted")
LIVE_TOKEN_STATUSES = ("active", "locked")
PAGE_SIZE = 50


# -- names -----------------------------------------------------------------------------------


@dataclass
class Directory:
    """Display names and roles of participants, loaded once per page."""

    names: dict[str, str]
    roles: dict[str, int]
    status: dict[str, str]

    def name(self, address: str | None) -> str:
        if not address:
            return "—"
        return self.names.get(address) or fmt.short_address(address)

    def with_role(self, role: Role, *, active_only: bool = True) -> list[tuple[str, str]]:
        rows = [
            (address, self.name(address))
            for address, roles in self.roles.items()
            if roles & role and (not active_only or self.status.get(address) == "active")
        ]
        return sorted(rows, key=lambda row: row[1].lower())


def directory(db: Session) -> Directory:
    names: dict[str, str] = {}
    roles: dict[str, int] = {}
    status: dict[str, str] = {}
    for person in db.exec(select(DirectoryParticipant)):
        names[person.address] = person.legal_name
        roles[person.address] = person.roles
        status[person.address] = person.status
    # The chain is the authority on roles and status; the directory adds names.
    for onchain in db.exec(select(Participant)):
        roles[onchain.address] = onchain.roles
        status[onchain.address] = onchain.status
    return Directory(names, roles, status)


def indexed(db: Session) -> dict[str, int]:
    """What a page shows in its footer (`block`, the indexed block) and what its poller compares
    (`version`, the indexer's data version: it moves only when rows change, not on empty blocks)."""
    checkpoint = db.get(Checkpoint, 1)
    if checkpoint is None:
        return {"block": 0, "version": 0}
    return {"block": checkpoint.block_number, "version": checkpoint.data_version}


def data_version(db: Session) -> int:
    return indexed(db)["version"]


MAX_ID = 2**63 - 1  # the largest payable or certificate id the database stores (BIGINT)


def standing_rate(db: Session, bank: str, fallback: int) -> int:
    """A bank's standing rate [bps]: the one it stored (its suppliers' estimates price at it), else
    `fallback` (the rate kept in the viewer's session). Quote pages warn far from it."""
    return estimates.standing_rate(db, bank) or fallback


def settlement_balance(db: Session, address: str) -> int:
    """Settlement-token balance [fen]: what a bank can fund with, what a core enterprise can repay with."""
    row = db.get(SettlementBalance, address)
    return row.balance if row is not None else 0


def defaultable_payables(db: Session, *, now: int, grace: int, limit: int = 50) -> list[Payable]:
    """Accepted payables past maturity + grace, so still unpaid in part: the operator may declare them
    defaulted (the chain checks the same rule). Oldest maturity first, through the partial index
    ix_payable_accepted_maturity (its predicate, the status, is written here as the same literal: a
    generic plan may use it too): `maturity + grace <= now` had PostgreSQL walk the maturity index from
    the oldest payable and filter every payable that ever matured and was repaid (11 ms a page view at
    28,000 payables, none of them defaultable: the usual case); the bound on the column itself seeks."""
    query = (
        select(Payable)
        .where(col(Payable.status) == literal_column("'Accepted'"), col(Payable.maturity) <= now - grace)
        .order_by(col(Payable.maturity))
        .limit(limit)
    )
    return list(db.exec(query).all())


def recourse_debts(
    db: Session, *, seller: str | None = None, financier: str | None = None
) -> list[RecourseDebt]:
    """A seller's recourse debts, or those owed to a financier, oldest first (the collection order)."""
    query = select(RecourseDebt).order_by(col(RecourseDebt.request_id))
    if seller is not None:
        query = query.where(col(RecourseDebt.seller) == seller)
    if financier is not None:
        query = query.where(col(RecourseDebt.financier) == financier)
    return list(db.exec(query).all())


def platform_state(db: Session) -> PlatformState | None:
    return db.get(PlatformState, 1)


# -- bank ------------------------------------------------------------------------------------


@dataclass
class QueueRow:
    request: FinancingRequest
    certificate: Certificate | None
    payable: Payable | None
    days: int
    tier: int | None  # the seller's supply-chain tier (services.lineage.token_tiers)
    suggested_discount: int
    suggested_price: int
    documents: list[StoredDocument]


@dataclass
class Queue:
    """One page of the queue: `first` is the position of its first row (1-based) among `total`;
    `older` / `newer` are the cursors of the neighbouring pages (None: there is none)."""

    rows: list[QueueRow]
    total: int
    first: int
    older: int | None
    newer: int | None
    cursor: str  # the query string that shows this same page again (live refresh)

    @property
    def page(self) -> int:
        """The page number of the first row (pages counted from the newest, PAGE_SIZE each)."""
        return (self.first - 1) // PAGE_SIZE + 1

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // PAGE_SIZE))


def _by_id(rows: Iterable[Any], attribute: str) -> dict[int, Any]:
    return {getattr(row, attribute): row for row in rows}


def _documents_for(db: Session, slot_ids: Sequence[int]) -> dict[int, list[StoredDocument]]:
    found: dict[int, list[StoredDocument]] = defaultdict(list)
    if slot_ids:
        # Only metadata: the encrypted bytes stay in the database until someone downloads the file.
        query = select(StoredDocument).where(col(StoredDocument.slot_id).in_(slot_ids))
        for document in db.exec(query):
            if document.slot_id is not None:
                found[document.slot_id].append(document)
    return found


def bank_queue(
    db: Session,
    financier: str,
    *,
    rate_bps: int,
    now: int,
    before: int | None = None,
    after: int | None = None,
) -> Queue:
    """Open financing requests addressed to `financier`, newest first, one keyset page at a time: the
    page of requests older than `before`, or the page just newer than `after` (default: the newest).

    Through ix_financing_request_financier_status (financier, status, request_id): the open requests of
    a bank with 100,000 funded ones are three index ranges, at any page.
    """
    request_id = col(FinancingRequest.request_id)
    where = (
        col(FinancingRequest.financier) == financier,
        col(FinancingRequest.status).in_(OPEN_REQUEST_STATUSES),
    )
    query = select(FinancingRequest).where(*where)
    if after is not None:
        # The page above: the PAGE_SIZE requests just newer than `after`, read upwards, shown newest first.
        ascending = db.exec(query.where(request_id > after).order_by(request_id).limit(PAGE_SIZE + 1)).all()
        requests = list(reversed(ascending[:PAGE_SIZE]))
        cursor = f"after={after}"
    else:
        if before is not None:
            query = query.where(request_id < before)
        requests = list(db.exec(query.order_by(request_id.desc()).limit(PAGE_SIZE + 1)).all())
        cursor = f"before={before}" if before is not None else ""
    total = db.exec(select(func.count()).select_from(FinancingRequest).where(*where)).one()
    newer_count = (
        db.exec(
            select(func.count())
            .select_from(FinancingRequest)
            .where(*where, request_id > requests[0].request_id)
        ).one()
        if requests
        else 0
    )
    older = None
    if after is None and len(requests) > PAGE_SIZE:
        del requests[PAGE_SIZE:]
    if requests and newer_count + len(requests) < total:
        older = requests[-1].request_id
    newer = requests[0].request_id if requests and newer_count else None
    tokens = _by_id(
        db.exec(select(Certificate).where(col(Certificate.token_id).in_([r.token_id for r in requests]))),
        "token_id",
    )
    slot_ids = sorted({t.slot_id for t in tokens.values()})
    payables = _by_id(db.exec(select(Payable).where(col(Payable.slot_id).in_(slot_ids))), "slot_id")
    documents = _documents_for(db, slot_ids)
    tiers = tiers_of(db, [r.token_id for r in requests])
    rows = []
    for request in requests:
        token = tokens.get(request.token_id)
        payable = payables.get(token.slot_id) if token else None
        days = fmt.days_to(payable.maturity, now) if payable else 0
        discount = fmt.discount(request.amount, rate_bps, days)
        rows.append(
            QueueRow(
                request=request,
                certificate=token,
                payable=payable,
                days=days,
                tier=tiers.get(token.token_id) if token else None,
                suggested_discount=discount,
                suggested_price=request.amount - discount,
                documents=documents.get(token.slot_id, []) if token else [],
            )
        )
    return Queue(rows=rows, total=total, first=newer_count + 1, older=older, newer=newer, cursor=cursor)


def open_request(db: Session, request_id: int) -> tuple[FinancingRequest, Certificate | None, Payable | None]:
    request = db.get(FinancingRequest, request_id)
    if request is None:
        raise LookupError(f"financing request {request_id} does not exist")
    token = db.get(Certificate, request.token_id)
    payable = db.get(Payable, token.slot_id) if token else None
    return request, token, payable


@dataclass
class LadderBucket:
    label: str
    start: int
    amount: int = 0
    count: int = 0
    overdue: bool = False


@dataclass
class ObligorPosition:
    obligor: str
    count: int = 0
    amount: int = 0
    share_bps: int = 0


@dataclass
class Portfolio:
    count: int = 0
    amount: int = 0  # face of every live position [fen]
    expected_cash_in: int = 0  # face of positions on payables not (yet) in default [fen]
    claimable: int = 0  # on repaid payables, payable to the holder now [fen]
    overdue_amount: int = 0
    defaulted_amount: int = 0
    by_obligor: list[ObligorPosition] = field(default_factory=list)
    weekly: list[LadderBucket] = field(default_factory=list)
    monthly: list[LadderBucket] = field(default_factory=list)
    funded_amount: int = 0
    funded_price: int = 0
    funded_discount: int = 0
    weighted_rate_bps: int = 0
    troubled: list[TroubledPosition] = field(default_factory=list)


@dataclass
class TroubledPosition:
    certificate: Certificate
    payable: Payable
    request: FinancingRequest | None
    days_overdue: int

    @property
    def recourse_possible(self) -> bool:
        return (
            self.request is not None
            and self.request.with_recourse
            and self.request.status == "Funded"
            and self.payable.status == "Defaulted"
        )


def _position_groups(db: Session, holder: str) -> list[tuple[str, int, str, int, int]]:
    """(obligor, maturity, payable status, count, amount) of `holder`'s live positions.

    From the indexer's position summary (one row per payable and depth, not per certificate), summed
    by payable exactly in Python, then folded onto the payables' obligor/maturity/status: a few
    thousand rows for a bank with 100,000 certificates.
    """
    by_slot: dict[int, list[int]] = defaultdict(lambda: [0, 0])
    for slot_id, tokens, value in db.execute(
        sa_select(col(Position.slot_id), col(Position.tokens), col(Position.value)).where(
            col(Position.holder) == holder, col(Position.tokens) > 0
        )
    ):
        by_slot[slot_id][0] += int(tokens)
        by_slot[slot_id][1] += int(value)
    folded: dict[tuple[str, int, str], list[int]] = defaultdict(lambda: [0, 0])
    slot_ids = list(by_slot)
    for start in range(0, len(slot_ids), 900):  # stay under SQLite's bound-parameter limit
        chunk = slot_ids[start : start + 900]
        for slot_id, obligor, maturity, status in db.execute(
            sa_select(
                col(Payable.slot_id), col(Payable.obligor), col(Payable.maturity), col(Payable.status)
            ).where(col(Payable.slot_id).in_(chunk))
        ):
            entry = folded[(obligor, maturity, status)]
            entry[0] += by_slot[slot_id][0]
            entry[1] += by_slot[slot_id][1]
    return [(o, m, s, n, total) for (o, m, s), (n, total) in folded.items()]


# A bill range in the book reads like a certificate: held or presented is awaiting payment (overdue
# past maturity), dishonoured is in default; paid and closed ranges are no position.
BILL_BOOK_STATUS = {
    "Held": "Accepted",
    "Pledged": "Accepted",
    "Presented": "Accepted",
    "Dishonoured": "Defaulted",
}


def _bill_groups(db: Session, holder: str) -> list[tuple[str, int, str, int, int]]:
    """(acceptor, maturity, status, ranges, amount) of the bill ranges `holder` holds (discounted bills in
    a bank's book): a sub-ticket is one fen, so a range [start, end] is worth end - start + 1 fen."""
    folded: dict[tuple[str, int, str], list[int]] = defaultdict(lambda: [0, 0])
    rows = db.execute(
        sa_select(
            col(BillPackage.acceptor), col(BillPackage.maturity), col(BillRange.status),
            col(BillRange.start), col(BillRange.end),
        )
        .join(BillPackage, col(BillPackage.package_id) == col(BillRange.package_id))
        .where(col(BillRange.holder) == holder, col(BillRange.status).in_(list(BILL_BOOK_STATUS)))
    )  # fmt: skip
    for acceptor, maturity, status, start, end in rows:
        entry = folded[(acceptor, int(maturity), BILL_BOOK_STATUS[status])]
        entry[0] += 1
        entry[1] += int(end) - int(start) + 1
    return [(o, m, s, n, total) for (o, m, s), (n, total) in folded.items()]


def _funded_groups(db: Session, financier: str) -> dict[Any, list[int]]:
    """Funded requests of `financier` by rate: [count, Σ amount, Σ price, Σ discount] (for the yield),
    from the indexer's summary of funded requests (one row per rate)."""
    rows = db.execute(
        sa_select(
            col(FundedSummary.rate_bps),
            col(FundedSummary.requests),
            col(FundedSummary.amount),
            col(FundedSummary.price),
            col(FundedSummary.discount),
        ).where(col(FundedSummary.financier) == financier, col(FundedSummary.requests) > 0)
    )
    return {
        rate: [int(n), int(amount), int(price), int(discount)] for rate, n, amount, price, discount in rows
    }


def _week_start(ts: int) -> int:
    day = dt.datetime.fromtimestamp(ts, tz=dt.UTC).date()
    monday = day - dt.timedelta(days=day.weekday())
    return int(dt.datetime(monday.year, monday.month, monday.day, tzinfo=dt.UTC).timestamp())


def _month_start(ts: int) -> int:
    day = dt.datetime.fromtimestamp(ts, tz=dt.UTC)
    return int(dt.datetime(day.year, day.month, 1, tzinfo=dt.UTC).timestamp())


def portfolio(db: Session, financier: str, *, now: int, troubled_limit: int = 50) -> Portfolio:
    """The financier's positions: totals, by obligor, maturity ladders, yield, and troubled positions."""
    result = Portfolio()
    by_obligor: dict[str, ObligorPosition] = {}
    weekly: dict[int, LadderBucket] = {}
    monthly: dict[int, LadderBucket] = {}
    for obligor, maturity, status, count, amount in _position_groups(db, financier) + _bill_groups(
        db, financier
    ):
        result.count += count
        result.amount += amount
        position = by_obligor.setdefault(obligor, ObligorPosition(obligor))
        position.count += count
        position.amount += amount
        if status == "Defaulted":
            result.defaulted_amount += amount
        else:
            result.expected_cash_in += amount
            if status == "Repaid":
                result.claimable += amount
            elif maturity < now:
                result.overdue_amount += amount
        week, month = _week_start(maturity), _month_start(maturity)
        for buckets, start, label in (
            (weekly, week, fmt.iso_date(week)),
            (monthly, month, fmt.iso_date(month)[:7]),
        ):
            bucket = buckets.setdefault(start, LadderBucket(label=label, start=start))
            bucket.amount += amount
            bucket.count += count
            bucket.overdue = bucket.overdue or (maturity < now and status != "Repaid")
    for position in by_obligor.values():
        position.share_bps = fmt.share_bps(position.amount, result.amount)
    result.by_obligor = sorted(by_obligor.values(), key=lambda p: -p.amount)
    result.weekly = [weekly[k] for k in sorted(weekly)]
    result.monthly = [monthly[k] for k in sorted(monthly)]

    weighted = 0
    for rate, (_, amount, price, discount) in _funded_groups(db, financier).items():
        result.funded_amount += amount
        result.funded_price += price
        result.funded_discount += discount
        weighted += (rate or 0) * amount
    if result.funded_amount:
        result.weighted_rate_bps = (2 * weighted + result.funded_amount) // (2 * result.funded_amount)

    # The troubled payables the bank holds, from its positions (one row per payable and depth), earliest
    # first; then its certificates in them through the slot index. Handed a subquery instead, SQLite
    # walks every live certificate by the status index (150 ms at 300,000 certificates).
    troubled = or_(
        col(Payable.status) == "Defaulted",
        (col(Payable.maturity) < now) & (col(Payable.status) == "Accepted"),
    )
    troubled_slots = db.exec(
        select(Position.slot_id)
        .join(Payable, col(Payable.slot_id) == col(Position.slot_id))
        .where(col(Position.holder) == financier, col(Position.tokens) > 0, troubled)
        .group_by(col(Position.slot_id), col(Payable.maturity))
        .order_by(col(Payable.maturity))
        .limit(900)  # SQLite's bound-parameter limit; the list shows the earliest troubled_limit anyway
    ).all()
    troubled_rows = (
        db.exec(
            select(Certificate, Payable)
            .join(Payable, col(Payable.slot_id) == col(Certificate.slot_id))
            .where(
                col(Certificate.slot_id).in_(list(troubled_slots)),
                col(Certificate.holder).concat("") == financier,  # the slot index, not the holder's
                col(Certificate.status).in_(LIVE_TOKEN_STATUSES),
            )
            .order_by(col(Payable.maturity), col(Certificate.token_id))
            .limit(troubled_limit)
        ).all()
        if troubled_slots
        else []
    )
    requests = _by_id(
        db.exec(
            select(FinancingRequest).where(
                col(FinancingRequest.token_id).in_([c.token_id for c, _ in troubled_rows]),
                col(FinancingRequest.financier) == financier,
            )
        ),
        "token_id",
    )
    result.troubled = [
        TroubledPosition(c, p, requests.get(c.token_id), max(0, -fmt.days_to(p.maturity, now)))
        for c, p in troubled_rows
    ]
    return result


@dataclass
class ExposureRow:
    obligor: str
    lines: int
    limit: int
    used: int
    available: int
    used_bps: int
    position: int
    concentration_bps: int


def exposure(db: Session, financier: str, positions: Portfolio) -> list[ExposureRow]:
    """Per core enterprise: credit lines granted, used, available, and the share of the bank's book."""
    totals: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0, 0])
    for line in db.exec(select(CreditLine).where(col(CreditLine.financier) == financier)):
        entry = totals[line.obligor]
        entry[0] += 1
        entry[1] += line.limit
        entry[2] += line.used
        entry[3] += line.available
    held = {p.obligor: p.amount for p in positions.by_obligor}
    rows = []
    for obligor in sorted(set(totals) | set(held)):
        n, limit, used, available = totals.get(obligor, [0, 0, 0, 0])
        rows.append(
            ExposureRow(
                obligor=obligor,
                lines=n,
                limit=limit,
                used=used,
                available=available,
                used_bps=fmt.share_bps(used, limit),
                position=held.get(obligor, 0),
                concentration_bps=fmt.share_bps(held.get(obligor, 0), positions.amount),
            )
        )
    return sorted(rows, key=lambda r: -(r.position or r.used))


# -- the bank's actions ---------------------------------------------------------------------------


@dataclass
class BankLine:
    line: CreditLine
    frozen: bool
    reopen_limit: int | None  # the limit before it was frozen, offered to unfreeze [fen]
    expired: bool


def bank_lines(db: Session, financier: str, *, now: int) -> list[BankLine]:
    """The credit lines `financier` granted, newest first, with whether each is frozen (nothing left to
    draw after the bank brought its limit down to what is drawn) and the limit that reopens it."""
    rows = db.exec(
        select(CreditLine)
        .where(col(CreditLine.financier) == financier)
        .order_by(col(CreditLine.line_id).desc())
    ).all()
    found = []
    for line in rows:
        reopen = (
            service_queries.last_limit_above(db, line.line_id, line.limit)
            if line.limit == line.used
            else None
        )
        found.append(BankLine(line, reopen is not None, reopen, line.expiry <= now))
    return found


@dataclass
class ClaimablePosition:
    certificate: Certificate
    payable: Payable


def claimable_positions(db: Session, holder: str, *, now: int, limit: int = 50) -> list[ClaimablePosition]:
    """`holder`'s live certificates on matured payables with money paid in and not yet paid out: each
    can be claimed now (its pro-rata share of what the obligor paid; the chain pays from maturity on)."""
    rows = db.exec(
        select(Certificate, Payable)
        .join(Payable, col(Payable.slot_id) == col(Certificate.slot_id))
        .where(
            col(Certificate.holder) == holder,
            col(Certificate.status).in_(LIVE_TOKEN_STATUSES),
            col(Certificate.value) > 0,
            col(Payable.paid_in) > col(Payable.paid_out),
            col(Payable.maturity) <= now,
        )
        .order_by(col(Payable.maturity), col(Certificate.token_id))
        .limit(limit)
    ).all()
    return [ClaimablePosition(c, p) for c, p in rows]


@dataclass
class ClosedDeal:
    request: FinancingRequest
    received: int  # paid out to the bank on the certificate [fen]
    funded_at: int | None  # [unix s]
    closed_at: int | None  # the last payout [unix s]

    @property
    def profit(self) -> int:
        return self.received - int(self.request.price or 0)

    @property
    def days(self) -> int:
        if self.funded_at is None or self.closed_at is None:
            return 0
        return max(1, fmt.days_to(self.closed_at, self.funded_at))


@dataclass
class ClosedBook:
    deals: list[ClosedDeal]
    paid: int = 0  # [fen] prices paid
    received: int = 0  # [fen]
    realised_yield_bps: int = 0  # profit over money × days, a year of 360 days

    @property
    def profit(self) -> int:
        return self.received - self.paid


def closed_deals(db: Session, financier: str, *, limit: int = 50) -> ClosedBook:
    """`financier`'s financings that are over: the certificate it bought paid out in full (settled).
    What it paid, what it received and when, from the indexed events; the realised yield over them."""
    rows = db.exec(
        select(FinancingRequest)
        .join(Certificate, col(Certificate.token_id) == col(FinancingRequest.token_id))
        .where(
            col(FinancingRequest.financier) == financier,
            col(FinancingRequest.status) == "Funded",
            col(Certificate.status) == "settled",
            col(Certificate.holder) == financier,
        )
        .order_by(col(FinancingRequest.funded_block).desc())
        .limit(limit)
    ).all()
    tokens = [r.token_id for r in rows]
    paid_out: dict[int, tuple[int, int]] = {}
    if tokens:
        for token_id, amount, last in db.execute(
            sa_select(col(Payout.token_id), func.sum(col(Payout.amount)), func.max(col(Payout.block_number)))
            .where(col(Payout.token_id).in_(tokens), col(Payout.holder) == financier)
            .group_by(col(Payout.token_id))
        ):
            paid_out[int(token_id)] = (int(amount), int(last))
    blocks = {r.funded_block for r in rows if r.funded_block} | {last for _, last in paid_out.values()}
    times = dict(
        db.execute(
            sa_select(col(RawEvent.block_number), func.max(col(RawEvent.block_time)))
            .where(col(RawEvent.block_number).in_(sorted(blocks)))
            .group_by(col(RawEvent.block_number))
        ).all()
    ) if blocks else {}  # fmt: skip
    book = ClosedBook(deals=[])
    weighted = 0  # Σ price × days
    for request in rows:
        received, last = paid_out.get(request.token_id, (0, 0))
        deal = ClosedDeal(request, received, times.get(request.funded_block), times.get(last))
        book.deals.append(deal)
        book.paid += int(request.price or 0)
        book.received += received
        weighted += int(request.price or 0) * deal.days
    if weighted:
        # profit / (Σ price × days) × 360 days × 10,000 bps, rounded half up
        book.realised_yield_bps = (2 * book.profit * 3_600_000 + weighted) // (2 * weighted)
    return book


def recoursed_requests(db: Session, financier: str, *, limit: int = 50) -> list[FinancingRequest]:
    """Requests on which `financier` exercised recourse: the seller owes their value until collected."""
    return list(
        db.exec(
            select(FinancingRequest)
            .where(col(FinancingRequest.financier) == financier, col(FinancingRequest.status) == "Recoursed")
            .order_by(col(FinancingRequest.request_id).desc())
            .limit(limit)
        ).all()
    )


# -- supplier --------------------------------------------------------------------------------


@dataclass
class Holding:
    certificate: Certificate
    payable: Payable
    tier: int | None = None  # services.lineage.token_tiers


@dataclass
class StatementLine:
    """Money a supplier received: a bank's price for a certificate it financed, or a payout at maturity."""

    at: int | None  # [unix s] the block's time
    kind: str  # financing | payout
    counterparty: str  # the bank that paid the price, or the obligor that repaid
    token_id: int
    slot_id: int | None
    amount: int  # [fen]
    place: tuple[int, int, int] = (0, 0, 0)  # (block, rank, id): its place in the statement's order


# A statement line's place: (block, rank, id), newest first. Within a block payouts (by log index) come
# before financing prices (by request id; a funding row keeps its block, not its log index): a total
# order, so a batch funding more than a page in one block splits across pages with every line once.
STATEMENT_FINANCING, STATEMENT_PAYOUT = 0, 1


@dataclass
class StatementPage:
    """One page of a supplier's statement: its lines, how many lines in all, the next page's cursor."""

    data: list[StatementLine]
    count: int
    next_after: str | None  # services.keyset.encode_cursor(block, rank, id) of this page's last line


def block_times(db: Session, blocks: Iterable[int]) -> dict[int, int]:
    """The time [unix s] of each indexed block in `blocks` (its events'): what a row's date is."""
    wanted = sorted(set(blocks))
    if not wanted:
        return {}
    rows = db.execute(
        sa_select(col(RawEvent.block_number), func.max(col(RawEvent.block_time)))
        .where(col(RawEvent.block_number).in_(wanted))
        .group_by(col(RawEvent.block_number))
    ).all()
    return {int(block): int(time) for block, time in rows}


def int_cursor(cursor: str | None, parts: int) -> tuple[str | None, tuple[int, ...] | None]:
    """A page's opaque cursor of `parts` integers (services.keyset) and the key it names; a cursor edited
    in the address bar is dropped (the list starts at its first page) rather than failing the page."""
    try:
        start = keyset.decode_cursor(cursor, (int,) * parts)
    except InvalidRequest:
        return None, None
    return (cursor, tuple(int(part) for part in start)) if start else (None, None)


def _before(block: Any, ident: Any, rank: int, start: tuple[int, ...] | None) -> tuple[Any, ...]:
    """The condition "older than the line `start` names" on one source of lines ranked `rank`."""
    if start is None:
        return ()
    at, at_rank, at_id = start
    if rank == at_rank:
        return (tuple_(block, ident) < tuple_(literal(at), literal(at_id)),)
    return (block <= at,) if rank < at_rank else (block < at,)


def _obligors(db: Session, slot_ids: Iterable[int]) -> dict[int, str]:
    """The obligor of each payable of `slot_ids` (indexed ones), read by primary key."""
    wanted = sorted(set(slot_ids))
    if not wanted:
        return {}
    rows = db.execute(
        sa_select(col(Payable.slot_id), col(Payable.obligor)).where(col(Payable.slot_id).in_(wanted))
    )
    return {int(slot): str(obligor) for slot, obligor in rows}


def supplier_statement(
    db: Session, supplier: str, *, limit: int = 200, after: tuple[int, ...] | None = None
) -> StatementPage:
    """What `supplier` received, when and from whom, newest first: financing prices and payouts, a keyset
    page of `limit` lines older than the line `after` names (STATEMENT_FINANCING, the cursor's parts)."""
    block, request_id = col(FinancingRequest.funded_block), col(FinancingRequest.request_id)
    # Newest first through ix_financing_request_seller_funded, a page and no more (every funded request
    # has its block; the condition names the partial index's predicate). Through the seller's index
    # PostgreSQL sorted every request the supplier ever funded and hashed the whole certificate table
    # for the page's join: 11-21 ms a statement page at 5,000 requests, growing with both; now 0.5 ms.
    funded_where = (
        col(FinancingRequest.seller) == supplier, col(FinancingRequest.status).in_(("Funded", "Recoursed")),
        block.is_not(None),
    )  # fmt: skip
    lines: list[tuple[tuple[int, int, int], StatementLine]] = []
    funded = db.exec(
        select(FinancingRequest, Certificate)
        .join(Certificate, col(Certificate.token_id) == col(FinancingRequest.token_id), isouter=True)
        .where(*funded_where, *_before(block, request_id, STATEMENT_FINANCING, after))
        .order_by(block.desc(), request_id.desc())
        .limit(limit + 1)
    ).all()
    for request, token in funded:
        line = StatementLine(
            None, "financing", request.financier, request.token_id, token.slot_id if token else None,
            int(request.price or 0),
        )  # fmt: skip
        line.place = (int(request.funded_block or 0), STATEMENT_FINANCING, request.request_id)
        lines.append((line.place, line))
    payout_block, log_index = col(Payout.block_number), col(Payout.log_index)
    # A page of the supplier's payouts newest first (ix_payout_holder_block_log), then their payables'
    # obligors by key: joined in one statement, PostgreSQL with statistics lagging the payouts merged every
    # payout of the supplier with the payables and sorted them all (6.6 ms a page at 10,000 payouts).
    paid = db.exec(
        select(Payout)
        .where(col(Payout.holder) == supplier, *_before(payout_block, log_index, STATEMENT_PAYOUT, after))
        .order_by(payout_block.desc(), log_index.desc())
        .limit(limit + 1)
    ).all()
    obligors = _obligors(db, {payout.slot_id for payout in paid})
    for payout in paid:
        if payout.slot_id not in obligors:  # not indexed yet (as the join left it out)
            continue
        line = StatementLine(
            None, "payout", obligors[payout.slot_id], payout.token_id, payout.slot_id, payout.amount
        )
        line.place = (payout.block_number, STATEMENT_PAYOUT, payout.log_index)
        lines.append((line.place, line))
    # The newest limit + 1 of both sources are the newest limit + 1 of the merged statement.
    lines.sort(key=lambda item: item[0], reverse=True)
    following = keyset.encode_cursor(*lines[limit - 1][0]) if len(lines) > limit else None
    del lines[limit:]
    times = block_times(db, {key[0] for key, _ in lines})
    for key, line in lines:
        line.at = times.get(key[0])
    count = int(
        db.execute(sa_select(func.count()).select_from(FinancingRequest).where(*funded_where)).scalar_one()
    )
    count += int(
        db.execute(
            sa_select(func.count()).select_from(Payout).where(col(Payout.holder) == supplier)
        ).scalar_one()
    )
    return StatementPage([line for _, line in lines], count, following)


@dataclass
class SupplierView:
    incoming: list[Payable]
    holdings: list[Holding]  # one page, soonest maturity first
    holdings_total: int  # [fen] every live holding, not only this page's
    requests: list[tuple[FinancingRequest, Payable | None]]
    payouts: list[Any]  # one page, newest first (PayoutPublic)
    payouts_total: int
    incoming_documents: dict[int, list[StoredDocument]] = field(default_factory=dict)
    statement: list[StatementLine] = field(default_factory=list)  # one page, newest first
    holdings_count: int = 0  # every live holding
    holdings_after: int | None = None  # the cursor this page starts after (None: the first page)
    holdings_next: int | None = None  # the next page's cursor (None: the last page)
    payouts_count: int = 0  # every payout received (payouts: the newest `limit` of them)
    payout_times: dict[int, int] = field(default_factory=dict)  # block -> its time [unix s]
    requests_count: int = 0  # every financing request made
    requests_after: int | None = None  # requests: the page of those older than this request id …
    requests_next: int | None = None  # … and the next (older) page's cursor (None: the oldest page)
    # The payouts and the statement by cursor: (the cursor the page started after, its page), as the
    # _cursor_pager macro reads them (`payouts_after`: services.queries.LOG_SPAN; `statement_after`:
    # opaque, STATEMENT_FINANCING).
    pages: dict[str, tuple[Any, Any]] = field(default_factory=dict)


def supplier_view(
    db: Session,
    supplier: str,
    *,
    limit: int = 200,
    after: int | None = None,
    requests_after: int | None = None,
    payouts_after: int | None = None,
    statement_after: str | None = None,
) -> SupplierView:
    """A supplier's tables; holdings a page of `limit` by (maturity, token id), starting after
    certificate `after`, and financing requests a page of `limit`, newest first, older than request
    `requests_after` (keyset: any page costs the same; a cursor only places the page, the rows are
    always the supplier's own). Totals and counts are over every row, not only the page's."""
    incoming = db.exec(
        select(Payable)
        .where(col(Payable.supplier) == supplier, col(Payable.status) == "Issued")
        .order_by(col(Payable.slot_id).desc())
    ).all()
    live = (col(Certificate.holder) == supplier, col(Certificate.status).in_(LIVE_TOKEN_STATUSES))
    held_query = select(Certificate, Payable).join(Payable, col(Payable.slot_id) == col(Certificate.slot_id))
    start = None
    if after is not None:
        start = db.exec(
            select(col(Payable.maturity))
            .join(Certificate, col(Certificate.slot_id) == col(Payable.slot_id))
            .where(col(Certificate.token_id) == after)
        ).first()
    if start is not None:
        position = tuple_(col(Payable.maturity), col(Certificate.token_id))
        held_query = held_query.where(position > tuple_(literal(start), literal(after)))
    held = list(
        db.exec(
            held_query.where(*live)
            .order_by(col(Payable.maturity), col(Certificate.token_id))
            .limit(limit + 1)
        ).all()
    )
    following = held[limit - 1][0].token_id if len(held) > limit else None
    del held[limit:]
    # Over every live holding, exactly (sums.py), not only this page's.
    totals = exact_groups(db, col(Certificate.holder), [col(Certificate.value)], live)
    count, total = totals.get(supplier, [0, 0])
    asked = col(FinancingRequest.seller) == supplier
    older = (col(FinancingRequest.request_id) < requests_after,) if requests_after is not None else ()
    requests = list(
        db.exec(
            select(FinancingRequest)
            .where(asked, *older)
            .order_by(col(FinancingRequest.request_id).desc())
            .limit(limit + 1)
        ).all()
    )
    requests_next = requests[limit - 1].request_id if len(requests) > limit else None
    del requests[limit:]
    requests_count = int(db.execute(sa_select(func.count()).where(asked)).scalar_one())
    tokens = _by_id(
        db.exec(select(Certificate).where(col(Certificate.token_id).in_([r.token_id for r in requests]))),
        "token_id",
    )
    payables = _by_id(
        db.exec(select(Payable).where(col(Payable.slot_id).in_({t.slot_id for t in tokens.values()}))),
        "slot_id",
    )
    # Newest first by (block, log index), through ix_payout_holder_block_log.
    payouts = service_queries.payouts(session=db, holder=supplier, limit=limit, offset=0, after=payouts_after)
    statement_after, statement_start = int_cursor(statement_after, 3)
    statement = supplier_statement(db, supplier, limit=limit, after=statement_start)
    received = col(Payout.holder) == supplier
    payouts_count, payouts_total = exact_groups(db, col(Payout.holder), [col(Payout.amount)], [received]).get(
        supplier, [0, 0]
    )
    return SupplierView(
        incoming=list(incoming),
        holdings=[Holding(c, p, c.tier) for c, p in held],
        holdings_total=total,
        holdings_count=count,
        holdings_after=after if start is not None else None,
        holdings_next=following,
        requests=[
            (r, payables.get(tokens[r.token_id].slot_id) if r.token_id in tokens else None) for r in requests
        ],
        payouts=payouts.data,
        # Over every payout (the table lists the newest `limit`): the sum of a page was no total.
        payouts_total=payouts_total,
        payouts_count=payouts_count,
        payout_times=block_times(db, (p.block_number for p in payouts.data)),
        requests_count=requests_count,
        requests_after=requests_after,
        requests_next=requests_next,
        incoming_documents=_documents_for(db, [p.slot_id for p in incoming]),
        statement=statement.data,
        pages={"payouts_after": (payouts_after, payouts), "statement_after": (statement_after, statement)},
    )


# -- core enterprise -------------------------------------------------------------------------


@dataclass
class BankHolding:
    """A financier holding some of a core enterprise's paper: how much, in how many certificates."""

    bank: str
    amount: int  # [fen]
    tokens: int


@dataclass
class CoreView:
    lines: list[CreditLine]
    payables: list[Payable]
    upcoming: list[Payable]
    tiers: list[TierSpread]
    banks: list[BankHolding]
    outstanding: int
    repayments: list[Repayment]  # one page, newest first
    # The payables table is a keyset page, newest first: `payables_after` is the slot it started below
    # (None: the newest), `payables_next` the cursor of the next page (None: the last).
    payables_count: int = 0
    payables_after: int | None = None
    payables_next: int | None = None
    # Upcoming maturities (by maturity, then payable) and repayments (newest first, by block and log
    # index) by opaque cursor: (the cursor the page started after, its page) for the _cursor_pager macro.
    pages: dict[str, tuple[Any, Any]] = field(default_factory=dict)
    repayment_times: dict[int, int] = field(default_factory=dict)  # block -> its time [unix s]


@dataclass
class KeyPage:
    """One keyset page of a dashboard list: its rows, how many in all, the next page's cursor."""

    data: list[Any]
    count: int
    next_after: str | None


UPCOMING_PAGE = REPAYMENTS_PAGE = 50  # rows a page of the core's upcoming maturities and repayments


def core_view(
    db: Session,
    obligor: str,
    *,
    now: int,
    limit: int = 200,
    payables_after: int | None = None,
    upcoming_after: str | None = None,
    repayments_after: str | None = None,
) -> CoreView:
    lines = db.exec(
        select(CreditLine).where(col(CreditLine.obligor) == obligor).order_by(col(CreditLine.line_id))
    )
    owed = col(Payable.obligor) == obligor
    older = (col(Payable.slot_id) < payables_after,) if payables_after is not None else ()
    payables = list(
        db.exec(
            select(Payable).where(owed, *older).order_by(col(Payable.slot_id).desc()).limit(limit + 1)
        ).all()
    )
    payables_next = payables[limit - 1].slot_id if len(payables) > limit else None
    del payables[limit:]
    payables_count = int(db.execute(sa_select(func.count()).where(owed)).scalar_one())
    # Over every unpaid payable, not the page listed: exact sums in SQL (services.sums).
    unpaid = [owed, col(Payable.status).in_(("Accepted", "Defaulted"))]
    unpaid_count, faces, repaid = exact_groups(
        db, col(Payable.obligor), [col(Payable.face), col(Payable.paid_in)], unpaid
    ).get(obligor, [0, 0, 0])
    outstanding = faces - repaid
    upcoming_after, upcoming_start = int_cursor(upcoming_after, 2)
    upcoming = KeyPage(
        *keyset.composite_rows(
            db,
            select(Payable).where(*unpaid),
            (col(Payable.maturity), col(Payable.slot_id)),
            after=upcoming_start,
            limit=UPCOMING_PAGE,
            offset=0,
            count=int(unpaid_count),  # the sums' count: the same rows, not counted twice
        )
    )
    # Across every payable of the obligor: the indexer's positions (one row per holder, payable and
    # depth) put at their holder's supply-chain tier in that payable (services.lineage.token_tiers).
    positions = db.exec(
        select(Position.slot_id, Position.holder, Position.value, Position.tokens)
        .join(Payable, col(Payable.slot_id) == col(Position.slot_id))
        .where(col(Payable.obligor) == obligor, col(Position.tokens) > 0)
    ).all()
    placed = list(zip(positions, holder_tiers(db, [(p[0], p[1]) for p in positions]), strict=True))
    tiers = tier_spread((tier, holder, value, tokens) for (_, holder, value, tokens), tier in placed)
    banks: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for (_, holder, value, tokens), tier in placed:
        if tier is None:  # a financier's piece (services.lineage: no supplier tier)
            banks[holder][0] += int(value)
            banks[holder][1] += int(tokens)
    holders = [BankHolding(bank, amount, n) for bank, (amount, n) in banks.items()]
    repayments_after, repayments_start = int_cursor(repayments_after, 2)
    repayments = KeyPage(
        *keyset.composite_rows(
            db,
            select(Repayment).where(col(Repayment.obligor) == obligor),
            (col(Repayment.block_number), col(Repayment.log_index)),
            after=repayments_start,
            limit=REPAYMENTS_PAGE,
            offset=0,
            descending=True,
        )
    )
    return CoreView(
        lines=list(lines),
        payables=list(payables),
        upcoming=upcoming.data,
        tiers=tiers,
        banks=sorted(holders, key=lambda b: -b.amount),
        outstanding=outstanding,
        repayments=repayments.data,
        payables_count=payables_count,
        payables_after=payables_after,
        payables_next=payables_next,
        pages={
            "upcoming_after": (upcoming_after, upcoming),
            "repayments_after": (repayments_after, repayments),
        },
        repayment_times=block_times(db, (r.block_number for r in repayments.data)),
    )


# -- auditor and operator ----------------------------------------------------------------------------------


@dataclass
class SearchResult:
    kind: str
    title: str
    href: str | None
    detail: str


def search(db: Session, query: str, names: Directory) -> list[SearchResult]:
    """Find a participant (address or name), payable (P12), certificate (T34), transaction (hash) or
    invoice (its number, 8 digits or more)."""
    q = query.strip()
    results: list[SearchResult] = []
    if not q:
        return results
    lowered = q.lower()
    if lowered.startswith("0x") and len(q) == 66:
        movements: tuple[tuple[Any, str], ...] = (
            (CertificateTransfer, "certificate movement"),
            (Repayment, "repayment"),
            (Payout, "payout"),
        )
        for model, kind in movements:
            for row in db.exec(select(model).where(col(model.tx_hash) == q)):
                slot = getattr(row, "slot_id", None)
                results.append(
                    SearchResult(
                        kind,
                        i18n.gettext(
                            "%(kind)s in block %(block)s",
                            kind=labels.search_kind(kind),
                            block=row.block_number,
                        ),
                        f"/dashboard/lineage/{slot}" if slot else None,
                        _describe(row, names),
                    )
                )
        return results
    for address, name in names.names.items():
        if lowered == address.lower() or lowered in name.lower():
            results.append(
                SearchResult("participant", name, f"/dashboard/audit/participant/{address}", address)
            )
    digits = lowered.lstrip("ptc#").strip()
    # Ids are 64-bit: a longer number (a 20-digit 全电发票 number) is only an invoice number, and as an
    # id it would overflow the database's integer (SQLite refused it: the search answered 500).
    if digits.isdigit() and int(digits) <= MAX_ID:
        number = int(digits)
        payable = db.get(Payable, number) if not lowered.startswith("t") else None
        if payable is not None:
            results.append(
                SearchResult(
                    "payable",
                    i18n.gettext("Payable P%(id)s", id=payable.slot_id),
                    f"/dashboard/lineage/{payable.slot_id}",
                    i18n.gettext(
                        "%(obligor)s → %(supplier)s, %(amount)s due %(day)s, %(status)s",
                        obligor=names.name(payable.obligor),
                        supplier=names.name(payable.supplier),
                        amount=i18n.money(payable.face),
                        day=i18n.date(payable.maturity),
                        status=labels.status(payable.status),
                    ),
                )
            )
        token = db.get(Certificate, number) if not lowered.startswith("p") else None
        if token is not None:
            results.append(
                SearchResult(
                    "certificate",
                    i18n.gettext("Certificate T%(id)s", id=token.token_id),
                    f"/dashboard/lineage/{token.slot_id}#t{token.token_id}",
                    i18n.gettext(
                        "held by %(holder)s: %(amount)s of P%(payable)s, %(tier)s, %(status)s",
                        holder=names.name(token.holder),
                        amount=i18n.money(token.value),
                        payable=token.slot_id,
                        tier=tier_label(token.tier),
                        status=labels.status(token.status),
                    ),
                )
            )
    results.extend(_invoices(db, q, names))
    if lowered.startswith("0x") and len(q) == 42 and not any(r.kind == "participant" for r in results):
        results.append(
            SearchResult("participant", fmt.short_address(q), f"/dashboard/audit/participant/{q}", q)
        )
    return results


INVOICE_DIGITS_MIN = 8  # an invoice number has 8 digits (with a 10/12-digit code) or 20 (全电发票)


def _invoices(db: Session, query: str, names: Directory, limit: int = 50) -> list[SearchResult]:
    """Uploaded invoices whose number (code ‖ number, digits only, as stored) contains the typed digits."""
    digits = "".join(ch for ch in query if ch.isdigit())
    if len(digits) < INVOICE_DIGITS_MIN or len(digits) != len(query.replace(" ", "").replace("-", "")):
        return []
    rows = db.exec(
        select(StoredDocument)
        .where(col(StoredDocument.kind) == "invoice")
        .where(col(StoredDocument.invoice_number).contains(digits))
        .order_by(col(StoredDocument.created_at))
        .limit(limit)
    )
    found = []
    for row in rows:
        # whole sentences in the reader's language (the Chinese auditor read these in English before)
        facts = {
            "seller": names.name(row.seller), "uploader": names.name(row.uploader),
            "day": i18n.date(row.created_at), "file": row.filename, "slot": row.slot_id,
        }  # fmt: skip
        detail = (
            i18n.gettext(
                "seller %(seller)s, uploaded by %(uploader)s on %(day)s, file %(file)s; backs payable "
                "P%(slot)s",
                **facts,
            )
            if row.slot_id is not None
            else i18n.gettext(
                "seller %(seller)s, uploaded by %(uploader)s on %(day)s, file %(file)s; backs no "
                "payable (yet)",
                **facts,
            )
        )
        found.append(
            SearchResult(
                "invoice",
                i18n.gettext("Invoice %(number)s", number=row.invoice_number),
                f"/dashboard/lineage/{row.slot_id}" if row.slot_id is not None else None,
                detail,
            )
        )
    return found


def find_certificates(
    db: Session, *, holder: str | None, min_fen: int | None, max_fen: int | None, limit: int = 200
) -> list[Certificate]:
    """Certificates by holder and amount range (what each was worth: a settled one by its value when
    it was created, never its 0 after payout), largest first."""
    worth = func.coalesce(func.nullif(col(Certificate.value), 0), col(Certificate.initial_value))
    query = select(Certificate)
    if holder:
        query = query.where(col(Certificate.holder) == holder)
    if min_fen is not None:
        query = query.where(worth >= min_fen)
    if max_fen is not None:
        query = query.where(worth <= max_fen)
    return list(db.exec(query.order_by(worth.desc(), col(Certificate.token_id)).limit(limit)))


def _describe(row: Any, names: Directory) -> str:
    parts = []
    for key in ("kind", "from_address", "to_address", "holder", "obligor", "token_id", "amount", "value"):
        if hasattr(row, key):
            value = getattr(row, key)
            if key in ("amount", "value"):
                value = i18n.money(value)
            elif isinstance(value, str) and value.startswith("0x"):
                value = names.name(value)
            parts.append(f"{labels.csv_header(key)}: {value}")
    return i18n.gettext(", ").join(parts)


def latest_payables(db: Session, limit: int) -> list[Payable]:
    return list(db.exec(select(Payable).order_by(col(Payable.slot_id).desc()).limit(limit)).all())


def credit_lines_of(db: Session, address: str) -> list[CreditLine]:
    """Credit lines granted to `address` (an obligor) or by it (a financier)."""
    return list(
        db.exec(
            select(CreditLine).where(
                (col(CreditLine.obligor) == address) | (col(CreditLine.financier) == address)
            )
        ).all()
    )


def directory_people(db: Session) -> list[DirectoryParticipant]:
    """Everyone onboarded, in order of onboarding (the operator's list)."""
    return list(db.exec(select(DirectoryParticipant).order_by(col(DirectoryParticipant.created_at))).all())


# The powers a governance proposal can exercise, by the calldata's selector: what the pages call them.
GOVERNED_CALLS = {
    bytes(keccak(text=signature)[:4]).hex(): label
    for signature, label in (
        ("upgradeToAndCall(address,bytes)", i18n.N_("Upgrade the contract")),
        ("grantRole(bytes32,address)", i18n.N_("Grant a role")),
        ("revokeRole(bytes32,address)", i18n.N_("Revoke a role")),
        ("replaceGovernor(address,address)", i18n.N_("Replace a governor")),
        ("setThreshold(uint8)", i18n.N_("Change the approvals needed")),
        ("updateDelay(uint256)", i18n.N_("Change the governance delay")),
        ("unpause()", i18n.N_("Unpause the platform")),
        ("setParameters(uint64,uint64,uint128)", i18n.N_("Set platform parameters")),
        ("setQuoteValidity(uint64)", i18n.N_("Set the longest a quote stays open")),
        ("forceTransfer(uint256,address,uint256,bytes32)", i18n.N_("Forced transfer of a certificate")),
        (
            "forceTransferRange(uint256,uint256,uint256,address,bytes32)",
            i18n.N_("Forced transfer of a bill range"),
        ),
        ("recover(address,address,bytes32)", i18n.N_("Key recovery: the registry entry")),
        ("recoverTokens(address,address,uint256[],bytes32)", i18n.N_("Key recovery: certificates")),
        ("recoverPositions(address,address,uint256[],bytes32)", i18n.N_("Key recovery: financing")),
        ("recoverParties(address,address,uint256[],bytes32)", i18n.N_("Key recovery: bill records")),
        ("recoverBalance(address,address)", i18n.N_("Key recovery: settlement money")),
        ("recoverObligations(address,address,uint256[],bytes32)", i18n.N_("Key recovery: payables owed")),
        ("recoverLines(address,address,uint256[],bytes32)", i18n.N_("Key recovery: credit lines")),
        (
            "recoverPackageParties(address,address,uint256[],uint256[],bytes32)",
            i18n.N_("Key recovery: bill packages and quotes"),
        ),
    )
}
RECOVERY_STEP = "Key recovery: the registry entry"  # a batch starting with it is a whole key recovery


@dataclass
class ProposalRow:
    proposal: GovernanceProposal
    target: str  # the contract's name, from the events it emitted (a batch's: its first call's)
    action: str  # a GOVERNED_CALLS label, untranslated; "" for another call
    # a batch's calls, in order: (contract name, GOVERNED_CALLS label or ""); empty for a single call
    calls: list[tuple[str, str]] = field(default_factory=list)


def proposal_calls(p: GovernanceProposal) -> list[tuple[str, str]]:
    """(target, calldata) of every call a proposal runs: its one call, or each call of a batch."""
    if p.calls is None:
        return [(p.target, p.data)]
    return [(str(target), str(data)) for target, data in json.loads(p.calls)]


def governance_proposals(db: Session, limit: int = 20) -> list[ProposalRow]:
    """The latest governance proposals (upgrades, role grants), newest first, for operator and auditor."""
    proposals = list(
        db.exec(select(GovernanceProposal).order_by(col(GovernanceProposal.proposal_id).desc()).limit(limit))
    )
    calls = {p.proposal_id: proposal_calls(p) for p in proposals}
    targets = {target for pairs in calls.values() for target, _ in pairs}
    names = {
        address: contract
        for contract, address in db.exec(
            select(RawEvent.contract, RawEvent.address).where(col(RawEvent.address).in_(targets)).distinct()
        )
    }
    rows = []
    for p in proposals:
        labelled = [
            (names.get(t, t), GOVERNED_CALLS.get(d[2:10].lower(), "")) for t, d in calls[p.proposal_id]
        ]
        target, action = labelled[0]
        if p.calls is None:
            rows.append(ProposalRow(p, target, action))
            continue
        whole = i18n.N_("Key recovery: everything, in one step")
        rows.append(
            ProposalRow(
                p,
                target,
                whole if action == RECOVERY_STEP else i18n.N_("Several calls, in one step"),
                labelled,
            )
        )
    return rows


def onchain_participants(db: Session) -> dict[str, Participant]:
    return {p.address: p for p in db.exec(select(Participant))}


def overview_counts(db: Session) -> dict[str, int]:
    counts = {}
    for label, model in (
        (i18n.gettext("participants"), Participant),
        (i18n.gettext("payables"), Payable),
        (i18n.gettext("certificates"), Certificate),
        (i18n.gettext("financing requests"), FinancingRequest),
        (i18n.gettext("payouts"), Payout),
    ):
        counts[label] = db.exec(select(func.count()).select_from(model)).one()
    return counts
