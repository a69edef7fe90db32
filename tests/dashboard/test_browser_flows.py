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


def test_operator_onboards_suspends_and_pauses(browser: Any, live: Live) -> None:
    operator = sign_in(browser, live.url, live.keys["operator"])
    expect(operator).to_have_url(re.compile("/dashboard/operator$"))
    operator.on("dialog", lambda dialog: dialog.accept())

    operator.get_by_label("Legal name", exact=True).fill("Taizhou Molds Co.")
    operator.get_by_label("Unified social credit code", exact=True).fill("91331000MA2TEST001")
    operator.get_by_label("Contact", exact=True).fill("finance@molds.example")
    operator.get_by_label("supplier", exact=True).check()
    operator.get_by_role("button", name="Onboard").click()
    expect(flash(operator)).to_contain_text("Onboarded Taizhou Molds Co.")
    key = re.search(r"API key \(shown once\): (tf_\S+)", flash(operator).inner_text())
    assert key is not None
    newcomer = sign_in(browser, live.url, key.group(1))
    expect(newcomer.locator("h1")).to_contain_text("Taizhou Molds Co.")

    row = operator.get_by_test_id("participants").locator("tr", has_text="Taizhou Molds Co.")
    row.get_by_role("button", name="Suspend").click()
    expect(flash(operator)).to_contain_text("Taizhou Molds Co. suspended")
    newcomer.reload()
    expect(newcomer.locator(".top .status-suspended")).to_be_visible()
    operator.get_by_test_id("participants").locator("tr", has_text="Taizhou Molds Co.").get_by_role(
        "button", name="Reinstate"
    ).click()
    expect(flash(operator)).to_contain_text("reinstated")

    operator.get_by_label("Grace period (days)", exact=True).fill("5")
    operator.get_by_role("button", name="Save parameters").click()
    _execute_once_approved(live, operator)  # governance's power: a proposal, a second governor, the delay
    expect(operator.locator(".kpis")).to_contain_text("5 days")
    operator.get_by_role("button", name="Pause the platform").click()
    expect(operator.get_by_test_id("confirm")).to_contain_text("stop for every participant")
    shot(operator, "operator-confirm-pause")
    operator.get_by_test_id("confirm-button").click()
    expect(flash(operator)).to_contain_text("Platform paused")
    expect(operator.get_by_test_id("paused")).to_be_visible()  # every page says so while it lasts
    shot(operator, "operator-paused")
    operator.get_by_role("button", name="Unpause the platform").click()
    operator.get_by_test_id("confirm-button").click()  # the confirmation page, then the proposal
    _execute_once_approved(live, operator)
    expect(operator.get_by_test_id("paused")).to_have_count(0)
    operator.get_by_label("Grace period (days)", exact=True).fill("7")
    operator.get_by_role("button", name="Save parameters").click()
    _execute_once_approved(live, operator)


def _execute_once_approved(live: Live, operator: Any) -> None:
    """The operator's proposal (named in the flash) approved by bank1 over the API, executed after the
    delay with the console's Execute button."""
    expect(flash(operator)).to_contain_text("Proposed to the governors' council as proposal")
    found = re.search(r"as proposal (\d+)", flash(operator).inner_text())
    assert found is not None
    proposal_id = int(found.group(1))
    live.api("bank1", f"/v1/governance/proposals/{proposal_id}/approve")
    live.platform.increase_time(61)
    operator.reload()
    operator.get_by_test_id(f"proposal-{proposal_id}").get_by_role("button", name="Execute").click()
    operator.get_by_test_id("confirm-button").click()  # the confirmation page says what it will do
    expect(flash(operator)).to_contain_text(f"Proposal {proposal_id} executed")


def test_core_enterprise_repays_and_the_payout_appears(browser: Any, live: Live, line_core1: int) -> None:
    core = sign_in(browser, live.url, live.keys["core1"])
    form = core.get_by_test_id("issue-form")
    form.get_by_label("Supplier", exact=True).select_option(live.address("supplier4"))
    form.get_by_label("Face ¥", exact=True).fill("250,000.00")
    form.get_by_label("Maturity", exact=True).fill(live.today(30))
    form.get_by_label("Credit line", exact=True).select_option(str(line_core1))
    form.get_by_label("Invoice files", exact=True).set_input_files(
        {"name": "invoice-8841.pdf", "mimeType": "application/pdf", "buffer": b"%PDF-1.4 invoice 8841"}
    )
    form.get_by_label("Invoice numbers (one a line)", exact=True).fill(live.unique())
    shot(core, "core-issue-form")
    form.get_by_role("button", name="Issue certificate").click()
    expect(flash(core)).to_contain_text("Issued ¥250,000.00 to Jiaxing Coatings Co.")

    supplier = sign_in(browser, live.url, live.keys["supplier4"])
    incoming = supplier.get_by_test_id("incoming")
    expect(incoming).to_contain_text("250,000.00")
    incoming.get_by_role("button", name=re.compile(r"^Accept P\d+$")).first.click()
    expect(flash(supplier)).to_contain_text("accepted")

    core.reload()
    upcoming = core.get_by_test_id("upcoming").locator("tbody tr", has_text="250,000.00").first
    slot = upcoming.get_attribute("data-slot")
    expect(upcoming.get_by_label(f"Amount to repay on P{slot} (¥)", exact=True)).to_have_value("250,000.00")
    with Session(live.ctx.engine) as db:  # core1 also pays in other tests of this session
        before = queries.settlement_balance(db, live.address("core1"))
    upcoming.get_by_role("button", name="Repay").click()
    # Money moves only after a page says what will happen: amount, payable, balance before and after.
    confirm = core.get_by_test_id("confirm")
    expect(confirm).to_contain_text(f"P{slot} to Jiaxing Coatings Co., face ¥250,000.00")
    expect(confirm).to_contain_text(f"¥{fmt.yuan(before)} → ¥{fmt.yuan(before - 25_000_000)}")
    shot(core, "core-confirm-repay")
    core.get_by_role("button", name="Confirm: pay ¥250,000.00").click()
    expect(flash(core)).to_contain_text(f"Repaid ¥250,000.00 on P{slot}")
    expect(core.get_by_test_id("balance")).to_have_text(fmt.yuan(before - 25_000_000))
    shot(core, "core-after-repay")

    # Maturity passes; the holder claims and the payout shows on its page.
    live.platform.increase_time(31 * DAY)
    supplier.reload()
    supplier.get_by_role("button", name="Claim ¥250,000.00").click()
    expect(flash(supplier)).to_contain_text("Claimed")
    expect(supplier.get_by_test_id("payouts")).to_contain_text("250,000.00")
    shot(supplier, "supplier-payout")


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
