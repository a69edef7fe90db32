"""Auditor CSV exports are complete: more rows than the old 100,000-row cap, each once, in constant memory."""

from __future__ import annotations

import csv
import itertools
import re
import tracemalloc
from collections.abc import Iterator

import pytest
from apikit import Synthetic, synthetic_api
from sqlalchemy import literal, select
from sqlalchemy.engine import Engine

from tierflow.platform.db import Fen
from tierflow.platform.services import exports
from tierflow.testing import synthetic

OLD_CAP = 100_000
CERTIFICATES = OLD_CAP + 500
PAYABLES = 50


IDS: dict[str, int] = {}


def _fill(engine: Engine, seeded: synthetic.Seeded) -> None:
    IDS.update(
        synthetic.seed_bulk(
            engine, seeded, certificates=CERTIFICATES, payables=PAYABLES, first_slot=1, first_token=1
        )
    )


@pytest.fixture(scope="module", params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def bulk(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Synthetic]:
    yield from synthetic_api(request.param, tmp_path_factory.mktemp("exports"), _fill)


def test_certificates_export_streams_every_row_once(bulk: Synthetic) -> None:
    auditor = {"X-API-Key": bulk.seeded.tokens["auditor"]}
    with bulk.client.stream("GET", "/v1/audit/export/certificates.csv", headers=auditor) as response:
        assert response.status_code == 200 and response.headers["content-type"].startswith("text/csv")
        reader = csv.reader(response.iter_lines())
        header = next(reader)
        token = header.index("token_id")
        ids = [int(row[token]) for row in reader]
    assert len(ids) == CERTIFICATES > OLD_CAP
    assert ids == list(range(IDS["first_token"], IDS["last_token"] + 1))
    assert {"maturity", "obligor", "value"} <= set(header)


def test_payables_export_is_complete_and_exact(bulk: Synthetic) -> None:
    response = bulk.get("auditor", "/v1/audit/export/payables.csv")
    rows = list(csv.DictReader(response.text.splitlines()))
    assert len(rows) == PAYABLES
    assert {int(r["face"]) for r in rows} == {10**15}  # integer fen, never a float


def test_export_memory_stays_flat_however_many_rows(bulk: Synthetic) -> None:
    """The peak of Python allocations while streaming is a small part of the CSV's size."""
    if bulk.engine.dialect.name != "sqlite":
        pytest.skip("measured once: the streaming code is the same on both databases")
    tracemalloc.start()
    try:
        size = sum(len(chunk) for chunk in exports.chunks(bulk.engine, exports.api_export("certificates")))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert size > 10_000_000
    assert peak < size // 3, f"peak {peak:,} B while streaming {size:,} B of CSV"


def test_exports_headers_follow_accept_language_with_exact_fen_and_yuan(bulk: Synthetic) -> None:
    """English keeps the column names (programs read them) and adds `<name>_yuan` after each amount;
    Chinese says the unit of each amount; the yuan text is exact (no float) on both databases."""
    auditor = {"X-API-Key": bulk.seeded.tokens["auditor"]}

    def export(table: str, language: str, lines: int = 10**6) -> list[list[str]]:
        """The first `lines` lines of the export (streamed: the rest is not read)."""
        headers = {**auditor, "Accept-Language": language}
        with bulk.client.stream("GET", f"/v1/audit/export/{table}.csv", headers=headers) as response:
            assert response.status_code == 200
            return list(csv.reader(itertools.islice(response.iter_lines(), lines)))

    header, *rows = export("payables", "en-GB")
    assert header[:8] == [
        "slot_id",
        "obligor",
        "supplier",
        "line_id",
        "face",
        "face_yuan",
        "maturity",
        "status",
    ]
    assert {"paid_in", "paid_in_yuan", "paid_out", "paid_out_yuan"} <= set(header)
    face, in_fen, in_yuan = header.index("face"), header.index("paid_in"), header.index("paid_in_yuan")
    assert {(r[face], r[face + 1]) for r in rows} == {("1000000000000000", "10000000000000.00")}
    assert {(r[in_fen], r[in_yuan]) for r in rows} == {("0", "0.00")}
    zh, *zh_rows = export("payables", "zh-CN,zh;q=0.9")
    assert zh[:8] == [
        "应付账款编号", "付款方", "供应商", "额度编号", "票面金额（分）", "票面金额（元）", "到期日", "状态",
    ]  # fmt: skip
    assert zh_rows == rows  # only the header changes with the language
    header, *rows = export("certificates", "en", 1001)
    value = header.index("value")
    assert header[value + 1] == "value_yuan" and header[value + 3] == "initial_value_yuan"
    assert all(int(r[value]) == round(float(r[value + 1]) * 100) for r in rows)
    for table in ("certificates", "financing-requests", "participants"):
        header = export(table, "zh-CN", 1)[0]
        assert not [h for h in header if re.search(r"[A-Za-z]", h)], (table, header)


def test_export_yuan_text_is_exact_at_every_size(bulk: Synthetic) -> None:
    """The database renders yuan as yuan_text does, across SQLite's fast path limit (2**63 fen) and at
    the largest amount a Fen holds."""
    values = [0, 5, 99, 100, 12_345, 10**15, 2**63 - 1, 2**63, 10**40 + 7, 2**256 - 1]
    dialect = bulk.engine.dialect.name
    with bulk.engine.connect() as conn:
        for value in values:
            rendered = conn.execute(select(exports._yuan_sql(literal(value, Fen()), dialect))).scalar_one()
            assert rendered == exports.yuan_text(value), (value, rendered)
