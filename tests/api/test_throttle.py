"""Issue 14 attackers at the door: a key guesser, a password sprayer and an anonymous writer from one
network address each get a wait (429) after the limit, the trail records each attempt until then and
stops growing after; a write refused before any service ran is in the trail with the person's name."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from typing import Any

import pytest
from apikit import Api
from sqlalchemy import func, select
from sqlmodel import Session
from starlette.testclient import TestClient

from tierflow.platform.models.staff import AuditEntry
from tierflow.platform.services import throttle, users
from tierflow.platform.services.audit_trail import Origin
from tierflow.platform.services.errors import Unauthenticated

AUDIT = AuditEntry.__table__  # type: ignore[attr-defined]
LIMIT = 5
_addresses = itertools.count(10)


@pytest.fixture
def limited(api: Api) -> Iterator[Api]:
    """The shared API with a per-address limit of LIMIT failures (the harness turns it off)."""
    api.ctx.settings.auth_failures_per_address = LIMIT
    try:
        yield api
    finally:
        api.ctx.settings.auth_failures_per_address = 0


def _client_from(api: Api) -> tuple[TestClient, str]:
    """A client at a network address of its own (the harness's client is one address for every test)."""
    ip = f"203.0.113.{next(_addresses)}-{api.backend}"
    return TestClient(api.client.app, raise_server_exceptions=False, client=(ip, 4000)), ip


def _trail_count(api: Api, ip: str, action: str | None = None) -> int:
    query = select(func.count()).select_from(AUDIT).where(AUDIT.c.ip == ip)
    if action is not None:
        query = query.where(AUDIT.c.action.startswith(action))
    with api.ctx.engine.connect() as conn:
        return int(conn.execute(query).scalar_one())


def test_api_key_guesser_waits_after_the_limit_and_stops_filling_the_trail(limited: Api) -> None:
    guesser, ip = _client_from(limited)
    for n in range(LIMIT):
        refused = guesser.get("/v1/me", headers={"X-API-Key": f"tf_{n:08x}_{'0' * 43}"})
        assert refused.status_code == 401, refused.text
    assert _trail_count(limited, ip, "auth.api_key") == LIMIT  # each guess is in the trail
    for _ in range(3):
        waited = guesser.get("/v1/me", headers={"X-API-Key": "tf_deadbeef_" + "1" * 43})
        assert waited.status_code == 429 and waited.json()["error"]["code"] == "too_many_attempts"
        assert 0 < int(waited.headers["Retry-After"]) <= limited.ctx.settings.auth_failure_window_seconds
        assert "wait" in waited.json()["error"]["message"]
    assert _trail_count(limited, ip, "auth.api_key") == LIMIT  # refused guesses are not written again
    # Another address is not punished for the guesser, and a valid key still reads from the guesser's own
    # address (the limit counts failures; it does not lock the company out).
    other, _ = _client_from(limited)
    assert other.get("/v1/me", headers={"X-API-Key": limited.keys["bank1"]}).status_code == 200
    assert guesser.get("/v1/me", headers={"X-API-Key": limited.keys["bank1"]}).status_code == 200


def test_password_sprayer_waits_before_any_password_is_checked(limited: Api) -> None:
    """Spraying one password over many logins dodges the per-user lockout; the per-address limit does not."""
    engine, master = limited.ctx.engine, limited.ctx.settings.master_key
    sprayer = Origin(ip=f"198.51.100.7-{limited.backend}", user_agent="spray")
    limits = throttle.Limits.of(limited.ctx.settings)

    def attempt(login: str, origin: Origin) -> BaseException:
        with Session(engine) as session:
            try:
                users.sign_in(
                    session=session, engine=engine, master_key=master, login=login,
                    password="Spring2026!", code="123456", origin=origin, limits=limits,
                )  # fmt: skip
            except (Unauthenticated, throttle.TooManyAttempts) as error:
                return error
        raise AssertionError("a sprayed password signed in")

    for n in range(LIMIT):
        assert isinstance(attempt(f"clerk{n}@{limited.backend}.example", sprayer), Unauthenticated)
    waited = attempt("clerk-next@example.com", sprayer)
    assert isinstance(waited, throttle.TooManyAttempts) and waited.retry_after > 0
    # Somebody else, elsewhere, is only told their answer was wrong.
    elsewhere = Origin(ip=f"198.51.100.8-{limited.backend}", user_agent="clerk")
    assert isinstance(attempt("clerk0@example.com", elsewhere), Unauthenticated)


def test_anonymous_writes_are_in_the_trail_and_limited(limited: Api) -> None:
    anonymous, ip = _client_from(limited)
    body: dict[str, Any] = {"token_id": 1, "amount": 1, "financier": "0x" + "1" * 40, "with_recourse": False}
    for _ in range(LIMIT):
        refused = anonymous.post("/v1/supplier/financing-requests", json=body)
        assert refused.status_code == 401 and refused.json()["error"]["code"] == "missing_api_key"
    with limited.ctx.engine.connect() as conn:
        rows = conn.execute(select(AUDIT.c.action, AUDIT.c.detail).where(AUDIT.c.ip == ip)).all()
    assert len(rows) == LIMIT and all(r.detail == "401 missing_api_key" for r in rows), rows
    flooded = anonymous.post("/v1/supplier/financing-requests", json=body)
    assert flooded.status_code == 429 and flooded.json()["error"]["code"] == "too_many_attempts"
    assert _trail_count(limited, ip) == LIMIT


def test_write_refused_before_the_service_names_the_person(api: Api) -> None:
    """A bad body (422) and a wrong role (403) never reach the write path's audit line; they are
    recorded anyway, with the company and the person behind the key."""
    person, ip = _client_from(api)
    key = {"X-API-Key": api.keys["supplier1"]}
    invalid = person.post("/v1/supplier/financing-requests", json={"token_id": "x"}, headers=key)
    assert invalid.status_code == 422
    wrong_role = person.post("/v1/financier/requests/1/fund", headers=key)
    assert wrong_role.status_code == 403
    with api.ctx.engine.connect() as conn:
        rows = conn.execute(
            select(AUDIT.c.action, AUDIT.c.outcome, AUDIT.c.company, AUDIT.c.user_name)
            .where(AUDIT.c.ip == ip)
            .order_by(AUDIT.c.seq)
        ).all()
    assert [r.action for r in rows] == [
        "write.refused POST /v1/supplier/financing-requests",
        "write.refused POST /v1/financier/requests/1/fund",
    ]
    assert [r.outcome.split()[0] for r in rows] == ["422", "403"]
    assert {r.company for r in rows} == {api.address("supplier1")}
    assert all(r.user_name for r in rows)  # the key's person (the migrated first admin)
