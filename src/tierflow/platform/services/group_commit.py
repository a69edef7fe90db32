"""Group commit: the writes that concurrent threads of this process queue for one engine share a
transaction, written by whichever waiting thread takes the lock first (the others find theirs done); and
shared reads (`Lookups`), the same for reads by key."""

from __future__ import annotations

import threading
import weakref
from collections.abc import Callable, Hashable, Iterable
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from sqlalchemy import Executable
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.orm import Session

T = TypeVar("T")
K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


@dataclass
class Waiting(Generic[T]):
    """One queued write: `result` once its group is written, or the `error` that stopped the group."""

    item: T
    result: Any = None
    done: bool = False
    error: BaseException | None = None


@dataclass
class _Queue(Generic[T]):
    waiting: list[Waiting[T]] = field(default_factory=list)
    queued: threading.Lock = field(default_factory=threading.Lock)
    writing: threading.Lock = field(default_factory=threading.Lock)


class Groups(Generic[T]):
    """`write(engine, group)` writes a group in one transaction and sets each one's `result`; an error
    it raises reaches every write of the group not yet done."""

    def __init__(self, write: Callable[[Engine, list[Waiting[T]]], None]) -> None:
        self._write = write
        self._queues: weakref.WeakKeyDictionary[Engine, _Queue[T]] = weakref.WeakKeyDictionary()
        self._lock = threading.Lock()

    def submit(self, engine: Engine, item: T) -> Any:
        """Queue `item`, wait until its group is written; its result (or its group's error, raised)."""
        with self._lock:
            queue = self._queues.get(engine)
            if queue is None:
                queue = self._queues[engine] = _Queue()
        mine = Waiting(item)
        with queue.queued:
            queue.waiting.append(mine)
        with queue.writing:
            if not mine.done:
                with queue.queued:
                    group, queue.waiting = queue.waiting, []
                try:
                    self._write(engine, group)
                except BaseException as error:
                    for waiting in group:
                        if not waiting.done:
                            waiting.error = error
                finally:
                    for waiting in group:
                        waiting.done = True
        if mine.error is not None:
            raise mine.error
        return mine.result


# Set by a batch's rows (services/batch_issue.py): hundreds of writes of one process run their checks at
# once, so the reads by key before each send (its invoices, its approval rule, its custodial key) go
# through `Lookups`. A read each cost a row a pool checkout, its ping, a statement and a rollback (~0.7 ms
# of CPU in all), more than the checks themselves; a single write keeps its own session's reads.
SHARED_READS: ContextVar[bool] = ContextVar("shared_reads", default=False)


def shared_reads(session: Session) -> Engine | None:
    """The engine to share `session`'s next read by key through (`Lookups`), or None to read through the
    session: only a batch row's session that holds no connection shares. One that holds a connection
    reads through it: waiting for a shared read on a second connection, the rows holding the whole pool
    would wait for ever (a batch funding's rows read their requests first)."""
    if not SHARED_READS.get() or session.in_transaction():
        return None
    bind = session.get_bind()
    return bind if isinstance(bind, Engine) else None


class Lookups(Generic[K, V]):
    """Reads by key that concurrent threads share: `get` waits for one read (on its own connection) of
    every key asked meanwhile, made after this one was asked, so each answer is as fresh as a read of
    its own; `read(conn, keys)` maps each found key to its value (at most 500 keys a call)."""

    def __init__(self, read: Callable[[Connection, list[K]], dict[K, V]]) -> None:
        self._read = read
        self._groups: Groups[K] = Groups(self._read_group)

    def get(self, engine: Engine, key: K) -> V | None:
        value: V | None = self._groups.submit(engine, key)
        return value

    def get_for(self, session: Session, key: K, alone: Callable[[], V | None]) -> V | None:
        """`key`'s value through a shared read when `session` may share one (`shared_reads`: a batch
        row's), else `alone()`: the session's own read, as a single write makes it."""
        engine = shared_reads(session)
        return alone() if engine is None else self.get(engine, key)

    def _read_group(self, engine: Engine, group: list[Waiting[K]]) -> None:
        keys = list(dict.fromkeys(waiting.item for waiting in group))
        found: dict[K, V] = {}
        with engine.connect() as conn:
            for start in range(0, len(keys), 500):
                found.update(self._read(conn, keys[start : start + 500]))
        for waiting in group:
            waiting.result = found.get(waiting.item)


@dataclass(frozen=True)
class Alike:
    """One write's run of a shared `statement` (a module-level statement of bind parameters) with its own
    `params`: a group's alike writes go to the database as one executemany (`execute_all`), where a
    statement each cost its compile-cache lookup, parameter processing and round trip (~0.2 ms of CPU)."""

    statement: Executable
    params: dict[str, Any]


def execute_all(conn: Connection, statements: Iterable[Executable | Alike]) -> None:
    """Run `statements` in `conn`'s transaction: each plain one on its own, then the Alike ones as one
    executemany per shared statement (they change other rows than the plain ones, so order between the
    two kinds does not matter; within a kind it is kept)."""
    alike: dict[int, tuple[Executable, list[dict[str, Any]]]] = {}
    for statement in statements:
        if isinstance(statement, Alike):
            alike.setdefault(id(statement.statement), (statement.statement, []))[1].append(statement.params)
        else:
            conn.execute(statement)
    for statement, rows in alike.values():
        conn.execute(statement, rows)
