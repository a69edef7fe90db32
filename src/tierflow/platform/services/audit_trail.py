"""The audit trail: who did what, when, from where; append-only and hash-chained so a rewrite shows.

Each entry's hash covers the previous entry's hash and its own fields (canonical JSON), so editing a
row breaks its own hash, deleting or inserting one breaks the link of the next, and renumbering
breaks the sequence. `verify` walks the chain; `tierflow audit verify` exits non-zero on any break.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from eth_account.signers.local import LocalAccount
from sqlalchemy import Executable, func, select, text
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError, OperationalError

from tierflow.chain.gateway import Call, ChainGateway
from tierflow.platform.models.staff import AuditEntry
from tierflow.platform.services import keyset
from tierflow.platform.services.group_commit import Alike, Groups, Waiting, execute_all

GENESIS = "0" * 64
AUDIT = AuditEntry.__table__  # type: ignore[attr-defined]
HASHED_FIELDS = (
    "seq", "at", "company", "user_id", "user_name", "action", "outcome",
    "detail", "ip", "user_agent", "request_id", "tx_hash",
)  # fmt: skip
# Any constant: the PostgreSQL advisory lock that serialises appends (one chain, one writer at a time).
_APPEND_LOCK = 0x7469657266  # "tierf"


@dataclass(frozen=True)
class Origin:
    """Where a request came from: the audit trail's "from where"."""

    ip: str = ""
    user_agent: str = ""
    request_id: str = ""

    @classmethod
    def of_request(cls, request: Any) -> Origin:
        """The origin of a Starlette request (the API's and the dashboard's: one reading of both)."""
        return cls(
            ip=request.client.host if request.client else "",
            user_agent=request.headers.get("user-agent", "")[:200],
            request_id=str(getattr(request.state, "request_id", "") or ""),
        )


@dataclass(frozen=True)
class Actor:
    """Who acts: the company (participant address) and the person, when known."""

    company: str | None = None
    user_id: int | None = None
    user_name: str = ""


def entry_hash(prev_hash: str, fields: dict[str, Any]) -> str:
    body = json.dumps(
        {name: fields.get(name) for name in HASHED_FIELDS}, sort_keys=True, separators=(",", ":")
    )
    return hashlib.sha256((prev_hash + body).encode()).hexdigest()


def record(
    engine: Engine,
    *,
    actor: Actor,
    action: str,
    outcome: str,
    detail: str = "",
    origin: Origin | None = None,
    tx_hash: str | None = None,
    now: int | None = None,
    also: Sequence[Executable | Alike] = (),
) -> int:
    """Append one entry, never in the action's transaction (it stays even when the action fails); its seq.

    Entries recorded at the same time by several threads of this process share one transaction. `also`
    are statements committed with the entry, or not at all: a batch row's stored answer (its
    idempotency record) and its audit line take one commit, not two.
    """
    origin = origin or Origin()
    fields: dict[str, Any] = {
        "at": int(time.time()) if now is None else now,
        "company": actor.company,
        "user_id": actor.user_id,
        "user_name": actor.user_name[:200],
        "action": action[:200],
        "outcome": outcome[:32],
        "detail": detail,
        "ip": origin.ip[:64],
        "user_agent": origin.user_agent[:200],
        "request_id": origin.request_id[:64],
        "tx_hash": tx_hash,
    }
    # Group commit: the thread first to take the lock appends every entry queued so far in one
    # transaction, so concurrent writers wait their turn instead of racing for the same seq (on SQLite
    # each loser rolled back and retried: six transactions per entry with 128 writers in flight).
    return int(_ENTRIES.submit(engine, (fields, also)))


Also = Sequence[Executable | Alike]  # statements committed with an entry (group_commit.execute_all)


def _append(engine: Engine, batch: list[Waiting[tuple[dict[str, Any], Also]]]) -> None:
    """Append `batch` in order in one transaction (each entry's `also` with it); each result its seq."""
    for attempt in range(50):
        try:
            with engine.begin() as conn:
                if conn.dialect.name == "postgresql":
                    # other processes (API instances, the CLI) append to the same chain
                    conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _APPEND_LOCK})
                last = conn.execute(
                    select(AUDIT.c.seq, AUDIT.c.entry_hash).order_by(AUDIT.c.seq.desc()).limit(1)
                ).first()
                seq, prev = (0, GENESIS) if last is None else (int(last.seq), str(last.entry_hash))
                rows = []
                for pending in batch:
                    seq += 1
                    row = {**pending.item[0], "seq": seq, "prev_hash": prev}
                    prev = row["entry_hash"] = entry_hash(prev, row)
                    rows.append(row)
                conn.execute(AUDIT.insert(), rows)
                execute_all(conn, [statement for pending in batch for statement in pending.item[1]])
            for pending, row in zip(batch, rows, strict=True):
                pending.result = int(row["seq"])
            return
        except (IntegrityError, OperationalError):
            # SQLite: another process took this seq (or our read snapshot is stale); read the head again.
            time.sleep(0.005 * (attempt + 1))
    raise RuntimeError("could not append to the audit trail: the database stays busy")


_ENTRIES: Groups[tuple[dict[str, Any], Also]] = Groups(_append)


@dataclass(frozen=True)
class Break:
    seq: int
    problem: str


def verify_rows(rows: Iterable[dict[str, Any]]) -> list[Break]:
    """Every break of the chain in `rows` (in seq order): edited, deleted, inserted or renumbered rows."""
    problems: list[Break] = []
    prev_hash, expected_seq = GENESIS, 1
    for row in rows:
        seq = int(row["seq"])
        if seq != expected_seq:
            problems.append(Break(seq, f"sequence jumps from {expected_seq - 1} to {seq}: rows deleted"))
        if row["prev_hash"] != prev_hash:
            problems.append(Break(seq, "does not link to the entry before it: a row was deleted or inserted"))
        if entry_hash(str(row["prev_hash"]), row) != row["entry_hash"]:
            problems.append(Break(seq, "its content does not match its hash: the row was edited"))
        prev_hash, expected_seq = str(row["entry_hash"]), seq + 1
    return problems


def verify(engine: Engine) -> tuple[int, list[Break]]:
    """(entries checked, breaks) of the whole trail."""
    with engine.connect() as conn:
        rows = [dict(r) for r in conn.execute(select(AUDIT).order_by(AUDIT.c.seq)).mappings()]
    return len(rows), verify_rows(rows)


def head(engine: Engine) -> tuple[int, str]:
    """(seq, hash) of the last entry; (0, GENESIS) for an empty trail."""
    with engine.connect() as conn:
        last = conn.execute(
            select(AUDIT.c.seq, AUDIT.c.entry_hash).order_by(AUDIT.c.seq.desc()).limit(1)
        ).first()
    return (0, GENESIS) if last is None else (int(last.seq), str(last.entry_hash))


def _matching(company: str | None, user_name: str | None, action: str | None) -> list[Any]:
    conditions = []
    if company is not None:
        conditions.append(AUDIT.c.company == company)
    if user_name:
        conditions.append(AUDIT.c.user_name.contains(user_name, autoescape=True))
    if action:
        conditions.append(AUDIT.c.action.startswith(action, autoescape=True))
    return conditions


def search(
    engine: Engine,
    *,
    company: str | None = None,
    user_name: str | None = None,
    action: str | None = None,
    limit: int = 100,
    offset: int = 0,
    after: int | None = None,
) -> tuple[list[dict[str, Any]], int, int | None]:
    """Entries, newest first, filtered; `company` None means the whole trail (auditors and the operator).

    A keyset page: `after` a seq, the entries older than it; also returns the total and the next cursor
    (None on the last page)."""
    conditions = _matching(company, user_name, action)
    query = select(AUDIT).where(*conditions)
    count = select(func.count()).select_from(AUDIT).where(*conditions)
    page = keyset.page_query(query, AUDIT.c.seq, after=after, descending=True, limit=limit, offset=offset)
    with engine.connect() as conn:
        rows = [dict(r) for r in conn.execute(page).mappings()]
        total = int(conn.execute(count).scalar_one())
    return rows, total, keyset.next_after(rows, limit, "seq")


WALK_PAGE = 5_000  # entries per statement when every matching entry is read (the CSV export)


def walk(
    engine: Engine, *, company: str | None = None, user_name: str | None = None, action: str | None = None
) -> Iterator[dict[str, Any]]:
    """Every matching entry, newest first, read WALK_PAGE at a time by cursor: however long the trail,
    memory holds one page and no connection is held between pages."""
    query = select(AUDIT).where(*_matching(company, user_name, action))
    after: int | None = None
    while True:
        page = keyset.page_query(query, AUDIT.c.seq, after=after, descending=True, limit=WALK_PAGE, offset=0)
        with engine.connect() as conn:
            rows = [dict(r) for r in conn.execute(page).mappings()]
        after = keyset.next_after(rows, WALK_PAGE, "seq")
        yield from rows
        if after is None:
            return


CSV_COLUMNS: Sequence[str] = (*HASHED_FIELDS, "prev_hash", "entry_hash")


def to_csv(rows: Iterable[dict[str, Any]]) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(CSV_COLUMNS), extrasaction="ignore")
    writer.writeheader()
    for row in rows:
        writer.writerow(row)
    return out.getvalue()


# -- anchoring on chain ------------------------------------------------------------------------------
DAY = 86_400


def head_of_day(engine: Engine, day: int) -> tuple[int, str] | None:
    """(seq, hash) of the last entry written before the end of `day` [unix day]; None if there is none."""
    with engine.connect() as conn:
        last = conn.execute(
            select(AUDIT.c.seq, AUDIT.c.entry_hash)
            .where(AUDIT.c.at < (day + 1) * DAY)
            .order_by(AUDIT.c.seq.desc())
            .limit(1)
        ).first()
    return None if last is None else (int(last.seq), str(last.entry_hash))


def anchor_day(engine: Engine, gateway: ChainGateway, operator: LocalAccount, day: int) -> str | None:
    """Anchor the head of `day` in the ParticipantRegistry (operator); the transaction hash, or None
    when the trail has no entry by then. A day is anchored once: anchor a day after it ended."""
    found = head_of_day(engine, day)
    if found is None:
        return None
    seq, head = found
    call = Call("ParticipantRegistry", "anchorAuditHead", (day, seq, bytes.fromhex(head)))
    return gateway.send_direct(operator, call).tx_hash


def anchor_ended_days(
    engine: Engine, gateway: ChainGateway, operator: LocalAccount, now: int | None = None
) -> list[tuple[int, str]]:
    """Anchor the head of every ended day with entries that the chain has no anchor for yet; the
    (day, transaction hash) of each one anchored now. A day anchored already (by another process,
    or an earlier run) is skipped, so running this on a schedule and by hand never conflicts."""
    today = (int(time.time()) if now is None else now) // DAY
    read = chain_anchor(gateway)
    done: list[tuple[int, str]] = []
    for day in anchored_days(engine):
        if day >= today or read(day)[0] != 0:
            continue
        tx_hash = anchor_day(engine, gateway, operator, day)
        if tx_hash is not None:
            done.append((day, tx_hash))
    return done


def anchored_days(engine: Engine) -> list[int]:
    """Every day [unix day] on which the trail has entries."""
    with engine.connect() as conn:
        stamps = conn.execute(select(AUDIT.c.at)).scalars().all()
    return sorted({int(at) // DAY for at in stamps})


def verify_anchors(
    engine: Engine, read_anchor: Callable[[int], tuple[int, str]]
) -> tuple[list[Break], list[int]]:
    """(breaks, days not anchored) against the chain's anchors: an anchored head must still be the
    hash of the entry with that sequence number, so a rewritten or truncated trail shows."""
    breaks: list[Break] = []
    missing: list[int] = []
    with engine.connect() as conn:
        hashes: dict[int, str] = {
            int(seq): str(digest) for seq, digest in conn.execute(select(AUDIT.c.seq, AUDIT.c.entry_hash))
        }
    for day in anchored_days(engine):
        seq, head = read_anchor(day)
        if seq == 0:
            missing.append(day)
            continue
        if seq not in hashes:
            breaks.append(Break(seq, f"anchored on chain for day {day} but missing here: rows deleted"))
        elif hashes[seq] != head:
            breaks.append(Break(seq, f"does not match the head anchored on chain for day {day}: rewritten"))
    return breaks, missing


def chain_anchor(gateway: ChainGateway) -> Callable[[int], tuple[int, str]]:
    def read(day: int) -> tuple[int, str]:
        seq, head = gateway.call("ParticipantRegistry", "auditAnchor", day)
        return int(seq), bytes(head).hex()

    return read
