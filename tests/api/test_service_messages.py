"""Service messages are sentences in the reader's language that name parties, never show their
addresses (issue 13): the not-a-party refusals, the credit-line check, contract errors' parties."""

from __future__ import annotations

from apikit import Api

from tierflow.platform import i18n
from tierflow.platform.models.staff import PendingApproval
from tierflow.platform.services.policy import ApprovalRequired
from tierflow.platform.services.seed import DEMO_NAMES
from tierflow.platform.services.throttle import TooManyAttempts

ZH = {"Accept-Language": "zh-CN,zh;q=0.9"}


def _error(response: object) -> dict[str, str]:
    body = response.json()  # type: ignore[attr-defined]
    return body["error"]  # type: ignore[no-any-return]


def test_refusal_to_a_non_holder_names_the_holder_in_the_readers_language(funded: Api) -> None:
    api = funded
    line = api.credit_line("bank1", "core1")
    slot, token = api.issue("core1", "supplier1", 300_000, line)
    body = {"to": api.address("supplier2"), "value": 100_000}

    refused = api.client.post(
        f"/v1/certificates/{token}/transfer", headers=api.headers("supplier2"), json=body
    )
    error = _error(refused)
    assert refused.status_code == 403 and error["code"] == "not_a_party"
    assert error["message"] == f"Certificate {token} is held by {DEMO_NAMES['supplier1']}, not by you."
    chinese = api.client.post(
        f"/v1/certificates/{token}/transfer", headers=api.headers("supplier2", **ZH), json=body
    )
    assert _error(chinese)["message"] == f"凭证 {token} 由{DEMO_NAMES['supplier1']}持有，而非您。"

    seen = api.client.get(f"/v1/payables/{slot}", headers=api.headers("supplier2"))
    assert seen.status_code == 403
    assert api.address("supplier2") not in _error(seen)["message"]
    assert _error(seen)["message"].startswith(f"You are no party to payable {slot}:")


def test_credit_line_of_another_bank_is_refused_with_the_granting_banks_name(funded: Api) -> None:
    api = funded
    line = api.credit_line("bank1", "core2")
    for path, body in (
        (f"/v1/financier/credit-lines/{line}/freeze", None),
        (f"/v1/financier/credit-lines/{line}/adjust", {"limit": 1, "expiry": api.today(30)}),
    ):
        refused = api.client.post(path, headers=api.headers("bank2", **ZH), json=body)
        assert refused.status_code == 403, refused.text
        message = _error(refused)["message"]
        assert message.startswith(f"授信额度 {line} 由{DEMO_NAMES['bank1']}授予") and "0x" not in message
    # fmt: skip


def test_contract_error_in_an_api_answer_names_the_parties(funded: Api) -> None:
    api = funded
    line = api.credit_line("bank1", "core1")
    _, token = api.issue("core1", "supplier1", 200_000, line)
    # a financing request to a supplier, who is no bank: the chain refuses and names the party
    refused = api.post(
        "supplier1", "/v1/supplier/financing-requests",
        {"token_id": token, "financier": api.address("supplier2"), "amount": 100_000},
    )  # fmt: skip
    assert refused.status_code == 409, refused.text
    message = _error(refused)["message"]
    assert DEMO_NAMES["supplier2"] in message, message
    assert api.address("supplier2")[:6] + "…" not in message


def test_waiting_and_throttle_messages_read_as_dates_and_chinese_sentences() -> None:
    approval = PendingApproval(approval_id=7, expires_at=1_806_451_200)  # 2027-03-31 00:00 UTC
    with i18n.use_locale("en"):
        assert "31 Mar 2027" in ApprovalRequired(approval).message
        assert "1806451200" not in ApprovalRequired(approval).message
        assert "wait 2 minutes" in TooManyAttempts(90).message
        assert "wait 1 minute and" in TooManyAttempts(30).message
    with i18n.use_locale("zh_CN"):
        assert "2027年3月31日" in ApprovalRequired(approval).message
        assert "请等待 2 分钟" in TooManyAttempts(90).message
