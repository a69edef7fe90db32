"""SettlementToken: permissioned ERC-20 (2 decimals), bank-only mint/burn, both sides checked, permit."""

from __future__ import annotations

import pytest
from certkit import Kit
from eth_account.messages import encode_typed_data

from tierflow.testing.chain import Platform


def test_metadata(tf: Platform) -> None:
    t = tf.c.token.functions
    assert (t.name().call(), t.symbol().call(), t.decimals().call()) == ("Tierflow Settlement CNY", "tCNY", 2)


def test_mint_by_settlement_bank(tf: Platform, kit: Kit) -> None:
    receipt = tf.transact(tf.c.token.functions.mint(kit.a("supplier1"), 12_345), "bank1")
    assert tf.events(receipt, tf.c.token, "Minted") == [
        {"to": kit.a("supplier1"), "amount": 12_345, "bank": kit.a("bank1")}
    ]
    assert kit.cash("supplier1") == 12_345


@pytest.mark.parametrize("who", ["core1", "supplier1", "bank2"])
def test_mint_reverts_when_not_bank(tf: Platform, kit: Kit, who: str) -> None:
    with tf.reverts("SettlementNotBank", kit.a(who)):
        tf.transact(tf.c.token.functions.mint(kit.a(who), 1), who)


def test_mint_reverts_for_operator_auditor_outsider(tf: Platform, kit: Kit) -> None:
    with tf.reverts("RegistryUnknownParticipant", kit.a("operator")):
        tf.transact(tf.c.token.functions.mint(kit.a("supplier1"), 1), "operator")
    with tf.reverts("SettlementNotBank", kit.a("auditor")):
        tf.transact(tf.c.token.functions.mint(kit.a("supplier1"), 1), "auditor")
    with tf.reverts("RegistryUnknownParticipant", kit.a("outsider")):
        tf.transact(tf.c.token.functions.mint(kit.a("supplier1"), 1), "outsider")


def test_mint_reverts_when_bank_suspended(tf: Platform, kit: Kit) -> None:
    tf.transact(tf.c.registry.functions.suspend(kit.a("bank1")), "operator")
    with tf.reverts("RegistryParticipantSuspended", kit.a("bank1")):
        tf.transact(tf.c.token.functions.mint(kit.a("supplier1"), 1), "bank1")


def test_mint_reverts_to_unregistered_or_auditor(tf: Platform, kit: Kit) -> None:
    with tf.reverts("RegistryUnknownParticipant", kit.a("outsider")):
        tf.transact(tf.c.token.functions.mint(kit.a("outsider"), 1), "bank1")
    with tf.reverts("RegistryMissingRole", kit.a("auditor"), 15, 16):
        tf.transact(tf.c.token.functions.mint(kit.a("auditor"), 1), "bank1")


def test_burn_own_balance(tf: Platform, kit: Kit) -> None:
    kit.give("bank1", 500)
    receipt = tf.transact(tf.c.token.functions.burn(200), "bank1")
    assert tf.events(receipt, tf.c.token, "Burned") == [
        {"from": kit.a("bank1"), "amount": 200, "bank": kit.a("bank1")}
    ]
    assert kit.cash("bank1") == 300


def test_burn_reverts_when_not_bank(tf: Platform, kit: Kit) -> None:
    kit.give("supplier1", 500)
    with tf.reverts("SettlementNotBank", kit.a("supplier1")):
        tf.transact(tf.c.token.functions.burn(1), "supplier1")


def test_burn_reverts_over_balance(tf: Platform, kit: Kit) -> None:
    with tf.reverts("ERC20InsufficientBalance", kit.a("bank1"), 0, 1):
        tf.transact(tf.c.token.functions.burn(1), "bank1")


def test_transfer_between_participants(tf: Platform, kit: Kit) -> None:
    kit.give("core1", 1_000)
    tf.transact(tf.c.token.functions.transfer(kit.a("supplier1"), 400), "core1")
    assert (kit.cash("core1"), kit.cash("supplier1")) == (600, 400)


def test_transfer_reverts_to_outsider_or_suspended(tf: Platform, kit: Kit) -> None:
    kit.give("core1", 1_000)
    with tf.reverts("RegistryUnknownParticipant", kit.a("outsider")):
        tf.transact(tf.c.token.functions.transfer(kit.a("outsider"), 1), "core1")
    tf.transact(tf.c.registry.functions.suspend(kit.a("supplier1")), "operator")
    with tf.reverts("RegistryParticipantSuspended", kit.a("supplier1")):
        tf.transact(tf.c.token.functions.transfer(kit.a("supplier1"), 1), "core1")


def test_transfer_reverts_from_suspended(tf: Platform, kit: Kit) -> None:
    kit.give("core1", 1_000)
    tf.transact(tf.c.registry.functions.suspend(kit.a("core1")), "operator")
    with tf.reverts("RegistryParticipantSuspended", kit.a("core1")):
        tf.transact(tf.c.token.functions.transfer(kit.a("supplier1"), 1), "core1")


def test_transfer_reverts_to_auditor(tf: Platform, kit: Kit) -> None:
    kit.give("core1", 1_000)
    with tf.reverts("RegistryMissingRole", kit.a("auditor"), 15, 16):
        tf.transact(tf.c.token.functions.transfer(kit.a("auditor"), 1), "core1")


def test_approve_reverts_for_auditor_and_outsider(tf: Platform, kit: Kit) -> None:
    with tf.reverts("RegistryMissingRole", kit.a("auditor"), 15, 16):
        tf.transact(tf.c.token.functions.approve(kit.a("supplier1"), 1), "auditor")
    with tf.reverts("RegistryUnknownParticipant", kit.a("outsider")):
        tf.transact(tf.c.token.functions.approve(kit.a("outsider"), 1), "core1")


def test_approve_system_contract_as_spender(tf: Platform, kit: Kit) -> None:
    kit.approve("core1", "receivables", 5)
    assert tf.c.token.functions.allowance(kit.a("core1"), tf.c.receivables.address).call() == 5


def test_transfer_from_reverts_when_paused(tf: Platform, kit: Kit) -> None:
    kit.give("core1", 1_000)
    tf.transact(tf.c.token.functions.approve(kit.a("supplier1"), 1_000), "core1")
    tf.transact(tf.c.registry.functions.pause(), "operator")
    with tf.reverts("RegistryPlatformPaused"):
        tf.transact(tf.c.token.functions.transferFrom(kit.a("core1"), kit.a("supplier1"), 1), "supplier1")
    with tf.reverts("RegistryPlatformPaused"):
        tf.transact(tf.c.token.functions.approve(kit.a("supplier2"), 1), "core1")


def test_permit_signed_approval_relayed_by_another(tf: Platform, kit: Kit) -> None:
    owner = tf.account("core1")
    token = tf.c.token
    deadline = tf.now() + 3600
    typed = {
        "types": {
            "EIP712Domain": [
                {"name": "name", "type": "string"},
                {"name": "version", "type": "string"},
                {"name": "chainId", "type": "uint256"},
                {"name": "verifyingContract", "type": "address"},
            ],
            "Permit": [
                {"name": "owner", "type": "address"},
                {"name": "spender", "type": "address"},
                {"name": "value", "type": "uint256"},
                {"name": "nonce", "type": "uint256"},
                {"name": "deadline", "type": "uint256"},
            ],
        },
        "primaryType": "Permit",
        "domain": {
            "name": "Tierflow Settlement CNY", "version": "1",
            "chainId": tf.w3.eth.chain_id, "verifyingContract": token.address,
        },
        "message": {
            "owner": owner.address, "spender": tf.c.receivables.address, "value": 777,
            "nonce": token.functions.nonces(owner.address).call(), "deadline": deadline,
        },
    }  # fmt: skip
    signed = owner.sign_message(encode_typed_data(full_message=typed))
    fn = token.functions.permit(
        owner.address, tf.c.receivables.address, 777, deadline, signed.v,
        signed.r.to_bytes(32, "big"), signed.s.to_bytes(32, "big"),
    )  # fmt: skip
    tf.transact(fn, "operator")
    assert token.functions.allowance(owner.address, tf.c.receivables.address).call() == 777
