"""The governance chapter of the story in chromium, in Chinese and in English: the operator proposes a
longer grace period on its console's confirmation page (today's value → the proposed one, the delay, who
must approve), bank2 — a governor — finds it in its own governance panel and approves it on a
confirmation page, and after the timelock's delay (devnet time travel) executes it there; the proposal
moves to the panel's history and the console shows the new grace period. Every page is photographed to
tests/artifacts/<lang>/governance/ and every Chinese page checked (dashkit.Story)."""

from __future__ import annotations

from typing import Any

import pytest
from dashkit import Live, Story
from playwright.sync_api import expect
from sqlmodel import Session, col, select

from tierflow.platform.models import GovernanceProposal

pytestmark = pytest.mark.browser
DAY = 86_400


def _latest_proposal(live: Live) -> int:
    with Session(live.ctx.engine) as db:
        found = db.exec(
            select(GovernanceProposal.proposal_id).order_by(col(GovernanceProposal.proposal_id).desc())
        ).first()
    assert found is not None
    return int(found)


@pytest.mark.parametrize(("locale", "lang"), [("zh-CN", "zh-CN"), ("en-GB", "en")])
def test_story_of_a_parameter_change_through_the_council(
    browser: Any, live: Live, locale: str, lang: str
) -> None:
    story = Story(live, browser, locale, lang, chapter="governance")
    registry = live.platform.c.registry.functions
    before = (registry.maxTenor().call(), registry.gracePeriod().call(), registry.minUnit().call())
    operator, bank = story.actor("operator"), story.actor("bank2")
    try:
        # The operator proposes a grace period one day longer: first what it means, then the proposal.
        grace = before[1] // DAY + 1
        operator.locator("#op-grace").fill(str(grace))
        operator.locator("form[action$='/parameters'] button[type=submit]").click()
        confirm = operator.get_by_test_id("confirm")
        expect(confirm).to_contain_text(f" {before[1] // DAY} ")  # today's grace period …
        expect(confirm).to_contain_text(f" {grace} ")  # … and the proposed one
        story.look(operator, "operator-confirm-parameters")
        operator.get_by_test_id("confirm-button").click()
        expect(operator.locator(".flash-ok")).to_be_visible()
        proposal_id = _latest_proposal(live)
        story.look(operator, "operator-proposed")
        assert registry.gracePeriod().call() == before[1]  # nothing changes before the council

        # bank2, a governor, approves it from its own panel (the menu leads there).
        bank.get_by_test_id("governance-link").click()
        row = bank.get_by_test_id(f"proposal-{proposal_id}")
        expect(row.get_by_test_id("approvals")).to_contain_text("1 /" if lang == "zh-CN" else "1 of 2")
        story.look(bank, "bank-governance-panel")
        row.locator("form[action$='/approve'] button").click()
        expect(bank.get_by_test_id("confirm")).to_be_visible()
        story.look(bank, "bank-confirm-approve")
        bank.get_by_test_id("confirm-button").click()
        expect(bank.locator(".flash-ok")).to_contain_text(str(proposal_id))
        story.look(bank, "bank-approved")

        # After the timelock's delay (the devnet's clock moved on), bank2 executes it.
        live.platform.increase_time(61)
        bank.reload()
        bank.get_by_test_id(f"proposal-{proposal_id}").locator("form[action$='/execute'] button").click()
        expect(bank.get_by_test_id("confirm")).to_be_visible()
        story.look(bank, "bank-confirm-execute")
        bank.get_by_test_id("confirm-button").click()
        expect(bank.locator(".flash-ok")).to_contain_text(str(proposal_id))
        expect(
            bank.get_by_test_id("closed-proposals").get_by_test_id(f"proposal-{proposal_id}")
        ).to_be_visible()
        story.look(bank, "bank-executed")
        assert registry.gracePeriod().call() == grace * DAY
        operator.reload()
        story.look(operator, "operator-after")
        for page in (operator, bank):
            assert not page.console_errors, page.console_errors
    finally:
        if registry.gracePeriod().call() != before[1]:  # the shared chain's parameters as they were
            tenor, grace_days, unit = before[0] // DAY, before[1] // DAY, before[2]
            body = live.api("operator", "/v1/governance/proposals/parameters", {
                "max_tenor_days": tenor, "grace_period_days": grace_days, "min_unit": unit,
            })  # fmt: skip
            back = body["result"]["proposal_id"]
            live.api("bank1", f"/v1/governance/proposals/{back}/approve")
            live.platform.increase_time(61)
            live.api("bank1", f"/v1/governance/proposals/{back}/execute")
        for page in (operator, bank):
            page.context.close()
