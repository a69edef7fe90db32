"""Lost-key recovery of bill package parties and a bank's quotes (issue 15), attacked on anvil.

After recoverPackageParties the new key accepts, pays, receives and is paid through its quotes; the old
key can do none of it.
"""

from __future__ import annotations

from billkit import YUAN, BillKit

from tierflow.testing.chain import Platform

REVERIFIED = b"\x0e" * 32
FACE = 10_000 * YUAN


def _recover(kit: BillKit, tf: Platform, who: str, index: int = 3) -> str:
    new = str(tf.extra_account(index).address)
    kit.tf.govern(kit.registry.functions.recover(kit.addr(who), new, REVERIFIED))
    return new


def test_recover_package_parties_lets_the_new_acceptor_pay_not_the_old(tf: Platform, kit: BillKit) -> None:
    package_id, root = kit.live(drawer="core1", acceptor="core1")
    old = kit.addr("core1")
    kit.fund("core1", FACE)  # the old key has the money: only the recovery stops it
    b = kit.bills.functions
    new = str(tf.extra_account(3).address)
    with kit.reverts("BillNotRecovered", old, new, 1):  # the registry decides first
        kit.tf.govern(b.recoverPackageParties(old, new, [package_id], [], REVERIFIED))
    _recover(kit, tf, "core1")
    with kit.reverts("BillNotGovernance", kit.addr("bank1")):
        kit.tx(b.recoverPackageParties(old, new, [package_id], [], REVERIFIED), "bank1")
    with kit.reverts("BillNotRecovered", old, new, 0):
        kit.tf.govern(b.recoverPackageParties(old, new, [], [], REVERIFIED))
    theirs = kit.issue(drawer="core2", acceptor="core2")
    with kit.reverts("BillNotParty", theirs, old):
        kit.tf.govern(b.recoverPackageParties(old, new, [package_id, theirs], [], REVERIFIED))
    receipt = kit.tf.govern(b.recoverPackageParties(old, new, [package_id], [], REVERIFIED))
    event = kit.event(receipt, "BillPartyRecovered")
    assert (event["packageId"], event["rangeId"], event["from"], event["to"]) == (package_id, 0, old, new)
    p = kit.package(package_id)
    assert (p["drawer"], p["acceptor"], p["payee"]) == (new, new, kit.addr("supplier1"))
    kit.mature(package_id)
    kit.present(root, "supplier1")
    with kit.reverts("BillNotAcceptor", package_id, old):  # the old key cannot pay (nor dishonour)
        kit.tx(b.pay(root), "core1")
    with kit.reverts("BillNotAcceptor", package_id, old):
        kit.tx(b.dishonour(root, 1), "core1")
    heir = tf.extra_account(3)
    before = kit.balance("supplier1")
    kit.fund(heir, FACE)
    kit.tx(b.pay(root), heir)
    assert kit.balance("supplier1") == before + FACE and kit.balance(heir) == 0


def test_recover_package_parties_lets_the_new_keys_accept_and_receive(tf: Platform, kit: BillKit) -> None:
    package_id = kit.issue(drawer="supplier2", acceptor="core1", payee="supplier1")
    core_new = _recover(kit, tf, "core1", 3)
    payee_new = _recover(kit, tf, "supplier1", 4)
    b = kit.bills.functions
    for old, new in ((kit.addr("core1"), core_new), (kit.addr("supplier1"), payee_new)):
        kit.tf.govern(b.recoverPackageParties(old, new, [package_id], [], REVERIFIED))
    with kit.reverts("BillNotAcceptor", package_id, kit.addr("core1")):
        kit.accept(package_id, "core1")
    kit.accept(package_id, tf.extra_account(3))
    invoices = kit.issued_invoices(package_id)
    with kit.reverts("BillNotPayee", package_id, kit.addr("supplier1")):
        kit.tx(b.receiveBill(package_id, invoices), "supplier1")
    receipt = kit.tx(b.receiveBill(package_id, invoices), tf.extra_account(4))
    range_id = int(kit.event(receipt, "BillReceived")["rangeId"])
    assert kit.range(range_id).holder == payee_new


def test_recover_package_parties_moves_a_banks_open_quote(tf: Platform, kit: BillKit) -> None:
    _, root = kit.live()
    quote_id = kit.quote(root, 1, 4_000, financier="bank2")
    mine = kit.quote(root, 4_001, 5_000, financier="bank1")
    old = kit.addr("bank2")
    kit.fund("bank2", FACE)  # the old key has the money: only the recovery stops it
    new = _recover(kit, tf, "bank2")
    b = kit.bills.functions
    with kit.reverts("RegistryParticipantSuspended", old):  # unmoved, the quote names a barred bank
        kit.tx(b.acceptQuote(quote_id), "supplier1")
    with kit.reverts("BillNotParty", mine, old):  # bank1's quote
        kit.tf.govern(b.recoverPackageParties(old, new, [], [quote_id, mine], REVERIFIED))
    receipt = kit.tf.govern(b.recoverPackageParties(old, new, [], [quote_id], REVERIFIED))
    event = kit.event(receipt, "BillQuoteRecovered")
    assert (event["quoteId"], event["from"], event["to"]) == (quote_id, old, new)
    with kit.reverts("BillNotQuoteFinancier", quote_id, old):  # the old key cannot withdraw it
        kit.tx(b.cancelQuote(quote_id), "bank2")
    kit.fund(tf.extra_account(3), FACE)
    receipt = kit.tx(b.acceptQuote(quote_id), "supplier1")
    discounted = kit.event(receipt, "BillDiscounted")
    assert discounted["financier"] == new and kit.range(int(discounted["newRangeId"])).holder == new
    assert kit.balance("bank2") == FACE  # the old key paid nothing
