"""One ERP export is one batch whatever the channel: the API and the dashboard, with or without an
Idempotency-Key. A core enterprise that uploads its export in the dashboard and (by mistake, or from a
script) posts the same file to the API gets each payable once, and the second submission answers the
first one's outcomes, not a row error per row."""

from __future__ import annotations

import re
from typing import Any

from apikit import Api
from test_batch_fund import _request
from test_batch_issue import _csv, _dashboard_batch, _mined_since, _payables, _three_rows, _upload

from tierflow.platform.services import batch_issue, idempotency
from tierflow.platform.services.participants import Caller


def _slots(panel: str) -> list[int]:
    return [int(slot) for slot in re.findall(r"Payable P(\d+) issued", panel)]


def test_batch_issue_same_file_through_the_api_then_the_dashboard_is_one_batch(funded: Api) -> None:
    """The API issues the file; the same file uploaded and confirmed in the dashboard shows the same
    payables and sends nothing. Before, every row failed ("this Idempotency-Key was used for a different
    request": the channels fingerprinted the rows apart)."""
    api = funded
    content = _csv(_three_rows(api, "supplier1", 310))
    first = _upload(api, "core2", content)
    assert first.status_code == 200, first.text
    outcomes = first.json()["outcomes"]
    assert [o["status"] for o in outcomes] == ["issued"] * 3, outcomes
    payables, block = _payables(api, "core2"), api.platform.w3.eth.block_number
    panel = _dashboard_batch(api, "core2", content)
    assert panel.count('data-status="issued"') == 3, panel
    assert _slots(panel) == [o["slot_id"] for o in outcomes]
    assert api.platform.w3.eth.block_number == block, _mined_since(api, block)
    assert _payables(api, "core2") == payables


def test_batch_issue_same_file_through_the_dashboard_then_the_api_is_one_batch(funded: Api) -> None:
    """The other way round: the dashboard issues the file, the API given the same file answers the same
    payables (200, each row issued) and sends nothing."""
    api = funded
    content = _csv(_three_rows(api, "supplier2", 320))
    panel = _dashboard_batch(api, "core2", content)
    assert panel.count('data-status="issued"') == 3, panel
    payables, block = _payables(api, "core2"), api.platform.w3.eth.block_number
    again = _upload(api, "core2", content)
    assert again.status_code == 200, again.text
    outcomes = again.json()["outcomes"]
    assert [o["status"] for o in outcomes] == ["issued"] * 3, outcomes
    assert [o["slot_id"] for o in outcomes] == _slots(panel)
    assert api.platform.w3.eth.block_number == block, _mined_since(api, block)
    assert _payables(api, "core2") == payables


def test_batch_issue_idempotency_key_names_the_file_batch_and_not_another(funded: Api) -> None:
    """The batch is the company and the file: the same file under another Idempotency-Key (a script's
    retry with a fresh key), without one, or in the dashboard answers the first run's outcomes and sends
    nothing; before, a new key made a new batch whose rows all failed. A key stays bound to its file:
    reused with another file it is refused (422), nothing sent."""
    api = funded
    content = _csv(_three_rows(api, "supplier1", 330))
    another = _csv(_three_rows(api, "supplier1", 340))

    def upload(key: str | None, body: bytes = content) -> object:
        headers = {**api.headers("core2"), **({"Idempotency-Key": key} if key else {})}
        return api.client.post(
            "/v1/core/payables/batch", headers=headers, files=[("file", ("erp.csv", body, "text/csv"))]
        )

    first = upload(api.unique("erp-key"))
    assert first.status_code == 200, first.text  # type: ignore[attr-defined]
    outcomes = first.json()["outcomes"]  # type: ignore[attr-defined]
    assert [o["status"] for o in outcomes] == ["issued"] * 3, outcomes
    payables, block = _payables(api, "core2"), api.platform.w3.eth.block_number
    for key in (api.unique("erp-key"), None):
        again = upload(key)
        assert again.status_code == 200, again.text  # type: ignore[attr-defined]
        assert again.json()["outcomes"] == outcomes  # type: ignore[attr-defined]
    panel = _dashboard_batch(api, "core2", content)
    assert _slots(panel) == [o["slot_id"] for o in outcomes]
    reused = api.unique("erp-key")
    assert upload(reused).status_code == 200  # type: ignore[attr-defined]
    other = upload(reused, another)
    assert other.status_code == 422, other.text  # type: ignore[attr-defined]
    assert other.json()["error"]["code"] == "idempotency_key_reused"  # type: ignore[attr-defined]
    assert api.platform.w3.eth.block_number == block, _mined_since(api, block)
    assert _payables(api, "core2") == payables


def test_fund_batch_same_requests_under_another_idempotency_key_is_one_batch(funded: Api) -> None:
    """A bank's funding batch is the set of requests it funds: the same list under a fresh Idempotency-Key
    answers the first run's outcomes and sends nothing (before: 422, every request "already funded")."""
    api = funded
    line = api.credit_line("bank1", "core1")
    accepted = [_request(api, line) for _ in range(2)]
    path = "/v1/financier/requests/fund-batch"

    def fund(key: str, ids: list[int]) -> Any:
        headers = {**api.headers("bank2"), "Idempotency-Key": key}
        return api.client.post(path, headers=headers, json={"request_ids": ids})

    first = fund(api.unique("fund-key"), accepted)
    assert first.status_code == 200, first.text
    assert [o["status"] for o in first.json()["outcomes"]] == ["funded"] * 2
    block = api.platform.w3.eth.block_number
    again = fund(api.unique("fund-key"), accepted)
    assert again.status_code == 200, again.text
    assert again.json()["outcomes"] == first.json()["outcomes"]
    assert api.platform.w3.eth.block_number == block, _mined_since(api, block)


def test_batch_sent_under_its_key_before_keeps_that_identity(api: Api) -> None:
    """A batch sent under its Idempotency-Key before the identity became the file keeps its key: sent again
    with that key, its rows replay instead of being sent as a new batch."""
    caller = Caller(
        address=api.address("core1"), roles=1, is_operator=False, custody="custodial", status="active",
        legal_name="Core",
    )  # fmt: skip
    content, key = b"supplier,amount\n", api.unique("old-key")
    earlier = batch_issue.batch_key(caller, content, key)
    assert batch_issue.identity(api.ctx.engine, caller, content, None) == batch_issue.batch_key(
        caller, content
    )
    assert idempotency.claim_many(
        engine=api.ctx.engine, address=caller.address, prints={batch_issue.row_key(earlier, 2): "p"}
    )
    assert batch_issue.identity(api.ctx.engine, caller, content, key) == earlier
    assert batch_issue.identity(
        api.ctx.engine, caller, content, api.unique("new-key")
    ) == batch_issue.batch_key(caller, content)


def test_batch_issue_another_file_with_the_same_invoices_is_refused_before_anything_is_sent(
    funded: Api,
) -> None:
    """The same rows exported again (another file: amounts written differently) are another batch, but
    their invoices already back payables awaiting acceptance: every row is refused with the payable it
    would double, nothing sent. Before, only invoices bound by an acceptance were refused: the second
    file issued every payable again, drawing the credit line twice."""
    api = funded
    rows = _three_rows(api, "supplier1", 350)
    first = _upload(api, "core2", _csv(rows))
    assert first.status_code == 200, first.text
    slots = [o["slot_id"] for o in first.json()["outcomes"]]
    assert None not in slots
    payables, block = _payables(api, "core2"), api.platform.w3.eth.block_number
    again = _upload(api, "core2", _csv([[*row[:1], f"{row[1]}.00", *row[2:]] for row in rows]))
    assert again.status_code == 422, again.text
    errors = again.json()["error"]["details"]["rows"]
    assert [(e["row"], e["column"]) for e in errors] == [
        (2, "invoice_numbers"),
        (3, "invoice_numbers"),
        (4, "invoice_numbers"),
    ]
    assert all(
        f"already backs payable P{slot}" in e["message"] for e, slot in zip(errors, slots, strict=True)
    )
    assert api.platform.w3.eth.block_number == block, _mined_since(api, block)
    assert _payables(api, "core2") == payables
