"""The relayer pool's configuration: dev defaults, explicit keys, and the production refusal."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from tierflow.chain.accounts import DEMO_PARTICIPANTS, dev_account
from tierflow.settings import ANVIL_OPERATOR_KEY, DEV_RELAYER_KEYS, Settings

PRODUCTION = {"environment": "production", "operator_key": "0x" + "11" * 32, "master_key": "m" * 32}


def test_dev_relayer_keys_are_anvil_accounts_16_to_19_unused_by_the_demo() -> None:
    expected = ["0x" + bytes(dev_account(index).key).hex() for index in range(16, 20)]
    assert list(DEV_RELAYER_KEYS) == expected
    assert max(index for index, _ in DEMO_PARTICIPANTS.values()) < 16
    assert Settings(environment="test").relayer_key_list == expected


def test_configured_relayer_keys_are_split_on_commas() -> None:
    keys = ["0x" + "22" * 32, "0x" + "33" * 32]
    settings = Settings(**PRODUCTION, relayer_keys=f" {keys[0]} ,{keys[1]},")
    assert settings.relayer_key_list == keys


def test_production_without_relayer_keys_relays_with_the_operator_key() -> None:
    assert Settings(**PRODUCTION).relayer_key_list == [PRODUCTION["operator_key"]]


@pytest.mark.parametrize(
    "dev_key", [DEV_RELAYER_KEYS[2], DEV_RELAYER_KEYS[0].upper().replace("0X", ""), ANVIL_OPERATOR_KEY]
)
def test_production_refuses_dev_relayer_keys(dev_key: str) -> None:
    with pytest.raises(ValidationError, match="TIERFLOW_RELAYER_KEYS"):
        Settings(**PRODUCTION, relayer_keys=f"0x{'22' * 32},{dev_key}")
