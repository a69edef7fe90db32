"""Idempotency keys: the first response to a POST is stored and replayed; a different body is an error."""

from __future__ import annotations

import hashlib
import json
import time
from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete, update
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from tierflow.platform.api.errors import Conflict, Unprocessable
from tierflow.platform.models.service import IdempotencyRecord

TABLE = IdempotencyRecord.__table__  # type: ignore[attr-defined]
MAX_KEY_LEN = 128


@dataclass(frozen=True)
class Replay:
    status_code: int
    body: Any


def fingerprint(method: str, path: str, body: Any) -> str:
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(f"{method} {path}\n{canonical}".encode()).hexdigest()


def begin(*, engine: Engine, address: str, key: str, print_: str) -> Replay | None:
    """Claim `key` for this request; a stored response to replay, or None when this request runs it."""
    if not key or len(key) > MAX_KEY_LEN:
        raise Unprocessable(
            f"Idempotency-Key must be 1 to {MAX_KEY_LEN} characters", code="invalid_idempotency_key"
        )
    with Session(engine) as session:
        session.add(
            IdempotencyRecord(
                address=address, key=key, fingerprint=print_, state="pending", created_at=int(time.time())
            )
        )
        try:
            session.commit()
            return None
        except IntegrityError:
            session.rollback()
        record = session.get(IdempotencyRecord, (address, key))
    if record is None:  # abandoned between our insert and read: the caller may retry
        raise Conflict(
            "the same Idempotency-Key is in use by a concurrent request; retry",
            code="idempotency_in_progress",
        )
    if record.fingerprint != print_:
        raise Unprocessable(
            "this Idempotency-Key was used for a different request; use a new key for new parameters",
            code="idempotency_key_reused",
        )
    if record.state != "done" or record.status_code is None:
        raise Conflict(
            "a request with this Idempotency-Key is still running; retry in a moment",
            code="idempotency_in_progress",
        )
    return Replay(status_code=record.status_code, body=json.loads(record.body or "null"))


def complete(*, engine: Engine, address: str, key: str, status_code: int, body: Any) -> None:
    with engine.begin() as conn:
        conn.execute(
            update(TABLE)
            .where(TABLE.c.address == address, TABLE.c.key == key)
            .values(state="done", status_code=status_code, body=json.dumps(body))
        )


def abandon(*, engine: Engine, address: str, key: str) -> None:
    """Forget a claim whose request failed without effect (chain or DB unavailable): a retry may run."""
    with engine.begin() as conn:
        conn.execute(delete(TABLE).where(TABLE.c.address == address, TABLE.c.key == key))
