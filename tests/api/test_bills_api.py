"""Bill workflows end to end through HTTP against anvil + the indexer (SQLite and PostgreSQL)."""

from __future__ import annotations

import csv
import io
from typing import Any

from apikit import Api

DAY = 86_400


def bill_invoice(api: Api, drawer: str, payee: str, number: str | None = None) -> str:
    response = api.client.post(
        "/v1/bills/documents",
        headers=api.headers(drawer),
        files={"file": ("invoice.pdf", b"%PDF bill invoice", "application/pdf")},
        data={
            "seller": api.address(payee),
            "kind": "invoice",
            "invoice_number": number or api.invoice_number(),
        },
    )
    assert response.status_code == 200, response.text
    return str(response.json()["document_id"])


def issue_bill(
    api: Api, *, drawer: str = "core1", acceptor: str = "core1", payee: str = "supplier1",
    face: int = 1_000_000, days: int = 30, doc: str | None = None, **flags: Any,
) -> int:  # fmt: skip
    body = api.ok(
        drawer,
        "/v1/bills",
        {
            "acceptor": api.address(acceptor),
            "payee": api.address(payee),
            "face": face,
            "maturity": api.today(days),
            "document_ids": [doc or bill_invoice(api, drawer, payee)],
            **flags,
        },
    )
    return int(body["result"]["package_id"])


def live_bill(api: Api, **kwargs: Any) -> tuple[int, int]:
    """Issued, accepted and received: (package id, root range id)."""
    package_id = issue_bill(api, **kwargs)
    api.ok(kwargs.get("acceptor", "core1"), f"/v1/bills/{package_id}/accept")
    body = api.ok(kwargs.get("payee", "supplier1"), f"/v1/bills/{package_id}/receive")
    return package_id, int(body["result"]["range_id"])


def ranges(api: Api, who: str, package_id: int) -> list[tuple[int, int, str, str]]:
    detail = api.get(who, f"/v1/bills/{package_id}").json()
    return [(r["start"], r["end"], r["holder"], r["status"]) for r in detail["ranges"]]


def test_bill_issue_endorse_discount_pledge_pay_dishonour_recourse(funded: Api) -> None:
    api = funded
    a = api.address
    package_id = issue_bill(api)
    assert api.get("core1", f"/v1/bills/{package_id}").json()["package"]["status"] == "Issued"
    api.ok("core1", f"/v1/bills/{package_id}/accept")
    root = int(api.ok("supplier1", f"/v1/bills/{package_id}/receive")["result"]["range_id"])

    # supplier1 endorses sub-tickets 1 … 600,000 to supplier2, who passes 400,001 … 600,000 on
    body = api.ok(
        "supplier1", f"/v1/bills/ranges/{root}/endorse", {"to": a("supplier2"), "start": 1, "end": 600_000}
    )
    tier2 = int(body["result"]["new_range_id"])
    body = api.ok(
        "supplier2",
        f"/v1/bills/ranges/{tier2}/endorse",
        {"to": a("supplier3"), "start": 400_001, "end": 600_000},
    )
    tier3 = int(body["result"]["new_range_id"])
    assert ranges(api, "core1", package_id) == [
        (1, 400_000, a("supplier2"), "Held"),
        (400_001, 600_000, a("supplier3"), "Held"),
        (600_001, 1_000_000, a("supplier1"), "Held"),
    ]
    chain = api.get("supplier3", f"/v1/bills/ranges/{tier3}/chain").json()
    assert [link["holder"] for link in chain["chain"]] == [a("supplier3"), a("supplier2"), a("supplier1")]
    assert chain["endorsers"] == [a("supplier2"), a("supplier1")]
    held = api.get("supplier3", "/v1/bills/holdings").json()["data"]
    assert [(r["range_id"], r["amount"]) for r in held if r["package_id"] == package_id] == [(tier3, 200_000)]
    assert package_id in [
        p["package_id"] for p in api.get("supplier3", "/v1/bills", role="holder").json()["data"]
    ]

    # supplier2 asks bank2 to discount 1 … 100,000; the bank quotes from its queue; DvP on acceptance
    request = api.client.post(
        f"/v1/bills/ranges/{tier2}/discount-requests",
        headers=api.headers("supplier2"),
        json={"financier": a("bank2"), "start": 1, "end": 100_000},
    )
    assert request.status_code == 200, request.text
    request_id = request.json()["request_id"]
    queue = api.get("bank2", "/v1/bills/discount-queue", status="open").json()["data"]
    assert request_id in [r["request_id"] for r in queue]
    # a bank asked to discount reads the chain and finds the bill in its list
    assert api.get("bank2", f"/v1/bills/ranges/{tier2}/chain").status_code == 200
    assert package_id in [p["package_id"] for p in api.get("bank2", "/v1/bills").json()["data"]]
    quoted = api.ok(
        "bank2", f"/v1/bills/discount-requests/{request_id}/quote", {"rate_bps": 360, "valid_hours": 24}
    )
    quote_id = int(quoted["result"]["quote_id"])
    body = api.ok("supplier2", f"/v1/bills/quotes/{quote_id}/accept")
    interest, price = int(body["result"]["interest"]), int(body["result"]["price"])
    assert interest + price == 100_000 and 0 < interest <= 100_000 * 360 * 31 // 3_600_000 + 1
    bank_range = int(body["result"]["new_range_id"])
    mine = api.get("supplier2", "/v1/bills/discount-requests").json()["data"]
    assert {r["request_id"]: r["status"] for r in mine}[request_id] == "discounted"

    # rediscount (转贴现): bank2 sells 1 … 50,000 of its range on to bank1
    body = api.client.post(
        f"/v1/bills/ranges/{bank_range}/discount-requests",
        headers=api.headers("bank2"),
        json={"financier": a("bank1"), "start": 1, "end": 50_000},
    )
    assert body.status_code == 200, body.text
    quoted = api.ok(
        "bank1", f"/v1/bills/discount-requests/{body.json()['request_id']}/quote", {"rate_bps": 300}
    )
    body = api.ok("bank2", f"/v1/bills/quotes/{quoted['result']['quote_id']}/accept")
    assert next(e for e in body["events"] if e["event"] == "BillDiscounted")["args"]["rediscount"] is True

    # supplier1 pledges 600,001 … 700,000 to bank1, which releases it
    body = api.ok(
        "supplier1",
        f"/v1/bills/ranges/{root}/pledge",
        {"pledgee": a("bank1"), "start": 600_001, "end": 700_000},
    )
    pledged = int(body["result"]["pledged_range_id"])
    live = {r["range_id"]: r for r in api.get("core1", f"/v1/bills/{package_id}").json()["ranges"]}
    assert (live[pledged]["status"], live[pledged]["pledgee"]) == ("Pledged", a("bank1"))
    api.ok("bank1", f"/v1/bills/ranges/{pledged}/release")

    # at maturity: bank2 presents and is paid; supplier3 presents and is dishonoured, then takes recourse
    api.platform.increase_time(31 * DAY)
    api.ok("bank2", f"/v1/bills/ranges/{bank_range}/present")
    paid = api.ok("core1", f"/v1/bills/ranges/{bank_range}/pay")
    assert paid["result"]["amount"] == 50_000  # bank2 kept 50,001 … 100,000 after the rediscount
    api.ok("supplier3", f"/v1/bills/ranges/{tier3}/present")
    api.ok("core1", f"/v1/bills/ranges/{tier3}/dishonour", {"reason": 3})
    api.ok("supplier3", f"/v1/bills/ranges/{tier3}/recourse", {"obligor": a("supplier2")})
    body = api.ok("supplier2", f"/v1/bills/ranges/{tier3}/settle-recourse")
    back = int(body["result"]["new_range_id"])
    assert body["result"]["amount"] == 200_000
    # supplier1's remainder: presented, unanswered; dishonour is recorded only after the grace period
    api.ok("supplier1", f"/v1/bills/ranges/{root}/present")
    response = api.post("supplier1", f"/v1/bills/ranges/{root}/dishonour-unanswered")
    assert response.status_code == 409 and response.json()["error"]["code"] == "BillResponsePending"
    assert "counts as dishonoured from" in response.json()["error"]["message"]
    grace = int(api.platform.c.registry.functions.parameters().call()[1])
    api.platform.increase_time(grace + 1)
    api.ok("supplier1", f"/v1/bills/ranges/{root}/dishonour-unanswered")
    detail = api.get("auditor", f"/v1/bills/{package_id}").json()
    statuses = {r["range_id"]: (r["holder"], r["status"]) for r in detail["ranges"]}
    assert statuses[bank_range] == (a("bank2"), "Paid")
    assert statuses[back] == (a("supplier2"), "Dishonoured")
    assert statuses[root] == (a("supplier1"), "Dishonoured")
    assert sum(r["amount"] for r in detail["ranges"]) == 1_000_000
    kinds = [m["kind"] for m in detail["history"]]
    assert "recourse_settled" in kinds and "discounted" in kinds

    # the auditor exports packages and every range record
    export = api.client.get("/v1/bills/export/ranges.csv", headers=api.headers("auditor"))
    assert export.status_code == 200 and export.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(export.text)))
    assert {int(r["range_id"]) for r in rows} >= {root, tier2, tier3, bank_range, back}
    assert all(r["amount_yuan"] == f"{int(r['amount']) // 100}.{int(r['amount']) % 100:02d}" for r in rows)
    zh = api.client.get(
        "/v1/bills/export/ranges.csv", headers=api.headers("auditor", **{"Accept-Language": "zh-CN"})
    )
    assert zh.text.splitlines()[0].startswith(
        "子票区间编号,票据编号,持有人,首张子票,末张子票,金额（分）,金额（元）,状态"
    )
    assert zh.text.splitlines()[1:] == export.text.splitlines()[1:]  # only the header changes
    packages = api.client.get("/v1/bills/export/packages.csv", headers=api.headers("auditor"))
    assert packages.text.splitlines()[0].startswith(
        "package_id,drawer,acceptor,payee,face,face_yuan,maturity,"
    )
    assert api.client.get("/v1/bills/export/packages.csv", headers=api.headers("auditor")).status_code == 200


def test_bill_cancel_refuse_reject_release_the_invoice(funded: Api) -> None:
    api = funded
    doc = bill_invoice(api, "core1", "supplier1", number=api.invoice_number())
    package_id = issue_bill(api, doc=doc)
    api.ok("core1", f"/v1/bills/{package_id}/cancel")
    assert api.get("core1", f"/v1/bills/{package_id}").json()["package"]["status"] == "Cancelled"
    package_id = issue_bill(api, doc=doc)  # released: the same invoice backs a new bill
    api.ok("core1", f"/v1/bills/{package_id}/refuse")
    package_id = issue_bill(api, doc=doc)
    api.ok("core1", f"/v1/bills/{package_id}/accept")
    api.ok("supplier1", f"/v1/bills/{package_id}/reject")
    assert api.get("supplier1", f"/v1/bills/{package_id}").json()["package"]["status"] == "Rejected"

    # one invoice, one asset across instruments: once the payee receives a bill on the invoice, it
    # backs that bill, so a certificate on it is refused
    package_id = issue_bill(api, doc=doc)
    api.ok("core1", f"/v1/bills/{package_id}/accept")
    api.ok("supplier1", f"/v1/bills/{package_id}/receive")
    line = api.credit_line("bank1", "core1")
    same = api.invoice("core1", "supplier1", number=api.client.get(
        f"/v1/documents/{doc}", headers=api.headers("core1")).json()["invoice_number"])  # fmt: skip
    response = api.post(
        "core1",
        "/v1/core/certificates",
        {"supplier": api.address("supplier1"), "face": 1000, "maturity": api.today(30), "line_id": line,
         "document_ids": [same]},
    )  # fmt: skip
    assert response.status_code == 409, response.text
    assert response.json()["error"]["code"] == "DocumentAlreadyUsed"


def test_bill_authorization(funded: Api) -> None:
    api = funded
    package_id, root = live_bill(api)
    to_supplier2 = {"to": api.address("supplier2")}
    checks: list[tuple[str | None, str, str, Any, int, str]] = [
        ("auditor", "POST", "/v1/bills", {}, 403, "wrong_role"),
        ("bank1", "POST", "/v1/bills/documents", None, 403, "wrong_role"),
        ("supplier1", "POST", f"/v1/bills/ranges/{root}/release", None, 403, "wrong_role"),
        ("supplier1", "GET", "/v1/bills/discount-queue", None, 403, "wrong_role"),
        ("supplier1", "GET", "/v1/bills/export/ranges.csv", None, 403, "wrong_role"),
        ("auditor", "POST", f"/v1/bills/ranges/{root}/present", None, 403, "wrong_role"),
        (None, "GET", f"/v1/bills/{package_id}", None, 401, "missing_api_key"),
        ("supplier4", "GET", f"/v1/bills/{package_id}", None, 403, "not_a_party"),
        ("supplier4", "GET", f"/v1/bills/ranges/{root}/chain", None, 403, "not_a_party"),
        ("supplier4", "POST", f"/v1/bills/ranges/{root}/endorse", to_supplier2, 403, "not_a_party"),
        ("core2", "POST", f"/v1/bills/{package_id}/cancel", None, 403, "not_a_party"),
        ("core2", "POST", f"/v1/bills/ranges/{root}/pay", None, 403, "not_a_party"),
        ("bank1", "POST", f"/v1/bills/ranges/{root}/release", None, 403, "not_a_party"),
    ]  # fmt: skip
    for who, method, path, body, status, code in checks:
        headers = api.headers(who)
        response = api.client.request(method, path, headers=headers, json=body)
        assert response.status_code == status, (who, method, path, response.text)
        assert response.json()["error"]["code"] == code, (who, path, response.text)
    response = api.post(
        "supplier1", f"/v1/bills/ranges/{root}/discount-requests", {"financier": api.address("core2")}
    )
    assert response.status_code == 422 and response.json()["error"]["code"] == "not_a_financier"
    # a bank can quote only requests addressed to it
    request = api.client.post(
        f"/v1/bills/ranges/{root}/discount-requests",
        headers=api.headers("supplier1"),
        json={"financier": api.address("bank2")},
    ).json()
    response = api.post(
        "bank1", f"/v1/bills/discount-requests/{request['request_id']}/quote", {"rate_bps": 300}
    )
    assert response.status_code == 403 and response.json()["error"]["code"] == "not_a_party"
    assert package_id not in [p["package_id"] for p in api.get("supplier4", "/v1/bills").json()["data"]]
    assert package_id in [p["package_id"] for p in api.get("auditor", "/v1/bills", limit=1000).json()["data"]]


def test_bill_errors_map_to_409_with_what_to_do(funded: Api) -> None:
    api = funded
    _, root = live_bill(api, not_transferable=True)
    response = api.post("supplier1", f"/v1/bills/ranges/{root}/endorse", {"to": api.address("supplier2")})
    assert response.status_code == 409, response.text
    error = response.json()["error"]
    assert error["code"] == "BillNotTransferable"
    assert "不得转让" in error["message"] and "presented for payment" in error["message"]

    _, root = live_bill(api, splittable=False)
    response = api.post(
        "supplier1",
        f"/v1/bills/ranges/{root}/endorse",
        {"to": api.address("supplier2"), "start": 1, "end": 100},
    )
    assert response.status_code == 409 and response.json()["error"]["code"] == "BillNotSplittable"
    assert "whole range" in response.json()["error"]["message"]
    response = api.post("supplier1", f"/v1/bills/ranges/{root}/present")
    assert response.status_code == 409 and response.json()["error"]["code"] == "BillNotMatured"
    response = api.post(
        "supplier1",
        f"/v1/bills/ranges/{root}/endorse",
        {"to": api.address("supplier2"), "start": 5, "end": 10**9},
    )
    assert response.status_code == 422 and response.json()["error"]["code"] == "invalid_sub_range"

    # idempotency: the same key replays the first answer, nothing is sent twice
    first = api.post(
        "supplier1", f"/v1/bills/ranges/{root}/endorse", {"to": api.address("supplier2")}, key="bill-e1"
    )
    again = api.post(
        "supplier1", f"/v1/bills/ranges/{root}/endorse", {"to": api.address("supplier2")}, key="bill-e1"
    )
    assert first.status_code == 200 and again.json() == first.json()
    assert again.headers["Idempotent-Replayed"] == "true"
    # the whole range moved: the record is Closed, and the message names the status
    response = api.post("supplier1", f"/v1/bills/ranges/{root}/endorse", {"to": api.address("supplier3")})
    assert response.status_code == 409 and response.json()["error"]["code"] == "BillWrongRangeStatus"
    assert "is Closed" in response.json()["error"]["message"]


def self_custody_supplier(api: Api, index: int, name: str) -> tuple[Any, dict[str, str]]:
    """Onboard a self-custody supplier on extra account `index` (one test each: registration is one-time)."""
    account = api.platform.extra_account(index)
    onboarded = api.post("operator", "/v1/operator/participants", {
        "legal_name": name, "legal_id": api.unique("9133"), "roles": ["supplier"],
        "custody": "self", "address": account.address,
    })  # fmt: skip
    assert onboarded.status_code == 200, onboarded.text
    return account, {"X-API-Key": onboarded.json()["api_key"]}


def self_custody_bill(
    api: Api, headers: dict[str, str], content: bytes
) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
    """A self-custody drawer uploads an invoice of supplier1 and has a bill on it to core1 prepared: the
    upload, the issue body and the typed forward request it is to sign."""
    uploaded = api.client.post(
        "/v1/bills/documents",
        headers=headers,
        files={"file": ("invoice.pdf", content, "application/pdf")},
        data={"seller": api.address("supplier1"), "kind": "invoice", "invoice_number": api.invoice_number()},
    )
    assert uploaded.status_code == 200, uploaded.text
    issue = {"acceptor": api.address("core1"), "payee": api.address("supplier1"), "face": 1_000,
             "maturity": api.today(30), "document_ids": [uploaded.json()["document_id"]]}  # fmt: skip
    prepared = api.client.post("/v1/bills", headers=headers, json=issue)
    assert prepared.status_code == 202, prepared.text
    return uploaded.json(), issue, prepared.json()["forward_request"]


def test_bill_self_custody_payee_signs_receipt_through_the_relay(funded: Api) -> None:
    from eth_account import Account

    api = funded
    account, headers = self_custody_supplier(api, 37, "Self Custody Bills Co.")
    package_id = issue_bill(api, payee=account.address)
    api.ok("core1", f"/v1/bills/{package_id}/accept")
    prepared = api.client.post(f"/v1/bills/{package_id}/receive", headers=headers)
    assert prepared.status_code == 202 and prepared.json()["status"] == "signature_required", prepared.text
    typed = prepared.json()["forward_request"]
    signature = Account.sign_typed_data(account.key, full_message=typed).signature
    relayed = api.client.post(
        "/v1/relay",
        headers=headers,
        json={"request": typed["message"], "signature": "0x" + bytes(signature).hex()},
    )
    assert relayed.status_code == 200 and relayed.json()["indexed"], relayed.text
    held = api.client.get("/v1/bills/holdings", headers=headers).json()["data"]
    assert [(r["package_id"], r["amount"]) for r in held] == [(package_id, 1_000_000)]


def test_invoice_key_forgery_self_custody_relay_refuses_underived_hash(funded: Api) -> None:
    """The attack of issue 12: a self-custody drawer signs its own forward request, so it could put any
    hash in Bills.issue — one it computed, or one copied from another participant's upload. The relay
    proposes only keys the platform derived from the drawer's own upload naming the payee."""
    import os

    from eth_account import Account

    api = funded
    account, headers = self_custody_supplier(api, 39, "Self Custody Drawer Co.")
    own, _, typed = self_custody_bill(api, headers, b"%PDF drawer invoice")
    others = api.client.get(
        f"/v1/documents/{bill_invoice(api, 'core1', 'supplier1')}", headers=api.headers("core1")
    ).json()["doc_hash"]

    def relay(doc_hash: str) -> Any:
        data = typed["message"]["data"].replace(own["doc_hash"][2:], doc_hash)
        message = {**typed["message"], "data": data}
        signature = Account.sign_typed_data(account.key, full_message={**typed, "message": message}).signature
        body = {"request": message, "signature": "0x" + bytes(signature).hex()}
        return api.client.post("/v1/relay", headers=headers, json=body)

    for forged in (os.urandom(32).hex(), others[2:]):  # a computed hash; another drawer's invoice key
        response = relay(forged)
        assert response.status_code == 403, response.text
        assert response.json()["error"]["code"] == "invoice_not_derived"
    relayed = relay(own["doc_hash"][2:])  # the platform-derived key of its own upload relays
    assert relayed.status_code == 200, relayed.text


def test_self_custody_drawer_cannot_relay_a_second_bill_on_an_invoice_its_first_awaits(funded: Api) -> None:
    """One invoice, one asset awaiting consent, for an issuer that signs its own requests too: the
    platform refuses to prepare a second bill on the invoice while the first awaits, so the drawer
    signs the second request itself (the next forwarder nonce) and relays it. The relay refuses it,
    409 naming the first bill, nothing sent; before, it went on chain (Bills binds invoices only at the
    payee's receipt) and both bills awaited on one sale."""
    from eth_account import Account

    api = funded
    account, headers = self_custody_supplier(api, 41, "Self Custody Twice Co.")
    _, issue, typed = self_custody_bill(api, headers, b"%PDF drawer invoice, sold once")

    def relay(message: dict[str, Any]) -> Any:
        signature = Account.sign_typed_data(account.key, full_message={**typed, "message": message}).signature
        body = {"request": message, "signature": "0x" + bytes(signature).hex()}
        return api.client.post("/v1/relay", headers=headers, json=body)

    first = relay(typed["message"])
    assert first.status_code == 200 and first.json()["indexed"], first.text
    package = api.client.get("/v1/bills", headers=headers).json()["data"][0]["package_id"]
    again = api.client.post("/v1/bills", headers=headers, json=issue)
    assert again.status_code == 409 and again.json()["error"]["code"] == "invoice_awaiting_acceptance"
    block = api.platform.w3.eth.block_number
    second = relay({**typed["message"], "nonce": int(typed["message"]["nonce"]) + 1})
    assert second.status_code == 409, second.text
    assert second.json()["error"]["code"] == "invoice_awaiting_acceptance"
    assert second.json()["error"]["details"]["package_id"] == package
    assert f"B{package}" in second.json()["error"]["message"]
    assert api.platform.w3.eth.block_number == block  # nothing sent


def test_bill_pledgee_finds_the_pledged_bill_in_its_list(funded: Api) -> None:
    # The pledgee may open the bill (it is a party: services/access.py); its list said otherwise before
    # the list and the detail asked the same access decision.
    api = funded
    package_id, root = live_bill(api)
    api.ok("supplier1", f"/v1/bills/ranges/{root}/pledge", {"pledgee": api.address("bank2")})
    assert api.get("bank2", f"/v1/bills/{package_id}").status_code == 200
    listed = api.get("bank2", "/v1/bills", limit=500).json()["data"]
    assert package_id in [p["package_id"] for p in listed]


def test_invoice_awaiting_a_bill_or_a_payable_of_its_issuer_backs_no_second_asset(funded: Api) -> None:
    """One invoice, one asset awaiting its seller's consent, across bills and payables: while a bill of
    the drawer awaits its acceptor or its payee's receipt, the drawer cannot propose the invoice again on
    a payable or a second bill (each would draw credit, only one could ever bind), and while a payable
    awaits its supplier, no bill on it either: 409 naming the asset, nothing sent. Another issuer's
    proposal blocks nobody; a withdrawn, refused or rejected bill frees the invoice."""
    api = funded
    number = api.invoice_number()
    doc = bill_invoice(api, "core1", "supplier1", number)
    line = api.credit_line("bank1", "core1")
    payable = {
        "supplier": api.address("supplier1"), "face": 20_000, "maturity": api.today(60), "line_id": line,
        "document_ids": [api.invoice("core1", "supplier1", number)],
    }  # fmt: skip
    bill = {
        "acceptor": api.address("core1"), "payee": api.address("supplier1"), "face": 1_000_000,
        "maturity": api.today(30), "document_ids": [doc],
    }  # fmt: skip

    def refused(path: str, body: dict[str, Any], **headers: str) -> dict[str, Any]:
        block = api.platform.w3.eth.block_number
        response = api.client.post(path, headers={**api.headers("core1"), **headers}, json=body)
        assert response.status_code == 409, response.text
        assert api.platform.w3.eth.block_number == block  # nothing sent
        error: dict[str, Any] = response.json()["error"]
        assert error["code"] == "invoice_awaiting_acceptance", error
        return error

    package = issue_bill(api, doc=doc)
    for state in ("Issued", "Accepted"):
        # payable after bill, bill after bill: the bill awaiting is named, with what to do
        error = refused("/v1/core/certificates", payable)
        assert f"already backs bill B{package}" in error["message"] and "Withdraw" in error["message"]
        assert error["details"] == {"document_id": payable["document_ids"][0], "package_id": package}
        error = refused("/v1/bills", bill)
        assert error["details"]["package_id"] == package, (state, error)
        if state == "Issued":
            zh = refused("/v1/bills", bill, **{"Accept-Language": "zh-CN"})
            assert f"已用于票据 B{package}" in zh["message"] and "撤回" in zh["message"], zh
            api.ok("core1", f"/v1/bills/{package}/accept")
    # another issuer's proposal of the invoice blocks nobody: the seller's consent decides on chain
    other = issue_bill(
        api, drawer="core2", acceptor="core2", doc=bill_invoice(api, "core2", "supplier1", number)
    )
    api.ok("core2", f"/v1/bills/{other}/cancel")
    # rejected by the payee, the invoice is free: a second bill on it goes out, then is refused by its
    # acceptor (free again), a third is withdrawn by its drawer (free again)
    api.ok("supplier1", f"/v1/bills/{package}/reject")
    second = issue_bill(api, doc=doc)
    api.ok("core1", f"/v1/bills/{second}/refuse")
    third = issue_bill(api, doc=doc)
    api.ok("core1", f"/v1/bills/{third}/cancel")
    # bill after payable: the payable awaiting its supplier is named
    slot = api.ok("core1", "/v1/core/certificates", payable)["result"]["slot_id"]
    error = refused("/v1/bills", bill)
    assert f"already backs payable P{slot}" in error["message"] and error["details"]["slot_id"] == slot
    api.ok("core1", f"/v1/core/payables/{slot}/cancel")
    fourth = issue_bill(api, doc=doc)  # free again
    api.ok("core1", f"/v1/bills/{fourth}/cancel")


def test_bank_discount_queue_page_reads_its_packages_ranges_and_quotes_once_not_per_request(
    funded: Api,
) -> None:
    """A page of a bank's bill discount queue reads the packages, ranges and quotes it shows in one
    statement each: one by one they were three statements a request (125 for a page of 50). The page
    shows the same requests with the same packages, ranges and quotes either way."""
    from sqlalchemy import event

    api = funded
    for _ in range(3):
        _, root = live_bill(api, payee="supplier2")
        api.ok("supplier2", f"/v1/bills/ranges/{root}/discount-requests", {"financier": api.address("bank2")})
    quoted = api.get("bank2", "/v1/bills/discount-queue", status="open").json()["data"][-1]["request_id"]
    api.ok("bank2", f"/v1/bills/discount-requests/{quoted}/quote", {"rate_bps": 360, "valid_hours": 24})
    reads: list[str] = []

    def statement(_conn: Any, _cursor: Any, sql: str, *_: Any) -> None:
        reads.append(sql)

    def page(limit: int) -> tuple[list[dict[str, Any]], int]:
        reads.clear()
        event.listen(api.ctx.engine, "before_cursor_execute", statement)
        try:
            data = api.get("bank2", "/v1/bills/discount-queue", limit=limit).json()["data"]
        finally:
            event.remove(api.ctx.engine, "before_cursor_execute", statement)
        return data, len(reads)

    one, one_reads = page(1)
    every, every_reads = page(500)
    assert len(every) >= 3 and every[0] == one[0]
    # the same statements whatever the page's size (one more when only the longer page holds a quote)
    assert every_reads <= one_reads + 1, (one_reads, every_reads)
    shown = {row["request_id"]: row for row in every}
    assert shown[quoted]["quote"] is not None and shown[quoted]["quote"]["rate_bps"] == 360
    assert all(row["maturity"] and row["acceptor"] and row["range_status"] != "unknown" for row in every)
