"""Issue 11: the operator declares a default; recourse debts are listed for the seller and the bank and
collected through the API without the seller's cooperation."""

from __future__ import annotations

import sys
from pathlib import Path

from apikit import Api
from fastapi.testclient import TestClient
from test_workflows import terms

sys.path.insert(0, str(Path(__file__).parents[1] / "dashboard"))
from dashkit import dashboard_sign_in  # noqa: E402


def _funded_with_recourse(api: Api, amount: int) -> tuple[int, int, int]:
    line = api.credit_line("bank2", "core2")
    slot, token = api.issue("core2", "supplier1", amount, line, days=20)
    request_id = api.ok("supplier1", "/v1/supplier/financing-requests", {
        "token_id": token, "amount": amount, "financier": api.address("bank2"), "with_recourse": True,
    })["result"]["request_id"]  # fmt: skip
    api.ok("bank2", f"/v1/financier/requests/{request_id}/quote", {"rate_bps": 600, "valid_hours": 2})
    api.ok(
        "supplier1", f"/v1/supplier/financing-requests/{request_id}/accept-quote",
        terms(api, "supplier1", request_id),
    )  # fmt: skip
    api.ok("bank2", f"/v1/financier/requests/{request_id}/fund")
    return slot, token, request_id


def test_operator_marks_payable_defaulted_others_refused(funded: Api) -> None:
    api = funded
    slot, _, _ = _funded_with_recourse(api, 60_000)
    early = api.post("operator", f"/v1/operator/payables/{slot}/mark-defaulted")
    assert early.status_code == 409 and early.json()["error"]["code"] == "CertificateGracePeriodRunning"
    api.platform.increase_time(20 * 86400 + 8 * 86400)
    for who in ("bank2", "supplier1", "core2"):
        assert api.post(who, f"/v1/operator/payables/{slot}/mark-defaulted").status_code == 403
    missing = api.post("operator", "/v1/operator/payables/999999/mark-defaulted")
    assert missing.status_code == 404, missing.text
    # the operator's console lists the payable (names and yuan) with a button; the API is tested below.
    # Its clock is the last indexed block's: a block after the time travel moves it
    api.ok("bank1", "/v1/settlement/mint", {"to": api.address("bank1"), "amount": 1})
    console = _dashboard(api, "operator")
    page = console.get("/dashboard/operator").text
    row = next(r for r in _rows(page) if f">P{slot}<" in r)
    assert "600.00" in row and ">0x" not in row and "mark_defaulted" in row, row
    # a confirmation page in words and yuan first (no browser dialog); nothing is declared until Confirm
    confirm = console.post("/dashboard/operator/mark_defaulted", data={"slot_id": str(slot)})
    assert confirm.status_code == 200 and 'data-testid="confirm-button"' in confirm.text, confirm.text
    assert "cannot be undone" in confirm.text and "¥600.00" in confirm.text and ">0x" not in confirm.text
    assert "data-confirm" not in row
    assert api.get("bank2", f"/v1/payables/{slot}").json()["status"] == "Accepted"
    done = console.post("/dashboard/operator/mark_defaulted", data={"slot_id": str(slot), "confirmed": "yes"})
    assert done.status_code == 303, done.text
    assert api.get("bank2", f"/v1/payables/{slot}").json()["status"] == "Defaulted"
    assert f">P{slot}<" not in console.get("/dashboard/operator").text
    again = api.post("operator", f"/v1/operator/payables/{slot}/mark-defaulted")
    assert again.status_code == 409 and again.json()["error"]["code"] == "CertificateWrongStatus"


def test_recourse_debt_listed_for_seller_and_bank_then_collected(funded: Api) -> None:
    api = funded
    token_contract = api.platform.c.token.functions
    seller, bank = api.address("supplier1"), api.address("bank2")
    slot, token, request_id = _funded_with_recourse(api, 200_000)
    # the seller keeps 50,000 fen on the platform and moves the rest away
    balance = token_contract.balanceOf(seller).call()
    block = api.platform.transact(
        token_contract.transfer(api.address("supplier2"), balance - 50_000), "supplier1"
    )
    api.platform.increase_time(20 * 86400 + 8 * 86400)
    assert api.ctx.link.wait_for(block["blockNumber"], 30)
    api.ok("operator", f"/v1/operator/payables/{slot}/mark-defaulted")
    api.ok("bank2", f"/v1/financier/requests/{request_id}/recourse")

    expected = {
        "request_id": request_id, "token_id": token, "seller": seller, "financier": bank,
        "owed": 200_000, "collected": 50_000, "remaining": 150_000,
    }  # fmt: skip
    mine = api.get("supplier1", "/v1/supplier/recourse-debts").json()
    assert [d for d in mine["data"] if d["request_id"] == request_id] == [expected]
    owed_to_bank = api.get("bank2", "/v1/financier/recourse-debts", open_only=True).json()
    assert [d for d in owed_to_bank["data"] if d["request_id"] == request_id] == [expected]
    other_bank = api.get("bank1", "/v1/financier/recourse-debts").json()["data"]
    assert request_id not in [d["request_id"] for d in other_bank]

    # nothing to collect while the seller has no balance: a typed 409, not a 500
    empty = api.post("bank2", "/v1/recourse-debts/collect", {"seller": seller})
    assert empty.status_code == 409 and empty.json()["error"]["code"] == "FinancingNothingToCollect"
    bad = api.post("bank2", "/v1/recourse-debts/collect", {"seller": "not-an-address"})
    assert bad.status_code == 422
    # money reaching the seller is collected by the bank's call: no allowance, no cooperation
    api.ok("bank1", "/v1/settlement/mint", {"to": seller, "amount": 100_000})
    api.ok("bank2", "/v1/recourse-debts/collect", {"seller": seller})
    partly = api.get("supplier1", "/v1/supplier/recourse-debts").json()["data"]
    assert [d for d in partly if d["request_id"] == request_id] == [
        {**expected, "collected": 150_000, "remaining": 50_000}
    ]
    # the dashboards: the seller sees what it owes, the bank what it is owed, in yuan, with the button
    seller_name = api.get("operator", f"/v1/operator/participants/{seller}").json()["legal_name"]
    bank_page, seller_page = _page(api, "bank2", "bank"), _page(api, "supplier1", "supplier")
    bank_row = next(r for r in _rows(bank_page) if f'num">{request_id}<' in r and "/collect" in r)
    seller_row = next(r for r in _rows(seller_page) if f"R{request_id}<" in r)
    for row in (bank_row, seller_row):
        assert "2,000.00" in row and "1,500.00" in row and "500.00" in row, row
        assert ">0x" not in row, row  # names on screen, addresses only in titles and forms
    assert seller_name in bank_row
    assert "Recourse debts you owe" in seller_page and "/collect" not in seller_row
    api.ok("bank1", "/v1/settlement/mint", {"to": seller, "amount": 50_000})
    client = _dashboard(api, "bank2")
    # a confirmation page first: who pays how much, from which balance; Confirm collects
    confirm = client.post(f"/dashboard/bank/{bank}/recourse/{request_id}/collect")
    assert confirm.status_code == 200 and 'data-testid="confirm-button"' in confirm.text, confirm.text
    assert "¥500.00, to its oldest debts first" in confirm.text and seller_name in confirm.text
    assert api.platform.c.financing.functions.recourseOwed(seller).call() == 50_000  # nothing moved yet
    done = client.post(f"/dashboard/bank/{bank}/recourse/{request_id}/collect", data={"confirmed": "yes"})
    assert done.status_code == 303, done.text
    settled = api.get("supplier1", "/v1/supplier/recourse-debts").json()["data"]
    assert [d for d in settled if d["request_id"] == request_id] == [
        {**expected, "collected": 200_000, "remaining": 0}
    ]
    closed = api.get("bank2", "/v1/financier/recourse-debts", open_only=True).json()["data"]
    assert request_id not in [d["request_id"] for d in closed]
    assert api.platform.c.financing.functions.recourseOwed(seller).call() == 0


def _rows(page: str) -> list[str]:
    """The table rows of a page, each from its <tr> to its </tr> (not the rest of the page)."""
    return [r.split("</tr>")[0] for r in page.split("<tr")[1:]]


def _dashboard(api: Api, who: str) -> TestClient:
    client = TestClient(api.client.app, follow_redirects=False)
    assert dashboard_sign_in(client, api.keys[who], follow_redirects=True).status_code == 200
    return client


def _page(api: Api, who: str, kind: str) -> str:
    response = _dashboard(api, who).get(f"/dashboard/{kind}/{api.address(who)}")
    assert response.status_code == 200, response.text
    return response.text
