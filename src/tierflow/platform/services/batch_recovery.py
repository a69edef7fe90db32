"""Batch rows whose process died between sending and answering: settled from the chain, never resent.

Before a batch row's forward request is sent, the gateway hands it here (chain/intents.py) and its
signer, forwarder nonce, EIP-712 digest and deadline are stored in the row's idempotency record, in
the same breath as the claim that names the row. A row whose thread or process then dies leaves that
record `pending`; without these columns a re-submission could only answer "still running", forever.

`settle` reads the chain for such a row (run when the batch is submitted again or confirmed again, on
any instance: the rows of a re-submission that meet a claimed record): its nonce used by this very
request -> the row's answer as the write would have given it (issued with its payable, or failed with
the decoded reason), stored so every later submission replays it; its nonce used by another request
(the no-op that voids a lost request) or still unused after its deadline -> the request can never run,
the claim is dropped and the row is sent afresh; otherwise it stays in progress, with the time by which
it settles. A row claimed but never signed (its process died before its turn) is dropped once it is
older than UNSIGNED_GRACE_S. Settling happens on demand, not in the indexer's loop: only a submission
needs the answer, and the row's own key serialises it with that submission.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from sqlalchemy import bindparam, delete, select, update
from sqlalchemy.engine import Engine
from sqlalchemy.exc import OperationalError
from sqlmodel import Session

from tierflow.chain import intents
from tierflow.chain.gateway import CUSTODIAL_DEADLINE_S
from tierflow.chain.node import sent_transaction
from tierflow.platform import i18n
from tierflow.platform.models.service import IdempotencyRecord
from tierflow.platform.services import audit_trail, writes
from tierflow.platform.services.context import ServiceContext
from tierflow.platform.services.errors import ServiceError

TABLE = IdempotencyRecord.__table__  # type: ignore[attr-defined]
# [s] a signed row's record younger than this is left to the thread that sent it (it is answering).
SIGNED_GRACE_S = 30
# [s] a row claimed but not signed for this long is taken to be dead: far longer than a row waits for its
# turn in its signer's queue (rounds of up to 100 writes a block) or for a receipt (RECEIPT_TIMEOUT_S),
# and longer than a batch's runner may stay silent (batch_state.STALE_S). The announcement only updates a
# record still unsigned and pending, so a thread that wakes after its claim was dropped sends nothing.
UNSIGNED_GRACE_S = 600


class NotAnnounced(ServiceError):
    """The row's claim is gone (settled by a re-submission meanwhile): its request must not be sent."""


@dataclass(frozen=True)
class Answered:
    """The row's answer, found on chain (or stored meanwhile by its own thread)."""

    status_code: int
    body: Any
    found: bool = False  # read from the chain just now (not stored by its own run)


SETTLED_DETAIL = "settled from the chain after its run stopped"


def record_found(
    engine: Engine,
    settled: Answered,
    *,
    actor: audit_trail.Actor,
    action: str,
    origin: audit_trail.Origin | None = None,
) -> None:
    """The audit line of a row's answer found on chain (`settled.found`): the one its run never wrote."""
    body = settled.body or {}
    audit_trail.record(
        engine, actor=actor, action=action, detail=SETTLED_DETAIL, origin=origin, tx_hash=body.get("tx_hash"),
        outcome=f"{settled.status_code} {body.get('status') or body.get('error', {}).get('code')}",
    )  # fmt: skip


@dataclass(frozen=True)
class Resend:
    """The row's request never ran and never can: its claim is dropped, the row may be sent again."""


@dataclass(frozen=True)
class Waiting:
    """Not known yet: the row stays in progress until `message`'s time."""

    message: str


Settled = Answered | Resend | Waiting


@contextmanager
def announcing(engine: Engine, address: str, key: str) -> Iterator[None]:
    """Store the forward request the write in this context signs in the row's record before it is sent."""
    # One store for every row (not a closure per row): the gateway calls each distinct store once per
    # transaction, so the rows of one batch transaction share one commit.
    with intents.announcing((engine, address, key), _store):
        yield


def _store(items: list[tuple[Any, intents.SignedIntent]]) -> None:
    """Per engine, one transaction for the rows of one transaction to send; a row whose claim is gone
    stops it."""
    engines: dict[int, tuple[Engine, list[tuple[Any, intents.SignedIntent]]]] = {}
    for tag, intent in items:
        engines.setdefault(id(tag[0]), (tag[0], []))[1].append((tag[1:], intent))
    for engine, rows in engines.values():
        _store_rows(engine, rows)


def _store_rows(engine: Engine, items: list[tuple[Any, intents.SignedIntent]]) -> None:
    statement = (
        update(TABLE)
        .where(
            TABLE.c.address == bindparam("b_address"),
            TABLE.c.key == bindparam("b_key"),
            TABLE.c.state == "pending",
            TABLE.c.request_digest.is_(None),
        )
        .values(
            request_signer=bindparam("b_signer"), forward_nonce=bindparam("b_nonce"),
            request_digest=bindparam("b_digest"), request_deadline=bindparam("b_deadline"),
        )
    )  # fmt: skip
    rows = [
        {"b_address": address, "b_key": key, "b_signer": i.signer, "b_nonce": i.nonce,
         "b_digest": i.digest, "b_deadline": i.deadline}
        for (address, key), i in items
    ]  # fmt: skip
    for attempt in range(20):
        try:
            with engine.begin() as conn:
                # One executemany; both drivers count the rows it updated (sane multi-rowcount). A row
                # whose claim is gone rolls the whole transaction back: none of its requests is sent.
                if conn.execute(statement, rows).rowcount != len(rows):
                    raise NotAnnounced(
                        i18n.gettext("This row was settled by another submission; nothing was sent."),
                        code="row_settled_elsewhere",
                    )
            return
        except OperationalError:  # SQLite busy with the batch's other rows
            if attempt == 19:
                raise
            time.sleep(0.02 * (attempt + 1))


def settle(*, ctx: ServiceContext, address: str, key: str) -> Settled:
    """Settle the row claimed under `key` from the chain, if its thread can no longer do it."""
    with ctx.engine.connect() as conn:
        record = conn.execute(select(TABLE).where(TABLE.c.address == address, TABLE.c.key == key)).first()
    if record is None:
        return Resend()
    if record.state == "done" and record.status_code is not None:
        return Answered(int(record.status_code), json.loads(record.body or "null"))
    if record.state != "pending":  # "sent": its transaction is known, the idempotency layer looks it up
        return Waiting(i18n.gettext("Sent, not mined yet: submit the same file again later for its outcome."))
    now = int(time.time())
    if record.request_digest is None:
        if record.created_at > now - UNSIGNED_GRACE_S:
            return Waiting(_until(record.created_at + UNSIGNED_GRACE_S, chain=False))
        return _drop(ctx.engine, address, key, None)
    if record.created_at > now - SIGNED_GRACE_S:
        return Waiting(_until(record.created_at + SIGNED_GRACE_S, chain=False))
    intent = intents.SignedIntent(
        record.request_signer, int(record.forward_nonce), record.request_digest, int(record.request_deadline)
    )
    gateway = ctx.gateway()
    found = intents.trace(gateway, intent, CUSTODIAL_DEADLINE_S)
    if found.state == "other" or (found.state == "unused" and found.chain_time > intent.deadline):
        return _drop(ctx.engine, address, key, intent.digest)
    if found.state == "unused":
        return Waiting(_until(intent.deadline, chain=True))
    assert found.tx_hash is not None
    try:
        with Session(ctx.engine) as session:
            result = writes.look_up(
                ctx=ctx, session=session, tx_hash=sent_transaction(found.tx_hash, intent.nonce)
            )
    except ServiceError as error:  # ran and failed on chain: nothing changed, the reason is the answer
        status, body = (
            409,
            {"tx_hash": found.tx_hash, "error": {"code": error.code, "message": error.message}},
        )
    else:
        if result is None:  # its log was read, so it is mined: the node is catching up
            return Waiting(_until(now + SIGNED_GRACE_S, chain=False))
        status, body = 200, result.model_dump(mode="json")
    with ctx.engine.begin() as conn:
        stored = conn.execute(
            update(TABLE)
            .where(TABLE.c.address == address, TABLE.c.key == key, TABLE.c.state == "pending")
            .values(state="done", status_code=status, body=json.dumps(body), tx_hash=found.tx_hash)
        ).rowcount
    if not stored:  # its own thread answered meanwhile: that answer is the answer
        return settle(ctx=ctx, address=address, key=key)
    return Answered(status, body, found=True)


def _drop(engine: Engine, address: str, key: str, digest: str | None) -> Settled:
    """Drop a claim whose request can never run (or was never signed), if nobody settled it meanwhile."""
    with engine.begin() as conn:
        conn.execute(
            delete(TABLE).where(
                TABLE.c.address == address,
                TABLE.c.key == key,
                TABLE.c.state == "pending",
                TABLE.c.request_digest.is_(None) if digest is None else TABLE.c.request_digest == digest,
            )
        )
    return Resend()


def _until(when: int, *, chain: bool) -> str:
    moment = i18n.datetime(when)
    if chain:
        return i18n.gettext(
            "Sent; not on chain yet. It runs or expires by %(when)s: submit the same batch again after that "
            "for its outcome (it is never sent twice).",
            when=moment,
        )
    return i18n.gettext(
        "Still in progress; submit the same batch again after %(when)s for its outcome (it is never sent "
        "twice).",
        when=moment,
    )
