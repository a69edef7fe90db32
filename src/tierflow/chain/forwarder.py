"""EIP-712 types of OpenZeppelin's ERC2771Forwarder ForwardRequest, shared by the relayer and the tests, and
the request's struct hash and calldata encoded by hand (the relayer's hot path)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from eth_utils.crypto import keccak

FORWARD_REQUEST_FIELDS = [
    {"name": "from", "type": "address"},
    {"name": "to", "type": "address"},
    {"name": "value", "type": "uint256"},
    {"name": "gas", "type": "uint256"},
    {"name": "nonce", "type": "uint256"},
    {"name": "deadline", "type": "uint48"},
    {"name": "data", "type": "bytes"},
]
FORWARD_REQUEST_TYPEHASH = keccak(
    b"ForwardRequest(address from,address to,uint256 value,uint256 gas,uint256 nonce,"
    b"uint48 deadline,bytes data)"
)
EIP712_DOMAIN_FIELDS = [
    {"name": "name", "type": "string"},
    {"name": "version", "type": "string"},
    {"name": "chainId", "type": "uint256"},
    {"name": "verifyingContract", "type": "address"},
]
EIP712_DOMAIN_TYPEHASH = keccak(
    b"EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)"
)

# -- the request's hash and calldata, encoded by hand -------------------------------------------------
# Every custodial write hashes its request and goes out in an `executeOrVoidBatch` (or `execute`) call.
# eth_abi's generic encoder and web3's address checksumming (a keccak per address) cost ~0.5 ms of a
# batch row's CPU; the layout is fixed, so the words are laid out here (tests/chain/test_forwarder_codec.py
# checks every function against eth_abi's encoding of the same values).
UINT48_LIMIT = 2**48


def _word(value: int) -> bytes:
    """A uint256 as its ABI word; a negative or too large value raises (as eth_abi refuses it)."""
    if not 0 <= value < 2**256:
        raise ValueError(f"{value} is not a uint256")
    return value.to_bytes(32, "big")


def _address(value: str) -> bytes:
    """An address (0x and 40 hex digits, any case) as its ABI word."""
    if not isinstance(value, str) or len(value) != 42 or value[:2] not in ("0x", "0X"):
        raise ValueError(f"{value!r} is not an address (0x followed by 40 hex digits)")
    return b"\x00" * 12 + bytes.fromhex(value[2:])


def _raw(value: str | bytes) -> bytes:
    """Hex text (with or without 0x) or bytes as bytes."""
    if isinstance(value, bytes | bytearray):
        return bytes(value)
    return bytes.fromhex(value[2:] if value[:2] in ("0x", "0X") else value)


def _deadline(value: Any) -> bytes:
    deadline = int(value)
    if not 0 <= deadline < UINT48_LIMIT:
        raise ValueError(f"deadline {deadline} is not a uint48")
    return deadline.to_bytes(32, "big")


def _padded(data: bytes) -> bytes:
    """Dynamic `bytes`: its length word, then the bytes right-padded to whole words."""
    return len(data).to_bytes(32, "big") + data + b"\x00" * (-len(data) % 32)


def struct_hash(message: dict[str, Any]) -> bytes:
    """hashStruct(ForwardRequest) of EIP-712: the typehash and the fields' words, `data` by its keccak."""
    return keccak(
        FORWARD_REQUEST_TYPEHASH
        + _address(message["from"])
        + _address(message["to"])
        + _word(int(message["value"]))
        + _word(int(message["gas"]))
        + _word(int(message["nonce"]))
        + _deadline(message["deadline"])
        + keccak(_raw(message["data"]))
    )


def _request_data(message: dict[str, Any], signature: str | bytes) -> bytes:
    """One ForwardRequestData (address,address,uint256,uint256,uint48,bytes,bytes) tuple's encoding."""
    data, sig = _raw(message["data"]), _raw(signature)
    tail_data = _padded(data)
    return (
        _address(message["from"])
        + _address(message["to"])
        + _word(int(message["value"]))
        + _word(int(message["gas"]))
        + _deadline(message["deadline"])
        + _word(7 * 32)  # the offset of `data` from the tuple's start: after its seven head words
        + _word(7 * 32 + len(tail_data))
        + tail_data
        + _padded(sig)
    )


def encode_request(message: dict[str, Any], signature: str | bytes) -> bytes:
    """The arguments of `execute(request)` / `verify(request)`: one dynamic tuple (offset word first)."""
    return _word(32) + _request_data(message, signature)


def encode_requests(requests: Sequence[tuple[dict[str, Any], str | bytes]]) -> bytes:
    """The argument of `executeOrVoidBatch(requests)`: an array of dynamic tuples."""
    parts = [_request_data(message, signature) for message, signature in requests]
    offsets, at = [], 32 * len(parts)  # each element's offset from the first offset word
    for part in parts:
        offsets.append(_word(at))
        at += len(part)
    return _word(32) + _word(len(parts)) + b"".join(offsets) + b"".join(parts)
