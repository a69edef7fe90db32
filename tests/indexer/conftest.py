"""Fixtures of the indexer tests: every database test runs on SQLite and on a throw-away PostgreSQL."""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from sqlalchemy import inspect, text
from sqlalchemy.engine import Engine

from tierflow.platform.db import make_engine
from tierflow.platform.migrate import upgrade
from tierflow.platform.pgtemp import PgCluster


@pytest.fixture(scope="session")
def pg_cluster() -> Iterator[PgCluster]:
    try:
        cluster = PgCluster.start()
    except (FileNotFoundError, KeyError) as error:
        pytest.skip(f"no PostgreSQL server binaries or user here: {error}")
    try:
        yield cluster
    finally:
        cluster.stop()


@pytest.fixture(scope="session")
def pg_template(pg_cluster: PgCluster) -> str:
    """A database migrated to head once; every test gets a copy (CREATE DATABASE … TEMPLATE)."""
    url = pg_cluster.create_database()
    engine = make_engine(url)
    upgrade(engine)
    engine.dispose()
    return url.rsplit("/", 1)[1]


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A SQLite file migrated to head once; every test gets a copy."""
    path = tmp_path_factory.mktemp("template") / "template.db"
    engine = make_engine(f"sqlite:///{path}")
    upgrade(engine)
    with engine.connect() as conn:
        conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")  # everything in the main file
    engine.dispose()
    return path


@pytest.fixture(scope="session")
def pg_shared(pg_cluster: PgCluster, pg_template: str) -> str:
    """One migrated database that the unit tests share, emptied before each test (a copy costs ~0.5 s)."""
    return pg_cluster.create_database(template=pg_template)


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        path = tmp_path / "tierflow.db"
        shutil.copyfile(request.getfixturevalue("sqlite_template"), path)
        return f"sqlite:///{path}"
    url: str = request.getfixturevalue("pg_shared")
    empty_database(url)
    return url


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:
    engine = make_engine(database_url)
    upgrade(engine)
    try:
        yield engine
    finally:
        engine.dispose()


def empty_database(url: str) -> None:
    """Drop what tests added and empty every table but alembic_version."""
    engine = make_engine(url)
    with engine.begin() as conn:
        conn.execute(text("DROP TABLE IF EXISTS fen_probe"))
        names = [n for n in inspect(conn).get_table_names() if n != "alembic_version"]
        for name in names:  # DELETE beats TRUNCATE on tiny tables (no new files per table)
            conn.execute(text(f'DELETE FROM "{name}"'))
    engine.dispose()


@pytest.fixture
def fresh_engine(
    request: pytest.FixtureRequest, database_url: str, tmp_path: Path
) -> Iterator[Callable[[], Engine]]:
    """Makes more empty databases of the same kind as `engine` (to compare with a fresh run)."""
    made: list[Engine] = []

    def make() -> Engine:
        if database_url.startswith("sqlite"):
            path = tmp_path / f"fresh-{len(made)}.db"
            shutil.copyfile(request.getfixturevalue("sqlite_template"), path)
            url = f"sqlite:///{path}"
        else:
            cluster: PgCluster = request.getfixturevalue("pg_cluster")
            url = cluster.create_database(template=request.getfixturevalue("pg_template"))
        made.append(make_engine(url))
        return made[-1]

    yield make
    for engine in made:
        engine.dispose()
