"""Read models of Financing: requests with their current quote and status, quotes, fundings, recourse
exercises and the recourse debts they leave (owed, collected, remaining)."""

from __future__ import annotations

from sqlmodel import SQLModel

from tierflow.platform.models._fields import addr, big, fen, hash32, text


class FinancingRequest(SQLModel, table=True):
    __tablename__ = "financing_request"

    request_id: int = big(primary_key=True)
    token_id: int = big(index=True)
    seller: str = addr(index=True)
    financier: str = addr(index=True)
    amount: int = fen()
    with_recourse: bool
    # Requested | Quoted | Accepted | Funded | Cancelled | Declined | Recoursed | Lapsed
    status: str = text(16, index=True)
    rate_bps: int | None = big(nullable=True)
    quote_expiry: int | None = big(nullable=True)  # [unix s]
    discount: int | None = fen(nullable=True)
    price: int | None = fen(nullable=True)
    funded_block: int | None = big(nullable=True)
    cancelled_by: str | None = addr(nullable=True)
    block_number: int = big(index=True)
    updated_block: int = big()


class FinancingQuote(SQLModel, table=True):
    __tablename__ = "financing_quote"

    block_number: int = big(primary_key=True)
    log_index: int = big(primary_key=True)
    tx_hash: str = hash32()
    request_id: int = big(index=True)
    financier: str = addr(index=True)
    rate_bps: int = big()
    expiry: int = big()
    discount: int = fen()
    price: int = fen()


class FinancingFunding(SQLModel, table=True):
    __tablename__ = "financing_funding"

    block_number: int = big(primary_key=True)
    log_index: int = big(primary_key=True)
    tx_hash: str = hash32()
    request_id: int = big(index=True)
    token_id: int = big(index=True)
    financier: str = addr(index=True)
    seller: str = addr(index=True)
    price: int = fen()
    discount: int = fen()


class RecourseExercise(SQLModel, table=True):
    __tablename__ = "recourse_exercise"

    block_number: int = big(primary_key=True)
    log_index: int = big(primary_key=True)
    tx_hash: str = hash32()
    request_id: int = big(index=True)
    token_id: int = big(index=True)
    financier: str = addr(index=True)
    seller: str = addr(index=True)
    amount: int = fen()


class RecourseDebt(SQLModel, table=True):
    """What a seller owes a financier on one recoursed request (RecourseExercised creates it, each
    RecourseCollected pays part of it): owed == collected + remaining, all [fen]."""

    __tablename__ = "recourse_debt"

    request_id: int = big(primary_key=True)
    token_id: int = big(index=True)
    seller: str = addr(index=True)
    financier: str = addr(index=True)
    owed: int = fen()
    collected: int = fen()
    remaining: int = fen()
    block_number: int = big(index=True)
    updated_block: int = big()
