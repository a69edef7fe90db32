"""Database engine and sessions from settings, and the exact integer column type for fen amounts."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from functools import lru_cache
from typing import Any

from sqlalchemy import NUMERIC, String, event
from sqlalchemy.engine import Dialect, Engine, make_url
from sqlalchemy.pool import ConnectionPoolEntry
from sqlalchemy.types import TypeDecorator, TypeEngine
from sqlmodel import Session, create_engine

from tierflow.settings import get_settings

# uint256 has at most 78 decimal digits.
FEN_DIGITS = 78
_FEN_MAX = 10**FEN_DIGITS


class Fen(TypeDecorator[int]):
    """A non-negative integer up to 2**256 - 1, exact in every database.

    PostgreSQL stores NUMERIC(78,0). SQLite has no exact wide integer: a NUMERIC column turns
    10**20 + 1 into a float, so the value is stored as TEXT, zero-padded to 78 digits so that
    comparisons and ORDER BY on the column still follow numeric order. SUM() over such a column
    in SQLite would go through floats: aggregate in Python (or on PostgreSQL) instead.
    """

    impl = String(FEN_DIGITS)
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        if dialect.name == "postgresql":
            return dialect.type_descriptor(NUMERIC(FEN_DIGITS, 0))
        return dialect.type_descriptor(String(FEN_DIGITS))

    def process_bind_param(self, value: Any, dialect: Dialect) -> Any:
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int):
            raise TypeError(f"fen amounts are int, got {type(value).__name__} {value!r}")
        if not 0 <= value < _FEN_MAX:
            raise ValueError(f"fen amount out of range: {value}")
        if dialect.name == "postgresql":
            return value
        return f"{value:0{FEN_DIGITS}d}"

    def process_result_value(self, value: Any, dialect: Dialect) -> int | None:
        if value is None:
            return None
        return int(value)

    @property
    def python_type(self) -> type[int]:
        return int


SQLITE_POOL_SIZE = 32  # connections an SQLite engine keeps open (and as many more at peaks)
PG_POOL_SIZE = 15  # connections a PostgreSQL engine keeps open, at most (SQLAlchemy's default peak)


def normalise_url(url: str) -> str:
    """Point plain postgresql:// URLs at psycopg 3 (SQLAlchemy would otherwise pick psycopg2)."""
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def make_engine(url: str, *, immediate: bool = False, **kwargs: Any) -> Engine:
    """An engine for `url`; SQLite gets WAL, a busy timeout and transactional DDL.

    `immediate` (SQLite only) starts every transaction with BEGIN IMMEDIATE: for the indexer, which
    reads rows and then writes them in one transaction. With a deferred BEGIN in WAL mode, an API
    write committed between that read and the first write makes SQLite refuse the upgrade at once
    (SQLITE_BUSY_SNAPSHOT, no busy wait); taking the write lock up front makes it wait its turn.
    """
    url = normalise_url(url)
    if url.startswith("sqlite"):
        # A pool as large as the writes in flight: SQLAlchemy's default (5 kept, 10 more opened and closed
        # again) reopened a connection for most of 128 concurrent writes, and each new SQLite connection
        # re-reads the schema of 50 tables (~1 ms of CPU). An idle SQLite connection costs little.
        if _sqlite_file(url) and "poolclass" not in kwargs:  # an in-memory database has no QueuePool
            kwargs = {"pool_size": SQLITE_POOL_SIZE, "max_overflow": SQLITE_POOL_SIZE, **kwargs}
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30}, **kwargs)
        _configure_sqlite(engine, "BEGIN IMMEDIATE" if immediate else "BEGIN")
        return engine
    # PostgreSQL: the default pool's peak (5 kept + 10 opened and closed again), all kept: a batch's 128
    # rows in flight opened and closed a connection every few rows (a backend and SCRAM authentication
    # each: 118 for 300 rows). Beyond 15 a request waits for one, as it did; the peak is unchanged, so
    # several instances fit in max_connections as before.
    kwargs = {"pool_size": PG_POOL_SIZE, "max_overflow": 0, **kwargs}
    return create_engine(url, pool_pre_ping=True, **kwargs)


def _sqlite_file(url: str) -> bool:
    database = make_url(url).database
    return bool(database) and database != ":memory:" and "mode=memory" not in url


def _configure_sqlite(engine: Engine, begin: str) -> None:
    # pysqlite opens transactions lazily and never around DDL; take over BEGIN ourselves so that a
    # migration or an indexer window is all-or-nothing even when the process is SIGKILLed mid-way.
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: ConnectionPoolEntry) -> None:
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        # NORMAL in WAL mode survives a process crash; only an OS crash can lose the last commit.
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        connection.exec_driver_sql(begin)


@lru_cache(maxsize=8)
def _cached_engine(url: str) -> Engine:
    return make_engine(url)


def get_engine(url: str | None = None) -> Engine:
    """The process-wide engine for `url` (default: the configured database), created once."""
    settings = get_settings()
    if url is None:
        url = settings.sqlalchemy_url
        if url.startswith("sqlite:///"):
            settings.data_dir.mkdir(parents=True, exist_ok=True)
    return _cached_engine(url)


@contextmanager
def session_scope(engine: Engine | None = None) -> Iterator[Session]:
    """A session that commits on success and rolls back on error."""
    with Session(engine or get_engine()) as session:
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise
