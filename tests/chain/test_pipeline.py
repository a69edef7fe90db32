"""One custodial signer's writes pipelined: many per block, simulated on the state they will meet, a
failure in the middle invalidating nothing behind it, and a failed request never runnable later."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from typing import Any

import pytest
from eth_abi.abi import decode as abi_decode
from eth_account import Account
from eth_utils.crypto import keccak
from web3 import Web3

from tierflow.chain import gateway as gateway_module
from tierflow.chain.accounts import dev_account
from tierflow.chain.gateway import (
    BATCH_SELECTOR,
    CUSTODIAL_DEADLINE_S,
    EXECUTE_SELECTOR,
    FORWARD_REQUEST_DATA,
    GAS_BUDGET,
    MAX_RESENDS,
    RELAY_BATCH_MIN_LIFE_S,
    Call,
    ChainGateway,
    DecodedReceipts,
    RelayError,
    Simulated,
    TxOutcome,
    _Pipeline,
    wait_until,
)
from tierflow.chain.jsonrpc import RpcError
from tierflow.chain.leases import NoLeases, forwarder_lease
from tierflow.chain.node import recording_sends, request_nonce_of
from tierflow.errors import ContractRevert, TransactionOutcomeUnknown
from tierflow.settings import DEV_RELAYER_KEYS
from tierflow.testing.chain import Platform

DAY = 86_400
SPLIT = 100  # [fen] moved by each pipelined write


@pytest.fixture
def chain(platform_session: Platform) -> Iterator[Platform]:
    """The platform with blocks mined only on request (`tf.mine()`), restored after the test."""
    platform = platform_session
    snapshot = platform.snapshot()
    platform.w3.provider.make_request("evm_setAutomine", [False])  # type: ignore[arg-type]
    try:
        yield platform
    finally:
        platform.w3.provider.make_request("evm_setIntervalMining", [0])  # type: ignore[arg-type]
        platform.w3.provider.make_request("evm_setAutomine", [True])  # type: ignore[arg-type]
        platform.revert_to(snapshot)


def _certificate(tf: Platform, face: int) -> int:
    """A token of `face` fen held by supplier1 (mined at once, whatever the mining mode)."""
    c = tf.c

    def mined(fn: Any, who: str) -> Any:
        receipt = tf.transact(fn, who, wait=False)
        tf.mine()
        return tf.w3.eth.get_transaction_receipt(receipt["transactionHash"])

    line = tf.events(
        mined(c.credit_lines.functions.grant(tf.address("core1"), 10**15, tf.now() + 300 * DAY), "bank1"),
        c.credit_lines,
        "CreditLineGranted",
    )[0]["lineId"]
    issue = c.receivables.functions.issue(
        tf.address("supplier1"), face, tf.now() + 90 * DAY, line, [keccak(text=f"pipeline-{tf.now()}")]
    )
    issued = tf.events(mined(issue, "core1"), c.receivables, "CertificateIssued")[0]
    mined(c.receivables.functions.accept(issued["slotId"]), "supplier1")
    return int(issued["tokenId"])


def _gateway(tf: Platform) -> ChainGateway:
    relayers = [Account.from_key(key) for key in DEV_RELAYER_KEYS]
    gateway = ChainGateway(tf.w3, tf.deployment, dev_account(0), relayers)
    gateway.receipt_timeout = 30.0
    return gateway


@contextmanager
def _writers(tf: Platform, count: int) -> Iterator[ThreadPoolExecutor]:
    """A pool of `count` writer threads; blocks are mined every second once the test is done with it,
    so that no writer waits for ever when an assertion fails."""
    with ThreadPoolExecutor(count) as pool:
        try:
            yield pool
        finally:
            tf.w3.provider.make_request("evm_setIntervalMining", [1])  # type: ignore[arg-type]


@contextmanager
def _mining(tf: Platform) -> Iterator[None]:
    """A block mined every 50 ms while inside (automine off)."""
    stop = threading.Event()

    def mining() -> None:
        while not stop.wait(0.05):
            tf.mine()

    miner = threading.Thread(target=mining, daemon=True)
    miner.start()
    try:
        yield
    finally:
        stop.set()
        miner.join(5)


def _split(tf: Platform, token: int, value: int = SPLIT) -> Call:
    return Call("Receivables", "transferValue", (token, tf.address("supplier2"), value))


def _in_pool(tf: Platform, gateway: ChainGateway, signer: str, nonce: int) -> Callable[[], bool]:
    """Whether the signer's forwarder nonce, counting the requests in the pool, has reached `nonce`."""
    return lambda: gateway.forwarder_nonce(signer, "pending") >= nonce


def test_pipeline_one_signer_many_writes_share_one_block(chain: Platform) -> None:
    tf = chain
    token = _certificate(tf, 1_000_000)
    gateway = _gateway(tf)
    account = tf.account("supplier1")
    start = gateway.forwarder_nonce(account.address)
    count = 24
    with _writers(tf, count) as pool:
        futures = [pool.submit(gateway.execute_custodial, account, _split(tf, token)) for _ in range(count)]
        # every write is in the pool before a block is mined: none waits for an earlier one's receipt
        assert wait_until(_in_pool(tf, gateway, account.address, start + count), 30, 0.05)
        tf.mine()
        outcomes = [future.result(timeout=30) for future in futures]
    assert {outcome.block_number for outcome in outcomes} == {tf.w3.eth.block_number}
    assert gateway.forwarder_nonce(account.address) == start + count
    assert sum(len([e for e in o.events if e.event == "CertificateSplit"]) for o in outcomes) == count
    relayers = {tf.w3.eth.get_transaction(o.tx_hash)["from"] for o in outcomes}  # type: ignore[arg-type]
    assert len(relayers) == 1  # one relayer account keeps the signer's requests in order


def test_pipeline_write_failing_on_pending_state_is_refused_before_sending(chain: Platform) -> None:
    """Ten writes in the pool leave 1 fen of the token; an eleventh asking 2 passes on `latest` but not on
    the state it will meet, so it is refused and sends nothing; the ten are not disturbed."""
    tf = chain
    token = _certificate(tf, 10 * SPLIT + 1)
    gateway = _gateway(tf)
    account = tf.account("supplier1")
    start = gateway.forwarder_nonce(account.address)
    relayed = sum(tf.w3.eth.get_transaction_count(r.address, "pending") for r in gateway.relayers)
    with _writers(tf, 11) as pool:
        futures = [pool.submit(gateway.execute_custodial, account, _split(tf, token)) for _ in range(10)]
        assert wait_until(_in_pool(tf, gateway, account.address, start + 10), 30, 0.05)
        in_pool = _relayed(tf, gateway)
        assert relayed < in_pool <= relayed + 10  # one transaction per write, or fewer carrying batches
        gateway.simulate(account.address, *gateway.calldata(_split(tf, token, 2)))  # passes on latest
        late: Future[Any] = pool.submit(gateway.execute_custodial, account, _split(tf, token, 2))
        with pytest.raises(ContractRevert) as refused:
            late.result(timeout=10)
        assert refused.value.name == "CertificateInsufficientValue"
        assert sum(tf.w3.eth.get_transaction_count(r.address, "pending") for r in gateway.relayers) == in_pool
        tf.mine()
        assert all(future.result(timeout=30).succeeded for future in futures)
    assert gateway.forwarder_nonce(account.address) == start + 10


def test_pipeline_write_failing_on_chain_in_the_middle_invalidates_nothing_behind(
    chain: Platform, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A race: the middle write's simulation passed, then the chain moved on, so it reverts in the block
    and the forwarder's nonce stays behind the five writes signed after it. Those run anyway (sent again,
    same signatures, in order); the failed one reports its decoded error, and its nonce is used up by a
    no-op, so its signed calldata can never run later."""
    tf = chain
    token = _certificate(tf, 10 * SPLIT + 1)
    gateway = _gateway(tf)
    account = tf.account("supplier1")
    start = gateway.forwarder_nonce(account.address)
    sent: list[bytes] = []
    real_send, real_simulate = gateway.sender.send_call, gateway.simulate
    doomed = _split(tf, token, 10 * SPLIT + 1)  # the whole face: fails once the writes before it are mined
    raced: list[bool] = []

    def recording(account: Any, to: str, data: bytes, gas: int) -> str:
        sent.extend([bytes(data)] * _requests_in(bytes(data)))  # one entry per forward request sent
        return real_send(account, to, data, gas)

    def racing(signer: str, to: str, data: bytes, block: str = "latest") -> int:
        if data == gateway.calldata(doomed)[1] and not raced:
            raced.append(True)  # simulated while the token still held everything
            return real_simulate(signer, to, data, "latest")
        return real_simulate(signer, to, data, block)

    monkeypatch.setattr(gateway.sender, "send_call", recording)
    monkeypatch.setattr(gateway, "simulate", racing)
    with _writers(tf, 11) as pool:
        before = [pool.submit(gateway.execute_custodial, account, _split(tf, token)) for _ in range(5)]
        assert wait_until(_in_pool(tf, gateway, account.address, start + 5), 30, 0.05)
        failing = pool.submit(gateway.execute_custodial, account, doomed)
        assert wait_until(lambda: len(sent) == 6, 30, 0.05)
        behind = [pool.submit(gateway.execute_custodial, account, _split(tf, token)) for _ in range(5)]
        assert wait_until(lambda: len(sent) == 11, 30, 0.05)
        tf.w3.provider.make_request("evm_setIntervalMining", [1])  # type: ignore[arg-type]
        with pytest.raises(ContractRevert) as error:
            failing.result(timeout=60)
        assert error.value.name == "CertificateInsufficientValue"
        outcomes = [future.result(timeout=60) for future in before + behind]
    assert all(outcome.succeeded for outcome in outcomes)
    assert len(sent) >= 11 + 5 + 1  # the five behind sent again, and the failed one's nonce filled
    assert gateway.forwarder_nonce(account.address) == start + 11  # ten writes and one no-op
    assert tf.c.receivables.functions.balanceOf(token).call() == 1
    # the failed request's own signed calldata, replayed by anyone, no longer runs
    (doomed_execute,) = [data for data in sent if gateway.calldata(doomed)[1] in data][:1]
    forwarder = tf.c.forwarder.address
    with pytest.raises(Exception) as replay:
        tf.w3.eth.call({"to": forwarder, "data": "0x" + doomed_execute.hex()})  # type: ignore[typeddict-item]
    assert tf.decoder.from_exception(replay.value).name == "ERC2771ForwarderInvalidSigner"  # type: ignore[arg-type]
    assert doomed_execute[:4] == EXECUTE_SELECTOR


def _relayed(tf: Platform, gateway: ChainGateway, block: str = "pending") -> int:
    """Transactions the gateway's relayers have sent (counting the pool, or mined only)."""
    return sum(tf.w3.eth.get_transaction_count(r.address, block) for r in gateway.relayers)  # type: ignore[arg-type]


def _requests_in(data: bytes) -> int:
    """How many forward requests a forwarder call carries: execute one, executeOrVoidBatch its list."""
    if data[:4] == BATCH_SELECTOR:
        (requests,) = abi_decode([FORWARD_REQUEST_DATA + "[]"], data[4:])
        return len(requests)
    return 1


def _queued(gateway: ChainGateway, signer: str, count: int) -> Callable[[], bool]:
    """Whether `count` writes of the signer wait in its pipeline's queue."""
    return lambda: len(getattr(gateway._pipeline(signer), "queue", ())) >= count


def _submit_in_order(
    pool: ThreadPoolExecutor, gateway: ChainGateway, account: Any, calls: list[Call]
) -> list[Future[Any]]:
    """Submit `calls` while the signer's pipeline is busy (its lock held), each queued before the next:
    the first writer takes its own write alone and waits for the lock, the rest wait in the queue."""
    pipe = gateway._pipeline(account.address)
    futures = [pool.submit(gateway.execute_custodial, account, calls[0])]
    # the first writer leads: it took its write from the queue and waits for the lock
    assert wait_until(lambda: getattr(pipe, "leading", False) and not pipe.queue, 10, 0.01)
    for n, call in enumerate(calls[1:], start=1):
        futures.append(pool.submit(gateway.execute_custodial, account, call))
        assert wait_until(_queued(gateway, account.address, n), 10, 0.01)
    return futures


def _simulations(
    gateway: ChainGateway, monkeypatch: pytest.MonkeyPatch, refuse_many: bool = False
) -> list[str]:
    """Record every simulation of writes the gateway makes (eth_simulateV1, or an eth_call from the
    forwarder; not a signed batch's simulation for its gas limit, a call TO the forwarder); with
    `refuse_many` the node answers eth_simulateV1 as a node without it would."""
    seen: list[str] = []
    real = gateway.rpc.call
    forwarder = str(gateway.forwarder.address).lower()

    def recording(method: str, params: Any, timeout: float | None = None) -> Any:
        if method == "eth_simulateV1":
            calls = params[0]["blockStateCalls"][0]["calls"]
            if str(calls[0].get("to", "")).lower() != forwarder:
                seen.append(method)
            if refuse_many:
                raise RpcError(
                    method, {"code": -32601, "message": "the method eth_simulateV1 does not exist"}
                )
        elif method == "eth_call" and str(params[0].get("from", "")).lower() == forwarder:
            seen.append(method)
        return real(method, params, timeout)

    monkeypatch.setattr(gateway.rpc, "call", recording)
    return seen


def test_pipeline_queued_writes_share_one_simulation_and_each_records_its_own_send(
    chain: Platform, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Twenty writes queued behind a busy pipeline are simulated in one request (one each before: a
    simulation on `pending` re-executes the node's pool, which bounded a participant to ~30 writes per
    block), all share one block, and each writer's `recording_sends` holds its own transaction only
    (the idempotency layer's record), although the leader sent them. The nineteen queued go out in ONE
    executeOrVoidBatch transaction (one transaction per write before): each writer gets only its own
    write's events, cut from the shared receipt."""
    tf = chain
    token = _certificate(tf, 1_000_000)
    gateway = _gateway(tf)
    account = tf.account("supplier1")
    start = gateway.forwarder_nonce(account.address)
    simulations = _simulations(gateway, monkeypatch)
    count = 20

    def write() -> tuple[Any, list[str]]:
        with recording_sends() as sent:
            return gateway.execute_custodial(account, _split(tf, token)), list(sent)

    with _writers(tf, count) as pool:
        with gateway._pipeline(account.address).lock:
            futures = [pool.submit(write)]
            for n in range(1, count):
                futures.append(pool.submit(write))
                assert wait_until(_queued(gateway, account.address, n), 10, 0.01)
        assert wait_until(_in_pool(tf, gateway, account.address, start + count), 30, 0.05)
        tf.mine()
        results = [future.result(timeout=30) for future in futures]
    assert len(simulations) <= 2  # the first writer's own write, then the nineteen queued behind it
    assert {outcome.block_number for outcome, _ in results} == {tf.w3.eth.block_number}
    assert all(sent == [outcome.tx_hash] for outcome, sent in results)
    assert len({outcome.tx_hash for outcome, _ in results}) == 2  # the first alone, then one batch
    for outcome, _ in results:
        assert [e.event for e in outcome.events if e.contract != "TierflowForwarder"] == ["CertificateSplit"]
        assert outcome.events[-1].event == "ExecutedForwardRequest"
    nonces = sorted(int(o.events[-1].args["nonce"]) for o, _ in results)
    assert nonces == list(range(start, start + count))
    # what each writer recorded (the idempotency layer's "sent" record) looks up its own write only
    for outcome, sent in results[::7]:
        looked_up = gateway.transaction_outcome(sent[0])
        assert looked_up is not None and looked_up.events == outcome.events
    assert gateway.forwarder_nonce(account.address) == start + count


@pytest.mark.parametrize("simulate_many", [True, False])
def test_pipeline_write_failing_on_the_state_its_batch_leaves_is_refused_and_takes_no_nonce(
    chain: Platform, monkeypatch: pytest.MonkeyPatch, simulate_many: bool
) -> None:
    """Five splits, then one asking more than they leave, then five more, queued together: the sixth is
    refused before anything is sent (its simulation meets the state the five before it in the same
    batch leave, not yet in the pool), takes no forwarder nonce, and the five behind it run with the
    nonces it would have taken. A node without eth_simulateV1 (`simulate_many` False) gets the same
    outcome from one eth_call per write, each sent before the next is simulated."""
    tf = chain
    token = _certificate(tf, 10 * SPLIT + 1)
    gateway = _gateway(tf)
    account = tf.account("supplier1")
    start = gateway.forwarder_nonce(account.address)
    relayed = sum(tf.w3.eth.get_transaction_count(r.address, "pending") for r in gateway.relayers)
    too_much = _split(tf, token, 5 * SPLIT + 2)
    gateway.simulate(account.address, *gateway.calldata(too_much))  # passes on the latest state
    simulations = _simulations(gateway, monkeypatch, refuse_many=not simulate_many)
    calls = [_split(tf, token)] * 5 + [too_much] + [_split(tf, token)] * 5
    with _writers(tf, len(calls)) as pool:
        with gateway._pipeline(account.address).lock:
            futures = _submit_in_order(pool, gateway, account, calls)
        with pytest.raises(ContractRevert) as refused:
            futures[5].result(timeout=30)
        assert refused.value.name == "CertificateInsufficientValue"
        assert wait_until(_in_pool(tf, gateway, account.address, start + 10), 30, 0.05)
        tf.mine()
        outcomes = [future.result(timeout=30) for future in futures[:5] + futures[6:]]
    assert all(outcome.succeeded for outcome in outcomes)
    assert [int(tf.w3.eth.get_transaction(o.tx_hash)["nonce"]) for o in outcomes] == sorted(  # type: ignore[arg-type]
        int(tf.w3.eth.get_transaction(o.tx_hash)["nonce"])
        for o in outcomes  # type: ignore[arg-type]
    )
    # with eth_simulateV1: the first writer's own transaction, then the nine others in one batch
    sends = 2 if simulate_many else 10
    assert sum(tf.w3.eth.get_transaction_count(r.address) for r in gateway.relayers) == relayed + sends
    assert gateway.forwarder_nonce(account.address) == start + 10  # no nonce used up by a fill
    assert tf.c.receivables.functions.balanceOf(token).call() == 1
    assert gateway.simulate_many is simulate_many
    if simulate_many:  # the first writer's own (alone, or with some queued in time), then the rest
        assert len(simulations) <= 2 and simulations.count("eth_call") <= 1
    else:  # one refused eth_simulateV1, then one eth_call per write
        assert (simulations.count("eth_simulateV1"), simulations.count("eth_call")) == (1, len(calls))


def _racing(gateway: ChainGateway, monkeypatch: pytest.MonkeyPatch) -> None:
    """The node's simulation passes every write (the chain moves on after it): a write failing on the state
    the writes before it in its batch leave is sent, and fails in the block."""
    real = gateway.simulate_sequence

    def raced(signer: str, calls: Any) -> Any:
        verdicts = real(signer, calls)
        assert verdicts is not None
        return [Simulated(GAS_BUDGET) if isinstance(v, ContractRevert) else v for v in verdicts]

    monkeypatch.setattr(gateway, "simulate_sequence", raced)


def test_pipeline_batched_write_failing_on_chain_fails_alone(
    chain: Platform, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A race inside a batch: the node's simulation passed a write (the chain then moved on), so its
    call fails in the block. It fails alone where it failed (ForwardRequestFailed uses up its nonce:
    no fill, no re-send), with its decoded error; the writes before and behind it in the same
    transaction run, each with its own events."""
    tf = chain
    token = _certificate(tf, 10 * SPLIT + 1)
    gateway = _gateway(tf)
    account = tf.account("supplier1")
    start = gateway.forwarder_nonce(account.address)
    relayed = _relayed(tf, gateway)
    _racing(gateway, monkeypatch)
    doomed = _split(tf, token, 10 * SPLIT + 1)  # the whole face: fails once the splits before it ran
    calls = [_split(tf, token)] * 5 + [doomed] + [_split(tf, token)] * 4
    with _writers(tf, len(calls)) as pool:
        with gateway._pipeline(account.address).lock:
            futures = _submit_in_order(pool, gateway, account, calls)
        assert wait_until(_in_pool(tf, gateway, account.address, start + len(calls)), 30, 0.05)
        tf.mine()
        with pytest.raises(ContractRevert) as error:
            futures[5].result(timeout=30)
        outcomes = [future.result(timeout=30) for future in futures[:5] + futures[6:]]
    assert error.value.name == "CertificateInsufficientValue"
    assert all(outcome.succeeded for outcome in outcomes)
    assert len({outcome.tx_hash for outcome in outcomes[1:]}) == 1  # the nine queued: one transaction
    assert _relayed(tf, gateway, "latest") == relayed + 2
    for outcome in outcomes:
        assert [e.event for e in outcome.events if e.contract != "TierflowForwarder"] == ["CertificateSplit"]
    assert gateway.forwarder_nonce(account.address) == start + len(calls)  # the failed one's nonce used
    assert tf.c.receivables.functions.balanceOf(token).call() == SPLIT + 1  # nine splits, no more


def test_pipeline_batched_writes_outcome_unknown_each_names_its_own_request(chain: Platform) -> None:
    """A batch's receipt does not come in time: every write in it hears "outcome unknown" for the same
    transaction, each naming its own request (forwarder nonce), so a later look-up answers each write
    with its own events only, never the whole batch's."""
    tf = chain
    token = _certificate(tf, 1_000_000)
    gateway = _gateway(tf)
    gateway.receipt_timeout = 1.0
    account = tf.account("supplier1")
    start = gateway.forwarder_nonce(account.address)
    calls = [_split(tf, token, SPLIT + n) for n in range(6)]  # each write moves its own amount
    with _writers(tf, len(calls)) as pool:
        with gateway._pipeline(account.address).lock:
            futures = _submit_in_order(pool, gateway, account, calls)
        unknown = []
        for future in futures:
            with pytest.raises(TransactionOutcomeUnknown) as error:
                future.result(timeout=30)
            unknown.append(error.value.tx_hash)
    tf.mine()
    batched = unknown[1:]  # the first writer's own write went alone
    assert len(set(batched)) == 1
    assert [request_nonce_of(tx_hash) for tx_hash in batched] == list(range(start + 1, start + len(calls)))
    for n, tx_hash in enumerate(batched, start=1):
        outcome = gateway.transaction_outcome(tx_hash)
        assert outcome is not None and outcome.succeeded
        (split,) = [e for e in outcome.events if e.event == "CertificateSplit"]
        assert split.args["value"] == SPLIT + n


def test_pipeline_batch_reverting_whole_gives_up_and_uses_up_its_nonces(
    chain: Platform, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The chain's clock jumps past the requests' deadline while a write and a batch behind it sit in the
    pool: the write reverts, the batch reverts whole (nothing runs), each is sent again MAX_RESENDS times,
    then gives up. Every nonce is used up by a no-op, so none of the signed requests can run later."""
    tf = chain
    token = _certificate(tf, 1_000_000)
    gateway = _gateway(tf)
    account = tf.account("supplier1")
    start = gateway.forwarder_nonce(account.address)
    calls = [_split(tf, token)] * 6
    batches: list[int] = []
    real_send = gateway.sender.send_call

    def recording(relayer: Any, to: str, data: bytes, gas: int) -> str:
        if data[:4] == BATCH_SELECTOR:
            batches.append(_requests_in(bytes(data)))
        return real_send(relayer, to, data, gas)

    monkeypatch.setattr(gateway.sender, "send_call", recording)
    with _writers(tf, len(calls)) as pool:
        with gateway._pipeline(account.address).lock:
            futures = _submit_in_order(pool, gateway, account, calls)
        assert wait_until(_in_pool(tf, gateway, account.address, start + len(calls)), 30, 0.05)
        tf.increase_time(CUSTODIAL_DEADLINE_S + 100)  # mines them: every request has expired
        with _mining(tf):
            errors = []
            for future in futures:
                with pytest.raises(ContractRevert) as error:
                    future.result(timeout=60)
                errors.append(error.value.name)
            # every nonce is used up by a no-op (sent before the error is raised; mined meanwhile)
            used = lambda: gateway.forwarder_nonce(account.address) == start + len(calls)  # noqa: E731
            assert wait_until(used, 10, 0.05)
    assert set(errors) <= {"ERC2771ForwarderExpiredRequest", "Reverted"}, errors
    assert batches == [5] * (1 + MAX_RESENDS)  # the five queued: one batch, sent again MAX_RESENDS times
    assert tf.c.receivables.functions.balanceOf(token).call() == 1_000_000


def test_sender_signed_transaction_matches_eth_account_byte_for_byte(chain: Platform) -> None:
    """The hot path's own RLP + libsecp256k1 signing gives exactly eth-account's transaction."""
    gateway = _gateway(chain)
    account = Account.from_key(DEV_RELAYER_KEYS[0])
    to, data = Web3.to_checksum_address("0x" + "ab" * 20), bytes(range(256)) * 3
    for fees in ({"maxFeePerGas": 7 * 10**9 + 3, "maxPriorityFeePerGas": 1}, {"gasPrice": 10**9}):
        tx_hash, raw = gateway.sender._signed(account, to, data, 41, 1_234_567, fees)
        tx = {
            "to": to,
            "data": data,
            "value": 0,
            "nonce": 41,
            "gas": 1_234_567,
            **fees,
            "chainId": gateway.chain_id,
        }
        expected = account.sign_transaction(tx)  # type: ignore[arg-type]
        assert raw == "0x" + bytes(expected.raw_transaction).hex()
        assert tx_hash == "0x" + bytes(expected.hash).hex()
    message = {
        "from": account.address,
        "to": to,
        "value": 0,
        "gas": 1,
        "nonce": 2,
        "deadline": 3,
        "data": "0x00",
    }
    assert (
        gateway.sign(account, gateway.typed_data(message))
        == "0x" + bytes(Account.unsafe_sign_hash(gateway.digest(message), account.key).signature).hex()
    )


# -- self-custody relays: requests signed by the participant, nonces included ------------------------
def _signed_requests(
    gateway: ChainGateway, account: Any, calls: list[Call], start: int, deadlines: list[int] | None = None
) -> list[tuple[dict[str, Any], str]]:
    """`calls` signed by the participant itself with consecutive forwarder nonces from `start`."""
    signed = []
    for n, call in enumerate(calls):
        deadline = deadlines[n] if deadlines is not None else None
        typed = gateway.forward_request(account.address, call, nonce=start + n, deadline=deadline)
        signed.append((typed["message"], gateway.sign(account, typed)))
    return signed


def _answers(futures: list[Future[Any]]) -> list[Any]:
    """What each relay answered: its outcome, or the error it raised (none may hang)."""
    answers: list[Any] = []
    for future in futures:
        try:
            answers.append(future.result(timeout=60))
        except Exception as error:  # noqa: BLE001 - the test sorts what each request got
            answers.append(error)
    return answers


def test_relay_self_custody_request_failing_on_chain_fails_alone(
    chain: Platform, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Five self-signed requests in flight; the second's simulation passed on a state the first then
    changed (a race), so its call fails in the block. It dies there with its nonce used (it can never run
    later) and answers its decoded error; the three signed after it run as signed. Before, sent by
    `execute`, it reverted with its nonce unused, so the three behind it failed too (refused as
    `invalid_signature` by the forwarder's check on the pending state, or reverted if already sent):
    four failed writes for one race, and the signer told its good signatures were bad."""
    tf = chain
    token = _certificate(tf, 10 * SPLIT + 1)
    gateway = _gateway(tf)
    gateway.relay_order_wait = 20.0
    account = tf.account("supplier1")
    start = gateway.forwarder_nonce(account.address)
    doomed = _split(tf, token, 10 * SPLIT + 1)  # the whole face: fails once the first split is mined
    calls = [_split(tf, token), doomed, _split(tf, token), _split(tf, token), _split(tf, token)]
    signed = _signed_requests(gateway, account, calls, start)
    real_simulate, real_sequence = gateway.simulate, gateway.simulate_sequence
    doomed_data = gateway.calldata(doomed)[1]

    def racing(signer: str, to: str, data: bytes, block: str = "latest") -> int:
        if bytes(data) == doomed_data:
            block = "latest"  # simulated while the token still held everything
        return real_simulate(signer, to, data, block)

    def racing_sequence(signer: str, calls: list[tuple[str, bytes]]) -> list[Any] | None:
        verdicts = real_sequence(signer, calls)  # alike when it shares a transaction with others
        if verdicts is None:
            return None
        pairs = zip(calls, verdicts, strict=True)
        return [Simulated(GAS_BUDGET) if bytes(data) == doomed_data else v for (_, data), v in pairs]

    monkeypatch.setattr(gateway, "simulate", racing)
    monkeypatch.setattr(gateway, "simulate_sequence", racing_sequence)
    relayed = _relayed(tf, gateway)
    with _writers(tf, len(signed)) as pool:
        futures = [pool.submit(gateway.relay, *request) for request in reversed(signed)]  # any order
        assert wait_until(_in_pool(tf, gateway, account.address, start + len(signed)), 30, 0.05)
        tf.mine()
        answers = list(reversed(_answers(futures)))
    assert isinstance(answers[1], ContractRevert), answers
    assert answers[1].name == "CertificateInsufficientValue"
    assert all(answer.succeeded for n, answer in enumerate(answers) if n != 1), answers
    assert gateway.forwarder_nonce(account.address) == start + len(signed)  # the failed one's used too
    assert tf.c.receivables.functions.balanceOf(token).call() == 6 * SPLIT + 1  # four splits, once each
    # the relayer's transactions: at most one per request (requests waiting share one), all mined, no gap
    assert relayed < _relayed(tf, gateway, "latest") == _relayed(tf, gateway) <= relayed + len(signed)
    with pytest.raises(RelayError) as replay:  # the failed request, posted again, is refused unsent
        gateway.relay(*signed[1])
    assert replay.value.code == "stale_nonce"


def _as_told_after_the_second_expired(
    tf: Platform, gateway: ChainGateway, account: Any, token: int, signed: list[Any], start: int
) -> None:
    """What the answers said: the expired request (nonce start + 1) is refused unsent; a new request with
    its nonce runs, then the same signed requests behind it, once each."""
    with pytest.raises(RelayError) as expired:
        gateway.relay(*signed[1])
    assert expired.value.code == "request_expired"
    (again,) = _signed_requests(gateway, account, [_split(tf, token)], start + 1)
    assert gateway.relay(*again).succeeded
    assert all(gateway.relay(*request).succeeded for request in signed[2:])


def test_relay_self_custody_request_expiring_in_flight_tells_each_request_behind_it_where_to_sign_from(
    chain: Platform,
) -> None:
    """Four self-signed requests in flight; the second's deadline passes before the block is mined, so
    it reverts with its nonce unused, and the two signed after it revert too (their nonces are ahead of
    the forwarder's). Each gets a typed refusal that says what to do: the expired one `request_expired`
    (sign anew with its nonce), the others `earlier_request_failed` naming the nonce to relay first;
    nothing ran twice, the relayer's nonces have no gap, and doing as told runs each request once.
    Before, all three answered ERC2771ForwarderInvalidSigner, as if signed by someone else."""
    tf = chain
    token = _certificate(tf, 10 * SPLIT)
    gateway = _gateway(tf)
    gateway.relay_order_wait = 20.0
    account = tf.account("supplier1")
    start = gateway.forwarder_nonce(account.address)
    now = gateway.chain_time()
    deadlines = [now + 3600, now + 60, now + 3600, now + 3600]
    signed = _signed_requests(gateway, account, [_split(tf, token)] * 4, start, deadlines)
    relayed = _relayed(tf, gateway)
    with _writers(tf, len(signed)) as pool:
        futures = [pool.submit(gateway.relay, *request) for request in signed]
        assert wait_until(_in_pool(tf, gateway, account.address, start + len(signed)), 30, 0.05)
        tf.increase_time(600)  # mines the block late: the second request's deadline has passed
        answers = _answers(futures)
    assert answers[0].succeeded, answers
    codes = [getattr(answer, "code", None) for answer in answers[1:]]
    assert codes == ["request_expired", "earlier_request_failed", "earlier_request_failed"], answers
    assert f"nonce {start + 1} is still unused" in str(answers[1])
    assert all(f"relay a request with nonce {start + 1} first" in str(answer) for answer in answers[2:])
    assert gateway.forwarder_nonce(account.address) == start + 1
    assert tf.c.receivables.functions.balanceOf(token).call() == 9 * SPLIT
    assert relayed < _relayed(tf, gateway, "latest") == _relayed(tf, gateway) <= relayed + len(signed)
    tf.w3.provider.make_request("evm_setAutomine", [True])  # type: ignore[arg-type]
    _as_told_after_the_second_expired(tf, gateway, account, token, signed, start)
    assert gateway.forwarder_nonce(account.address) == start + 4
    assert tf.c.receivables.functions.balanceOf(token).call() == 6 * SPLIT
    # A deadline past the forwarder's cap would revert whole when mined (nonce unused, every request
    # behind it failing too): refused before sending.
    (far,) = _signed_requests(gateway, account, [_split(tf, token)], start + 4, [gateway.chain_time() + 7200])
    sent = _relayed(tf, gateway)
    with pytest.raises(RelayError) as too_far:
        gateway.relay(*far)
    assert too_far.value.code == "deadline_out_of_range"
    # ... and so is one that would expire within RELAY_MIN_LIFE_S, likely in flight.
    (soon,) = _signed_requests(gateway, account, [_split(tf, token)], start + 4, [gateway.chain_time() + 10])
    with pytest.raises(RelayError, match="less than 30 s away") as expiring:
        gateway.relay(*soon)
    assert expiring.value.code == "request_expired"
    assert _relayed(tf, gateway) == sent


def test_pipeline_hand_over_waits_for_the_writes_in_flight_without_polling(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A leader handing its signer over to another instance waits until its writes in flight settled:
    it is woken by the last one leaving (a condition), where it used to look every 10 ms."""

    class Wanted(NoLeases):
        def wanted(self, name: str) -> bool:
            return True  # another instance waits for the signer

    class NoSleep:
        monotonic = staticmethod(time.monotonic)

        @staticmethod
        def sleep(seconds: float) -> None:
            raise AssertionError("polled")

    gateway = ChainGateway.__new__(ChainGateway)  # no chain needed: only the pipeline's bookkeeping
    gateway.leases = Wanted()
    pipe = _Pipeline(lease=forwarder_lease("0x" + "ab" * 20), active={7})
    monkeypatch.setattr(gateway_module, "time", NoSleep)
    waiting = threading.Thread(target=gateway._hand_over_if_wanted, args=(pipe,))
    waiting.start()
    time.sleep(0.2)
    assert waiting.is_alive()  # the write with nonce 7 is still in flight
    with pipe.lock:
        gateway._leave(pipe, 7)  # it settled: the lease is given up
    waiting.join(1.0)
    assert not waiting.is_alive() and pipe.lease is None


def test_relay_self_custody_request_sent_straight_to_the_forwarder_meanwhile_is_stale(
    chain: Platform,
) -> None:
    """A signed request is public: someone sends it straight to the forwarder while the signer's earlier
    request is still in flight here. Posted to the relay too, it answers `stale_nonce` (already relayed)
    and sends nothing; before, the forwarder's verify failing on the pending state was reported as
    `invalid_signature`, telling the signer its good signature was bad."""
    tf = chain
    token = _certificate(tf, 10 * SPLIT)
    gateway = _gateway(tf)
    account = tf.account("supplier1")
    start = gateway.forwarder_nonce(account.address)
    first, second = _signed_requests(gateway, account, [_split(tf, token)] * 2, start)
    with _writers(tf, 1) as pool:
        in_flight = pool.submit(gateway.relay, *first)
        assert wait_until(_in_pool(tf, gateway, account.address, start + 1), 30, 0.05)
        outsider = tf.account("supplier2")  # anyone may send a signed request to the forwarder
        gateway.sender.send_call(outsider, str(gateway.forwarder.address), *gateway._execute_data(*second))
        assert wait_until(_in_pool(tf, gateway, account.address, start + 2), 30, 0.05)
        sent = _relayed(tf, gateway)
        with pytest.raises(RelayError) as stale:
            gateway.relay(*second)
        assert stale.value.code == "stale_nonce"
        assert _relayed(tf, gateway) == sent
        tf.mine()
        assert in_flight.result(timeout=30).succeeded
    assert tf.c.receivables.functions.balanceOf(token).call() == 8 * SPLIT  # each ran once


def test_relay_self_custody_requests_waiting_share_one_transaction_and_each_hears_a_whole_revert(
    chain: Platform,
) -> None:
    """Three requests wait for their turn (their nonces are ahead); the one before them arrives and takes
    them into its transaction (one executeOrVoidBatch). The block comes after the second one's deadline
    (a stalled chain), so the whole transaction reverts: the first, valid itself, answers
    `request_not_run` (post it again), the others `earlier_request_failed` naming the nonce to relay
    first; nothing ran, nothing ran twice, and doing as told runs each once."""
    tf = chain
    token = _certificate(tf, 10 * SPLIT)
    gateway = _gateway(tf)
    gateway.relay_order_wait = 20.0
    account = tf.account("supplier1")
    start, now = gateway.forwarder_nonce(account.address), gateway.chain_time()
    deadlines = [now + 3600, now + RELAY_BATCH_MIN_LIFE_S + 20, now + 3600, now + 3600]
    signed = _signed_requests(gateway, account, [_split(tf, token)] * 4, start, deadlines)
    relayed = _relayed(tf, gateway)
    with _writers(tf, len(signed)) as pool:
        behind = [pool.submit(gateway.relay, *request) for request in signed[1:]]
        assert wait_until(lambda: len(gateway._relays(account.address).waiting) == 3, 10, 0.01)
        first = pool.submit(gateway.relay, *signed[0])
        assert wait_until(_in_pool(tf, gateway, account.address, start + 4), 30, 0.05)
        assert _relayed(tf, gateway) == relayed + 1  # one transaction for the four
        tf.increase_time(RELAY_BATCH_MIN_LIFE_S + 60)  # mines the block late: the second one expired
        answers = _answers([first, *behind])
    codes = [getattr(answer, "code", None) for answer in answers]
    assert codes == ["request_not_run"] + ["earlier_request_failed"] * 3, answers
    assert gateway.forwarder_nonce(account.address) == start
    assert tf.c.receivables.functions.balanceOf(token).call() == 10 * SPLIT
    assert _relayed(tf, gateway, "latest") == _relayed(tf, gateway) == relayed + 1
    tf.w3.provider.make_request("evm_setAutomine", [True])  # type: ignore[arg-type]
    assert gateway.relay(*signed[0]).succeeded  # posted again, as told
    _as_told_after_the_second_expired(tf, gateway, account, token, signed, start)
    assert tf.c.receivables.functions.balanceOf(token).call() == 6 * SPLIT


def test_run_decodes_a_batch_receipt_once_and_each_write_keeps_its_own_outcome(
    chain: Platform, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A run that looks up many writes of one batch transaction (a sweep settling a crashed batch's rows)
    reads and decodes its receipt once for all of them (once per write before: about half the CPU of
    settling one), from several threads at once; each write still gets its own part: the writes that
    ran their own events, the one that failed inside the batch (ForwardRequestFailed) its own error."""
    tf = chain
    token = _certificate(tf, 10 * SPLIT + 1)
    gateway = _gateway(tf)
    account = tf.account("supplier1")
    start = gateway.forwarder_nonce(account.address)
    _racing(gateway, monkeypatch)

    def write(call: Call) -> str:
        with recording_sends() as sent:
            try:
                gateway.execute_custodial(account, call)
            except ContractRevert:
                pass
        return sent[-1]

    doomed = _split(tf, token, 10 * SPLIT + 1)  # the whole face: fails once the splits before it ran
    calls = [_split(tf, token, SPLIT + n) for n in range(5)] + [doomed] + [_split(tf, token)] * 4
    pipe = gateway._pipeline(account.address)
    with _writers(tf, len(calls)) as pool:
        with pipe.lock:
            futures = [pool.submit(write, calls[0])]
            assert wait_until(lambda: getattr(pipe, "leading", False) and not pipe.queue, 10, 0.01)
            for n, call in enumerate(calls[1:], start=1):
                futures.append(pool.submit(write, call))
                assert wait_until(_queued(gateway, account.address, n), 10, 0.01)
        assert wait_until(_in_pool(tf, gateway, account.address, start + len(calls)), 30, 0.05)
        tf.mine()
        sent = [future.result(timeout=30) for future in futures]
    assert len(set(sent[1:])) == 1 and request_nonce_of(sent[5]) is not None  # the nine: one transaction
    alone = [gateway.transaction_outcome(tx_hash) for tx_hash in sent]
    reads: list[str] = []
    decodes: list[str] = []
    rpc_call, outcome = gateway.rpc.call, gateway.outcome
    monkeypatch.setattr(
        gateway.rpc, "call", lambda method, params: reads.append(method) or rpc_call(method, params)
    )
    monkeypatch.setattr(
        gateway, "outcome", lambda receipt: decodes.append(receipt["transactionHash"]) or outcome(receipt)
    )
    decoded = DecodedReceipts()
    with ThreadPoolExecutor(8) as pool:
        once = list(pool.map(lambda tx_hash: gateway.transaction_outcome(tx_hash, decoded), sent * 3))
    assert (
        reads.count("eth_getTransactionReceipt") == 2 and len(decodes) == 2
    )  # the first write alone, the batch
    assert [_seen(found) for found in once] == [_seen(found) for found in alone] * 3
    decoded.forget(sent[1])  # its block dropped (writes.look_up): the next look-up reads it afresh
    assert _seen(gateway.transaction_outcome(sent[2], decoded)) == _seen(alone[2])
    assert reads.count("eth_getTransactionReceipt") == 3 and len(decodes) == 3
    for n, found in enumerate(alone):
        assert found is not None
        if n == 5:
            assert not found.succeeded and found.failure is not None
            assert found.failure.name == "CertificateInsufficientValue"
            continue
        assert found.succeeded and found.failure is None
        (split,) = [e for e in found.events if e.event == "CertificateSplit"]
        assert split.args["value"] == (SPLIT + n if n < 5 else SPLIT)


def _seen(outcome: TxOutcome | None) -> Any:
    """What a look-up tells a writer (an error compares by its name and details, not by identity)."""
    assert outcome is not None
    failure = None if outcome.failure is None else (outcome.failure.name, outcome.failure.args)
    return (outcome.tx_hash, outcome.block_number, outcome.succeeded, outcome.events, failure)


def _batch_sends(gateway: ChainGateway, monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, int]]:
    """Record each executeOrVoidBatch transaction the gateway sends: (hash, gas limit)."""
    sends: list[tuple[str, int]] = []
    real_send = gateway.sender.send_call

    def recording(relayer: Any, to: str, data: bytes, gas: int) -> str:
        tx_hash = real_send(relayer, to, data, gas)
        if data[:4] == BATCH_SELECTOR:
            sends.append((str(tx_hash), gas))
        return tx_hash

    monkeypatch.setattr(gateway.sender, "send_call", recording)
    return sends


def _one_batch(tf: Platform, gateway: ChainGateway, account: Any, calls: list[Call]) -> list[TxOutcome]:
    """`calls` of one signer queued behind a busy pipeline (the first alone, the rest in one batch), all
    in the pool before one block is mined."""
    start = gateway.forwarder_nonce(account.address)
    with _writers(tf, len(calls)) as pool:
        with gateway._pipeline(account.address).lock:
            futures = _submit_in_order(pool, gateway, account, calls)
        assert wait_until(_in_pool(tf, gateway, account.address, start + len(calls)), 60, 0.05)
        tf.mine()
        return [future.result(timeout=60) for future in futures]


def test_pipeline_batch_asks_for_the_gas_it_uses_refunds_included(
    chain: Platform, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A batch transaction's gas limit is what its requests use, not the sum of what they are signed for
    (nodes pack blocks by limit: 100 issues asked 46 M gas for 15.8 M used, 2.9x, so a block counted as
    full at a third of its gas). Cancelling the 100 issued, which clears their tokens' storage (gas
    refunded at the transaction's end, so gasUsed understates what it needs while it runs), also runs at
    its first attempt."""
    tf = chain
    gateway = _gateway(tf)
    sends = _batch_sends(gateway, monkeypatch)
    core1 = tf.account("core1")
    granted = tf.transact(
        tf.c.credit_lines.functions.grant(tf.address("core1"), 10**15, tf.now() + 300 * DAY),
        "bank1",
        wait=False,
    )
    tf.mine()
    receipt = tf.w3.eth.get_transaction_receipt(granted["transactionHash"])
    line = tf.events(receipt, tf.c.credit_lines, "CreditLineGranted")[0]["lineId"]
    maturity = tf.now() + 90 * DAY
    issues = [
        Call(
            "Receivables", "issue", (tf.address("supplier1"), 100, maturity, line, [keccak(text=f"gas-{n}")])
        )
        for n in range(101)
    ]
    issued = _one_batch(tf, gateway, core1, issues)
    assert all(outcome.succeeded for outcome in issued)
    ((tx_hash, limit),) = sends
    used = tf.w3.eth.get_transaction_receipt(tx_hash)["gasUsed"]  # type: ignore[arg-type]
    assert _requests_in(bytes(tf.w3.eth.get_transaction(tx_hash)["input"])) == 100  # type: ignore[arg-type]
    assert limit <= 1.35 * used, (limit, used)
    slots = [next(e.args["slotId"] for e in o.events if e.event == "CertificateIssued") for o in issued]
    sends.clear()
    cancelled = _one_batch(tf, gateway, core1, [Call("Receivables", "cancel", (slot,)) for slot in slots])
    assert all(outcome.succeeded for outcome in cancelled)
    ((tx_hash, limit),) = sends  # sent once: it did not run short
    assert tf.w3.eth.get_transaction_receipt(tx_hash)["status"] == 1  # type: ignore[arg-type]
    assert limit <= 1.35 * tf.w3.eth.get_transaction_receipt(tx_hash)["gasUsed"]  # type: ignore[arg-type]


def test_pipeline_batch_running_short_of_gas_is_sent_again_with_every_allowance(
    chain: Platform, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A batch transaction whose limit is too small for what its requests use when mined (the state moved
    after its simulation) reverts whole, out of gas: nothing ran and no nonce was used. It is sent again
    with the sum of its requests' allowances and every write runs exactly once."""
    tf = chain
    token = _certificate(tf, 1_000_000)
    gateway = _gateway(tf)
    sends = _batch_sends(gateway, monkeypatch)
    real_limit = gateway._batch_limit
    # a quarter of what it needs (the relayer's sends still unmined raise its limit to theirs, at most
    # the 1.6 M of the lone write before the batch: node.TxSender.send_call)
    monkeypatch.setattr(gateway, "_batch_limit", lambda *args: real_limit(*args) // 4)
    account = tf.account("supplier1")
    start = gateway.forwarder_nonce(account.address)
    calls = [_split(tf, token)] * 40
    with _writers(tf, len(calls)) as pool:
        with gateway._pipeline(account.address).lock:
            futures = _submit_in_order(pool, gateway, account, calls)
        with _mining(tf):
            outcomes = [future.result(timeout=60) for future in futures]
    assert all(outcome.succeeded for outcome in outcomes)
    (short, short_gas), (again, full_gas) = sends
    first = tf.w3.eth.get_transaction_receipt(short)  # type: ignore[arg-type]
    # ran out of gas, whole (all of its limit used)
    assert first["status"] == 0 and first["gasUsed"] == tf.w3.eth.get_transaction(short)["gas"]  # type: ignore[arg-type]
    assert full_gas > short_gas and tf.w3.eth.get_transaction_receipt(again)["status"] == 1  # type: ignore[arg-type]
    assert {outcome.tx_hash for outcome in outcomes[1:]} == {again}
    assert gateway.forwarder_nonce(account.address) == start + len(calls)
    assert tf.c.receivables.functions.balanceOf(token).call() == 1_000_000 - SPLIT * len(calls)
