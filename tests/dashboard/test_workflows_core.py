"""The core enterprise's cash forecast (CSV) and who holds its paper, over HTTP against the real chain."""

from __future__ import annotations

import csv
import io

import httpx
from dashkit import Live, dashboard_sign_in


def test_core_cash_forecast_csv_and_banks_holding_its_paper(live: Live) -> None:
    line = int(live.api("bank2", "/v1/financier/credit-lines", {
        "obligor": live.address("core2"), "limit": 10**10, "expiry": live.today(400),
    })["result"]["line_id"])  # fmt: skip
    first, token = live.issue("core2", "supplier1", face=120_000_00, line_id=line, days=77)
    second, _ = live.issue("core2", "supplier2", face=30_000_50, line_id=line, days=77)
    third, _ = live.issue("core2", "supplier3", face=1_000_00, line_id=line, days=90)
    live.funded("supplier1", "bank2", token, 20_000_00, rate_bps=300)
    live.api("core2", f"/v1/core/payables/{third}/repay", {"amount": 400_00})  # part repaid

    client = httpx.Client(base_url=live.url, timeout=60, follow_redirects=True)
    try:
        assert dashboard_sign_in(client, live.keys["core2"]).status_code == 200
        page = f"/dashboard/core/{live.address('core2')}"
        html = client.get(page).text
        banks = html.split('data-testid="banks-holding"', 1)[1].split("</table>", 1)[0]
        assert "Eastern Factoring Co." in banks and "20,000.00" in banks
        assert live.address("supplier1") not in banks  # suppliers are tiers, not banks

        response = client.get(f"{page}/forecast.csv")
        assert response.status_code == 200 and response.headers["content-type"].startswith("text/csv")
        rows = list(csv.reader(io.StringIO(response.text)))
        assert rows[0] == ["Date", "Amount due (fen)", "Amount due (¥)", "Payables"]
        assert rows[1] == [live.today(77), "15000050", "150,000.50", f"P{first} P{second}"]
        assert rows[2] == [live.today(90), "60000", "600.00", f"P{third}"]
        assert len(rows) == 3

        # Another core enterprise's forecast is not for core2's eyes.
        assert client.get(f"/dashboard/core/{live.address('core1')}/forecast.csv").status_code == 403
    finally:
        client.close()
