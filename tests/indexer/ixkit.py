"""Helpers of the indexer tests: a throw-away PostgreSQL cluster, synthetic events, table dumps."""

from __future__ import annotations

import itertools
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, select, text
from sqlalchemy.engine import Engine

from tierflow.platform.indexer.events import Event
from tierflow.platform.indexer.handlers import HANDLERS
from tierflow.platform.indexer.store import Store
from tierflow.platform.models import READ_MODELS, Checkpoint, RawEvent

PG_BIN_CANDIDATES = [Path("/usr/local/bin"), *sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True)]


def _pg_tool(name: str) -> str | None:
    found = shutil.which(name)
    if found:
        return found
    for directory in PG_BIN_CANDIDATES:
        if (directory / name).exists():
            return str(directory / name)
    return None


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class PgCluster:
    """initdb + pg_ctl in a temp dir, on a free port; as root the server runs as user `postgres`
    (PostgreSQL refuses to run as root)."""

    base: Path
    port: int
    run_as: list[str]
    pg_ctl: str
    _names: Iterator[int] = field(default_factory=itertools.count)

    @classmethod
    def start(cls) -> PgCluster:
        initdb, pg_ctl = _pg_tool("initdb"), _pg_tool("pg_ctl")
        if initdb is None or pg_ctl is None:
            raise FileNotFoundError("initdb/pg_ctl not found")
        base = Path(tempfile.mkdtemp(prefix="tierflow-pg-"))
        run_as: list[str] = []
        if os.geteuid() == 0:
            user = pwd.getpwnam("postgres")  # KeyError: no such user; the caller skips
            os.chown(base, user.pw_uid, user.pw_gid)
            run_as = ["runuser", "-u", "postgres", "--"]
        data = base / "data"
        subprocess.run(
            [*run_as, initdb, "-D", str(data), "-U", "postgres", "-A", "trust", "--no-sync", "-E", "UTF8"],
            check=True,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        port = free_port()
        # Durability settings off: a test cluster dies with the test run anyway.
        options = (
            f"-p {port} -k {base} -c listen_addresses=127.0.0.1 -c fsync=off "
            "-c synchronous_commit=off -c full_page_writes=off -c max_connections=50"
        )
        subprocess.run(
            [*run_as, pg_ctl, "-D", str(data), "-o", options, "-l", str(base / "log"), "-w", "start"],
            check=True,
            stdout=subprocess.DEVNULL,
        )
        return cls(base=base, port=port, run_as=run_as, pg_ctl=pg_ctl)

    def url(self, database: str = "postgres") -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{database}"

    def create_database(self, template: str | None = None) -> str:
        """A new database, copied from `template` when given (much faster than migrating again)."""
        name = f"t{next(self._names)}_{os.getpid()}"
        admin = create_engine(self.url(), isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            suffix = f' TEMPLATE "{template}" STRATEGY FILE_COPY' if template else ""
            conn.execute(text(f'CREATE DATABASE "{name}"{suffix}'))
        admin.dispose()
        return self.url(name)

    def stop(self) -> None:
        subprocess.run(
            [*self.run_as, self.pg_ctl, "-D", str(self.base / "data"), "-m", "immediate", "stop"],
            check=False,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        shutil.rmtree(self.base, ignore_errors=True)


# -- synthetic events ---------------------------------------------------------------------------------

ADDRESSES = {name: "0x" + f"{i:02x}" * 20 for i, name in enumerate(
    ["zero", "operator", "core1", "core2", "supplier1", "supplier2", "supplier3", "bank1", "bank2", "auditor"]
)}  # fmt: skip
ZERO = "0x0000000000000000000000000000000000000000"


def h32(n: int) -> str:
    return "0x" + f"{n:064x}"


class EventFactory:
    """Builds Events with consecutive log indexes inside a block."""

    def __init__(self) -> None:
        self.block = 1
        self.log_index = 0

    def next_block(self) -> None:
        self.block += 1
        self.log_index = 0

    def __call__(self, key: str, **args: Any) -> Event:
        contract, name = key.split(":")
        event = Event(
            contract=contract,
            event=name,
            args=args,
            block_number=self.block,
            block_hash=h32(self.block),
            log_index=self.log_index,
            tx_hash=h32(10**6 + self.block * 1000 + self.log_index),
            tx_index=0,
            address=ZERO,
            block_time=1_800_000_000 + self.block,
        )
        self.log_index += 1
        return event


def apply(engine: Engine, events: Iterable[Event], journal: bool = True, store: Store | None = None) -> Store:
    """Run the handlers of `events` in one transaction, like one indexer window."""
    store = store or Store()
    with engine.begin() as conn:
        store.begin(conn)
        for event in events:
            if event.block_number != store.block_number:
                store.begin_block(event.block_number, journal)
            HANDLERS[event.key](event, store)
            APPLIED_KEYS.add(event.key)
        store.flush()
    return store


APPLIED_KEYS: set[str] = set()


def row(engine: Engine, model: Any, *key: Any) -> dict[str, Any] | None:
    table = model.__table__
    condition = [column == value for column, value in zip(table.primary_key.columns, key, strict=True)]
    with engine.connect() as conn:
        found = conn.execute(select(table).where(*condition)).mappings().first()
    return None if found is None else dict(found)


def rows(engine: Engine, model: Any) -> list[dict[str, Any]]:
    table = model.__table__
    with engine.connect() as conn:
        return [dict(r) for r in conn.execute(select(table).order_by(*table.primary_key.columns)).mappings()]


def dump(engine: Engine, raw: bool = True) -> dict[str, list[dict[str, Any]]]:
    """Every read model (and raw events and checkpoint position), ordered: equal dumps, equal databases."""
    models = [*READ_MODELS, RawEvent] if raw else list(READ_MODELS)
    result = {model.__tablename__: rows(engine, model) for model in models}
    if raw:
        result["indexer_checkpoint"] = [
            {"block_number": r["block_number"], "block_hash": r["block_hash"]}
            for r in rows(engine, Checkpoint)
        ]
    return result
