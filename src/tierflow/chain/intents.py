"""Signed forward requests announced before they are sent, and what the chain later says became of one.

A writer that must survive its own process dying between the send and its answer (a batch row) opens
`announcing(tag, store)` around its write: the gateway then calls `store` with the row's signed request
(signer, forwarder nonce, EIP-712 digest, deadline) before the transaction carrying it goes out, and
sends nothing if `store` fails. `trace` reads the chain for such a request afterwards: its nonce still
unused (it may run until its deadline), used by this very request (in which transaction), or used by
another request (this one can never run).
"""

from __future__ import annotations

import contextvars
import threading
import time
import weakref
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

from eth_abi.abi import decode as abi_decode
from eth_utils.crypto import keccak
from hexbytes import HexBytes
from web3 import Web3


class ChainGateway(Protocol):
    """What `trace` reads through (chain.gateway.ChainGateway, which imports this module)."""

    @property
    def rpc(self) -> Any: ...

    @property
    def forwarder(self) -> Any: ...

    def forwarder_nonce(self, signer: str, block: str = "latest") -> int: ...

    def digest(self, message: dict[str, Any]) -> bytes: ...


@dataclass(frozen=True)
class SignedIntent:
    """A custodial forward request as signed, before its transaction is sent."""

    signer: str
    nonce: int  # its forwarder nonce
    digest: str  # 0x EIP-712 digest
    deadline: int  # [unix s, chain time] the forwarder refuses it after this


# store(items): persist each (tag, intent) before the send; raising stops the send.
Store = Callable[[list[tuple[Any, SignedIntent]]], None]


@dataclass(frozen=True)
class _Sink:
    tag: Any
    store: Store


_SINK: contextvars.ContextVar[_Sink | None] = contextvars.ContextVar("tierflow_intent_sink", default=None)


@contextmanager
def announcing(tag: Any, store: Store) -> Iterator[None]:
    """Have the writes in this context (and the threads it copies to) announce their signed requests."""
    token = _SINK.set(_Sink(tag, store))
    try:
        yield
    finally:
        _SINK.reset(token)


def announcing_here() -> bool:
    """Whether the writes in this context announce their signed requests."""
    return _SINK.get() is not None


def announce(writers: Sequence[tuple[contextvars.Context, SignedIntent]]) -> None:
    """Store the signed requests of the writers that asked for it, one `store` call per kind of writer;
    called by the gateway before the transaction carrying them is sent (an error stops the send)."""
    groups: dict[int, tuple[Store, list[tuple[Any, SignedIntent]]]] = {}
    for context, intent in writers:
        sink = context.get(_SINK)
        if sink is None:
            continue
        groups.setdefault(id(sink.store), (sink.store, []))[1].append((sink.tag, intent))
    for store, items in groups.values():
        store(items)


@dataclass(frozen=True)
class Trace:
    """What became of a signed request: `unused` (its nonce is still to come: it may run until its
    deadline), `ran` (this request used its nonce, in `tx_hash`), `other` (another request used its
    nonce, e.g. the no-op that voids a lost one: this one can never run)."""

    state: Literal["unused", "ran", "other"]
    chain_time: int
    tx_hash: str | None = None


EXECUTED = keccak(text="ExecutedForwardRequest(address,uint256,bool)")
FAILED = keccak(text="ForwardRequestFailed(address,uint256,bytes)")
REQUESTS = "(address,address,uint256,uint256,uint48,bytes,bytes)"
# The forwarder's two entry points a relayer calls (the gateway's own, not imported: it imports this).
EXECUTE_SELECTOR = keccak(text=f"execute({REQUESTS})")[:4]
BATCH_SELECTOR = keccak(text=f"executeOrVoidBatch({REQUESTS}[])")[:4]


def trace(gateway: ChainGateway, intent: SignedIntent, lifetime_s: int) -> Trace:
    """Read the chain for `intent`, signed `lifetime_s` before its deadline (that bounds the blocks its
    nonce can have been used in)."""
    rpc = gateway.rpc
    latest = rpc.call("eth_getBlockByNumber", ["latest", False])
    now, head = int(latest["timestamp"], 16), int(latest["number"], 16)
    if gateway.forwarder_nonce(intent.signer, "latest") <= intent.nonce:
        return Trace("unused", now)
    cache = _cache(gateway)
    start = cache.first_block_at(gateway, intent.deadline - lifetime_s, head)
    tx_hash = cache.user_of(gateway, intent.signer, intent.nonce, start, head)
    if tx_hash is None:
        # Used, but not between its signing and its deadline: by a request signed before it (a no-op).
        return Trace("other", now)
    ran = any(
        "0x" + gateway.digest({**message, "nonce": intent.nonce}).hex() == intent.digest.lower()
        for message in cache.requests_of(gateway, tx_hash, intent.signer)
    )
    return Trace("ran" if ran else "other", now, tx_hash if ran else None)


# [s] how long what was read for one settling stays reused by the rows settled with it: a batch's rows
# share their signer, their blocks and their transactions (a log query per row would read the signer's
# logs of the whole batch once per row), and a short life leaves nothing stale after a reorg.
CACHE_S = 60.0


@dataclass
class _Cache:
    """What the rows settled together read: first blocks by time, nonces' transactions, requests."""

    born: float = field(default_factory=time.monotonic)
    lock: threading.Lock = field(default_factory=threading.Lock)
    starts: dict[int, int] = field(default_factory=dict)  # [unix s] -> first block at or after it
    used: dict[tuple[str, int], tuple[int, dict[int, str]]] = field(default_factory=dict)
    requests: dict[str, list[dict[str, Any]]] = field(default_factory=dict)

    def first_block_at(self, gateway: ChainGateway, timestamp: int, head: int) -> int:
        with self.lock:
            if timestamp not in self.starts:
                self.starts[timestamp] = _first_block_at(gateway, timestamp, head)
            return self.starts[timestamp]

    def user_of(self, gateway: ChainGateway, signer: str, nonce: int, start: int, head: int) -> str | None:
        """The transaction that used `nonce` of `signer` in blocks `start`..`head`, if any."""
        with self.lock:
            read, used = self.used.get((signer, start), (start - 1, {}))
            if nonce not in used and read < head:
                for log in _logs(gateway, signer, read + 1, head):
                    used[int.from_bytes(bytes(HexBytes(log["data"]))[:32], "big")] = str(
                        log["transactionHash"]
                    )
                self.used[(signer, start)] = (head, used)
            return used.get(nonce)

    def requests_of(self, gateway: ChainGateway, tx_hash: str, signer: str) -> list[dict[str, Any]]:
        with self.lock:
            if tx_hash not in self.requests:
                self.requests[tx_hash] = _requests(gateway, tx_hash)
            return [m for m in self.requests[tx_hash] if m["from"] == Web3.to_checksum_address(signer)]


_CACHES: weakref.WeakKeyDictionary[Any, _Cache] = weakref.WeakKeyDictionary()
_CACHES_LOCK = threading.Lock()


def _cache(gateway: ChainGateway) -> _Cache:
    with _CACHES_LOCK:
        cache = _CACHES.get(gateway)
        if cache is None or time.monotonic() - cache.born > CACHE_S:
            cache = _CACHES[gateway] = _Cache()
        return cache


def _logs(gateway: ChainGateway, signer: str, start: int, end: int) -> list[dict[str, Any]]:
    """The forwarder's events closing `signer`'s requests (one per nonce used) in blocks start..end."""
    signer_topic = "0x" + bytes(HexBytes(signer)).rjust(32, b"\0").hex()
    found: list[dict[str, Any]] = gateway.rpc.call(
        "eth_getLogs",
        [
            {
                "address": str(gateway.forwarder.address),
                "fromBlock": hex(start),
                "toBlock": hex(end),
                "topics": [["0x" + EXECUTED.hex(), "0x" + FAILED.hex()], signer_topic],
            }
        ],
    )
    return found


def _first_block_at(gateway: ChainGateway, timestamp: int, head: int) -> int:
    """The first block whose time is at least `timestamp` (block times never go back)."""
    low, high = 0, head
    while low < high:
        middle = (low + high) // 2
        block = gateway.rpc.call("eth_getBlockByNumber", [hex(middle), False])
        if int(block["timestamp"], 16) < timestamp:
            low = middle + 1
        else:
            high = middle
    return low


def _requests(gateway: ChainGateway, tx_hash: str) -> list[dict[str, Any]]:
    """The forward requests (messages without their nonce) that transaction `tx_hash` of the forwarder
    carries: one for `execute`, several for a batch, none for anything else."""
    tx = gateway.rpc.call("eth_getTransactionByHash", [tx_hash])
    data = bytes(HexBytes(tx["input"]))
    selector, body = data[:4], data[4:]
    if selector == EXECUTE_SELECTOR:
        requests = [abi_decode([REQUESTS], body)[0]]
    elif selector == BATCH_SELECTOR:
        requests = list(abi_decode([REQUESTS + "[]"], body)[0])
    else:
        return []
    return [
        {"from": Web3.to_checksum_address(sender), "to": to, "value": value, "gas": gas, "deadline": deadline,
         "data": "0x" + bytes(call).hex()}
        for sender, to, value, gas, deadline, call, _signature in requests
    ]  # fmt: skip
