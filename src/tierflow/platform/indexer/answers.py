"""Writes the API answered from blocks the chain no longer has: their idempotency records go back to `sent`.

The API answers a write "done" once its transaction is mined (and, normally, indexed), and a retry with
the same Idempotency-Key replays that answer. At confirmation depth 0 the block may still be dropped: a
reorg on a chain without immediate finality, or a node restarted from an older state (anvil's --state
dump). The transaction is then no longer on the chain, and replaying "done" would tell the client that
money moved when it did not. So, in the same database transaction as the indexer's own change:

- a rollback to block B sets every `done` record answered from a block above B back to `sent`;
- a window [first, last] sets back every `done` record of a block in it whose transaction is not among the
  window's events at that block: an answer given before the indexer reached its block (`indexed: false`),
  whose block was replaced before the indexer ever saw it, so that no rollback happened.

A record set back to `sent` keeps its transaction hash and forwarder nonce: a retry looks the transaction
up (services/idempotency.py, api/writing.py) and answers from the chain as it is now: mined again (a reorg
usually re-includes it) → done; unknown to the node → the request runs again, and since its forward request
was never executed its forwarder nonce is free, so the new request takes that nonce (or a later one once
another write of the signer used it up): the lost request and the new one can never both run.
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import Connection, bindparam, select, update

from tierflow.chain.abi import Event
from tierflow.platform.models.service import IdempotencyRecord

TABLE = IdempotencyRecord.__table__  # type: ignore[attr-defined]


def reopen_above(conn: Connection, number: int) -> int:
    """Set back every `done` answer of a block above `number` (rolled back); returns how many."""
    return int(
        conn.execute(
            update(TABLE).where(TABLE.c.state == "done", TABLE.c.block_number > number).values(state="sent")
        ).rowcount
    )


def reopen_missing(conn: Connection, first: int, last: int, events: Iterable[Event]) -> int:
    """Set back every `done` answer of a block in [first, last] whose transaction the window does not
    hold at that block; returns how many. One indexed range read per window (usually empty: a write is
    answered after the indexer has its block)."""
    answered = conn.execute(
        select(TABLE.c.address, TABLE.c.key, TABLE.c.tx_hash, TABLE.c.block_number).where(
            TABLE.c.state == "done", TABLE.c.block_number.between(first, last)
        )
    ).all()
    if not answered:
        return 0
    held = {(event.tx_hash.lower(), event.block_number) for event in events}
    lost = [
        {"a": row.address, "k": row.key}
        for row in answered
        if (str(row.tx_hash).lower(), row.block_number) not in held
    ]
    if lost:  # by primary key, one statement for all (a row-value IN is a table scan on SQLite)
        conn.execute(
            update(TABLE)
            .where(TABLE.c.address == bindparam("a"), TABLE.c.key == bindparam("k"), TABLE.c.state == "done")
            .values(state="sent"),
            lost,
        )
    return len(lost)
