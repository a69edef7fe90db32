"""The operator's parameters without curl: the quote-validity cap, and a bank quoting with a validity it
chooses under that cap, over HTTP against the real chain."""

from __future__ import annotations

import re

import httpx
from dashkit import Live, client_of, dashboard_sign_in, flash_of
from sqlmodel import Session, select

from tierflow.platform.models.service import DirectoryParticipant
from tierflow.platform.models.staff import StaffUser


def test_operator_sets_quote_validity_and_bank_quotes_with_a_chosen_validity(
    live: Live, line_core1: int
) -> None:
    operator, bank, auditor = (client_of(live, who) for who in ("operator", "bank1", "auditor"))
    registry = live.platform.c.registry.functions
    try:
        html = operator.post("/dashboard/operator/quote-validity", data={"quote_hours": "72"}).text
        assert flash_of(html).startswith("ok: Proposed to the governors"), flash_of(html)
        assert registry.quoteValidity().call() == 24 * 3600  # governance's: not by the operator alone
        html = _approved_and_executed(live, operator, html)
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
        html = operator.post("/dashboard/operator/quote-validity", data={"quote_hours": "24"}).text
        _approved_and_executed(live, operator, html)
        for client in (operator, bank, auditor):
            client.close()


def _approved_and_executed(live: Live, operator: httpx.Client, html: str) -> str:
    """The operator proposed (the flash names the proposal): bank1, a second governor, approves over the
    API; after the delay the operator executes it from its console. The page after execution."""
    found = re.search(r"as proposal (\d+)", flash_of(html))
    assert found is not None, flash_of(html)
    proposal_id = int(found.group(1))
    live.api("bank1", f"/v1/governance/proposals/{proposal_id}/approve")
    live.platform.increase_time(61)
    page = operator.get("/dashboard/operator").text
    assert f'data-testid="proposal-{proposal_id}"' in page and "/dashboard/operator/execute" in page
    done = operator.post(
        "/dashboard/operator/execute", data={"proposal_id": str(proposal_id), "confirmed": "yes"}
    ).text
    assert flash_of(done) == f"ok: Proposal {proposal_id} executed.", flash_of(done)
    return done


def test_operator_onboards_a_participant_with_its_first_admin(live: Live) -> None:
    operator = client_of(live, "operator")
    login = f"cfo{live.unique()[-6:]}@lishui-valves.example"
    form = {
        "legal_name": "Lishui Valves Co.", "legal_id": "91331100MA2EXAMPLE",
        "contact": "finance@lishui.example", "roles": ["2"], "admin_name": "Chen Jing", "admin_login": login,
    }  # fmt: skip
    try:
        html = operator.post("/dashboard/operator/onboard", data=form).text
        message = flash_of(html)
        assert message.startswith("ok: Onboarded Lishui Valves Co.") and "first admin: Chen Jing" in message
        key = re.search(r"API key \(shown once\): (tf_\S+)", message)
        assert key is not None
        with Session(live.ctx.engine) as db:
            admin = db.exec(select(StaffUser).where(StaffUser.login == login)).one()
            assert admin.name == "Chen Jing" and "admin" in admin.roles
        # The first admin signs in with the key: the page names them.
        company = httpx.Client(base_url=live.url, timeout=60, follow_redirects=True)
        try:
            assert "Chen Jing" in dashboard_sign_in(company, key.group(1)).text
        finally:
            company.close()

        # Suspend and reinstate each show a page first: nothing reaches the chain before Confirm.
        with Session(live.ctx.engine) as db:
            onboarded = db.exec(
                select(DirectoryParticipant).where(DirectoryParticipant.legal_name == "Lishui Valves Co.")
            ).one()
        address, registry = onboarded.address, live.platform.c.registry.functions
        active, suspended = 1, 2  # IParticipantRegistry.Status
        for verb, before, after, said in (
            ("suspend", active, suspended, "suspended"),
            ("reinstate", suspended, active, "reinstated"),
        ):
            page = operator.post(f"/dashboard/operator/{verb}", data={"address": address}).text
            assert 'data-testid="confirm"' in page and "Lishui Valves Co." in page, verb
            assert 'name="confirmed" value="yes"' in page
            assert registry.participant(address).call()[1] == before, verb
            done = operator.post(f"/dashboard/operator/{verb}", data={"address": address, "confirmed": "yes"})
            assert flash_of(done.text).startswith(f"ok: Lishui Valves Co. {said}"), flash_of(done.text)
            assert registry.participant(address).call()[1] == after, verb
        again = operator.post("/dashboard/operator/reinstate", data={"address": address}).text
        assert flash_of(again) == "error: Lishui Valves Co. is not suspended."  # nothing to confirm

        # The same login again is refused before anything goes on chain: no second registration.
        again = dict(form, legal_name="Lishui Valves Two", legal_id="91331100MA2EXAMPL2")
        refused = flash_of(operator.post("/dashboard/operator/onboard", data=again).text)
        assert refused.startswith("error:") and "is taken" in refused
        with Session(live.ctx.engine) as db:
            assert (
                db.exec(
                    select(DirectoryParticipant).where(DirectoryParticipant.legal_name == "Lishui Valves Two")
                ).first()
                is None
            )
    finally:
        operator.close()


def test_operator_approves_proposes_and_cancels_proposals_from_the_console(live: Live) -> None:
    operator, auditor = (client_of(live, who) for who in ("operator", "auditor"))
    try:
        # bank2 proposes over the API; the operator approves it from its console, then both cancel it
        council = live.platform.c.council.functions
        body = live.api("bank2", "/v1/governance/proposals/quote-validity", {"hours": 96})
        proposal_id = int(body["result"]["proposal_id"])
        page = operator.get("/dashboard/operator").text
        row = page.split(f'data-testid="proposal-{proposal_id}"', 1)[1].split("</tr>", 1)[0]
        assert "/dashboard/operator/approve" in row and "waiting for approvals" in row
        assert "at most 96 hours" in row  # what it would do, in hours, not seconds
        form = {"proposal_id": str(proposal_id)}
        assert auditor.post("/dashboard/operator/approve", data=form).status_code == 403
        confirm = operator.post("/dashboard/operator/approve", data=form).text  # first: what it means
        assert 'data-testid="confirm"' in confirm and "at most 96 hours" in confirm
        assert council.proposal(proposal_id).call()[2] == 1  # nothing sent yet
        form["confirmed"] = "yes"
        html = operator.post("/dashboard/operator/approve", data=form).text
        assert flash_of(html) == f"ok: Proposal {proposal_id} approved.", flash_of(html)
        html = operator.post("/dashboard/operator/cancel", data=form).text  # not the proposer: a vote
        assert flash_of(html).startswith(f"ok: Proposal {proposal_id} cancelled"), flash_of(html)
        live.api("bank1", f"/v1/governance/proposals/{proposal_id}/cancel")  # the second vote
        assert council.proposal(proposal_id).call()[3] == 4  # Cancelled
        html = operator.post("/dashboard/operator/execute", data=form).text
        assert (
            flash_of(html).startswith("error:")
            and live.platform.c.registry.functions.quoteValidity().call() != 96 * 3600
        )
        # a role change proposed from the console: the operator's own proposal, cancelled at once
        role = {"role": "controller", "account": live.address("bank2"), "grant": "grant"}
        html = operator.post("/dashboard/operator/propose-role", data=role).text
        assert flash_of(html).startswith("ok: Proposed to the governors"), flash_of(html)
        found = re.search(r"as proposal (\d+)", flash_of(html))
        assert found is not None
        own = found.group(1)
        html = operator.post("/dashboard/operator/cancel", data={"proposal_id": own, "confirmed": "yes"}).text
        assert flash_of(html).startswith(f"ok: Proposal {own} cancelled"), flash_of(html)
        assert council.proposal(int(own)).call()[3] == 4
        # an upgrade proposed from the console (to the implementation in place: the check passes)
        implementation = live.platform.deployment.contracts["Receivables"].implementation
        upgrade = {"contract": "Receivables", "implementation": implementation}
        assert auditor.post("/dashboard/operator/propose-upgrade", data=upgrade).status_code == 403
        html = operator.post("/dashboard/operator/propose-upgrade", data=upgrade).text
        assert flash_of(html).startswith("ok: Proposed to the governors"), flash_of(html)
        found = re.search(r"as proposal (\d+)", flash_of(html))
        assert found is not None
        target, data = council.proposal(int(found.group(1))).call()[:2]
        assert (
            target == live.platform.c.receivables.address and data[:4].hex() == "4f1ef286"
        )  # upgradeToAndCall
        operator.post("/dashboard/operator/cancel", data={"proposal_id": found.group(1), "confirmed": "yes"})
    finally:
        for client in (operator, auditor):
            client.close()
