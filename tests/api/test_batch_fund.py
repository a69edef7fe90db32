"""A bank funds many accepted financing requests in one action: checked first, idempotent as a whole."""

from __future__ import annotations

from typing import Any

import pytest
from apikit import Api
from sqlalchemy import event
from test_workflows import terms

from tierflow.chain import intents
from tierflow.chain.gateway import ChainGateway
from tierflow.platform.services import batch_recovery, idempotency


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

    settle, settle_batched = ChainGateway._settle, ChainGateway._settle_batched

    def died(*_args: Any, **_kwargs: Any) -> Any:
        raise RuntimeError("the process died")

    def row_died(real: Any) -> Any:
        # only a funding row's write dies (the batch's one approval before them goes through)
        return lambda *args: died() if intents.announcing_here() else real(*args)

    monkeypatch.setattr(ChainGateway, "_settle", row_died(settle))
    monkeypatch.setattr(ChainGateway, "_settle_batched", row_died(settle_batched))
    monkeypatch.setattr(idempotency, "mark_sent", died)
    block = api.platform.w3.eth.block_number
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
