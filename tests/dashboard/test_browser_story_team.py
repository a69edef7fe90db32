"""The team's chapter of the story in chromium (maker-checker), once in Chinese and once in English: a
bank's maker enrols a second factor, signs in with password and code and submits a funding; a different
person (the checker) releases it from the approvals queue; the request is funded only after both acted,
the trail names both, the auditor finds it; the bank's admin invites a viewer and disables the checker,
whose open session ends; signing out ends the maker's session on the server. Every page is photographed
to tests/artifacts/<lang>/team/ and every Chinese page is checked for English, hex and unix times.
"""

from __future__ import annotations

import re
from typing import Any

import httpx
import pyotp
import pytest
from dashkit import Live, Story
from playwright.sync_api import expect
from sqlmodel import Session, select

from tierflow.platform.dashboard.session import COOKIE_NAME
from tierflow.platform.models.financing import FinancingRequest
from tierflow.platform.models.staff import StaffSession, StaffUser
from tierflow.platform.services import audit_trail

pytestmark = pytest.mark.browser
PASSWORD = "correct horse battery"
PEOPLE = {
    "en": {"bank": "Four Eyes Bank", "maker": "Mia Maker", "checker": "Chen Checker", "viewer": "Val Viewer"},
    "zh-CN": {"bank": "双人复核银行", "maker": "李经办", "checker": "陈复核", "viewer": "王查看"},
}


def _person(live: Live, bank: str, name: str, role: str) -> tuple[int, str, str]:
    """A staff user of `bank` with a password and an API key (through the API): (user id, login, key)."""
    login = f"{role}.{live.unique().lower()}@bank.example"
    user = live.api(
        bank, "/v1/company/users", {"login": login, "name": name, "roles": [role], "password": PASSWORD}
    )
    key = live.api(
        bank, f"/v1/company/users/{user['user_id']}/api-keys", {"scopes": ["read", "write"], "days": 1}
    )
    return int(user["user_id"]), login, str(key["api_key"])


def _enrolled_over_the_api(live: Live, key: str) -> pyotp.TOTP:
    enrolment = live.http.post("/v1/company/me/totp", headers={"X-API-Key": key})
    assert enrolment.status_code == 200, enrolment.text
    totp = pyotp.TOTP(enrolment.json()["secret"])
    confirmed = live.http.post(
        "/v1/company/me/totp/confirm", json={"code": totp.now()}, headers={"X-API-Key": key}
    )
    assert confirmed.status_code == 204, confirmed.text
    return totp


def _staff_sign_in(story: Story, login: str, code: str) -> Any:
    """A fresh context in the chapter's language, signed in as a person with login, password and code."""
    context = story.browser.new_context(
        base_url=story.live.url, locale=story.locale, viewport={"width": 1360, "height": 900}
    )
    context.set_default_timeout(15_000)
    page = context.new_page()
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type in ("error", "warning") else None)
    page.console_errors = errors
    page.goto("/dashboard/sign-in")
    page.locator("a[href='/dashboard/staff-sign-in']").click()
    form = page.get_by_test_id("staff-sign-in")
    form.locator("#login").fill(login)
    form.locator("#password").fill(PASSWORD)
    form.locator("#code").fill(code)
    form.locator("button[type=submit]").click()
    page.wait_for_load_state("domcontentloaded")
    return page


def _status(live: Live, request_id: int) -> str:
    with Session(live.ctx.engine) as db:
        row = db.get(FinancingRequest, request_id)
        assert row is not None
        return str(row.status)


@pytest.mark.parametrize(("locale", "lang"), [("zh-CN", "zh-CN"), ("en-GB", "en")])
def test_story_of_a_team_in_each_language(
    browser: Any, live: Live, line_core1: int, locale: str, lang: str
) -> None:
    en, who = lang == "en", PEOPLE[lang]
    onboarded = live.api(
        "operator",
        "/v1/operator/participants",
        {"legal_name": who["bank"], "legal_id": f"9131{live.unique()}", "roles": ["financier"]},
    )
    bank = onboarded["participant"]["address"]
    live.keys[bank] = onboarded["api_key"]
    live.api("bank1", "/v1/settlement/mint", {"to": bank, "amount": 10**12})
    _, maker_login, maker_key = _person(live, bank, who["maker"], "maker")
    checker_id, checker_login, checker_key = _person(live, bank, who["checker"], "checker")
    checker_totp = _enrolled_over_the_api(live, checker_key)
    policy = live.http.put(
        "/v1/company/approval-policy", json={"rules": {"fund": 0}}, headers={"X-API-Key": live.keys[bank]}
    )
    assert policy.status_code == 200, policy.text

    _, token = live.issue("core1", "supplier1", face=300_000_00, line_id=line_core1)
    request_id = live.api(
        "supplier1",
        "/v1/supplier/financing-requests",
        {"token_id": token, "amount": 300_000_00, "financier": bank, "with_recourse": False},
    )["result"]["request_id"]
    live.api(bank, f"/v1/financier/requests/{request_id}/quote", {"rate_bps": 400, "valid_hours": 24})
    quoted = live.platform.c.financing.functions.getRequest(request_id).call()
    terms = {"rate_bps": quoted[6], "price": quoted[9], "expiry": quoted[7]}  # what the seller was shown
    live.api("supplier1", f"/v1/supplier/financing-requests/{request_id}/accept-quote", terms)
    assert live.ctx.link.wait_for(live.platform.w3.eth.block_number, 60)
    story = Story(live, browser, locale, lang, chapter="team")

    # The maker enrols a second factor on the dashboard (the QR code is drawn here, not fetched).
    enrol = story.actor_with(maker_key)
    enrol.goto("/dashboard/team/second-factor")
    expect(enrol.get_by_test_id("totp-qr").locator("svg")).to_be_visible()
    maker_totp = pyotp.TOTP(enrol.get_by_test_id("totp-secret").inner_text())
    story.names.append(maker_totp.secret)  # a secret to copy, not words
    story.look(enrol, "second-factor")
    enrol.locator("form[action$='/second-factor'] #code").fill(maker_totp.now())
    enrol.locator("form[action$='/second-factor'] button[type=submit]").click()
    expect(enrol.locator(".flash-ok")).to_be_visible()
    if en:
        expect(enrol.locator(".flash")).to_contain_text("Second factor enrolled")
    story.look(enrol, "second-factor-enrolled")
    enrol.context.close()

    # The maker signs in with password and code and funds: it waits for a checker.
    maker = _staff_sign_in(story, maker_login, maker_totp.now())
    expect(maker).to_have_url(re.compile(f"/dashboard/bank/{bank}$"))
    expect(maker.locator(".who")).to_contain_text(who["maker"])
    story.nav(maker)
    maker.locator(f'tr[data-request="{request_id}"] a[href$="/requests/{request_id}/fund"]').click()
    price = maker.get_by_test_id("fund-price").inner_text()
    story.look(maker, "maker-confirm-fund")
    maker.locator(f"form[action$='/requests/{request_id}/fund'] button[type=submit]").click()
    expect(maker.locator(".flash-ok")).to_be_visible()
    if en:
        expect(maker.locator(".flash")).to_contain_text("Submitted for approval")
    assert _status(live, request_id) == "Accepted"
    maker.goto("/dashboard/team")
    maker.get_by_test_id("approvals").locator("tbody tr").first.locator(
        "a[href^='/dashboard/team/approvals/']"
    ).click()
    expect(maker.get_by_test_id("approval-wait")).to_contain_text(who["maker"])  # not their own
    if en:
        expect(maker.get_by_test_id("approval-wait")).to_contain_text("other than Mia Maker")
    story.look(maker, "maker-waits")

    # The checker sees the badge, opens the same confirmation page, and releases it.
    checker = _staff_sign_in(story, checker_login, checker_totp.now())
    expect(checker.get_by_test_id("approvals-badge")).to_have_text("1")
    checker.get_by_test_id("team-link").click()
    story.look(checker, "checker-queue")
    checker.get_by_test_id("approvals").locator("tbody tr").first.locator(
        "a[href^='/dashboard/team/approvals/']"
    ).click()
    expect(checker.get_by_test_id("fund-price")).to_have_text(price)
    expect(checker.get_by_test_id("approval-maker")).to_have_text(who["maker"])
    story.look(checker, "checker-confirms")
    checker.locator("form[action$='/approve'] button[type=submit]").click()
    expect(checker.locator(".flash-ok")).to_be_visible()
    if en:
        expect(checker.locator(".flash")).to_contain_text("Approved")
    assert _status(live, request_id) == "Funded"
    expect(checker.get_by_test_id("approvals-recent")).to_contain_text(who["checker"])
    story.look(checker, "checker-approved")

    # Every step of the story is in the trail with the person's name; the chain verifies.
    rows, _, _ = audit_trail.search(live.ctx.engine, company=bank, limit=500)
    steps = [(r["user_name"], r["action"], r["outcome"]) for r in rows]
    assert (who["maker"], "signin", "ok") in steps and (who["checker"], "signin", "ok") in steps
    assert (who["maker"], "approval.submit.fund", "pending") in steps
    assert (who["checker"], "approval.approve.fund", "executed") in steps
    assert any(u == who["maker"] and a.endswith(f"/requests/{request_id}/fund") for u, a, _ in steps), steps
    assert audit_trail.verify(live.ctx.engine)[1] == []
    auditor = story.actor("auditor")  # look-through: the auditor reads it all
    auditor.locator("a[href='/dashboard/team/trail']").click()
    search = auditor.get_by_test_id("trail-search")
    search.locator("#user").fill(who["checker"])
    search.locator("button[type=submit]").click()
    trail = auditor.get_by_test_id("trail")
    expect(trail).to_contain_text("approval.approve.fund" if en else "已复核通过")
    expect(trail).not_to_contain_text(who["maker"])
    story.look(auditor, "auditor-trail")
    assert maker.console_errors == [] and checker.console_errors == []

    # The bank's admin invites a viewer and disables the checker: the checker's open session ends.
    admin = story.actor(bank)
    admin.goto("/dashboard/team")
    invite = admin.get_by_test_id("invite")
    invite.locator("#i-name").fill(who["viewer"])
    viewer_login = f"viewer.{live.unique().lower()}@bank.example"
    invite.locator("#i-login").fill(viewer_login)
    invite.locator("#i-password").fill(PASSWORD)
    invite.locator("input[name=roles][value=viewer]").check()
    invite.locator("button[type=submit]").click()
    expect(admin.locator(".flash-ok")).to_contain_text(who["viewer"])
    if en:
        expect(admin.locator(".flash")).to_contain_text("Invited Val Viewer (viewer)")
    story.names += [who["viewer"], viewer_login]  # a person's own name and login
    story.look(admin, "admin-invited")  # the roles in words
    admin.locator(f"form[action$='/users/{checker_id}/disable'] button").click()
    expect(admin.locator(".flash-ok")).to_contain_text(who["checker"])
    if en:
        expect(admin.locator(".flash")).to_contain_text("Chen Checker: disable done")
    story.look(admin, "admin-team")
    checker.goto("/dashboard/team")
    expect(checker).to_have_url(re.compile("/dashboard/sign-in"))

    # Signing out ends the person's session on the server: a copied cookie no longer works.
    cookie = next(c for c in maker.context.cookies() if c["name"] == COOKIE_NAME)
    maker.locator("form[action='/dashboard/sign-out'] button").click()
    expect(maker).to_have_url(re.compile("/dashboard/sign-in"))
    with Session(live.ctx.engine) as db:
        user = db.exec(select(StaffUser).where(StaffUser.login == maker_login)).one()
        sessions = db.exec(select(StaffSession).where(StaffSession.user_id == user.user_id)).all()
        assert sessions and all(s.revoked_at is not None for s in sessions)
    with httpx.Client(base_url=live.url, cookies={COOKIE_NAME: cookie["value"]}) as thief:
        replay = thief.get(f"/dashboard/bank/{bank}", follow_redirects=False)
    assert replay.status_code == 303 and "/dashboard/sign-in" in replay.headers["location"]
    for page in (maker, checker, auditor, admin):
        page.context.close()
