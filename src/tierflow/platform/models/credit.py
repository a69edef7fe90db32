"""Read models of CreditLines: each line with granted, used and available amounts, and its movements."""

from __future__ import annotations

from sqlmodel import SQLModel

from tierflow.platform.models._fields import addr, big, fen, hash32, text


class CreditLine(SQLModel, table=True):
    __tablename__ = "credit_line"

    line_id: int = big(primary_key=True)
    financier: str = addr(index=True)
    obligor: str = addr(index=True)
    limit: int = fen()  # granted [fen]
    used: int = fen()  # [fen]
    available: int = fen()  # limit - used [fen]
    expiry: int = big()  # [unix s]
    block_number: int = big(index=True)
    updated_block: int = big()


class CreditLineMovement(SQLModel, table=True):
    """One grant, adjustment, draw or restore of a line, with the line's state after it."""

    __tablename__ = "credit_line_movement"

    block_number: int = big(primary_key=True)
    log_index: int = big(primary_key=True)
    tx_hash: str = hash32()
    line_id: int = big(index=True)
    kind: str = text(16)  # granted | adjusted | drawn | restored
    amount: int = fen()  # the limit for granted/adjusted, the amount for drawn/restored [fen]
    used: int = fen()
    limit: int = fen()
