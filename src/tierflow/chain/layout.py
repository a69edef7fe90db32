"""Storage-layout check of the upgradeable contracts against the last release, by OpenZeppelin's validator.

compile_all() writes a Hardhat-style build-info of every compilation (solc's input with every source's
text, its output with ASTs and `storageLayout`). `check_layouts` runs npm `@openzeppelin/upgrades-core
validate` on it: every upgradeable contract must be upgrade-safe, and each names the release it upgrades
from (`@custom:oz-upgrades-from v1:Receivables`), whose build-info is committed in deploy/releases/<release>/;
a variable moved, retyped or removed against that release fails. Cutting a release: copy the build-info
of the released code there (`tierflow storage-check --record v2`) and point the annotations at it.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from tierflow.chain.compile import NODE_MODULES, compile_sources, source_files
from tierflow.settings import REPO_ROOT

RELEASES_DIR = REPO_ROOT / "deploy" / "releases"
VALIDATOR = NODE_MODULES / "@openzeppelin" / "upgrades-core" / "dist" / "cli" / "cli.js"


@dataclass(frozen=True)
class LayoutReport:
    ok: bool
    report: str  # the validator's own words: which contract, which variable, what changed


def check_layouts(sources: dict[str, str] | None = None) -> LayoutReport:
    """Validate `sources` (default: contracts/) against the releases they name."""
    build_info = compile_sources(source_files() if sources is None else sources)[1]
    references = sorted(str(path) for path in RELEASES_DIR.iterdir() if path.is_dir())
    with tempfile.TemporaryDirectory() as work:
        # the validator reads every build-info in the directory: give it this compilation's alone
        current = Path(work) / "current"
        current.mkdir()
        shutil.copy(build_info, current / "build-info.json")
        command = ["node", str(VALIDATOR), "validate", str(current), "--exclude", "tests/**"]
        if references:
            command += ["--referenceBuildInfoDirs", ",".join(references)]
        result = subprocess.run(command, capture_output=True, text=True, cwd=REPO_ROOT, check=False)
    return LayoutReport(ok=result.returncode == 0, report=(result.stdout + result.stderr).strip())


def record_release(release: str) -> Path:
    """Commit-ready copy of the current compilation's build-info as the reference of `release`."""
    target = RELEASES_DIR / release
    target.mkdir(parents=True, exist_ok=True)
    shutil.copy(compile_sources(source_files())[1], target / "build-info.json")
    return target
