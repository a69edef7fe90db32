"""Waiting is visible: a dashboard write reports sent → in block n → indexed, and the page shows it."""

from __future__ import annotations

import secrets
from typing import Any

import httpx
import pytest
from dashkit import Live, dashboard_sign_in, sign_in
from playwright.sync_api import expect

from tierflow.platform.dashboard import progress


def _client(live: Live, who: str) -> httpx.Client:
    client = httpx.Client(base_url=live.url, timeout=60)
    assert dashboard_sign_in(client, live.keys[who]).status_code == 303
    return client


def test_write_progress_moves_from_sent_to_block_to_indexed(
    live: Live, line_core1: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    slot, _ = live.issue("core1", "supplier2", face=80_000_00, line_id=line_core1, days=30)
    seen: list[tuple[str, str, int | None]] = []
    update = progress.update

    def spy(write_id: str, stage: str, details: dict[str, Any]) -> None:
        seen.append((write_id, stage, details.get("block")))
        update(write_id, stage, details)

    monkeypatch.setattr(progress, "update", spy)
    core, other = _client(live, "core1"), _client(live, "supplier2")
    try:
        write_id = secrets.token_hex(16)
        assert core.get(f"/dashboard/writes/{write_id}").json()["stage"] == "unknown"  # not arrived yet
        done = core.post(
            f"/dashboard/core/{live.address('core1')}/repay",
            data={"slot_id": slot, "amount": "80,000.00", "confirmed": "yes", "write_id": write_id},
        )
        assert done.status_code == 303
        stages = [stage for wid, stage, _ in seen if wid == write_id]
        # each transaction of the write (an allowance first, then the repayment) is sent, mined, indexed
        assert stages[-1] == "done" and len(stages) >= 4 and len(stages[:-1]) % 3 == 0, stages
        assert stages[:-1] == ["sending", "mined", "indexed"] * (len(stages[:-1]) // 3), stages
        blocks = [block for wid, stage, block in seen if wid == write_id and stage == "mined"]
        assert all(isinstance(b, int) and b > 0 for b in blocks)
        state = core.get(f"/dashboard/writes/{write_id}").json()
        assert state["stage"] == "done" and state["block"] == blocks[-1] and state["seconds"] >= 0
        assert other.get(f"/dashboard/writes/{write_id}").json()["stage"] == "unknown"  # nobody else's
        assert core.get("/dashboard/writes/not-an-id").status_code == 404
    finally:
        core.close()
        other.close()


def test_write_progress_line_shows_while_the_post_waits(browser: Any, live: Live, line_core1: int) -> None:
    slot, _ = live.issue("core1", "supplier2", face=90_000_00, line_id=line_core1, days=30)
    page = sign_in(browser, live.url, live.keys["core1"])
    page.get_by_test_id("upcoming").locator(f'tr[data-slot="{slot}"]').get_by_role(
        "button", name="Repay"
    ).click()
    # A post whose answer is slow to come: hold the submission in the page (after app.js has seen it);
    # the page must say that it is waiting, poll where the write is, and count the seconds.
    page.evaluate("() => document.addEventListener('submit', (e) => e.preventDefault())")
    page.get_by_role("button", name="Confirm: pay ¥90,000.00").click()
    line = page.get_by_test_id("write-progress")
    expect(line).to_be_visible()
    expect(line).to_contain_text("Sent; waiting for the platform")
    expect(line).to_contain_text("(2 s)", timeout=6000)  # a long wait never looks frozen
    page.reload()
    page.get_by_role("button", name="Confirm: pay ¥90,000.00").click()
    expect(page.locator(".flash")).to_contain_text(f"Repaid ¥90,000.00 on P{slot}")
