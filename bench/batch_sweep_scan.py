"""What the batch sweep at service start costs on a database where many batches ran (services/batch_sweep.py).

Fills a throw-away PostgreSQL (or SQLite) with BATCHES finished batches of ROWS answered rows each (their
idempotency records) and a few unanswered ones, then times the sweep's read of the unanswered rows with
its partial index (ix_idempotency_record_unanswered) and without it, in the same run.

    PYTHONPATH=src .venv/bin/python bench/batch_sweep_scan.py [--batches 2000] [--rows 100] [--sqlite]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

from sqlalchemy import select, text
from sqlalchemy.engine import Engine

from tierflow.platform.db import make_engine
from tierflow.platform.migrate import upgrade
from tierflow.platform.services import batch_recovery

TABLE = batch_recovery.TABLE
ADDRESS = "0x" + "ab" * 20


def fill(engine: Engine, batches: int, rows: int, unanswered: int) -> None:
    now = int(time.time())
    done = {"fingerprint": "f" * 64, "state": "done", "status_code": 200, "body": '{"status": "executed"}'}
    with engine.begin() as conn:
        for batch in range(batches):
            conn.execute(
                TABLE.insert(),
                [
                    {
                        "address": ADDRESS,
                        "key": f"batch:{batch:064x}:{row}",
                        "created_at": now - 86_400,
                        **done,
                    }
                    for row in range(2, rows + 2)
                ],
            )
        conn.execute(
            TABLE.insert(),
            [
                {"address": ADDRESS, "key": f"batch:{'e' * 64}:{row}", "fingerprint": "f" * 64,
                 "state": "pending", "created_at": now - 86_400}
                for row in range(unanswered)
            ],
        )  # fmt: skip
        if engine.dialect.name == "postgresql":
            conn.execute(text("ANALYZE idempotency_record"))


def scan(engine: Engine, repeats: int = 30) -> float:
    """Median wall time [ms] of the sweep's read of unanswered batch rows (as batch_sweep.sweep reads)."""
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        with engine.connect() as conn:
            found = conn.execute(
                select(TABLE.c.address, TABLE.c.key, TABLE.c.state).where(
                    TABLE.c.state != "done",
                    TABLE.c.created_at < int(time.time()) - 180,
                    TABLE.c.key.startswith("batch:", autoescape=True),
                )
            ).all()
        times.append((time.perf_counter() - started) * 1000)
    assert len(found) == 5, len(found)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--batches", type=int, default=2000)
    parser.add_argument("--rows", type=int, default=100)
    parser.add_argument("--sqlite", action="store_true")
    args = parser.parse_args()
    cluster = None
    with tempfile.TemporaryDirectory() as tmp:
        if args.sqlite:
            url = f"sqlite:///{Path(tmp) / 'sweep.db'}"
        else:
            from tierflow.platform.pgtemp import PgCluster

            cluster = PgCluster.start()
            url = cluster.create_database()
        engine = make_engine(url)
        try:
            upgrade(engine)
            fill(engine, args.batches, args.rows, unanswered=5)
            indexed = scan(engine)
            with engine.begin() as conn:
                conn.execute(text("DROP INDEX ix_idempotency_record_unanswered"))
            unindexed = scan(engine)
            records = args.batches * args.rows
            print(
                f"{engine.dialect.name}: {args.batches} finished batches ({records} answered records), 5 "
                f"unanswered: sweep read {indexed:.2f} ms with the partial index, {unindexed:.2f} ms without"
            )
        finally:
            engine.dispose()
            if cluster is not None:
                cluster.stop()


if __name__ == "__main__":
    main()
