"""Run Slither over contracts/ through the solcjs wrapper; fail on unexplained high or medium findings.

A finding is explained when the line it points at (or the line above) carries a comment
`// slither-disable-next-line <detector>` or `// slither-disable-line`, which Slither itself honours.
"""

from __future__ import annotations

import sys
from pathlib import Path

from crytic_compile.platform.solc_standard_json import SolcStandardJson
from slither import Slither
from slither.detectors import all_detectors
from slither.detectors.abstract_detector import AbstractDetector, DetectorClassification

ROOT = Path(__file__).resolve().parents[1]
FAILING = {DetectorClassification.HIGH, DetectorClassification.MEDIUM}


def main() -> int:
    target = SolcStandardJson()
    for path in sorted((ROOT / "contracts").rglob("*.sol")):
        target.add_source_file(str(path))
    target.add_remapping("@openzeppelin/=node_modules/@openzeppelin/")
    slither = Slither(
        target,
        solc=str(ROOT / "tools" / "solc"),
        solc_args="--optimize --evm-version cancun",
        filter_paths=["node_modules"],
    )
    detectors = [
        getattr(all_detectors, name)
        for name in dir(all_detectors)
        if isinstance(getattr(all_detectors, name), type)
        and issubclass(getattr(all_detectors, name), AbstractDetector)
    ]
    for detector in detectors:
        slither.register_detector(detector)
    failures = 0
    counts: dict[str, int] = {}
    for results in slither.run_detectors():
        for result in results:
            impact = result["impact"]
            counts[impact] = counts.get(impact, 0) + 1
            if impact.upper() in {c.name for c in FAILING}:
                failures += 1
                print(f"[{impact}] {result['check']}: {result['description'].strip()}")
    summary = ", ".join(f"{n} {impact.lower()}" for impact, n in sorted(counts.items())) or "no findings"
    print(f"slither: {summary}; {failures} unexplained high/medium")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
