"""The node restarts and freezes under a stream of writes: no stuck key, no doubled write, every request
within its bound, and a transient database failure after a send never releases the key."""

from __future__ import annotations

import os
import signal
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from apikit import Api
from fastapi.testclient import TestClient

from tierflow.chain.devnet import Devnet
from tierflow.platform.main import create_app
from tierflow.platform.services.context import DatabaseUnavailableError
from tierflow.testing.chain import Platform
from tierflow.testing.service import service_context

# [s] the longest a write may take here: the node's reads (2 s each, the first timeout ends it), the
# send and its settlement (3 s each), the receipt wait (5 s) and the indexer wait (5 s), with slack.
WRITE_BOUND_S = 20.0
SPLIT = 1_000  # [fen] moved by each write of the stream


@pytest.fixture(scope="module")
def faulty(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Api]:
    """An API over an anvil that keeps its state on disk, so that it can be restarted as it was."""
    tmp = tmp_path_factory.mktemp("faults")
    platform = Platform.start(Devnet(state_dir=tmp / "devnet").start())
    try:
        ctx, keys = service_context(platform, f"sqlite:///{tmp / 'api.db'}", master_key="test-master-key")
        ctx.index_timeout = 5.0
        gateway = ctx.gateway()
        gateway.receipt_timeout = 5.0
        gateway.sender.send_timeout = 3.0
        with TestClient(create_app(ctx, run_indexer=True), raise_server_exceptions=False) as client:
            api = Api(platform=platform, ctx=ctx, client=client, keys=keys, backend="sqlite")
            assert ctx.link.wait_for(platform.w3.eth.block_number, 60)
            yield api
        ctx.engine.dispose()
    finally:
        platform.stop()


def _token(api: Api, face: int) -> int:
    line = api.credit_line("bank1", "core1")
    return api.issue("core1", "supplier1", face, line)[1]


def _relayed(api: Api) -> int:
    """Forward requests the relayers' mined transactions carried (a batch transaction carries several; a
    reverted transaction counts as one: a send that did nothing, as a re-sent or filled request)."""
    w3, gateway = api.platform.w3, api.ctx.gateway()
    relayers = {r.address.lower() for r in gateway.relayers}
    forwarder = str(gateway.forwarder.address).lower()
    requests = 0
    for number in range(w3.eth.block_number + 1):
        block: Any = w3.eth.get_block(number, full_transactions=True)
        for tx in block["transactions"]:
            if str(tx["from"]).lower() in relayers and str(tx["to"]).lower() == forwarder:
                receipt = w3.eth.get_transaction_receipt(tx["hash"])
                ends = sum(str(log["address"]).lower() == forwarder for log in receipt["logs"])
                requests += ends if receipt["status"] == 1 else 1
    return requests


@dataclass
class Stream:
    """Splits of SPLIT fen from one token, one Idempotency-Key each, retried until they settle."""

    api: Api
    token: int
    durations: list[float] = field(default_factory=list)
    answers: dict[str, list[tuple[int, str]]] = field(default_factory=dict)
    done: dict[str, dict[str, Any]] = field(default_factory=dict)
    stop: threading.Event = field(default_factory=threading.Event)
    name: str = "stream"  # prefix of the keys: several streams run at once

    def write(self, key: str) -> None:
        path = f"/v1/certificates/{self.token}/transfer"
        payload = {"to": self.api.address("supplier2"), "value": SPLIT}
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            started = time.monotonic()
            response = self.api.post("supplier1", path, payload, key=key)
            self.durations.append(time.monotonic() - started)
            body = response.json()
            code = body["error"]["code"] if response.status_code >= 400 else "ok"
            self.answers.setdefault(key, []).append((response.status_code, code))
            if response.status_code == 200:
                self.done[key] = body
                return
            assert response.status_code in (409, 503), response.text  # unavailable or not known yet
            time.sleep(0.2)

    def run(self) -> None:
        n = 0
        while not self.stop.is_set():
            self.write(f"{self.name}-{self.token}-{n}")
            n += 1


def test_restart_and_freeze_under_a_stream_of_writes_no_stuck_key_no_doubled_write(faulty: Api) -> None:
    api = faulty
    token = _token(api, 1_000_000)
    before = _relayed(api)
    stream = Stream(api, token)
    writer = threading.Thread(target=stream.run, daemon=True)
    writer.start()
    try:
        time.sleep(1.0)
        # The node restarts with its state: the relayer's kept-alive connections are dead. (A generous
        # stop timeout: killed before it dumps its state, anvil would come back at an older block.)
        head = api.platform.w3.eth.block_number
        api.platform.devnet.stop(timeout=60)
        api.platform.devnet.start()
        assert api.platform.w3.eth.block_number >= head, "anvil restarted without its state (load?)"
        time.sleep(1.5)
        # The node freezes: /health and reads answer within ~2 s, writes fail before sending.
        pid = api.platform.devnet.process.pid  # type: ignore[union-attr]
        os.kill(pid, signal.SIGSTOP)
        try:
            started = time.monotonic()
            health = api.client.get("/health")
            assert health.status_code == 503 and time.monotonic() - started < 5, health.text
            started = time.monotonic()
            balance = api.get("supplier1", "/v1/settlement/balance")
            assert balance.status_code == 503 and time.monotonic() - started < 5, balance.text
            time.sleep(3.0)
        finally:
            os.kill(pid, signal.SIGCONT)
        time.sleep(1.5)
    finally:
        stream.stop.set()
        writer.join(90)
    assert not writer.is_alive(), "a write never settled"
    stuck = {key: answers for key, answers in stream.answers.items() if key not in stream.done}
    assert not stuck, f"keys that never settled: {stuck}"
    # Each key moved SPLIT once: one relayed transaction and one split per settled key, no more.
    settled = len(stream.done)
    assert settled >= 3, stream.answers
    assert len({body["tx_hash"] for body in stream.done.values()}) == settled
    assert _relayed(api) - before == settled
    assert api.ctx.link.wait_for(api.platform.w3.eth.block_number, 30)
    value = api.get("supplier1", f"/v1/certificates/{token}").json()["value"]
    assert value == 1_000_000 - settled * SPLIT
    assert max(stream.durations) <= WRITE_BOUND_S, sorted(stream.durations)[-5:]
    assert api.client.get("/health").status_code == 200


def test_a_database_failure_after_the_send_keeps_the_key_and_the_retry_does_not_send_again(
    faulty: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    api = faulty
    token = _token(api, 900_000)
    path, payload = f"/v1/certificates/{token}/transfer", {"to": api.address("supplier2"), "value": 300_000}
    before = _relayed(api)
    real = api.ctx.link.wait_for
    failures = [DatabaseUnavailableError("the database does not answer: connection reset")]

    def flaky(block: int, timeout: float) -> bool:  # one transient failure while waiting for the indexer
        if failures:
            raise failures.pop()
        return real(block, timeout)

    monkeypatch.setattr(api.ctx.link, "wait_for", flaky)
    first = api.post("supplier1", path, payload, key=f"db-{token}")
    assert first.status_code == 503, first.text
    error = first.json()["error"]
    assert error["code"] == "transaction_outcome_unknown" and error["details"]["tx_hash"]
    second = api.post("supplier1", path, payload, key=f"db-{token}")
    assert second.status_code == 200, second.text
    assert second.json()["tx_hash"] == error["details"]["tx_hash"]
    assert _relayed(api) - before == 1, "the retry sent the split again"
    assert api.get("supplier1", f"/v1/certificates/{token}").json()["value"] == 600_000


def _interval_mining(api: Api, seconds: int) -> None:
    """Blocks every `seconds` (0: automine again), as on a consortium chain."""
    if seconds:
        calls = [("evm_setAutomine", False), ("evm_setIntervalMining", seconds)]
    else:  # anvil: interval 0 turns all mining off, automine included, so automine goes on after it
        calls = [("evm_setIntervalMining", 0), ("evm_setAutomine", True)]
    for method, value in calls:
        api.platform.w3.provider.make_request(method, [value])  # type: ignore[arg-type]


def _forwarder_nonce(body: dict[str, Any]) -> int:
    """The forwarder nonce of the one request a write's answer describes (its events are its own)."""
    (executed,) = [e for e in body["events"] if e["event"] == "ExecutedForwardRequest"]
    return int(executed["args"]["nonce"])


def test_restart_mid_pipeline_no_stuck_key_no_doubled_write_no_nonce_gap(faulty: Api) -> None:
    """Six streams of one participant on 1 s blocks keep several of its requests in the pool (pipelined,
    consecutive forwarder nonces) when the node restarts and drops them: every key still settles exactly
    once, and the participant's pipeline carries on (a lost nonce is refilled, never left as a gap)."""
    api = faulty
    token = _token(api, 1_000_000)
    streams = [Stream(api, token, name=f"pipe{i}") for i in range(6)]
    writers = [threading.Thread(target=stream.run, daemon=True) for stream in streams]
    _interval_mining(api, 1)
    try:
        for writer in writers:
            writer.start()
        time.sleep(2.5)
        api.platform.devnet.stop(timeout=60)
        api.platform.devnet.start()
        _interval_mining(api, 1)
        time.sleep(4.0)
    finally:
        for stream in streams:
            stream.stop.set()
        for writer in writers:
            writer.join(90)
        _interval_mining(api, 0)
    assert not any(writer.is_alive() for writer in writers), "a write never settled"
    answers = {key: a for stream in streams for key, a in stream.answers.items()}
    done = {key: body for stream in streams for key, body in stream.done.items()}
    stuck = {key: a for key, a in answers.items() if key not in done}
    assert not stuck, f"keys that never settled: {stuck}"
    assert len(done) >= 12, answers
    # one write each: a signer's batch transaction carries several keys' writes, each its own request
    assert len({(body["tx_hash"], _forwarder_nonce(body)) for body in done.values()}) == len(done)
    assert api.ctx.link.wait_for(api.platform.w3.eth.block_number, 30)
    value = api.get("supplier1", f"/v1/certificates/{token}").json()["value"]
    assert value == 1_000_000 - len(done) * SPLIT  # each settled key moved SPLIT once
    after = api.post(
        "supplier1", f"/v1/certificates/{token}/transfer", {"to": api.address("supplier2"), "value": SPLIT}
    )
    assert after.status_code == 200, after.text


def _restart(api: Api, state: bytes | None = None) -> bytes:
    """Restart the node, from `state` (an earlier dump: the blocks mined since are dropped, as in a reorg)
    when given; returns the state it stopped with."""
    devnet = api.platform.devnet
    devnet.stop(timeout=60)
    assert devnet.state_dir is not None
    path = devnet.state_dir / "anvil-state.json"
    stopped = path.read_bytes()
    if state is not None:
        path.write_bytes(state)
    devnet.start()
    return stopped


def test_restart_that_drops_answered_blocks_no_write_replayed_as_done_none_done_twice(
    faulty: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The node comes back from an older state and the blocks of three writes are gone: one answered
    before (its key replayed "done" on the old code), one whose answer waited for the indexer, which then
    indexed another block of that number, and one whose answer waited in vain, the indexer late (both
    answered "done" on the old code: the flaky run's story). Reads drop them, each key's retry runs its
    write again, once."""
    api = faulty
    token = _token(api, 1_000_000)
    path, payload = f"/v1/certificates/{token}/transfer", {"to": api.address("supplier2"), "value": SPLIT}
    older = _restart(api)  # the chain before the three writes
    head = api.platform.w3.eth.block_number
    assert api.ctx.link.wait_for(head, 30)
    before = _relayed(api)
    keys = [f"lost-{name}-{token}" for name in ("answered", "reindexed", "late")]
    first = api.post("supplier1", path, payload, key=keys[0])
    assert first.status_code == 200 and first.json()["indexed"] is True, first.text
    real = api.ctx.link.wait_for

    def restart_then_wait(mine: bool) -> Callable[[int, float], bool]:
        def wait_for(block: int, timeout: float) -> bool:  # the write's block is mined, then lost
            _restart(api, older)
            deadline = time.monotonic() + 30  # until the indexer has rolled the lost blocks back
            while (api.ctx.link.checkpoint_block() or 0) > head and time.monotonic() < deadline:
                time.sleep(0.05)
            if not mine:  # no block comes: the wait ends without the indexer
                return real(block, 0.5)
            for _ in range(block - head):  # the new branch reaches the receipt's block number, empty
                api.platform.w3.provider.make_request("evm_mine", [])  # type: ignore[arg-type]
            return real(block, timeout)

        return wait_for

    for key, mine in ((keys[1], True), (keys[2], False)):
        monkeypatch.setattr(api.ctx.link, "wait_for", restart_then_wait(mine))
        lost = api.post("supplier1", path, payload, key=key)
        monkeypatch.setattr(api.ctx.link, "wait_for", real)
        assert lost.status_code == 503, lost.text
        error = lost.json()["error"]
        assert error["code"] == "transaction_outcome_unknown" and error["details"]["tx_hash"], error
    assert api.ctx.link.wait_for(api.platform.w3.eth.block_number, 30)
    assert api.get("supplier1", f"/v1/certificates/{token}").json()["value"] == 1_000_000  # no write
    # Each retry learns what the chain holds now (its transaction is gone) and runs the write again,
    # once: the answer's transaction is on the chain, and a further retry replays that answer.
    for key in keys:
        retry = api.post("supplier1", path, payload, key=key)
        assert retry.status_code == 200, retry.text
        receipt = api.platform.w3.eth.get_transaction_receipt(retry.json()["tx_hash"])
        assert receipt["status"] == 1 and receipt["blockNumber"] == retry.json()["block_number"]
        again = api.post("supplier1", path, payload, key=key)
        assert again.headers.get("Idempotent-Replayed") == "true" and again.json() == retry.json()
    assert api.ctx.link.wait_for(api.platform.w3.eth.block_number, 30)
    assert api.get("supplier1", f"/v1/certificates/{token}").json()["value"] == 1_000_000 - 3 * SPLIT
    assert _relayed(api) - before == 3
