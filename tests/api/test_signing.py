"""Self-custody signing end to end (EIP-712 forward request → signature → relay), idempotency, nonces."""

from __future__ import annotations

import random
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from apikit import Api
from eth_account import Account
from eth_account.signers.local import LocalAccount
from eth_utils.crypto import keccak

from tierflow.chain.gateway import Call, wait_until

# Devnet accounts 11-15, then 55 on (16-19 are the dev relayers; 48-50 and 54 other tests' own).
_accounts = iter([*range(0, 5), *range(44, 52)])


def self_custody(api: Api, roles: list[str]) -> tuple[LocalAccount, str]:
    """Onboard a participant that keeps its own key; returns the key and its API key."""
    account: LocalAccount = api.platform.extra_account(next(_accounts))
    response = api.post("operator", "/v1/operator/participants", {
        "legal_name": "Self Custody Co.", "legal_id": api.unique("9144"), "roles": roles,
        "custody": "self", "address": account.address,
    })  # fmt: skip
    assert response.status_code == 200, response.text
    return account, response.json()["api_key"]


def sign(account: LocalAccount, prepared: dict[str, Any]) -> dict[str, Any]:
    typed = prepared["forward_request"]
    signature = Account.sign_typed_data(account.key, full_message=typed).signature
    return {"request": typed["message"], "signature": "0x" + bytes(signature).hex()}


def test_self_custody_accept_and_transfer_through_the_relay(funded: Api) -> None:
    api = funded
    account, key = self_custody(api, ["supplier"])
    headers = {"X-API-Key": key}
    line = api.credit_line("bank1", "core1")
    doc = api.invoice("core1", account.address)
    # a self-custody supplier: issue to it, then accept by signing a forward request
    issued = api.ok("core1", "/v1/core/certificates", {
        "supplier": account.address, "face": 40_000, "maturity": api.today(40), "line_id": line,
        "document_ids": [doc],
    })  # fmt: skip
    slot, token = issued["result"]["slot_id"], issued["result"]["token_id"]
    prepared = api.client.post(f"/v1/supplier/payables/{slot}/accept", headers=headers)
    assert prepared.status_code == 202, prepared.text
    body = prepared.json()
    assert body["status"] == "signature_required"
    assert body["forward_request"]["domain"]["name"] == "Tierflow"
    assert body["forward_request"]["message"]["from"] == account.address
    relayed = api.client.post("/v1/relay", headers=headers, json=sign(account, body))
    assert relayed.status_code == 200, relayed.text
    assert relayed.json()["indexed"] is True
    assert any(e["event"] == "CertificateAccepted" for e in relayed.json()["events"])
    assert api.get("core1", f"/v1/payables/{slot}").json()["status"] == "Accepted"

    # relaying the same signed request again: its forwarder nonce is used up
    again = api.client.post("/v1/relay", headers=headers, json=sign(account, body))
    assert again.status_code == 409 and again.json()["error"]["code"] == "stale_nonce"

    prepared = api.client.post(
        f"/v1/certificates/{token}/transfer",
        headers=headers,
        json={"to": api.address("supplier2"), "value": 15_000},
    )
    assert prepared.status_code == 202
    signed = sign(account, prepared.json())
    # tampering with the request breaks the signature; nobody else may relay it for the signer
    tampered = {**signed, "request": {**signed["request"], "gas": signed["request"]["gas"] + 1}}
    response = api.client.post("/v1/relay", headers=headers, json=tampered)
    assert response.status_code == 422 and response.json()["error"]["code"] == "invalid_signature"
    response = api.post("supplier2", "/v1/relay", signed)
    assert response.status_code == 403 and response.json()["error"]["code"] == "signer_mismatch"
    relayed = api.client.post("/v1/relay", headers=headers, json=signed)
    assert relayed.status_code == 200, relayed.text
    new_token = relayed.json()["result"]["new_token_id"]
    assert api.get("supplier2", f"/v1/certificates/{new_token}").json()["value"] == 15_000
    holdings = api.client.get("/v1/supplier/holdings", headers=headers).json()
    assert [(c["token_id"], c["value"]) for c in holdings["data"]] == [(token, 25_000)]


def test_self_custody_request_that_would_revert_is_refused_before_signing(funded: Api) -> None:
    api = funded
    account, key = self_custody(api, ["supplier"])
    line = api.credit_line("bank1", "core1")
    _, token = api.issue("core1", "supplier1", 10_000, line)
    api.ok("supplier1", f"/v1/certificates/{token}/transfer", {"to": account.address, "value": 10_000})
    response = api.client.post(
        f"/v1/certificates/{token}/transfer", headers={"X-API-Key": key},
        json={"to": api.address("supplier2"), "value": 20_000},
    )  # fmt: skip
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "CertificateInsufficientValue"


def test_idempotency_key_replays_the_first_response(funded: Api) -> None:
    api = funded
    line = api.credit_line("bank1", "core1")
    _, token = api.issue("core1", "supplier1", 100_000, line)
    payload = {"to": api.address("supplier2"), "value": 10_000}
    first = api.post("supplier1", f"/v1/certificates/{token}/transfer", payload, key=f"split-{token}")
    assert first.status_code == 200, first.text
    second = api.post("supplier1", f"/v1/certificates/{token}/transfer", payload, key=f"split-{token}")
    assert second.status_code == 200 and second.json() == first.json()
    assert second.headers.get("Idempotent-Replayed") == "true"
    # executed once: the token lost 10,000, not 20,000
    assert api.get("supplier1", f"/v1/certificates/{token}").json()["value"] == 90_000
    other = api.post(
        "supplier1", f"/v1/certificates/{token}/transfer", {**payload, "value": 5}, key=f"split-{token}"
    )
    assert other.status_code == 422 and other.json()["error"]["code"] == "idempotency_key_reused"
    # keys are per participant: another caller's identical key is a different request
    failed = api.post("supplier2", f"/v1/certificates/{token}/transfer", payload, key=f"split-{token}")
    assert failed.status_code == 403
    # a request that failed on chain is stored too, and replayed as the same error
    too_much = {"to": api.address("supplier2"), "value": 10**9}
    a = api.post("supplier1", f"/v1/certificates/{token}/transfer", too_much, key=f"too-much-{token}")
    b = api.post("supplier1", f"/v1/certificates/{token}/transfer", too_much, key=f"too-much-{token}")
    assert a.status_code == b.status_code == 409 and a.json()["error"]["code"] == b.json()["error"]["code"]


def test_twenty_concurrent_writes_get_gap_free_relayer_nonces(funded: Api) -> None:
    api = funded
    line = api.credit_line("bank1", "core1")
    holders = ["supplier1", "supplier2", "supplier3", "supplier4"]
    tokens = {who: api.issue("core1", who, 1_000_000, line)[1] for who in holders}
    relayers = [account.address for account in api.ctx.gateway().relayers]
    assert len(relayers) > 1  # the dev pool: writes spread over several accounts
    w3 = api.platform.w3
    start_block = w3.eth.block_number
    start_nonces = {relayer: w3.eth.get_transaction_count(relayer) for relayer in relayers}
    barrier = threading.Barrier(20)

    def split(i: int) -> int:
        who = holders[i % 4]
        target = holders[(i + 1) % 4]
        barrier.wait()
        response = api.post(
            who, f"/v1/certificates/{tokens[who]}/transfer", {"to": api.address(target), "value": 1_000 + i}
        )
        assert response.status_code == 200, response.text
        assert response.json()["indexed"]
        return int(response.json()["result"]["new_token_id"])

    with ThreadPoolExecutor(max_workers=20) as pool:
        new_tokens = list(pool.map(split, range(20)))
    assert len(set(new_tokens)) == 20
    sent = {relayer: w3.eth.get_transaction_count(relayer) - start_nonces[relayer] for relayer in relayers}
    # a signer's queued writes may share one forwarder batch: at most one relayer transaction a request
    assert 1 <= sum(sent.values()) <= 20
    # no gap: every relayer's transactions of the run were all mined, nonces consecutive from its start;
    # no reuse: exactly one executed forward request per write, none failed, none reverted
    forwarder = api.platform.deployment.contracts["TierflowForwarder"].address.lower()
    executed = "0x" + keccak(text="ExecutedForwardRequest(address,uint256,bool)").hex()
    mined: dict[str, list[int]] = {relayer: [] for relayer in relayers}
    requests = 0
    for number in range(start_block + 1, w3.eth.block_number + 1):
        for tx in w3.eth.get_block(number, full_transactions=True)["transactions"]:
            sender = str(tx["from"])  # type: ignore[index]
            if sender in mined:
                mined[sender].append(int(tx["nonce"]))  # type: ignore[index]
                receipt = w3.eth.get_transaction_receipt(tx["hash"])  # type: ignore[index]
                assert receipt["status"] == 1
                ends = [log for log in receipt["logs"] if str(log["address"]).lower() == forwarder]
                assert all("0x" + bytes(log["topics"][0]).hex() == executed for log in ends), receipt
                assert all(int.from_bytes(bytes(log["data"])[-32:], "big") == 1 for log in ends)
                requests += len(ends)
    assert requests == 20
    for relayer in relayers:
        assert sorted(mined[relayer]) == list(
            range(start_nonces[relayer], start_nonces[relayer] + sent[relayer])
        )
    assert sum(1 for count in sent.values() if count) > 1  # sent in parallel by several relayers
    for i, token in enumerate(new_tokens):
        certificate = api.get("auditor", f"/v1/certificates/{token}").json()
        assert certificate["value"] == 1_000 + i
        assert certificate["holder"] == api.address(holders[(i + 1) % 4])


RELAYS = 50


def test_fifty_concurrent_relays_of_one_self_custody_signer_land_once_each_in_few_blocks(funded: Api) -> None:
    """50 requests signed by one self-custody participant with consecutive forwarder nonces, posted to
    /v1/relay at once from 50 threads in random order, on a chain mining a block a second: every one
    lands, once (50 splits of distinct values, one relayer transaction each, the forwarder nonce +50, the
    relayers' nonces without a gap), and they share a few blocks instead of taking one block each."""
    api = funded
    account, key = self_custody(api, ["supplier"])
    line = api.credit_line("bank1", "core1")
    _, token = api.issue("core1", "supplier1", 1_000_000, line)
    api.ok("supplier1", f"/v1/certificates/{token}/transfer", {"to": account.address, "value": 1_000_000})
    gateway, w3 = api.ctx.gateway(), api.platform.w3
    start = gateway.forwarder_nonce(account.address)
    bodies = []
    for n in range(RELAYS):
        call = Call("Receivables", "transferValue", (token, api.address("supplier2"), 1_000 + n))
        bodies.append(
            sign(
                account, {"forward_request": gateway.forward_request(account.address, call, nonce=start + n)}
            )
        )
    random.Random(16).shuffle(bodies)
    relayers = [relayer.address for relayer in gateway.relayers]
    sent_before = {relayer: w3.eth.get_transaction_count(relayer) for relayer in relayers}
    first_block = w3.eth.block_number + 1
    barrier = threading.Barrier(RELAYS)

    def post(body: dict[str, Any]) -> Any:
        barrier.wait()
        return api.client.post("/v1/relay", headers={"X-API-Key": key}, json=body)

    w3.provider.make_request("evm_setAutomine", [False])  # type: ignore[arg-type]
    w3.provider.make_request("evm_setIntervalMining", [1])  # type: ignore[arg-type]
    try:
        with ThreadPoolExecutor(RELAYS) as pool:
            responses = list(pool.map(post, bodies))
    finally:
        w3.provider.make_request("evm_setIntervalMining", [0])  # type: ignore[arg-type]
        w3.provider.make_request("evm_setAutomine", [True])  # type: ignore[arg-type]
    assert [r.status_code for r in responses] == [200] * RELAYS, [
        r.text for r in responses if r.status_code != 200
    ]
    assert all(r.json()["indexed"] for r in responses)
    assert gateway.forwarder_nonce(account.address) == start + RELAYS
    values = sorted(
        event["args"]["value"]
        for r in responses
        for event in r.json()["events"]
        if event["event"] == "CertificateSplit"
    )
    assert values == [1_000 + n for n in range(RELAYS)]  # each request ran once
    assert api.get("auditor", f"/v1/certificates/{token}").json()["value"] == 1_000_000 - sum(values)
    blocks = sorted({r.json()["block_number"] for r in responses})
    assert len(blocks) <= 5, blocks  # a block a second: one block each would take 50
    sent = {relayer: w3.eth.get_transaction_count(relayer) - sent_before[relayer] for relayer in relayers}
    assert all(
        w3.eth.get_transaction_count(relayer, "pending") == w3.eth.get_transaction_count(relayer)
        for relayer in relayers
    )  # every relayer transaction mined: no gap
    mined = [
        tx for number in range(first_block, w3.eth.block_number + 1)
        for tx in w3.eth.get_block(number, full_transactions=True)["transactions"]
        if str(tx["from"]) in relayers  # type: ignore[index]
    ]  # fmt: skip
    assert len(mined) == sum(sent.values())
    # Requests waiting for their turn share the transaction of the one before them (executeOrVoidBatch):
    # 50 requests in a few transactions, each request executed once.
    executed = "0x" + keccak(text="ExecutedForwardRequest(address,uint256,bool)").hex()
    nonces = sorted(
        int.from_bytes(
            bytes(log["data"])[:32], "big"
        )  # ExecutedForwardRequest(signer indexed, nonce, success)
        for tx in mined
        for log in w3.eth.get_transaction_receipt(tx["hash"])["logs"]  # type: ignore[index]
        if "0x" + bytes(log["topics"][0]).hex() == executed
    )
    assert nonces == list(range(start, start + RELAYS))
    print(f"{RELAYS} self-custody requests in {len(mined)} transactions, {len(blocks)} blocks")
    assert len(mined) < RELAYS


def test_self_custody_request_expiring_in_flight_answers_every_client_with_what_to_do(funded: Api) -> None:
    """Four requests of one self-custody signer in flight; the block comes after the second one's
    deadline, so it reverts with its nonce unused and the two sent after it revert too. Every client gets
    a typed 409 (no 500, no hang) naming the nonce to sign from; nothing ran twice, the relayers' nonces
    have no gap; doing as told (a new request with that nonce, then the same signed requests again) runs
    each once. Before, all three answered ERC2771ForwarderInvalidSigner (as if signed by someone else)."""
    api = funded
    account, key = self_custody(api, ["supplier"])
    headers = {"X-API-Key": key}
    line = api.credit_line("bank1", "core1")
    _, token = api.issue("core1", "supplier1", 100_000, line)
    api.ok("supplier1", f"/v1/certificates/{token}/transfer", {"to": account.address, "value": 100_000})
    gateway, w3 = api.ctx.gateway(), api.platform.w3
    start, now = gateway.forwarder_nonce(account.address), gateway.chain_time()

    def signed(n: int, deadline: int | None = None) -> dict[str, Any]:
        call = Call("Receivables", "transferValue", (token, api.address("supplier2"), 1_000 + n))
        return sign(
            account,
            {
                "forward_request": gateway.forward_request(
                    account.address, call, nonce=start + n, deadline=deadline
                )
            },
        )

    bodies = [signed(0), signed(1, now + 60), signed(2), signed(3)]
    relayers = [relayer.address for relayer in gateway.relayers]

    def sent(block: str = "pending") -> int:
        return sum(w3.eth.get_transaction_count(relayer, block) for relayer in relayers)  # type: ignore[arg-type]

    before = sent()
    w3.provider.make_request("evm_setAutomine", [False])  # type: ignore[arg-type]
    try:
        with ThreadPoolExecutor(len(bodies)) as pool:
            try:
                futures = [
                    pool.submit(api.client.post, "/v1/relay", headers=headers, json=body) for body in bodies
                ]
                in_pool = start + len(bodies)  # every request sent: the pending state counts their nonces
                assert wait_until(
                    lambda: gateway.forwarder_nonce(account.address, "pending") == in_pool, 30, 0.05
                )
                api.platform.increase_time(120)  # mines the block late: the second deadline has passed
                responses = [future.result(timeout=60) for future in futures]
            finally:
                w3.provider.make_request("evm_setIntervalMining", [1])  # type: ignore[arg-type]
    finally:
        w3.provider.make_request("evm_setIntervalMining", [0])  # type: ignore[arg-type]
        w3.provider.make_request("evm_setAutomine", [True])  # type: ignore[arg-type]
    assert [r.status_code for r in responses] == [200, 409, 409, 409], [r.text for r in responses]
    errors = [r.json()["error"] for r in responses[1:]]
    assert [e["code"] for e in errors] == [
        "request_expired",
        "earlier_request_failed",
        "earlier_request_failed",
    ]
    assert f"nonce {start + 1} is still unused" in errors[0]["message"]
    assert all(f"relay a request with nonce {start + 1} first" in e["message"] for e in errors[1:])
    assert gateway.forwarder_nonce(account.address) == start + 1
    assert (
        before < sent("latest") == sent() <= before + len(bodies)
    )  # every relayer transaction mined, no gap
    assert api.get("auditor", f"/v1/certificates/{token}").json()["value"] == 100_000 - 1_000
    # As told: a new request with nonce start + 1, then the same signed requests behind it, once each.
    again = api.client.post("/v1/relay", headers=headers, json=signed(1))
    assert again.status_code == 200, again.text
    for body in bodies[2:]:
        relayed = api.client.post("/v1/relay", headers=headers, json=body)
        assert relayed.status_code == 200, relayed.text
    # the expired one's nonce went to the new request: it can never run (said in the reader's language)
    stale = api.client.post("/v1/relay", headers={**headers, "Accept-Language": "zh-CN"}, json=bodies[1])
    assert stale.status_code == 409 and stale.json()["error"]["code"] == "stale_nonce"
    assert f"该请求以转发 nonce {start + 1} 签名" in stale.json()["error"]["message"]
    assert gateway.forwarder_nonce(account.address) == start + 4
    assert api.get("auditor", f"/v1/certificates/{token}").json()["value"] == 100_000 - 4_000 - 6
