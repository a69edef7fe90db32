"""The dashboard's workflows in chromium against the live platform: chain, indexer, API and pages together
(the bank's quote, fund, default and recourse: in both languages in test_browser_workflows_bank.py)."""

from __future__ import annotations

import re
from typing import Any

import pytest
from dashkit import Live, shot, sign_in
from playwright.sync_api import expect
from sqlmodel import Session

from tierflow.platform.dashboard import format as fmt
from tierflow.platform.dashboard import queries

pytestmark = pytest.mark.browser
DAY = 86_400


def flash(page: Any) -> Any:
    return page.locator(".flash")


def test_supplier_splits_and_transfers(browser: Any, live: Live, line_core1: int) -> None:
    _, token = live.issue("core1", "supplier2", face=500_000_00, line_id=line_core1, days=45)
    page = sign_in(browser, live.url, live.keys["supplier2"])
    form = page.get_by_test_id("transfer-form")
    form.get_by_label("Certificate", exact=True).select_option(str(token))
    form.get_by_label("Recipient", exact=True).select_option(live.address("supplier3"))
    form.get_by_label("Amount ¥ (all or part of the certificate)", exact=True).fill("120,000.50")
    form.get_by_role("button", name="Transfer").click()
    expect(flash(page)).to_contain_text("Sent ¥120,000.50 of T")
    expect(page.locator(f'tr[data-token="{token}"]')).to_contain_text("379,999.50")
    shot(page, "supplier-after-transfer")

    receiver = sign_in(browser, live.url, live.keys["supplier3"])
    holdings = receiver.get_by_test_id("holdings")
    expect(holdings).to_contain_text("120,000.50")
    received = holdings.locator("tbody tr", has_text="120,000.50")
    expect(received.locator("td").nth(3)).to_have_text("2")  # tier 2: one split below the first supplier
    received.get_by_role("link").click()  # to the lineage of the payable
    expect(receiver.get_by_test_id("lineage-tree")).to_contain_text("120,000.50")
    shot(receiver, "lineage-after-transfer")


def test_supplier_cannot_open_another_suppliers_page(browser: Any, live: Live) -> None:
    page = sign_in(browser, live.url, live.keys["supplier1"])
    response = page.goto(f"/dashboard/supplier/{live.address('supplier2')}")
    assert response is not None and response.status == 403
    expect(page.get_by_test_id("denied")).to_contain_text("Not allowed")
    shot(page, "supplier-denied")
    # Nor act there, nor see a bank's book or the auditor's view.
    # With this session's CSRF token, so that the party check (not the token) is what refuses it.
    token = page.locator("input[name=csrf_token]").first.input_value()
    posted = page.request.post(
        f"/dashboard/supplier/{live.address('supplier2')}/accept",
        form={"slot_id": "1", "csrf_token": token},
        max_redirects=0,
    )
    assert posted.status == 403
    for path in (f"/dashboard/bank/{live.address('bank1')}", "/dashboard/audit", "/dashboard/operator"):
        denied = page.goto(path)
        assert denied is not None and denied.status == 403, path


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
