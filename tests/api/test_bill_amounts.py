"""Bills in yuan through the API (issue 13): endorse, pledge and discount take an amount in fen and the
service picks the sub-tickets (the same function as the dashboard's bill forms); range bodies still work."""

from __future__ import annotations

from apikit import Api
from test_bills_api import live_bill, ranges

from tierflow.platform.services.seed import DEMO_NAMES


def test_bill_endorse_pledge_discount_by_amount_pick_the_first_sub_tickets(funded: Api) -> None:
    api = funded
    a = api.address
    package_id, root = live_bill(api, face=500_000)

    body = api.ok("supplier1", f"/v1/bills/ranges/{root}/endorse", {"to": a("supplier2"), "amount": 120_000})
    endorsed = int(body["result"]["new_range_id"])
    # the answer says who received what, in yuan, with the new range as a detail
    assert body["message"] == f"¥1,200.00 endorsed to {DEMO_NAMES['supplier2']} (range R{endorsed})."
    assert ranges(api, "core1", package_id) == [
        (1, 120_000, a("supplier2"), "Held"),
        (120_001, 500_000, a("supplier1"), "Held"),
    ]
    # a pledge of ¥1,000.00 of what is left (the root range keeps the rest): its first 100,000 sub-tickets
    pledged = api.client.post(
        f"/v1/bills/ranges/{root}/pledge",
        headers=api.headers("supplier1", **{"Accept-Language": "zh-CN"}),
        json={"pledgee": a("bank1"), "amount": 100_000},
    )
    assert pledged.status_code == 200, pledged.text
    assert pledged.json()["message"].startswith(f"已将 ¥1,000.00 质押给 {DEMO_NAMES['bank1']}（区间 R")
    assert (120_001, 220_000, a("supplier1"), "Pledged") in ranges(api, "core1", package_id)
    asked = api.client.post(
        f"/v1/bills/ranges/{endorsed}/discount-requests",
        headers=api.headers("supplier2"),
        json={"financier": a("bank2"), "amount": 20_000},
    )
    assert asked.status_code == 200, asked.text
    assert (asked.json()["start"], asked.json()["end"]) == (1, 20_000)


def test_bill_amount_beyond_the_range_or_with_sub_tickets_is_refused_in_yuan(funded: Api) -> None:
    api = funded
    _, root = live_bill(api, face=300_000)
    path = f"/v1/bills/ranges/{root}/endorse"
    too_much = api.post("supplier1", path, {"to": api.address("supplier2"), "amount": 300_001})
    assert too_much.status_code == 422, too_much.text
    error = too_much.json()["error"]
    assert error["code"] == "invalid_amount" and "¥3,000.00" in error["message"]
    both = api.post("supplier1", path, {"to": api.address("supplier2"), "amount": 1, "start": 1, "end": 1})
    assert both.status_code == 422
    as_text = api.post("supplier1", path, {"to": api.address("supplier2"), "amount": "1000"})
    assert as_text.status_code == 422  # money is a JSON integer of fen, never a string
