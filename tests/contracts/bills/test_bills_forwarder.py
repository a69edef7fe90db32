"""Bills behind the ERC-2771 forwarder: a participant signs, the platform relays, Bills sees the signer."""

from __future__ import annotations

from typing import Any

from billkit import BillKit, RangeStatus
from eth_account import Account
from eth_account.messages import encode_typed_data

from tierflow.chain.forwarder import EIP712_DOMAIN_FIELDS, FORWARD_REQUEST_FIELDS
from tierflow.testing.chain import Platform


def relay(tf: Platform, signer: str, call: Any, relayer: str = "operator") -> Any:
    """Sign `call` as `signer` (EIP-712 ForwardRequest) and have `relayer` execute it."""
    forwarder = tf.c.forwarder
    account = tf.account(signer)
    message = {
        "from": account.address,
        "to": call.address,
        "value": 0,
        "gas": 500_000,
        "nonce": forwarder.functions.nonces(account.address).call(),
        "deadline": tf.now() + 3_600,
        "data": call._encode_transaction_data(),
    }
    typed = {
        "types": {"EIP712Domain": EIP712_DOMAIN_FIELDS, "ForwardRequest": FORWARD_REQUEST_FIELDS},
        "primaryType": "ForwardRequest",
        "domain": {
            "name": "Tierflow",
            "version": "1",
            "chainId": tf.w3.eth.chain_id,
            "verifyingContract": forwarder.address,
        },
        "message": message,
    }
    signature = Account.sign_message(encode_typed_data(full_message=typed), account.key).signature
    request = {k: v for k, v in message.items() if k != "nonce"} | {"signature": bytes(signature)}
    return tf.transact(forwarder.functions.execute(request), relayer)


def test_endorse_relayed_through_forwarder_acts_for_signer(tf: Platform, kit: BillKit) -> None:
    package_id, root = kit.live(face=1_000)
    assert kit.bills.functions.trustedForwarder().call() == tf.c.forwarder.address
    receipt = relay(tf, "supplier1", kit.bills.functions.endorse(root, 1, 400, kit.addr("supplier2")))
    event = kit.event(receipt, "BillEndorsed")
    assert event["from"] == kit.addr("supplier1") and event["to"] == kit.addr("supplier2")
    assert kit.range(event["newRangeId"]).holder == kit.addr("supplier2")
    kit.assert_covers(package_id)


def test_endorse_relayed_for_another_signer_is_refused(tf: Platform, kit: BillKit) -> None:
    """supplier2 signs an endorsement of supplier1's range: Bills sees supplier2, not the relayer."""
    package_id, root = kit.live(face=1_000)
    # The forwarder swallows the inner reason; nothing moved is what matters.
    with tf.reverts("FailedCall"):
        relay(tf, "supplier2", kit.bills.functions.endorse(root, 1, 400, kit.addr("supplier3")))
    r = kit.range(root)
    assert (r.status, r.start, r.holder) == (RangeStatus.HELD, 1, kit.addr("supplier1"))
    kit.assert_covers(package_id)
