"""The auditor finds an invoice by its number and certificates by holder and amount; CSVs speak ISO dates."""

from __future__ import annotations

import csv
import html
import io
import re

import httpx
from dashkit import Live, dashboard_sign_in


def _auditor(live: Live) -> httpx.Client:
    client = httpx.Client(base_url=live.url, timeout=60, follow_redirects=True)
    assert dashboard_sign_in(client, live.keys["auditor"]).status_code == 200
    return client


def test_audit_search_finds_invoice_number_and_certificates_by_holder_and_amount(
    live: Live, line_core1: int
) -> None:
    number = live.unique()
    document = live.upload_invoice("core1", "supplier3", number, "invoice-77.pdf", b"%PDF-1.4 invoice 77")
    issued = live.api("core1", "/v1/core/certificates", {
        "supplier": live.address("supplier3"), "face": 123_456_78, "maturity": live.today(45),
        "line_id": line_core1, "document_ids": [document],
    })  # fmt: skip
    slot, token = issued["result"]["slot_id"], issued["result"]["token_id"]
    auditor = _auditor(live)
    try:
        # typed as people type it: groups of digits with spaces
        typed = " ".join(number[i : i + 4] for i in range(0, len(number), 4))
        page = html.unescape(auditor.get("/dashboard/audit", params={"q": typed}).text)
        assert f"Invoice {number}" in page and f"backs payable P{slot}" in page
        assert "Suzhou Fasteners Co." in page and "invoice-77.pdf" in page
        # and typed in one piece: 20 digits are an invoice number, too long to be an id (was a 500)
        whole = auditor.get("/dashboard/audit", params={"q": number})
        assert whole.status_code == 200 and f"backs payable P{slot}" in html.unescape(whole.text)

        found = auditor.get(
            "/dashboard/audit",
            params={"holder": live.address("supplier3"), "min": "123,000", "max": "124,000.00"},
        ).text
        table = re.search(r'data-testid="certificate-results".*?</table>', found, re.S)
        assert table is not None and f">T{token}</a>" in table.group(0) and "123,456.78" in table.group(0)
        outside = auditor.get(
            "/dashboard/audit", params={"holder": live.address("supplier3"), "min": "200,000"}
        ).text
        assert f">T{token}</a>" not in outside
        bad = auditor.get("/dashboard/audit", params={"min": "lots"})
        assert bad.status_code == 422 and 'value="lots"' in bad.text

        people = auditor.get(f"/dashboard/audit/participant/{live.address('bank1')}").text
        roles = re.search(r'data-testid="roles">(.*?)</span>', people)
        assert roles is not None and roles.group(1) == "bank / financier, settlement bank"
    finally:
        auditor.close()


def test_audit_csv_has_iso_dates_event_times_names_and_role_names(live: Live, line_core1: int) -> None:
    slot, token = live.issue("core1", "supplier3", face=50_000_00, line_id=line_core1, days=30)
    auditor = _auditor(live)
    try:

        def table(name: str) -> list[dict[str, str]]:
            response = auditor.get(f"/dashboard/audit/export/{name}.csv")
            assert response.status_code == 200
            return list(csv.DictReader(io.StringIO(response.text)))

        [payable] = [r for r in table("payables") if r["slot_id"] == str(slot)]
        assert re.fullmatch(r"\d{4}-\d{2}-\d{2}", payable["maturity_date"]) and payable[
            "maturity_date"
        ] == live.today(30)
        assert payable["maturity_unix"].isdigit() and payable["obligor_name"] == "Hangzhou Grand Motors Group"
        assert re.fullmatch(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z", payable["issued_at"])
        [certificate] = [r for r in table("certificates") if r["token_id"] == str(token)]
        assert (certificate["initial_value_fen"], certificate["initial_value_yuan"]) == (
            "5000000",
            "50,000.00",
        )
        moves = [r for r in table("transfers") if r["slot_id"] == str(slot)]
        assert moves and all(
            re.fullmatch(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z", r["block_time"]) for r in moves
        )
        bank = [r for r in table("participants") if r["address"] == live.address("bank1")]
        assert bank[0]["roles"] == "financier|settlement_bank" and bank[0]["address_name"].startswith(
            "Bank of"
        )
    finally:
        auditor.close()
