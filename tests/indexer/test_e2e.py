"""End to end on anvil: real contract operations, indexed; read models equal chain state after each phase."""

from __future__ import annotations

from ixchain import Scenario
from sqlalchemy import select
from sqlalchemy.engine import Engine

from tierflow.platform.indexer.handlers import HANDLERS
from tierflow.platform.indexer.reconcile import reconcile
from tierflow.platform.indexer.runner import Indexer
from tierflow.platform.models import RawEvent
from tierflow.platform.services import lineage
from tierflow.testing.chain import Platform


def test_scenario_read_models_equal_chain_after_every_phase(tf: Platform, engine: Engine) -> None:
    scenario = Scenario(tf)
    indexer = Indexer.for_deployment(engine, tf.w3, tf.deployment, initial_window=7)
    for phase in scenario.phases:
        phase()
        indexer.catch_up()
        report = reconcile(engine, tf.w3, tf.deployment)
        assert report.differences == [], f"after {phase.__name__}"
        assert report.block_number == tf.w3.eth.block_number
    with engine.connect() as conn:
        seen = {
            f"{contract}:{event}"
            for contract, event in conn.execute(select(RawEvent.contract, RawEvent.event).distinct())
        }
        path = lineage.path_to_root(conn, scenario.ids["token_c"])
        chain = lineage.endorsement_chain(conn, scenario.ids["bill_s3"])
    assert set(HANDLERS) - seen == set(), "the scenario must emit every handled event"
    assert [row["token_id"] for row in path] == [
        scenario.ids["token_c"],
        scenario.ids["token_b"],
        scenario.ids["token_a"],
    ]
    assert [row["holder"] for row in chain] == [
        tf.address("supplier3"),
        tf.address("supplier2"),
        tf.address("supplier1"),
    ]


def test_reconcile_reports_a_difference(tf: Platform, engine: Engine) -> None:
    Scenario(tf).setup()
    indexer = Indexer.for_deployment(engine, tf.w3, tf.deployment)
    indexer.catch_up()
    with engine.begin() as conn:
        conn.exec_driver_sql("UPDATE credit_line SET used = available")  # fen text/numeric: any wrong value
    report = reconcile(engine, tf.w3, tf.deployment)
    assert [(d.what, d.field) for d in report.differences] == [("credit_line", "used")]
