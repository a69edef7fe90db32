"""Governance through HTTP (issue 15): governors propose, approve, cancel and execute; auditors watch; a
company that is no governor, a governor alone and a proposal past its deadline are refused."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

from apikit import Api
from fastapi.testclient import TestClient

WINDOW = 7 * 86_400  # the demo council's proposal window [s]


def _proposal(api: Api, who: str, proposal_id: int) -> dict[str, Any]:
    response = api.get(who, f"/v1/governance/proposals/{proposal_id}")
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def test_governance_role_grant_needs_two_governors_and_the_delay(funded: Api) -> None:
    api = funded
    controller = api.address("bank2")
    body = api.ok("bank2", "/v1/governance/proposals/role", {
        "role": "controller", "account": controller, "grant": True, "description": "bank2 executes holds",
    })  # fmt: skip
    proposal_id = body["result"]["proposal_id"]
    seen = _proposal(api, "auditor", proposal_id)
    assert (seen["target"], seen["action"], seen["state"]) == ("ParticipantRegistry", "grantRole", "Pending")
    assert (seen["approved_by"], seen["threshold"], seen["args"]["account"]) == ([controller], 2, controller)
    response = api.post("bank2", f"/v1/governance/proposals/{proposal_id}/execute")
    assert response.status_code == 409 and response.json()["error"]["code"] == "CouncilWrongState"
    response = api.post("bank2", f"/v1/governance/proposals/{proposal_id}/approve")  # its own again
    assert response.status_code == 409 and response.json()["error"]["code"] == "CouncilAlreadyApproved"
    api.ok("operator", f"/v1/governance/proposals/{proposal_id}/approve")
    response = api.post("bank1", f"/v1/governance/proposals/{proposal_id}/execute")
    assert response.status_code == 409 and response.json()["error"]["code"] == "CouncilNotReady"
    api.platform.increase_time(61)
    api.ok("bank1", f"/v1/governance/proposals/{proposal_id}/execute")
    registry = api.platform.c.registry.functions
    assert registry.canControl(controller, False).call() is True
    seen = _proposal(api, "bank1", proposal_id)
    assert (seen["state"], seen["executed_by"], len(seen["approved_by"])) == (
        "Executed",
        api.address("bank1"),
        2,
    )
    listed = api.get("auditor", "/v1/governance/proposals").json()
    assert proposal_id in [p["proposal_id"] for p in listed]


def test_governance_refuses_companies_that_are_not_governors(funded: Api) -> None:
    api = funded
    for who in ("core1", "supplier1", "auditor"):
        response = api.post(who, "/v1/governance/proposals/quote-validity", {"hours": 48})
        assert response.status_code == 403, (who, response.text)
    assert api.get("supplier1", "/v1/governance/proposals").status_code == 403
    assert api.get("bank2", "/v1/governance/proposals").status_code == 200  # a governor reads them


def test_governance_proposal_that_would_fail_is_refused_up_front(funded: Api) -> None:
    api = funded
    assert api.platform.c.registry.functions.paused().call() is False
    response = api.post("bank1", "/v1/governance/proposals/unpause", {})
    assert response.status_code == 409 and response.json()["error"]["code"] == "ExpectedPause"
    response = api.post("bank1", "/v1/governance/proposals/quote-validity", {"hours": 169})
    assert response.status_code == 422


def test_governance_proposer_cancels_and_others_vote(funded: Api) -> None:
    api = funded
    first = api.ok("bank1", "/v1/governance/proposals/quote-validity", {"hours": 48})["result"]["proposal_id"]
    api.ok("bank1", f"/v1/governance/proposals/{first}/cancel")
    assert _proposal(api, "auditor", first)["state"] == "Cancelled"
    response = api.post("operator", f"/v1/governance/proposals/{first}/approve")
    assert response.status_code == 409 and response.json()["error"]["code"] == "CouncilWrongState"
    second = api.ok("bank1", "/v1/governance/proposals/quote-validity", {"hours": 72})["result"][
        "proposal_id"
    ]
    api.ok("operator", f"/v1/governance/proposals/{second}/cancel")
    assert (_proposal(api, "auditor", second)["state"], _proposal(api, "auditor", second)["cancels"]) == (
        "Pending",
        1,
    )
    api.ok("bank2", f"/v1/governance/proposals/{second}/cancel")
    assert _proposal(api, "auditor", second)["cancelled_by"] == api.address("bank2")


def test_governance_proposal_expires_after_its_window(funded: Api) -> None:
    api = funded
    proposal_id = api.ok("operator", "/v1/governance/proposals/quote-validity", {"hours": 48})["result"][
        "proposal_id"
    ]
    deadline = dt.datetime.fromisoformat(
        _proposal(api, "auditor", proposal_id)["deadline"].replace("Z", "+00:00")
    )
    assert deadline.timestamp() > api.platform.now()  # ISO 8601, like every time the API answers
    api.platform.increase_time(WINDOW + 1)
    assert _proposal(api, "auditor", proposal_id)["state"] == "Expired"
    response = api.post("bank1", f"/v1/governance/proposals/{proposal_id}/approve")
    assert response.status_code == 409 and response.json()["error"]["code"] == "CouncilProposalExpired"
    assert api.platform.c.registry.functions.quoteValidity().call() == 24 * 3600


def test_governance_votes_of_a_bank_follow_its_staff_rules(funded: Api) -> None:
    """A governor bank's people vote as its other writes go: a read-only key or a viewer cannot, and
    under a governance rule a maker's approval waits for a checker, who releases it with the bank's
    own key (the council checks the sender: never relayed)."""
    api = funded
    council = api.platform.c.council.functions
    bank = api.address("bank2")
    for name, roles, scopes in (
        ("Gao Maker", ["maker"], ["read", "write"]),
        ("Qian Checker", ["checker"], ["read", "write"]),
        ("Lu Readonly", ["maker"], ["read"]),
    ):
        login = f"{name.split()[0].lower()}.{api.unique('g')}@bank2.example".lower()
        user = api.ok("bank2", "/v1/company/users", {
            "login": login, "name": name, "roles": roles, "password": "correct horse battery",
        })  # fmt: skip
        key = api.ok("bank2", f"/v1/company/users/{user['user_id']}/api-keys", {"scopes": scopes, "days": 1})
        api.keys[name] = key["api_key"]
    proposal_id = api.ok("operator", "/v1/governance/proposals/quote-validity", {"hours": 36})["result"][
        "proposal_id"
    ]
    try:
        outsider = api.post("supplier1", f"/v1/governance/proposals/{proposal_id}/approve")
        assert outsider.status_code == 403 and outsider.json()["error"]["code"] == "not_a_governor"
        refused = api.post("Lu Readonly", f"/v1/governance/proposals/{proposal_id}/approve")
        assert refused.status_code == 403 and refused.json()["error"]["code"] == "read_only_key", refused.text
        assert council.hasApproved(proposal_id, bank).call() is False
        policy = api.client.put(
            "/v1/company/approval-policy", headers=api.headers("bank2"), json={"rules": {"governance": 0}}
        )
        assert policy.status_code == 200, policy.text
        pending = api.post("Gao Maker", f"/v1/governance/proposals/{proposal_id}/approve")
        assert pending.status_code == 202, pending.text
        approval = pending.json()["approval"]
        assert approval["call"] == "GovernanceCouncil.approve"
        assert council.hasApproved(proposal_id, bank).call() is False  # nothing sent before the checker
        # the checker's page says what the vote is about, in words, before releasing it
        page = TestClient(api.client.app)
        found = re.search(r'name="csrf_token" value="([0-9a-f]*)"', page.get("/dashboard/sign-in").text)
        assert found is not None
        page.post(
            "/dashboard/sign-in", data={"api_key": api.keys["Qian Checker"], "csrf_token": found.group(1)}
        )
        terms = page.get(f"/dashboard/team/approvals/{approval['approval_id']}").text
        assert 'data-testid="approval-described"' in terms and "at most 36 hours" in terms, terms[-3000:]
        path = f"/v1/company/approvals/{approval['approval_id']}/approve"
        released = api.post("Qian Checker", path, {"terms_hash": approval["terms_hash"]})
        assert released.status_code == 200, released.text
        assert council.hasApproved(proposal_id, bank).call() is True
        assert _proposal(api, "auditor", proposal_id)["state"] == "Scheduled"
    finally:
        api.client.put("/v1/company/approval-policy", headers=api.headers("bank2"), json={"rules": {}})
        api.ok("operator", f"/v1/governance/proposals/{proposal_id}/cancel")  # the proposer's: at once
