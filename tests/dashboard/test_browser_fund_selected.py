"""A bank ticks accepted requests on its queue and funds them in one action, after one confirmation."""

from __future__ import annotations

from typing import Any

import pytest
from dashkit import Live, sign_in
from playwright.sync_api import expect
from sqlmodel import Session

from tierflow.platform.models.financing import FinancingRequest

pytestmark = pytest.mark.browser


def _accepted(live: Live, line: int) -> int:
    """An accepted quote of bank2 on a fresh certificate of supplier2, set up through the API."""
    _, token = live.issue("core1", "supplier2", face=300_000, line_id=line)
    body = live.api(
        "supplier2", "/v1/supplier/financing-requests",
        {"token_id": token, "amount": 200_000, "financier": live.address("bank2"), "with_recourse": False},
    )  # fmt: skip
    request_id = int(body["result"]["request_id"])
    live.api("bank2", f"/v1/financier/requests/{request_id}/quote", {"rate_bps": 600, "valid_hours": 24})
    mine = live.http.get("/v1/supplier/financing-requests", headers={"X-API-Key": live.keys["supplier2"]})
    row = next(r for r in mine.json()["data"] if r["request_id"] == request_id)
    terms = {"rate_bps": row["rate_bps"], "price": row["price"], "expiry": row["quote_expiry"]}
    live.api("supplier2", f"/v1/supplier/financing-requests/{request_id}/accept-quote", terms)
    return request_id


def test_fund_selected_funds_the_ticked_requests_after_one_confirmation(
    browser: Any, live: Live, line_core1: int
) -> None:
    ids = [_accepted(live, line_core1) for _ in range(2)]
    with Session(live.ctx.engine) as db:
        prices = [int(db.get(FinancingRequest, i).price or 0) for i in ids]  # type: ignore[union-attr]
    total = sum(prices)
    bank = sign_in(browser, live.url, live.keys["bank2"])
    for request_id in ids:
        bank.get_by_label(f"Select request {request_id} to fund").check()
    bank.get_by_test_id("fund-selected").click()
    confirm = bank.get_by_test_id("confirm")
    expect(confirm).to_contain_text(f"¥{total // 100:,}.{total % 100:02d}")
    bank.get_by_role("button", name=f"Confirm: pay ¥{total // 100:,}.{total % 100:02d}").click()
    expect(bank.locator(".flash")).to_contain_text("Funded 2 of 2 requests.")
    with Session(live.ctx.engine) as db:
        assert [db.get(FinancingRequest, i).status for i in ids] == ["Funded", "Funded"]  # type: ignore[union-attr]
