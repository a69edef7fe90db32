"""`tierflow index --once` and `tierflow reconcile` in process: exit codes and what they print."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import pytest
from ixchain import Scenario
from sqlalchemy.engine import Engine
from typer.testing import CliRunner

from tierflow.chain.deploy import write_deployment
from tierflow.cli import app
from tierflow.platform.logs import JsonFormatter
from tierflow.settings import get_settings
from tierflow.testing.chain import Platform


@pytest.fixture
def configured(
    tf: Platform, database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[None]:
    write_deployment(tf.deployment, tmp_path / "deployments")
    monkeypatch.setenv("TIERFLOW_RPC_URL", tf.devnet.url)
    monkeypatch.setenv("TIERFLOW_DEPLOYMENTS_DIR", str(tmp_path / "deployments"))
    monkeypatch.setenv("TIERFLOW_DATA_DIR", str(tmp_path / "var"))
    monkeypatch.setenv("DATABASE_URL", database_url)
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()
    logger = logging.getLogger("tierflow")  # the CLI configured JSON logs for the whole process
    for handler in [h for h in logger.handlers if isinstance(h.formatter, JsonFormatter)]:
        logger.removeHandler(handler)
    logger.setLevel(logging.NOTSET)


def test_index_once_then_reconcile_exit_zero_then_non_zero_on_a_difference(
    tf: Platform, engine: Engine, configured: None
) -> None:
    Scenario(tf).setup()
    runner = CliRunner()
    indexed = runner.invoke(app, ["index", "--once", "--log-level", "WARNING"])
    assert indexed.exit_code == 0, indexed.output
    assert f"indexed up to block {tf.w3.eth.block_number}" in indexed.output
    clean = runner.invoke(app, ["reconcile"])
    assert clean.exit_code == 0, clean.output
    assert "no differences" in clean.output
    with engine.begin() as conn:
        conn.exec_driver_sql("UPDATE participant SET roles = 31")
    dirty = runner.invoke(app, ["reconcile"])
    assert dirty.exit_code == 1
    assert "roles" in dirty.output and "differences" in dirty.output


def test_reconcile_fix_summaries_rebuilds_a_drifted_summary(
    tf: Platform, engine: Engine, configured: None
) -> None:
    scenario = Scenario(tf)
    scenario.setup()
    scenario.certificates()
    runner = CliRunner()
    assert runner.invoke(app, ["index", "--once", "--log-level", "WARNING"]).exit_code == 0
    with engine.begin() as conn:
        conn.exec_driver_sql("UPDATE position SET tokens = tokens + 1")
    assert runner.invoke(app, ["reconcile"]).exit_code == 1
    fixed = runner.invoke(app, ["reconcile", "--fix-summaries"])
    assert fixed.exit_code == 0, fixed.output
    assert "summary tables rebuilt" in fixed.output and "no differences" in fixed.output
