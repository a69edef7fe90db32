"""A core enterprise issues 200 payables from one CSV in chromium: row errors first, then Confirm, results."""

from __future__ import annotations

import csv
import io
import re
from typing import Any

import pytest
from dashkit import Live, sign_in
from playwright.sync_api import expect
from sqlmodel import Session, col, func, select

from tierflow.platform.models import Payable
from tierflow.platform.models.service import DirectoryParticipant

pytestmark = pytest.mark.browser
ROWS = 200


def _csv(rows: list[list[Any]]) -> dict[str, Any]:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["supplier", "amount", "maturity", "credit line", "invoice numbers"])
    writer.writerows(rows)
    return {"name": "erp-export.csv", "mimeType": "text/csv", "buffer": out.getvalue().encode()}


def _payables(live: Live, core: str) -> int:
    with Session(live.ctx.engine) as db:
        return int(db.exec(select(func.count()).where(col(Payable.obligor) == live.address(core))).one())


def test_batch_issue_page_issues_200_payables_from_one_csv(browser: Any, live: Live) -> None:
    line = live.api(
        "bank2", "/v1/financier/credit-lines",
        {"obligor": live.address("core2"), "limit": 10**12, "expiry": live.today(300)},
    )["result"]["line_id"]  # fmt: skip
    with Session(live.ctx.engine) as db:
        supplier = db.get(DirectoryParticipant, live.address("supplier3"))
        assert supplier is not None
        name = supplier.legal_name
    page = sign_in(browser, live.url, live.keys["core2"])
    before = _payables(live, "core2")

    # One wrong row (three decimals): the rows are listed with the problem and nothing is sent.
    wrong = [
        [name, "12.345", live.today(60), line, live.unique()],
        [name, "10", live.today(60), line, live.unique()],
    ]
    page.get_by_test_id("batch-form").get_by_label("ERP export (CSV or XLSX)").set_input_files(_csv(wrong))
    page.get_by_test_id("batch-check").click()
    expect(page.get_by_test_id("batch-refused")).to_be_visible()
    expect(page.get_by_test_id("batch-errors")).to_contain_text("at most two decimals")
    # the column in words, not its key
    expect(page.get_by_test_id("batch-errors").locator("td", has_text=re.compile("^Amount$"))).to_have_count(
        1
    )
    assert _payables(live, "core2") == before

    rows = [[name, f"{1000 + i}.50", live.today(60 + i % 30), line, live.unique()] for i in range(ROWS)]
    total = sum(100_050 + 100 * i for i in range(ROWS))
    page.goto(f"/dashboard/core/{live.address('core2')}")
    page.get_by_test_id("batch-form").get_by_label("ERP export (CSV or XLSX)").set_input_files(_csv(rows))
    page.get_by_test_id("batch-check").click()
    confirm = page.get_by_test_id("confirm")
    expect(confirm).to_contain_text("200")
    expect(confirm).to_contain_text(f"¥{total // 100:,}.{total % 100:02d}")
    page.get_by_role("button", name="Confirm: issue 200 payables").click()
    expect(page).to_have_url(re.compile("/batch/[0-9a-f]{64}$"))
    expect(page.get_by_test_id("batch-summary")).to_contain_text("200 of 200 payables issued", timeout=60_000)
    expect(page.locator('[data-testid="batch-results"] tbody tr[data-status="issued"]')).to_have_count(ROWS)
    expect(page.get_by_test_id("batch-results")).to_contain_text(re.compile(r"Payable P\d+ issued"))
    assert _payables(live, "core2") == before + ROWS
