"""Dependencies point one way: the import-linter contracts of pyproject.toml hold (layers, forbidden imports,
no cycles)."""

from __future__ import annotations

from pathlib import Path

from importlinter.cli import lint_imports

ROOT = Path(__file__).resolve().parents[1]


def test_import_contracts_are_kept() -> None:
    # Prints which import breaks which contract (and the chain of imports) when it fails.
    assert lint_imports(config_filename=str(ROOT / "pyproject.toml"), no_cache=True, no_logo=True) == 0
