"""Relay participants' calls through the ERC-2771 forwarder: custodial signing, self-custody, nonces.

Every participant write goes through `TierflowForwarder.execute`, sent and paid for by one of a pool
of relayer accounts, so participants need no gas. Each request takes the relayer with the fewest
requests in flight, so different participants' writes go out in parallel (on an automining node
`send_raw_transaction` returns only once the block is mined, so one account would serialise them
all). Two locks keep nonces right under concurrency:

* each relayer account's transaction nonce lives in `TxSender` (one lock per account, gap-free);
* the forwarder's per-signer nonce is sequential (`ERC2771Forwarder` hashes `nonces(from)` into the
  signed request), so a signer's requests must be mined in the order they were signed. A custodial
  signer's writes are pipelined (`_Pipeline`): a write joins the signer's queue, and one writer at a
  time (the leader) takes everything queued, simulates it in ONE `eth_simulateV1` on the `pending`
  block (each write on the state it will meet: the signer's writes still in the pool and the ones
  before it in the batch included; a failing one is refused and changes nothing for those behind
  it), then gives each passing write the next forwarder nonce, signs and sends it. Per write a
  simulation on `pending` cost the node a re-execution of its whole pool (~9 ms with an empty pool,
  ~37 ms with 100 writes in it), which bounded a participant to ~30 writes per block; one call for
  the batch costs about as much as one of them. A node without `eth_simulateV1` gets one `eth_call`
  per write, sent before the next is simulated. Receipts are awaited outside the lock, so many
  writes of one participant share a block. All of a signer's writes in flight go through one
  relayer account, whose transaction nonces keep them in order. A request that fails on chain anyway
  (a race with another party) leaves its nonce unused, so the requests behind it fail too without
  doing anything: each is sent again, the same signed bytes in order, and the failed one's nonce is
  used up by a no-op request signed with the same nonce (`_fill`), so it can never run later.
  A self-custody signer's requests come signed, nonces included (`relay`): each waits for its nonce's
  turn, is checked on the `pending` state and sent through the relayer its signer's requests in flight
  use; a request that would fail is refused and takes no nonce (the signer signs the ones after it
  again), since the platform cannot sign a no-op for it. It goes out as an `executeOrVoidBatch`, with
  the signer's requests already waiting for the nonces right after it (one transaction for a round, as
  custodial writes), so one whose call fails on chain anyway dies with its nonce used and the requests
  behind it run; only a request no longer valid when mined (its deadline passed in flight) leaves its
  nonce unused, and each request behind it then answers `earlier_request_failed` with the nonce to sign
  from (the ones sharing its transaction before it: `request_not_run`, post it again).

The forwarder swallows the inner revert reason (`FailedCall()`), so every request is first simulated
as the target contract sees it: an `eth_call` from the forwarder with the signer appended to the
calldata (ERC-2771's `_msgSender()`); that yields the contract's custom error before anything is sent.

The write path speaks raw JSON-RPC (`tierflow.chain.jsonrpc`) and decodes calldata, receipts and reverts
with the one ABI codec (`tierflow.chain.abi`, the indexer's too): through web3.py's formatters and
validators a relayed write cost several times the CPU.
"""

from __future__ import annotations

import contextvars
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from eth_abi.abi import decode as abi_decode
from eth_abi.abi import encode as abi_encode
from eth_account import Account
from eth_account.signers.local import LocalAccount
from eth_utils.crypto import keccak
from hexbytes import HexBytes
from web3 import Web3
from web3.contract import Contract
from web3.exceptions import ContractLogicError, Web3Exception

from tierflow.chain import intents
from tierflow.chain.abi import LogDecoder, calldata
from tierflow.chain.deploy import Deployment
from tierflow.chain.forwarder import (
    EIP712_DOMAIN_FIELDS,
    EIP712_DOMAIN_TYPEHASH,
    FORWARD_REQUEST_FIELDS,
    encode_request,
    encode_requests,
    struct_hash,
)
from tierflow.chain.jsonrpc import JsonRpc, RpcError, endpoint_of, rpc_for
from tierflow.chain.leases import Leases, NoLeases, account_lease, forwarder_lease
from tierflow.chain.node import FeePolicy, TxSender, connect, note_sent, request_nonce_of, sent_transaction
from tierflow.chain.receipts import ReceiptWatcher
from tierflow.chain.vocabulary import N_
from tierflow.errors import ChainUnavailableError, ContractRevert, TierflowError, TransactionOutcomeUnknown

# A signed request stays relayable this long: long enough for a human to sign, short enough that a
# leaked signature is soon worthless. The forwarder refuses deadlines more than an hour ahead of chain
# time (TierflowForwarder.MAX_REQUEST_LIFETIME).
DEFAULT_DEADLINE_S = 3600
MAX_DEADLINE_S = 3600
# Custodial requests are signed and relayed inside one call: minutes of chain time are plenty, and a
# request that reverted is voided at once, so its public calldata can never be replayed later.
CUSTODIAL_DEADLINE_S = 300
INNER_GAS_HEADROOM = 1.0
# Gas cap of one forwarded call: the heaviest single-object operation (issue with 20 invoices) uses
# about 700,000; payout handles up to 100 certificates.
GAS_BUDGET = 1_500_000
BATCH_GAS_BUDGET = 8_000_000
PAYOUT_SELECTOR = bytes(Web3.keccak(text="payout(uint256[])")[:4])
INNER_GAS_MARGIN = 20_000
EXECUTE_SELECTOR = keccak(text="execute((address,address,uint256,uint256,uint48,bytes,bytes))")[:4]
BATCH_SELECTOR = keccak(text="executeOrVoidBatch((address,address,uint256,uint256,uint48,bytes,bytes)[])")[:4]
FORWARD_REQUEST_DATA = "(address,address,uint256,uint256,uint48,bytes,bytes)"
VERIFY_SELECTOR = keccak(text="verify((address,address,uint256,uint256,uint48,bytes,bytes))")[:4]
NONCES_SELECTOR = keccak(text="nonces(address)")[:4]
SECP256K1_N = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141
# How long a sent transaction may take to be mined before the caller hears "outcome unknown".
RECEIPT_TIMEOUT_S = 120.0
# [s] a read of the node may take: a hung node (stopped, overloaded) answers 503 within this, and a
# write fails in its simulation, before anything is sent. Only the wait for a receipt is longer.
READ_TIMEOUT_S = 2.0
# [s] how often a write that waits for an earlier request of its signer (being sent again, or its
# nonce being filled) looks at the forwarder's nonce again.
REPAIR_POLL_S = 0.05
# [s] a leader handing a signer over to another instance is woken when its writes in flight settled
# (`_Pipeline.settled`); it looks again after this long in any case.
HAND_OVER_WAIT_S = 1.0
# [s] how long a self-custody request waits for the signer's requests with the nonces before its own
# (sent at once by a client, they may arrive in any order), and how far ahead of the next nonce it may be.
RELAY_ORDER_WAIT_S = 5.0
MAX_RELAY_AHEAD = 256
# [s] a self-custody request waiting for its turn while this instance has none of its signer's requests
# in flight looks at the node's pending nonce this often: only another instance can move it then.
RELAY_POLL_S = 0.25
# [s] at most this often a signer's relays ask whether another instance waits for its forwarder lease.
RELAY_WANTED_S = 0.1
# [s of chain time] a self-custody request relayed must have at least this long left: one that expires
# in flight reverts with its nonce unused, and every request of its signer sent behind it fails too.
RELAY_MIN_LIFE_S = 30
# [s of chain time] a request shares the transaction of the one before it only with this long left: the
# whole transaction reverts if one in it expired in flight, the requests before it in it included.
RELAY_BATCH_MIN_LIFE_S = 300
# A request that reverts on chain although its simulation passes each time is sent at most this often.
MAX_RESENDS = 3
# Most writes of one signer simulated in one eth_simulateV1 and sent by one leader in one turn: the
# other writers wait for at most this many sends before their own.
MAX_QUEUED_BATCH = 100
# A batched write's gas allowance: what its simulation used, times this plus BATCH_GAS_MARGIN, at most its
# single-send budget. A batch transaction's gas limit is the sum of its allowances, and a node takes a
# transaction into a block only while its limit fits in the gas the block has left, so with flat 1.5 M
# budgets 20 writes would fill a whole 30 M block's room; the margin covers a state that moved between
# simulation and block and the gas refunded only at the transaction's end.
BATCH_GAS_FACTOR = 1.5
BATCH_GAS_MARGIN = 50_000
# Of a block's gas limit, at most this share goes to one batch transaction: the rest is left to other
# participants' writes in the same block (a bigger round is split into several batches).
BATCH_BLOCK_SHARE = 0.5
# Outer gas of an executeOrVoidBatch: the transaction's own, and per request the forwarder's work
# (signature, nonce, event, the call's cold access) and its calldata (16 per byte of its ABI encoding,
# ~10 words besides the inner calldata); plus 1/64 of the allowance, which EIP-150 keeps back at a call.
BATCH_TX_GAS = 40_000
BATCH_REQUEST_GAS = 45_000
# A batch transaction's gas LIMIT asks for what its requests are expected to use, not their allowances
# (blocks are packed by limit: with the sum of allowances a block counted as full at a third of its gas
# used). The limit of a signed batch comes from its simulation as a whole (`_batch_limit`); before it is
# signed (to cut a round into transactions), or on a node that cannot simulate, a request's expected
# gross use inside the batch is its own simulation's gasUsed (net of its refund, which is at most a
# quarter of that: refunds are capped at 1/5 of the gross) plus that quarter, less the 21,000 a
# transaction of its own pays; then its forwarder overhead and calldata as in `_request_gas`. On top:
# the largest one request's reserve (its whole allowance beyond its expected use, plus the 1/63 the
# forwarder's check wants left after its call, which also covers the 1/64 EIP-150 keeps back), so that
# any one request meeting a state that moved since its simulation may use all it signed for; and
# BATCH_LIMIT_SLACK of the rest. A batch that still runs short reverts whole (nothing runs, no nonce
# used) and is sent again with the sum of its allowances (`_Batch.full_gas`).
SIMULATED_TX_GAS = 21_000
BATCH_LIMIT_SLACK = 0.02
# The forwarder's events that close a request's logs in a batch's receipt (one per request, always last).
REQUEST_ENDS = ("ExecutedForwardRequest", "ForwardRequestFailed")
# JSON-RPC error codes of a node that does not offer a method (eth_simulateV1 is newer than eth_call).
METHOD_NOT_FOUND = (-32601, -32004)


class RelayError(TierflowError):
    """A forward request the relayer refuses before sending (bad signature, wrong target, expired)."""

    def __init__(self, code: str, message: str, **params: Any) -> None:
        """`message` is English with `%(name)s` placeholders filled from `params`; one marked `N_(…)` is
        shown in the reader's language by the API (`template`, `params`)."""
        self.code = code
        self.template, self.params = message, params
        message = message % params if params else message
        super().__init__(message)


@dataclass(frozen=True)
class DecodedEvent:
    contract: str
    event: str
    args: dict[str, Any]
    log_index: int


@dataclass
class TxOutcome:
    tx_hash: str
    block_number: int
    gas_used: int
    events: list[DecodedEvent] = field(default_factory=list)
    succeeded: bool = True
    # why one request of a batch failed inside it (the transaction itself succeeded; see _cut_request)
    failure: ContractRevert | None = None

    def first(self, event: str) -> DecodedEvent | None:
        return next((item for item in self.events if item.event == event), None)


class DecodedReceipts:
    """The mined transactions one run has looked up, each decoded once: a run that settles many requests
    of one batch transaction (a sweep, a batch submitted again) decoded its whole receipt (a hundred
    events and more, every address checksummed) again for every request in it, about half the CPU of
    settling one. Made for one run and dropped with it, never kept across runs: a receipt read once
    must not be served after its block may have been rolled back (each answer still waits for the
    indexer to hold that block, `writes.finish`). Shared by the run's threads; a transaction not mined
    yet is not remembered (asked again)."""

    def __init__(self) -> None:
        self._guard = threading.Lock()
        self._entries: dict[str, _Decoded] = {}

    def entry(self, tx_hash: str) -> _Decoded:
        with self._guard:
            return self._entries.setdefault(str(tx_hash).lower(), _Decoded())

    def forget(self, tx_hash: str) -> None:
        """Read `tx_hash` afresh next time: its block was dropped since (the run's retry reads it again)."""
        with self._guard:
            self._entries.pop(str(tx_hash).lower(), None)


@dataclass(eq=False)
class _Decoded:
    """One transaction of a DecodedReceipts: its outcome and each request's part, once mined."""

    lock: threading.Lock = field(default_factory=threading.Lock)  # held while the receipt is decoded
    outcome: TxOutcome | None = None
    cuts: dict[int, TxOutcome] = field(default_factory=dict)


@dataclass(eq=False)
class _Pipeline:
    """One custodial signer's writes in flight; every field is read and changed under `lock`."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    # The forwarder nonce the next write takes; None: read it from the node's pending state.
    next_nonce: int | None = None
    # Forwarder nonces of the requests whose writers still wait for them (a nonce below the pending
    # one and not in here was given up, e.g. after a node restart, and is filled by the next writer).
    active: set[int] = field(default_factory=set)
    relayer: int | None = None  # the pool slot all of this signer's writes in flight go through
    lease: str | None = None  # the signer's forwarder lease while writes are in flight (Leases.hold)
    # Writes waiting to be simulated and sent, oldest first, and whether a writer leads (sends them);
    # both read and changed under `queue_guard` (held only for list operations, never over a call).
    queue: list[_Job] = field(default_factory=list)
    leading: bool = False
    queue_guard: threading.Lock = field(default_factory=threading.Lock)
    # Notified (under `lock`) when the last write in flight left and the lease was given up (`_leave`).
    settled: threading.Condition = field(init=False)

    def __post_init__(self) -> None:
        self.settled = threading.Condition(self.lock)


@dataclass(eq=False)
class _Relays:
    """A self-custody signer's relayed requests in this process; every field is read and changed under
    `turn` (held from a request's nonce check to its send, never over a receipt)."""

    turn: threading.Condition = field(default_factory=threading.Condition)
    next_nonce: int | None = None  # the nonce the next request must carry; None: read it from `pending`
    in_flight: int = 0  # requests sent and not yet mined
    relayer: int | None = None  # the pool slot every request in flight goes through
    # Requests waiting for their turn, by nonce: the writer whose turn it is takes those with the nonces
    # right after its own into its transaction (`_relay_round`).
    waiting: dict[int, _Relayed] = field(default_factory=dict)
    asked: float = 0.0  # [monotonic s] when this instance last asked whether another waits for the lease


@dataclass(eq=False)
class _Relayed:
    """One self-custody request in its signer's turn; filled in once it is sent, by its own writer or by
    the writer of the request before it, which took it into the same `executeOrVoidBatch`."""

    message: dict[str, Any]
    signature: str
    sent: bool = False
    slot: int = 0  # the relayer
    data: bytes = b""  # the transaction's calldata and gas
    gas: int = 0
    tx_hash: str = ""  # a SentTransaction naming this request's nonce
    size: int = 1  # requests in its transaction, from forwarder nonce `first`
    first: int = 0
    error: BaseException | None = None  # the transaction's send failed (its outcome unknown)
    held: bool = False  # holds a count of the signer's forwarder lease (taken at its turn, not before)


@dataclass(eq=False)
class _Job:
    """One custodial write in its signer's queue; the leader fills in how it went out, then `wake`s it."""

    account: LocalAccount
    to: str
    data: bytes
    # The writer's context: the leader sends the transaction in it, so `recording_sends` of the writer
    # (the idempotency layer) sees its own transaction, not the leader's.
    context: contextvars.Context = field(default_factory=contextvars.copy_context)
    wake: threading.Event = field(default_factory=threading.Event)
    finished: bool = False  # sent (`signed`, `tx_hash`) or refused (`error`)
    lead: bool = False  # handed the lead: the writer sends the queue itself
    signed: _Signed | None = None
    tx_hash: str = ""
    error: BaseException | None = None
    batch: _Batch | None = None  # sent in this executeOrVoidBatch transaction (None: alone, by execute)

    def sent(self, signed: _Signed, tx_hash: str, batch: _Batch | None = None) -> None:
        self.signed, self.tx_hash, self.batch, self.finished = signed, tx_hash, batch, True
        self.wake.set()

    def refused(self, error: BaseException) -> None:
        self.error, self.finished = error, True
        self.wake.set()


@dataclass(frozen=True)
class Simulated:
    """A write that passed its simulation in a sequence: the gas it is signed with (`allowance`, see
    BATCH_GAS_FACTOR) and what its simulation used (`used`, net of refunds; 0: not known)."""

    allowance: int
    used: int = 0


@dataclass(eq=False)
class _Batch:
    """One leader round of a signer's writes, sent as ONE `executeOrVoidBatch` transaction.

    Every writer in it waits for the same receipt; `lock` lets one of them at a time decode it (once,
    `outcome`) or, if the whole transaction reverted, send the same signed requests again (`tx_hash`
    then names the new attempt) or give up for all (`failure`).
    """

    account: LocalAccount
    relayer: LocalAccount
    requests: list[tuple[dict[str, Any], str]]  # (message, signature), consecutive forwarder nonces
    data: bytes
    gas: int  # the transaction's gas limit: what its requests are expected to use (`_batch_gas`)
    full_gas: int  # the sum of their allowances: a batch that ran short of `gas` is sent again with this
    # each writer's context and forwarder nonce: a new attempt is recorded in every writer's
    # `recording_sends` (the idempotency layer keeps the latest), naming the writer's own request
    writers: list[tuple[contextvars.Context, int]] = field(default_factory=list)
    tx_hash: str = ""
    attempts: int = 0
    outcome: TxOutcome | None = None
    cuts: dict[int, TxOutcome] = field(default_factory=dict)  # each request's part of `outcome`, by nonce
    failure: BaseException | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)


@dataclass(frozen=True)
class _Signed:
    """A custodial request in a pipeline: who signed it, the relayer that sends it, message, signature."""

    account: LocalAccount
    relayer: LocalAccount
    message: dict[str, Any]
    signature: str


@dataclass(frozen=True)
class Call:
    """One contract call a participant wants to make: target contract name, function, arguments."""

    contract: str
    function: str
    args: tuple[Any, ...]


class ChainGateway:
    """The service's handle on the chain: contracts, simulation, the relayer, custodial signing."""

    def __init__(
        self,
        w3: Web3,
        deployment: Deployment,
        operator: LocalAccount,
        relayers: Sequence[LocalAccount] = (),
        fees: FeePolicy | None = None,
    ) -> None:
        """`operator` sends operator-only calls; `relayers` (default: the operator alone) relay requests;
        `fees` prices their transactions (default: FeePolicy's defaults)."""
        self.w3 = w3
        self.deployment = deployment
        self.decoder = deployment.decoder()
        url = endpoint_of(w3.provider)
        # Reads (and the sender's nonce and fee quote) time out fast; the send itself has its own bound.
        self.rpc = JsonRpc(url, timeout=READ_TIMEOUT_S) if url is not None else rpc_for(w3)
        self.sender = TxSender(w3, self.decoder, rpc=self.rpc, fees=fees)
        # Contract reads through web3 (balances, registry) with the same bound and no retries.
        reader = connect(url, timeout=READ_TIMEOUT_S) if url is not None else w3
        self.receipt_timeout = RECEIPT_TIMEOUT_S
        self.receipts = ReceiptWatcher(self.rpc, on_block=self._on_new_block)
        self.operator = operator
        self.relayers: list[LocalAccount] = list(relayers) or [operator]
        # Requests in flight per relayer (index into self.relayers), read and changed under _pool_lock.
        self._in_flight = [0] * len(self.relayers)
        self._next_relayer = 0
        self._pool_lock = threading.Lock()
        self.chain_id = int(w3.eth.chain_id)
        self.contracts: dict[str, Contract] = {
            name: deployment.contract(reader, name) for name in deployment.contracts
        }
        self.by_address = {str(c.address).lower(): name for name, c in self.contracts.items()}
        self.forwarder = self.contracts["TierflowForwarder"]
        self.domain_separator = keccak(
            abi_encode(
                ["bytes32", "bytes32", "bytes32", "uint256", "address"],
                [
                    EIP712_DOMAIN_TYPEHASH,
                    keccak(b"Tierflow"),
                    keccak(b"1"),
                    self.chain_id,
                    self.forwarder.address,
                ],
            )
        )
        self._self_custody: dict[str, _Relays] = {}
        self.relay_order_wait = RELAY_ORDER_WAIT_S
        self._pipelines: dict[str, _Pipeline] = {}
        self._locks_guard = threading.Lock()
        # Whether the node simulates several calls in one request (eth_simulateV1); off after it says no.
        self.simulate_many = True
        self.log_decoder = LogDecoder(
            {name: (record.address, record.abi) for name, record in deployment.contracts.items()}
        )
        # Several API instances on one chain: what this instance may sign with (chain/leases.py).
        self.leases: Leases = NoLeases()
        self._batch_gas_cap: int | None = None  # [gas] most one batch transaction may ask (read once)

    # -- building calls ---------------------------------------------------------------------
    def calldata(self, call: Call) -> tuple[str, bytes]:
        contract = self.contracts.get(call.contract)
        if contract is None:
            raise ChainUnavailableError(f"contract {call.contract} is not deployed on chain {self.chain_id}")
        return str(contract.address), calldata(contract, call.function, call.args)

    def simulate(self, signer: str, to: str, data: bytes, block: str = "latest") -> int:
        """Run the call as the target sees it when forwarded; return a gas budget or raise the decoded revert.

        One eth_call, not eth_estimateGas: estimation re-executes the call in a binary search, several
        times the node's work per write, while the budget only caps what the inner call may spend
        (the relayer pays for gas used, not for the cap).
        """
        raw = bytes(HexBytes(data))
        self._eth_call(self._as_forwarded(signer, to, raw), block)
        return _gas_budget(raw)

    def _as_forwarded(self, signer: str, to: str, data: bytes) -> dict[str, Any]:
        """The call as the target contract sees it when forwarded: from the forwarder, signer appended."""
        return {"from": self.forwarder.address, "to": to, "data": "0x" + data.hex() + signer[2:].lower()}

    def simulate_sequence(
        self, signer: str, calls: Sequence[tuple[str, bytes]]
    ) -> list[Simulated | TierflowError] | None:
        """Simulate `calls` of `signer` one after the other on the `pending` block in one request.

        Each call meets the state the ones before it left (a failing one changes nothing), as when they
        are mined in this order: per call its gas allowance (what it used, with a margin, see
        BATCH_GAS_FACTOR) and its use, or its decoded revert. None when the node cannot (no
        eth_simulateV1, or it refused the request): simulate one by one then.
        """
        results = self._simulate_v1([self._as_forwarded(signer, to, data) for to, data in calls], "pending")
        if results is None:
            return None
        verdicts: list[Simulated | TierflowError] = []
        for (_, data), result in zip(calls, results, strict=True):
            if int(result["status"], 16) == 1:
                used = int(result.get("gasUsed") or "0x0", 16)
                tight = int(used * BATCH_GAS_FACTOR) + BATCH_GAS_MARGIN if used else _gas_budget(data)
                verdicts.append(Simulated(min(_gas_budget(data), tight), used))
                continue
            failure = dict(result.get("error") or {})
            revert = result.get("returnData") or failure.get("data")
            verdicts.append(self._revert(RpcError("eth_simulateV1", {**failure, "code": 3, "data": revert})))
        return verdicts

    def preview(self, sender: str, to: str, data: bytes) -> None:
        """Run a call as `sender` would send it directly (a governance proposal, as the timelock); raise
        the decoded revert if it would fail now."""
        self._eth_call({"from": sender, "to": to, "data": "0x" + bytes(data).hex()})

    def preview_sequence(self, sender: str, calls: Sequence[tuple[str, bytes]]) -> list[int] | None:
        """Run `calls` as `sender` would send them one after the other (a batch proposal, as the timelock)
        in one eth_simulateV1: each call's gas used, or the first call's decoded revert raised. None when
        the node cannot simulate several calls (the caller previews what it can alone)."""
        params = [{"from": sender, "to": to, "data": "0x" + bytes(data).hex()} for to, data in calls]
        results = self._simulate_v1(params, "latest")
        if results is None:
            return None
        used = []
        for result in results:
            if int(result["status"], 16) != 1:
                failure = dict(result.get("error") or {})
                revert = result.get("returnData") or failure.get("data")
                raise self._revert(RpcError("eth_simulateV1", {**failure, "code": 3, "data": revert}))
            used.append(int(result["gasUsed"], 16))
        return used

    def _simulate_v1(self, params: list[dict[str, Any]], block: str) -> list[dict[str, Any]] | None:
        """Each call's result of one eth_simulateV1 of `params` in order on `block`; None when the node
        cannot (no eth_simulateV1: off from then on; or it refused the request)."""
        if not self.simulate_many:
            return None
        try:
            (simulated,) = self.rpc.call("eth_simulateV1", [{"blockStateCalls": [{"calls": params}]}, block])
        except RpcError as error:
            if error.code in METHOD_NOT_FOUND or "not found" in error.message.lower():
                self.simulate_many = False
            return None
        except ValueError:  # an answer with other than one simulated block
            return None
        return list(simulated["calls"])

    def block_gas_limit(self) -> int:
        """[gas] the latest block's gas limit: no transaction, a batch proposal's included, may use more."""
        try:
            return int(self.rpc.call("eth_getBlockByNumber", ["latest", False])["gasLimit"], 16)
        except RpcError as error:
            raise _unavailable(error) from error

    def _eth_call(self, params: dict[str, Any], block: str = "latest") -> str:
        """eth_call over raw JSON-RPC; a revert becomes the decoded ContractRevert."""
        try:
            return str(self.rpc.call("eth_call", [params, block]))
        except RpcError as error:
            raise self._revert(error) from None

    def _revert(self, error: RpcError) -> TierflowError:
        """A node's error answer to a call or estimate: the decoded custom error, if it is a revert."""
        if error.data is None and error.code != 3 and "revert" not in error.message.lower():
            return ChainUnavailableError(f"the node could not run the call: {error.message}")
        decoded = self.decoder.decode(error.data)
        if decoded.name == "Reverted" and error.message:
            return ContractRevert("Reverted", {"message": error.message})
        return decoded

    # -- forward requests ---------------------------------------------------------------------
    def _pipeline(self, signer: str) -> _Pipeline:
        with self._locks_guard:
            return self._pipelines.setdefault(signer.lower(), _Pipeline())

    def forwarder_nonce(self, signer: str, block: str = "latest") -> int:
        data = "0x" + NONCES_SELECTOR.hex() + signer[2:].lower().rjust(64, "0")
        return int(self._eth_call({"to": self.forwarder.address, "data": data}, block), 16)

    def chain_time(self) -> int:
        try:
            return int(self.rpc.call("eth_getBlockByNumber", ["latest", False])["timestamp"], 16)
        except RpcError as error:
            raise _unavailable(error) from error

    def forward_request(
        self,
        signer: str,
        call: Call,
        *,
        deadline_s: int = DEFAULT_DEADLINE_S,
        nonce: int | None = None,
        deadline: int | None = None,
    ) -> dict[str, Any]:
        """The EIP-712 typed data of a ForwardRequest for `call` by `signer`, simulated first."""
        signer = Web3.to_checksum_address(signer)
        to, data = self.calldata(call)
        gas = self.simulate(signer, to, data)
        message = self._request_message(
            signer,
            to,
            data,
            int(gas * INNER_GAS_HEADROOM) + INNER_GAS_MARGIN,
            self.forwarder_nonce(signer) if nonce is None else nonce,
            self.chain_time() + deadline_s if deadline is None else deadline,
        )
        return self.typed_data(message)

    @staticmethod
    def _request_message(
        signer: str, to: str, data: bytes, gas: int, nonce: int, deadline: int
    ) -> dict[str, Any]:
        """The ForwardRequest message (unsigned) of a call of `signer` to `to` with `data`."""
        return {
            "from": signer,
            "to": to,
            "value": 0,
            "gas": gas,
            "nonce": nonce,
            "deadline": deadline,
            "data": "0x" + data.hex(),
        }

    def _custodial_deadline(self) -> int:
        """CUSTODIAL_DEADLINE_S after the chain's time. Read for every request: a cached time goes stale
        when the chain's clock jumps (anvil's evm_increaseTime, a node catching up) and the request
        would be refused as expired."""
        return self.chain_time() + CUSTODIAL_DEADLINE_S

    def typed_data(self, message: dict[str, Any]) -> dict[str, Any]:
        return {
            "types": {"EIP712Domain": EIP712_DOMAIN_FIELDS, "ForwardRequest": FORWARD_REQUEST_FIELDS},
            "primaryType": "ForwardRequest",
            "domain": {
                "name": "Tierflow",
                "version": "1",
                "chainId": self.chain_id,
                "verifyingContract": str(self.forwarder.address),
            },
            "message": message,
        }

    def digest(self, message: dict[str, Any]) -> bytes:
        """The EIP-712 hash of a ForwardRequest, computed directly.

        The same value eth_signTypedData_v4 signs (the self-custody test signs with eth-account's
        generic encoder and is verified here); the generic encoder costs milliseconds per request.
        """
        return keccak(b"\x19\x01" + self.domain_separator + struct_hash(message))

    def sign(self, account: LocalAccount, typed_data: dict[str, Any]) -> str:
        """The r‖s‖v signature (v 27/28, low s, as eth_signTypedData_v4 gives) of the request's digest."""
        return self._sign_digest(account, self.digest(typed_data["message"]))

    def _sign_digest(self, account: LocalAccount, digest: bytes) -> str:
        signature = self.sender.key_of(account).sign_recoverable(digest, hasher=None)
        return "0x" + (signature[:64] + bytes([27 + signature[64]])).hex()

    @staticmethod
    def normalise_signature(signature: str) -> str:
        """The r‖s‖v form the forwarder (OpenZeppelin ECDSA) accepts, from what standard wallets give.

        v = 0/1 becomes 27/28; a 64-byte EIP-2098 signature (r‖vs, the parity in the top bit of s) is
        expanded; a high s (the malleable twin) becomes its low-s equivalent. Anything else that
        cannot recover is refused here, before a transaction that must revert is sent.
        """
        raw = bytes(HexBytes(signature))
        if len(raw) == 64:
            vs = int.from_bytes(raw[32:], "big")
            raw = raw[:32] + (vs & ((1 << 255) - 1)).to_bytes(32, "big") + bytes([27 + (vs >> 255)])
        if len(raw) != 65:
            raise RelayError("invalid_signature", N_("a signature is 65 bytes (r‖s‖v) or 64 (EIP-2098 r‖vs)"))
        r, s, v = raw[:32], int.from_bytes(raw[32:64], "big"), raw[64]
        if v in (0, 1):
            v += 27
        if v not in (27, 28):
            raise RelayError("invalid_signature", N_("v must be 27 or 28 (or 0/1), not %(v)s"), v=raw[64])
        if s > SECP256K1_N // 2:
            s, v = SECP256K1_N - s, 55 - v  # same signer, the form ECDSA.recover accepts
        return "0x" + (r + s.to_bytes(32, "big") + bytes([v])).hex()

    def recover(self, message: dict[str, Any], signature: str) -> str:
        try:
            return str(Account._recover_hash(self.digest(message), signature=HexBytes(signature)))
        except Exception as error:  # eth-account raises ValueError/BadSignature variants
            raise RelayError(
                "invalid_signature", N_("the signature does not parse: %(error)s"), error=str(error)
            ) from None

    # -- relaying -----------------------------------------------------------------------------
    def execute_custodial(self, account: LocalAccount, call: Call) -> TxOutcome:
        """Sign a forward request with the participant's custodial key and relay it; pipelined per signer.

        The write joins the signer's queue; the leader simulates what is queued in one request on the
        pending state, signs and sends each write that passes (`_send_queued`). The receipt is awaited
        outside the signer's lock, so the signer's next writes go out at once (see the module docstring).
        """
        to, data = self.calldata(call)  # before queueing: the signer's other writes need not wait for it
        pipe = self._pipeline(str(account.address))
        job = _Job(account, to, data)
        self._queue(pipe, job)
        if job.error is not None:
            raise job.error
        assert job.signed is not None
        nonce = int(job.signed.message["nonce"])
        try:
            if job.batch is not None:
                return self._settle_batched(pipe, job.batch, job.signed)
            return self._settle(pipe, job.signed, job.tx_hash)
        except TransactionOutcomeUnknown as error:
            if job.batch is None or request_nonce_of(error.tx_hash) is not None:
                raise
            # unknown for this writer's own request of the batch (its record names it: SentTransaction)
            raise TransactionOutcomeUnknown(sent_transaction(error.tx_hash, nonce), str(error)) from None
        finally:
            with pipe.lock:
                self._leave(pipe, nonce)

    def _queue(self, pipe: _Pipeline, job: _Job) -> None:
        """Queue `job` and return once it is sent or refused; if no writer leads, lead until it is.

        A leader whose own write went out hands the lead to the oldest queued writer, so nobody's answer
        waits for other participants' writes for longer than one batch.
        """
        with pipe.queue_guard:
            pipe.queue.append(job)
            job.lead = not pipe.leading
            pipe.leading = True
        while not job.finished:
            if not job.lead:
                job.wake.wait()
                job.wake.clear()
                continue
            job.lead = False
            self._lead(pipe, job)

    def _lead(self, pipe: _Pipeline, job: _Job) -> None:
        """Send the queue's writes, a batch per turn, until `job` is done; then hand the lead on."""
        batch: list[_Job] = []
        try:
            while True:
                with pipe.queue_guard:
                    if job.finished or not pipe.queue:
                        self._hand_on(pipe)
                        return
                    limit = MAX_QUEUED_BATCH if self.simulate_many else 1
                    batch = pipe.queue[:limit]
                    del pipe.queue[:limit]
                # Only once the leader's own write is not in flight (else it would wait for itself).
                self._hand_over_if_wanted(pipe)
                with pipe.lock:
                    self._send_queued(pipe, batch)
        except BaseException as error:
            for item in batch:  # whatever of the batch did not go out is refused with the cause
                if not item.finished:
                    item.refused(error)
            with pipe.queue_guard:
                self._hand_on(pipe)
            raise

    def _hand_over_if_wanted(self, pipe: _Pipeline) -> None:
        """Before a round: if another API instance waits for this signer's forwarder lease, send nothing
        more and wait until the writes in flight have settled, when the last one out gives the lease up
        (`_leave`); the waiting instance takes it first (`Leases.hold`), and this one's queued writes
        wait for their turn in `_send_queued`. Without it the busiest instance kept the signer as long
        as it had a write in flight, and the signer's writes at the other instances timed out."""
        with pipe.lock:
            lease = pipe.lease
        if lease is None or not self.leases.wanted(lease):
            return
        with pipe.lock:
            while pipe.lease is not None:
                pipe.settled.wait(HAND_OVER_WAIT_S)  # woken by `_leave`, not a 10 ms poll

    @staticmethod
    def _hand_on(pipe: _Pipeline) -> None:
        """The leader stops (under pipe.queue_guard): the oldest queued writer leads, or nobody."""
        if pipe.queue:
            pipe.queue[0].lead = True
            pipe.queue[0].wake.set()
        else:
            pipe.leading = False

    def _send_queued(self, pipe: _Pipeline, batch: list[_Job]) -> None:
        """Simulate `batch` (one signer's writes, oldest first) on the pending state, then sign and send
        each that passes with the next forwarder nonce (under pipe.lock). A refused write takes no nonce;
        a send that fails stops the batch, and the writes behind it, simulated on a state that included
        it, go back to the head of the queue to be simulated again."""
        signer = str(batch[0].account.address)
        if pipe.relayer is None:
            # Idle pipeline: no other instance may drive this signer's forwarder nonces meanwhile
            # (next_nonce is None here, so the nonce is read from the node once the lease is ours).
            if self.leases.hold(forwarder_lease(signer)):
                # Taken now, maybe after waiting for another instance's turn: the signer's writes that
                # queued meanwhile go in this round, not a turn later.
                limit = MAX_QUEUED_BATCH if self.simulate_many else 1
                with pipe.queue_guard:
                    room = max(0, limit - len(batch))
                    batch.extend(pipe.queue[:room])
                    del pipe.queue[:room]
            pipe.lease = forwarder_lease(signer)
            pipe.relayer = self._take_relayer()
        relayer = self.relayers[pipe.relayer]
        try:
            nonce = pipe.next_nonce
            if nonce is None:
                nonce = self.forwarder_nonce(signer, "pending")
            verdicts = (
                self.simulate_sequence(signer, [(job.to, job.data) for job in batch])
                if len(batch) > 1
                else None
            )
            deadline = self._custodial_deadline()
            if verdicts is not None and self._batch_gas_cap is None:
                self._batch_gas_cap = int(self.block_gas_limit() * BATCH_BLOCK_SHARE)
        except Exception as error:
            pipe.next_nonce = None  # the node's pending state says where the signer stands
            for job in batch:
                job.refused(error)
            self._leave(pipe, None)
            return
        if verdicts is not None:
            self._send_batched(pipe, batch, verdicts, nonce, deadline, relayer)
            return
        for index, job in enumerate(batch):
            try:
                # Without a batch verdict the write is simulated now, after the ones before it were sent.
                gas = int(self.simulate(signer, job.to, job.data, "pending") * INNER_GAS_HEADROOM)
                message = self._request_message(
                    signer, job.to, job.data, gas + INNER_GAS_MARGIN, nonce, deadline
                )
                digest = self.digest(message)  # hashed once for its signature and its announcement
                signature = self._sign_digest(job.account, digest)
                self._announce([(job, gas)], [(message, signature)], [digest])
                tx_hash = job.context.run(self._send_request, relayer, message, signature)
            except ContractRevert as refusal:
                job.refused(refusal)  # nothing sent, no nonce taken: the writes behind it are unaffected
                continue
            except Exception as error:
                pipe.next_nonce = None
                job.refused(error)
                with pipe.queue_guard:
                    pipe.queue[:0] = batch[index + 1 :]
                self._leave(pipe, None)
                return
            pipe.active.add(nonce)
            nonce += 1
            pipe.next_nonce = nonce
            job.sent(_Signed(job.account, relayer, message, signature), tx_hash)
        if not pipe.active:
            self._leave(pipe, None)

    def _send_batched(
        self,
        pipe: _Pipeline,
        batch: list[_Job],
        verdicts: list[Simulated | TierflowError],
        nonce: int,
        deadline: int,
        relayer: LocalAccount,
    ) -> None:
        """Send the writes of `batch` whose simulation passed as `executeOrVoidBatch` transactions (under
        pipe.lock): consecutive forwarder nonces from `nonce`, one transaction per BATCH_BLOCK_SHARE of
        the block's gas. A write whose simulation failed is refused and takes no nonce; one the node
        could not simulate (not a revert) stops the round, and the writes behind it go back to the head
        of the queue. A send that fails refuses its batch's writes, and the batches behind it go back too.
        """
        signer = str(batch[0].account.address)
        rounds: list[list[tuple[_Job, int]]] = [[]]
        shares: list[list[_RequestGas]] = [[]]  # each round's requests' gas
        total = _RequestGas(0, 0)  # the last round's so far
        assert self._batch_gas_cap is not None
        for index, (job, verdict) in enumerate(zip(batch, verdicts, strict=True)):
            if isinstance(verdict, ContractRevert):
                job.refused(verdict)  # nothing sent, no nonce taken: the writes behind it are unaffected
                continue
            if isinstance(verdict, TierflowError):
                job.refused(verdict)
                with pipe.queue_guard:
                    pipe.queue[:0] = batch[index + 1 :]
                break
            allowance = int(verdict.allowance * INNER_GAS_HEADROOM) + INNER_GAS_MARGIN
            share = _RequestGas.of(allowance, job.data, verdict.used)
            grown = _RequestGas(total.expected + share.expected, max(total.reserve, share.reserve))
            if rounds[-1] and _batch_gas([grown]) > self._batch_gas_cap:
                rounds.append([])
                shares.append([])
                grown = share
            total = grown
            rounds[-1].append((job, allowance))
            shares[-1].append(share)
        for position, (group, group_shares) in enumerate(zip(rounds, shares, strict=True)):
            if not group:
                continue
            account = group[0][0].account
            requests: list[tuple[dict[str, Any], str]] = []
            digests: list[bytes] = []  # each request's, hashed once for its signature and its announcement
            for offset, (job, allowance) in enumerate(group):
                message = self._request_message(signer, job.to, job.data, allowance, nonce + offset, deadline)
                digests.append(self.digest(message))
                requests.append((message, self._sign_digest(job.account, digests[-1])))
            data, full_gas = self._batch_data(requests)
            gas = self._batch_limit(relayer, data, full_gas, group_shares)
            writers = [(job.context, nonce + offset) for offset, (job, _) in enumerate(group)]
            sent = _Batch(account, relayer, requests, data, gas, full_gas, writers)
            try:
                self._announce(group, requests, digests)  # stored before the send; a failure sends nothing
                # sent outside every writer's context: each records its own request of it (_noted)
                sent.tx_hash = contextvars.Context().run(self._send_batch, sent)
            except Exception as error:
                pipe.next_nonce = None
                for (job, _), (_, request_nonce) in zip(group, writers, strict=True):
                    if isinstance(error, TransactionOutcomeUnknown):  # in doubt: each its own request
                        own = sent_transaction(error.tx_hash, request_nonce)
                        job.context.run(note_sent, own)
                        job.refused(TransactionOutcomeUnknown(own, str(error)))
                    else:
                        job.refused(error)
                with pipe.queue_guard:
                    pipe.queue[:0] = [job for later in rounds[position + 1 :] for job, _ in later]
                break
            self._noted(sent)
            for (job, _), (message, signature) in zip(group, requests, strict=True):
                pipe.active.add(int(message["nonce"]))
                job.sent(_Signed(job.account, relayer, message, signature), sent.tx_hash, sent)
            nonce += len(group)
            pipe.next_nonce = nonce
        if not pipe.active:
            self._leave(pipe, None)

    def _announce(
        self,
        group: list[tuple[_Job, int]],
        requests: list[tuple[dict[str, Any], str]],
        digests: list[bytes],
    ) -> None:
        """Hand the signed requests (with their EIP-712 `digests`, as signed) to the writers that store
        them before their send (chain/intents.py)."""
        intents.announce(
            [
                (job.context, intents.SignedIntent(
                    str(message["from"]), int(message["nonce"]), "0x" + digest.hex(),
                    int(message["deadline"]),
                ))
                for (job, _), (message, _signature), digest in zip(group, requests, digests, strict=True)
            ]
        )  # fmt: skip

    def _batch_limit(
        self, relayer: LocalAccount, data: bytes, full_gas: int, shares: list[_RequestGas]
    ) -> int:
        """[gas] the limit of the batch transaction `data` (signed, about to be sent): what it uses when
        simulated as a whole on the `pending` state (its requests find the slots the ones before them
        touched warm: a third less than simulated one by one) plus a quarter of that (gasUsed is net of
        refunds, which are capped at 1/5 of the gross), plus the largest request's reserve (it may meet a
        moved state and use its whole allowance). The estimate from its requests' simulations
        (`_batch_gas`) when the node cannot; never more than `full_gas`, the sum of the allowances."""
        results = None
        try:
            results = self._simulate_v1(
                [{"from": relayer.address, "to": self.forwarder.address, "data": "0x" + data.hex(),
                  "gas": hex(full_gas)}],
                "pending",
            )  # fmt: skip
        except ChainUnavailableError:
            pass
        if not results or int(results[0]["status"], 16) != 1:
            return min(full_gas, _batch_gas(shares))
        used = int(results[0]["gasUsed"], 16)
        return min(full_gas, used + used // 4 + max(share.allowance_reserve for share in shares))

    def _batch_data(self, requests: list[tuple[dict[str, Any], str]]) -> tuple[bytes, int]:
        """Calldata of `executeOrVoidBatch(requests)` and its outer gas (see BATCH_TX_GAS)."""
        data = BATCH_SELECTOR + encode_requests(requests)
        gas = BATCH_TX_GAS + sum(
            _request_gas(int(message["gas"]), HexBytes(message["data"])) for message, _ in requests
        )
        return data, gas

    @staticmethod
    def _noted(batch: _Batch) -> None:
        """Record the batch's current attempt in each writer's `recording_sends`, naming its request."""
        for context, request_nonce in batch.writers:
            context.run(note_sent, sent_transaction(batch.tx_hash, request_nonce))

    def _send_batch(self, batch: _Batch) -> str:
        self._may_sign(batch.relayer)
        return self.sender.send_call(batch.relayer, str(self.forwarder.address), batch.data, batch.gas)

    def _settle_batched(self, pipe: _Pipeline, batch: _Batch, request: _Signed) -> TxOutcome:
        """This write's part of its batch transaction's receipt: the events up to and including the
        forwarder's event of its nonce (ExecutedForwardRequest), or its decoded error if its call failed
        on chain (ForwardRequestFailed: its nonce is used up, the writes behind it ran). A batch whose
        transaction reverted as a whole ran nothing and is sent again once every earlier nonce is used
        (`_batch_after_failure`); every writer in it shares that attempt's result."""
        deadline = time.monotonic() + self.receipt_timeout
        nonce = int(request.message["nonce"])
        while True:
            tx_hash = batch.tx_hash
            receipt = self.wait_receipt(tx_hash)
            with batch.lock:
                if batch.failure is not None:
                    raise batch.failure
                if batch.tx_hash != tx_hash:
                    continue  # another writer of the batch sent it again meanwhile
                if int(receipt["status"], 16) != 1:
                    if int(receipt["gasUsed"], 16) >= batch.gas:
                        # it ran short (an out-of-gas, or the forwarder's check after a starved call,
                        # uses all that is left): sent again, it may use every request's allowance
                        batch.gas = batch.full_gas
                    try:
                        batch.tx_hash = self._batch_after_failure(pipe, batch, tx_hash, deadline)
                    except BaseException as error:
                        batch.failure = error
                        raise
                    self._noted(batch)
                    continue
                if batch.outcome is None or batch.outcome.tx_hash != tx_hash:
                    batch.outcome = self.outcome(receipt)
                    batch.cuts = self._cut_requests(batch.outcome)
                outcome, cuts = batch.outcome, batch.cuts
            own = _request_part(outcome, cuts, nonce)
            if own.failure is not None:
                raise own.failure
            return own

    def _cut_request(self, outcome: TxOutcome, nonce: int) -> TxOutcome:
        """The part of a batch transaction's outcome that is the request with forwarder nonce `nonce`:
        its events up to and including the forwarder's event that closes them. A request whose call
        failed inside the batch (ForwardRequestFailed) is not `succeeded` and carries its decoded error
        (`failure`). A batch carries one signer's requests, so the nonce names one of them."""
        return _request_part(outcome, self._cut_requests(outcome), nonce)

    def _cut_requests(self, outcome: TxOutcome) -> dict[int, TxOutcome]:
        """Every request's part of a batch transaction's outcome (`_cut_request`) by forwarder nonce, in one
        pass: the writers of a batch each take theirs from it (a pass per writer was O(n²) a batch)."""
        cuts: dict[int, TxOutcome] = {}
        own: list[DecodedEvent] = []
        for event in outcome.events:
            own.append(event)
            if event.contract != "TierflowForwarder" or event.event not in REQUEST_ENDS:
                continue
            cut = TxOutcome(outcome.tx_hash, outcome.block_number, outcome.gas_used, own)
            own = []
            if event.event == "ForwardRequestFailed":
                error = self.decoder.decode(event.args["reason"])
                if error.name in ("Reverted", "UnknownError", "FailedCall"):
                    error = ContractRevert(
                        "Reverted", {"reason": "the forwarded call failed", "tx": outcome.tx_hash}
                    )
                cut.succeeded, cut.failure = False, error
            cuts.setdefault(int(event.args["nonce"]), cut)
        return cuts

    def _batch_after_failure(self, pipe: _Pipeline, batch: _Batch, tx_hash: str, deadline: float) -> str:
        """The batch in `tx_hash` reverted as a whole (nothing ran, no nonce used): the hash of its next
        attempt, or raise why it cannot run.

        An earlier request of the signer had not run (its nonce was behind), a request expired, or the
        gas ran short (then `batch.gas` is already its `full_gas`: `_settle_batched`). Once every earlier
        nonce is used the same signed requests go out again: each runs
        or dies on its own (executeOrVoidBatch), so sending them again can run each at most once. After
        MAX_RESENDS the batch's nonces are used up by no-ops (`_fill`) and the decoded error is raised.
        """
        account, relayer = batch.account, batch.relayer
        first = int(batch.requests[0][0]["nonce"])

        def resend() -> str:
            batch.attempts += 1
            if batch.attempts > MAX_RESENDS:
                block = self.outcome(self.wait_receipt(tx_hash)).block_number
                forwarder = str(self.forwarder.address)
                failure = self._explain(relayer.address, forwarder, batch.data, batch.gas, block)
                for offset in range(len(batch.requests)):
                    self._fill(account, relayer, first + offset)
                raise failure or ContractRevert(
                    "Reverted", {"reason": "the forwarded batch failed", "tx": tx_hash}
                )
            return self._send_batch(batch)

        return self._on_turn(pipe, account, relayer, first, tx_hash, deadline, resend)

    def _on_turn(
        self,
        pipe: _Pipeline,
        account: LocalAccount,
        relayer: LocalAccount,
        nonce: int,
        tx_hash: str,
        deadline: float,
        turn: Callable[[], str],
    ) -> str:
        """Wait until forwarder nonce `nonce` of the signer is the next to run, then `turn()` (under
        pipe.lock): the hash it sends. A nonce before it whose writer gave up (outcome unknown, e.g. a
        node restart dropped it) is used up by a no-op so the requests behind it run and the lost one
        can never run later; a nonce already used by another transaction, or a turn that does not come
        before `deadline`, is an unknown outcome of `tx_hash`."""
        signer = str(account.address)
        while True:
            with pipe.lock:
                head = self.forwarder_nonce(signer, "pending")
                if head > nonce:
                    raise TransactionOutcomeUnknown(
                        tx_hash,
                        f"forwarder nonce {nonce} of {signer} was used by a transaction other than "
                        f"{tx_hash}: read the object's state before sending the request again",
                    )
                if head == nonce:
                    return turn()
                if head not in pipe.active:
                    self._fill(account, relayer, head)
                    continue
            if time.monotonic() >= deadline:
                raise TransactionOutcomeUnknown(
                    tx_hash,
                    f"transaction {tx_hash} reverted while an earlier request of {signer} was pending, "
                    "which did not run in time",
                )
            time.sleep(REPAIR_POLL_S)

    def _leave(self, pipe: _Pipeline, nonce: int | None) -> None:
        """A write is done with its pipeline (under pipe.lock): the last one out frees the relayer."""
        pipe.active.discard(nonce)
        if not pipe.active and pipe.lease is not None:
            self.leases.release(pipe.lease)
            pipe.lease = None
            pipe.settled.notify_all()
        if not pipe.active and pipe.relayer is not None:
            self._release_relayer(pipe.relayer)
            pipe.relayer = None
            # Idle: the next write reads the nonce from the node, which also heals a pipeline whose
            # requests a node restart dropped.
            pipe.next_nonce = None

    def _send_request(self, relayer: LocalAccount, message: dict[str, Any], signature: str) -> str:
        data, gas = self._execute_data(message, signature)
        self._may_sign(relayer)
        return self.sender.send_call(relayer, str(self.forwarder.address), data, gas)

    def _on_new_block(self, head: int, mined: list[str]) -> None:
        """The receipt watcher's report of a lookup: the sender forgets the mined, resends the lost."""
        self.sender.on_new_block(head, mined, self._may_resend)

    def _may_resend(self, address: str) -> bool:
        """Whether the sender may send an account's kept transaction again: only while this instance
        has held the account's lease all along. A lease lost, or taken again since (another instance may
        have given its nonces to other bytes), forbids it, and the nonce is read from the node next."""
        try:
            if not self.leases.check(account_lease(address)):
                return True
        except ChainUnavailableError:
            return False
        self.sender.forget_nonce(address)
        return False

    def _may_sign(self, relayer: LocalAccount) -> None:
        """Refuse to sign for a relayer whose lease this instance does not hold; after the lease was
        (re)taken, its transaction nonce is read from the node (another instance may have sent)."""
        if self.leases.check(account_lease(relayer.address)):
            self.sender.forget_nonce(relayer.address)

    def _execute_data(self, message: dict[str, Any], signature: str) -> tuple[bytes, int]:
        """Calldata of `execute(request)` and its outer gas: the inner allowance plus the forwarder's own
        work (signature check, nonce, calldata copy); estimating it would cost a round trip and cannot
        fail differently."""
        data = EXECUTE_SELECTOR + encode_request(message, signature)
        return data, int(message["gas"]) + 80_000 + 16 * len(HexBytes(message["data"]))

    def _settle(self, pipe: _Pipeline, request: _Signed, tx_hash: str) -> TxOutcome:
        """Wait for the request's receipt; if it did not execute, send it again in order or report why.

        A reverted `execute` changed nothing (the forwarder checks, uses the nonce and calls in one
        transaction), so sending the same signed bytes again can run the call at most once.
        """
        forwarder = str(self.forwarder.address)
        deadline = time.monotonic() + self.receipt_timeout
        attempts = 0
        while True:
            outcome = self.outcome(self.wait_receipt(tx_hash))
            if outcome.succeeded:
                return outcome
            # Only a failure needs the transaction's calldata again (to replay it for the reason).
            data, gas = self._execute_data(request.message, request.signature)
            failure = self._explain(
                request.relayer.address, forwarder, data, gas, outcome.block_number
            ) or ContractRevert("Reverted", {"reason": "the forwarded call failed", "tx": tx_hash})
            attempts += 1
            give_up = failure if attempts > MAX_RESENDS else None
            tx_hash = self._after_failure(pipe, request, tx_hash, deadline, give_up)

    def _after_failure(
        self, pipe: _Pipeline, request: _Signed, tx_hash: str, deadline: float, give_up: ContractRevert | None
    ) -> str:
        """The request in `tx_hash` reverted: the hash of its next attempt, or raise why it cannot run.

        It failed either on its own (the state changed after its simulation) or because an earlier
        request of the same signer had not run (the forwarder's nonce was behind). Once every earlier
        nonce is used, the request is simulated again: if it would now succeed it is sent again (same
        signature), else its nonce is used up by a no-op (`_fill`) and the decoded error is raised; so
        is `give_up` (the last failure) once the request failed MAX_RESENDS times although its
        simulation passed.
        """
        account, relayer, message = request.account, request.relayer, request.message
        signer, nonce = str(message["from"]), int(message["nonce"])

        def resend() -> str:
            if give_up is not None:
                self._fill(account, relayer, nonce)
                raise give_up
            try:
                self.simulate(signer, str(message["to"]), HexBytes(message["data"]), "pending")
            except ContractRevert:
                self._fill(account, relayer, nonce)
                raise
            return self._send_request(relayer, message, request.signature)

        return self._on_turn(pipe, account, relayer, nonce, tx_hash, deadline, resend)

    def _fill(self, account: LocalAccount, relayer: LocalAccount, nonce: int) -> str:
        """Use up forwarder nonce `nonce` of a custodial signer with a request that changes nothing.

        A view call through the forwarder (`isTrustedForwarder`) always succeeds, so it takes the nonce
        of a request that failed or was lost: only one of the two signed requests can ever run.
        """
        to, data = self.calldata(Call("Receivables", "isTrustedForwarder", (self.forwarder.address,)))
        message = self._request_message(
            str(account.address), to, data, 50_000, nonce, self._custodial_deadline()
        )
        return self._send_request(relayer, message, self.sign(account, self.typed_data(message)))

    def relay(self, message: dict[str, Any], signature: str) -> TxOutcome:
        """Relay a request signed by a self-custody participant (already checked by the caller); pipelined
        per signer.

        Under the signer's `_Relays` condition the request waits for its turn (the signer's requests carry
        consecutive nonces and may arrive in any order: one with a later nonce waits up to
        RELAY_ORDER_WAIT_S for those before it), is checked against the `pending` state (its nonce is the
        next one after the signer's requests still in the pool; it is simulated, and the forwarder's own
        `verify` passes, on the state those leave), and sent through the relayer all of the signer's
        requests in flight use (its transaction nonces keep them in order), together with the requests
        already waiting for the nonces right after it (`_relay_round`: one transaction for a round). The
        receipt is awaited outside the condition, so a signer's requests share blocks. A request that would
        fail is refused before sending and takes no nonce; a replay (a nonce already relayed or in flight)
        is `stale_nonce`. One that fails on chain anyway is answered as `_relayed` says.

        The signer's forwarder lease is held by each request from its turn until it is mined (not while it
        waits for its turn: `_relay_lease`): two instances given the same signed request at once would
        both see its nonce unused and both send it (one transaction reverting at the relayer's cost); the
        second instance waits for the first to be done and answers `stale_nonce`. While another instance
        waits for the lease this one sends nothing more and hands it over once its requests are mined.
        """
        signer, nonce = str(message["from"]), int(message["nonce"])
        relays = self._relays(signer)
        lease = forwarder_lease(signer)
        job = _Relayed(message, signature)
        with relays.turn:
            try:
                self._relay_in_turn(relays, signer, nonce, job)
            except BaseException:
                self._relay_done(relays, lease, None, job)
                raise
        note_sent(job.tx_hash)  # in this writer's context: another writer may have sent the transaction
        try:
            return self._relayed(relays, job)
        finally:
            with relays.turn:
                self._relay_done(relays, lease, job.slot, job)

    def _relayed(self, relays: _Relays, job: _Relayed) -> TxOutcome:
        """The outcome of a relayed self-custody request (sent in an `executeOrVoidBatch`), or a typed
        refusal that says what the signer should do.

        Its call failing on chain (the state moved after its simulation) uses its nonce and raises the
        decoded error: it can never run later, and the signer's requests behind it run as signed. Only a
        request that is no longer valid when mined (its deadline passed in flight) reverts the whole
        transaction, nonce unused; the signer's requests sent behind it then revert too (the forwarder's
        nonce is behind theirs) and each answers `earlier_request_failed` naming the nonce to sign from; the
        requests sent in the same transaction as the first one that did not run answer the same, and that
        one, valid itself, `request_not_run` (post it again).
        """
        message, tx_hash = job.message, job.tx_hash
        signer, nonce = str(message["from"]), int(message["nonce"])
        try:
            receipt = self.wait_receipt(tx_hash)
        except TransactionOutcomeUnknown as error:
            if request_nonce_of(error.tx_hash) is not None:
                raise
            raise TransactionOutcomeUnknown(sent_transaction(error.tx_hash, nonce), str(error)) from None
        outcome = self.outcome(receipt)
        if outcome.succeeded:
            own = self._cut_request(outcome, nonce)
            if own.failure is not None:
                raise own.failure
            return own
        with relays.turn:
            relays.next_nonce = None  # the node's pending state says where the signer stands now
        head = self.forwarder_nonce(signer, hex(outcome.block_number))
        block = outcome.block_number
        if head < nonce:
            raise RelayError(
                "earlier_request_failed",
                N_(
                    "your request with forwarder nonce %(head)s did not run (it expired or failed before "
                    "block %(block)s), so this one, signed with nonce %(nonce)s to run after it, did not "
                    "run either and changed nothing: relay a request with nonce %(head)s first, then post "
                    "this signed request again (it stays valid until its deadline), or prepare and sign "
                    "new requests from nonce %(head)s"
                ),
                head=head,
                block=block,
                nonce=nonce,
            )
        if head > nonce:
            raise RelayError(
                "stale_nonce",
                N_(
                    "forwarder nonce %(nonce)s was used by another transaction in block %(block)s, so this "
                    "one changed nothing: read the object's state to see whether the request ran there"
                ),
                nonce=nonce,
                block=block,
            )
        mined_at = int(self.rpc.call("eth_getBlockByNumber", [hex(block), False])["timestamp"], 16)
        if int(message["deadline"]) < mined_at:
            raise RelayError(
                "request_expired",
                N_(
                    "the request's deadline passed before it was mined (block %(block)s): it changed "
                    "nothing and forwarder nonce %(nonce)s is still unused: prepare and sign a new request "
                    "with it"
                ),
                block=block,
                nonce=nonce,
            )
        if job.size > 1:
            raise RelayError(
                "request_not_run",
                N_(
                    "this request was sent in one transaction with your requests of nonces %(first)s to "
                    "%(last)s, which reverted as a whole in block %(block)s (another of them was no longer "
                    "valid when mined): it changed nothing and forwarder nonce %(nonce)s is still unused: "
                    "post this signed request again"
                ),
                first=job.first,
                last=job.first + job.size - 1,
                block=block,
                nonce=nonce,
            )
        relayer, forwarder = self.relayers[job.slot].address, str(self.forwarder.address)
        raise self._explain(relayer, forwarder, job.data, job.gas, block) or ContractRevert(
            "Reverted", {"reason": "the forwarded call failed", "tx": tx_hash}
        )

    def _relays(self, signer: str) -> _Relays:
        with self._locks_guard:
            return self._self_custody.setdefault(signer.lower(), _Relays())

    def _relay_in_turn(self, relays: _Relays, signer: str, nonce: int, job: _Relayed) -> None:
        """Under relays.turn: wait until `nonce` is the signer's next, then check and send the request
        (`_relay_round`); or until the writer before it took it into its own transaction."""
        deadline = time.monotonic() + self.relay_order_wait
        relays.waiting.setdefault(nonce, job)
        try:
            while True:
                self._await_turn(relays, signer, nonce, job, deadline)
                if job.sent or self._relay_lease(relays, signer, nonce, job):
                    break
            if not job.sent:
                self._relay_round(relays, signer, nonce, job)
        finally:
            if relays.waiting.get(nonce) is job:
                del relays.waiting[nonce]

    def _await_turn(self, relays: _Relays, signer: str, nonce: int, job: _Relayed, deadline: float) -> None:
        """Under relays.turn: return once `nonce` is the signer's next, or `job` was sent by another."""
        while True:
            if job.error is not None:
                note_sent(job.tx_hash)
                raise job.error
            if job.sent:
                return
            if relays.next_nonce is None:
                relays.next_nonce = self.forwarder_nonce(signer, "pending")
            expected = relays.next_nonce
            if nonce < expected:
                raise _stale_nonce(nonce, expected)
            if nonce == expected:
                break
            left = deadline - time.monotonic()
            if nonce > expected + MAX_RELAY_AHEAD or left <= 0:
                raise RelayError(
                    "nonce_gap",
                    N_(
                        "the request was signed with forwarder nonce %(nonce)s but the next is %(next)s: "
                        "relay the requests with nonces %(next)s to %(last)s first, or prepare a new "
                        "request with the next nonce and sign that"
                    ),
                    nonce=nonce,
                    next=expected,
                    last=nonce - 1,
                )
            # A send (or an idle signer) wakes the requests waiting for their turn; with none of the
            # signer's requests in flight here, only another instance moves its nonce: look again soon.
            relays.turn.wait(left if relays.in_flight else min(left, RELAY_POLL_S))
            if not relays.in_flight:
                relays.next_nonce = None  # read again: another instance may have relayed meanwhile

    def _relay_lease(self, relays: _Relays, signer: str, nonce: int, job: _Relayed) -> bool:
        """Under relays.turn, `nonce` being the signer's next here: hold the signer's forwarder lease for
        `job`; False when its turn must be awaited again (the signer went to another instance meanwhile).

        The lease is taken at a request's turn, not while it waits for the requests before it: a request
        at another instance may be one of those, and waiting for it while holding the lease it waits for
        failed both (nonce_gap here, the lease wait there). While another instance waits for the lease
        (`wanted`) this instance sends nothing more and lets its requests in flight settle; the last one
        out gives the lease up (`_relay_done`) and the other instance, which asked first, takes it, as a
        custodial pipeline hands its signer over between rounds (`_hand_over_if_wanted`)."""
        lease = forwarder_lease(signer)
        if job.held:
            return True
        if relays.in_flight and self._lease_wanted(relays, lease):
            while relays.in_flight:
                relays.turn.wait(HAND_OVER_WAIT_S)  # woken by `_relay_done`
            return False  # the next nonce is read from the node again (idle: next_nonce is None)
        if self.leases.hold(lease):  # taken from another instance (or after idling): its nonce moved?
            job.held = True
            relays.next_nonce = None
            if self.forwarder_nonce(signer, "pending") != nonce:
                self._relay_done(relays, lease, None, job)
                return False
        job.held = True
        return True

    def _lease_wanted(self, relays: _Relays, lease: str) -> bool:
        """Whether another instance waits for the signer's lease (asked at most every RELAY_WANTED_S)."""
        now = time.monotonic()
        if now - relays.asked < RELAY_WANTED_S:
            return False
        relays.asked = now
        return self.leases.wanted(lease)

    def _relay_round(self, relays: _Relays, signer: str, nonce: int, job: _Relayed) -> None:
        """Under relays.turn, `nonce` being the signer's next: check the request and send it, with the
        requests waiting for the nonces right after it (`_followers`), in one `executeOrVoidBatch`. Each is
        simulated on the state the ones before it leave (on `pending`); the first that would fail, and
        those behind it, stay waiting for their own turn (where one that fails is refused, unsent)."""
        message, signature = job.message, job.signature
        now = self.chain_time()
        if int(message["deadline"]) < now:
            raise RelayError(
                "request_expired", N_("the request's deadline has passed: prepare and sign a new one")
            )
        if int(message["deadline"]) < now + RELAY_MIN_LIFE_S:
            raise RelayError(
                "request_expired",
                N_(
                    "the request's deadline is less than %(seconds)s s away: it could expire before it is "
                    "mined, and fail the requests signed after it: prepare and sign a new one"
                ),
                seconds=RELAY_MIN_LIFE_S,
            )
        if int(message["deadline"]) > now + MAX_DEADLINE_S:
            # The forwarder's `verify` does not check its cap, but `execute` reverts on it, whole, with
            # the nonce unused: every request of the signer sent behind it would revert too.
            raise RelayError(
                "deadline_out_of_range",
                N_(
                    "the request's deadline is more than %(minutes)s minutes ahead of chain time, which the "
                    "forwarder refuses: prepare and sign a new request (its deadline is set for you)"
                ),
                minutes=MAX_DEADLINE_S // 60,
            )
        followers = self._followers(relays, nonce, job, now)
        if followers:
            calls = [(str(j.message["to"]), bytes(HexBytes(j.message["data"]))) for j in [job, *followers]]
            verdicts = self.simulate_sequence(signer, calls)  # on `pending`, each after those before it
            if verdicts is None:
                followers = []
            elif isinstance(verdicts[0], TierflowError):
                raise verdicts[0]
            else:
                passing = [isinstance(v, TierflowError) for v in verdicts[1:]] + [True]
                followers = followers[: passing.index(True)]
        if not followers:
            # On `pending`: the state the signer's requests still in the pool leave, which it will meet.
            self.simulate(signer, str(message["to"]), HexBytes(message["data"]), "pending")
        # The forwarder's own checks (signature as ECDSA.recover sees it, nonce, deadline) as a call:
        # a request it would refuse is never sent (the relayer would pay for the revert).
        verdict = self._eth_call(
            {"to": self.forwarder.address, "data": "0x" + self._verify_data(message, signature).hex()},
            "pending",
        )
        if int(verdict, 16) != 1:
            head = self.forwarder_nonce(signer, "pending")
            if head < nonce:  # a request of the signer before this one failed (or expired) in flight
                relays.next_nonce = None
                raise RelayError(
                    "nonce_gap",
                    N_(
                        "the request was signed with forwarder nonce %(nonce)s but the next is %(next)s (a "
                        "request before it did not run): relay a request with nonce %(next)s first, then "
                        "post this one again, or prepare and sign new requests from nonce %(next)s"
                    ),
                    nonce=nonce,
                    next=head,
                )
            if head > nonce:  # relayed meanwhile by another instance, or sent straight to the forwarder
                relays.next_nonce = None
                raise _stale_nonce(nonce, head)
            raise RelayError(
                "invalid_signature", N_("the forwarder does not accept this signature for this request")
            )
        # As executeOrVoidBatch: a call that fails on chain uses its nonce and dies there (it can never
        # run later), instead of reverting with its nonce unused and failing every request behind it.
        batch = [job, *followers]
        data, gas = self._batch_data([(item.message, item.signature) for item in batch])
        slot = self._take_relayer(relays.relayer)
        try:
            relayer = self.relayers[slot]
            self._may_sign(relayer)
            # each writer records it naming its own request's nonce: a look-up then reads its own outcome
            tx_hash = contextvars.Context().run(
                self.sender.send_call, relayer, str(self.forwarder.address), data, gas
            )
        except TransactionOutcomeUnknown as error:  # sent, maybe: each writer hears it of its own request
            self._release_relayer(slot)
            for offset, item in enumerate(batch):
                item.tx_hash = sent_transaction(error.tx_hash, nonce + offset)
                item.error = TransactionOutcomeUnknown(item.tx_hash, str(error))
                self._hold_for(item, signer)
            relays.turn.notify_all()
            note_sent(job.tx_hash)
            raise TransactionOutcomeUnknown(job.tx_hash, str(error)) from None
        except BaseException:
            self._release_relayer(slot)
            raise
        for offset, item in enumerate(batch):
            self._hold_for(item, signer)
            if offset:
                self._take_relayer(slot)  # one count per request in flight: each writer releases its own
            item.slot, item.data, item.gas, item.size, item.first = slot, data, gas, len(batch), nonce
            item.tx_hash = sent_transaction(tx_hash, nonce + offset)
            item.sent = True
        relays.relayer = slot
        relays.in_flight += len(batch)
        relays.next_nonce = nonce + len(batch)
        relays.turn.notify_all()

    def _followers(self, relays: _Relays, nonce: int, job: _Relayed, now: int) -> list[_Relayed]:
        """The requests waiting for the nonces right after `nonce` that may share its transaction: each
        signed by its signer in the form the forwarder accepts, and far from its deadline (one expiring in
        flight would revert the whole transaction), within one transaction's share of a block's gas."""
        if not self.simulate_many:
            return []  # each is simulated alone, after those before it were sent
        if self._batch_gas_cap is None:
            self._batch_gas_cap = int(self.block_gas_limit() * BATCH_BLOCK_SHARE)
        used = BATCH_TX_GAS + _request_gas(int(job.message["gas"]), HexBytes(job.message["data"]))
        followers: list[_Relayed] = []
        for later in range(nonce + 1, nonce + MAX_QUEUED_BATCH):
            item = relays.waiting.get(later)
            if item is None or item.sent or item.error is not None:
                break
            message, signature = item.message, item.signature
            if not now + RELAY_BATCH_MIN_LIFE_S <= int(message["deadline"]) <= now + MAX_DEADLINE_S:
                break  # it goes in its own turn (and is refused there if it must be)
            try:
                if self.normalise_signature(signature) != signature.lower() or (
                    self.recover(message, signature).lower() != str(message["from"]).lower()
                ):
                    break
            except RelayError:
                break
            cost = _request_gas(int(message["gas"]), HexBytes(message["data"]))
            if used + cost > self._batch_gas_cap:
                break
            used += cost
            followers.append(item)
        return followers

    def _hold_for(self, item: _Relayed, signer: str) -> None:
        """A request sent in another's round holds a count of the lease that round holds (no wait)."""
        if not item.held:
            self.leases.hold(forwarder_lease(signer))
            item.held = True

    def _relay_done(self, relays: _Relays, lease: str, slot: int | None, job: _Relayed) -> None:
        """Under relays.turn: a request is done (mined, or refused before sending: `slot` None)."""
        if slot is not None:
            relays.in_flight -= 1
            self._release_relayer(slot)
        if not relays.in_flight:
            # Idle: the next request reads the nonce from the node (also after a refusal, which took none).
            relays.relayer = None
            relays.next_nonce = None
            relays.turn.notify_all()
        if job.held:
            job.held = False
            self.leases.release(lease)

    def _verify_data(self, message: dict[str, Any], signature: str) -> bytes:
        return VERIFY_SELECTOR + encode_request(message, signature)

    def _take_relayer(self, slot: int | None = None) -> int:
        """The relayer with the fewest requests in flight (round robin among equals), or `slot` (a signer's
        requests in flight keep one relayer); never blocks.

        A busy relayer is still safe to use: its TxSender lock queues the send with gap-free nonces.
        """
        if slot is not None:
            with self._pool_lock:
                self._in_flight[slot] += 1
            return slot
        with self._pool_lock:
            count = len(self.relayers)
            order = [(self._next_relayer + k) % count for k in range(count)]
            slot = min(order, key=lambda i: self._in_flight[i])
            self._in_flight[slot] += 1
            self._next_relayer = (slot + 1) % count
            return slot

    def _release_relayer(self, slot: int) -> None:
        with self._pool_lock:
            self._in_flight[slot] -= 1

    def send_direct(self, account: LocalAccount, call: Call) -> TxOutcome:
        """Send from a platform account (the operator) directly, paying its own gas."""
        to, data = self.calldata(call)
        params = {"from": account.address, "to": to, "data": "0x" + data.hex()}
        try:
            estimate = int(self.rpc.call("eth_estimateGas", [params]), 16)
        except RpcError as error:
            raise self._revert(error) from None
        gas = int(estimate * self.sender.gas_headroom)
        # The operator's key is shared by every instance: one sends at a time, from the node's count.
        lease = account_lease(account.address)
        if self.leases.hold(lease):
            self.sender.forget_nonce(account.address)
        try:
            tx_hash = self.sender.send_call(account, to, data, gas)
        finally:
            self.leases.release(lease)
        return self._mined(account.address, to, data, gas, tx_hash, {"tx": tx_hash})

    def _mined(
        self, sender: str, to: str, data: bytes, gas: int, tx_hash: str, unexplained: dict[str, Any]
    ) -> TxOutcome:
        """The outcome of a sent transaction once mined; if it reverted, raise why (`unexplained` when
        replaying it finds no decoded error)."""
        outcome = self.outcome(self.wait_receipt(tx_hash))
        if not outcome.succeeded:
            raise self._explain(sender, to, data, gas, outcome.block_number) or ContractRevert(
                "Reverted", unexplained
            )
        return outcome

    # -- why a mined transaction failed -------------------------------------------------------------
    def revert_reason(self, tx_hash: str, block: int) -> ContractRevert | None:
        """The decoded error of a transaction mined in `block` that reverted; None if none is found."""
        try:
            tx = self.rpc.call("eth_getTransactionByHash", [tx_hash])
        except (RpcError, ChainUnavailableError):
            return None
        if not tx:
            return None
        data = bytes.fromhex(str(tx["input"])[2:])
        return self._explain(str(tx["from"]), str(tx["to"]), data, int(tx["gas"], 16), block)

    def _explain(self, sender: str, to: str, data: bytes, gas: int, block: int) -> ContractRevert | None:
        """Replay a failed call on the state before its block; through the forwarder, the inner call.

        The forwarder reports only `FailedCall()` for a failed inner call, so a forwarded request is
        then replayed as the target saw it (the signer appended, ERC-2771), like `simulate`.
        """
        error = self._replay({"from": sender, "to": to, "data": "0x" + data.hex(), "gas": hex(gas)}, block)
        forwarded = to.lower() == str(self.forwarder.address).lower() and data[:4] == EXECUTE_SELECTOR
        if error is not None and forwarded and error.name in ("FailedCall", "Reverted"):
            (request,) = abi_decode([FORWARD_REQUEST_DATA], data[4:])
            signer, target, inner = str(request[0]), str(request[1]), bytes(request[5])
            calldata = "0x" + inner.hex() + signer[2:]
            error = self._replay({"from": self.forwarder.address, "to": target, "data": calldata}, block)
        return None if error is None or error.name == "FailedCall" else error

    def _replay(self, params: dict[str, Any], block: int) -> ContractRevert | None:
        try:
            self._eth_call(params, hex(block - 1))
        except ContractRevert as error:
            return error
        except TierflowError:  # the node cannot replay it (pruned state): no reason to give
            return None
        return None

    def wait_receipt(self, tx_hash: str) -> dict[str, Any]:
        """The raw receipt of a sent transaction; TransactionOutcomeUnknown if it is not mined in time.

        Every waiting write shares one lookup per new block (ReceiptWatcher), not a poll loop each. The
        one long wait of a write, bounded by `receipt_timeout`.
        """
        return self.receipts.wait(tx_hash, self.receipt_timeout)

    def transaction_outcome(self, tx_hash: str, decoded: DecodedReceipts | None = None) -> TxOutcome | None:
        """What became of a sent transaction: None while it is not mined. For one request of a batch
        (`tx_hash` a SentTransaction naming its nonce) only that request's part of it. With `decoded`
        (a run's), a transaction it holds is neither read nor decoded again."""
        nonce = request_nonce_of(tx_hash)
        if decoded is None:
            outcome = self._mined_outcome(tx_hash)
            if outcome is None or nonce is None or not outcome.succeeded:
                return outcome
            return self._cut_request(outcome, nonce)
        entry = decoded.entry(tx_hash)
        with entry.lock:  # the run's other threads asking for this transaction wait for this decoding
            if entry.outcome is None:
                outcome = self._mined_outcome(tx_hash)
                if outcome is None:
                    return None
                entry.cuts = self._cut_requests(outcome) if outcome.succeeded else {}
                entry.outcome = outcome
        outcome = entry.outcome
        if nonce is None or not outcome.succeeded:
            return outcome
        return _request_part(outcome, entry.cuts, nonce)

    def _mined_outcome(self, tx_hash: str) -> TxOutcome | None:
        try:
            receipt = self.rpc.call("eth_getTransactionReceipt", [tx_hash])
        except RpcError as error:
            raise _unavailable(error) from error
        return self.outcome(dict(receipt)) if receipt else None

    def transaction_known(self, tx_hash: str) -> bool:
        """Whether the node has the transaction, mined or in its pool.

        A transaction it does not know was never delivered or was dropped (a restart emptied the pool);
        only its sender held the signed bytes. The sender may still send them again (TxSender.revive):
        then it is known again; once the sender has forgotten them, it can no longer be mined.
        """
        try:
            if self.rpc.call("eth_getTransactionByHash", [tx_hash]):
                return True
            return self.sender.revive(tx_hash, self._may_resend)
        except RpcError as error:
            raise _unavailable(error) from error

    def outcome(self, receipt: dict[str, Any]) -> TxOutcome:
        """A raw JSON-RPC receipt with its logs decoded (JSON values, as the indexer stores them)."""
        events: list[DecodedEvent] = []
        for log in receipt["logs"]:
            event = self.log_decoder.decode(log)
            if event is not None:
                events.append(DecodedEvent(event.contract, event.event, event.args, event.log_index))
        return TxOutcome(
            tx_hash=str(receipt["transactionHash"]),
            block_number=int(receipt["blockNumber"], 16),
            gas_used=int(receipt["gasUsed"], 16),
            events=events,
            succeeded=int(receipt["status"], 16) == 1,
        )

    def call(self, contract: str, function: str, *args: Any) -> Any:
        try:
            return getattr(self.contracts[contract].functions, function)(*args).call()
        except ContractLogicError as error:
            raise self.decoder.from_exception(error) from None
        except (Web3Exception, OSError) as error:
            raise _unavailable(error) from error

    def ping(self) -> int:
        try:
            return int(self.rpc.call("eth_blockNumber", []), 16)
        except RpcError as error:
            raise _unavailable(error) from error


def _gas_budget(data: bytes) -> int:
    """What a forwarded call may spend: a payout of many certificates more than any other call."""
    return BATCH_GAS_BUDGET if data[:4] == PAYOUT_SELECTOR else GAS_BUDGET


def _request_gas(allowance: int, data: bytes) -> int:
    """[gas] one request's share of a batch transaction's gas (see BATCH_REQUEST_GAS)."""
    return allowance + allowance // 63 + BATCH_REQUEST_GAS + 16 * (len(data) + 320)


@dataclass(frozen=True)
class _RequestGas:
    """One request's part of a batch transaction's gas limit (see SIMULATED_TX_GAS): what it is expected
    to use in the batch, its forwarder overhead and calldata included, and its `reserve`, what it may
    need beyond that (its whole allowance used, and 1/63 of it left after its call)."""

    expected: int
    reserve: int
    allowance_reserve: int = 0  # the whole allowance and 1/63 of it: a batch simulated as a whole

    @staticmethod
    def of(allowance: int, data: bytes, used: int) -> _RequestGas:
        """A request signed with `allowance` whose simulation used `used` (0: not simulated, its whole
        allowance is expected)."""
        inner = allowance
        if used:
            inner = min(allowance, max(0, used + used // 4 - SIMULATED_TX_GAS))
        outer = BATCH_REQUEST_GAS + 16 * (len(data) + 320)
        reserve = allowance + allowance // 63
        return _RequestGas(inner + outer, reserve - inner, reserve)


def _request_part(outcome: TxOutcome, cuts: dict[int, TxOutcome], nonce: int) -> TxOutcome:
    """The request with forwarder nonce `nonce` among a batch transaction's `cuts` (`_cut_requests`);
    TransactionOutcomeUnknown if the transaction holds none."""
    cut = cuts.get(nonce)
    if cut is None:
        raise TransactionOutcomeUnknown(
            outcome.tx_hash,
            f"transaction {outcome.tx_hash} holds no outcome of forwarder nonce {nonce}: read the "
            "object's state before sending the request again",
        )
    return cut


def _batch_gas(shares: Sequence[_RequestGas]) -> int:
    """[gas] the limit of a batch transaction of requests with these `shares`: their expected use, the
    largest reserve, and BATCH_LIMIT_SLACK of the rest (see SIMULATED_TX_GAS)."""
    expected = BATCH_TX_GAS + sum(share.expected for share in shares)
    return int(expected * (1 + BATCH_LIMIT_SLACK)) + max((share.reserve for share in shares), default=0)


def _stale_nonce(nonce: int, expected: int) -> RelayError:
    """A self-custody request whose nonce is behind the signer's next one (relayed already)."""
    return RelayError(
        "stale_nonce",
        N_(
            "the request was signed with forwarder nonce %(nonce)s but the next is %(next)s: it was already "
            "relayed, or prepare a new request and sign that"
        ),
        nonce=nonce,
        next=expected,
    )


def _unavailable(error: BaseException) -> ChainUnavailableError:
    return ChainUnavailableError(f"the chain node does not answer: {type(error).__name__}: {error}")


def wait_until(predicate: Any, timeout: float, interval: float = 0.005) -> bool:
    deadline = time.monotonic() + timeout
    while True:
        if predicate():
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(interval)
