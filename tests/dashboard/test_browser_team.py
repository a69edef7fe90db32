"""Maker-checker in chromium: a bank's maker submits a funding, a different person (the checker) releases
it from the approvals queue; the request is funded only after both acted, and the trail names both."""

from __future__ import annotations

import re
from typing import Any

import httpx
import pyotp
import pytest
from dashkit import Live, shot, sign_in
from playwright.sync_api import expect
from sqlmodel import Session, select

from tierflow.platform.dashboard.session import COOKIE_NAME
from tierflow.platform.models.financing import FinancingRequest
from tierflow.platform.models.staff import StaffSession, StaffUser
from tierflow.platform.services import audit_trail

pytestmark = pytest.mark.browser
PASSWORD = "correct horse battery"


def _person(
    live: Live, bank: str, name: str, roles: list[str], browser: Any = None
) -> tuple[str, pyotp.TOTP]:
    """A staff user of `bank` with a password and an enrolled second factor: through the API, or
    (given a browser) on the dashboard's enrolment page, signed in with the person's own key."""
    login = f"{name.split()[0].lower()}.{live.unique().lower()}@bank.example"
    user = live.api(
        bank, "/v1/company/users", {"login": login, "name": name, "roles": roles, "password": PASSWORD}
    )
    key = live.api(
        bank, f"/v1/company/users/{user['user_id']}/api-keys", {"scopes": ["read", "write"], "days": 1}
    )
    live.keys[name] = key["api_key"]
    if browser is not None:
        page = sign_in(browser, live.url, key["api_key"])
        page.goto("/dashboard/team/second-factor")
        expect(page.get_by_test_id("totp-qr").locator("svg")).to_be_visible()  # rendered here, not fetched
        totp = pyotp.TOTP(page.get_by_test_id("totp-secret").inner_text())
        page.get_by_label("Code", exact=True).fill(totp.now())
        page.get_by_role("button", name="Confirm").click()
        expect(page.locator(".flash")).to_contain_text("Second factor enrolled")
        shot(page, "team-second-factor")
        page.context.close()
        return login, totp
    enrolment = live.api(name, "/v1/company/me/totp")
    totp = pyotp.TOTP(enrolment["secret"])
    confirmed = live.http.post(
        "/v1/company/me/totp/confirm", json={"code": totp.now()}, headers={"X-API-Key": key["api_key"]}
    )
    assert confirmed.status_code == 204, confirmed.text
    return login, totp


def _staff_sign_in(browser: Any, base_url: str, login: str, code: str) -> Any:
    context = browser.new_context(base_url=base_url, locale="en-GB", viewport={"width": 1360, "height": 900})
    context.set_default_timeout(15_000)
    page = context.new_page()
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type in ("error", "warning") else None)
    page.console_errors = errors
    page.goto("/dashboard/sign-in")
    page.get_by_role("link", name="Sign in as a person (password and code)").click()
    form = page.get_by_test_id("staff-sign-in")
    form.get_by_label("Login", exact=True).fill(login)
    form.get_by_label("Password", exact=True).fill(PASSWORD)
    form.get_by_label("Code", exact=True).fill(code)
    form.get_by_role("button", name="Sign in").click()
    page.wait_for_load_state("domcontentloaded")
    return page


def _status(live: Live, request_id: int) -> str:
    with Session(live.ctx.engine) as db:
        row = db.get(FinancingRequest, request_id)
        assert row is not None
        return str(row.status)


def test_bank_funds_only_after_maker_and_checker_acted(browser: Any, live: Live, line_core1: int) -> None:
    onboarded = live.api(
        "operator",
        "/v1/operator/participants",
        {"legal_name": "Four Eyes Bank", "legal_id": f"9131{live.unique()}", "roles": ["financier"]},
    )
    bank = onboarded["participant"]["address"]
    live.keys[bank] = onboarded["api_key"]
    live.api("bank1", "/v1/settlement/mint", {"to": bank, "amount": 10**12})
    maker_login, maker_totp = _person(live, bank, "Mia Maker", ["maker"], browser)
    checker_login, checker_totp = _person(live, bank, "Chen Checker", ["checker"])
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

    # The maker signs in with password and code and funds: it waits for a checker.
    maker = _staff_sign_in(browser, live.url, maker_login, maker_totp.now())
    expect(maker).to_have_url(re.compile(f"/dashboard/bank/{bank}$"))
    expect(maker.locator(".who")).to_contain_text("Mia Maker")
    maker.locator(f'tr[data-request="{request_id}"]').get_by_role("link", name="Fund…").click()
    price = maker.get_by_test_id("fund-price").inner_text()
    maker.get_by_role("button", name=f"Confirm: pay ¥{price}").click()
    expect(maker.locator(".flash")).to_contain_text("Submitted for approval")
    assert _status(live, request_id) == "Accepted"
    maker.goto("/dashboard/team")
    row = maker.get_by_test_id("approvals").locator("tbody tr").first
    row.get_by_role("link", name="Review…").click()
    expect(maker.get_by_test_id("approval-wait")).to_contain_text("other than Mia Maker")  # not their own
    shot(maker, "team-maker-waits")

    # The checker sees the badge, opens the same confirmation page, and releases it.
    checker = _staff_sign_in(browser, live.url, checker_login, checker_totp.now())
    expect(checker.get_by_test_id("approvals-badge")).to_have_text("1")
    checker.get_by_test_id("team-link").click()
    checker.get_by_test_id("approvals").locator("tbody tr").first.get_by_role("link", name="Review…").click()
    expect(checker.get_by_test_id("fund-price")).to_have_text(price)
    expect(checker.get_by_test_id("approval-maker")).to_have_text("Mia Maker")
    shot(checker, "team-checker-confirms")
    checker.get_by_role("button", name="Approve and send").click()
    expect(checker.locator(".flash")).to_contain_text("Approved")
    assert _status(live, request_id) == "Funded"
    expect(checker.get_by_test_id("approvals-recent")).to_contain_text("Chen Checker")

    # Every step of the story is in the trail with the person's name; the chain verifies.
    rows, _ = audit_trail.search(live.ctx.engine, company=bank, limit=500)
    story = [(r["user_name"], r["action"], r["outcome"]) for r in rows]
    assert ("Mia Maker", "signin", "ok") in story and ("Chen Checker", "signin", "ok") in story
    assert ("Mia Maker", "approval.submit.fund", "pending") in story
    assert ("Chen Checker", "approval.approve.fund", "executed") in story
    assert any(u == "Mia Maker" and a.endswith(f"/requests/{request_id}/fund") for u, a, _ in story), story
    assert audit_trail.verify(live.ctx.engine)[1] == []
    auditor = sign_in(browser, live.url, live.keys["auditor"])  # look-through: the auditor reads it all
    auditor.get_by_role("link", name="Audit trail").click()
    search = auditor.get_by_test_id("trail-search")
    search.get_by_label("Person", exact=True).fill("Chen Checker")
    search.get_by_role("button", name="Search").click()
    expect(auditor.get_by_test_id("trail")).to_contain_text("approval.approve.fund")
    expect(auditor.get_by_test_id("trail")).not_to_contain_text("Mia Maker")
    shot(auditor, "team-auditor-trail")
    assert maker.console_errors == [] and checker.console_errors == []

    # The bank's admin invites a viewer and disables the checker: the checker's open session ends.
    admin = sign_in(browser, live.url, live.keys[bank])
    admin.goto("/dashboard/team")
    invite = admin.get_by_test_id("invite")
    invite.get_by_label("Name", exact=True).fill("Val Viewer")
    invite.get_by_label("Login (e-mail)", exact=True).fill(f"val.{live.unique().lower()}@bank.example")
    invite.get_by_label("First password", exact=True).fill(PASSWORD)
    invite.get_by_label("viewer", exact=True).check()
    invite.get_by_role("button", name="Invite").click()
    expect(admin.locator(".flash")).to_contain_text("Invited Val Viewer (viewer)")
    admin.get_by_role("button", name="Disable Chen Checker").click()
    expect(admin.locator(".flash")).to_contain_text("Chen Checker: disable done")
    checker.goto("/dashboard/team")
    expect(checker).to_have_url(re.compile("/dashboard/sign-in"))

    # Signing out ends the person's session on the server: a copied cookie no longer works.
    cookie = next(c for c in maker.context.cookies() if c["name"] == COOKIE_NAME)
    maker.get_by_role("button", name="Sign out").click()
    expect(maker).to_have_url(re.compile("/dashboard/sign-in"))
    with Session(live.ctx.engine) as db:
        user = db.exec(select(StaffUser).where(StaffUser.login == maker_login)).one()
        sessions = db.exec(select(StaffSession).where(StaffSession.user_id == user.user_id)).all()
        assert sessions and all(s.revoked_at is not None for s in sessions)
    with httpx.Client(base_url=live.url, cookies={COOKIE_NAME: cookie["value"]}) as thief:
        replay = thief.get(f"/dashboard/bank/{bank}", follow_redirects=False)
    assert replay.status_code == 303 and "/dashboard/sign-in" in replay.headers["location"]
