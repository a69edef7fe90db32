"""Every endpoint as every wrong role (403 wrong_role), without a key (401), and as a non-party (403)."""

from __future__ import annotations

from typing import Any

import pytest
from apikit import Api

ALL = ["operator", "core1", "supplier1", "bank1", "bank2", "auditor"]
ADDRESS = "0x90F79bf6EB2c4f870365E785982E1f101E93b906"
TRANSFER = {"to": ADDRESS, "value": 1}
TERMS = {"rate_bps": 100, "price": 1, "expiry": 1}  # what an acceptance names

# (method, path, body, who may call it)
ENDPOINTS: list[tuple[str, str, Any, set[str]]] = [
    (
        "POST",
        "/v1/operator/participants",
        {"legal_name": "x", "legal_id": "91310000X", "roles": ["supplier"]},
        {"operator"},
    ),
    ("GET", "/v1/operator/participants", None, {"operator"}),
    ("GET", f"/v1/operator/participants/{ADDRESS}", None, {"operator"}),
    ("POST", f"/v1/operator/participants/{ADDRESS}/suspend", None, {"operator"}),
    ("POST", f"/v1/operator/participants/{ADDRESS}/reinstate", None, {"operator"}),
    ("GET", f"/v1/operator/participants/{ADDRESS}/api-keys", None, {"operator"}),
    ("POST", f"/v1/operator/participants/{ADDRESS}/api-keys", None, {"operator"}),
    ("DELETE", f"/v1/operator/participants/{ADDRESS}/api-keys/abc", None, {"operator"}),
    ("GET", "/v1/operator/platform", None, {"operator"}),
    (
        "PUT",
        "/v1/operator/parameters",
        {"max_tenor_days": 180, "grace_period_days": 7, "min_unit": 1},
        {"operator"},
    ),
    ("POST", "/v1/operator/pause", None, {"operator"}),
    ("POST", "/v1/operator/unpause", None, {"operator"}),
    ("POST", "/v1/operator/payouts", {"token_ids": [1]}, {"operator"}),
    ("POST", "/v1/operator/payables/1/mark-defaulted", None, {"operator"}),
    ("GET", "/v1/financier/recourse-debts", None, {"bank1", "bank2"}),
    ("GET", "/v1/supplier/recourse-debts", None, {"supplier1"}),
    ("POST", "/v1/recourse-debts/collect", {"seller": ADDRESS}, {"supplier1", "bank1", "bank2"}),
    (
        "POST",
        "/v1/financier/credit-lines",
        {"obligor": ADDRESS, "limit": 1, "expiry": "2030-01-01"},
        {"bank1", "bank2"},
    ),
    ("POST", "/v1/financier/credit-lines/1/adjust", {"limit": 1, "expiry": "2030-01-01"}, {"bank1", "bank2"}),
    ("GET", "/v1/financier/credit-lines", None, {"bank1", "bank2"}),
    ("GET", "/v1/financier/requests", None, {"bank1", "bank2"}),
    ("GET", "/v1/financier/requests/1", None, {"bank1", "bank2"}),
    ("POST", "/v1/financier/requests/1/quote", {"rate_bps": 100}, {"bank1", "bank2"}),
    ("POST", "/v1/financier/requests/1/fund", None, {"bank1", "bank2"}),
    ("GET", f"/v1/financier/requests/fund-batch/{'0' * 64}", None, {"bank1", "bank2"}),
    ("POST", "/v1/financier/requests/1/decline", None, {"bank1", "bank2"}),
    ("POST", "/v1/financier/requests/1/recourse", None, {"bank1", "bank2"}),
    ("GET", "/v1/financier/portfolio", None, {"bank1", "bank2"}),
    ("POST", "/v1/settlement/mint", {"to": ADDRESS, "amount": 1}, {"bank1"}),
    (
        "POST",
        "/v1/core/certificates",
        {"supplier": ADDRESS, "face": 1, "maturity": "2030-01-01", "line_id": 1, "document_ids": ["x"]},
        {"core1"},
    ),
    ("POST", "/v1/core/payables/1/cancel", None, {"core1"}),
    ("POST", "/v1/core/payables/1/repay", {"amount": 1}, {"core1"}),
    ("GET", "/v1/core/payables", None, {"core1"}),
    ("GET", "/v1/core/credit-lines", None, {"core1"}),
    ("GET", "/v1/core/maturities", None, {"core1"}),
    ("GET", f"/v1/core/payables/batch/{'0' * 64}", None, {"core1"}),
    ("GET", "/v1/supplier/incoming", None, {"supplier1"}),
    ("POST", "/v1/supplier/payables/1/accept", None, {"supplier1"}),
    ("POST", "/v1/supplier/payables/1/reject", None, {"supplier1"}),
    ("GET", "/v1/supplier/holdings", None, {"supplier1"}),
    (
        "POST",
        "/v1/supplier/financing-requests",
        {"token_id": 1, "amount": 1, "financier": ADDRESS},
        {"supplier1"},
    ),
    ("GET", "/v1/supplier/financing-requests", None, {"supplier1"}),
    ("POST", "/v1/supplier/financing-requests/1/accept-quote", TERMS, {"supplier1"}),
    ("POST", "/v1/supplier/financing-requests/1/cancel", None, {"supplier1"}),
    ("POST", "/v1/certificates/1/transfer", TRANSFER, {"supplier1", "bank1", "bank2"}),
    ("POST", "/v1/certificates/1/claim", None, {"supplier1", "bank1", "bank2"}),
    ("POST", "/v1/payables/1/mark-defaulted", None, {"supplier1", "bank1", "bank2"}),
    (
        "POST",
        "/v1/settlement/approvals",
        {"spender": "Financing", "amount": 1},
        {"core1", "supplier1", "bank1", "bank2"},
    ),
    ("GET", "/v1/audit/participants", None, {"auditor", "operator"}),
    ("GET", "/v1/audit/payables", None, {"auditor", "operator"}),
    ("GET", "/v1/audit/certificates", None, {"auditor", "operator"}),
    ("GET", "/v1/audit/financing-requests", None, {"auditor", "operator"}),
    ("GET", f"/v1/audit/positions/{ADDRESS}", None, {"auditor", "operator"}),
    ("GET", "/v1/audit/export/payables.csv", None, {"auditor", "operator"}),
]


def _call(api: Api, method: str, path: str, body: Any, who: str | None) -> Any:
    return api.client.request(method, path, headers=api.headers(who), json=body)


@pytest.mark.parametrize(
    ("method", "path", "body", "allowed"), ENDPOINTS, ids=[f"{m} {p}" for m, p, _, _ in ENDPOINTS]
)
def test_endpoint_refuses_wrong_roles_and_anonymous(
    api: Api, method: str, path: str, body: Any, allowed: set[str]
) -> None:
    for who in ALL:
        if who in allowed:
            continue
        response = _call(api, method, path, body, who)
        assert response.status_code == 403, f"{who}: {response.status_code} {response.text}"
        assert response.json()["error"]["code"] == "wrong_role"
    response = _call(api, method, path, body, None)
    assert response.status_code == 401 and response.json()["error"]["code"] == "missing_api_key"
    response = api.client.request(method, path, headers={"X-API-Key": "tf_nope_nope"}, json=body)
    assert response.status_code == 401 and response.json()["error"]["code"] == "invalid_api_key"


def test_non_parties_are_refused(funded: Api) -> None:
    api = funded
    line = api.credit_line("bank1", "core1")
    slot, token = api.issue("core1", "supplier1", 50_000, line)
    documents = api.get("core1", f"/v1/payables/{slot}/documents").json()
    document_id = documents[0]["document_id"]
    request_id = api.ok("supplier1", "/v1/supplier/financing-requests", {
        "token_id": token, "amount": 20_000, "financier": api.address("bank1"), "with_recourse": False,
    })["result"]["request_id"]  # fmt: skip

    def refused(who: str, method: str, path: str, body: Any = None) -> None:
        response = _call(api, method, path, body, who)
        assert response.status_code == 403, f"{who} {method} {path}: {response.status_code} {response.text}"
        assert response.json()["error"]["code"] == "not_a_party", response.text

    # a supplier never sees another supplier's holdings, payables or documents
    refused("supplier2", "GET", f"/v1/certificates/{token}")
    refused("supplier2", "GET", f"/v1/certificates/{token}/lineage")
    refused("supplier2", "GET", f"/v1/payables/{slot}")
    refused("supplier2", "GET", f"/v1/payables/{slot}/lineage")
    refused("supplier2", "GET", f"/v1/payables/{slot}/documents")
    refused("supplier2", "GET", f"/v1/documents/{document_id}")
    refused("supplier2", "GET", f"/v1/documents/{document_id}/content")
    refused("supplier2", "POST", f"/v1/certificates/{token}/transfer", TRANSFER)
    refused("supplier2", "POST", f"/v1/certificates/{token}/claim")
    refused("supplier2", "POST", f"/v1/supplier/payables/{slot}/accept")
    refused("supplier2", "POST", f"/v1/supplier/financing-requests/{request_id}/cancel")
    refused("supplier2", "POST", f"/v1/supplier/financing-requests/{request_id}/accept-quote", TERMS)
    # even the holder sees only its path, not the whole tree
    refused("supplier1", "GET", f"/v1/payables/{slot}/lineage")
    # a bank sees only requests addressed to it
    refused("bank2", "GET", f"/v1/financier/requests/{request_id}")
    refused("bank2", "POST", f"/v1/financier/requests/{request_id}/quote", {"rate_bps": 100})
    refused("bank2", "POST", f"/v1/financier/requests/{request_id}/fund")
    refused("bank2", "POST", f"/v1/financier/requests/{request_id}/decline")
    refused("bank2", "GET", f"/v1/documents/{document_id}/content")
    refused(
        "bank2",
        "POST",
        f"/v1/financier/credit-lines/{line}/adjust",
        {"limit": 10**12, "expiry": api.today(300)},
    )
    assert request_id not in [
        r["request_id"] for r in api.get("bank2", "/v1/financier/requests").json()["data"]
    ]
    # another core enterprise cannot cancel or repay someone else's payable
    refused("core2", "POST", f"/v1/core/payables/{slot}/cancel")
    refused("core2", "POST", f"/v1/core/payables/{slot}/repay", {"amount": 1})
    refused("core2", "GET", f"/v1/payables/{slot}")
    # the parties can
    assert api.get("bank1", f"/v1/financier/requests/{request_id}").status_code == 200
    assert (
        api.client.get(f"/v1/documents/{document_id}/content", headers=api.headers("bank1")).status_code
        == 200
    )
    assert (
        api.client.get(f"/v1/documents/{document_id}/content", headers=api.headers("auditor")).status_code
        == 200
    )
    assert api.get("core1", f"/v1/payables/{slot}/lineage").status_code == 200
    assert api.get("supplier1", f"/v1/certificates/{token}/lineage").status_code == 200
    holdings = api.get("supplier2", "/v1/supplier/holdings").json()
    assert all(c["holder"] == api.address("supplier2") for c in holdings["data"])
