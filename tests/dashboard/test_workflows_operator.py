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
        confirm = operator.post("/dashboard/operator/quote-validity", data={"quote_hours": "72"}).text
        assert 'data-testid="confirm"' in confirm, confirm  # first what it means, nothing proposed yet
        assert "at most 24 hours" in confirm and "at most 72 hours" in confirm  # old → new, in hours
        assert "2 of the 3 governors" in confirm and "1 minute" in confirm  # who approves; the delay
        assert "Proposed to the governors" not in confirm
        html = operator.post(
            "/dashboard/operator/quote-validity", data={"quote_hours": "72", "confirmed": "yes"}
        ).text
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
        html = operator.post(
            "/dashboard/operator/quote-validity", data={"quote_hours": "24", "confirmed": "yes"}
        ).text
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
        confirm = operator.post("/dashboard/operator/propose-role", data=role).text
        assert 'data-testid="confirm"' in confirm and "does not hold the role controller" in confirm
        html = operator.post("/dashboard/operator/propose-role", data={**role, "confirmed": "yes"}).text
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
        confirm = operator.post("/dashboard/operator/propose-upgrade", data=upgrade).text
        assert 'data-testid="confirm"' in confirm and "storage-check" in confirm
        html = operator.post("/dashboard/operator/propose-upgrade", data={**upgrade, "confirmed": "yes"}).text
        assert flash_of(html).startswith("ok: Proposed to the governors"), flash_of(html)
        found = re.search(r"as proposal (\d+)", flash_of(html))
        assert found is not None
        target, data = council.proposal(int(found.group(1))).call()[:2]
        assert (
            target == live.platform.c.receivables.address and data[:4].hex() == "4f1ef286"
        )  # upgradeToAndCall
        operator.post("/dashboard/operator/cancel", data={"proposal_id": found.group(1), "confirmed": "yes"})
        # the parameters form: today's values → the proposed ones, the delay and who approves, first
        fields = {"max_tenor_days": "120", "grace_days": "10", "min_unit": "1.00"}
        confirm = operator.post("/dashboard/operator/parameters", data=fields).text
        assert 'data-testid="confirm"' in confirm and "Proposed to the governors" not in confirm
        assert "longest tenor 180 days, grace period 7 days, minimum unit ¥0.01" in confirm
        assert "longest tenor 120 days, grace period 10 days, minimum unit ¥1.00" in confirm
        assert "2 of the 3 governors" in confirm and "1 minute" in confirm
    finally:
        for client in (operator, auditor):
            client.close()


def test_governor_bank_approves_and_executes_in_its_governance_panel(live: Live) -> None:
    """bank2, a governor, finds the operator's proposal in its own panel (in words, 1 of 2), approves and
    later executes it there behind confirmation pages with its own key; it moves to the history. A
    supplier (no governor) is refused the panel and its actions; an auditor reads it without buttons."""
    bank, supplier, auditor = (client_of(live, who) for who in ("bank2", "supplier1", "auditor"))
    council = live.platform.c.council.functions
    try:
        proposal_id = int(
            live.api("operator", "/v1/governance/proposals/quote-validity", {"hours": 30})["result"][
                "proposal_id"
            ]
        )
        home = bank.get(f"/dashboard/bank/{live.address('bank2')}").text
        assert 'data-testid="governance-link"' in home  # the menu leads a governor to its panel
        page = bank.get("/dashboard/governance").text
        row = page.split('data-testid="open-proposals"', 1)[1].split(
            f'data-testid="proposal-{proposal_id}"', 1
        )[1]
        row = row.split("</tr>", 1)[0]
        assert "at most 30 hours" in row and "1 of 2" in row and "/dashboard/governance/approve" in row
        assert "2 of the 3 governors" in page and "1 minute" in page
        # a governor keeping its own key is told what to sign in its wallet: the platform cannot vote for it
        _custody(live, "bank2", "self")
        try:
            wallet = bank.get("/dashboard/governance").text.split(f'data-testid="proposal-{proposal_id}"', 1)[
                1
            ]
            wallet = wallet.split("</tr>", 1)[0]
            assert "Sign in your wallet" in wallet and f"approve({proposal_id})" in wallet
            assert live.platform.c.council.address in wallet and "/dashboard/governance/approve" not in wallet
        finally:
            _custody(live, "bank2", "custodial")
        form = {"proposal_id": str(proposal_id)}
        confirm = bank.post("/dashboard/governance/approve", data=form).text
        assert 'data-testid="confirm"' in confirm and "at most 30 hours" in confirm and "1 of 2" in confirm
        assert council.hasApproved(proposal_id, live.address("bank2")).call() is False  # nothing sent yet
        html = bank.post("/dashboard/governance/approve", data={**form, "confirmed": "yes"}).text
        assert flash_of(html) == f"ok: Proposal {proposal_id} approved.", flash_of(html)
        assert council.hasApproved(proposal_id, live.address("bank2")).call() is True
        # outsiders: a supplier has no panel and cannot act; an auditor reads without buttons
        assert supplier.get("/dashboard/governance").status_code == 403
        assert (
            supplier.post("/dashboard/governance/execute", data={**form, "confirmed": "yes"}).status_code
            == 403
        )
        assert 'data-testid="governance-link"' not in supplier.get("/dashboard/bills").text
        read = auditor.get("/dashboard/governance").text
        assert f'data-testid="proposal-{proposal_id}"' in read and "/dashboard/governance/execute" not in read
        assert (
            auditor.post("/dashboard/governance/execute", data={**form, "confirmed": "yes"}).status_code
            == 403
        )
        live.platform.increase_time(61)
        html = bank.post("/dashboard/governance/execute", data={**form, "confirmed": "yes"}).text
        assert flash_of(html) == f"ok: Proposal {proposal_id} executed.", flash_of(html)
        assert live.platform.c.registry.functions.quoteValidity().call() == 30 * 3600
        history = html.split('data-testid="closed-proposals"', 1)[1]
        assert f'data-testid="proposal-{proposal_id}"' in history and "executed" in history
    finally:
        body = live.api("operator", "/v1/governance/proposals/quote-validity", {"hours": 24})
        back = body["result"]["proposal_id"]
        live.api("bank1", f"/v1/governance/proposals/{back}/approve")
        live.platform.increase_time(61)
        live.api("bank1", f"/v1/governance/proposals/{back}/execute")
        for client in (bank, supplier, auditor):
            client.close()


def _custody(live: Live, who: str, custody: str) -> None:
    with Session(live.ctx.engine) as db:
        row = db.get(DirectoryParticipant, live.address(who))
        assert row is not None
        row.custody = custody
        db.add(row)
        db.commit()
