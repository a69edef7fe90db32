"""Summary tables (positions, funded requests by rate) follow the rows they sum through a whole scenario,
a reorg and a rebuild; reconcile finds a summary that drifted. The certificates' kept tier
(certificate.tier) equals the lineage walk's through the same flow."""

from __future__ import annotations

from collections.abc import Callable

from ixchain import Scenario
from sqlalchemy import func, select
from sqlalchemy.engine import Engine
from sqlmodel import Session

from tierflow.platform.indexer import summary, tiers
from tierflow.platform.indexer.reconcile import reconcile
from tierflow.platform.indexer.runner import Indexer
from tierflow.platform.models import Certificate, FundedSummary, Position
from tierflow.platform.services import queries
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


def _tiers_exact(engine: Engine) -> dict[int, int | None]:
    """The kept tier of every certificate is what the lineage walk gives; returns them by token."""
    cert = tiers.CERTIFICATE
    with engine.connect() as conn:
        kept = dict(conn.execute(select(cert.c.token_id, cert.c.tier)).all())
        assert kept == tiers.walk_slots(conn, {int(s) for (s,) in conn.execute(select(cert.c.slot_id))})
    return kept


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
        _live_counts_exact(engine)
        _tiers_exact(engine)
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
    _tiers_exact(engine)
    tf.revert_to(fork)
    tf.mine(2)
    indexer.catch_up()
    assert indexer.metrics.reorgs_total == 1
    assert _stored(engine) == stored
    assert _live_counts_exact(engine) > 3
    tiered = _tiers_exact(engine)
    assert sum(tier is not None for tier in tiered.values()) > 3

    indexer.rebuild()
    assert _stored(engine) == stored
    _live_counts_exact(engine)
    assert _tiers_exact(engine) == tiered
    # The operator makes a supplier on the lineages a financier, then a supplier again: the trees it is on
    # are walked again (its piece financed, the holders after it a tier nearer), then as they were.
    for roles in (2 | 4, 2):
        tf.transact(tf.c.registry.functions.setRoles(tf.address("supplier2"), roles), "operator")
        indexer.catch_up()
        assert (_tiers_exact(engine) != tiered) == (roles == 2 | 4)
    # Maturity: repaid, claimed, paid out, defaulted: certificates leave the live lists.
    scenario.maturity()
    indexer.catch_up()
    assert _live_counts_exact(engine) < sum(tokens for tokens, _ in stored["position"].values())
    _tiers_exact(engine)


def _live_counts_exact(engine: Engine) -> int:
    """Every holder's and payable's live-certificate count as the lists show it (from the position
    summary) equals COUNT(*) over the certificates; returns how many live certificates there are."""
    cert = Certificate.__table__  # type: ignore[attr-defined]
    live = cert.c.status.in_(queries.LIVE_TOKEN)
    with engine.connect() as conn:
        by_holder = dict(
            conn.execute(select(cert.c.holder, func.count()).where(live).group_by(cert.c.holder)).all()
        )
        by_slot = dict(
            conn.execute(select(cert.c.slot_id, func.count()).where(live).group_by(cert.c.slot_id)).all()
        )
        holders = conn.execute(select(cert.c.holder).distinct()).scalars().all()
        slots = conn.execute(select(cert.c.slot_id).distinct()).scalars().all()
    with Session(engine) as session:
        for holder in holders:
            page = queries.certificates(session=session, holder=holder, limit=1, offset=0)
            assert page["count"] == by_holder.get(holder, 0), holder
        for slot in slots:
            page = queries.certificates(session=session, slot_id=slot, limit=1, offset=0)
            assert page["count"] == by_slot.get(slot, 0), slot
    return sum(by_holder.values())


def _holds(tf: Platform, token: int, name: str) -> bool:
    return bool(tf.c.receivables.functions.ownerOf(token).call() == tf.address(name))


def test_reconcile_reports_a_summary_that_drifted(tf: Platform, engine: Engine) -> None:
    scenario = Scenario(tf)
    scenario.setup()
    scenario.certificates()
    indexer = Indexer.for_deployment(engine, tf.w3, tf.deployment)
    indexer.catch_up()

    def drift(sql: str, what: str, repair: Callable[[], int]) -> None:
        """Rows changed behind the indexer's back: reconcile names them, `repair` writes them again."""
        with engine.begin() as conn:
            conn.exec_driver_sql(sql)
        report = reconcile(engine, tf.w3, tf.deployment)
        assert report.differences and {d.what for d in report.differences} == {what}
        assert repair() > 0
        assert reconcile(engine, tf.w3, tf.deployment).differences == []

    drift("UPDATE position SET tokens = tokens + 1", "position", indexer.rebuild_summaries)
    _live_counts_exact(engine)
    # A kept tier that drifted: the walk of its lineage written again.
    drift("UPDATE certificate SET tier = 7 WHERE depth = 0", "certificate_tier", indexer.rebuild_tiers)
