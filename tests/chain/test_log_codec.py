"""Log data decoded by slicing words (chain/abi.py), dynamic `bytes` and word arrays included, equals
eth_abi's general decoding of the same data, and refuses data that runs short."""

from __future__ import annotations

from typing import Any

import pytest
from eth_abi.abi import decode as abi_decode
from eth_abi.abi import encode as abi_encode

from tierflow.chain import abi
from tierflow.chain.abi import DecodeError, EventSpec

TYPES = ["uint256", "bytes32[]", "address", "bytes", "int64", "address[]", "bool", "bytes4"]
ITEM = {
    "type": "event",
    "name": "Mixed",
    "inputs": [{"name": "who", "type": "address", "indexed": True}]
    + [{"name": f"a{i}", "type": t, "indexed": False} for i, t in enumerate(TYPES)],
}
WHO = "0x" + "0" * 24 + "90f79bf6eb2c4f870365e785982e1f101e93b906"


def _values(n: int) -> list[Any]:
    return [
        2**256 - 1 - n,
        [bytes([n + k]) * 32 for k in range(n)],
        "0x5fbdb2315678afecb367f032d93f642f64180aa3",
        bytes(range(n * 7 % 70)),
        -(2**63) + n,
        ["0x" + f"{k + 1:040x}" for k in range(n)],
        n % 2 == 1,
        bytes([n, 1, 2, 3]),
    ]


def _generic(data: str) -> dict[str, Any]:
    decoded = abi_decode(TYPES, bytes.fromhex(data[2:]))
    return {f"a{i}": abi.normalise(t, v) for i, (t, v) in enumerate(zip(TYPES, decoded, strict=True))}


@pytest.mark.parametrize("n", [0, 1, 2, 5])
def test_log_data_decoded_by_words_equals_eth_abi(n: int) -> None:
    spec = EventSpec.from_abi("Test", ITEM)
    assert spec._data_decoders is not None  # the word path, not eth_abi (old code: None for these types)
    data = "0x" + abi_encode(TYPES, _values(n)).hex()
    args = spec.decode_args(["0x" + "ab" * 32, WHO], data)
    assert args == {"who": abi.checksum("0x" + WHO[-40:]), **_generic(data)}


def test_log_data_whose_dynamic_part_runs_short_is_refused() -> None:
    spec = EventSpec.from_abi("Test", ITEM)
    data = "0x" + abi_encode(TYPES, _values(3)).hex()
    with pytest.raises(DecodeError):
        spec.decode_args(["0x" + "ab" * 32, WHO], data[:-64])  # the last element of the last array cut
    offset = "f" * 64  # the array's offset far past the data
    with pytest.raises(DecodeError):
        spec.decode_args(["0x" + "ab" * 32, WHO], data[:66] + offset + data[130:])
