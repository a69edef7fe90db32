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
from tierflow.chain.leases import Leases
from tierflow.chain.node import FeePolicy, connect
from tierflow.errors import ChainUnavailableError, ConfigurationError, TierflowError
from tierflow.platform.models import Checkpoint
from tierflow.platform.services.instances import DbLeases, leases_for
from tierflow.platform.services.readcache import ResponseCache
from tierflow.settings import Settings

log = logging.getLogger("tierflow.api")
CHECKPOINT = Checkpoint.__table__  # type: ignore[attr-defined]
CHECKPOINT_POLL_S = 0.01  # [s] how often waiting writes' checkpoint poller reads the row
POLLER_IDLE_EXIT_S = 1.0  # [s] an idle poller thread lingers this long for the next write


class DatabaseUnavailableError(TierflowError, ConnectionError):
    """The database does not answer."""


@dataclass
class IndexerLink:
    """How a write waits until the indexer has its block (read-your-writes).

    With the indexer in this process (`tierflow up`, `serve --with-indexer`, tests) the write wakes it
    and waits on a condition it signals after each window. With a separate indexer process (several
    API instances) one poller thread per process reads the checkpoint row every CHECKPOINT_POLL_S while
    any write waits and signals the same condition: one query for all waiting writes, not one each
    (with a connection each, thirty waiting writes emptied the connection pool).
    """

    engine: Engine
    in_process: bool = False
    indexed_block: int = -1
    _condition: threading.Condition = field(default_factory=threading.Condition)
    wake: threading.Event = field(default_factory=threading.Event)
    _waiting: int = 0
    _poller: threading.Thread | None = None
    _poll_error: DatabaseUnavailableError | None = None

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

    def rolled_back(self, block: int) -> None:
        """The indexed block is `block` (-1: none), lower than before after a rollback: called by the
        in-process indexer after a rollback and by the poller with every checkpoint it reads. The blocks
        above it are no longer indexed, so a write waiting for one of them waits for the new branch's block
        of that number (writes.finish then checks that it holds the transaction)."""
        with self._condition:
            self.indexed_block = block
            self._condition.notify_all()

    def wait_for(self, block: int, timeout: float) -> bool:
        self.wake.set()
        with self._condition:
            if self.in_process:
                return self._condition.wait_for(lambda: self.indexed_block >= block, timeout)
            self._waiting += 1
            self._poll_error = None
            if self._poller is None:
                self._poller = threading.Thread(target=self._poll, name="checkpoint-poller", daemon=True)
                self._poller.start()
            try:
                done = self._condition.wait_for(
                    lambda: self.indexed_block >= block or self._poll_error is not None, timeout
                )
            finally:
                self._waiting -= 1
            if self.indexed_block < block and self._poll_error is not None:
                raise self._poll_error
            return done and self.indexed_block >= block

    def _poll(self) -> None:
        idle_since: float | None = None
        while True:
            with self._condition:
                if self._waiting == 0:
                    idle_since = idle_since or time.monotonic()
                    if time.monotonic() - idle_since >= POLLER_IDLE_EXIT_S:
                        self._poller = None
                        return
                else:
                    idle_since = None
            if idle_since is None:
                try:
                    current = self.checkpoint_block()
                except DatabaseUnavailableError as error:
                    with self._condition:
                        self._poll_error = error
                        self._condition.notify_all()
                else:
                    # The row is the truth: after a rollback it is lower than before (rolled_back).
                    self.rolled_back(-1 if current is None else current)
            time.sleep(CHECKPOINT_POLL_S)


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
    # Certificates' paths to the root (small bodies, one per certificate read): apart from `responses`,
    # so that reads of many different certificates never push the large lineage pages out.
    paths: ResponseCache = field(default_factory=lambda: ResponseCache(size=1024))
    # Leases of relayer accounts and custodial signers among API instances (services/instances.py).
    leases: Leases | None = None

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
        relayers = self.relayers
        leases = self.instance_leases()
        if isinstance(leases, DbLeases):
            relayers = leases.take_relayers(relayers, self.settings.relayers_per_instance)
        gateway = ChainGateway(w3, deployment, self.operator, relayers, fees=fees)
        gateway.leases = leases
        return gateway

    def instance_leases(self) -> Leases:
        """What this instance may sign with, beside other instances on the same database (created once)."""
        if self.leases is None:
            self.leases = leases_for(self.engine, self.settings.instance_lease_seconds)
        return self.leases

    def close_leases(self) -> None:
        """A clean stop: give the instance's leases up, so other instances take them over at once."""
        leases, self.leases = self.leases, None
        if isinstance(leases, DbLeases):
            with self._lock:
                self._gateway = None  # its relayers are no longer ours: a next start leases again
            leases.close()

    def set_gateway(self, gateway: ChainGateway) -> None:
        self._gateway = gateway

    def chain_ready(self) -> bool:
        try:
            self.gateway()
        except (ChainUnavailableError, ConfigurationError):
            return False
        return True
