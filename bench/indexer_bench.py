"""Indexer benchmark: backfill events/s on SQLite and PostgreSQL next to the raw fetch-and-decode rate,
and the lag behind the head under a sustained transaction load. Writes bench/results/indexer.json.

    .venv/bin/python bench/indexer_bench.py [--events 50000] [--lag-seconds 15] [--no-postgres]
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import shutil
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from hexbytes import HexBytes
from web3 import Web3

from tierflow.chain.abi import LogDecoder
from tierflow.chain.jsonrpc import Rpc
from tierflow.platform.db import make_engine
from tierflow.platform.indexer.runner import Indexer, contracts_of
from tierflow.platform.migrate import upgrade
from tierflow.platform.pgtemp import PgCluster
from tierflow.testing.chain import Platform
from tierflow.testing.loadgen import LoadGenerator, rpc

RESULTS = Path(__file__).resolve().parent / "results"
INVOICES = 32  # per issue: 32 DocumentRegistered + CreditLineDrawn + CertificateIssued


def build_chain(tf: Platform, events: int) -> dict[str, int]:
    """≥ `events` events: 60% from issues backed by 32 invoices each, 40% one-event splits and transfers."""
    load = LoadGenerator(tf)
    first = tf.w3.eth.block_number + 1
    root = load.payable()
    load.cash("supplier1", 10**12)
    issues = (events * 6 // 10) // (INVOICES + 2) + 1
    singles = events - issues * (INVOICES + 2) + 1
    started = time.perf_counter()
    load.send(load.issues(issues, INVOICES), per_block=12)
    last = load.send(load.mixed(root, singles), per_block=200)
    return {
        "first_block": first,
        "last_block": last,
        "build_seconds": round(time.perf_counter() - started, 1),
    }


def _windows(first: int, last: int, size: int) -> list[tuple[int, int]]:
    return [(start, min(start + size - 1, last)) for start in range(first, last + 1, size)]


def raw_web3(w3: Web3, deployment: Any, first: int, last: int, size: int) -> tuple[int, float]:
    """The ceiling as web3.py users write it: eth.get_logs per window, then ContractEvent.process_log."""
    contracts = {name: deployment.contract(w3, name) for name in deployment.contracts}
    by_topic: dict[tuple[str, bytes], Any] = {}
    for contract in contracts.values():
        for event in contract.all_events():
            by_topic[(contract.address, bytes(HexBytes(event.topic)))] = event
    addresses = [contract.address for contract in contracts.values()]
    count, started = 0, time.perf_counter()
    for start, end in _windows(first, last, size):
        for log in w3.eth.get_logs({"fromBlock": start, "toBlock": end, "address": addresses}):
            event = by_topic.get((log["address"], bytes(log["topics"][0])))
            if event is not None:
                event.process_log(log)
                count += 1
    return count, time.perf_counter() - started


def raw_tierflow(w3: Web3, deployment: Any, first: int, last: int, size: int) -> tuple[int, float]:
    """The indexer's own fetch (raw JSON-RPC) and decoder, without writing anything."""
    decoder, node = LogDecoder(contracts_of(deployment)), Rpc(w3)
    count, started = 0, time.perf_counter()
    for start, end in _windows(first, last, size):
        for log in node.logs(start, end, decoder.addresses):
            count += decoder.decode(log) is not None
    return count, time.perf_counter() - started


def backfill(url: str, w3: Web3, deployment: Any) -> tuple[int, float, Indexer]:
    engine = make_engine(url)
    upgrade(engine)
    indexer = Indexer.for_deployment(engine, w3, deployment)
    started = time.perf_counter()
    count = indexer.catch_up()
    return count, time.perf_counter() - started, indexer


def _send(url: str, signed: list[bytes], seconds: float, result: Any) -> None:
    """Child process: send pre-signed transactions one by one for `seconds` (its own GIL and socket)."""
    w3 = Web3(Web3.HTTPProvider(url))
    sent, started = 0, time.perf_counter()
    for raw in signed:
        rpc(w3, "eth_sendRawTransaction", "0x" + raw.hex())
        sent += 1
        if time.perf_counter() - started > seconds:
            break
    result.put((sent, time.perf_counter() - started))


def lag_under_load(tf: Platform, url: str, seconds: float, interval_mining: bool) -> dict[str, Any]:
    """A second process sends pre-signed one-event transactions as fast as it can for `seconds` while the
    indexer follows; head − indexed block is sampled every 10 ms. Automine puts every transaction in its
    own block; interval mining (1 s blocks) is the rhythm of a permissioned chain."""
    load = LoadGenerator(tf)
    root = load.payable("supplier2")
    engine = make_engine(url)
    upgrade(engine)
    indexer = Indexer.for_deployment(engine, tf.w3, tf.deployment)
    indexer.catch_up()
    signed = list(load.mixed(root, int(seconds * 600), holder="supplier2"))
    stop, samples = threading.Event(), []
    follower = threading.Thread(target=indexer.follow, kwargs={"poll_interval": 0.01, "stop": stop})
    node = Rpc(tf.w3)
    if interval_mining:
        rpc(tf.w3, "evm_setAutomine", False)
        rpc(tf.w3, "evm_setIntervalMining", 1)
    follower.start()
    context = multiprocessing.get_context("spawn")
    result = context.Queue()
    sender = context.Process(target=_send, args=(tf.devnet.url, signed, seconds, result))
    first_head = node.block_number()
    sender.start()
    try:
        while sender.is_alive():
            samples.append(max(0, node.block_number() - indexer.metrics.indexed_block))
            time.sleep(0.01)
        sent, elapsed = result.get(timeout=30)
        sender.join()
        blocks = node.block_number() - first_head
    finally:
        if interval_mining:
            rpc(tf.w3, "evm_setIntervalMining", 0)
            rpc(tf.w3, "evm_setAutomine", True)
        deadline = time.monotonic() + 60
        while indexer.metrics.indexed_block < node.block_number() and time.monotonic() < deadline:
            time.sleep(0.05)
        stop.set()
        follower.join()
        engine.dispose()
    samples.sort()
    return {
        "mode": "interval mining, 1 s blocks" if interval_mining else "automine (1 tx per block)",
        "tx_per_s": round(sent / elapsed, 1),
        "blocks_per_s": round(blocks / elapsed, 2),
        "lag_blocks_p50": samples[len(samples) // 2] if samples else 0,
        "lag_blocks_p95": samples[int(len(samples) * 0.95)] if samples else 0,
        "lag_blocks_max": samples[-1] if samples else 0,
        "lag_seconds_p95": round(samples[int(len(samples) * 0.95)] / max(blocks / elapsed, 1e-9), 3)
        if samples
        else 0.0,
        "samples": len(samples),
    }


def measure(events: int = 50_000, lag_seconds: float = 15.0, postgres: bool = True) -> dict[str, Any]:
    tf = Platform.start()
    cluster = PgCluster.start() if postgres else None
    workdir = Path(tempfile.mkdtemp(prefix="tierflow-bench-"))
    try:
        figures: dict[str, Any] = {"chain": build_chain(tf, events)}
        first, last = tf.deployment.deploy_block, tf.w3.eth.block_number
        total, _ = raw_tierflow(tf.w3, tf.deployment, first, last, 10_000)
        # the windows the adaptive indexer settles on: about 2,000 logs each
        size = max(1, (last - first + 1) * 2_000 // max(total, 1))
        figures["chain"].update(events=total, blocks=last - first + 1, window_blocks=size)
        count, seconds = raw_web3(tf.w3, tf.deployment, first, last, size)
        figures["raw_web3"] = {
            "events": count,
            "seconds": round(seconds, 2),
            "events_per_s": round(count / seconds),
        }
        count, seconds = raw_tierflow(tf.w3, tf.deployment, first, last, size)
        figures["raw_tierflow"] = {
            "events": count,
            "seconds": round(seconds, 2),
            "events_per_s": round(count / seconds),
        }
        databases = {"sqlite": f"sqlite:///{workdir / 'bench.db'}"}
        if cluster is not None:
            databases["postgresql"] = cluster.create_database()
        for name, url in databases.items():
            count, seconds, _ = backfill(url, tf.w3, tf.deployment)
            rate = count / seconds
            figures[f"backfill_{name}"] = {
                "events": count,
                "seconds": round(seconds, 2),
                "events_per_s": round(rate),
                "vs_raw_web3": round(rate / figures["raw_web3"]["events_per_s"], 2),
                "vs_raw_tierflow": round(rate / figures["raw_tierflow"]["events_per_s"], 2),
            }
        figures["lag"] = {}
        for name, url in databases.items():
            for interval in (False, True):
                fresh = url if name == "sqlite" else cluster.create_database()  # type: ignore[union-attr]
                if name == "sqlite":
                    fresh = f"sqlite:///{workdir / f'lag-{interval}.db'}"
                key = f"{name}_{'interval' if interval else 'automine'}"
                # A chain of its own per run: a run under interval mining leaves transactions in the
                # pool and the base fee raised, and the next run's senders then collided with their
                # nonces or waited behind a gap for ever.
                own = Platform.start()
                try:
                    figures["lag"][key] = lag_under_load(own, fresh, lag_seconds, interval)
                finally:
                    own.stop()
        return figures
    finally:
        if cluster is not None:
            cluster.stop()
        tf.stop()
        shutil.rmtree(workdir, ignore_errors=True)


def markdown(figures: dict[str, Any]) -> str:
    chain = figures["chain"]
    ceiling = figures["raw_web3"]["events_per_s"]
    lines = [
        "## Indexer",
        "",
        f"Backfill of {chain['events']:,} events in {chain['blocks']:,} blocks "
        f"(windows of {chain['window_blocks']} blocks).",
        "",
        "| what | events/s | vs web3.py fetch+decode |",
        "|---|---:|---:|",
        f"| web3.py `get_logs` + `process_log`, no writes (the ceiling) | {ceiling:,} | 1.00 |",
        f"| Tierflow raw JSON-RPC + word decoder, no writes | {figures['raw_tierflow']['events_per_s']:,} | "
        f"{figures['raw_tierflow']['events_per_s'] / ceiling:.2f} |",
    ]
    for name in ("sqlite", "postgresql"):
        if f"backfill_{name}" in figures:
            row = figures[f"backfill_{name}"]
            lines.append(
                f"| backfill into {name} (handlers, raw events, checkpoint) | {row['events_per_s']:,} | "
                f"{row['vs_raw_web3']:.2f} |"
            )
    lines += [
        "",
        "| lag under sustained load | tx/s | blocks/s | lag p50 | p95 | max (blocks) |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for key, lag in figures["lag"].items():
        lines.append(
            f"| {key.split('_')[0]}, {lag['mode']} | {lag['tx_per_s']} | {lag['blocks_per_s']} | "
            f"{lag['lag_blocks_p50']} | {lag['lag_blocks_p95']} | {lag['lag_blocks_max']} |"
        )
    return "\n".join(lines) + "\n"


def main() -> str:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=50_000)
    parser.add_argument("--lag-seconds", type=float, default=15.0)
    parser.add_argument("--no-postgres", action="store_true")
    args, _ = parser.parse_known_args()
    figures = measure(args.events, args.lag_seconds, not args.no_postgres)
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "indexer.json").write_text(json.dumps(figures, indent=1) + "\n")
    text = markdown(figures)
    print(text)
    return text


if __name__ == "__main__":
    main()
