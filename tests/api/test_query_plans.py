"""Hot reads stay index seeks at scale whatever the planner's statistics say (bench/plans_audit.py).

Each test runs a service read on a database loaded well past the planner's small-table threshold, takes
the statements it ran, and asks the database for their plans: on PostgreSQL before ANALYZE (statistics
lagging a bulk load) and after it, each run once and prepared (psycopg prepares a statement at its fifth
execution, and PostgreSQL may then switch to a generic plan); on SQLite its EXPLAIN QUERY PLAN. Plans,
not timings: the machine is shared.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from sqlalchemy import event
from sqlalchemy.engine import Connection, Engine
from sqlmodel import Session

from tierflow.platform.dashboard import queries as dashboard
from tierflow.platform.db import make_engine
from tierflow.platform.models import Certificate, FinancingRequest, Payable, Payout
from tierflow.platform.pgtemp import PgCluster
from tierflow.platform.services import payouts_due, queries
from tierflow.testing import synthetic

DAY = 86_400
MATURED, MATURED_SLOT, MATURED_TOKEN = 3_000, 200_000, 2_000_000
DUE_SLOT, DUE_TOKEN = 300_000, 3_000_000
ISSUED, ISSUED_SLOT, ISSUED_TOKEN = 4_000, 100_000, 1_000_000  # awaiting acceptance: core1 and core2's
REQUESTS = 3_000  # supplier1's financing requests to bank1, four in five funded
PAYOUTS = 6_000  # one in five supplier2's
PREPARED_RUNS = (
    8  # psycopg prepares a statement at its 5th execution; PostgreSQL weighs a generic plan after 5
)
PAYABLE = Payable.__table__  # type: ignore[attr-defined]
CERT = Certificate.__table__  # type: ignore[attr-defined]


def _fill(engine: Engine, seeded: synthetic.Seeded) -> None:
    """20,000 live certificates over 200 payables, ANALYZEd; then 4,000 payables awaiting acceptance (of
    core1 and core2, to supplier1 and supplier4), 3,000 matured payables paid out in full (a settled
    certificate each); 8 matured payables with money due to a live certificate each; 3,000 financing
    requests of supplier1, four in five funded; 6,000 payouts, one in five supplier2's."""
    a = seeded.addresses
    now = int(time.time())
    synthetic.seed_bulk(
        engine, seeded, certificates=20_000, payables=200, first_slot=1_000, first_token=10_000
    )
    # The statistics autovacuum left: every payable accepted. What follows is the bulk load they lag.
    analyze(engine)
    day = now // DAY
    issued = [
        {"slot_id": ISSUED_SLOT + i, "obligor": a["core1" if i % 2 else "core2"],
         "supplier": a["supplier1" if i % 4 < 2 else "supplier4"], "line_id": 1, "face": 1_000_000,
         "maturity": (day + 60) * DAY, "issued_at": now, "status": "Issued", "paid_in": 0, "paid_out": 0,
         "root_token_id": ISSUED_TOKEN + i, "invoice_hashes": [], "block_number": 4, "updated_block": 4}
        for i in range(ISSUED)
    ]  # fmt: skip
    matured = [
        {"slot_id": MATURED_SLOT + i, "obligor": a["core1"], "supplier": a["supplier2"], "line_id": 1,
         "face": 5_000_000, "maturity": (day - 1 - i % 400) * DAY, "issued_at": 0, "status": "Repaid",
         "paid_in": 5_000_000, "paid_out": 5_000_000, "root_token_id": MATURED_TOKEN + i,
         "invoice_hashes": [], "block_number": 3, "updated_block": 3}
        for i in range(MATURED)
    ]  # fmt: skip
    settled = [
        {"token_id": MATURED_TOKEN + i, "slot_id": MATURED_SLOT + i, "holder": a["supplier2"], "value": 0,
         "initial_value": 5_000_000, "status": "settled", "locked": False, "root_id": MATURED_TOKEN + i,
         "depth": 0, "tier": 1, "block_number": 3, "updated_block": 3}
        for i in range(MATURED)
    ]  # fmt: skip
    with engine.begin() as conn:
        conn.execute(PAYABLE.insert(), matured)
        conn.execute(PAYABLE.insert(), issued)
        conn.execute(CERT.insert(), settled)
    funded = [
        {"request_id": 1_000 + i, "token_id": 10_000 + 4 * i, "seller": a["supplier1"],
         "financier": a["bank1"], "amount": 1_000_000, "with_recourse": False,
         "status": "Cancelled" if i % 5 == 0 else "Funded", "rate_bps": 400, "quote_expiry": now,
         "discount": 10_000, "price": 990_000,
         "funded_block": None if i % 5 == 0 else 100 + i, "block_number": 100 + i, "updated_block": 100 + i}
        for i in range(REQUESTS)
    ]  # fmt: skip
    with engine.begin() as conn:
        conn.execute(FinancingRequest.__table__.insert(), funded)  # type: ignore[attr-defined]
    payouts = [
        {"block_number": 5_000 + i // 4, "log_index": i % 4, "tx_hash": f"0x{i:064x}", "token_id": 10_000 + i,
         "slot_id": 1_000 + i % 200, "holder": a["supplier2"] if i % 5 == 0 else a["supplier3"],
         "amount": 5_000}
        for i in range(PAYOUTS)
    ]  # fmt: skip
    with engine.begin() as conn:
        conn.execute(Payout.__table__.insert(), payouts)  # type: ignore[attr-defined]
    synthetic.add_due_payables(
        engine, obligor=a["core2"], holder=a["supplier3"], slot_ids=list(range(DUE_SLOT, DUE_SLOT + 8)),
        maturity=(day - 3) * DAY, first_token=DUE_TOKEN,
    )  # fmt: skip


@pytest.fixture(scope="module", params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def loaded(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    """A migrated database, statistics taken while it was empty (as autovacuum leaves a new one), then
    bulk-loaded by `_fill` with no ANALYZE after it."""
    cluster = None
    if request.param == "postgresql":
        try:
            cluster = PgCluster.start()
        except (FileNotFoundError, KeyError) as error:
            pytest.skip(f"no PostgreSQL server binaries or user here: {error}")
        url = cluster.create_database()
    else:
        url = f"sqlite:///{tmp_path_factory.mktemp('plans') / 'plans.db'}"
    engine = make_engine(url)
    try:
        synthetic.create_tables(engine)
        seeded = synthetic.seed_people(engine)
        analyze(engine)
        _fill(engine, seeded)
        yield engine
    finally:
        engine.dispose()
        if cluster is not None:
            cluster.stop()


def analyze(engine: Engine) -> None:
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.exec_driver_sql("ANALYZE")


def statements(
    engine: Engine, read: Callable[[Session], Any], table: str, shape: str = ""
) -> list[tuple[str, Any]]:
    """The statements (SQL, parameters) `read` runs that read `table` (and match regex `shape`)."""
    seen: list[tuple[str, Any]] = []

    def record(_conn: Any, _cursor: Any, sql: str, params: Any, *_: Any) -> None:
        flat = " ".join(sql.split())
        if re.search(rf"\bFROM {table}\b", flat, re.IGNORECASE) and re.search(shape, flat, re.IGNORECASE):
            seen.append((sql, params))

    event.listen(engine, "before_cursor_execute", record)
    try:
        with Session(engine) as session:
            read(session)
    finally:
        event.remove(engine, "before_cursor_execute", record)
    assert seen, f"the read ran no statement on {table}"
    return seen


def plans(engine: Engine, sql: str, params: Any) -> dict[str, str]:
    """The plans of one statement, as text: SQLite's query plan; PostgreSQL's plan of the statement run
    once, and the plan it runs once prepared and executed as often as psycopg executes a statement before
    preparing it and more (the plan cache may then switch to a generic plan, knowing no parameter: it
    does when that plan looks no dearer than the plans made for the values so far)."""
    with engine.connect() as conn:
        if engine.dialect.name == "sqlite":
            rows = conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {sql}", params).all()
            return {"sqlite": "\n".join(str(row[-1]) for row in rows)}
        custom = "\n".join(row[0] for row in conn.exec_driver_sql(f"EXPLAIN {sql}", params))
        return {"custom": custom, "prepared": _prepared_plan(conn, sql, params)}


def _prepared_plan(conn: Connection, sql: str, params: dict[str, Any]) -> str:
    import psycopg.sql

    raw = conn.connection.driver_connection
    assert raw is not None
    order: dict[str, int] = {}
    numbered = re.sub(
        r"%\((\w+)\)s", lambda m: f"${order.setdefault(m.group(1), len(order) + 1)}", sql
    ).replace("%%", "%")
    values = ", ".join(psycopg.sql.Literal(params[name]).as_string(raw) for name in order)
    execute = f"EXECUTE plan_probe({values})" if order else "EXECUTE plan_probe"
    raw.execute(f"PREPARE plan_probe AS {numbered}")
    try:
        for _ in range(PREPARED_RUNS):
            raw.execute(execute).fetchall()
        return "\n".join(row[0] for row in raw.execute(f"EXPLAIN {execute}"))
    finally:
        raw.execute("DEALLOCATE plan_probe")


def assert_seeks(
    engine: Engine, read: Callable[[Session], Any], table: str, index: str, *, never: str, shape: str = "",
    seek: str = "", absent: str = "",
) -> None:  # fmt: skip
    """Every statement of `read` on `table` (of regex `shape`) reads it through `index` (a regex; its plan
    also matching regex `seek` and not `absent`, when given) and scans no table `never` names, before
    ANALYZE and after it (PostgreSQL: run once and prepared alike)."""
    for moment in ("stale statistics", "analyzed"):
        if moment == "analyzed":
            analyze(engine)
        for sql, params in statements(engine, read, table, shape):
            for kind, plan in plans(engine, sql, params).items():
                where = f"{moment}, {kind} plan of {' '.join(sql.split())[:160]}:\n{plan}"
                assert re.search(index, plan) and re.search(seek, plan), where
                assert not (absent and re.search(absent, plan)), where
                for name in never.split():
                    assert not re.search(rf"(Seq Scan on|SCAN) {name}\b(?! USING)", plan), where


def test_payouts_due_read_only_unpaid_payables_and_each_ones_tokens_by_key(loaded: Engine) -> None:
    """The operator's payouts due (count and page) read the payables with money not yet paid out through
    their partial index and each one's live token by the payable's key; the old EXISTS let PostgreSQL
    hash every live certificate (estimated at a few hundred) and visit every matured payable, 13-17 ms a
    call at 8,000 matured payables and growing. The page is still every due payable, in order."""
    now = int(time.time())
    with Session(loaded) as session:
        page = payouts_due.page(session=session, now=now, limit=5)
    assert page.count == 8 and [row.slot_id for row in page.data] == list(range(DUE_SLOT, DUE_SLOT + 5))
    assert all(row.token_ids == [DUE_TOKEN + row.slot_id - DUE_SLOT] for row in page.data)
    assert_seeks(
        loaded, lambda s: payouts_due.page(session=s, now=now, limit=5), "payable",
        "ix_payable_unpaid_maturity", never="payable certificate",
    )  # fmt: skip


def test_supplier_statement_reads_a_page_of_funded_requests_newest_first_by_index(loaded: Engine) -> None:
    """The supplier's statement reads its funded requests newest first through
    ix_financing_request_seller_funded and stops after a page, each line's certificate by key; through the
    seller's index PostgreSQL sorted every request the supplier ever funded and hashed the whole
    certificate table for the join (11-21 ms a page at 5,000 requests, growing with both tables)."""
    supplier = synthetic.address_of("supplier1")
    with Session(loaded) as session:
        page = dashboard.supplier_statement(session, supplier, limit=50)
    funded = [1_000 + i for i in reversed(range(REQUESTS)) if i % 5]
    lines = [line for line in page.data if line.kind == "financing"]
    assert [line.place[2] for line in lines] == funded[: len(lines)] and len(lines) > 0
    assert page.count >= len(funded)
    assert_seeks(
        loaded, lambda s: dashboard.supplier_statement(s, supplier, limit=50), "financing_request",
        "ix_financing_request_seller_funded", never="financing_request certificate", shape="ORDER BY",
    )  # fmt: skip


def test_defaultable_payables_seek_accepted_payables_past_grace_by_maturity(
    loaded: Engine,
) -> None:
    """The operator's defaultable payables (Accepted, matured past the grace period) seek the partial
    ix_payable_accepted_maturity up to the cutoff; `maturity + grace <= now` made PostgreSQL walk the
    maturity index from the oldest payable and filter every one repaid (11 ms a page view at 28,000
    payables, none defaultable). Still every one of them, oldest first."""
    now = int(time.time())
    with Session(loaded) as session:
        due = dashboard.defaultable_payables(session, now=now, grace=0)
        late = dashboard.defaultable_payables(session, now=now + 400 * DAY, grace=DAY)
    # the matured payables still Accepted (none of those repaid), oldest first
    assert sorted(p.slot_id for p in due) == list(range(DUE_SLOT, DUE_SLOT + 8))
    assert len(late) == 50 and {p.slot_id for p in late[:8]} == {p.slot_id for p in due}
    assert {p.slot_id for p in late[8:]} <= set(range(1_000, 1_200))
    assert [p.maturity for p in late] == sorted(p.maturity for p in late)
    assert_seeks(
        loaded, lambda s: dashboard.defaultable_payables(s, now=now, grace=7 * DAY), "payable",
        "ix_payable_accepted_maturity", never="payable",
        # the maturity bounds the seek (PostgreSQL; SQLite), not a filter on every Accepted payable
        seek=r"Index Cond: \(maturity <=|ix_payable_accepted_maturity \(maturity<",
    )  # fmt: skip


def test_supplier_statement_reads_a_page_of_payouts_by_index_then_their_payables_by_key(
    loaded: Engine,
) -> None:
    """The statement's payout lines: a page of the supplier's payouts newest first through
    ix_payout_holder_block_log, then their payables by key; joined in one statement, PostgreSQL with stale
    statistics merged every payout of the supplier with the payables and sorted them (6.6 ms a page at
    10,000 payouts). The lines are still the newest payouts, each with its payable's obligor."""
    supplier = synthetic.address_of("supplier2")
    with Session(loaded) as session:
        page = dashboard.supplier_statement(session, supplier, limit=50)
    paid = [line for line in page.data if line.kind == "payout"]
    newest = [(5_000 + i // 4, i % 4) for i in reversed(range(PAYOUTS)) if i % 5 == 0]
    assert [(line.place[0], line.place[2]) for line in paid] == newest[: len(paid)] and paid
    assert all(line.counterparty == synthetic.address_of("core1" if line.slot_id % 2 == 0 else "core2")
               for line in paid)  # fmt: skip
    assert_seeks(
        loaded, lambda s: dashboard.supplier_statement(s, supplier, limit=50), "payout",
        # newest first by an index, a page and no more: no join, no sort of every payout of the supplier
        r"ix_payout_holder_block_log|Index Scan Backward using payout_pkey", never="payout payable",
        shape="ORDER BY", absent="Sort|Join|Nested Loop|TEMP B-TREE",
    )  # fmt: skip


@pytest.mark.parametrize("party", ["obligor", "supplier"])
def test_payables_awaiting_acceptance_of_one_party_seek_one_page_whatever_the_statistics(
    loaded: Engine, party: str, request: pytest.FixtureRequest
) -> None:
    """An obligor's (the core's list) or a supplier's (its incoming list) payables awaiting acceptance, a
    page: with statistics from before a bulk upload, which know no payable in status Issued, PostgreSQL
    started from the status index (estimated 1 row) and sorted every payable awaiting acceptance, of
    every party (4.5-8.8 ms a page at 18,000, growing with each upload: ae5a3dd's trap). The page seeks
    (party, status, slot_id) and stops after it."""
    if party == "obligor" and loaded.dialect.name == "postgresql":
        # Not fixed: with these statistics PostgreSQL walks the primary key from the oldest payable and
        # filters (it expects 40% of the rows to match), reading every payable older than the first one
        # awaiting acceptance; the supplier's list, with fewer matches expected, seeks its index. Making it
        # robust needs a two-step read in the list pages' shared keyset code (ids from the index, then the
        # rows by key). Strict: this fails the suite once the plan is fixed, so the marker goes with it.
        reason = "stale statistics: the core's list walks the primary key from the oldest payable"
        request.applymarker(pytest.mark.xfail(strict=True, reason=reason))
    who = synthetic.address_of("core1" if party == "obligor" else "supplier1")
    mine = [ISSUED_SLOT + i for i in range(ISSUED) if (i % 2 if party == "obligor" else i % 4 < 2)]

    def read(s: Session) -> Any:
        return queries.payable_rows(session=s, **{party: who}, status="Issued", limit=20, offset=0)

    with Session(loaded) as session:
        page = read(session)
    assert [row["slot_id"] for row in page["data"]] == mine[:20] and page["count"] == len(mine)
    assert_seeks(
        loaded, read, "payable", f"ix_payable_{party}_status_slot", never="payable", shape="ORDER BY",
        absent="Sort|TEMP B-TREE",
    )  # fmt: skip


def test_a_batchs_rows_are_read_by_key_range_not_among_every_record_of_the_company(loaded: Engine) -> None:
    """A batch's rows (its status read, and the check every submitted batch makes that it never ran) seek
    the primary key (address, key) over the batch's key range: `key LIKE 'batch:<key>:%'` read every
    idempotency record of the company (one per API write it ever made; 7.5 ms at 100,000 on PostgreSQL,
    whose language collations put a prefix's keys apart, and SQLite's LIKE ignores case), on every batch
    submitted. Still exactly the batch's rows: not a longer key's, not another company's."""
    from tierflow.platform.models.service import IdempotencyRecord
    from tierflow.platform.services import batch_issue, batch_sweep
    from tierflow.platform.services.context import IndexerLink, ServiceContext
    from tierflow.settings import Settings

    core, other = synthetic.address_of("core1"), synthetic.address_of("core2")
    key, neighbour = "ab" * 32, "ab" * 31 + "ac"
    done = '{"status": "issued", "slot_id": 1}'
    records = [
        {"address": core, "key": f"write-{n:06d}", "fingerprint": "f", "state": "done",
         "status_code": 200, "body": done, "created_at": 0}
        for n in range(6_000)
    ] + [
        {"address": who, "key": batch_issue.row_key(k, row), "fingerprint": "f", "state": "done",
         "status_code": 200, "body": done, "created_at": 0}
        for who, k, rows in ((core, key, range(2, 40)), (core, neighbour, range(2, 5)), (other, key, [2]))
        for row in rows
    ]  # fmt: skip
    with loaded.begin() as conn:
        conn.execute(IdempotencyRecord.__table__.insert(), records)  # type: ignore[attr-defined]
    ctx = ServiceContext(
        settings=Settings(environment="development"), engine=loaded, link=IndexerLink(loaded)
    )
    status = batch_sweep.rows_status(ctx, core, key)
    assert [o.row for o in status.outcomes] == list(range(2, 40))
    assert all(o.status == "issued" for o in status.outcomes)
    caller = type("Caller", (), {"address": core})()
    assert batch_issue.already_run(loaded, caller, key)  # type: ignore[arg-type]
    assert not batch_issue.already_run(loaded, caller, "cd" * 32)  # type: ignore[arg-type]
    for read in (
        lambda _s: batch_sweep.rows_status(ctx, core, key),
        lambda _s: batch_issue.already_run(loaded, caller, "cd" * 32),  # type: ignore[arg-type]
    ):
        assert_seeks(
            loaded, read, "idempotency_record",
            r"idempotency_record_pkey|sqlite_autoindex_idempotency_record", never="idempotency_record",
            seek=r"Index Cond: .*\(?key\)?(::text)? >=|key>\?",
        )  # fmt: skip
