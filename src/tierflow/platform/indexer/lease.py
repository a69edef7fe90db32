"""The single-writer lease: one row in `indexer_lease` saying which indexer may write this database.

Two indexers on one database would race on the same windows (one dies on an IntegrityError). Each
indexer therefore takes the lease before its first write with one conditional UPDATE (free, expired
or already ours) or INSERT (no row yet), checks and renews it with a conditional UPDATE inside every
transaction that writes (a window is never committed by a holder that lost the lease: the UPDATE
matches no row and the transaction rolls back), and gives it up on a clean stop.

A holder that was killed (SIGKILL) cannot give it up; its lease expires after the TTL, and a new
indexer on the same host takes it over at once when the holder's process no longer exists.
"""

from __future__ import annotations

import os
import secrets
import socket
import time
import weakref
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import Connection, select, update
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError

from tierflow.errors import TierflowError
from tierflow.platform.models import IndexerLease

LEASE = IndexerLease.__table__  # type: ignore[attr-defined]

# Holders of this process that are alive (acquired, not released, their owner not collected).
_LIVE: set[str] = set()


class IndexerLeaseHeld(TierflowError, RuntimeError):
    """Another indexer holds the single-writer lease of this database."""

    def __init__(self, holder: str, expires_at: int, *, lost: bool = False) -> None:
        self.holder = holder
        self.expires_at = expires_at
        until = datetime.fromtimestamp(expires_at, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
        what = "this indexer lost its lease: " if lost else ""
        super().__init__(
            f"{what}another indexer ({holder}) is writing this database; stop it, "
            f"or wait until {until} when its lease expires (unless renewed) and start again"
        )


@dataclass(frozen=True)
class LeaseRow:
    holder: str
    expires_at: int


def new_holder_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(4)}"


class Lease:
    """The lease of one indexer: `acquire` once, `guard(conn)` in every writing transaction, `release`."""

    def __init__(self, engine: Engine, ttl: float = 30.0, holder: str | None = None) -> None:
        self.engine = engine
        self.ttl = ttl  # [s]
        self.holder = holder or new_holder_id()
        self.held = False
        self.renewed_at = 0.0  # [unix s] of our last successful renewal
        weakref.finalize(self, _LIVE.discard, self.holder)

    @property
    def renew_interval(self) -> float:
        """Renew at most this often when nothing else writes (a third of the TTL, at most 5 s)."""
        return min(5.0, self.ttl / 3)

    def acquire(self) -> None:
        """Take the lease if it is free, expired, ours, or held by a dead process of this host."""
        for _ in range(3):
            now = time.time()
            with self.engine.begin() as conn:
                taken = conn.execute(
                    update(LEASE)
                    .where(LEASE.c.id == 1)
                    .where((LEASE.c.holder == self.holder) | (LEASE.c.expires_at <= int(now)))
                    .values(self._values(now, fresh=True))
                ).rowcount
                if taken:
                    return self._took(now)
                current = self._read(conn)
                if current is not None and _is_orphan(current.holder):
                    if conn.execute(
                        update(LEASE)
                        .where(LEASE.c.id == 1, LEASE.c.holder == current.holder)
                        .values(self._values(now, fresh=True))
                    ).rowcount:
                        return self._took(now)
                    continue
            if current is not None:
                raise IndexerLeaseHeld(current.holder, current.expires_at)
            try:
                with self.engine.begin() as conn:
                    conn.execute(LEASE.insert().values(id=1, **self._values(now, fresh=True)))
                return self._took(now)
            except IntegrityError:
                continue  # another indexer inserted it first: look again
        with self.engine.connect() as conn:
            current = self._read(conn)
        raise IndexerLeaseHeld(current.holder if current else "unknown", current.expires_at if current else 0)

    def guard(self, conn: Connection) -> None:
        """Inside a writing transaction: renew the lease, or raise (rolling the transaction back)."""
        now = time.time()
        renewed = conn.execute(
            update(LEASE)
            .where(LEASE.c.id == 1, LEASE.c.holder == self.holder)
            .values(renewed_at=int(now), expires_at=self._expiry(now))
        ).rowcount
        if not renewed:
            self.held = False
            _LIVE.discard(self.holder)
            current = self._read(conn)
            raise IndexerLeaseHeld(
                current.holder if current else "nobody", current.expires_at if current else 0, lost=True
            )
        self.renewed_at = now

    def renew_if_due(self) -> None:
        """Renew in a transaction of its own when the last renewal is older than `renew_interval`."""
        if time.time() - self.renewed_at >= self.renew_interval:
            with self.engine.begin() as conn:
                self.guard(conn)

    def release(self) -> None:
        """Give the lease up (a clean stop): the next indexer takes it without waiting."""
        if not self.held:
            return
        self.held = False
        _LIVE.discard(self.holder)
        with self.engine.begin() as conn:
            conn.execute(
                update(LEASE)
                .where(LEASE.c.id == 1, LEASE.c.holder == self.holder)
                .values(expires_at=int(time.time()) - 1)
            )

    def _values(self, now: float, *, fresh: bool) -> dict[str, object]:
        values: dict[str, object] = {
            "holder": self.holder,
            "renewed_at": int(now),
            "expires_at": self._expiry(now),
        }
        if fresh:
            values["acquired_at"] = int(now)
        return values

    def _expiry(self, now: float) -> int:
        return int(now + self.ttl + 0.999)  # rounded up: a 1 s TTL lasts at least 1 s

    def _took(self, now: float) -> None:
        self.held = True
        self.renewed_at = now
        _LIVE.add(self.holder)

    @staticmethod
    def _read(conn: Connection) -> LeaseRow | None:
        row = conn.execute(select(LEASE.c.holder, LEASE.c.expires_at).where(LEASE.c.id == 1)).first()
        return None if row is None else LeaseRow(row.holder, row.expires_at)


def _is_orphan(holder: str) -> bool:
    """A holder of this host whose process is gone (or, in this process, whose indexer is gone)."""
    host, _, rest = holder.partition(":")
    pid_text = rest.partition(":")[0]
    if host != socket.gethostname() or not pid_text.isdigit():
        return False
    pid = int(pid_text)
    if pid == os.getpid():
        return holder not in _LIVE
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:  # alive, another user's
        return False
    return False
