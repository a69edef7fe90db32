"""Bills: discount (贴现) and rediscount (转贴现) by quote, DvP against the settlement token, rounding."""

from __future__ import annotations

from billkit import DAY, YUAN, BillKit, RangeStatus, expected_interest

from tierflow.testing.chain import Platform

FACE = 1_000_000 * YUAN


def test_discount_interest_rounds_half_up_and_counts_started_days(kit: BillKit) -> None:
    f = kit.bills.functions.discountInterest
    # 1,000,000.00 yuan at 3.00 % for 90 days: 100_000_000 × 300 × 90 / 3_600_000 = 750_000 fen exactly
    assert f(100_000_000, 300, 90 * DAY, 0).call() == [750_000, 90]
    # a started day counts as a whole day
    assert f(100_000_000, 300, 89 * DAY + 1, 0).call() == [750_000, 90]
    # 1,000 fen × 1 bps × 180 days / 3_600_000 = 0.05 fen: below half a fen, rounds to 0
    assert f(1_000, 1, 180 * DAY, 0).call() == [0, 180]
    # exactly half a fen rounds up: 100 × 100 × 180 = 1_800_000 → 0.5 fen → 1
    assert f(100, 100, 180 * DAY, 0).call() == [1, 180]
    # just below half rounds down: 1_799_999 / 3_600_000 → 0
    assert f(1_799_999, 1, 1 * DAY, 0).call() == [0, 1]
    # matured: no days, no interest
    assert f(100_000_000, 300, 10, 10).call() == [0, 0]
    for amount, rate, seconds in ((12_345, 275, 37 * DAY + 5), (99, 9_999, 181 * DAY), (1, 1, 1)):
        assert tuple(f(amount, rate, seconds, 0).call()) == expected_interest(amount, rate, seconds, 0)


def test_quote_discount_stores_quote(tf: Platform, kit: BillKit) -> None:
    _, root = kit.live(face=FACE)
    expiry = tf.now() + 2 * DAY
    receipt = kit.tx(kit.bills.functions.quoteDiscount(root, 1, 400_000, 350, expiry), "bank1")
    event = kit.event(receipt, "BillQuoted")
    assert event == {
        "quoteId": 1,
        "rangeId": root,
        "financier": kit.addr("bank1"),
        "start": 1,
        "end": 400_000,
        "rateBps": 350,
        "expiry": expiry,
    }
    assert list(kit.bills.functions.quote(1).call()) == [kit.addr("bank1"), root, 350, 1, 400_000, expiry]


def test_accept_quote_discounts_part_dvp(tf: Platform, kit: BillKit) -> None:
    package_id, root = kit.live(face=FACE)
    maturity = kit.package(package_id)["maturity"]
    quote_id = kit.quote(root, 1, 300_000 * YUAN, "bank1", rate_bps=285)
    kit.fund("bank1", 300_000 * YUAN)
    bank_before, seller_before = kit.balance("bank1"), kit.balance("supplier1")
    receipt = kit.tx(kit.bills.functions.acceptQuote(quote_id), "supplier1")
    at = int(tf.w3.eth.get_block(receipt["blockNumber"])["timestamp"])
    interest, days = expected_interest(300_000 * YUAN, 285, maturity, at)
    assert days == 90 and interest > 0
    price = 300_000 * YUAN - interest
    event = kit.event(receipt, "BillDiscounted")
    assert event == {
        "packageId": package_id,
        "quoteId": quote_id,
        "financier": kit.addr("bank1"),
        "from": kit.addr("supplier1"),
        "fromRangeId": root,
        "newRangeId": root + 1,
        "start": 1,
        "end": 300_000 * YUAN,
        "remainderRangeId": 0,
        "interest": interest,
        "price": price,
        "rediscount": False,
    }
    assert kit.balance("supplier1") - seller_before == price
    assert bank_before - kit.balance("bank1") == price
    bought = kit.range(root + 1)
    assert (bought.holder, bought.prev, bought.status) == (kit.addr("bank1"), root, RangeStatus.HELD)
    assert kit.endorsers(bought.id) == [kit.addr("supplier1")]
    assert list(kit.bills.functions.quote(quote_id).call())[0] == "0x" + "00" * 20
    kit.assert_covers(package_id)


def test_accept_quote_rediscount_between_financiers(kit: BillKit) -> None:
    package_id, root = kit.live(face=FACE)
    first = kit.discount(root, 1, FACE, "supplier1", "bank1", 300)
    bank_range = first["newRangeId"]
    second = kit.discount(bank_range, 1, 500_000 * YUAN, "bank1", "bank2", 250)
    assert second["rediscount"] is True
    assert second["from"] == kit.addr("bank1") and second["financier"] == kit.addr("bank2")
    assert kit.endorsers(second["newRangeId"]) == [kit.addr("bank1"), kit.addr("supplier1")]
    kit.assert_covers(package_id)


def test_accept_quote_middle_cut(kit: BillKit) -> None:
    package_id, root = kit.live(face=1_000)
    event = kit.discount(root, 400, 599, "supplier1")
    remainder = kit.range(event["remainderRangeId"])
    assert (remainder.start, remainder.end, remainder.holder) == (600, 1_000, kit.addr("supplier1"))
    assert [(r.start, r.end) for r in kit.assert_covers(package_id)] == [(1, 399), (400, 599), (600, 1_000)]


def test_quote_discount_reverts_for_non_financier(kit: BillKit) -> None:
    _, root = kit.live(face=FACE)
    for who, held in (("supplier2", 2), ("core1", 1), ("auditor", 16)):
        with kit.reverts("RegistryMissingRole", kit.addr(who), 4, held):
            kit.quote(root, 1, 100, who)


def test_quote_discount_reverts_on_own_range(kit: BillKit) -> None:
    _, root = kit.live(face=FACE)
    bank_range = kit.discount(root, 1, 100, "supplier1", "bank1")["newRangeId"]
    with kit.reverts("BillSelfTransfer", kit.addr("bank1")):
        kit.quote(bank_range, 1, 100, "bank1")


def test_quote_discount_reverts_for_invalid_rate_or_expiry(tf: Platform, kit: BillKit) -> None:
    _, root = kit.live(face=FACE)
    for rate in (0, 10_001):
        with kit.reverts("BillInvalidRate", rate):
            kit.quote(root, 1, 100, rate_bps=rate)
    now = tf.now()
    with kit.reverts("BillInvalidExpiry", now - 1):
        kit.quote(root, 1, 100, expiry=now - 1)


def test_quote_discount_reverts_for_rules_of_the_range(tf: Platform, kit: BillKit) -> None:
    package_id, root = kit.live(face=FACE, splittable=False)
    with kit.reverts("BillNotSplittable", package_id):
        kit.quote(root, 1, 100)
    with kit.reverts("BillInvalidSubRange", root, 1, FACE + 1):
        kit.quote(root, 1, FACE + 1)
    locked_pkg, locked = kit.live(face=FACE, not_transferable=True)
    with kit.reverts("BillNotTransferable", locked_pkg):
        kit.quote(locked, 1, FACE)
    with kit.reverts("BillUnknownRange", 999):
        kit.quote(999, 1, FACE)


def test_accept_quote_reverts_for_non_holder(kit: BillKit) -> None:
    _, root = kit.live(face=FACE)
    quote_id = kit.quote(root, 1, 100)
    with kit.reverts("BillNotHolder", root, kit.addr("supplier2"), kit.addr("supplier1")):
        kit.tx(kit.bills.functions.acceptQuote(quote_id), "supplier2")


def test_accept_quote_reverts_after_expiry(tf: Platform, kit: BillKit) -> None:
    _, root = kit.live(face=FACE)
    expiry = tf.now() + DAY
    quote_id = kit.quote(root, 1, 100, expiry=expiry)
    tf.increase_time(DAY)
    with kit.reverts("BillQuoteExpired", quote_id, expiry):
        kit.tx(kit.bills.functions.acceptQuote(quote_id), "supplier1")


def test_accept_quote_reverts_when_quoted_part_was_moved_meanwhile(kit: BillKit) -> None:
    _, root = kit.live(face=FACE)
    quote_id = kit.quote(root, 1, 100)
    kit.endorse(root, 1, 50, "supplier2", "supplier1")
    with kit.reverts("BillInvalidSubRange", root, 1, 100):
        kit.tx(kit.bills.functions.acceptQuote(quote_id), "supplier1")


def test_accept_quote_reverts_without_financier_allowance(kit: BillKit) -> None:
    _, root = kit.live(face=FACE)
    quote_id = kit.quote(root, 1, 10_000, rate_bps=300)
    with kit.reverts("ERC20InsufficientAllowance"):
        kit.tx(kit.bills.functions.acceptQuote(quote_id), "supplier1")
    assert kit.range(root).start == 1  # nothing moved


def test_accept_quote_reverts_at_maturity(tf: Platform, kit: BillKit) -> None:
    maturity = tf.now() + 10 * DAY
    package_id, root = kit.live(face=FACE, maturity=maturity)
    quote_id = kit.quote(root, 1, 100, expiry=maturity + DAY)
    kit.mature(package_id)
    with kit.reverts("BillMatured", package_id, maturity):
        kit.tx(kit.bills.functions.acceptQuote(quote_id), "supplier1")


def test_accept_quote_reverts_for_unknown_or_used_quote(kit: BillKit) -> None:
    _, root = kit.live(face=FACE)
    with kit.reverts("BillUnknownQuote", 7):
        kit.tx(kit.bills.functions.acceptQuote(7), "supplier1")
    quote_id = kit.quote(root, 1, 100)
    kit.fund("bank1", 100)
    kit.tx(kit.bills.functions.acceptQuote(quote_id), "supplier1")
    with kit.reverts("BillUnknownQuote", quote_id):
        kit.tx(kit.bills.functions.acceptQuote(quote_id), "supplier1")


def test_accept_quote_reverts_when_financier_suspended(kit: BillKit) -> None:
    _, root = kit.live(face=FACE)
    quote_id = kit.quote(root, 1, 100, "bank2")
    kit.tx(kit.registry.functions.suspend(kit.addr("bank2")), "operator")
    with kit.reverts("RegistryParticipantSuspended", kit.addr("bank2")):
        kit.tx(kit.bills.functions.acceptQuote(quote_id), "supplier1")


def test_cancel_quote_by_financier_only(kit: BillKit) -> None:
    _, root = kit.live(face=FACE)
    quote_id = kit.quote(root, 1, 100, "bank1")
    with kit.reverts("BillNotQuoteFinancier", quote_id, kit.addr("bank2")):
        kit.tx(kit.bills.functions.cancelQuote(quote_id), "bank2")
    receipt = kit.tx(kit.bills.functions.cancelQuote(quote_id), "bank1")
    assert kit.event(receipt, "BillQuoteCancelled") == {"quoteId": quote_id, "financier": kit.addr("bank1")}
    with kit.reverts("BillUnknownQuote", quote_id):
        kit.tx(kit.bills.functions.acceptQuote(quote_id), "supplier1")


def test_accept_quote_reverts_when_paused(kit: BillKit) -> None:
    _, root = kit.live(face=FACE)
    quote_id = kit.quote(root, 1, 100)
    kit.tx(kit.registry.functions.pause(), "operator")
    with kit.reverts("RegistryPlatformPaused"):
        kit.tx(kit.bills.functions.acceptQuote(quote_id), "supplier1")
