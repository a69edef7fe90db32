"""Summary tables (positions, funded requests by rate) follow the rows they sum through a whole scenario,
a reorg and a rebuild; reconcile finds a summary that drifted."""

from __future__ import annotations

from ixchain import Scenario
from sqlalchemy import select
from sqlalchemy.engine import Engine

from tierflow.platform.indexer import summary
from tierflow.platform.indexer.reconcile import reconcile
from tierflow.platform.indexer.runner import Indexer
from tierflow.platform.models import FundedSummary, Position
from tierflow.testing.chain import Platform


def _stored(engine: Engine) -> dict[str, dict[tuple[object, ...], tuple[int, ...]]]:
    found: dict[str, dict[tuple[object, ...], tuple[int, ...]]] = {}
    with engine.connect() as conn:
        for name, model in (("position", Position), ("funded_summary", FundedSummary)):
            spec = summary.SUMMARIES[name]
            rows = conn.execute(select(model.__table__)).mappings()  # type: ignore[attr-defined]
            found[name] = {
                tuple(r[k] for k in spec.keys): tuple(int(r[c]) for c in spec.columns)
                for r in rows
                if any(int(r[c]) for c in spec.columns)
            }
    return found


def test_summaries_equal_their_recomputation_through_phases_a_reorg_and_a_rebuild(
    tf: Platform, engine: Engine
) -> None:
    scenario = Scenario(tf)
    indexer = Indexer.for_deployment(engine, tf.w3, tf.deployment, max_window=2)
    for phase in scenario.phases[:-1]:  # every phase but maturity: positions still live
        phase()
        indexer.catch_up()
        with engine.connect() as conn:
            assert _stored(engine) == summary.recompute(conn), phase.__name__
    stored = _stored(engine)
    assert stored["position"] and stored["funded_summary"], "the scenario must fill both summaries"
    assert sum(tokens for tokens, _ in stored["position"].values()) > 3

    fork = tf.snapshot()
    token = scenario.ids["token_c"]
    holder = next(name for name in ("supplier1", "supplier2", "supplier3") if _holds(tf, token, name))
    tf.transact(tf.c.receivables.functions.transferValue(token, tf.address("supplier4"), 1), holder)
    indexer.catch_up()
    moved = _stored(engine)
    assert moved != stored
    tf.revert_to(fork)
    tf.mine(2)
    indexer.catch_up()
    assert indexer.metrics.reorgs_total == 1
    assert _stored(engine) == stored

    indexer.rebuild()
    assert _stored(engine) == stored


def _holds(tf: Platform, token: int, name: str) -> bool:
    return bool(tf.c.receivables.functions.ownerOf(token).call() == tf.address(name))


def test_reconcile_reports_a_summary_that_drifted(tf: Platform, engine: Engine) -> None:
    scenario = Scenario(tf)
    scenario.setup()
    scenario.certificates()
    indexer = Indexer.for_deployment(engine, tf.w3, tf.deployment)
    indexer.catch_up()
    with engine.begin() as conn:
        conn.exec_driver_sql("UPDATE position SET tokens = tokens + 1")
    report = reconcile(engine, tf.w3, tf.deployment)
    assert report.differences and {d.what for d in report.differences} == {"position"}
    assert indexer.rebuild_summaries() > 0
    assert reconcile(engine, tf.w3, tf.deployment).differences == []
