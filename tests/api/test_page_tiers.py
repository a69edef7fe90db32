"""The supply-chain tier of a page of certificates reads only those certificates' own lineages
(lineage.tiers_of), not every certificate of their payables, and gives the tiers the whole-tree walk
(lineage.token_tiers) gives, with splits, whole transfers and a holder met twice on one path."""

from __future__ import annotations

import random
from collections.abc import Iterator
from typing import Any

import pytest
from apikit import Synthetic, synthetic_api
from sqlalchemy import event, select, update
from sqlalchemy.engine import Engine

from tierflow.platform.indexer import tiers
from tierflow.platform.models import Certificate, CertificateTransfer
from tierflow.platform.services import lineage
from tierflow.testing import synthetic

TREE_SLOT, BULK_SLOT, BULK_TOKEN = 500, 1_000, 10_000
CERT = Certificate.__table__  # type: ignore[attr-defined]
MOVES = CertificateTransfer.__table__  # type: ignore[attr-defined]


def _movements(engine: Engine, seeded: synthetic.Seeded, root: int) -> None:
    """The tree's movements as the indexer records them: the issue, each split in creation order, and
    whole transfers of every seventh certificate (some back to a holder already on the path)."""
    a = seeded.addresses
    holders = [a["supplier1"], a["supplier2"], a["supplier3"], a["supplier4"], a["bank1"]]
    rng = random.Random(5)
    with engine.begin() as conn:
        tokens = conn.execute(
            select(CERT.c.token_id, CERT.c.parent_id, CERT.c.holder).where(CERT.c.slot_id == TREE_SLOT)
        ).all()
        rows: list[dict[str, Any]] = []

        def row(block: int, kind: str, token: int, new: int | None, to: str) -> None:
            rows.append({
                "block_number": block, "log_index": 0, "tx_hash": "0x" + f"{block:064x}", "kind": kind,
                "slot_id": TREE_SLOT, "token_id": token, "new_token_id": new, "from_address": a["core1"],
                "to_address": to, "value": 1,
            })  # fmt: skip

        for token, parent, holder in sorted(tokens):
            if parent is None:
                row(10, "issued", token, None, holder)
            else:
                row(10 * (token - root) + 10, "split", parent, token, holder)
            if (token - root) % 7 == 3:
                new_holder = rng.choice(holders)
                row(10 * (token - root) + 15, "transferred", token, None, new_holder)
                conn.execute(update(CERT).where(CERT.c.token_id == token).values(holder=new_holder))
        conn.execute(MOVES.insert(), rows)


def _fill(engine: Engine, seeded: synthetic.Seeded) -> None:
    root = synthetic.seed_tree(engine, seeded, slot_id=TREE_SLOT, tokens=230)
    _movements(engine, seeded, root)
    synthetic.fill_tiers(engine, [TREE_SLOT])  # the holders moved behind the indexer's back
    synthetic.seed_bulk(
        engine, seeded, certificates=900, payables=30, first_slot=BULK_SLOT, first_token=BULK_TOKEN
    )


@pytest.fixture(scope="module", params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def site(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Synthetic]:
    yield from synthetic_api(request.param, tmp_path_factory.mktemp("page-tiers"), _fill)


def test_page_tiers_equal_the_whole_tree_walk(site: Synthetic) -> None:
    with site.engine.connect() as conn:
        whole = lineage.token_tiers(conn, [TREE_SLOT])
        assert len(whole) == 230 and len(set(whole.values())) > 3  # several tiers and financed
        for token, tier in whole.items():
            assert lineage.tiers_of(conn, [token]) == {token: tier}
        some = random.Random(3).sample(sorted(whole), 60)
        assert lineage.tiers_of(conn, some) == {t: whole[t] for t in some}
        bulk = lineage.token_tiers(conn, range(BULK_SLOT, BULK_SLOT + 30))
        assert lineage.tiers_of(conn, bulk) == bulk
        # The kept column (the generator's fill, in SQL for the bulk) is what the lineage walk gives.
        assert whole == tiers.walk_slots(conn, [TREE_SLOT])
        assert bulk == tiers.walk_slots(conn, range(BULK_SLOT, BULK_SLOT + 30))


def test_holdings_page_reads_its_own_lineages_not_whole_payables(site: Synthetic) -> None:
    statements: list[str] = []

    def record(conn: Any, cursor: Any, statement: str, *_: Any) -> None:
        statements.append(statement)

    event.listen(site.engine, "before_cursor_execute", record)
    try:
        page = site.get("supplier2", "/v1/supplier/holdings", limit=50)
    finally:
        event.remove(site.engine, "before_cursor_execute", record)
    assert page.status_code == 200, page.text
    rows = page.json()["data"]
    assert len({r["slot_id"] for r in rows}) >= 3  # a page over several payables
    # No read of every certificate of the page's payables (what the tier lookup did before).
    whole_payables = [s for s in statements if "WHERE certificate.slot_id IN" in s]
    assert whole_payables == []
    with site.engine.connect() as conn:
        whole = lineage.token_tiers(conn, {r["slot_id"] for r in rows})
    assert [r["tier"] for r in rows] == [whole[r["token_id"]] for r in rows]


def test_page_tiers_send_the_same_statements_for_any_number_of_ids(site: Synthetic) -> None:
    """The ids travel as one value (services.idsets): the statements are built and compiled once and
    PostgreSQL plans them once, whatever the page's size, and no list is split at SQLite's 999
    parameters."""
    sent: list[list[str]] = []

    def record(conn: Any, cursor: Any, statement: str, *_: Any) -> None:
        sent[-1].append(statement)

    with site.engine.connect() as conn:
        whole = lineage.token_tiers(conn, range(BULK_SLOT, BULK_SLOT + 30))
        event.listen(site.engine, "before_cursor_execute", record)
        try:
            for ids in (sorted(whole)[:3], sorted(whole)):  # 3 ids, then 900 (and their ancestors)
                sent.append([])
                assert lineage.tiers_of(conn, ids) == {t: whole[t] for t in ids}
        finally:
            event.remove(site.engine, "before_cursor_execute", record)
    assert len(whole) == 900
    assert sent[0] == sent[1], sent
