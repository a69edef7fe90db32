"""Batches whose process died mid-run, settled from the chain by the next service that starts on the same
database and chain, without anybody submitting them again (services/batch_sweep.py)."""

from __future__ import annotations

import hashlib
import re
import time
from typing import Any

import pytest
from apikit import Api
from fastapi.testclient import TestClient
from sqlalchemy import delete, select
from test_batch_issue import (
    AFTER_SENDING,
    _csv,
    _dashboard_batch,
    _dies_at,
    _mined_since,
    _payables,
    _pending_rows,
    _three_rows,
    _upload,
)
from test_controls import _signed_in

from tierflow.platform.main import create_app
from tierflow.platform.services import (
    audit_trail,
    batch_issue,
    batch_recovery,
    batch_state,
    batch_sweep,
    idempotency,
)
from tierflow.platform.services.context import ServiceContext


def _slots(shown: dict[str, Any]) -> list[str]:
    return [str(o["slot_id"]) for o in shown["outcomes"]]


def _restarted(api: Api) -> ServiceContext:
    """A new service on the same database and chain, sweeping every second (the first when it starts)."""
    settings = api.ctx.settings.model_copy(update={"batch_sweep_interval_seconds": 1})
    ctx = ServiceContext(settings=settings, engine=api.ctx.engine, link=api.ctx.link)
    ctx.set_gateway(api.ctx.gateway())
    return ctx


def _after_a_restart(monkeypatch: pytest.MonkeyPatch) -> None:
    """The dead run's rows are as old as a restart makes them: its grace and the sweep's wait are over."""
    monkeypatch.setattr(batch_recovery, "SIGNED_GRACE_S", 0)
    monkeypatch.setattr(batch_sweep, "STOPPED_S", 0)
    monkeypatch.setattr(batch_state, "STALE_S", 0)


def _start_and_sweep(ctx: ServiceContext, done: Any) -> None:
    """Start the service (its lifespan starts the sweeper) and wait until `done()` holds."""
    with TestClient(create_app(ctx)) as client:
        assert client.app.state.batch_sweeper is not None  # type: ignore[attr-defined]
        for _ in range(300):
            if done():
                return
            time.sleep(0.1)
    raise AssertionError("the new service did not settle the batch")


def test_batch_rows_that_died_after_sending_settle_when_a_new_service_starts(
    funded: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The API's batch dies after its rows went out and before their answers were stored. A new service
    started on the same database and chain settles every row from the chain by itself (issued, with its
    payable and audit line), sending nothing; a later re-submission replays those answers and sends
    nothing either. Before, the rows stayed claimed until somebody submitted the same file again."""
    api = funded
    rows = _three_rows(api, "supplier1", 170)
    content = _csv(rows)
    payables = _payables(api, "core2")
    _dies_at(monkeypatch, *AFTER_SENDING)
    assert _upload(api, "core2", content).status_code == 500
    monkeypatch.undo()
    pending = _pending_rows(api, "core2", content)
    assert len(pending) == 3
    key = pending[0].key.split(":")[1]
    shown = api.get("core2", f"/v1/core/payables/batch/{key}").json()  # its status, nothing sent again
    assert not shown["finished"] and [o["status"] for o in shown["outcomes"]] == ["in_progress"] * 3, shown
    assert [o["row"] for o in shown["outcomes"]] == [2, 3, 4]
    assert api.get("core1", f"/v1/core/payables/batch/{key}").status_code == 404  # another company's
    _after_a_restart(monkeypatch)
    block = api.platform.w3.eth.block_number
    _start_and_sweep(_restarted(api), lambda: not _pending_rows(api, "core2", content))
    assert api.platform.w3.eth.block_number == block, _mined_since(api, block)  # the sweep sent nothing
    assert _payables(api, "core2") == payables + 3
    with api.ctx.engine.connect() as conn:
        settled = conn.execute(
            select(audit_trail.AUDIT.c.tx_hash).where(
                audit_trail.AUDIT.c.detail == batch_recovery.SETTLED_DETAIL,
                audit_trail.AUDIT.c.company == api.address("core2"),
            )
        ).all()
    shown = api.get("core2", f"/v1/core/payables/batch/{key}").json()
    assert shown["finished"] and [o["status"] for o in shown["outcomes"]] == ["issued"] * 3, shown
    again = _upload(api, "core2", content)
    assert again.status_code == 200, again.text
    outcomes = again.json()["outcomes"]
    assert [o["status"] for o in outcomes] == ["issued"] * 3, outcomes
    assert shown["outcomes"] == outcomes
    faces = {api.get("core2", f"/v1/payables/{o['slot_id']}").json()["face"] for o in outcomes}
    assert faces == {17_000, 17_100, 17_200}
    assert {row.tx_hash for row in settled} >= {o["tx_hash"] for o in outcomes}
    assert api.platform.w3.eth.block_number == block and _payables(api, "core2") == payables + 3


def test_dashboard_batch_that_died_after_sending_shows_its_payables_once_a_new_service_starts(
    funded: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The same crash under the dashboard's Confirm: the page said the batch stopped without results.
    Once a new service started, the same page (nothing uploaded again) shows every row's payable; a rerun
    of the sweep changes nothing, and nothing was sent."""
    api = funded
    rows = _three_rows(api, "supplier2", 190)
    content = _csv(rows)
    _dies_at(monkeypatch, *AFTER_SENDING)
    stopped = _dashboard_batch(api, "core2", content)
    monkeypatch.undo()
    assert "The batch stopped before its results were recorded" in stopped, stopped
    _after_a_restart(monkeypatch)
    block = api.platform.w3.eth.block_number
    key = _pending_rows(api, "core2", content)[0].key.split(":")[1]
    ctx = _restarted(api)

    def shown() -> bool:
        state = batch_state.progress(api.ctx.engine, key)
        return state is not None and state.result is not None

    _start_and_sweep(ctx, shown)
    client = _signed_in(api, "core2")
    page = client.get(f"/dashboard/core/{api.address('core2')}/batch/{key}", params={"panel": "status"}).text
    assert page.count('data-status="issued"') == 3, page
    assert "The batch stopped" not in page
    assert batch_sweep.sweep(ctx).batches == 0  # stored once
    shown = api.get("core2", f"/v1/core/payables/batch/{key}").json()
    assert shown["finished"] and _slots(shown) == re.findall(r"Payable P(\d+) issued", page)
    assert api.get("core2", "/v1/core/payables/batch/" + "0" * 64).status_code == 404
    assert api.platform.w3.eth.block_number == block, _mined_since(api, block)


def _issue_key(api: Api, core: str, content: bytes) -> str:
    """A batch issue's key as its POST answers it (the company and the file's bytes)."""
    return hashlib.sha256(api.address(core).lower().encode() + b"\n" + b"file:" + content).hexdigest()


def _rows_die_before_signing(monkeypatch: pytest.MonkeyPatch, *rows: int) -> None:
    """From now on (until monkeypatch.undo()) the batch's `rows` die after being claimed and before being
    signed (every row when none is named); the others run."""
    real = batch_issue.keyed_item

    def keyed_item(**kwargs: Any) -> Any:
        if rows and kwargs["item"] not in rows:
            return real(**kwargs)
        raise RuntimeError("the process died")

    monkeypatch.setattr(batch_issue, "keyed_item", keyed_item)


def _dropped(api: Api, monkeypatch: pytest.MonkeyPatch) -> None:
    """After a restart the sweep drops the dead run's unsigned claims (they can never run), sending
    nothing."""
    _after_a_restart(monkeypatch)
    monkeypatch.setattr(batch_recovery, "UNSIGNED_GRACE_S", 0)
    block = api.platform.w3.eth.block_number
    batch_sweep.sweep(api.ctx)
    assert api.platform.w3.eth.block_number == block, _mined_since(api, block)


def _statuses(shown: dict[str, Any]) -> list[tuple[int, str, str | None]]:
    return [(o["row"], o["status"], o["code"]) for o in shown["outcomes"]]


def test_api_batch_status_lists_the_rows_a_dead_run_never_sent(
    funded: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An API batch's run dies after its first row was issued and before its other two were signed: GET
    shows the first issued and the others in progress; once the sweep dropped their claims (they can
    never run) it lists them as not sent, saying what to do, where before they vanished from the answer.
    A batch run before its rows were kept answers as before (the rows it claimed). Submitting the same
    file again issues the two, the first once, and the status is that answer."""
    api = funded
    content = _csv(_three_rows(api, "supplier1", 230))
    payables = _payables(api, "core2")
    _rows_die_before_signing(monkeypatch, 3, 4)
    assert _upload(api, "core2", content).status_code == 500
    monkeypatch.undo()
    key = _issue_key(api, "core2", content)
    path = f"/v1/core/payables/batch/{key}"
    shown = api.get("core2", path).json()
    assert not shown["finished"], shown
    assert _statuses(shown) == [(2, "issued", None), (3, "in_progress", "row_in_progress")] + [
        (4, "in_progress", "row_in_progress")
    ]

    _dropped(api, monkeypatch)
    assert not _pending_rows(api, "core2", content)
    shown = api.get("core2", path).json()
    assert shown["finished"], shown
    assert _statuses(shown) == [(2, "issued", None), (3, "failed", "not_sent"), (4, "failed", "not_sent")]
    assert all("Submit the same file again" in o["error"] for o in shown["outcomes"][1:])
    assert api.get("core1", path).status_code == 404  # another company's

    # A batch run before its rows were kept: the rows it claimed, as before.
    with api.ctx.engine.begin() as conn:
        conn.execute(
            delete(idempotency.TABLE).where(
                idempotency.TABLE.c.address == api.address("core2"),
                idempotency.TABLE.c.key == batch_issue.rows_key(key),
            )
        )
    assert _statuses(api.get("core2", path).json()) == [(2, "issued", None)]

    again = _upload(api, "core2", content)
    assert again.status_code == 200 and again.json()["batch_key"] == key, again.text
    outcomes = again.json()["outcomes"]
    assert [o["status"] for o in outcomes] == ["issued"] * 3, outcomes
    assert outcomes[0] == shown["outcomes"][0]  # replayed, not issued twice
    assert _payables(api, "core2") == payables + 3
    assert api.get("core2", path).json() == {"batch_key": key, "finished": True, "outcomes": outcomes}


def test_api_batch_whose_every_claim_was_dropped_lists_its_rows_and_the_dashboard_sends_them(
    funded: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An API batch's run dies before signing any row: GET shows every row in progress, and once the sweep
    dropped the claims every row as not sent (before: 404, though the company did submit it). The same
    file uploaded in the dashboard is the same batch (its kept rows change nothing there): it issues each
    row once, and GET answers the dashboard's result. Another company still gets 404."""
    api = funded
    content = _csv(_three_rows(api, "supplier2", 250))
    payables = _payables(api, "core2")
    _rows_die_before_signing(monkeypatch)
    assert _upload(api, "core2", content).status_code == 500
    monkeypatch.undo()
    key = _issue_key(api, "core2", content)
    path = f"/v1/core/payables/batch/{key}"
    shown = api.get("core2", path).json()
    assert _statuses(shown) == [(row, "in_progress", "row_in_progress") for row in (2, 3, 4)], shown

    _dropped(api, monkeypatch)
    shown = api.get("core2", path)
    assert shown.status_code == 200, shown.text
    assert shown.json()["finished"], shown.text
    assert _statuses(shown.json()) == [(row, "failed", "not_sent") for row in (2, 3, 4)]
    assert api.get("core1", path).status_code == 404

    panel = _dashboard_batch(api, "core2", content)
    assert panel.count('data-status="issued"') == 3, panel
    assert _payables(api, "core2") == payables + 3
    shown = api.get("core2", path).json()
    assert shown["finished"] and [o["status"] for o in shown["outcomes"]] == ["issued"] * 3, shown
    assert _slots(shown) == re.findall(r"Payable P(\d+) issued", panel)
    assert api.get("core1", path).status_code == 404
