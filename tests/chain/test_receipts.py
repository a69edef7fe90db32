"""ReceiptWatcher: the writes waiting for their receipts share one lookup per new block."""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Iterator, Sequence
from types import SimpleNamespace
from typing import Any

import pytest
from web3 import Web3

from tierflow.chain.abi import RevertDecoder
from tierflow.chain.accounts import dev_account
from tierflow.chain.devnet import Devnet, free_port
from tierflow.chain.gateway import RECEIPT_TIMEOUT_S, ChainGateway, wait_until
from tierflow.chain.jsonrpc import JsonRpc
from tierflow.chain.node import TxSender, connect
from tierflow.chain.receipts import HEAD_POLL_MAX_S, ReceiptWatcher
from tierflow.errors import ChainUnavailableError, TransactionOutcomeUnknown

WRITERS = 8


class CountingRpc(JsonRpc):
    """JsonRpc that counts the JSON-RPC methods it is asked for, batched or not."""

    def __init__(self, url: str) -> None:
        super().__init__(url)
        self.counts: Counter[str] = Counter()
        self._count_lock = threading.Lock()

    def call(self, method: str, params: Sequence[Any], timeout: float | None = None) -> Any:
        with self._count_lock:
            self.counts[method] += 1
        return super().call(method, params, timeout)

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
    # Wired as ChainGateway wires them: the sender hears of every lookup (to resend what the node lost).
    sender = TxSender(w3, RevertDecoder([]), rpc=rpc)
    watcher = ReceiptWatcher(rpc, on_block=sender.on_new_block)
    gateway = SimpleNamespace(rpc=rpc, receipts=watcher, receipt_timeout=RECEIPT_TIMEOUT_S)
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
    # Nothing lost, nothing asked: no resend check (one nonce read per account, no lookup by hash), and
    # no signed bytes kept once their receipts were seen.
    assert rpc.counts["eth_getTransactionCount"] == 4 and not rpc.counts["eth_getTransactionByHash"], (
        rpc.counts
    )
    assert sender.unmined_count() == 0
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


class HidingRpc(JsonRpc):
    """A node (say, one behind a load balancer that lags) that answers "unknown" for every transaction
    hash, even one in its pool."""

    def call(self, method: str, params: Sequence[Any], timeout: float | None = None) -> Any:
        if method == "eth_getTransactionByHash":
            return None
        return super().call(method, params, timeout)

    def batch(self, calls: Sequence[tuple[str, Sequence[Any]]]) -> list[Any]:
        return [self.call(method, params) for method, params in calls]


def mine_until_delivered(devnet: Devnet, gateway: Any, hashes: list[str]) -> list[Any]:
    """Waits for `hashes` as concurrent writers do while a block is mined every 50 ms (automine off)."""
    miner = JsonRpc(devnet.url)
    stop = threading.Event()

    def mine() -> None:
        while not stop.wait(0.05):
            miner.call("evm_mine", [])

    thread = threading.Thread(target=mine)
    thread.start()
    try:
        return wait_all(gateway, hashes)
    finally:
        stop.set()
        thread.join()


@pytest.fixture
def manual_chain() -> Iterator[tuple[Devnet, JsonRpc]]:
    """A chain that mines only when asked (no automine, no interval), so a test can lose transactions."""
    with Devnet() as devnet:
        rpc = JsonRpc(devnet.url)
        rpc.call("evm_setAutomine", [False])
        yield devnet, rpc


def resending_sender(
    devnet: Devnet, rpc: JsonRpc, sender_rpc: JsonRpc | None = None
) -> tuple[TxSender, ReceiptWatcher, Any]:
    """A sender, the watcher that tells it of each new block (as ChainGateway wires them), and a
    stand-in gateway for `wait_all` with a short receipt timeout."""
    sender = TxSender(connect(devnet.url), RevertDecoder([]), rpc=sender_rpc or rpc)
    watcher = ReceiptWatcher(rpc, on_block=sender.on_new_block)
    return sender, watcher, SimpleNamespace(rpc=rpc, receipts=watcher, receipt_timeout=5.0)


def test_receipt_watcher_resends_transactions_the_node_dropped(
    manual_chain: tuple[Devnet, JsonRpc], caplog: pytest.LogCaptureFixture
) -> None:
    """A relayer's three pipelined sends; the node loses the middle one (and with it the next, which
    could only wait behind the gap). The watcher notices the account's mined count stuck below them and
    sends the same signed bytes again: all three are mined, under the hashes their writers wait for."""
    devnet, rpc = manual_chain
    sender, _, gateway = resending_sender(devnet, rpc)
    account = dev_account(12)
    hashes = [sender.send_call(account, str(dev_account(1).address), b"", 30_000) for _ in range(3)]
    rpc.call("anvil_dropTransaction", [hashes[1]])
    assert rpc.call("eth_getTransactionByHash", [hashes[2]]) is None  # anvil drops what depends on it
    with caplog.at_level("WARNING", logger="tierflow.chain"):
        results = mine_until_delivered(devnet, gateway, hashes)
    assert [r["transactionHash"] if isinstance(r, dict) else r for r in results] == hashes
    assert all(int(r["status"], 16) == 1 for r in results)
    assert int(rpc.call("eth_getTransactionCount", [account.address, "latest"]), 16) == 3
    assert sender.resends == 2
    assert [r.getMessage().split()[:2] for r in caplog.records] == [["resent", h] for h in hashes[1:]]
    assert sender.unmined_count() == 0  # nothing kept once mined


def test_receipt_watcher_resend_of_a_transaction_the_node_still_has_is_harmless(
    manual_chain: tuple[Devnet, JsonRpc], caplog: pytest.LogCaptureFixture
) -> None:
    """The node lost the first send only; the later two came back queued behind the gap, but the node
    the sender asks answers "unknown" for all three. All three are sent again: the two it holds answer
    "already imported", which is no error, and each runs once."""
    devnet, rpc = manual_chain
    sender, _, gateway = resending_sender(devnet, rpc, HidingRpc(devnet.url))
    account = dev_account(13)
    to = str(dev_account(1).address)
    hashes = [sender.send_call(account, to, b"", 30_000) for _ in range(3)]
    raws = [rpc.call("eth_getRawTransactionByHash", [tx_hash]) for tx_hash in hashes]
    rpc.call("anvil_dropTransaction", [hashes[0]])
    for raw in raws[1:]:
        rpc.call("eth_sendRawTransaction", [raw])
    with caplog.at_level("WARNING", logger="tierflow.chain"):
        results = mine_until_delivered(devnet, gateway, hashes)
    assert [r["transactionHash"] if isinstance(r, dict) else r for r in results] == hashes
    assert int(rpc.call("eth_getTransactionCount", [account.address, "latest"]), 16) == 3
    assert sender.resends == 1
    messages = [r.getMessage() for r in caplog.records]
    assert len(messages) == 3 and messages[0].startswith(f"resent {hashes[0]}"), messages
    assert all("already imported" in m for m in messages[1:]), messages


def test_receipt_watcher_never_resends_bytes_whose_nonce_was_given_to_a_new_send(
    manual_chain: tuple[Devnet, JsonRpc],
) -> None:
    """The node lost all three sends, and the sender then counted its nonce again from the node (as after
    a reconnect) and signed a new transaction with the first nonce: the lost bytes are forgotten, never
    sent again, so no nonce carries two different transactions."""
    devnet, rpc = manual_chain
    sender, watcher, gateway = resending_sender(devnet, rpc)
    account = dev_account(14)
    lost = [sender.send_call(account, str(dev_account(1).address), b"", 30_000) for _ in range(3)]
    rpc.call("anvil_dropTransaction", [lost[0]])
    sender.forget_nonce(account.address)
    fresh = sender.send_call(account, str(dev_account(2).address), b"", 30_000)
    assert fresh not in lost
    results = mine_until_delivered(devnet, gateway, [fresh])
    for _ in range(4):  # blocks enough for a resend, had the lost bytes been kept
        rpc.call("evm_mine", [])
        watcher.wait(fresh, 1)
    assert results[0]["transactionHash"] == fresh
    assert sender.resends == 0 and sender.unmined_count() == 0
    assert int(rpc.call("eth_getTransactionCount", [account.address, "latest"]), 16) == 1


def test_sender_revive_answers_whether_a_lost_transaction_can_still_be_mined(
    manual_chain: tuple[Devnet, JsonRpc],
) -> None:
    """An idempotent retry asks, before running a write again, whether the node knows its transaction
    (ChainGateway.transaction_known). Lost by the node but kept by the sender, it is sent again and can
    still be mined: the retry must not run the write a second time. Lost and its nonce taken by other
    bytes (another process of the same account), it never can: the sender forgets it, so no resend can
    follow the retry."""
    devnet, rpc = manual_chain
    w3 = connect(devnet.url)
    sender = TxSender(w3, RevertDecoder([]), rpc=rpc)
    account, to = dev_account(15), str(dev_account(1).address)
    first = sender.send_call(account, to, b"", 30_000)
    rpc.call("anvil_dropTransaction", [first])
    assert sender.revive(first) and rpc.call("eth_getTransactionByHash", [first])
    rpc.call("evm_mine", [])
    second = sender.send_call(account, to, b"", 30_000)
    rpc.call("anvil_dropTransaction", [second])
    other = TxSender(w3, RevertDecoder([]), rpc=rpc).send_call(
        account, str(dev_account(2).address), b"", 30_000
    )
    rpc.call("evm_mine", [])
    assert rpc.call("eth_getTransactionReceipt", [other])["status"] == "0x1"
    assert sender.keeps(second) and not sender.revive(second)
    assert not sender.keeps(second)  # forgotten: no resend can follow
    assert int(rpc.call("eth_getTransactionCount", [account.address, "latest"]), 16) == 2


class LeaseOf:
    """Leases where this instance's hold on every account is `held`: True (all along), "lapsed"
    (check raises) or "retaken" (check says it was taken again since the last check)."""

    def __init__(self, held: object) -> None:
        self.held = held

    def check(self, name: str) -> bool:
        if self.held == "lapsed":
            raise ChainUnavailableError(f"this instance does not hold the lease {name}")
        return self.held == "retaken"


def test_gateway_may_resend_only_while_it_held_the_account_lease_all_along() -> None:
    """Several API instances: an instance whose relayer lease lapsed (another may have taken the account
    and given the lost nonces to other bytes) must never send its kept bytes again."""
    forgotten: list[str] = []
    sender = SimpleNamespace(forget_nonce=forgotten.append)
    for held, allowed in ((True, True), ("lapsed", False), ("retaken", False)):
        gateway = SimpleNamespace(leases=LeaseOf(held), sender=sender)
        assert ChainGateway._may_resend(gateway, "0xabc") is allowed, held  # type: ignore[arg-type]
    assert forgotten == ["0xabc"]  # taken again: the nonce is read from the node before the next send


def test_receipt_watcher_forgets_instead_of_resending_when_the_lease_is_gone(
    manual_chain: tuple[Devnet, JsonRpc],
) -> None:
    devnet, rpc = manual_chain
    sender, _, _ = resending_sender(devnet, rpc)
    watcher = ReceiptWatcher(
        rpc, on_block=lambda head, mined: sender.on_new_block(head, mined, lambda _: False)
    )
    gateway = SimpleNamespace(rpc=rpc, receipts=watcher, receipt_timeout=1.0)
    lost = sender.send_call(dev_account(16), str(dev_account(1).address), b"", 30_000)
    rpc.call("anvil_dropTransaction", [lost])
    (result,) = mine_until_delivered(devnet, gateway, [lost])
    assert isinstance(result, TransactionOutcomeUnknown)
    assert sender.resends == 0 and not sender.keeps(lost) and not sender.revive(lost, lambda _: True)


def test_sender_gas_limits_never_decrease_so_anvil_evicts_no_later_send(
    manual_chain: tuple[Devnet, JsonRpc],
) -> None:
    """Anvil fills a block while gas used so far + a transaction's gas limit fits; when one of an
    account's transactions does not, it tries the account's next one, and a smaller one that fits fails
    "nonce too high" and is evicted with every later one of the account (how the 2 s upload lost one or
    two relayer transactions a run). A send's limit is raised to its account's highest unmined one, so
    the later send waits with the one that did not fit, and nothing is lost."""
    devnet, rpc = manual_chain
    rpc.call("evm_setBlockGasLimit", [hex(100_000)])
    sender, _, gateway = resending_sender(devnet, rpc)
    account, to = dev_account(17), str(dev_account(1).address)
    hashes = [sender.send_call(account, to, b"", gas) for gas in (60_000, 90_000, 30_000)]
    rpc.call("evm_mine", [])  # the first uses 21,000: the second's 90,000 no longer fits, nor may the third
    assert rpc.call("eth_getTransactionReceipt", [hashes[0]])
    assert all(rpc.call("eth_getTransactionByHash", [tx_hash]) for tx_hash in hashes[1:]), "evicted"
    results = mine_until_delivered(devnet, gateway, hashes)
    assert [int(r["status"], 16) for r in results] == [1, 1, 1]
    assert sender.resends == 0
    limits = [int(rpc.call("eth_getTransactionByHash", [tx_hash])["gas"], 16) for tx_hash in hashes]
    assert limits == [60_000, 90_000, 90_000]
    # Once they are mined, the account's next send has its own limit again.
    assert wait_until(lambda: sender.unmined_count() == 0, 5)
    later = sender.send_call(account, to, b"", 30_000)
    assert int(rpc.call("eth_getTransactionByHash", [later])["gas"], 16) == 30_000


def test_sender_resends_a_later_send_lost_while_the_oldest_still_waits_after_one_whole_block(
    manual_chain: tuple[Devnet, JsonRpc],
) -> None:
    """The node lost an account's later sends while its oldest still waits in the pool (a full block).
    Once the oldest had a whole block to be mined in (it went out before the previous head was seen) and
    was not, the node is asked about every kept send of the account, and the lost ones go out again at
    once: not after two more blocks, and not only when the oldest itself is lost. The heads are handed
    in as the receipt watcher would report them; no block is mined, so the oldest keeps waiting."""
    devnet, rpc = manual_chain
    counting = CountingRpc(devnet.url)
    sender = TxSender(connect(devnet.url), RevertDecoder([]), rpc=counting)
    head = int(rpc.call("eth_blockNumber", []), 16)
    sender.on_new_block(head, [])
    account, to = dev_account(18), str(dev_account(1).address)
    hashes = [sender.send_call(account, to, b"", 30_000) for _ in range(3)]
    rpc.call("anvil_dropTransaction", [hashes[1]])
    assert rpc.call("eth_getTransactionByHash", [hashes[2]]) is None  # dropped with the one it depends on
    sender.on_new_block(head + 1, [])  # the block may have begun before they arrived: nothing asked yet
    assert not counting.counts["eth_getTransactionByHash"], counting.counts
    sender.on_new_block(head + 2, [])  # a whole block went by without the oldest: asked, the lost resent
    assert sender.resends == 2
    assert all(rpc.call("eth_getTransactionByHash", [tx_hash]) for tx_hash in hashes)
    sender.on_new_block(head + 3, [])  # still waiting: asked again only after STALL_BLOCKS more blocks
    assert counting.counts["eth_getTransactionCount"] == 2, counting.counts  # the nonce read, one question
    rpc.call("evm_mine", [])
    assert all(rpc.call("eth_getTransactionReceipt", [tx_hash])["status"] == "0x1" for tx_hash in hashes)
    assert sender.resends == 2


class PendingRpc:
    """A node whose head moves and which mines one transaction only when told (`mine`)."""

    def __init__(self) -> None:
        self.head = 1
        self.mined: set[str] = set()
        self.receipt_calls = 0
        self.head_calls = 0

    def mine(self, tx_hash: str) -> None:
        self.mined.add(tx_hash)
        self.head += 1

    def call(self, method: str, params: Sequence[Any]) -> Any:
        if method == "eth_blockNumber":
            self.head_calls += 1
            return hex(self.head)
        self.receipt_calls += 1
        return {"transactionHash": params[0], "status": "0x1"} if params[0] in self.mined else None


def test_receipt_watcher_threads_waiting_for_one_transaction_share_one_entry() -> None:
    """A 2,000-row batch upload has ~25 transactions and 2,000 threads waiting for them: the watcher's
    every poll, lookup and delivery went over all 2,000 waiters (and removed each from a list of them).
    Now the threads waiting for one transaction share one entry; one that gives up (its timeout) leaves
    the others waiting, and each gets its own copy of the receipt."""
    rpc = PendingRpc()
    watcher = ReceiptWatcher(rpc, poll_s=0.001)  # type: ignore[arg-type]
    tx_hash, other = "0x" + "aa" * 32, "0x" + "bb" * 32
    results: list[Any] = []
    lock = threading.Lock()

    def wait(hash_: str, timeout: float) -> None:
        try:
            got: Any = watcher.wait(hash_, timeout)
        except TransactionOutcomeUnknown as error:
            got = error
        with lock:
            results.append(got)

    threads = [threading.Thread(target=wait, args=(tx_hash, 10.0)) for _ in range(40)]
    threads += [threading.Thread(target=wait, args=(other, 10.0)) for _ in range(10)]
    impatient = threading.Thread(target=wait, args=(tx_hash, 0.2))
    for thread in [*threads, impatient]:
        thread.start()
    assert wait_until(lambda: sum(w.count for w in watcher._waiting.values()) == 51, 5)
    assert sorted(watcher._waiting) == [tx_hash, other]  # one entry per transaction, not per thread
    impatient.join(5)
    assert isinstance(results.pop(), TransactionOutcomeUnknown)
    assert watcher._waiting[tx_hash].count == 40  # the others still wait for it
    calls = rpc.receipt_calls
    threading.Event().wait(0.1)  # polls without a new head look nothing up again
    assert rpc.receipt_calls == calls
    rpc.mine(tx_hash)
    rpc.mine(other)
    for thread in threads:
        thread.join(5)
    assert len(results) == 50 and all(isinstance(r, dict) for r in results), results
    assert len({id(r) for r in results}) == 50  # a mapping each
    assert sorted(r["transactionHash"] for r in results) == sorted([tx_hash] * 40 + [other] * 10)
    assert not watcher._waiting


def test_receipt_watcher_reads_the_head_less_often_while_nothing_happens() -> None:
    """At 5 ms a chain of 1 s blocks took 200 head reads a second (~85 µs of CPU each). While the head
    stays put the interval doubles up to HEAD_POLL_MAX_S; a new block is still seen within it, and a
    newly waited-for transaction is looked up at once."""
    rpc = PendingRpc()
    watcher = ReceiptWatcher(rpc)  # type: ignore[arg-type]
    first, second = "0x" + "cc" * 32, "0x" + "dd" * 32
    got: dict[str, float] = {}

    def wait(tx_hash: str) -> None:
        watcher.wait(tx_hash, 10)
        got[tx_hash] = time.monotonic()

    waiter = threading.Thread(target=wait, args=(first,))
    waiter.start()
    threading.Event().wait(1.0)
    assert rpc.head_calls <= 1.0 / HEAD_POLL_MAX_S + 10, rpc.head_calls  # 200 at a fixed 5 ms
    receipts = rpc.receipt_calls
    rpc.mined.add(second)  # mined already when its writer starts waiting: answered at once
    started = time.monotonic()
    assert watcher.wait(second, 10)["transactionHash"] == second
    assert time.monotonic() - started < 0.5 and rpc.receipt_calls == receipts + 1
    mined = time.monotonic()
    rpc.mine(first)
    waiter.join(5)
    assert got[first] - mined < HEAD_POLL_MAX_S + 0.5  # seen within the longest interval (+ scheduling)
