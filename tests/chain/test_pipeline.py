"""One custodial signer's writes pipelined: many per block, simulated on the state they will meet, a
failure in the middle invalidating nothing behind it, and a failed request never runnable later."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from typing import Any

import pytest
from eth_account import Account
from eth_utils.crypto import keccak

from tierflow.chain.accounts import dev_account
from tierflow.chain.gateway import EXECUTE_SELECTOR, Call, ChainGateway, wait_until
from tierflow.errors import ContractRevert
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
        gateway.simulate(account.address, *gateway.calldata(_split(tf, token, 2)))  # passes on latest
        late: Future[Any] = pool.submit(gateway.execute_custodial, account, _split(tf, token, 2))
        with pytest.raises(ContractRevert) as refused:
            late.result(timeout=10)
        assert refused.value.name == "CertificateInsufficientValue"
        assert (
            sum(tf.w3.eth.get_transaction_count(r.address, "pending") for r in gateway.relayers)
            == relayed + 10
        )
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
        sent.append(bytes(data))
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
