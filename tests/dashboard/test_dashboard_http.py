"""The dashboard over HTTP without a browser: exact sums, sessions, access rules, CSV export."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import text
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from tierflow.platform.dashboard import queries
from tierflow.platform.dashboard.routes import mount_dashboard
from tierflow.platform.dashboard.session import COOKIE_NAME, decode_cookie
from tierflow.platform.db import make_engine
from tierflow.platform.models.receivables import Certificate, Payable
from tierflow.platform.models.service import ApiKey
from tierflow.testing import synthetic


@pytest.fixture
def book(tmp_path: Path) -> Iterator[tuple[Engine, synthetic.Seeded]]:
    engine = make_engine(f"sqlite:///{tmp_path / 'book.db'}")
    synthetic.create_tables(engine)
    seeded = synthetic.seed_book(engine, synthetic.seed_people(engine), requests=12, positions=30)
    yield engine, seeded
    engine.dispose()


def client_for(engine: Engine, token: str | None = None) -> TestClient:
    app = FastAPI()
    mount_dashboard(app, engine=lambda: engine, master_key="http-test")
    client = TestClient(app)
    if token is not None:
        response = client.post("/dashboard/sign-in", data={"api_key": token}, follow_redirects=False)
        assert response.status_code == 303, response.text
    return client


def test_portfolio_sums_are_exact_beyond_64_bits(book: tuple[Engine, synthetic.Seeded]) -> None:
    engine, seeded = book
    bank = seeded.addresses["bank1"]
    with Session(engine) as db:
        before = queries.portfolio(db, bank, now=int(time.time()))
        # Two positions of 2**70 + 1 fen: SQLite's 64-bit SUM cannot hold them, the result must stay exact.
        for token_id in (900_001, 900_002):
            db.add(
                Certificate(
                    token_id=token_id, slot_id=1, holder=bank, value=2**70 + 1, initial_value=2**70 + 1,
                    status="active", root_id=1, depth=1, block_number=9, updated_block=9, parent_id=1,
                )
            )  # fmt: skip
        db.commit()
        after = queries.portfolio(db, bank, now=int(time.time()))
    assert after.amount - before.amount == 2 * (2**70 + 1)
    assert after.count == before.count + 2
    assert sum(p.amount for p in after.by_obligor) == after.amount


def test_sign_in_sets_a_signed_http_only_cookie_without_the_key(
    book: tuple[Engine, synthetic.Seeded],
) -> None:
    engine, seeded = book
    client = client_for(engine)
    response = client.post(
        "/dashboard/sign-in", data={"api_key": seeded.tokens["supplier1"]}, follow_redirects=False
    )
    assert response.headers["location"] == f"/dashboard/supplier/{seeded.addresses['supplier1']}"
    header = response.headers["set-cookie"]
    assert "HttpOnly" in header and "SameSite=strict" in header
    assert seeded.tokens["supplier1"].split("_")[2] not in header
    value = response.cookies[COOKIE_NAME]
    assert decode_cookie(value, "http-test") is not None
    assert decode_cookie(value, "another-master-key") is None
    assert decode_cookie(value.replace(".", "x."), "http-test") is None


def test_tampered_cookie_and_revoked_key_end_the_session(book: tuple[Engine, synthetic.Seeded]) -> None:
    engine, seeded = book
    client = client_for(engine, seeded.tokens["supplier1"])
    page = f"/dashboard/supplier/{seeded.addresses['supplier1']}"
    assert client.get(page).status_code == 200
    # Pretending to be supplier2 by editing the cookie fails the signature.
    forged = client.cookies[COOKIE_NAME].replace("a", "b", 1)
    intruder = client_for(engine)
    intruder.cookies.set(COOKIE_NAME, forged)
    assert intruder.get(page, follow_redirects=False).status_code == 303
    with Session(engine) as db:
        for key in db.exec(select(ApiKey).where(ApiKey.address == seeded.addresses["supplier1"])):
            key.revoked_at = int(time.time())
        db.commit()
    response = client.get(page, follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"].startswith("/dashboard/sign-in")


def test_wrong_key_says_what_to_do(book: tuple[Engine, synthetic.Seeded]) -> None:
    engine, _ = book
    client = client_for(engine)
    response = client.post("/dashboard/sign-in", data={"api_key": "hello"})
    assert response.status_code == 401
    assert "Paste the whole key" in response.text


@pytest.mark.parametrize(
    ("who", "path", "status"),
    [
        ("supplier1", "/dashboard/supplier/{supplier2}", 403),
        ("supplier1", "/dashboard/core/{core1}", 403),
        ("supplier1", "/dashboard/bank/{bank1}", 403),
        ("supplier1", "/dashboard/audit", 403),
        ("bank2", "/dashboard/bank/{bank1}", 403),
        ("core2", "/dashboard/core/{core1}", 403),
        ("auditor", "/dashboard/bank/{bank1}", 200),
        ("auditor", "/dashboard/supplier/{supplier2}", 200),
        ("operator", "/dashboard/core/{core1}", 200),
        ("bank1", "/dashboard/bank/{bank1}", 200),
    ],
)
def test_each_page_only_for_its_owner_and_supervisors(
    book: tuple[Engine, synthetic.Seeded], who: str, path: str, status: int
) -> None:
    engine, seeded = book
    client = client_for(engine, seeded.tokens[who])
    response = client.get(path.format(**seeded.addresses))
    assert response.status_code == status
    if status == 200 and who in ("auditor", "operator"):
        assert "read only" in response.text
        assert 'action="/dashboard/bank' not in response.text  # no acting forms on others' pages


def test_supervisors_cannot_act_on_others_pages(book: tuple[Engine, synthetic.Seeded]) -> None:
    engine, seeded = book
    client = client_for(engine, seeded.tokens["auditor"])
    response = client.post(
        f"/dashboard/supplier/{seeded.addresses['supplier1']}/accept", data={"slot_id": "1"}
    )
    assert response.status_code == 403


def test_csv_export_is_exact(book: tuple[Engine, synthetic.Seeded]) -> None:
    engine, seeded = book
    with Session(engine) as db:
        payable = db.get(Payable, 1)
        assert payable is not None
        payable.face = 10**24 + 7
        db.add(payable)
        db.commit()
    client = client_for(engine, seeded.tokens["auditor"])
    response = client.get("/dashboard/audit/export/payables.csv")
    assert response.status_code == 200
    line = response.text.splitlines()[1]
    assert line.startswith("1,") and ',1000000000000000000000007,"10,000,000,000,000,000,000,000.07",' in line
    assert (
        client_for(engine, seeded.tokens["bank1"]).get("/dashboard/audit/export/payables.csv").status_code
        == 403
    )


def test_live_poll_answers_204_until_the_indexer_moves(book: tuple[Engine, synthetic.Seeded]) -> None:
    engine, seeded = book
    client = client_for(engine, seeded.tokens["bank1"])
    assert client.get("/dashboard/changes?since=1").status_code == 204
    changed = client.get("/dashboard/changes?since=0")
    assert changed.status_code == 200 and changed.headers["HX-Trigger"] == "chain-changed"
    assert 'since=1"' in changed.text


def test_a_page_says_what_to_do_when_the_database_is_gone(book: tuple[Engine, synthetic.Seeded]) -> None:
    engine, seeded = book
    client = client_for(engine, seeded.tokens["auditor"])
    with Session(engine) as db:
        db.execute(text("DROP TABLE payable"))
        db.commit()
    response = client.get("/dashboard/audit")
    assert response.status_code == 503
    assert "text/html" in response.headers["content-type"]
    assert "Retry in a minute" in response.text and "Traceback" not in response.text


def _cert(token_id: int, holder: str, parent: int | None, depth: int, value: int = 100) -> Certificate:
    return Certificate(
        token_id=token_id, slot_id=1, holder=holder, value=value, initial_value=value, status="active",
        parent_id=parent, root_id=1, depth=depth, block_number=1, updated_block=1,
    )  # fmt: skip


def test_a_supplier_sees_its_branch_including_what_it_passed_on_whole() -> None:
    #        T1 (A)
    #       /      \
    #   T2 (B)    T3 (C, received whole from B)
    #     |          |
    #   T4 (D)     T5 (E)
    nodes = {
        i: queries.LineageNode(_cert(i, holder, parent, depth))
        for i, holder, parent, depth in [
            (1, "A", None, 0),
            (2, "B", 1, 1),
            (3, "C", 1, 1),
            (4, "D", 2, 2),
            (5, "E", 3, 2),
        ]
    }
    for node in nodes.values():
        if node.certificate.parent_id:
            nodes[node.certificate.parent_id].children.append(node)
    payable = Payable(
        slot_id=1, obligor="O", supplier="A", line_id=1, face=500, maturity=0, status="Accepted", paid_in=0,
        paid_out=0, root_token_id=1, block_number=1, updated_block=1,
    )  # fmt: skip
    tree = queries.Lineage(payable, nodes[1], 5, [], {"A", "B", "C", "D", "E"}, passed_on={"B": {3}})
    queries.restrict_lineage(tree, "B")
    assert tree.root is not None
    seen = [c.certificate.token_id for c in tree.root.children]
    assert seen == [2, 3]  # its own branch and the token it passed on whole
    assert [c.certificate.token_id for c in nodes[2].children] == [4]
    assert [c.certificate.token_id for c in nodes[3].children] == [5]

    tree_d = queries.Lineage(payable, _rebuild(), 5, [], set())
    queries.restrict_lineage(tree_d, "D")
    assert tree_d.root is not None
    assert [c.certificate.token_id for c in tree_d.root.children] == [2]  # not C's branch
    assert tree_d.root.hidden_descendants == 2


def _rebuild() -> queries.LineageNode:
    nodes = {
        i: queries.LineageNode(_cert(i, holder, parent, depth))
        for i, holder, parent, depth in [
            (1, "A", None, 0),
            (2, "B", 1, 1),
            (3, "C", 1, 1),
            (4, "D", 2, 2),
            (5, "E", 3, 2),
        ]
    }
    for node in nodes.values():
        if node.certificate.parent_id:
            nodes[node.certificate.parent_id].children.append(node)
    return nodes[1]


def test_a_mistyped_amount_comes_back_with_what_to_write(book: tuple[Engine, synthetic.Seeded]) -> None:
    engine, seeded = book
    supplier = seeded.addresses["supplier1"]
    client = client_for(engine, seeded.tokens["supplier1"])
    response = client.post(
        f"/dashboard/supplier/{supplier}/split_transfer",
        data={"token_id": "21", "to": seeded.addresses["supplier2"], "amount": "12.345"},
    )
    assert response.status_code == 200  # back on the page, after the redirect
    assert "Amount: “12.345” is not an amount in yuan; write it like 12,345.67" in response.text
    assert 'class="flash flash-error" role="alert"' in response.text
