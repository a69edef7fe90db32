"""Batches whose process stopped mid-run, settled from the chain at service start and every minute after.

A batch row whose process died between sending and storing its answer keeps its record `pending`, with
the signed request it stored before the send (services/batch_recovery.py); a row whose receipt did not
come in time keeps it `sent`. Before this sweep such a row was settled only when somebody submitted the
same batch again: until then the dashboard said the batch stopped without results, and the API had no
answer. Now every instance, when it starts and every SWEEP_S after (so also when it outlives an instance
that died, whose leases it then takes over), settles the rows left unanswered for longer than a live run
ever leaves one (STOPPED_S), and stores the result of each dashboard batch whose runner died: the page
shows every row's true outcome, and a re-submission replays them, sending nothing twice.

Only unanswered records are read (a partial index: ix_idempotency_record_unanswered), so the sweep costs
the same however many batches ran before. Several instances sweeping at once is safe: a row's answer is
stored by a conditional UPDATE (the first wins, the others read it), as when two re-submissions meet.
"""

from __future__ import annotations

import contextvars
import json
import logging
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel, Field
from sqlalchemy import select
from sqlmodel import Session

from tierflow.chain.node import sent_transaction
from tierflow.platform import i18n
from tierflow.platform.services import (
    audit_trail,
    batch_issue,
    batch_recovery,
    batch_state,
    idempotency,
    writes,
)
from tierflow.platform.services.context import ServiceContext
from tierflow.platform.services.errors import NotFound, ServiceError
from tierflow.platform.services.periodic import Periodic

log = logging.getLogger("tierflow.batch")
TABLE = batch_recovery.TABLE
# [s] a batch row unanswered for this long belongs to a run that stopped: longer than a live row waits
# for its receipt (then it is `sent`) and its indexing; the runner of a live batch beats more often.
STOPPED_S = batch_state.STALE_S
# [s] between two sweeps of an instance (the first when it starts).
SWEEP_S = 60.0
THREADS = 8  # rows settled at once


@dataclass
class Swept:
    """What one sweep did: rows read, rows answered now, dashboard batches given their result."""

    rows: int = 0
    answered: int = 0
    batches: int = 0
    waiting: list[str] = field(default_factory=list)  # keys of rows still unknown (settled later)


def sweep(ctx: ServiceContext, now: int | None = None) -> Swept:
    """Settle every batch row a stopped run left unanswered, then store the results of the dashboard
    batches whose runner died (those whose rows are all known)."""
    now = int(time.time()) if now is None else now
    swept = Swept()
    with ctx.engine.connect() as conn:
        rows = conn.execute(
            select(TABLE.c.address, TABLE.c.key, TABLE.c.state).where(
                TABLE.c.state != "done",
                TABLE.c.created_at <= now - STOPPED_S,
                idempotency.with_prefix(TABLE.c.key, "batch:"),
            )
        ).all()
    swept.rows = len(rows)

    # The rows of one batch transaction share its receipt, decoded once in this sweep (not kept after it).
    context = writes.decoding_once(contextvars.copy_context())

    def one(row: Any) -> bool:
        try:
            return context.copy().run(_settle_row, ctx, row.address, row.key, row.state)
        except Exception as error:  # one row's chain or database trouble must not stop the others
            log.warning("batch row %s could not be settled: %s", row.key, error)
            return False

    # A few at once: each row waits on the node and the database far more than it computes.
    with ThreadPoolExecutor(max_workers=THREADS) as pool:
        for row, answered in zip(rows, pool.map(one, rows), strict=True):
            swept.answered += answered
            if not answered:
                swept.waiting.append(row.key)
    for batch in batch_state.stopped(ctx.engine, now):
        result = _result(ctx, batch)
        if result is not None and batch_state.finish_stopped(ctx.engine, batch, result.model_dump_json()):
            swept.batches += 1
    return swept


def _settle_row(ctx: ServiceContext, address: str, key: str, state: str) -> bool:
    """Answer one row from the chain if it can be; whether it was answered now."""
    if state == "sent":
        return _look_up(ctx, address, key)
    settled = batch_recovery.settle(ctx=ctx, address=address, key=key)
    if not isinstance(settled, batch_recovery.Answered):
        return isinstance(settled, batch_recovery.Resend)  # dropped: it never ran (re-submission sends it)
    if settled.found:  # the answer its run never recorded: its audit line too
        actor = audit_trail.Actor(company=address)
        batch_recovery.record_found(ctx.engine, settled, actor=actor, action=f"write POST batch item {key}")
    return True


def _look_up(ctx: ServiceContext, address: str, key: str) -> bool:
    """A row whose transaction went out and whose receipt did not come in time: the chain's answer."""
    with ctx.engine.connect() as conn:
        record = conn.execute(
            select(TABLE.c.tx_hash, TABLE.c.request_nonce).where(
                TABLE.c.address == address, TABLE.c.key == key
            )
        ).first()
    if record is None or record.tx_hash is None:
        return False
    try:
        with Session(ctx.engine) as session:
            found = writes.look_up(
                ctx=ctx, session=session, tx_hash=sent_transaction(record.tx_hash, record.request_nonce)
            )
    except ServiceError as error:  # mined and reverted: nothing changed, the reason is the answer
        status, body = (
            409,
            {"tx_hash": record.tx_hash, "error": {"code": error.code, "message": error.message}},
        )
    else:
        if found is None:  # not mined (yet): a later sweep looks again
            return False
        status, body = 200, found.model_dump(mode="json")
    idempotency.resolve(engine=ctx.engine, address=address, key=key, status_code=status, body=body)
    return True


def _result(ctx: ServiceContext, batch: batch_state.StoppedBatch) -> batch_issue.BatchResult | None:
    """The result of a dashboard batch whose runner died, from its rows' records; None while a row's
    outcome is still unknown (a later sweep)."""
    try:
        rows, _ = batch_issue.parse(batch_issue.read_table(batch.content, batch.filename))
    except ServiceError:  # a staged file is checked before it runs: not one of ours
        return None
    message = i18n.gettext(
        "Not sent: the batch stopped before this row went out. Upload the same file again to send it "
        "(the rows already issued are not sent twice)."
    )
    outcomes: list[batch_issue.RowOutcome] = []
    if rows:  # its rows' answers as its status reads them, a row never claimed (or dropped) not sent
        known = rows_status(
            ctx, batch.address, batch.key, rows=[row.row for row in rows], not_sent_message=message
        )
        if not known.finished:
            return None
        in_file = {row.row for row in rows}
        outcomes = [outcome for outcome in known.outcomes if outcome.row in in_file]
    total = sum(row.face for row in rows)
    return batch_issue.BatchResult(batch_key=batch.key, rows=len(rows), total=total, outcomes=outcomes)


def not_sent(row: int, message: str) -> batch_issue.RowOutcome:
    """A row of a batch that never went out (never claimed, or its claim dropped): `message` says how to
    send it."""
    return batch_issue.RowOutcome(row=row, status="failed", code="not_sent", error=message)


class BatchStatus(BaseModel):
    """A batch's rows as the service knows them now, without submitting it again."""

    batch_key: str
    finished: bool = Field(description="every row known has its outcome (none in progress)")
    outcomes: list[batch_issue.RowOutcome]  # in the file's order (a funding's: by request id)


def status(ctx: ServiceContext, address: str, key: str) -> BatchStatus:
    """The outcomes of `address`'s batch issue `key`: the dashboard's stored result, else its rows'
    answers (`rows_status`), every row it kept listed (one whose claim was dropped as not sent; a batch
    run before its rows were kept lists the rows it claimed)."""
    stored = batch_state.progress(ctx.engine, key, address)
    if stored is not None and stored.result is not None:
        result = batch_issue.BatchResult.model_validate_json(stored.result)
        return BatchStatus(batch_key=key, finished=True, outcomes=result.outcomes)
    rows = batch_issue.kept_rows(ctx.engine, address, batch_issue.rows_key(key), "rows")
    message = i18n.gettext(
        "Not sent: the batch stopped before this row was issued. Submit the same file again to issue it "
        "(rows already issued are not issued twice)."
    )
    return rows_status(ctx, address, key, rows=rows, not_sent_message=message)


def rows_status(
    ctx: ServiceContext,
    address: str,
    key: str,
    *,
    done: batch_issue.Done = "issued",
    rows: Sequence[int] = (),
    not_sent_message: str = "",
) -> BatchStatus:
    """`address`'s batch `key` from its rows' answers, in row order: a row still unanswered is in progress
    (the sweep settles it). `rows` are the batch's rows when they are known (a funding's requests): one
    without a record never went out (or its claim was dropped) and is listed as not sent, with
    `not_sent_message`. NotFound for a batch nobody of `address` ran (so another company's key tells
    nothing)."""
    with ctx.engine.connect() as conn:
        records = {
            int(record.key.rsplit(":", 1)[1]): record
            for record in conn.execute(
                select(TABLE.c.key, TABLE.c.state, TABLE.c.status_code, TABLE.c.body, TABLE.c.tx_hash).where(
                    TABLE.c.address == address,
                    idempotency.with_prefix(TABLE.c.key, batch_issue.row_key(key, 0)[:-1]),
                )
            )
        }
    if not records and not rows:
        raise NotFound(i18n.gettext("No batch of yours has this key."), code="batch_not_found")
    outcomes = []
    for item in sorted(records.keys() | set(rows)):
        record = records.get(item)
        if record is None:
            outcomes.append(not_sent(item, not_sent_message))
        elif record.state == "done" and record.status_code is not None:
            outcomes.append(
                batch_issue.outcome_of(item, int(record.status_code), json.loads(record.body), done)
            )
        else:
            outcomes.append(
                batch_issue.RowOutcome(
                    row=item, status="in_progress", code="row_in_progress", tx_hash=record.tx_hash,
                    error=i18n.gettext(
                        "Not answered yet: its outcome is read from the chain within a few minutes, or "
                        "at once when the same batch is submitted again (nothing is sent twice)."
                    ),
                )
            )  # fmt: skip
    finished = all(o.status != "in_progress" for o in outcomes)
    return BatchStatus(batch_key=key, finished=finished, outcomes=outcomes)


class BatchSweeper(Periodic):
    """Runs `sweep` when the service starts and every SWEEP_S after, in a thread of its own."""

    name = "tierflow-batch-sweep"
    failed = "batch sweep failed"

    def __init__(self, ctx: ServiceContext, interval: float = SWEEP_S) -> None:
        super().__init__(interval)
        self.ctx = ctx
        self.last: Swept | None = None

    def run_once(self) -> Swept:
        self.last = sweep(self.ctx)
        if self.last.answered or self.last.batches:
            log.info(
                "batch rows settled from the chain: %s rows, %s dashboard batches",
                self.last.answered, self.last.batches,
            )  # fmt: skip
        return self.last
