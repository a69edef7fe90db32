"""Fen amounts are exact integers in every database: 10**20 + 1 and 2**256 - 1 round-trip, order holds."""

from __future__ import annotations

import pytest
from sqlalchemy import Column, Integer, MetaData, Table, select
from sqlalchemy.engine import Engine

from tierflow.platform.db import Fen

EXACT = [0, 1, 2**63 - 1, 2**63, 10**20 + 1, 10**38 + 7, 2**256 - 1]


@pytest.fixture
def amounts(engine: Engine) -> Table:
    table = Table("fen_probe", MetaData(), Column("id", Integer, primary_key=True), Column("amount", Fen()))
    table.create(engine)
    return table


def test_fen_round_trips_exactly(engine: Engine, amounts: Table) -> None:
    with engine.begin() as conn:
        conn.execute(amounts.insert(), [{"id": i, "amount": v} for i, v in enumerate(EXACT)])
    with engine.connect() as conn:
        stored = [value for (value,) in conn.execute(select(amounts.c.amount).order_by(amounts.c.id))]
    assert stored == EXACT
    assert all(type(value) is int for value in stored)


def test_fen_10pow20plus1_is_not_a_float(engine: Engine, amounts: Table) -> None:
    with engine.begin() as conn:
        conn.execute(amounts.insert(), [{"id": 1, "amount": 10**20 + 1}])
        found = conn.execute(select(amounts.c.id).where(amounts.c.amount == 10**20 + 1)).scalar_one_or_none()
        neighbour = conn.execute(select(amounts.c.id).where(amounts.c.amount == 10**20)).scalar_one_or_none()
    assert found == 1
    assert neighbour is None  # a float column would find 1e20 == 1e20 + 1


def test_fen_orders_and_compares_numerically(engine: Engine, amounts: Table) -> None:
    values = [10**20 + 1, 9, 10**20, 100, 2**256 - 1, 0]
    with engine.begin() as conn:
        conn.execute(amounts.insert(), [{"id": i, "amount": v} for i, v in enumerate(values)])
        ordered = [v for (v,) in conn.execute(select(amounts.c.amount).order_by(amounts.c.amount))]
        above = [
            v
            for (v,) in conn.execute(
                select(amounts.c.amount).where(amounts.c.amount > 99).order_by(amounts.c.amount)
            )
        ]
    assert ordered == sorted(values)
    assert above == [100, 10**20, 10**20 + 1, 2**256 - 1]


@pytest.mark.parametrize("bad", [-1, 2**256 * 10**2, 1.5, True, "12"])
def test_fen_refuses_non_integers_and_out_of_range(engine: Engine, amounts: Table, bad: object) -> None:
    with pytest.raises(Exception, match="fen amount|fen amounts are int"), engine.begin() as conn:
        conn.execute(amounts.insert(), [{"id": 1, "amount": bad}])
