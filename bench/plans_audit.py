"""Plans under stale statistics: the service's hot reads on PostgreSQL at scale, before and after ANALYZE.

PostgreSQL plans a statement from its statistics; after a bulk load they lag (autovacuum analyzes a
minute later at best, and the statement cache keeps what it planned), and a statement psycopg prepared
(after 5 executions on a connection) may run a generic plan that knows no parameter value. A plan that
starts from the wrong table then visits every row of it per call: ae5a3dd found one (an invoice check
that read every payable awaiting acceptance, 21 ms a call and growing with each upload).

This audit builds a throw-away PgCluster database, migrates it, fills a small book and ANALYZEs it (what
autovacuum does while a database is small), then turns autovacuum off and bulk-loads a large state:
20,000 payables of one obligor to 34 suppliers, most awaiting acceptance, with their invoices; 40,000
bulk certificates over 35 holders; 10,000 financing requests over four banks; 20,000 payouts; 8,000
matured payables paid out in full; 3,000 bills. It then runs the service's hot reads (the checks before
each write, the API's list and detail reads, the dashboard's page reads), each `RUNS` times on one
connection, timing every statement with a SQLAlchemy listener; then ANALYZE, and the same again. It
prints, per statement: ms per call with stale statistics, ms per call analyzed, and the plan PostgreSQL
runs after those executions (EXPLAIN EXECUTE of the statement prepared and executed as often: the generic
plan when the plan cache switched to it).

Not part of `make bench` (about a minute): `PYTHONPATH=src .venv/bin/python bench/plans_audit.py`
(`--json PATH` writes the figures too).
"""

from __future__ import annotations

import contextvars
import json
import os
import re
import statistics
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import event, text
from sqlalchemy.engine import Connection, Engine
from sqlmodel import Session

from tierflow.platform.dashboard import queries as dash
from tierflow.platform.dashboard.pages import bank as bank_page
from tierflow.platform.db import make_engine
from tierflow.platform.pgtemp import PgCluster
from tierflow.platform.services import (
    bills,
    documents,
    lineage,
    participants,
    payouts_due,
    policy,
    queries,
    readcache,
    workflows,
)
from tierflow.platform.services.errors import ServiceError
from tierflow.platform.services.participants import Caller
from tierflow.testing import synthetic

RUNS = 20
DAY = 86_400
HOLDERS = 30  # bulk certificate holders beside the four suppliers and bank1
ISSUED = 20_000  # payables of core1 (most awaiting acceptance), each with its invoice file
ISSUED_FIRST_SLOT, ISSUED_FIRST_TOKEN = 100_000, 1_000_000
REQUESTS, REQUEST_FIRST = 10_000, 10_000
PAYOUTS = 20_000
MATURED, MATURED_FIRST_SLOT, MATURED_FIRST_TOKEN = 8_000, 200_000, 2_000_000
DUE_FIRST_SLOT, DUE_FIRST_TOKEN = 300_000, 3_000_000
BULK_CERTIFICATES, BULK_PAYABLES, BULK_FIRST_SLOT, BULK_FIRST_TOKEN = 40_000, 400, 1_000, 100_000
FREE_DOCUMENTS = 3  # invoices uploaded and not proposed yet: what an issue names


def _holder(k: int) -> str:
    return synthetic.address_of(f"holder{k}")


def _banks(a: dict[str, str]) -> list[str]:
    return [a["bank1"], a["bank2"], synthetic.address_of("bank3"), synthetic.address_of("bank4")]


def _case(expression: str, values: list[str]) -> str:
    cases = " ".join(f"WHEN {i} THEN '{value}'" for i, value in enumerate(values))
    return f"(CASE {expression} {cases} END)"


def build(engine: Engine) -> dict[str, Any]:
    """The data set (see the module docstring); returns the seeded people and the ids the probes use."""
    synthetic.create_tables(engine)
    seeded = synthetic.seed_people(engine)
    synthetic.seed_book(engine, seeded)
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.exec_driver_sql("ANALYZE")  # the small database's statistics, as autovacuum left them
        conn.exec_driver_sql("ALTER SYSTEM SET autovacuum = off")  # … and nothing refreshes them
        conn.exec_driver_sql("SELECT pg_reload_conf()")
    a = seeded.addresses
    now = int(time.time())
    synthetic.seed_bulk(
        engine, seeded, certificates=BULK_CERTIFICATES, payables=BULK_PAYABLES, first_slot=BULK_FIRST_SLOT,
        first_token=BULK_FIRST_TOKEN,
    )  # fmt: skip
    suppliers = [a[f"supplier{i}"] for i in range(1, 5)]
    holders = [_holder(k) for k in range(HOLDERS)]
    sellers = suppliers + holders
    banks = _banks(a)
    doc_hash = "'0x' || md5('doc' || i) || md5('hash' || i)"
    with engine.begin() as conn:
        # three quarters of the bulk certificates move to 30 more holders (a few dozen in all)
        conn.execute(
            text(
                f"UPDATE certificate SET holder = {_case('(token_id % 40) - 10', holders)} "
                f"WHERE token_id BETWEEN {BULK_FIRST_TOKEN} AND {BULK_FIRST_TOKEN + BULK_CERTIFICATES - 1} "
                "AND token_id % 40 >= 10"
            )
        )
        # core1's payables to its 34 suppliers, nine in ten awaiting acceptance, each with its invoice file
        conn.execute(
            text(
                f"""INSERT INTO payable (slot_id, obligor, supplier, line_id, face, maturity, issued_at,
                status, paid_in, paid_out, unpaid_at_default, root_token_id, invoice_hashes, block_number,
                updated_block)
            SELECT {ISSUED_FIRST_SLOT} + i, '{a["core1"]}', {_case("i % 34", sellers)}, 2, 100000000,
                CAST({now // DAY + 30} + i % 150 AS BIGINT) * {DAY}, {now} - i, CASE WHEN i % 10 = 0
                THEN 'Accepted' ELSE 'Issued' END, 0, 0, NULL, {ISSUED_FIRST_TOKEN} + i,
                CAST('["' || {doc_hash} || '"]' AS JSON), 5000 + i / 10, 5000 + i / 10
            FROM generate_series(0, {ISSUED - 1}) AS i"""
            )
        )
        conn.execute(
            text(
                f"""INSERT INTO certificate (token_id, slot_id, holder, value, initial_value, status, locked,
                lock_ref, parent_id, root_id, depth, tier, block_number, updated_block)
            SELECT {ISSUED_FIRST_TOKEN} + i, {ISSUED_FIRST_SLOT} + i, {_case("i % 34", sellers)}, 100000000,
                100000000, 'active', FALSE, NULL, NULL, {ISSUED_FIRST_TOKEN} + i, 0, 1, 5000 + i / 10,
                5000 + i / 10
            FROM generate_series(0, {ISSUED - 1}) AS i"""
            )
        )
        files = f"""INSERT INTO document_file (document_id, uploader, kind, invoice_number, seller, filename,
                content_type, size, sha256, doc_hash, verification, slot_id, ciphertext, created_at)
            SELECT md5('id' || i), '{a["core1"]}', 'invoice', 'INV' || i, :seller:,
                'inv' || i || '.pdf', 'application/pdf', 100, md5('a' || i) || md5('b' || i), {doc_hash},
                'verified', :slot:, '\\x00', {now} - i
            FROM generate_series(:range:) AS i"""
        issued = (_case("i % 34", sellers), f"{ISSUED_FIRST_SLOT} + i", f"0, {ISSUED - 1}")
        free = (f"'{a['supplier1']}'", "NULL", f"{ISSUED}, {ISSUED + FREE_DOCUMENTS - 1}")
        for seller, slot, numbers in (issued, free):
            sql = files.replace(":seller:", seller).replace(":slot:", slot).replace(":range:", numbers)
            conn.execute(text(sql))
        conn.execute(
            text(
                f"""INSERT INTO document (doc_hash, asset, asset_id, status, block_number, updated_block)
            SELECT {doc_hash}, '{synthetic.address_of("Receivables")}', {ISSUED_FIRST_SLOT} + i, 'bound',
                5000 + i / 10, 5000 + i / 10
            FROM generate_series(0, {ISSUED - 1}, 10) AS i"""
            )
        )
        # financing requests: half of them supplier1's, over four banks; seven in ten funded
        statuses = ["Funded"] * 14 + ["Requested", "Quoted", "Accepted", "Cancelled", "Recoursed", "Declined"]
        conn.execute(
            text(
                f"""INSERT INTO financing_request (request_id, token_id, seller, financier, amount,
                with_recourse, status, rate_bps, quote_expiry, discount, price, funded_block, cancelled_by,
                block_number, updated_block)
            SELECT {REQUEST_FIRST} + i, {BULK_FIRST_TOKEN} + i * 4,
                CASE WHEN i % 2 = 0 THEN '{a["supplier1"]}' ELSE {_case("(i / 2) % 34", sellers)} END,
                {_case("i % 4", banks)}, 1000000, i % 3 = 0, {_case("i % 20", statuses)}, 400,
                {now + DAY}, 10000, 990000,
                CASE WHEN i % 20 < 14 OR i % 20 = 18 THEN 6000 + i ELSE NULL END, NULL, 6000 + i, 6000 + i
            FROM generate_series(0, {REQUESTS - 1}) AS i"""
            )
        )
        conn.execute(
            text(
                f"""INSERT INTO payout (block_number, log_index, tx_hash, token_id, slot_id, holder, amount)
            SELECT 20000 + i / 10, i % 10, '0x' || md5('p' || i) || md5('q' || i), {BULK_FIRST_TOKEN} + i,
                {BULK_FIRST_SLOT} + i % {BULK_PAYABLES},
                CASE WHEN i % 2 = 0 THEN '{a["supplier1"]}' ELSE {_case("(i / 2) % 34", sellers)} END, 5000
            FROM generate_series(0, {PAYOUTS - 1}) AS i"""
            )
        )
        # every bulk certificate's movement: split off its root by supplier1 to its holder
        conn.execute(
            text(
                f"""INSERT INTO certificate_transfer (block_number, log_index, tx_hash, kind, slot_id,
                token_id, new_token_id, from_address, to_address, value)
            SELECT 30000 + token_id, 0, '0x' || md5('t' || token_id) || md5('u' || token_id), 'split',
                slot_id, root_id, token_id, '{a["supplier1"]}', holder, value
            FROM certificate WHERE token_id BETWEEN {BULK_FIRST_TOKEN}
                AND {BULK_FIRST_TOKEN + BULK_CERTIFICATES - 1}"""
            )
        )
        # matured payables repaid and paid out in full: nothing due on them
        conn.execute(
            text(
                f"""INSERT INTO payable (slot_id, obligor, supplier, line_id, face, maturity, issued_at,
                status, paid_in, paid_out, unpaid_at_default, root_token_id, invoice_hashes, block_number,
                updated_block)
            SELECT {MATURED_FIRST_SLOT} + i, {_case("i % 2", [a["core1"], a["core2"]])}, '{a["supplier2"]}',
                1, 5000000, CAST({now // DAY - 1} - i % 400 AS BIGINT) * {DAY}, {now} - 500 * {DAY},
                'Repaid', 5000000, 5000000, NULL, {MATURED_FIRST_TOKEN} + i, CAST('[]' AS JSON), 3, 3
            FROM generate_series(0, {MATURED - 1}) AS i"""
            )
        )
        conn.execute(
            text(
                f"""INSERT INTO certificate (token_id, slot_id, holder, value, initial_value, status, locked,
                lock_ref, parent_id, root_id, depth, tier, block_number, updated_block)
            SELECT {MATURED_FIRST_TOKEN} + i, {MATURED_FIRST_SLOT} + i, '{a["supplier2"]}', 0, 5000000,
                'settled', FALSE, NULL, NULL, {MATURED_FIRST_TOKEN} + i, 0, 1, 3, 3
            FROM generate_series(0, {MATURED - 1}) AS i"""
            )
        )
        conn.execute(
            text(
                """INSERT INTO raw_event (block_hash, log_index, block_number, block_time, tx_hash, tx_index,
                contract, address, event, args)
            SELECT '0x' || md5('b' || i) || md5('c' || i), 0, i, 1700000000 + i * 2,
                '0x' || md5('x' || i) || md5('y' || i), 0, 'Receivables', '0x0', 'Noted', CAST('{}' AS JSON)
            FROM generate_series(1, 40000) AS i"""
            )
        )
    synthetic.add_due_payables(
        engine, obligor=a["core2"], holder=a["supplier3"],
        slot_ids=list(range(DUE_FIRST_SLOT, DUE_FIRST_SLOT + 20)), maturity=(now // DAY - 3) * DAY,
        first_token=DUE_FIRST_TOKEN,
    )  # fmt: skip
    synthetic.seed_bills(engine, seeded, packages=3_000)
    synthetic.summarise(engine)
    synthetic.touch(engine, [0])
    with engine.connect() as conn:
        ids = {
            name: conn.execute(text(sql), params).scalar_one()
            for name, (sql, params) in {
                "supplier1_token": (
                    "SELECT min(token_id) FROM certificate WHERE holder = :h AND token_id >= :t",
                    {"h": a["supplier1"], "t": BULK_FIRST_TOKEN},
                ),
                "bank1_request": (
                    "SELECT min(request_id) FROM financing_request WHERE financier = :b AND request_id >= :r",
                    {"b": a["bank1"], "r": REQUEST_FIRST},
                ),
                "supplier1_request": (
                    "SELECT min(request_id) FROM financing_request WHERE seller = :s AND request_id >= :r",
                    {"s": a["supplier1"], "r": REQUEST_FIRST},
                ),
                "free_documents": (
                    "SELECT string_agg(document_id, ',') FROM document_file WHERE slot_id IS NULL",
                    {},
                ),
            }.items()
        }
    return {"seeded": seeded, "ids": ids}


def _caller(seeded: synthetic.Seeded, name: str) -> Caller:
    roles, legal_name = synthetic.PEOPLE[name]
    return Caller(
        address=seeded.addresses[name], roles=int(roles), is_operator=name == "operator", custody="custodial",
        status="active", legal_name=legal_name,
    )  # fmt: skip


def probes(info: dict[str, Any]) -> dict[str, Callable[[Session], Any]]:
    """The hot reads, each a real service function (a write's checks: the functions it calls before the
    contract call), named "area: what"."""
    seeded, ids = info["seeded"], info["ids"]
    a = seeded.addresses
    core, supplier, bank, other_bank = (
        _caller(seeded, n) for n in ("core1", "supplier1", "bank1", "bank2")
    )  # fmt: skip
    token, request, own_request = ids["supplier1_token"], ids["bank1_request"], ids["supplier1_request"]
    issued_slot = ISSUED_FIRST_SLOT + 34  # awaiting supplier1's acceptance
    bulk_slot = BULK_FIRST_SLOT + 7
    free = str(ids["free_documents"]).split(",")
    hashes = [f"0x{i:064x}" for i in range(5)]
    now = int(time.time())

    def refused(call: Callable[[Session], Any]) -> Callable[[Session], Any]:
        """`call`, whose refusal (a caller who is no party) is its answer."""

        def run(db: Session) -> Any:
            try:
                return call(db)
            except ServiceError as error:
                return error.code

        return run

    def authenticate(db: Session) -> Any:
        # in a context of its own: the key lookup notes the data version for the reads after it
        return contextvars.copy_context().run(
            participants.authenticate, session=db, token=seeded.tokens["supplier1"]
        )

    checks: dict[str, Callable[[Session], Any]] = {
        "write: authenticate the API key": authenticate,
        "write: approval policy rule (admit)": lambda db: policy.admit(
            ctx=None,  # type: ignore[arg-type]  # no rule: the context is never reached
            session=db,
            caller=supplier,
            call=workflows.Call("Receivables", "transfer", (token, a["bank1"])),
        ),  # fmt: skip
        "write: holder's token (transfer, request, claim)": lambda db: workflows._own_token(
            db, supplier, token
        ),
        "write: supplier's payable (accept, reject)": lambda db: workflows._own_payable(
            db, supplier, issued_slot, as_="supplier"
        ),
        "write: bank's request (quote, decline)": lambda db: workflows._own_request(
            db, bank, request, as_="financier"
        ),
        "write: fund's request read": lambda db: db.execute(
            workflows._REQUEST_FINANCIER, {"request_id": request}
        ).first(),
        "write: mark defaulted, a holder's token of the payable": lambda db: queries.held_token_of_slot(
            db, a["supplier1"], bulk_slot
        ),
        "write: mark defaulted, no token of the payable": lambda db: queries.held_token_of_slot(
            db, a["supplier1"], MATURED_FIRST_SLOT + 3
        ),
        "write: issue's invoices (3 documents)": lambda db: documents.invoices_for_issue(
            session=db, caller=core, document_ids=free, supplier=a["supplier1"]
        ),
        "write: invoices in use, bound too (5 hashes)": lambda db: documents.invoices_in_use(
            db, hashes, obligor=a["core1"], bound=True
        ),
        "write: bill range holder": refused(lambda db: bills._own_range(db, supplier, 5)),
    }
    api: dict[str, Callable[[Session], Any]] = {
        "api: holdings page (supplier1)": lambda db: queries.certificates(
            session=db, holder=a["supplier1"], limit=50, offset=0
        ),
        "api: holdings page (a small holder)": lambda db: queries.certificates(
            session=db, holder=_holder(3), limit=50, offset=0
        ),
        "api: auditor certificates by holder": lambda db: queries.certificates(
            session=db, holder=a["supplier1"], status=None, limit=50, offset=0
        ),
        "api: bank queue (Requested)": lambda db: queries.financing_requests(
            session=db, financier=a["bank1"], status="Requested", limit=50, offset=0
        ),
        "api: supplier's requests": lambda db: queries.financing_requests(
            session=db, seller=a["supplier1"], limit=50, offset=0
        ),
        "api: payouts of a holder": lambda db: queries.payouts(
            session=db, holder=a["supplier1"], limit=50, offset=0
        ),
        "api: payable transfers": lambda db: queries.transfers(
            session=db, slot_id=bulk_slot, limit=50, offset=0
        ),
        "api: payables by obligor (Issued)": lambda db: queries.payable_rows(
            session=db, obligor=a["core1"], status="Issued", limit=50, offset=0
        ),
        "api: payable detail, not a party": refused(
            lambda db: queries.get_payable(session=db, caller=other_bank, slot_id=bulk_slot)
        ),
        "api: certificate detail, not a party": refused(
            lambda db: queries.get_certificate(session=db, caller=other_bank, token_id=token + 1)
        ),
        "api: request detail": lambda db: queries.request_detail(session=db, caller=bank, request_id=request),
        "api: lineage of a payable, not a party": refused(
            lambda db: lineage.payable_lineage(db, other_bank, bulk_slot)
        ),
        "api: payouts due page": lambda db: payouts_due.page(session=db, now=now, limit=50),
        "api: bills holdings": lambda db: bills.holdings(
            session=db, address=a["supplier2"], limit=50, offset=0
        ),
        "api: bill discount queue": lambda db: bills.discount_requests(
            session=db, financier=a["bank1"], limit=50, offset=0
        ),
    }
    pages: dict[str, Callable[[Session], Any]] = {
        "dashboard: supplier view": lambda db: dash.supplier_view(db, a["supplier1"]),
        "dashboard: supplier statement": lambda db: dash.supplier_statement(db, a["supplier1"]),
        "dashboard: core view": lambda db: dash.core_view(db, a["core1"], now=now),
        "dashboard: bank queue": lambda db: dash.bank_queue(db, a["bank1"], rate_bps=400, now=now),
        "dashboard: bank book": lambda db: bank_page._book_context(db, a["bank1"], "week"),
        "dashboard: bank closed deals": lambda db: dash.closed_deals(db, a["bank1"]),
        "dashboard: bank recoursed": lambda db: dash.recoursed_requests(db, a["bank1"]),
        "dashboard: claimable positions": lambda db: dash.claimable_positions(db, a["supplier3"], now=now),
        "dashboard: operator defaultable payables": lambda db: dash.defaultable_payables(
            db, now=now, grace=7 * DAY
        ),
        "dashboard: operator payouts due": lambda db: payouts_due.page(session=db, now=now, limit=20),
        "dashboard: own request detail (supplier)": lambda db: dash.open_request(db, own_request),
    }
    return {**checks, **api, **pages}


@dataclass
class Figure:
    """One statement of one probe: its SQL, a parameter set, and the milliseconds of each execution."""

    sql: str
    params: Any
    ms: list[float] = field(default_factory=list)
    plan: str = ""


@contextmanager
def timing(conn: Connection) -> Iterator[dict[tuple[str, int], Figure]]:
    """Times every statement on `conn` while a probe runs, keyed (probe, statement's place in it)."""
    figures: dict[tuple[str, int], Figure] = {}
    state: dict[str, Any] = {"probe": None, "n": 0, "t": 0.0}

    def before(_c: Any, _cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
        state["t"] = time.perf_counter()

    def after(_c: Any, _cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
        elapsed = (time.perf_counter() - state["t"]) * 1e3
        if state["probe"] is None:
            return
        key = (state["probe"], state["n"])
        state["n"] += 1
        figure = figures.setdefault(key, Figure(statement, parameters))
        figure.ms.append(elapsed)

    event.listen(conn, "before_cursor_execute", before)
    event.listen(conn, "after_cursor_execute", after)
    conn.info["audit_state"] = state
    try:
        yield figures
    finally:
        event.remove(conn, "before_cursor_execute", before)
        event.remove(conn, "after_cursor_execute", after)


def _clear_caches() -> None:
    """Every count and tree cache of the service: each run computes what a first request computes."""
    for cache in (readcache.COUNTS, queries.TREES, lineage.WHOLE_TREES):
        cache._entries.clear()
    bank_page.BOOK_CACHE.clear()


def run_probes(
    conn: Connection, named: dict[str, Callable[[Session], Any]], runs: int = RUNS
) -> dict[str, Any]:
    """Each probe `runs` times on `conn`; per statement: median ms per call, its SQL and its plan."""
    results: dict[str, Any] = {}
    with timing(conn) as figures:
        state = conn.info["audit_state"]
        for name, probe in named.items():
            for _ in range(runs):
                _clear_caches()
                state["probe"], state["n"] = name, 0
                with Session(bind=conn) as db:
                    probe(db)
                    db.rollback()
                state["probe"] = None
    for (name, place), figure in sorted(figures.items()):
        figure.plan = explain(conn, figure.sql, figure.params, runs)
        results[f"{name} #{place + 1}"] = {
            "ms": round(statistics.median(figure.ms), 3),
            "calls": len(figure.ms),
            "plan": figure.plan,
            "sql": " ".join(figure.sql.split())[:400],
        }
    return results


_PARAM = re.compile(r"%\((\w+)\)s")


def explain(conn: Connection, sql: str, params: Any, runs: int) -> str:
    """The plan PostgreSQL runs for `sql` once prepared and executed `runs` times with `params` (the
    generic plan when the plan cache chose it), as its scan nodes: "Index Scan ix_… on t; Seq Scan on u"."""
    if not isinstance(params, dict) or not sql.lstrip().upper().startswith(("SELECT", "WITH")):
        return ""
    import psycopg.sql

    raw = conn.connection.driver_connection
    order: dict[str, int] = {}
    numbered = _PARAM.sub(lambda m: f"${order.setdefault(m.group(1), len(order) + 1)}", sql).replace(
        "%%", "%"
    )
    values = ", ".join(psycopg.sql.Literal(params[name]).as_string(raw) for name in order)
    execute = f"EXECUTE tf_audit({values})" if order else "EXECUTE tf_audit"
    try:
        raw.execute(f"PREPARE tf_audit AS {numbered}")
        for _ in range(runs):
            raw.execute(execute).fetchall()
        plan = raw.execute(f"EXPLAIN (FORMAT JSON) {execute}").fetchone()[0][0]["Plan"]
    except Exception as error:  # noqa: BLE001  (a plan we cannot show is no reason to stop the audit)
        raw.rollback()
        return f"(no plan: {type(error).__name__})"
    finally:
        try:
            raw.execute("DEALLOCATE tf_audit")
        except Exception:  # noqa: BLE001
            raw.rollback()
    raw.rollback()
    return _scans(plan)


def _scans(plan: dict[str, Any]) -> str:
    found: list[str] = []

    def walk(node: dict[str, Any]) -> None:
        kind = node["Node Type"]
        if "Scan" in kind and "Relation Name" in node:
            index = f" {node['Index Name']}" if "Index Name" in node else ""
            found.append(f"{kind}{index} on {node['Relation Name']}")
        for child in node.get("Plans", []):
            walk(child)

    walk(plan)
    return f"{plan['Node Type']}: " + "; ".join(found)


def analyze(engine: Engine) -> None:
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.exec_driver_sql("ANALYZE")


def table(stale: dict[str, Any], analyzed: dict[str, Any]) -> str:
    lines = [
        "| statement | ms/call stale | ms/call analyzed | plan (stale) | plan (analyzed, if other) |",
        "|---|---:|---:|---|---|",
    ]
    for key in stale:
        s, a = stale[key], analyzed.get(key, {})
        other = a.get("plan", "") if a.get("plan") != s["plan"] else ""
        lines.append(f"| {key} | {s['ms']:.2f} | {a.get('ms', float('nan')):.2f} | {s['plan']} | {other} |")
    return "\n".join(lines)


def probe_table(stale: dict[str, Any], analyzed: dict[str, Any]) -> str:
    """Per read: its statements' ms per call added up, stale and analyzed, and how many statements."""
    reads: dict[str, list[float]] = {}
    for phase, figures in ((0, stale), (1, analyzed)):
        for key, figure in figures.items():
            totals = reads.setdefault(key.rsplit(" #", 1)[0], [0.0, 0.0, 0.0])
            totals[phase] += figure["ms"]
            totals[2] += phase == 0
    lines = ["| read | statements | ms stale | ms analyzed |", "|---|---:|---:|---:|"]
    lines += [f"| {name} | {n:.0f} | {s:.2f} | {a:.2f} |" for name, (s, a, n) in reads.items()]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    args = sys.argv[1:] if argv is None else argv
    out = Path(args[args.index("--json") + 1]) if "--json" in args else None
    started = time.perf_counter()
    load = [round(os.getloadavg()[0], 2)]  # the machine is shared: the figures need its load beside them
    cluster = PgCluster.start()
    try:
        engine = make_engine(cluster.create_database(), pool_size=2)
        info = build(engine)
        built = time.perf_counter() - started
        print(f"[plans] data set built in {built:.0f} s", file=sys.stderr)
        named = probes(info)
        with engine.connect() as conn:
            stale = run_probes(conn, named)
        analyze(engine)
        with engine.connect() as conn:
            analyzed = run_probes(conn, named)
        engine.dispose()
    finally:
        cluster.stop()
    load.append(round(os.getloadavg()[0], 2))
    print(table(stale, analyzed))
    print()
    print(probe_table(stale, analyzed))
    print(f"\n1-minute load average {load[0]}-{load[1]}")
    slow = {k: v for k, v in stale.items() if max(v["ms"], analyzed.get(k, {}).get("ms", 0)) > 2}
    print(f"\n{len(slow)} statements over 2 ms a call: {', '.join(slow) or 'none'}", file=sys.stderr)
    if out is not None:
        out.write_text(json.dumps({"stale": stale, "analyzed": analyzed, "load_1m": load}, indent=1) + "\n")
    print(f"[plans] audit in {time.perf_counter() - started:.0f} s", file=sys.stderr)


if __name__ == "__main__":
    main()
