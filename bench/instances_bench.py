"""Writes per block through several API instances (issue 16): N `tierflow serve` processes on one PostgreSQL.

Per block time and instance count this runs, on one anvil mining a block every 1 (or 2) s: the raw pipelined
baseline (`block_times.raw_pipelined`: pre-signed forward requests, what the chain carries), then N API
processes (`tierflow serve --without-indexer`, each on its own port as on its own host, one relayer key
leased each) beside ONE `tierflow index` process, all on one PostgreSQL, with 128 concurrent HTTP clients
spread round-robin over the instances: first all writing for ONE participant (its forwarder nonces are
leased to one instance at a time, so the instances take turns), then spread over 8 participants. The
one-instance figure is the same run's N = 1. Beside each figure: the CPU seconds each process spent
(instances, indexer, PostgreSQL's server processes, anvil) — the machine has 2 cores, so what the processes
used tells whether CPU caps the figure — and the 1-minute load average.

Run alone: `.venv/bin/python bench/instances_bench.py` (adds the key "instances" to
bench/results/writes.json); `bench/block_times.py` calls `measure_all` at its end.
TIERFLOW_BENCH_INSTANCE_BLOCK_TIMES (default "1") and TIERFLOW_BENCH_INSTANCE_COUNTS (default "1,2,3")
choose the runs.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from eth_account import Account

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))

import api_bench  # noqa: E402
import block_times  # noqa: E402

from tierflow.chain.accounts import dev_account  # noqa: E402
from tierflow.chain.devnet import free_port  # noqa: E402
from tierflow.chain.gateway import ChainGateway  # noqa: E402
from tierflow.platform.pgtemp import PgCluster  # noqa: E402
from tierflow.settings import DEV_RELAYER_KEYS  # noqa: E402
from tierflow.testing.chain import Platform  # noqa: E402

CLIENTS, WRITES_PER_CLIENT = block_times.CLIENTS, block_times.WRITES_PER_CLIENT  # its client loop's
PARTICIPANTS = 8


def _cpu_seconds(pid: int) -> float:
    """User + system CPU seconds so far of process `pid` (Linux /proc)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except FileNotFoundError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _children(pid: int) -> list[int]:
    """`pid`'s child processes (PostgreSQL's backends under its postmaster)."""
    try:
        found = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True).stdout.split()
    except FileNotFoundError:
        return []
    return [int(n) for n in found]


class _Processes:
    """CPU seconds of named processes between `start` and `stop` (PostgreSQL: postmaster + backends)."""

    def __init__(self, named: dict[str, int], postgres: int | None) -> None:
        self.named, self.postgres = named, postgres
        self.before: dict[str, float] = {}

    def _now(self) -> dict[str, float]:
        now = {name: _cpu_seconds(pid) for name, pid in self.named.items()}
        if self.postgres is not None:
            now["postgres"] = _cpu_seconds(self.postgres) + sum(
                _cpu_seconds(child) for child in _children(self.postgres)
            )
        return now

    def start(self) -> None:
        self.before = self._now()

    def stop(self) -> dict[str, float]:
        # PostgreSQL backends that ended meanwhile are not counted (the instances' pools keep theirs).
        return {name: round(value - self.before.get(name, 0.0), 2) for name, value in self._now().items()}


@contextmanager
def served_instances(
    tf: Platform, extras: dict[str, Any], suppliers: list[str], database_url: str, count: int
) -> Iterator[tuple[list[str], dict[str, str], dict[str, int]]]:
    """`count` `tierflow serve --without-indexer` processes and one `tierflow index` on `database_url`:
    their base URLs, an API key per supplier, and the pid of every process by name."""
    from tierflow.chain.deploy import write_deployment
    from tierflow.platform.services.seed import demo_api_key

    with tempfile.TemporaryDirectory(prefix="tierflow-instances-bench-") as tmp:
        deployments = Path(tmp) / "deployments"
        write_deployment(tf.deployment, deployments)
        env = {
            "DATABASE_URL": database_url,
            "TIERFLOW_RPC_URL": tf.devnet.url,
            "TIERFLOW_DEPLOYMENTS_DIR": str(deployments),
            "TIERFLOW_DATA_DIR": tmp,
            "TIERFLOW_ENVIRONMENT": "development",
            "TIERFLOW_RELAYERS_PER_INSTANCE": str(max(1, len(DEV_RELAYER_KEYS) // max(count, 1))),
        }
        api_bench._seed_extras(database_url, extras)
        servers: list[api_bench.Server] = []
        indexer: subprocess.Popen[bytes] | None = None
        try:
            # The first instance seeds the demo directory (once: not raced by the others).
            for index in range(count):
                port = free_port()
                args = [sys.executable, "-m", "tierflow.cli", "serve", "--port", str(port),
                        "--log-level", "WARNING", "--without-indexer"]  # fmt: skip
                servers.append(
                    api_bench.Server(args + (["--demo-keys"] if index == 0 else []), env, port, "/health")
                )
            indexer = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "tierflow.cli",
                    "index",
                    "--poll-interval",
                    "0.05",
                    "--log-level",
                    "WARNING",
                ],
                env={**os.environ, **env},
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            bases = [f"http://127.0.0.1:{server.port}" for server in servers]
            api_bench._wait_indexed(bases[-1], tf.w3.eth.block_number, timeout=180)
            pids = {f"instance {n + 1}": server.process.pid for n, server in enumerate(servers)}
            pids["indexer"] = indexer.pid
            keys = {w: api_bench._extra_key(w) if w in extras else demo_api_key(w) for w in suppliers}
            yield bases, keys, pids
        finally:
            for server in servers:
                server.stop()
            if indexer is not None:
                indexer.terminate()
                try:
                    indexer.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    indexer.kill()


def spread_writes(
    tf: Platform,
    bases: list[str],
    keys: dict[str, str],
    tokens: dict[str, list[int]],
    participants: list[str],
    processes: _Processes,
    sticky: bool = False,
) -> dict[str, Any]:
    """CLIENTS HTTP clients, client i writing for participant i mod P (P = 1: all for one participant),
    WRITES_PER_CLIENT split-transfers each, on instance i mod N (every participant through every instance
    at once), or with `sticky` on instance p mod N for participant p (a balancer with affinity on the
    API key: each participant's forwarder lease stays with one instance)."""
    latencies, blocks, errors, seconds = block_times.transfer_clients(
        tf, keys, tokens, participants,
        lambda i: bases[(i % len(participants) if sticky else i) % len(bases)], processes.start,
    )  # fmt: skip
    cpu = processes.stop()
    every = sorted(x for values in latencies.values() for x in values)
    writes = CLIENTS * WRITES_PER_CLIENT
    return {
        "writes": writes,
        "succeeded": len(blocks),
        "failed": len(errors),
        "first_error": errors[0] if errors else None,
        "seconds": round(seconds, 1),
        "writes_per_s": round(len(blocks) / seconds, 1),
        "writes_per_block": round(len(blocks) / block_times._span(blocks), 1) if blocks else 0.0,
        "p50_s": round(statistics.median(every), 2) if every else None,
        "p99_s": round(every[min(len(every) - 1, int(len(every) * 0.99))], 2) if every else None,
        "p50_s_per_instance": [
            round(statistics.median(latencies[b]), 2) if latencies.get(b) else None for b in bases
        ],
        "instances": len(bases),
        "clients": CLIENTS,
        "participants": len(participants),
        "routing": "by participant" if sticky else "round robin",
        # [s] CPU per process over the run, and per write: what each used of the machine's 2 cores
        "cpu_s": cpu,
        "cpu_ms_per_write": {
            name: round(value * 1e3 / max(1, len(blocks)), 2) for name, value in cpu.items()
        },
        "cores_used": round(sum(cpu.values()) / seconds, 2),
        "load_avg": block_times._load(),
    }


def measure(block_time: int, counts: list[int]) -> dict[str, Any]:
    """Raw baselines, then for each instance count in `counts` one participant and 8 participants."""
    tf = Platform.start()
    cluster = PgCluster.start()
    try:
        extras, suppliers = api_bench.bench_suppliers(tf, PARTICIPANTS)
        tokens = api_bench.bench_certificates(tf, suppliers)
        relayers = [Account.from_key(key) for key in DEV_RELAYER_KEYS]
        gateway = ChainGateway(tf.w3, tf.deployment, dev_account(0), relayers)
        gateway.receipt_timeout = 600.0
        block_times._interval_mining(tf, block_time)
        figures: dict[str, Any] = {"block_time_s": block_time}
        figures["raw_one_signer"] = block_times.raw_pipelined(tf, gateway, ["supplier1"], tokens)
        figures["raw_8_signers"] = block_times.raw_pipelined(tf, gateway, suppliers, tokens)
        for count in counts:
            with served_instances(tf, extras, suppliers, cluster.create_database(), count) as (
                bases,
                keys,
                pids,
            ):
                anvil = tf.devnet.process.pid if tf.devnet.process is not None else 0
                processes = _Processes({**pids, "anvil": anvil}, _postmaster(cluster))
                run = {
                    "one_participant": spread_writes(tf, bases, keys, tokens, ["supplier1"], processes),
                    "8_participants": spread_writes(tf, bases, keys, tokens, suppliers, processes),
                }
                if count > 1:
                    run["8_participants_sticky"] = spread_writes(
                        tf, bases, keys, tokens, suppliers, processes, sticky=True
                    )
            for case, result in run.items():
                raw = figures["raw_one_signer" if case == "one_participant" else "raw_8_signers"]
                if result["writes_per_block"] and raw["writes_per_block"]:
                    result["vs_raw"] = round(result["writes_per_block"] / raw["writes_per_block"], 3)
            figures[f"{count}_instances"] = run
        return figures
    finally:
        cluster.stop()
        tf.stop()


def _postmaster(cluster: PgCluster) -> int | None:
    pidfile = cluster.base / "data" / "postmaster.pid"
    if not pidfile.exists():
        return None
    return int(pidfile.read_text().split()[0])


def measure_all() -> dict[str, Any]:
    block_seconds = [int(n) for n in os.environ.get("TIERFLOW_BENCH_INSTANCE_BLOCK_TIMES", "1").split(",")]
    counts = [int(n) for n in os.environ.get("TIERFLOW_BENCH_INSTANCE_COUNTS", "1,2,3").split(",")]
    return {f"block_time_{seconds}s": measure(seconds, counts) for seconds in block_seconds}


def table(results: dict[str, Any]) -> str:
    """The markdown lines of `results` (as in writes.json's "instances")."""
    lines = [
        "| block time | instances | case | per block | writes/s | p50 s (per instance) | failed | of raw | "
        "CPU ms per write (per process) | cores used | load |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for run in results.values():
        for key, figures in run.items():
            if not key.endswith("_instances"):
                continue
            for case, f in figures.items():
                cpu = ", ".join(f"{name} {ms}" for name, ms in f["cpu_ms_per_write"].items())
                per_instance = "/".join(str(p) for p in f["p50_s_per_instance"])
                lines.append(
                    f"| {run['block_time_s']} s | {f['instances']} | "
                    f"{case.replace('_', ' ').replace(' sticky', '')} ({f['routing']}) | "
                    f"{f['writes_per_block']} | {f['writes_per_s']} | {f['p50_s']} ({per_instance}) | "
                    f"{f['failed']} | {f.get('vs_raw', 0):.0%} | {cpu} | {f['cores_used']} | "
                    f"{f['load_avg']} |"
                )
        for raw in ("raw_one_signer", "raw_8_signers"):
            f = run[raw]
            lines.append(
                f"| {run['block_time_s']} s | raw | {raw.replace('_', ' ')} | {f['writes_per_block']} | "
                f"{f['writes_per_s']} | | | | | | {f['load_avg']} |"
            )
    return "\n".join(lines) + "\n"


def main() -> None:
    results = measure_all()
    path = block_times.RESULTS / "writes.json"
    stored = json.loads(path.read_text()) if path.exists() else {}
    stored["instances"] = results
    path.parent.mkdir(exist_ok=True)
    path.write_text(json.dumps(stored, indent=1) + "\n")
    print(table(results))


if __name__ == "__main__":
    main()
