"""The single-writer lease: a second indexer is refused, takes over after a clean stop or an expiry,
and a holder that lost its lease commits nothing more."""

from __future__ import annotations

import gc
import logging
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.engine import Engine
from typer.testing import CliRunner

from tierflow.chain.deploy import write_deployment
from tierflow.cli import app
from tierflow.platform.indexer.lease import IndexerLeaseHeld
from tierflow.platform.indexer.runner import Indexer
from tierflow.platform.logs import JsonFormatter
from tierflow.platform.models import Checkpoint, IndexerLease
from tierflow.settings import get_settings
from tierflow.testing.chain import Platform


def _indexer(tf: Platform, engine: Engine, holder: str | None = None, ttl: float = 30.0) -> Indexer:
    return Indexer.for_deployment(engine, tf.w3, tf.deployment, lease_holder=holder, lease_ttl=ttl)


def _checkpoint(engine: Engine) -> int | None:
    with engine.connect() as conn:
        return conn.execute(select(Checkpoint.block_number)).scalar()


def test_lease_second_indexer_refused_until_the_first_stops(tf: Platform, engine: Engine) -> None:
    first = _indexer(tf, engine, "elsewhere:11:aaaa")
    first.catch_up()
    second = _indexer(tf, engine, "elsewhere:22:bbbb")
    with pytest.raises(IndexerLeaseHeld, match="elsewhere:11:aaaa") as refused:
        second.step()
    assert "stop it, or wait until" in str(refused.value)
    assert refused.value.expires_at > time.time()
    first.release()
    tf.mine()
    second.catch_up()
    assert _checkpoint(engine) == tf.w3.eth.block_number
    with pytest.raises(IndexerLeaseHeld, match="elsewhere:22:bbbb"):
        first.step()


def test_lease_expired_is_taken_over_and_the_old_holder_commits_nothing(tf: Platform, engine: Engine) -> None:
    old = _indexer(tf, engine, "elsewhere:11:aaaa", ttl=1)
    old.catch_up()
    time.sleep(2.1)  # expiry is rounded up to whole seconds
    new = _indexer(tf, engine, "elsewhere:22:bbbb", ttl=1)
    new.catch_up()
    reached = _checkpoint(engine)
    tf.mine()
    old.lease.renewed_at = time.time()  # no standalone renewal first: the window's commit must refuse
    with pytest.raises(IndexerLeaseHeld, match="lost its lease.*elsewhere:22:bbbb"):
        old.step()
    assert _checkpoint(engine) == reached
    with pytest.raises(IndexerLeaseHeld):  # and it stays out
        old.step()
    assert _checkpoint(engine) == reached
    new.catch_up()
    assert _checkpoint(engine) == tf.w3.eth.block_number


def test_lease_of_a_dead_process_of_this_host_is_taken_over_at_once(tf: Platform, engine: Engine) -> None:
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True)
    holder = f"{socket.gethostname()}:{int(dead.stdout)}:dead"
    _indexer(tf, engine, holder).catch_up()  # never released, as after a SIGKILL
    abandoned = _indexer(tf, engine)
    abandoned.catch_up()  # takes over at once
    del abandoned  # an indexer of this process that is gone, never stopped
    gc.collect()
    tf.mine()
    latest = _indexer(tf, engine)
    latest.catch_up()
    assert _checkpoint(engine) == tf.w3.eth.block_number
    with engine.connect() as conn:
        assert conn.execute(select(IndexerLease.holder)).scalar() == latest.lease.holder


def test_index_cli_lease_held_exits_non_zero_naming_the_holder(
    tf: Platform, engine: Engine, database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_deployment(tf.deployment, tmp_path / "deployments")
    monkeypatch.setenv("TIERFLOW_RPC_URL", tf.devnet.url)
    monkeypatch.setenv("TIERFLOW_DEPLOYMENTS_DIR", str(tmp_path / "deployments"))
    monkeypatch.setenv("TIERFLOW_DATA_DIR", str(tmp_path / "var"))
    monkeypatch.setenv("DATABASE_URL", database_url)
    get_settings.cache_clear()
    holder = _indexer(tf, engine, "elsewhere:11:aaaa")
    holder.acquire()
    try:
        result = CliRunner().invoke(app, ["index", "--once", "--log-level", "WARNING"])
        assert result.exit_code == 1, result.output
        assert "elsewhere:11:aaaa" in result.output and "Traceback" not in result.output
        holder.release()
        result = CliRunner().invoke(app, ["index", "--once", "--log-level", "WARNING"])
        assert result.exit_code == 0, result.output
        with engine.connect() as conn:  # released on a clean stop
            assert conn.execute(select(IndexerLease.expires_at)).scalar() <= time.time()
    finally:
        get_settings.cache_clear()
        logger = logging.getLogger("tierflow")  # the CLI configured JSON logs for the whole process
        for handler in [h for h in logger.handlers if isinstance(h.formatter, JsonFormatter)]:
            logger.removeHandler(handler)
        logger.setLevel(logging.NOTSET)
