"""Transactions per second of certificate split-transfers, next to plain ETH transfers in the same run."""

from __future__ import annotations

import time
from typing import Any

from eth_utils.crypto import keccak

from tierflow.testing.chain import Platform

DAY = 86_400


def _rate(tf: Platform, build: Any, sender: str, count: int, pipelined: bool) -> float:
    """Send `count` transactions; pipelined sends all and waits for the last receipt only."""
    account = tf.account(sender)
    tf.sender.forget_nonce(account.address)
    gas = int(tf.sender.w3.eth.estimate_gas(build(0).build_transaction({"from": account.address})) * 1.3)
    started = time.perf_counter()
    last: Any = None
    for i in range(count):
        last = tf.sender.transact(build(i), account, gas=gas, wait=not pipelined)
    if pipelined:
        tf.w3.eth.wait_for_transaction_receipt(last["transactionHash"], poll_latency=0.005)
    return count / (time.perf_counter() - started)


class _EthTransfer:
    """Adapter so a plain value transfer goes through the same TxSender path as a contract call."""

    def __init__(self, tf: Platform, to: str) -> None:
        self.tf, self.to = tf, to

    def build_transaction(self, params: dict[str, Any]) -> dict[str, Any]:
        return {**params, "to": self.to, "value": 1, "data": b""}

    def estimate_gas(self, params: dict[str, Any]) -> int:
        return 21_000


def measure(tf: Platform, count: int = 300) -> dict[str, float]:
    c = tf.c
    line = tf.events(
        tf.transact(
            c.credit_lines.functions.grant(tf.address("core1"), 10**15, tf.now() + 300 * DAY), "bank1"
        ),
        c.credit_lines,
        "CreditLineGranted",
    )[0]["lineId"]
    issued = tf.events(
        tf.transact(
            c.receivables.functions.issue(
                tf.address("supplier1"), 10**12, tf.now() + 90 * DAY, line, [keccak(text="throughput")]
            ),
            "core1",
        ),
        c.receivables,
        "CertificateIssued",
    )[0]
    tf.transact(c.receivables.functions.accept(issued["slotId"]), "supplier1")
    root = issued["tokenId"]
    to = tf.address("supplier2")

    def split(_: int) -> Any:
        return c.receivables.functions.transferValue(root, to, 100)

    def eth(_: int) -> Any:
        return _EthTransfer(tf, to)

    return {
        "eth_transfer_sequential_tps": _rate(tf, eth, "supplier1", count, pipelined=False),
        "split_transfer_sequential_tps": _rate(tf, split, "supplier1", count, pipelined=False),
        "eth_transfer_pipelined_tps": _rate(tf, eth, "supplier1", count, pipelined=True),
        "split_transfer_pipelined_tps": _rate(tf, split, "supplier1", count, pipelined=True),
    }
