"""Connect to any EVM JSON-RPC node and send signed transactions with local nonce bookkeeping."""

from __future__ import annotations

import threading
import time

from eth_account.signers.local import LocalAccount
from eth_typing import HexStr
from hexbytes import HexBytes
from web3 import HTTPProvider, Web3
from web3.contract.contract import ContractConstructor, ContractFunction
from web3.exceptions import ContractLogicError, Web3RPCError
from web3.middleware import ExtraDataToPOAMiddleware
from web3.types import TxParams, TxReceipt

from tierflow.chain.abi import RevertDecoder
from tierflow.chain.jsonrpc import JsonRpc, ProviderRpc, RequestMaybeDelivered, RpcError, rpc_for
from tierflow.errors import ChainUnavailableError, ContractRevert, TransactionOutcomeUnknown, WrongChainError

RECEIPT_POLL_S = 0.005  # anvil mines instantly; web3's default 0.1 s poll would dominate latency


def connect(rpc_url: str, expected_chain_id: int | None = None, poa: bool = False) -> Web3:
    """A Web3 bound to `rpc_url`; refuses a node whose chain id is not `expected_chain_id`."""
    # cache_allowed_requests: web3 validates every call against eth_chainId; caching that lookup
    # (and other immutable answers) cuts a contract read from ~24 ms to ~16 ms on anvil.
    w3 = Web3(HTTPProvider(rpc_url, request_kwargs={"timeout": 30}, cache_allowed_requests=True))
    if poa:
        # Clique/IBFT/QBFT networks (Besu, Quorum) carry validator data in extraData.
        w3.middleware_onion.inject(ExtraDataToPOAMiddleware, layer=0)
    try:
        actual = w3.eth.chain_id
    except Exception as error:  # requests/aiohttp raise many types; all mean "no node here"
        raise ChainUnavailableError(f"no JSON-RPC node answers at {rpc_url}: {error}") from error
    if expected_chain_id is not None and actual != expected_chain_id:
        raise WrongChainError(expected_chain_id, actual, rpc_url)
    return w3


class TxSender:
    """Signs locally and sends; thread-safe per-account nonces (no gaps or reuse under concurrency)."""

    def __init__(self, w3: Web3, decoder: RevertDecoder, gas_headroom: float = 1.2) -> None:
        self.w3 = w3
        self.decoder = decoder
        self.gas_headroom = gas_headroom
        self.chain_id = w3.eth.chain_id
        self._nonces: dict[str, int] = {}
        self._locks: dict[str, threading.Lock] = {}
        self._registry_lock = threading.Lock()
        self._gas_price: tuple[float, int] = (0.0, 0)
        self._rpc: JsonRpc | ProviderRpc | None = None

    @property
    def rpc(self) -> JsonRpc | ProviderRpc:
        """The raw JSON-RPC client of `send_call` (created on first use: most senders never need it)."""
        if self._rpc is None:
            self._rpc = rpc_for(self.w3)
        return self._rpc

    def _lock_for(self, address: str) -> threading.Lock:
        with self._registry_lock:
            return self._locks.setdefault(address, threading.Lock())

    def gas_price(self) -> int:
        fetched_at, price = self._gas_price
        if time.monotonic() - fetched_at > 2.0:
            # Twice the quoted price absorbs base-fee rises between quote and inclusion.
            price = 2 * int(self.rpc.call("eth_gasPrice", []), 16) + 1
            self._gas_price = (time.monotonic(), price)
        return price

    def transact(
        self,
        fn: ContractFunction | ContractConstructor,
        account: LocalAccount,
        *,
        value: int = 0,
        gas: int | None = None,
        wait: bool = True,
    ) -> TxReceipt:
        """Estimate (decoding any revert), sign, send, wait; raise ContractRevert on failure."""
        params: TxParams = {"from": account.address, "value": value}  # type: ignore[typeddict-item]
        if gas is None:
            try:
                gas = int(fn.estimate_gas(params) * self.gas_headroom)
            except ContractLogicError as error:
                raise self.decoder.from_exception(error) from None
        tx_hash = self._sign_and_send(fn, account, params, gas)
        if not wait:
            return {"transactionHash": tx_hash}  # type: ignore[typeddict-item]
        receipt = self.w3.eth.wait_for_transaction_receipt(
            HexBytes(tx_hash), timeout=120, poll_latency=RECEIPT_POLL_S
        )
        if receipt["status"] != 1:
            raise self._replay_failure(fn, params, receipt)
        return receipt

    def _sign_and_send(
        self, fn: ContractFunction | ContractConstructor, account: LocalAccount, params: TxParams, gas: int
    ) -> bytes:
        address = account.address
        with self._lock_for(address):
            nonce = self._nonces.get(address)
            if nonce is None:
                nonce = self.w3.eth.get_transaction_count(address, "pending")
            full: TxParams = {
                **params,
                "nonce": nonce,  # type: ignore[typeddict-item]
                "gas": gas,
                "gasPrice": self.gas_price(),  # type: ignore[typeddict-item]
                "chainId": self.chain_id,
            }
            tx = fn.build_transaction(full)
            signed = account.sign_transaction(tx)  # type: ignore[arg-type]
            try:
                tx_hash = self.w3.eth.send_raw_transaction(signed.raw_transaction)
            except Web3RPCError:
                self._nonces.pop(address, None)  # resynchronise from the node next time
                raise
            self._nonces[address] = nonce + 1
            return bytes(tx_hash)

    def send_call(self, account: LocalAccount, to: str, data: bytes, gas: int) -> str:
        """Sign a call to `to` and send it over raw JSON-RPC; the 0x transaction hash.

        The hot path of relayed writes: web3's build_transaction and send_raw_transaction validate
        and format every field again, which costs more CPU than signing. A connection lost after the
        transaction was written raises TransactionOutcomeUnknown (it may be in the pool); an RPC error
        about the nonce resynchronises it from the node and tries once more.
        """
        address = account.address
        with self._lock_for(address):
            for attempt in (0, 1):
                nonce = self._nonces.get(address)
                if nonce is None:
                    nonce = int(self.rpc.call("eth_getTransactionCount", [address, "pending"]), 16)
                signed = account.sign_transaction(
                    {
                        "to": HexStr(to),
                        "data": data,
                        "value": 0,
                        "nonce": nonce,
                        "gas": gas,
                        "gasPrice": self.gas_price(),
                        "chainId": self.chain_id,
                    }
                )
                tx_hash = "0x" + bytes(signed.hash).hex()
                try:
                    self.rpc.call("eth_sendRawTransaction", ["0x" + bytes(signed.raw_transaction).hex()])
                except RequestMaybeDelivered as error:
                    self._nonces.pop(address, None)
                    raise TransactionOutcomeUnknown(
                        tx_hash, f"transaction {tx_hash} was sent but the node stopped answering: {error}"
                    ) from None
                except RpcError as error:
                    self._nonces.pop(address, None)  # resynchronise from the node
                    if attempt == 0 and "nonce" in error.message.lower():
                        continue
                    refused = f"the node refused the transaction: {error.message}"
                    raise ChainUnavailableError(refused) from None
                except ChainUnavailableError:
                    self._nonces.pop(address, None)
                    raise
                self._nonces[address] = nonce + 1
                return tx_hash
        raise AssertionError("unreachable")

    def _replay_failure(
        self, fn: ContractFunction | ContractConstructor, params: TxParams, receipt: TxReceipt
    ) -> ContractRevert:
        try:
            fn.call(params, block_identifier=receipt["blockNumber"] - 1)  # type: ignore[union-attr]
        except ContractLogicError as error:
            return self.decoder.from_exception(error)
        return ContractRevert(
            "Reverted", {"tx": receipt["transactionHash"].hex(), "gasUsed": receipt["gasUsed"]}
        )

    def forget_nonce(self, address: str) -> None:
        with self._lock_for(address):
            self._nonces.pop(address, None)
