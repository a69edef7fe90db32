"""The story of the bills (商业汇票) told in chromium, once in Chinese and once in English, in two chapters:

- bills-discount: the core enterprise's treasury clerk issues a bill, accepts it (承兑) on its confirmation
  page, the supplier signs for it, endorses part of it in yuan (背书) and pledges another part (质押); its
  endorsee asks a bank for a discount (贴现), the bank quotes (a 0 % rate warned of first), the holder
  accepts and is paid, and the bank's book shows the discounted bill (positions, maturity ladder,
  exposure); the bank releases the pledge; the range bar and the endorsement chain are read on the way.
- bills-maturity: at maturity (the devnet clock moved forward) the holders present, the acceptor
  pays one range and dishonours (拒付) another, the last holder claims recourse (追索) against its endorser,
  who pays and takes the range.

Every money or legal step passes its confirmation page; every page is photographed to
tests/artifacts/<lang>/<chapter>/ and every Chinese page is checked for English UI text, unix times and
hex addresses (dashkit.Story).
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from dashkit import Live, Story
from playwright.sync_api import expect
from sqlmodel import col

from tierflow.platform.models.bills import BillPackage, BillQuote, BillRange
from tierflow.platform.models.service import BillDiscountRequest

pytestmark = pytest.mark.browser
DAY = 86_400
LANGUAGES = pytest.mark.parametrize(("locale", "lang"), [("zh-CN", "zh-CN"), ("en-GB", "en")])


def _chapter(live: Live, browser: Any, locale: str, lang: str, chapter: str) -> Story:
    """A chapter of the story, started from an idle indexer (its block writes and the first page's share
    SQLite with the story's writes)."""
    assert live.ctx.link.wait_for(live.platform.w3.eth.block_number, 60)
    return Story(live, browser, locale, lang, chapter=chapter)


def _confirm(page: Any) -> None:
    page.get_by_test_id("confirm-button").click()


@LANGUAGES
def test_story_of_a_discounted_bill_in_each_language(
    browser: Any, live: Live, locale: str, lang: str
) -> None:
    story, en = _chapter(live, browser, locale, lang, "bills-discount"), lang == "en"
    core, supplier = story.actor("core1"), story.actor("supplier1")

    # The treasury clerk draws a bill of ¥1,000,000.00 on its own company to supplier1, against an invoice.
    core.locator("nav a[href='/dashboard/bills']").click()
    issue = core.get_by_test_id("bill-issue-form")
    issue.locator("#bi-payee").select_option(live.address("supplier1"))
    issue.locator("#bi-face").fill("1,000,000.00")
    issue.locator("#bi-maturity").fill(live.today(90))
    issue.locator("#bi-number").fill(live.unique())
    issue.locator("#bi-file").set_input_files(
        {"name": "fapiao.pdf", "mimeType": "application/pdf", "buffer": b"%PDF bill"}
    )
    story.look(core, "core-issue-form")
    issue.locator("button[type=submit]").click()
    expect(core.locator(".flash-ok")).to_contain_text("1,000,000.00")
    package_id = live.latest(
        BillPackage, col(BillPackage.package_id), col(BillPackage.drawer) == live.address("core1")
    ).package_id
    expect(core.locator(".flash-ok")).to_contain_text(f"B{package_id}")
    story.look(core, "core-issued")

    # Accepting (承兑) makes the clerk's company the main debtor: said on a confirmation page first.
    core.locator(f"form[action='/dashboard/bills/{package_id}/accept'] button").click()
    expect(core.get_by_test_id("confirm")).to_contain_text("1,000,000.00")
    if en:
        expect(core.get_by_test_id("confirm")).to_contain_text("You promise to pay")
    story.look(core, "core-confirm-accept")
    _confirm(core)
    expect(core.locator(".flash-ok")).to_contain_text(f"B{package_id}")
    story.look(core, "core-accepted")

    # The supplier signs for it and holds all of its sub-tickets.
    supplier.goto("/dashboard/bills")
    supplier.locator(f"form[action='/dashboard/bills/{package_id}/receive'] button").click()
    expect(supplier.locator(".flash-ok")).to_contain_text(f"B{package_id}")
    root = live.latest(BillRange, col(BillRange.range_id), col(BillRange.package_id) == package_id).range_id
    expect(supplier.get_by_test_id("bill-holdings")).to_contain_text(f"R{root}")
    story.look(supplier, "supplier-received")

    # It endorses ¥300,000.00 to supplier2, in yuan (the service picks sub-tickets 1 … 30,000,000).
    endorse = supplier.get_by_test_id("bill-endorse-form")
    endorse.locator("#en-range").select_option(str(root))
    endorse.locator("#en-to").select_option(live.address("supplier2"))
    endorse.locator("#en-amount").fill("300,000.00")
    endorse.locator("button[type=submit]").click()
    expect(supplier.get_by_test_id("confirm")).to_contain_text("¥300,000.00")
    expect(supplier.get_by_test_id("confirm")).to_contain_text("Wuxi Precision Bearings Co.")
    story.look(supplier, "supplier-confirm-endorse")
    _confirm(supplier)
    tier2 = live.latest(
        BillRange, col(BillRange.range_id), col(BillRange.holder) == live.address("supplier2")
    ).range_id
    ok = supplier.locator(".flash-ok")
    expect(ok).to_contain_text("¥300,000.00")
    expect(ok).to_contain_text("Wuxi Precision Bearings Co.")  # who received how much; the range a detail
    expect(ok).to_contain_text(f"R{tier2}")
    if en:
        expect(ok).to_have_text(f"¥300,000.00 endorsed to Wuxi Precision Bearings Co. (range R{tier2}).")
    story.look(supplier, "supplier-endorsed")

    # A narrow slice of ¥2,000.00 to supplier3 (through the API): the bar has narrow and wide intervals.
    live.api(
        "supplier1",
        f"/v1/bills/ranges/{root}/endorse",
        {"to": live.address("supplier3"), "start": 30_000_001, "end": 30_200_000},
    )
    start = 30_200_001
    # supplier2 passes part of its slice on (sub-tickets as a detail of the API)
    endorsed = live.api(
        "supplier2", f"/v1/bills/ranges/{tier2}/endorse",
        {"to": live.address("supplier3"), "start": 20_000_001, "end": 30_000_000},
    )  # fmt: skip
    tier3 = int(endorsed["result"]["new_range_id"])

    # supplier1 pledges ¥250,000.00 of what it still holds to bank1, in yuan.
    supplier.goto("/dashboard/bills")
    pledge = supplier.get_by_test_id("bill-pledge-form")
    pledge.locator("#pl-range").select_option(str(root))
    pledge.locator("#pl-bank").select_option(live.address("bank1"))
    pledge.locator("#pl-amount").fill("250,000.00")
    if en:
        expect(pledge.get_by_label("Amount ¥ (blank: the whole range)")).to_have_value("250,000.00")
    pledge.locator("button[type=submit]").click()
    first, last = f"{start:,}", f"{start + 25_000_000 - 1:,}"
    expect(supplier.get_by_test_id("confirm")).to_contain_text("¥250,000.00")
    if en:
        expect(supplier.get_by_test_id("confirm")).to_contain_text(
            f"¥250,000.00 (sub-tickets {first} … {last}"
        )
    expect(supplier.get_by_test_id("confirm")).to_contain_text(f"{first} … {last}")
    story.look(supplier, "supplier-confirm-pledge")
    _confirm(supplier)
    pledged = live.latest(
        BillRange, col(BillRange.range_id), col(BillRange.pledgee) == live.address("bank1")
    ).range_id
    ok = supplier.locator(".flash-ok")
    expect(ok).to_contain_text("¥250,000.00")
    expect(ok).to_contain_text("Bank of Tierflow (settlement bank)")
    if en:
        expect(ok).to_contain_text(
            f"¥250,000.00 pledged to Bank of Tierflow (settlement bank) (range R{pledged}"
        )
    holdings = supplier.get_by_test_id("bill-holdings")
    expect(holdings.locator("tr", has_text=f"R{pledged}").filter(has_text=f"{first} … {last}")).to_have_count(
        1
    )
    if en:
        expect(holdings.locator("tr", has_text="Pledged").filter(has_text=f"{first} … {last}")).to_have_count(
            1
        )
    story.look(supplier, "supplier-pledged")
    supplier.goto(f"/dashboard/bills/{package_id}")
    if en:
        expect(supplier.get_by_test_id("range-table")).to_contain_text("pledged to")
    else:  # the history's From / To are who passed the range to whom, not a recourse claim's 追索对象
        expect(supplier.locator("#hist-h + table thead")).to_contain_text("转出方")
    story.look(supplier, "supplier-bill-page")

    # supplier2 asks bank1 to discount the rest of its slice (¥200,000.00, the whole range).
    endorsee = story.actor("supplier2")
    endorsee.goto("/dashboard/bills")
    discount = endorsee.get_by_test_id("bill-discount-form")
    discount.locator("#di-range").select_option(str(tier2))
    discount.locator("#di-bank").select_option(live.address("bank1"))
    discount.locator("button[type=submit]").click()
    expect(endorsee.locator(".flash-ok")).to_contain_text("¥200,000.00")
    story.look(endorsee, "supplier2-discount-asked")
    request_id = live.latest(
        BillDiscountRequest, col(BillDiscountRequest.request_id),
        col(BillDiscountRequest.range_id) == tier2,
    ).request_id  # fmt: skip

    # supplier3 sees the bar and the chain of its range: supplier3 ← supplier2 ← supplier1.
    third = story.actor("supplier3")
    third.locator("nav a[href='/dashboard/bills']").click()
    expect(third.get_by_test_id("bill-holdings")).to_contain_text(f"R{tier3}")
    third.goto(f"/dashboard/bills/{package_id}?range={tier3}")
    bar = third.get_by_test_id("range-bar")
    expect(bar).to_be_visible()
    # 2 slices (supplier2 split its own in two), the pledged part and the remainder
    assert bar.locator("rect").count() == 5
    expect(bar).to_contain_text("Wuxi Precision Bearings Co.")  # the wide intervals are labelled
    expect(third.get_by_test_id(f"segment-{tier3}").locator("rect")).to_have_attribute("stroke-width", "3")
    chain = third.get_by_test_id("endorsement-chain")
    expect(chain.locator("li")).to_have_count(4)  # three records and the drawer
    expect(chain.locator("li").nth(0)).to_contain_text("Suzhou Fasteners Co.")
    expect(chain.locator("li").nth(1)).to_contain_text("Wuxi Precision Bearings Co.")
    expect(chain.locator("li").nth(2)).to_contain_text("Ningbo Steel Frames Co.")
    story.look(third, "supplier3-range-bar-and-chain")

    # bank1 quotes from its discount queue: a 0 % rate is warned of and cannot be confirmed…
    bank = story.actor("bank1")
    bank.goto("/dashboard/bills")
    row = bank.get_by_test_id(f"bill-request-{request_id}")
    expect(row).to_contain_text("200,000.00")
    story.look(bank, "bank-discount-queue")
    row.locator(f"#rate-{request_id}").fill("0")
    row.get_by_test_id(f"bill-quote-{request_id}").click()
    expect(bank.get_by_test_id("rate-warning").first).to_be_visible()
    expect(bank.get_by_test_id("confirm-bill-quote-submit")).to_be_disabled()
    story.look(bank, "bank-confirm-quote-warning")
    # …then 3.60 %, behind a confirmation of what it pays and receives
    bank.goto("/dashboard/bills")
    row = bank.get_by_test_id(f"bill-request-{request_id}")
    row.locator(f"#rate-{request_id}").fill("3.60")
    if en:
        expect(row.get_by_label("Rate % a year")).to_have_value("3.60")
        expect(row.get_by_role("button", name="Quote…")).to_be_visible()
    row.get_by_test_id(f"bill-quote-{request_id}").click()
    confirm = bank.get_by_test_id("confirm-bill-quote")
    expect(confirm).to_contain_text("200,000.00")
    price = bank.get_by_test_id("bill-quote-price").inner_text()
    assert re.fullmatch(r"19\d,\d{3}\.\d{2}", price), price  # 3.6 % for ~90 days ≈ ¥1,800 interest
    story.look(bank, "bank-confirm-quote")
    bank.get_by_test_id("confirm-bill-quote-submit").click()
    flash = bank.locator(".flash")
    expect(flash).to_contain_text(str(request_id))
    expect(flash).to_contain_text("3.60%")
    if en:
        expect(flash).to_contain_text(f"Quoted discount request {request_id} at 3.60%")
        expect(bank.get_by_test_id(f"bill-request-{request_id}")).to_contain_text("quoted")
    story.look(bank, "bank-quoted")

    # The holder reviews the quote and accepts: the bank pays it the price, the range moves (DvP).
    quote_id = live.latest(BillQuote, col(BillQuote.quote_id), col(BillQuote.range_id) == tier2).quote_id
    endorsee.goto("/dashboard/bills")
    endorsee.get_by_test_id(f"bill-accept-{quote_id}").click()
    expect(endorsee.get_by_test_id("confirm-bill-accept")).to_contain_text(
        "Bank of Tierflow (settlement bank)"
    )
    story.look(endorsee, "supplier2-confirm-discount")
    endorsee.locator("main form[method=post] button[type=submit]").click()
    expect(endorsee.locator(".flash-ok")).to_contain_text(price)
    story.look(endorsee, "supplier2-discounted")

    # The bank's book holds the discounted bill: positions by obligor, the maturity ladder, exposure.
    bank.goto(f"/dashboard/bank/{live.address('bank1')}?book=inline")
    expect(bank.get_by_test_id("by-obligor")).to_contain_text("Hangzhou Grand Motors Group")
    expect(bank.get_by_test_id("exposure")).to_contain_text("Hangzhou Grand Motors Group")
    expect(bank.locator(".chart-box svg").first).to_be_visible()
    story.look(bank, "bank-book")

    # The bank releases the pledge once the loan it secured is repaid, behind its confirmation.
    bank.goto("/dashboard/bills")
    bank.get_by_test_id(f"bill-pledged-{pledged}").locator("button").click()
    expect(bank.get_by_test_id("confirm")).to_contain_text("¥250,000.00")
    expect(bank.get_by_test_id("confirm")).to_contain_text(f"R{pledged}")
    if en:
        expect(bank.get_by_test_id("confirm")).to_contain_text(f"¥250,000.00 (range R{pledged})")
        expect(bank.get_by_role("button", name="Confirm: release the pledge")).to_be_visible()
    story.look(bank, "bank-confirm-release")
    _confirm(bank)
    expect(bank.locator(".flash-ok")).to_contain_text(f"R{pledged}")
    if en:
        expect(bank.locator(".flash")).to_contain_text(f"Released the pledge on range R{pledged}")
    expect(bank.get_by_test_id(f"bill-pledged-{pledged}")).to_have_count(0)
    story.look(bank, "bank-released")
    for page in (core, supplier, endorsee, third, bank):
        assert not page.console_errors, page.console_errors
        page.context.close()


@LANGUAGES
def test_story_of_a_bill_at_maturity_in_each_language(
    browser: Any, live: Live, locale: str, lang: str
) -> None:
    story, en = _chapter(live, browser, locale, lang, "bills-maturity"), lang == "en"
    # A bill of ¥10,000.00 due in two days (set up through the API; chapter bills-discount shows the
    # pages): supplier1 endorses ¥4,000.00 to supplier2, who passes it on to supplier3.
    _, root = live.received_bill("core1", "supplier1", 10_000_00, days=2)
    tier2 = int(live.api("supplier1", f"/v1/bills/ranges/{root}/endorse", {
        "to": live.address("supplier2"), "amount": 4_000_00,
    })["result"]["new_range_id"])  # fmt: skip
    held = int(live.api("supplier2", f"/v1/bills/ranges/{tier2}/endorse", {
        "to": live.address("supplier3"),
    })["result"]["new_range_id"])  # fmt: skip

    # Past maturity (the devnet clock; the operator's control is shown in the payable's chapter),
    # supplier1 presents its range (through the API) and supplier3 its own, on its page.
    live.platform.increase_time(3 * DAY)
    live.api("supplier1", f"/v1/bills/ranges/{root}/present")
    third = story.actor("supplier3")
    third.goto("/dashboard/bills")
    third.locator(f"form[action='/dashboard/bills/ranges/{held}/present'] button").click()
    expect(third.locator(".flash-ok")).to_contain_text(f"R{held}")
    story.look(third, "supplier3-presented")

    # The acceptor pays supplier1's ¥6,000.00, on its confirmation page…
    core = story.actor("core1")
    core.goto("/dashboard/bills")
    story.look(core, "core-waiting")
    core.get_by_test_id(f"bill-presented-{root}").locator("form[action$='/pay'] button").click()
    expect(core.get_by_test_id("confirm")).to_contain_text("¥6,000.00")
    expect(core.get_by_test_id("confirm")).to_contain_text("Ningbo Steel Frames Co.")
    if en:
        expect(core.get_by_test_id("confirm-button")).to_have_text("Confirm: pay ¥6,000.00")
    story.look(core, "core-confirm-pay")
    _confirm(core)
    expect(core.locator(".flash-ok")).to_contain_text(f"R{root}")
    story.look(core, "core-paid")

    # …and dishonours (拒付) supplier3's ¥4,000.00 for a dispute over the goods.
    row = core.get_by_test_id(f"bill-presented-{held}")
    row.locator(f"#reason-{held}").select_option("2")
    row.locator("form[action$='/dishonour'] button").click()
    expect(core.get_by_test_id("confirm")).to_contain_text("Suzhou Fasteners Co.")
    expect(core.get_by_test_id("confirm")).to_contain_text("货物争议" if not en else "dispute over the goods")
    story.look(core, "core-confirm-dishonour")
    _confirm(core)
    expect(core.locator(".flash-ok")).to_contain_text(f"R{held}")
    story.look(core, "core-dishonoured")

    # supplier3 claims recourse (追索) against its endorser supplier2 (offered: supplier2, supplier1, drawer).
    third.goto("/dashboard/bills")
    form = third.get_by_test_id(f"bill-recourse-form-{held}")
    form.locator("select").select_option(live.address("supplier2"))
    story.look(third, "supplier3-recourse-form")
    form.locator("button[type=submit]").click()
    expect(third.get_by_test_id("confirm")).to_contain_text("Wuxi Precision Bearings Co.")
    expect(third.get_by_test_id("confirm")).to_contain_text("¥4,000.00")
    story.look(third, "supplier3-confirm-recourse")
    _confirm(third)
    expect(third.locator(".flash-ok")).to_contain_text(f"R{held}")
    expect(third.get_by_test_id(f"bill-recourse-claimed-{held}")).to_contain_text(
        "Wuxi Precision Bearings Co."
    )
    story.look(third, "supplier3-recourse-claimed")

    # supplier2 pays the claim and takes the range (it may go on against supplier1 or the drawer).
    live.api("bank1", "/v1/settlement/mint", {"to": live.address("supplier2"), "amount": 4_000_00})
    endorser = story.actor("supplier2")
    endorser.goto("/dashboard/bills")
    endorser.get_by_test_id(f"bill-claim-{held}").locator("button").click()
    expect(endorser.get_by_test_id("confirm")).to_contain_text("¥4,000.00")
    story.look(endorser, "supplier2-confirm-settle")
    _confirm(endorser)
    expect(endorser.locator(".flash-ok")).to_contain_text(f"R{held}")
    story.look(endorser, "supplier2-settled")
    for page in (third, core, endorser):
        assert not page.console_errors, page.console_errors
        page.context.close()
