"""The chain toolchain: solc wrapper, compile cache, devnet, deployer, chain-id guard, revert decoding."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import httpx
import pytest
from eth_abi.abi import encode
from eth_utils.abi import function_signature_to_4byte_selector

from tierflow.chain import compile as compiler
from tierflow.chain.abi import RevertDecoder
from tierflow.chain.accounts import dev_account
from tierflow.chain.deploy import deploy_all, load_deployment
from tierflow.chain.devnet import Devnet, rpc_ready
from tierflow.chain.node import connect
from tierflow.errors import WrongChainError
from tierflow.testing.chain import Platform

PROBE = (
    'pragma solidity ^0.8.24; import {Ownable} from "@openzeppelin/contracts/access/Ownable.sol";'
    "contract Probe is Ownable { constructor() Ownable(msg.sender) {} }"
)


def test_solc_wrapper_reports_the_pinned_version() -> None:
    output = subprocess.run([str(compiler.WRAPPER), "--version"], capture_output=True, text=True, check=True)
    assert f"Version: {compiler._pinned_version()}" in output.stdout


def test_solc_wrapper_compiles_standard_json_with_openzeppelin_imports() -> None:
    source = (
        'pragma solidity ^0.8.24; import {Ownable} from "@openzeppelin/contracts/access/Ownable.sol";'
        "contract Probe is Ownable { constructor() Ownable(msg.sender) {} }"
    )
    request = compiler.standard_json_input({"Probe.sol": source})
    output = subprocess.run(
        [str(compiler.WRAPPER), "--standard-json"], input=json.dumps(request), capture_output=True, text=True
    )
    result = json.loads(output.stdout)
    assert not [e for e in result.get("errors", []) if e["severity"] == "error"]
    assert result["contracts"]["Probe.sol"]["Probe"]["evm"]["bytecode"]["object"]


def test_compile_all_caches_by_content_hash_and_compiles_extra_sources_alone(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """On a small contracts/ (one contract and its OpenZeppelin import): the cache works the same for any
    sources, and compiling the real ones into an empty cache was a full via-IR compile in every run.
    Extra sources (the upgrade test's release 2) are a compilation of their own, cached apart, with
    code for their own contracts alone: an imported contract's code is not generated again."""
    monkeypatch.setattr(compiler, "CACHE_DIR", tmp_path)
    monkeypatch.setattr(compiler, "BUILD_INFO_DIR", tmp_path / "build-info")
    monkeypatch.setattr(compiler, "source_files", lambda: {"contracts/Probe.sol": PROBE})
    outputs: list[dict[str, Any]] = []
    solc = compiler._solc

    def recording(request: dict[str, Any]) -> dict[str, Any]:
        outputs.append(solc(request))
        return outputs[-1]

    monkeypatch.setattr(compiler, "_solc", recording)
    first = compiler.compile_all()
    cached = list(tmp_path.glob("*.json"))
    assert len(cached) == 1
    assert cached[0].stem == compiler.content_hash(compiler.source_files())
    assert (tmp_path / "build-info" / cached[0].name).exists()
    again = compiler.compile_all()
    assert again["Probe"].bytecode == first["Probe"].bytecode != "0x"
    assert len(outputs) == 1, "a cache hit ran solc"
    changed = dict(
        compiler.source_files(), **{"contracts/Extra.sol": "pragma solidity ^0.8.24; contract Extra {}"}
    )
    assert compiler.content_hash(changed) != cached[0].stem

    proxy = "@openzeppelin/contracts/proxy/ERC1967/ERC1967Proxy.sol"
    fixture = f'pragma solidity ^0.8.24; import {{ERC1967Proxy}} from "{proxy}"; contract ProbeV2 {{}}'
    artifacts = compiler.compile_all(extra_sources={"tests/ProbeV2.sol": fixture})
    assert artifacts["ProbeV2"].bytecode != "0x" and artifacts["Probe"] == first["Probe"]
    assert "ERC1967Proxy" not in artifacts, "the fixture's own contracts only"
    assert len(outputs) == 2, "the fixture alone compiled"
    # solc compiles every contract any output is asked for: the fixture's file alone is selected
    assert list(outputs[1]["contracts"]) == ["tests/ProbeV2.sol"]
    assert compiler.compile_all(extra_sources={"tests/ProbeV2.sol": fixture}) == artifacts
    assert len(outputs) == 2, "the fixture's compilation cached as well"


def test_devnet_persists_state_across_restarts(tmp_path: Path) -> None:
    with Devnet(state_dir=tmp_path) as devnet:
        w3 = connect(devnet.url)
        w3.provider.make_request("anvil_mine", ["0x5"])  # type: ignore[arg-type]
        mined = w3.eth.block_number
        url = devnet.url
    assert not rpc_ready(url)
    with Devnet(state_dir=tmp_path) as devnet:
        assert connect(devnet.url).eth.block_number == mined


def test_devnet_stop_removes_the_block_states_anvil_kept_on_disk() -> None:
    # anvil writes the states of older blocks under ~/.foundry/anvil/tmp and leaves them when stopped:
    # a day of test and bench runs filled this machine's disk (74 GB) before each devnet had its own home
    devnet = Devnet().start()
    home = devnet.home
    assert home is not None
    try:
        with httpx.Client(timeout=60) as client:
            client.post(
                devnet.url, json={"jsonrpc": "2.0", "id": 1, "method": "anvil_mine", "params": ["0x300"]}
            )
        kept = list((home / ".foundry" / "anvil" / "tmp").glob("anvil-state-*/*"))
        assert kept, "anvil kept no block state on disk: mine more blocks to exercise the cleanup"
    finally:
        devnet.stop()
    assert not home.exists()


def test_connect_refuses_a_node_with_another_chain_id() -> None:
    with Devnet(chain_id=4242) as devnet:
        with pytest.raises(WrongChainError, match="reports chain id 4242, but 31337 is expected"):
            connect(devnet.url, expected_chain_id=31337)
        assert connect(devnet.url, expected_chain_id=4242).eth.chain_id == 4242


def test_deploy_is_idempotent_and_records_the_deployment(tmp_path: Path) -> None:
    with Devnet() as devnet:
        w3 = connect(devnet.url)
        first = deploy_all(w3, dev_account(0), deployments_dir=tmp_path)
        recorded = load_deployment(tmp_path, w3.eth.chain_id)
        assert recorded == first
        assert first.deploy_block >= 1
        assert all(len(w3.eth.get_code(r.address)) > 0 for r in first.contracts.values())  # type: ignore[arg-type]
        block = w3.eth.block_number
        second = deploy_all(w3, dev_account(0), deployments_dir=tmp_path)
        assert second == first
        assert w3.eth.block_number == block, "a second deploy must not send transactions"


def test_revert_decoder_names_custom_errors_with_arguments() -> None:
    abi = [
        {
            "type": "error",
            "name": "CertificateInsufficientValue",
            "inputs": [
                {"name": "tokenId", "type": "uint256"},
                {"name": "value", "type": "uint256"},
                {"name": "requested", "type": "uint256"},
            ],
        }
    ]
    selector = function_signature_to_4byte_selector("CertificateInsufficientValue(uint256,uint256,uint256)")
    error = RevertDecoder([abi]).decode(selector + encode(["uint256"] * 3, [7, 500_000, 600_000]))
    assert error.name == "CertificateInsufficientValue"
    assert error.args_by_name == {"tokenId": 7, "value": 500_000, "requested": 600_000}
    assert str(error) == "CertificateInsufficientValue(tokenId=7, value=500000, requested=600000)"
    panic = RevertDecoder([]).decode(
        function_signature_to_4byte_selector("Panic(uint256)") + encode(["uint256"], [0x11])
    )
    assert panic.name == "Panic" and panic.args_by_name["reason"] == "arithmetic overflow or underflow"


def test_revert_from_a_real_contract_is_decoded(tf: Platform) -> None:
    with tf.reverts("RegistryNotOperator", tf.address("supplier1")):
        tf.transact(tf.c.registry.functions.suspend(tf.address("supplier2")), "supplier1")
