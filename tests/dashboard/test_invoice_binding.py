"""Dashboard over HTTP: invoices pending the supplier's acceptance; the bank sees an unverified document."""

from __future__ import annotations

import httpx
from dashkit import Live, dashboard_sign_in


def _signed_in(live: Live, who: str) -> httpx.Client:
    client = httpx.Client(base_url=live.url, timeout=60, follow_redirects=True)
    response = dashboard_sign_in(client, live.keys[who])
    assert response.status_code == 200, response.text
    return client


def test_incoming_certificate_shows_pending_invoices_and_bank_sees_not_verified(
    live: Live, line_core1: int
) -> None:
    upload = live.http.post(
        "/v1/core/documents",
        headers={"X-API-Key": live.keys["core1"]},
        files={"file": ("scan.png", b"\x89PNG a scanned invoice", "image/png")},
        data={"seller": live.address("supplier2"), "kind": "invoice", "invoice_number": live.unique()},
    )
    assert upload.status_code == 200 and upload.json()["verification"] == "not_verified", upload.text
    issued = live.api("core1", "/v1/core/certificates", {
        "supplier": live.address("supplier2"), "face": 500_000, "maturity": live.today(60),
        "line_id": line_core1, "document_ids": [upload.json()["document_id"]],
    })  # fmt: skip
    slot, token = issued["result"]["slot_id"], issued["result"]["token_id"]
    supplier, bank = _signed_in(live, "supplier2"), _signed_in(live, "bank1")
    try:
        page = supplier.get(f"/dashboard/supplier/{live.address('supplier2')}").text
        row = next(r for r in page.split("<tr>") if f'value="{slot}"' in r)
        assert "1 pending your acceptance" in row
        live.api("supplier2", f"/v1/supplier/payables/{slot}/accept")
        live.api("supplier2", "/v1/supplier/financing-requests", {
            "token_id": token, "amount": 100_000, "financier": live.address("bank1"), "with_recourse": False,
        })  # fmt: skip
        page = bank.get(f"/dashboard/bank/{live.address('bank1')}").text
        assert 'data-testid="doc-not-verified"' in page
    finally:
        supplier.close()
        bank.close()
