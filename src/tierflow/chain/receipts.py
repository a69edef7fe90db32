"""Wait for many transactions' receipts with one lookup per new block, not one poll loop per write.

Each relayed write used to poll `eth_getTransactionReceipt` every 5 ms until it was mined: with eight
writers waiting for a 1 s block that is ~1,600 calls a second, all answered "not yet". One watcher
thread per gateway instead reads the head (`eth_blockNumber`) every poll interval and, only when a
new block arrived or a write started waiting, looks up the receipts of every waiting transaction in
one JSON-RPC batch. The thread runs only while someone waits. After each lookup it tells the sender
(`on_block`: TxSender.on_new_block) the head and the hashes mined, so the sender can forget those and
resend any the node lost.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from tierflow.chain.jsonrpc import JsonRpc, ProviderRpc
from tierflow.errors import TransactionOutcomeUnknown

# How often the watcher reads the head: anvil automines at once, so a short interval keeps latency low;
# each tick is one eth_blockNumber for all waiting writes together.
HEAD_POLL_S = 0.005
# While the head stays put and no new transaction is waited for, the interval doubles up to this: an
# eth_blockNumber round trip costs ~85 µs of CPU, and at 5 ms a chain of 1 s blocks took 200 a second
# (~0.1 ms of CPU a row of a 2,000-row batch upload). A block is then seen at most this late; a newly
# waited-for transaction is still looked up at once.
HEAD_POLL_MAX_S = 0.02
# An idle watcher thread lingers this long for the next write before it exits.
IDLE_EXIT_S = 1.0
MAX_BATCH = 500

log = logging.getLogger("tierflow.chain")


@dataclass(eq=False)
class _Waiter:
    """Everyone waiting for one transaction: a signer's batch transaction has a waiter per write in it
    (a hundred), and they share this entry, its one event and its one receipt."""

    tx_hash: str
    done: threading.Event = field(default_factory=threading.Event)
    receipt: dict[str, Any] | None = None
    error: str | None = None
    checked: bool = False  # looked up at least once since it started waiting
    count: int = 0  # threads waiting for it


class ReceiptWatcher:
    """Delivers receipts to the threads waiting for them; thread-safe, one background thread at most.

    The threads waiting for one transaction share one entry (`_Waiter`): each poll, lookup and delivery
    costs the watcher one step per transaction waited for (~25 for a 2,000-row batch upload), not one
    per waiting thread (2,000), and the threads wake on one event."""

    def __init__(
        self,
        rpc: JsonRpc | ProviderRpc,
        poll_s: float = HEAD_POLL_S,
        on_block: Callable[[int, list[str]], None] | None = None,
    ) -> None:
        """`on_block(head, mined hashes)` runs in the watcher thread after each lookup."""
        self.rpc = rpc
        self.poll_s = poll_s
        self.on_block = on_block
        self._cond = threading.Condition()
        self._waiting: dict[str, _Waiter] = {}  # by transaction hash
        self._thread: threading.Thread | None = None
        self.lookups = 0  # receipt lookup round trips so far (each covers every waiting transaction)

    def wait(self, tx_hash: str, timeout: float) -> dict[str, Any]:
        """The raw receipt of `tx_hash`; TransactionOutcomeUnknown if unreadable or not mined in time."""
        with self._cond:
            waiter = self._waiting.get(tx_hash)
            if waiter is None:
                # A new transaction: looked up at once (it may be mined already). A thread joining one
                # already waited for is answered with it.
                waiter = self._waiting[tx_hash] = _Waiter(tx_hash)
                if self._thread is None:
                    self._thread = threading.Thread(target=self._run, name="receipt-watcher", daemon=True)
                    self._thread.start()
                self._cond.notify_all()
            waiter.count += 1
        if not waiter.done.wait(timeout):
            with self._cond:
                waiter.count -= 1
                if waiter.count == 0 and self._waiting.get(tx_hash) is waiter:
                    del self._waiting[tx_hash]
            if not waiter.done.is_set():
                raise TransactionOutcomeUnknown(
                    tx_hash, f"transaction {tx_hash} was sent but not mined within {timeout:.0f} s"
                )
        if waiter.error is not None:
            raise TransactionOutcomeUnknown(
                tx_hash, f"transaction {tx_hash} was sent but its receipt could not be read: {waiter.error}"
            )
        assert waiter.receipt is not None
        return dict(waiter.receipt)  # each caller its own mapping, as when each waited alone

    def _run(self) -> None:
        last_head: int | None = None
        interval = self.poll_s
        while True:
            with self._cond:
                if not self._waiting:
                    self._cond.wait(IDLE_EXIT_S)
                    if not self._waiting:
                        self._thread = None
                        return
                waiting = list(self._waiting.values())
            try:
                head = int(self.rpc.call("eth_blockNumber", []), 16)
                due = waiting if head != last_head else [w for w in waiting if not w.checked]
                # Back off while nothing happens (`HEAD_POLL_MAX_S`); a new block or transaction resets it.
                interval = self.poll_s if due else min(2 * interval, max(self.poll_s, HEAD_POLL_MAX_S))
                mined = self._look_up(due) if due else None
                last_head = head
            except Exception as error:  # any failure (also an odd answer) ends these waits, not the thread
                self._finish(waiting, error=str(error) or type(error).__name__)
                mined = None
            if mined is not None and self.on_block is not None:
                try:
                    self.on_block(head, mined)
                except Exception as error:  # a failed resend check must not end anyone's wait
                    log.warning("checking for lost transactions failed: %s", error)
            with self._cond:
                if all(w.checked for w in self._waiting.values()):
                    self._cond.wait(interval)

    def _look_up(self, due: list[_Waiter]) -> list[str]:
        """One round trip for the receipts of every transaction in `due`; hands out those mined and
        returns their hashes.

        Each transaction is asked for once however many wait for it (they share its `_Waiter`): a
        signer's batch transaction has a waiter per write in it (a hundred), and its receipt carries all
        their logs."""
        self.lookups += 1
        hashes = [w.tx_hash for w in due]
        calls = [("eth_getTransactionReceipt", [tx_hash]) for tx_hash in hashes]
        if isinstance(self.rpc, JsonRpc):
            # Nodes cap a batch's size (Besu: 1,024 by default): long queues go in slices.
            receipts = []
            for start in range(0, len(calls), MAX_BATCH):
                receipts += self.rpc.batch(calls[start : start + MAX_BATCH])
        else:
            receipts = [self.rpc.call(method, params) for method, params in calls]
        by_hash = dict(zip(hashes, receipts, strict=True))
        mined = []
        for waiter in due:
            waiter.checked = True
            receipt = by_hash[waiter.tx_hash]
            if receipt:
                waiter.receipt = dict(receipt)
                mined.append(waiter)
        self._finish(mined)
        return [hash_ for hash_, receipt in by_hash.items() if receipt]

    def _finish(self, waiters: list[_Waiter], error: str | None = None) -> None:
        with self._cond:
            for waiter in waiters:
                if self._waiting.get(waiter.tx_hash) is waiter:
                    del self._waiting[waiter.tx_hash]
                waiter.error = error
                waiter.done.set()
