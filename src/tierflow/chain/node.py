"""Connect to any EVM JSON-RPC node and send signed transactions with local nonce bookkeeping."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any

import rlp
from coincurve import PrivateKey
from eth_account.signers.local import LocalAccount
from eth_typing import HexStr
from eth_utils.crypto import keccak
from hexbytes import HexBytes
from web3 import HTTPProvider, Web3
from web3.contract.contract import ContractConstructor, ContractFunction
from web3.exceptions import ContractLogicError, Web3RPCError
from web3.middleware import ExtraDataToPOAMiddleware
from web3.types import TxParams, TxReceipt

from tierflow.chain.abi import RevertDecoder
from tierflow.chain.jsonrpc import JsonRpc, ProviderRpc, RequestMaybeDelivered, RpcError, rpc_for
from tierflow.errors import ChainUnavailableError, ContractRevert, TransactionOutcomeUnknown, WrongChainError
from tierflow.settings import DEFAULT_MAX_FEE_PER_GAS_WEI, DEFAULT_PRIORITY_FEE_WEI, Settings

RECEIPT_POLL_S = 0.005  # anvil mines instantly; web3's default 0.1 s poll would dominate latency
# [s] one eth_sendRawTransaction may take: an automining node answers once the block is mined.
SEND_TIMEOUT_S = 10.0

# The hashes of the transactions sent (or possibly delivered) in the current context: a caller that
# must know whether anything went out (the idempotency layer) opens `recording_sends()` around its work.
_SENT: ContextVar[list[str] | None] = ContextVar("tierflow_sent_transactions", default=None)
# How long a fee quote is reused. The base fee moves by at most 1/8 per block, so the 2 x headroom of
# maxFeePerGas outlasts about six full blocks.
FEE_REFRESH_S = 2.0
# New blocks after the head a transaction went out at, by which it is mined unless the block was full or
# the node lost it: the first may have been mined, or begun, before it reached the pool; the second it
# had whole. An account's oldest unmined send still waiting then has the node asked about its sends.
MINED_WITHIN = 2
# New blocks before the node is asked again about an account whose oldest send still waits (full blocks).
STALL_BLOCKS = 2
ASK_BATCH = 500  # calls per JSON-RPC batch of those checks

log = logging.getLogger("tierflow.chain")


@dataclass(frozen=True, slots=True)
class FeePolicy:
    """What the platform's accounts bid for gas, from the base fee, never from recent prices.

    `eth_gasPrice` follows the tips of recent blocks, so a sender that bids a multiple of it bids
    against itself: on 1 s blocks the relayers' price doubled every refresh (2 to 64 gwei in 16
    blocks). EIP-1559 chains get a type-2 transaction: maxPriorityFeePerGas = the configured tip,
    maxFeePerGas = 2 x the latest base fee + tip (the base fee can double in six full blocks; only
    base fee + tip is paid). Chains without a base fee (legacy, many free-gas consortium chains) get
    the node's eth_gasPrice as it is. Every figure is capped by `max_fee_per_gas_wei`; a base fee above
    the cap refuses the send (the node would only queue it).
    """

    priority_fee_wei: int = DEFAULT_PRIORITY_FEE_WEI
    max_fee_per_gas_wei: int = DEFAULT_MAX_FEE_PER_GAS_WEI

    @classmethod
    def from_settings(cls, settings: Settings) -> FeePolicy:
        return cls(settings.priority_fee_wei, settings.max_fee_per_gas_wei)

    def quote(self, base_fee: int | None, gas_price: int | None = None) -> dict[str, int]:
        """The fee fields of a transaction: EIP-1559 ones when `base_fee` is known, else `gasPrice`."""
        cap = self.max_fee_per_gas_wei
        if base_fee is None:
            if gas_price is None:
                raise ValueError("a chain without a base fee needs the node's gas price")
            return {"gasPrice": min(gas_price, cap)}
        if base_fee > cap:
            raise ChainUnavailableError(
                f"the chain's base fee is {base_fee} wei per gas, above the platform's cap of {cap} "
                "(TIERFLOW_MAX_FEE_PER_GAS_WEI): not sending until it falls or the cap is raised"
            )
        max_fee = min(2 * base_fee + self.priority_fee_wei, cap)
        return {"maxFeePerGas": max_fee, "maxPriorityFeePerGas": min(self.priority_fee_wei, max_fee)}


@contextmanager
def recording_sends() -> Iterator[list[str]]:
    """Collect the hash of every transaction sent in this context (and the threads it copies to)."""
    sent: list[str] = []
    token = _SENT.set(sent)
    try:
        yield sent
    finally:
        _SENT.reset(token)


def _note_sent(tx_hash: str) -> None:
    sent = _SENT.get()
    if sent is not None:
        sent.append(tx_hash)


def note_sent(tx_hash: str) -> None:
    """Record `tx_hash` as sent in this context: a write that went out in a transaction another writer
    sent (one batch for a signer's queued writes, chain/gateway.py)."""
    _note_sent(tx_hash)


class SentTransaction(str):
    """A sent transaction's hash that also names which forward request in it is the writer's own: a
    signer's batch (`executeOrVoidBatch`) carries several writes, each its forwarder nonce. Equal to the
    plain hash everywhere; the idempotency record keeps the nonce beside it (`request_nonce`), so an
    outcome looked up later is that one write's, not the whole batch's."""

    request_nonce: int | None = None


def sent_transaction(tx_hash: str, request_nonce: int | None) -> str:
    """`tx_hash`, carrying `request_nonce` when it is one request of a batch (see SentTransaction)."""
    if request_nonce is None:
        return tx_hash
    sent = SentTransaction(tx_hash)
    sent.request_nonce = request_nonce
    return sent


def request_nonce_of(tx_hash: str) -> int | None:
    """The forwarder nonce of the writer's request in a batch transaction; None for a single request."""
    return tx_hash.request_nonce if isinstance(tx_hash, SentTransaction) else None


@dataclass(slots=True)
class _Unmined:
    """A sent transaction not yet seen mined: its signed bytes, kept to send again if the node loses it."""

    tx_hash: str
    raw: str
    gas: int  # its gas limit (see TxSender.send_call: an account's never decrease while unmined)
    # The head the sender had seen when it went out (None: none yet; set by the next on_new_block).
    sent_head: int | None = field(default=None)
    asked_at: int | None = field(default=None)  # the head at which the node was last asked about it


def connect(
    rpc_url: str, expected_chain_id: int | None = None, poa: bool = False, timeout: float = 30.0
) -> Web3:
    """A Web3 bound to `rpc_url`; refuses a node whose chain id is not `expected_chain_id`.

    `timeout` [s] bounds each request; a short one also turns off web3's retries with back-off (a
    service must answer "unavailable" within its bound when the node hangs, not retry for a minute).
    """
    # cache_allowed_requests: web3 validates every call against eth_chainId; caching that lookup
    # (and other immutable answers) cuts a contract read from ~24 ms to ~16 ms on anvil.
    retries: dict[str, Any] = {} if timeout >= 30 else {"exception_retry_configuration": None}
    provider = HTTPProvider(
        rpc_url, request_kwargs={"timeout": timeout}, cache_allowed_requests=True, **retries
    )
    w3 = Web3(provider)
    if poa:
        # Clique/IBFT/QBFT networks (Besu, Quorum) carry validator data in extraData.
        w3.middleware_onion.inject(ExtraDataToPOAMiddleware, layer=0)
    try:
        actual = w3.eth.chain_id
    except Exception as error:  # requests/aiohttp raise many types; all mean "no node here"
        raise ChainUnavailableError(
            f"no JSON-RPC node answers at {rpc_url} ({type(error).__name__}): start it, or point "
            "TIERFLOW_RPC_URL at a running node"
        ) from error
    if expected_chain_id is not None and actual != expected_chain_id:
        raise WrongChainError(expected_chain_id, actual, rpc_url)
    return w3


class TxSender:
    """Signs locally and sends; thread-safe per-account nonces (no gaps or reuse under concurrency)."""

    def __init__(
        self,
        w3: Web3,
        decoder: RevertDecoder,
        gas_headroom: float = 1.2,
        rpc: JsonRpc | ProviderRpc | None = None,
        fees: FeePolicy | None = None,
    ) -> None:
        self.w3 = w3
        self.decoder = decoder
        self.gas_headroom = gas_headroom
        self.fees = fees or FeePolicy()
        self.chain_id = w3.eth.chain_id
        self._nonces: dict[str, int] = {}
        # The client's reconnect count when each cached nonce was read (see send_call).
        self._nonces_read_at: dict[str, int] = {}
        self._locks: dict[str, threading.Lock] = {}
        self._keys: dict[str, PrivateKey] = {}  # libsecp256k1 handles of the accounts' keys (see _signed)
        self._registry_lock = threading.Lock()
        self._fee_quote: tuple[float, dict[str, int]] = (-FEE_REFRESH_S, {})
        self._quoted_at_reconnects = 0
        self._rpc: JsonRpc | ProviderRpc | None = rpc
        self.send_timeout = SEND_TIMEOUT_S
        # Sent but not yet seen mined, per account and nonce (see on_new_block); guarded by _unmined_lock.
        self._unmined: dict[str, dict[int, _Unmined]] = {}
        self._unmined_hashes: dict[str, tuple[str, int]] = {}  # tx hash -> (account, nonce)
        self._unmined_lock = threading.Lock()
        self._head_seen: int | None = None
        self.resends = 0  # transactions sent again because the node had lost them

    @property
    def rpc(self) -> JsonRpc | ProviderRpc:
        """The raw JSON-RPC client of `send_call` (created on first use: most senders never need it)."""
        if self._rpc is None:
            self._rpc = rpc_for(self.w3)
        return self._rpc

    def _lock_for(self, address: str) -> threading.Lock:
        with self._registry_lock:
            return self._locks.setdefault(address, threading.Lock())

    def gas_price(self) -> dict[str, int]:
        """The fee fields of the next transaction (see FeePolicy), refreshed every FEE_REFRESH_S."""
        fetched_at, quote = self._fee_quote
        # A restarted node may have reset its base fee above a quote made before: quote again after
        # any lost connection, or the transaction would wait in the pool, unmined, for ever.
        reconnects = getattr(self.rpc, "reconnects", 0)
        if time.monotonic() - fetched_at >= FEE_REFRESH_S or reconnects != self._quoted_at_reconnects:
            self._quoted_at_reconnects = reconnects
            latest = self.rpc.call("eth_getBlockByNumber", ["latest", False])
            base_fee = (latest or {}).get("baseFeePerGas")
            if base_fee is not None:
                quote = self.fees.quote(int(base_fee, 16))
            else:
                quote = self.fees.quote(None, int(self.rpc.call("eth_gasPrice", []), 16))
            self._fee_quote = (time.monotonic(), quote)
        return dict(quote)

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
                "nonce": nonce,
                "gas": gas,
                **self.gas_price(),  # type: ignore[typeddict-item]
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
        transaction was written is settled from the node (`_settle_in_doubt`): delivered, never
        delivered (ChainUnavailableError, safe to run again), or TransactionOutcomeUnknown while the node
        does not answer. An RPC error about the nonce resynchronises it from the node and tries once more.

        The gas limit is raised to the highest of the account's sends not yet seen mined, if that is
        higher: anvil packs a block by `gas used so far + gas limit`, and when one of an account's
        transactions does not fit it goes on to the account's next one; a smaller one that fits then
        fails "nonce too high", and anvil evicts it with every later one of the account (an account's
        batch of 46 M gas followed by one of 18 M lost the second and stalled the account's writes
        for three blocks, several times a run). With limits that never decrease, a transaction that does
        not fit is followed by ones that do not fit either. Only the limit grows: the gas used, and paid
        for, is the same.
        """
        address = account.address
        with self._lock_for(address):
            for attempt in (0, 1):
                # A lost connection may be a node restart that emptied its pool: a nonce counted past
                # the dropped transactions would leave a gap, and everything sent after it would wait
                # in the pool for ever. Count again from the node after any reconnect.
                reconnects = getattr(self.rpc, "reconnects", 0)
                if self._nonces_read_at.get(address) != reconnects:
                    self._nonces.pop(address, None)
                nonce = self._nonces.get(address)
                if nonce is None:
                    nonce = int(self.rpc.call("eth_getTransactionCount", [address, "pending"]), 16)
                    self._nonces_read_at[address] = reconnects
                    # The node has none of this account's sends from `nonce` on, and the nonces are about
                    # to carry new bytes: the old ones must never be sent again.
                    self._forget_unmined(address, from_nonce=nonce)
                gas = max(gas, self._gas_floor(address))
                tx_hash, raw = self._signed(account, to, data, nonce, gas, self.gas_price())
                try:
                    try:
                        self.rpc.call("eth_sendRawTransaction", [raw], timeout=self.send_timeout)
                    except RequestMaybeDelivered as error:
                        self._settle_in_doubt(tx_hash, raw, error)
                except TransactionOutcomeUnknown:
                    self._nonces.pop(address, None)
                    self._remember_unmined(address, nonce, tx_hash, raw, gas)
                    _note_sent(tx_hash)
                    raise
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
                self._remember_unmined(address, nonce, tx_hash, raw, gas)
                _note_sent(tx_hash)
                return tx_hash
        raise AssertionError("unreachable")

    def _remember_unmined(self, address: str, nonce: int, tx_hash: str, raw: str, gas: int) -> None:
        with self._unmined_lock:
            old = self._unmined.setdefault(address, {}).get(nonce)
            if old is not None:
                self._unmined_hashes.pop(old.tx_hash, None)
            self._unmined[address][nonce] = _Unmined(str(tx_hash), raw, gas, self._head_seen)
            self._unmined_hashes[str(tx_hash)] = (address, nonce)

    def _gas_floor(self, address: str) -> int:
        """The highest gas limit of the account's sends not yet seen mined (0: none); see send_call."""
        with self._unmined_lock:
            return max((entry.gas for entry in self._unmined.get(address, {}).values()), default=0)

    def _forget_unmined(
        self,
        address: str,
        *,
        below: int | None = None,
        from_nonce: int | None = None,
        only: int | None = None,
    ) -> None:
        """Forget the account's unmined sends with a nonce below `below`, from `from_nonce` on, or `only`."""
        with self._unmined_lock:
            self._drop_unmined(address, below, from_nonce, only)

    def _drop_unmined(
        self, address: str, below: int | None, from_nonce: int | None = None, only: int | None = None
    ) -> None:
        """_forget_unmined with _unmined_lock held."""
        entries = self._unmined.get(address, {})
        for nonce in list(entries):
            if (
                (below is not None and nonce < below)
                or (from_nonce is not None and nonce >= from_nonce)
                or nonce == only
            ):
                self._unmined_hashes.pop(entries.pop(nonce).tx_hash, None)
        if not entries:
            self._unmined.pop(address, None)

    def unmined_count(self) -> int:
        """How many sent transactions are kept for a resend (mined ones are forgotten)."""
        with self._unmined_lock:
            return len(self._unmined_hashes)

    def keeps(self, tx_hash: str) -> bool:
        """Whether the signed bytes of `tx_hash` are kept for a resend."""
        with self._unmined_lock:
            return str(tx_hash) in self._unmined_hashes

    def on_new_block(
        self, head: int, mined: Sequence[str], may_resend: Callable[[str], bool] | None = None
    ) -> None:
        """Forget the sends now mined; send again, once, the ones the node has lost.

        Called by the receipt watcher (chain/receipts.py) after each lookup with the head it read and the
        hashes whose receipts it found. A node may accept a transaction and then lose it (anvil evicts an
        account's later transactions when an earlier one did not fit in a block, see send_call; a
        restart, a reorg): every later nonce of the account then waits in the pool for ever. When an
        account's oldest unmined send had a whole block to be mined in (it went out before the previous
        head was seen) and was not, one batch asks the node for the account's mined count and for each of
        its kept sends, the oldest too: it may still wait in the pool (a full block) while a later one
        was lost. The ones the node does not know go out again, the same signed bytes (same hash and
        nonce: each runs at most once), oldest first; the account is asked about again after
        STALL_BLOCKS more blocks if that send still waits. Nothing is asked while every send is mined
        within the block after the one it went out in.
        `may_resend(account)`, asked under the account's send lock, may forbid it (see _resend_lost).
        """
        with self._unmined_lock:
            # Nonces are mined in order: everything of an account up to its highest nonce mined is settled.
            settled: dict[str, int] = {}
            for tx_hash in mined:
                found = self._unmined_hashes.get(str(tx_hash))
                if found is not None:
                    address, nonce = found
                    settled[address] = max(nonce, settled.get(address, nonce))
            for address, nonce in settled.items():
                self._drop_unmined(address, nonce + 1)
            if head == self._head_seen:
                return
            self._head_seen = head
            stalled: list[tuple[str, list[tuple[int, str]]]] = []
            for address, entries in self._unmined.items():
                oldest = entries[min(entries)]
                if oldest.sent_head is None:
                    oldest.sent_head = head  # sent before any head was seen: counted from this one
                if head - oldest.sent_head >= MINED_WITHIN and (
                    oldest.asked_at is None or head - oldest.asked_at >= STALL_BLOCKS
                ):
                    oldest.asked_at = head
                    stalled.append((address, sorted((n, entry.tx_hash) for n, entry in entries.items())))
        if not stalled:
            return
        calls: list[tuple[str, Sequence[Any]]] = []
        for address, kept in stalled:
            calls.append(("eth_getTransactionCount", [address, "latest"]))
            calls += [("eth_getTransactionByHash", [tx_hash]) for _, tx_hash in kept]
        answers = iter(self._ask(calls))
        for address, kept in stalled:
            mined_count = int(next(answers), 16)
            known = [next(answers) for _ in kept]
            self._forget_unmined(address, below=mined_count)
            lost = [
                (nonce, tx_hash)
                for (nonce, tx_hash), answer in zip(kept, known, strict=True)
                if nonce >= mined_count and not answer
            ]
            if lost:
                self._resend_lost(address, lost, may_resend)

    def _ask(self, calls: list[tuple[str, Sequence[Any]]]) -> list[Any]:
        """The answers of read-only `calls`, in JSON-RPC batches a node accepts (Besu caps them at 1,024)."""
        rpc = self.rpc
        if not isinstance(rpc, JsonRpc):
            return [rpc.call(method, params) for method, params in calls]
        answers: list[Any] = []
        for start in range(0, len(calls), ASK_BATCH):
            answers += rpc.batch(calls[start : start + ASK_BATCH])
        return answers

    def _resend_lost(
        self, address: str, lost: list[tuple[int, str]], may_resend: Callable[[str], bool] | None
    ) -> None:
        """Send again the account's `lost` transactions (nonce, hash: the node said it does not know them),
        oldest first.

        Under the account's send lock, so no new bytes can take one of these nonces meanwhile: only bytes
        still kept under the same hash go out. When `may_resend` says no (several instances: this one no
        longer holds the account's lease, and another may have given the nonces to other bytes), the kept
        bytes are forgotten instead. One that came back or was mined since the question answers "already
        known" or "nonce too low": no harm, it runs at most once."""
        with self._lock_for(address):
            if may_resend is not None and not may_resend(address):
                self._forget_unmined(address, below=0, from_nonce=0)
                return
            for nonce, tx_hash in lost:
                with self._unmined_lock:
                    entry = self._unmined.get(address, {}).get(nonce)
                if entry is None or entry.tx_hash != tx_hash:
                    continue  # mined, or its nonce given to new bytes, since the question
                try:
                    self.rpc.call("eth_sendRawTransaction", [entry.raw], timeout=self.send_timeout)
                except RpcError as error:
                    # "already known" (it came back meanwhile) and "nonce too low" (mined meanwhile) are
                    # fine; anything else (e.g. a fee now below the base fee) leaves it for the next check.
                    log.warning(
                        "sending %s again (account %s, nonce %d): the node answered %s",
                        entry.tx_hash,
                        address,
                        nonce,
                        error.message,
                    )
                    continue
                except ChainUnavailableError as error:
                    log.warning(
                        "resending %s (account %s, nonce %d) failed: %s", entry.tx_hash, address, nonce, error
                    )
                    return
                self.resends += 1
                log.warning(
                    "resent %s (account %s, nonce %d): the node had lost it", entry.tx_hash, address, nonce
                )

    def revive(self, tx_hash: str, may_resend: Callable[[str], bool] | None = None) -> bool:
        """For a transaction the node says it does not know: whether it can still be mined.

        While this sender keeps its signed bytes, on_new_block may send them again, so "unknown to the
        node" no longer means "never mined": a caller that would run the write again must ask here. The
        bytes are sent again now (True: it can still be mined, answer "not mined yet"); a node that
        refuses them for good (its nonce carries other bytes by now) makes the sender forget them, under
        the account's send lock, so no later resend can follow the caller's new attempt (False).
        ChainUnavailableError when the node does not answer (ask again later). `may_resend` as in
        on_new_block: when it says no, the bytes are forgotten.
        """
        with self._unmined_lock:
            found = self._unmined_hashes.get(str(tx_hash))
        if found is not None:
            address, nonce = found
            with self._lock_for(address):
                with self._unmined_lock:
                    entry = self._unmined.get(address, {}).get(nonce)
                if entry is not None and may_resend is not None and not may_resend(address):
                    self._forget_unmined(address, below=0, from_nonce=0)
                elif entry is not None and entry.tx_hash == str(tx_hash):
                    try:
                        self.rpc.call("eth_sendRawTransaction", [entry.raw], timeout=self.send_timeout)
                    except RpcError as error:
                        text = error.message.lower()
                        if "known" in text or "already" in text:
                            return True
                        self._forget_unmined(address, only=nonce)
                        log.warning(
                            "forgot %s (account %s, nonce %d): %s", tx_hash, address, nonce, error.message
                        )
                    else:
                        self.resends += 1
                        log.warning(
                            "resent %s (account %s, nonce %d): asked for by a retry", tx_hash, address, nonce
                        )
                        return True
        # Not kept (or just refused): it can be mined only if it already was, e.g. between the questions.
        return bool(self.rpc.call("eth_getTransactionByHash", [tx_hash], timeout=self.send_timeout))

    def key_of(self, account: LocalAccount) -> PrivateKey:
        """The account's key as a libsecp256k1 handle (parsed once): signs in ~0.1 ms, eth-keys in ~0.6."""
        key = self._keys.get(account.address)
        if key is None:
            key = self._keys.setdefault(account.address, PrivateKey(bytes(account.key)))
        return key

    def _signed(
        self, account: LocalAccount, to: str, data: bytes, nonce: int, gas: int, fees: dict[str, int]
    ) -> tuple[str, str]:
        """The hash and raw bytes (0x hex) of the call transaction, signed with the account's key.

        A type-2 (EIP-1559) transaction is RLP-encoded and signed here with libsecp256k1 (coincurve):
        0.3 ms, against 2 ms through eth-account's generic typed-transaction path, on the hot path of
        every relayed write. Legacy (gasPrice) transactions, rare and off the hot path, go through
        eth-account.
        """
        if "maxFeePerGas" not in fees:
            signed = account.sign_transaction(
                {
                    "to": HexStr(to),
                    "data": data,
                    "value": 0,
                    "nonce": nonce,
                    "gas": gas,
                    **fees,
                    "chainId": self.chain_id,
                }
            )
            return "0x" + bytes(signed.hash).hex(), "0x" + bytes(signed.raw_transaction).hex()
        fields: list[Any] = [
            self.chain_id,
            nonce,
            fees["maxPriorityFeePerGas"],
            fees["maxFeePerGas"],
            gas,
            bytes.fromhex(to[2:]),
            0,
            data,
            [],  # access list
        ]
        signature = self.key_of(account).sign_recoverable(keccak(b"\x02" + rlp.encode(fields)), hasher=None)
        r, s, parity = signature[:32], signature[32:64], signature[64]
        raw = b"\x02" + rlp.encode([*fields, parity, int.from_bytes(r, "big"), int.from_bytes(s, "big")])
        return "0x" + keccak(raw).hex(), "0x" + raw.hex()

    def _settle_in_doubt(self, tx_hash: str, raw: str, error: RequestMaybeDelivered) -> None:
        """After a send whose answer was lost, ask the node whether it has the transaction.

        Sending the same signed bytes again is safe (same hash and nonce: it executes at most once),
        so a transaction the node does not know is simply sent again on a fresh connection; one it
        knows (in the pool or mined) was delivered. Returns when delivered; raises ChainUnavailable-
        Error when it provably never was (the caller may run again), TransactionOutcomeUnknown when
        the node still does not answer.
        """
        try:
            if self.rpc.call("eth_getTransactionByHash", [tx_hash], timeout=self.send_timeout):
                return  # delivered: its receipt follows
            self.rpc.call("eth_sendRawTransaction", [raw], timeout=self.send_timeout)
            return
        except RpcError as answer:
            text = answer.message.lower()
            if "known" in text or "already" in text:
                return  # the node has it (pool or chain)
            try:  # e.g. "nonce too low": mined between our two questions?
                if self.rpc.call("eth_getTransactionByHash", [tx_hash], timeout=self.send_timeout):
                    return
            except (RpcError, ChainUnavailableError):
                pass
            raise ChainUnavailableError(f"the node refused the transaction: {answer.message}") from None
        except ChainUnavailableError as again:
            raise TransactionOutcomeUnknown(
                tx_hash,
                f"transaction {tx_hash} may have reached the node, which stopped answering: {error}; {again}",
            ) from None

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
