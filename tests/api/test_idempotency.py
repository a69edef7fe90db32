"""Idempotency when a transaction was sent but its receipt timed out: a retry looks it up, never resends."""

from __future__ import annotations

from typing import Any

import pytest
from apikit import Api
from eth_account.signers.local import LocalAccount
from sqlalchemy import select
from sqlalchemy.exc import OperationalError
from sqlmodel import Session, col

from tierflow.chain.gateway import GAS_BUDGET, Call, ChainGateway, TxOutcome
from tierflow.chain.node import request_nonce_of, sent_transaction
from tierflow.errors import TransactionOutcomeUnknown
from tierflow.platform.models.service import ApiKey, DirectoryParticipant
from tierflow.platform.security.crypto import normalise_legal_id
from tierflow.platform.services import audit_trail, idempotency


def lose_the_receipt(monkeypatch: pytest.MonkeyPatch, gateway: ChainGateway) -> list[str]:
    """The next custodial write really goes on chain, then reports a receipt timeout; later ones fail.

    Returns the list that receives the hash of the transaction sent.
    """
    real = gateway.execute_custodial
    sent: list[str] = []

    def timed_out(account: LocalAccount, call: Call) -> TxOutcome:
        if sent:
            raise AssertionError(f"a second transaction was sent: {call}")
        outcome = real(account, call)
        sent.append(outcome.tx_hash)
        raise TransactionOutcomeUnknown(
            outcome.tx_hash, f"transaction {outcome.tx_hash} was not mined in time"
        )

    monkeypatch.setattr(gateway, "execute_custodial", timed_out)
    return sent


def chain_counters(api: Api, gateway: ChainGateway, signer: str) -> tuple[int, int]:
    """(the signer's forwarder nonce, transactions sent by all relayers together)."""
    w3 = api.platform.w3
    return gateway.forwarder_nonce(signer), sum(
        w3.eth.get_transaction_count(r.address) for r in gateway.relayers
    )


def split_setup(api: Api) -> tuple[int, str, dict[str, Any]]:
    line = api.credit_line("bank1", "core1")
    _, token = api.issue("core1", "supplier1", 100_000, line)
    return token, f"/v1/certificates/{token}/transfer", {"to": api.address("supplier2"), "value": 10_000}


def test_idempotency_retry_after_receipt_timeout_answers_from_the_sent_transaction(
    funded: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    api = funded
    gateway = api.ctx.gateway()
    token, path, payload = split_setup(api)
    signer = api.address("supplier1")
    before = chain_counters(api, gateway, signer)
    sent = lose_the_receipt(monkeypatch, gateway)

    first = api.post("supplier1", path, payload, key=f"timeout-{token}")
    assert first.status_code == 503, first.text
    error = first.json()["error"]
    assert len(sent) == 1
    assert error["code"] == "transaction_outcome_unknown"
    assert error["details"] == {"tx_hash": sent[0]}
    assert sent[0] in error["message"] and "same Idempotency-Key" in error["message"]

    # the retry finds the transaction mined: 200 with its hash and result, nothing sent again
    second = api.post("supplier1", path, payload, key=f"timeout-{token}")
    assert second.status_code == 200, second.text
    body = second.json()
    assert body["tx_hash"] == sent[0] and body["indexed"] is True
    assert "Idempotent-Replayed" not in second.headers
    new_token = body["result"]["new_token_id"]
    assert any(e["event"] == "CertificateSplit" for e in body["events"])

    third = api.post("supplier1", path, payload, key=f"timeout-{token}")
    assert third.status_code == 200 and third.json() == body
    assert third.headers.get("Idempotent-Replayed") == "true"

    # executed exactly once: one forwarded request, one relayer transaction, 10,000 fen moved once
    assert len(sent) == 1
    nonce, relayed = chain_counters(api, gateway, signer)
    assert (nonce, relayed) == (before[0] + 1, before[1] + 1)
    assert api.get("supplier1", f"/v1/certificates/{token}").json()["value"] == 90_000
    split = api.get("supplier2", f"/v1/certificates/{new_token}").json()
    assert (split["value"], split["holder"]) == (10_000, api.address("supplier2"))


def test_idempotency_retry_before_the_transaction_is_mined_is_409_and_sends_nothing(
    funded: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    api = funded
    gateway = api.ctx.gateway()
    token, path, payload = split_setup(api)
    signer = api.address("supplier1")
    sent = lose_the_receipt(monkeypatch, gateway)
    assert api.post("supplier1", path, payload, key=f"pending-{token}").status_code == 503
    after_first = chain_counters(api, gateway, signer)
    block = api.platform.w3.eth.block_number

    # the node does not know a receipt yet
    monkeypatch.setattr(gateway, "transaction_outcome", lambda tx_hash, decoded=None: None)
    for _ in range(2):
        pending = api.post("supplier1", path, payload, key=f"pending-{token}")
        assert pending.status_code == 409, pending.text
        error = pending.json()["error"]
        assert error["code"] == "transaction_outcome_unknown"
        assert error["details"] == {"tx_hash": sent[0]} and "not mined yet" in error["message"]
    assert chain_counters(api, gateway, signer) == after_first
    assert api.platform.w3.eth.block_number == block

    # once it is mined, the retry answers with it
    monkeypatch.delattr(gateway, "transaction_outcome")  # the gateway's own lookup again
    done = api.post("supplier1", path, payload, key=f"pending-{token}")
    assert done.status_code == 200, done.text
    assert done.json()["tx_hash"] == sent[0]
    assert chain_counters(api, gateway, signer) == after_first
    assert api.get("supplier1", f"/v1/certificates/{token}").json()["value"] == 90_000


def test_idempotency_retry_finds_the_sent_transaction_reverted(
    funded: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    api = funded
    gateway = api.ctx.gateway()
    token, path, _ = split_setup(api)
    too_much = {"to": api.address("supplier2"), "value": 10**9}
    # Skip the simulation so that the failing request goes on chain and reverts there, and lose the
    # receipt: the retry has to find out from the chain alone.
    monkeypatch.setattr(gateway, "simulate", lambda signer, to, data, block="latest": GAS_BUDGET)
    real_wait = gateway.wait_receipt

    def lost(tx_hash: str) -> dict[str, Any]:
        real_wait(tx_hash)  # mined (and reverted) before the "timeout"
        raise TransactionOutcomeUnknown(tx_hash, f"transaction {tx_hash} was not mined in time")

    monkeypatch.setattr(gateway, "wait_receipt", lost)
    first = api.post("supplier1", path, too_much, key=f"reverted-{token}")
    assert first.status_code == 503, first.text
    tx_hash = first.json()["error"]["details"]["tx_hash"]
    monkeypatch.undo()

    second = api.post("supplier1", path, too_much, key=f"reverted-{token}")
    assert second.status_code == 409, second.text
    error = second.json()["error"]
    assert error["code"] == "CertificateInsufficientValue"
    assert error["details"]["tx_hash"] == tx_hash and tx_hash in error["message"]
    third = api.post("supplier1", path, too_much, key=f"reverted-{token}")
    assert third.status_code == 409 and third.json() == second.json()
    assert third.headers.get("Idempotent-Replayed") == "true"
    assert api.get("supplier1", f"/v1/certificates/{token}").json()["value"] == 100_000


def test_idempotency_outcome_unknown_without_a_key_is_503_with_the_hash(
    funded: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    api = funded
    gateway = api.ctx.gateway()
    token, path, payload = split_setup(api)
    sent = lose_the_receipt(monkeypatch, gateway)
    response = api.post("supplier1", path, payload)
    assert response.status_code == 503, response.text
    error = response.json()["error"]
    assert error["code"] == "transaction_outcome_unknown"
    assert error["details"] == {"tx_hash": sent[0]}
    assert sent[0] in error["message"] and "Idempotency-Key" in error["message"]
    # it did happen (a blind retry would split again)
    assert api.ctx.link.wait_for(api.platform.w3.eth.block_number, 30)
    assert api.get("supplier1", f"/v1/certificates/{token}").json()["value"] == 90_000


def test_idempotency_sent_record_is_resolved_once(api: Api) -> None:
    engine, address, key = api.ctx.engine, api.address("supplier1"), api.unique("sent")
    assert idempotency.begin(engine=engine, address=address, key=key, print_="p") is None
    idempotency.mark_sent(engine=engine, address=address, key=key, tx_hash="0x" + "ab" * 32)
    assert idempotency.begin(engine=engine, address=address, key=key, print_="p") == idempotency.Sent(
        "0x" + "ab" * 32
    )
    # two retries resolve it concurrently: the first stores its answer, the second replays that one
    assert (
        idempotency.resolve(engine=engine, address=address, key=key, status_code=200, body={"n": 1}) is None
    )
    late = idempotency.resolve(engine=engine, address=address, key=key, status_code=200, body={"n": 2})
    assert late == idempotency.Replay(200, {"n": 1})
    assert idempotency.begin(engine=engine, address=address, key=key, print_="p") == late


def test_idempotency_sent_record_keeps_its_request_of_a_batch(api: Api) -> None:
    """A signer's batch transaction carries several keys' writes: a "sent" record names its own request
    (forwarder nonce), so a retry looks up that write's outcome, not the whole transaction's."""
    engine, address, key = api.ctx.engine, api.address("supplier1"), api.unique("sent")
    assert idempotency.begin(engine=engine, address=address, key=key, print_="p") is None
    batch = "0x" + "cd" * 32
    idempotency.mark_sent(engine=engine, address=address, key=key, tx_hash=sent_transaction(batch, 7))
    claim = idempotency.begin(engine=engine, address=address, key=key, print_="p")
    assert isinstance(claim, idempotency.Sent) and claim.tx_hash == batch
    assert request_nonce_of(claim.tx_hash) == 7


def test_idempotency_done_answer_whose_block_comes_without_its_transaction_is_looked_up_again(
    api: Api,
) -> None:
    """An answer given before the indexer reached its block ("indexed": false), whose block the chain
    replaced before the indexer saw it (no rollback happens): the indexer finds that block without the
    answer's transaction and sets the record back to `sent`, so a retry looks the transaction up instead
    of replaying "done". An answer of a block the indexer has not reached is left as it is."""
    engine, address, w3 = api.ctx.engine, api.address("supplier1"), api.platform.w3
    assert api.ctx.link.wait_for(w3.eth.block_number, 30)
    block, tx_hash = w3.eth.block_number + 1, "0x" + "ef" * 32
    answer = {"status": "executed", "tx_hash": tx_hash, "block_number": block, "indexed": False, "events": []}
    later = {**answer, "block_number": block + 1_000}
    lost, kept = api.unique("lost"), api.unique("kept")
    for key, body in ((lost, answer), (kept, later)):
        assert idempotency.begin(engine=engine, address=address, key=key, print_="p") is None
        idempotency.complete(engine=engine, address=address, key=key, status_code=200, body=body)
    assert idempotency.begin(engine=engine, address=address, key=lost, print_="p") == idempotency.Replay(
        200, answer
    )
    w3.provider.make_request("evm_mine", [])  # type: ignore[arg-type]  # block `block`, without tx_hash
    assert api.ctx.link.wait_for(block, 30)
    assert idempotency.begin(engine=engine, address=address, key=lost, print_="p") == idempotency.Sent(
        tx_hash
    )
    assert idempotency.begin(engine=engine, address=address, key=kept, print_="p") == idempotency.Replay(
        200, later
    )


# -- onboarding (ChainGateway.send_direct) --------------------------------------------------------


def lose_the_registration_receipt(
    monkeypatch: pytest.MonkeyPatch, gateway: ChainGateway, *, send: bool = True
) -> list[str]:
    """The next operator transaction goes on chain (unless not `send`), then its receipt "times out";
    a second one fails the test. Returns the list that receives the hash."""
    real = gateway.send_direct
    sent: list[str] = []

    def timed_out(account: LocalAccount, call: Call) -> TxOutcome:
        if sent:
            raise AssertionError(f"a second transaction was sent: {call}")
        tx_hash = real(account, call).tx_hash if send else "0x" + "cd" * 32
        sent.append(tx_hash)
        raise TransactionOutcomeUnknown(tx_hash, f"transaction {tx_hash} was not mined in time")

    monkeypatch.setattr(gateway, "send_direct", timed_out)
    return sent


def directory_entry(api: Api, legal_id: str) -> tuple[str, str, int]:
    """(address, status, number of API keys) of the directory entry with `legal_id`."""
    with Session(api.ctx.engine) as session:
        row = session.execute(
            select(DirectoryParticipant).where(
                col(DirectoryParticipant.legal_id) == normalise_legal_id(legal_id)
            )
        ).scalar_one()
        keys = session.execute(select(ApiKey).where(col(ApiKey.address) == row.address)).all()
        return row.address, row.status, len(keys)


def onboarding(api: Api) -> dict[str, Any]:
    return {"legal_name": "Wuxi Timeout Co.", "legal_id": api.unique("9132"), "roles": ["supplier"]}


def test_onboarding_retry_after_receipt_timeout_onboards_once_and_shows_the_key(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    gateway, operator = api.ctx.gateway(), api.ctx.operator.address
    payload, key = onboarding(api), api.unique("onboard")
    nonce = api.platform.w3.eth.get_transaction_count(operator)
    sent = lose_the_registration_receipt(monkeypatch, gateway)

    first = api.post("operator", "/v1/operator/participants", payload, key=key)
    assert first.status_code == 503, first.text
    error = first.json()["error"]
    assert error["code"] == "transaction_outcome_unknown" and error["details"] == {"tx_hash": sent[0]}
    # the entry (and its custodial key) is kept, pending, without an API key nobody has seen
    address, status, keys = directory_entry(api, payload["legal_id"])
    assert (status, keys) == ("pending", 0)

    # the retry sends nothing and answers as a first onboarding would have, with the API key
    second = api.post("operator", "/v1/operator/participants", payload, key=key)
    assert second.status_code == 200, second.text
    body = second.json()
    assert body["tx_hash"] == sent[0] and "Idempotent-Replayed" not in second.headers
    assert body["participant"]["address"] == address and body["participant"]["status"] == "active"
    me = api.client.get("/v1/me", headers={"X-API-Key": body["api_key"]})
    assert me.status_code == 200 and me.json()["address"] == address
    assert directory_entry(api, payload["legal_id"]) == (address, "active", 1)

    third = api.post("operator", "/v1/operator/participants", payload, key=key)
    assert third.status_code == 200 and third.json() == body
    assert third.headers.get("Idempotent-Replayed") == "true"
    # without the key, the same request is a duplicate, not a second registration
    again = api.post("operator", "/v1/operator/participants", payload)
    assert again.status_code == 409, again.text
    assert again.json()["error"]["code"] == "duplicate_legal_id"
    assert again.json()["error"]["details"] == {"address": address}
    assert len(sent) == 1 and api.platform.w3.eth.get_transaction_count(operator) == nonce + 1
    assert directory_entry(api, payload["legal_id"]) == (address, "active", 1)


def test_onboarding_retry_without_a_key_is_409_while_pending_then_duplicate(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    gateway = api.ctx.gateway()
    payload = onboarding(api)
    sent = lose_the_registration_receipt(monkeypatch, gateway, send=False)  # never mined
    first = api.post("operator", "/v1/operator/participants", payload)
    assert first.status_code == 503, first.text
    assert first.json()["error"]["details"] == {"tx_hash": sent[0]}
    address, status, _ = directory_entry(api, payload["legal_id"])
    assert status == "pending"
    for _ in range(2):
        retry = api.post("operator", "/v1/operator/participants", payload)
        assert retry.status_code == 409, retry.text
        error = retry.json()["error"]
        assert error["code"] == "onboarding_pending" and error["details"] == {"address": address}
        assert "Idempotency-Key" in error["message"]
    assert len(sent) == 1 and directory_entry(api, payload["legal_id"])[1] == "pending"


def test_onboarding_without_a_key_mined_after_the_timeout_becomes_active(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    gateway = api.ctx.gateway()
    payload = onboarding(api)
    sent = lose_the_registration_receipt(monkeypatch, gateway)
    assert api.post("operator", "/v1/operator/participants", payload).status_code == 503
    assert api.ctx.link.wait_for(api.platform.w3.eth.block_number, 30)
    # the indexer has the registration: the plain retry is a duplicate, and the entry is active
    retry = api.post("operator", "/v1/operator/participants", payload)
    assert retry.status_code == 409, retry.text
    address = retry.json()["error"]["details"]["address"]
    assert retry.json()["error"]["code"] == "duplicate_legal_id"
    assert f"/v1/operator/participants/{address}/api-keys" in retry.json()["error"]["message"]
    assert directory_entry(api, payload["legal_id"]) == (address, "active", 0)
    issued = api.post("operator", f"/v1/operator/participants/{address}/api-keys", {"label": "first"})
    assert issued.status_code == 200, issued.text
    me = api.client.get("/v1/me", headers={"X-API-Key": issued.json()["api_key"]})
    assert me.status_code == 200 and me.json()["status"] == "active"
    assert len(sent) == 1


def test_relayed_request_that_reverted_is_filled_and_never_replays(
    funded: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Issue 11, finding 3: a relayed request reverts on chain (its simulation passed, the chain moved on);
    its signed calldata is public now. The relayer uses its nonce up at once with a no-op request signed
    with the same nonce (issue 16's pipeline), so when the chain would let it pass again, nobody can
    replay it."""
    api = funded
    gateway = api.ctx.gateway()
    line = api.credit_line("bank1", "core1")
    _, token = api.issue("core1", "supplier1", 70_000, line)
    sent: list[bytes] = []
    real_send, real_simulate = gateway.sender.send_call, gateway.simulate
    raced: list[bool] = []

    def recording(account: LocalAccount, to: str, data: bytes, gas: int) -> str:
        sent.append(bytes(data))
        return real_send(account, to, data, gas)

    def racing(signer: str, to: str, data: bytes, block: str = "latest") -> int:
        if not raced:  # the race: simulated while it would pass, mined after the suspension
            raced.append(True)
            return GAS_BUDGET
        return real_simulate(signer, to, data, block)

    monkeypatch.setattr(gateway, "simulate", racing)
    monkeypatch.setattr(gateway.sender, "send_call", recording)
    registry = api.platform.c.registry.functions
    api.platform.transact(registry.suspend(api.address("supplier2")), "operator")
    signer = api.address("supplier1")
    nonce = gateway.forwarder_nonce(signer)
    response = api.post(
        "supplier1", f"/v1/certificates/{token}/transfer", {"to": api.address("supplier2"), "value": 70_000}
    )
    assert response.status_code == 409, response.text
    assert gateway.forwarder_nonce(signer) == nonce + 1  # filled: its nonce is used up
    execute, fill = sent[-2], sent[-1]
    assert fill != execute and len(sent) == 2
    # once the recipient is back, the exact calldata would move the token; the fill makes it fail
    api.platform.transact(registry.reinstate(api.address("supplier2")), "operator")
    forwarder = api.platform.c.forwarder.address
    replay = {"to": forwarder, "data": "0x" + execute.hex(), "from": api.address("operator")}
    try:
        api.platform.w3.eth.call(replay)  # type: ignore[arg-type]
    except Exception as error:  # web3 raises its own revert type: decode it
        assert api.platform.decoder.from_exception(error).name == "ERC2771ForwarderInvalidSigner"  # type: ignore[arg-type]
    else:
        raise AssertionError("the filled request was replayed")
    assert api.get("supplier1", f"/v1/certificates/{token}").json()["holder"] == signer


def test_idempotency_answer_commits_with_the_audit_line_and_alone_when_that_fails(
    funded: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A keyed write's stored answer is committed with its audit line (one transaction shared by the
    writes answered at the same time: one commit a write fewer, old code: a transaction of its own
    first); when the audit line fails the answer is still stored, so the retry replays it, sends nothing."""
    api = funded
    token, path, payload = split_setup(api)
    gateway = api.ctx.gateway()
    real = audit_trail.record
    seen: list[Any] = []

    def record(*args: Any, **kwargs: Any) -> int:
        seen.append(list(kwargs.get("also", ())))
        return real(*args, **kwargs)

    monkeypatch.setattr(audit_trail, "record", record)
    first = api.post("supplier1", path, payload, key=f"with-audit-{token}")
    assert first.status_code == 200, first.text
    [answer] = seen[-1]
    assert answer.params["c_key"] == f"with-audit-{token}" and answer.params["c_status_code"] == 200

    def failing(*_: Any, **__: Any) -> int:
        raise OperationalError("INSERT INTO audit_entry", {}, Exception("database went away"))

    monkeypatch.setattr(audit_trail, "record", failing)
    failed = api.client.post(
        path, headers=api.headers("supplier1", **{"Idempotency-Key": f"audit-fails-{token}"}), json=payload
    )
    assert failed.status_code == 503, failed.text
    monkeypatch.setattr(audit_trail, "record", real)
    before = chain_counters(api, gateway, api.address("supplier1"))
    retried = api.post("supplier1", path, payload, key=f"audit-fails-{token}")
    assert retried.status_code == 200 and retried.headers.get("Idempotent-Replayed") == "true", retried.text
    assert chain_counters(api, gateway, api.address("supplier1")) == before  # nothing sent again
