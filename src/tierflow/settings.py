"""One validated configuration for every Tierflow process, read from the environment (TIERFLOW_*)."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

REPO_ROOT = Path(__file__).resolve().parents[2]

# anvil's (and hardhat's) public test mnemonic: the devnet's funded accounts derive from it.
DEV_MNEMONIC = "test test test test test test test test test test test junk"
# anvil's first well-known dev account: public knowledge, never a secret. Refused outside development.
ANVIL_OPERATOR_KEY = "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80"
DEV_MASTER_KEY = "dev-master-key-change-me"
# anvil's dev accounts 16-19 (funded, used by neither the demo, indexes 0-10, nor the tests' extra
# accounts that send): the relayer pool when TIERFLOW_RELAYER_KEYS is empty. Refused in production.
DEV_RELAYER_KEYS = (
    "0xea6c44ac03bff858b476bba40716402b03e41b8e97e276d1baec7c37d42484a0",
    "0x689af8efa8c651a91ad287602527f3af2fe9f6501a7ac4b061667b5a93e037fd",
    "0xde9be858da4a475276426320d5e9262ecfc3ba460bfac56360bfa6c4c28b4ee0",
    "0xdf57089febbacf7ba0bc227dafbffa9fc08a93fdc68e1e42411a14efcf23656e",
)
# Transaction fees of the platform's own accounts (operator, relayers), in wei: see FeePolicy in
# tierflow.chain.node and docs/consortium.md.
DEFAULT_PRIORITY_FEE_WEI = 10**9  # 1 gwei
DEFAULT_MAX_FEE_PER_GAS_WEI = 100 * 10**9  # 100 gwei


class Settings(BaseSettings):
    """Process configuration. Defaults run the platform on a local anvil and SQLite."""

    model_config = SettingsConfigDict(env_prefix="TIERFLOW_", env_file=".env", extra="ignore")

    # Production unless chosen otherwise: development (`make up` sets it) and test accept the public
    # anvil keys and the development master key; production refuses to start with any of them.
    environment: Literal["development", "test", "production"] = "production"
    rpc_url: str = "http://127.0.0.1:8545"
    # Refuse to talk to a node whose chain id differs (None: accept whatever the node reports).
    chain_id: int | None = None
    # Besu/Quorum/Clique-style permissioned networks put more than 32 bytes in extraData.
    poa: bool = False
    # EIP-1559 chains: maxPriorityFeePerGas of every transaction the platform sends; maxFeePerGas is
    # 2 x the latest base fee + this tip. Chains without a base fee use eth_gasPrice (0 on free-gas
    # consortium chains). Both are capped by max_fee_per_gas_wei; a cap of 0 sends everything at 0.
    priority_fee_wei: int = Field(default=DEFAULT_PRIORITY_FEE_WEI, ge=0)
    max_fee_per_gas_wei: int = Field(default=DEFAULT_MAX_FEE_PER_GAS_WEI, ge=0)
    deployments_dir: Path = REPO_ROOT / "deployments"
    data_dir: Path = REPO_ROOT / "var"
    database_url: str = Field(
        default="",
        validation_alias="DATABASE_URL",
        description="SQLAlchemy URL; empty means a SQLite file under data_dir",
    )
    confirmations: int = 0
    operator_key: str = ANVIL_OPERATOR_KEY
    # Comma-separated private keys of the accounts that send (and pay for) participants' forwarded
    # requests, one nonce lock each, so different participants' writes go out in parallel. Empty: the
    # anvil dev accounts 16-19 in development/test, the operator key alone in production.
    relayer_keys: str = ""
    # Several API instances on one PostgreSQL (docs/instances.md): how many of the relayer keys each
    # instance leases (0: every key not leased by another instance), and the leases' time to live [s]
    # (a killed instance's accounts and participants are taken over this long after its last renewal).
    relayers_per_instance: int = Field(default=0, ge=0)
    instance_lease_seconds: float = Field(default=30.0, ge=1.0)
    # Encrypts custodial participant keys and stored documents at rest.
    master_key: str = DEV_MASTER_KEY
    # Failed sign-ins and API-key attempts one network address may make per window before it waits
    # (HTTP 429); 0 turns the limit off. Per-user lockout (5 wrong answers) applies on top.
    auth_failures_per_address: int = Field(default=20, ge=0)
    auth_failure_window_seconds: int = Field(default=15 * 60, ge=1)
    # How often the indexing process checks for ended days whose audit-trail head is not anchored on
    # chain yet, and anchors them (operator key); 0: only `tierflow audit anchor` (e.g. from cron).
    audit_anchor_interval_seconds: int = Field(default=3600, ge=0)
    # How often each API instance settles from the chain the batch rows a stopped run left unanswered
    # (services/batch_sweep.py; the first time when it starts); 0: only when a batch is submitted again.
    batch_sweep_interval_seconds: int = Field(default=60, ge=0)
    api_host: str = "127.0.0.1"
    api_port: int = 8000
    devnet_port: int = 8545
    # /metrics answers the operator's API key, or `Authorization: Bearer <metrics_token>` when set (for a
    # Prometheus scraper); metrics_public opens it to anyone (only on a bind nobody else reaches).
    metrics_token: str = ""
    metrics_public: bool = False
    # Where users reach the service (e.g. https://scf.example.com): https makes the dashboard's cookies
    # Secure even when a proxy terminates TLS and forwards plain http.
    public_url: str = ""
    # Believe X-Forwarded-Proto (only behind a proxy that sets it; anyone can send the header).
    trust_proxy_headers: bool = False

    @model_validator(mode="after")
    def _refuse_unsafe_defaults(self) -> Settings:
        if self.environment != "production":
            return self
        hint = "set TIERFLOW_ENVIRONMENT=development for a local devnet"
        public = public_dev_keys()
        if _normalise_key(self.operator_key) in public:
            raise ValueError(
                f"TIERFLOW_OPERATOR_KEY is a public anvil development key: set your operator's key ({hint})"
            )
        if self.master_key == DEV_MASTER_KEY or len(self.master_key) < 16:
            raise ValueError(
                f"TIERFLOW_MASTER_KEY must be set to a secret of at least 16 characters ({hint})"
            )
        if any(_normalise_key(key) in public for key in self._listed_relayer_keys()):
            raise ValueError(f"TIERFLOW_RELAYER_KEYS must not contain public anvil development keys ({hint})")
        return self

    def _listed_relayer_keys(self) -> list[str]:
        return [key.strip() for key in self.relayer_keys.split(",") if key.strip()]

    @property
    def relayer_key_list(self) -> list[str]:
        """The relayer pool's private keys: the configured ones, else the defaults described above."""
        listed = self._listed_relayer_keys()
        if listed:
            return listed
        if self.environment == "production":
            return [self.operator_key]
        return list(DEV_RELAYER_KEYS)

    @property
    def sqlalchemy_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{self.data_dir / 'tierflow.db'}"


def _normalise_key(key: str) -> str:
    key = key.strip().lower()
    return key[2:] if key.startswith("0x") else key


@lru_cache(maxsize=1)
def public_dev_keys() -> frozenset[str]:
    """The private keys of anvil's 20 funded accounts (its public test mnemonic), normalised."""
    from eth_account import Account

    Account.enable_unaudited_hdwallet_features()
    derived = {
        bytes(Account.from_mnemonic(DEV_MNEMONIC, account_path=f"m/44'/60'/0'/0/{index}").key).hex()
        for index in range(20)
    }
    return frozenset(derived | {_normalise_key(key) for key in (ANVIL_OPERATOR_KEY, *DEV_RELAYER_KEYS)})


@lru_cache
def get_settings() -> Settings:
    return Settings()
