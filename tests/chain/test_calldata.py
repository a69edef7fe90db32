"""abi.calldata encodes every plain contract function straight with the codec, byte for byte as web3
does, and leaves anything web3 would normalise or refuse to web3 (same bytes, same error)."""

from __future__ import annotations

from typing import Any

import pytest
from eth_utils.address import to_checksum_address
from hexbytes import HexBytes
from web3 import Web3
from web3.contract import Contract
from web3.contract.contract import ContractFunction
from web3.exceptions import Web3Exception

from tierflow.chain import abi
from tierflow.chain.compile import compile_all

ADDRESS = to_checksum_address("0x" + "ab" * 20)
CONTRACTS = ("Receivables", "Financing", "Bills", "CreditLines", "ParticipantRegistry", "SettlementToken")


def _contracts() -> dict[str, Contract]:
    w3 = Web3()
    return {
        name: w3.eth.contract(address=ADDRESS, abi=artifact.abi)
        for name, artifact in compile_all().items()
        if name
        in ("Receivables", "Financing", "Bills", "CreditLines", "ParticipantRegistry", "SettlementToken")
    }


def _sample(abi_type: str, n: int) -> Any:
    if abi_type.endswith("]"):
        inner = abi_type[: abi_type.rindex("[")]
        size = abi_type[abi_type.rindex("[") + 1 : -1]
        return [_sample(inner, n + i) for i in range(int(size) if size else 2)]
    if abi_type == "address":
        return to_checksum_address(f"0x{n + 1:040x}")
    if abi_type == "bool":
        return n % 2 == 0
    if abi_type == "string":
        return f"text {n}"
    if abi_type == "bytes":
        return bytes([n % 256]) * 3
    if abi_type.startswith("bytes"):
        return "0x" + f"{n % 256:02x}" * int(abi_type[5:])  # hex strings, as web3 takes them too
    return 10**n + n  # (u)intN


def _web3(contract: Contract, function: str, args: list[Any]) -> bytes:
    return bytes(HexBytes(getattr(contract.functions, function)(*args)._encode_transaction_data()))


def test_calldata_matches_web3_for_every_plain_function() -> None:
    checked = 0
    for contract in _contracts().values():
        for item in contract.abi:
            if item.get("type") != "function":
                continue
            args = [_sample(str(i["type"]), n) for n, i in enumerate(item["inputs"])]
            try:
                expected = _web3(contract, item["name"], args)
            except Web3Exception:
                continue  # a tuple argument or an overload these samples do not fit: web3's alone
            assert abi.calldata(contract, item["name"], args) == expected, item["name"]
            checked += abi._plain_function(contract, item["name"], len(args)) is not None
    assert checked > 50  # the fast path, not web3's, answered for these


def test_calldata_skips_web3_formatters_for_a_split_transfer(monkeypatch: pytest.MonkeyPatch) -> None:
    contract = _contracts()["Receivables"]
    expected = _web3(contract, "transferValue", [7, ADDRESS, 500])

    def refuse(*_: Any, **__: Any) -> Any:
        raise AssertionError("web3's encoding path ran")

    monkeypatch.setattr(ContractFunction, "_encode_transaction_data", refuse)
    assert abi.calldata(contract, "transferValue", [7, ADDRESS, 500]) == expected


def test_calldata_refuses_what_web3_refuses() -> None:
    contract = _contracts()["Receivables"]
    for args in ([7, ADDRESS.lower(), 500], [-1, ADDRESS, 500], [7, "0x1234", 500], [7, ADDRESS, "500"]):
        with pytest.raises(Web3Exception) as expected:
            _web3(contract, "transferValue", args)
        with pytest.raises(type(expected.value)):
            abi.calldata(contract, "transferValue", args)
