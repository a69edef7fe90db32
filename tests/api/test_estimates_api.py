"""The API's financing-cost estimate (融资测算) and the operator's payouts due: what the dashboard shows,
without curl-side arithmetic (issue 13). Both endpoints were missing before."""

from __future__ import annotations

import datetime as dt

from apikit import Api

from tierflow.platform.services.seed import DEMO_NAMES


def _interest(face: int, rate_bps: int, days: int) -> int:
    return (face * rate_bps * days + 1_800_000) // 3_600_000


def test_financing_estimate_prices_each_bank_at_its_standing_rate(funded: Api) -> None:
    api = funded
    assert api.client.put(
        "/v1/financier/standing-rate", headers=api.headers("bank1"), json={"rate_bps": 400}
    ).json() == {"rate_bps": 400}
    assert (
        api.client.put(
            "/v1/financier/standing-rate", headers=api.headers("bank2"), json={"rate_bps": 550}
        ).status_code
        == 200
    )
    line = api.credit_line("bank1", "core1")
    _, token = api.issue("core1", "supplier1", 1_000_000, line, days=90)

    response = api.get("supplier1", "/v1/supplier/financing-estimate", amount=600_000, token_id=token)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["maturity_date"] == api.today(90) and body["amount"] == 600_000
    days = body["days"]
    assert days in (90, 91)  # a started day counts whole
    rows = {row["financier"]: row for row in body["data"]}
    bank1, bank2 = rows[api.address("bank1")], rows[api.address("bank2")]
    assert bank1["financier_name"] == DEMO_NAMES.get("bank1", "bank1")
    assert bank1["rate_bps"] == 400 and bank1["discount"] == _interest(600_000, 400, days)
    assert bank1["price"] == 600_000 - bank1["discount"]
    assert bank1["annual_cost_bps"] > 400  # the interest comes out of the face up front
    assert bank2["price"] < bank1["price"]
    assert [row["financier"] for row in body["data"]][:1] != [api.address("bank2")]  # cheapest first

    by_date = api.get(
        "supplier1", "/v1/supplier/financing-estimate", amount=600_000, maturity_date=api.today(90)
    ).json()
    assert by_date["data"] == body["data"]


def test_financing_estimate_refuses_another_holders_certificate_and_bad_input(funded: Api) -> None:
    api = funded
    line = api.credit_line("bank1", "core1")
    _, token = api.issue("core1", "supplier1", 500_000, line, days=60)
    path = "/v1/supplier/financing-estimate"
    # supplier2 probing supplier1's certificate learns nothing about it
    spied = api.get("supplier2", path, amount=100_000, token_id=token)
    assert spied.status_code == 404 and spied.json()["error"]["code"] == "certificate_not_held"
    too_much = api.get("supplier1", path, amount=500_001, token_id=token)
    assert too_much.status_code == 422 and "¥5,000.00" in too_much.json()["error"]["message"]
    both = api.get("supplier1", path, amount=1, token_id=token, maturity_date=api.today(60))
    assert both.status_code == 422 and both.json()["error"]["code"] == "estimate_needs_one_of"
    past = api.get("supplier1", path, amount=1, maturity_date=api.today(-1))
    assert past.status_code == 422 and past.json()["error"]["code"] == "invalid_maturity"
    assert api.get("bank1", path, amount=1, maturity_date=api.today(30)).status_code == 403
    assert (
        api.client.put(
            "/v1/financier/standing-rate", headers=api.headers("supplier1"), json={"rate_bps": 1}
        ).status_code
        == 403
    )


def test_payouts_due_api_lists_repaid_matured_payables_by_name_and_date(funded: Api) -> None:
    api = funded
    line = api.credit_line("bank1", "core2")
    slot, token = api.issue("core2", "supplier2", 80_000, line, days=2)
    maturity = api.today(2)
    api.ok("core2", f"/v1/core/payables/{slot}/repay", {"amount": 80_000})
    listed = api.get("operator", "/v1/operator/payouts-due", limit=1000).json()
    assert slot not in [row["slot_id"] for row in listed["data"]]  # not matured yet
    api.platform.increase_time(3 * 86_400)
    # an indexed event carries the chain's new time to the API's clock
    api.ok("bank1", "/v1/settlement/mint", {"to": api.address("core2"), "amount": 1})
    listed = api.get("operator", "/v1/operator/payouts-due", limit=1000).json()
    row = next(row for row in listed["data"] if row["slot_id"] == slot)
    assert row == {
        "slot_id": slot,
        "obligor": api.address("core2"),
        "obligor_name": DEMO_NAMES.get("core2", "core2"),
        "maturity_date": maturity,
        "due": 80_000,
        "token_ids": [token],
    }
    assert dt.date.fromisoformat(row["maturity_date"])
    assert api.get("supplier2", "/v1/operator/payouts-due").status_code == 403
    api.ok("operator", "/v1/operator/payouts", {"token_ids": row["token_ids"]})
    listed = api.get("operator", "/v1/operator/payouts-due", limit=1000).json()
    assert slot not in [row["slot_id"] for row in listed["data"]]
