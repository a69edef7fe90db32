"""Crash safety: a real `tierflow index` process SIGKILLed again and again ends with the same tables."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from ixkit import dump
from sqlalchemy import select
from sqlalchemy.engine import Engine

from tierflow.chain.deploy import write_deployment
from tierflow.platform.indexer.runner import Indexer
from tierflow.platform.models import Checkpoint, RawEvent
from tierflow.testing.chain import Platform
from tierflow.testing.loadgen import LoadGenerator

pytestmark = pytest.mark.slow


def _checkpoint(engine: Engine) -> int:
    try:
        with engine.connect() as conn:
            return int(conn.execute(select(Checkpoint.block_number)).scalar() or 0)
    except Exception:  # the schema may not exist yet: killed during the first migration
        return 0


@pytest.fixture(scope="module")
def loaded(platform_session: Platform) -> Iterator[tuple[Platform, int, int]]:
    """The session chain with 2,000+ more events (made once for both databases), reverted afterwards."""
    tf = platform_session
    snapshot = tf.snapshot()
    load = LoadGenerator(tf)
    start = tf.w3.eth.block_number
    root = load.payable()
    load.cash("supplier1", 10**9)
    load.send(load.issues(16), per_block=4)
    last = load.send(load.mixed(root, 1600), per_block=25)
    assert load.failed_in(start + 1, last) == 0
    try:
        yield tf, start, last
    finally:
        tf.revert_to(snapshot)


def test_sigkill_at_random_instants_ends_with_the_same_tables(
    loaded: tuple[Platform, int, int],
    engine: Engine,
    database_url: str,
    fresh_engine: Callable[[], Engine],
    tmp_path: Path,
) -> None:
    tf, start, last = loaded
    write_deployment(tf.deployment, tmp_path / "deployments")
    env = {
        **os.environ,
        "TIERFLOW_RPC_URL": tf.devnet.url,
        "TIERFLOW_DEPLOYMENTS_DIR": str(tmp_path / "deployments"),
        "TIERFLOW_DATA_DIR": str(tmp_path / "var"),
        "DATABASE_URL": database_url,
    }
    command = [sys.executable, "-m", "tierflow.cli", "index", "--once", "--window", "1", "--max-window", "1"]
    rnd = random.Random(20261122)
    # "early" kills land anywhere from interpreter start to the first windows (migrations included);
    # "progress" kills land a random instant after a window was seen committed: mid-run, mid-window.
    plan = ["early", "progress", "progress", "progress", "progress"]
    mid_run, in_load = 0, 0
    for mode in plan:
        process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        if mode == "early":
            time.sleep(rnd.uniform(0.1, 2.0))
        else:
            # a random number of windows further than where the last run stopped
            target, deadline = _checkpoint(engine) + rnd.randint(1, 25), time.monotonic() + 120
            while process.poll() is None and _checkpoint(engine) < target and time.monotonic() < deadline:
                time.sleep(0.005)
            time.sleep(rnd.uniform(0.0, 0.05))
        if process.poll() is not None:
            break  # finished before we could kill it
        process.send_signal(signal.SIGKILL)
        process.wait()
        reached = _checkpoint(engine)
        mid_run += 0 < reached < last
        in_load += start < reached < last
    final = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300)
    assert final.returncode == 0, final.stderr[-3000:]
    assert mid_run >= 4 and in_load >= 2, f"{mid_run} kills during indexing, {in_load} in the load: retune"
    reference = fresh_engine()
    Indexer.for_deployment(reference, tf.w3, tf.deployment).catch_up()
    with reference.connect() as conn:
        assert len(conn.execute(select(RawEvent.log_index)).all()) >= 2000
    assert _checkpoint(engine) == last
    assert dump(engine) == dump(reference)
