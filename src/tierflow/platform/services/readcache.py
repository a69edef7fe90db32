"""Serialised read responses cached per indexed checkpoint.

The read models (certificates, payables, requests, ...) are written only by the indexer, and every
indexer window commits its rows together with the checkpoint row (block number and hash). So a
response computed from the read models is valid for exactly as long as the checkpoint stays the same:
keying the cache by (query, checkpoint block, checkpoint hash) needs no other invalidation, and a
reorg that re-indexes the same height under another hash misses the cache too. Party checks are not
cached: the caller is checked on every request before the cached body is used.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable

import anyio.to_thread
from sqlalchemy import select
from sqlmodel import Session

from tierflow.platform.models import Checkpoint

CHECKPOINT = Checkpoint.__table__  # type: ignore[attr-defined]
# Built once: every cached read runs it, and a statement memoises its cache key (building one per
# request costs more SQLAlchemy work than the query costs SQLite).
_CHECKPOINT_ROW = select(CHECKPOINT.c.block_number, CHECKPOINT.c.block_hash).where(CHECKPOINT.c.id == 1)


def checkpoint_of(session: Session) -> tuple[int, str] | None:
    """(block number, block hash) of the indexer checkpoint, read in the request's own transaction."""
    row = session.execute(_CHECKPOINT_ROW).first()
    return None if row is None else (int(row[0]), str(row[1]))


class ResponseCache:
    """A small LRU of serialised response bodies keyed by (query, checkpoint)."""

    def __init__(self, size: int = 32) -> None:
        self.size = size
        self._entries: OrderedDict[Hashable, bytes] = OrderedDict()
        self._lock = threading.Lock()

    async def body(self, session: Session, query: Hashable, build: Callable[[], bytes]) -> bytes:
        """The body for `query` at the session's checkpoint; on a miss `build` runs in the thread pool.

        Called on the event loop: a hit is one indexed query and a dictionary lookup, cheaper than
        a hop to a worker thread; a miss (a page of rows, or a 1,000-token tree at ~20 ms) must not
        stall the loop, so only the build moves to a thread.

        The checkpoint is read before `build`'s rows, which `build` reads in a new transaction: the
        rows can only be as new or newer than the checkpoint, never older, so a cached body never
        hides a write that its key says is indexed (read-your-writes). Without a checkpoint row
        nothing is cached.
        """
        checkpoint = checkpoint_of(session)
        if checkpoint is None:
            session.close()  # as below: no connection held on the loop while the build runs
            return await anyio.to_thread.run_sync(build)
        key = (query, checkpoint)
        with self._lock:
            body = self._entries.get(key)
            if body is not None:
                self._entries.move_to_end(key)
                return body
        # The build re-opens the session in its worker thread: no connection is held on the loop
        # while it runs (see deps.current_caller).
        session.close()
        body = await anyio.to_thread.run_sync(build)
        with self._lock:
            self._entries[key] = body
            while len(self._entries) > self.size:
                self._entries.popitem(last=False)
        return body

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
