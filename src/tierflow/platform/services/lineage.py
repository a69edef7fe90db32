"""Lineage, for the API and the dashboard alike: a payable's certificate tree, a certificate's path to its
root, a bill's endorsement chain, and a party's view of a tree with totals over what it may see.

Each token stores its slot, parent, root and depth (indexed), so the tree of a payable and the subtree
of a token are one indexed scan each, and a path to the root is a recursive CTE of depth-many
primary-key lookups; all stay well under a second on trees of 10,000 tokens, even a 10,000-deep
chain, on SQLite and PostgreSQL alike. Who sees which part of a tree is decided by access.py.
"""

from __future__ import annotations

import functools
import threading
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection, literal, select
from sqlmodel import Session, col

from tierflow.platform import i18n
from tierflow.platform.indexer import tiers
from tierflow.platform.models import BillRange, Certificate, FinancingRequest, Payable
from tierflow.platform.services import access, idsets, readcache
from tierflow.platform.services.readcache import TotalsCache

CERTIFICATE = Certificate.__table__  # type: ignore[attr-defined]
BILL_RANGE = BillRange.__table__  # type: ignore[attr-defined]
LIVE_TOKEN = ("active", "locked")
Reader = Connection | Session


def payable_tree(conn: Reader, slot_id: int) -> list[dict[str, Any]]:
    """Every certificate of payable `slot_id`, root first, then by depth and id (parents before children)."""
    rows = conn.execute(
        select(CERTIFICATE)
        .where(CERTIFICATE.c.slot_id == slot_id)
        .order_by(CERTIFICATE.c.depth, CERTIFICATE.c.token_id)
    ).mappings()
    return [dict(row) for row in rows]


def descendants(conn: Reader, token_id: int) -> list[dict[str, Any]]:
    """Token `token_id` and everything split off it, at any depth (parents before children).

    One indexed scan of the deeper tokens of the same payable, filtered by parent in order of depth:
    linear in the payable's size and independent of the planner (a recursive CTE over parent_id
    degenerates into a scan per level on PostgreSQL before the table has been ANALYZEd).
    """
    c = CERTIFICATE
    top = conn.execute(select(c).where(c.c.token_id == token_id)).mappings().first()
    if top is None:
        return []
    rows = conn.execute(
        select(c)
        .where(c.c.slot_id == top["slot_id"], c.c.depth > top["depth"])
        .order_by(c.c.depth, c.c.token_id)
    ).mappings()
    found, inside = [dict(top)], {token_id}
    for row in rows:
        if row["parent_id"] in inside:
            inside.add(row["token_id"])
            found.append(dict(row))
    return found


def path_to_root(conn: Reader, token_id: int) -> list[dict[str, Any]]:
    """Token `token_id`, its parent, its parent's parent … up to the payable's root token."""
    c = CERTIFICATE
    path = select(c.c.token_id, c.c.parent_id, literal(0).label("hop")).where(c.c.token_id == token_id)
    up = path.cte("path", recursive=True)
    up = up.union_all(select(c.c.token_id, c.c.parent_id, up.c.hop + 1).where(c.c.token_id == up.c.parent_id))
    rows = conn.execute(select(c).join(up, c.c.token_id == up.c.token_id).order_by(up.c.hop)).mappings()
    return [dict(row) for row in rows]


def tree(rows: list[dict[str, Any]]) -> dict[int | None, list[int]]:
    """parent id → child token ids, from payable_tree() or descendants() rows (for rendering)."""
    children: dict[int | None, list[int]] = {}
    for row in rows:
        children.setdefault(row["parent_id"], []).append(row["token_id"])
    return children


def endorsement_chain(conn: Reader, range_id: int) -> list[dict[str, Any]]:
    """Bill range record `range_id` and the records it came from (`prev`), nearest first.

    The holders after the first are the prior endorsers liable in recourse (with the drawer).
    """
    r = BILL_RANGE
    start = select(r.c.range_id, r.c.prev, literal(0).label("hop")).where(r.c.range_id == range_id)
    chain = start.cte("chain", recursive=True)
    chain = chain.union_all(
        # A record's `prev` is always older (a smaller id): the guard ends the walk on any bad link.
        select(r.c.range_id, r.c.prev, chain.c.hop + 1).where(
            r.c.range_id == chain.c.prev, r.c.range_id < chain.c.range_id
        )
    )
    rows = conn.execute(
        select(r).join(chain, r.c.range_id == chain.c.range_id).order_by(chain.c.hop)
    ).mappings()
    return [dict(row) for row in rows]


# -- tiers: supply-chain distance from the core enterprise ---------------------------------------------
# The definition (docs/tiers.md): the tier of a certificate is the supply-chain distance of its holder
# from the obligor, counted along the certificate's lineage: 1 + the number of distinct suppliers that
# held value on that lineage before this holder first did. The supplier the core enterprise issued to is
# tier 1; a split to oneself (a financing request splits off the amount to be sold) changes nothing; a
# financier's piece is no supplier tier (None): it is financed paper, and a financier on the lineage
# does not count as a supplier. Split depth is not the tier: it counts splits, not holders.
FINANCED = tiers.FINANCED  # the tier of a financier's own piece


def token_tiers(conn: Reader, slot_ids: Iterable[int]) -> dict[int, int | None]:
    """The tier of every certificate of payables `slot_ids`: token id -> tier, None for a financier's.

    Read from `certificate.tier`, which the indexer keeps with the events that change it (indexer.tiers:
    the lineage walk's answer): one indexed scan per 900 payables, no walk.
    """
    slots = sorted(set(slot_ids))
    found: dict[int, int | None] = {}
    for start in range(0, len(slots), 900):  # SQLite's bound-parameter limit
        found.update(
            conn.execute(
                select(CERTIFICATE.c.token_id, CERTIFICATE.c.tier).where(
                    CERTIFICATE.c.slot_id.in_(slots[start : start + 900])
                )
            ).all()
        )
    return found


def tiers_of(conn: Reader, token_ids: Iterable[int]) -> dict[int, int | None]:
    """token_tiers() of the certificates `token_ids` only, for a page of a list: their `certificate.tier`
    by primary key (one statement built once per dialect, the ids bound as one value: idsets)."""
    wanted = sorted(set(token_ids))
    if not wanted:
        return {}
    dialect = _dialect(conn)
    rows = conn.execute(_tiers_statement(dialect), {"ids": idsets.bind(wanted, dialect)}).all()
    return {int(token): tier for token, tier in rows}


def _dialect(conn: Reader) -> str:
    bind = conn if isinstance(conn, Connection) else conn.get_bind()
    return str(bind.dialect.name)


@functools.cache
def _tiers_statement(dialect: str) -> Any:
    c = CERTIFICATE
    return select(c.c.token_id, c.c.tier).where(idsets.contains(c.c.token_id, dialect))


def holder_tiers(conn: Reader, pairs: Sequence[tuple[int, str]]) -> list[int | None]:
    """The tier of each (payable, holder) pair: the lowest tier of the holder's certificates of that
    payable (a holder's positions are summed per payable, one row per split depth)."""
    tiers = token_tiers(conn, {slot for slot, _ in pairs})
    c = CERTIFICATE
    lowest: dict[tuple[int, str], int | None] = {}
    slots = sorted({slot for slot, _ in pairs})
    for start in range(0, len(slots), 900):
        rows = conn.execute(
            select(c.c.slot_id, c.c.holder, c.c.token_id).where(
                c.c.slot_id.in_(slots[start : start + 900]), c.c.status.in_(LIVE_TOKEN)
            )
        )
        for slot, holder, token in rows:
            # A financier's tiers are all None, a supplier's all numbers: keep the lowest.
            tier, before = tiers.get(token), lowest.get((slot, holder))
            lowest[(slot, holder)] = (
                before if before is not None and (tier is None or before < tier) else tier
            )
    return [lowest.get(pair) for pair in pairs]


def tier_label(tier: int | None) -> str:
    """A tier as words: "tier 2", or "financed" for a financier's piece."""
    return i18n.gettext("financed") if tier is None else i18n.gettext("tier %(tier)s", tier=tier)


@dataclass
class TierSpread:
    """Live certificates at one tier of a tree: how many, held by how many, worth how much.

    `tier` None is the financiers' pieces: financed paper, not a supplier tier.
    """

    tier: int | None
    tokens: int
    holders: int
    amount: int  # [fen]


def tree_tiers(
    session: Session, slot_id: int, tiers: dict[int, int | None] | None = None
) -> list[TierSpread]:
    """tier_spread() of every live certificate of payable `slot_id`; `tiers`: its token_tiers() when the
    caller has them already (the lineage walk is the expensive part)."""
    c = CERTIFICATE
    live = session.execute(
        select(c.c.token_id, c.c.holder, c.c.value).where(c.c.slot_id == slot_id, c.c.status.in_(LIVE_TOKEN))
    ).all()
    if tiers is None:
        tiers = token_tiers(session, [slot_id])
    return tier_spread((tiers[token], holder, value) for token, holder, value in live)


def tier_spread(rows: Iterable[Sequence[Any]]) -> list[TierSpread]:
    """TierSpreads of live certificates given as (tier, holder, value), or of positions given as
    (tier, holder, value, tokens); supplier tiers in order, then the financiers' pieces (tier None)."""
    spread: dict[int | None, TierSpread] = {}
    holders: dict[int | None, set[str]] = defaultdict(set)
    for row in rows:
        tier, holder, value = row[0], row[1], row[2]
        entry = spread.setdefault(tier, TierSpread(tier, 0, 0, 0))
        entry.tokens += int(row[3]) if len(row) > 3 else 1
        entry.amount += int(value)
        holders[tier].add(holder)
    for tier, entry in spread.items():
        entry.holders = len(holders[tier])
    return [spread[k] for k in sorted(spread, key=lambda t: (t is None, t or 0))]


@dataclass
class LineageNode:
    certificate: Certificate
    children: list[LineageNode] = field(default_factory=list)
    financed_by: str | None = None
    tier: int | None = None  # token_tiers(): None for a financier's piece
    # Some children are not shown to this party. Only that: their number is other holders' business.
    hidden: bool = False


@dataclass
class Lineage:
    """What one party sees of a payable's tree; `count` and `tiers` are totals over that visible part."""

    payable: Payable
    root: LineageNode | None
    count: int
    tiers: list[TierSpread]
    restricted: bool = False


def visible_tokens(parents: dict[int, int | None], own: Iterable[int]) -> set[int]:
    """`own` tokens and every ancestor of each (their paths to the root), given token → parent."""
    seen: set[int] = set()
    for token in own:
        current: int | None = token
        while current is not None and current in parents and current not in seen:
            seen.add(current)
            current = parents[current]
    return seen


# Whole trees (what the obligor and auditors see) per version of the tree (readcache.tree_version): the
# same for every such reader until the indexer changes that tree, and building one from 10,000
# certificate rows took ~440 ms a page view.
WHOLE_TREES = TotalsCache(size=8)
# One build of a tree at a time: readers missing together (a new data version) wait for the first.
_WHOLE_TREE_BUILD = threading.Lock()


def payable_lineage(session: Session, party: access.Party, slot_id: int) -> Lineage | None:
    """The tree of payable `slot_id` as `party` may see it (access.lineage_scope), None if unknown.

    The obligor and auditors see every certificate; any other party its own certificates and their
    paths to the root, with counts, tiers and financing computed on that part only. The whole tree is
    kept per version of the tree (WHOLE_TREES): callers must not change what it returns.
    """
    payable = session.get(Payable, slot_id)
    if payable is None:
        return None
    own = access.lineage_scope(session, party, payable)
    if own is not None:
        return _payable_lineage(session, payable, own)

    # Per version of this tree (readcache.tree_version): a change to another payable keeps it.
    version = readcache.tree_version(session, slot_id)

    def build() -> Lineage:
        with _WHOLE_TREE_BUILD:
            # Again under the lock: a build that finished while this one waited stored its tree.
            return WHOLE_TREES.get(
                session, slot_id, lambda: _payable_lineage(session, payable, None), version=version
            )

    return WHOLE_TREES.get(session, slot_id, build, version=version)


def _payable_lineage(session: Session, payable: Payable, own: set[int] | None) -> Lineage:
    slot_id = payable.slot_id
    hidden_below: set[int | None] = set()
    tokens = list(
        session.execute(
            select(Certificate).where(col(Certificate.slot_id) == slot_id).order_by(col(Certificate.token_id))
        ).scalars()
    )
    if own is not None:
        shown = visible_tokens({t.token_id: t.parent_id for t in tokens}, own)
        hidden_below = {t.parent_id for t in tokens if t.token_id not in shown}
        tokens = [t for t in tokens if t.token_id in shown]
    funded = session.execute(
        select(col(FinancingRequest.token_id), col(FinancingRequest.financier)).where(
            col(FinancingRequest.token_id).in_([t.token_id for t in tokens]),
            col(FinancingRequest.status).in_(("Funded", "Recoursed")),
        )
    ).all()
    # Who financed a certificate is its holder's business: shown on the party's own certificates only.
    financed = {t: f for t, f in funded if own is None or t in own}
    nodes = {t.token_id: LineageNode(t, financed_by=financed.get(t.token_id)) for t in tokens}
    root = None
    for node in nodes.values():
        parent = node.certificate.parent_id
        if parent and parent in nodes:
            nodes[parent].children.append(node)
        else:
            root = root or node
        if own is not None and node.certificate.token_id in hidden_below:
            node.hidden = True
    for node in nodes.values():
        node.tier = node.certificate.tier  # kept by the indexer (indexer.tiers): no walk of the tree
    tiers = tier_spread((t.tier, t.holder, t.value) for t in tokens if t.status in LIVE_TOKEN)
    return Lineage(payable, root, len(tokens), tiers, restricted=own is not None)
