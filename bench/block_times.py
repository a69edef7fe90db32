"""Writes per block on real block times (anvil --block-time 1 and 2): the API beside raw pipelined calls.

A consortium chain (Besu QBFT, Quorum IBFT) seals a block every 1–2 s. Per block time this runs, on one
chain: the raw pipelined baseline (pre-signed forward requests with consecutive forwarder nonces, sent
through one relayer account without waiting: what the chain can carry), then the API (`tierflow serve`,
indexer in process) with 128 concurrent HTTP clients writing split-transfers for ONE participant, and
with 128 clients spread over 8 participants. Writes per block = writes / blocks their transactions
span; every API write answers only once the indexer shows it (read-your-writes).

Run alone: `.venv/bin/python bench/block_times.py` (writes bench/results/writes.json).
"""

from __future__ import annotations

import json
import statistics
import sys
import threading
import time
from pathlib import Path
from typing import Any

import httpx
from eth_account import Account

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))

import api_bench  # noqa: E402

from tierflow.chain.accounts import dev_account  # noqa: E402
from tierflow.chain.gateway import CUSTODIAL_DEADLINE_S, INNER_GAS_MARGIN, Call, ChainGateway  # noqa: E402
from tierflow.settings import DEV_RELAYER_KEYS  # noqa: E402
from tierflow.testing.chain import Platform  # noqa: E402

RESULTS = BENCH / "results"
CLIENTS = 128
WRITES_PER_CLIENT = 3
RAW_REQUESTS = 400
PARTICIPANTS = 8


def _interval_mining(tf: Platform, seconds: int) -> None:
    tf.w3.provider.make_request("evm_setAutomine", [False])  # type: ignore[arg-type]
    tf.w3.provider.make_request("evm_setIntervalMining", [seconds])  # type: ignore[arg-type]


def _span(blocks: list[int]) -> int:
    return max(blocks) - min(blocks) + 1


def raw_pipelined(
    tf: Platform, gateway: ChainGateway, signers: list[str], tokens: dict[str, list[int]]
) -> dict[str, Any]:
    """Forward requests signed in advance, consecutive nonces per signer, each signer through one relayer,
    sent back to back without waiting (no simulation, no API): the chain's ceiling for these calls."""
    to = tf.address("supplier1")
    prepared: list[tuple[Any, bytes, int]] = []
    deadline = gateway.chain_time() + CUSTODIAL_DEADLINE_S
    per_signer = RAW_REQUESTS // len(signers)
    for index, who in enumerate(signers):
        account = tf.account(who)
        start = gateway.forwarder_nonce(account.address, "pending")
        target, data = gateway.calldata(Call("Receivables", "transferValue", (tokens[who][0], to, 1)))
        relayer = gateway.relayers[index % len(gateway.relayers)]
        for n in range(per_signer):
            message = {
                "from": account.address, "to": target, "value": 0, "gas": 250_000 + INNER_GAS_MARGIN,
                "nonce": start + n, "deadline": deadline, "data": "0x" + data.hex(),
            }  # fmt: skip
            execute, gas = gateway._execute_data(message, gateway.sign(account, gateway.typed_data(message)))
            prepared.append((relayer, execute, gas))
    # interleave the signers as concurrent senders would
    order = sorted(range(len(prepared)), key=lambda i: (i % per_signer, i // per_signer))
    began = time.perf_counter()
    hashes = [
        gateway.sender.send_call(
            prepared[i][0], str(gateway.forwarder.address), prepared[i][1], prepared[i][2]
        )
        for i in order
    ]
    receipts = [gateway.wait_receipt(tx_hash) for tx_hash in hashes]
    seconds = time.perf_counter() - began
    blocks = [int(r["blockNumber"], 16) for r in receipts]
    ok = sum(int(r["status"], 16) == 1 for r in receipts)
    return {
        "writes": len(hashes),
        "succeeded": ok,
        "writes_per_s": round(ok / seconds, 1),
        "writes_per_block": round(ok / _span(blocks), 1),
        "signers": len(signers),
    }


def api_writes(
    tf: Platform, base: str, keys: dict[str, str], tokens: dict[str, list[int]], participants: list[str]
) -> dict[str, Any]:
    """CLIENTS concurrent HTTP clients, split over `participants`, each sending WRITES_PER_CLIENT writes."""
    latencies: list[float] = []
    blocks: list[int] = []
    errors: list[str] = []
    lock = threading.Lock()
    barrier = threading.Barrier(CLIENTS + 1)
    to = tf.address("supplier1")

    def client(index: int) -> None:
        who = participants[index % len(participants)]
        with httpx.Client(base_url=base, timeout=180.0) as http:
            barrier.wait()
            for _ in range(WRITES_PER_CLIENT):
                started = time.perf_counter()
                response = http.post(
                    f"/v1/certificates/{tokens[who][1]}/transfer",
                    headers={"X-API-Key": keys[who]},
                    json={"to": to if who != "supplier1" else tf.address("supplier2"), "value": 1},
                )
                with lock:
                    latencies.append(time.perf_counter() - started)
                    if response.status_code == 200 and response.json()["indexed"]:
                        blocks.append(int(response.json()["block_number"]))
                    else:
                        errors.append(f"{response.status_code} {response.text[:160]}")

    threads = [threading.Thread(target=client, args=(i,)) for i in range(CLIENTS)]
    for thread in threads:
        thread.start()
    barrier.wait()
    began = time.perf_counter()
    for thread in threads:
        thread.join()
    seconds = time.perf_counter() - began
    latencies.sort()
    return {
        "writes": len(latencies),
        "succeeded": len(blocks),
        "failed": len(errors),
        "first_error": errors[0] if errors else None,
        "writes_per_s": round(len(blocks) / seconds, 1),
        "writes_per_block": round(len(blocks) / _span(blocks), 1) if blocks else 0.0,
        "p50_s": round(statistics.median(latencies), 2),
        "p99_s": round(latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))], 2),
        "clients": CLIENTS,
        "participants": len(participants),
    }


def measure(block_time: int) -> dict[str, Any]:
    tf = Platform.start()
    try:
        extras, suppliers = api_bench.bench_suppliers(tf, PARTICIPANTS)
        tokens = api_bench.bench_certificates(tf, suppliers)
        relayers = [Account.from_key(key) for key in DEV_RELAYER_KEYS]
        gateway = ChainGateway(tf.w3, tf.deployment, dev_account(0), relayers)
        _interval_mining(tf, block_time)
        figures: dict[str, Any] = {"block_time_s": block_time}
        figures["raw_one_signer"] = raw_pipelined(tf, gateway, ["supplier1"], tokens)
        figures["raw_8_signers"] = raw_pipelined(tf, gateway, suppliers, tokens)
        with api_bench.served_api(tf, extras, suppliers) as (base, keys):
            figures["api_one_participant"] = api_writes(tf, base, keys, tokens, ["supplier1"])
            figures["api_8_participants"] = api_writes(tf, base, keys, tokens, suppliers)
        for api, raw in (("api_one_participant", "raw_one_signer"), ("api_8_participants", "raw_8_signers")):
            ratio = figures[api]["writes_per_block"] / figures[raw]["writes_per_block"]
            figures[f"{api}_vs_raw"] = round(ratio, 3)
        return figures
    finally:
        tf.stop()


def table(results: dict[str, Any]) -> str:
    """The markdown section of the README / docs for `results` (as in writes.json)."""
    lines = [
        "## Writes per block on 1 s and 2 s blocks (anvil --block-time, 128 concurrent HTTP clients)\n",
        "| case | 1 s blocks | 2 s blocks |",
        "|---|---|---|",
    ]
    runs = [results["block_time_1s"], results["block_time_2s"]]

    def row(label: str, key: str, api: bool) -> str:
        cells = []
        for run in runs:
            figures = run[key]
            cell = f"{figures['writes_per_block']} per block, {figures['writes_per_s']} writes/s"
            if api:
                cell += f", p50 {figures['p50_s']} s, {figures['failed']} failed"
            cells.append(cell)
        return f"| {label} | " + " | ".join(cells) + " |"

    lines.append(row("API, one participant", "api_one_participant", True))
    lines.append(row("raw pipelined, one signer (baseline, same chain and run)", "raw_one_signer", False))
    lines.append(row(f"API, {PARTICIPANTS} participants", "api_8_participants", True))
    lines.append(row(f"raw pipelined, {PARTICIPANTS} signers (baseline)", "raw_8_signers", False))
    ratios = " · ".join(
        f"{run['block_time_s']} s blocks: one participant {run['api_one_participant_vs_raw']:.0%} of raw, "
        f"{PARTICIPANTS} participants {run['api_8_participants_vs_raw']:.0%}"
        for run in runs
    )
    note = (
        f"\n{RAW_REQUESTS} raw requests per baseline, {CLIENTS} x {WRITES_PER_CLIENT} API writes per case. "
        "The raw baseline is bounded by how fast one Python thread signs and sends (50-110 a second in "
        "these runs), not by the chain. " + ratios + ".\n"
    )
    return "\n".join(lines) + "\n" + note


def main() -> None:
    results = {f"block_time_{seconds}s": measure(seconds) for seconds in (1, 2)}
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "writes.json").write_text(json.dumps(results, indent=1) + "\n")
    print(table(results))


if __name__ == "__main__":
    main()
