"""Batches whose process died mid-run, settled from the chain by the next service that starts on the same
database and chain, without anybody submitting them again (services/batch_sweep.py)."""

from __future__ import annotations

import re
import time
from typing import Any

import pytest
from apikit import Api
from fastapi.testclient import TestClient
from sqlalchemy import select
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
from tierflow.platform.services import audit_trail, batch_recovery, batch_state, batch_sweep
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
