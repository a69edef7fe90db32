"""Register the demo participants of the local devnet (used by `make up`, tests and benchmarks)."""

from __future__ import annotations

from collections.abc import Callable

from eth_account.signers.local import LocalAccount
from eth_utils.crypto import keccak
from web3 import Web3

from tierflow.chain.accounts import DEMO_PARTICIPANTS, demo_accounts
from tierflow.chain.deploy import Deployment
from tierflow.chain.node import TxSender
from tierflow.chain.vocabulary import ParticipantStatus


def entity_hash(legal_id: str, salt: bytes) -> bytes:
    """Salted hash of a legal identity (统一社会信用代码); the id itself never goes on chain."""
    return keccak(salt + legal_id.strip().upper().encode())


def demo_legal_id(name: str) -> str:
    """A made-up 18-character unified social credit code for a demo participant."""
    return ("91310000" + name.upper().ljust(10, "0"))[:18]


def register_demo_participants(
    w3: Web3,
    deployment: Deployment,
    sender: TxSender,
    operator: LocalAccount,
    progress: Callable[[str], None] | None = None,
) -> dict[str, LocalAccount]:
    """Register every demo participant that is not registered yet (idempotent)."""
    registry = deployment.contract(w3, "ParticipantRegistry")
    accounts = demo_accounts()
    for name, (_, roles) in DEMO_PARTICIPANTS.items():
        if roles is None:
            continue
        account = accounts[name]
        _, status, _ = registry.functions.participant(account.address).call()
        if status != ParticipantStatus.NONE:
            continue
        salt = keccak(text=f"tierflow-demo-salt:{name}")
        registration = registry.functions.register(
            account.address, int(roles), entity_hash(demo_legal_id(name), salt)
        )
        sender.transact(registration, operator)
        if progress:
            progress(f"registered {name:10} {account.address} as {roles.name}")
    return accounts
