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


def test_supplier_previews_invoices_before_accepting_and_reads_its_statement(
    live: Live, line_core1: int
) -> None:
    number = live.unique()
    upload = live.http.post(
        "/v1/core/documents",
        headers={"X-API-Key": live.keys["core1"]},
        files={"file": ("invoice-2026-118.pdf", b"%PDF invoice 118", "application/pdf")},
        data={"seller": live.address("supplier2"), "kind": "invoice", "invoice_number": number},
    )
    assert upload.status_code == 200, upload.text
    issued = live.api("core1", "/v1/core/certificates", {
        "supplier": live.address("supplier2"), "face": 60_000_00, "maturity": live.today(5),
        "line_id": line_core1, "document_ids": [upload.json()["document_id"]],
    })  # fmt: skip
    slot, token = int(issued["result"]["slot_id"]), int(issued["result"]["token_id"])
    supplier, other = client_of(live, "supplier2"), client_of(live, "supplier3")
    try:
        page = f"/dashboard/supplier/{live.address('supplier2')}"
        row = next(r for r in supplier.get(page).text.split("<tr>") if f"P{slot}<" in r)
        link = re.search(r'data-testid="invoice-preview" href="([^"]+)"', row)
        assert link is not None and f"Invoice {number}" in row
        assert supplier.get(link.group(1)).content == b"%PDF invoice 118"  # before accepting
        assert other.get(link.group(1)).status_code == 403  # not another supplier's to read

        live.api("supplier2", f"/v1/supplier/payables/{slot}/accept")
        request_id = live.funded("supplier2", "bank1", token, 20_000_00)
        price = int(live.platform.c.financing.functions.getRequest(request_id).call()[9])
        live.api("core1", f"/v1/core/payables/{slot}/repay", {"amount": 60_000_00})
        live.platform.increase_time(6 * 86_400)
        live.api("supplier2", f"/v1/certificates/{token}/claim")

        table = supplier.get(page).text.split('data-testid="statement"', 1)[1].split("</table>", 1)[0]
        lines = [_cells(r) for r in re.findall(r"<tr>(.*?)</tr>", table.split("<tbody>", 1)[1], re.S)]
        assert lines[0][1:] == ["payout at maturity", "Hangzhou Grand Motors Group", f"T{token}", "40,000.00"]
        financing = next(
            line
            for line in lines
            if line[1] == "financing price" and line[3] != "" and line[4] == _yuan(price)
        )
        assert financing[2] == "Bank of Tierflow (settlement bank)" and financing[0] != "—"
    finally:
        supplier.close()
        other.close()
