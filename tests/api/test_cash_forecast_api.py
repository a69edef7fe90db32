"""The core enterprise's cash forecast as CSV through the API (issue 13): the dashboard's export (one
writer), headers in the request's language, ISO dates, exact fen and yuan; only the caller's payables."""

from __future__ import annotations

import csv
import io

from apikit import Api


def _rows(api: Api, who: str, language: str | None = None) -> list[list[str]]:
    headers = api.headers(who, **({"Accept-Language": language} if language else {}))
    response = api.client.get("/v1/core/cash-forecast.csv", headers=headers)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/csv")
    return list(csv.reader(io.StringIO(response.text)))


def test_cash_forecast_csv_in_the_readers_language_with_iso_dates_fen_and_yuan(funded: Api) -> None:
    api = funded
    line = api.credit_line("bank2", "core2")
    first, _ = api.issue("core2", "supplier1", 120_000_00, line, days=123)
    second, _ = api.issue("core2", "supplier2", 30_000_50, line, days=123)
    third, _ = api.issue("core2", "supplier1", 1_000_00, line, days=124)
    api.ok("core2", f"/v1/core/payables/{third}/repay", {"amount": 400_00})  # part repaid

    english = _rows(api, "core2")
    assert english[0] == ["Date", "Amount due (fen)", "Amount due (¥)", "Payables"]
    mine = {row[0]: row for row in english[1:] if row[0] in (api.today(123), api.today(124))}
    assert mine[api.today(123)] == [api.today(123), "15000050", "150,000.50", f"P{first} P{second}"]
    assert mine[api.today(124)] == [api.today(124), "60000", "600.00", f"P{third}"]

    chinese = _rows(api, "core2", "zh-CN,zh;q=0.9")
    assert chinese[0] == ["日期", "应付金额（分）", "应付金额（¥）", "应付账款"]
    assert chinese[1:] == english[1:]
    # another core enterprise sees its own payables only; a supplier has no forecast
    assert f"P{first}" not in " ".join(" ".join(row) for row in _rows(api, "core1"))
    assert api.get("supplier1", "/v1/core/cash-forecast.csv").status_code == 403
