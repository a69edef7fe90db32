"""Read models of Bills: packages, sub-ticket range records with their endorsement links, quotes, history."""

from __future__ import annotations

from sqlmodel import SQLModel

from tierflow.platform.models._fields import addr, big, fen, hash32, json_field, text


class BillPackage(SQLModel, table=True):
    """One bill (票据包) of `face` fen, i.e. sub-tickets 1 … face."""

    __tablename__ = "bill_package"

    package_id: int = big(primary_key=True)
    drawer: str = addr(index=True)
    acceptor: str = addr(index=True)
    payee: str = addr(index=True)
    face: int = fen()
    maturity: int = big(index=True)  # [unix s]
    splittable: bool
    not_transferable: bool
    bank_acceptance: bool
    status: str = text(16, index=True)  # Issued | Accepted | Received | Rejected | Cancelled
    root_range_id: int | None = big(nullable=True)
    # The invoice hashes proposed at issue (0x-hex); they bind when the payee receives the bill.
    invoice_hashes: list[str] = json_field(default=[])
    block_number: int = big(index=True)
    updated_block: int = big()


class BillInvoice(SQLModel, table=True):
    """An invoice hash proposed on a bill package at issue (BillIssued), one row per (invoice, package):
    the bills an invoice was proposed for, read by its hash (the primary key's first column), where
    `BillPackage.invoice_hashes` can only be read package by package. Never changes; a package's status
    says whether the proposal still awaits the payee's receipt."""

    __tablename__ = "bill_invoice"

    doc_hash: str = hash32(primary_key=True)
    package_id: int = big(primary_key=True)
    block_number: int = big(index=True)


class BillRange(SQLModel, table=True):
    """A range record [start, end] of a package held by `holder` (never changes); `prev`: where it came from.

    Walking `prev` gives the endorsement chain (the prior endorsers liable in recourse).
    """

    __tablename__ = "bill_range"

    range_id: int = big(primary_key=True)
    package_id: int = big(index=True)
    holder: str = addr(index=True)
    start: int = fen()  # first sub-ticket, inclusive
    end: int = fen()  # last sub-ticket, inclusive
    status: str = text(16, index=True)  # Held | Pledged | Presented | Paid | Dishonoured | Closed
    prev: int = big(index=True)  # 0: root range, or taken by the drawer in recourse
    depth: int = big(default=0)  # records between this one and the root (capped by Bills.maxChainLength)
    origin: str = text(16)  # received | endorsed | discounted | pledged | remainder | recourse
    pledgee: str | None = addr(nullable=True)
    presented_at: int | None = big(nullable=True)  # [unix s]
    recourse_obligor: str | None = addr(nullable=True)
    recourse_ancestor: int | None = big(nullable=True)  # the obligor's earliest record in the chain
    block_number: int = big(index=True)
    updated_block: int = big()


class BillQuote(SQLModel, table=True):
    __tablename__ = "bill_quote"

    quote_id: int = big(primary_key=True)
    range_id: int = big(index=True)
    financier: str = addr(index=True)
    start: int = fen()
    end: int = fen()
    rate_bps: int = big()
    expiry: int = big()  # [unix s]
    status: str = text(16)  # open | cancelled | accepted
    block_number: int = big(index=True)
    updated_block: int = big()


class BillMovement(SQLModel, table=True):
    """Every bill event touching a range: endorsed, discounted, pledged, released, presented, paid,
    dishonoured, recourse_claimed, recourse_settled; of the controls: frozen, forced, unfrozen, escrowed."""

    __tablename__ = "bill_movement"

    block_number: int = big(primary_key=True)
    log_index: int = big(primary_key=True)
    tx_hash: str = hash32()
    package_id: int = big(index=True)
    kind: str = text(24)
    range_id: int = big(index=True)  # the record acted on (the new record for moves)
    from_range_id: int | None = big(nullable=True)
    from_address: str | None = addr(nullable=True)
    to_address: str | None = addr(nullable=True)
    start: int | None = fen(nullable=True)
    end: int | None = fen(nullable=True)
    amount: int | None = fen(nullable=True)
    price: int | None = fen(nullable=True)
    interest: int | None = fen(nullable=True)
    reason: int | None = big(nullable=True)
