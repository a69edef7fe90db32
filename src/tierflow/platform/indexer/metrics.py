"""Indexer counters (head block, indexed block, lag, events/s) as a plain object the API can expose."""

from __future__ import annotations

import time
from collections import deque
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.engine import Engine

from tierflow.platform.models import Checkpoint


@dataclass
class IndexerMetrics:
    """Updated by the indexer after every window; read by /metrics. All fields are plain numbers."""

    head_block: int = 0
    indexed_block: int = 0
    events_total: int = 0
    windows_total: int = 0
    reorgs_total: int = 0
    rolled_back_blocks_total: int = 0
    rpc_retries_total: int = 0
    window_blocks: int = 0
    last_window_seconds: float = 0.0
    started_at: float = field(default_factory=time.time)
    # (monotonic time, events) of recent windows, for a rate over the last `rate_horizon` seconds.
    _recent: deque[tuple[float, int]] = field(default_factory=deque, repr=False)
    rate_horizon: float = 10.0

    @property
    def lag(self) -> int:
        """Blocks between the chain head and the last indexed block."""
        return max(0, self.head_block - self.indexed_block)

    @property
    def events_per_second(self) -> float:
        now = time.monotonic()
        while self._recent and now - self._recent[0][0] > self.rate_horizon:
            self._recent.popleft()
        if not self._recent:
            return 0.0
        span = max(now - self._recent[0][0], 1e-3)
        return sum(count for _, count in self._recent) / span

    def record_window(self, *, head: int, indexed: int, events: int, blocks: int, seconds: float) -> None:
        self.head_block = head
        self.indexed_block = indexed
        self.events_total += events
        self.windows_total += 1
        self.window_blocks = blocks
        self.last_window_seconds = seconds
        self._recent.append((time.monotonic() - seconds, 0))
        self._recent.append((time.monotonic(), events))

    def as_dict(self) -> dict[str, float | int]:
        """Flat name → number map, ready for a Prometheus text exposition or JSON."""
        return {
            "tierflow_indexer_head_block": self.head_block,
            "tierflow_indexer_indexed_block": self.indexed_block,
            "tierflow_indexer_lag_blocks": self.lag,
            "tierflow_indexer_events_total": self.events_total,
            "tierflow_indexer_events_per_second": round(self.events_per_second, 3),
            "tierflow_indexer_windows_total": self.windows_total,
            "tierflow_indexer_reorgs_total": self.reorgs_total,
            "tierflow_indexer_rolled_back_blocks_total": self.rolled_back_blocks_total,
            "tierflow_indexer_rpc_retries_total": self.rpc_retries_total,
            "tierflow_indexer_window_blocks": self.window_blocks,
            "tierflow_indexer_uptime_seconds": round(time.time() - self.started_at, 3),
        }


def from_database(engine: Engine, head_block: int) -> dict[str, float | int]:
    """Head, indexed block and lag for a process that does not run the indexer itself (the API):
    the indexed block is the committed checkpoint."""
    with engine.connect() as conn:
        indexed = conn.execute(select(Checkpoint.block_number)).scalar()  # type: ignore[call-overload]
    indexed = int(indexed or 0)
    return {
        "tierflow_indexer_head_block": head_block,
        "tierflow_indexer_indexed_block": indexed,
        "tierflow_indexer_lag_blocks": max(0, head_block - indexed),
    }
