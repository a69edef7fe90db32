"""The operator's parameters without curl: the quote-validity cap, and a bank quoting with a validity it
chooses under that cap, over HTTP against the real chain."""

from __future__ import annotations

import re

from dashkit import Live, client_of, flash_of


def test_operator_sets_quote_validity_and_bank_quotes_with_a_chosen_validity(
    live: Live, line_core1: int
) -> None:
    operator, bank, auditor = (client_of(live, who) for who in ("operator", "bank1", "auditor"))
    registry = live.platform.c.registry.functions
    try:
        html = operator.post("/dashboard/operator/quote-validity", data={"quote_hours": "72"}).text
        assert flash_of(html) == "ok: Quotes may now stay open for at most 72 hours.", flash_of(html)
        assert registry.quoteValidity().call() == 72 * 3600
        assert 'data-testid="quote-validity">72 hours' in html
        refused = operator.post("/dashboard/operator/quote-validity", data={"quote_hours": "169"}).text
        assert (
            flash_of(refused).startswith("error: Quote validity:")
            and registry.quoteValidity().call() == 72 * 3600
        )
        assert (
            auditor.post("/dashboard/operator/quote-validity", data={"quote_hours": "1"}).status_code == 403
        )
        assert 'data-testid="quote-validity-form"' not in auditor.get("/dashboard/operator").text

        _, token = live.issue("core1", "supplier3", face=80_000_00, line_id=line_core1, days=60)
        request_id = int(live.api("supplier3", "/v1/supplier/financing-requests", {
            "token_id": token, "amount": 80_000_00, "financier": live.address("bank1"),
            "with_recourse": False,
        })["result"]["request_id"])  # fmt: skip
        page = f"/dashboard/bank/{live.address('bank1')}"
        select = bank.get(page).text.split(f'id="valid-{request_id}"', 1)[1].split("</select>", 1)[0]
        assert re.findall(r'value="(\d+)"', select) == [
            "1",
            "4",
            "8",
            "24",
            "48",
            "72",
        ]  # not 168: over the cap
        confirm = bank.get(
            f"{page}/requests/{request_id}/quote", params={"rate": "4.2", "valid_hours": "72"}
        ).text
        assert "72 hours" in confirm
        html = bank.post(
            f"{page}/requests/{request_id}/quote", data={"rate_bps": "420", "valid_hours": "72"}
        ).text
        assert flash_of(html).startswith(f"ok: Quoted request {request_id}"), flash_of(html)
        quoted = live.platform.c.financing.functions.getRequest(request_id).call()
        assert 72 * 3600 - 120 <= quoted[7] - live.platform.now() <= 72 * 3600
    finally:
        operator.post("/dashboard/operator/quote-validity", data={"quote_hours": "24"})
        for client in (operator, bank, auditor):
            client.close()
