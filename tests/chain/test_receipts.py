"""ReceiptWatcher: the writes waiting for their receipts share one lookup per new block."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Iterator, Sequence
from types import SimpleNamespace
from typing import Any

import pytest
from web3 import Web3

from tierflow.chain.abi import RevertDecoder
from tierflow.chain.accounts import dev_account
from tierflow.chain.devnet import Devnet, free_port
from tierflow.chain.gateway import RECEIPT_TIMEOUT_S, ChainGateway
from tierflow.chain.jsonrpc import JsonRpc
from tierflow.chain.node import TxSender, connect
from tierflow.chain.receipts import ReceiptWatcher
from tierflow.errors import TransactionOutcomeUnknown

WRITERS = 8


class CountingRpc(JsonRpc):
    """JsonRpc that counts the JSON-RPC methods it is asked for, batched or not."""

    def __init__(self, url: str) -> None:
        super().__init__(url)
        self.counts: Counter[str] = Counter()
        self._count_lock = threading.Lock()

    def call(self, method: str, params: Sequence[Any]) -> Any:
        with self._count_lock:
            self.counts[method] += 1
        return super().call(method, params)

    def batch(self, calls: Sequence[tuple[str, Sequence[Any]]]) -> list[Any]:
        with self._count_lock:
            self.counts.update(method for method, _ in calls)
        return super().batch(calls)


@pytest.fixture(scope="module")
def chain() -> Iterator[tuple[Devnet, Web3]]:
    with Devnet(block_time=1) as devnet:
        yield devnet, connect(devnet.url, expected_chain_id=devnet.chain_id)


def wait_all(gateway: Any, hashes: list[str]) -> list[Any]:
    """Each hash waited for by its own thread through ChainGateway.wait_receipt, as concurrent API
    requests do; receipts or errors. `gateway` stands in for a ChainGateway (its rpc and watcher)."""
    results: list[Any] = [None] * len(hashes)

    def one(index: int) -> None:
        try:
            results[index] = ChainGateway.wait_receipt(gateway, hashes[index])
        except TransactionOutcomeUnknown as error:
            results[index] = error

    threads = [threading.Thread(target=one, args=(i,)) for i in range(len(hashes))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(15)
    return results


def test_receipt_watcher_looks_up_once_per_block_for_all_writers(chain: tuple[Devnet, Web3]) -> None:
    devnet, w3 = chain
    rpc = CountingRpc(devnet.url)
    watcher = ReceiptWatcher(rpc)
    gateway = SimpleNamespace(rpc=rpc, receipts=watcher, receipt_timeout=RECEIPT_TIMEOUT_S)
    sender = TxSender(w3, RevertDecoder([]))
    to = str(dev_account(1).address)
    start = w3.eth.block_number
    hashes = [sender.send_call(dev_account(12 + n % 4), to, b"", 30_000) for n in range(WRITERS)]
    # A second wave one block later: writers arrive while others wait.
    first = threading.Thread(target=lambda: results.extend(wait_all(gateway, hashes)))
    results: list[Any] = []
    first.start()
    while w3.eth.block_number == start:
        threading.Event().wait(0.05)
    later = [sender.send_call(dev_account(12 + n % 4), to, b"", 30_000) for n in range(WRITERS)]
    results.extend(wait_all(gateway, later))
    first.join(15)
    blocks = w3.eth.block_number - start
    assert len(results) == 2 * WRITERS
    assert all(isinstance(r, dict) and int(r["status"], 16) == 1 for r in results), results
    assert {r["transactionHash"] for r in results} == set(hashes + later)
    # Per-write polling every 5 ms asked ~200 times a second per waiting write (≈ 1,600/s for 8, so
    # ~3,000 receipt calls here). Now: a round trip when a block arrives and one when newcomers start
    # waiting (their transaction may be mined already), each for the transactions still waiting only.
    assert watcher.lookups <= blocks + len(results), (watcher.lookups, blocks)
    assert rpc.counts["eth_getTransactionReceipt"] <= 3 * len(results), rpc.counts
    print(f"{len(results)} writes over {blocks} blocks: {watcher.lookups} lookups, {dict(rpc.counts)}")


def test_receipt_watcher_unmined_transaction_is_outcome_unknown(chain: tuple[Devnet, Web3]) -> None:
    devnet, _ = chain
    watcher = ReceiptWatcher(CountingRpc(devnet.url))
    missing = "0x" + "ab" * 32
    with pytest.raises(TransactionOutcomeUnknown, match="not mined within"):
        watcher.wait(missing, 0.3)


def test_receipt_watcher_unreachable_node_is_outcome_unknown() -> None:
    watcher = ReceiptWatcher(JsonRpc(f"http://127.0.0.1:{free_port()}", timeout=1))
    with pytest.raises(TransactionOutcomeUnknown, match="could not be read"):
        watcher.wait("0x" + "cd" * 32, 5)


class FlakyRpc:
    """A node whose first answer is garbage, then mines everything at block 1."""

    def __init__(self) -> None:
        self.calls = 0

    def call(self, method: str, params: Sequence[Any]) -> Any:
        self.calls += 1
        if self.calls == 1:
            raise ValueError("not JSON")
        if method == "eth_blockNumber":
            return "0x1"
        return {"transactionHash": params[0], "status": "0x1"}


def test_receipt_watcher_survives_an_odd_answer() -> None:
    watcher = ReceiptWatcher(FlakyRpc())  # type: ignore[arg-type]
    with pytest.raises(TransactionOutcomeUnknown, match="not JSON"):
        watcher.wait("0x" + "01" * 32, 5)
    assert watcher.wait("0x" + "02" * 32, 5)["transactionHash"] == "0x" + "02" * 32


def test_receipt_watcher_many_waiters_of_one_transaction_ask_for_it_once(chain: tuple[Devnet, Web3]) -> None:
    """A signer's batch transaction has a waiter per write in it: its receipt (all their logs) is asked
    for once per lookup, not once per waiter (512 waiters made ~50 MB of JSON per block)."""
    devnet, w3 = chain
    rpc = CountingRpc(devnet.url)
    watcher = ReceiptWatcher(rpc)
    gateway = SimpleNamespace(rpc=rpc, receipts=watcher, receipt_timeout=RECEIPT_TIMEOUT_S)
    sender = TxSender(w3, RevertDecoder([]))
    tx_hash = sender.send_call(dev_account(12), str(dev_account(1).address), b"", 30_000)
    results = wait_all(gateway, [tx_hash] * 3 * WRITERS)
    assert all(isinstance(r, dict) and r["transactionHash"] == tx_hash for r in results), results
    assert rpc.counts["eth_getTransactionReceipt"] <= watcher.lookups, (rpc.counts, watcher.lookups)
