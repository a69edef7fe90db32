"""Read models of the document registry and the settlement token."""

from __future__ import annotations

from sqlmodel import SQLModel

from tierflow.platform.models._fields import addr, big, fen, hash32, text


class Document(SQLModel, table=True):
    """An invoice (or other document) hash and the asset it backs; at most one at a time."""

    __tablename__ = "document"

    doc_hash: str = hash32(primary_key=True)
    asset: str = addr(index=True)  # the asset contract (Receivables, Bills)
    asset_id: int = big(index=True)
    status: str = text(16)  # bound (a binding is never undone; "released" rows predate issue 12)
    block_number: int = big(index=True)
    updated_block: int = big()


class SettlementBalance(SQLModel, table=True):
    __tablename__ = "settlement_balance"

    address: str = addr(primary_key=True)
    balance: int = fen()
    block_number: int = big(index=True)
    updated_block: int = big()


class SettlementMovement(SQLModel, table=True):
    """A settlement-token transfer; mints come from the zero address, burns go to it."""

    __tablename__ = "settlement_movement"

    block_number: int = big(primary_key=True)
    log_index: int = big(primary_key=True)
    tx_hash: str = hash32()
    from_address: str = addr(index=True)
    to_address: str = addr(index=True)
    amount: int = fen()
