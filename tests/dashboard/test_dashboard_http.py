"""The dashboard over HTTP without a browser: exact sums, sessions, access rules, CSV export."""

from __future__ import annotations

import csv
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from dashkit import LATIN_IN_CHINESE, dashboard_sign_in, english_leftovers
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import text
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from tierflow.platform import i18n
from tierflow.platform.dashboard import format as fmt
from tierflow.platform.dashboard import labels, queries
from tierflow.platform.dashboard.mount import PAGES, mount_dashboard
from tierflow.platform.dashboard.pages import lineage as lineage_page
from tierflow.platform.dashboard.session import COOKIE_NAME, decode_cookie
from tierflow.platform.db import make_engine
from tierflow.platform.models.financing import FinancingRequest
from tierflow.platform.models.governance import GovernanceProposal
from tierflow.platform.models.indexer import RawEvent
from tierflow.platform.models.receivables import Certificate, CertificateTransfer, Payable, Payout, Repayment
from tierflow.platform.models.service import ApiKey
from tierflow.platform.pgtemp import PgCluster
from tierflow.platform.services import audit_trail, lineage
from tierflow.platform.services.audit_trail import Actor
from tierflow.platform.services.errors import ServiceError
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
        response = dashboard_sign_in(client, token, follow_redirects=False)
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
        synthetic.summarise(engine)  # as the indexer does in the transaction that writes the rows
        after = queries.portfolio(db, bank, now=int(time.time()))
    assert after.amount - before.amount == 2 * (2**70 + 1)
    assert after.count == before.count + 2
    assert sum(p.amount for p in after.by_obligor) == after.amount


def test_sign_in_sets_a_signed_http_only_cookie_without_the_key(
    book: tuple[Engine, synthetic.Seeded],
) -> None:
    engine, seeded = book
    client = client_for(engine)
    response = dashboard_sign_in(client, seeded.tokens["supplier1"], follow_redirects=False)
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


PUBLIC = {
    "/dashboard/sign-in",
    "/dashboard/staff-sign-in",  # password and code: the other way in
    "/dashboard/sign-out",
    "/dashboard/language",  # the 中文 / English switch works before sign-in (a cookie)
    "/dashboard/changes",
    "/dashboard/static/{name}",
}


def test_every_page_and_form_asks_for_a_session_first(book: tuple[Engine, synthetic.Seeded]) -> None:
    engine, _ = book
    client = client_for(engine)
    routes = [(method, route.path) for module in PAGES for route in module.router.routes
              for method in route.methods if route.path not in PUBLIC]  # fmt: skip
    assert len(routes) >= 27  # every page and form of every actor
    for method, path in routes:
        url = re.sub(r"{[^}]+}", "1", path)
        response = client.request(method, url, follow_redirects=False)
        assert response.status_code == 303, (method, path, response.status_code)
        assert response.headers["location"].startswith("/dashboard/sign-in"), (method, path)


def test_wrong_key_says_what_to_do(book: tuple[Engine, synthetic.Seeded]) -> None:
    engine, _ = book
    client = client_for(engine)
    response = dashboard_sign_in(client, "hello")
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


@dataclass(frozen=True)
class _Party:
    address: str
    roles: int = 2  # a supplier
    sees_everything: bool = False


def test_a_supplier_sees_its_paths_including_what_it_passed_on_whole(tmp_path: Path) -> None:
    #        T1 (A)                 A split T2 and T3 off to B; B passed T3 on whole to C;
    #       /      \\               B split T4 off to D; C split T5 off to E.
    #   T2 (B)    T3 (C, received whole from B)
    #     |          |
    #   T4 (D)     T5 (E)
    engine = make_engine(f"sqlite:///{tmp_path / 'tree.db'}")
    synthetic.create_tables(engine)
    tokens = [(1, "A", None, 0), (2, "B", 1, 1), (3, "C", 1, 1), (4, "D", 2, 2), (5, "E", 3, 2)]
    moves = [
        ("issued", 1, None, "0x0", "A"), ("split", 1, 2, "A", "B"), ("split", 1, 3, "A", "B"),
        ("transferred", 3, None, "B", "C"), ("split", 2, 4, "B", "D"), ("split", 3, 5, "C", "E"),
    ]  # fmt: skip
    with Session(engine) as db:
        db.add(
            Payable(
                slot_id=1, obligor="O", supplier="A", line_id=1, face=500, maturity=0, status="Accepted",
                paid_in=0, paid_out=0, root_token_id=1, block_number=1, updated_block=1,
            )
        )  # fmt: skip
        for token_id, holder, parent, depth in tokens:
            db.add(
                Certificate(
                    token_id=token_id, slot_id=1, holder=holder, value=100 * token_id,
                    initial_value=100 * token_id, status="active", parent_id=parent, root_id=1,
                    depth=depth, block_number=1, updated_block=1,
                )
            )  # fmt: skip
        for n, (kind, token_id, new_token_id, sender, receiver) in enumerate(moves):
            db.add(
                CertificateTransfer(
                    block_number=1, log_index=n, tx_hash="0x", kind=kind, slot_id=1, token_id=token_id,
                    new_token_id=new_token_id, from_address=sender, to_address=receiver, value=1,
                )
            )  # fmt: skip
        db.commit()
        synthetic.fill_tiers(engine, [1])  # the tiers the indexer keeps with those rows

        def children(tree: lineage.Lineage) -> dict[int, list[int]]:
            found: dict[int, list[int]] = {}
            stack = [tree.root] if tree.root else []
            while stack:
                node = stack.pop()
                found[node.certificate.token_id] = [c.certificate.token_id for c in node.children]
                stack.extend(node.children)
            return found

        tree = lineage.payable_lineage(db, _Party("B"), 1)
        assert tree is not None and tree.root is not None
        # its own branch, the token it passed on whole and the one it split off; not C's split to E
        assert children(tree) == {1: [2, 3], 2: [4], 3: [], 4: []}
        assert [n.certificate.token_id for n in tree.root.children if n.hidden] == [3]
        assert tree.count == 4
        # Tiers are supply-chain distance (docs/tiers.md): C received T3 from B, a tier further than B
        # (split depth put it beside B), and D is B's supplier, tier 3 like C.
        assert [(t.tier, t.tokens, t.holders, t.amount) for t in tree.tiers] == [
            (1, 1, 1, 100), (2, 1, 1, 200), (3, 2, 2, 700)
        ]  # fmt: skip

        tree_d = lineage.payable_lineage(db, _Party("D"), 1)
        assert tree_d is not None and tree_d.root is not None
        assert children(tree_d) == {1: [2], 2: [4], 4: []}  # not C's branch
        assert tree_d.root.hidden  # a hint that there is more, never how much
        assert tree_d.count == 3
        assert [(t.tier, t.tokens, t.amount) for t in tree_d.tiers] == [(1, 1, 100), (2, 1, 200), (3, 1, 400)]

        whole = lineage.payable_lineage(db, _Party("O", roles=1), 1)
        assert whole is not None and whole.count == 5 and not whole.restricted
        with pytest.raises(ServiceError):
            lineage.payable_lineage(db, _Party("X"), 1)  # no party to this payable
    engine.dispose()


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


def _walk_pages(
    client: TestClient, url: str, panel: str, row: str, cursor: str
) -> tuple[list[str], list[list[int]]]:
    """Every page of a dashboard panel, following its `?<cursor>=<id>` link: the HTML and the row ids
    (`data-<row>`) of each."""
    htmls: list[str] = []
    pages: list[list[int]] = []
    query = f"?panel={panel}"
    while True:
        html = client.get(url + query).text
        htmls.append(html)
        pages.append([int(i) for i in re.findall(rf'data-{row}="(\d+)"', html)])
        following = re.search(rf'href="\?{cursor}=(\d+)"', html)
        if following is None:
            return htmls, pages
        query = f"?panel={panel}&{cursor}={following.group(1)}"


def test_bank_queue_pages_by_cursor_every_open_request_once(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'queue.db'}")
    synthetic.create_tables(engine)
    seeded = synthetic.seed_book(engine, synthetic.seed_people(engine), requests=130, positions=5)
    client = client_for(engine, seeded.tokens["bank1"])
    url = f"/dashboard/bank/{seeded.addresses['bank1']}"
    with Session(engine) as db:
        expected = [
            r.request_id
            for r in db.exec(
                select(FinancingRequest)
                .where(col(FinancingRequest.status).in_(queries.OPEN_REQUEST_STATUSES))
                .order_by(col(FinancingRequest.request_id).desc())
            )
        ]
    htmls, pages = _walk_pages(client, url, "queue", "request", "before")
    html = htmls[-1]
    assert [i for page in pages for i in page] == expected and len(pages) == 3
    assert f"101–130 of {len(expected)}" in html
    newer = re.search(r'href="\?after=(\d+)"', html)
    assert newer is not None
    back = client.get(f"{url}?panel=queue&after={newer.group(1)}").text
    assert [int(i) for i in re.findall(r'data-request="(\d+)"', back)] == pages[1]
    engine.dispose()


def test_sign_in_page_chinese_browser_reads_chinese(book: tuple[Engine, synthetic.Seeded]) -> None:
    engine, _ = book
    zh = client_for(engine).get("/dashboard/sign-in", headers={"Accept-Language": "zh-CN,zh;q=0.9,en;q=0.8"})
    assert '<html lang="zh-CN">' in zh.text and "跳到正文" in zh.text
    en = client_for(engine).get("/dashboard/sign-in", headers={"Accept-Language": "en-GB"})
    assert '<html lang="en">' in en.text and "Skip to content" in en.text


def test_language_switch_before_sign_in_is_remembered_by_cookie(
    book: tuple[Engine, synthetic.Seeded],
) -> None:
    engine, _ = book
    client = client_for(engine)
    client.headers["Accept-Language"] = "zh-CN"
    response = client.get(
        "/dashboard/language", params={"locale": "en", "next": "/dashboard/sign-in"}, follow_redirects=False
    )
    assert response.status_code == 303 and response.headers["location"] == "/dashboard/sign-in"
    assert response.cookies[i18n.COOKIE_NAME] == "en"
    assert '<html lang="en">' in client.get("/dashboard/sign-in").text
    # Somewhere else than the dashboard is never a target.
    away = client.get("/dashboard/language", params={"locale": "zh_CN", "next": "https://evil.example/"},
                      follow_redirects=False)  # fmt: skip
    assert away.headers["location"] == "/dashboard"


def test_signed_in_header_follows_the_switch(book: tuple[Engine, synthetic.Seeded]) -> None:
    engine, seeded = book
    client = client_for(engine)
    dashboard_sign_in(client, seeded.tokens["supplier1"])
    page = f"/dashboard/supplier/{seeded.addresses['supplier1']}"
    assert "Sign out" in client.get(page).text
    html = client.get("/dashboard/language", params={"locale": "zh_CN", "next": page}).text
    assert '<html lang="zh-CN">' in html  # back on the page, in Chinese
    assert "退出登录" in html and ">Sign out<" not in html


def _held_by(engine: Engine, holder: str) -> list[tuple[Certificate, Payable]]:
    """Every certificate `holder` holds, with its payable, in the holdings pages' order."""
    with Session(engine) as db:
        return list(
            db.exec(
                select(Certificate, Payable)
                .join(Payable, col(Payable.slot_id) == col(Certificate.slot_id))
                .where(col(Certificate.holder) == holder)
                .order_by(col(Payable.maturity), col(Certificate.token_id))
            ).all()
        )


def test_supplier_holdings_page_by_cursor_every_holding_once(tmp_path: Path) -> None:
    """More holdings than a page: the supplier walks them by cursor, soonest maturity first, each once,
    and the total above the table is every holding's, not the page's (it was the first 200's)."""
    engine = make_engine(f"sqlite:///{tmp_path / 'holdings.db'}")
    synthetic.create_tables(engine)
    seeded = synthetic.seed_people(engine)
    synthetic.seed_bulk(engine, seeded, certificates=1_000, payables=10, first_slot=1_000, first_token=10_000)
    supplier = seeded.addresses["supplier2"]
    client = client_for(engine, seeded.tokens["supplier2"])
    url = f"/dashboard/supplier/{supplier}"
    held = _held_by(engine, supplier)
    expected = [c.token_id for c, _ in held]
    assert len(expected) > 200
    htmls, pages = _walk_pages(client, url, "tables", "token", "after")
    html = htmls[-1]
    assert all(f"¥{fmt.yuan(sum(c.value for c, _ in held))}" in page for page in htmls)
    assert [i for page in pages for i in page] == expected and len(pages) == 2
    assert f"{len(pages[1])} of {len(expected)} certificates" in html
    assert f"panel=tables&amp;after={pages[0][-1]}" in html  # the live refresh stays on this page
    engine.dispose()


def test_operator_and_auditor_pages_show_governance_proposals(book: tuple[Engine, synthetic.Seeded]) -> None:
    engine, seeded = book
    receivables = "0x" + "ab" * 20
    with Session(engine) as db:
        db.add(
            RawEvent(
                block_hash="0x" + "11" * 32, log_index=0, block_number=5, tx_hash="0x" + "22" * 32,
                tx_index=0, contract="Receivables", address=receivables, event="Upgraded", args={},
            )
        )  # fmt: skip
        db.add(
            GovernanceProposal(
                proposal_id=7, proposer=seeded.addresses["operator"], target=receivables,
                data="0x4f1ef286" + "00" * 64, description_hash="0x" + "33" * 32, approvals=2,
                state="Scheduled", eta=1_800_000_000, executed_by=None, block_number=6, updated_block=6,
            )
        )  # fmt: skip
        db.commit()
    for who in ("operator", "auditor"):
        page = client_for(engine, seeded.tokens[who]).get("/dashboard/operator").text
        table = page[page.index('data-testid="governance"') :]
        assert "certificates (receivables)" in table and "Upgrade the contract" in table  # named in words
        assert "approved, waiting for the delay" in table and "2027" in table  # the date, not unix seconds
        assert "1800000000" not in table and "0x4f1ef286" not in table


@pytest.mark.parametrize(
    ("who", "path"),
    [
        ("supplier1", "/dashboard/supplier/{supplier1}"),
        ("bank1", "/dashboard/bank/{bank1}?book=inline"),
        ("core1", "/dashboard/core/{core1}"),
        ("auditor", "/dashboard/audit"),
        ("auditor", "/dashboard/audit/participant/{bank1}"),
        ("operator", "/dashboard/operator"),
        ("auditor", "/dashboard/lineage/1"),
        ("supplier1", "/dashboard/bills"),
    ],
)
def test_pages_in_chinese_have_no_english_leftovers(
    book: tuple[Engine, synthetic.Seeded], who: str, path: str
) -> None:
    engine, seeded = book
    client = client_for(engine, seeded.tokens[who])
    client.headers["Accept-Language"] = "zh-CN,zh;q=0.9"
    response = client.get(path.format(**seeded.addresses))
    assert response.status_code == 200
    assert '<html lang="zh-CN">' in response.text
    assert re.search(r"[\u4e00-\u9fff]{2,}", response.text)
    with Session(engine) as db:
        names = list(queries.directory(db).names.values())
    leftovers = english_leftovers(response.text, names)
    assert not leftovers, " ".join(leftovers)


def test_language_choice_is_remembered_per_person_across_browsers(
    book: tuple[Engine, synthetic.Seeded],
) -> None:
    from tierflow.platform.models.staff import StaffUser
    from tierflow.platform.services import users

    engine, seeded = book
    supplier = seeded.addresses["supplier1"]
    with Session(engine) as db:  # the key belongs to a person of the company (its first admin)
        admin = users.first_admin(db, supplier)
        for key in db.exec(select(ApiKey).where(ApiKey.address == supplier)):
            key.user_id = admin.user_id
            db.add(key)
        db.commit()
        admin_id = admin.user_id
    page = f"/dashboard/supplier/{supplier}"
    laptop = client_for(engine, seeded.tokens["supplier1"])
    laptop.get("/dashboard/language", params={"locale": "zh_CN", "next": page})
    with Session(engine) as db:
        assert (db.get(StaffUser, admin_id) or StaffUser()).language == "zh_CN"
    # Another browser, set to English: after sign-in the person's choice wins over the browser's.
    phone = client_for(engine)
    phone.headers["Accept-Language"] = "en-US"
    dashboard_sign_in(phone, seeded.tokens["supplier1"])
    assert phone.cookies.get(i18n.COOKIE_NAME) == "zh_CN"
    html = phone.get(page).text
    assert '<html lang="zh-CN">' in html and "退出登录" in html
    phone.cookies.delete(i18n.COOKIE_NAME)  # even without the cookie: the person's choice
    assert '<html lang="zh-CN">' in phone.get(page).text


def test_dates_have_one_format_per_language(book: tuple[Engine, synthetic.Seeded]) -> None:
    engine, seeded = book
    client = client_for(engine, seeded.tokens["auditor"])
    english = client.get("/dashboard/audit", headers={"Accept-Language": "en"}).text
    chinese = client.get("/dashboard/audit", headers={"Accept-Language": "zh-CN"}).text
    # Written by the server (no script rewrites them in the browser's own format).
    iso = r'<time datetime="[^"]+" title="\d{4}-\d{2}-\d{2}">'  # the exact date stays in the title
    assert re.search(iso + r"\d{1,2} [A-Z][a-z]{2} \d{4}</time>", english)
    assert re.search(iso + r"\d{4}年\d{1,2}月\d{1,2}日</time>", chinese)
    assert not re.search(r"<time[^>]*>\d{4}-\d{2}-\d{2}</time>", english + chinese)


@pytest.mark.parametrize("backend", ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def test_auditor_participant_page_walks_every_holding_by_cursor(tmp_path: Path, backend: str) -> None:
    """The auditor's participant page showed the first 200 holdings and no more: now every holding, a
    page at a time by cursor (soonest maturity first, each once), under the total of all of them."""
    cluster = PgCluster.start() if backend == "postgresql" else None
    engine = make_engine(cluster.create_database() if cluster else f"sqlite:///{tmp_path / 'participant.db'}")
    try:
        synthetic.create_tables(engine)
        seeded = synthetic.seed_people(engine)
        synthetic.seed_bulk(
            engine, seeded, certificates=1_000, payables=10, first_slot=1_000, first_token=10_000
        )
        supplier = seeded.addresses["supplier3"]
        held = _held_by(engine, supplier)
        expected = [c.token_id for c, _ in held]
        assert len(expected) > 200
        client = client_for(engine, seeded.tokens["auditor"])
        htmls, pages = _walk_pages(client, f"/dashboard/audit/participant/{supplier}", "", "token", "after")
        assert [i for page in pages for i in page] == expected and len(pages) == 2
        assert all(f"¥{fmt.yuan(sum(c.value for c, _ in held))}" in html for html in htmls)
        assert f"{len(pages[1])} of {len(expected)} certificates" in htmls[-1]
    finally:
        engine.dispose()
        if cluster is not None:
            cluster.stop()


@pytest.mark.parametrize("backend", ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def test_lineage_page_renders_a_page_of_the_tree_and_walks_it_by_cursor(
    tmp_path: Path, backend: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The lineage page rendered the whole tree (10,000 list items for 10,000 tokens): now a page at a
    time in the order it renders, each page under its ancestors from earlier pages; every certificate
    on exactly one page, parents before children."""
    monkeypatch.setattr(lineage_page, "PAGE", 100, raising=False)
    cluster = PgCluster.start() if backend == "postgresql" else None
    engine = make_engine(cluster.create_database() if cluster else f"sqlite:///{tmp_path / 'tree.db'}")
    try:
        synthetic.create_tables(engine)
        seeded = synthetic.seed_people(engine)
        synthetic.seed_tree(engine, seeded, slot_id=7, tokens=230)
        with Session(engine) as db:
            parents = {c.token_id: c.parent_id for c in db.exec(select(Certificate))}
        client = client_for(engine, seeded.tokens["auditor"])
        htmls, pages = _walk_pages(client, "/dashboard/lineage/7", "", "token", "after")
        assert [len(p) for p in pages] == [100, 100, 30]
        walked = [t for page in pages for t in page]
        assert sorted(walked) == sorted(parents)  # every certificate once
        position = {t: i for i, t in enumerate(walked)}
        assert all(parent is None or position[parent] < position[t] for t, parent in parents.items())
        for html, page in zip(htmls[1:], pages[1:], strict=True):
            # A later page starts under its first certificate's ancestors, shown as context.
            first, above = page[0], set()
            while parents[first] is not None:
                first = parents[first]
                above.add(first)
            shown = {int(i) for i in re.findall(r'<li id="t(\d+)" class="node[^"]*" data-context>', html)}
            assert shown == above
        assert f"100 of {len(parents)} certificates" in htmls[0]
    finally:
        engine.dispose()
        if cluster is not None:
            cluster.stop()


def test_remembered_language_holds_on_every_page_error_and_csv(book: tuple[Engine, synthetic.Seeded]) -> None:
    """The person chose 中文 once; in another browser set to English, with no language cookie at all,
    every page, the error pages and the CSV downloads are in Chinese (the choice is the person's)."""
    from tierflow.platform.models.staff import StaffUser
    from tierflow.platform.services import users

    engine, seeded = book
    auditor = seeded.addresses["auditor"]
    with Session(engine) as db:  # the key belongs to a person of the auditor's firm (its first admin)
        admin = users.first_admin(db, auditor)
        for key in db.exec(select(ApiKey).where(ApiKey.address == auditor)):
            key.user_id = admin.user_id
            db.add(key)
        db.commit()
        # the companies' and the people's names (and logins) are theirs, in the language they were written
        people = [t for person in db.exec(select(StaffUser)) for t in (person.name, person.login) if t]
        names = list(queries.directory(db).names.values()) + people
    client_for(engine, seeded.tokens["auditor"]).get("/dashboard/language", params={"locale": "zh_CN"})
    phone = client_for(engine)
    phone.headers["Accept-Language"] = "en-US,en;q=0.9"
    dashboard_sign_in(phone, seeded.tokens["auditor"])
    phone.cookies.delete(i18n.COOKIE_NAME)
    at = seeded.addresses
    pages = [
        "/dashboard/audit", f"/dashboard/audit/participant/{at['bank1']}", "/dashboard/operator",
        "/dashboard/lineage/1", "/dashboard/bills", "/dashboard/team",
        f"/dashboard/bank/{at['bank1']}?book=inline", f"/dashboard/supplier/{at['supplier1']}",
        f"/dashboard/core/{at['core1']}",
    ]  # fmt: skip
    for path in pages:
        response = phone.get(path)
        assert response.status_code == 200, path
        assert '<html lang="zh-CN">' in response.text, path
        assert not english_leftovers(response.text, names), (path, english_leftovers(response.text, names))
    # Error pages: an action a supervisor may not take (403), a payable that does not exist.
    denied = phone.post(f"/dashboard/supplier/{seeded.addresses['supplier1']}/accept", data={"slot_id": "1"})
    missing = phone.get("/dashboard/lineage/999999")
    for response in (denied, missing):
        assert '<html lang="zh-CN">' in response.text, response.status_code
        assert not english_leftovers(response.text, names), english_leftovers(response.text, names)
    # CSV downloads from the dashboard: the header row in the person's language.
    csvs = [f"/dashboard/audit/export/{name}.csv" for name in labels.EXPORTS]
    csvs += [f"/dashboard/core/{at['core1']}/forecast.csv", "/dashboard/team/trail.csv"]
    for path in csvs:
        response = phone.get(path)
        assert response.status_code == 200, path
        header = response.text.splitlines()[0]
        assert re.search(r"[\u4e00-\u9fff]", header), (path, header)
        english = [w for w in re.findall(r"[A-Za-z]{3,}", header) if w not in LATIN_IN_CHINESE]
        assert not english, (path, header)
    trail = phone.get("/dashboard/team/trail.csv").text.splitlines()[1]  # the refused post above
    assert re.match(r"1,\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z,", trail), trail  # ISO time, not unix seconds
    # Beside the stored keys (the hashes chain over them), the action and outcome in the reader's words.
    *_, company, action, outcome = next(csv.reader([trail]))
    assert re.search(r"[\u4e00-\u9fff]", action) and re.search(r"[\u4e00-\u9fff]", outcome), trail


def test_supplier_requests_page_by_cursor_and_payouts_total_every_payout(tmp_path: Path) -> None:
    """More financing requests than a page: the supplier walks them by cursor, newest first, each once;
    more payouts than the table lists: the total above it is every payout's (it was the newest 200's)."""
    engine = make_engine(f"sqlite:///{tmp_path / 'requests.db'}")
    synthetic.create_tables(engine)
    seeded = synthetic.seed_people(engine)
    synthetic.seed_bulk(engine, seeded, certificates=100, payables=2, first_slot=1_000, first_token=10_000)
    a = seeded.addresses
    supplier = a["supplier2"]
    synthetic.add_requests(
        engine, token_id=10_000, seller=supplier, financier=a["bank1"], request_ids=list(range(5_000, 5_205)),
        amount=100,
    )  # fmt: skip
    payouts = [
        {"block_number": 10 + i, "log_index": 0, "tx_hash": "0x" + f"{i:064x}", "token_id": 10_000,
         "slot_id": 1_000, "holder": supplier, "amount": 1_000 + i}
        for i in range(203)
    ]  # fmt: skip
    with engine.begin() as conn:
        conn.execute(Payout.__table__.insert(), payouts)  # type: ignore[attr-defined]
    client = client_for(engine, seeded.tokens["supplier2"])
    url = f"/dashboard/supplier/{supplier}"
    htmls, pages = _walk_pages(client, url, "tables", "request", "requests_after")
    assert [i for page in pages for i in page] == list(range(5_204, 4_999, -1)) and len(pages) == 2
    assert "5 of 205 requests" in htmls[-1]
    assert "panel=tables&amp;requests_after=5005" in htmls[-1]  # the live refresh stays on this page
    total = f"¥{fmt.yuan(sum(p['amount'] for p in payouts))}"
    assert all(total in html for html in htmls)
    assert "200 on this page, 203 in all" in htmls[0]  # the payouts' pager (it said "the newest 200 of 203")
    engine.dispose()


def test_bill_page_lists_past_200_by_cursor_each_row_once(tmp_path: Path) -> None:
    """More bills, ranges and queued discount requests than a page (200): each list of the bills page has
    a next-page link by cursor that reaches every row once, in id order (it showed the first 200 only)."""
    engine = make_engine(f"sqlite:///{tmp_path / 'bills.db'}")
    synthetic.create_tables(engine)
    seeded = synthetic.seed_people(engine)
    synthetic.seed_bills(engine, seeded, packages=450)
    with engine.connect() as conn:
        live = [
            int(r[0]) for r in conn.execute(text("SELECT range_id FROM bill_range WHERE status <> 'Closed'"))
        ]
    holder = client_for(engine, seeded.tokens["supplier2"])
    htmls, pages = _walk_pages(holder, "/dashboard/bills", "all", "bill", "bills_after")
    assert [i for page in pages for i in page] == list(range(1, 451)) and len(pages) == 3
    assert "50 on this page, 450 in all" in htmls[-1]
    _, pages = _walk_pages(holder, "/dashboard/bills", "all", "range", "held_after")
    assert [i for page in pages for i in page] == sorted(live) and len(pages) == 2
    bank = client_for(engine, seeded.tokens["bank1"])
    _, pages = _walk_pages(bank, "/dashboard/bills", "all", "request", "queue_after")
    assert [i for page in pages for i in page] == sorted(live) and len(pages) == 2
    engine.dispose()


def test_audit_trail_page_walks_past_200_by_cursor_keeping_the_filter(tmp_path: Path) -> None:
    """The trail page showed the newest 200 entries and stopped; its next-page link (cursor, the search
    kept) now reaches every matching entry once, newest first."""
    engine = make_engine(f"sqlite:///{tmp_path / 'trail.db'}")
    synthetic.create_tables(engine)
    seeded = synthetic.seed_people(engine)
    for n in range(450):
        audit_trail.record(
            engine, actor=Actor(company=None, user_name="walker"), action=f"walk {n}", outcome="200"
        )
    client = client_for(engine, seeded.tokens["auditor"])
    seen: list[int] = []
    query, pages = "?action=walk", 0
    while pages < 10:
        html = client.get("/dashboard/team/trail" + query).text
        pages += 1
        seen += [int(s) for s in re.findall(r"<tr><td>(\d+)</td>", html)]
        following = re.search(r'href="\?user=&amp;action=walk&amp;after=(\d+)"', html)
        if following is None:
            break
        query = f"?action=walk&after={following.group(1)}"
    with engine.connect() as conn:
        expected = [int(r[0]) for r in conn.execute(text("SELECT seq FROM audit_entry ORDER BY seq DESC"))]
    assert seen == expected and len(seen) == 450 and pages == 3
    engine.dispose()


def test_audit_trail_csv_has_every_entry_past_the_old_100000_cap(tmp_path: Path) -> None:
    """The trail CSV read at most 100,000 entries and ended there without a word; it now streams every
    matching entry, newest first, a page at a time."""
    engine = make_engine(f"sqlite:///{tmp_path / 'trail.db'}")
    synthetic.create_tables(engine)
    seeded = synthetic.seed_people(engine)
    first = audit_trail.record(
        engine, actor=Actor(company=None, user_name="walker"), action="walk", outcome="200"
    )
    entries = 100_050
    rows = [
        {"seq": first + n, "at": 1_700_000_000 + n, "company": None, "user_id": None, "user_name": "walker",
         "action": f"walk {n}", "outcome": "200", "detail": "", "ip": "", "user_agent": "", "request_id": "",
         "tx_hash": None, "prev_hash": "0" * 64, "entry_hash": "0" * 64}
        for n in range(1, entries)
    ]  # fmt: skip
    with engine.begin() as conn:
        conn.execute(audit_trail.AUDIT.insert(), rows)
    client = client_for(engine, seeded.tokens["auditor"])
    response = client.get("/dashboard/team/trail.csv?action=walk")
    assert response.status_code == 200
    lines = response.text.splitlines()
    seqs = [int(line.split(",", 1)[0]) for line in lines[1:]]
    assert len(seqs) == entries and seqs == list(range(first + entries - 1, first - 1, -1))
    engine.dispose()


def test_core_payables_page_by_cursor_and_outstanding_over_every_payable(tmp_path: Path) -> None:
    """More payables than the table's 200: its next-page link reaches every one once, newest first, and
    the count and the outstanding figure are over all of them (they were the 200 listed, the 50 upcoming)."""
    engine = make_engine(f"sqlite:///{tmp_path / 'core.db'}")
    synthetic.create_tables(engine)
    seeded = synthetic.seed_people(engine)
    synthetic.seed_bulk(engine, seeded, certificates=450, payables=450, first_slot=1_000, first_token=10_000)
    core = seeded.addresses["core1"]
    with engine.connect() as conn:
        slots = [int(r[0]) for r in conn.execute(
            text("SELECT slot_id FROM payable WHERE obligor = :o ORDER BY slot_id DESC"), {"o": core}
        )]  # fmt: skip
    client = client_for(engine, seeded.tokens["core1"])
    htmls, pages = _walk_pages(client, f"/dashboard/core/{core}", "tables", "payable", "payables_after")
    assert [i for page in pages for i in page] == slots and len(slots) > 200 and len(pages) == 2
    assert f'<span class="count">{len(slots)}</span>' in htmls[0]
    assert f"panel=tables&amp;payables_after={slots[199]}" in htmls[-1]  # the live refresh stays on this page
    assert fmt.yuan(len(slots) * 10**15) in htmls[0]  # every accepted payable's face, none repaid
    # Upcoming maturities and repayments: 50 a page by their own cursors (they showed the first 50 only),
    # every row once in order, ties on the maturity day and in one block across page boundaries.
    with engine.connect() as conn:
        upcoming = [str(r[0]) for r in conn.execute(text(
            "SELECT slot_id FROM payable WHERE obligor = :o AND status IN ('Accepted', 'Defaulted') "
            "ORDER BY maturity, slot_id"), {"o": core})]  # fmt: skip
    repayments = [
        {"block_number": 40 + i // 70, "log_index": i % 70, "tx_hash": "0x" + f"{i:064x}",
         "slot_id": slots[i], "obligor": core, "amount": 100, "paid_in": 100}
        for i in range(120)
    ]  # fmt: skip
    with engine.begin() as conn:
        conn.execute(Repayment.__table__.insert(), repayments)  # type: ignore[attr-defined]
    url = f"/dashboard/core/{core}"
    htmls, marks = _walk_links(client, url, "slot", "upcoming_after")
    assert [m for page in marks for m in page] == upcoming and [len(m) for m in marks] == [50] * 4 + [25]
    assert "25 on this page, 225 in all" in htmls[-1]
    _, marks = _walk_links(client, url, "repayment", "repayments_after")
    newest = sorted(((r["block_number"], r["log_index"]) for r in repayments), reverse=True)
    assert [m for page in marks for m in page] == [f"{b}-{i}" for b, i in newest] and len(marks) == 3
    # Paging the payables keeps the upcoming list's page, in the links and in the live refresh.
    second = re.search(r'href="\?([^"]*)" data-testid="upcoming_after-next"', htmls[0])
    assert second is not None
    html = client.get(f"{url}?{second.group(1).replace('&amp;', '&')}").text
    following = re.search(r'href="\?([^"]*)" data-testid="payables_after-next"', html)
    assert following is not None and "upcoming_after=" in following.group(1)
    assert re.search(r'hx-get="[^"]*upcoming_after=', html)
    engine.dispose()


def test_operator_payouts_due_page_by_cursor_every_payable_once(
    book: tuple[Engine, synthetic.Seeded],
) -> None:
    """More payouts due than a page (runs of equal maturities across the page boundaries): the next-page
    links reach every one once in (maturity, payable) order, the count is over all of them, and a cursor
    edited in the address bar shows the first page instead of failing (the panel listed every row at once
    before: no pager, no link)."""
    engine, seeded = book
    a = seeded.addresses
    slots = list(range(600_230, 600_000, -1))  # slot order runs against maturity order within a day
    synthetic.add_due_payables(
        engine, obligor=a["core1"], holder=a["supplier2"], slot_ids=slots, maturity=86_400 * 20_000,
        first_token=600_001,
    )  # fmt: skip
    with engine.connect() as conn:
        due = [int(r[0]) for r in conn.execute(text(synthetic.PAYOUTS_DUE_SQL), {"now": int(time.time())})]
    client = client_for(engine, seeded.tokens["operator"])
    pages: list[list[int]] = []
    query = ""
    while True:
        html = client.get("/dashboard/operator" + query).text
        panel = html.split('data-testid="payouts-due"', 1)[1].split("</section>", 1)[0]
        pages.append([int(i) for i in re.findall(r'data-slot="(\d+)"', panel)])
        assert f'<span class="count">{len(due)}</span>' in panel
        following = re.search(r'href="\?due_after=([A-Za-z0-9_-]+)"', panel)
        if following is None:
            break
        query = f"?due_after={following.group(1)}"
    assert [slot for page in pages for slot in page] == due and set(slots) <= set(due)
    assert [len(page) for page in pages[:-1]] == [100] * (len(pages) - 1) and len(pages) == -(
        -len(due) // 100
    )
    edited = client.get("/dashboard/operator?due_after=bm90IGpzb24")
    assert edited.status_code == 200 and re.findall(r'data-slot="(\d+)"', edited.text)[:100] == [
        str(slot) for slot in due[:100]
    ]


def _walk_links(client: TestClient, url: str, row: str, cursor: str) -> tuple[list[str], list[list[str]]]:
    """Every page of a list whose next-page link carries `cursor` (any other query kept): the HTML and the
    `data-<row>` markers of each."""
    htmls: list[str] = []
    pages: list[list[str]] = []
    query = "?panel=tables"
    while True:
        html = client.get(url + query).text
        htmls.append(html)
        pages.append(re.findall(rf'data-{row}="([^"]+)"', html))
        following = re.search(
            rf'href="\?([^"]*{cursor}=[A-Za-z0-9_-]+[^"]*)" data-testid="{cursor}-next"', html
        )
        if following is None:
            return htmls, pages
        query = "?panel=tables&" + following.group(1).replace("&amp;", "&")


def test_supplier_statement_and_payouts_page_by_cursor_across_a_batch_block(tmp_path: Path) -> None:
    """One block funds 260 of the supplier's financing requests (more than a page of 200) and pays it
    payouts beside 190 payouts in other blocks: the statement and the payouts table each walk by their own
    cursor, every line once, newest first, and paging one keeps the other's and the holdings' cursor (both
    showed the newest 200 and stopped; a cursor by block alone would split the batch block wrongly)."""
    engine = make_engine(f"sqlite:///{tmp_path / 'statement.db'}")
    synthetic.create_tables(engine)
    seeded = synthetic.seed_people(engine)
    synthetic.seed_bulk(engine, seeded, certificates=100, payables=2, first_slot=1_000, first_token=10_000)
    a = seeded.addresses
    supplier, batch_block = a["supplier2"], 50
    requests = list(range(5_000, 5_260))
    synthetic.add_requests(
        engine, token_id=10_000, seller=supplier, financier=a["bank1"], request_ids=requests, amount=100
    )
    payouts = [
        {"block_number": batch_block if i < 10 else 10 + i, "log_index": 300 + i if i < 10 else 0,
         "tx_hash": "0x" + f"{i:064x}", "token_id": 10_000, "slot_id": 1_000, "holder": supplier,
         "amount": 1_000 + i}
        for i in range(200)
    ]  # fmt: skip
    table = FinancingRequest.__table__  # type: ignore[attr-defined]
    with engine.begin() as conn:
        conn.execute(Payout.__table__.insert(), payouts)  # type: ignore[attr-defined]
        conn.execute(
            table.update()
            .where(table.c.request_id.in_(requests))
            .values(status="Funded", funded_block=batch_block, price=900)
        )
    # Newest first: block, then payouts (by log index) before financing prices (by request id).
    places = [(p["block_number"], 1, p["log_index"]) for p in payouts] + [
        (batch_block, 0, r) for r in requests
    ]
    expected = ["-".join(map(str, place)) for place in sorted(places, reverse=True)]
    client = client_for(engine, seeded.tokens["supplier2"])
    url = f"/dashboard/supplier/{supplier}"
    htmls, pages = _walk_links(client, url, "line", "statement_after")
    assert [line for page in pages for line in page] == expected and [len(p) for p in pages] == [200, 200, 60]
    assert "60 on this page, 460 in all" in htmls[-1]
    htmls, pages = _walk_links(client, url, "payout", "payouts_after")
    newest = sorted(payouts, key=lambda p: (p["block_number"], p["log_index"]), reverse=True)
    assert [m for page in pages for m in page] == [f"{p['tx_hash']}-10000" for p in newest] and len(
        pages
    ) == 1
    extra = [
        dict(p, block_number=300 + i, tx_hash="0x" + f"{1_000 + i:064x}") for i, p in enumerate(payouts[:30])
    ]
    with engine.begin() as conn:
        conn.execute(Payout.__table__.insert(), extra)  # type: ignore[attr-defined]
    htmls, pages = _walk_links(client, url, "payout", "payouts_after")
    assert len(pages) == 2 and len({m for page in pages for m in page}) == 230 == sum(map(len, pages))
    # Paging the statement keeps the payouts' cursor, in its links and in the live refresh.
    second = re.search(r'href="\?([^"]*payouts_after=\d+[^"]*)" data-testid="payouts_after-next"', htmls[0])
    assert second is not None
    on_page_two = client.get(url + "?" + second.group(1).replace("&amp;", "&")).text
    statement_next = re.search(r'href="\?([^"]*)" data-testid="statement_after-next"', on_page_two)
    assert statement_next is not None and "payouts_after=" in statement_next.group(1)
    assert re.search(r'hx-get="[^"]*payouts_after=\d+', on_page_two)
    assert client.get(url + "?statement_after=bm90IGpzb24").status_code == 200  # edited: the newest lines
    engine.dispose()
