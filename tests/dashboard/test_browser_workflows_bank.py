"""The bank's work told in chromium, once in Chinese and once in English, as a credit officer clicks it:
credit lines and settlement money (grant, adjust, freeze, unfreeze, mint, burn), a quote with a chosen
validity and its rate warnings, then funding, and past maturity a default with recourse and its
collection, the claim of a repaid position, the closed positions and realised yield at the end. Every
money and legal act passes its confirmation page first (never a browser dialog); each page is
photographed to tests/artifacts/<lang>/bank-…/ and every Chinese page is checked for English UI text, hex
addresses and unix times (dashkit.Story). Flash messages are compared with the catalogue's sentence in
the story's language.

Named to run after the other browser files that share the live chain: the last chapter moves the
chain's clock past a maturity and its grace period.
"""

from __future__ import annotations

import datetime as dt
import re
import time
from pathlib import Path
from typing import Any

import pytest
from dashkit import Live, Story
from playwright.sync_api import expect
from sqlmodel import Session

from tierflow.platform import i18n
from tierflow.platform.dashboard import format as fmt
from tierflow.platform.dashboard import labels, queries, web
from tierflow.platform.dashboard.pages.bank import REQUEST_VERBS
from tierflow.platform.models.financing import FinancingRequest
from tierflow.platform.services.seed import DEMO_NAMES

pytestmark = pytest.mark.browser
DAY = 86_400
LANGUAGES = pytest.mark.parametrize(("locale", "lang"), [("zh-CN", "zh-CN"), ("en-GB", "en")])


def said(lang: str, message: str, **params: Any) -> str:
    """`message` as the catalogue says it in `lang`, amounts, dates and names filled in as the page does."""
    with i18n.use_locale(lang):
        params = {k: v(lang) if callable(v) else v for k, v in params.items()}
        return i18n.gettext(message, **params)


def money(fen: int) -> Any:
    return lambda lang: _in(lang, i18n.money, fen)


def day(value: dt.date) -> Any:
    return lambda lang: _in(lang, i18n.date, value)


def _in(lang: str, function: Any, value: Any) -> str:
    with i18n.use_locale(lang):
        return str(function(value))


def _balance(live: Live, who: str) -> int:
    with Session(live.ctx.engine) as db:
        return queries.settlement_balance(db, live.address(who))


def _chain_balance(live: Live, who: str) -> int:
    return int(live.platform.c.token.functions.balanceOf(live.address(who)).call())


def _travel(live: Live, days: int) -> None:
    """Move the chain's clock; a small mint then gives the indexer a block of that time."""
    live.platform.increase_time(days * DAY)
    live.api("bank1", "/v1/settlement/mint", {"to": live.address("bank2"), "amount": 1})


def _watch_dialogs(page: Any) -> list[str]:
    """Money and legal acts are confirmed on a page: any browser dialog is recorded (and fails the story)."""
    dialogs: list[str] = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    return dialogs


@LANGUAGES
def test_bank_credit_lines_and_money_in_each_language(
    browser: Any, live: Live, locale: str, lang: str
) -> None:
    story = Story(live, browser, locale, lang, chapter="bank-lines-and-money")
    bank = story.actor("bank1")
    dialogs = _watch_dialogs(bank)
    flash = bank.locator(".flash")
    core2 = DEMO_NAMES["core2"]

    # A credit line to a core enterprise, from the grant form (its last day defaults to a year ahead).
    grant = bank.get_by_test_id("grant-line")
    grant.locator("#gl-obligor").select_option(live.address("core2"))
    grant.locator("#gl-limit").fill("5,000,000.00")
    expiry = dt.date.fromisoformat(grant.locator("#gl-expiry").input_value())
    grant.locator("button[type=submit]").click()
    expect(flash).to_contain_text(
        said(lang, "Granted %(core)s a credit line of %(limit)s until %(day)s; it can issue certificates "
             "on it now.",
             core=core2, limit=money(5_000_000_00), day=day(expiry))
    )  # fmt: skip
    line_id = max(int(n) for n in bank.get_by_test_id("lines").locator("tr[data-line]").evaluate_all(
        "rows => rows.map(r => r.dataset.line)"
    ))  # fmt: skip
    row = bank.locator(f'tr[data-line="{line_id}"]')
    expect(row).to_contain_text("5,000,000.00")
    assert live.platform.c.credit_lines.functions.line(line_id).call()[2] == 5_000_000_00
    story.look(bank, "line-granted")

    # Adjusted: a higher limit, a later last day.
    later = expiry + dt.timedelta(days=30)
    row.locator(f"#limit-{line_id}").fill("6,000,000.00")
    row.locator(f"#expiry-{line_id}").fill(later.isoformat())
    row.locator("form[action$='/adjust'] button[type=submit]").click()
    expect(flash).to_contain_text(
        said(lang, "Credit line %(line)s now has a limit of %(limit)s until %(day)s.",
             line=line_id, limit=money(6_000_000_00), day=day(later))
    )  # fmt: skip
    expect(row).to_contain_text("6,000,000.00")
    assert live.platform.c.credit_lines.functions.line(line_id).call()[2] == 6_000_000_00

    # Frozen, on its confirmation page: nothing drawn, so the limit comes down to nothing.
    row.locator("form[action$='/freeze'] button[type=submit]").click()
    assert _confirm_rows(bank, lang)["Limit"] == "¥6,000,000.00 → ¥0.00"
    assert live.platform.c.credit_lines.functions.available(line_id).call() == 6_000_000_00  # not yet
    story.look(bank, "confirm-freeze")
    bank.get_by_test_id("confirm-button").click()
    frozen = (
        "Credit line %(line)s frozen: its limit is now what is drawn, so nothing new can be issued on it. "
        "Repayments still restore it; set a higher limit to unfreeze it."
    )
    expect(flash).to_contain_text(said(lang, frozen, line=line_id))
    expect(row.get_by_test_id("line-frozen")).to_be_visible()
    expect(row.locator(f"#limit-{line_id}")).to_have_value("6,000,000.00")  # the old limit offered back
    story.look(bank, "line-frozen")
    row.locator("form[action$='/adjust'] button[type=submit]").click()  # Unfreeze
    expect(flash).to_contain_text(
        said(lang, "Credit line %(line)s now has a limit of %(limit)s until %(day)s.",
             line=line_id, limit=money(6_000_000_00), day=day(later))
    )  # fmt: skip
    expect(row.get_by_test_id("line-frozen")).to_have_count(0)
    assert live.platform.c.credit_lines.functions.available(line_id).call() == 6_000_000_00

    # Settlement money: a deposit credited (mint), a withdrawal retired (burn, on its confirmation page).
    mint = bank.get_by_test_id("mint")
    mint.locator("#mint-to").select_option(live.address("supplier3"))
    mint.locator("#mint-amount").fill("8,888.88")
    mint.locator("button[type=submit]").click()
    expect(flash).to_contain_text(
        said(lang, "Credited %(amount)s of settlement money to %(party)s.",
             amount=money(8_888_88), party=DEMO_NAMES["supplier3"])
    )  # fmt: skip
    own = _chain_balance(live, "bank1")
    burn = bank.get_by_test_id("burn")
    burn.locator("#burn-amount").fill("88.88")
    burn.locator("button[type=submit]").click()
    expect(bank.get_by_test_id("confirm")).to_contain_text("¥88.88")
    assert _chain_balance(live, "bank1") == own  # not burnt before Confirm
    story.look(bank, "confirm-burn")
    bank.get_by_test_id("confirm-button").click()
    expect(flash).to_contain_text(
        said(lang, "Retired %(amount)s of settlement money from your own balance.", amount=money(88_88))
    )
    assert _chain_balance(live, "bank1") == own - 88_88
    story.look(bank, "money-retired")
    assert not bank.console_errors, bank.console_errors
    assert not dialogs, dialogs
    bank.context.close()


@LANGUAGES
def test_bank_quotes_with_warnings_and_funds_in_each_language(
    browser: Any, live: Live, line_core1: int, locale: str, lang: str
) -> None:
    slot, token = live.issue("core1", "supplier1", face=1_000_000_00, line_id=line_core1, days=60)
    story = Story(live, browser, locale, lang, chapter="bank-quote-and-fund")
    bank = story.actor("bank1")
    dialogs = _watch_dialogs(bank)
    expect(bank).to_have_url(re.compile(f"/dashboard/bank/{live.address('bank1')}$"))
    flash = bank.locator(".flash")
    # The bank's standing rate (4.50 %, what the other tests expect of it): quotes far from it are warned.
    bank.locator("#standing-rate").fill("4.50")
    bank.locator("form[action$='/rate'] button[type=submit]").click()
    expect(flash).to_contain_text("4.50%")

    # The supplier asks bank1 to finance 400,000.00 of its certificate, on its own page.
    supplier = story.actor("supplier1")
    form = supplier.get_by_test_id("financing-form")
    form.locator("#fr-token").select_option(str(token))
    form.locator("#fr-bank").select_option(live.address("bank1"))
    form.locator("#fr-amount").fill("400,000.00")
    form.locator("button[type=submit]").click()
    expect(supplier.locator(".flash")).to_contain_text(
        said(lang, "Asked %(bank)s to finance %(amount)s of T%(token)s.",
             bank=DEMO_NAMES["bank1"], amount=money(400_000_00), token=token)
    )  # fmt: skip
    request_id = int(
        supplier.get_by_test_id("requests").locator("tbody tr").first.get_attribute("data-request")
    )
    story.look(supplier, "supplier-requested")

    # The bank's open page picks the request up by itself (live update, no reload).
    row = bank.locator(f'tr[data-request="{request_id}"]')
    expect(row).to_be_visible(timeout=20_000)
    expect(row).to_contain_text("400,000.00")
    expect(row).to_contain_text(DEMO_NAMES["core1"])  # the obligor, by name
    story.look(bank, "queue")
    with bank.expect_download() as download:  # the backing invoice, decrypted for the bank asked to fund
        row.locator("a.doc").first.click()
    assert Path(download.value.path()).read_bytes() == b"%PDF invoice"

    # Rates the chain would refuse (0 %, over the cap) are stopped on the confirmation page; one far
    # from the standing rate is warned about. Each page is left without quoting.
    standing, far = 450, 950
    # The first through the row's form; the others as that form asks for them (a GET of the quote page),
    # without reloading the whole dashboard in between.
    row.locator(f"#rate-{request_id}").fill("0")
    row.locator("form[method=get] button[type=submit]").click()
    quote_page = f"/dashboard/bank/{live.address('bank1')}/requests/{request_id}/quote"
    for typed, bps, name in (
        ("0", 0, "zero"),
        ("150", 15_000, "over-cap"),
        (fmt.percent_bps(far)[:-1], far, "far"),
    ):
        if bps:
            bank.goto(f"{quote_page}?rate={typed}&valid_hours=24")
        with i18n.use_locale(lang):
            check = web.rate_check(bps, standing)
        assert check.warnings, (typed, standing)
        for warning in check.warnings:
            expect(bank.get_by_test_id("rate-warning").first).to_contain_text(warning)
        confirm_button = bank.locator("main form[method=post] button[type=submit]")
        if check.blocked:
            expect(confirm_button).to_be_disabled()
        story.look(bank, f"confirm-quote-{name}")
    bank.locator("main form[method=post] a").click()  # back without quoting
    row = bank.locator(f'tr[data-request="{request_id}"]')
    expect(row).to_be_visible()
    assert live.platform.c.financing.functions.getRequest(request_id).call()[9] == 0  # nothing quoted

    # The quote: 4.50 %, valid for 8 hours as chosen (the default is 24, the registry's cap here).
    row.locator(f"#rate-{request_id}").fill("4.50")
    row.locator(f"#valid-{request_id}").select_option("8")
    row.locator("form[method=get] button[type=submit]").click()
    confirm = bank.get_by_test_id("confirm-quote")
    price_text = bank.get_by_test_id("quote-price").inner_text()
    maturity = int(live.platform.w3.eth.get_block("latest")["timestamp"]) + 60 * DAY  # ≈, for the range check
    assert re.fullmatch(r"\d{1,3}(,\d{3})*\.\d{2}", price_text), price_text
    expected_low = 40_000_000 - fmt.discount(40_000_000, 450, fmt.days_to(maturity, int(time.time())) + 1)
    assert expected_low <= fmt.parse_yuan(price_text) < 40_000_000
    expect(confirm).to_contain_text("4.50%")
    valid_for = said(lang, "%(hours)s hours (until about %(when)s)", hours=8, when="|").split("|")[0]
    expect(confirm).to_contain_text(valid_for)  # "8 hours (until about …", the time follows
    story.look(bank, "confirm-quote")
    now = int(live.platform.w3.eth.get_block("latest")["timestamp"])
    bank.locator("main form[method=post] button[type=submit]").click()
    expect(flash).to_contain_text(
        said(lang, "Quoted request %(id)s at %(rate)s; waiting for the supplier to accept.",
             id=request_id, rate="4.50%")
    )  # fmt: skip

    # What the confirmation said is what the chain quoted, for as long as was chosen.
    with Session(live.ctx.engine) as db:
        quoted = db.get(FinancingRequest, request_id)
        assert quoted is not None and quoted.price is not None and quoted.quote_expiry is not None
        assert fmt.yuan(quoted.price) == price_text
        assert abs(quoted.quote_expiry - now - 8 * 3600) < 600, (quoted.quote_expiry, now)

    supplier.reload()
    accept = supplier.locator(
        f"form[action$='/accept_quote']:has(input[name=request_id][value='{request_id}']) button"
    )
    expect(accept).to_contain_text(price_text)
    accept.click()
    expect(supplier.locator(".flash")).to_contain_text(
        said(lang, "Quote on request %(id)s accepted; the bank can now fund it.", id=request_id)
    )
    story.look(supplier, "supplier-accepted")

    bank.goto(f"/dashboard/bank/{live.address('bank1')}?book=inline")
    held = bank.get_by_test_id("portfolio-kpis").locator("dd").nth(1)  # face held
    held_before = fmt.parse_yuan(held.inner_text())
    bank.locator(f"tr[data-request='{request_id}'] a[href$='/requests/{request_id}/fund']").click()
    expect(bank.get_by_test_id("fund-price")).to_have_text(price_text)
    expect(bank.get_by_test_id("confirm-fund")).to_contain_text("400,000.00")
    story.look(bank, "confirm-fund")
    # bank1 is shared with the other browser tests (its settlement money moves there too): compare with
    # its balance just before funding.
    before = _balance(live, "bank1")
    pay = bank.locator("main form[method=post] button[type=submit]")
    expect(pay).to_contain_text(price_text)
    pay.click()
    expect(flash).to_contain_text(said(lang, REQUEST_VERBS["fund"], id=request_id))

    # The cash leg moved in the same transaction: the bank's settlement balance fell by the price.
    expect(bank.get_by_test_id("balance")).to_have_text(fmt.yuan(before - fmt.parse_yuan(price_text)))
    expect(held).to_have_text(fmt.yuan(held_before + 400_000_00))  # the 400,000.00 in the portfolio
    expect(bank.get_by_test_id("by-obligor")).to_contain_text(DEMO_NAMES["core1"])
    expect(bank.locator(f'tr[data-request="{request_id}"]')).to_have_count(0)
    story.look(bank, "funded")
    assert bank.console_errors == [] and supplier.console_errors == []
    assert not dialogs, dialogs
    assert slot > 0
    for page in (bank, supplier):
        page.context.close()


@LANGUAGES
def test_bank_defaults_recourses_collects_and_claims_in_each_language(
    browser: Any, live: Live, line_core1: int, locale: str, lang: str
) -> None:
    # Moves the chain's clock past a maturity and the 7-day grace period: these chapters run last.
    seller = "supplier3" if lang == "zh-CN" else "supplier4"
    name = DEMO_NAMES[seller]
    # The discount (100 % a year over 5 days, a 72nd of the face) is more than all the seller holds
    # besides the price: recourse collects part of the debt at once, the rest after a deposit (Collect).
    face = 80 * _chain_balance(live, seller) + 100_000_00
    slot, token = live.issue("core1", seller, face=face, line_id=line_core1, days=5)
    request_id = live.funded(seller, "bank1", token, face, rate_bps=10_000, with_recourse=True)
    # A second financing, repaid in full before maturity: claimed once due, it closes with its yield.
    paid_slot, paid_token = live.issue("core1", "supplier2", face=80_000_00, line_id=line_core1, days=5)
    paid_request = live.funded("supplier2", "bank1", paid_token, 80_000_00, rate_bps=450)
    live.api("core1", f"/v1/core/payables/{paid_slot}/repay", {"amount": 80_000_00})
    _travel(live, 14)  # past maturity and the grace period, unpaid

    story = Story(live, browser, locale, lang, chapter="bank-default-recourse-claim")
    bank = story.actor("bank1")
    dialogs = _watch_dialogs(bank)
    flash = bank.locator(".flash")
    # the book (overdue positions among it) loads after the page: the locators below wait for it
    troubled = bank.get_by_test_id("troubled").locator("tr", has=bank.locator(f"a[href$='#t{token}']"))
    expect(troubled).to_be_visible()
    story.look(bank, "overdue")

    # Mark defaulted: a legal declaration, on its confirmation page.
    troubled.locator(f"form[action$='/payables/{slot}/default'] button").click()
    confirm = bank.get_by_test_id("confirm")
    expect(confirm).to_contain_text(fmt.yuan(face))  # unpaid
    expect(bank.locator("main")).to_contain_text(
        said(lang, "This is a legal declaration recorded on the chain and it cannot be undone: %(core)s is "
             "in default on %(unpaid)s. Holders financed with recourse may then hand their certificates "
             "back to the sellers, who owe what is still unpaid; any later payment by %(core)s is still "
             "claimable pro rata by whoever holds the certificates then.",
             core=DEMO_NAMES["core1"], unpaid=money(face))
    )  # fmt: skip
    assert live.platform.c.receivables.functions.slot(slot).call()[5] == ACCEPTED  # not declared yet
    story.look(bank, "confirm-default")
    bank.get_by_test_id("confirm-button").click()
    marked = (
        "Payable P%(slot)s marked defaulted: with-recourse positions on it can now be handed back to their "
        "sellers, and any later payment by the obligor is still claimable pro rata."
    )
    expect(flash).to_contain_text(said(lang, marked, slot=slot))

    with i18n.use_locale(lang):
        defaulted = labels.status("Defaulted")
    expect(troubled).to_contain_text(defaulted)
    assert int(troubled.locator("td").nth(4).inner_text()) >= 9  # days overdue on the chain's clock
    story.look(bank, "defaulted")

    # Exercise recourse: the certificate goes back to the seller, who owes its value; what it holds
    # is taken at once.
    held = _chain_balance(live, seller)
    before = _chain_balance(live, "bank1")
    troubled.locator(f"form[action$='/requests/{request_id}/recourse'] button").click()
    rows = _confirm_rows(bank, lang)
    assert rows["Goes back to"] == name, rows
    assert rows[said(lang, "%(seller)s then owes you", seller=name)] == "¥" + fmt.yuan(face)
    assert rows["Collected at once"] == said(
        lang, "%(amount)s from %(seller)s's settlement balance of %(balance)s",
        amount=money(held), seller=name, balance=money(held),
    )  # fmt: skip
    assert rows["Still owed after that"] == "¥" + fmt.yuan(face - held)
    assert _chain_balance(live, "bank1") == before  # nothing moved before Confirm
    story.look(bank, "confirm-recourse")
    bank.get_by_test_id("confirm-button").click()
    expect(flash).to_contain_text(said(lang, REQUEST_VERBS["recourse"], id=request_id))
    expect(bank.get_by_test_id("balance")).to_have_text(fmt.yuan(before + held))
    assert _chain_balance(live, "bank1") == before + held
    assert _chain_balance(live, seller) == 0  # all it had went to the debt; the rest is still owed
    story.look(bank, "recoursed")

    # A deposit reaches the seller (credited by the settlement bank, on this page); Collect takes the rest.
    owed = face - held
    mint = bank.get_by_test_id("mint")
    mint.locator("#mint-to").select_option(live.address(seller))
    mint.locator("#mint-amount").fill(fmt.yuan(owed))
    mint.locator("button[type=submit]").click()
    expect(flash).to_contain_text(money(owed)(lang))
    before = _chain_balance(live, "bank1")
    bank.locator(f"form[action$='/recourse/{request_id}/collect'] button").click()
    rows = _confirm_rows(bank, lang)
    assert rows[said(lang, "%(seller)s owes you", seller=name)] == "¥" + fmt.yuan(owed), rows
    assert rows["Its settlement balance"] == f"¥{fmt.yuan(owed)} → ¥0.00"
    assert _chain_balance(live, "bank1") == before  # the page sent nothing
    story.look(bank, "confirm-collect")
    bank.get_by_test_id("confirm-button").click()
    expect(flash).to_contain_text(
        said(lang, "Collected what %(seller)s could pay of its recourse debt from its balance.", seller=name)
    )
    assert _chain_balance(live, "bank1") == before + owed
    expect(bank.get_by_test_id("recoursed").locator("tr", has_text=name).last).to_contain_text("0.00")
    story.look(bank, "collected")

    # The repaid, matured position: Claim, on a page saying who pays whom how much, then the closed deal.
    claim = bank.get_by_test_id("claimable").locator(f'tr[data-token="{paid_token}"]')  # seen in "collected"
    before = _chain_balance(live, "bank1")
    claim.locator("button[type=submit]").click()
    confirm = bank.get_by_test_id("confirm")
    expect(confirm).to_contain_text(
        said(lang, "%(core)s pays %(holder)s %(amount)s, out of its repayment held on the platform",
             core=DEMO_NAMES["core1"], holder=DEMO_NAMES["bank1"], amount=money(80_000_00))
    )  # fmt: skip
    expect(confirm).to_contain_text(f"¥{fmt.yuan(before)} → ¥{fmt.yuan(before + 80_000_00)}")
    assert _chain_balance(live, "bank1") == before  # nothing claimed before Confirm
    story.look(bank, "confirm-claim")
    bank.get_by_test_id("confirm-button").click()
    expect(flash).to_contain_text(
        said(lang, "Claimed %(amount)s on certificate T%(token)s: it is in your settlement balance.",
             amount=money(80_000_00), token=paid_token)
    )  # fmt: skip
    assert _chain_balance(live, "bank1") == before + 80_000_00
    expect(bank.get_by_test_id("claimable").locator(f'tr[data-token="{paid_token}"]')).to_have_count(0)
    # Closed: what was paid and received, from the indexed events, and the yield realised.
    price = int(live.platform.c.financing.functions.getRequest(paid_request).call()[9])
    deal = bank.get_by_test_id("closed").locator(f'tr[data-request="{paid_request}"]')
    expect(deal).to_contain_text(fmt.yuan(price))
    expect(deal).to_contain_text("80,000.00")
    # The realised yield is what the closed deals shown earned a year: profit over price × days, 360 days.
    cells = (
        bank.get_by_test_id("closed")
        .locator("tbody tr")
        .evaluate_all("rows => rows.map(r => [...r.querySelectorAll('td')].map(td => td.innerText))")
    )
    paid = [fmt.parse_yuan(row[3]) for row in cells]
    profit = sum(fmt.parse_yuan(row[4]) for row in cells) - sum(paid)
    weighted = sum(p * int(row[7]) for p, row in zip(paid, cells, strict=True))
    realised = (2 * profit * 3_600_000 + weighted) // (2 * weighted)
    expect(bank.get_by_test_id("closed-kpis").locator("dd").last).to_have_text(fmt.percent_bps(realised))
    expect(bank.get_by_test_id("portfolio-kpis")).to_be_visible()  # the book, loaded after the page
    story.look(bank, "book-closed")
    assert not bank.console_errors, bank.console_errors
    assert not dialogs, dialogs
    bank.context.close()


ACCEPTED = 2  # SlotStatus.Accepted


def _confirm_rows(page: Any, lang: str) -> dict[str, str]:
    """The confirmation page's rows, label → value, labels in English (their msgids) for either language."""
    expect(page.get_by_test_id("confirm")).to_be_visible()
    table = page.get_by_test_id("confirm")
    pairs = table.locator("tr").evaluate_all(
        "rows => rows.map(r => [r.querySelector('th').innerText, r.querySelector('td').innerText])"
    )
    english = {
        said(lang, msgid): msgid
        for msgid in (
            "Limit",
            "Goes back to",
            "Collected at once",
            "Still owed after that",
            "Its settlement balance",
        )
    }
    return {english.get(label, label): value for label, value in pairs}
