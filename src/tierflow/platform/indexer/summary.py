"""The summary tables (models.summary), kept by the Store from the changes the handlers make.

Handlers never see them. The Store remembers the before-image of every certificate and financing
request a block changes; when the block ends (the next block begins, or the window is flushed) each
changed row's old contribution is taken out of its summary row and the new one put in, through the
Store itself, under that block's number: the undo journal and a rollback treat them like any row
the handlers wrote, and a replay rebuilds them with everything else. `recompute` is the same sums
from the rows themselves, for reconcile.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, Protocol

from sqlalchemy import Connection, select

from tierflow.platform.models import Certificate, FinancingRequest, FundedSummary, Position

Row = dict[str, Any]


class Store(Protocol):
    """What apply() needs of indexer.store.Store (which imports this module)."""

    block_number: int

    def get(self, table: str, *key: Any) -> Row | None: ...

    def create(self, table: str, row: Row) -> Row: ...

    def load(self, table: str, keys: Iterable[tuple[Any, ...]]) -> None: ...


LIVE = ("active", "locked")


def _position(row: Row | None) -> tuple[tuple[Any, ...], tuple[int, ...]] | None:
    if row is None or row["status"] not in LIVE:
        return None
    return (row["holder"], row["slot_id"], row["depth"]), (1, int(row["value"]))


def _funded(row: Row | None) -> tuple[tuple[Any, ...], tuple[int, ...]] | None:
    if row is None or row["status"] != "Funded":
        return None
    amounts = (1, int(row["amount"]), int(row["price"] or 0), int(row["discount"] or 0))
    return (row["financier"], int(row["rate_bps"] or 0)), amounts


@dataclass(frozen=True)
class Summary:
    source: str  # the table it sums
    keys: tuple[str, ...]
    count: str  # how many source rows
    amounts: tuple[str, ...]  # [fen] sums
    reads: tuple[str, ...]  # the source columns `contribution` reads
    contribution: Callable[[Row | None], tuple[tuple[Any, ...], tuple[int, ...]] | None]

    @property
    def columns(self) -> tuple[str, ...]:
        return (self.count, *self.amounts)


SUMMARIES = {
    "position": Summary(
        "certificate", ("holder", "slot_id", "depth"), "tokens", ("value",),
        ("holder", "slot_id", "depth", "status", "value"), _position,
    ),
    "funded_summary": Summary(
        "financing_request", ("financier", "rate_bps"), "requests", ("amount", "price", "discount"),
        ("financier", "rate_bps", "status", "amount", "price", "discount"), _funded,
    ),
}  # fmt: skip
WATCHED = {s.source for s in SUMMARIES.values()}


def apply(store: Store, table: str, before: Row | None, after: Row | None) -> None:
    """Move row `before` → `after` of `table` (either None: created, or never) in its summaries."""
    for name, spec in SUMMARIES.items():
        if spec.source != table:
            continue
        old, new = spec.contribution(before), spec.contribution(after)
        if old == new:
            continue
        for part, sign in ((old, -1), (new, 1)):
            if part is None:
                continue
            key, amounts = part
            row = store.get(name, *key)
            if row is None:
                empty = {**dict(zip(spec.keys, key, strict=True)), **dict.fromkeys(spec.columns, 0)}
                row = store.create(name, empty)
            for column, amount in zip(spec.columns, amounts, strict=True):
                row[column] += sign * amount
            row["updated_block"] = store.block_number


def preload(store: Store, changes: Iterable[tuple[str, Row | None, Row | None]]) -> None:
    """Read the summary rows that `apply` will move for `changes` (table, before, after) at once: a block
    of issues creates a payable each, and each new payable's position was a SELECT finding nothing."""
    wanted: dict[str, list[tuple[Any, ...]]] = {}
    for table, before, after in changes:
        for name, spec in SUMMARIES.items():
            if spec.source == table:
                for part in (spec.contribution(before), spec.contribution(after)):
                    if part is not None:
                        wanted.setdefault(name, []).append(part[0])
    for name, keys in wanted.items():
        store.load(name, keys)


def recompute(conn: Connection) -> dict[str, dict[tuple[Any, ...], tuple[int, ...]]]:
    """Every summary row with anything in it, summed from the certificate and request rows."""
    sources = {"certificate": Certificate, "financing_request": FinancingRequest}
    result: dict[str, dict[tuple[Any, ...], tuple[int, ...]]] = {}
    for name, spec in SUMMARIES.items():
        sums: dict[tuple[Any, ...], list[int]] = {}
        table = sources[spec.source].__table__  # type: ignore[attr-defined]
        # Only the columns read: a migration runs this against the schema of its own revision.
        for row in conn.execute(select(*(table.c[c] for c in spec.reads))).mappings():
            part = spec.contribution(dict(row))
            if part is not None:
                key, amounts = part
                total = sums.setdefault(key, [0] * len(spec.columns))
                for i, amount in enumerate(amounts):
                    total[i] += amount
        result[name] = {key: tuple(values) for key, values in sums.items() if any(values)}
    return result


def rebuild(conn: Connection, block_number: int = 0) -> int:
    """Replace every summary row by its recomputation (`recompute`); returns the rows written.

    Only with the indexer stopped (or its lease held): a running indexer keeps summary rows cached.
    """
    models = {"position": Position, "funded_summary": FundedSummary}
    written = 0
    for name, sums in recompute(conn).items():
        spec, table = SUMMARIES[name], models[name].__table__  # type: ignore[attr-defined]
        conn.execute(table.delete())
        rows = [
            {
                **dict(zip(spec.keys, key, strict=True)),
                **dict(zip(spec.columns, values, strict=True)),
                "block_number": block_number,
                "updated_block": block_number,
            }
            for key, values in sums.items()
        ]
        for begin in range(0, len(rows), 10_000):
            conn.execute(table.insert(), rows[begin : begin + 10_000])
        written += len(rows)
    return written
