"""Relayed calls: a participant's EIP-712 ForwardRequest, relayed by the platform, acts as the signer."""

from __future__ import annotations

from typing import Any

from certkit import FACE, Kit
from eth_account.messages import encode_typed_data

from tierflow.chain.forwarder import EIP712_DOMAIN_FIELDS, FORWARD_REQUEST_FIELDS
from tierflow.testing.chain import Platform


def signed_request(
    tf: Platform,
    signer: str,
    fn: Any,
    *,
    claimed_from: str | None = None,
    deadline: int | None = None,
    gas: int = 500_000,
) -> tuple[Any, ...]:
    """A ForwardRequestData tuple for `fn` signed by `signer` (claiming to be `claimed_from`)."""
    account = tf.account(signer)
    sender = tf.address(claimed_from or signer)
    forwarder = tf.c.forwarder
    data = bytes.fromhex(fn._encode_transaction_data()[2:])
    deadline = tf.now() + 3600 if deadline is None else deadline
    message = {
        "from": sender, "to": fn.address, "value": 0, "gas": gas,
        "nonce": forwarder.functions.nonces(sender).call(), "deadline": deadline, "data": data,
    }  # fmt: skip
    typed = {
        "types": {"EIP712Domain": EIP712_DOMAIN_FIELDS, "ForwardRequest": FORWARD_REQUEST_FIELDS},
        "primaryType": "ForwardRequest",
        "domain": {
            "name": "Tierflow", "version": "1",
            "chainId": tf.w3.eth.chain_id, "verifyingContract": forwarder.address,
        },
        "message": message,
    }  # fmt: skip
    signature = account.sign_message(encode_typed_data(full_message=typed)).signature
    return (sender, fn.address, 0, gas, deadline, data, bytes(signature))


def test_execute_relayed_transfer_acts_as_signer(tf: Platform, kit: Kit) -> None:
    _, root = kit.accepted()
    request = signed_request(
        tf, "supplier1", tf.c.receivables.functions.transferValue(root, kit.a("supplier2"), 1_000)
    )
    assert tf.c.forwarder.functions.verify(request).call() is True
    eth_before = tf.w3.eth.get_balance(kit.a("supplier1"))
    receipt = tf.transact(tf.c.forwarder.functions.execute(request), "operator")  # the platform pays gas
    (split,) = tf.events(receipt, tf.c.receivables, "CertificateSplit")
    assert (
        split["from"] == kit.a("supplier1") and split["to"] == kit.a("supplier2") and split["value"] == 1_000
    )
    assert tf.w3.eth.get_balance(kit.a("supplier1")) == eth_before
    (executed,) = tf.events(receipt, tf.c.forwarder, "ExecutedForwardRequest")
    assert executed["signer"] == kit.a("supplier1") and executed["success"] is True


def test_execute_relayed_issue_by_core_enterprise(tf: Platform, kit: Kit) -> None:
    line = kit.line_of("core1")
    fn = tf.c.receivables.functions.issue(
        kit.a("supplier1"), FACE, tf.now() + 30 * 86_400, line, [b"\7" * 32]
    )
    receipt = tf.transact(tf.c.forwarder.functions.execute(signed_request(tf, "core1", fn)), "operator")
    (issued,) = tf.events(receipt, tf.c.receivables, "CertificateIssued")
    assert issued["obligor"] == kit.a("core1")


def test_execute_relayed_financing_and_token_approval(tf: Platform, kit: Kit) -> None:
    _, root = kit.accepted()
    req = signed_request(tf, "supplier1", tf.c.financing.functions.request(root, FACE, kit.a("bank1"), False))
    receipt = tf.transact(tf.c.forwarder.functions.execute(req), "operator")
    assert tf.events(receipt, tf.c.financing, "FinancingRequested")[0]["seller"] == kit.a("supplier1")
    approval = signed_request(tf, "bank1", tf.c.token.functions.approve(tf.c.financing.address, 5))
    tf.transact(tf.c.forwarder.functions.execute(approval), "operator")
    assert tf.c.token.functions.allowance(kit.a("bank1"), tf.c.financing.address).call() == 5


def test_execute_reverts_when_replayed(tf: Platform, kit: Kit) -> None:
    _, root = kit.accepted()
    request = signed_request(
        tf, "supplier1", tf.c.receivables.functions.transferValue(root, kit.a("supplier2"), 1)
    )
    tf.transact(tf.c.forwarder.functions.execute(request), "operator")
    assert tf.c.forwarder.functions.verify(request).call() is False
    # the nonce is used: the signature no longer recovers to `from`
    with tf.reverts("ERC2771ForwarderInvalidSigner") as caught:
        tf.transact(tf.c.forwarder.functions.execute(request), "operator")
    assert caught.error is not None
    recovered, claimed = caught.error.values
    assert claimed == kit.a("supplier1") and recovered != claimed
    assert kit.token(root)[2] == FACE - 1


def test_execute_reverts_when_expired(tf: Platform, kit: Kit) -> None:
    _, root = kit.accepted()
    deadline = tf.now() + 60
    request = signed_request(
        tf, "supplier1", tf.c.receivables.functions.transfer(root, kit.a("supplier2")), deadline=deadline
    )
    tf.increase_time(120)
    with tf.reverts("ERC2771ForwarderExpiredRequest", deadline):
        tf.transact(tf.c.forwarder.functions.execute(request), "operator")
    assert kit.token(root)[0] == kit.a("supplier1")


def test_execute_reverts_when_signed_by_another_party(tf: Platform, kit: Kit) -> None:
    _, root = kit.accepted()
    fn = tf.c.receivables.functions.transfer(root, kit.a("supplier2"))
    request = signed_request(tf, "supplier2", fn, claimed_from="supplier1")
    with tf.reverts("ERC2771ForwarderInvalidSigner", kit.a("supplier2"), kit.a("supplier1")):
        tf.transact(tf.c.forwarder.functions.execute(request), "operator")


def test_execute_reverts_when_signer_may_not_act(tf: Platform, kit: Kit) -> None:
    """The target's rules apply to the signer: a relayed call by a non-holder fails like a direct one."""
    _, root = kit.accepted()
    fn = tf.c.receivables.functions.transfer(root, kit.a("supplier3"))
    request = signed_request(tf, "supplier2", fn)
    with tf.reverts("FailedCall"):
        tf.transact(tf.c.forwarder.functions.execute(request), "operator")
    with tf.reverts("CertificateNotHolder", root, kit.a("supplier2"), kit.a("supplier1")):
        tf.transact(fn, "supplier2")


def test_is_trusted_forwarder_every_contract(tf: Platform) -> None:
    for name in ("registry", "token", "documents", "credit_lines", "receivables", "financing"):
        contract = getattr(tf.c, name)
        assert contract.functions.isTrustedForwarder(tf.c.forwarder.address).call() is True
        assert contract.functions.trustedForwarder().call() == tf.c.forwarder.address
