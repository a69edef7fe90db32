"""Read models of Receivables: payables (slots), certificates (tokens) with lineage, and their history."""

from __future__ import annotations

from sqlalchemy import Index
from sqlmodel import SQLModel

from tierflow.platform.models._fields import addr, big, fen, hash32, json_field, text

ZERO_ADDRESS = "0x0000000000000000000000000000000000000000"


class Payable(SQLModel, table=True):
    """One issued payable (an ERC-3525 slot): the obligor's promise to pay `face` at `maturity`."""

    __tablename__ = "payable"

    slot_id: int = big(primary_key=True)
    obligor: str = addr(index=True)
    supplier: str = addr(index=True)
    line_id: int = big(index=True)
    face: int = fen()
    maturity: int = big(index=True)  # [unix s]
    issued_at: int | None = big(nullable=True)  # block time [unix s]
    # Issued | Accepted | Rejected | Cancelled | Defaulted | Repaid (the contract's SlotStatus names).
    # No index leads with it (models.service.API_INDEXES): one did, and statistics from before a bulk
    # upload, which know no payable awaiting acceptance, made PostgreSQL start a party's list from every
    # payable of that status (ae5a3dd's trap); each read by status names its party, or has its own index.
    status: str = text(16)
    paid_in: int = fen()  # repaid by the obligor
    paid_out: int = fen()  # claimed by or paid out to holders
    unpaid_at_default: int | None = fen(nullable=True)
    root_token_id: int = big()
    # The invoice hashes proposed at issue (0x-hex); they bind when the supplier accepts (status
    # Accepted and later), were never bound when it is Rejected or Cancelled.
    invoice_hashes: list[str] = json_field(default=[])
    block_number: int = big(index=True)
    updated_block: int = big()


class Certificate(SQLModel, table=True):
    """One token: `value` fen of payable `slot_id`, held by `holder`; parent/root/depth give its lineage."""

    __tablename__ = "certificate"
    __table_args__ = (Index("ix_certificate_slot_depth", "slot_id", "depth"),)

    token_id: int = big(primary_key=True)
    slot_id: int = big()
    holder: str = addr(index=True)
    value: int = fen()
    initial_value: int = fen()
    status: str = text(16, index=True)  # active | locked | settled | burned
    locked: bool = False
    lock_ref: int | None = big(nullable=True)  # financing request id while locked
    parent_id: int | None = big(nullable=True, index=True)
    root_id: int = big(index=True)
    depth: int = big()  # 0 for the root token (split depth, not the tier)
    # The supplier tier (indexer.tiers: the lineage walk's answer, kept by the indexer with the events
    # that change it); None for a financier's piece.
    tier: int | None = big(nullable=True)
    block_number: int = big(index=True)
    updated_block: int = big()


class CertificateTransfer(SQLModel, table=True):
    """Every movement of certificate value: issue, whole transfer, split, claim, burn."""

    __tablename__ = "certificate_transfer"
    # A certificate's own movements by kind, and the split that made a certificate, by seek: the
    # indexer's tier of a certificate reads those of its path (indexer.tiers), however many other
    # certificates were split off the same parent.
    __table_args__ = (Index("ix_certificate_transfer_token_kind", "token_id", "kind", "new_token_id"),)

    block_number: int = big(primary_key=True)
    log_index: int = big(primary_key=True)
    tx_hash: str = hash32()
    kind: str = text(16)  # issued | transferred | split | claimed | burned | recovered
    slot_id: int = big(index=True)
    token_id: int = big(index=True)
    new_token_id: int | None = big(nullable=True)
    from_address: str = addr(index=True)
    to_address: str = addr(index=True)
    value: int = fen()


class Repayment(SQLModel, table=True):
    __tablename__ = "repayment"

    block_number: int = big(primary_key=True)
    log_index: int = big(primary_key=True)
    tx_hash: str = hash32()
    slot_id: int = big(index=True)
    obligor: str = addr(index=True)
    amount: int = fen()
    paid_in: int = fen()  # cumulative after this repayment


class Payout(SQLModel, table=True):
    """A holder paid at maturity (claim, or operator push payout)."""

    __tablename__ = "payout"

    block_number: int = big(primary_key=True)
    log_index: int = big(primary_key=True)
    tx_hash: str = hash32()
    token_id: int = big(index=True)
    slot_id: int = big(index=True)
    holder: str = addr(index=True)
    amount: int = fen()


class PayableDefault(SQLModel, table=True):
    __tablename__ = "payable_default"

    block_number: int = big(primary_key=True)
    log_index: int = big(primary_key=True)
    tx_hash: str = hash32()
    slot_id: int = big(index=True)
    unpaid: int = fen()
    marked_by: str = addr()
