"""Cheap event volume for tests and benchmarks: many locally signed raw transactions, mined in batches.

Signing with eth-account (coincurve backend) and sending raw transactions without waiting for each
receipt is ~50× faster than estimate → send → wait per transaction, which is what it takes to put
tens of thousands of events on a devnet in seconds.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from eth_account.signers.local import LocalAccount
from web3 import Web3
from web3.contract import Contract
from web3.types import RPCEndpoint

DAY = 86_400  # [s]

SPLIT_GAS = 250_000
TRANSFER_GAS = 120_000


@dataclass
class Nonces:
    w3: Web3
    next: dict[str, int]

    def take(self, account: LocalAccount) -> int:
        address = str(account.address)
        if address not in self.next:
            self.next[address] = self.w3.eth.get_transaction_count(account.address, "pending")
        nonce = self.next[address]
        self.next[address] = nonce + 1
        return nonce


def rpc(w3: Web3, method: str, *params: Any) -> Any:
    response = w3.provider.make_request(RPCEndpoint(method), list(params))
    if response.get("error"):
        raise RuntimeError(f"{method}: {response['error']}")
    return response.get("result")


class LoadGenerator:
    """Turns a deployed platform (tierflow.testing.chain.Platform) into a source of many events."""

    def __init__(self, platform: Any) -> None:
        self.p = platform
        self.w3: Web3 = platform.w3
        self.receivables: Contract = platform.c.receivables
        self.token: Contract = platform.c.token
        self.nonces = Nonces(self.w3, {})
        self.chain_id = self.w3.eth.chain_id
        self.gas_price = 2 * int(self.w3.eth.gas_price) + 1

    def payable(self, supplier: str = "supplier1", face: int = 10**12, obligor: str = "core1") -> int:
        """Grant a line, issue and accept a payable; returns its root token id."""
        p = self.p
        receipt = p.transact(
            p.c.credit_lines.functions.grant(p.address(obligor), face, p.now() + 365 * DAY), "bank1"
        )
        (granted,) = p.events(receipt, p.c.credit_lines, "CreditLineGranted")
        receipt = p.transact(
            self.receivables.functions.issue(
                p.address(supplier), face, p.now() + 180 * DAY, granted["lineId"], [os.urandom(32)]
            ),
            obligor,
        )
        (issued,) = p.events(receipt, self.receivables, "CertificateIssued")
        p.transact(self.receivables.functions.accept(issued["slotId"]), supplier)
        return int(issued["tokenId"])

    def cash(self, to: str, amount: int) -> None:
        self.p.transact(self.token.functions.mint(self.p.address(to), amount), "bank1")

    def _sign(self, account: LocalAccount, to: str, data: str, gas: int) -> bytes:
        tx = {
            "to": to,
            "data": data,
            "gas": gas,
            "gasPrice": self.gas_price,
            "nonce": self.nonces.take(account),
            "chainId": self.chain_id,
            "value": 0,
        }
        return bytes(account.sign_transaction(tx).raw_transaction)

    def mixed(self, root_token: int, count: int, holder: str = "supplier1") -> Iterator[bytes]:
        """`count` signed txs from `holder`, one event each: splits to itself, certificate value sent to
        the other suppliers, and settlement-token transfers (the holder needs cash for those)."""
        account = self.p.account(holder)
        others = [self.p.address(name) for name in ("supplier2", "supplier3", "supplier4")]
        receivables, token = str(self.receivables.address), str(self.token.address)
        for i in range(count):
            kind = i % 4
            if kind == 0:
                data = self.receivables.encode_abi("split", [root_token, 1])
                yield self._sign(account, receivables, data, SPLIT_GAS)
            elif kind == 1:
                data = self.receivables.encode_abi("transferValue", [root_token, others[i % 3], 2])
                yield self._sign(account, receivables, data, SPLIT_GAS)
            else:
                data = self.token.encode_abi("transfer", [others[i % 3], 1])
                yield self._sign(account, token, data, TRANSFER_GAS)

    def send(self, raw_transactions: Iterable[bytes], per_block: int = 50) -> int:
        """Send everything, one JSON-RPC batch and one mined block per `per_block` transactions.

        Returns the last block number."""
        rpc(self.w3, "evm_setAutomine", False)
        try:
            batch: list[bytes] = []
            for raw in raw_transactions:
                batch.append(raw)
                if len(batch) == per_block:
                    self._send_block(batch)
                    batch = []
            if batch:
                self._send_block(batch)
        finally:
            rpc(self.w3, "evm_setAutomine", True)
        return int(self.w3.eth.block_number)

    def _send_block(self, batch: list[bytes]) -> None:
        requests = [(RPCEndpoint("eth_sendRawTransaction"), ["0x" + raw.hex()]) for raw in batch]
        responses = self.w3.provider.make_batch_request(requests)  # type: ignore[attr-defined]
        errors = (
            [r["error"] for r in responses if r.get("error")] if isinstance(responses, list) else [responses]
        )
        if errors:
            raise RuntimeError(f"eth_sendRawTransaction: {errors[0]}")
        rpc(self.w3, "evm_mine")

    def issues(
        self, count: int, invoices: int = 32, obligor: str = "core1", supplier: str = "supplier1"
    ) -> list[bytes]:
        """`count` signed issues of a payable backed by `invoices` invoice hashes each: every one emits
        invoices + 2 events (DocumentRegistered per hash, CreditLineDrawn, CertificateIssued)."""
        p = self.p
        account = p.account(obligor)
        receipt = p.transact(
            p.c.credit_lines.functions.grant(p.address(obligor), 10**15, p.now() + 365 * DAY), "bank1"
        )
        (granted,) = p.events(receipt, p.c.credit_lines, "CreditLineGranted")
        maturity = p.now() + 90 * DAY
        receivables = str(self.receivables.address)
        gas = 200_000 + 60_000 * invoices
        signed = []
        for _ in range(count):
            hashes = [os.urandom(32) for _ in range(invoices)]
            data = self.receivables.encode_abi(
                "issue", [p.address(supplier), 10_000, maturity, granted["lineId"], hashes]
            )
            signed.append(self._sign(account, receivables, data, gas))
        return signed

    def failed_in(self, first_block: int, last_block: int) -> int:
        """Transactions that reverted in [first_block, last_block] (a load run expects none)."""
        failed = 0
        for number in range(first_block, last_block + 1):
            for receipt in rpc(self.w3, "eth_getBlockReceipts", hex(number)) or []:
                failed += receipt["status"] != "0x1"
        return failed
