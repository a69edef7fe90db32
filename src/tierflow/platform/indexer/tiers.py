"""Tiers (supply-chain distance from the core enterprise, docs/tiers.md): the lineage walk that defines
them, and the indexer's upkeep of `certificate.tier`, written with the events that change it.

The definition: the tier of a certificate is 1 + the number of distinct suppliers that held value on its
lineage before its holder first did; a financier's piece has none (None). It depends only on the movements
along the certificate's own path, so an event changes the tier of the one certificate it creates or moves
and no other: a split's new certificate, a whole transfer's (or recovery's, or burn's) certificate. The
column is that walk's answer kept per row, so that reads never walk a tree (services.lineage).
"""

from __future__ import annotations

import weakref
from collections import defaultdict
from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import Connection, Table, bindparam, select, update

from tierflow.chain.vocabulary import Role
from tierflow.platform.indexer.store import Row, Store
from tierflow.platform.models import Certificate, CertificateTransfer
from tierflow.platform.models.registry import Participant

CERTIFICATE: Table = Certificate.__table__  # type: ignore[attr-defined]
TRANSFER: Table = CertificateTransfer.__table__  # type: ignore[attr-defined]
PARTICIPANT: Table = Participant.__table__  # type: ignore[attr-defined]
FINANCIER_ROLE = int(Role.FINANCIER)
MOVES = ("issued", "split", "transferred")
FINANCED = None  # the tier of a financier's own piece
_MOVE_COLUMNS = (
    TRANSFER.c.kind, TRANSFER.c.token_id, TRANSFER.c.new_token_id, TRANSFER.c.to_address,
    TRANSFER.c.block_number, TRANSFER.c.log_index,
)  # fmt: skip


def walk(financiers: set[str], tokens: Sequence[Any], moves: Iterable[Any]) -> dict[int, int | None]:
    """Tiers of `tokens` (token_id, parent_id, holder, depth) from their movements `moves` (kind, token_id,
    new_token_id, to_address, …) in chain order."""
    # Every movement is a node under the node of the value it came from: (parent node, new holder);
    # node 0 is the payable before issue. A token's latest node is where its value is now. The tiers
    # are then read in one walk down this tree, keeping the holders met on the way (linear, however
    # deep or wide the lineage).
    nodes: list[tuple[int, str]] = [(-1, "")]
    at: dict[int, int] = {}  # token -> its latest node

    def move(token: int, came_from: int, holder: str) -> None:
        nodes.append((came_from, holder))
        at[token] = len(nodes) - 1

    for kind, token_id, new_token_id, to, *_ in moves:
        if kind == "split":
            move(new_token_id, at.get(token_id, 0), to)
        else:  # issued (from node 0) or passed on whole
            move(token_id, at.get(token_id, 0), to)
    for token_id, parent_id, holder, _ in sorted(tokens, key=lambda t: (t[3], t[0])):
        # Its current holder last (a no-op when the movements said so); without movements indexed
        # (synthetic data) it came from its parent.
        move(token_id, at.get(token_id, at.get(parent_id, 0) if parent_id else 0), holder)
    children: dict[int, list[int]] = defaultdict(list)
    for node, (parent, _) in enumerate(nodes):
        if node:
            children[parent].append(node)
    node_tier: dict[int, int | None] = {}
    met: dict[str, int | None] = {}  # the holders on the path from node 0, with their tiers
    suppliers = 0
    stack: list[tuple[int, bool]] = [(0, True)]
    while stack:
        node, entering = stack.pop()
        holder = nodes[node][1]
        if not entering:  # leaving the node that added `holder` to the path
            if met.pop(holder) is not None:
                suppliers -= 1
            continue
        if node and holder not in met:
            financier = holder in financiers
            suppliers += 0 if financier else 1
            met[holder] = FINANCED if financier else suppliers
            stack.append((node, False))
        node_tier[node] = met.get(holder)
        stack.extend((child, True) for child in reversed(children[node]))
    return {token_id: node_tier[at[token_id]] for token_id, *_ in tokens}


def financiers(conn: Connection) -> set[str]:
    """Every financier's address (their pieces have no supplier tier)."""
    return {
        address
        for address, roles in conn.execute(select(PARTICIPANT.c.address, PARTICIPANT.c.roles))
        if int(roles) & FINANCIER_ROLE
    }


def walk_slots(
    conn: Connection, slot_ids: Iterable[int], known: set[str] | None = None
) -> dict[int, int | None]:
    """The walk's tier of every certificate of payables `slot_ids` (token id -> tier), read from the
    certificates and their indexed movements: what the column must hold (reconcile, the migration)."""
    slots = sorted(set(slot_ids))
    tokens: list[Any] = []
    moves: list[Any] = []
    for start in range(0, len(slots), 900):  # SQLite's bound-parameter limit
        chunk = slots[start : start + 900]
        tokens += conn.execute(
            select(
                CERTIFICATE.c.token_id, CERTIFICATE.c.parent_id, CERTIFICATE.c.holder, CERTIFICATE.c.depth
            ).where(CERTIFICATE.c.slot_id.in_(chunk))
        ).all()
        moves += conn.execute(
            select(TRANSFER.c.kind, TRANSFER.c.token_id, TRANSFER.c.new_token_id, TRANSFER.c.to_address)
            .where(TRANSFER.c.slot_id.in_(chunk), TRANSFER.c.kind.in_(MOVES))
            .order_by(TRANSFER.c.block_number, TRANSFER.c.log_index)
        ).all()
    return walk(financiers(conn) if known is None else known, tokens, moves)


def fill(conn: Connection, slot_ids: Iterable[int] | None = None, *, chunk: int = 2000) -> int:
    """Write the walk's tier into `certificate.tier` for payables `slot_ids` (every payable if None), in
    the caller's transaction: the migration's fill, a generator's, a repair. Returns the rows written."""
    if slot_ids is None:
        slot_ids = [int(s) for (s,) in conn.execute(select(CERTIFICATE.c.slot_id).distinct())]
    slots = sorted(set(slot_ids))
    known = financiers(conn)
    statement = (
        update(CERTIFICATE)
        .where(CERTIFICATE.c.token_id == bindparam("t"))
        .values(tier=bindparam("v", type_=CERTIFICATE.c.tier.type))
    )
    changed = 0
    for start in range(0, len(slots), chunk):
        part = slots[start : start + chunk]
        rows = [{"t": t, "v": v} for t, v in walk_slots(conn, part, known).items()]
        if rows:
            conn.execute(statement, rows)
            changed += len(rows)
    return changed


# -- the indexer's upkeep ----------------------------------------------------------------------------
def _is_financier(store: Store, address: str) -> bool:
    participant = store.peek("participant", address)
    return participant is not None and bool(int(participant["roles"]) & FINANCIER_ROLE)


# Per store (Store.derived): token -> the holders met on the path to its latest movement, with their
# tiers. A new movement's tier is then a dictionary lookup; a token not kept here walks its path once.
Met = dict[str, int | None]
MET_LIMIT = 200_000  # tokens kept; beyond, the map starts over (correct, one path walk each again)


def _mets(store: Store) -> dict[int, Met]:
    mets: dict[int, Met] = store.derived.setdefault("tier_met", {})
    if len(mets) > MET_LIMIT:
        mets.clear()
    return mets


def keep(store: Store, token: Row, before: Row | None, at: tuple[int, int], *, moved: bool = True) -> None:
    """Set `token`'s tier after the event at (block, log index) `at` that created or moved it: an issue
    (`before` None), a split off certificate `before`, or a change of holder of `token` (`before`: it
    as it was). `moved`: a movement its later splits come from (issue, split, whole transfer), not a
    recovery or a burn, which change the holder only.

    The new holder's tier is its tier on the path if met there, None for a financier, else one more
    than the suppliers met: a lookup in the holders met on the path of `before` (kept per token, walked
    from the database once when not kept)."""
    mets = _mets(store)
    met: Met | None = {} if before is None else mets.get(int(before["token_id"]))
    if met is None and before is not None:
        met = _path_met(store, before, at)
    if met is None:  # a lineage not indexed whole: the walk of the path as it is
        token["tier"] = _path_tier(store, token)
        return
    holder = token["holder"]
    if holder not in met:
        met = {
            **met,
            holder: None if _is_financier(store, holder) else sum(t is not None for t in met.values()) + 1,
        }
    token["tier"] = met[holder]
    if moved:
        mets[int(token["token_id"])] = met


def _path_rows(store: Store, token: Row) -> list[Row] | None:
    path: list[Row] = [token]
    while path[-1]["parent_id"] is not None:
        parent = store.peek("certificate", path[-1]["parent_id"])
        if parent is None:
            return None
        path.append(parent)
    return path


def _path_moves(store: Store, ids: list[int]) -> list[tuple[Any, ...]]:
    """The movements that make the path `ids` (a token first, its root last), in chain order: each path
    token's issue and whole transfers and the split that made it, written or pending."""
    conn = store.connection
    moves = [tuple(m) for m in conn.execute(_OWN_MOVES, {"ids": ids})]
    if len(ids) > 1:
        moves += [tuple(m) for m in conn.execute(_MADE_BY, {"parents": ids[1:], "ids": ids[:-1]})]
    moves += [
        (m["kind"], m["token_id"], m["new_token_id"], m["to_address"], m["block_number"], m["log_index"])
        for m in _pending_moves(store, ids)
    ]
    moves.sort(key=lambda m: (m[4], m[5]))
    return moves


def _path_met(store: Store, token: Row, at: tuple[int, int]) -> Met | None:
    """The holders met on the path to `token`'s latest movement before the event at `at`, with their
    tiers; None when its movements are not all indexed (synthetic rows)."""
    path = _path_rows(store, token)
    if path is None:
        return None
    ids = [int(row["token_id"]) for row in path]
    nodes: list[tuple[int, str]] = [(-1, "")]
    latest: dict[int, int] = {}
    for kind, token_id, new_token_id, to, block, log in _path_moves(store, ids):
        if (block, log) >= at:
            break
        moved = new_token_id if kind == "split" else token_id
        nodes.append((latest.get(token_id, 0) if kind != "issued" else 0, to))
        latest[int(moved)] = len(nodes) - 1
    node = latest.get(ids[0])
    if node is None:
        return None
    chain: list[str] = []
    while node > 0:
        chain.append(nodes[node][1])
        node = nodes[node][0]
    met: Met = {}
    for holder in reversed(chain):
        if holder not in met:
            met[holder] = (
                None if _is_financier(store, holder) else sum(t is not None for t in met.values()) + 1
            )
    return met


def follow_roles(store: Store, address: str) -> int:
    """`address` became or stopped being a financier: walk again every payable it holds or held value
    of (its pieces, and the tiers counted after it, change) and set the tiers that moved; returns how
    many. Rare (the operator's setRoles), so a whole-tree walk per payable is fine."""
    store.derived.pop("tier_met", None)  # the tiers met on every path may have changed
    conn = store.connection
    created = store.created("certificate")
    slots = {
        int(s) for (s,) in conn.execute(select(TRANSFER.c.slot_id).where(TRANSFER.c.to_address == address))
    }
    slots |= {
        int(s) for (s,) in conn.execute(select(CERTIFICATE.c.slot_id).where(CERTIFICATE.c.holder == address))
    }
    slots |= {int(m["slot_id"]) for m in store.pending("certificate_transfer") if m["to_address"] == address}
    slots |= {int(row["slot_id"]) for row in created if row["holder"] == address}
    changed = 0
    for slot in sorted(slots):
        ids = {
            int(t)
            for (t,) in conn.execute(select(CERTIFICATE.c.token_id).where(CERTIFICATE.c.slot_id == slot))
        }
        ids |= {int(row["token_id"]) for row in created if row["slot_id"] == slot}
        store.prefetch("certificate", [(token,) for token in ids])
        rows = [row for row in (store.peek("certificate", token) for token in ids) if row is not None]
        moves = [
            tuple(m)
            for m in conn.execute(
                select(*_MOVE_COLUMNS).where(TRANSFER.c.slot_id == slot, TRANSFER.c.kind.in_(MOVES))
            )
        ]
        moves += [
            (m["kind"], m["token_id"], m["new_token_id"], m["to_address"], m["block_number"], m["log_index"])
            for m in store.pending("certificate_transfer")
            if m["slot_id"] == slot and m["kind"] in MOVES
        ]
        moves.sort(key=lambda m: (m[4], m[5]))
        addresses = {row["holder"] for row in rows} | {m[3] for m in moves}
        known = {holder for holder in addresses if _is_financier(store, holder)}
        found = walk(known, [(r["token_id"], r["parent_id"], r["holder"], r["depth"]) for r in rows], moves)
        for row in rows:
            if row["tier"] != found[int(row["token_id"])]:
                moved = store.get("certificate", row["token_id"])
                assert moved is not None
                moved["tier"] = found[int(row["token_id"])]
                changed += 1
    return changed


# The two reads of a path's movements, built once: a path token's own issue and whole transfers, and the
# split that made each path token; both seek ix_certificate_transfer_token_kind, so a parent split into
# thousands of certificates costs no more than one split once.
_OWN_MOVES = select(*_MOVE_COLUMNS).where(
    TRANSFER.c.token_id.in_(bindparam("ids", expanding=True)), TRANSFER.c.kind.in_(("issued", "transferred"))
)
_MADE_BY = select(*_MOVE_COLUMNS).where(
    TRANSFER.c.token_id.in_(bindparam("parents", expanding=True)),
    TRANSFER.c.kind == "split",
    TRANSFER.c.new_token_id.in_(bindparam("ids", expanding=True)),
)
# Per store: this window's pending movements by the certificate they concern (the moved token, or the
# split's new one), indexed as they are appended, so a window of many events is not scanned per event.
_PENDING: weakref.WeakKeyDictionary[Store, tuple[list[Row], int, dict[int, list[Row]]]] = (
    weakref.WeakKeyDictionary()
)


def _pending_moves(store: Store, ids: Iterable[int]) -> list[Row]:
    pending = store.pending("certificate_transfer")
    seen, count, by_token = _PENDING.get(store, (pending, 0, {}))
    if seen is not pending or count > len(pending):  # a new window
        count, by_token = 0, {}
    for move in pending[count:]:
        if move["kind"] in MOVES:
            concerns = move["new_token_id"] if move["kind"] == "split" else move["token_id"]
            by_token.setdefault(int(concerns), []).append(move)
    _PENDING[store] = (pending, len(pending), by_token)
    return [move for token in ids for move in by_token.get(token, ())]


def _path_tier(store: Store, token: Row) -> int | None:
    """The walk's tier of `token` over its path as indexed (ancestors from the store, movements written
    or pending): for lineages whose movements are not all indexed."""
    path = _path_rows(store, token)
    if path is None:  # a lineage not indexed whole: no path to walk
        return None
    moves = _path_moves(store, [int(row["token_id"]) for row in path])
    addresses = {row["holder"] for row in path} | {m[3] for m in moves}
    known = {address for address in addresses if _is_financier(store, address)}
    tokens = [(row["token_id"], row["parent_id"], row["holder"], row["depth"]) for row in path]
    return walk(known, tokens, moves)[int(token["token_id"])]
