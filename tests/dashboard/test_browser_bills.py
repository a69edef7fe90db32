"""Bill pages in chromium on the live platform: range bar, endorsement chain, a bank quoting a discount."""

from __future__ import annotations

import re
from typing import Any

import pytest
from dashkit import Live, shot, sign_in
from playwright.sync_api import expect

pytestmark = pytest.mark.browser


def _bill(live: Live) -> tuple[int, int]:
    """A received bill of ¥1,000,000.00 (set up through the API; the flows under test use the pages)."""
    upload = live.http.post(
        "/v1/bills/documents",
        headers={"X-API-Key": live.keys["core1"]},
        files={"file": ("invoice.pdf", b"%PDF bill", "application/pdf")},
        data={"seller": live.address("supplier1"), "kind": "invoice", "invoice_number": live.unique()},
    )
    assert upload.status_code == 200, upload.text
    body = live.api(
        "core1",
        "/v1/bills",
        {
            "acceptor": live.address("core1"),
            "payee": live.address("supplier1"),
            "face": 1_000_000_00,
            "maturity": live.today(90),
            "document_ids": [upload.json()["document_id"]],
        },
    )
    package_id = int(body["result"]["package_id"])
    live.api("core1", f"/v1/bills/{package_id}/accept")
    root = int(live.api("supplier1", f"/v1/bills/{package_id}/receive")["result"]["range_id"])
    return package_id, root


def test_bill_range_bar_chain_and_bank_quote(browser: Any, live: Live) -> None:
    package_id, root = _bill(live)
    # supplier1 endorses a dozen slices of different sizes, so the bar has narrow and wide intervals
    holders = ["supplier2", "supplier3", "supplier4", "bank2"]
    start = 1
    tier2 = 0
    for i in range(12):
        size = (i % 4 + 1) * 1_000_00 if i else 30_000_000
        body = live.api(
            "supplier1",
            f"/v1/bills/ranges/{root}/endorse",
            {"to": live.address(holders[i % 4]), "start": start, "end": start + size - 1},
        )
        if i == 0:
            tier2 = int(body["result"]["new_range_id"])
        start += size
    # supplier2 passes part of its slice on, and asks bank1 to discount the rest of it
    endorsed = live.api(
        "supplier2", f"/v1/bills/ranges/{tier2}/endorse",
        {"to": live.address("supplier3"), "start": 20_000_001, "end": 30_000_000},
    )  # fmt: skip
    tier3 = int(endorsed["result"]["new_range_id"])
    request = live.http.post(
        f"/v1/bills/ranges/{tier2}/discount-requests",
        headers={"X-API-Key": live.keys["supplier2"]},
        json={"financier": live.address("bank1")},
    )
    assert request.status_code == 200, request.text
    request_id = request.json()["request_id"]

    # supplier3 sees the bar and the chain of its range: supplier3 ← supplier2 ← supplier1
    page = sign_in(browser, live.url, live.keys["supplier3"])
    page.get_by_role("link", name="Bills").click()
    expect(page.get_by_test_id("bill-holdings")).to_contain_text(f"R{tier3}")
    page.goto(f"/dashboard/bills/{package_id}?range={tier3}")
    bar = page.get_by_test_id("range-bar")
    expect(bar).to_be_visible()
    assert bar.locator("rect").count() == 14  # 12 slices (supplier2 split its own in two), the remainder
    expect(bar).to_contain_text("Wuxi Precision Bearings Co.")  # the widest interval is labelled
    expect(page.get_by_test_id(f"segment-{tier3}").locator("rect")).to_have_attribute("stroke-width", "3")
    chain = page.get_by_test_id("endorsement-chain")
    expect(chain.locator("li")).to_have_count(4)  # three records and the drawer
    expect(chain.locator("li").nth(0)).to_contain_text("Suzhou Fasteners Co.")
    expect(chain.locator("li").nth(1)).to_contain_text("Wuxi Precision Bearings Co.")
    expect(chain.locator("li").nth(2)).to_contain_text("Ningbo Steel Frames Co.")
    shot(page, "bill-range-bar-and-chain")
    assert not page.console_errors, page.console_errors

    # bank1 quotes from its discount queue, behind a confirmation of what it pays and receives
    bank = sign_in(browser, live.url, live.keys["bank1"])
    bank.goto("/dashboard/bills")
    row = bank.get_by_test_id(f"bill-request-{request_id}")
    expect(row).to_contain_text("200,000.00")
    row.get_by_label("Rate % a year").fill("3.60")
    shot(bank, "bill-discount-queue")
    row.get_by_role("button", name="Quote…").click()
    confirm = bank.get_by_test_id("confirm-bill-quote")
    expect(confirm).to_contain_text("200,000.00")
    price = bank.get_by_test_id("bill-quote-price").inner_text()
    assert re.fullmatch(r"19\d,\d{3}\.\d{2}", price), price  # 3.6 % for ~90 days ≈ ¥1,800 interest
    shot(bank, "bill-confirm-quote")
    bank.get_by_test_id("confirm-bill-quote-submit").click()
    expect(bank.locator(".flash")).to_contain_text(f"Quoted discount request {request_id} at 3.60%")
    expect(bank.get_by_test_id(f"bill-request-{request_id}")).to_contain_text("quoted")
    assert not bank.console_errors, bank.console_errors

    # a range pledged to the bank waits on its bills page until it releases it
    pledged = live.api(
        "supplier1",
        f"/v1/bills/ranges/{root}/pledge",
        {"pledgee": live.address("bank1"), "start": start, "end": start + 99},
    )["result"]["pledged_range_id"]
    bank.goto("/dashboard/bills")
    bank.get_by_test_id(f"bill-pledged-{pledged}").get_by_role("button", name="Release pledge").click()
    expect(bank.get_by_test_id("confirm")).to_contain_text("¥1.00 (range R")
    bank.get_by_role("button", name="Confirm: release the pledge").click()
    expect(bank.locator(".flash")).to_contain_text(f"Released the pledge on range R{pledged}")
    expect(bank.get_by_test_id(f"bill-pledged-{pledged}")).to_have_count(0)


def test_bill_pledge_form(browser: Any, live: Live) -> None:
    package_id, root = _bill(live)
    page = sign_in(browser, live.url, live.keys["supplier1"])
    page.goto("/dashboard/bills")
    form = page.get_by_test_id("bill-pledge-form")
    form.get_by_label("Range", exact=True).select_option(str(root))
    form.get_by_label("Pledgee bank").select_option(live.address("bank1"))
    form.get_by_label("Amount ¥ (blank: the whole range)").fill("250,000.00")  # yuan, never sub-tickets
    form.get_by_role("button", name="Pledge", exact=True).click()
    expect(page.get_by_test_id("confirm")).to_contain_text("¥250,000.00 (sub-tickets 1 … 25,000,000")
    page.get_by_role("button", name="Confirm: pledge").click()
    expect(page.locator(".flash")).to_contain_text(
        "¥250,000.00 pledged to Bank of Tierflow (settlement bank) (range R"
    )
    holdings = page.get_by_test_id("bill-holdings")
    expect(holdings.locator("tr", has_text="Pledged").filter(has_text="1 … 25,000,000")).to_have_count(1)
    shot(page, "bill-pledged")
    page.goto(f"/dashboard/bills/{package_id}")
    expect(page.get_by_test_id("range-table")).to_contain_text("pledged to")
    assert not page.console_errors, page.console_errors
