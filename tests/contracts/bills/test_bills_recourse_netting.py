"""Issue 11: bill money reaching a seller that owes certificate recourse pays the debt first (netting)."""

from __future__ import annotations

from billkit import BillKit
from certkit import DAY, Kit

from tierflow.testing.chain import Platform

FACE_BILL = 30_000_000  # [fen]


def _seller_owing_recourse(tf: Platform) -> Kit:
    """supplier1 financed a certificate with recourse, moved its cash away and the payable defaulted:
    it owes bank1 50,000,000 fen and has nothing on the platform."""
    ck = Kit(tf)
    slot_id, root = ck.accepted(days=20)
    f = ck.financed(root, amount=50_000_000, recourse=True)
    tf.transact(tf.c.token.functions.transfer(ck.a("supplier4"), ck.cash("supplier1")), "supplier1")
    ck.to_maturity(slot_id, extra=8 * DAY)
    tf.transact(tf.c.receivables.functions.markDefaulted(slot_id, 0), "operator")
    tf.transact(tf.c.financing.functions.exerciseRecourse(f.request_id), "bank1")
    assert tf.c.financing.functions.recourseOwed(ck.a("supplier1")).call() == 50_000_000
    return ck


def test_bill_payment_to_seller_owing_recourse_nets_at_source(tf: Platform, kit: BillKit) -> None:
    """The seller withholds cooperation (no allowance, takes its cash out at once): the acceptor's payment
    of its bill pays the bank's recourse debt in the same transaction."""
    package_id, range_id = kit.live(face=FACE_BILL, maturity=tf.now() + 60 * DAY)
    ck = _seller_owing_recourse(tf)
    kit.mature(package_id)
    kit.present(range_id, "supplier1")
    bank_before = ck.cash("bank1")
    kit.fund("core1", FACE_BILL)
    receipt = tf.transact(tf.c.bills.functions.pay(range_id), "core1")
    (collected,) = tf.events(receipt, tf.c.financing, "RecourseCollected")
    assert (collected["seller"], collected["financier"]) == (ck.a("supplier1"), ck.a("bank1"))
    assert (collected["amount"], collected["remaining"]) == (FACE_BILL, 20_000_000)
    assert ck.cash("supplier1") == 0 and ck.cash("bank1") - bank_before == FACE_BILL
    assert tf.c.financing.functions.recourseOwed(ck.a("supplier1")).call() == 20_000_000
    assert tf.c.token.functions.allowance(ck.a("supplier1"), tf.c.financing.address).call() == 0


def test_bill_discount_proceeds_of_seller_owing_recourse_net_at_source(tf: Platform, kit: BillKit) -> None:
    """Discounting a bill (price to the seller) pays the debt first; the rest stays with the seller."""
    _, range_id = kit.live(face=FACE_BILL, maturity=tf.now() + 60 * DAY)
    ck = _seller_owing_recourse(tf)
    quote_id = kit.quote(range_id, 1, FACE_BILL, financier="bank2")
    kit.fund("bank2", FACE_BILL)
    receipt = tf.transact(tf.c.bills.functions.acceptQuote(quote_id), "supplier1")
    price = tf.events(receipt, tf.c.bills, "BillDiscounted")[0]["price"]
    (collected,) = tf.events(receipt, tf.c.financing, "RecourseCollected")
    assert collected["amount"] == price and ck.cash("supplier1") == 0
    assert tf.c.financing.functions.recourseOwed(ck.a("supplier1")).call() == 50_000_000 - price


def test_net_recourse_by_non_system_caller_reverts(tf: Platform, kit: BillKit) -> None:
    """Nobody but a system contract may trigger netting on someone's behalf."""
    with tf.reverts("FinancingNotSystemContract", kit.addr("bank1")):
        tf.transact(tf.c.financing.functions.netRecourse(kit.addr("supplier1")), "bank1")
    with tf.reverts("BillFinancingAlreadySet", tf.c.financing.address):
        tf.transact(tf.c.bills.functions.setFinancing(tf.c.financing.address), "operator")
