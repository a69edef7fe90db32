"""`make bench`: run every benchmark, write bench/results/*.json and bench/results/README.md."""

from __future__ import annotations

import json
import platform
import sys
import time
from pathlib import Path

from tierflow.chain.testing import Platform

sys.path.insert(0, str(Path(__file__).resolve().parent))

import dashboard_bench  # noqa: E402
import gas as gas_bench  # noqa: E402
import throughput  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results"


def gas_section(tf: Platform) -> str:
    snapshot = tf.snapshot()
    figures = gas_bench.measure(tf)
    tf.revert_to(snapshot)
    (RESULTS / "gas.json").write_text(json.dumps(figures, indent=1) + "\n")
    lines = ["| operation | gas | target | reference |", "|---|---:|---:|---|"]
    for name, used in figures.items():
        target = gas_bench.TARGETS.get(name)
        reference = gas_bench.REFERENCES.get(name)
        lines.append(
            f"| {name} | {used:,} | {f'≤ {target:,}' if target else ''} | "
            f"{f'{reference[0]}: ~{reference[1]:,}' if reference else ''} |"
        )
    per_holder = figures["batch_payout_50"] / 50
    lines.append(f"\nBatch payout: {per_holder:,.0f} gas per holder.")
    return "## Gas per operation (certificates)\n\n" + "\n".join(lines) + "\n"


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


def main() -> None:
    RESULTS.mkdir(parents=True, exist_ok=True)
    started = time.time()
    sections = [
        f"Machine: {platform.machine()}, {platform.python_implementation()} {platform.python_version()}, "
        f"run at {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime(started))}.\n"
    ]
    tf = Platform.start()
    try:
        sections.append(gas_section(tf))
        sections.append(throughput_section(tf))
    finally:
        tf.stop()
    sections.append(dashboard_bench.main())
    report = "# Benchmark results\n\n" + "\n".join(sections)
    (RESULTS / "README.md").write_text(report)
    print(report)


if __name__ == "__main__":
    main()
