"""The one ABI codec of Tierflow: calldata in, logs and revert data out, straight from the compiled ABIs.

Logs: raw eth_getLogs / receipt entries → Event (the indexer and the relayer's receipts). Reverts:
revert data → ContractRevert(name, args) by selector. Calldata: a contract function's call data.
"""

from __future__ import annotations

import re
import weakref
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property, lru_cache
from typing import Any

from eth_abi.abi import decode as abi_decode
from eth_utils.abi import event_abi_to_log_topic, function_signature_to_4byte_selector
from eth_utils.address import to_checksum_address
from hexbytes import HexBytes
from web3.contract import Contract
from web3.exceptions import ContractLogicError

from tierflow.errors import ContractRevert, TierflowError


class DecodeError(TierflowError, ValueError):
    """A log of a followed contract does not match its ABI."""


@dataclass(frozen=True, slots=True)
class Event:
    """One decoded log. `args` holds JSON values: ints, bools, 0x-hex bytes, checksummed addresses, lists."""

    contract: str
    event: str
    args: dict[str, Any]
    block_number: int
    block_hash: str
    log_index: int
    tx_hash: str
    tx_index: int
    address: str
    block_time: int | None = None

    @property
    def key(self) -> str:
        """The handler registry key, e.g. "Receivables:CertificateSplit"."""
        return f"{self.contract}:{self.event}"


@lru_cache(maxsize=65536)
def checksum(address: str) -> str:
    """EIP-55 form of an address; cached because a chain has few distinct parties and keccak is not free."""
    return str(to_checksum_address(address))


def normalise(abi_type: str, value: Any) -> Any:
    """An eth_abi value as JSON: bytes to 0x-hex, addresses checksummed, tuples to lists."""
    if abi_type.endswith("]"):
        inner = abi_type[: abi_type.rindex("[")]
        return [normalise(inner, item) for item in value]
    if abi_type == "address":
        return checksum(value)
    if isinstance(value, bytes):
        return "0x" + value.hex()
    if isinstance(value, tuple):
        return [normalise("", item) for item in value]
    return value


def _canonical_type(item: Mapping[str, Any]) -> str:
    abi_type = str(item["type"])
    if abi_type.startswith("tuple"):
        inner = ",".join(_canonical_type(component) for component in item["components"])
        return f"({inner}){abi_type[len('tuple') :]}"
    return abi_type


def _is_dynamic(abi_type: str) -> bool:
    return abi_type in ("string", "bytes") or abi_type.endswith("]") or abi_type.startswith("(")


def _word_decoder(abi_type: str) -> Callable[[str], Any] | None:
    """A decoder of one 32-byte ABI word given as 64 hex digits, for the static elementary types.

    eth_abi's general decoder costs ~50 µs per event; slicing words is ~20× cheaper and events
    are almost all static (uints, addresses, bools, bytes32)."""
    if _is_dynamic(abi_type):
        return None
    if abi_type.startswith("uint"):
        return lambda word: int(word, 16)
    if abi_type.startswith("int"):
        return _signed
    if abi_type == "address":
        return lambda word: checksum("0x" + word[24:])
    if abi_type == "bool":
        return lambda word: int(word, 16) != 0
    if abi_type.startswith("bytes") and abi_type[5:].isdigit():
        size = int(abi_type[5:])
        return lambda word: "0x" + word[: 2 * size]
    return None


def _data_decoder(abi_type: str) -> Callable[[str, int], Any] | None:
    """A decoder of the data argument at head word `index` of a log's data (hex digits, no 0x): the
    static elementary types, and the dynamic `bytes` and arrays of them (`bytes32[]` of CertificateIssued,
    the revert `bytes` of ForwardRequestFailed), which eth_abi's general decoder made the costliest logs
    of a batch row (each decoded twice: in its receipt and by the indexer)."""
    word = _word_decoder(abi_type)
    if word is not None:
        return lambda body, index: word(body[64 * index : 64 * index + 64])
    element = _word_decoder(abi_type[:-2]) if abi_type.endswith("[]") else None
    if element is None and abi_type != "bytes":
        return None

    def dynamic(body: str, index: int) -> Any:
        start = 2 * int(body[64 * index : 64 * index + 64], 16)  # its offset [bytes] from the data's start
        if start + 64 > len(body):
            raise DecodeError(f"{abi_type} at offset {start // 2} runs past the log's data")
        count = int(body[start : start + 64], 16)
        end = start + 64 + (64 * count if element is not None else 2 * count)
        if end > len(body):
            raise DecodeError(f"{abi_type} of length {count} runs past the log's data")
        if element is None:
            return "0x" + body[start + 64 : end]
        return [element(body[at : at + 64]) for at in range(start + 64, end, 64)]

    return dynamic


def _signed(word: str) -> int:
    # every intN is sign-extended to 256 bits in the ABI encoding
    value = int(word, 16)
    return value - (1 << 256) if value >= 1 << 255 else value


def _hash_topic(word: str) -> str:
    # a dynamic indexed value is only its keccak on chain: keep the topic as it is
    return "0x" + word


@dataclass(frozen=True)
class EventSpec:
    contract: str
    name: str
    indexed: tuple[tuple[str, str], ...]  # (name, type) in topic order
    data_names: tuple[str, ...]
    data_types: tuple[str, ...]
    order: tuple[str, ...]  # argument names in declaration order

    @classmethod
    def from_abi(cls, contract: str, item: Mapping[str, Any]) -> EventSpec:
        inputs = item["inputs"]
        return cls(
            contract=contract,
            name=str(item["name"]),
            indexed=tuple((i["name"], _canonical_type(i)) for i in inputs if i.get("indexed")),
            data_names=tuple(i["name"] for i in inputs if not i.get("indexed")),
            data_types=tuple(_canonical_type(i) for i in inputs if not i.get("indexed")),
            order=tuple(i["name"] for i in inputs),
        )

    @cached_property
    def _topic_decoders(self) -> tuple[Callable[[str], Any], ...]:
        return tuple(_word_decoder(t) or _hash_topic for _, t in self.indexed)

    @cached_property
    def _data_decoders(self) -> tuple[Callable[[str, int], Any], ...] | None:
        decoders = [_data_decoder(t) for t in self.data_types]
        if any(decoder is None for decoder in decoders):
            return None
        return tuple(d for d in decoders if d is not None)

    def decode_args(self, topics: Sequence[str], data: str) -> dict[str, Any]:
        if len(topics) != len(self.indexed) + 1:
            raise DecodeError(
                f"{self.contract}.{self.name}: {len(topics) - 1} indexed topics, ABI says {len(self.indexed)}"
            )
        values: dict[str, Any] = {}
        for (name, _), decode, topic in zip(self.indexed, self._topic_decoders, topics[1:], strict=True):
            values[name] = decode(topic[2:])
        fast = self._data_decoders
        if fast is not None:
            if len(data) < 2 + 64 * len(fast):
                raise DecodeError(f"{self.contract}.{self.name}: data too short")
            body = data[2:]
            for i, (name, read) in enumerate(zip(self.data_names, fast, strict=True)):
                values[name] = read(body, i)
        elif self.data_types:
            decoded = abi_decode(list(self.data_types), bytes.fromhex(data[2:]))
            for name, abi_type, value in zip(self.data_names, self.data_types, decoded, strict=True):
                values[name] = normalise(abi_type, value)
        return {name: values[name] for name in self.order}


class LogDecoder:
    """Decodes the logs of a fixed set of contracts (name → address, ABI)."""

    def __init__(self, contracts: Mapping[str, tuple[str, Iterable[Mapping[str, Any]]]]) -> None:
        self.names: dict[str, str] = {}
        self._specs: dict[tuple[str, str], EventSpec] = {}
        for name, (address, abi) in contracts.items():
            lowered = address.lower()
            self.names[lowered] = name
            for item in abi:
                if item.get("type") == "event" and not item.get("anonymous"):
                    topic = "0x" + event_abi_to_log_topic(dict(item)).hex()  # type: ignore[arg-type]
                    self._specs[(lowered, topic)] = EventSpec.from_abi(name, item)

    @property
    def addresses(self) -> list[str]:
        return [checksum(address) for address in self.names]

    def spec(self, address: str, topic0: str) -> EventSpec | None:
        return self._specs.get((address.lower(), topic0.lower()))

    def decode(self, log: Mapping[str, Any]) -> Event | None:
        """One raw JSON-RPC log → Event; None for a log this decoder does not know (another contract)."""
        topics = log["topics"]
        if not topics:
            return None
        spec = self.spec(log["address"], topics[0])
        if spec is None:
            return None
        timestamp = log.get("blockTimestamp")
        return Event(
            contract=spec.contract,
            event=spec.name,
            args=spec.decode_args(topics, log["data"]),
            block_number=int(log["blockNumber"], 16),
            block_hash=log["blockHash"],
            log_index=int(log["logIndex"], 16),
            tx_hash=log["transactionHash"],
            tx_index=int(log["transactionIndex"], 16),
            address=checksum(log["address"]),
            block_time=int(timestamp, 16) if timestamp is not None else None,
        )


# -- calldata ---------------------------------------------------------------------------------


def calldata(contract: Contract, function: str, args: Sequence[Any]) -> bytes:
    """The call data of `contract.function(*args)`.

    A function without overloads or tuples (every write of the platform) is encoded straight with the
    contract's codec, web3's strict one: web3's own path (overload matching, then its normaliser and
    type-checking formatters over the arguments) cost ~1 ms of CPU per write. Anything else, and any
    argument the codec refuses, goes through web3, which gives the same bytes or the same error.
    """
    plain = _plain_function(contract, function, len(args))
    if plain is not None:
        selector, types = plain
        try:
            values = [_normalised(kind, value) for kind, value in zip(types, args, strict=True)]
            try:
                return selector + _encode_words(types, values)
            except ValueError:  # a type or value the word layout leaves to the codec (which may refuse it)
                return selector + contract.w3.codec.encode(types, values)
        except Exception:  # an argument web3 would normalise or refuse: it raises its own error below
            pass
    return bytes(HexBytes(getattr(contract.functions, function)(*args)._encode_transaction_data()))


_PLAIN_TYPE = re.compile(r"^(u?int\d*|bool|address|bytes\d*|string)(\[\d*\])*$")
_PLAIN: weakref.WeakKeyDictionary[Contract, dict[tuple[str, int], tuple[bytes, list[str]] | None]] = (
    weakref.WeakKeyDictionary()
)


def _plain_function(contract: Contract, function: str, arity: int) -> tuple[bytes, list[str]] | None:
    """(selector, argument types) of `function` if it has no overload and only elementary types."""
    known = _PLAIN.setdefault(contract, {})
    key = (function, arity)
    if key not in known:
        entries: list[Any] = [
            i for i in contract.abi if i.get("type") == "function" and i.get("name") == function
        ]
        types = [str(i["type"]) for i in entries[0]["inputs"]] if len(entries) == 1 else []
        plain = len(entries) == 1 and len(types) == arity and all(_PLAIN_TYPE.match(t) for t in types)
        selector = function_signature_to_4byte_selector(f"{function}({','.join(types)})")
        known[key] = (selector, types) if plain else None
    return known[key]


_WORD_TYPE = re.compile(r"^(uint|int|bytes)(\d*)$")


def _word(abi_type: str, value: Any) -> bytes:
    """One static elementary value as its 32-byte ABI word; ValueError for anything the strict codec
    would not take exactly as given (it then decides: the same bytes or its own refusal)."""
    if abi_type == "address" and isinstance(value, str) and len(value) == 42:
        return bytes(12) + bytes.fromhex(value[2:])  # checksummed already (_normalised)
    if abi_type == "bool" and type(value) is bool:
        return bytes(31) + bytes([value])
    match = _WORD_TYPE.match(abi_type)
    if match is not None:
        kind, size = match.group(1), int(match.group(2) or 256)
        if kind == "bytes" and isinstance(value, bytes) and len(value) == size <= 32:
            return value + bytes(32 - size)
        if kind == "uint" and type(value) is int and 0 <= value < 1 << size:
            return value.to_bytes(32, "big")
        if kind == "int" and type(value) is int and -(1 << (size - 1)) <= value < 1 << (size - 1):
            return (value % (1 << 256)).to_bytes(32, "big")
    raise ValueError(f"{abi_type}: left to the codec")


def _encode_words(types: Sequence[str], values: Sequence[Any]) -> bytes:
    """The ABI encoding of static elementary values and dynamic arrays of them, laid out word by word:
    the codec's type checks and encoder objects cost ~0.1 ms of CPU for an issue's arguments."""
    head: list[bytes] = []
    tail: list[bytes] = []
    offset = 32 * len(types)
    for abi_type, value in zip(types, values, strict=True):
        if abi_type.endswith("[]") and isinstance(value, list | tuple):
            part = len(value).to_bytes(32, "big") + b"".join(_word(abi_type[:-2], item) for item in value)
            head.append(offset.to_bytes(32, "big"))
            tail.append(part)
            offset += len(part)
        else:
            head.append(_word(abi_type, value))
    return b"".join(head + tail)


def _normalised(abi_type: str, value: Any) -> Any:
    """`value` as web3's normalisers leave it: 0x-hex strings for bytes become bytes; an address must be a
    checksummed string (web3 refuses any other, the codec would take a lowercase one)."""
    if abi_type.endswith("]"):
        inner = abi_type[: abi_type.rindex("[")]
        return [_normalised(inner, item) for item in value]
    if abi_type == "address" and not (isinstance(value, str) and checksum(value) == value):
        raise ValueError("not a checksummed address")
    if abi_type.startswith("bytes") and isinstance(value, str):
        return bytes(HexBytes(value))
    return value


# -- revert data --------------------------------------------------------------------------------

PANIC_REASONS = {
    0x01: "assertion failed",
    0x11: "arithmetic overflow or underflow",
    0x12: "division by zero",
    0x21: "invalid enum value",
    0x32: "array index out of bounds",
    0x41: "out of memory",
}


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
