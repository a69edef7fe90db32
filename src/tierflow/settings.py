"""One validated configuration for every Tierflow process, read from the environment (TIERFLOW_*)."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

REPO_ROOT = Path(__file__).resolve().parents[2]

# anvil's first well-known dev account: public knowledge, never a secret. Refused outside development.
ANVIL_OPERATOR_KEY = "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80"
DEV_MASTER_KEY = "dev-master-key-change-me"


class Settings(BaseSettings):
    """Process configuration. Defaults run the platform on a local anvil and SQLite."""

    model_config = SettingsConfigDict(env_prefix="TIERFLOW_", env_file=".env", extra="ignore")

    environment: Literal["development", "test", "production"] = "development"
    rpc_url: str = "http://127.0.0.1:8545"
    # Refuse to talk to a node whose chain id differs (None: accept whatever the node reports).
    chain_id: int | None = None
    # Besu/Quorum/Clique-style permissioned networks put more than 32 bytes in extraData.
    poa: bool = False
    deployments_dir: Path = REPO_ROOT / "deployments"
    data_dir: Path = REPO_ROOT / "var"
    database_url: str = Field(
        default="",
        validation_alias="DATABASE_URL",
        description="SQLAlchemy URL; empty means a SQLite file under data_dir",
    )
    confirmations: int = 0
    operator_key: str = ANVIL_OPERATOR_KEY
    # Encrypts custodial participant keys and stored documents at rest.
    master_key: str = DEV_MASTER_KEY
    api_host: str = "127.0.0.1"
    api_port: int = 8000
    devnet_port: int = 8545

    @model_validator(mode="after")
    def _refuse_unsafe_defaults(self) -> Settings:
        if self.environment == "production":
            if self.operator_key == ANVIL_OPERATOR_KEY:
                raise ValueError(
                    "TIERFLOW_OPERATOR_KEY must be set in production (the anvil dev key is public)"
                )
            if self.master_key == DEV_MASTER_KEY:
                raise ValueError("TIERFLOW_MASTER_KEY must be set in production")
        return self

    @property
    def sqlalchemy_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{self.data_dir / 'tierflow.db'}"


@lru_cache
def get_settings() -> Settings:
    return Settings()
