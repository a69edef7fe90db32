"""Reconcile covers the governance and asset-control read models (issue 15): proposals dropped or
perturbed and a hold marked released are reported, and the indexer's rebuild restores them."""

from __future__ import annotations

import json

from ixchain import Scenario
from sqlalchemy import select
from sqlalchemy.engine import Engine

from tierflow.platform.indexer.reconcile import reconcile
from tierflow.platform.indexer.runner import Indexer
from tierflow.platform.models import AssetHold, GovernanceProposal
from tierflow.testing.chain import Platform


def _proposals(engine: Engine) -> dict[int, tuple[int, str, int]]:
    with engine.connect() as conn:
        # in proposal order: PostgreSQL returns an updated row after the others without an ORDER BY
        table = GovernanceProposal.__table__  # type: ignore[attr-defined]
        rows = conn.execute(select(table).order_by(table.c.proposal_id)).mappings()
        return {r["proposal_id"]: (r["approvals"], r["state"], r["cancels"]) for r in rows}


def _calls(engine: Engine) -> dict[int, str | None]:
    with engine.connect() as conn:
        rows = conn.execute(select(GovernanceProposal.__table__)).mappings()  # type: ignore[attr-defined]
        return {r["proposal_id"]: r["calls"] for r in rows}


def test_reconcile_finds_and_rebuild_restores_governance_and_hold_rows(tf: Platform, engine: Engine) -> None:
    scenario = Scenario(tf)
    for phase in scenario.phases[:-1]:  # up to the controls: a certificate is still frozen
        phase()
    # one more proposal, left to expire: the chain calls it Expired, the row derives the same
    fn = tf.c.registry.functions.setQuoteValidity(7200)
    tf.transact(
        tf.c.council.functions.propose(fn.address, fn._encode_transaction_data(), b"\0" * 32), "bank2"
    )
    tf.increase_time(int(tf.c.council.functions.window().call()) + 1)
    indexer = Indexer.for_deployment(engine, tf.w3, tf.deployment)
    indexer.catch_up()
    assert reconcile(engine, tf.w3, tf.deployment).differences == []
    before = _proposals(engine)
    states = [state for _, state, _ in before.values()]
    assert {"Executed", "Cancelled", "Pending"} <= set(states) and states[-1] == "Pending"
    cancelled = next(i for i, (_, state, _) in before.items() if state == "Cancelled")
    executed = next(i for i, (_, state, _) in before.items() if state == "Executed")
    frozen = scenario.ids["frozen"]
    batch = next(i for i, calls in _calls(engine).items() if calls is not None)  # the scenario's recovery
    with engine.begin() as conn:
        conn.exec_driver_sql(f"UPDATE governance_proposal SET calls = '[]' WHERE proposal_id = {batch}")
        conn.exec_driver_sql(f"DELETE FROM governance_proposal WHERE proposal_id = {cancelled}")
        conn.exec_driver_sql(
            f"UPDATE governance_proposal SET approvals = 1, state = 'Pending' WHERE proposal_id = {executed}"
        )
        conn.exec_driver_sql(
            f"UPDATE asset_hold SET status = 'released' WHERE asset = 'certificate' AND asset_id = {frozen}"
        )
    report = reconcile(engine, tf.w3, tf.deployment)
    found = {(d.what, d.key, d.field) for d in report.differences}
    assert found == {
        ("governance_proposal", str(executed), "approvals"),
        ("governance_proposal", str(executed), "state"),
        ("governance_proposal", str(cancelled), "unindexed"),
        ("governance_proposal", str(batch), "calls"),
        ("asset_hold", f"certificate {frozen}", "status"),
        ("asset_hold", f"certificate {frozen}", "reason_hash"),
    }, report.differences
    indexer.rebuild()
    assert reconcile(engine, tf.w3, tf.deployment).differences == []
    assert _proposals(engine) == before
    assert json.loads(_calls(engine)[batch] or "[]")[0][1].startswith("0x")  # the registry's step first
    with engine.connect() as conn:
        hold = conn.execute(
            select(AssetHold.status).where(AssetHold.asset == "certificate", AssetHold.asset_id == frozen)  # type: ignore[arg-type]
        ).scalar_one()
    assert hold == "frozen"
