"""Keyset pages (`after` cursors): walking every page returns every row exactly once, in order, even with
rows added between pages; `offset` still works; the OpenAPI documents the cursor."""

from __future__ import annotations

import bisect
import csv
import dataclasses
import io
import itertools
import json
import random
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from apikit import Synthetic, synthetic_api
from sqlalchemy import event, func, inspect, select, text
from sqlalchemy.engine import Engine
from sqlmodel import Session

from tierflow.chain.vocabulary import ROLE_BITS
from tierflow.platform.indexer import summary
from tierflow.platform.models import Certificate, CertificateTransfer, Payable, Payout, Position, SlotVersion
from tierflow.platform.models.financing import RecourseDebt
from tierflow.platform.models.service import DirectoryParticipant, StoredDocument
from tierflow.platform.services import audit_trail, exports, keyset, lineage, participants, queries, sqltext
from tierflow.platform.services.audit_trail import Actor
from tierflow.testing import synthetic

TREE_SLOT = 500
BULK_SLOT, BULK_TOKEN = 1_000, 10_000
CERT = Certificate.__table__  # type: ignore[attr-defined]
PAYABLE = Payable.__table__  # type: ignore[attr-defined]
OF_HOLDER = "SELECT token_id FROM certificate WHERE holder = :h ORDER BY token_id"
LIVE_OF_HOLDER = (
    "SELECT token_id FROM certificate WHERE holder = :h AND status IN ('active', 'locked') ORDER BY token_id"
)
BILL_QUEUE = (
    "SELECT r.request_id FROM bill_discount_request r LEFT JOIN bill_quote q ON q.quote_id = r.quote_id "
    "WHERE r.financier = :h "
)


def _fill(engine: Engine, seeded: synthetic.Seeded) -> None:
    synthetic.seed_book(engine, seeded, requests=130, positions=70)
    synthetic.seed_tree(engine, seeded, slot_id=TREE_SLOT, tokens=230)
    synthetic.seed_bulk(
        engine, seeded, certificates=700, payables=7, first_slot=BULK_SLOT, first_token=BULK_TOKEN
    )
    synthetic.seed_bills(engine, seeded, packages=130)
    a = seeded.addresses
    debts = [
        {"request_id": r, "token_id": BULK_TOKEN, "seller": a["supplier1"], "financier": a["bank1"],
         "owed": 1_000, "collected": 1_000 * (r % 2), "remaining": 1_000 * (1 - r % 2), "block_number": 2,
         "updated_block": 2}
        for r in range(800_001, 800_008)
    ]  # fmt: skip
    with engine.begin() as conn:
        conn.execute(RecourseDebt.__table__.insert(), debts)  # type: ignore[attr-defined]


@pytest.fixture(scope="module", params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def site(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Synthetic]:
    yield from synthetic_api(request.param, tmp_path_factory.mktemp("pages"), _fill)


def _ids(engine: Engine, sql: str, **params: Any) -> list[int]:
    with engine.connect() as conn:
        return [int(row[0]) for row in conn.execute(text(sql), params)]


def _walk(
    site: Synthetic,
    who: str,
    path: str,
    key: str,
    *,
    rows: str = "data",
    between: Callable[[], None] = lambda: None,
    **params: Any,
) -> tuple[list[int], int]:
    """Every id of every page, following `next_after`; `between` runs after each page. Returns the ids
    and the number of pages."""
    seen: list[int] = []
    after: int | None = None
    for pages in itertools.count(1):
        query = {**params, **({"after": after} if after is not None else {})}
        response = site.get(who, path, **query)
        assert response.status_code == 200, response.text
        body = response.json()
        seen.extend(row[key] for row in body[rows])
        after = body["next_after"]
        if after is None:
            return seen, pages
        assert after == seen[-1]
        between()
    raise AssertionError("unreachable")


def test_every_list_walks_every_row_once_in_order(site: Synthetic) -> None:
    a, engine = site.seeded.addresses, site.engine
    cases: list[tuple[str, str, str, str, dict[str, Any], str, dict[str, Any]]] = [
        ("supplier2", "/v1/supplier/holdings", "token_id", "data", {},
         LIVE_OF_HOLDER, {"h": a["supplier2"]}),
        ("auditor", "/v1/audit/certificates", "token_id", "data", {},
         "SELECT token_id FROM certificate ORDER BY token_id", {}),
        ("auditor", "/v1/audit/certificates", "token_id", "data", {"holder": a["bank1"]},
         OF_HOLDER, {"h": a["bank1"]}),
        ("auditor", "/v1/audit/payables", "slot_id", "data", {"obligor": a["core1"]},
         "SELECT slot_id FROM payable WHERE obligor = :h ORDER BY slot_id", {"h": a["core1"]}),
        ("auditor", "/v1/audit/financing-requests", "request_id", "data", {},
         "SELECT request_id FROM financing_request ORDER BY request_id DESC", {}),
        ("bank1", "/v1/financier/requests", "request_id", "data", {"status": "Requested"},
         "SELECT request_id FROM financing_request WHERE financier = :h AND status = 'Requested' "
         "ORDER BY request_id DESC", {"h": a["bank1"]}),
        ("supplier1", "/v1/supplier/financing-requests", "request_id", "data", {},
         "SELECT request_id FROM financing_request WHERE seller = :h ORDER BY request_id DESC",
         {"h": a["supplier1"]}),
        ("core1", "/v1/core/payables", "slot_id", "data", {},
         "SELECT slot_id FROM payable WHERE obligor = :h ORDER BY slot_id", {"h": a["core1"]}),
        ("core1", f"/v1/payables/{TREE_SLOT}/lineage", "token_id", "tokens", {},
         "SELECT token_id FROM certificate WHERE slot_id = :s ORDER BY token_id", {"s": TREE_SLOT}),
        ("core1", "/v1/bills", "package_id", "data", {},
         "SELECT package_id FROM bill_package WHERE drawer = :h ORDER BY package_id", {"h": a["core1"]}),
        ("supplier2", "/v1/bills/holdings", "range_id", "data", {},
         "SELECT range_id FROM bill_range WHERE holder = :h AND status <> 'Closed' ORDER BY range_id",
         {"h": a["supplier2"]}),
        ("bank1", "/v1/bills/discount-queue", "request_id", "data", {},
         "SELECT request_id FROM bill_discount_request WHERE financier = :h ORDER BY request_id",
         {"h": a["bank1"]}),
        ("bank1", "/v1/bills/discount-queue", "request_id", "data", {"status": "quoted"}, BILL_QUEUE
         + "AND r.status = 'quoted' AND q.status = 'open' ORDER BY r.request_id", {"h": a["bank1"]}),
        ("bank1", "/v1/bills/discount-queue", "request_id", "data", {"status": "discounted"}, BILL_QUEUE
         + "AND q.status = 'accepted' ORDER BY r.request_id", {"h": a["bank1"]}),
        ("supplier2", "/v1/bills/discount-requests", "request_id", "data", {},
         "SELECT request_id FROM bill_discount_request WHERE seller = :h ORDER BY request_id",
         {"h": a["supplier2"]}),
    ]  # fmt: skip
    for who, path, key, rows, params, sql, sql_params in cases:
        expected = _ids(engine, sql, **sql_params)
        seen, pages = _walk(site, who, path, key, rows=rows, limit=40, **params)
        assert seen == expected, path
        assert pages == max(1, -(-len(expected) // 40)), path
        first = site.get(who, path, limit=40, **params).json()
        assert first["count"] == len(expected), path


def test_short_party_lists_walk_by_cursor_each_row_once(site: Synthetic) -> None:
    """The lists that were offset-only (credit lines, recourse debts, incoming payables) take the cursor
    too: walked a few rows a page, every row comes once, in id order."""
    a, engine = site.seeded.addresses, site.engine
    debts = "SELECT request_id FROM recourse_debt WHERE {} = :h {}ORDER BY request_id"
    cases: list[tuple[str, str, str, dict[str, Any], str, dict[str, Any]]] = [
        ("core1", "/v1/core/credit-lines", "line_id", {},
         "SELECT line_id FROM credit_line WHERE obligor = :h ORDER BY line_id", {"h": a["core1"]}),
        ("bank1", "/v1/financier/credit-lines", "line_id", {},
         "SELECT line_id FROM credit_line WHERE financier = :h ORDER BY line_id", {"h": a["bank1"]}),
        ("bank1", "/v1/financier/recourse-debts", "request_id", {}, debts.format("financier", ""),
         {"h": a["bank1"]}),
        ("bank1", "/v1/financier/recourse-debts", "request_id", {"open_only": True},
         debts.format("financier", "AND remaining > collected "), {"h": a["bank1"]}),
        ("supplier1", "/v1/supplier/recourse-debts", "request_id", {}, debts.format("seller", ""),
         {"h": a["supplier1"]}),
        ("supplier1", "/v1/supplier/incoming", "slot_id", {},
         "SELECT slot_id FROM payable WHERE supplier = :h AND status = 'Issued' ORDER BY slot_id",
         {"h": a["supplier1"]}),
    ]  # fmt: skip
    for who, path, key, params, sql, sql_params in cases:
        expected = _ids(engine, sql, **sql_params)
        assert len(expected) > 1 or path.endswith("incoming"), path
        seen, pages = _walk(site, who, path, key, limit=1, **params)
        assert seen == expected, path
        assert pages == max(1, len(expected)), path


def test_audit_trail_walks_by_cursor_newest_first_each_entry_once(site: Synthetic) -> None:
    for n in range(45):
        audit_trail.record(site.engine, actor=Actor(company=None, user_name="walker"), action=f"walk {n}",
                           outcome="200")  # fmt: skip
    expected = _ids(site.engine, "SELECT seq FROM audit_entry WHERE action LIKE 'walk %' ORDER BY seq DESC")
    seen, pages = _walk(site, "auditor", "/v1/company/audit-trail", "seq", action="walk ", limit=10)
    assert seen == expected and len(expected) == 45 and pages == 5


def _walk_opaque(site: Synthetic, who: str, path: str, key: str, **params: Any) -> tuple[list[Any], int]:
    """Every `key` of every page of a list whose cursor is opaque text, following `next_after`."""
    seen: list[Any] = []
    after: str | None = None
    for pages in itertools.count(1):
        response = site.get(who, path, **params, **({"after": after} if after is not None else {}))
        assert response.status_code == 200, response.text
        body = response.json()
        seen.extend(row[key] for row in body["data"])
        after = body["next_after"]
        if after is None:
            return seen, pages
        assert isinstance(after, str) and len(body["data"]) == params["limit"], path
    raise AssertionError("unreachable")


COMPOSITE_SLOTS = list(range(700_001, 700_076))
COMPOSITE_DOCS = 25
SUPPLIER = ROLE_BITS["supplier"]


def test_composite_key_lists_walk_by_opaque_cursor_each_row_once(site: Synthetic) -> None:
    """Payouts due by (maturity, payable), the directory by (created_at, address) and an uploader's
    documents by (created_at, id): runs of equal first keys cross page boundaries, and every row comes
    once, in order (these lists were offset-only: the walk stopped after the first page)."""
    a, engine = site.seeded.addresses, site.engine
    slots = random.Random(17).sample(COMPOSITE_SLOTS, len(COMPOSITE_SLOTS))
    directory = DirectoryParticipant.__table__  # type: ignore[attr-defined]
    docs = StoredDocument.__table__  # type: ignore[attr-defined]
    people = [
        {"address": f"0x{random.Random(i).getrandbits(160):040x}", "legal_name": f"Walker {i}",
         "legal_id": f"WALKER{i:012d}", "contact": "", "roles": SUPPLIER if i % 3 else 0,
         "is_operator": False,
         "status": "active", "custody": "self", "encrypted_key": None, "entity_hash": "0x" + "00" * 32,
         "created_at": 1_000 + i // 5}
        for i in range(45)
    ]  # fmt: skip
    files = [
        {"document_id": f"{random.Random(i).getrandbits(128):032x}", "uploader": a["supplier4"],
         "kind": "other", "invoice_number": None, "seller": None, "filename": f"f{i}.pdf",
         "content_type": "application/pdf", "size": 1, "sha256": "00" * 32, "doc_hash": "0x" + "00" * 32,
         "verification": "not_verified", "slot_id": None, "ciphertext": b"x", "created_at": 1_000 + i // 4}
        for i in range(COMPOSITE_DOCS)
    ]  # fmt: skip
    synthetic.add_due_payables(
        engine, obligor=a["core2"], holder=a["supplier4"], slot_ids=slots, maturity=86_400 * 20_000,
        first_token=700_001,
    )  # fmt: skip
    with engine.begin() as conn:
        conn.execute(directory.insert(), people)
        conn.execute(docs.insert(), files)
    try:
        due = _ids(engine, synthetic.PAYOUTS_DUE_SQL, now=int(time.time()))
        assert set(COMPOSITE_SLOTS) <= set(due)
        seen, pages = _walk_opaque(site, "operator", "/v1/operator/payouts-due", "slot_id", limit=10)
        assert seen == due and pages == -(-len(due) // 10)

        with engine.connect() as conn:
            everyone = [r[0] for r in conn.execute(text(
                "SELECT address FROM participant_directory ORDER BY created_at, address"))]  # fmt: skip
            suppliers = [r[0] for r in conn.execute(text(
                "SELECT address FROM participant_directory WHERE (roles & :s) != 0 "
                "ORDER BY created_at, address"),
                {"s": SUPPLIER})]  # fmt: skip
            uploaded = [r[0] for r in conn.execute(text(
                "SELECT document_id FROM document_file WHERE uploader = :u ORDER BY created_at, document_id"),
                {"u": a["supplier4"]})]  # fmt: skip
        for who, path, params, expected in [
            ("auditor", "/v1/audit/participants", {}, everyone),
            ("operator", "/v1/operator/participants", {"role": "supplier"}, suppliers),
        ]:
            seen, pages = _walk_opaque(site, who, path, "address", limit=7, **params)
            assert seen == expected and len(expected) > 30 and pages == -(-len(expected) // 7), path
        seen, pages = _walk_opaque(site, "supplier4", "/v1/documents", "document_id", limit=4)
        assert seen == uploaded and len(uploaded) == COMPOSITE_DOCS and pages == -(-COMPOSITE_DOCS // 4)
        second = site.get("supplier4", "/v1/documents", limit=4, offset=4).json()  # offset still works
        assert [row["document_id"] for row in second["data"]] == uploaded[4:8] and second["count"] == 25
    finally:
        with engine.begin() as conn:
            conn.execute(docs.delete().where(docs.c.uploader == a["supplier4"]))
            conn.execute(directory.delete().where(directory.c.legal_id.like("WALKER%")))
            conn.execute(CERT.delete().where(CERT.c.slot_id.in_(COMPOSITE_SLOTS)))
            conn.execute(PAYABLE.delete().where(PAYABLE.c.slot_id.in_(COMPOSITE_SLOTS)))


def test_opaque_cursor_malformed_or_forged_is_a_422_that_says_what_to_do(site: Synthetic) -> None:
    """A cursor that is not base64url JSON of the list's own key shape (garbage, another list's cursor,
    a bool or a negative number where an int goes, a row id) is refused with a typed 422, never a 500."""
    participants_cursor = keyset.encode_cursor(1_000, "0x" + "ab" * 20)
    bad = {
        "/v1/operator/payouts-due": [participants_cursor, keyset.encode_cursor(True, 3), "12345"],
        "/v1/audit/participants": [keyset.encode_cursor(1, 2), keyset.encode_cursor(-1, "0x" + "ab" * 20),
                                   keyset.encode_cursor(1, "0xnot-an-address")],
        "/v1/documents": [participants_cursor, "bm90IGpzb24", keyset.encode_cursor(1, "A" * 32)],
    }  # fmt: skip
    for path, cursors in bad.items():
        for cursor in cursors:
            response = site.get("operator", path, after=cursor)
            assert response.status_code == 422, (path, cursor, response.text)
            assert response.json()["error"]["code"] == "invalid_cursor", response.text
            assert "next_after" in response.json()["error"]["message"]
        assert site.get("operator", path, after="not/base64!").status_code == 422  # the pattern
    chinese = site.client.get(
        "/v1/audit/participants", params={"after": "12345"},
        headers={"X-API-Key": site.seeded.tokens["auditor"], "Accept-Language": "zh-CN"},
    )  # fmt: skip
    assert chinese.status_code == 422 and "游标" in chinese.json()["error"]["message"]


def test_pages_are_stable_under_concurrent_inserts(site: Synthetic) -> None:
    """Rows added between pages (ids above every existing one, as new splits and requests get) never
    make the walk repeat or skip a row that was there when it started."""
    a, engine = site.seeded.addresses, site.engine
    new_tokens = itertools.count(900_000)
    new_requests = itertools.count(900_000)

    def insert() -> None:
        # Ahead of an ascending walk (it will meet them) and above a descending one (it never will).
        synthetic.add_certificates(
            engine, holder=a["supplier3"], slot_id=BULK_SLOT, token_ids=[next(new_tokens)], value=100
        )
        synthetic.add_requests(
            engine, token_id=BULK_TOKEN, seller=a["supplier1"], financier=a["bank1"],
            request_ids=[next(new_requests)], amount=100,
        )  # fmt: skip
        synthetic.touch(engine)  # what the indexer's commit does: every cache moves on

    before = _ids(
        engine, "SELECT token_id FROM certificate WHERE holder = :h ORDER BY token_id", h=a["supplier3"]
    )
    seen, _ = _walk(site, "supplier3", "/v1/supplier/holdings", "token_id", between=insert, limit=25)
    assert len(seen) == len(set(seen)) and seen == sorted(seen)
    assert set(before) <= set(seen)
    added = set(seen) - set(before)
    assert added and all(token >= 900_000 for token in added)

    queue = "SELECT request_id FROM financing_request WHERE financier = :h ORDER BY request_id DESC"
    before = _ids(engine, queue, h=a["bank1"])
    seen, pages = _walk(site, "bank1", "/v1/financier/requests", "request_id", between=insert, limit=25)
    assert seen == before and pages > 3


def test_offset_still_pages_and_after_combines_with_it(site: Synthetic) -> None:
    path = "/v1/audit/certificates"
    second = site.get("auditor", path, limit=10, offset=10).json()
    cursor = site.get("auditor", path, limit=10).json()["next_after"]
    by_cursor = site.get("auditor", path, limit=10, after=cursor).json()
    assert [r["token_id"] for r in second["data"]] == [r["token_id"] for r in by_cursor["data"]]
    skipped = site.get("auditor", path, limit=5, after=cursor, offset=5).json()
    assert [r["token_id"] for r in skipped["data"]] == [r["token_id"] for r in by_cursor["data"][5:]]
    assert site.get("auditor", path, after=0).status_code == 422


def test_openapi_documents_the_cursor(site: Synthetic) -> None:
    spec = site.client.get("/openapi.json").json()
    for path in (
        "/v1/supplier/holdings",
        "/v1/audit/certificates",
        "/v1/audit/payables",
        "/v1/audit/financing-requests",
        "/v1/financier/requests",
        "/v1/payables/{slot_id}/lineage",
        "/v1/payables/{slot_id}/transfers",
        "/v1/supplier/financing-requests",
        "/v1/core/payables",
        "/v1/payouts",
        "/v1/bills",
        "/v1/bills/holdings",
        "/v1/bills/discount-queue",
        "/v1/bills/discount-requests",
        "/v1/core/credit-lines",
        "/v1/financier/credit-lines",
        "/v1/financier/recourse-debts",
        "/v1/supplier/recourse-debts",
        "/v1/supplier/incoming",
        "/v1/company/audit-trail",
        "/v1/operator/payouts-due",
        "/v1/operator/participants",
        "/v1/audit/participants",
        "/v1/documents",
    ):
        parameters = {p["name"]: p for p in spec["paths"][path]["get"]["parameters"]}
        assert "next_after" in parameters["after"]["description"], path
    page = spec["components"]["schemas"]["Page_CertificatePublic_"]["properties"]
    assert "after" in page["next_after"]["description"]
    opaque = spec["components"]["schemas"]["CursorPage_ParticipantPublic_"]["properties"]
    assert "Opaque" in opaque["next_after"]["description"]


def test_synthetic_summaries_equal_their_recomputation(site: Synthetic) -> None:
    """The generators fill the indexer's summary tables too (seed_bulk sums its own rows in SQL)."""
    with site.engine.connect() as conn:
        expected = summary.recompute(conn)
        stored = {
            tuple(r[k] for k in ("holder", "slot_id", "depth")): (int(r["tokens"]), int(r["value"]))
            for r in conn.execute(text("SELECT * FROM position WHERE tokens > 0")).mappings()
        }
    assert stored == expected["position"] and len(stored) > 7 * 5


def test_exports_rendered_by_the_database_equal_the_typed_rows(site: Synthetic) -> None:
    """The fast export path (values rendered in SQL) writes exactly what the typed rows would: fen as
    integers, booleans as True/False, NULL as empty."""
    for table in ("payables", "certificates", "financing-requests"):
        export = exports.api_export(table)
        fast = b"".join(exports.chunks(site.engine, export))
        typed = b"".join(exports.chunks(site.engine, dataclasses.replace(export, convert=tuple)))
        assert fast == typed, table
        assert fast.count(b"\n") > 20


def test_exports_rendered_by_the_database_quote_strings_as_csv_writer_does(site: Synthetic) -> None:
    """Strings holding a comma, a quote or a line break come out quoted exactly as csv.writer quotes
    them (the lines are built in SQL: a missed quote would shift every later column of the row)."""
    table = DirectoryParticipant.__table__  # type: ignore[attr-defined]
    names = ["Comma, Ltd.", 'The "Quoted" Co', "Two\nlines", "Carriage\rreturn", "Plain", "", '","']
    rows = [
        {"address": f"0x{i:040x}", "legal_name": name, "legal_id": f"CSVQUOTE{i:010d}", "contact": "",
         "roles": 0, "is_operator": False, "status": "active", "custody": "self", "encrypted_key": None,
         "entity_hash": "0x" + "00" * 32, "created_at": i}
        for i, name in enumerate(names, start=1)
    ]  # fmt: skip
    export = exports.Export(
        ["address", "legal_name", "created_at"],
        select(table.c.address, table.c.legal_name, table.c.created_at)
        .where(table.c.legal_id.like("CSVQUOTE%"))
        .order_by(table.c.created_at),
    )
    with site.engine.begin() as conn:
        conn.execute(table.insert(), rows)
    try:
        fast = b"".join(exports.chunks(site.engine, export))
        typed = b"".join(exports.chunks(site.engine, dataclasses.replace(export, convert=tuple)))
    finally:
        with site.engine.begin() as conn:
            conn.execute(table.delete().where(table.c.legal_id.like("CSVQUOTE%")))
    assert fast == typed
    parsed = list(csv.reader(io.StringIO(fast.decode(), newline="")))
    assert [row[1] for row in parsed[1:]] == names


def test_synthetic_bulk_load_keeps_every_certificate_index(site: Synthetic) -> None:
    """seed_bulk drops the certificate indexes for its load and builds them again: the schema after it
    is the migrations' own (names and columns), so the benchmarks measure the real query plans."""
    declared = {(ix.name, tuple(c.name for c in ix.columns)) for ix in CERT.indexes}
    present = {
        (ix["name"], tuple(ix["column_names"])) for ix in inspect(site.engine).get_indexes("certificate")
    }
    assert present == declared and len(present) >= 9


@pytest.mark.parametrize("kept_whole", [True, False])
def test_lineage_pages_rendered_by_the_database_equal_the_typed_rows(
    site: Synthetic, kept_whole: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Lineage tokens come as JSON the database wrote (services.sqltext): every page, with and without
    an offset, parses to exactly the typed rows of the same certificates (ints, fen, booleans, nulls,
    the payable's terms), whether the tree is kept whole per data version or read a page at a time."""
    if not kept_whole:
        monkeypatch.setattr(queries, "TREE_CACHE_TOKENS", 10)
    limit = 40 if kept_whole else 37  # another response-cache key than the other case's pages
    path = f"/v1/payables/{TREE_SLOT}/lineage"
    after: int | None = None
    pages = 0
    with Session(site.engine) as session:
        while True:
            cursor = {"after": after} if after is not None else {}
            for offset in (3, 0):
                body = site.get("core1", path, limit=limit, offset=offset, **cursor).json()
                typed = queries.certificates(
                    session=session, slot_id=TREE_SLOT, status=None, limit=limit, offset=offset, **cursor
                )
                assert body["tokens"] == typed["data"] and body["next_after"] == typed["next_after"]
                assert body["count"] == typed["count"]
            pages += 1
            after = body["next_after"]
            if after is None:
                break
    assert pages > 3


def test_json_rendered_by_the_database_parses_to_the_typed_values(site: Synthetic) -> None:
    """Strings with quotes, backslashes, line breaks and non-ASCII text, fen beyond 64 bits, booleans and
    NULL: json_object's text parses to the values the ORM reads."""
    people = DirectoryParticipant.__table__  # type: ignore[attr-defined]
    positions = Position.__table__  # type: ignore[attr-defined]
    names = ['He said "hi"\\', "Two\nlines\ttab", "上海浦东 ☃", "", "\x01control"]
    dialect = site.engine.dialect.name
    with site.engine.begin() as conn:
        conn.execute(people.insert(), [
            {"address": f"0x{i:040x}", "legal_name": name, "legal_id": f"JSONTEXT{i:010d}", "contact": "",
             "roles": i, "is_operator": i % 2 == 0, "status": "active", "custody": "self",
             "encrypted_key": None, "entity_hash": "0x" + "00" * 32, "created_at": i}
            for i, name in enumerate(names, start=1)
        ])  # fmt: skip
        conn.execute(positions.insert(), [
            {"holder": "0x" + "ab" * 20, "slot_id": 987_654, "depth": d, "tokens": d, "value": v,
             "block_number": 1, "updated_block": 1}
            for d, v in enumerate([0, 10**70 + 1, 2**256 - 1])
        ])  # fmt: skip
    try:
        with site.engine.connect() as conn:
            columns = [people.c.legal_name, people.c.roles, people.c.is_operator, people.c.created_at]
            where = people.c.legal_id.like("JSONTEXT%")
            rendered = conn.execute(select(sqltext.json_object(columns, dialect)).where(where)).scalars()
            typed = conn.execute(select(*columns).where(where)).mappings()
            assert sorted(map(json.loads, rendered), key=str) == sorted(map(dict, typed), key=str)
            columns = [positions.c.depth, positions.c.value]
            where = positions.c.slot_id == 987_654
            rendered = conn.execute(select(sqltext.json_object(columns, dialect)).where(where)).scalars()
            assert sorted(json.loads(text)["value"] for text in rendered) == [0, 10**70 + 1, 2**256 - 1]
    finally:
        with site.engine.begin() as conn:
            conn.execute(people.delete().where(people.c.legal_id.like("JSONTEXT%")))
            conn.execute(positions.delete().where(positions.c.slot_id == 987_654))


def test_lineage_tiers_are_cached_per_data_version_and_follow_new_rows(site: Synthetic) -> None:
    """The tree's tier totals are computed once per data version for every page (not per page), and a
    write the indexer commits (new rows, a new data version) shows on the next page read at once."""
    path = f"/v1/payables/{TREE_SLOT}/lineage"
    first = site.get("core1", path, limit=10).json()
    later = site.get("core1", path, limit=10, after=first["next_after"]).json()
    assert later["tiers"] == first["tiers"] and sum(t["tokens"] for t in first["tiers"]) == first["count"]
    synthetic.add_certificates(
        site.engine, holder=site.seeded.addresses["supplier4"], slot_id=TREE_SLOT, token_ids=[950_000],
        value=12_345,
    )  # fmt: skip
    synthetic.touch(site.engine)
    fresh = site.get("core1", path, limit=10, after=later["next_after"]).json()
    with Session(site.engine) as session:
        expected = queries.tier_totals(lineage.tree_tiers(session, TREE_SLOT))
    assert fresh["tiers"] == expected != first["tiers"]
    assert fresh["count"] == first["count"] + 1
    # The tree's tokens are kept per data version as well: the new one is there at once.
    last = site.get("core1", path, limit=10, after=949_999).json()
    assert [t["token_id"] for t in last["tokens"]] == [950_000] and last["next_after"] is None


def test_certificate_export_skips_the_quoting_test_on_addresses_and_statuses(site: Synthetic) -> None:
    """Hex addresses and status words never need quoting: their fields skip the four string searches
    per value (a fifth of the database's work per row of the 1M-row export); the rows stay the same."""
    export = exports.api_export("certificates")
    sql = str(
        exports._csv_lines(export.statement, site.engine.dialect.name).compile(dialect=site.engine.dialect)
    )
    assert "instr(" not in sql and "strpos(" not in sql
    fast = b"".join(exports.chunks(site.engine, export))
    assert fast == b"".join(exports.chunks(site.engine, dataclasses.replace(export, convert=tuple)))


def test_lineage_random_cursor_pages_equal_slices_of_the_whole_tree(site: Synthetic) -> None:
    """Any cursor (a token id, a gap between ids, before the first, past the last) and any limit: the
    page is exactly that slice of the whole tree in token order, and its cursor the slice's last id."""
    path = f"/v1/payables/{TREE_SLOT}/lineage"
    whole = site.get("core1", path, limit=1000).json()
    ids = [t["token_id"] for t in whole["tokens"]]
    assert whole["next_after"] is None and len(ids) == whole["count"] > 200
    rng = random.Random(17)
    cursors = [ids[0] - 1, ids[-1], ids[-1] + 5] + [rng.randrange(ids[0], ids[-1] + 1) for _ in range(9)]
    for after in cursors:
        limit = rng.choice([1, 7, 40, 1000])
        page = site.get("core1", path, limit=limit, after=after).json()
        start = bisect.bisect_right(ids, after)
        expected = whole["tokens"][start : start + limit]
        assert page["tokens"] == expected, (after, limit)
        more = start + limit < len(ids)
        assert page["next_after"] == (expected[-1]["token_id"] if more else None), (after, limit)
        assert page["count"] == whole["count"] and page["tiers"] == whole["tiers"]


def _deepest_leaf(site: Synthetic) -> tuple[int, str, str]:
    """The tree's deepest live certificate, its holder, and a supplier who is not its holder."""
    with site.engine.connect() as conn:
        leaf, holder = conn.execute(
            select(CERT.c.token_id, CERT.c.holder)
            .where(CERT.c.slot_id == TREE_SLOT, CERT.c.status.in_(queries.LIVE_TOKEN))
            .order_by(CERT.c.depth.desc(), CERT.c.token_id)
            .limit(1)
        ).one()
    a = site.seeded.addresses
    return int(leaf), holder, next(s for s in ("supplier2", "supplier3", "supplier4") if a[s] != holder)


def test_certificate_lineage_is_cached_per_data_version_and_still_checks_the_caller(site: Synthetic) -> None:
    """The path to the root is served from a cache keyed by the data version: the same certificate again
    is not read again (a row changed behind the indexer's back stays unseen), the indexer's next commit
    (a new version) shows at once, and a caller who may not read the certificate is refused every time."""
    leaf, holder, stranger = _deepest_leaf(site)
    a = site.seeded.addresses
    path = f"/v1/certificates/{leaf}/lineage"
    first = site.get("core1", path)
    assert first.status_code == 200 and first.json()["tokens"][0]["holder"] == holder
    set_holder = CERT.update().where(CERT.c.token_id == leaf)
    try:
        with site.engine.begin() as conn:
            conn.execute(set_holder.values(holder=a[stranger]))  # not a commit of the indexer: same version
        assert site.get("core1", path).content == first.content
        synthetic.touch(site.engine)
        moved = site.get("core1", path).json()
        assert (
            moved["tokens"][0]["holder"] == a[stranger] and moved["tokens"][1:] == first.json()["tokens"][1:]
        )
    finally:
        with site.engine.begin() as conn:
            conn.execute(set_holder.values(holder=holder))
        synthetic.touch(site.engine)
    assert site.get("core1", path).content == first.content
    # The cached path never answers a caller who may not read it; an unknown certificate is a 404.
    for _ in range(2):
        refused = site.get(stranger, path)
        assert refused.status_code == 403 and refused.json()["error"]["code"] == "not_a_party"
    missing = site.get("core1", "/v1/certificates/987654321/lineage")
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "certificate_not_found"


def test_lineage_tree_is_built_once_when_many_pages_miss_at_once(
    site: Synthetic, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A new data version makes every reader of a tree miss at the same moment: the tree (its tier totals,
    its tokens' JSON) is built once for all of them, not once per concurrent request."""
    # A build totals the tree's tiers once (lineage.tier_spread): counted, and slowed down.
    walks: list[int] = []
    walk = lineage.tier_spread

    def slow_walk(rows: Any) -> list[lineage.TierSpread]:
        walks.append(1)
        time.sleep(0.2)  # long enough for every reader to arrive while the first builds
        return walk(rows)

    monkeypatch.setattr(lineage, "tier_spread", slow_walk)
    synthetic.touch(site.engine)
    with Session(site.engine) as session:
        caller = participants.authenticate(session=session, token=site.seeded.tokens["core1"])

    def page(after: int) -> dict[str, Any]:
        with Session(site.engine) as session:
            return queries.slot_lineage(
                session=session, caller=caller, slot_id=TREE_SLOT, limit=20, offset=0, after=after
            )

    with site.engine.connect() as conn:
        root = int(
            conn.execute(select(func.min(CERT.c.token_id)).where(CERT.c.slot_id == TREE_SLOT)).scalar_one()
        )
    with ThreadPoolExecutor(6) as pool:
        pages = list(pool.map(page, [root + 20 * k for k in range(6)]))
    assert len(walks) == 1
    assert len({p["count"] for p in pages}) == 1 and all(p["tokens"] for p in pages)


def test_whole_tree_lineage_is_kept_per_data_version_a_holders_view_is_not(site: Synthetic) -> None:
    """The dashboard's tree for its whole-tree readers (obligor, auditors) is built once per data version:
    a row changed behind the indexer's back stays unseen until the next commit; a holder's restricted view
    is its own, built for it every time."""

    def nodes(tree: lineage.Lineage | None) -> dict[int, str]:
        assert tree is not None and tree.root is not None
        found, stack = {}, [tree.root]
        while stack:
            node = stack.pop()
            found[node.certificate.token_id] = node.certificate.holder
            stack.extend(node.children)
        return found

    a = site.seeded.addresses
    with Session(site.engine) as session:
        core = participants.authenticate(session=session, token=site.seeded.tokens["core1"])
        first = lineage.payable_lineage(session, core, TREE_SLOT)
        leaf = max(nodes(first))
    holder = nodes(first)[leaf]
    stranger = next(s for s in ("supplier2", "supplier3", "supplier4") if a[s] != holder)
    set_holder = CERT.update().where(CERT.c.token_id == leaf)
    try:
        with site.engine.begin() as conn:
            conn.execute(set_holder.values(holder=a[stranger]))  # not a commit of the indexer: same version
        with Session(site.engine) as session:
            assert lineage.payable_lineage(session, core, TREE_SLOT) is first
            theirs = participants.authenticate(session=session, token=site.seeded.tokens[stranger])
            restricted = lineage.payable_lineage(session, theirs, TREE_SLOT)
        assert restricted is not None and restricted.restricted and nodes(restricted)[leaf] == a[stranger]
        synthetic.touch(site.engine)
        with Session(site.engine) as session:
            fresh = lineage.payable_lineage(session, core, TREE_SLOT)
        assert fresh is not first and nodes(fresh) == {**nodes(first), leaf: a[stranger]}
    finally:
        with site.engine.begin() as conn:
            conn.execute(set_holder.values(holder=holder))
        synthetic.touch(site.engine)


def test_lineage_trees_are_kept_while_other_payables_change_and_rebuilt_when_theirs_does(
    site: Synthetic, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With tree versions (models.SlotVersion), a window that changes another payable moves the data
    version but keeps this tree's page data and whole tree; a change to this tree, or to slot 0
    (participants, a rollback), builds them again, with the new rows."""
    # A build totals the tree's tiers once (lineage.tier_spread): the builds, counted.
    walks: list[int] = []
    walk = lineage.tier_spread

    def counted(rows: Any) -> list[lineage.TierSpread]:
        walks.append(1)
        return walk(rows)

    monkeypatch.setattr(lineage, "tier_spread", counted)
    with Session(site.engine) as session:
        core = participants.authenticate(session=session, token=site.seeded.tokens["core1"])

    def read() -> tuple[dict[str, Any], lineage.Lineage | None]:
        with Session(site.engine) as session:
            page = queries.slot_lineage(session=session, caller=core, slot_id=TREE_SLOT, limit=5, offset=0)
            return page, lineage.payable_lineage(session, core, TREE_SLOT)

    try:
        synthetic.touch(site.engine, [0, TREE_SLOT, BULK_SLOT])
        page, tree = read()
        assert len(walks) == 2  # the page data and the whole tree
        synthetic.touch(site.engine, [BULK_SLOT])  # another payable changed: a new data version
        again, kept = read()
        assert len(walks) == 2 and kept is tree and again == page
        synthetic.add_certificates(
            site.engine, holder=site.seeded.addresses["supplier4"], slot_id=TREE_SLOT, token_ids=[960_000],
            value=54_321,
        )  # fmt: skip
        synthetic.touch(site.engine, [TREE_SLOT])
        grown, rebuilt = read()
        assert len(walks) == 4 and rebuilt is not tree and rebuilt is not None
        assert grown["count"] == rebuilt.count == page["count"] + 1
        synthetic.touch(site.engine, [0])  # a participant's roles: every tree again
        read()
        assert len(walks) == 6
    finally:
        with site.engine.begin() as conn:
            conn.execute(CERT.delete().where(CERT.c.token_id == 960_000))
            conn.execute(SlotVersion.__table__.delete())  # type: ignore[attr-defined]
        synthetic.summarise(site.engine)
        synthetic.touch(site.engine)


def test_certificate_lineage_is_kept_while_other_payables_change_and_follows_its_tree(
    site: Synthetic,
) -> None:
    """With tree versions, a certificate's cached path survives a change to another payable (a new data
    version: a row changed behind the indexer's back stays unseen), and a change to its own tree shows
    at once."""
    leaf, holder, stranger = _deepest_leaf(site)
    a = site.seeded.addresses
    path = f"/v1/certificates/{leaf}/lineage"
    set_holder = CERT.update().where(CERT.c.token_id == leaf)
    try:
        synthetic.touch(site.engine, [0, TREE_SLOT, BULK_SLOT])
        first = site.get("core1", path)
        assert first.status_code == 200 and first.json()["tokens"][0]["holder"] == holder
        with site.engine.begin() as conn:
            conn.execute(set_holder.values(holder=a[stranger]))  # not a commit of the indexer
        synthetic.touch(site.engine, [BULK_SLOT])
        assert site.get("core1", path).content == first.content
        synthetic.touch(site.engine, [TREE_SLOT])
        assert site.get("core1", path).json()["tokens"][0]["holder"] == a[stranger]
    finally:
        with site.engine.begin() as conn:
            conn.execute(set_holder.values(holder=holder))
            conn.execute(SlotVersion.__table__.delete())  # type: ignore[attr-defined]
        synthetic.touch(site.engine)


def test_holdings_count_after_a_change_reads_the_position_summary_not_the_certificates(
    site: Synthetic,
) -> None:
    """The first holdings page after a change (a new data version) takes its count from the position
    summary, without counting the holder's certificates again (226,800 of them for one bench supplier);
    the count is exact, and the holdings API shows it."""
    statements: list[str] = []

    def record(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        statements.append(" ".join(statement.lower().split()))

    holder = site.seeded.addresses["supplier1"]
    live = _ids(site.engine, LIVE_OF_HOLDER, h=holder)
    synthetic.touch(site.engine)
    event.listen(site.engine, "before_cursor_execute", record)
    try:
        with Session(site.engine) as session:
            page = queries.certificates(session=session, holder=holder, limit=5, offset=0)
    finally:
        event.remove(site.engine, "before_cursor_execute", record)
    assert page["count"] == len(live) > 0
    counted = [s for s in statements if "count(" in s and "from certificate" in s]
    assert counted == [] and any("from position" in s for s in statements)
    assert site.get("supplier1", "/v1/supplier/holdings", limit=5).json()["count"] == len(live)


def test_auditor_certificate_count_with_settled_and_burned_seeks_statuses_not_every_row(
    site: Synthetic,
) -> None:
    """The auditor's certificates of a holder count every status: the live ones come from the position
    summary and the settled and burned ones from seeks on (holder, status), never a COUNT of all the
    holder's certificates (226,800 for one bench supplier, again after every change); the total equals
    COUNT(*) with a settled and a burned certificate among them, with and without a payable filter."""
    statements: list[str] = []

    def record(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        statements.append(" ".join(statement.lower().split()))

    holder = site.seeded.addresses["supplier1"]
    live = _ids(site.engine, LIVE_OF_HOLDER, h=holder)
    ended = {live[0]: "settled", live[-1]: "burned"}
    slot = _ids(site.engine, "SELECT slot_id FROM certificate WHERE token_id = :t", t=live[-1])[0]
    try:
        with site.engine.begin() as conn:
            for token, status in ended.items():
                conn.execute(CERT.update().where(CERT.c.token_id == token).values(status=status))
        synthetic.summarise(site.engine)
        synthetic.touch(site.engine)
        every = _ids(site.engine, OF_HOLDER, h=holder)
        of_slot = "SELECT token_id FROM certificate WHERE holder = :h AND slot_id = :s"
        in_slot = _ids(site.engine, of_slot, h=holder, s=slot)
        event.listen(site.engine, "before_cursor_execute", record)
        try:
            with Session(site.engine) as session:
                page = queries.certificates(session=session, holder=holder, status=None, limit=5, offset=0)
                sliced = queries.certificates(
                    session=session, holder=holder, slot_id=slot, status=None, limit=5, offset=0
                )
        finally:
            event.remove(site.engine, "before_cursor_execute", record)
        assert page["count"] == len(every) == len(live) and sliced["count"] == len(in_slot) > 0
        counted = [s for s in statements if "count(" in s and "from certificate" in s]
        assert counted and all("status <" in s and "status >" in s for s in counted)
        listed = site.get("auditor", "/v1/audit/certificates", holder=holder, limit=5).json()
        assert listed["count"] == len(every)
    finally:
        with site.engine.begin() as conn:
            conn.execute(CERT.update().where(CERT.c.token_id.in_(list(ended))).values(status="active"))
        synthetic.summarise(site.engine)
        synthetic.touch(site.engine)


@pytest.mark.parametrize("listing", ["transfers", "payouts"])
def test_chain_ordered_lists_walk_by_cursor_each_event_once(site: Synthetic, listing: str) -> None:
    """A payable's movements (chain order) and a holder's payouts (newest first), several in a block, page
    by cursor, each once, the count over all of them; `offset` still skips rows after the cursor for
    older clients."""
    a = site.seeded.addresses
    rows = [
        {"block_number": 7_000 + i // 3, "log_index": (i % 3) * 5, "tx_hash": f"0x{i:064x}",
         "slot_id": TREE_SLOT, "token_id": 1, "value" if listing == "transfers" else "amount": i + 1}
        for i in range(95)
    ]  # fmt: skip
    if listing == "transfers":
        table = CertificateTransfer.__table__  # type: ignore[attr-defined]
        extra = {
            "kind": "split",
            "new_token_id": 2,
            "from_address": a["supplier1"],
            "to_address": a["supplier2"],
        }
        path, moves = f"/v1/payables/{TREE_SLOT}/transfers", rows
    else:
        table, extra = Payout.__table__, {"holder": a["supplier2"]}  # type: ignore[attr-defined]
        path, moves = "/v1/payouts", rows[::-1]
    with site.engine.begin() as conn:
        conn.execute(table.insert(), [{**row, **extra} for row in reversed(moves)])
    synthetic.touch(site.engine)
    who = "core1" if listing == "transfers" else "supplier2"
    try:
        seen: list[str] = []
        pages: list[int | None] = [None]  # the cursor each page was read after
        while True:
            after = pages[-1]
            body = site.get(who, path, limit=10, **({"after": after} if after is not None else {})).json()
            assert body["count"] == len(moves)
            seen.extend(m["tx_hash"] for m in body["data"])
            if body["next_after"] is None:
                break
            pages.append(body["next_after"])
        assert seen == [m["tx_hash"] for m in moves] and len(pages) == 10
        cursor = site.get(who, path, limit=10).json()["next_after"]
        skipped = site.get(who, path, limit=5, after=cursor, offset=5).json()
        assert [m["tx_hash"] for m in skipped["data"]] == seen[15:20]
        if listing == "transfers":
            assert site.get("supplier2", path).status_code == 403
        else:  # another holder's payouts are never in the list
            assert site.get("supplier3", path).json()["count"] == 0
    finally:
        with site.engine.begin() as conn:
            conn.execute(table.delete().where(table.c.block_number.between(7_000, 7_100)))
        synthetic.touch(site.engine)
