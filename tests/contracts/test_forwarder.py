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
    nonce: int | None = None,
) -> tuple[Any, ...]:
    """A ForwardRequestData tuple for `fn` signed by `signer` (claiming to be `claimed_from`)."""
    account = tf.account(signer)
    sender = tf.address(claimed_from or signer)
    forwarder = tf.c.forwarder
    data = bytes.fromhex(fn._encode_transaction_data()[2:])
    deadline = tf.now() + 3600 if deadline is None else deadline
    message = {
        "from": sender, "to": fn.address, "value": 0, "gas": gas,
        "nonce": forwarder.functions.nonces(sender).call() if nonce is None else nonce,
        "deadline": deadline, "data": data,
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


def _three_transfers(
    tf: Platform, kit: Kit, middle_fails: bool = True, **middle: Any
) -> list[tuple[Any, ...]]:
    """supplier1's requests with nonces 0, 1, 2: two transfers of its own certificates and, between them,
    a transfer of a certificate it does not hold (fails) or of a third one it holds."""
    _, first = kit.accepted()
    _, last = kit.accepted()
    _, other = kit.accepted(supplier="supplier2" if middle_fails else "supplier1")
    transfer = tf.c.receivables.functions.transfer
    return [
        signed_request(tf, "supplier1", transfer(first, kit.a("supplier3")), nonce=0),
        signed_request(tf, "supplier1", transfer(other, kit.a("supplier3")), nonce=1, **middle),
        signed_request(tf, "supplier1", transfer(last, kit.a("supplier3")), nonce=2),
    ]


def test_execute_or_void_batch_failed_request_dies_alone(tf: Platform, kit: Kit) -> None:
    """A relayer (here a bank, anyone may relay) slips a failing request between two good ones to kill the
    requests behind it: the failed one uses up its nonce where it failed, the others run."""
    batch = _three_transfers(tf, kit)
    receipt = tf.transact(tf.c.forwarder.functions.executeOrVoidBatch(batch), "bank2")
    executed = tf.events(receipt, tf.c.forwarder, "ExecutedForwardRequest")
    assert [(e["nonce"], e["success"]) for e in executed] == [(0, True), (2, True)]
    (failed,) = tf.events(receipt, tf.c.forwarder, "ForwardRequestFailed")
    assert failed["signer"] == kit.a("supplier1") and failed["nonce"] == 1
    selector = bytes(tf.w3.keccak(text="CertificateNotHolder(uint256,address,address)")[:4])
    assert bytes(failed["reason"])[:4] == selector
    assert tf.c.forwarder.functions.nonces(kit.a("supplier1")).call() == 3
    assert [kit.token(_token_of(request))[0] for request in (batch[0], batch[2])] == [kit.a("supplier3")] * 2
    assert kit.token(_token_of(batch[1]))[0] == kit.a("supplier2")
    # each request's logs end with its own forwarder event: a relayer cuts the receipt at them
    forwarder = tf.c.forwarder.address
    marks = [i for i, log in enumerate(receipt["logs"]) if log["address"] == forwarder]
    assert len(marks) == 3 and marks[-1] == len(receipt["logs"]) - 1


def _token_of(request: tuple[Any, ...]) -> int:
    """The certificate a signed `transfer(tokenId, to)` request moves."""
    return int.from_bytes(bytes(request[5])[4:36], "big")


def test_execute_or_void_batch_replayed_reverts(tf: Platform, kit: Kit) -> None:
    batch = _three_transfers(tf, kit, middle_fails=False)
    tf.transact(tf.c.forwarder.functions.executeOrVoidBatch(batch), "operator")
    with tf.reverts("ERC2771ForwarderInvalidSigner"):
        tf.transact(tf.c.forwarder.functions.executeOrVoidBatch(batch), "bank2")
    with tf.reverts("ERC2771ForwarderInvalidSigner"):  # nor any one request of it
        tf.transact(tf.c.forwarder.functions.executeOrVoidBatch(batch[2:]), "bank2")
    assert tf.c.forwarder.functions.nonces(kit.a("supplier1")).call() == 3


def test_execute_or_void_batch_expired_request_in_middle_reverts_all(tf: Platform, kit: Kit) -> None:
    """An invalid request does not skip (the ones behind it would then fail on their nonces): nothing runs,
    no nonce is used, and the valid requests can still be relayed."""
    deadline = tf.now() + 60
    batch = _three_transfers(tf, kit, middle_fails=False, deadline=deadline)
    tf.increase_time(120)
    with tf.reverts("ERC2771ForwarderExpiredRequest", deadline):
        tf.transact(tf.c.forwarder.functions.executeOrVoidBatch(batch), "bank2")
    assert tf.c.forwarder.functions.nonces(kit.a("supplier1")).call() == 0
    assert kit.token(_token_of(batch[0]))[0] == kit.a("supplier1")
    tf.transact(tf.c.forwarder.functions.executeOrVoidBatch(batch[:1]), "operator")
    assert kit.token(_token_of(batch[0]))[0] == kit.a("supplier3")


def test_execute_or_void_batch_starved_of_gas_reverts_all(tf: Platform, kit: Kit) -> None:
    """A relayer that gives the batch too little gas for a request's allowance cannot make that request
    look failed (and use up its nonce): at any gas short of enough the whole transaction reverts."""
    batch = _three_transfers(tf, kit, middle_fails=False)
    fn = tf.c.forwarder.functions.executeOrVoidBatch(batch)
    enough = fn.estimate_gas({"from": kit.a("bank2")})
    signer = kit.a("supplier1")
    for gas in range(enough - 60_000, enough, 4_000):
        sent = tf.transact(fn, "bank2", gas=gas, wait=False)
        receipt = tf.w3.eth.wait_for_transaction_receipt(sent["transactionHash"])
        assert receipt["status"] == 0, gas
        assert tf.c.forwarder.functions.nonces(signer).call() == 0
    receipt = tf.transact(fn, "bank2", gas=enough)
    assert tf.events(receipt, tf.c.forwarder, "ForwardRequestFailed") == []
    assert tf.c.forwarder.functions.nonces(signer).call() == 3
