"""Writes per block on real block times (anvil --block-time 1 and 2): the API beside raw pipelined calls.

A consortium chain (Besu QBFT, Quorum IBFT) seals a block every 1–2 s. Per block time this runs, on one
chain: the raw pipelined baseline (pre-signed forward requests with consecutive forwarder nonces, sent
through one relayer account without waiting: what the chain can carry), the gateway's per-participant
pipeline alone (512 threads calling `ChainGateway.execute_custodial` for ONE participant: no HTTP, no
database), then the API (`tierflow serve`, indexer in process) with 128 concurrent HTTP clients writing
split-transfers for ONE participant, with 128 clients spread over 8 participants, and a core
enterprise's batch upload of BATCH_ROWS payables (one CSV, `POST /v1/core/payables/batch`) beside raw
pipelined issue requests. Writes per block = writes / blocks their transactions span; every API write
answers only once the indexer shows it (read-your-writes). The 1-minute load average is recorded
beside each figure: the machine is shared.

Then several API instances on one PostgreSQL (`bench/instances_bench.py`, key "instances").

Run alone: `.venv/bin/python bench/block_times.py` (writes bench/results/writes.json).
"""

from __future__ import annotations

import datetime as dt
import io
import json
import os
import statistics
import sys
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
from eth_account import Account
from eth_utils.crypto import keccak

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))

import api_bench  # noqa: E402

from tierflow.chain.accounts import dev_account  # noqa: E402
from tierflow.chain.gateway import CUSTODIAL_DEADLINE_S, INNER_GAS_MARGIN, Call, ChainGateway  # noqa: E402
from tierflow.platform.pgtemp import PgCluster  # noqa: E402
from tierflow.platform.services import batch_issue  # noqa: E402
from tierflow.settings import DEV_RELAYER_KEYS  # noqa: E402
from tierflow.testing.chain import Platform  # noqa: E402

RESULTS = BENCH / "results"
CLIENTS = 128
# Six rounds of 128 writes: writes per block = writes / blocks spanned, and with three rounds a round
# that straddles a block boundary counted as a whole extra block (384 writes over 4 blocks read 96).
WRITES_PER_CLIENT = 6
RAW_REQUESTS = 400
# Split-transfers per raw baseline: at 100 M gas per block (chain/devnet.py) 400 fit in one block, so
# fewer would measure the count, not the chain.
RAW_SPLITS = int(os.environ.get("TIERFLOW_BENCH_RAW_SPLITS", "1200"))
PARTICIPANTS = 8
# The pipeline alone: each thread waits for its write's receipt before the next, so writes per block
# are at most the threads in flight; 512 (not the API's 128 clients) shows what the pipeline carries.
PIPELINE_THREADS = 512
PIPELINE_WRITES = 2048
BATCH_ROWS = int(os.environ.get("TIERFLOW_BENCH_BATCH_ROWS", "2000"))
ISSUE_GAS = 400_000  # inner gas of a raw issue request (one invoice: ~240,000 used)
FUND_REQUESTS = 500  # accepted financing requests a bank funds in one action (the API's maximum)
FUND_AMOUNT = 100_000  # [fen] each


def _load() -> float:
    """The 1-minute load average when a figure was taken (the machine is shared and noisy)."""
    return round(os.getloadavg()[0], 1)


def _interval_mining(tf: Platform, seconds: int) -> None:
    tf.w3.provider.make_request("evm_setAutomine", [False])  # type: ignore[arg-type]
    tf.w3.provider.make_request("evm_setIntervalMining", [seconds])  # type: ignore[arg-type]


def _span(blocks: list[int]) -> int:
    return max(blocks) - min(blocks) + 1


def raw_pipelined(
    tf: Platform, gateway: ChainGateway, signers: list[str], tokens: dict[str, list[int]]
) -> dict[str, Any]:
    """Split-transfers signed in advance, RAW_SPLITS spread over `signers` (see `_raw`)."""
    to = tf.address("supplier1")
    per_signer = RAW_SPLITS // len(signers)
    requests = [
        (who, Call("Receivables", "transferValue", (tokens[who][0], to, 1)), 250_000)
        for who in signers
        for _ in range(per_signer)
    ]
    return {**_raw(tf, gateway, requests), "signers": len(signers)}


def raw_windowed(tf: Platform, gateway: ChainGateway, tokens: dict[str, list[int]]) -> dict[str, Any]:
    """The raw baseline with the API case's offered load: CLIENTS x WRITES_PER_CLIENT split-transfers of
    supplier1, signed in advance, at most CLIENTS in flight (each slot sends its next once its last is
    mined, as each HTTP client waits for its write). What the chain carries for 128 waiting writers."""
    to = tf.address("supplier1")
    call = Call("Receivables", "transferValue", (tokens["supplier1"][0], to, 1))
    requests = [("supplier1", call, 250_000)] * (CLIENTS * WRITES_PER_CLIENT)
    return {**_raw(tf, gateway, requests, window=CLIENTS), "in_flight": CLIENTS}


def _windowed(
    gateway: ChainGateway, prepared: list[tuple[Any, bytes, int]], window: int
) -> list[dict[str, Any]]:
    """Send `prepared` in order (forwarder nonces must reach the chain in order), never more than `window`
    unmined: a slot frees when its transaction's receipt arrives."""
    slots = threading.Semaphore(window)
    forwarder = str(gateway.forwarder.address)

    def settle(tx_hash: str) -> dict[str, Any]:
        try:
            return gateway.wait_receipt(tx_hash)
        finally:
            slots.release()

    with ThreadPoolExecutor(window) as waiters:
        futures = []
        for relayer, execute, gas in prepared:
            slots.acquire()
            futures.append(waiters.submit(settle, gateway.sender.send_call(relayer, forwarder, execute, gas)))
        return [future.result() for future in futures]


def raw_issues(tf: Platform, gateway: ChainGateway, line: int, count: int) -> dict[str, Any]:
    """`count` payables issued by core1 to the four demo suppliers as raw pipelined requests."""
    maturity = gateway.chain_time() + 90 * 86_400
    requests = [
        (
            "core1",
            Call(
                "Receivables", "issue",
                (tf.address(f"supplier{1 + n % 4}"), 100, maturity, line, [keccak(text=f"raw-{line}-{n}")]),
            ),
            ISSUE_GAS,
        )
        for n in range(count)
    ]  # fmt: skip
    return _raw(tf, gateway, requests)


def _raw(
    tf: Platform, gateway: ChainGateway, requests: list[tuple[str, Call, int]], window: int | None = None
) -> dict[str, Any]:
    """Forward requests signed in advance, consecutive nonces per signer, each signer through one relayer,
    sent back to back without waiting (no simulation, no API): the chain's ceiling for these calls.
    With `window`, at most that many are in flight (see `_windowed`)."""
    prepared: list[tuple[Any, bytes, int]] = []
    deadline = gateway.chain_time() + CUSTODIAL_DEADLINE_S
    nonces: dict[str, int] = {}
    signers = list(dict.fromkeys(who for who, _, _ in requests))
    for who, call, inner_gas in requests:
        account = tf.account(who)
        if who not in nonces:
            nonces[who] = gateway.forwarder_nonce(account.address, "pending")
        target, data = gateway.calldata(call)
        relayer = gateway.relayers[signers.index(who) % len(gateway.relayers)]
        message = {
            "from": account.address, "to": target, "value": 0, "gas": inner_gas + INNER_GAS_MARGIN,
            "nonce": nonces[who], "deadline": deadline, "data": "0x" + data.hex(),
        }  # fmt: skip
        nonces[who] += 1
        execute, gas = gateway._execute_data(message, gateway.sign(account, gateway.typed_data(message)))
        prepared.append((relayer, execute, gas))
    # interleave the signers as concurrent senders would
    per_signer = max(1, len(prepared) // len(signers))
    order = sorted(range(len(prepared)), key=lambda i: (i % per_signer, i // per_signer))
    began = time.perf_counter()
    if window is None:
        hashes = [
            gateway.sender.send_call(
                prepared[i][0], str(gateway.forwarder.address), prepared[i][1], prepared[i][2]
            )
            for i in order
        ]
        receipts = [gateway.wait_receipt(tx_hash) for tx_hash in hashes]
    else:
        receipts = _windowed(gateway, [prepared[i] for i in order], window)
    seconds = time.perf_counter() - began
    blocks = [int(r["blockNumber"], 16) for r in receipts]
    ok = sum(int(r["status"], 16) == 1 for r in receipts)
    return {
        "writes": len(receipts),
        "succeeded": ok,
        "gas_per_write": round(sum(int(r["gasUsed"], 16) for r in receipts) / len(receipts)),
        "seconds": round(seconds, 1),
        "writes_per_s": round(ok / seconds, 1),
        "writes_per_block": round(ok / _span(blocks), 1),
        "load_avg": _load(),
    }


def accepted_requests(
    tf: Platform, gateway: ChainGateway, tokens: dict[str, list[int]], count: int
) -> list[int]:
    """`count` financing requests of supplier1 to bank2, quoted and accepted (setup, raw pipelined)."""
    financing = tf.c.financing.functions
    first = int(financing.lastRequestId().call()) + 1
    ids = list(range(first, first + count))
    bank = tf.address("bank2")
    token = tokens["supplier1"][0]
    _raw(
        tf,
        gateway,
        [("supplier1", Call("Financing", "request", (token, FUND_AMOUNT, bank, False)), 400_000)] * count,
    )
    expiry = gateway.chain_time() + 3600
    _raw(tf, gateway, [("bank2", Call("Financing", "quote", (n, 500, expiry)), 200_000) for n in ids])
    prices = [int(financing.getRequest(n).call()[9]) for n in ids]
    accepts = [
        Call("Financing", "acceptQuote", (n, 500, price, expiry))
        for n, price in zip(ids, prices, strict=True)
    ]
    _raw(tf, gateway, [("supplier1", call, 200_000) for call in accepts])
    return ids


def raw_funding(tf: Platform, gateway: ChainGateway, ids: list[int]) -> dict[str, Any]:
    """bank2 funds `ids` as raw pipelined requests: the baseline of the batch funding."""
    return _raw(tf, gateway, [("bank2", Call("Financing", "fund", (n,)), 300_000) for n in ids])


def fund_batch(tf: Platform, gateway: ChainGateway, base: str, ids: list[int]) -> dict[str, Any]:
    """bank2 funds `ids` in one `POST /v1/financier/requests/fund-batch`."""
    from tierflow.platform.services.seed import demo_api_key

    began, cpu = time.perf_counter(), api_bench.server_cpu_seconds(base)
    response = httpx.post(
        f"{base}/v1/financier/requests/fund-batch",
        headers={"X-API-Key": demo_api_key("bank2")},
        json={"request_ids": ids},
        timeout=3600.0,
    )
    seconds = time.perf_counter() - began
    return {
        **_batch_figures(gateway, response, seconds, len(ids), "funded"),
        **_server_cpu(base, cpu, len(ids)),
        "in_flight": batch_issue.CONCURRENCY,
    }


def _server_cpu(base: str, before: float, writes: int) -> dict[str, float]:
    """The API process's CPU per write [ms] since `before` (its CPU seconds then): what the service itself
    spends on a write, whatever else the shared machine runs (anvil included)."""
    return {"server_cpu_ms_per_write": round((api_bench.server_cpu_seconds(base) - before) * 1e3 / writes, 2)}


def pipeline_one_signer(tf: Platform, gateway: ChainGateway, tokens: dict[str, list[int]]) -> dict[str, Any]:
    """The per-participant pipeline alone: PIPELINE_THREADS threads, PIPELINE_WRITES split-transfers of ONE
    signer through `execute_custodial` (simulated on the pending state, signed, sent as one batch
    transaction per leader round, receipt awaited)."""
    account = tf.account("supplier1")
    call = Call("Receivables", "transferValue", (tokens["supplier1"][0], tf.address("supplier2"), 1))
    began = time.perf_counter()
    with ThreadPoolExecutor(PIPELINE_THREADS) as pool:
        outcomes = list(pool.map(lambda _: gateway.execute_custodial(account, call), range(PIPELINE_WRITES)))
    seconds = time.perf_counter() - began
    blocks = [outcome.block_number for outcome in outcomes]
    # a signer's queued writes share batch transactions: gas per write over the distinct transactions
    gas = {outcome.tx_hash: outcome.gas_used for outcome in outcomes}
    return {
        "writes": len(outcomes),
        "succeeded": sum(outcome.succeeded for outcome in outcomes),
        "transactions": len(gas),
        "gas_per_write": round(sum(gas.values()) / len(outcomes)),
        "seconds": round(seconds, 1),
        "writes_per_s": round(len(outcomes) / seconds, 1),
        "writes_per_block": round(len(outcomes) / _span(blocks), 1),
        "threads": PIPELINE_THREADS,
        "load_avg": _load(),
    }


def batch_upload(tf: Platform, gateway: ChainGateway, base: str, line: int, rows: int) -> dict[str, Any]:
    """core1 uploads one CSV of `rows` payables (the four demo suppliers in turn, 1.00 yuan each)."""
    maturity = dt.datetime.fromtimestamp(gateway.chain_time() + 90 * 86_400, dt.UTC).date().isoformat()
    text = io.StringIO()
    text.write("supplier,amount,maturity,credit line,invoice numbers\n")
    for n in range(rows):
        # a 20-digit number of a fully digital invoice (全电发票), unique per line and row
        text.write(f"{tf.address(f'supplier{1 + n % 4}')},1.00,{maturity},{line},26{line:06d}{n:012d}\n")
    from tierflow.platform.services.seed import demo_api_key

    began, cpu = time.perf_counter(), api_bench.server_cpu_seconds(base)
    response = httpx.post(
        f"{base}/v1/core/payables/batch",
        headers={"X-API-Key": demo_api_key("core1")},
        files={"file": ("erp-export.csv", text.getvalue().encode(), "text/csv")},
        timeout=3600.0,
    )
    seconds = time.perf_counter() - began
    return {
        **_batch_figures(gateway, response, seconds, rows, "issued"),
        **_server_cpu(base, cpu, rows),
        "in_flight": batch_issue.CONCURRENCY,
    }


def _batch_figures(
    gateway: ChainGateway, response: httpx.Response, seconds: float, rows: int, done: str
) -> dict[str, Any]:
    """A batch's answer: items done and failed, the time it took and the blocks its transactions span."""
    if response.status_code != 200:
        return {"rows": rows, "failed": rows, "first_error": f"{response.status_code} {response.text[:300]}"}
    outcomes = response.json()["outcomes"]
    succeeded = [o for o in outcomes if o["status"] == done]
    # Each transaction once: a batch transaction carries ~100 rows, and its receipt ~300 logs; asked once
    # per row, 200 such receipts a call timed out on a loaded machine.
    hashes = list(dict.fromkeys(str(o["tx_hash"]) for o in succeeded))
    receipts = [
        receipt
        for start in range(0, len(hashes), 200)
        for receipt in gateway.rpc.batch(
            [("eth_getTransactionReceipt", [h]) for h in hashes[start : start + 200]]
        )
    ]
    blocks = [int(receipt["blockNumber"], 16) for receipt in receipts if receipt]
    failed = [o for o in outcomes if o["status"] != done]
    return {
        "rows": rows,
        "succeeded": len(succeeded),
        "failed": len(failed),
        "first_error": f"{failed[0]['code']}: {failed[0]['error']}" if failed else None,
        "seconds": round(seconds, 1),
        "writes_per_s": round(len(succeeded) / seconds, 1),
        "writes_per_block": round(len(succeeded) / _span(blocks), 1) if blocks else 0.0,
        "load_avg": _load(),
    }


def transfer_clients(
    tf: Platform,
    keys: dict[str, str],
    tokens: dict[str, list[int]],
    participants: list[str],
    route: Callable[[int], str],
    on_start: Callable[[], None],
) -> tuple[dict[str, list[float]], list[int], list[str], float]:
    """CLIENTS HTTP client threads, client i writing for participant i mod P through the API at
    `route(i)`, WRITES_PER_CLIENT split-transfers each; `on_start` runs once every client is ready.
    (latencies per API base [s], blocks of the writes indexed, errors, seconds from the start.)"""
    latencies: dict[str, list[float]] = {}
    blocks: list[int] = []
    errors: list[str] = []
    lock = threading.Lock()
    barrier = threading.Barrier(CLIENTS + 1)

    def client(index: int) -> None:
        who = participants[index % len(participants)]
        base = route(index)
        to = tf.address("supplier2") if who == "supplier1" else tf.address("supplier1")
        with httpx.Client(base_url=base, timeout=180.0) as http:
            barrier.wait()
            for _ in range(WRITES_PER_CLIENT):
                started = time.perf_counter()
                try:
                    response = http.post(
                        f"/v1/certificates/{tokens[who][1]}/transfer",
                        headers={"X-API-Key": keys[who]},
                        json={"to": to, "value": 1},
                    )
                except httpx.HTTPError as error:
                    with lock:
                        errors.append(f"{type(error).__name__}: {error}")
                    continue
                with lock:
                    latencies.setdefault(base, []).append(time.perf_counter() - started)
                    if response.status_code == 200 and response.json()["indexed"]:
                        blocks.append(int(response.json()["block_number"]))
                    else:
                        errors.append(f"{response.status_code} {response.text[:160]}")

    threads = [threading.Thread(target=client, args=(i,)) for i in range(CLIENTS)]
    for thread in threads:
        thread.start()
    barrier.wait()
    on_start()
    began = time.perf_counter()
    for thread in threads:
        thread.join()
    return latencies, blocks, errors, time.perf_counter() - began


def api_writes(
    tf: Platform, base: str, keys: dict[str, str], tokens: dict[str, list[int]], participants: list[str]
) -> dict[str, Any]:
    """CLIENTS concurrent HTTP clients, split over `participants`, each sending WRITES_PER_CLIENT writes."""
    cpu: list[float] = []
    by_base, blocks, errors, seconds = transfer_clients(
        tf, keys, tokens, participants, lambda i: base, lambda: cpu.append(api_bench.server_cpu_seconds(base))
    )
    latencies = by_base.get(base, [])
    latencies.sort()
    return {
        **_server_cpu(base, cpu[0], max(1, len(latencies))),
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
        "load_avg": _load(),
    }


def measure(block_time: int) -> dict[str, Any]:
    tf = Platform.start()
    try:
        extras, suppliers = api_bench.bench_suppliers(tf, PARTICIPANTS)
        tokens = api_bench.bench_certificates(tf, suppliers)
        relayers = [Account.from_key(key) for key in DEV_RELAYER_KEYS]
        gateway = ChainGateway(tf.w3, tf.deployment, dev_account(0), relayers)
        gateway.receipt_timeout = 600.0
        granted = tf.transact(
            tf.c.credit_lines.functions.grant(tf.address("core1"), 10**15, tf.now() + 300 * 86400), "bank1"
        )
        line = int(tf.events(granted, tf.c.credit_lines, "CreditLineGranted")[0]["lineId"])
        tf.transact(tf.c.token.functions.mint(tf.address("bank2"), 10**14), "bank1")
        tf.transact(tf.c.token.functions.approve(tf.c.financing.address, 2**256 - 1), "bank2")
        # accepted financing requests for the raw baseline and the API's batch funding (automined: fast)
        to_fund = accepted_requests(tf, gateway, tokens, RAW_REQUESTS + FUND_REQUESTS) if BATCH_ROWS else []
        _interval_mining(tf, block_time)
        figures: dict[str, Any] = {"block_time_s": block_time}
        figures["raw_one_signer"] = raw_pipelined(tf, gateway, ["supplier1"], tokens)
        figures["raw_8_signers"] = raw_pipelined(tf, gateway, suppliers, tokens)
        figures["raw_one_signer_windowed"] = raw_windowed(tf, gateway, tokens)
        figures["pipeline_one_signer"] = pipeline_one_signer(tf, gateway, tokens)
        with api_bench.served_api(tf, extras, suppliers) as (base, keys):
            figures["api_one_participant"] = api_writes(tf, base, keys, tokens, ["supplier1"])
            figures["api_8_participants"] = api_writes(tf, base, keys, tokens, suppliers)
        if BATCH_ROWS:
            # The batches on PostgreSQL, up to batch_issue.CONCURRENCY (1,024) rows in flight, beside the raw
            # pipelined requests of the same operation.
            figures["raw_issue"] = raw_issues(tf, gateway, line, RAW_REQUESTS)
            figures["raw_funding"] = raw_funding(tf, gateway, to_fund[:RAW_REQUESTS])
            cluster = PgCluster.start()
            try:
                with api_bench.served_api(tf, extras, suppliers, cluster.create_database()) as (base, _):
                    figures["batch_upload"] = batch_upload(tf, gateway, base, line, BATCH_ROWS)
                    figures["fund_batch"] = fund_batch(tf, gateway, base, to_fund[RAW_REQUESTS:])
            finally:
                cluster.stop()
        pairs = [
            ("api_one_participant", "raw_one_signer"),
            ("api_one_participant", "raw_one_signer_windowed"),
            ("api_8_participants", "raw_one_signer_windowed"),
            ("pipeline_one_signer", "raw_one_signer"),
            ("api_8_participants", "raw_8_signers"),
            ("batch_upload", "raw_issue"),
            ("fund_batch", "raw_funding"),
        ]
        for api, raw in pairs:
            if figures.get(api, {}).get("writes_per_block") and figures.get(raw, {}).get("writes_per_block"):
                ratio = figures[api]["writes_per_block"] / figures[raw]["writes_per_block"]
                # against the windowed baseline (same offered load): KEY_vs_raw_windowed
                suffix = "_windowed" if raw.endswith("_windowed") else ""
                figures[f"{api}_vs_raw{suffix}"] = round(ratio, 3)
        return figures
    finally:
        tf.stop()


def multi_instance() -> dict[str, Any]:
    """Several API instances on one PostgreSQL (`bench/instances_bench.py`, its own chain per block time)."""
    import instances_bench  # it imports this module: here, not at the top

    return instances_bench.measure_all()


def table(results: dict[str, Any]) -> str:
    """The markdown section of the README / docs for `results` (as in writes.json)."""
    lines = [
        "## Writes per block on 1 s and 2 s blocks (anvil --block-time, 128 concurrent HTTP clients)\n",
        "| case | 1 s blocks | 2 s blocks |",
        "|---|---|---|",
    ]
    runs = [results["block_time_1s"], results["block_time_2s"]]

    def row(label: str, key: str, api: bool = False, batch: bool = False, raw: str | None = None) -> str:
        """One case per block time; `raw` names the baseline its ratio (`KEY_vs_raw`) is against."""
        cells = []
        for run in runs:
            figures = run.get(key)
            if figures is None:
                cells.append("not run")
                continue
            if not figures.get("writes_per_block"):
                cells.append(f"failed: {figures.get('first_error')}")
                continue
            cell = f"{figures['writes_per_block']} per block, {figures['writes_per_s']} writes/s"
            if batch:
                cell = f"{figures['seconds']} s for {figures['succeeded']} of {figures['rows']}, " + cell
                if "in_flight" in figures:
                    cell += f", at most {figures['in_flight']} rows in flight"
            if api:
                cell += f", p50 {figures['p50_s']} s, {figures['failed']} failed"
                # What caps it: each client sends its next write only once the last one is indexed.
                clients = figures["clients"]
                cell += f", at most {clients} per block: each of its {clients} clients waits for its write"
            if raw is not None and run.get(f"{key}_vs_raw") is not None:
                cell += f", {run[f'{key}_vs_raw']:.0%} of the raw {raw} in this run"
            if api and run.get(f"{key}_vs_raw_windowed") is not None:
                cell += f" ({run[f'{key}_vs_raw_windowed']:.0%} of raw with {CLIENTS} in flight)"
            if "server_cpu_ms_per_write" in figures:
                cell += f", server CPU {figures['server_cpu_ms_per_write']} ms per write"
            cells.append(cell + f" (load {figures['load_avg']})")
        return f"| {label} | " + " | ".join(cells) + " |"

    lines.append(row("API, one participant", "api_one_participant", api=True, raw="one signer"))
    lines.append(row("pipeline alone, one participant (gateway, no HTTP or database)", "pipeline_one_signer"))
    lines.append(row("raw pipelined, one signer (baseline, same chain and run)", "raw_one_signer"))
    lines.append(
        row(
            f"raw pipelined, one signer, at most {CLIENTS} in flight (the API cases' offered load)",
            "raw_one_signer_windowed",
        )
    )
    lines.append(
        row(
            f"API, {PARTICIPANTS} participants", "api_8_participants", api=True, raw=f"{PARTICIPANTS} signers"
        )
    )
    lines.append(row(f"raw pipelined, {PARTICIPANTS} signers (baseline)", "raw_8_signers"))
    lines.append(
        row(
            f"batch upload, {BATCH_ROWS:,} payables in one CSV (PostgreSQL)",
            "batch_upload",
            batch=True,
            raw="issue requests",
        )
    )
    lines.append(row("raw pipelined issue requests of one core enterprise (baseline)", "raw_issue"))
    lines.append(
        row(
            f"batch funding, {FUND_REQUESTS} requests in one action (PostgreSQL)",
            "fund_batch",
            batch=True,
            raw="fund requests",
        )
    )
    lines.append(row("raw pipelined fund requests of one bank (baseline)", "raw_funding"))

    def ratio(run: dict[str, Any], key: str) -> str:
        value = run.get(f"{key}_vs_raw")
        return "n/a" if value is None else f"{value:.0%}"

    ratios = " · ".join(
        f"{run['block_time_s']} s blocks: API one participant {ratio(run, 'api_one_participant')} of raw, "
        f"pipeline alone {ratio(run, 'pipeline_one_signer')}, {PARTICIPANTS} participants "
        f"{ratio(run, 'api_8_participants')}, batch upload {ratio(run, 'batch_upload')}, batch funding "
        f"{ratio(run, 'fund_batch')}"
        for run in runs
    )
    note = (
        f"\n{RAW_SPLITS} raw split-transfers ({RAW_REQUESTS} issues, fundings) per baseline, {CLIENTS} x "
        f"{WRITES_PER_CLIENT} API writes per case, {PIPELINE_WRITES} writes through the pipeline alone "
        f"({PIPELINE_THREADS} threads). Writes per block = writes / blocks their "
        "transactions span, so a short run on 2 s blocks rounds to few blocks. The raw baseline is bounded "
        "by how fast one Python thread signs and sends, not by the chain. Load = the 1-minute load average "
        "of the shared 2-core machine when the figure was taken. " + ratios + ".\n"
    )
    return "\n".join(lines) + "\n" + note


def main() -> None:
    results: dict[str, Any] = {f"block_time_{seconds}s": measure(seconds) for seconds in (1, 2)}
    results["instances"] = multi_instance()
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "writes.json").write_text(json.dumps(results, indent=1) + "\n")
    print(table(results))
    import instances_bench

    print(instances_bench.table(results["instances"]))


if __name__ == "__main__":
    main()
