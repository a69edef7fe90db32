"""`make bench`: run every benchmark; write bench/results/ (JSON + README.md) and docs/benchmarks.md.

Every comparison is made against a baseline measured in the same run (these machines are noisy):
plain ETH transfers for tx/s, web3.py's own fetch-and-decode for the indexer, a bare FastAPI
endpoint for API latency, raw web3.py sends for API writes.
"""

from __future__ import annotations

import json
import platform
import re
import sys
import time
from collections.abc import Callable
from pathlib import Path

from tierflow.testing.chain import Platform

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))

import api_bench  # noqa: E402
import bills_gas  # noqa: E402
import block_times  # noqa: E402
import controls_gas  # noqa: E402
import dashboard_bench  # noqa: E402
import gas as gas_bench  # noqa: E402
import indexer_bench  # noqa: E402
import reads_bench  # noqa: E402
import throughput  # noqa: E402

RESULTS = BENCH / "results"
# The tables live in docs/benchmarks.md (the README keeps a summary and links there).
BENCHMARKS = BENCH.parent / "docs" / "benchmarks.md"


def gas_section(tf: Platform) -> str:
    figures: dict[str, dict[str, int]] = {}
    measures = (
        ("certificates", gas_bench.measure),
        ("bills", bills_gas.measure),
        ("controls", controls_gas.measure),
        ("recovery", controls_gas.measure_recovery),
    )
    for name, measure in measures:
        snapshot = tf.snapshot()
        figures[name] = measure(tf)
        tf.revert_to(snapshot)
    (RESULTS / "gas.json").write_text(json.dumps(figures, indent=1) + "\n")
    lines = ["| operation | gas | target | reference |", "|---|---:|---:|---|"]
    for group, operations in figures.items():
        for name, used in operations.items():
            target = gas_bench.TARGETS.get(name)
            reference = gas_bench.REFERENCES.get(name)
            lines.append(
                f"| {group}: {name} | {used:,} | {f'≤ {target:,}' if target else ''} | "
                f"{f'{reference[0]}: ~{reference[1]:,}' if reference else ''} |"
            )
    per_holder = figures["certificates"]["batch_payout_50"] / 50
    lines.append(f"\nBatch payout: {per_holder:,.0f} gas per holder.")
    recovered = figures["controls"][f"recover_tokens_{controls_gas.RECOVERED_TOKENS}"]
    lines.append(f"Key recovery: {recovered / controls_gas.RECOVERED_TOKENS:,.0f} gas per certificate.")
    batch = figures["recovery"]
    lines.append(
        f"A whole key recovery as one batch proposal ({5 * controls_gas.RECOVERY_ITEMS} positions): "
        f"{batch['recovery_batch_propose_per_position']:,} gas per position to propose, "
        f"{batch['recovery_batch_execute_per_position']:,} to execute (block gas limit "
        f"{batch['block_gas_limit']:,})."
    )
    return "## Gas per operation\n\n" + "\n".join(lines) + "\n"


def throughput_section(tf: Platform) -> str:
    snapshot = tf.snapshot()
    figures = throughput.measure(tf)
    tf.revert_to(snapshot)
    (RESULTS / "throughput.json").write_text(json.dumps(figures, indent=1) + "\n")
    return (
        "## Transactions per second (one Python sender, signing locally, anvil automine)\n\n"
        "| mode | split-transfer tx/s | plain ETH transfer tx/s (baseline, same run) |\n|---|---:|---:|\n"
        f"| sequential (wait for each receipt) | {figures['split_transfer_sequential_tps']:.0f} | "
        f"{figures['eth_transfer_sequential_tps']:.0f} |\n"
        f"| pipelined (send all, wait for the last) | {figures['split_transfer_pipelined_tps']:.0f} | "
        f"{figures['eth_transfer_pipelined_tps']:.0f} |\n"
    )


def api_section() -> str:
    api_bench.main()
    return str(api_bench.table(json.loads((RESULTS / "api.json").read_text())))


def writes_section() -> str:
    block_times.main()
    return block_times.table(json.loads((RESULTS / "writes.json").read_text()))


def reads_section() -> str:
    reads_bench.main()
    return str(reads_bench.table(json.loads((RESULTS / "reads.json").read_text())))


def timed(name: str, section: Callable[[], str]) -> str:
    started = time.perf_counter()
    text = section()
    print(f"[bench] {name} done in {time.perf_counter() - started:.0f}s", file=sys.stderr)
    return text


def main() -> None:
    RESULTS.mkdir(parents=True, exist_ok=True)
    sections = [
        f"Machine: {platform.machine()}, 2 cores, {platform.python_implementation()} "
        f"{platform.python_version()}; run at {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}.\n"
    ]
    tf = Platform.start()
    try:
        sections.append(timed("gas", lambda: gas_section(tf)))
        sections.append(timed("throughput", lambda: throughput_section(tf)))
    finally:
        tf.stop()
    sections.append(timed("indexer", indexer_bench.main))
    sections.append(timed("api", api_section))
    sections.append(timed("reads", reads_section))
    sections.append(timed("writes on block times", writes_section))
    sections.append(timed("dashboard", dashboard_bench.main))
    report = "\n".join(sections)
    (RESULTS / "README.md").write_text("# Benchmark results\n\n" + report)
    page = BENCHMARKS.read_text()
    page = re.sub(
        r"<!-- bench:start -->.*<!-- bench:end -->",
        lambda _: "<!-- bench:start -->\n" + report + "<!-- bench:end -->",
        page,
        flags=re.S,
    )
    BENCHMARKS.write_text(page)
    print(report)


if __name__ == "__main__":
    main()
