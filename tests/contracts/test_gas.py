"""Gas targets: split-transfer to a new holder ≤ 115,000 behind the proxies (issue 15; 110,000 before
them, issue 11); issue ≤ 250,000; fund ≤ 150,000."""

from __future__ import annotations

from certkit import DAY, FACE, Kit, invoice

from tierflow.testing.chain import Platform


def _gas(tf: Platform, fn: object, who: str) -> int:
    return int(tf.transact(fn, who)["gasUsed"])  # type: ignore[arg-type]


def test_issue_within_gas_target(tf: Platform, kit: Kit) -> None:
    line = kit.line_of("core1")
    issue = tf.c.receivables.functions.issue
    first = _gas(tf, issue(kit.a("supplier1"), FACE, tf.now() + 90 * DAY, line, [invoice()]), "core1")
    second = _gas(tf, issue(kit.a("supplier2"), FACE, tf.now() + 90 * DAY, line, [invoice()]), "core1")
    assert first <= 250_000 and second <= 250_000, (first, second)


def test_transfer_value_split_to_new_holder_within_gas_target(tf: Platform, kit: Kit) -> None:
    _, root = kit.accepted()
    fresh = tf.extra_account(1)
    tf.transact(tf.c.registry.functions.register(fresh.address, 2, b"\5" * 32), "operator")
    gas = _gas(tf, tf.c.receivables.functions.transferValue(root, fresh.address, 12_345), "supplier1")
    assert gas <= 115_000, gas


def test_fund_within_gas_target(tf: Platform, kit: Kit) -> None:
    _, root = kit.accepted()
    request_id, _ = kit.request_financing(root, amount=FACE // 2)
    kit.quote(request_id)
    kit.accept_quote(request_id)
    kit.give("bank1", FACE)
    kit.approve("bank1", "financing")
    gas = _gas(tf, tf.c.financing.functions.fund(request_id), "bank1")
    assert gas <= 150_000, gas
