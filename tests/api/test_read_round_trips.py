"""What a read costs the database: a cached read is the key lookup alone (the data version comes with
it), and on PostgreSQL reads run without BEGIN/ROLLBACK round trips; rows written after a cached body
still show on the next request; a short list page reads on the key lookup's connection (on SQLite on
the event loop, no thread hop) and reads no data version of its own."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import pytest
from apikit import Synthetic, synthetic_api
from sqlalchemy import event
from sqlalchemy.engine import Engine

from tierflow.testing import synthetic

SLOT, TOKEN = 1_000, 10_000


def _fill(engine: Engine, seeded: synthetic.Seeded) -> None:
    synthetic.seed_bulk(engine, seeded, certificates=60, payables=3, first_slot=SLOT, first_token=TOKEN)
    # bank1's queue (slots and tokens below SLOT and TOKEN)
    synthetic.seed_book(engine, seeded, requests=12, positions=4, payables=3, supplier_holdings=0)


@pytest.fixture(scope="module", params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def site(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Synthetic]:
    yield from synthetic_api(request.param, tmp_path_factory.mktemp("round-trips"), _fill)


class _Statements:
    """Every statement the engine sends while active, with whether its connection was in autocommit."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.seen: list[tuple[str, bool]] = []

        self.threads: list[int] = []  # the thread each statement ran in

    def _record(self, conn: Any, cursor: Any, statement: str, *_: Any) -> None:
        if statement != "BEGIN":  # SQLite's own BEGIN (db.make_engine): in process, no round trip
            self.seen.append((statement, bool(getattr(cursor.connection, "autocommit", False))))
            self.threads.append(threading.get_ident())

    def __enter__(self) -> _Statements:
        event.listen(self.engine, "before_cursor_execute", self._record)
        return self

    def __exit__(self, *_: object) -> None:
        event.remove(self.engine, "before_cursor_execute", self._record)


def _holdings(site: Synthetic) -> list[int]:
    response = site.get("supplier2", "/v1/supplier/holdings", limit=500)
    assert response.status_code == 200, response.text
    return [row["token_id"] for row in response.json()["data"]]


def test_cached_read_sends_only_the_key_lookup(site: Synthetic) -> None:
    _holdings(site)  # fills the response cache
    with _Statements(site.engine) as statements:
        _holdings(site)
    # The key lookup carries the data version: no statement of its own for it (two before).
    assert len(statements.seen) == 1, statements.seen
    assert "api_key" in statements.seen[0][0] and "data_version" in statements.seen[0][0]


def test_reads_on_postgresql_run_without_a_transaction(site: Synthetic) -> None:
    if site.engine.dialect.name != "postgresql":
        pytest.skip("SQLite runs in process: no round trips to save, and a read keeps one snapshot")
    synthetic.touch(site.engine)  # a new data version: neither read below is in the response cache
    with _Statements(site.engine) as statements:
        _holdings(site)
        site.get("auditor", "/v1/audit/certificates", limit=5)  # key lookup, rows, count
    assert len(statements.seen) >= 3
    assert all(autocommit for _, autocommit in statements.seen), statements.seen


def test_cached_read_shows_rows_indexed_after_it(site: Synthetic) -> None:
    before = _holdings(site)
    _holdings(site)  # served from the cache
    new = TOKEN + 5_000
    synthetic.add_certificates(
        site.engine, holder=site.seeded.addresses["supplier2"], slot_id=SLOT, token_ids=[new], value=5
    )
    synthetic.touch(site.engine)  # the indexer's commit moves the data version with the rows
    assert _holdings(site) == sorted([*before, new])


# A cache-missing page of each list readcpu made cheaper: (who, path, params, statements it sends). The
# cursors differ per call so that the holdings and bank-queue response caches miss. Every list: the key
# lookup and the page (a certificate's tier is its column, kept by the indexer: it took two more, its
# lineage and its movements; the totals and the financiers come from caches per data version).
_LISTS = [
    ("supplier2", "/v1/supplier/holdings", {"limit": 7}, 2),
    ("auditor", "/v1/audit/certificates", {"holder": "supplier2", "limit": 7}, 2),
    ("auditor", "/v1/audit/payables", {"obligor": "core1", "limit": 2}, 2),
    ("bank1", "/v1/financier/requests", {"limit": 3}, 2),
]


def _page(site: Synthetic, who: str, path: str, params: dict[str, Any], after: int | None) -> list[Any]:
    named = {k: site.seeded.addresses.get(v, v) if isinstance(v, str) else v for k, v in params.items()}
    response = site.get(who, path, **named, **({} if after is None else {"after": after}))
    assert response.status_code == 200, response.text
    return list(response.json()["data"])


@pytest.mark.parametrize(("who", "path", "params", "sent"), _LISTS)
def test_short_list_page_reads_on_the_key_lookups_connection(
    site: Synthetic, who: str, path: str, params: dict[str, Any], sent: int
) -> None:
    _page(site, who, path, params, after=1)  # warms the list's count
    checkouts: list[object] = []

    def checkout(*_: object) -> None:
        checkouts.append(_)

    event.listen(site.engine, "checkout", checkout)
    try:
        with _Statements(site.engine) as statements:
            rows = _page(site, who, path, params, after=2)
    finally:
        event.remove(site.engine, "checkout", checkout)
    assert rows
    assert len(statements.seen) == sent, statements.seen
    # The key lookup's connection serves the page: no second checkout (on PostgreSQL a pre-ping).
    assert len(checkouts) == 1
    # On SQLite every statement in the thread of the key lookup (the event loop): no hop to a worker
    # thread, whose GIL hand-offs doubled a page's CPU under load. PostgreSQL's round trips are real
    # waits: the page is read in a worker thread, so that the loop serves other requests meanwhile.
    on_loop = site.engine.dialect.name == "sqlite"
    assert (len(set(statements.threads)) == 1) == on_loop, statements.seen
    # The data version came with the key lookup: the count's cache does not read it again.
    versions = [s for s, _ in statements.seen if "data_version" in s and "api_key" not in s]
    assert versions == [], versions


def test_large_list_page_still_runs_in_a_worker_thread(site: Synthetic) -> None:
    with _Statements(site.engine) as statements:
        rows = _page(site, "auditor", "/v1/audit/certificates", {"limit": 500}, after=3)
    assert len(rows) > 7
    key_lookup, *rest = statements.threads
    assert rest and all(thread != key_lookup for thread in rest), statements.seen


@pytest.mark.parametrize(("who", "path", "params", "sent"), _LISTS)
def test_short_page_equals_the_same_slice_of_a_large_page(
    site: Synthetic, who: str, path: str, params: dict[str, Any], sent: int
) -> None:
    """A short page (read on the loop on SQLite) is row for row, every field and tier, the slice of a
    large one (read in a worker thread) after the same cursor; a holder filter keeps the holder's rows."""
    large = _page(site, who, path, {**params, "limit": 500}, after=None)
    key = next(k for k in ("request_id", "token_id", "slot_id") if k in large[0])  # the list's cursor
    cursor = large[len(large) // 3][key]
    short = _page(site, who, path, params, after=cursor)
    start = len(large) // 3 + 1
    assert short == large[start : start + len(short)]
    if "holder" in params:
        assert {row["holder"] for row in large} == {site.seeded.addresses[params["holder"]]}


def test_certificate_pages_reuse_one_built_statement(site: Synthetic) -> None:
    """Two pages of certificates at other cursors execute the same statement object (built once per
    shape of filters: building and cache-keying one per request cost about what SQLite spends on the
    page)."""
    executed: list[object] = []

    def record(conn: Any, clauseelement: object, *_: Any) -> None:
        if "certificate.initial_value" in str(clauseelement):  # the page, not the key lookup or tiers
            executed.append(clauseelement)

    event.listen(site.engine, "before_execute", record)
    try:
        for after in (TOKEN + 3, TOKEN + 11):
            _page(site, "auditor", "/v1/audit/certificates", {"holder": "supplier2", "limit": 5}, after=after)
    finally:
        event.remove(site.engine, "before_execute", record)
    assert len(executed) == 2 and executed[0] is executed[1]


@pytest.mark.parametrize(
    ("who", "path", "params", "order"),
    [
        ("auditor", "/v1/audit/payables", {"obligor": "core1", "limit": 1}, "ORDER BY payable.slot_id"),
        ("bank1", "/v1/financier/requests", {"limit": 2}, "ORDER BY financing_request.request_id DESC"),
    ],
)
def test_payable_and_request_pages_reuse_one_built_statement(
    site: Synthetic, who: str, path: str, params: dict[str, Any], order: str
) -> None:
    """The auditor's payables and the bank's queue, like the certificates: two pages at other cursors
    execute the same statement object, built once per shape of filters, and page on in key order."""
    executed: list[object] = []

    def record(conn: Any, clauseelement: object, *_: Any) -> None:
        if order in str(clauseelement):  # the page, not the key lookup or the count
            executed.append(clauseelement)

    first = _page(site, who, path, params, after=None)
    key = "slot_id" if "payables" in path else "request_id"
    event.listen(site.engine, "before_execute", record)
    try:
        second = _page(site, who, path, params, after=first[-1][key])
        third = _page(site, who, path, params, after=second[-1][key])
    finally:
        event.remove(site.engine, "before_execute", record)
    assert len(executed) == 2 and executed[0] is executed[1]
    keys = [row[key] for row in first + second + third]
    assert keys == sorted(keys, reverse="DESC" in order) and len(set(keys)) == len(keys)
