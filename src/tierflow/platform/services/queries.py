"""Reads over the indexer's read models, with the party checks of every actor.

A supplier sees only what it holds or is named on, a bank only the requests addressed to it and its
own positions, an obligor its payables (including their full lineage: it pays every holder), and
auditors and the operator everything.
"""

from __future__ import annotations

import bisect
import datetime as dt
import functools
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Hashable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from sqlalchemy import Row as SqlRow
from sqlalchemy import and_, bindparam, func, literal, select, tuple_
from sqlmodel import Session, col

from tierflow.platform import i18n
from tierflow.platform.models import (
    Certificate,
    CertificateTransfer,
    CreditLine,
    CreditLineMovement,
    FinancingRequest,
    Payable,
    Payout,
    Position,
    RecourseDebt,
    SlotVersion,
)
from tierflow.platform.models.indexer import RawEvent
from tierflow.platform.models.registry import Participant
from tierflow.platform.models.service import StoredDocument
from tierflow.platform.services import access, lineage, readcache, sqltext
from tierflow.platform.services.errors import NotFound
from tierflow.platform.services.keyset import next_after, page_query
from tierflow.platform.services.participants import Caller
from tierflow.platform.services.readcache import COUNTS, TotalsCache
from tierflow.platform.services.schemas import times
from tierflow.platform.services.schemas.certificates import (
    CertificatePublic,
    CreditLinePublic,
    DocumentPublic,
    FinancingDetail,
    FinancingPublic,
    LadderBucket,
    Page,
    PayablePublic,
    PayoutPublic,
    Portfolio,
    RecourseDebtPublic,
    TransferPublic,
)

LIVE_TOKEN = ("active", "locked")
OPEN_PAYABLE = ("Issued", "Accepted", "Defaulted")
PAYABLE = Payable.__table__  # type: ignore[attr-defined]


# -- conversions ----------------------------------------------------------------------------------
def payable_public(row: Payable) -> PayablePublic:
    return PayablePublic.model_validate(row, from_attributes=True)


# The chain time the devnet's time-travel control reached, per database (engine): until an event of a
# later block is indexed, no indexed row carries that time. Devnet only; lost on restart, when the next
# event brings it back.
DEVNET_CLOCK: dict[int, int] = {}


def note_chain_time(engine: Any, chain_time: int) -> None:
    DEVNET_CLOCK[id(engine)] = max(chain_time, DEVNET_CLOCK.get(id(engine), 0))


def clock(session: Session) -> int:
    """Now [unix s]: the wall clock, or the last indexed block's time when the chain is ahead of it
    (a devnet whose time was moved forward): days to maturity and overdue follow the chain's rules.
    The API and the dashboard both read it, so they agree on what is due."""
    last = session.execute(
        select(col(RawEvent.block_time)).order_by(col(RawEvent.block_number).desc()).limit(1)
    ).scalar()
    return max(int(time.time()), int(last or 0), DEVNET_CLOCK.get(id(session.get_bind()), 0))


def path_public(
    session: Session, rows: list[dict[str, Any]], payable: Payable | None
) -> list[CertificatePublic]:
    """lineage.path_to_root() rows (every certificate column, its kept `tier` too) as the API's
    certificates (the payable adds maturity and obligor)."""
    extra = {"maturity": payable.maturity, "obligor": payable.obligor} if payable else {}
    return [CertificatePublic(**{k: r[k] for k in CERT_FIELDS}, tier=r["tier"], **extra) for r in rows]


def certificate_public(
    row: Certificate, payable: Payable | None = None, *, session: Session | None = None
) -> CertificatePublic:
    """The API's certificate; with `session`, its tier too (the column the indexer keeps: the row has it,
    `session` only says the caller shows it)."""
    tier = row.tier if session is not None else None
    return CertificatePublic(
        token_id=row.token_id,
        slot_id=row.slot_id,
        holder=row.holder,
        value=row.value,
        initial_value=row.initial_value,
        status=row.status,
        locked=row.locked,
        lock_ref=row.lock_ref,
        parent_id=row.parent_id,
        root_id=row.root_id,
        depth=row.depth,
        tier=tier,
        maturity=payable.maturity if payable else None,
        obligor=payable.obligor if payable else None,
    )


def line_public(row: CreditLine) -> CreditLinePublic:
    return CreditLinePublic.model_validate(row, from_attributes=True)


def financing_public(row: FinancingRequest) -> FinancingPublic:
    return FinancingPublic.model_validate(row, from_attributes=True)


def document_public(row: StoredDocument) -> DocumentPublic:
    return DocumentPublic.model_validate(row, from_attributes=True)


# -- keyset pages ---------------------------------------------------------------------------------
# A list page is `limit` rows after a cursor, the sort key of the previous page's last row: the
# database seeks to it through an index shaped like the query (models.service.API_INDEXES) and reads
# one page, at any depth; OFFSET reads and discards every row before the page (with a join, a payable
# lookup per skipped row). Pages ask for one row more than they return: that row says whether there is
# a next page. Totals come from COUNTS, once per list and data version, not once per page.
def _keyset_dicts(
    session: Session, table: str, *, equal: dict[str, Any], below: dict[str, Any] | None = None,
    after: int | None, limit: int, offset: int,
) -> tuple[list[dict[str, Any]], int | None]:  # fmt: skip
    """A keyset page of list `table` (_LISTS) as JSON-ready dicts, and the next cursor: the rows whose
    columns equal `equal`'s values and lie below `below`'s, after the cursor `after` in key order.

    Core rows as plain dicts: list endpoints return up to thousands of rows, and ORM identity-map
    loading plus model validation of values the database already typed would dominate their latency.
    The statement is built once per shape of filters (_list_page), the values bound by name.
    """
    below = below or {}
    statement = _list_page(table, tuple(equal), tuple(below), after is not None)
    values = {**{f"eq_{k}": v for k, v in equal.items()}, **{f"lt_{k}": v for k, v in below.items()}}
    rows = _page_dicts(session, statement, values, after=after, limit=limit, offset=offset)
    return rows, next_after(rows, limit, _LISTS[table][1])


def _page_dicts(
    session: Session, statement: Any, values: dict[str, Any], *, after: int | None, limit: int, offset: int
) -> list[dict[str, Any]]:
    """The rows of a page statement built once (bound by name: the filters' `values`, `after`, and
    page_limit with the look-ahead row, page_offset) as dicts; None values are not bound (the statement's
    shape has no parameter for them)."""
    bound = {**values, "after": after, "page_limit": limit + 1, "page_offset": offset}
    return _dicts(session, statement, {k: v for k, v in bound.items() if v is not None})


# The lists _keyset_dicts pages: table → (columns, key column name, newest first).
_LISTS: dict[str, tuple[Any, str, bool]] = {}


@functools.cache
def _list_page(table: str, equal: tuple[str, ...], below: tuple[str, ...], after: bool) -> Any:
    """_keyset_dicts' page statement for one shape of filters, built once: building and cache-keying
    it per request cost ~0.15 ms (as much as the indexed page itself on SQLite); what page_query builds,
    with the look-ahead row in page_limit."""
    columns, key_name, descending = _LISTS[table]
    source = columns[0].table
    key = source.c[key_name]
    conditions = [source.c[name] == bindparam(f"eq_{name}") for name in equal]
    conditions += [source.c[name] < bindparam(f"lt_{name}") for name in below]
    if after:
        conditions.append(key < bindparam("after") if descending else key > bindparam("after"))
    return (
        select(*columns)
        .where(*conditions)
        .order_by(key.desc() if descending else key)
        .limit(bindparam("page_limit"))
        .offset(bindparam("page_offset"))
    )


def _iso(rows: list[dict[str, Any]], *, day: str | None = None, instant: str | None = None) -> None:
    """Rows' unix `day` / `instant` column as the ISO text the API answers (schemas.times), in place: a
    page's rows only, cheaper than validating each row into its model."""
    for row in rows:
        if day is not None and row[day] is not None:
            row[day] = times.iso_day(row[day])
        if instant is not None and row[instant] is not None:
            row[instant] = times.iso_instant(row[instant])


def _count(session: Session, name: Hashable, table: Any, conditions: Sequence[Any]) -> int:
    return COUNTS.count(
        session,
        name,
        lambda: int(session.execute(select(func.count()).select_from(table).where(*conditions)).scalar_one()),
    )


def _page(session: Session, query: Any, convert: Any, limit: int, offset: int) -> Page[Any]:
    count = session.execute(select(func.count()).select_from(query.subquery())).scalar_one()
    rows = session.execute(query.limit(limit).offset(offset)).scalars().all()
    return Page(data=[convert(r) for r in rows], count=count, limit=limit, offset=offset)


def keyset_page(
    session: Session, query: Any, key: Any, convert: Any, *, limit: int, offset: int,
    after: int | None, descending: bool = False, prefetch: Callable[[list[Any]], object] | None = None,
) -> Page[Any]:  # fmt: skip
    """`_page` by cursor: the ORM rows of `query` (unordered) after `after` in `key` order, converted,
    with `next_after`; the count is over every page. For the lists whose rows need a Python conversion
    (bills), where `_keyset_dicts` would not do; `prefetch(rows)` loads what the conversion reads for the
    whole page at once, before it, and returns it: held until the page is converted (the session's
    identity map keeps its objects only while something else refers to them)."""
    count = session.execute(select(func.count()).select_from(query.subquery())).scalar_one()
    page = page_query(query, key, after=after, descending=descending, limit=limit, offset=offset)
    rows = list(session.execute(page).scalars().all())
    loaded = prefetch(rows) if prefetch is not None else None
    following = next_after(rows, limit, key.name)
    data = [convert(r) for r in rows]
    del loaded
    return Page(data=data, count=count, limit=limit, offset=offset, next_after=following)


# -- lookups with party checks --------------------------------------------------------------------
Row = TypeVar("Row")


def get_or_404(session: Session, model: type[Row], key: int, what: str, code: str, *, indexed: bool) -> Row:
    """The row `key` of `model`, or NotFound naming it; `indexed` rows may simply not be indexed yet."""
    row = session.get(model, key)
    if row is None:
        raise not_found(what, key, code, indexed=indexed)
    return row


def not_found(what: str, key: int, code: str, *, indexed: bool) -> NotFound:
    hint = " (or is not indexed yet)" if indexed else ""
    return NotFound(
        i18n.gettext("%(what)s %(key)s does not exist%(hint)s", what=what, key=key, hint=hint), code=code
    )


def payable(session: Session, slot_id: int) -> Payable:
    return get_or_404(session, Payable, slot_id, "payable", "payable_not_found", indexed=True)


def certificate(session: Session, token_id: int) -> Certificate:
    return get_or_404(session, Certificate, token_id, "certificate", "certificate_not_found", indexed=True)


def financing_request(session: Session, request_id: int) -> FinancingRequest:
    return get_or_404(
        session, FinancingRequest, request_id, "financing request", "request_not_found", indexed=False
    )


def credit_line(session: Session, line_id: int) -> CreditLine:
    return get_or_404(session, CreditLine, line_id, "credit line", "credit_line_not_found", indexed=False)


def last_limit_above(session: Session, line_id: int, limit: int) -> int | None:
    """The limit of the latest grant or adjustment of line `line_id` that set it above `limit` [fen]."""
    m = CreditLineMovement
    row = session.execute(
        select(col(m.amount))
        .where(col(m.line_id) == line_id, col(m.kind).in_(("granted", "adjusted")), col(m.amount) > limit)
        .order_by(col(m.block_number).desc(), col(m.log_index).desc())
        .limit(1)
    ).first()
    return None if row is None else int(row[0])


def held_token_of_slot(session: Session, holder: str, slot_id: int) -> int | None:
    """A token of payable `slot_id` that `holder` holds with value left (markDefaulted names it), or None."""
    row = session.execute(
        select(col(Certificate.token_id))
        .where(
            col(Certificate.slot_id) == slot_id,
            col(Certificate.holder) == holder,
            col(Certificate.value) > 0,
        )
        .order_by(col(Certificate.token_id))
        .limit(1)
    ).first()
    return None if row is None else int(row[0])


def get_payable(*, session: Session, caller: Caller, slot_id: int) -> PayablePublic:
    row = payable(session, slot_id)
    if not access.is_slot_party(session, caller, row):
        raise access.not_a_party(
            i18n.gettext(
                "You are no party to payable %(id)s: only its core enterprise, its supplier, its holders "
                "and the banks that financed it see it.",
                id=slot_id,
            )
        )
    return payable_public(row)


def get_certificate(*, session: Session, caller: Caller, token_id: int) -> CertificatePublic:
    row = certificate(session, token_id)
    if not access.can_see_certificate(session, caller, row):
        raise _not_a_certificate_party(token_id)
    return certificate_public(row, session.get(Payable, row.slot_id), session=session)


def _not_a_certificate_party(token_id: int) -> Exception:
    return access.not_a_party(
        i18n.gettext(
            "You are no party to certificate %(id)s: only its holder, those it passed through, its "
            "core enterprise and the banks asked to finance it see it.",
            id=token_id,
        )
    )


def slot_lineage(
    *, session: Session, caller: Caller, slot_id: int, limit: int, offset: int, after: int | None = None
) -> dict[str, Any]:
    """The whole tree of a payable (the shape of Lineage), in token order, a keyset page at a time:
    visible to its obligor, auditors, the operator."""
    row = access.check_whole_tree(session, caller, slot_id)
    # What every page shares (count, tier totals, each token's tier; a tree of up to TREE_CACHE_TOKENS
    # its tokens' JSON too), once per version of this tree (readcache.tree_version: a change to another
    # payable keeps it): one lookup per page, not one per part.
    version = readcache.tree_version(session, slot_id)
    tree = TREES.get(
        session, ("tree", slot_id), lambda: _shared_tree(session, slot_id, version), version=version
    )
    if tree.ids is not None and tree.texts is not None:
        # Every page of a kept tree is a slice of its rendered tokens: rendering 1,000 rows per page cost
        # more than the rest of the request.
        start = (bisect.bisect_right(tree.ids, after) if after is not None else 0) + offset
        texts = tree.texts[start : start + limit]
        following = tree.ids[start + limit - 1] if len(tree.ids) > start + limit else None
    else:
        # A tree too large to keep: the page alone, through the (slot_id, token_id) index.
        ids, page = _tree_tokens(session, slot_id, after, (limit, offset))
        following = ids[limit - 1] if len(ids) > limit else None
        texts = [_with_tier(text, token_id, tree.tiers) for text, token_id in zip(page, ids, strict=True)][
            :limit
        ]
    return {
        "slot_id": slot_id,
        "root_token_id": row.root_token_id,
        "tokens": sqltext.JsonTexts(texts),
        "count": tree.count,
        "next_after": following,
        # Over the whole tree, not only this page: the same totals the dashboard's lineage page shows.
        "tiers": tree.totals,
    }


@dataclass(frozen=True)
class _Tree:
    """A payable's tree as every page of its lineage shares it, for one version of it (read-only)."""

    count: int
    totals: list[dict[str, int | None]]  # tier_totals() of its live certificates
    tiers: dict[int, int | None]  # lineage.token_tiers(): the kept tiers, read once per tree and version
    ids: list[int] | None = None  # a kept tree (≤ TREE_CACHE_TOKENS): its token ids in order …
    texts: list[str] | None = None  # … and their JSON, each with its tier (_with_tier)


# Builds of one tree wait for each other: when the data version moves, the clients reading a tree all
# miss at once, and one build (~100 ms at 10,000 tokens) is cheaper than eight at the same time.
_TREE_BUILD = threading.Lock()


def _shared_tree(session: Session, slot_id: int, version: Hashable | None) -> _Tree:
    def build() -> _Tree:
        count = int(session.execute(_TREE_COUNT, {"slot": slot_id}).scalar_one())
        if count > TREE_CACHE_TOKENS:
            tiers = lineage.token_tiers(session, [slot_id])
            return _Tree(count, tier_totals(lineage.tree_tiers(session, slot_id, tiers)), tiers)
        terms = session.execute(_SLOT_TERMS, {"slot": slot_id}).one()
        tail = sqltext.json_tail({"maturity": times.iso_day(terms.maturity), "obligor": terms.obligor})
        rows = session.execute(
            _whole_tree(session.get_bind().dialect.name), {"slot": slot_id, "json_tail": tail}
        ).all()
        # The tiers and totals from the rows read for the texts (certificate.tier, kept by the indexer):
        # no walk, no second read of the tree; one pass over plain tuples (10,000 rows on the first read
        # after a change to the tree, where attribute access and a call per row cost as much as the read).
        ids: list[int] = []
        texts: list[str] = []
        kept: dict[int, int | None] = {}
        live: list[tuple[int | None, str, int]] = []
        for text, token_id, holder, value, status, tier in rows:
            ids.append(int(token_id))
            kept[token_id] = tier
            texts.append(f'{text[:-1]},"tier":{"null" if tier is None else int(tier)}}}')  # as _with_tier
            if status in LIVE_TOKEN:
                live.append((tier, holder, value))
        return _Tree(len(rows), tier_totals(lineage.tier_spread(live)), kept, ids, texts)

    with _TREE_BUILD:
        # Again under the lock: a build that finished while this one waited stored its tree.
        return TREES.get(session, ("tree", slot_id), build, version=version)


def _with_tier(text: str, token_id: int, tiers: dict[int, int | None]) -> str:
    """A token's JSON object (rendered by the database) with its `tier` as the last member."""
    tier = tiers.get(token_id)
    return f'{text[:-1]},"tier":{"null" if tier is None else int(tier)}}}'


def check_certificate_lineage(*, session: Session, caller: Caller, token_id: int) -> SqlRow[Any]:
    """The certificate's (token_id, slot_id, root_id, holder, parent_id, obligor) if `caller` may read its
    path to the root (NotFound, Forbidden). Run on every request, cached path or not: one prebuilt
    statement (certificate and payable) decides for its holder, its obligor and auditors."""
    row = session.execute(_CERTIFICATE_PARTIES, {"token": token_id}).first()
    if row is None:
        raise not_found("certificate", token_id, "certificate_not_found", indexed=True)
    if not access.can_see_certificate(session, caller, row, obligor=row.obligor):
        raise _not_a_certificate_party(token_id)
    return row


def certificate_lineage(*, session: Session, row: SqlRow[Any]) -> dict[str, Any]:
    """The path from certificate `row` (check_certificate_lineage's) back to its root, nearest first, in
    the shape of Lineage: the holder's view of the tree is this path, its count and tier totals are the
    path's (access.py). The same for every caller allowed to read it.

    One prebuilt statement: the path by a recursive CTE of primary-key lookups, its tokens' JSON rendered
    by the database and their tiers as the indexer keeps them (certificate.tier): no tier walk, no
    movements read, no ORM rows, no model validation.
    """
    tail = sqltext.json_tail({
        "maturity": None if row.maturity is None else times.iso_day(row.maturity), "obligor": row.obligor,
    })  # fmt: skip
    statement = _path_statement(session.get_bind().dialect.name)
    path = session.execute(statement, {"token": row.token_id, "json_tail": tail}).all()
    tiers = {p.token_id: p.tier for p in path}
    live = [(p.tier, p.holder, p.value) for p in path if p.status in LIVE_TOKEN]
    return {
        "slot_id": row.slot_id,
        "root_token_id": row.root_id,
        "tokens": sqltext.JsonTexts(_with_tier(p.json, p.token_id, tiers) for p in path),
        "count": len(path),
        "tiers": tier_totals(lineage.tier_spread(live)),
        "next_after": None,
    }


def tier_totals(tiers: Iterable[lineage.TierSpread]) -> list[dict[str, int | None]]:
    """Tier totals of the lineage module in the API's shape (TierTotal)."""
    return [{"tier": t.tier, "tokens": t.tokens, "holders": t.holders, "value": t.amount} for t in tiers]


# -- lists ----------------------------------------------------------------------------------------
def payables(*, session: Session, limit: int, offset: int, **filters: Any) -> Page[PayablePublic]:
    """payable_rows() as a Page model, for callers that read its attributes."""
    rows = payable_rows(session=session, limit=limit, offset=offset, **filters)
    return Page[PayablePublic].model_validate(rows)


def payable_rows(
    *,
    session: Session,
    obligor: str | None = None,
    supplier: str | None = None,
    status: str | None = None,
    maturity_before: int | None = None,
    limit: int,
    offset: int,
    after: int | None = None,
) -> dict[str, Any]:
    """A keyset page of payables in slot order as JSON-ready dicts (the shape of Page[PayablePublic]);
    by obligor through ix_payable_obligor_slot."""
    conditions = []
    if obligor is not None:
        conditions.append(PAYABLE.c.obligor == obligor)
    if supplier is not None:
        conditions.append(PAYABLE.c.supplier == supplier)
    if status is not None:
        conditions.append(PAYABLE.c.status == status)
    if maturity_before is not None:
        conditions.append(PAYABLE.c.maturity < maturity_before)
    count = _count(session, ("payables", obligor, supplier, status, maturity_before), PAYABLE, conditions)
    equal = {"obligor": obligor, "supplier": supplier, "status": status}
    rows, following = _keyset_dicts(
        session, "payable", equal={k: v for k, v in equal.items() if v is not None},
        below={"maturity": maturity_before} if maturity_before is not None else None,
        after=after, limit=limit, offset=offset,
    )  # fmt: skip
    _iso(rows, day="maturity")
    return {"data": rows, "count": count, "limit": limit, "offset": offset, "next_after": following}


CERT = Certificate.__table__  # type: ignore[attr-defined]
POSITION = Position.__table__  # type: ignore[attr-defined]
SLOT_VERSION = SlotVersion.__table__  # type: ignore[attr-defined]
REQUEST = FinancingRequest.__table__  # type: ignore[attr-defined]
TRANSFER = CertificateTransfer.__table__  # type: ignore[attr-defined]
PARTICIPANT = Participant.__table__  # type: ignore[attr-defined]
PAYOUT = Payout.__table__  # type: ignore[attr-defined]
_SLOT_TERMS = select(PAYABLE.c.maturity, PAYABLE.c.obligor).where(PAYABLE.c.slot_id == bindparam("slot"))
# Not `tier`: the lists select it last (certificate.tier, kept by the indexer), and the lineage texts
# append it last.
CERT_FIELDS = [name for name in CertificatePublic.model_fields if name in CERT.c and name != "tier"]
CERT_COLUMNS = [CERT.c[name] for name in CERT_FIELDS]
REQUEST_COLUMNS = [REQUEST.c[name] for name in FinancingPublic.model_fields]
PAYABLE_COLUMNS = [PAYABLE.c[name] for name in PayablePublic.model_fields]
_LISTS.update(
    payable=(PAYABLE_COLUMNS, "slot_id", False), financing_request=(REQUEST_COLUMNS, "request_id", True)
)


TREE_CACHE_TOKENS = 20_000  # trees up to this size are kept whole per data version (~300 B a token)
TREES = TotalsCache(size=8)


def _tree_tokens(
    session: Session, slot_id: int, after: int | None, page: tuple[int, int]
) -> tuple[list[int], list[str]]:
    """Token ids and JSON texts of the (limit, offset) `page` of payable `slot_id`'s tokens after `after`
    in id order, plus one look-ahead row. The database renders the JSON (sqltext); the payable's two
    columns end every object as one bound string, not a join."""
    slot = session.execute(_SLOT_TERMS, {"slot": slot_id}).one()
    tail = sqltext.json_tail({"maturity": times.iso_day(slot.maturity), "obligor": slot.obligor})
    query = select(_tree_json(session.get_bind().dialect.name), CERT.c.token_id).where(
        CERT.c.slot_id == slot_id
    )
    query = page_query(query, CERT.c.token_id, after=after, descending=False, limit=page[0], offset=page[1])
    rows = session.execute(query, {"json_tail": tail}).all()
    return [int(r[1]) for r in rows], [r[0] for r in rows]


@functools.cache
def _tree_json(dialect: str) -> Any:
    """A lineage token's JSON (the shape of CertificatePublic), ending with the payable's terms."""
    return sqltext.json_object(CERT_COLUMNS, dialect, tail=True).label("json")


_TREE_COUNT = select(func.count()).select_from(CERT).where(CERT.c.slot_id == bindparam("slot"))


@functools.cache
def _whole_tree(dialect: str) -> Any:
    """Every token of payable :slot in id order: its JSON and what the tier totals need."""
    return (
        select(_tree_json(dialect), CERT.c.token_id, CERT.c.holder, CERT.c.value, CERT.c.status, CERT.c.tier)
        .where(CERT.c.slot_id == bindparam("slot"))
        .order_by(CERT.c.token_id)
    )


# Built once: the access check of every certificate-lineage request (see access._SLOT_PARTIES).
_CERTIFICATE_PARTIES = (
    select(
        CERT.c.token_id,
        CERT.c.slot_id,
        CERT.c.root_id,
        CERT.c.holder,
        CERT.c.parent_id,
        PAYABLE.c.obligor,
        PAYABLE.c.maturity,
        # The tree's version and slot 0's (readcache.tree_key), read with the check: the path is cached
        # per version of its tree, and a change to another payable keeps it, at no round trip of its own.
        select(SLOT_VERSION.c.version)
        .where(SLOT_VERSION.c.slot_id == CERT.c.slot_id)
        .scalar_subquery()
        .label("tree_version"),
        select(SLOT_VERSION.c.version)
        .where(SLOT_VERSION.c.slot_id == 0)
        .scalar_subquery()
        .label("all_trees_version"),
    )  # fmt: skip
    .outerjoin(PAYABLE, PAYABLE.c.slot_id == CERT.c.slot_id)
    .where(CERT.c.token_id == bindparam("token"))
)


@functools.cache
def _path_statement(dialect: str) -> Any:
    """The path of certificate :token to its root, nearest first: each token's JSON and its kept tier
    (certificate.tier). Built once per dialect: building the CTE and its joins cost more than running it."""
    c = CERT
    up = select(c.c.token_id, c.c.parent_id, literal(0).label("hop")).where(
        c.c.token_id == bindparam("token")
    )
    path = up.cte("path", recursive=True)
    path = path.union_all(
        select(c.c.token_id, c.c.parent_id, path.c.hop + 1).where(c.c.token_id == path.c.parent_id)
    )
    return (
        select(_tree_json(dialect), c.c.token_id, c.c.holder, c.c.status, c.c.value, c.c.tier)
        .join(path, c.c.token_id == path.c.token_id)
        .order_by(path.c.hop)
    )


def _dicts(session: Session, query: Any, values: dict[str, Any] | None = None) -> list[dict[str, Any]]:
    result = session.execute(query, values)
    keys = list(result.keys())
    return [dict(zip(keys, row, strict=True)) for row in result.all()]


def certificates(
    *,
    session: Session,
    holder: str | None = None,
    slot_id: int | None = None,
    status: Sequence[str] | None = LIVE_TOKEN,
    limit: int,
    offset: int,
    after: int | None = None,
) -> dict[str, Any]:
    """A keyset page of certificates in token order as JSON-ready dicts (the shape of
    Page[CertificatePublic]); by holder through ix_certificate_holder_token_status."""
    statuses = tuple(status) if status else None

    def count() -> int:
        if (
            statuses is not None
            and set(statuses) == set(LIVE_TOKEN)
            and (holder is not None or slot_id is not None)
        ):
            return _live_count(session, holder, slot_id)
        if statuses is None and holder is not None:
            # Every status (the auditor's list): the live ones from the position summary, the rest
            # (settled, burned: few) by a seek on (holder, status), not a COUNT of the holder's rows.
            return _live_count(session, holder, slot_id) + _other_count(session, holder, slot_id)
        conditions = []
        if holder is not None:
            conditions.append(CERT.c.holder == holder)
        if slot_id is not None:
            conditions.append(CERT.c.slot_id == slot_id)
        if statuses:
            conditions.append(CERT.c.status.in_(list(statuses)))
        return int(session.execute(select(func.count()).select_from(CERT).where(*conditions)).scalar_one())

    total = COUNTS.count(session, ("certificates", holder, slot_id, statuses), count)
    page = _certificate_page(holder is not None, slot_id is not None, statuses, after is not None)
    values = {"holder": holder, "slot_id": slot_id}
    rows = _page_dicts(session, page, values, after=after, limit=limit, offset=offset)
    following = next_after(rows, limit, "token_id")
    _iso(rows, day="maturity")
    return {
        "data": rows, "count": total, "limit": limit, "offset": offset,
        "next_after": following,
    }  # fmt: skip


def _live_count(session: Session, holder: str | None, slot_id: int | None) -> int:
    """How many live certificates `holder` holds (in payable `slot_id`), from the position summary the
    indexer keeps in the transaction of the events (indexer.summary; reconcile checks it, rebuilds it):
    one row per payable and depth, where COUNT(*) over the certificates read every one (226,800 index
    entries, 30-86 ms, for one supplier of the 1M-certificate bench) again after each change."""
    conditions = []
    if holder is not None:
        conditions.append(POSITION.c.holder == holder)
    if slot_id is not None:
        conditions.append(POSITION.c.slot_id == slot_id)
    total = select(func.coalesce(func.sum(POSITION.c.tokens), 0)).where(*conditions)
    return int(session.execute(total).scalar_one())


def _other_count(session: Session, holder: str, slot_id: int | None) -> int:
    """How many certificates `holder` holds (in payable `slot_id`) whose status is not live: three seeks
    on ix_certificate_holder_status, one per range of statuses around "active" and "locked", so the sum
    with _live_count is exact whatever other statuses there are (settled, burned today). One OR of the
    ranges would make SQLite walk every index entry of the holder (0.12 s for 226,800)."""
    live_low, live_high = sorted(LIVE_TOKEN)
    ranges = (
        CERT.c.status < live_low,
        and_(CERT.c.status > live_low, CERT.c.status < live_high),
        CERT.c.status > live_high,
    )
    by = [CERT.c.holder == holder] + ([CERT.c.slot_id == slot_id] if slot_id is not None else [])
    parts = [select(func.count()).select_from(CERT).where(*by, r).scalar_subquery() for r in ranges]
    return int(session.execute(select(parts[0] + parts[1] + parts[2])).scalar_one())


@functools.cache
def _certificate_page(holder: bool, slot: bool, statuses: tuple[str, ...] | None, after: bool) -> Any:
    """certificates()'s page statement for one shape of filters, built once: building and cache-keying
    it per request cost ~0.2 ms, about what SQLite spends reading the page. Values are bound by name
    (holder, slot_id, after, page_limit, page_offset); the look-ahead row is in page_limit."""
    conditions = []
    if holder:
        conditions.append(CERT.c.holder == bindparam("holder"))
    if slot:
        conditions.append(CERT.c.slot_id == bindparam("slot_id"))
    if statuses:
        conditions.append(CERT.c.status.in_(statuses))
    if after:
        conditions.append(CERT.c.token_id > bindparam("after"))
    return (
        # the tier from its column (the indexer keeps it), not a second statement per page (~0.7 ms)
        select(*CERT_COLUMNS, PAYABLE.c.maturity, PAYABLE.c.obligor, CERT.c.tier)
        .join(PAYABLE, PAYABLE.c.slot_id == CERT.c.slot_id)
        .where(*conditions)
        .order_by(CERT.c.token_id)
        .limit(bindparam("page_limit"))
        .offset(bindparam("page_offset"))
    )


def credit_lines(
    *, session: Session, financier: str | None = None, obligor: str | None = None, limit: int, offset: int,
    after: int | None = None,
) -> Page[CreditLinePublic]:  # fmt: skip
    query = select(CreditLine)
    if financier is not None:
        query = query.where(col(CreditLine.financier) == financier)
    if obligor is not None:
        query = query.where(col(CreditLine.obligor) == obligor)
    return keyset_page(
        session, query, col(CreditLine.line_id), line_public, limit=limit, offset=offset, after=after
    )


def recourse_debts(
    *,
    session: Session,
    seller: str | None = None,
    financier: str | None = None,
    open_only: bool = False,
    limit: int,
    offset: int,
    after: int | None = None,
) -> Page[RecourseDebtPublic]:
    """Recourse debts of a seller and/or to a financier, oldest first (the order they are collected in)."""
    query = select(RecourseDebt)
    if seller is not None:
        query = query.where(col(RecourseDebt.seller) == seller)
    if financier is not None:
        query = query.where(col(RecourseDebt.financier) == financier)
    if open_only:
        query = query.where(col(RecourseDebt.remaining) > 0)
    convert = lambda row: RecourseDebtPublic.model_validate(row, from_attributes=True)  # noqa: E731
    return keyset_page(
        session, query, col(RecourseDebt.request_id), convert, limit=limit, offset=offset, after=after
    )


def financing_requests(
    *,
    session: Session,
    financier: str | None = None,
    seller: str | None = None,
    status: str | None = None,
    limit: int,
    offset: int,
    after: int | None = None,
) -> dict[str, Any]:
    """A keyset page of financing requests, newest first (`after`: request ids below it), as JSON-ready
    dicts (the shape of Page[FinancingPublic])."""
    conditions = []
    if financier is not None:
        conditions.append(REQUEST.c.financier == financier)
    if seller is not None:
        conditions.append(REQUEST.c.seller == seller)
    if status is not None:
        conditions.append(REQUEST.c.status == status)
    count = _count(session, ("requests", financier, seller, status), REQUEST, conditions)
    equal = {"financier": financier, "seller": seller, "status": status}
    rows, following = _keyset_dicts(
        session, "financing_request", equal={k: v for k, v in equal.items() if v is not None},
        after=after, limit=limit, offset=offset,
    )  # fmt: skip
    _iso(rows, instant="quote_expiry")
    return {"data": rows, "count": count, "limit": limit, "offset": offset, "next_after": following}


# An event's place in chain order as one cursor: block_number * LOG_SPAN + log_index (a block holds far
# fewer than 2**24 logs, and blocks below 2**39 keep the cursor under the API's 2**63).
LOG_SPAN = 2**24


def payouts(
    *, session: Session, holder: str | None, limit: int, offset: int, after: int | None = None
) -> Page[PayoutPublic]:
    """A keyset page of payouts, newest first (`after`: before the payout it names, LOG_SPAN), of
    `holder` through ix_payout_holder_block_log; the count once per data version."""
    p = Payout
    conditions = [PAYOUT.c.holder == holder] if holder is not None else []
    count = _count(session, ("payouts", holder), PAYOUT, conditions)
    rows, following = _chain_page(
        session, select(p).where(*conditions), p, after=after, descending=True, limit=limit, offset=offset
    )
    return Page[PayoutPublic](
        data=[PayoutPublic.model_validate(r, from_attributes=True) for r in rows],
        count=count, limit=limit, offset=offset, next_after=following,
    )  # fmt: skip


def transfers(
    *, session: Session, slot_id: int, limit: int, offset: int, after: int | None = None
) -> Page[TransferPublic]:
    """A keyset page of payable `slot_id`'s movements in chain order, after the movement `after` names
    (LOG_SPAN), through ix_certificate_transfer_slot_block_log; the count once per data version."""
    t = CertificateTransfer
    count = _count(session, ("transfers", slot_id), TRANSFER, [TRANSFER.c.slot_id == slot_id])
    rows, following = _chain_page(
        session, select(t).where(col(t.slot_id) == slot_id), t, after=after, descending=False, limit=limit,
        offset=offset,
    )  # fmt: skip
    return Page[TransferPublic](
        data=[TransferPublic.model_validate(r, from_attributes=True) for r in rows],
        count=count, limit=limit, offset=offset, next_after=following,
    )  # fmt: skip


def _chain_page(
    session: Session, query: Any, model: Any, *, after: int | None, descending: bool, limit: int, offset: int
) -> tuple[list[Any], int | None]:
    """A keyset page of `query`'s rows of `model` (events keyed by block_number and log_index) in chain
    order (`descending`: newest first) after the position `after` (LOG_SPAN), and the next cursor."""
    position = tuple_(col(model.block_number), col(model.log_index))
    if after is not None:
        start = tuple_(literal(after // LOG_SPAN), literal(after % LOG_SPAN))
        query = query.where(position < start if descending else position > start)
    order = (col(model.block_number), col(model.log_index))
    query = query.order_by(*(c.desc() for c in order) if descending else order)
    rows = list(session.execute(query.limit(limit + 1).offset(offset)).scalars().all())
    if len(rows) <= limit:
        return rows, None
    last = rows[limit - 1]
    return rows[:limit], last.block_number * LOG_SPAN + last.log_index


def documents_of_slot(session: Session, slot_id: int) -> list[DocumentPublic]:
    rows = session.execute(
        select(StoredDocument)
        .where(col(StoredDocument.slot_id) == slot_id)
        .order_by(col(StoredDocument.created_at))
    ).scalars()
    return [document_public(r) for r in rows]


def obligor_exposure(session: Session, obligor: str) -> int:
    # Fen columns are zero-padded text on SQLite: sum exactly in Python.
    rows = session.execute(
        select(col(Payable.face), col(Payable.paid_in)).where(
            col(Payable.obligor) == obligor, col(Payable.status).in_(OPEN_PAYABLE)
        )
    ).all()
    return sum(int(face) - int(paid) for face, paid in rows)


def request_detail(*, session: Session, caller: Caller, request_id: int) -> FinancingDetail:
    row = financing_request(session, request_id)
    if not access.can_see_request(caller, row):
        raise access.not_a_party(
            i18n.gettext(
                "You are no party to financing request %(id)s: only its seller and the bank it is "
                "addressed to see it.",
                id=request_id,
            )
        )
    cert = session.get(Certificate, row.token_id)
    slot = session.get(Payable, cert.slot_id) if cert is not None else None
    lines: Any = (
        session.execute(
            select(CreditLine)
            .where(col(CreditLine.obligor) == slot.obligor)
            .order_by(col(CreditLine.line_id))
        ).scalars()
        if slot is not None
        else []
    )
    return FinancingDetail(
        **financing_public(row).model_dump(),
        certificate=certificate_public(cert, slot, session=session) if cert is not None else None,
        payable=payable_public(slot) if slot is not None else None,
        lineage=path_public(session, lineage.path_to_root(session, row.token_id), slot),
        documents=documents_of_slot(session, slot.slot_id) if slot is not None else [],
        obligor_exposure=obligor_exposure(session, slot.obligor) if slot is not None else 0,
        obligor_credit_lines=[line_public(line) for line in lines],
    )


def portfolio(*, session: Session, caller: Caller, now: int) -> Portfolio:
    rows = session.execute(
        select(Certificate, Payable)
        .join(Payable, col(Payable.slot_id) == col(Certificate.slot_id))
        .where(col(Certificate.holder) == caller.address, col(Certificate.status).in_(LIVE_TOKEN))
        .order_by(col(Payable.maturity), col(Certificate.token_id))
    ).all()
    holdings = [certificate_public(c, p) for c, p in rows]
    buckets: dict[dt.date, list[int]] = defaultdict(lambda: [0, 0])
    for c, p in rows:
        day = dt.datetime.fromtimestamp(p.maturity, dt.UTC).date()
        buckets[day][0] += c.value
        buckets[day][1] += 1
    funded = session.execute(
        select(
            col(FinancingRequest.price), col(FinancingRequest.discount), col(FinancingRequest.token_id)
        ).where(
            col(FinancingRequest.financier) == caller.address,
            col(FinancingRequest.status) == "Funded",
        )
    ).all()
    held = {c.token_id for c, _ in rows}
    return Portfolio(
        holdings=holdings,
        total_value=sum(c.value for c, _ in rows),
        ladder=[LadderBucket(maturity_date=d, value=v[0], tokens=v[1]) for d, v in sorted(buckets.items())],
        funded_price=sum(int(p or 0) for p, _, t in funded if t in held),
        funded_discount=sum(int(d or 0) for _, d, t in funded if t in held),
        overdue=[certificate_public(c, p) for c, p in rows if p.maturity <= now and p.status != "Repaid"],
        defaulted=[certificate_public(c, p) for c, p in rows if p.status == "Defaulted"],
    )
