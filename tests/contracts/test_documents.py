"""DocumentRegistry: an invoice hash backs at most one asset; consumers only; released on reject/cancel."""

from __future__ import annotations

from certkit import Kit, invoice

from tierflow.testing.chain import Platform

ZERO = "0x" + "00" * 20


def test_register_reverts_for_non_consumer(tf: Platform, kit: Kit) -> None:
    for who in ("core1", "supplier1", "bank1", "operator", "auditor", "outsider"):
        with tf.reverts("DocumentUnauthorizedConsumer", kit.a(who)):
            tf.transact(tf.c.documents.functions.register([invoice()], 1), who)


def test_release_reverts_for_non_consumer(tf: Platform, kit: Kit) -> None:
    h = invoice()
    slot_id, _ = kit.issue(invoices=[h])
    with tf.reverts("DocumentUnauthorizedConsumer", kit.a("core1")):
        tf.transact(tf.c.documents.functions.release([h], slot_id), "core1")


def test_set_consumer_operator_only(tf: Platform, kit: Kit) -> None:
    assert tf.c.documents.functions.isConsumer(tf.c.receivables.address).call() is True
    with tf.reverts("DocumentNotOperator", kit.a("core1")):
        tf.transact(tf.c.documents.functions.setConsumer(kit.a("core1"), True), "core1")


def test_register_direct_by_enabled_consumer(tf: Platform, kit: Kit) -> None:
    # a consumer registers for itself: the asset is always the caller
    tf.transact(tf.c.documents.functions.setConsumer(kit.a("supplier4"), True), "operator")
    h = invoice()
    receipt = tf.transact(tf.c.documents.functions.register([h], 7), "supplier4")
    assert tf.events(receipt, tf.c.documents, "DocumentRegistered") == [
        {"docHash": h, "asset": kit.a("supplier4"), "assetId": 7}
    ]
    with tf.reverts("DocumentNotOwnedByAsset", h, kit.a("supplier4"), 8):
        tf.transact(tf.c.documents.functions.release([h], 8), "supplier4")
    with tf.reverts("DocumentNoneGiven"):
        tf.transact(tf.c.documents.functions.register([], 7), "supplier4")
    tf.transact(tf.c.documents.functions.release([h], 7), "supplier4")
    assert tuple(tf.c.documents.functions.assetOf(h).call()) == (ZERO, 0)


def test_register_across_assets_rejects_reuse(tf: Platform, kit: Kit) -> None:
    h = invoice()
    slot_id, _ = kit.accepted(invoices=[h])
    tf.transact(tf.c.documents.functions.setConsumer(kit.a("supplier4"), True), "operator")
    with tf.reverts("DocumentAlreadyUsed", h, tf.c.receivables.address, slot_id):
        tf.transact(tf.c.documents.functions.register([h], 1), "supplier4")
