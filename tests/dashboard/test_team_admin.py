"""A company admin runs its people and its approval policy from the dashboard (issue 14): the policy
form (which actions wait for a checker, from what amount in yuan, how long approvals wait), role
changes, and what the door refuses — a non-admin's post, a forged form, an expired key — each in the
audit trail with the person's name."""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Iterator

import httpx
import pytest
from dashkit import Live, dashboard_sign_in
from sqlalchemy import select, update

from tierflow.platform.models.service import ApiKey
from tierflow.platform.models.staff import AuditEntry

AUDIT = AuditEntry.__table__  # type: ignore[attr-defined]
KEYS = ApiKey.__table__  # type: ignore[attr-defined]
PASSWORD = "correct horse battery"


@pytest.fixture
def bank(live: Live) -> Iterator[tuple[str, httpx.Client]]:
    """A fresh bank (a policy on a shared demo bank would leak) and its first admin, signed in."""
    body = live.api(
        "operator",
        "/v1/operator/participants",
        {"legal_name": "Policy Bank", "legal_id": f"9131{time.time_ns()}", "roles": ["financier"]},
    )
    address = str(body["participant"]["address"])
    live.keys[address] = body["api_key"]
    client = httpx.Client(base_url=live.url, timeout=60, follow_redirects=True)
    assert dashboard_sign_in(client, body["api_key"]).status_code == 200
    yield address, client
    client.close()


def _person(live: Live, bank: str, name: str, roles: list[str]) -> tuple[int, str]:
    login = f"{name.split()[0].lower()}.{time.time_ns()}@bank.example"
    user = live.api(
        bank, "/v1/company/users", {"login": login, "name": name, "roles": roles, "password": PASSWORD}
    )
    key = live.api(
        bank, f"/v1/company/users/{user['user_id']}/api-keys", {"scopes": ["read", "write"], "days": 1}
    )
    return int(user["user_id"]), str(key["api_key"])


def _policy(live: Live, bank: str) -> dict[str, object]:
    response = live.http.get("/v1/company/approval-policy", headers={"X-API-Key": live.keys[bank]})
    assert response.status_code == 200, response.text
    body: dict[str, object] = response.json()
    return body


def _trail(live: Live, action: str) -> list[tuple[str, str, str]]:
    with live.ctx.engine.connect() as conn:
        rows = conn.execute(
            select(AUDIT.c.user_name, AUDIT.c.outcome, AUDIT.c.company).where(AUDIT.c.action == action)
        ).all()
    return [(r.user_name, r.outcome, r.company) for r in rows]


def test_admin_sets_the_approval_policy_in_yuan_and_hours(live: Live, bank: tuple[str, httpx.Client]) -> None:
    address, admin = bank
    page = admin.get("/dashboard/team")
    assert (
        page.status_code == 200
        and 'data-testid="policy"' in page.text
        and "Fund a financing request" in page.text
    )
    saved = admin.post(
        "/dashboard/team/policy",
        data={"need_fund": "1", "from_fund": "100,000.00", "need_grant_line": "1", "from_grant_line": "",
              "expiry_hours": "4"},
    )  # fmt: skip
    assert "Approval policy saved" in saved.text, saved.text[-2000:]
    assert _policy(live, address) == {"rules": {"fund": 10_000_000, "grant_line": 0}, "expiry_hours": 4}
    assert 'value="100,000.00"' in admin.get("/dashboard/team").text  # the form shows what is set, in yuan

    # A maker's covered write now waits 4 hours for a checker, not the default day.
    core = live.address("core1")
    pending = live.http.post(
        "/v1/financier/credit-lines",
        json={"obligor": core, "limit": 1_000_000, "expiry": live.today(300)},
        headers={"X-API-Key": live.keys[address]},
    )
    assert pending.status_code == 202, pending.text
    approval = pending.json()["approval"]
    created, expires = (dt.datetime.fromisoformat(approval[k]) for k in ("created_at", "expires_at"))
    waits = expires - created
    assert waits == dt.timedelta(hours=4)  # ISO instants (issue 13), 4 h apart

    # Bad input keeps the policy as it was and says what to fix.
    for form, says in (
        ({"need_fund": "1", "from_fund": "lots", "expiry_hours": "4"}, "Fund a financing request"),
        ({"expiry_hours": "0"}, "hour"),
        ({"expiry_hours": "500"}, "hour"),
    ):
        refused = admin.post("/dashboard/team/policy", data=form)
        assert says in refused.text, refused.text[-2000:]
        assert _policy(live, address)["expiry_hours"] == 4
    assert _policy(live, address)["rules"] == {"fund": 10_000_000, "grant_line": 0}


def test_admin_changes_roles_and_a_non_admin_cannot(live: Live, bank: tuple[str, httpx.Client]) -> None:
    address, admin = bank
    user_id, key = _person(live, address, "Vic Viewer", ["viewer"])
    changed = admin.post(f"/dashboard/team/users/{user_id}/roles", data={"roles": ["checker", "viewer"]})
    assert "Vic Viewer: roles done" in changed.text, changed.text[-2000:]
    people = live.http.get("/v1/company/users", headers={"X-API-Key": live.keys[address]}).json()
    assert {p["user_id"]: p["roles"] for p in people}[user_id] == ["checker", "viewer"]

    viewer = httpx.Client(base_url=live.url, timeout=60, follow_redirects=True)
    assert dashboard_sign_in(viewer, key).status_code == 200
    refused = viewer.post("/dashboard/team/policy", data={"need_fund": "1", "expiry_hours": "1"})
    assert refused.status_code == 403
    refused_roles = viewer.post(f"/dashboard/team/users/{user_id}/roles", data={"roles": ["admin"]})
    assert refused_roles.status_code == 403
    assert _policy(live, address)["rules"] == {}
    trail = _trail(live, "write.refused dashboard POST /dashboard/team/policy")
    assert ("Vic Viewer", "403 denied", address) in trail
    viewer.close()


def test_forged_form_and_expired_key_are_refused_and_recorded(
    live: Live, bank: tuple[str, httpx.Client]
) -> None:
    address, admin = bank
    user_id, key = _person(live, address, "Eve Expiring", ["maker"])
    person = httpx.Client(base_url=live.url, timeout=60, follow_redirects=True)
    assert dashboard_sign_in(person, key).status_code == 200
    forged = person.post(
        "/dashboard/team/policy", data={"expiry_hours": "1"}, headers={"X-CSRF-Token": "forged"}
    )
    assert forged.status_code == 403 and "nothing was done" in forged.text
    assert ("Eve Expiring", "403 csrf", address) in _trail(
        live, "write.refused dashboard POST /dashboard/team/policy"
    )

    # The key expires: the session it opened ends, and it cannot open another.
    with live.ctx.engine.begin() as conn:
        conn.execute(update(KEYS).where(KEYS.c.user_id == user_id).values(expires_at=int(time.time()) - 1))
    after = person.get("/dashboard/team")
    assert after.url.path == "/dashboard/sign-in"
    fresh = httpx.Client(base_url=live.url, timeout=60, follow_redirects=True)
    refused = dashboard_sign_in(fresh, key)
    assert refused.status_code == 401 and "expired" in refused.text
    person.close()
    fresh.close()
