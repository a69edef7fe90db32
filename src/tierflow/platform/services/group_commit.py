"""Group commit: the writes that concurrent threads of this process queue for one engine share a
transaction, written by whichever waiting thread takes the lock first (the others find theirs done)."""

from __future__ import annotations

import threading
import weakref
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from sqlalchemy.engine import Engine

T = TypeVar("T")


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
