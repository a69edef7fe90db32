"""The dashboard's workflows in chromium against the live platform: chain, indexer, API and pages together."""

from __future__ import annotations

import re
import time
from pathlib import Path
from typing import Any

import pytest
from dashkit import Live, shot, sign_in
from playwright.sync_api import expect
from sqlmodel import Session

from tierflow.platform.dashboard import format as fmt
from tierflow.platform.dashboard import queries
from tierflow.platform.models.financing import FinancingRequest

pytestmark = pytest.mark.browser
DAY = 86_400


def flash(page: Any) -> Any:
    return page.locator(".flash")


def test_bank_quotes_and_funds_a_supplier_request(browser: Any, live: Live, line_core1: int) -> None:
    slot, token = live.issue("core1", "supplier1", face=1_000_000_00, line_id=line_core1, days=60)
    bank = sign_in(browser, live.url, live.keys["bank1"])
    expect(bank).to_have_url(re.compile(f"/dashboard/bank/{live.address('bank1')}$"))

    # The supplier asks bank1 to finance 400,000.00 of its certificate, on its own page.
    supplier = sign_in(browser, live.url, live.keys["supplier1"])
    form = supplier.get_by_test_id("financing-form")
    form.get_by_label("Certificate", exact=True).select_option(str(token))
    form.get_by_label("Bank", exact=True).select_option(live.address("bank1"))
    form.get_by_label("Amount ¥ to finance", exact=True).fill("400,000.00")
    form.get_by_role("button", name="Send request").click()
    expect(flash(supplier)).to_contain_text("to finance ¥400,000.00")
    request_id = int(
        supplier.get_by_test_id("requests").locator("tbody tr").first.get_attribute("data-request")
    )
    shot(supplier, "supplier-financing-requested")

    # The bank's open page picks the request up by itself (live update, no reload).
    row = bank.locator(f'tr[data-request="{request_id}"]')
    expect(row).to_be_visible(timeout=20_000)
    expect(row).to_contain_text("400,000.00")
    expect(row).to_contain_text("Hangzhou Grand Motors Group")  # the obligor, by name
    shot(bank, "bank-dashboard-queue")
    with bank.expect_download() as download:  # the backing invoice, decrypted for the bank asked to fund
        row.locator("a.doc").first.click()
    assert Path(download.value.path()).read_bytes() == b"%PDF invoice"

    row.get_by_label(f"Rate for request {request_id} (%)", exact=True).fill("4.50")
    row.get_by_role("button", name="Quote…").click()
    confirm = bank.get_by_test_id("confirm-quote")
    price_text = bank.get_by_test_id("quote-price").inner_text()
    maturity = int(live.platform.w3.eth.get_block("latest")["timestamp"]) + 60 * DAY  # ≈, for the range check
    assert re.fullmatch(r"\d{1,3}(,\d{3})*\.\d{2}", price_text), price_text
    expected_low = 40_000_000 - fmt.discount(40_000_000, 450, fmt.days_to(maturity, int(time.time())) + 1)
    assert expected_low <= fmt.parse_yuan(price_text) < 40_000_000
    expect(confirm).to_contain_text("4.50%")
    shot(bank, "bank-confirm-quote")
    bank.get_by_role("button", name="Confirm quote").click()
    expect(flash(bank)).to_contain_text(f"Quoted request {request_id} at 4.50%")

    # What the confirmation said is what the chain quoted.
    with Session(live.ctx.engine) as db:
        quoted = db.get(FinancingRequest, request_id)
        assert quoted is not None and quoted.price is not None
        assert fmt.yuan(quoted.price) == price_text

    supplier.reload()
    accept = supplier.get_by_role("button", name=f"Accept ¥{price_text}")
    accept.click()
    expect(flash(supplier)).to_contain_text(f"Quote on request {request_id} accepted")

    bank.goto(f"/dashboard/bank/{live.address('bank1')}")
    bank.locator(f'tr[data-request="{request_id}"]').get_by_role("link", name="Fund…").click()
    expect(bank.get_by_test_id("fund-price")).to_have_text(price_text)
    expect(bank.get_by_test_id("confirm-fund")).to_contain_text("400,000.00")
    shot(bank, "bank-confirm-fund")
    # bank1 is shared with the other browser tests (its settlement money moves there too): compare with
    # its balance just before funding.
    with Session(live.ctx.engine) as db:
        before = queries.settlement_balance(db, live.address("bank1"))
    bank.get_by_role("button", name=f"Confirm: pay ¥{price_text}").click()
    expect(flash(bank)).to_contain_text(f"Funded request {request_id}")

    # The cash leg moved in the same transaction: the bank's settlement balance fell by the price.
    expect(bank.get_by_test_id("balance")).to_have_text(fmt.yuan(before - fmt.parse_yuan(price_text)))
    kpis = bank.get_by_test_id("portfolio-kpis")
    expect(kpis).to_contain_text("400,000.00")
    expect(bank.get_by_test_id("by-obligor")).to_contain_text("Hangzhou Grand Motors Group")
    expect(bank.locator(f'tr[data-request="{request_id}"]')).to_have_count(0)
    shot(bank, "bank-dashboard-portfolio")
    assert bank.console_errors == [] and supplier.console_errors == []
    assert slot > 0


def test_bank_exercises_recourse_after_a_default(browser: Any, live: Live, line_core1: int) -> None:
    # Runs last: it moves the chain's clock past maturity and the grace period.
    slot, token = live.issue("core1", "supplier1", face=300_000_00, line_id=line_core1, days=20)
    body = live.api(
        "supplier1",
        "/v1/supplier/financing-requests",
        {"token_id": token, "amount": 300_000_00, "financier": live.address("bank1"), "with_recourse": True},
    )
    request_id = int(body["result"]["request_id"])
    live.api("bank1", f"/v1/financier/requests/{request_id}/quote", {"rate_bps": 500, "valid_hours": 24})
    quoted = live.platform.c.financing.functions.getRequest(request_id).call()
    terms = {"rate_bps": quoted[6], "price": quoted[9], "expiry": quoted[7]}  # what the seller was shown
    live.api("supplier1", f"/v1/supplier/financing-requests/{request_id}/accept-quote", terms)
    live.api("bank1", f"/v1/financier/requests/{request_id}/fund")
    # The seller keeps the price and adds cash; recourse needs no allowance: its balance pays the debt.
    live.api("bank1", "/v1/settlement/mint", {"to": live.address("supplier1"), "amount": 300_000_00})

    live.platform.increase_time(30 * DAY)  # maturity + the 7-day grace period, unpaid
    live.api("bank1", "/v1/settlement/mint", {"to": live.address("bank2"), "amount": 1})  # a block then

    bank = sign_in(browser, live.url, live.keys["bank1"])
    dialogs: list[str] = []  # money and legal acts are confirmed on a page, never in a browser dialog
    bank.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    troubled = bank.get_by_test_id("troubled").locator("tr", has_text=f"T{token}")
    troubled.get_by_role("button", name="Mark defaulted").click()
    confirm = bank.get_by_test_id("confirm")
    expect(confirm).to_contain_text("¥300,000.00")  # unpaid
    expect(bank.locator("main")).to_contain_text("cannot be undone")
    shot(bank, "bank-confirm-default")
    bank.get_by_test_id("confirm-button").click()
    expect(flash(bank)).to_contain_text(f"Payable P{slot} marked defaulted")

    troubled = bank.get_by_test_id("troubled").locator("tr", has_text=f"T{token}")
    expect(troubled).to_contain_text("Defaulted")
    assert int(troubled.locator("td").nth(4).inner_text()) >= 9  # days overdue on the chain's clock
    before = fmt.parse_yuan(bank.get_by_test_id("balance").inner_text())
    shot(bank, "bank-defaulted-position")
    troubled.get_by_role("button", name="Exercise recourse on Ningbo Steel Frames Co.").click()
    expect(confirm.locator("tr", has_text="Goes back to")).to_contain_text("Ningbo Steel Frames Co.")
    expect(confirm.locator("tr", has_text="then owes you")).to_contain_text("¥300,000.00")
    expect(confirm.locator("tr", has_text="Still owed after that")).to_contain_text("¥0.00")
    shot(bank, "bank-confirm-recourse")
    bank.get_by_test_id("confirm-button").click()
    expect(flash(bank)).to_contain_text(f"Recourse exercised on request {request_id}")
    assert not dialogs, dialogs
    expect(bank.get_by_test_id("balance")).to_have_text(fmt.yuan(before + 300_000_00))
