"""Issue 11: each party acting against the others where the old rules let it (one test per attack)."""

from __future__ import annotations

from certkit import ACCEPTED, DAY, DEFAULTED, FACE, LAPSED, MAX_UINT, QUOTED, R_ACCEPTED, REPAID, Kit
from test_forwarder import signed_request

from tierflow.testing.chain import Platform

# ---------------------------------------------------------------------------- finding 1: re-quote


def test_requote_frontrun_acceptance_of_old_terms_reverts(tf: Platform, kit: Kit) -> None:
    """The bank sees the seller's acceptance in the pool and lands a 10,000 bps re-quote first."""
    _, root = kit.accepted(days=179)
    request_id, _ = kit.request_financing(root)
    kit.quote(request_id, rate=360)
    seen = kit.request(request_id)  # what the seller's screen shows
    kit.quote(request_id, rate=10_000)  # the bank's front-run
    now = kit.request(request_id)
    with tf.reverts("FinancingQuoteChanged", request_id, 10_000, now[9], now[7]):
        tf.transact(tf.c.financing.functions.acceptQuote(request_id, seen[6], seen[9], seen[7]), "supplier1")
    assert kit.request(request_id)[5] == QUOTED  # nothing accepted: the bank cannot fund
    # each term binds on its own: the right rate with another price or expiry fails too
    for terms in ((now[6], now[9] + 1, now[7]), (now[6], now[9], now[7] - 1)):
        with tf.reverts("FinancingQuoteChanged", request_id, now[6], now[9], now[7]):
            tf.transact(tf.c.financing.functions.acceptQuote(request_id, *terms), "supplier1")
    kit.accept_quote(request_id)  # the seller may still accept the new terms knowingly
    assert kit.request(request_id)[5] == R_ACCEPTED


# ---------------------------------------------------------------------------- finding 2: stale quotes


def test_stale_quote_validity_capped_at_24h_by_default(tf: Platform, kit: Kit) -> None:
    """The bank quotes until maturity − 1 day, to fund only if rates move its way."""
    slot_id, root = kit.accepted(days=90)
    request_id, _ = kit.request_financing(root)
    maturity = kit.slot(slot_id)[3]
    for expiry in (maturity - DAY, tf.now() + 24 * 3600 + 60):
        with tf.reverts("FinancingInvalidExpiry", expiry):
            tf.transact(tf.c.financing.functions.quote(request_id, 360, expiry), "bank1")
    assert tf.c.registry.functions.quoteValidity().call() == 24 * 3600
    # the operator may widen it to 7 days at most, never to an option until maturity
    with tf.reverts("RegistryInvalidQuoteValidity", 7 * DAY + 1, 7 * DAY):
        tf.govern(tf.c.registry.functions.setQuoteValidity(7 * DAY + 1))
    with tf.reverts("RegistryInvalidQuoteValidity", 0, 7 * DAY):
        tf.govern(tf.c.registry.functions.setQuoteValidity(0))
    receipt = tf.govern(tf.c.registry.functions.setQuoteValidity(7 * DAY))
    assert tf.events(receipt, tf.c.registry, "QuoteValidityChanged")[0]["validity"] == 7 * DAY
    tf.transact(tf.c.financing.functions.quote(request_id, 360, tf.now() + 7 * DAY - 60), "bank1")


def test_stale_quote_fund_after_expiry_reverts_and_anyone_lapses(tf: Platform, kit: Kit) -> None:
    """An accepted quote the bank leaves unfunded: it cannot fund later, and the seller's token is freed."""
    _, root = kit.accepted()
    request_id, locked = kit.request_financing(root, amount=FACE // 2)
    kit.quote(request_id, expiry_s=3600)
    kit.accept_quote(request_id)
    expiry = kit.request(request_id)[7]
    with tf.reverts("FinancingQuoteLive", request_id, expiry):
        tf.transact(tf.c.financing.functions.lapse(request_id), "supplier2")
    tf.increase_time(3600)
    kit.give("bank1", FACE)
    kit.approve("bank1", "financing")
    with tf.reverts("FinancingQuoteExpired", request_id, expiry):
        tf.transact(tf.c.financing.functions.fund(request_id), "bank1")
    receipt = tf.transact(tf.c.financing.functions.lapse(request_id), "supplier2")  # anyone
    assert tf.events(receipt, tf.c.financing, "FinancingLapsed") == [
        {
            "requestId": request_id, "seller": kit.a("supplier1"), "financier": kit.a("bank1"),
            "by": kit.a("supplier2"),
        }
    ]  # fmt: skip
    assert tf.events(receipt, tf.c.receivables, "CertificateUnlocked")[0]["tokenId"] == locked
    assert kit.request(request_id)[5] == LAPSED and kit.token(locked)[5] is False
    with tf.reverts("FinancingWrongStatus", request_id, LAPSED):
        tf.transact(tf.c.financing.functions.lapse(request_id), "supplier2")
    kit.transfer_value(locked, "supplier1", "supplier2", FACE // 2)  # free again


# ---------------------------------------------------------------------------- finding 6: default


def test_mark_defaulted_by_stranger_reverts(tf: Platform, kit: Kit) -> None:
    """A party holding nothing of this payable (or naming another's token) cannot default it."""
    slot_id, root = kit.accepted(days=10)
    _, other = kit.accepted(supplier="supplier2", days=10)
    kit.to_maturity(slot_id, extra=8 * DAY)
    for who, token in (("supplier2", other), ("supplier2", root), ("bank2", root), ("bank2", 0)):
        with tf.reverts("CertificateNotAllowed", kit.a(who)):
            tf.transact(tf.c.receivables.functions.markDefaulted(slot_id, token), who)
    assert kit.slot(slot_id)[5] == ACCEPTED
    tf.transact(tf.c.receivables.functions.markDefaulted(slot_id, root), "supplier1")
    assert kit.slot(slot_id)[5] == DEFAULTED


# ---------------------------------------------------------------------------- finding 7: no-op events


def test_self_transfer_certificate_reverts(tf: Platform, kit: Kit) -> None:
    _, root = kit.accepted()
    me = kit.a("supplier1")
    with tf.reverts("CertificateSelfTransfer", root, me):
        tf.transact(tf.c.receivables.functions.transfer(root, me), "supplier1")
    with tf.reverts("CertificateSelfTransfer", root, me):
        tf.transact(tf.c.receivables.functions.transferValue(root, me, FACE), "supplier1")
    with tf.reverts("CertificateSelfTransfer", root, me):
        tf.transact(tf.c.receivables.functions.split(root, FACE), "supplier1")
    kit.transfer_value(root, "supplier1", "supplier1", 1_000)  # a real split still works


def test_settlement_token_zero_and_self_transfers_revert(tf: Platform, kit: Kit) -> None:
    """Address poisoning: transferFrom(victim, lookalike, 0) needs no allowance and emits a Transfer."""
    kit.give("supplier1", 1_000)
    t = tf.c.token.functions
    with tf.reverts("SettlementZeroAmount"):
        tf.transact(t.transferFrom(kit.a("supplier1"), kit.a("supplier2"), 0), "bank2")
    with tf.reverts("SettlementZeroAmount"):
        tf.transact(t.transfer(kit.a("supplier2"), 0), "supplier1")
    with tf.reverts("SettlementSelfTransfer", kit.a("supplier1")):
        tf.transact(t.transfer(kit.a("supplier1"), 10), "supplier1")
    with tf.reverts("SettlementZeroAmount"):
        tf.transact(t.mint(kit.a("supplier1"), 0), "bank1")
    with tf.reverts("SettlementNotSystem", kit.a("bank1")):
        tf.transact(t.collect(kit.a("supplier1"), kit.a("bank1"), 10), "bank1")


def test_renounce_role_not_held_reverts(tf: Platform, kit: Kit) -> None:
    registry = tf.c.registry.functions
    role = registry.OPERATOR_ROLE().call()
    with tf.reverts("RegistryRoleUnchanged", role, kit.a("supplier1")):
        tf.transact(registry.renounceRole(role, kit.a("supplier1")), "supplier1")
    # role grants belong to governance (issue 15): its calls revert the same way
    with tf.reverts("RegistryRoleUnchanged", role, kit.a("operator")):
        tf.govern(registry.grantRole(role, kit.a("operator")))
    with tf.reverts("RegistryRoleUnchanged", role, kit.a("supplier1")):
        tf.govern(registry.revokeRole(role, kit.a("supplier1")))


def test_execute_batch_failed_call_reverts_without_burning_nonce(tf: Platform, kit: Kit) -> None:
    """A batch relayer must not burn a signer's nonce (ExecutedForwardRequest(false)) on the side."""
    _, root = kit.accepted()
    bad = signed_request(tf, "supplier2", tf.c.receivables.functions.transfer(root, kit.a("supplier3")))
    with tf.reverts("ForwarderBatchCallFailed", 0):
        tf.transact(tf.c.forwarder.functions.executeBatch([bad], "0x" + "00" * 20), "operator")
    with tf.reverts("ForwarderPartialBatch", kit.a("operator")):
        tf.transact(tf.c.forwarder.functions.executeBatch([bad], kit.a("operator")), "operator")
    assert tf.c.forwarder.functions.nonces(kit.a("supplier2")).call() == 0


# ---------------------------------------------------------------------------- finding 3: replay


def _acceptance_signed_then_quote_expired(tf: Platform, kit: Kit) -> tuple[int, int, tuple[object, ...]]:
    """A custodial acceptQuote signed on the current terms whose quote expired before the relay landed:
    (request id, the quote's expiry, the signed request)."""
    _, root = kit.accepted(days=179)
    request_id, _ = kit.request_financing(root)
    kit.quote(request_id, rate=360, expiry_s=600)
    r = kit.request(request_id)
    accept = tf.c.financing.functions.acceptQuote(request_id, r[6], r[9], r[7])
    request = signed_request(tf, "supplier1", accept, deadline=tf.now() + 3000)
    tf.increase_time(600)
    return request_id, r[7], request


def test_replay_reverted_acceptance_voided_request_never_succeeds_later(tf: Platform, kit: Kit) -> None:
    """A custodial acceptQuote reverted (it raced the expiry); the bank re-quotes and relays the old
    calldata itself. The relayer voids the failed request at once, so the replay fails."""
    request_id, expiry, request = _acceptance_signed_then_quote_expired(tf, kit)
    with tf.reverts("FailedCall"):
        tf.transact(tf.c.forwarder.functions.execute(request), "operator")
    receipt = tf.transact(tf.c.forwarder.functions.voidRequest(request), "operator")
    (voided,) = tf.events(receipt, tf.c.forwarder, "ForwardRequestVoided")
    assert voided["signer"] == kit.a("supplier1") and voided["nonce"] == 0
    # the bank re-quotes on the same terms it once offered and relays the exact old calldata
    tf.transact(tf.c.financing.functions.quote(request_id, 360, expiry + 600), "bank1")
    with tf.reverts("ERC2771ForwarderInvalidSigner"):
        tf.transact(tf.c.forwarder.functions.execute(request), "bank1")
    assert kit.request(request_id)[5] == QUOTED


def test_replay_of_request_failed_through_execute_or_void_reverts(tf: Platform, kit: Kit) -> None:
    """The relayer's one transaction: the failed acceptance uses up its nonce where it failed (no second
    void transaction that could sit unmined), so the bank's later replay of the calldata fails."""
    request_id, expiry, request = _acceptance_signed_then_quote_expired(tf, kit)
    receipt = tf.transact(tf.c.forwarder.functions.executeOrVoid(request), "operator")
    (failed,) = tf.events(receipt, tf.c.forwarder, "ForwardRequestFailed")
    assert failed["signer"] == kit.a("supplier1") and failed["nonce"] == 0
    selector = bytes(tf.w3.keccak(text="FinancingQuoteExpired(uint256,uint64)")[:4])
    assert bytes(failed["reason"])[:4] == selector
    assert tf.events(receipt, tf.c.forwarder, "ExecutedForwardRequest") == []
    assert tf.c.forwarder.functions.nonces(kit.a("supplier1")).call() == 1
    tf.transact(tf.c.financing.functions.quote(request_id, 360, expiry + 600), "bank1")
    for relay in (tf.c.forwarder.functions.execute, tf.c.forwarder.functions.executeOrVoid):
        with tf.reverts("ERC2771ForwarderInvalidSigner"):
            tf.transact(relay(request), "bank1")
    assert kit.request(request_id)[5] == QUOTED
    # a request that succeeds is relayed as by execute
    _, free = kit.accepted()
    good = signed_request(tf, "supplier1", tf.c.receivables.functions.transfer(free, kit.a("supplier2")))
    ok = tf.transact(tf.c.forwarder.functions.executeOrVoid(good), "operator")
    assert tf.events(ok, tf.c.forwarder, "ExecutedForwardRequest")[0]["success"] is True
    assert tf.events(ok, tf.c.forwarder, "ForwardRequestFailed") == []
    assert kit.token(free)[0] == kit.a("supplier2")


def test_void_request_refuses_a_request_that_would_succeed(tf: Platform, kit: Kit) -> None:
    """Voiding only kills failed requests: a griefer cannot use it to deny a good one."""
    _, root = kit.accepted()
    good = signed_request(tf, "supplier1", tf.c.receivables.functions.transfer(root, kit.a("supplier2")))
    with tf.reverts("ForwarderRequestWouldSucceed", kit.a("supplier1"), 0):
        tf.transact(tf.c.forwarder.functions.voidRequest(good), "bank2")
    tf.transact(tf.c.forwarder.functions.execute(good), "operator")
    assert kit.token(root)[0] == kit.a("supplier2")


def test_signed_request_deadline_more_than_one_hour_ahead_reverts(tf: Platform, kit: Kit) -> None:
    """A 400-day deadline made a signed request a long-lived bearer instrument."""
    _, root = kit.accepted()
    deadline = tf.now() + 400 * DAY
    request = signed_request(
        tf, "supplier1", tf.c.receivables.functions.transfer(root, kit.a("supplier2")), deadline=deadline
    )
    with tf.reverts("ForwarderDeadlineTooFar") as caught:
        tf.transact(tf.c.forwarder.functions.execute(request), "operator")
    assert caught.error is not None and caught.error.values[0] == deadline
    assert kit.token(root)[0] == kit.a("supplier1")


# ---------------------------------------------------------------------------- finding 5: pro rata


def test_partial_repayment_then_default_claimable_pro_rata_at_once(tf: Platform, kit: Kit) -> None:
    """The obligor pays 60 % and defaults: the money must not sit in escrow forever."""
    slot_id, root = kit.accepted(days=10)
    b = kit.transfer_value(root, "supplier1", "supplier2", 30_000_001)  # odd values: rounding shows
    c = kit.transfer_value(root, "supplier1", "supplier3", 9_999_999)
    kit.repay(slot_id, 60_000_000)
    kit.to_maturity(slot_id, extra=8 * DAY)
    tf.transact(tf.c.receivables.functions.markDefaulted(slot_id, 0), "operator")
    paid: dict[int, int] = {}
    for token, holder in ((b, "supplier2"), (root, "supplier1"), (c, "supplier3")):
        receipt = tf.transact(tf.c.receivables.functions.claim(token), holder)
        paid[token] = tf.events(receipt, tf.c.receivables, "CertificateClaimed")[0]["amount"]
    # 60 % of each, floored; the fen lost to flooring stay in escrow for the next payment
    assert paid == {b: 18_000_000, root: 36_000_000, c: 5_999_999}
    escrow = tf.c.token.functions.balanceOf(tf.c.receivables.address).call()
    assert escrow == 60_000_000 - sum(paid.values()) == 1
    # a recovery after default (40 %) is claimable at once, and then every holder has its full value
    kit.repay(slot_id, 40_000_000)
    assert kit.slot(slot_id)[5] == REPAID
    receipt = tf.transact(tf.c.receivables.functions.payout([root, b, c]), "operator")  # pushes: same rule
    pushed = {e["tokenId"]: e["amount"] for e in tf.events(receipt, tf.c.receivables, "CertificateClaimed")}
    totals = {t: paid[t] + pushed[t] for t in paid}
    assert totals == {b: 30_000_001, root: 60_000_000, c: 9_999_999}
    assert tf.c.token.functions.balanceOf(tf.c.receivables.address).call() == 0  # no fen stranded
    assert kit.slot(slot_id)[7] == FACE and all(kit.token(t)[2] == 0 for t in paid)


def test_pro_rata_claim_order_changes_nothing_and_dust_waits(tf: Platform, kit: Kit) -> None:
    """Claiming first, or twice, takes no more than one's share; the floored fen wait for the next payment."""
    slot_id, root = kit.accepted(days=10)
    b = kit.transfer_value(root, "supplier1", "supplier2", 25_000_000)
    tiny = kit.transfer_value(root, "supplier1", "supplier3", 1)
    kit.repay(slot_id, 33_333_333)
    kit.to_maturity(slot_id)
    first = tf.transact(tf.c.receivables.functions.claim(root), "supplier1")
    assert (
        tf.events(first, tf.c.receivables, "CertificateClaimed")[0]["amount"] == 24_999_999
    )  # of 74,999,999
    with tf.reverts("CertificateNothingToClaim", root, 33_333_333, 24_999_999):
        tf.transact(tf.c.receivables.functions.claim(root), "supplier1")
    second = tf.transact(tf.c.receivables.functions.claim(b), "supplier2")
    assert tf.events(second, tf.c.receivables, "CertificateClaimed")[0]["amount"] == 8_333_333
    with tf.reverts("CertificateNothingToClaim", tiny, 33_333_333, 33_333_332):  # 1 × 1/3 fen floors to 0
        tf.transact(tf.c.receivables.functions.claim(tiny), "supplier3")
    kit.repay(slot_id, FACE - 33_333_333)
    tf.transact(tf.c.receivables.functions.payout([root, b, tiny]), "operator")
    assert kit.cash("supplier3") == 1 and kit.cash("supplier2") == 25_000_000
    assert tf.c.token.functions.balanceOf(tf.c.receivables.address).call() == 0


# ---------------------------------------------------------------------------- finding 4: recourse


def _funded_then_defaulted(tf: Platform, kit: Kit) -> tuple[int, int, int, int]:
    slot_id, root = kit.accepted(days=20)
    f = kit.financed(root, amount=50_000_000, recourse=True)
    kit.to_maturity(slot_id, extra=8 * DAY)
    tf.transact(tf.c.receivables.functions.markDefaulted(slot_id, 0), "operator")
    return slot_id, root, f.request_id, f.token_id


def test_recourse_collected_from_seller_that_never_approves(tf: Platform, kit: Kit) -> None:
    """The seller took the better with-recourse price, never approves and moves its cash away."""
    slot_id, _, request_id, token = _funded_then_defaulted(tf, kit)
    proceeds = kit.cash("supplier1")
    tf.transact(tf.c.token.functions.transfer(kit.a("supplier4"), proceeds - 1_000_000), "supplier1")
    bank_before = kit.cash("bank1")
    receipt = tf.transact(tf.c.financing.functions.exerciseRecourse(request_id), "bank1")
    assert tf.events(receipt, tf.c.financing, "RecourseExercised")[0]["amount"] == 50_000_000
    (collected,) = tf.events(receipt, tf.c.financing, "RecourseCollected")
    assert (collected["amount"], collected["remaining"]) == (1_000_000, 49_000_000)
    assert kit.cash("bank1") - bank_before == 1_000_000 and kit.cash("supplier1") == 0
    f = tf.c.financing.functions
    assert f.recourseOwed(kit.a("supplier1")).call() == 49_000_000
    # no new financing while it owes
    _, other = kit.accepted(supplier="supplier1", days=30)
    with tf.reverts("FinancingRecourseOwed", kit.a("supplier1"), 49_000_000):
        kit.request_financing(other, financier="bank2")
    # suspended, it still owes: whatever reaches its balance is collected by anyone's call
    kit.give("supplier1", 9_000_000)  # e.g. a bill payment
    tf.transact(tf.c.registry.functions.suspend(kit.a("supplier1")), "operator")
    tf.transact(f.collectRecourse(kit.a("supplier1")), "bank2")
    assert f.recourseOwed(kit.a("supplier1")).call() == 40_000_000
    with tf.reverts("FinancingNothingToCollect", kit.a("supplier1"), 40_000_000):
        tf.transact(f.collectRecourse(kit.a("supplier1")), "bank2")
    tf.transact(tf.c.registry.functions.reinstate(kit.a("supplier1")), "operator")
    # the seller now holds the defaulted token; a recovery it claims pays its debt first (netting)
    kit.repay(slot_id, 50_000_000)  # 50 % recovery: 25,000,000 on this token
    tf.transact(tf.c.receivables.functions.claim(token), "supplier1")
    assert f.recourseOwed(kit.a("supplier1")).call() == 15_000_000
    assert kit.cash("supplier1") == 0
    assert kit.cash("bank1") - bank_before == 35_000_000  # never more than the debt


def test_recourse_financier_keeps_only_its_share_of_earlier_recoveries(tf: Platform, kit: Kit) -> None:
    """The bank must not take the full value by recourse and also keep the recoveries for it."""
    slot_id, _, request_id, token = _funded_then_defaulted(tf, kit)
    kit.repay(slot_id, 20_000_000)  # 20 % recovered before recourse, unclaimed
    bank_before, seller_before = kit.cash("bank1"), kit.cash("supplier1")
    receipt = tf.transact(tf.c.financing.functions.exerciseRecourse(request_id), "bank1")
    # the bank's pending 20 % share (10,000,000) is paid to it, the debt is the rest
    assert tf.events(receipt, tf.c.financing, "RecourseExercised")[0]["amount"] == 40_000_000
    assert kit.cash("bank1") - bank_before == 50_000_000  # 10,000,000 share + 40,000,000 collected
    assert seller_before - kit.cash("supplier1") == 40_000_000
    assert kit.token(token)[0] == kit.a("supplier1") and kit.token(token)[2] == 40_000_000
    # later recoveries belong to the seller, who bore the loss
    kit.repay(slot_id, 80_000_000)
    tf.transact(tf.c.receivables.functions.claim(token), "supplier1")
    assert kit.cash("supplier1") == seller_before
    assert tf.c.financing.functions.recourseOwed(kit.a("supplier1")).call() == 0


def test_recourse_funding_proceeds_net_against_debt(tf: Platform, kit: Kit) -> None:
    """A request made before the debt arose is funded after: the proceeds pay the debt first."""
    slot_id, root = kit.accepted(days=20)
    _, later = kit.accepted(days=60)
    f = kit.financed(root, amount=50_000_000, recourse=True)
    tf.transact(tf.c.token.functions.transfer(kit.a("supplier4"), kit.cash("supplier1")), "supplier1")
    kit.to_maturity(slot_id, extra=8 * DAY)
    pending, _ = kit.request_financing(later, financier="bank2")
    kit.quote(pending, financier="bank2")
    kit.accept_quote(pending)
    tf.transact(tf.c.receivables.functions.markDefaulted(slot_id, 0), "operator")
    tf.transact(tf.c.financing.functions.exerciseRecourse(f.request_id), "bank1")
    assert tf.c.financing.functions.recourseOwed(kit.a("supplier1")).call() == 50_000_000
    bank1 = kit.cash("bank1")
    price = kit.request(pending)[9]
    kit.give("bank2", price)
    kit.approve("bank2", "financing", MAX_UINT)
    tf.transact(tf.c.financing.functions.fund(pending), "bank2")
    assert kit.cash("bank1") - bank1 == 50_000_000
    assert kit.cash("supplier1") == price - 50_000_000
    assert tf.c.financing.functions.recourseOwed(kit.a("supplier1")).call() == 0


def test_recourse_payout_push_to_seller_that_never_claims_nets_at_source(tf: Platform, kit: Kit) -> None:
    """The indebted seller never claims its recovery (it would only pay its debt): the operator's payout
    push pays the debt in the same transaction, with no allowance and no act of the seller."""
    slot_id, _, request_id, token = _funded_then_defaulted(tf, kit)
    tf.transact(tf.c.token.functions.transfer(kit.a("supplier4"), kit.cash("supplier1")), "supplier1")
    tf.transact(tf.c.financing.functions.exerciseRecourse(request_id), "bank1")
    kit.repay(slot_id, 40_000_000)  # a 40 % recovery: 20,000,000 on the seller's token
    bank_before = kit.cash("bank1")
    receipt = tf.transact(tf.c.receivables.functions.payout([token]), "operator")
    assert tf.events(receipt, tf.c.receivables, "CertificateClaimed")[0]["amount"] == 20_000_000
    (collected,) = tf.events(receipt, tf.c.financing, "RecourseCollected")
    assert (collected["amount"], collected["remaining"]) == (20_000_000, 30_000_000)
    assert kit.cash("supplier1") == 0 and kit.cash("bank1") - bank_before == 20_000_000
