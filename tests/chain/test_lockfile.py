"""The npm lock file is complete, so `npm ci` (make setup) installs it as is and never rewrites it."""

from __future__ import annotations

import json
import re

from tierflow.settings import REPO_ROOT


def _lock() -> dict[str, dict[str, object]]:
    packages: dict[str, dict[str, object]] = json.loads((REPO_ROOT / "package-lock.json").read_text())[
        "packages"
    ]
    return packages


def test_lock_records_every_optional_dependency_for_every_platform() -> None:
    # npm install added anvil's darwin/win32 packages to a lock that lacked them: a fresh clone came out
    # modified after `make setup`. Every platform's optional package must be locked already.
    packages = _lock()
    missing = [
        f"{name or 'root'} -> {dependency}"
        for name, entry in packages.items()
        for dependency in dict(entry.get("optionalDependencies") or {})  # type: ignore[call-overload]
        if f"node_modules/{dependency}" not in packages
    ]
    assert not missing, f"package-lock.json lacks {missing}: run `npm install --package-lock-only`"


def test_lock_matches_package_json_pins() -> None:
    manifest = json.loads((REPO_ROOT / "package.json").read_text())
    packages = _lock()
    assert packages[""]["dependencies"] == manifest["dependencies"]
    for name, version in manifest["dependencies"].items():
        assert re.fullmatch(r"\d+\.\d+\.\d+", version), f"{name} is not pinned to one version"
        assert packages[f"node_modules/{name}"]["version"] == version


def test_setup_installs_the_lock_verbatim() -> None:
    # `npm ci` refuses a lock that disagrees with package.json instead of rewriting it.
    makefile = (REPO_ROOT / "Makefile").read_text()
    assert re.search(r"^\tnpm ci\b", makefile, re.MULTILINE)
    assert not re.search(r"^\tnpm install\b", makefile, re.MULTILINE)
