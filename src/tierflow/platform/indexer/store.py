"""Unit of work of the indexer over the read models: a row cache, batched writes and the undo journal.

Handlers never talk SQL. They read and change rows as plain dicts through a Store, which
- keeps the rows it has seen in a cache that survives windows (the working set of an indexer is
  small next to memory, and a round trip per event would cap PostgreSQL at a few thousand events/s),
- writes all changes of a window with one executemany per table, inside the caller's transaction,
- journals the before-image of every row that a block changes when that row existed before the
  block (the "undo journal"), for blocks close enough to the head to be reorganised; rolling back
  to block B replays the journal backwards and deletes every row created after B (each read-model
  row carries the block it was created in, `block_number`).

Only one Store may write a database at a time. After a failed transaction call discard(): the
cache may hold changes that never reached the database.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Column, Connection, Table, and_, bindparam, delete, select, tuple_, update

from tierflow.platform.indexer import summary
from tierflow.platform.models import READ_MODELS, SlotVersion, UndoEntry

UNDO: Table = UndoEntry.__table__  # type: ignore[attr-defined]
SLOT_VERSION: Table = SlotVersion.__table__  # type: ignore[attr-defined]
# Tables whose rows make up a payable's lineage tree, by the column naming its slot (models.SlotVersion);
# a financing request names its certificate (slot found through it), a participant every tree (slot 0).
SLOT_OF = {"payable": "slot_id", "certificate": "slot_id", "certificate_transfer": "slot_id"}

Row = dict[str, Any]
Key = tuple[str, tuple[Any, ...]]


@dataclass(frozen=True)
class TableInfo:
    table: Table
    primary_key: tuple[str, ...]
    columns: tuple[str, ...]
    defaults: dict[str, Any]

    @classmethod
    def of(cls, model: Any) -> TableInfo:
        table: Table = model.__table__
        defaults: dict[str, Any] = {}
        for column in table.columns:
            default = column.default
            if default is not None and getattr(default, "is_scalar", False):
                defaults[column.name] = default.arg  # type: ignore[attr-defined]
            elif column.nullable:
                defaults[column.name] = None
        return cls(
            table=table,
            primary_key=tuple(column.name for column in table.primary_key.columns),
            columns=tuple(column.name for column in table.columns),
            defaults=defaults,
        )


class Store:
    """Rows of the read models as dicts; see the module docstring for the guarantees."""

    def __init__(self, models: Iterable[Any] = READ_MODELS, max_cached_rows: int = 200_000) -> None:
        self.tables: dict[str, TableInfo] = {}
        for model in models:
            info = TableInfo.of(model)
            self.tables[info.table.name] = info
        # A cached row costs about 1.5 KB: the default bounds the cache near 300 MB; beyond it the
        # cache starts over (correct, just slower for a while).
        self.max_cached_rows = max_cached_rows
        self._cache: dict[Key, Row | None] = {}
        self._inserts: dict[Key, Row] = {}
        self._updates: dict[Key, Row] = {}
        self._appends: dict[str, list[Row]] = defaultdict(list)
        self._undo: list[Row] = []
        self._journaled: set[Key] = set()
        self._conn: Connection | None = None
        self.block_number = 0
        self._journal = False
        self._seq = 0
        self._select_cache: dict[str, Any] = {}
        self._many_cache: dict[str, Any] = {}  # table -> its SELECT of many primary keys (Store.load)
        # Before-images of the rows of summary.WATCHED tables changed in the current block (None: the
        # row was created in it); settled into the summary tables when the block ends.
        self._before: dict[Key, Row | None] = {}
        # Slots whose trees the pending changes touch (SLOT_OF): flush(version) writes their versions.
        self._slots: set[int] = set()
        # What handlers derive from the rows and keep between windows (indexer.tiers: each certificate's
        # holders met on its lineage), forgotten with the rows on discard (a rollback, a rebuild).
        self.derived: dict[str, Any] = {}

    @property
    def undo_table(self) -> Table:
        return UNDO

    # -- window and block boundaries -------------------------------------------------------------
    def begin(self, conn: Connection) -> None:
        """Start collecting changes that will be written through `conn` (inside its transaction)."""
        self._conn = conn

    def begin_block(self, number: int, journal: bool) -> None:
        """Events of block `number` follow; `journal` says whether its changes must be undoable."""
        if number != self.block_number:
            self._settle()
            self.block_number = number
            self._journaled.clear()
            self._seq = 0
        self._journal = journal

    # -- what handlers call ---------------------------------------------------------------------
    def get(self, table: str, *key: Any) -> Row | None:
        """The row with primary key `key`, to be changed in place (it will be written back)."""
        cache_key = (table, key)
        row = self._load(cache_key)
        if row is None:
            return None
        if table in summary.WATCHED and cache_key not in self._before:
            self._before[cache_key] = dict(row)
        self._touch(table, row)
        if self._journal and cache_key not in self._journaled and row["block_number"] < self.block_number:
            self._journaled.add(cache_key)
            self._undo.append(
                {
                    "block_number": self.block_number,
                    "seq": self._seq,
                    "table_name": table,
                    "key": list(key),
                    "before": dict(row),
                }
            )
            self._seq += 1
        if cache_key not in self._inserts:
            self._updates[cache_key] = row
        return row

    def peek(self, table: str, *key: Any) -> Row | None:
        """The row with primary key `key`, read only (a copy)."""
        row = self._load((table, key))
        return None if row is None else dict(row)

    def create(self, table: str, row: Row) -> Row:
        """A new entity row, created in the current block; missing nullable columns default to None."""
        info = self.tables[table]
        full = {**info.defaults, "block_number": self.block_number, **row}
        if "updated_block" in info.columns and "updated_block" not in row:
            full["updated_block"] = self.block_number
        missing = [column for column in info.columns if column not in full]
        if missing:
            raise KeyError(f"{table}: no value for {', '.join(missing)}")
        cache_key = (table, tuple(full[column] for column in info.primary_key))
        # Only the cache is checked: a duplicate that is only in the database fails the INSERT's primary
        # key at flush, loudly, without a SELECT per created row.
        if self._cache.get(cache_key) is not None:
            raise KeyError(f"{table}{cache_key[1]} exists already")
        self._cache[cache_key] = full
        self._inserts[cache_key] = full
        if table in summary.WATCHED:
            self._before.setdefault(cache_key, None)
        self._touch(table, full)
        return full

    def append(self, table: str, row: Row) -> None:
        """An append-only history row (its primary key is the event's (block_number, log_index))."""
        info = self.tables[table]
        self._appends[table].append({**info.defaults, **row})
        self._touch(table, row)

    def pending(self, table: str) -> list[Row]:
        """The history rows of `table` appended in this window and not written yet (read only)."""
        return self._appends.get(table, [])

    def created(self, table: str) -> list[Row]:
        """The rows of `table` created in this window and not written yet (read only)."""
        return [row for (name, _), row in self._inserts.items() if name == table]

    @property
    def connection(self) -> Connection:
        """The connection of the current window, for the few reads a handler cannot do by key."""
        return self._require_conn()

    def prefetch(self, table: str, keys: Iterable[tuple[Any, ...]]) -> None:
        """Load the rows of `keys` not cached yet with one query per 500 keys (a row that does not exist
        is cached as absent): turns a round trip per new document or account into one per window."""
        info = self.tables[table]
        if len(info.primary_key) != 1:
            return
        missing = [key for key in set(keys) if (table, key) not in self._cache]
        column = info.table.c[info.primary_key[0]]
        conn = self._require_conn()
        for begin in range(0, len(missing), 500):
            chunk = missing[begin : begin + 500]
            for key in chunk:
                self._cache[(table, key)] = None
            found = conn.execute(select(info.table).where(column.in_([key[0] for key in chunk]))).mappings()
            for row in found:
                self._cache[(table, (row[column.name],))] = dict(row)

    # -- writing --------------------------------------------------------------------------------
    def flush(self, version: int | None = None) -> int:
        """Write every pending change through the current connection; returns the number of rows.

        `version`: the data version this window commits with, written as the version of every slot it
        touched (models.SlotVersion). None (a replay) leaves them: its caller writes slot 0 instead."""
        conn = self._require_conn()
        self._settle()
        written = 0
        if version is not None and self._slots:
            written += write_slot_versions(conn, self._slots, version)
        self._slots.clear()
        by_table: dict[str, list[Row]] = defaultdict(list)
        for (table, _), row in self._inserts.items():
            by_table[table].append(row)
        for table, rows in self._appends.items():
            by_table[table].extend(rows)
        for table, rows in by_table.items():
            if rows:
                conn.execute(self.tables[table].table.insert(), rows)
                written += len(rows)
        updates: dict[str, list[Row]] = defaultdict(list)
        for (table, _), row in self._updates.items():
            updates[table].append(row)
        for table, rows in updates.items():
            info = self.tables[table]
            conn.execute(self._update_statement(info), [self._update_params(info, row) for row in rows])
            written += len(rows)
        if self._undo:
            conn.execute(UNDO.insert(), self._undo)
            written += len(self._undo)
        self._inserts.clear()
        self._updates.clear()
        self._appends.clear()
        self._undo.clear()
        if len(self._cache) > self.max_cached_rows:
            self._cache.clear()
        return written

    def discard(self) -> None:
        """Forget everything cached or pending: the database is the truth again."""
        self._cache.clear()
        self._inserts.clear()
        self._updates.clear()
        self._appends.clear()
        self._undo.clear()
        self._journaled.clear()
        self._before.clear()
        self._slots.clear()
        self.derived.clear()
        self.block_number = 0

    # -- rollback and rebuild -------------------------------------------------------------------
    def undo_to(self, conn: Connection, block_number: int) -> int:
        """Restore the read models to their state at the end of `block_number` from the journal."""
        self.discard()
        undo = UNDO
        entries = conn.execute(
            select(undo.c.table_name, undo.c.key, undo.c.before)
            .where(undo.c.block_number > block_number)
            .order_by(undo.c.block_number.desc(), undo.c.seq.desc())
        ).all()
        for table, key, before in entries:
            info = self.tables[table]
            params = self._update_params(info, {**before, **dict(zip(info.primary_key, key, strict=True))})
            conn.execute(self._update_statement(info), params)
        conn.execute(delete(undo).where(undo.c.block_number > block_number))
        for info in self.tables.values():
            conn.execute(delete(info.table).where(info.table.c.block_number > block_number))
        return len(entries)

    def truncate(self, conn: Connection) -> None:
        """Empty every read model and the journal (before a rebuild from raw events)."""
        self.discard()
        conn.execute(delete(UNDO))
        for info in self.tables.values():
            conn.execute(delete(info.table))

    # -- internals ------------------------------------------------------------------------------
    def _touch(self, table: str, row: Row) -> None:
        """Note the slot whose tree a change of `row` of `table` changes (models.SlotVersion)."""
        column = SLOT_OF.get(table)
        if column is not None:
            self._slots.add(int(row[column]))
        elif table == "financing_request":
            certificate = self._load(("certificate", (row["token_id"],)))
            # A request for a certificate not indexed yet changes no tree that could be cached.
            if certificate is not None:
                self._slots.add(int(certificate["slot_id"]))
        elif table == "participant":
            self._slots.add(0)

    def _settle(self) -> None:
        """Fold the current block's changes of watched rows into the summary tables (same block)."""
        if not self._before:
            return
        changed, self._before = self._before, {}
        moves = [(table, before, self._cache.get((table, key))) for (table, key), before in changed.items()]
        summary.preload(self, moves)
        for table, before, after in moves:
            summary.apply(self, table, before, after)

    def load(self, table: str, keys: Iterable[tuple[Any, ...]]) -> None:
        """Read the rows of `table` with primary keys `keys` that are not cached, in one statement per 500
        (a key without a row is cached as absent, as `get` caches it): `get` then finds them without a
        read each."""
        missing = [key for key in dict.fromkeys(keys) if (table, key) not in self._cache]
        if len(missing) < 2:
            return  # `get` reads a single one as before
        info = self.tables[table]
        statement = self._many_cache.get(table)
        if statement is None:
            columns = [info.table.c[name] for name in info.primary_key]
            statement = select(info.table).where(tuple_(*columns).in_(bindparam("keys", expanding=True)))
            self._many_cache[table] = statement
        for start in range(0, len(missing), 500):
            part = missing[start : start + 500]
            found = {
                tuple(row[name] for name in info.primary_key): dict(row)
                for row in self._require_conn().execute(statement, {"keys": part}).mappings()
            }
            for key in part:
                self._cache[(table, key)] = found.get(key)

    def _require_conn(self) -> Connection:
        if self._conn is None:
            raise RuntimeError("Store.begin(connection) first")
        return self._conn

    def _load(self, cache_key: Key) -> Row | None:
        try:
            return self._cache[cache_key]
        except KeyError:
            pass
        table, key = cache_key
        info = self.tables[table]
        statement = self._select_cache.get(table)
        if statement is None:
            columns: list[Column[Any]] = [info.table.c[name] for name in info.primary_key]
            statement = select(info.table).where(
                and_(*[column == bindparam(f"k_{column.name}") for column in columns])
            )
            self._select_cache[table] = statement
        params = {f"k_{name}": value for name, value in zip(info.primary_key, key, strict=True)}
        found = self._require_conn().execute(statement, params).mappings().first()
        row = dict(found) if found is not None else None
        self._cache[cache_key] = row
        return row

    @staticmethod
    def _update_statement(info: TableInfo) -> Any:
        table = info.table
        return (
            update(table)
            .where(and_(*[table.c[name] == bindparam(f"k_{name}") for name in info.primary_key]))
            .values(
                {
                    name: bindparam(f"v_{name}", type_=table.c[name].type)
                    for name in info.columns
                    if name not in info.primary_key
                }
            )
        )

    @staticmethod
    def _update_params(info: TableInfo, row: Row) -> Row:
        params = {f"v_{name}": row[name] for name in info.columns if name not in info.primary_key}
        params.update({f"k_{name}": row[name] for name in info.primary_key})
        return params


def write_slot_versions(conn: Connection, slots: Iterable[int], version: int) -> int:
    """Set the version of `slots` (models.SlotVersion) to `version`, in the caller's transaction."""
    ids = sorted(set(slots))
    for begin in range(0, len(ids), 500):
        conn.execute(delete(SLOT_VERSION).where(SLOT_VERSION.c.slot_id.in_(ids[begin : begin + 500])))
    if ids:
        conn.execute(SLOT_VERSION.insert(), [{"slot_id": slot, "version": version} for slot in ids])
    return len(ids)
