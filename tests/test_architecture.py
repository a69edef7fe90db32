"""Dependencies point one way: the import-linter contracts of pyproject.toml hold (layers, forbidden imports,
no cycles)."""

from __future__ import annotations

import re
from pathlib import Path

from importlinter.cli import lint_imports

ROOT = Path(__file__).resolve().parents[1]


def test_import_contracts_are_kept() -> None:
    # Prints which import breaks which contract (and the chain of imports) when it fails.
    assert lint_imports(config_filename=str(ROOT / "pyproject.toml"), no_cache=True, no_logo=True) == 0


def test_test_names_are_snake_case() -> None:
    # One naming scheme across folders: test_<subject>_<condition>, lower-case words joined by "_".
    pattern = re.compile(r"^\s*(?:async\s+)?def (test\w*)\(", re.MULTILINE)
    offenders = [
        f"{path.relative_to(ROOT)}: {name}"
        for path in sorted((ROOT / "tests").rglob("test_*.py"))
        for name in pattern.findall(path.read_text(encoding="utf-8"))
        if not re.fullmatch(r"test_[a-z0-9]+(?:_[a-z0-9]+)*", name)
    ]
    assert not offenders, "test names not in test_<subject>_<condition> snake case:\n" + "\n".join(offenders)
