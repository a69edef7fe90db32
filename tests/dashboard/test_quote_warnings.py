"""Quote pages warn before Confirm: a 0 % rate, a rate over the cap, one far from the standing rate."""

from __future__ import annotations

import html
import re

import httpx
from dashkit import Live, dashboard_sign_in


def test_quote_page_warns_when_the_rate_is_zero_over_the_cap_or_far_from_standing(
    live: Live, line_core1: int
) -> None:
    _, token = live.issue("core1", "supplier2", face=200_000_00, line_id=line_core1, days=60)
    body = live.api("supplier2", "/v1/supplier/financing-requests", {
        "token_id": token, "amount": 100_000_00, "financier": live.address("bank1"), "with_recourse": False,
    })  # fmt: skip
    request_id = int(body["result"]["request_id"])
    bank = httpx.Client(base_url=live.url, timeout=60, follow_redirects=True)
    try:
        dashboard_sign_in(bank, live.keys["bank1"])
        page_of = f"/dashboard/bank/{live.address('bank1')}/requests/{request_id}/quote"

        def quote_page(rate: str) -> tuple[list[str], bool]:
            response = bank.get(page_of, params={"rate": rate})
            assert response.status_code == 200, response.text[:500]
            warnings = re.findall(r'data-testid="rate-warning">(.*?)</p>', response.text, re.S)
            button = re.search(r"<button[^>]*>Confirm quote</button>", response.text)
            assert button is not None
            return [html.unescape(w) for w in warnings], "disabled" in button.group(0)

        warnings, blocked = quote_page("0")
        assert blocked and warnings == [
            "A rate of zero is not a quote: the chain refuses it. Enter the annual rate you offer."
        ]
        warnings, blocked = quote_page("150")
        assert blocked and len(warnings) == 1 and "above the platform's cap of 100.00%" in warnings[0]
        warnings, blocked = quote_page("9")  # the standing rate is 4.50 %
        assert not blocked and warnings == [
            "9.00% is far from your standing rate of 4.50%: check it before you confirm."
        ]
        assert quote_page("4.6") == ([], False)
    finally:
        bank.close()
