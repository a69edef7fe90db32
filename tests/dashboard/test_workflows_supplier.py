"""The supplier's financing-cost estimate (融资测算) at each bank's standing rate, and the banks setting
that rate on their own pages, over HTTP against the real chain."""

from __future__ import annotations

import re

from dashkit import Live, client_of


def _cells(row: str) -> list[str]:
    return [re.sub(r"<[^>]+>", "", c).strip() for c in re.findall(r"<td[^>]*>(.*?)</td>", row, re.S)]


def _yuan(fen: int) -> str:
    return f"{fen // 100:,}.{fen % 100:02d}"


def test_supplier_estimates_financing_cost_per_bank_at_standing_rates(live: Live, line_core1: int) -> None:
    bank1, bank2, supplier = (client_of(live, who) for who in ("bank1", "bank2", "supplier1"))
    try:
        for client, who, rate in ((bank1, "bank1", "4.00"), (bank2, "bank2", "6.5")):
            html = client.post(f"/dashboard/bank/{live.address(who)}/rate", data={"rate": rate}).text
            assert "Standing rate set to" in html, html[:2000]
            assert f'value="{float(rate):.2f}"' in html  # the page shows the bank's stored rate
        # Nobody sets another bank's rate: not a supplier, not another bank.
        for client in (supplier, bank2):
            assert (
                client.post(
                    f"/dashboard/bank/{live.address('bank1')}/rate", data={"rate": "0.01"}
                ).status_code
                == 403
            )

        _, token = live.issue("core1", "supplier1", face=300_000_00, line_id=line_core1, days=90)
        page = f"/dashboard/supplier/{live.address('supplier1')}"
        html = supplier.get(page, params={"estimate_amount": "100,000.00", "estimate_token": str(token)}).text
        table = html.split('data-testid="estimate"', 1)[1].split("</table>", 1)[0]
        rows = {
            bank: _cells(row)
            for bank, row in re.findall(r'<tr data-bank="(0x[0-9a-fA-F]{40})">(.*?)</tr>', table, re.S)
        }
        assert list(rows) == [live.address("bank1"), live.address("bank2")]  # most received first
        for bank, rate_bps in ((live.address("bank1"), 400), (live.address("bank2"), 650)):
            name, rate, days, interest, price, cost = rows[bank]
            n = int(days)
            assert 89 <= n <= 91 and rate == f"{rate_bps / 100:.2f}%"
            expected = (100_000_00 * rate_bps * n + 1_800_000) // 3_600_000  # the chain's formula
            assert interest == _yuan(expected) and price == _yuan(100_000_00 - expected)
            annual = (2 * expected * 3_600_000 + (100_000_00 - expected) * n) // (
                2 * (100_000_00 - expected) * n
            )
            assert cost == f"{annual / 100:.2f}%" and annual > rate_bps  # interest is paid up front

        # A typo keeps what was typed and says what to write.
        html = supplier.get(page, params={"estimate_amount": "1o0,000", "estimate_token": str(token)}).text
        assert 'data-testid="estimate-error"' in html and 'value="1o0,000"' in html
    finally:
        for client in (bank1, bank2, supplier):
            client.close()
