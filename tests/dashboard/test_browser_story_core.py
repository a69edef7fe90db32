"""The core enterprise's chapter of the story in chromium, once in Chinese and once in English: the
treasury clerk issues payables in a batch from an ERP export (row errors first, then one confirmation,
then the results: 200 rows in English, issue 16's size; a small file with Chinese headers in Chinese),
issues one from the form, repays it on its confirmation page and sees the payout reach the supplier at
maturity, and reads which banks and tiers hold its paper. Every page is photographed to
tests/artifacts/<lang>/core/ and every Chinese page is checked for English, hex and unix times.
"""

from __future__ import annotations

import csv
import io
import re
from typing import Any

import pytest
from dashkit import Live, Story
from playwright.sync_api import expect
from sqlmodel import Session, col, func, select

from tierflow.platform.dashboard import format as fmt
from tierflow.platform.dashboard import queries
from tierflow.platform.models import Payable
from tierflow.platform.models.service import DirectoryParticipant

pytestmark = pytest.mark.browser
ROWS = {"en": 200, "zh-CN": 3}  # issue 16's 200-row file once; the other language a small one
HEADERS = {
    "en": ["supplier", "amount", "maturity", "credit line", "invoice numbers"],
    "zh-CN": ["供应商", "金额（元）", "到期日", "授信编号", "发票号码"],  # a Chinese ERP's export
}


def _csv(lang: str, rows: list[list[Any]]) -> dict[str, Any]:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(HEADERS[lang])
    writer.writerows(rows)
    return {"name": "erp-export.csv", "mimeType": "text/csv", "buffer": out.getvalue().encode()}


def _payables(live: Live, core: str) -> int:
    with Session(live.ctx.engine) as db:
        return int(db.exec(select(func.count()).where(col(Payable.obligor) == live.address(core))).one())


@pytest.mark.parametrize(("locale", "lang"), [("zh-CN", "zh-CN"), ("en-GB", "en")])
def test_story_of_a_core_enterprise_in_each_language(
    browser: Any, live: Live, line_core1: int, locale: str, lang: str
) -> None:
    en = lang == "en"
    line = live.api(
        "bank2", "/v1/financier/credit-lines",
        {"obligor": live.address("core2"), "limit": 10**12, "expiry": live.today(300)},
    )["result"]["line_id"]  # fmt: skip
    # a piece of core1's paper financed by bank2, for the page that says who holds it
    _, financed = live.issue("core1", "supplier1", face=100_000_00, line_id=line_core1, days=90)
    live.funded("supplier1", "bank2", financed, 40_000_00)
    with Session(live.ctx.engine) as db:
        supplier = db.get(DirectoryParticipant, live.address("supplier3"))
        assert supplier is not None
        name = supplier.legal_name
    assert live.ctx.link.wait_for(live.platform.w3.eth.block_number, 60)
    story = Story(live, browser, locale, lang, chapter="core")

    # The batch: one wrong row (three decimals) lists the rows with the problem and sends nothing.
    batch = story.actor("core2")
    before = _payables(live, "core2")
    wrong = [
        [name, "12.345", live.today(60), line, live.unique()],
        [name, "10", live.today(60), line, live.unique()],
    ]
    batch.get_by_test_id("batch-form").locator("#batch-file").set_input_files(_csv(lang, wrong))
    story.look(batch, "batch-form")
    batch.get_by_test_id("batch-check").click()
    expect(batch.get_by_test_id("batch-refused")).to_be_visible()
    errors = batch.get_by_test_id("batch-errors")
    expect(errors.locator("tbody tr")).to_have_count(1)
    if en:
        expect(errors).to_contain_text("at most two decimals")
    # the column in words, not its key
    expect(errors.locator("td", has_text=re.compile("^Amount$" if en else "^金额$"))).to_have_count(1)
    story.look(batch, "batch-refused")
    assert _payables(live, "core2") == before

    count = ROWS[lang]
    rows = [[name, f"{1000 + i}.50", live.today(60 + i % 30), line, live.unique()] for i in range(count)]
    total = sum(100_050 + 100 * i for i in range(count))
    batch.goto(f"/dashboard/core/{live.address('core2')}")
    batch.get_by_test_id("batch-form").locator("#batch-file").set_input_files(_csv(lang, rows))
    batch.get_by_test_id("batch-check").click()
    confirm = batch.get_by_test_id("confirm")
    expect(confirm).to_contain_text(str(count))
    expect(confirm).to_contain_text(f"¥{total // 100:,}.{total % 100:02d}")
    story.look(batch, "batch-confirm")
    if en:
        expect(batch.get_by_test_id("confirm-button")).to_have_text(f"Confirm: issue {count} payables")
    batch.get_by_test_id("confirm-button").click()
    expect(batch).to_have_url(re.compile("/batch/[0-9a-f]{64}$"))
    summary = f"{count} of {count} payables issued" if en else f"已开立 {count} / {count} 笔应付账款"
    expect(batch.get_by_test_id("batch-summary")).to_contain_text(summary, timeout=60_000)
    results = batch.get_by_test_id("batch-results")
    expect(results.locator('tbody tr[data-status="issued"]')).to_have_count(count)
    expect(results).to_contain_text(re.compile(r"Payable P\d+ issued" if en else r"应付账款 P\d+"))
    story.look(batch, "batch-results")
    assert _payables(live, "core2") == before + count

    # One payable from the form, accepted by the supplier, repaid on its confirmation page.
    core = story.actor("core1")
    form = core.get_by_test_id("issue-form")
    form.locator("#is-supplier").select_option(live.address("supplier4"))
    form.locator("#is-face").fill("250,000.00")
    form.locator("#is-maturity").fill(live.today(30))
    form.locator("#is-line").select_option(str(line_core1))
    form.locator("#is-files").set_input_files(
        {"name": "invoice-8841.pdf", "mimeType": "application/pdf", "buffer": b"%PDF-1.4 invoice 8841"}
    )
    form.locator("#is-numbers").fill(live.unique())
    form.locator("button[type=submit]").click()
    expect(core.locator(".flash-ok")).to_contain_text("250,000.00")
    if en:
        expect(core.locator(".flash-ok")).to_contain_text("Issued ¥250,000.00 to Jiaxing Coatings Co.")
    story.look(core, "issued")
    payable = live.latest(Payable, col(Payable.slot_id), col(Payable.obligor) == live.address("core1"))
    assert payable.face == 250_000_00
    slot, token = payable.slot_id, payable.root_token_id

    supplier4 = story.actor("supplier4")
    expect(supplier4.get_by_test_id("incoming")).to_contain_text("250,000.00")
    supplier4.locator(f"form[action$='/accept']:has(input[name=slot_id][value='{slot}']) button").click()
    expect(supplier4.locator(".flash-ok")).to_contain_text(f"P{slot}")

    core.reload()
    upcoming = core.get_by_test_id("upcoming").locator(f'tbody tr[data-slot="{slot}"]')
    expect(upcoming.locator(f"#repay-{slot}")).to_have_value("250,000.00")
    with Session(live.ctx.engine) as db:  # core1 also pays in other tests of this session
        before_fen = queries.settlement_balance(db, live.address("core1"))
    upcoming.locator("form[action$='/repay'] button[type=submit]").click()
    # Money moves only after a page says what will happen: amount, payable, balance before and after.
    confirm = core.get_by_test_id("confirm")
    expect(confirm).to_contain_text(f"P{slot}")
    expect(confirm).to_contain_text("250,000.00")
    expect(confirm).to_contain_text(f"¥{fmt.yuan(before_fen)} → ¥{fmt.yuan(before_fen - 25_000_000)}")
    if en:
        expect(confirm).to_contain_text(f"P{slot} to Jiaxing Coatings Co., face ¥250,000.00")
        expect(core.get_by_test_id("confirm-button")).to_have_text("Confirm: pay ¥250,000.00")
    story.look(core, "confirm-repay")
    core.get_by_test_id("confirm-button").click()
    expect(core.locator(".flash-ok")).to_contain_text(f"P{slot}")
    if en:
        expect(core.locator(".flash-ok")).to_contain_text(f"Repaid ¥250,000.00 on P{slot}")
    expect(core.get_by_test_id("balance")).to_have_text(fmt.yuan(before_fen - 25_000_000))

    # Which banks and which tiers hold its paper: bank2 financed 40,000.00 of it.
    expect(core.get_by_test_id("banks-holding")).to_contain_text(_name(live, "bank2"))
    expect(core.get_by_test_id("tiers")).to_contain_text("Banks (financed)" if en else "银行（已融资）")
    story.look(core, "repaid-banks-and-tiers")
    story.nav(core)
    core.goto("/dashboard/bills")
    story.nav(core)
    story.look(core, "bills")

    # Maturity passes; the holder claims and the payout shows on its page.
    story.claim_after(supplier4, 31, token, "250,000.00")
    story.look(supplier4, "supplier-payout")
    for page in (core, supplier4):
        assert not page.console_errors, page.console_errors
    for page in (batch, core, supplier4):
        page.context.close()


def _name(live: Live, who: str) -> str:
    with Session(live.ctx.engine) as db:
        return queries.directory(db).name(live.address(who))
