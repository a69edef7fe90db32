"""Quote pages warn before Confirm: a 0 % rate, a rate over the cap, one far from the standing rate."""

from __future__ import annotations

import html
import re

import httpx
from dashkit import Live, dashboard_sign_in
from sqlmodel import Session

from tierflow.platform.models.service import DirectoryParticipant


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


def _warnings(response: httpx.Response) -> list[str]:
    assert response.status_code == 200, response.text[:500]
    return [
        html.unescape(w) for w in re.findall(r'data-testid="rate-warning">(.*?)</p>', response.text, re.S)
    ]


def test_bill_and_certificate_quote_pages_use_the_banks_stored_standing_rate(
    live: Live, line_core1: int
) -> None:
    """bank2 stores 9 % as its standing rate in one browser; in another (whose session still holds the
    default 4.50 %) the certificate and the bill quote pages suggest and check against 9 %."""
    bank2 = live.address("bank2")
    _, token = live.issue("core1", "supplier2", face=50_000_00, line_id=line_core1, days=60)
    request_id = int(live.api("supplier2", "/v1/supplier/financing-requests", {
        "token_id": token, "amount": 50_000_00, "financier": bank2, "with_recourse": False,
    })["result"]["request_id"])  # fmt: skip
    discount_id = live.bill_discount_request(3_000_00, days=90, end=1_000_00, bank="bank2")

    office, laptop = (httpx.Client(base_url=live.url, timeout=60, follow_redirects=True) for _ in "ab")
    try:
        dashboard_sign_in(office, live.keys["bank2"])
        dashboard_sign_in(laptop, live.keys["bank2"])  # its session keeps the default rate (4.50 %)
        office.post(f"/dashboard/bank/{bank2}/rate", data={"rate": "9"})
        far = "4.50% is far from your standing rate of 9.00%: check it before you confirm."
        certificate = f"/dashboard/bank/{bank2}/requests/{request_id}/quote"
        bill = f"/dashboard/bills/queue/{discount_id}/quote"
        for page in (certificate, bill):
            assert _warnings(laptop.get(page, params={"rate": "4.5"})) == [far], page
            assert _warnings(laptop.get(page, params={"rate": "9.2"})) == [], page
            suggested = laptop.get(page)  # no rate typed: the stored standing rate
            assert _warnings(suggested) == [] and 'name="rate_bps" value="900"' in suggested.text, page
        queue = laptop.get("/dashboard/bills").text
        field = re.search(rf'id="rate-{discount_id}"[^>]*>', queue)
        assert field is not None and 'value="9.00%"' in field.group(0), field
    finally:
        office.close()
        laptop.close()
        with Session(live.ctx.engine) as db:  # the other tests expect bank2 without a stored rate
            row = db.get(DirectoryParticipant, bank2)
            assert row is not None
            row.standing_rate_bps = None
            db.add(row)
            db.commit()
