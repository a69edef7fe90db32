"""Well-known development accounts of the local devnet (anvil's public test mnemonic) and their demo roles."""

from __future__ import annotations

from functools import lru_cache

from eth_account import Account
from eth_account.signers.local import LocalAccount

from tierflow.chain.vocabulary import Role
from tierflow.settings import DEV_MNEMONIC

Account.enable_unaudited_hdwallet_features()

# name -> (HD index, roles); index 0 is the operator (deployer). "outsider" is never registered.
DEMO_PARTICIPANTS: dict[str, tuple[int, Role | None]] = {
    "operator": (0, None),
    "core1": (1, Role.CORE_ENTERPRISE),
    "core2": (2, Role.CORE_ENTERPRISE),
    "supplier1": (3, Role.SUPPLIER),
    "supplier2": (4, Role.SUPPLIER),
    "supplier3": (5, Role.SUPPLIER),
    "supplier4": (6, Role.SUPPLIER),
    "bank1": (7, Role.FINANCIER | Role.SETTLEMENT_BANK),
    "bank2": (8, Role.FINANCIER),
    "auditor": (9, Role.AUDITOR),
    "outsider": (10, None),
}

# The devnet's governance: the operator and the two demo banks govern (2-of-3); the guardian, who may only
# pause, is an account of its own that is no participant.
DEMO_GOVERNOR_INDICES = (0, 7, 8)
DEMO_GUARDIAN_INDEX = 15


@lru_cache(maxsize=64)
def dev_account(index: int) -> LocalAccount:
    """The devnet account at HD path m/44'/60'/0'/0/<index> (funded by anvil for index < 20)."""
    return Account.from_mnemonic(DEV_MNEMONIC, account_path=f"m/44'/60'/0'/0/{index}")


def demo_accounts() -> dict[str, LocalAccount]:
    return {name: dev_account(index) for name, (index, _) in DEMO_PARTICIPANTS.items()}
