"""The few JSON-RPC calls the indexer makes, raw (no web3 formatters: they cost more than the decoding).

Over HTTP they bypass the web3 provider too: with request caching on, web3 answers every
eth_getBlockByNumber(n) with one or two extra calls to decide whether the block may be cached, and
a cached block by number would hide a reorg from the indexer.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from web3 import Web3

from tierflow.chain.jsonrpc import RpcError, rpc_for

__all__ = ["BlockRef", "Rpc", "RpcError"]


@dataclass(frozen=True, slots=True)
class BlockRef:
    number: int
    hash: str
    parent_hash: str
    timestamp: int


class Rpc:
    def __init__(self, w3: Web3) -> None:
        self.transport = rpc_for(w3)

    def call(self, method: str, params: Sequence[Any]) -> Any:
        """The result of one call (RpcError on a JSON-RPC error; ChainUnavailableError when unreachable)."""
        return self.transport.call(method, params)

    def chain_id(self) -> int:
        return int(self.call("eth_chainId", []), 16)

    def block_number(self) -> int:
        return int(self.call("eth_blockNumber", []), 16)

    def block(self, number: int) -> BlockRef | None:
        """Header of the canonical block `number`, None beyond the head."""
        result = self.call("eth_getBlockByNumber", [hex(number), False])
        if result is None:
            return None
        return BlockRef(
            number=int(result["number"], 16),
            hash=result["hash"],
            parent_hash=result["parentHash"],
            timestamp=int(result["timestamp"], 16),
        )

    def logs(self, from_block: int, to_block: int, addresses: Sequence[str]) -> list[dict[str, Any]]:
        result = self.call(
            "eth_getLogs",
            [{"fromBlock": hex(from_block), "toBlock": hex(to_block), "address": list(addresses)}],
        )
        return list(result or [])
