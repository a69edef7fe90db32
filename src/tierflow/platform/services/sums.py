"""Exact grouped sums of fen columns in SQL, for every read that totals money (dashboard, lineage).

PostgreSQL sums NUMERIC exactly; SQLite stores fen as zero-padded text, and SUM(CAST(... AS INTEGER))
is exact there as long as every value fits in 64 bits (SQLite raises on overflow instead of rounding,
and clamps a cast of a larger value). Each grouped sum also returns the group's largest value so that
a value beyond 64 bits sends that query down an exact Python path instead.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Integer, cast, func, select
from sqlalchemy.exc import OperationalError
from sqlalchemy.sql.elements import ColumnElement
from sqlmodel import Session

_INT64_MAX = 2**63 - 1


def fen_sum(db: Session, column: Any) -> ColumnElement[Any]:
    """SUM of a fen column, exact (see the module docstring)."""
    if db.get_bind().dialect.name == "sqlite":
        return func.sum(cast(column, Integer))
    return func.sum(column)


def _int(value: Any) -> int:
    return 0 if value is None else int(value)


def _fits(max_value: Any) -> bool:
    return max_value is None or int(max_value) <= _INT64_MAX


def exact_groups(db: Session, key: Any, amounts: Sequence[Any], where: Sequence[Any]) -> dict[Any, list[int]]:
    """{key: [count, Σ amount₁, Σ amount₂, …]} over the rows matching `where`, exact (module docstring)."""
    table = amounts[0].class_ if hasattr(amounts[0], "class_") else None
    columns = [func.count(), *(fen_sum(db, a) for a in amounts), *(func.max(a) for a in amounts)]
    grouped = select(key, *columns).where(*where).group_by(key)
    if table is not None:
        grouped = grouped.select_from(table)
    n = len(amounts)
    try:
        rows = db.execute(grouped).all()
        if all(_fits(m) for row in rows for m in row[2 + n :]):
            return {row[0]: [int(row[1]), *(_int(v) for v in row[2 : 2 + n])] for row in rows}
    except OperationalError:
        db.rollback()  # SQLite "integer overflow": some group does not fit in 64 bits
    exact: dict[Any, list[int]] = defaultdict(lambda: [0] * (n + 1))
    for row in db.execute(select(key, *amounts).where(*where)):
        entry = exact[row[0]]
        entry[0] += 1
        for i, value in enumerate(row[1:], start=1):
            entry[i] += int(value or 0)
    return dict(exact)
