"""Batch uploads' state in the database: staged files, who runs a batch, its progress and result.

With several API instances the upload, its Confirm and the progress page may each reach a different
instance, so none of it lives in a process's memory. A staged batch keeps its file (and its attached
invoice files) until it is confirmed; the Confirm claims it with one conditional UPDATE (so a double
click, on one instance or two, starts it once); the runner counts rows done and beats with each row; a
batch whose runner stopped beating for STALE_S (its instance died) is claimed again by the next
Confirm, and its rows already sent replay through their idempotency keys (derived from the batch key),
so nothing is sent twice.
"""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass

from sqlalchemy import delete, select, update
from sqlalchemy.engine import Engine

from tierflow.platform.models.service import BatchUpload, BatchUploadFile
from tierflow.platform.services.group_commit import Groups, Waiting

UPLOAD = BatchUpload.__table__  # type: ignore[attr-defined]
FILE = BatchUploadFile.__table__  # type: ignore[attr-defined]
# [s] a staged upload waits this long for its Confirm.
STAGED_SECONDS = 3600
# [s] a running batch whose runner has not advanced for this long is taken to be dead: longer than a
# row can wait for its receipt (RECEIPT_TIMEOUT_S, 120 s) and for its indexing.
STALE_S = 180


@dataclass(frozen=True)
class Staged:
    address: str
    filename: str
    content: bytes
    files: list[tuple[str, str, bytes]]  # filename, content type, bytes


@dataclass(frozen=True)
class Stored:
    """A batch's progress as stored: rows, rows answered, finished, the result (BatchResult JSON)."""

    total: int
    done: int
    finished: bool
    result: str | None


def stage(
    engine: Engine,
    *,
    key: str,
    address: str,
    filename: str,
    content: bytes,
    total: int,
    files: list[tuple[str, str, bytes]],
) -> None:
    """Keep a checked upload until its Confirm (again, if it was staged or finished before)."""
    now = int(time.time())
    with engine.begin() as conn:
        conn.execute(
            delete(UPLOAD).where(UPLOAD.c.created_at < now - STAGED_SECONDS, UPLOAD.c.state == "staged")
        )
        row = conn.execute(select(UPLOAD.c.state, UPLOAD.c.beat_at).where(UPLOAD.c.key == key)).first()
        if row is not None and row.state == "running" and row.beat_at >= now - STALE_S:
            return  # on its way: the Confirm shows its progress
        conn.execute(delete(FILE).where(FILE.c.batch_key == key))
        conn.execute(delete(UPLOAD).where(UPLOAD.c.key == key))
        conn.execute(
            UPLOAD.insert().values(
                key=key, address=address, filename=filename, content=content, state="staged", total=total,
                done=0, runner=None, beat_at=0, result=None, created_at=now,
            )
        )  # fmt: skip
        for name, content_type, data in files:
            conn.execute(
                FILE.insert().values(batch_key=key, filename=name, content_type=content_type, data=data)
            )


def staged(engine: Engine, key: str, address: str) -> Staged | None:
    """The upload waiting for (or claimed by) a Confirm of `address`; None if unknown or another's."""
    with engine.connect() as conn:
        row = conn.execute(
            select(UPLOAD.c.filename, UPLOAD.c.content).where(
                UPLOAD.c.key == key, UPLOAD.c.address == address
            )
        ).first()
        if row is None:
            return None
        files = conn.execute(
            select(FILE.c.filename, FILE.c.content_type, FILE.c.data).where(FILE.c.batch_key == key)
        ).all()
    return Staged(
        address,
        row.filename,
        bytes(row.content),
        [(f.filename, f.content_type, bytes(f.data)) for f in files],
    )


def claim(engine: Engine, key: str, runner: str, total: int) -> bool:
    """Take a staged batch (or one whose runner died) to run it; False when another runs or ran it."""
    now = int(time.time())
    with engine.begin() as conn:
        taken = conn.execute(
            update(UPLOAD)
            .where(UPLOAD.c.key == key)
            .where(
                (UPLOAD.c.state == "staged")
                | ((UPLOAD.c.state == "running") & (UPLOAD.c.beat_at < now - STALE_S))
            )
            .values(state="running", runner=runner, beat_at=now, done=0, total=total)
        ).rowcount
    return bool(taken)


def advance(engine: Engine, key: str, runner: str) -> None:
    """One more row answered (and the runner is alive).

    The rows answered at the same time count in one UPDATE (group commit): a transaction per row was a
    commit of its own for each of a batch's thousands of rows."""
    _ADVANCES.submit(engine, (key, runner))


def _count(engine: Engine, group: list[Waiting[tuple[str, str]]]) -> None:
    now = int(time.time())
    with engine.begin() as conn:
        for (key, runner), rows in Counter(waiting.item for waiting in group).items():
            conn.execute(
                update(UPLOAD)
                .where(UPLOAD.c.key == key, UPLOAD.c.runner == runner)
                .values(done=UPLOAD.c.done + rows, beat_at=now)
            )


_ADVANCES: Groups[tuple[str, str]] = Groups(_count)


def finish(engine: Engine, key: str, runner: str, result: str | None) -> None:
    """The batch is done (or stopped): store its result and drop the files it no longer needs."""
    with engine.begin() as conn:
        finished = conn.execute(
            update(UPLOAD)
            .where(UPLOAD.c.key == key, UPLOAD.c.runner == runner)
            .values(state="finished", beat_at=int(time.time()), result=result)
        ).rowcount
        if finished:
            conn.execute(delete(FILE).where(FILE.c.batch_key == key))


def progress(engine: Engine, key: str, address: str | None = None) -> Stored | None:
    """What the progress page shows, from any instance; None for an unknown, staged or another's batch."""
    query = select(UPLOAD.c.state, UPLOAD.c.total, UPLOAD.c.done, UPLOAD.c.result, UPLOAD.c.beat_at).where(
        UPLOAD.c.key == key
    )
    if address is not None:
        query = query.where(UPLOAD.c.address == address)
    with engine.connect() as conn:
        row = conn.execute(query).first()
    if row is None or row.state == "staged":
        return None
    # A runner silent for STALE_S died (its instance stopped): the batch is over without its results, and
    # the page says to submit it again (its rows settle from the chain: services/batch_recovery.py).
    stopped = row.state == "running" and row.beat_at < int(time.time()) - STALE_S
    return Stored(int(row.total), int(row.done), row.state == "finished" or stopped, row.result)


@dataclass(frozen=True)
class StoppedBatch:
    """A batch that stopped without its result: its runner stopped beating for STALE_S (its instance
    died), or it ended on an error before storing one."""

    key: str
    address: str
    filename: str
    content: bytes
    beat_at: int


def stopped(engine: Engine, now: int | None = None) -> list[StoppedBatch]:
    """The batches whose runner died before storing their result (services/batch_sweep.py)."""
    cutoff = (int(time.time()) if now is None else now) - STALE_S
    with engine.connect() as conn:
        rows = conn.execute(
            select(
                UPLOAD.c.key, UPLOAD.c.address, UPLOAD.c.filename, UPLOAD.c.content, UPLOAD.c.beat_at
            ).where(
                ((UPLOAD.c.state == "running") & (UPLOAD.c.beat_at < cutoff))
                | ((UPLOAD.c.state == "finished") & UPLOAD.c.result.is_(None))
            )
        ).all()
    return [StoppedBatch(r.key, r.address, r.filename, bytes(r.content), int(r.beat_at)) for r in rows]


def finish_stopped(engine: Engine, batch: StoppedBatch, result: str) -> bool:
    """Store the result of a batch whose runner died, unless a Confirm claimed it again meanwhile."""
    with engine.begin() as conn:
        finished = conn.execute(
            update(UPLOAD)
            .where(
                UPLOAD.c.key == batch.key,
                UPLOAD.c.state.in_(("running", "finished")),
                UPLOAD.c.beat_at == batch.beat_at,
                UPLOAD.c.result.is_(None),
            )
            .values(state="finished", result=result)
        ).rowcount
        if finished:
            conn.execute(delete(FILE).where(FILE.c.batch_key == batch.key))
    return bool(finished)
