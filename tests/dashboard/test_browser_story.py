"""The story of one payable told in chromium, once in Chinese and once in English (one test, two
languages): the core enterprise's treasury clerk issues it, the bank's credit officer sets its
standing rate, the supplier estimates the financing cost, accepts the payable and asks for financing,
the bank quotes and funds it, the clerk repays it and downloads the cash forecast (each money step
behind its confirmation page), the auditor finds it by invoice number and downloads the CSV, the
operator looks at the console; the confirmation pages of a credit-line freeze, a pause and the
devnet's time travel are shown and left. Every page is photographed to tests/artifacts/<lang>/payable/, and
every Chinese page is checked for English UI text, unix times and hex addresses (participants' and
people's names excepted).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from dashkit import Live, Story
from playwright.sync_api import expect
from sqlmodel import col

from tierflow.platform.models.receivables import Payable

pytestmark = pytest.mark.browser
INVOICE_FILE = "fapiao.pdf"  # short: a page shows it whole (a long one is cut, no longer its name)


@pytest.mark.parametrize(("locale", "lang"), [("zh-CN", "zh-CN"), ("en-GB", "en")])
def test_story_of_a_payable_in_each_language(
    browser: Any, live: Live, line_core1: int, locale: str, lang: str
) -> None:
    # Start from an idle indexer: its block writes and this story's first upload both write SQLite
    # (a write that met the indexer's right after the fixture's mints was refused as "locked" once).
    assert live.ctx.link.wait_for(live.platform.w3.eth.block_number, 60)
    story = Story(live, browser, locale, lang, chapter="payable")
    core, supplier, bank = (story.actor(who) for who in ("core1", "supplier1", "bank1"))

    # The treasury clerk issues a payable against an invoice.
    number = live.unique()
    issue = core.get_by_test_id("issue-form")
    issue.locator("#is-supplier").select_option(live.address("supplier1"))
    issue.locator("#is-face").fill("180,000.00")
    issue.locator("#is-maturity").fill(live.today(60))
    issue.locator("#is-line").select_option(str(line_core1))
    issue.locator("#is-files").set_input_files(
        {"name": INVOICE_FILE, "mimeType": "application/pdf", "buffer": b"%PDF story"}
    )
    issue.locator("#is-numbers").fill(number)
    story.look(core, "core-issue-form")
    issue.locator("button[type=submit]").click()
    expect(core.locator(".flash-ok")).to_contain_text("180,000.00")
    story.look(core, "core-issued")
    payable = live.latest(Payable, col(Payable.slot_id), col(Payable.obligor) == live.address("core1"))
    assert payable.face == 180_000_00
    slot, token = payable.slot_id, payable.root_token_id

    # The bank's credit officer sets its standing rate (4.50 %, the rate the other tests expect of it):
    # its suppliers' financing-cost estimates price at it.
    bank.locator("#standing-rate").fill("4.50")
    bank.locator("form[action$='/rate'] button[type=submit]").click()
    expect(bank.locator(".flash-ok")).to_contain_text("4.50%")
    story.look(bank, "bank-standing-rate")

    # The supplier checks the invoice, accepts, and asks bank1 to finance it.
    supplier.reload()
    story.look(supplier, "supplier-incoming")
    supplier.locator(f"form[action$='/accept']:has(input[name=slot_id][value='{slot}']) button").click()
    expect(supplier.locator(".flash-ok")).to_contain_text(f"P{slot}")
    estimate = supplier.get_by_test_id("estimate-form")  # 融资测算 first: each bank's price
    estimate.locator("#est-amount").fill("180,000.00")
    estimate.locator("#est-token").select_option(str(token))
    estimate.locator("button[type=submit]").click()
    expect(
        supplier.get_by_test_id("estimate").locator(f'tr[data-bank="{live.address("bank1")}"]')
    ).to_contain_text("4.50%")
    story.look(supplier, "supplier-estimate")
    form = supplier.get_by_test_id("financing-form")
    form.locator("#fr-token").select_option(str(token))
    form.locator("#fr-bank").select_option(live.address("bank1"))
    form.locator("#fr-amount").fill("180,000.00")
    form.locator("button[type=submit]").click()
    expect(supplier.locator(".flash-ok")).to_contain_text("180,000.00")
    story.look(supplier, "supplier-requested")
    request_id = int(
        supplier.get_by_test_id("requests").locator("tbody tr").first.get_attribute("data-request")
    )

    # The bank's credit officer quotes (confirmation page), the supplier accepts, the bank funds.
    bank.goto(f"/dashboard/bank/{live.address('bank1')}")
    row = bank.locator(f'tr[data-request="{request_id}"]')
    expect(row).to_be_visible()
    story.look(bank, "bank-queue")
    row.locator(f"#rate-{request_id}").fill("4.80")
    row.locator("form[method=get] button[type=submit]").click()
    expect(bank.get_by_test_id("confirm-quote")).to_contain_text("4.80%")
    story.look(bank, "bank-confirm-quote")
    bank.locator("main form[method=post] button[type=submit]").click()
    expect(bank.locator(".flash-ok")).to_contain_text("4.80%")
    supplier.reload()
    supplier.locator(
        f"form[action$='/accept_quote']:has(input[name=request_id][value='{request_id}']) button"
    ).click()
    expect(supplier.locator(".flash-ok")).to_contain_text(str(request_id))
    story.look(supplier, "supplier-quote-accepted")
    bank.goto(f"/dashboard/bank/{live.address('bank1')}/requests/{request_id}/fund")
    story.look(bank, "bank-confirm-fund")
    bank.locator("main form[method=post] button[type=submit]").click()
    expect(bank.locator(".flash-ok")).to_contain_text(str(request_id))
    story.look(bank, "bank-funded")

    # The clerk repays before maturity: a confirmation page, then the write.
    core.reload()
    repay = core.locator(f"form[action$='/repay']:has(input[name=slot_id][value='{slot}'])")
    repay.locator(f"#repay-{slot}").fill("180,000.00")
    repay.locator("button[type=submit]").click()
    expect(core.get_by_test_id("confirm")).to_contain_text("180,000.00")
    story.look(core, "core-confirm-repay")
    core.get_by_test_id("confirm-button").click()
    expect(core.locator(".flash-ok")).to_contain_text(f"P{slot}")
    story.look(core, "core-repaid")
    with core.expect_download() as download:  # the cash forecast, headers in the clerk's language
        core.get_by_test_id("forecast-csv").click()
    header = Path(download.value.path()).read_text(encoding="utf-8").splitlines()[0]
    assert header.startswith("日期," if lang == "zh-CN" else "Date,"), header

    # The auditor finds the payable by its invoice number, opens its lineage, downloads the CSV.
    auditor = story.actor("auditor")
    auditor.locator("#audit-q").fill(number)
    auditor.locator("#audit-q").press("Enter")
    expect(auditor.locator("main")).to_contain_text(f"P{slot}")
    story.look(auditor, "auditor-search")
    auditor.goto(f"/dashboard/lineage/{slot}")
    story.look(auditor, "auditor-lineage")
    auditor.goto("/dashboard/audit")
    with auditor.expect_download() as download:  # as the browser downloads it (its language headers)
        auditor.locator("a[href='/dashboard/audit/export/payables.csv']").click()
    header = Path(download.value.path()).read_text(encoding="utf-8").splitlines()[0]
    assert ("应付账款编号" if lang == "zh-CN" else "slot_id") in header, header

    # The operator's console, and the supplier's and bank's pages at the end of the story.
    operator = story.actor("operator")
    story.look(operator, "operator-console")
    # Acts with legal effect, each on its confirmation page (then left without doing it): the bank
    # freezing a credit line, the operator pausing the platform and moving the devnet's clock.
    bank.goto(f"/dashboard/bank/{live.address('bank1')}")
    bank.locator(f'tr[data-line="{line_core1}"] form[action$="/freeze"] button').click()
    expect(bank.get_by_test_id("confirm")).to_contain_text("¥")
    story.look(bank, "bank-confirm-freeze")
    for form in ("form[action$='/pause']", "form[action$='/time-travel']"):
        operator.goto("/dashboard/operator")
        operator.locator(f"{form} button[type=submit]").click()
        expect(operator.get_by_test_id("confirm-button")).to_be_visible()
        story.look(operator, f"operator-confirm-{form.split('/')[-1][:-2]}")
        operator.locator("main form a").click()  # back without doing it
        expect(operator.get_by_test_id("paused")).to_have_count(0)
    supplier.reload()
    story.look(supplier, "supplier-after")
    bank.goto(f"/dashboard/bank/{live.address('bank1')}?book=inline")
    story.look(bank, "bank-book")
    for page in (core, supplier, bank, auditor, operator):
        assert not page.console_errors, page.console_errors
        page.context.close()
