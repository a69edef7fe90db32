"""What a write costs the service beside its transaction: connections reused under concurrent writes, a
custodial key unsealed once, one read of the approval rules, no read-back of an uploaded document, the
startup heap kept out of the collector, and batches with hundreds of rows in flight (none holding a
connection while it waits)."""

from __future__ import annotations

import gc
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar, cast

import pytest
import uvicorn
from apikit import queued_together
from eth_account import Account
from eth_account.signers.local import LocalAccount
from sqlalchemy import event, insert, text, update
from sqlalchemy.engine import default
from sqlalchemy.pool import QueuePool
from sqlmodel import Session

from tierflow.chain.gateway import Call, TxOutcome
from tierflow.platform import serve
from tierflow.platform.db import PG_POOL_SIZE, SQLITE_POOL_SIZE, make_engine
from tierflow.platform.migrate import upgrade
from tierflow.platform.models import RawEvent
from tierflow.platform.models.staff import ApprovalPolicy
from tierflow.platform.services import (
    batch_issue,
    documents,
    group_commit,
    idempotency,
    participants,
    policy,
    writes,
)
from tierflow.platform.services.context import IndexerLink, ServiceContext
from tierflow.platform.services.errors import Forbidden
from tierflow.platform.services.participants import (
    PEOPLE,
    Caller,
    custodial_account,
    ensure_directory_entry,
    seal_key,
)
from tierflow.platform.services.schemas.certificates import TxResult
from tierflow.settings import Settings

T = TypeVar("T")


def test_sqlite_engine_reuses_connections_across_bursts_of_concurrent_writes(tmp_path: Path) -> None:
    """Two bursts of 32 writers: the second finds the first's connections in the pool (the default pool
    kept 5 and closed the rest, so each burst reopened 27 connections, each re-reading the schema)."""
    engine = make_engine(f"sqlite:///{tmp_path / 'pool.db'}")
    opened: list[Any] = []
    event.listen(engine, "connect", lambda conn, _record: opened.append(conn))
    writers = SQLITE_POOL_SIZE
    barrier = threading.Barrier(writers)

    def write(_: int) -> None:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
            barrier.wait(timeout=30)  # all hold a connection at once

    for _burst in range(2):
        with ThreadPoolExecutor(writers) as pool:
            list(pool.map(write, range(writers)))
    assert len(opened) == writers
    engine.dispose()


def test_postgresql_engine_keeps_every_connection_it_opens() -> None:
    """The default pool kept 5 and closed the other 10 after use: a batch's rows in flight opened a
    backend every few rows (118 for 300 rows). Now all 15 stay; the peak per instance is unchanged."""
    engine = make_engine("postgresql://nobody@127.0.0.1:9/none")  # no connection is opened here
    pool = cast(QueuePool, engine.pool)
    assert (pool.size(), pool._max_overflow) == (PG_POOL_SIZE, 0)
    assert PG_POOL_SIZE == 15


@pytest.fixture
def ctx(tmp_path: Path) -> Iterator[ServiceContext]:
    engine = make_engine(f"sqlite:///{tmp_path / 'writes.db'}")
    upgrade(engine)
    settings = Settings(environment="test", rpc_url="http://127.0.0.1:9", master_key="test-master-key")
    yield ServiceContext(settings=settings, engine=engine, link=IndexerLink(engine))
    engine.dispose()


def test_custodial_account_unseals_a_key_once_and_follows_the_directory(ctx: ServiceContext) -> None:
    """The account is built once per sealed key; a recovered key, or a switch to self custody, counts on
    the next write (the directory row is read every time)."""
    first, second = Account.create(), Account.create()
    with Session(ctx.engine) as session:
        ensure_directory_entry(
            ctx=ctx, session=session, account=first, legal_name="Custodial Co", legal_id="91330000WRITE0001",
            roles=2,
        )  # fmt: skip
        session.commit()
    address = first.address

    def account() -> LocalAccount:
        with Session(ctx.engine) as session:
            return custodial_account(ctx=ctx, session=session, address=address)

    assert account() is account()  # unsealed once
    assert account().key == first.key
    with ctx.engine.begin() as conn:  # key recovery seals another key for the same participant
        sealed = seal_key(ctx=ctx, address=address, private_key=bytes(second.key))
        conn.execute(update(PEOPLE).where(PEOPLE.c.address == address).values(encrypted_key=sealed))
    assert account().key == second.key
    with ctx.engine.begin() as conn:
        conn.execute(update(PEOPLE).where(PEOPLE.c.address == address).values(encrypted_key=None))
    with pytest.raises(Forbidden):
        account()


def test_policy_admit_reads_the_approval_rule_once(ctx: ServiceContext) -> None:
    """A write no rule covers costs one read of the rules (a missing row was read twice)."""
    caller = Caller(
        address="0x" + "1" * 40, roles=2, is_operator=False, custody="custodial", status="active",
        legal_name="Co", staff_roles=frozenset({"maker"}),
    )  # fmt: skip
    statements: list[str] = []
    event.listen(ctx.engine, "before_cursor_execute", lambda *args: statements.append(args[2]))
    with Session(ctx.engine) as session:
        call = Call("Receivables", "transferValue", (7, "0x" + "2" * 40, 100))
        policy.admit(ctx=ctx, session=session, caller=caller, call=call)
    assert sum("approval_policy" in s for s in statements) == 1


def _shared(run: Callable[[], T]) -> T:
    """`run` as a batch row runs it: its reads by key shared with the rows asking meanwhile."""
    token = group_commit.SHARED_READS.set(True)
    try:
        return run()
    finally:
        group_commit.SHARED_READS.reset(token)


def _reads_of(ctx: ServiceContext, table: str, run: Callable[[], None]) -> list[str]:
    reads: list[str] = []

    def statement(_conn: Any, _cursor: Any, sql: str, *_: Any) -> None:
        if table in sql:
            reads.append(sql)

    event.listen(ctx.engine, "before_cursor_execute", statement)
    try:
        run()
    finally:
        event.remove(ctx.engine, "before_cursor_execute", statement)
    return reads


def test_batch_rows_share_one_read_of_their_custodial_keys_each_as_the_directory_holds_it(
    ctx: ServiceContext,
) -> None:
    """A batch's rows asking for their signing keys at once read the directory once between them (old
    code: a pooled connection, its ping, a SELECT and a rollback each); each read is made after its row
    asked, so a key recovered (or custody given up) between two rows counts for the later one."""
    first, second, third = Account.create(), Account.create(), Account.create()
    with Session(ctx.engine) as session:
        for n, account in enumerate((first, second)):
            ensure_directory_entry(
                ctx=ctx, session=session, account=account, legal_name=f"Custodial Co {n}",
                legal_id=f"91330000SHARE000{n}", roles=2,
            )  # fmt: skip
        session.commit()

    def account(address: str) -> LocalAccount | str:
        def run() -> LocalAccount | str:
            with Session(ctx.engine) as session:
                try:
                    return custodial_account(ctx=ctx, session=session, address=address)
                except Forbidden as error:
                    return error.code

        return _shared(run)

    warm = account(first.address)  # its group queue exists
    assert not isinstance(warm, str) and warm.key == first.key
    queue = participants._SEALED_KEYS._groups._queues[ctx.engine]
    asked = [first.address, second.address, "0x" + "9" * 40, first.address]
    answers: dict[int, LocalAccount | str] = {}

    def ask(n: int) -> None:
        answers[n] = account(asked[n])

    reads = _reads_of(ctx, "participant_directory", lambda: queued_together(queue, len(asked), ask))
    assert len(reads) == 1, reads
    assert [answers[n] if isinstance(answers[n], str) else answers[n].key for n in range(4)] == [
        first.key, second.key, "self_custody", first.key,
    ]  # fmt: skip
    with ctx.engine.begin() as conn:  # key recovery between two rows of the batch
        sealed = seal_key(ctx=ctx, address=first.address, private_key=bytes(third.key))
        conn.execute(update(PEOPLE).where(PEOPLE.c.address == first.address).values(encrypted_key=sealed))
    recovered = account(first.address)
    assert not isinstance(recovered, str) and recovered.key == third.key
    with ctx.engine.begin() as conn:
        conn.execute(update(PEOPLE).where(PEOPLE.c.address == first.address).values(encrypted_key=None))
    assert account(first.address) == "self_custody"


def test_batch_rows_share_one_read_of_their_approval_rules_each_as_the_company_set_them(
    ctx: ServiceContext,
) -> None:
    """A batch's rows admitted at once read the approval rules once between them (old code: a statement
    and a pooled connection each); a rule a company adds between two rows covers the later one."""
    companies = ["0x" + "1" * 40, "0x" + "2" * 40]
    with ctx.engine.begin() as conn:
        conn.execute(
            insert(ApprovalPolicy.__table__).values(address=companies[1], action="issue", min_amount=500)
        )  # type: ignore[attr-defined]

    def admit(company: str, face: int) -> str:
        caller = Caller(
            address=company, roles=1, is_operator=False, custody="custodial", status="active",
            legal_name="Co", staff_roles=frozenset({"maker"}),
        )  # fmt: skip
        call = Call("Receivables", "issue", ("0x" + "3" * 40, face, 0, 1, []))

        def run() -> str:
            with Session(ctx.engine) as session:
                try:
                    policy.admit(ctx=ctx, session=session, caller=caller, call=call)
                except Forbidden as error:  # covered: a maker and a checker needed (no staff user here)
                    return error.code
                return "admitted"

        return _shared(run)

    assert admit(companies[0], 100) == "admitted"  # its group queue exists
    queue = policy._RULES._groups._queues[ctx.engine]
    asked = [(companies[0], 600), (companies[1], 600), (companies[1], 100), (companies[0], 100)]
    answers: dict[int, str] = {}

    def ask(n: int) -> None:
        answers[n] = admit(*asked[n])

    reads = _reads_of(ctx, "approval_policy", lambda: queued_together(queue, len(asked), ask))
    assert len(reads) == 1, reads
    assert answers == {0: "admitted", 1: "staff_user_required", 2: "admitted", 3: "admitted"}
    with ctx.engine.begin() as conn:  # company 0 adds a rule between two rows
        conn.execute(
            insert(ApprovalPolicy.__table__).values(address=companies[0], action="issue", min_amount=0)
        )  # type: ignore[attr-defined]
    assert admit(companies[0], 100) == "staff_user_required"


def test_a_batch_row_whose_session_holds_a_connection_reads_through_it(tmp_path: Path) -> None:
    """A batch funding's row reads its request first, so its session holds a pooled connection when it
    checks its rule and key: those reads go through it. Shared, each would wait for a second connection
    while holding one, and 15 rows in flight (PostgreSQL's whole pool) waited for ever (the 500-request
    batch funding hung; here a pool of one times out)."""
    engine = make_engine(f"sqlite:///{tmp_path / 'one.db'}", pool_size=1, max_overflow=0, pool_timeout=2)
    upgrade(engine)
    settings = Settings(environment="test", rpc_url="http://127.0.0.1:9", master_key="test-master-key")
    ctx = ServiceContext(settings=settings, engine=engine, link=IndexerLink(engine))
    owner = Account.create()
    with Session(engine) as session:
        ensure_directory_entry(
            ctx=ctx, session=session, account=owner, legal_name="Funding Co", legal_id="91330000HOLD00001",
            roles=4, api_key=None,
        )  # fmt: skip
        session.commit()
    caller = Caller(
        address=owner.address, roles=4, is_operator=False, custody="custodial", status="active",
        legal_name="Funding Co", staff_roles=frozenset({"maker"}),
    )  # fmt: skip

    def row() -> bytes:
        with Session(engine) as session:
            session.execute(text("SELECT 1"))  # the row's own read first: its session holds the connection
            policy.admit(ctx=ctx, session=session, caller=caller, call=Call("Financing", "fund", (1,)))
            return bytes(custodial_account(ctx=ctx, session=session, address=owner.address).key)

    try:
        assert _shared(row) == bytes(owner.key)
    finally:
        engine.dispose()


def test_serve_freezes_the_startup_heap_before_serving(monkeypatch: pytest.MonkeyPatch) -> None:
    """What startup built stays out of the collector's full scans (~190 ms each under load): frozen after
    the app is built, before the first request."""
    steps: list[str] = []
    monkeypatch.setattr(serve, "create_app", lambda ctx, run_indexer: steps.append("app") or object())
    monkeypatch.setattr(gc, "freeze", lambda: steps.append("freeze"))
    monkeypatch.setattr(gc, "collect", lambda: steps.append("collect") or 0)
    monkeypatch.setattr(uvicorn.Server, "run", lambda self: steps.append("serve"))
    serve._run(cast(ServiceContext, None), "127.0.0.1", 9, False, "WARNING")
    assert steps == ["app", "collect", "freeze", "serve"]


def test_batch_rows_run_128_in_flight_on_sqlite_too(
    ctx: ServiceContext, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Enough rows in flight for the pipeline to fill blocks on SQLite as well (8 gave 8 rows per block)."""
    barrier = threading.Barrier(64)

    def row_in_flight(**kwargs: Any) -> batch_issue.RowOutcome:
        barrier.wait(timeout=10)  # 64 rows at once, or BrokenBarrierError
        return batch_issue.RowOutcome(row=kwargs["row"], status="issued")

    monkeypatch.setattr(batch_issue, "_issue_row", row_in_flight)
    caller = cast(Caller, None)
    rows = cast(list[batch_issue.BatchRow], list(range(64)))
    outcomes = batch_issue.run(ctx=ctx, caller=caller, key="k", rows=rows, uploads=[], action="x")
    assert ctx.engine.dialect.name == "sqlite" and len(outcomes) == 64


def test_batch_rows_over_128_in_flight_hold_no_database_connection_while_waiting(
    ctx: ServiceContext, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A batch keeps more rows waiting on the chain than the old fixed 128 (which capped a batch at ~85
    rows/s on 1 s blocks), and a waiting row holds no pooled connection: each row goes through the real
    bookkeeping (idempotency claim and answer, audit line) around a write that waits like the chain."""
    rows = 200
    seen: list[int] = []
    pool = cast(QueuePool, ctx.engine.pool)
    # The barrier's action runs once all rows wait at it: how many connections they hold meanwhile.
    barrier = threading.Barrier(rows, action=lambda: seen.append(pool.checkedout()))
    caller = Caller(
        address=Account.create().address, roles=1, is_operator=False, custody="custodial", status="active",
        legal_name="Core Co",
    )  # fmt: skip

    def work(session: Session, _kept: list[str]) -> TxResult:
        session.execute(text("SELECT 1"))  # the write's own reads, then the chain (writes.execute)
        session.close()
        barrier.wait(timeout=20)  # every row at once, or BrokenBarrierError
        return TxResult(tx_hash="0x" + "ab" * 32, block_number=1, indexed=True)

    def issue_row(*, row: int, **_: Any) -> batch_issue.RowOutcome:
        return batch_issue.keyed_item(
            ctx=ctx, caller=caller, rkey=f"k:{row}", item=row, payload={"row": row}, action="x", work=work
        )

    monkeypatch.setattr(batch_issue, "_issue_row", issue_row)
    batch = cast(list[batch_issue.BatchRow], list(range(rows)))
    outcomes = batch_issue.run(ctx=ctx, caller=caller, key="k", rows=batch, uploads=[], action="x")
    assert [o.status for o in outcomes] == ["issued"] * rows
    assert seen == [0]


def test_document_upload_answers_without_reading_its_row_back(ctx: ServiceContext) -> None:
    """A batch row uploads its invoice: the answer comes from the row written, not a SELECT after it."""
    seller = Account.create()
    with Session(ctx.engine) as session:
        ensure_directory_entry(
            ctx=ctx, session=session, account=seller, legal_name="Seller Co", legal_id="91330000WRITE0002",
            roles=2,
        )  # fmt: skip
        session.commit()
    caller = Caller(
        address=seller.address, roles=2, is_operator=False, custody="custodial", status="active",
        legal_name="Seller Co",
    )  # fmt: skip
    statements: list[str] = []
    event.listen(ctx.engine, "before_cursor_execute", lambda *args: statements.append(args[2]))
    with Session(ctx.engine) as session:
        stored = documents.upload(
            ctx=ctx, session=session, caller=caller, content=b"contract", filename="c.txt",
            content_type="text/plain", kind="contract", seller=seller.address, invoice_number=None,
        )  # fmt: skip
    written = next(n for n, s in enumerate(statements) if s.startswith("INSERT INTO document_file"))
    assert not any("document_file" in s for s in statements[written + 1 :])
    assert stored.size == 8 and stored.filename == "c.txt"


def test_writes_answered_together_share_one_indexed_read(ctx: ServiceContext) -> None:
    """Writes whose receipts arrive together (a batch's rows in one transaction and block) check that the
    indexer holds their block with one read between them, not a connection and a SELECT each (old code:
    5 here); each still gets its own answer: a transaction held at another block, or not held, is not."""
    held = "0x" + "ab" * 32
    with ctx.engine.begin() as conn:
        conn.execute(
            insert(RawEvent.__table__).values(  # type: ignore[attr-defined]
                block_hash="0x" + "cd" * 32, log_index=0, block_number=7, block_time=1, tx_hash=held,
                tx_index=0, contract="TierflowForwarder", address="0x" + "1" * 40,
                event="ExecutedForwardRequest", args={},
            )
        )  # fmt: skip
    asked = [(held, 7), (held, 7), (held, 8), ("0x" + "ef" * 32, 7), (held, 7)]
    assert writes._indexed_at(ctx, TxOutcome(held, 7, 0))  # its group queue exists
    queue = writes._INDEXED._groups._queues[ctx.engine]
    reads: list[str] = []

    def statement(_conn: Any, _cursor: Any, sql: str, *_: Any) -> None:
        if "raw_event" in sql:
            reads.append(sql)

    answers: dict[int, bool] = {}

    def check(n: int) -> None:
        answers[n] = writes._indexed_at(ctx, TxOutcome(asked[n][0], asked[n][1], 0))

    event.listen(ctx.engine, "before_cursor_execute", statement)
    try:
        queued_together(queue, len(asked), check)  # the five checks queue behind a read and go as one
    finally:
        event.remove(ctx.engine, "before_cursor_execute", statement)
    assert len(reads) == 1, reads
    assert answers == {0: True, 1: True, 2: False, 3: False, 4: True}


def test_idempotency_claims_of_any_group_size_reuse_one_compiled_insert(ctx: ServiceContext) -> None:
    """A batch's claims go out as one cached INSERT run over the group's rows, whatever the group's size
    (old code: the rows inline in the statement, compiled again for each new size); each key is won once."""
    address = "0x" + "1" * 40
    warm = {"warm": "p", "up": "p"}  # compiles the statement (once per process and database)
    assert idempotency.claim_many(engine=ctx.engine, address=address, prints=warm) == set(warm)
    hits: list[bool] = []

    def statement(_conn: Any, _cursor: Any, sql: str, _params: Any, context: Any, _many: bool) -> None:
        if sql.startswith("INSERT INTO idempotency_record"):
            hits.append(context.cache_hit is default.CACHE_HIT)

    event.listen(ctx.engine, "before_cursor_execute", statement)
    try:
        won = [
            idempotency.claim_many(
                engine=ctx.engine, address=address, prints={f"{size}-{n}": "p" for n in range(size)}
            )
            for size in (3, 7)
        ]
        again = idempotency.claim_many(engine=ctx.engine, address=address, prints={"3-0": "p", "new": "p"})
    finally:
        event.remove(ctx.engine, "before_cursor_execute", statement)
    assert hits and all(hits), hits
    assert [len(keys) for keys in won] == [3, 7] and again == {"new"}
