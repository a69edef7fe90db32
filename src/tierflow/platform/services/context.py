"""What every service function needs: settings, the database, the chain gateway, the indexer link."""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field
from typing import Any, cast

from eth_account import Account
from eth_account.signers.local import LocalAccount
from sqlalchemy import select
from sqlalchemy.engine import Engine
from sqlalchemy.exc import SQLAlchemyError

from tierflow.chain.deploy import load_deployment
from tierflow.chain.gateway import ChainGateway
from tierflow.chain.node import FeePolicy, connect
from tierflow.errors import ChainUnavailableError, ConfigurationError, TierflowError
from tierflow.platform.models import Checkpoint
from tierflow.platform.services.readcache import ResponseCache
from tierflow.settings import Settings

log = logging.getLogger("tierflow.api")
CHECKPOINT = Checkpoint.__table__  # type: ignore[attr-defined]


class DatabaseUnavailableError(TierflowError, ConnectionError):
    """The database does not answer."""


@dataclass
class IndexerLink:
    """How a write waits until the indexer has its block (read-your-writes).

    With the indexer in this process (`tierflow up`, `serve --with-indexer`, tests) the write wakes it
    and waits on a condition it signals after each window; with a separate indexer process the wait
    falls back to polling the checkpoint row.
    """

    engine: Engine
    in_process: bool = False
    indexed_block: int = -1
    _condition: threading.Condition = field(default_factory=threading.Condition)
    wake: threading.Event = field(default_factory=threading.Event)

    def checkpoint_block(self) -> int | None:
        try:
            with self.engine.connect() as conn:
                value = conn.execute(select(CHECKPOINT.c.block_number).where(CHECKPOINT.c.id == 1)).scalar()
        except SQLAlchemyError as error:
            raise DatabaseUnavailableError(f"the database does not answer: {error}") from error
        return None if value is None else int(value)

    def indexed(self, block: int) -> None:
        """Called by the in-process indexer after each committed window."""
        with self._condition:
            self.indexed_block = max(self.indexed_block, block)
            self._condition.notify_all()

    def wait_for(self, block: int, timeout: float) -> bool:
        self.wake.set()
        if self.in_process:
            with self._condition:
                return self._condition.wait_for(lambda: self.indexed_block >= block, timeout)
        deadline = time.monotonic() + timeout
        while True:
            current = self.checkpoint_block()
            if current is not None and current >= block:
                return True
            if time.monotonic() >= deadline:
                return False
            time.sleep(0.01)


@dataclass
class ServiceContext:
    settings: Settings
    engine: Engine
    link: IndexerLink
    index_timeout: float = 15.0
    _gateway: ChainGateway | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)
    # (monotonic time, error) of the last failed connection: web3 retries a refused connection with
    # back-off for seconds, and /health or a burst of writes must not each pay that while the node is down.
    _last_failure: tuple[float, TierflowError] | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    # Serialised read responses per indexed checkpoint (large lineages), per context so that two apps
    # over two databases in one process never share entries.
    responses: ResponseCache = field(default_factory=ResponseCache)

    @property
    def read_engine(self) -> Engine:
        """The engine for read-only requests. On PostgreSQL in autocommit: each statement runs alone, so
        a read pays no BEGIN and ROLLBACK round trips; it sees what it would inside a transaction, since
        under READ COMMITTED (the default) every statement takes a new snapshot anyway. SQLite runs in
        process (no round trips) and keeps its transactions: one snapshot per read there."""
        engine = self.extra.get("read_engine")
        if engine is None:
            engine = self.engine
            if engine.dialect.name == "postgresql":
                engine = engine.execution_options(isolation_level="AUTOCOMMIT")
            self.extra["read_engine"] = engine
        return cast(Engine, engine)

    @property
    def operator(self) -> LocalAccount:
        return Account.from_key(self.settings.operator_key)

    @property
    def relayers(self) -> list[LocalAccount]:
        """The accounts that send participants' forwarded requests (TIERFLOW_RELAYER_KEYS)."""
        return [Account.from_key(key) for key in self.settings.relayer_key_list]

    def gateway(self) -> ChainGateway:
        """The chain gateway, connected on first use (the API starts even while the node is down)."""
        if self._gateway is not None:
            return self._gateway
        with self._lock:
            if self._last_failure is not None and time.monotonic() - self._last_failure[0] < 5.0:
                raise self._last_failure[1]
            if self._gateway is None:
                try:
                    self._gateway = self._connect()
                except (ChainUnavailableError, ConfigurationError) as error:
                    self._last_failure = (time.monotonic(), error)
                    raise
                self._last_failure = None
            return self._gateway

    def _connect(self) -> ChainGateway:
        # A short bound: a hung node must make /health and reads answer 503 fast, not in 30 s.
        w3 = connect(self.settings.rpc_url, self.settings.chain_id, poa=self.settings.poa, timeout=2.0)
        chain_id = int(w3.eth.chain_id)
        deployment = load_deployment(self.settings.deployments_dir, chain_id)
        if deployment is None:
            raise ChainUnavailableError(
                f"no deployment for chain {chain_id} in {self.settings.deployments_dir}: "
                "run `tierflow deploy` (or `tierflow up`) first"
            )
        fees = FeePolicy.from_settings(self.settings)
        return ChainGateway(w3, deployment, self.operator, self.relayers, fees=fees)

    def set_gateway(self, gateway: ChainGateway) -> None:
        self._gateway = gateway

    def chain_ready(self) -> bool:
        try:
            self.gateway()
        except (ChainUnavailableError, ConfigurationError):
            return False
        return True
