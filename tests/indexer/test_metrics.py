"""Indexer counters: what /metrics will expose, from the running indexer or from the database."""

from __future__ import annotations

from sqlalchemy.engine import Engine

from tierflow.platform.indexer.metrics import IndexerMetrics, from_database
from tierflow.platform.models import Checkpoint


def test_metrics_count_windows_events_and_lag() -> None:
    metrics = IndexerMetrics()
    metrics.record_window(head=120, indexed=100, events=500, blocks=50, seconds=0.25)
    metrics.record_window(head=121, indexed=118, events=100, blocks=18, seconds=0.05)
    exposed = metrics.as_dict()
    assert exposed["tierflow_indexer_lag_blocks"] == 3
    assert exposed["tierflow_indexer_events_total"] == 600
    assert exposed["tierflow_indexer_windows_total"] == 2
    assert exposed["tierflow_indexer_events_per_second"] > 0
    assert all(isinstance(value, int | float) for value in exposed.values())


def test_metrics_from_database_read_the_checkpoint(engine: Engine) -> None:
    assert from_database(engine, 10)["tierflow_indexer_lag_blocks"] == 10
    with engine.begin() as conn:
        conn.execute(
            Checkpoint.__table__.insert(),  # type: ignore[attr-defined]
            {
                "id": 1,
                "chain_id": 31337,
                "block_number": 7,
                "block_hash": "0x" + "00" * 32,
                "journal_floor": None,
            },
        )
    assert from_database(engine, 10) == {
        "tierflow_indexer_head_block": 10,
        "tierflow_indexer_indexed_block": 7,
        "tierflow_indexer_lag_blocks": 3,
    }
