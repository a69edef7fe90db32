"""Every workflow end to end through HTTP against anvil + the indexer (custodial signing)."""

from __future__ import annotations

from typing import Any

import pytest
from apikit import Api
from sqlalchemy import text

from tierflow.platform.services import documents


def test_issue_accept_split_finance_fund_repay_claim(funded: Api) -> None:
    api = funded
    line = api.credit_line("bank1", "core1")
    slot, root = api.issue("core1", "supplier1", 1_000_000, line, days=30, accept=False)

    incoming = api.get("supplier1", "/v1/supplier/incoming").json()
    assert slot in [p["slot_id"] for p in incoming["data"]]
    api.ok("supplier1", f"/v1/supplier/payables/{slot}/accept")
    assert api.get("supplier1", f"/v1/payables/{slot}").json()["status"] == "Accepted"

    # split 300,000 off to tier 2, who passes 100,000 on to tier 3
    body = api.ok(
        "supplier1", f"/v1/certificates/{root}/transfer", {"to": api.address("supplier2"), "value": 300_000}
    )
    tier2 = body["result"]["new_token_id"]
    body = api.ok(
        "supplier2", f"/v1/certificates/{tier2}/transfer", {"to": api.address("supplier3"), "value": 100_000}
    )
    tier3 = body["result"]["new_token_id"]
    holdings = api.get("supplier3", "/v1/supplier/holdings", slot_id=slot).json()
    assert [(c["token_id"], c["value"], c["depth"]) for c in holdings["data"]] == [(tier3, 100_000, 2)]
    path = api.get("supplier3", f"/v1/certificates/{tier3}/lineage").json()
    assert [t["token_id"] for t in path["tokens"]] == [tier3, tier2, root]
    tree = api.get("core1", f"/v1/payables/{slot}/lineage").json()
    assert {t["token_id"] for t in tree["tokens"]} == {root, tier2, tier3}

    # tier 2 sells 150,000 of its 200,000 to bank2
    body = api.ok(
        "supplier2",
        "/v1/supplier/financing-requests",
        {"token_id": tier2, "amount": 150_000, "financier": api.address("bank2"), "with_recourse": False},
    )
    request_id = body["result"]["request_id"]
    queue = api.get("bank2", "/v1/financier/requests", status="Requested").json()
    assert request_id in [r["request_id"] for r in queue["data"]]
    detail = api.get("bank2", f"/v1/financier/requests/{request_id}").json()
    assert detail["payable"]["obligor"] == api.address("core1")
    assert detail["lineage"][-1]["token_id"] == root
    assert len(detail["documents"]) == 1
    assert detail["obligor_exposure"] >= 1_000_000
    document = api.client.get(
        f"/v1/documents/{detail['documents'][0]['document_id']}/content", headers=api.headers("bank2")
    )
    assert document.status_code == 200 and document.content.startswith(b"%PDF")

    quoted = api.ok(
        "bank2", f"/v1/financier/requests/{request_id}/quote", {"rate_bps": 500, "valid_hours": 24}
    )
    price = quoted["result"]["price"]
    assert 0 < price < 150_000
    api.ok(
        "supplier2",
        f"/v1/supplier/financing-requests/{request_id}/accept-quote",
        terms(api, "supplier2", request_id),
    )
    api.ok("bank2", f"/v1/financier/requests/{request_id}/fund")
    mine = api.get("supplier2", "/v1/supplier/financing-requests").json()
    assert {r["request_id"]: r["status"] for r in mine["data"]}[request_id] == "Funded"
    portfolio = api.get("bank2", "/v1/financier/portfolio").json()
    assert portfolio["total_value"] >= 150_000 and portfolio["funded_price"] >= price

    # the obligor repays in two parts; after maturity every holder claims exactly what it holds
    api.ok("core1", f"/v1/core/payables/{slot}/repay", {"amount": 400_000})
    api.ok("core1", f"/v1/core/payables/{slot}/repay", {"amount": 600_000})
    assert api.get("core1", f"/v1/payables/{slot}").json()["status"] == "Repaid"
    api.platform.increase_time(31 * 86400)
    financed = api.get("bank2", "/v1/financier/portfolio").json()["holdings"]
    bank_token = next(c["token_id"] for c in financed if c["slot_id"] == slot)
    claimed = api.ok("bank2", f"/v1/certificates/{bank_token}/claim")
    assert claimed["result"]["amount"] == 150_000
    api.ok("supplier3", f"/v1/certificates/{tier3}/claim")
    payouts = api.get("supplier3", "/v1/payouts").json()
    assert any(p["token_id"] == tier3 and p["amount"] == 100_000 for p in payouts["data"])


def terms(api: Api, seller: str, request_id: int) -> dict[str, int]:
    """The quote's terms as the seller's list shows them: what its acceptance must name."""
    mine = api.get(seller, "/v1/supplier/financing-requests").json()["data"]
    row = next(r for r in mine if r["request_id"] == request_id)
    return {"rate_bps": row["rate_bps"], "price": row["price"], "expiry": row["quote_expiry"]}


def test_reject_and_cancel_release_the_invoice(funded: Api) -> None:
    api = funded
    line = api.credit_line("bank1", "core2")
    number = api.invoice_number()
    doc = api.invoice("core2", "supplier1", number)
    issue = {
        "supplier": api.address("supplier1"),
        "face": 50_000,
        "maturity": api.today(60),
        "line_id": line,
        "document_ids": [doc],
    }
    slot = api.ok("core2", "/v1/core/certificates", issue)["result"]["slot_id"]
    payable = api.get("core2", f"/v1/payables/{slot}").json()
    assert payable["invoice_binding"] == "proposed"
    # the same invoice, uploaded again and typed differently (full width, a label, spaces), has the
    # same key: while P{slot} awaits its supplier, a second payable on it is refused, nothing sent
    typed = "No. " + " ".join(chr(ord(d) - ord("0") + 0xFF10) for d in number)
    again = api.invoice("core2", "supplier1", typed)
    assert (
        api.get("core2", f"/v1/documents/{again}").json()["doc_hash"]
        == (api.get("core2", f"/v1/documents/{doc}").json()["doc_hash"])
    )
    block = api.platform.w3.eth.block_number
    refused = api.post("core2", "/v1/core/certificates", {**issue, "document_ids": [again]})
    assert refused.status_code == 409, refused.text
    error = refused.json()["error"]
    assert error["code"] == "invoice_awaiting_acceptance"
    assert f"already backs payable P{slot}" in error["message"] and "Cancel" in error["message"]
    assert error["details"]["slot_id"] == slot
    assert api.platform.w3.eth.block_number == block
    zh = api.client.post(
        "/v1/core/certificates",
        headers={**api.headers("core2"), "Accept-Language": "zh-CN"},
        json={**issue, "document_ids": [again]},
    )
    assert zh.status_code == 409 and f"已用于应付账款 P{slot}" in zh.json()["error"]["message"], zh.text
    # another issuer's proposal blocks nobody (squatting a seller's invoice): the seller's acceptance decides
    other = {**issue, "line_id": api.credit_line("bank1", "core1")}
    squat = api.invoice("core1", "supplier1", number)
    squatted = api.ok("core1", "/v1/core/certificates", {**other, "document_ids": [squat]})["result"][
        "slot_id"
    ]
    api.ok("core1", f"/v1/core/payables/{squatted}/cancel")
    # once its supplier rejects it the invoice is free again: the upload refused above now backs one
    api.ok("supplier1", f"/v1/supplier/payables/{slot}/reject")
    assert api.get("core2", f"/v1/payables/{slot}").json()["invoice_binding"] == "released"
    slot2 = api.ok("core2", "/v1/core/certificates", {**issue, "document_ids": [again]})["result"]["slot_id"]
    api.ok("core2", f"/v1/core/payables/{slot2}/cancel")
    assert api.get("core2", f"/v1/payables/{slot2}").json()["status"] == "Cancelled"
    lines = api.get("core2", "/v1/core/credit-lines").json()["data"]
    assert next(item for item in lines if item["line_id"] == line)["used"] == 0
    # never bound: a third proposal goes live once its seller accepts; then the invoice is taken
    third = api.invoice("core2", "supplier1", number)
    slot3 = api.ok("core2", "/v1/core/certificates", {**issue, "document_ids": [third]})["result"]["slot_id"]
    api.ok("supplier1", f"/v1/supplier/payables/{slot3}/accept")
    assert api.get("core2", f"/v1/payables/{slot3}").json()["invoice_binding"] == "bound"
    fourth = api.invoice("core2", "supplier1", number)
    response = api.post("core2", "/v1/core/certificates", {**issue, "document_ids": [fourth]})
    assert response.status_code == 409, response.text
    assert response.json()["error"]["code"] == "DocumentAlreadyUsed"


def test_two_issues_of_one_invoice_at_once_only_one_payable_can_be_accepted(
    funded: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two issues of the same invoice at the same instant both pass the service's read (neither payable
    exists yet when the other looks): played here by skipping the read. Both payables are issued, but
    the chain binds an invoice at acceptance, once: the second acceptance is refused, whichever comes
    second, and that payable can only be rejected or cancelled."""
    api = funded
    line = api.credit_line("bank1", "core2")
    number = api.invoice_number()
    issue = {
        "supplier": api.address("supplier1"), "face": 40_000, "maturity": api.today(60), "line_id": line,
    }  # fmt: skip
    monkeypatch.setattr(documents, "invoices_in_use", lambda *args, **kwargs: {})
    slots = [
        api.ok(
            "core2",
            "/v1/core/certificates",
            {**issue, "document_ids": [api.invoice("core2", "supplier1", number)]},
        )["result"]["slot_id"]
        for _ in range(2)
    ]
    monkeypatch.undo()
    api.ok("supplier1", f"/v1/supplier/payables/{slots[1]}/accept")
    refused = api.post("supplier1", f"/v1/supplier/payables/{slots[0]}/accept")
    assert refused.status_code == 409, refused.text
    assert refused.json()["error"]["code"] == "DocumentAlreadyUsed"
    assert api.get("core2", f"/v1/payables/{slots[0]}").json()["status"] == "Issued"
    assert api.get("core2", f"/v1/payables/{slots[1]}").json()["invoice_binding"] == "bound"
    api.ok("supplier1", f"/v1/supplier/payables/{slots[0]}/reject")
    assert api.get("core2", f"/v1/payables/{slots[0]}").json()["status"] == "Rejected"


def test_credit_line_adjust_and_core_views(funded: Api) -> None:
    api = funded
    line = api.credit_line("bank1", "core2", limit=100_000)
    slot, _ = api.issue("core2", "supplier4", 80_000, line, days=45)
    response = api.post("core2", "/v1/core/certificates", {
        "supplier": api.address("supplier4"), "face": 30_000, "maturity": api.today(45), "line_id": line,
        "document_ids": [api.invoice("core2", "supplier4")],
    })  # fmt: skip
    assert response.status_code == 409 and response.json()["error"]["code"] == "CreditLineExceeded"
    assert "ask the financier to extend it" in response.json()["error"]["message"]
    api.ok("bank1", f"/v1/financier/credit-lines/{line}/adjust", {"limit": 200_000, "expiry": api.today(300)})
    response = api.post(
        "bank1", f"/v1/financier/credit-lines/{line}/adjust", {"limit": 10_000, "expiry": api.today(300)}
    )
    assert response.status_code == 409 and response.json()["error"]["code"] == "CreditLineBelowUsed"
    payables = api.get("core2", "/v1/core/payables", status="Accepted").json()
    assert slot in [p["slot_id"] for p in payables["data"]]
    maturities = api.get("core2", "/v1/core/maturities").json()
    assert sum(m["outstanding"] for m in maturities) >= 80_000
    lines = api.get("bank1", "/v1/financier/credit-lines", obligor=api.address("core2")).json()
    assert any(item["line_id"] == line and item["limit"] == 200_000 for item in lines["data"])


def test_decline_cancel_and_locked_certificate(funded: Api) -> None:
    api = funded
    line = api.credit_line("bank1", "core1")
    _, token = api.issue("core1", "supplier4", 90_000, line)
    request_id = api.ok("supplier4", "/v1/supplier/financing-requests", {
        "token_id": token, "amount": 90_000, "financier": api.address("bank1"), "with_recourse": True,
    })["result"]["request_id"]  # fmt: skip
    response = api.post(
        "supplier4", f"/v1/certificates/{token}/transfer", {"to": api.address("supplier1"), "value": 1_000}
    )
    assert response.status_code == 409, response.text
    error = response.json()["error"]
    assert error["code"] == "CertificateIsLocked"
    assert f"token {token} is under financing request {request_id}" in error["message"]
    api.ok("bank1", f"/v1/financier/requests/{request_id}/decline")
    request2 = api.ok("supplier4", "/v1/supplier/financing-requests", {
        "token_id": token, "amount": 90_000, "financier": api.address("bank1"), "with_recourse": False,
    })["result"]["request_id"]  # fmt: skip
    api.ok("supplier4", f"/v1/supplier/financing-requests/{request2}/cancel")
    statuses = {
        r["request_id"]: r["status"]
        for r in api.get("supplier4", "/v1/supplier/financing-requests").json()["data"]
    }
    assert statuses[request_id] == "Declined" and statuses[request2] == "Cancelled"
    api.ok(
        "supplier4", f"/v1/certificates/{token}/transfer", {"to": api.address("supplier1"), "value": 90_000}
    )


def test_default_and_recourse(funded: Api) -> None:
    api = funded
    line = api.credit_line("bank1", "core2")
    slot, token = api.issue("core2", "supplier1", 200_000, line, days=20)
    request_id = api.ok("supplier1", "/v1/supplier/financing-requests", {
        "token_id": token, "amount": 200_000, "financier": api.address("bank1"), "with_recourse": True,
    })["result"]["request_id"]  # fmt: skip
    api.ok("bank1", f"/v1/financier/requests/{request_id}/quote", {"rate_bps": 600, "valid_hours": 2})
    api.ok(
        "supplier1",
        f"/v1/supplier/financing-requests/{request_id}/accept-quote",
        terms(api, "supplier1", request_id),
    )
    api.ok("bank1", f"/v1/financier/requests/{request_id}/fund")
    api.platform.increase_time(20 * 86400 + 8 * 86400)
    # a supplier holding nothing of this payable cannot declare it defaulted; its holder (the bank) can
    response = api.post("supplier3", f"/v1/payables/{slot}/mark-defaulted")
    assert response.status_code == 403
    api.ok("bank1", f"/v1/payables/{slot}/mark-defaulted")
    portfolio = api.get("bank1", "/v1/financier/portfolio").json()
    assert token in [c["token_id"] for c in portfolio["defaulted"]]
    assert token in [c["token_id"] for c in portfolio["overdue"]]
    # recourse needs nothing from the seller: no allowance, its balance pays the debt at once
    bank_before = api.platform.c.token.functions.balanceOf(api.address("bank1")).call()
    api.ok("bank1", f"/v1/financier/requests/{request_id}/recourse")
    assert api.get("supplier1", f"/v1/certificates/{token}").json()["holder"] == api.address("supplier1")
    bank_after = api.platform.c.token.functions.balanceOf(api.address("bank1")).call()
    assert bank_after - bank_before == 200_000
    assert api.platform.c.financing.functions.recourseOwed(api.address("supplier1")).call() == 0
    # a partial recovery after default is claimable at once, pro rata (the seller now holds the token)
    api.ok("core2", f"/v1/core/payables/{slot}/repay", {"amount": 50_000})
    claimed = api.ok("supplier1", f"/v1/certificates/{token}/claim")
    assert claimed["result"]["amount"] == 50_000
    assert api.get("supplier1", f"/v1/certificates/{token}").json()["value"] == 150_000


def test_accepted_quote_left_unfunded_lapses(funded: Api) -> None:
    api = funded
    line = api.credit_line("bank2", "core1")
    _, token = api.issue("core1", "supplier2", 80_000, line, days=40)
    request_id = api.ok("supplier2", "/v1/supplier/financing-requests", {
        "token_id": token, "amount": 80_000, "financier": api.address("bank2"),
    })["result"]["request_id"]  # fmt: skip
    api.ok("bank2", f"/v1/financier/requests/{request_id}/quote", {"rate_bps": 400, "valid_hours": 1})
    seen = terms(api, "supplier2", request_id)
    # a quote valid past the registry's 24 h is refused by the chain
    too_long = api.post(
        "bank2", f"/v1/financier/requests/{request_id}/quote", {"rate_bps": 400, "valid_hours": 25}
    )
    assert too_long.status_code == 409 and too_long.json()["error"]["code"] == "FinancingInvalidExpiry"
    api.ok("supplier2", f"/v1/supplier/financing-requests/{request_id}/accept-quote", seen)
    early = api.post("supplier1", f"/v1/financing-requests/{request_id}/lapse")
    assert early.status_code == 409 and early.json()["error"]["code"] == "FinancingQuoteLive"
    api.platform.increase_time(3601)
    api.ok("supplier1", f"/v1/financing-requests/{request_id}/lapse")  # anyone may
    mine = api.get("supplier2", "/v1/supplier/financing-requests").json()["data"]
    assert {r["request_id"]: r["status"] for r in mine}[request_id] == "Lapsed"
    assert api.get("supplier2", f"/v1/certificates/{token}").json()["locked"] is False


def test_operator_onboard_suspend_reinstate_parameters_pause(funded: Api) -> None:
    api = funded
    created = api.onboard("Changzhou Springs Co.", contact="cfo@springs.example")
    address, key = created["participant"]["address"], created["api_key"]
    me = api.client.get("/v1/me", headers={"X-API-Key": key}).json()
    assert me["address"] == address and me["roles"] == ["supplier"] and me["custody"] == "custodial"
    line = api.credit_line("bank1", "core1")
    slot, token = api.issue("core1", "supplier1", 10_000, line)
    api.ok("supplier1", f"/v1/certificates/{token}/transfer", {"to": address, "value": 4_000})

    suspended = api.ok("operator", f"/v1/operator/participants/{address}/suspend")
    assert suspended["status"] == "suspended"
    response = api.post("supplier1", f"/v1/certificates/{token}/transfer", {"to": address, "value": 1_000})
    assert response.status_code == 409 and response.json()["error"]["code"] == "RegistryParticipantSuspended"
    api.ok("operator", f"/v1/operator/participants/{address}/reinstate")
    api.ok("supplier1", f"/v1/certificates/{token}/transfer", {"to": address, "value": 1_000})

    listed = api.get("operator", "/v1/operator/participants", role="supplier", limit=2)
    assert listed.status_code == 200 and len(listed.json()["data"]) == 2 and listed.json()["count"] >= 5

    keys = api.get("operator", f"/v1/operator/participants/{address}/api-keys").json()
    revoked = api.client.delete(
        f"/v1/operator/participants/{address}/api-keys/{keys[0]['key_id']}", headers=api.headers("operator")
    )
    assert revoked.status_code == 200 and revoked.json()["revoked_at"]
    response = api.client.get("/v1/me", headers={"X-API-Key": key})
    assert response.status_code == 401 and response.json()["error"]["code"] == "revoked_api_key"

    proposed = api.client.put(
        "/v1/operator/parameters",
        headers=api.headers("operator"),
        json={"max_tenor_days": 90, "grace_period_days": 7, "min_unit": 100},
    )  # governance's power: a proposal, approved by a second governor, executed after the delay
    _govern(api, proposed.json()["result"]["proposal_id"])
    platform = api.get("operator", "/v1/operator/platform").json()
    assert platform["max_tenor_days"] == 90 and platform["min_unit"] == 100
    response = api.post("supplier1", f"/v1/certificates/{token}/transfer", {"to": address, "value": 150})
    assert response.status_code == 409 and response.json()["error"]["code"] == "CertificateInvalidAmount"
    proposed = api.client.put(
        "/v1/operator/parameters",
        headers=api.headers("operator"),
        json={"max_tenor_days": 180, "grace_period_days": 7, "min_unit": 1},
    )
    _govern(api, proposed.json()["result"]["proposal_id"])

    api.ok("operator", "/v1/operator/pause")
    response = api.post("supplier1", f"/v1/certificates/{token}/transfer", {"to": address, "value": 100})
    assert response.status_code == 409 and response.json()["error"]["code"] == "RegistryPlatformPaused"
    proposal_id = api.ok("operator", "/v1/operator/unpause")["result"]["proposal_id"]
    assert api.get("operator", "/v1/operator/platform").json()["paused"] is True  # not alone
    _govern(api, proposal_id)
    assert api.get("operator", "/v1/operator/platform").json()["paused"] is False


def _govern(api: Api, proposal_id: int) -> None:
    """A second governor (bank1) approves the operator's proposal; after the delay it is executed."""
    api.ok("bank1", f"/v1/governance/proposals/{proposal_id}/approve")
    api.platform.increase_time(61)
    api.ok("operator", f"/v1/governance/proposals/{proposal_id}/execute")


def test_auditor_reads_everything_and_exports(funded: Api) -> None:
    api = funded
    line = api.credit_line("bank2", "core1")
    slot, token = api.issue("core1", "supplier2", 70_000, line)
    api.ok(
        "supplier2", f"/v1/certificates/{token}/transfer", {"to": api.address("supplier3"), "value": 20_000}
    )
    tree = api.get("auditor", f"/v1/payables/{slot}/lineage").json()
    assert tree["count"] == 2
    positions = api.get("auditor", f"/v1/audit/positions/{api.address('supplier3')}").json()
    assert positions["holdings"]["count"] >= 1
    assert api.get("auditor", "/v1/audit/payables", obligor=api.address("core1")).json()["count"] >= 1
    assert api.get("auditor", "/v1/audit/certificates", slot_id=slot).json()["count"] == 2
    assert api.get("auditor", f"/v1/payables/{slot}/transfers").json()["count"] >= 2
    export = api.client.get("/v1/audit/export/certificates.csv", headers=api.headers("auditor"))
    assert export.status_code == 200 and export.headers["content-type"].startswith("text/csv")
    assert export.text.splitlines()[0].startswith("token_id,")
    assert api.get("auditor", "/v1/audit/participants").json()["count"] >= 10


def test_suspend_and_reinstate_survive_a_write_committed_while_the_chain_call_waits(
    funded: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The directory's status is written in a transaction begun after the chain call, not in the read
    one begun before it: on SQLite (WAL) a deferred transaction that read, then saw another connection
    commit (the indexer, every block), may not start writing (SQLITE_BUSY_SNAPSHOT, no busy wait), and
    the suspension answered 503 "database is locked" under load (the operator's browser story)."""
    api = funded
    created = api.onboard("Jiaxing Fasteners Co.", id_prefix="9133", contact="cfo@fasteners.example")
    address = created["participant"]["address"]
    gateway = api.ctx.gateway()
    send_direct = gateway.send_direct

    def send_then_another_commit(*args: Any, **kwargs: Any) -> Any:
        outcome = send_direct(*args, **kwargs)
        with api.ctx.engine.begin() as connection:  # another writer commits meanwhile (a real change)
            connection.execute(
                text("UPDATE participant_directory SET contact = :c WHERE address = :a"),
                {"c": f"treasury-{api.unique('')}@fasteners.example", "a": address},
            )
        return outcome

    monkeypatch.setattr(gateway, "send_direct", send_then_another_commit)
    assert api.ok("operator", f"/v1/operator/participants/{address}/suspend")["status"] == "suspended"
    assert api.ok("operator", f"/v1/operator/participants/{address}/reinstate")["status"] == "active"
