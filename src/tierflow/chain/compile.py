"""Compile contracts/ with the pinned solc (solcjs via tools/solc) and cache artifacts by content hash."""

from __future__ import annotations

import hashlib
import json
import os
import posixpath
import re
import shutil
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import solcx

from tierflow.errors import CompileError
from tierflow.settings import REPO_ROOT

CONTRACTS_DIR = REPO_ROOT / "contracts"
NODE_MODULES = REPO_ROOT / "node_modules"
WRAPPER = REPO_ROOT / "tools" / "solc"
CACHE_DIR = REPO_ROOT / ".cache" / "solc"

# The one place where optimizer and EVM version are fixed.
COMPILER_SETTINGS: dict[str, Any] = {
    "optimizer": {"enabled": True, "runs": 200},
    # The IR pipeline: Bills with the asset-level controls and the UUPS code is 26.8 KB the legacy way,
    # 22.9 KB through the IR (EIP-170's limit is 24 KB, tests/chain/test_contract_size.py).
    "viaIR": True,
    "evmVersion": "cancun",
    "remappings": ["@openzeppelin/=node_modules/@openzeppelin/"],
    # ASTs, storage layouts and link references are for OpenZeppelin's upgrade validator (chain/layout.py),
    # which reads this compilation's input and output as a build-info.
    "outputSelection": {
        "*": {
            "*": [
                "abi",
                "evm.bytecode.object",
                "evm.bytecode.linkReferences",
                "evm.deployedBytecode.object",
                "evm.deployedBytecode.linkReferences",
                "evm.methodIdentifiers",
                "storageLayout",
            ],
            "": ["ast"],
        }
    },
}
BUILD_INFO_DIR = CACHE_DIR / "build-info"
_IMPORT = re.compile(r"""^\s*import\s+(?:[^;"']*?\s+from\s+)?["']([^"']+)["']\s*;""", re.MULTILINE)


@dataclass(frozen=True)
class Artifact:
    """What deploying and talking to one contract needs."""

    name: str
    source: str
    abi: list[dict[str, Any]]
    bytecode: str
    deployed_bytecode: str


def solc_binary() -> Path:
    """A native solc of the pinned version when one is on PATH, else the solcjs wrapper."""
    native = shutil.which("solc")
    if native and _pinned_version() in solcx.wrapper.get_solc_version(native).base_version:
        return Path(native)
    return WRAPPER


@lru_cache
def _pinned_version() -> str:
    package = json.loads((NODE_MODULES / "solc" / "package.json").read_text())
    return str(package["version"])


def _openzeppelin_version() -> str:
    package = json.loads((NODE_MODULES / "@openzeppelin" / "contracts" / "package.json").read_text())
    return str(package["version"])


def source_files() -> dict[str, str]:
    """Every .sol file under contracts/, keyed by its path relative to the repo root."""
    return {
        path.relative_to(REPO_ROOT).as_posix(): path.read_text()
        for path in sorted(CONTRACTS_DIR.rglob("*.sol"))
    }


def standard_json_input(sources: dict[str, str] | None = None) -> dict[str, Any]:
    """solc's standard-JSON input: `sources` and the text of every file they import (a self-contained
    build-info for the upgrade validator), by the unit names solc itself gives them."""
    sources = with_imports(source_files() if sources is None else sources)
    return {
        "language": "Solidity",
        "sources": {name: {"content": text} for name, text in sorted(sources.items())},
        "settings": COMPILER_SETTINGS,
    }


def with_imports(sources: dict[str, str]) -> dict[str, str]:
    """`sources` and every file they import, transitively (remappings applied as solc applies them)."""
    complete = dict(sources)
    pending = list(sources)
    while pending:
        unit = pending.pop()
        for imported in _IMPORT.findall(complete[unit]):
            if imported.startswith("."):
                name = posixpath.normpath(posixpath.join(posixpath.dirname(unit), imported))
            else:
                name = _remap(imported)
            if name not in complete:
                complete[name] = (REPO_ROOT / name).read_text()
                pending.append(name)
    return complete


def _remap(path: str) -> str:
    """The source unit name solc gives an import path (remappings rewrite the name, not just the file)."""
    for remapping in COMPILER_SETTINGS["remappings"]:
        prefix, _, target = remapping.partition("=")
        if path.startswith(prefix):
            return target + path[len(prefix) :]
    return path


def content_hash(sources: dict[str, str], settings: dict[str, Any] | None = None) -> str:
    digest = hashlib.sha256()
    digest.update(json.dumps(COMPILER_SETTINGS if settings is None else settings, sort_keys=True).encode())
    digest.update(_pinned_version().encode())
    digest.update(_openzeppelin_version().encode())
    for name, text in sorted(sources.items()):
        digest.update(name.encode() + b"\0" + text.encode() + b"\0")
    return digest.hexdigest()


def compile_all(use_cache: bool = True, extra_sources: dict[str, str] | None = None) -> dict[str, Artifact]:
    """Compile every contract; return artifacts by contract name (interfaces and libraries included).

    `extra_sources` (path relative to the repo root → text) are compiled against them and their contracts
    returned as well: test fixtures such as the V2 implementations of the upgrade test.
    """
    sources = source_files()
    if not sources:
        raise CompileError(f"no Solidity sources under {CONTRACTS_DIR}")
    artifacts = compile_sources(sources, use_cache)[0]
    if extra_sources:
        # A compilation of their own, with code for their contracts alone: compiling them together with
        # contracts/ generated every contract's code a second time (a second full via-IR compile on a
        # fresh clone); the contracts they import are contracts/'s, whose artifacts are above.
        artifacts |= compile_sources(extra_sources, use_cache, code_for_imports=False)[0]
    return artifacts


def compile_sources(
    sources: dict[str, str], use_cache: bool = True, *, code_for_imports: bool = True
) -> tuple[dict[str, Artifact], Path]:
    """Artifacts of the contracts in `sources` (imports compiled, not returned) and the compilation's
    Hardhat-style build-info (solc's input and output), both cached by content hash.

    `code_for_imports=False` has solc compile the contracts of `sources` alone (nothing is output for
    the files they import): most of a via-IR compile is code generation.
    """
    settings = COMPILER_SETTINGS if code_for_imports else _settings_for(sorted(sources))
    key = content_hash(sources, settings)
    cached = CACHE_DIR / f"{key}.json"
    build_info = BUILD_INFO_DIR / f"{key}.json"
    if use_cache and cached.exists() and build_info.exists():
        return _artifacts_from_json(json.loads(cached.read_text())), build_info
    request = standard_json_input(sources)
    request["settings"] = settings
    output = _solc(request)
    _write_atomically(build_info, _build_info(key, request, output))
    artifacts = {
        source: {
            name: {
                "abi": data["abi"],
                "bytecode": data["evm"]["bytecode"]["object"],
                "deployed_bytecode": data["evm"]["deployedBytecode"]["object"],
            }
            for name, data in contracts.items()
        }
        for source, contracts in output.get("contracts", {}).items()
        if source in sources
    }
    _write_atomically(cached, artifacts)
    return _artifacts_from_json(artifacts), build_info


def _settings_for(names: list[str]) -> dict[str, Any]:
    """COMPILER_SETTINGS with every output selected for the contracts of the files `names` and none for
    the files they import. solc generates the code of every contract any output is asked for (an ABI or
    a file's AST included: 83 s of solc CPU for the release-2 fixture, where its own code takes half)."""
    return {
        **COMPILER_SETTINGS,
        "outputSelection": dict.fromkeys(names, COMPILER_SETTINGS["outputSelection"]["*"]),
    }


def _build_info(key: str, request: dict[str, Any], output: dict[str, Any]) -> dict[str, Any]:
    return {
        "_format": "hh-sol-build-info-1",
        "id": key,
        "solcVersion": _pinned_version(),
        "solcLongVersion": _pinned_version(),
        "input": request,
        "output": {"sources": output.get("sources", {}), "contracts": output.get("contracts", {})},
    }


def _write_atomically(path: Path, data: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    # A temporary name of this process's own: two processes (the suite's xdist workers) compiling the
    # same sources at once each write their own, and the last rename wins with a whole file.
    temporary = path.with_suffix(f".{os.getpid()}.tmp")
    temporary.write_text(json.dumps(data))
    temporary.replace(path)  # atomic: a concurrent reader never sees half a file


def syntax_trees() -> dict[str, dict[str, Any]]:
    """The AST of every source under contracts/, by path: those of the cached compilation's build-info
    (solc run for them alone took as long as 20 s on a busy machine, in every test run).

    The Python mirror of the contracts' enums and role constants (chain/vocabulary.py) is checked
    against it; the ABIs carry an enum's type but not its members' names.
    """
    build_info = json.loads(compile_sources(source_files())[1].read_text())
    sources: dict[str, dict[str, Any]] = build_info["output"]["sources"]
    return {name: data["ast"] for name, data in sources.items() if name.startswith("contracts/")}


def _solc(request: dict[str, Any]) -> dict[str, Any]:
    """solc's standard-JSON output for `request`; CompileError if it reports errors."""
    output: dict[str, Any] = solcx.compile_standard(
        request,
        solc_binary=solc_binary(),
        base_path=str(REPO_ROOT),
        allow_paths=[str(REPO_ROOT), str(NODE_MODULES)],
    )
    errors = [e for e in output.get("errors", []) if e.get("severity") == "error"]
    if errors:
        raise CompileError("\n".join(e.get("formattedMessage", e.get("message", "")) for e in errors))
    return output


def _artifacts_from_json(data: dict[str, dict[str, dict[str, Any]]]) -> dict[str, Artifact]:
    return {
        name: Artifact(
            name=name,
            source=source,
            abi=item["abi"],
            bytecode="0x" + item["bytecode"],
            deployed_bytecode="0x" + item["deployed_bytecode"],
        )
        for source, contracts in data.items()
        for name, item in contracts.items()
    }


def abi_hash(artifacts: dict[str, Artifact], names: list[str]) -> str:
    """A digest of the ABIs of `names`, recorded with a deployment to catch stale clients."""
    digest = hashlib.sha256()
    for name in sorted(names):
        digest.update(name.encode() + json.dumps(artifacts[name].abi, sort_keys=True).encode())
    return "0x" + digest.hexdigest()


if __name__ == "__main__":
    compiled = compile_all(use_cache=False)
    for artifact in sorted(compiled.values(), key=lambda a: a.name):
        if len(artifact.bytecode) > 2:
            print(f"{artifact.name:28} {(len(artifact.deployed_bytecode) - 2) // 2:6} bytes runtime")
