"""Decode revert data by selector into ContractRevert(name, args) using every compiled ABI."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from eth_abi.abi import decode as abi_decode
from eth_utils.abi import function_signature_to_4byte_selector
from eth_utils.address import to_checksum_address
from web3.exceptions import ContractLogicError

from tierflow.errors import ContractRevert

PANIC_REASONS = {
    0x01: "assertion failed",
    0x11: "arithmetic overflow or underflow",
    0x12: "division by zero",
    0x21: "invalid enum value",
    0x32: "array index out of bounds",
    0x41: "out of memory",
}


def _canonical_type(item: dict[str, Any]) -> str:
    kind = str(item["type"])
    if kind.startswith("tuple"):
        inner = ",".join(_canonical_type(component) for component in item["components"])
        return f"({inner}){kind[len('tuple') :]}"
    return kind


class RevertDecoder:
    """Knows every custom error of the given ABIs (OpenZeppelin's included) by its 4-byte selector."""

    def __init__(self, abis: Iterable[list[dict[str, Any]]]) -> None:
        self._errors: dict[bytes, tuple[str, list[str], list[str]]] = {
            function_signature_to_4byte_selector("Error(string)"): ("Error", ["reason"], ["string"]),
            function_signature_to_4byte_selector("Panic(uint256)"): ("Panic", ["code"], ["uint256"]),
        }
        for abi in abis:
            for item in abi:
                if item.get("type") != "error":
                    continue
                types = [_canonical_type(i) for i in item["inputs"]]
                selector = function_signature_to_4byte_selector(f"{item['name']}({','.join(types)})")
                names = [i["name"] or f"arg{n}" for n, i in enumerate(item["inputs"])]
                self._errors[selector] = (item["name"], names, types)

    def decode(self, data: bytes | str | None) -> ContractRevert:
        raw = _as_bytes(data)
        if len(raw) < 4:
            return ContractRevert("Reverted", {}, raw="0x" + raw.hex())
        known = self._errors.get(raw[:4])
        if known is None:
            return ContractRevert("UnknownError", {"selector": "0x" + raw[:4].hex()}, raw="0x" + raw.hex())
        name, names, types = known
        values = [
            to_checksum_address(value) if kind == "address" else value
            for kind, value in zip(types, abi_decode(types, raw[4:]), strict=True)
        ]
        args = dict(zip(names, values, strict=True))
        if name == "Panic":
            args["reason"] = PANIC_REASONS.get(int(args["code"]), "unknown panic")
        return ContractRevert(name, args, raw="0x" + raw.hex())

    def from_exception(self, error: ContractLogicError) -> ContractRevert:
        data = error.data
        if isinstance(data, dict):  # some nodes nest the payload
            data = data.get("data") or next(iter(data.values()), None)
        decoded = self.decode(data)
        if decoded.name == "Reverted" and error.message:
            return ContractRevert("Reverted", {"message": error.message})
        return decoded


def _as_bytes(data: bytes | str | None) -> bytes:
    if data is None:
        return b""
    if isinstance(data, bytes):
        return data
    text = data[2:] if data.startswith("0x") else data
    try:
        return bytes.fromhex(text)
    except ValueError:
        return b""
