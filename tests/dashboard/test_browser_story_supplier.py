"""The supplier's chapter of the story in chromium, once in Chinese and once in English: it opens the
invoice behind a payable before accepting it, rejects another on its confirmation page, accepts, splits
and sends part to a tier-2 supplier (who follows it to the lineage), claims at maturity and reads its
payouts and statement; another supplier cannot open its page nor act there. Every page is photographed
to tests/artifacts/<lang>/supplier/ and every Chinese page is checked for English, hex and unix times.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from dashkit import Live, Story
from playwright.sync_api import expect

pytestmark = pytest.mark.browser


def _issued(live: Live, line: int, face: int, days: int, filename: str) -> tuple[int, int, str]:
    """A payable of core1 to supplier2 with one invoice, not yet accepted: (slot, token, invoice number)."""
    number = live.unique()
    document = live.upload_invoice("core1", "supplier2", number, filename, b"%PDF " + filename.encode())
    issued = live.api("core1", "/v1/core/certificates", {
        "supplier": live.address("supplier2"), "face": face, "maturity": live.today(days),
        "line_id": line, "document_ids": [document],
    })  # fmt: skip
    return int(issued["result"]["slot_id"]), int(issued["result"]["token_id"]), number


@pytest.mark.parametrize(("locale", "lang"), [("zh-CN", "zh-CN"), ("en-GB", "en")])
def test_story_of_a_supplier_in_each_language(
    browser: Any, live: Live, line_core1: int, locale: str, lang: str
) -> None:
    assert live.ctx.link.wait_for(live.platform.w3.eth.block_number, 60)
    slot, token, number = _issued(live, line_core1, 500_000_00, 5, "fapiao-118.pdf")
    wrong, _, _ = _issued(live, line_core1, 10_000_00, 30, "fapiao-119.pdf")
    assert live.ctx.link.wait_for(live.platform.w3.eth.block_number, 60)
    story = Story(live, browser, locale, lang, chapter="supplier")
    supplier = story.actor("supplier2")
    en = lang == "en"

    # The invoice behind the payable, opened before accepting it.
    incoming = supplier.get_by_test_id("incoming")
    row = incoming.locator("tr", has=supplier.locator(f"input[name=slot_id][value='{slot}']"))
    expect(row.get_by_test_id("invoice-preview")).to_contain_text(number)
    story.look(supplier, "incoming")
    story.nav(supplier)
    with supplier.expect_download() as download:
        row.get_by_test_id("invoice-preview").click()
    assert Path(download.value.path()).read_bytes() == b"%PDF fapiao-118.pdf"

    # The other one is not its own: rejected on a page that says what it means first.
    incoming.locator(f"form[action$='/reject']:has(input[name=slot_id][value='{wrong}']) button").click()
    expect(supplier.get_by_test_id("confirm")).to_contain_text(f"P{wrong}")
    expect(supplier.get_by_test_id("confirm")).to_contain_text("10,000.00")
    story.look(supplier, "confirm-reject")
    supplier.get_by_test_id("confirm-button").click()
    expect(supplier.locator(".flash-ok")).to_contain_text(f"P{wrong}")
    if en:
        expect(supplier.locator(".flash-ok")).to_contain_text("rejected")
    expect(supplier.locator(f"input[name=slot_id][value='{wrong}']")).to_have_count(0)
    supplier.locator(f"form[action$='/accept']:has(input[name=slot_id][value='{slot}']) button").click()
    expect(supplier.locator(".flash-ok")).to_contain_text(f"P{slot}")
    story.look(supplier, "accepted")

    # Split and transfer part of it to a tier-2 supplier.
    form = supplier.get_by_test_id("transfer-form")
    form.locator("#tr-token").select_option(str(token))
    form.locator("#tr-to").select_option(live.address("supplier3"))
    form.locator("#tr-amount").fill("120,000.50")
    story.look(supplier, "transfer-form")
    form.locator("button[type=submit]").click()
    expect(supplier.locator(".flash-ok")).to_contain_text("120,000.50")
    if en:
        expect(supplier.locator(".flash-ok")).to_contain_text("Sent ¥120,000.50 of T")
    expect(supplier.locator(f'tr[data-token="{token}"]')).to_contain_text("379,999.50")
    story.look(supplier, "after-transfer")

    receiver = story.actor("supplier3")
    holdings = receiver.get_by_test_id("holdings")
    expect(holdings).to_contain_text("120,000.50")
    link = receiver.locator(f"a[href^='/dashboard/lineage/{slot}#']")  # this payable's piece
    received = holdings.locator("tbody tr", has=link)
    expect(received).to_contain_text("120,000.50")
    expect(received.locator("td").nth(3)).to_have_text("2")  # tier 2: one split below the first supplier
    story.look(receiver, "tier-2-holdings")
    received.locator("a").first.click()  # to the lineage of the payable
    expect(receiver.get_by_test_id("lineage-tree")).to_contain_text("120,000.50")
    story.look(receiver, "tier-2-lineage")

    # Maturity: core1 repays, the supplier claims and reads its payouts and statement.
    live.api("core1", f"/v1/core/payables/{slot}/repay", {"amount": 500_000_00})
    story.claim_after(supplier, 6, token, "379,999.50")
    statement = supplier.get_by_test_id("statement").locator("tbody tr", has_text=f"T{token}").first
    expect(statement).to_contain_text("379,999.50")
    expect(statement).to_contain_text("payout at maturity" if en else "到期兑付")
    story.look(supplier, "payout-and-statement")

    # Another supplier may neither open this page nor act there, nor see a bank's book or the audit.
    other = story.actor("supplier1")
    response = other.goto(f"/dashboard/supplier/{live.address('supplier2')}")
    assert response is not None and response.status == 403
    expect(other.get_by_test_id("denied")).to_be_visible()
    if en:
        expect(other.get_by_test_id("denied")).to_contain_text("Not allowed")
    story.look(other, "denied")
    # With this session's CSRF token, so that the party check (not the token) is what refuses it.
    csrf = other.locator("input[name=csrf_token]").first.input_value()
    posted = other.request.post(
        f"/dashboard/supplier/{live.address('supplier2')}/accept",
        form={"slot_id": "1", "csrf_token": csrf},
        max_redirects=0,
    )
    assert posted.status == 403
    for path in (f"/dashboard/bank/{live.address('bank1')}", "/dashboard/audit", "/dashboard/operator"):
        denied = other.goto(path)
        assert denied is not None and denied.status == 403, path
    for page in (supplier, receiver):  # the refused pages log their 403s on `other`'s console
        assert not page.console_errors, page.console_errors
    for page in (supplier, receiver, other):
        page.context.close()
