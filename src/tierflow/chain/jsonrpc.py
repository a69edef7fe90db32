"""A lean JSON-RPC client for the hot paths (relaying writes, indexing): keep-alive HTTP, no formatters.

web3.py runs every request through middleware, request caching and result formatters; on a write
that is four or five calls, this costs more CPU than the node's own work. The indexer and the
relayer need only raw hex in and out, so they speak JSON-RPC over `http.client` directly: one
keep-alive connection per thread (connections are not thread-safe), reopened once if the node
dropped an idle one.
"""

from __future__ import annotations

import http.client
import json
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from web3 import Web3

from tierflow.errors import ChainUnavailableError, TierflowError

# Methods that change nothing: safe to send again on a fresh connection when the first one failed.
_NOT_RETRIED = frozenset({"eth_sendRawTransaction", "eth_sendTransaction"})


class RpcError(TierflowError, RuntimeError):
    """The node answered with a JSON-RPC error; `data` carries revert data for eth_call/estimateGas."""

    def __init__(self, method: str, error: dict[str, Any]) -> None:
        self.method = method
        self.code = int(error.get("code", 0))
        self.message = str(error.get("message", ""))
        data = error.get("data")
        if isinstance(data, dict):  # some nodes nest the payload
            data = data.get("data") or next(iter(data.values()), None)
        self.data: str | None = data if isinstance(data, str) else None
        super().__init__(f"{method}: {error}")


class JsonRpc:
    """Thread-safe JSON-RPC over HTTP(S) with one persistent connection per calling thread."""

    def __init__(self, url: str, timeout: float = 30.0) -> None:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"not an HTTP JSON-RPC URL: {url}")
        self.url = url
        self._https = parts.scheme == "https"
        self._host = parts.hostname
        self._port = parts.port
        self._path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        self._timeout = timeout
        self._local = threading.local()

    def _connection(self) -> http.client.HTTPConnection:
        connection: http.client.HTTPConnection | None = getattr(self._local, "connection", None)
        if connection is None:
            kind = http.client.HTTPSConnection if self._https else http.client.HTTPConnection
            connection = kind(self._host, self._port, timeout=self._timeout)
            self._local.connection = connection
        return connection

    def _drop(self) -> None:
        connection = getattr(self._local, "connection", None)
        if connection is not None:
            connection.close()
            self._local.connection = None

    def _post(self, body: bytes, retry: bool) -> Any:
        for attempt in (0, 1):
            connection = self._connection()
            try:
                connection.request("POST", self._path, body, {"Content-Type": "application/json"})
                response = connection.getresponse()
                payload = response.read()
            except (OSError, http.client.HTTPException) as error:
                self._drop()
                if attempt == 0 and retry:
                    continue
                message = f"the chain node at {self.url} does not answer: {error}"
                if not retry and not isinstance(error, ConnectionRefusedError):
                    raise RequestMaybeDelivered(message) from None
                raise ChainUnavailableError(message) from None
            if response.status != 200:
                raise ChainUnavailableError(
                    f"the chain node at {self.url} answered HTTP {response.status}: {payload[:200]!r}"
                )
            return json.loads(payload)
        raise AssertionError("unreachable")

    def call(self, method: str, params: Sequence[Any]) -> Any:
        """The `result` of one call; RpcError when the node answers with an error."""
        body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": method, "params": list(params)})
        reply = self._post(body.encode(), retry=method not in _NOT_RETRIED)
        error = reply.get("error")
        if error:
            raise RpcError(method, error)
        return reply.get("result")

    def batch(self, calls: Sequence[tuple[str, Sequence[Any]]]) -> list[Any]:
        """Several read calls in one round trip; results in order, or the first error raised."""
        # Ids only pair answers with calls inside this one exchange (the connection is this thread's).
        body = json.dumps(
            [
                {"jsonrpc": "2.0", "id": n, "method": method, "params": list(params)}
                for n, (method, params) in enumerate(calls)
            ]
        )
        replies = self._post(body.encode(), retry=True)
        by_id = {reply.get("id"): reply for reply in replies}
        results = []
        for n, (method, _) in enumerate(calls):
            reply = by_id.get(n, {})
            if reply.get("error"):
                raise RpcError(method, reply["error"])
            results.append(reply.get("result"))
        return results


def endpoint_of(provider: Any) -> str | None:
    """The HTTP URL of a web3 provider, or None for other transports (IPC, tester)."""
    uri = getattr(provider, "endpoint_uri", None)
    return str(uri) if uri and str(uri).startswith(("http://", "https://")) else None


class RequestMaybeDelivered(ChainUnavailableError):
    """The connection failed after a transaction was written to it: the node may have accepted it."""


class ProviderRpc:
    """The same `call` over a web3 provider, for transports JsonRpc does not speak (IPC, WebSocket)."""

    def __init__(self, provider: Any) -> None:
        self.provider = provider

    def call(self, method: str, params: Sequence[Any]) -> Any:
        try:
            response = self.provider.make_request(method, list(params))
        except (OSError, ConnectionError) as error:
            raise ChainUnavailableError(f"the chain node does not answer: {error}") from None
        if response.get("error"):
            raise RpcError(method, dict(response["error"]))
        return response.get("result")


def rpc_for(w3: Any) -> JsonRpc | ProviderRpc:
    """The fastest raw client for the node behind a Web3 instance."""
    url = endpoint_of(w3.provider)
    return JsonRpc(url) if url is not None else ProviderRpc(w3.provider)


@dataclass(frozen=True, slots=True)
class BlockRef:
    number: int
    hash: str
    parent_hash: str
    timestamp: int


class Rpc:
    """The typed reads the indexer makes (chain id, head, block headers, logs), over the lean client."""

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
