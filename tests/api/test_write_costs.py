"""What a write costs the service beside its transaction: connections reused under concurrent writes."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from sqlalchemy import event, text

from tierflow.platform.db import SQLITE_POOL_SIZE, make_engine


def test_sqlite_engine_reuses_connections_across_bursts_of_concurrent_writes(tmp_path: Path) -> None:
    """Two bursts of 32 writers: the second finds the first's connections in the pool (the default pool
    kept 5 and closed the rest, so each burst reopened 27 connections, each re-reading the schema)."""
    engine = make_engine(f"sqlite:///{tmp_path / 'pool.db'}")
    opened: list[Any] = []
    event.listen(engine, "connect", lambda conn, _record: opened.append(conn))
    writers = SQLITE_POOL_SIZE
    barrier = threading.Barrier(writers)

    def write(_: int) -> None:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
            barrier.wait(timeout=30)  # all hold a connection at once

    for _burst in range(2):
        with ThreadPoolExecutor(writers) as pool:
            list(pool.map(write, range(writers)))
    assert len(opened) == writers
    engine.dispose()
