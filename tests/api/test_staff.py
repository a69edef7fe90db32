"""Organisations, not keys: staff roles inside a bank, maker-checker funding, the audit trail by name.

Each attacker of issue 14 is played here: a viewer writing, a maker releasing a covered write, a
checker approving their own submission, a replayed approval, an approval applied to altered terms,
a disabled user's key, a password guesser (lockout), a sign-in without the second factor.
"""

from __future__ import annotations

from typing import Any

import pyotp
import pytest
from apikit import Api
from sqlalchemy import update
from sqlmodel import Session, select

from tierflow.platform.models.staff import PendingApproval, StaffUser
from tierflow.platform.services import audit_trail, users
from tierflow.platform.services.errors import Forbidden, Unauthenticated

PASSWORD = "correct horse battery"


def _bank(api: Api) -> str:
    """A fresh custodial bank with settlement token (a policy on a shared demo bank would leak)."""
    body = api.ok(
        "operator",
        "/v1/operator/participants",
        {"legal_name": "Four Eyes Bank", "legal_id": api.unique("9131"), "roles": ["financier"]},
    )
    address = body["participant"]["address"]
    api.keys[address] = body["api_key"]
    api.ok("bank1", "/v1/settlement/mint", {"to": address, "amount": 10**12})
    return str(address)


def _staff(api: Api, bank: str, name: str, roles: list[str], scopes: list[str] | None = None) -> str:
    login = f"{name.split()[0].lower()}.{api.unique('u')}@bank.example".lower()
    user = api.ok(
        bank, "/v1/company/users", {"login": login, "name": name, "roles": roles, "password": PASSWORD}
    )
    key = api.ok(
        bank,
        f"/v1/company/users/{user['user_id']}/api-keys",
        {"scopes": scopes or ["read", "write"], "days": 30},
    )
    api.keys[name] = key["api_key"]
    api.keys[f"{name}#login"] = login
    return str(user["user_id"])


def _requested(api: Api, bank: str) -> int:
    line = api.credit_line("bank1", "core1")
    _, token = api.issue("core1", "supplier1", 500_000, line, days=60)
    body = api.ok(
        "supplier1",
        "/v1/supplier/financing-requests",
        {"token_id": token, "amount": 500_000, "financier": bank, "with_recourse": False},
    )
    return int(body["result"]["request_id"])


def _status(api: Api, bank: str, request_id: int) -> str:
    return str(api.get(bank, f"/v1/financier/requests/{request_id}").json()["status"])


def test_maker_and_checker_fund_only_together_and_the_trail_names_them(funded: Api) -> None:
    api = funded
    bank = _bank(api)
    _staff(api, bank, "Mia Maker", ["maker"])
    _staff(api, bank, "Chen Checker", ["checker"])
    _staff(api, bank, "Vic Viewer", ["viewer"])
    _staff(api, bank, "Rita Readonly", ["maker"], scopes=["read"])
    assert api.client.put(
        "/v1/company/approval-policy", headers=api.headers(bank), json={"rules": {"fund": 0}}
    ).json() == {"rules": {"fund": 0}, "expiry_hours": 24}  # approvals wait a day unless set
    request_id = _requested(api, bank)

    # a viewer, a read-only key and a checker-only person cannot write at all
    for who, code in (("Vic Viewer", "not_a_maker"), ("Rita Readonly", "read_only_key")):
        refused = api.post(who, f"/v1/financier/requests/{request_id}/quote", {"rate_bps": 400})
        assert refused.status_code == 403 and refused.json()["error"]["code"] == code, refused.text
    quoted = api.ok("Mia Maker", f"/v1/financier/requests/{request_id}/quote", {"rate_bps": 400})
    price = int(quoted["result"]["price"])
    quoted = api.platform.c.financing.functions.getRequest(request_id).call()
    terms = {"rate_bps": quoted[6], "price": quoted[9], "expiry": quoted[7]}  # what the seller was shown
    api.ok("supplier1", f"/v1/supplier/financing-requests/{request_id}/accept-quote", terms)

    # the maker's fund waits for a checker: 202 with exactly the terms to be released
    pending = api.post("Mia Maker", f"/v1/financier/requests/{request_id}/fund")
    assert pending.status_code == 202, pending.text
    approval: dict[str, Any] = pending.json()["approval"]
    assert (approval["status"], approval["maker"], approval["amount"]) == ("pending", "Mia Maker", price)
    assert approval["call"] == "Financing.fund"
    assert _status(api, bank, request_id) == "Accepted"
    queue = api.get("Chen Checker", "/v1/company/approvals").json()
    assert [a["approval_id"] for a in queue] == [approval["approval_id"]]
    path = f"/v1/company/approvals/{approval['approval_id']}"
    terms = {"terms_hash": approval["terms_hash"]}
    # the checker reads the backing invoice before deciding (a read the trail records)
    document = api.get("Chen Checker", f"/v1/financier/requests/{request_id}").json()["documents"][0]
    assert api.get("Chen Checker", f"/v1/documents/{document['document_id']}/content").status_code == 200

    # nobody releases it but a checker other than the maker, on the exact terms submitted
    own = api.post("Mia Maker", f"{path}/approve", terms)
    assert own.status_code == 403 and own.json()["error"]["code"] == "not_a_checker"
    viewer = api.post("Vic Viewer", f"{path}/approve", terms)
    assert viewer.status_code == 403
    wrong = api.post("Chen Checker", f"{path}/approve", {"terms_hash": "0" * 64})
    assert wrong.status_code == 409 and wrong.json()["error"]["code"] == "terms_changed"
    assert _status(api, bank, request_id) == "Accepted"

    released = api.post("Chen Checker", f"{path}/approve", terms)
    assert released.status_code == 200, released.text
    tx_hash = released.json()["tx_hash"]
    assert _status(api, bank, request_id) == "Funded"
    replay = api.post("Chen Checker", f"{path}/approve", terms)
    assert replay.status_code == 409 and replay.json()["error"]["code"] == "approval_decided"

    # the story in the audit trail, with the people's names; the bank's admin sees its own company
    trail = api.get(bank, "/v1/company/audit-trail", limit=1000).json()["data"]
    lines = [(e["user_name"], e["action"], e["outcome"]) for e in trail]
    assert ("Mia Maker", "approval.submit.fund", "pending") in lines
    assert ("Chen Checker", "approval.approve.fund", "executed") in lines
    assert ("Chen Checker", "document.read", "ok") in lines
    assert any(u == "Mia Maker" and a.endswith("/quote") and o.startswith("200") for u, a, o in lines)
    assert any(u == "Vic Viewer" and o == "403 not_a_maker" for u, _, o in lines)
    assert any(u == "Chen Checker" and o == "terms_changed" for u, _, o in lines)
    released_entry = next(
        e for e in trail if e["action"] == "approval.approve.fund" and e["outcome"] == "executed"
    )
    assert released_entry["tx_hash"] == tx_hash and released_entry["company"] == bank
    assert released_entry["request_id"] and released_entry["user_agent"]
    assert {e["company"] for e in trail} == {bank}
    everything = api.get("auditor", "/v1/company/audit-trail", user="Chen Checker", format="csv")
    assert everything.status_code == 200 and "approval.approve.fund" in everything.text
    assert api.get("Mia Maker", "/v1/company/audit-trail").status_code == 403
    checked, breaks = audit_trail.verify(api.ctx.engine)
    assert checked > 0 and breaks == []


def test_an_altered_approval_is_not_released(funded: Api) -> None:
    api = funded
    bank = _bank(api)
    _staff(api, bank, "Mo Maker", ["maker"])
    _staff(api, bank, "Cy Checker", ["checker"])
    api.client.put("/v1/company/approval-policy", headers=api.headers(bank), json={"rules": {"fund": 0}})
    request_id = _requested(api, bank)
    api.ok("Mo Maker", f"/v1/financier/requests/{request_id}/quote", {"rate_bps": 400})
    quoted = api.platform.c.financing.functions.getRequest(request_id).call()
    terms = {"rate_bps": quoted[6], "price": quoted[9], "expiry": quoted[7]}  # what the seller was shown
    api.ok("supplier1", f"/v1/supplier/financing-requests/{request_id}/accept-quote", terms)
    approval = api.post("Mo Maker", f"/v1/financier/requests/{request_id}/fund").json()["approval"]
    # someone with database access points the approval at another request after submission
    with Session(api.ctx.engine) as session:
        session.execute(
            update(PendingApproval)
            .where(PendingApproval.approval_id == approval["approval_id"])  # type: ignore[arg-type]
            .values(args='[{"int":"1"}]')
        )
        session.commit()
    altered = api.post(
        "Cy Checker",
        f"/v1/company/approvals/{approval['approval_id']}/approve",
        {"terms_hash": approval["terms_hash"]},
    )
    assert altered.status_code == 409 and altered.json()["error"]["code"] == "terms_changed"
    assert _status(api, bank, request_id) == "Accepted"
    rejected = api.post(
        "Cy Checker", f"/v1/company/approvals/{approval['approval_id']}/reject", {"reason": "terms altered"}
    )
    assert rejected.status_code == 200 and rejected.json()["status"] == "rejected"
    assert rejected.json()["checker"] == "Cy Checker"


def test_disabled_user_key_stops_and_admin_manages_roles(funded: Api) -> None:
    api = funded
    bank = _bank(api)
    maker = _staff(api, bank, "Dee Departing", ["maker"])
    assert api.get("Dee Departing", "/v1/financier/requests").status_code == 200
    other_bank_admin = api.post("bank2", f"/v1/company/users/{maker}/disable")
    assert other_bank_admin.status_code == 404  # another company's admin cannot touch this user
    assert api.post("Dee Departing", "/v1/company/users", {}).status_code in (403, 422)
    assert api.post(bank, f"/v1/company/users/{maker}/disable").status_code == 200
    gone = api.get("Dee Departing", "/v1/financier/requests")
    assert gone.status_code == 401 and gone.json()["error"]["code"] == "user_disabled"
    listed = {u["name"]: u for u in api.get(bank, "/v1/company/users").json()}
    assert listed["Dee Departing"]["disabled"] and listed["Company administrator"]["roles"] == [
        "admin", "checker", "maker",
    ]  # fmt: skip
    api.post(bank, f"/v1/company/users/{maker}/enable")
    assert api.post(bank, f"/v1/company/users/{maker}/roles", {"roles": ["viewer"]}).json()["roles"] == [
        "viewer"
    ]
    assert api.get("Dee Departing", "/v1/financier/requests").status_code == 200


def test_second_factor_enrolment_sign_in_lockout_and_session_revocation(funded: Api) -> None:
    api = funded
    bank = _bank(api)
    user_id = int(_staff(api, bank, "Tess Totp", ["maker"]))
    login = api.keys["Tess Totp#login"]
    engine, master = api.ctx.engine, api.ctx.settings.master_key
    with Session(engine) as session:
        try:  # a password alone does not sign anyone in
            users.sign_in(
                session=session, engine=engine, master_key=master, login=login, password=PASSWORD, code=""
            )
            raise AssertionError("signed in without a second factor")
        except Forbidden as error:
            assert error.code == "totp_required"
    _staff(api, bank, "Tess Readkey", ["maker"], scopes=["read"])
    refused = api.post("Tess Readkey", "/v1/company/me/totp")
    assert refused.status_code == 403 and refused.json()["error"]["code"] == "read_only_key"
    # the first admin (created at onboarding with the company's key) sets a password of their own
    assert api.post(bank, "/v1/company/me/password", {"password": "short"}).status_code == 422
    assert api.post(bank, "/v1/company/me/password", {"password": PASSWORD + "!"}).status_code == 204
    enrolment = api.ok("Tess Totp", "/v1/company/me/totp")
    assert enrolment["qr_svg"].startswith("<svg") and enrolment["otpauth_uri"].startswith("otpauth://totp/")
    totp = pyotp.TOTP(enrolment["secret"])
    bad = api.post(
        "Tess Totp", "/v1/company/me/totp/confirm", {"code": "000000" if totp.now() != "000000" else "111111"}
    )
    assert bad.status_code == 422
    assert api.post("Tess Totp", "/v1/company/me/totp/confirm", {"code": totp.now()}).status_code == 204
    again = api.post("Tess Totp", "/v1/company/me/totp")  # no silent re-enrolment over a working factor
    assert again.status_code == 409 and again.json()["error"]["code"] == "totp_enrolled"

    with Session(engine) as session:
        code = totp.now()
        signed = users.sign_in(
            session=session, engine=engine, master_key=master, login=login, password=PASSWORD, code=code
        )
        assert users.session_user(session, signed) is not None
        with pytest.raises(Unauthenticated):  # someone who overheard the code cannot use it again
            users.sign_in(
                session=session, engine=engine, master_key=master, login=login, password=PASSWORD, code=code
            )
        for _ in range(users.MAX_FAILURES - 1):  # the replay above was the first failure; now a guesser
            try:
                users.sign_in(
                    session=session,
                    engine=engine,
                    master_key=master,
                    login=login,
                    password="guess",
                    code=totp.now(),
                )
            except Unauthenticated:
                pass
        try:  # locked now, even with the right password and code
            users.sign_in(
                session=session,
                engine=engine,
                master_key=master,
                login=login,
                password=PASSWORD,
                code=totp.now(),
            )
            raise AssertionError("a locked account signed in")
        except Forbidden as error:
            assert error.code == "account_locked"
    assert api.post(bank, f"/v1/company/users/{user_id}/disable").status_code == 200
    with Session(engine) as session:
        assert users.session_user(session, signed) is None  # revoked on disable
        user = session.exec(select(StaffUser).where(StaffUser.user_id == user_id)).one()
        assert user.disabled_at is not None


def test_a_self_signed_request_cannot_skip_the_checker(funded: Api) -> None:
    """Self custody: a forward request signed before (or around) the approval is refused at the relay;
    the call a checker approved is relayed once."""
    from eth_account import Account

    api = funded
    account = api.platform.extra_account(38)  # not used by any other test (registration is one-time)
    onboarded = api.ok("operator", "/v1/operator/participants", {
        "legal_name": "Own Key Supplier", "legal_id": api.unique("9144"), "roles": ["supplier"],
        "custody": "self", "address": account.address,
    })  # fmt: skip
    company = account.address
    api.keys[company] = onboarded["api_key"]
    _staff(api, company, "Sam Signer", ["maker"])
    _staff(api, company, "Kay Checker", ["checker"])
    line = api.credit_line("bank1", "core1")
    doc = api.invoice("core1", company)
    issued = api.ok("core1", "/v1/core/certificates", {
        "supplier": company, "face": 40_000, "maturity": api.today(40), "line_id": line,
        "document_ids": [doc],
    })  # fmt: skip
    slot, token = issued["result"]["slot_id"], issued["result"]["token_id"]

    def sign(prepared: dict[str, Any]) -> dict[str, Any]:
        typed = prepared["forward_request"]
        signature = Account.sign_typed_data(account.key, full_message=typed).signature
        return {"request": typed["message"], "signature": "0x" + bytes(signature).hex()}

    accepted = api.post("Sam Signer", f"/v1/supplier/payables/{slot}/accept")
    assert api.post("Sam Signer", "/v1/relay", sign(accepted.json())).status_code == 200
    transfer = {"to": api.address("supplier2"), "value": 15_000}
    early = api.post("Sam Signer", f"/v1/certificates/{token}/transfer", transfer)
    assert early.status_code == 202 and early.json()["status"] == "signature_required"
    api.client.put(
        "/v1/company/approval-policy", headers=api.headers(company), json={"rules": {"transfer": 0}}
    )
    skipped = api.post("Sam Signer", "/v1/relay", sign(early.json()))
    assert skipped.status_code == 403 and skipped.json()["error"]["code"] == "approval_required_by_policy"

    pending = api.post("Sam Signer", f"/v1/certificates/{token}/transfer", transfer)
    assert pending.status_code == 202 and pending.json()["status"] == "approval_required", pending.text
    approval = pending.json()["approval"]
    released = api.post(
        "Kay Checker",
        f"/v1/company/approvals/{approval['approval_id']}/approve",
        {"terms_hash": approval["terms_hash"]},
    )
    assert released.status_code == 202 and released.json()["status"] == "signature_required", released.text
    signed = sign(released.json())
    relayed = api.post("Sam Signer", "/v1/relay", signed)
    assert relayed.status_code == 200, relayed.text
    # the early request (other forwarder nonce, same call) finds the approval used up
    again = api.post("Sam Signer", "/v1/relay", sign(early.json()))
    assert again.status_code == 403 and again.json()["error"]["code"] == "approval_required_by_policy"
