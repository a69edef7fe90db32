"""Serialised read responses cached per data version of the indexed read models.

The read models (certificates, payables, requests, ...) are written only by the indexer, and every
indexer window commits its rows together with the checkpoint row, whose `data_version` changes in
the same transaction whenever the window wrote rows (events, a rollback on a reorg, a rebuild) and
never for a window of empty blocks. So a response computed from the read models is valid for exactly
as long as the data version stays the same: keying the cache by (query, data version) needs no other
invalidation, and on a chain that makes a block a second the cache stays warm between real changes
(keyed by the checkpoint block, every block made every entry cold). Party checks are not cached: the
caller is checked on every request before the cached body is used.
"""

from __future__ import annotations

import asyncio
import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from contextvars import ContextVar
from typing import Any, TypeVar, cast

import anyio.to_thread
from sqlalchemy import Connection, bindparam, select
from sqlmodel import Session

from tierflow.platform.models import Checkpoint, SlotVersion

T = TypeVar("T")
CHECKPOINT = Checkpoint.__table__  # type: ignore[attr-defined]
SLOT_VERSION = SlotVersion.__table__  # type: ignore[attr-defined]
# Built once: every cached read runs it, and a statement memoises its cache key (building one per
# request costs more SQLAlchemy work than the query costs SQLite).
_DATA_VERSION = select(CHECKPOINT.c.data_version).where(CHECKPOINT.c.id == 1)
# The version as a column of another statement: the API key lookup selects it beside the key, so a
# request that finds its body in the ResponseCache pays no round trip of its own for the version.
DATA_VERSION_COLUMN = _DATA_VERSION.scalar_subquery().label("data_version")
# The version read with the request's key lookup (see note_version), with the task that read it: each
# request runs in a task of its own, and a value noted outside one (a script, a test calling the
# services) or by another request is never used.
_NOTED: ContextVar[tuple[object | None, int] | None] = ContextVar("tierflow_data_version", default=None)


def _task() -> object | None:
    try:
        return asyncio.current_task()
    except RuntimeError:  # no event loop in this thread
        return None


def note_version(value: int | None) -> None:
    """Remember the data version read earlier in this request (with the key lookup), for
    ResponseCache.body. Valid for the rest of the request: a version read earlier than the rows a build
    reads later is never newer than they are, which is all the cache's key needs (see body)."""
    task = _task()
    _NOTED.set(None if value is None or task is None else (task, int(value)))


def _noted_version() -> int | None:
    noted = _NOTED.get()
    return noted[1] if noted is not None and noted[0] is _task() else None


def data_version_of(session: Session | Connection) -> int | None:
    """The indexer's data version (see models.Checkpoint), read in the request's own transaction;
    None before the indexer has committed anything."""
    value = session.execute(_DATA_VERSION).scalar()
    return None if value is None else int(value)


# A tree's version and slot 0's (participants, rollbacks, rebuilds), by primary key: built once.
_TREE_VERSION = select(SLOT_VERSION.c.slot_id, SLOT_VERSION.c.version).where(
    SLOT_VERSION.c.slot_id.in_([bindparam("slot"), 0])
)


def tree_version(session: Session | Connection, slot_id: int) -> tuple[str, int, int] | None:
    """The version of payable `slot_id`'s tree (models.SlotVersion): it moves when the indexer changes
    that tree, a participant, or rolls back or rebuilds, and stays put when another payable changes;
    None when either row is missing (a database indexed before slot versions, synthetic data): then
    the data version stands in. For TotalsCache.get(version=...)."""
    found = {int(slot): int(version) for slot, version in session.execute(_TREE_VERSION, {"slot": slot_id})}
    return tree_key(found.get(slot_id), found.get(0))


def tree_key(slot_version: int | None, all_trees_version: int | None) -> tuple[str, int, int] | None:
    """A tree's cache version from its slot's and slot 0's SlotVersion rows (either None: no key)."""
    if slot_version is None or all_trees_version is None:
        return None
    return ("slot", int(slot_version), int(all_trees_version))


# Reads of at most this many rows run on the event loop when the database is in process (run_read).
LOOP_ROWS = 100


async def run_read(session: Session, read: Callable[[], T], *, rows: int | None) -> T:
    """`read()` for an async endpoint, on `session` (which may hold the connection of the request's key
    lookup), which it closes once `read` returns: on the event loop for a short page (`rows` ≤ LOOP_ROWS)
    on SQLite, else in the thread pool.

    Why on the loop on SQLite: a page of 50 rows costs 2-4 ms of CPU, and a hop to a worker thread made
    it cost twice that under load and spread its latency: with 8 concurrent requests (one uvicorn
    worker, 1M certificates) a random holdings page took 8.4 ms of server CPU and p50/p99 53/233 ms in a
    worker thread, 3.6 ms and 24/57 ms on the loop. Each SQLite step lets go of the GIL, and the worker
    thread then waits for the loop (or another worker) to hand it back; on the loop the requests simply
    take turns. PostgreSQL's waits are real (another process works meanwhile): on the loop they stalled
    every request (fewer requests a second at the same load), so reads there keep the thread pool. A
    large page (a 1,000-row tree, tens of ms) moves to a thread so that it does not hold up every other
    request; `rows` None (unknown) counts as large.

    The session is closed as soon as `read` returns, in the thread that ran it: the connection is back
    in the pool before the loop runs anything else for this request, so a request waiting for the pool
    on the loop (the key lookup) never waits for one that the loop itself would have to give back.
    The data version noted with the key lookup goes along to the worker thread (TotalsCache reads it).
    """
    version = _noted_version()

    def read_and_close() -> T:
        noted = _NOTED.set((None, version)) if version is not None and _task() is None else None
        try:
            return read()
        finally:
            session.close()
            if noted is not None:
                _NOTED.reset(noted)

    if rows is not None and rows <= LOOP_ROWS and _in_process(session):
        return read_and_close()
    return await anyio.to_thread.run_sync(read_and_close)


def _in_process(session: Session) -> bool:
    return str(session.get_bind().dialect.name) == "sqlite"


class ResponseCache:
    """A small LRU of serialised response bodies keyed by (query, data version)."""

    def __init__(self, size: int = 32) -> None:
        self.size = size
        self._entries: OrderedDict[Hashable, bytes] = OrderedDict()
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    async def body(
        self,
        session: Session,
        query: Hashable,
        build: Callable[[], bytes],
        *,
        rows: int | None = None,
        version: Hashable | None = None,
    ) -> bytes:
        """The body for `query` at the session's data version; on a miss `build` runs through run_read.

        Called on the event loop: a hit is a dictionary lookup under the version read with the
        request's API key (note_version; else one indexed query), cheaper than a hop to a worker
        thread; a miss runs on the loop when `rows` says it is a short page, in the thread pool when it
        is a large one (a 1,000-token tree at ~20 ms must not stall the loop): see run_read.

        The version is read before `build`'s rows, which `build` reads in a new transaction: the rows
        can only be as new or newer than the version, never older, so a cached body never hides a
        write that its key says is indexed (read-your-writes: a write returns once the indexer has
        committed its transaction, and that commit changed the version). Without a checkpoint row
        nothing is cached. `version`: a narrower version read before the rows the same way (a tree's,
        tree_key), instead of the data version.
        """
        if version is None:
            version = _noted_version()
        if version is None:
            version = data_version_of(session)
        if version is None:
            return await run_read(session, build, rows=rows)
        key = (query, version)
        with self._lock:
            body = self._entries.get(key)
            if body is not None:
                self._entries.move_to_end(key)
                self.hits += 1
                session.close()  # the key lookup's connection, if it still holds it (see run_read)
                return body
            self.misses += 1
        body = await run_read(session, build, rows=rows)
        with self._lock:
            self._entries[key] = body
            while len(self._entries) > self.size:
                self._entries.popitem(last=False)
        return body

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()


class TotalsCache:
    """Totals over a whole list or tree per (database, query, data version): list page counts, a lineage
    tree's tier totals. Every page of a list shows the same totals, and computing them again over a
    million-row filter (or a 10,000-token tree) for each page would cost more than the page.

    Sync (called from the list queries in worker threads); same validity argument as ResponseCache:
    the version is read before the totals, so a cached value is never older than its key. Values are
    shared between requests: callers must not mutate them.
    """

    def __init__(self, size: int = 512) -> None:
        self.size = size
        self._entries: OrderedDict[Hashable, Any] = OrderedDict()
        self._lock = threading.Lock()

    def get(
        self,
        session: Session | Connection,
        query: Hashable,
        compute: Callable[[], T],
        *,
        version: Hashable | None = None,
    ) -> T:
        """`compute()`'s value for `query`, kept per `version` (e.g. tree_version's, read before the
        value's rows like the data version), by default the data version."""
        # A list page read on the event loop (run_read) has the version from its key lookup: no
        # statement of its own for it. Elsewhere (a worker thread, a script) the version is read here.
        if version is None:
            version = _noted_version()
        if version is None:
            version = data_version_of(session)
        if version is None:
            return compute()
        # id(engine) keeps two databases in one process apart; the version (a µs clock at least, see
        # indexer.runner.next_version) keeps an engine created at a reused address from matching.
        key = (id(session.engine if isinstance(session, Connection) else session.get_bind()), query, version)
        with self._lock:
            if key in self._entries:
                self._entries.move_to_end(key)
                return cast(T, self._entries[key])
        value = compute()
        with self._lock:
            self._entries[key] = value
            while len(self._entries) > self.size:
                self._entries.popitem(last=False)
        return value

    def count(self, session: Session, query: Hashable, compute: Callable[[], int]) -> int:
        return self.get(session, ("count", query), compute)


COUNTS = TotalsCache()
