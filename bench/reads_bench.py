"""Reads at a million certificates (issue 17): keyset pages, lineage, the bank's queue and book, CSV export.

The read models are filled by `testing.synthetic.seed_bulk` (INSERT … SELECT in SQL: 1,000,000 live
certificates over 10,000 payables, every tenth held by bank1, the others by four suppliers), plus the
`seed_book` queue of bank1 and one payable split into 10,000 tokens (`seed_tree`). The API is served by
uvicorn in a subprocess (one worker, no indexer) and 8 client threads issue keep-alive requests, next
to a bare FastAPI endpoint measured the same way in the same run (api_bench.load).

Modes for the cached reads: "automine" (nothing moves while the clients run), "1 block/s" (a thread
advances the checkpoint by one empty block every second, as the indexer does on a chain that makes a
block a second: the data version, the caches' key, stays) and, in the targets run, "1 block/s with
activity" (every block also moves one certificate of another payable between two other suppliers,
written as the indexer writes a transfer: the certificate, both position rows, that payable's
slot_version and a new data version in one transaction: a busy chain). Cache misses: every request
another keyset page (a random cursor), so neither the response cache nor SQLite's page cache of one
hot page helps. For comparison in the same run: the old OFFSET pages at random deep offsets.
"""

from __future__ import annotations

import json
import os
import random
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, nullcontext
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))

import api_bench  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results"
CERTIFICATES = int(os.environ.get("TIERFLOW_BENCH_CERTIFICATES", "1000000"))
PAYABLES = CERTIFICATES // 100
TREE_TOKENS = 10_000
TREE_SLOT = 900_001
FIRST_SLOT, FIRST_TOKEN = 1_000, 100_000  # above the book's and the tree's ids
SECONDS = float(os.environ.get("TIERFLOW_BENCH_READ_SECONDS", "4"))
# The targets run (--targets): 36 runs a backend (three block modes), kept short so that both backends
# fit in about 6 minutes.
TARGET_SECONDS = float(os.environ.get("TIERFLOW_BENCH_TARGET_SECONDS", "3"))
TARGET_P99_MS = 50.0
TARGET_EXPORT_S = 10.0
TARGET_BOOK_COLD_MS = 300
TARGET_BOOK_UNCHANGED_MS = 100


def build(url: str) -> dict[str, Any]:
    """The data set; returns the ids the reads need and the seconds each part took."""
    from sqlalchemy import func, select
    from sqlmodel import col

    from tierflow.platform.db import make_engine
    from tierflow.platform.models import Certificate
    from tierflow.testing import synthetic

    engine = make_engine(url)
    timings: dict[str, float] = {}
    started = time.perf_counter()
    synthetic.create_tables(engine)
    seeded = synthetic.seed_people(engine)
    synthetic.seed_book(engine, seeded, requests=600, positions=200, payables=200)
    timings["schema_people_book_s"] = time.perf_counter() - started
    mark = time.perf_counter()
    # The tree before the bulk: its generator re-sums the summary tables over every row there is.
    root = synthetic.seed_tree(engine, seeded, slot_id=TREE_SLOT, tokens=TREE_TOKENS)
    timings["tree_s"] = time.perf_counter() - mark
    mark = time.perf_counter()
    synthetic.seed_bulk(
        engine, seeded, certificates=CERTIFICATES, payables=PAYABLES,
        first_slot=FIRST_SLOT, first_token=FIRST_TOKEN,
    )  # fmt: skip
    timings["bulk_certificates_s"] = time.perf_counter() - mark
    # The indexer's tree versions (models.SlotVersion) of what the reads read, as if it had indexed them.
    synthetic.touch(engine, [0, TREE_SLOT])
    if engine.dialect.name == "postgresql":
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.exec_driver_sql("ANALYZE")  # what autovacuum does after a bulk load
    with engine.connect() as conn:
        total = int(conn.execute(select(func.count()).select_from(Certificate)).scalar_one())
        leaf, depth = conn.execute(
            select(col(Certificate.token_id), col(Certificate.depth))
            .where(col(Certificate.slot_id) == TREE_SLOT)
            .order_by(col(Certificate.depth).desc())
            .limit(1)
        ).one()
    engine.dispose()
    timings["total_s"] = time.perf_counter() - started
    return {
        "seeded": seeded,
        "certificates": total,
        "tree_root": root,
        "leaf": int(leaf),
        "leaf_depth": int(depth),
        "build": {k: round(v, 1) for k, v in timings.items()},
    }


@contextmanager
def block_per_second(url: str, activity: dict[str, str] | None = None) -> Iterator[None]:
    """Advance the checkpoint one empty block a second (the indexer's commit for a block without events);
    with `activity` ({"from": address, "to": address}) every block also moves one bulk certificate of
    `from` to `to` and back the next block, as the indexer commits a transfer (see the module docstring)."""
    from sqlalchemy import text

    from tierflow.platform.db import make_engine
    from tierflow.platform.indexer.store import write_slot_versions

    engine = make_engine(url)
    stop = threading.Event()
    moved: dict[str, Any] = {}
    if activity is not None:
        with engine.connect() as conn:
            row = conn.execute(
                text(
                    "SELECT token_id, slot_id, depth, value FROM certificate WHERE holder = :h "
                    "AND token_id >= :first ORDER BY token_id LIMIT 1"
                ),
                {"h": activity["from"], "first": FIRST_TOKEN},
            ).one()
        moved = {
            "token": row[0],
            "slot": row[1],
            "depth": row[2],
            "value": row[3],
            "holder": activity["from"],
        }

    def transfer(conn: Any) -> None:
        assert activity is not None
        new = activity["to"] if moved["holder"] == activity["from"] else activity["from"]
        conn.execute(
            text("UPDATE certificate SET holder = :h WHERE token_id = :t"), {"h": new, "t": moved["token"]}
        )
        for holder, sign in ((moved["holder"], -1), (new, 1)):
            key = {
                "h": holder,
                "s": moved["slot"],
                "d": moved["depth"],
                "n": sign,
                "v": sign * moved["value"],
            }
            changed = conn.execute(
                text(
                    "UPDATE position SET tokens = tokens + :n, value = value + :v "
                    "WHERE holder = :h AND slot_id = :s AND depth = :d"
                ),
                key,
            ).rowcount
            if not changed:
                conn.execute(
                    text(
                        "INSERT INTO position (holder, slot_id, depth, tokens, value, block_number, "
                        "updated_block) VALUES (:h, :s, :d, :n, :v, 2, 2)"
                    ),
                    key,
                )
        moved["holder"] = new
        conn.execute(text("UPDATE indexer_checkpoint SET data_version = data_version + 1"))
        version = conn.execute(text("SELECT data_version FROM indexer_checkpoint")).scalar_one()
        write_slot_versions(conn, [moved["slot"]], int(version))

    def tick() -> None:
        while not stop.wait(1.0):
            with engine.begin() as conn:
                conn.execute(text("UPDATE indexer_checkpoint SET block_number = block_number + 1"))
                if activity is not None:
                    transfer(conn)

    thread = threading.Thread(target=tick, daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()
        engine.dispose()


def _reads(base: str, info: dict[str, Any]) -> dict[str, Callable[[httpx.Client, int], httpx.Response]]:
    """The full run's reads: the targets' reads under their earlier names, and the OFFSET baseline."""
    t = _target_reads(info)
    supplier = {"X-API-Key": info["seeded"].tokens["supplier2"]}
    rng = random.Random(18)
    tree = "payable lineage, 10k-token tree, page of 1,000"
    return {
        "holdings, page of 50": t["holdings, page of 50"]["cached"],
        tree: t[tree]["cached"],
        "bank queue": t["bank queue"]["cached"],
        "holdings, random deep page (cursor)": t["holdings, page of 50"]["cache miss"],
        "payable lineage, random page of 1,000 (cursor)": t[tree]["cache miss"],
        "leaf lineage (path to the root)": t[f"leaf lineage, depth {info['leaf_depth']}"]["cached"],
        "bank queue, random page (cursor)": t["bank queue"]["cache miss"],
        "auditor: certificates by holder, random page (cursor)": t["auditor: certificates by holder, a page"][
            "cache miss"
        ],
        "auditor: payables by obligor, random page (cursor)": t["auditor: payables by obligor"]["cache miss"],
        "baseline: holdings, random deep page (offset)": lambda c, i: c.get(
            "/v1/supplier/holdings", params={"offset": rng.randrange(0, CERTIFICATES // 5)}, headers=supplier
        ),
    }


CACHED = ("holdings, page of 50", "payable lineage, 10k-token tree, page of 1,000", "bank queue")


def _target_reads(
    info: dict[str, Any],
) -> dict[str, dict[str, Callable[[httpx.Client, int], httpx.Response]]]:
    """Every read of issue 17's table, each as "cached" (the same request again and again: a response-cache
    hit for holdings, the lineage page and the bank queue; for the others, which have no response cache,
    the same rows hot in the database's cache) and "cache miss" (every request another random page)."""
    tokens = info["seeded"].tokens
    a = info["seeded"].addresses
    supplier = {"X-API-Key": tokens["supplier2"]}
    bank = {"X-API-Key": tokens["bank1"]}
    core = {"X-API-Key": tokens["core1"]}
    auditor = {"X-API-Key": tokens["auditor"]}
    rng = random.Random(17)
    last = FIRST_TOKEN + CERTIFICATES
    tree = (info["tree_root"], info["tree_root"] + TREE_TOKENS - 1000)
    lineage = f"/v1/payables/{TREE_SLOT}/lineage"
    by_holder = {"holder": a["supplier2"]}
    by_obligor = {"obligor": a["core1"]}
    return {
        "holdings, page of 50": {
            "cached": lambda c, i: c.get("/v1/supplier/holdings", headers=supplier),
            "cache miss": lambda c, i: c.get(
                "/v1/supplier/holdings", params={"after": rng.randrange(FIRST_TOKEN, last)}, headers=supplier
            ),
        },
        "payable lineage, 10k-token tree, page of 1,000": {
            "cached": lambda c, i: c.get(lineage, headers=core),
            "cache miss": lambda c, i: c.get(lineage, params={"after": rng.randrange(*tree)}, headers=core),
        },
        f"leaf lineage, depth {info['leaf_depth']}": {
            "cached": lambda c, i: c.get(f"/v1/certificates/{info['leaf']}/lineage", headers=core),
            "cache miss": lambda c, i: c.get(
                f"/v1/certificates/{rng.randrange(tree[0], tree[0] + TREE_TOKENS)}/lineage",
                headers=core,
            ),
        },
        "bank queue": {
            "cached": lambda c, i: c.get(
                "/v1/financier/requests", params={"status": "Requested"}, headers=bank
            ),
            "cache miss": lambda c, i: c.get(
                "/v1/financier/requests", params={"after": rng.randrange(2, 800), "limit": 20}, headers=bank
            ),
        },
        "auditor: certificates by holder, a page": {
            "cached": lambda c, i: c.get("/v1/audit/certificates", params=by_holder, headers=auditor),
            "cache miss": lambda c, i: c.get(
                "/v1/audit/certificates",
                params={**by_holder, "after": rng.randrange(FIRST_TOKEN, last)},
                headers=auditor,
            ),
        },
        "auditor: payables by obligor": {
            "cached": lambda c, i: c.get("/v1/audit/payables", params=by_obligor, headers=auditor),
            "cache miss": lambda c, i: c.get(
                "/v1/audit/payables",
                params={**by_obligor, "after": rng.randrange(FIRST_SLOT, FIRST_SLOT + PAYABLES)},
                headers=auditor,
            ),
        },
    }


def _load() -> float:
    """The machine's 1-minute load average (`uptime`): the machine is shared, figures need it beside them."""
    return round(os.getloadavg()[0], 2)


def _cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of process `pid` so far (Linux /proc): what a run cost the server itself,
    whatever else the machine was running."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _run(
    base: str, request: Callable[[httpx.Client, int], httpx.Response], pid: int, seconds: float = SECONDS
) -> dict[str, Any]:
    """api_bench.load, with the load average before and after and the server's CPU per request (ms):
    the latencies depend on what else the machine runs, the server's CPU per request much less."""
    load, cpu = _load(), _cpu_seconds(pid)
    result = api_bench.load(base, request, seconds=seconds)
    used = _cpu_seconds(pid) - cpu
    return {
        **result,
        "server_cpu_ms_per_request": round(used * 1e3 / max(1, result["requests"]), 2),
        "load_1m": [load, _load()],
    }


def _export(base: str, auditor: dict[str, str], server_pid: int) -> dict[str, Any]:
    load, cpu = _load(), _cpu_seconds(server_pid)
    started = time.perf_counter()
    rows, size = -1, 0
    with httpx.stream("GET", f"{base}/v1/audit/export/certificates.csv", headers=auditor, timeout=600) as r:
        r.raise_for_status()
        for chunk in r.iter_bytes():
            rows += chunk.count(b"\n")
            size += len(chunk)
    return {
        "rows": rows,
        "mb": round(size / 1e6, 1),
        "seconds": round(time.perf_counter() - started, 2),
        "server_cpu_s": round(_cpu_seconds(server_pid) - cpu, 2),
        "load_1m": [load, _load()],
    }


def _book(url: str, bank: str) -> dict[str, Any]:
    """The bank's book as the dashboard fills it: cold (computed), then at one block a second (cached)."""
    from sqlmodel import Session

    from tierflow.platform.dashboard import queries
    from tierflow.platform.dashboard.pages import bank as bank_page
    from tierflow.platform.db import make_engine

    engine = make_engine(url)
    cold = []
    for _ in range(3):
        bank_page.BOOK_CACHE.clear()
        with Session(engine) as db:
            started = time.perf_counter()
            book = bank_page._book_context(db, bank, "week")
            cold.append(time.perf_counter() - started)
    warm = []
    with block_per_second(url):
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            with Session(engine) as db:
                started = time.perf_counter()
                bank_page._book_context(db, bank, "week")
                warm.append(time.perf_counter() - started)
            time.sleep(0.05)
    with Session(engine) as db:
        blocks = queries.indexed(db)
    engine.dispose()
    return {
        "load_1m": _load(),
        "positions": book["book"].count,
        "cold_ms": [round(x * 1e3) for x in cold],
        "warm_p50_ms": round(statistics.median(warm) * 1e3, 2),
        "warm_max_ms": round(max(warm) * 1e3, 2),
        "warm_calls": len(warm),
        "checkpoint_block_after": blocks["block"],
    }


@contextmanager
def database(backend: str) -> Iterator[tuple[str, Callable[[], int]]]:
    """(url, size in MB) of a fresh database: a SQLite file, or a throw-away PostgreSQL cluster."""
    from sqlalchemy import create_engine

    from tierflow.platform.pgtemp import PgCluster

    with tempfile.TemporaryDirectory(prefix="tierflow-reads-bench-") as tmp:
        if backend == "sqlite":
            files = Path(tmp)
            yield (
                f"sqlite:///{tmp}/reads.db",
                lambda: round(sum(p.stat().st_size for p in files.iterdir()) / 1e6),
            )
            return
        cluster = PgCluster.start()
        try:
            url = cluster.create_database()

            def size() -> int:
                engine = create_engine(url)
                with engine.connect() as conn:
                    found = conn.exec_driver_sql("SELECT pg_database_size(current_database())").scalar()
                engine.dispose()
                return round(int(found or 0) / 1e6)

            yield url, size
        finally:
            cluster.stop()


def measure(backend: str, *, targets: bool = False) -> dict[str, Any]:
    """Every figure of one backend. `targets`: issue 17's reads only, each cached and cache-missing, at
    automine and at one block a second (no OFFSET baseline), `TARGET_SECONDS` a run."""
    seconds = TARGET_SECONDS if targets else SECONDS
    results: dict[str, Any] = {
        "backend": backend, "mode": "targets" if targets else "full", "clients": api_bench.CLIENTS,
        "seconds_per_run": seconds,
    }  # fmt: skip
    with database(backend) as (url, size):
        results["build_load_1m"] = [_load()]
        info = build(url)
        results["build_load_1m"].append(_load())
        results.update(certificates=info["certificates"], build=info["build"], leaf_depth=info["leaf_depth"])
        results["db_mb"] = size()
        bare = api_bench.bare_server()
        try:
            results["bare_fastapi"] = _run(
                f"http://127.0.0.1:{bare.port}", lambda c, i: c.get("/bare"), bare.process.pid, seconds
            )
        finally:
            bare.stop()
        env = {"DATABASE_URL": url, "TIERFLOW_RPC_URL": "http://127.0.0.1:9", "TIERFLOW_ENVIRONMENT": "test"}
        server = api_bench.api_server(env, ["--without-indexer"])
        base = f"http://127.0.0.1:{server.port}"
        try:
            if targets:
                results["reads"] = _target_runs(url, base, info, server.process.pid)
            else:
                results["reads"] = _full_runs(url, base, info, server.process.pid)
            results["export"] = _export(
                base, {"X-API-Key": info["seeded"].tokens["auditor"]}, server.process.pid
            )
            print(f"[reads] export: {results['export']}", file=sys.stderr)
        finally:
            server.stop()
        results["bank_book"] = _book(url, info["seeded"].addresses["bank1"])
    return results


def _target_runs(url: str, base: str, info: dict[str, Any], pid: int) -> dict[str, Any]:
    reads = _target_reads(info)
    runs: dict[str, dict[str, Any]] = {name: {} for name in reads}
    a = info["seeded"].addresses
    # The busy chain's writes move certificates between two suppliers whom no read reads (supplier2 is
    # the holdings and auditor holder, core1 the obligor, bank1 the queue's financier).
    activity = {"from": a["supplier3"], "to": a["supplier4"]}
    for mode in ("automine", "1 block/s", "1 block/s with activity"):
        ticking = block_per_second(url, activity if "activity" in mode else None)
        with ticking if mode != "automine" else nullcontext():
            for name, kinds in reads.items():
                for kind, request in kinds.items():
                    runs[name][f"{kind}, {mode}"] = run = _run(base, request, pid, TARGET_SECONDS)
                    print(f"[reads] {name} ({kind}, {mode}): p99 {run['p99_ms']} ms", file=sys.stderr)
    return runs


def _full_runs(url: str, base: str, info: dict[str, Any], pid: int) -> dict[str, Any]:
    reads = _reads(base, info)
    runs: dict[str, Any] = {}
    for name, request in reads.items():
        runs[name] = {"automine": _run(base, request, pid)}
        print(f"[reads] {name}: {runs[name]['automine']}", file=sys.stderr)
    with block_per_second(url):
        for name in CACHED:
            runs[name]["1 block/s"] = _run(base, reads[name], pid)
    return runs


def table(runs: dict[str, Any]) -> str:
    return "\n".join(_table(results) for results in runs.values())


def _table(results: dict[str, Any]) -> str:
    build = results["build"]
    name = {"sqlite": "SQLite", "postgresql": "PostgreSQL"}[results["backend"]]
    lines = [
        f"## Reads at {results['certificates']:,} certificates ({name}, {results['db_mb']:,} MB)\n",
        f"Data set built in {build['total_s']} s ({build['bulk_certificates_s']} s for the certificates "
        f"by INSERT … SELECT, {build['tree_s']} s for the 10,000-token tree, leaf depth "
        f"{results['leaf_depth']}; load {'–'.join(map(str, results.get('build_load_1m', [])))}). "
        f"{results['clients']} clients, {results['seconds_per_run']:g} s a run, "
        'one uvicorn worker; "1 block/s": the checkpoint advances one empty block a second meanwhile.\n',
        "| read | mode | req/s | p50 ms | p99 ms | server CPU ms/request | load (1 min) |",
        "|---|---|---:|---:|---:|---:|---:|",
    ]
    bare = results["bare_fastapi"]
    rows = [("bare FastAPI endpoint (baseline)", "—", bare)]
    for name, modes in results["reads"].items():
        for mode, run in modes.items():
            # Full runs key a run by its block mode only; target runs by "cached|cache miss, mode".
            label = mode if "," in mode else f"{'cached' if name in CACHED else 'cache miss'}, {mode}"
            rows.append((name, label, run))
    for name, mode, run in rows:
        lines.append(
            f"| {name} | {mode} | {run['requests_per_s']:,.0f} | {run['p50_ms']} | {run['p99_ms']} | "
            f"{run.get('server_cpu_ms_per_request', '—')} | {'–'.join(map(str, run.get('load_1m', [])))} |"
        )
    export, book = results["export"], results["bank_book"]
    lines.append(
        f"\nCSV export of every certificate, alone: {export['rows']:,} rows ({export['mb']} MB) in "
        f"{export['seconds']} s ({export.get('server_cpu_s', '—')} s of server CPU; load "
        f"{'–'.join(map(str, export.get('load_1m', [])))}).\n\n"
        f"Bank book of {book['positions']:,} positions (dashboard): cold "
        f"{', '.join(str(x) for x in book['cold_ms'])} ms; at one block a second (data version unchanged) "
        f"p50 {book['warm_p50_ms']} ms, max {book['warm_max_ms']} ms over {book['warm_calls']} fills "
        f"(load {book.get('load_1m', '—')}).\n"
    )
    return "\n".join(lines)


def target_table(runs: dict[str, Any]) -> str:
    """Each figure against its target in issue 17, one line each, per backend."""
    lines = [
        "| backend | read | mode | p99 or time (target) | server CPU ms/request | load | met |",
        "|---|---|---|---:|---:|---:|---|",
    ]
    for results in runs.values():
        backend = results["backend"]

        def line(
            read: str,
            mode: str,
            value: float,
            target: float,
            unit: str,
            cpu: Any,
            load: Any,
            backend: str = backend,
        ) -> None:
            met = "yes" if value <= target else "**no**"
            lines.append(
                f"| {backend} | {read} | {mode} | {value:g} {unit} (≤ {target:g}) | {cpu} | {load} | {met} |"
            )

        load = "–".join(map(str, results["bare_fastapi"].get("load_1m", [])))
        bare = results["bare_fastapi"]
        lines.append(
            f"| {backend} | bare FastAPI endpoint | — | {bare['p99_ms']} ms (baseline) | "
            f"{bare.get('server_cpu_ms_per_request', '—')} | {load} | — |"
        )
        for name, modes in results["reads"].items():
            for mode, run in modes.items():
                line(
                    name, mode, run["p99_ms"], TARGET_P99_MS, "ms", run.get("server_cpu_ms_per_request", "—"),
                    "–".join(map(str, run.get("load_1m", []))),
                )  # fmt: skip
        export, book = results["export"], results["bank_book"]
        line(
            f"CSV export, {export['rows']:,} rows", "alone", export["seconds"], TARGET_EXPORT_S, "s",
            f"{export.get('server_cpu_s', '—')} s in all", "–".join(map(str, export.get("load_1m", []))),
        )  # fmt: skip
        line(
            f"bank book, {book['positions']:,} positions", "cold (worst of 3)", max(book["cold_ms"]),
            TARGET_BOOK_COLD_MS, "ms", "—", book.get("load_1m", "—"),
        )  # fmt: skip
        line(
            "bank book", "unchanged, 1 block/s (worst)", book["warm_max_ms"], TARGET_BOOK_UNCHANGED_MS, "ms",
            "—", book.get("load_1m", "—"),
        )  # fmt: skip
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    """`python bench/reads_bench.py [--targets]`: every figure (make bench), or the quick targets run."""
    targets = "--targets" in (sys.argv[1:] if argv is None else argv)
    started = time.perf_counter()
    RESULTS.mkdir(parents=True, exist_ok=True)
    backends = os.environ.get("TIERFLOW_BENCH_BACKENDS", "sqlite,postgresql").split(",")
    results = {backend: measure(backend, targets=targets) for backend in backends}
    # The targets run keeps its own file: the full run's reads.json stays what `make bench` measured.
    (RESULTS / ("reads-targets.json" if targets else "reads.json")).write_text(
        json.dumps(results, indent=1) + "\n"
    )
    print(table(results))
    print(target_table(results))
    print(
        f"\n[reads] {'targets' if targets else 'full'} run in {time.perf_counter() - started:.0f} s",
        file=sys.stderr,
    )


if __name__ == "__main__":
    main()
