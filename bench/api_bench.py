"""API benchmark: main reads over ≥100,000 certificates at 8 concurrent clients, and end-to-end writes.

Reads: the read models are filled with synthetic rows (what the indexer writes; the dashboard's
`synthetic` module), the API is served by uvicorn in a subprocess (one worker, as `tierflow serve`),
and 8 client threads in this process issue keep-alive HTTP requests. Measured per endpoint: requests/s
and p50/p99 latency, next to a bare FastAPI endpoint (a FastAPI app with one route returning a constant)
measured the same way in the same run. Target: read p99 ≤ 50 ms at 8 clients.

Writes: anvil + contracts + `tierflow serve` (indexer in process). Each write is a split-transfer through
the API that answers only once the indexer shows it (read-your-writes); next to it, the same transfers
sent directly with web3.py (sign locally, send, wait for the receipt) at the same concurrency: the
ceiling. Target: API writes ≥ 50% of the raw rate.
"""

from __future__ import annotations

import json
import os
import platform
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
from eth_account.signers.local import LocalAccount
from eth_utils.crypto import keccak

from tierflow.chain.devnet import free_port
from tierflow.testing.chain import Platform

RESULTS = Path(__file__).resolve().parent / "results"
CLIENTS = 8
READ_SECONDS = float(os.environ.get("TIERFLOW_BENCH_READ_SECONDS", "6"))
WRITES_PER_CLIENT = int(os.environ.get("TIERFLOW_BENCH_WRITES", "40"))
POSITIONS = 100_000
TREE_TOKENS = 1_000
TREE_SLOT = 900_001
BARE_APP = "bench_bare_app:app"


# -- servers ------------------------------------------------------------------------------------
def _wait_http(url: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if httpx.get(url, timeout=10.0).status_code < 600:
                return
        except httpx.HTTPError:
            time.sleep(0.1)
    raise RuntimeError(f"{url} did not come up")


class Server:
    """A subprocess serving an app with uvicorn (so the clients do not share its interpreter lock)."""

    def __init__(self, args: list[str], env: dict[str, str], port: int, ready_path: str) -> None:
        self.port = port
        self.process = subprocess.Popen(
            args, env={**os.environ, **env}, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        try:
            _wait_http(f"http://127.0.0.1:{port}{ready_path}")
        except BaseException:
            self.stop()
            raise

    def stop(self) -> None:
        self.process.send_signal(signal.SIGINT)
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def api_server(env: dict[str, str], extra: list[str] | None = None) -> Server:
    port = free_port()
    args = [sys.executable, "-m", "tierflow.cli", "serve", "--port", str(port), "--log-level", "WARNING"]
    return Server(args + (extra or []), env, port, "/health")


def bare_server() -> Server:
    port = free_port()
    args = [sys.executable, "-m", "uvicorn", "--app-dir", str(Path(__file__).parent), BARE_APP,
            "--port", str(port), "--log-level", "warning", "--no-access-log"]  # fmt: skip
    return Server(args, {}, port, "/bare")


# -- load -----------------------------------------------------------------------------------------
def load(
    base: str,
    make_request: Callable[[httpx.Client, int], httpx.Response],
    *,
    clients: int = CLIENTS,
    seconds: float | None = None,
    per_client: int | None = None,
) -> dict[str, Any]:
    """Run `clients` threads issuing requests; returns requests/s and latency percentiles [ms]."""
    latencies: list[list[float]] = [[] for _ in range(clients)]
    errors: list[str] = []
    stop_at = [0.0]

    def start_clock() -> None:
        stop_at[0] = time.perf_counter() + (seconds or 0)

    # The deadline is set by the barrier's action, once every worker has warmed its connection and
    # before any is released: set earlier, slow warm-up requests on a busy machine could use up the
    # whole run (no samples); set after the release, a worker could read the initial 0.0 and stop.
    barrier = threading.Barrier(clients + 1, action=start_clock)

    def worker(index: int) -> None:
        with httpx.Client(base_url=base, timeout=60.0) as client:
            make_request(client, index)  # warm the connection
            barrier.wait()
            n = 0
            while True:
                if per_client is not None and n >= per_client:
                    break
                if per_client is None and time.perf_counter() >= stop_at[0]:
                    break
                started = time.perf_counter()
                response = make_request(client, index)
                latencies[index].append(time.perf_counter() - started)
                if response.status_code != 200:
                    errors.append(f"{response.status_code} {response.text[:200]}")
                n += 1

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(clients)]
    for thread in threads:
        thread.start()
    barrier.wait()
    began = time.perf_counter()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - began
    flat = sorted(x for per in latencies for x in per)
    if errors:
        raise RuntimeError(f"{len(errors)} failed requests, first: {errors[0]}")
    return {
        "requests": len(flat),
        "requests_per_s": round(len(flat) / elapsed, 1),
        "p50_ms": round(statistics.median(flat) * 1e3, 2),
        "p99_ms": round(flat[min(len(flat) - 1, int(len(flat) * 0.99))] * 1e3, 2),
        "clients": clients,
    }


# -- reads ----------------------------------------------------------------------------------------
def seed_reads(url: str) -> dict[str, Any]:
    from tierflow.platform.db import make_engine
    from tierflow.testing import synthetic

    engine = make_engine(url)
    synthetic.create_tables(engine)
    seeded = synthetic.seed_people(engine)
    synthetic.seed_book(
        engine, seeded, requests=2_000, positions=POSITIONS, payables=2_000, supplier_holdings=500
    )
    synthetic.seed_tree(engine, seeded, slot_id=TREE_SLOT, tokens=TREE_TOKENS)
    from sqlalchemy import func, select

    from tierflow.platform.models import Certificate

    with engine.connect() as conn:
        total = int(conn.execute(select(func.count()).select_from(Certificate)).scalar_one())
    engine.dispose()
    return {"seeded": seeded, "certificates": total}


def measure_reads() -> dict[str, Any]:
    results: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="tierflow-api-bench-") as tmp:
        url = f"sqlite:///{tmp}/bench.db"
        started = time.perf_counter()
        info = seed_reads(url)
        seeded = info["seeded"]
        results["certificates"] = info["certificates"]
        results["seed_seconds"] = round(time.perf_counter() - started, 1)
        env = {"DATABASE_URL": url, "TIERFLOW_RPC_URL": "http://127.0.0.1:9", "TIERFLOW_ENVIRONMENT": "test"}
        bare = bare_server()
        try:
            results["bare_fastapi"] = load(
                f"http://127.0.0.1:{bare.port}", lambda c, i: c.get("/bare"), seconds=READ_SECONDS
            )
        finally:
            bare.stop()
        results.update(_read_endpoints(env, seeded))
        results["lineage_tokens"] = TREE_TOKENS
    return results


def _read_endpoints(env: dict[str, str], seeded: Any) -> dict[str, Any]:
    results: dict[str, Any] = {}
    server = api_server(env, ["--without-indexer"])
    base = f"http://127.0.0.1:{server.port}"
    supplier = {"X-API-Key": seeded.tokens["supplier1"]}
    bank = {"X-API-Key": seeded.tokens["bank1"]}
    core = {"X-API-Key": seeded.tokens["core1"]}
    try:
        results["api_me"] = load(base, lambda c, i: c.get("/v1/me", headers=supplier), seconds=READ_SECONDS)
        results["holdings"] = load(
            base, lambda c, i: c.get("/v1/supplier/holdings", headers=supplier), seconds=READ_SECONDS
        )
        results["lineage_1000"] = load(
            base, lambda c, i: c.get(f"/v1/payables/{TREE_SLOT}/lineage", headers=core), seconds=READ_SECONDS
        )
        results["bank_queue"] = load(
            base,
            lambda c, i: c.get("/v1/financier/requests", params={"status": "Requested"}, headers=bank),
            seconds=READ_SECONDS,
        )
        # The reads above are served from the response cache (keyed by data version) once warm (nothing is
        # written during the run). What a miss costs: every request a different page (the offset
        # walks 450 values, the cache keeps 32 bodies), and the whole tree built from the database.
        pages = [0] * CLIENTS

        def page(i: int) -> int:
            pages[i] = (pages[i] + 7) % 450
            return pages[i]

        results["holdings_uncached"] = load(
            base,
            lambda c, i: c.get("/v1/supplier/holdings", params={"offset": page(i)}, headers=supplier),
            seconds=READ_SECONDS,
        )
        results["bank_queue_uncached"] = load(
            base,
            lambda c, i: c.get(
                "/v1/financier/requests", params={"status": "Requested", "offset": page(i)}, headers=bank
            ),
            seconds=READ_SECONDS,
        )
        results["lineage_1000_uncached"] = load(
            base,
            lambda c, i: c.get(f"/v1/payables/{TREE_SLOT}/lineage", params={"offset": page(i)}, headers=core),
            clients=1,
            seconds=READ_SECONDS,
        )
        check = httpx.get(f"{base}/v1/payables/{TREE_SLOT}/lineage", headers=core).json()
        assert check["count"] == TREE_TOKENS, check["count"]
    finally:
        server.stop()
    return results


# -- writes ---------------------------------------------------------------------------------------
def measure_writes() -> dict[str, Any]:
    tf = Platform.start()
    # One participant per client, as in production (a participant's forwarded requests are ordered
    # by its forwarder nonce): the four demo suppliers and four more registered here.
    try:
        extras, suppliers = bench_suppliers(tf, CLIENTS)
        tokens = bench_certificates(tf, suppliers)

        # Raw ceiling: the same split-transfers sent directly by the holders with web3.py.
        from tierflow.chain.node import TxSender

        sender = TxSender(tf.w3, tf.decoder)
        count = [0]
        lock = threading.Lock()

        def raw(i: int) -> None:
            who = suppliers[i % CLIENTS]
            target = tf.address(suppliers[(i + 1) % CLIENTS])
            for _ in range(WRITES_PER_CLIENT):
                fn = tf.c.receivables.functions.transferValue(tokens[who][0], target, 1)
                sender.transact(fn, tf.account(who), gas=250_000)
                with lock:
                    count[0] += 1

        threads = [threading.Thread(target=raw, args=(i,)) for i in range(CLIENTS)]
        began = time.perf_counter()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        raw_seconds = time.perf_counter() - began
        raw_result = {
            "transactions": count[0],
            "tx_per_s": round(count[0] / raw_seconds, 1),
            "clients": CLIENTS,
        }

        with served_api(tf, extras, suppliers) as (base, keys):
            visible = [0]

            def write(client: httpx.Client, i: int) -> httpx.Response:
                who = suppliers[i % CLIENTS]
                response = client.post(
                    f"/v1/certificates/{tokens[who][1]}/transfer",
                    headers={"X-API-Key": keys[who]},
                    json={"to": tf.address(suppliers[(i + 1) % CLIENTS]), "value": 1},
                )
                if response.status_code == 200 and response.json()["indexed"]:
                    with lock:
                        visible[0] += 1
                return response

            api_result = load(base, write, per_client=WRITES_PER_CLIENT)
            api_result["visible_in_read_model"] = visible[0] - CLIENTS  # minus the warm-up writes
            api_result["writes_per_s"] = api_result.pop("requests_per_s")
    finally:
        tf.stop()
    return {
        "raw_web3": raw_result,
        "api": api_result,
        "api_vs_raw": round(api_result["writes_per_s"] / raw_result["tx_per_s"], 3),
    }


def bench_suppliers(tf: Platform, count: int) -> tuple[dict[str, LocalAccount], list[str]]:
    """`count` supplier names: the four demo suppliers and extra accounts registered here (one
    participant per client, as in production: a participant's forwarded requests are ordered by its
    forwarder nonce)."""
    extras = {f"extra{i}": tf.extra_account(i) for i in range(count - 4)}
    tf.accounts.update(extras)
    for name, account in extras.items():
        tf.transact(tf.c.registry.functions.register(account.address, 2, keccak(text=name)), "operator")
    return extras, ["supplier1", "supplier2", "supplier3", "supplier4", *extras]


def bench_certificates(tf: Platform, suppliers: list[str]) -> dict[str, list[int]]:
    """Setup straight on chain: a line, and per supplier two accepted certificates (one for the raw run,
    one for the API run)."""
    receipt = tf.transact(
        tf.c.credit_lines.functions.grant(tf.address("core1"), 10**15, tf.now() + 300 * 86400), "bank1"
    )
    line = tf.events(receipt, tf.c.credit_lines, "CreditLineGranted")[0]["lineId"]
    tokens: dict[str, list[int]] = {}
    for n, who in enumerate(suppliers * 2):
        receipt = tf.transact(
            tf.c.receivables.functions.issue(
                tf.address(who), 10**12, tf.now() + 100 * 86400, line, [keccak(text=f"bench-invoice-{n}")]
            ),
            "core1",
        )
        issued = tf.events(receipt, tf.c.receivables, "CertificateIssued")[0]
        tf.transact(tf.c.receivables.functions.accept(issued["slotId"]), who)
        tokens.setdefault(who, []).append(int(issued["tokenId"]))
    return tokens


# The process serving each base URL `served_api` yields: benchmarks read its CPU time (/proc).
SERVER_PIDS: dict[str, int] = {}


def server_cpu_seconds(base: str) -> float:
    """User + system CPU seconds so far of the server `served_api` runs at `base` (Linux /proc)."""
    fields = Path(f"/proc/{SERVER_PIDS[base]}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@contextmanager
def served_api(
    tf: Platform, extras: dict[str, LocalAccount], suppliers: list[str], database_url: str | None = None
) -> Iterator[tuple[str, dict[str, str]]]:
    """`tierflow serve` (indexer in process; SQLite, or the empty database at `database_url`) over `tf`'s
    chain, caught up with it: its base URL and an API key per supplier."""
    from tierflow.chain.deploy import write_deployment
    from tierflow.platform.services.seed import demo_api_key

    with tempfile.TemporaryDirectory(prefix="tierflow-api-bench-w-") as tmp:
        deployments = Path(tmp) / "deployments"
        write_deployment(tf.deployment, deployments)
        env = {
            "DATABASE_URL": database_url or f"sqlite:///{tmp}/writes.db",
            "TIERFLOW_RPC_URL": tf.devnet.url,
            "TIERFLOW_DEPLOYMENTS_DIR": str(deployments),
            "TIERFLOW_DATA_DIR": tmp,
            "TIERFLOW_ENVIRONMENT": "development",
        }
        _seed_extras(env["DATABASE_URL"], extras)
        server = api_server(env, ["--demo-keys"])
        base = f"http://127.0.0.1:{server.port}"
        SERVER_PIDS[base] = server.process.pid
        try:
            _wait_indexed(base, tf.w3.eth.block_number)  # the setup indexed before anything is timed
            yield base, {w: _extra_key(w) if w in extras else demo_api_key(w) for w in suppliers}
        finally:
            server.stop()


def _extra_key(name: str) -> str:
    return f"tf_{name}_bench-{name}-key-not-secret"


def _seed_extras(url: str, extras: dict[str, Any]) -> None:
    """Directory entries (custodial, with API keys) for the extra benchmark participants."""
    from sqlmodel import Session

    from tierflow.platform.db import make_engine
    from tierflow.platform.migrate import upgrade
    from tierflow.platform.services.context import IndexerLink, ServiceContext
    from tierflow.platform.services.participants import ensure_directory_entry
    from tierflow.settings import Settings

    engine = make_engine(url)
    upgrade(engine)
    ctx = ServiceContext(
        settings=Settings(environment="development"), engine=engine, link=IndexerLink(engine)
    )
    with Session(engine) as session:
        for n, (name, account) in enumerate(extras.items()):
            ensure_directory_entry(
                ctx=ctx, session=session, account=account, legal_name=f"Bench Supplier {n}",
                legal_id=f"91330000BENCH{n:05d}", roles=2, api_key=_extra_key(name),
            )  # fmt: skip
    engine.dispose()


def _wait_indexed(base: str, block: int, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        from tierflow.platform.services.seed import demo_api_key

        # The details (indexed block) are the operator's; anonymous callers get the status only.
        health = httpx.get(f"{base}/health", headers={"X-API-Key": demo_api_key("operator")}).json()
        indexed = health["indexer"]["indexed_block"]
        if indexed is not None and indexed >= block:
            return
        time.sleep(0.2)
    raise RuntimeError("the indexer did not catch up")


# -- report ---------------------------------------------------------------------------------------
def table(results: dict[str, Any]) -> str:
    reads = results["reads"]
    lines = [
        f"Reads at {CLIENTS} concurrent clients over {reads['certificates']:,} certificates "
        f"(SQLite, one uvicorn worker; the 8 client threads share the machine's cores):",
        "",
        "| endpoint | req/s | p50 ms | p99 ms |",
        "|---|---:|---:|---:|",
    ]
    # The first five rows are served from the response cache (keyed by data version) once warm (no writes
    # happen during the run); the last three show what a miss costs.
    names = {
        "bare_fastapi": "bare FastAPI endpoint (same run)",
        "api_me": "GET /v1/me (auth + one row)",
        "holdings": "GET /v1/supplier/holdings (page of 50)",
        "lineage_1000": f"GET /v1/payables/{{id}}/lineage ({reads.get('lineage_tokens')} tokens)",
        "bank_queue": "GET /v1/financier/requests?status=Requested (page of 50)",
        "holdings_uncached": "holdings, every request another page (cache misses)",
        "bank_queue_uncached": "bank queue, every request another page (cache misses)",
        "lineage_1000_uncached": "lineage of 551-1,000 tokens, rebuilt every request (1 client, not 8)",
    }
    for key, name in names.items():
        r = reads.get(key)
        if r is None:
            continue
        lines.append(f"| {name} | {r['requests_per_s']:,.0f} | {r['p50_ms']:.1f} | {r['p99_ms']:.1f} |")
    writes = results["writes"]
    lines += [
        "",
        f"Writes at {CLIENTS} concurrent clients (split-transfer of 1 fen; anvil automine):",
        "",
        "| path | writes/s | p50 ms | p99 ms |",
        "|---|---:|---:|---:|",
        f"| raw web3.py (sign, send, wait for receipt) | {writes['raw_web3']['tx_per_s']:,.0f} | | |",
        f"| API: relay via forwarder, wait for the indexer | {writes['api']['writes_per_s']:,.0f} | "
        f"{writes['api']['p50_ms']:.1f} | {writes['api']['p99_ms']:.1f} |",
        "",
        f"API writes / raw: {writes['api_vs_raw']:.0%}",
    ]
    return "\n".join(lines)


def main() -> None:
    RESULTS.mkdir(parents=True, exist_ok=True)
    results: dict[str, Any] = {
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}",
        "run_at": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
    }
    results["reads"] = measure_reads()
    results["writes"] = measure_writes()
    (RESULTS / "api.json").write_text(json.dumps(results, indent=1) + "\n")
    print(table(results))


if __name__ == "__main__":
    main()
