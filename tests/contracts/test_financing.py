"""Financing: request → quote → accept → fund (DvP), cancel/decline, quote arithmetic, recourse."""

from __future__ import annotations

import pytest
from certkit import (
    DAY,
    DECLINED,
    DEFAULTED,
    FACE,
    FUNDED,
    QUOTED,
    R_ACCEPTED,
    R_CANCELLED,
    RECOURSED,
    REQUESTED,
    Kit,
    discount,
)

from tierflow.testing.chain import Platform

# ---------------------------------------------------------------------------- request


def test_request_locks_whole_token(tf: Platform, kit: Kit) -> None:
    _, root = kit.accepted()
    receipt = tf.transact(tf.c.financing.functions.request(root, FACE, kit.a("bank1"), True), "supplier1")
    (event,) = tf.events(receipt, tf.c.financing, "FinancingRequested")
    assert event == {
        "requestId": 1, "tokenId": root, "seller": kit.a("supplier1"),
        "financier": kit.a("bank1"), "amount": FACE, "withRecourse": True,
    }  # fmt: skip
    assert tf.events(receipt, tf.c.receivables, "CertificateLocked") == [{"tokenId": root, "ref": 1}]
    r = kit.request(1)
    assert r[0] == root and r[5] == REQUESTED and r[3] == FACE
    assert kit.token(root)[5] is True and kit.token(root)[6] == 1


def test_request_partial_splits_off_locked_token(tf: Platform, kit: Kit) -> None:
    _, root = kit.accepted()
    request_id, locked = kit.request_financing(root, amount=40_000_000)
    assert locked != root
    token = kit.token(locked)
    assert token[0] == kit.a("supplier1") and token[2] == 40_000_000 and token[3] == root and token[5]
    assert kit.token(root)[2] == FACE - 40_000_000 and not kit.token(root)[5]
    kit.transfer_value(root, "supplier1", "supplier2", 1_000)  # the rest stays free


def test_request_reverts_when_already_locked(tf: Platform, kit: Kit) -> None:
    _, root = kit.accepted()
    request_id, _ = kit.request_financing(root)
    with tf.reverts("CertificateIsLocked", root, request_id):
        kit.request_financing(root, financier="bank2")


def test_request_reverts_when_not_holder(tf: Platform, kit: Kit) -> None:
    _, root = kit.accepted()
    with tf.reverts("CertificateNotHolder", root, kit.a("supplier2"), kit.a("supplier1")):
        kit.request_financing(root, seller="supplier2", amount=FACE)


def test_request_reverts_when_financier_not_financier(tf: Platform, kit: Kit) -> None:
    _, root = kit.accepted()
    with tf.reverts("RegistryMissingRole", kit.a("supplier2"), 4, 2):
        kit.request_financing(root, financier="supplier2")


def test_request_reverts_when_financier_suspended(tf: Platform, kit: Kit) -> None:
    _, root = kit.accepted()
    tf.transact(tf.c.registry.functions.suspend(kit.a("bank2")), "operator")
    with tf.reverts("RegistryParticipantSuspended", kit.a("bank2")):
        kit.request_financing(root, financier="bank2")


def test_request_reverts_when_self_dealing(tf: Platform, kit: Kit) -> None:
    _, root = kit.accepted()
    tf.transact(tf.c.registry.functions.setRoles(kit.a("supplier1"), 2 | 4), "operator")
    with tf.reverts("FinancingSelfDealing", kit.a("supplier1")):
        kit.request_financing(root, financier="supplier1")


def test_request_reverts_when_amount_over_balance(tf: Platform, kit: Kit) -> None:
    _, root = kit.accepted()
    with tf.reverts("CertificateInsufficientValue", root, FACE, FACE + 1):
        kit.request_financing(root, amount=FACE + 1)


def test_request_reverts_when_amount_zero(tf: Platform, kit: Kit) -> None:
    _, root = kit.accepted()
    with tf.reverts("CertificateInvalidAmount", 0, 1):
        kit.request_financing(root, amount=0)


def test_request_reverts_at_maturity(tf: Platform, kit: Kit) -> None:
    slot_id, root = kit.accepted(days=5)
    maturity = kit.slot(slot_id)[3]
    kit.to_maturity(slot_id)
    with tf.reverts("CertificateMatured", root, maturity):
        kit.request_financing(root)


# ---------------------------------------------------------------------------- quote


@pytest.mark.parametrize(
    ("face", "rate", "seconds", "expected"),
    [
        (100_000_000, 360, 90 * DAY, 900_000),  # 90 days at 3.60 %: exactly 9,000.00 CNY
        (100_000_000, 365, 90 * DAY - 1, 912_500),  # a started day counts: still 90 days
        (100_000_000, 365, 90 * DAY + 1, 922_639),  # 91 days: 922,638.88… rounds up
        (1, 10_000, 1, 0),  # 0.0028 fen → 0
        (180, 10_000, 1, 1),  # exactly 0.5 fen → half up to 1
        (179, 10_000, 1, 0),  # 0.497 fen → 0
        (123_456_789, 275, 37 * DAY + 5, 358_368),  # 38 days: 358,367.62 → 358,368
    ],
)
def test_quote_discount_rounds_half_up_on_started_days(
    tf: Platform, kit: Kit, face: int, rate: int, seconds: int, expected: int
) -> None:
    line = kit.line_of("core1")
    slot_id, root = kit.accepted(line_id=line, face=face, days=179)
    request_id, _ = kit.request_financing(root)
    maturity = kit.slot(slot_id)[3]
    # pin the quote's block time to maturity - seconds
    tf.w3.provider.make_request("evm_setNextBlockTimestamp", [maturity - seconds])  # type: ignore[arg-type]
    expiry = min(maturity, maturity - seconds + 3600)  # a quote is valid 24 h at most
    # explicit gas: an estimate would run at today's time, before the pinned one
    receipt = tf.transact(tf.c.financing.functions.quote(request_id, rate, expiry), "bank1", gas=300_000)
    (event,) = tf.events(receipt, tf.c.financing, "FinancingQuoted")
    assert event["discount"] == expected == discount(face, rate, -(-seconds // DAY))
    assert event["price"] == face - expected
    r = kit.request(request_id)
    assert (r[5], r[6], r[7], r[8], r[9]) == (QUOTED, rate, expiry, expected, face - expected)


def test_quote_requote_replaces_terms(tf: Platform, kit: Kit) -> None:
    _, root = kit.accepted()
    request_id, _ = kit.request_financing(root)
    kit.quote(request_id, rate=500)
    kit.quote(request_id, rate=400)
    assert kit.request(request_id)[6] == 400


def test_quote_reverts_when_not_addressed_financier(tf: Platform, kit: Kit) -> None:
    _, root = kit.accepted()
    request_id, _ = kit.request_financing(root)
    with tf.reverts("FinancingNotFinancier", request_id, kit.a("bank2")):
        kit.quote(request_id, financier="bank2")


@pytest.mark.parametrize("rate", [0, 10_001])
def test_quote_reverts_when_rate_out_of_range(tf: Platform, kit: Kit, rate: int) -> None:
    _, root = kit.accepted()
    request_id, _ = kit.request_financing(root)
    with tf.reverts("FinancingInvalidRate", rate):
        kit.quote(request_id, rate=rate)


def test_quote_reverts_when_discount_reaches_face(tf: Platform, kit: Kit) -> None:
    tf.govern(tf.c.registry.functions.setParameters(366 * DAY, 7 * DAY, 1))
    _, root = kit.accepted(days=365)
    request_id, _ = kit.request_financing(root)
    with tf.reverts("FinancingInvalidRate", 10_000):
        kit.quote(request_id, rate=10_000)


def test_quote_reverts_when_expiry_past_maturity_or_now(tf: Platform, kit: Kit) -> None:
    slot_id, root = kit.accepted(days=30)
    request_id, _ = kit.request_financing(root)
    maturity = kit.slot(slot_id)[3]
    with tf.reverts("FinancingInvalidExpiry", maturity + 1):
        tf.transact(tf.c.financing.functions.quote(request_id, 300, maturity + 1), "bank1")
    now = tf.now()
    with tf.reverts("FinancingInvalidExpiry", now):
        tf.transact(tf.c.financing.functions.quote(request_id, 300, now), "bank1")


def test_quote_reverts_when_unknown_request(tf: Platform, kit: Kit) -> None:
    with tf.reverts("FinancingUnknownRequest", 9):
        kit.quote(9)


# ---------------------------------------------------------------------------- accept / fund


def test_accept_quote_by_seller(tf: Platform, kit: Kit) -> None:
    _, root = kit.accepted()
    request_id, _ = kit.request_financing(root)
    kit.quote(request_id)
    receipt = kit.accept_quote(request_id)
    assert tf.events(receipt, tf.c.financing, "FinancingQuoteAccepted") == [
        {"requestId": request_id, "seller": kit.a("supplier1")}
    ]
    assert kit.request(request_id)[5] == R_ACCEPTED


def test_accept_quote_reverts_when_not_seller(tf: Platform, kit: Kit) -> None:
    _, root = kit.accepted()
    request_id, _ = kit.request_financing(root)
    kit.quote(request_id)
    with tf.reverts("FinancingNotSeller", request_id, kit.a("supplier2")):
        kit.accept_quote(request_id, "supplier2")


def test_accept_quote_reverts_without_quote(tf: Platform, kit: Kit) -> None:
    _, root = kit.accepted()
    request_id, _ = kit.request_financing(root)
    with tf.reverts("FinancingWrongStatus", request_id, REQUESTED):
        kit.accept_quote(request_id)


def test_accept_quote_reverts_after_expiry(tf: Platform, kit: Kit) -> None:
    _, root = kit.accepted()
    request_id, _ = kit.request_financing(root)
    kit.quote(request_id, expiry_s=3600)
    expiry = kit.request(request_id)[7]
    tf.increase_time(3601)
    with tf.reverts("FinancingQuoteExpired", request_id, expiry):
        kit.accept_quote(request_id)


def test_fund_swaps_cash_and_certificate_atomically(tf: Platform, kit: Kit) -> None:
    _, root = kit.accepted()
    request_id, locked = kit.request_financing(root, amount=60_000_000)
    kit.quote(request_id, rate=360)
    kit.accept_quote(request_id)
    r = kit.request(request_id)
    price, disc = r[9], r[8]
    assert price + disc == 60_000_000
    kit.give("bank1", price)
    kit.approve("bank1", "financing")
    receipt = tf.transact(tf.c.financing.functions.fund(request_id), "bank1")
    assert tf.events(receipt, tf.c.financing, "FinancingFunded") == [
        {
            "requestId": request_id, "tokenId": locked, "financier": kit.a("bank1"),
            "seller": kit.a("supplier1"), "price": price, "discount": disc,
        }
    ]  # fmt: skip
    assert kit.cash("supplier1") == price and kit.cash("bank1") == 0
    token = kit.token(locked)
    assert token[0] == kit.a("bank1") and token[5] is False and token[6] == 0
    assert kit.request(request_id)[5] == FUNDED
    # the financier now holds a free certificate it may pass on before maturity
    tf.transact(tf.c.receivables.functions.transfer(locked, kit.a("bank2")), "bank1")


def test_fund_reverts_without_cash_leaving_nothing_moved(tf: Platform, kit: Kit) -> None:
    _, root = kit.accepted()
    request_id, _ = kit.request_financing(root)
    kit.quote(request_id)
    kit.accept_quote(request_id)
    kit.approve("bank1", "financing")
    price = kit.request(request_id)[9]
    with tf.reverts("ERC20InsufficientBalance", kit.a("bank1"), 0, price):
        tf.transact(tf.c.financing.functions.fund(request_id), "bank1")
    assert kit.token(root)[0] == kit.a("supplier1") and kit.token(root)[5]


def test_fund_reverts_before_acceptance(tf: Platform, kit: Kit) -> None:
    _, root = kit.accepted()
    request_id, _ = kit.request_financing(root)
    kit.quote(request_id)
    with tf.reverts("FinancingWrongStatus", request_id, QUOTED):
        tf.transact(tf.c.financing.functions.fund(request_id), "bank1")


def test_fund_reverts_after_quote_expiry(tf: Platform, kit: Kit) -> None:
    _, root = kit.accepted()
    request_id, _ = kit.request_financing(root)
    kit.quote(request_id, expiry_s=7200)
    kit.accept_quote(request_id)
    expiry = kit.request(request_id)[7]
    tf.increase_time(7200)
    with tf.reverts("FinancingQuoteExpired", request_id, expiry):
        tf.transact(tf.c.financing.functions.fund(request_id), "bank1")


def test_fund_reverts_when_not_financier(tf: Platform, kit: Kit) -> None:
    _, root = kit.accepted()
    request_id, _ = kit.request_financing(root)
    kit.quote(request_id)
    kit.accept_quote(request_id)
    with tf.reverts("FinancingNotFinancier", request_id, kit.a("bank2")):
        tf.transact(tf.c.financing.functions.fund(request_id), "bank2")


def test_fund_reverts_when_seller_suspended(tf: Platform, kit: Kit) -> None:
    _, root = kit.accepted()
    request_id, _ = kit.request_financing(root)
    kit.quote(request_id)
    kit.accept_quote(request_id)
    tf.transact(tf.c.registry.functions.suspend(kit.a("supplier1")), "operator")
    with tf.reverts("RegistryParticipantSuspended", kit.a("supplier1")):
        tf.transact(tf.c.financing.functions.fund(request_id), "bank1")


def test_fund_reverts_when_funded_twice(tf: Platform, kit: Kit) -> None:
    _, root = kit.accepted()
    f = kit.financed(root)
    with tf.reverts("FinancingWrongStatus", f.request_id, FUNDED):
        tf.transact(tf.c.financing.functions.fund(f.request_id), "bank1")


# ---------------------------------------------------------------------------- cancel / decline


def test_cancel_by_seller_unlocks(tf: Platform, kit: Kit) -> None:
    _, root = kit.accepted()
    request_id, _ = kit.request_financing(root)
    kit.quote(request_id)
    receipt = tf.transact(tf.c.financing.functions.cancel(request_id), "supplier1")
    assert tf.events(receipt, tf.c.receivables, "CertificateUnlocked") == [
        {"tokenId": root, "ref": request_id}
    ]
    assert kit.request(request_id)[5] == R_CANCELLED and not kit.token(root)[5]
    kit.transfer_value(root, "supplier1", "supplier2", 1)


def test_cancel_reverts_when_not_seller(tf: Platform, kit: Kit) -> None:
    _, root = kit.accepted()
    request_id, _ = kit.request_financing(root)
    with tf.reverts("FinancingNotSeller", request_id, kit.a("supplier2")):
        tf.transact(tf.c.financing.functions.cancel(request_id), "supplier2")


def test_cancel_reverts_after_funding(tf: Platform, kit: Kit) -> None:
    _, root = kit.accepted()
    f = kit.financed(root)
    with tf.reverts("FinancingWrongStatus", f.request_id, FUNDED):
        tf.transact(tf.c.financing.functions.cancel(f.request_id), "supplier1")


def test_decline_by_financier_unlocks(tf: Platform, kit: Kit) -> None:
    _, root = kit.accepted()
    request_id, _ = kit.request_financing(root)
    receipt = tf.transact(tf.c.financing.functions.decline(request_id), "bank1")
    assert tf.events(receipt, tf.c.financing, "FinancingDeclined") == [
        {"requestId": request_id, "financier": kit.a("bank1")}
    ]
    assert kit.request(request_id)[5] == DECLINED and not kit.token(root)[5]


def test_decline_reverts_when_not_financier(tf: Platform, kit: Kit) -> None:
    _, root = kit.accepted()
    request_id, _ = kit.request_financing(root)
    with tf.reverts("FinancingNotFinancier", request_id, kit.a("bank2")):
        tf.transact(tf.c.financing.functions.decline(request_id), "bank2")


def test_decline_reverts_when_cancelled(tf: Platform, kit: Kit) -> None:
    _, root = kit.accepted()
    request_id, _ = kit.request_financing(root)
    tf.transact(tf.c.financing.functions.cancel(request_id), "supplier1")
    with tf.reverts("FinancingWrongStatus", request_id, R_CANCELLED):
        tf.transact(tf.c.financing.functions.decline(request_id), "bank1")


# ---------------------------------------------------------------------------- maturity and recourse


def test_claim_financier_paid_at_maturity(tf: Platform, kit: Kit) -> None:
    slot_id, root = kit.accepted()
    f = kit.financed(root, amount=FACE)
    kit.repay(slot_id, FACE)
    kit.to_maturity(slot_id)
    before = kit.cash("bank1")
    tf.transact(tf.c.receivables.functions.claim(f.token_id), "bank1")
    assert kit.cash("bank1") - before == FACE  # price + discount: the financier's interest


def _defaulted_with_financing(tf: Platform, kit: Kit, recourse: bool) -> tuple[int, int, object]:
    slot_id, root = kit.accepted(days=20)
    f = kit.financed(root, amount=50_000_000, recourse=recourse)
    kit.to_maturity(slot_id, extra=8 * DAY)
    tf.transact(tf.c.receivables.functions.markDefaulted(slot_id, f.token_id), "bank1")
    assert kit.slot(slot_id)[5] == DEFAULTED
    return slot_id, root, f


def test_exercise_recourse_pulls_value_from_seller_and_returns_token(tf: Platform, kit: Kit) -> None:
    slot_id, _, f = _defaulted_with_financing(tf, kit, recourse=True)
    kit.give("supplier1", 50_000_000 - kit.cash("supplier1"))
    kit.approve("supplier1", "financing")
    bank_before = kit.cash("bank1")
    receipt = tf.transact(tf.c.financing.functions.exerciseRecourse(f.request_id), "bank1")
    assert tf.events(receipt, tf.c.financing, "RecourseExercised") == [
        {
            "requestId": f.request_id, "tokenId": f.token_id, "financier": kit.a("bank1"),
            "seller": kit.a("supplier1"), "amount": 50_000_000,
        }
    ]  # fmt: skip
    assert kit.cash("bank1") - bank_before == 50_000_000 and kit.cash("supplier1") == 0
    assert kit.token(f.token_id)[0] == kit.a("supplier1")
    assert kit.request(f.request_id)[5] == RECOURSED
    # a later full repayment is paid to the seller, who now holds the token
    kit.repay(slot_id, FACE)
    tf.transact(tf.c.receivables.functions.claim(f.token_id), "supplier1")
    assert kit.cash("supplier1") == 50_000_000


def test_exercise_recourse_reverts_without_recourse(tf: Platform, kit: Kit) -> None:
    _, _, f = _defaulted_with_financing(tf, kit, recourse=False)
    with tf.reverts("FinancingNoRecourse", f.request_id):
        tf.transact(tf.c.financing.functions.exerciseRecourse(f.request_id), "bank1")


def test_exercise_recourse_reverts_when_not_defaulted(tf: Platform, kit: Kit) -> None:
    slot_id, root = kit.accepted(days=20)
    f = kit.financed(root, recourse=True)
    with tf.reverts("FinancingNotDefaulted", slot_id):
        tf.transact(tf.c.financing.functions.exerciseRecourse(f.request_id), "bank1")


def test_exercise_recourse_reverts_when_token_moved(tf: Platform, kit: Kit) -> None:
    slot_id, root = kit.accepted(days=20)
    f = kit.financed(root, amount=50_000_000, recourse=True)
    tf.transact(tf.c.receivables.functions.transfer(f.token_id, kit.a("bank2")), "bank1")
    kit.to_maturity(slot_id, extra=8 * DAY)
    tf.transact(tf.c.receivables.functions.markDefaulted(slot_id, 0), "operator")
    with tf.reverts("FinancingTokenMoved", f.request_id, f.token_id):
        tf.transact(tf.c.financing.functions.exerciseRecourse(f.request_id), "bank1")


def test_exercise_recourse_reverts_when_not_financier(tf: Platform, kit: Kit) -> None:
    _, _, f = _defaulted_with_financing(tf, kit, recourse=True)
    with tf.reverts("FinancingNotFinancier", f.request_id, kit.a("bank2")):
        tf.transact(tf.c.financing.functions.exerciseRecourse(f.request_id), "bank2")


def test_exercise_recourse_reverts_twice(tf: Platform, kit: Kit) -> None:
    _, _, f = _defaulted_with_financing(tf, kit, recourse=True)
    kit.give("supplier1", 50_000_000)
    kit.approve("supplier1", "financing")
    tf.transact(tf.c.financing.functions.exerciseRecourse(f.request_id), "bank1")
    with tf.reverts("FinancingWrongStatus", f.request_id, RECOURSED):
        tf.transact(tf.c.financing.functions.exerciseRecourse(f.request_id), "bank1")


def test_recourse_transfer_reverts_when_not_financing_contract(tf: Platform, kit: Kit) -> None:
    _, root = kit.accepted()
    for fn in (
        tf.c.receivables.functions.recourseTransfer(root, kit.a("supplier1")),
        tf.c.receivables.functions.settleLocked(root, kit.a("bank1")),
        tf.c.receivables.functions.unlock(root),
        tf.c.receivables.functions.lock(root, kit.a("supplier1"), 1, 1),
    ):
        with tf.reverts("CertificateOnlyFinancing", kit.a("bank1")):
            tf.transact(fn, "bank1")


def test_discount_for_matches_quote(tf: Platform, kit: Kit) -> None:
    maturity = tf.now() + 30 * DAY + 100
    days, disc, price = tf.c.financing.functions.discountFor(FACE, 425, maturity).call()
    assert days in (30, 31) and disc == discount(FACE, 425, days) and price == FACE - disc
