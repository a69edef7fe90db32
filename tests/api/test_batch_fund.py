"""A bank funds many accepted financing requests in one action: checked first, idempotent as a whole."""

from __future__ import annotations

import hashlib
from typing import Any

import pytest
from apikit import Api
from sqlalchemy import event
from test_batch_sweep import _after_a_restart
from test_workflows import terms

from tierflow.chain import intents
from tierflow.chain.gateway import ChainGateway
from tierflow.platform.services import batch_fund, batch_issue, batch_recovery, batch_sweep, idempotency
from tierflow.platform.services.errors import Conflict


def _request(api: Api, line: int, *, accept: bool = True) -> int:
    _, token = api.issue("core1", "supplier1", 200_000, line, days=60)
    body = api.ok(
        "supplier1",
        "/v1/supplier/financing-requests",
        {"token_id": token, "amount": 100_000, "financier": api.address("bank2"), "with_recourse": False},
    )
    request_id = int(body["result"]["request_id"])
    api.ok("bank2", f"/v1/financier/requests/{request_id}/quote", {"rate_bps": 500, "valid_hours": 24})
    if accept:
        api.ok(
            "supplier1",
            f"/v1/supplier/financing-requests/{request_id}/accept-quote",
            terms(api, "supplier1", request_id),
        )
    return request_id


def _died(*_args: Any, **_kwargs: Any) -> Any:
    raise RuntimeError("the process died")


def _dies_after_sending(monkeypatch: pytest.MonkeyPatch) -> None:
    """From now on (until monkeypatch.undo()) a funding row dies after its request went out and before
    its answer was stored; the batch's one approval before the rows goes through."""
    settle, settle_batched = ChainGateway._settle, ChainGateway._settle_batched

    def row_died(real: Any) -> Any:
        return lambda *args: _died() if intents.announcing_here() else real(*args)

    monkeypatch.setattr(ChainGateway, "_settle", row_died(settle))
    monkeypatch.setattr(ChainGateway, "_settle_batched", row_died(settle_batched))
    monkeypatch.setattr(idempotency, "mark_sent", _died)


def test_fund_batch_checks_every_request_then_funds_each_once(
    funded: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    api = funded
    line = api.credit_line("bank1", "core1")
    accepted = [_request(api, line) for _ in range(3)]
    quoted_only = _request(api, line, accept=False)
    path = "/v1/financier/requests/fund-batch"

    block = api.platform.w3.eth.block_number
    refused = api.post("bank2", path, {"request_ids": [*accepted, quoted_only]})
    assert refused.status_code == 422, refused.text
    rows = refused.json()["error"]["details"]["rows"]
    assert [(r["row"], r["column"]) for r in rows] == [(quoted_only, "status")]
    assert api.platform.w3.eth.block_number == block  # nothing was sent
    other = api.post("bank1", path, {"request_ids": accepted})  # not addressed to bank1
    assert other.status_code == 422 and {r["row"] for r in other.json()["error"]["details"]["rows"]} == set(
        accepted
    )

    # The settlement-token allowance is read once for the whole batch, not once per request (a contract
    # read through web3 was most of a funded row's CPU).
    reads: list[tuple[Any, ...]] = []
    real = ChainGateway.call

    def call(self: ChainGateway, contract: str, function: str, *args: Any) -> Any:
        reads.append((contract, function))
        return real(self, contract, function, *args)

    # The check reads the requests in one statement, not an ORM row each (each row still reads its own).
    selects: list[str] = []

    def statement(_conn: Any, _cursor: Any, sql: str, *_: Any) -> None:
        if " FROM financing_request" in " ".join(sql.split()):
            selects.append(sql)

    monkeypatch.setattr(ChainGateway, "call", call)
    event.listen(api.ctx.engine, "before_cursor_execute", statement)
    try:
        first = api.post("bank2", path, {"request_ids": accepted})
    finally:
        event.remove(api.ctx.engine, "before_cursor_execute", statement)
    monkeypatch.setattr(ChainGateway, "call", real)
    assert reads.count(("SettlementToken", "allowance")) == 1, reads
    assert len(selects) == 1 + len(accepted), selects  # 2 per request before
    assert first.status_code == 200, first.text
    body = first.json()
    assert [o["status"] for o in body["outcomes"]] == ["funded"] * 3, body["outcomes"]
    assert [o["row"] for o in body["outcomes"]] == accepted and body["total"] > 0
    statuses = {
        r["request_id"]: r["status"] for r in api.get("bank2", "/v1/financier/requests").json()["data"]
    }
    assert all(statuses[i] == "Funded" for i in accepted)

    block = api.platform.w3.eth.block_number
    again = api.post("bank2", path, {"request_ids": list(reversed(accepted))})  # the same batch
    assert again.status_code == 200, again.text
    assert sorted(again.json()["outcomes"], key=lambda o: o["row"]) == sorted(
        body["outcomes"], key=lambda o: o["row"]
    )
    assert api.platform.w3.eth.block_number == block  # nothing sent twice


def test_fund_batch_rows_that_died_after_sending_settle_from_the_chain(
    funded: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The bank's process dies after each funding went out and before its answer was stored: the same
    batch again answers each request funded, from the chain, and sends nothing (before: "still running")."""
    api = funded
    line = api.credit_line("bank1", "core1")
    accepted = [_request(api, line) for _ in range(2)]
    path = "/v1/financier/requests/fund-batch"

    block = api.platform.w3.eth.block_number
    _dies_after_sending(monkeypatch)
    assert api.post("bank2", path, {"request_ids": accepted}).status_code == 500
    monkeypatch.undo()
    assert api.platform.w3.eth.block_number > block  # they went out
    monkeypatch.setattr(batch_recovery, "SIGNED_GRACE_S", 0)  # after a restart: the grace has passed
    # and the indexer has the fundings (else the batch's check finds the requests still accepted and
    # approves the settlement token again: an approval, not a funding)
    assert api.ctx.link.wait_for(api.platform.w3.eth.block_number, 60)
    block = api.platform.w3.eth.block_number
    again = api.post("bank2", path, {"request_ids": accepted})
    assert again.status_code == 200, again.text
    outcomes = again.json()["outcomes"]
    assert [o["status"] for o in outcomes] == ["funded"] * 2, outcomes
    assert api.platform.w3.eth.block_number == block  # nothing sent twice
    statuses = {
        r["request_id"]: r["status"] for r in api.get("bank2", "/v1/financier/requests").json()["data"]
    }
    assert all(statuses[i] == "Funded" for i in accepted)


PATH = "/v1/financier/requests/fund-batch"


def _by_request(outcomes: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return sorted(outcomes, key=lambda o: o["row"])


def test_fund_batch_status_answers_each_request_to_its_bank_only(
    funded: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    """After a batch funding, GET .../fund-batch/{batch_key} (the key its POST answered) gives each
    request's outcome as the POST did, funded with its transaction or failed with its code and message,
    sending nothing. Another bank asking for the same key gets 404 (not 403: a key tells nothing), a
    malformed key a typed 422. Before, the bank had to post the same request ids again to learn this."""
    api = funded
    line = api.credit_line("bank1", "core1")
    accepted = [_request(api, line) for _ in range(3)]
    refused = accepted[1]
    fund = batch_fund.workflows.fund

    def fund_or_refuse(*, request_id: int, **kwargs: Any) -> Any:
        if request_id == refused:  # refused when its turn came: nothing sent for it
            raise Conflict("the seller withdrew the request", code="request_withdrawn")
        return fund(request_id=request_id, **kwargs)

    monkeypatch.setattr(batch_fund.workflows, "fund", fund_or_refuse)
    posted = api.post("bank2", PATH, {"request_ids": accepted})
    monkeypatch.undo()
    assert posted.status_code == 200, posted.text
    body = posted.json()
    key = body["batch_key"]
    block = api.platform.w3.eth.block_number
    shown = api.get("bank2", f"{PATH}/{key}")
    assert shown.status_code == 200, shown.text
    status = shown.json()
    assert status["batch_key"] == key and status["finished"], status
    assert status["outcomes"] == _by_request(body["outcomes"])
    by_request = {o["row"]: o for o in status["outcomes"]}
    failed = by_request.pop(refused)
    assert (failed["status"], failed["code"], failed["error"]) == (
        "failed", "request_withdrawn", "the seller withdrew the request"
    )  # fmt: skip
    assert [o["status"] for o in by_request.values()] == ["funded"] * 2
    assert all(o["tx_hash"].startswith("0x") for o in by_request.values())

    other = api.get("bank1", f"{PATH}/{key}")  # another bank: as if the batch did not exist
    assert other.status_code == 404 and other.json()["error"]["code"] == "batch_not_found", other.text
    assert api.get("bank2", f"{PATH}/{'0' * 64}").status_code == 404
    assert api.get("core1", f"{PATH}/{key}").status_code == 403  # not a bank
    for malformed in ("not-a-key", key.upper(), key[:63]):
        wrong = api.get("bank2", f"{PATH}/{malformed}")
        assert wrong.status_code == 422 and wrong.json()["error"]["code"] == "validation_error", wrong.text
    assert api.platform.w3.eth.block_number == block  # reading sent nothing


def test_fund_batch_status_of_a_run_that_died_shows_in_progress_until_settled_from_the_chain(
    funded: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The bank's process dies after each funding went out and before its answer was stored (its
    connection dropped with it): GET shows each request in progress, to this bank only; once the sweep
    settled them from the chain it shows each funded with its transaction, and posting the same requests
    again answers the same, all without sending anything."""
    api = funded
    line = api.credit_line("bank1", "core1")
    accepted = [_request(api, line) for _ in range(2)]
    _dies_after_sending(monkeypatch)
    assert api.post("bank2", PATH, {"request_ids": accepted}).status_code == 500
    monkeypatch.undo()
    key = _fund_key(api, "bank2", accepted)
    shown = api.get("bank2", f"{PATH}/{key}").json()
    assert not shown["finished"], shown
    assert [(o["row"], o["status"], o["code"]) for o in shown["outcomes"]] == [
        (request_id, "in_progress", "row_in_progress") for request_id in sorted(accepted)
    ]
    assert api.get("bank1", f"{PATH}/{key}").status_code == 404

    # After a restart: the grace is over, and the indexer has the fundings the sweep reads.
    _after_a_restart(monkeypatch)
    assert api.ctx.link.wait_for(api.platform.w3.eth.block_number, 60)
    block = api.platform.w3.eth.block_number
    batch_sweep.sweep(api.ctx)
    shown = api.get("bank2", f"{PATH}/{key}").json()
    assert shown["finished"] and [o["status"] for o in shown["outcomes"]] == ["funded"] * 2, shown
    assert all(o["tx_hash"] and o["result"] for o in shown["outcomes"])
    again = api.post("bank2", PATH, {"request_ids": accepted})
    assert again.status_code == 200, again.text
    assert _by_request(again.json()["outcomes"]) == shown["outcomes"]
    assert api.platform.w3.eth.block_number == block  # nothing sent twice


def test_fund_batch_status_lists_the_requests_a_dead_run_never_sent(
    funded: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The process dies after claiming the batch's requests and before signing any: GET shows them in
    progress; once the sweep dropped the claims that can never run, each is listed as not sent (not a
    404: the batch keeps its request ids), and posting the same requests again funds each once."""
    api = funded
    line = api.credit_line("bank1", "core1")
    accepted = [_request(api, line) for _ in range(2)]
    monkeypatch.setattr(batch_issue, "keyed_item", _died)
    assert api.post("bank2", PATH, {"request_ids": accepted}).status_code == 500
    monkeypatch.undo()
    key = _fund_key(api, "bank2", accepted)
    shown = api.get("bank2", f"{PATH}/{key}").json()
    assert [o["status"] for o in shown["outcomes"]] == ["in_progress"] * 2, shown

    _after_a_restart(monkeypatch)
    monkeypatch.setattr(batch_recovery, "UNSIGNED_GRACE_S", 0)
    block = api.platform.w3.eth.block_number
    batch_sweep.sweep(api.ctx)
    assert api.platform.w3.eth.block_number == block
    shown = api.get("bank2", f"{PATH}/{key}").json()
    assert shown["finished"], shown
    assert [(o["row"], o["status"], o["code"]) for o in shown["outcomes"]] == [
        (request_id, "failed", "not_sent") for request_id in sorted(accepted)
    ]
    assert all("Submit the same requests again" in o["error"] for o in shown["outcomes"])
    assert api.get("bank1", f"{PATH}/{key}").status_code == 404

    sent = api.post("bank2", PATH, {"request_ids": accepted})
    assert sent.status_code == 200 and sent.json()["batch_key"] == key, sent.text
    assert [o["status"] for o in sent.json()["outcomes"]] == ["funded"] * 2
    shown = api.get("bank2", f"{PATH}/{key}").json()
    assert shown["outcomes"] == _by_request(sent.json()["outcomes"])


def _fund_key(api: Api, bank: str, request_ids: list[int]) -> str:
    """A batch funding's key as its POST answers it (the documented recipe)."""
    content = ",".join(str(i) for i in sorted(request_ids)).encode()
    base = hashlib.sha256(api.address(bank).lower().encode() + b"\n" + b"file:" + content).hexdigest()
    return hashlib.sha256(f"fund:{base}".encode()).hexdigest()
