"""Summary tables the indexer maintains beside the read models, for the dashboards' aggregates.

Written by indexer.summary in the same transaction (and the same block of the undo journal) as the
certificate and request rows they sum, so a reorg or a rebuild moves them with those rows; reconcile
compares them with a recomputation from the rows they sum.
"""

from __future__ import annotations

from sqlmodel import SQLModel

from tierflow.platform.models._fields import addr, big, fen


class Position(SQLModel, table=True):
    """Live certificates (active or locked) of one holder in one payable at one depth: how many, how much.

    By holder: a bank's book (by payable, then obligor and maturity) in one row per payable and depth
    instead of one per certificate; by payable: the spread of a payable across tiers (tier = depth + 1).
    A row whose certificates all left stays, at zero.
    """

    __tablename__ = "position"

    holder: str = addr(primary_key=True)
    slot_id: int = big(primary_key=True, index=True)
    depth: int = big(primary_key=True)
    tokens: int = big()
    value: int = fen()  # [fen]
    block_number: int = big(index=True)
    updated_block: int = big()


class FundedSummary(SQLModel, table=True):
    """A financier's funded requests at one rate: how many, face, price paid, discount (the book's yield)."""

    __tablename__ = "funded_summary"

    financier: str = addr(primary_key=True)
    rate_bps: int = big(primary_key=True)
    requests: int = big()
    amount: int = fen()  # [fen]
    price: int = fen()  # [fen]
    discount: int = fen()  # [fen]
    block_number: int = big(index=True)
    updated_block: int = big()


SUMMARY_TABLES = [Position, FundedSummary]
