"""Dashboard sessions under abuse: login CSRF, forged form posts, a copied cookie after sign-out, and
Secure cookies behind a TLS-terminating proxy."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from dashkit import CSRF_INPUT, csrf_of, dashboard_sign_in
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine

from tierflow.platform.dashboard.mount import mount_dashboard
from tierflow.platform.dashboard.session import COOKIE_NAME
from tierflow.platform.db import make_engine
from tierflow.settings import Settings
from tierflow.testing import synthetic


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Engine, synthetic.Seeded]]:
    engine = make_engine(f"sqlite:///{tmp_path_factory.mktemp('sessions') / 'site.db'}")
    synthetic.create_tables(engine)
    seeded = synthetic.seed_book(engine, synthetic.seed_people(engine), requests=3, positions=5)
    yield engine, seeded
    engine.dispose()


def _client(engine: Engine, base_url: str = "http://testserver", **settings: object) -> TestClient:
    app = FastAPI()
    mount_dashboard(app, engine=lambda: engine, master_key="sessions-test")
    if settings:
        app.state.dashboard_settings = Settings(environment="test", **settings)  # type: ignore[arg-type]
    return TestClient(app, base_url=base_url)


def test_sign_in_without_the_forms_token_is_refused(site: tuple[Engine, synthetic.Seeded]) -> None:
    """Login CSRF: another site's form would sign the visitor in as the attacker."""
    engine, seeded = site
    attacker_page = _client(engine)
    response = attacker_page.post(
        "/dashboard/sign-in", data={"api_key": seeded.tokens["supplier1"]}, follow_redirects=False
    )
    assert response.status_code == 403 and COOKIE_NAME not in response.cookies
    assert "Reload the page" in response.text
    # Another visitor's token does not do either (it is bound to that visitor's cookie).
    other = _client(engine)
    foreign = csrf_of(other)
    response = attacker_page.post(
        "/dashboard/sign-in", data={"api_key": seeded.tokens["supplier1"], "csrf_token": foreign},
        follow_redirects=False,
    )  # fmt: skip
    assert response.status_code == 403 and COOKIE_NAME not in response.cookies


def test_form_posts_need_the_sessions_token(site: tuple[Engine, synthetic.Seeded]) -> None:
    engine, seeded = site
    client = _client(engine)
    assert dashboard_sign_in(client, seeded.tokens["supplier1"], follow_redirects=False).status_code == 303
    supplier = seeded.addresses["supplier1"]
    page = client.get(f"/dashboard/supplier/{supplier}")
    assert page.status_code == 200
    token = client.headers.pop("X-CSRF-Token")
    assert f'value="{token}"' in page.text and "X-CSRF-Token" in page.text  # forms and htmx carry it
    form = {"token_id": "21", "to": seeded.addresses["supplier2"], "amount": "12.345"}
    forged = client.post(f"/dashboard/supplier/{supplier}/split_transfer", data=form, follow_redirects=False)
    assert forged.status_code == 403 and "nothing was done" in forged.text
    wrong = client.post(
        f"/dashboard/supplier/{supplier}/split_transfer", data={**form, "csrf_token": "0" * 64},
        follow_redirects=False,
    )  # fmt: skip
    assert wrong.status_code == 403
    # With the token the form reaches its handler (which answers the mistyped amount).
    sent = client.post(f"/dashboard/supplier/{supplier}/split_transfer", data={**form, "csrf_token": token})
    assert sent.status_code == 200 and "is not an amount in yuan" in sent.text


def test_sign_out_ends_the_session_on_the_server(site: tuple[Engine, synthetic.Seeded]) -> None:
    engine, seeded = site
    client = _client(engine)
    dashboard_sign_in(client, seeded.tokens["supplier1"], follow_redirects=False)
    page = f"/dashboard/supplier/{seeded.addresses['supplier1']}"
    stolen = client.cookies[COOKIE_NAME]
    assert client.post("/dashboard/sign-out", follow_redirects=False).status_code == 303
    thief = _client(engine)
    thief.cookies.set(COOKIE_NAME, stolen)
    response = thief.get(page, follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"].startswith("/dashboard/sign-in")
    # A new sign-in is a new session; the old cookie stays dead.
    dashboard_sign_in(client, seeded.tokens["supplier1"], follow_redirects=False)
    assert client.get(page).status_code == 200
    assert thief.get(page, follow_redirects=False).status_code == 303


@pytest.mark.parametrize(
    ("settings", "headers", "secure"),
    [
        ({}, {}, False),
        ({"public_url": "https://scf.example.com"}, {}, True),
        ({"trust_proxy_headers": True}, {"X-Forwarded-Proto": "https"}, True),
        ({}, {"X-Forwarded-Proto": "https"}, False),  # an untrusted header proves nothing
    ],
)
def test_session_cookie_is_secure_when_users_reach_the_service_over_https(
    site: tuple[Engine, synthetic.Seeded], settings: dict[str, object], headers: dict[str, str], secure: bool
) -> None:
    engine, seeded = site
    client = _client(engine, **settings) if settings else _client(engine, trust_proxy_headers=False)
    client.headers.update(headers)  # the proxy speaks plain http to the service
    page = client.get("/dashboard/sign-in")
    pre = next(h for h in page.headers.get_list("set-cookie") if h.startswith("tierflow_csrf="))
    assert ("Secure" in pre) is secure, pre
    # The browser (on https) sends its cookies back; the test client on http would hold Secure ones.
    client.cookies.clear()
    token = CSRF_INPUT.search(page.text)
    assert token is not None
    response = client.post(
        "/dashboard/sign-in", data={"api_key": seeded.tokens["supplier1"], "csrf_token": token.group(1)},
        headers={"Cookie": pre.split(";")[0]}, follow_redirects=False,
    )  # fmt: skip
    cookie = next(h for h in response.headers.get_list("set-cookie") if h.startswith(COOKIE_NAME))
    assert ("Secure" in cookie) is secure, cookie
