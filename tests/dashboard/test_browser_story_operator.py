"""The operator's chapter of the story in chromium, once in Chinese and once in English: onboarding a
company (its first admin signs in with the key), suspending and reinstating it on confirmation pages,
changing a parameter through the governors' council, pausing and unpausing the platform, moving the
devnet's clock and pushing the payouts that fell due; the auditor reads the audit page and the console,
read only (the language tour's last stop). Every page is photographed to
tests/artifacts/<lang>/operator/ and every Chinese page is checked for English, hex and unix times.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from dashkit import Live, Story
from playwright.sync_api import expect

from tierflow.chain.vocabulary import ROLE_BITS

pytestmark = pytest.mark.browser
COMPANY = {"en": "Taizhou Molds Co.", "zh-CN": "台州模具有限公司"}


@pytest.mark.parametrize(("locale", "lang"), [("zh-CN", "zh-CN"), ("en-GB", "en")])
def test_story_of_the_operator_in_each_language(
    browser: Any, live: Live, line_core1: int, locale: str, lang: str
) -> None:
    en, company = lang == "en", COMPANY[lang]
    # A payable repaid early whose maturity the devnet's clock will pass: its payout falls due.
    slot, _ = live.issue("core1", "supplier3", face=20_000_00, line_id=line_core1, days=2)
    live.api("core1", f"/v1/core/payables/{slot}/repay", {"amount": 20_000_00})
    assert live.ctx.link.wait_for(live.platform.w3.eth.block_number, 60)
    story = Story(live, browser, locale, lang, chapter="operator")
    operator = story.actor("operator")
    expect(operator).to_have_url(re.compile("/dashboard/operator$"))
    flash = operator.locator(".flash")

    # Onboarding after KYB: the key is shown once; the company's first admin signs in with it.
    form = operator.locator("form[action$='/onboard']")
    form.locator("#ob-name").fill(company)
    form.locator("#ob-id").fill(f"9133{live.unique()[-14:]}")
    form.locator("#ob-contact").fill("finance@molds.example")
    form.locator(f"input[name=roles][value='{ROLE_BITS['supplier']}']").check()
    story.look(operator, "onboard-form")
    form.locator("button[type=submit]").click()
    expect(operator.locator(".flash-ok")).to_contain_text(company)
    if en:
        expect(flash).to_contain_text(f"Onboarded {company}")
    key = re.search(r"(tf_\S+)", flash.inner_text())
    assert key is not None
    story.names += [company, key.group(1)]  # its name, and the key (a secret, not words)
    story.look(operator, "onboarded")
    newcomer = story.actor_with(key.group(1))
    expect(newcomer.locator("h1")).to_contain_text(company)
    story.look(newcomer, "newcomer")

    # Suspend and reinstate, each on its confirmation page first.
    for verb, said in (("suspend", "suspended"), ("reinstate", "reinstated")):
        row = operator.get_by_test_id("participants").locator("tr", has_text=company)
        row.locator(f"form[action$='/{verb}'] button").click()
        confirm = operator.get_by_test_id("confirm")
        expect(confirm).to_contain_text(company)
        story.look(operator, f"confirm-{verb}")
        operator.get_by_test_id("confirm-button").click()
        expect(operator.locator(".flash-ok")).to_contain_text(company)
        if en:
            expect(flash).to_contain_text(f"{company} {said}")
        newcomer.reload()
        expect(newcomer.locator(".top .status-suspended")).to_have_count(1 if verb == "suspend" else 0)
        if verb == "suspend":
            story.look(newcomer, "newcomer-suspended")

    # A parameter through the council: proposed here, approved by a second governor, executed here.
    operator.locator("#op-grace").fill("5")
    operator.locator("form[action$='/parameters'] button[type=submit]").click()
    expect(operator.get_by_test_id("confirm")).to_contain_text("5")  # today's value → the proposed one
    story.look(operator, "confirm-parameters")
    operator.get_by_test_id("confirm-button").click()
    _execute_once_approved(live, story, operator)
    expect(operator.locator(".kpis")).to_contain_text("5 days" if en else "5 天")
    story.look(operator, "parameters")

    # Pause (at once) and unpause (the council's), each on its confirmation page.
    operator.locator("form[action$='/pause'] button[type=submit]").click()
    if en:
        expect(operator.get_by_test_id("confirm")).to_contain_text("stop for every participant")
    story.look(operator, "confirm-pause")
    operator.get_by_test_id("confirm-button").click()
    expect(operator.locator(".flash-ok")).to_be_visible()
    if en:
        expect(flash).to_contain_text("Platform paused")
    expect(operator.get_by_test_id("paused")).to_be_visible()  # every page says so while it lasts
    story.look(operator, "paused")
    operator.locator("form[action$='/unpause'] button[type=submit]").click()
    operator.get_by_test_id("confirm-button").click()  # the confirmation page, then the proposal
    _execute_once_approved(live, story, operator)
    expect(operator.get_by_test_id("paused")).to_have_count(0)

    # Devnet time travel past the payable's maturity; its payout is due, and pushed.
    travel = operator.get_by_test_id("time-travel")
    travel.locator("#tt-days").fill("3")
    travel.locator("button[type=submit]").click()
    expect(operator.get_by_test_id("confirm-button")).to_be_visible()
    story.look(operator, "confirm-time-travel")
    operator.get_by_test_id("confirm-button").click()
    expect(operator.locator(".flash-ok")).to_be_visible()
    due = operator.get_by_test_id("payouts-due").locator(f'tr[data-slot="{slot}"]')
    expect(due).to_contain_text("20,000.00")
    story.look(operator, "payouts-due")
    operator.get_by_test_id("push-all").click()
    expect(operator.get_by_test_id("confirm")).to_contain_text(f"P{slot}")
    story.look(operator, "confirm-push")
    operator.get_by_test_id("confirm-button").click()
    expect(operator.locator(".flash-ok")).to_be_visible()
    expect(due).to_have_count(0)
    story.look(operator, "pushed")

    operator.locator("#op-grace").fill("7")  # the grace period the other tests expect
    operator.locator("form[action$='/parameters'] button[type=submit]").click()
    operator.get_by_test_id("confirm-button").click()
    _execute_once_approved(live, story, operator)

    # The auditor reads the audit page and the operator's console, read only, in the same language.
    auditor = story.actor("auditor")
    auditor.goto("/dashboard/audit")
    story.nav(auditor)
    story.look(auditor, "auditor-audit")
    auditor.goto("/dashboard/operator")
    story.nav(auditor)
    expect(auditor.locator("form[action$='/onboard']")).to_have_count(0)
    story.look(auditor, "auditor-console")
    for page in (operator, newcomer, auditor):
        assert not page.console_errors, page.console_errors
        page.context.close()


def _execute_once_approved(live: Live, story: Story, operator: Any) -> None:
    """The operator's proposal (named in the flash) approved by bank1 over the API, executed after the
    delay with the console's Execute button on its confirmation page."""
    flash = operator.locator(".flash-ok")
    expect(flash).to_be_visible()
    found = re.search(r"(?:as proposal|提案) (\d+)", flash.inner_text())
    assert found is not None, flash.inner_text()
    proposal_id = int(found.group(1))
    live.api("bank1", f"/v1/governance/proposals/{proposal_id}/approve")
    live.platform.increase_time(61)
    operator.reload()
    operator.get_by_test_id(f"proposal-{proposal_id}").locator("form[action$='/execute'] button").click()
    operator.get_by_test_id("confirm-button").click()  # the confirmation page says what it will do
    expect(operator.locator(".flash-ok")).to_contain_text(str(proposal_id))
    if story.lang == "en":
        expect(flash).to_contain_text(f"Proposal {proposal_id} executed")
