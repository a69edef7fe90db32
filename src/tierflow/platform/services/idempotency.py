"""Idempotency keys: the first response to a POST is stored and replayed; a different body is an error.

A record is `pending` while its request runs, `done` once its response is stored, and `sent` when the
request sent a transaction whose receipt did not arrive in time: a retry then looks the transaction
up by `tx_hash` instead of sending it again. A `done` answer of a mined transaction keeps its block
number: when the chain drops that block (a reorg) the indexer turns the record back to `sent`, so a retry
is told what the chain holds now, never a "done" the chain no longer has (indexer/answers.py).
"""

from __future__ import annotations

import hashlib
import json
import time
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, and_, bindparam, delete, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Mapped

from tierflow.chain.gateway import REQUEST_ENDS
from tierflow.chain.node import request_nonce_of, sent_transaction
from tierflow.platform import i18n
from tierflow.platform.models.service import IdempotencyRecord
from tierflow.platform.services.errors import Conflict, InvalidRequest
from tierflow.platform.services.group_commit import Alike, Groups, Waiting, execute_all


def with_prefix(key: ColumnElement[str] | Mapped[str], prefix: str) -> ColumnElement[bool]:
    """`key` (idempotency_record.key) starts with `prefix`, as the range of keys from `prefix` to the
    first string after all of its extensions: the primary key (address, key) serves it, where LIKE made
    PostgreSQL (and SQLite, whose LIKE ignores case) read every record of the company. Exact because
    the column is in byte order on both databases (models/service.py)."""
    if not prefix:
        raise ValueError("an empty prefix is every key")
    return and_(key >= prefix, key < prefix[:-1] + chr(ord(prefix[-1]) + 1))


TABLE = IdempotencyRecord.__table__  # type: ignore[attr-defined]
MAX_KEY_LEN = 128


@dataclass(frozen=True)
class Replay:
    status_code: int
    body: Any


@dataclass(frozen=True)
class Sent:
    """The key's request sent `tx_hash` and does not know its outcome yet: look it up, never resend."""

    tx_hash: str


def fingerprint(method: str, path: str, body: Any) -> str:
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(f"{method} {path}\n{canonical}".encode()).hexdigest()


def begin(*, engine: Engine, address: str, key: str, print_: str) -> Replay | Sent | None:
    """Claim `key` for this request; a stored response to replay, a transaction to look up, or None
    when this request runs it."""
    if not key or len(key) > MAX_KEY_LEN:
        raise InvalidRequest(
            i18n.gettext("Idempotency-Key must be 1 to %(max)s characters.", max=MAX_KEY_LEN),
            code="invalid_idempotency_key",
        )
    claim = {"address": address, "key": key, "fingerprint": print_, "state": "pending"}
    if _claim(engine, {**claim, "created_at": int(time.time())}):
        return None
    with engine.connect() as conn:
        record = conn.execute(
            select(
                TABLE.c.fingerprint,
                TABLE.c.state,
                TABLE.c.tx_hash,
                TABLE.c.request_nonce,
                TABLE.c.status_code,
                TABLE.c.body,
            ).where(TABLE.c.address == address, TABLE.c.key == key)
        ).first()
    if record is None:  # abandoned between our insert and read: the caller may retry
        raise Conflict(
            "the same Idempotency-Key is in use by a concurrent request; retry",
            code="idempotency_in_progress",
        )
    if record.fingerprint != print_:
        raise InvalidRequest(
            "this Idempotency-Key was used for a different request; use a new key for new parameters",
            code="idempotency_key_reused",
        )
    if record.state == "sent" and record.tx_hash is not None:
        return Sent(tx_hash=sent_transaction(record.tx_hash, record.request_nonce))
    if record.state != "done" or record.status_code is None:
        raise Conflict(
            "a request with this Idempotency-Key is still running; retry in a moment",
            code="idempotency_in_progress",
        )
    return Replay(status_code=record.status_code, body=json.loads(record.body or "null"))


def _claim(engine: Engine, row: dict[str, Any]) -> bool:
    """Insert the pending record `row`; False when its key exists already (the caller reads it).

    Group commit: the claims of concurrent requests (a batch's rows in flight) share one INSERT … ON
    CONFLICT DO NOTHING RETURNING, which names the rows it inserted: each claim is as atomic as its own
    INSERT was (the key's primary key decides, across processes too), at one transaction per group
    instead of one per claim. Core, not the ORM: the unit of work's flush cost more than the statement.
    """
    return bool(_CLAIMS.submit(engine, row))


def _insert_claims(engine: Engine, group: list[Waiting[dict[str, Any]]]) -> None:
    statement = _CLAIM_STATEMENTS[engine.dialect.name]
    for start in range(0, len(group), 500):
        part = group[start : start + 500]
        with engine.begin() as conn:
            won = {(row.address, row.key) for row in conn.execute(statement, [claim.item for claim in part])}
        for claim in part:
            mine = (claim.item["address"], claim.item["key"])
            # The same key twice in one group (a request and its retry): the first claim wins.
            claim.result = mine in won
            won.discard(mine)
            claim.done = True


# Built once per dialect and run as an executemany: SQLAlchemy sends it as multi-row INSERTs
# ("insertmanyvalues", RETURNING kept) from one cached compilation, where a statement with the group's
# VALUES inline was compiled afresh per group (~0.2 ms of CPU a claimed batch row).
_CLAIM_STATEMENTS = {
    name: insert(TABLE).on_conflict_do_nothing().returning(TABLE.c.address, TABLE.c.key)
    for name, insert in (("postgresql", postgresql.insert), ("sqlite", sqlite.insert))
}


_CLAIMS: Groups[dict[str, Any]] = Groups(_insert_claims)


def claim_many(*, engine: Engine, address: str, prints: dict[str, str]) -> set[str]:
    """Claim a batch's keys (key -> fingerprint) at once before its rows start: the keys claimed here.

    One statement per 500 keys from the batch's own thread, where each row claimed its own (grouped with
    the rows claiming at the same moment); a key not won is claimed by its row as any other (`begin`)."""
    now = int(time.time())
    group = [
        Waiting(
            {"address": address, "key": key, "fingerprint": print_, "state": "pending", "created_at": now}
        )
        for key, print_ in prints.items()
    ]
    _insert_claims(engine, group)
    return {str(waiting.item["key"]) for waiting in group if waiting.result}


def keep(*, engine: Engine, address: str, key: str, print_: str, body: Any) -> None:
    """Store `body` as the answer under `key` at once, unless the key has one already: a fact read back
    later (a batch funding's requests: services/batch_fund.py), with no pending claim before it that a
    crash could leave behind."""
    row = {
        "address": address, "key": key, "fingerprint": print_, "state": "done", "status_code": 200,
        "body": json.dumps(body), "created_at": int(time.time()),
    }  # fmt: skip
    with engine.begin() as conn:
        conn.execute(_CLAIM_STATEMENTS[engine.dialect.name], row)  # ON CONFLICT DO NOTHING


def complete(*, engine: Engine, address: str, key: str, status_code: int, body: Any) -> None:
    with engine.begin() as conn:
        execute_all(conn, [completion(address=address, key=key, status_code=status_code, body=body)])


# One statement for every completion: a group of batch rows answered together stores its answers in one
# executemany (group_commit.execute_all). An executed write's answer also names its transaction, block and
# request nonce (answered_from): a second shared statement, so the others keep what mark_sent stored.
_COMPLETE = (
    update(TABLE)
    .where(TABLE.c.address == bindparam("c_address"), TABLE.c.key == bindparam("c_key"))
    .values(state="done", status_code=bindparam("c_status_code"), body=bindparam("c_body"))
)
_COMPLETE_EXECUTED = _COMPLETE.values(
    tx_hash=bindparam("c_tx_hash"),
    block_number=bindparam("c_block_number"),
    request_nonce=bindparam("c_request_nonce"),
)


def completion(*, address: str, key: str, status_code: int, body: Any) -> Alike:
    """The statement `complete` runs, for a caller that commits it with its own (the audit line's)."""
    chain = answered_from(status_code, body)
    params = {"c_address": address, "c_key": key, "c_status_code": status_code, "c_body": json.dumps(body)}
    if not chain:
        return Alike(_COMPLETE, params)
    return Alike(_COMPLETE_EXECUTED, {**params, **{f"c_{name}": value for name, value in chain.items()}})


def answered_from(status_code: int, body: Any) -> dict[str, Any]:
    """The transaction and block a `done` answer rests on (TxResult: "executed"), stored beside it: if the
    chain drops that block the indexer sets the record back to `sent` on that transaction (indexer/answers.py)
    and a retry looks it up again. The request's forwarder nonce comes with it, so a lookup of a signer's
    batch transaction cuts out this write's own part (as for a record marked `sent` by the request)."""
    if status_code != 200 or not isinstance(body, dict) or body.get("status") != "executed":
        return {}
    nonces = [
        int(event["args"]["nonce"])
        for event in body.get("events") or []
        if event.get("contract") == "TierflowForwarder" and event.get("event") in REQUEST_ENDS
    ]
    return {
        "tx_hash": str(body["tx_hash"]),
        "block_number": int(body["block_number"]),
        "request_nonce": nonces[0] if len(nonces) == 1 else None,
    }


def mark_sent(*, engine: Engine, address: str, key: str, tx_hash: str) -> None:
    """The request sent `tx_hash` but its outcome is unknown: keep the claim, remember the transaction
    (and which request in it was this one's, when it carries a batch: chain.node.SentTransaction)."""
    with engine.begin() as conn:
        conn.execute(
            update(TABLE)
            .where(TABLE.c.address == address, TABLE.c.key == key)
            .values(state="sent", tx_hash=tx_hash, request_nonce=request_nonce_of(tx_hash))
        )


def resolve(*, engine: Engine, address: str, key: str, status_code: int, body: Any) -> Replay | None:
    """Store the looked-up outcome of a `sent` record; if a concurrent retry stored it first, that one.

    Only the first retry to resolve the record stores its response, so every later retry replays the
    same bytes (request id included).
    """
    with engine.begin() as conn:
        stored = conn.execute(
            update(TABLE)
            .where(TABLE.c.address == address, TABLE.c.key == key, TABLE.c.state == "sent")
            .values(
                state="done",
                status_code=status_code,
                body=json.dumps(body),
                **answered_from(status_code, body),
            )
        ).rowcount
        if stored:
            return None
        row = conn.execute(
            select(TABLE.c.status_code, TABLE.c.body).where(TABLE.c.address == address, TABLE.c.key == key)
        ).first()
    if row is None or row.status_code is None:
        return None
    return Replay(status_code=int(row.status_code), body=json.loads(row.body or "null"))


def abandon(*, engine: Engine, address: str, key: str) -> None:
    """Forget a claim whose request failed without effect (chain or DB unavailable): a retry may run."""
    with engine.begin() as conn:
        conn.execute(delete(TABLE).where(TABLE.c.address == address, TABLE.c.key == key))
