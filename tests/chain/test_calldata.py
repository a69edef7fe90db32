"""abi.calldata encodes every plain contract function straight with the codec, byte for byte as web3
does, and leaves anything web3 would normalise or refuse to web3 (same bytes, same error)."""

from __future__ import annotations

import re
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


def test_calldata_lays_out_word_types_without_the_codec(monkeypatch: pytest.MonkeyPatch) -> None:
    """Functions of static elementary arguments and arrays of them (an issue's invoice hashes) are laid
    out word by word, the same bytes as web3's, without the codec (old code: the codec encoded every one)."""
    cases = []
    for contract in _contracts().values():
        for item in contract.abi:
            types = [str(i["type"]) for i in item.get("inputs", [])]
            if item.get("type") != "function" or not all(
                re.match(r"^(u?int\d*|bool|address|bytes\d+)(\[\])?$", t) for t in types
            ):
                continue
            args = [_sample(t, n) for n, t in enumerate(types)]
            if abi._plain_function(contract, item["name"], len(args)) is None:
                continue  # overloaded: web3's path
            try:
                cases.append((contract, item["name"], args, _web3(contract, item["name"], args)))
            except Web3Exception:
                continue
    for contract in {id(c): c for c, *_ in cases}.values():
        monkeypatch.setattr(
            contract.w3.codec,
            "encode",
            lambda types, values: pytest.fail(f"the codec encoded {types} {values}"),
        )
    assert len(cases) > 40 and any(isinstance(arg, list) for *_, args, _ in cases for arg in args)
    for contract, function, args, expected in cases:
        assert abi.calldata(contract, function, args) == expected, function
    # Out of range, a bool for an int, a short bytes32: left to the codec, which decides (refuses them).
    for types, values in (
        (["uint8"], [256]),
        (["uint256"], [True]),
        (["bytes32"], [b"\x01" * 31]),
        (["int8"], [-129]),
    ):
        with pytest.raises(ValueError):
            abi._encode_words(types, values)
