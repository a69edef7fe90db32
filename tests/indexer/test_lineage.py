"""Lineage queries on trees of 10,000 tokens: whole tree of a payable, subtree, path to root, bill chains."""

from __future__ import annotations

import random
import time

import pytest
from sqlalchemy import bindparam
from sqlalchemy.engine import Engine
from sqlmodel import Session

from tierflow.platform.indexer import tiers
from tierflow.platform.models import Certificate
from tierflow.platform.services import lineage

N = 10_000
HOLDER = "0x" + "44" * 20
# Generous: the queries take milliseconds; the bound only catches a lost index or an O(n²) plan.
FAST = 2.0  # [s]


def _tree(engine: Engine, parents: dict[int, int | None], *, by_depth: bool = False) -> dict[int, int]:
    """Certificates of payable 1 with these parents, held by one holder (or a holder per split depth)."""
    depth: dict[int, int] = {}
    rows = []
    for token, parent in parents.items():
        depth[token] = 0 if parent is None else depth[parent] + 1
        rows.append(
            {
                "token_id": token, "slot_id": 1, "value": 10**20 + token,
                "holder": f"0x{depth[token]:040x}" if by_depth else HOLDER,
                "initial_value": 1, "status": "active", "locked": False, "lock_ref": None,
                "parent_id": parent, "root_id": 1, "depth": depth[token], "block_number": 1,
                "updated_block": 1,
            }
        )  # fmt: skip
    with engine.begin() as conn:
        conn.execute(Certificate.__table__.insert(), rows)  # type: ignore[attr-defined]
        tiers.fill(conn, [1])  # what the indexer keeps (written behind its back here)
    return depth


def _timed(function, *args):  # type: ignore[no-untyped-def]
    started = time.perf_counter()
    result = function(*args)
    return result, time.perf_counter() - started


@pytest.mark.parametrize("shape", ["random", "chain"])
def test_lineage_on_ten_thousand_tokens(engine: Engine, shape: str) -> None:
    rnd = random.Random(3525)
    parents: dict[int, int | None] = {1: None}
    for token in range(2, N + 1):
        parents[token] = rnd.randint(max(1, token - 50), token - 1) if shape == "random" else token - 1
    depth = _tree(engine, parents)
    deepest = max(depth, key=lambda t: (depth[t], t))
    with engine.connect() as conn:
        tree, tree_s = _timed(lineage.payable_tree, conn, 1)
        path, path_s = _timed(lineage.path_to_root, conn, deepest)
        middle = N // 2
        below, below_s = _timed(lineage.descendants, conn, middle)
    assert len(tree) == N and tree[0]["token_id"] == 1
    seen: set[int] = set()
    for row in tree:  # parents before children
        assert row["parent_id"] is None or row["parent_id"] in seen
        seen.add(row["token_id"])
    assert [r["token_id"] for r in path][-1] == 1 and len(path) == depth[deepest] + 1
    assert all(r["parent_id"] == nxt["token_id"] for r, nxt in zip(path, path[1:], strict=False))
    expected = {middle}
    for token in range(middle + 1, N + 1):
        if parents[token] in expected:
            expected.add(token)
    assert {r["token_id"] for r in below} == expected
    assert lineage.tree(tree)[None] == [1]
    assert max(tree_s, path_s, below_s) < FAST, (tree_s, path_s, below_s)


def test_lineage_tree_tiers_are_exact_whether_sums_fit_64_bits_or_not(engine: Engine) -> None:
    # values 10**20 + token: beyond 64 bits; each split passes value on to a new holder (a tier further)
    _tree(engine, {1: None, 2: 1, 3: 1, 4: 2, 5: 2, 6: 3}, by_depth=True)
    with Session(engine) as session:
        big = [(t.tier, t.tokens, t.holders, t.amount) for t in lineage.tree_tiers(session, 1)]
        assert big == [(1, 1, 1, 10**20 + 1), (2, 2, 1, 2 * 10**20 + 5), (3, 3, 1, 3 * 10**20 + 15)]
        cert = Certificate.__table__  # type: ignore[attr-defined]
        session.execute(
            cert.update().where(cert.c.token_id == bindparam("t")).values(value=bindparam("v")),
            [{"t": token, "v": token} for token in range(1, 7)],
        )
        session.commit()
        small = [(t.tier, t.tokens, t.amount) for t in lineage.tree_tiers(session, 1)]
        assert small == [(1, 1, 1), (2, 2, 5), (3, 3, 15)]


def test_lineage_tiers_of_a_ten_thousand_deep_chain_are_linear(engine: Engine) -> None:
    # Each split passes value on to a new holder: tier n at depth n - 1, 10,000 distinct holders on
    # one path (a holders-per-path copy would cost 50 million steps; one walk down the tree does not).
    _tree(engine, {1: None, **{token: token - 1 for token in range(2, N + 1)}}, by_depth=True)
    with Session(engine) as session:
        _, baseline = _timed(lineage.payable_tree, session, 1)  # the same 10,000 rows, read once
        # The walk the indexer's fill and reconcile run (indexer.tiers), then what readers read.
        found, took = _timed(tiers.walk_slots, session.connection(), [1])
        assert lineage.token_tiers(session, [1]) == found
    assert found[1] == 1 and found[N] == N and len(found) == N
    assert took < 10 * baseline + 2.0, (took, baseline)  # a holder list per certificate: ~13 s here
