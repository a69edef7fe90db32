"""Who may see what: the one place the API and the dashboard ask before they show a row.

A party sees what it is a party to and nothing else. The rules, one per kind of record:

- **a payable and its whole certificate tree**: the obligor (it pays every holder) and the auditors and
  the operator (look-through supervision) see all of it;
- **a certificate**: its holder, anyone who held it or created it by a split (the transfer record
  names it), the seller and the bank of a financing request on it — these are the party's own
  certificates of a payable; the lineage it sees is the path from each of them to the root, and
  totals over a lineage are computed on that visible part only (never on the whole tree);
- **a payable itself** (face, maturity, documents): its obligor and first supplier, and anyone with
  an own certificate in it;
- **a backing document**: its uploader and the parties to its payable;
- **a bill**: its drawer, acceptor and payee, anyone who holds or held a range or is its pledgee, a
  bank asked to discount part of it (in lists too); a range's endorsement chain: its holder and
  pledgee, the drawer, the acceptor, a bank asked to discount that range;
- **an actor's page** (bank, supplier, core enterprise): that participant in that role; auditors and
  the operator read it, never act on it.

Functions answer a question (`is_…`, `can_…`, `…_scope`) or raise the domain's NotFound/Forbidden
(`check_…`); they take any party with an address, its role bits and `sees_everything`: the API's
Caller and the dashboard's Viewer alike.
"""

from __future__ import annotations

from typing import Any, Protocol

from sqlalchemy import and_, bindparam, or_, select
from sqlalchemy.engine import Row as SqlRow
from sqlalchemy.sql.elements import ColumnElement
from sqlmodel import Session, col

from tierflow.platform import i18n
from tierflow.platform.models import (
    BillPackage,
    BillRange,
    Certificate,
    CertificateTransfer,
    FinancingRequest,
    Payable,
)
from tierflow.platform.models.service import BillDiscountRequest, StoredDocument
from tierflow.platform.services.errors import Forbidden, NotFound

PAYABLE = Payable.__table__  # type: ignore[attr-defined]
CERT = Certificate.__table__  # type: ignore[attr-defined]
TRANSFER = CertificateTransfer.__table__  # type: ignore[attr-defined]
REQUEST = FinancingRequest.__table__  # type: ignore[attr-defined]


class Party(Protocol):
    """Who asks: the API's Caller or the dashboard's Viewer."""

    @property
    def address(self) -> str: ...

    @property
    def roles(self) -> int: ...

    @property
    def sees_everything(self) -> bool: ...


def not_a_party(message: str) -> Forbidden:
    """403 `not_a_party` with a whole sentence (each caller says what, and who may see it)."""
    return Forbidden(message, code="not_a_party")


# -- actor pages ------------------------------------------------------------------------------------
def owner_access(party: Party, address: str, role: int) -> tuple[bool, bool]:
    """(may see, read only) for the page of participant `address` in `role`."""
    if party.address.lower() == address.lower() and party.roles & role:
        return True, False
    if party.sees_everything:
        return True, True
    return False, True


# -- payables and certificates ----------------------------------------------------------------------
def sees_whole_tree(party: Party, obligor: str) -> bool:
    """The obligor pays every holder, so it sees them all; auditors and the operator see everything."""
    return party.sees_everything or party.address == obligor


# The columns of a transfer record _transfer_names() reads.
_MOVE = (
    TRANSFER.c.token_id,
    TRANSFER.c.new_token_id,
    TRANSFER.c.kind,
    TRANSFER.c.from_address,
    TRANSFER.c.to_address,
)


def _transfer_names(
    token_id: int, new_token_id: int | None, kind: str, sender: str, receiver: str, me: str
) -> list[int]:
    """The tokens a transfer record makes `me` a party to: the sender both the token it moved or split
    and the token its split created, the receiver what it received (the new token of a split)."""
    found: list[int] = []
    if sender == me:
        found.append(token_id)
        if new_token_id is not None:
            found.append(new_token_id)
    if receiver == me:
        found.append(new_token_id if kind == "split" and new_token_id is not None else token_id)
    return found


def party_tokens(session: Session, party: Party, slot_id: int) -> set[int]:
    """The certificates of payable `slot_id` that `party` is a party to on its own (module docstring)."""
    me = party.address
    mine = set(
        session.execute(
            select(CERT.c.token_id).where(CERT.c.slot_id == slot_id, CERT.c.holder == me)
        ).scalars()
    )
    mine.update(
        session.execute(
            select(REQUEST.c.token_id)
            .join(CERT, CERT.c.token_id == REQUEST.c.token_id)
            .where(CERT.c.slot_id == slot_id, or_(REQUEST.c.seller == me, REQUEST.c.financier == me))
        ).scalars()
    )
    moved = session.execute(
        select(*_MOVE).where(
            TRANSFER.c.slot_id == slot_id, or_(TRANSFER.c.from_address == me, TRANSFER.c.to_address == me)
        )
    )
    for token_id, new_token_id, kind, sender, receiver in moved:
        mine.update(_transfer_names(token_id, new_token_id, kind, sender, receiver, me))
    return mine


def lineage_scope(session: Session, party: Party, payable: Payable | Any) -> set[int] | None:
    """None when `party` sees the whole tree of `payable`, else its own certificates in it (the
    lineage shows them and their paths to the root); Forbidden when it is no party to the payable."""
    if sees_whole_tree(party, payable.obligor):
        return None
    mine = party_tokens(session, party, payable.slot_id)
    if not mine and party.address != payable.supplier:
        raise not_a_party(
            i18n.gettext(
                "You are no party to payable %(id)s: its lineage is shown to its core enterprise, its "
                "supplier, its holders and the banks that financed it.",
                id=payable.slot_id,
            )
        )
    return mine


def is_slot_party(session: Session, party: Party, row: Payable) -> bool:
    """May `party` read payable `row` itself (face, maturity, status, documents)?"""
    me = party.address
    if party.sees_everything or me in (row.obligor, row.supplier):
        return True
    holds = session.execute(
        select(CERT.c.token_id).where(CERT.c.slot_id == row.slot_id, CERT.c.holder == me).limit(1)
    ).first()
    if holds is not None:
        return True
    asked = session.execute(
        select(REQUEST.c.request_id)
        .join(CERT, CERT.c.token_id == REQUEST.c.token_id)
        .where(CERT.c.slot_id == row.slot_id, or_(REQUEST.c.financier == me, REQUEST.c.seller == me))
        .limit(1)
    ).first()
    if asked is not None:
        return True
    held = session.execute(
        select(TRANSFER.c.token_id)
        .where(
            TRANSFER.c.slot_id == row.slot_id, or_(TRANSFER.c.from_address == me, TRANSFER.c.to_address == me)
        )
        .limit(1)
    ).first()
    return held is not None


def can_see_certificate(
    session: Session, party: Party, row: Certificate | Any, *, obligor: str | None = None
) -> bool:
    """May `party` read certificate `row` (and so its path to the root)? Its own certificates only.
    `row`: anything with the certificate's token_id, slot_id, holder and parent_id; `obligor`: its
    payable's, when the caller read it already (else looked up)."""
    me = party.address
    if party.sees_everything or row.holder == me:
        return True
    if obligor is None:
        slot = session.get(Payable, row.slot_id)
        obligor = None if slot is None else slot.obligor
    if obligor == me:
        return True
    asked = session.execute(
        select(REQUEST.c.request_id)
        .where(REQUEST.c.token_id == row.token_id, or_(REQUEST.c.financier == me, REQUEST.c.seller == me))
        .limit(1)
    ).first()
    if asked is not None:
        return True
    # Records naming the token (through the token index) or creating it (a split of its parent).
    named = TRANSFER.c.token_id == row.token_id
    if row.parent_id is not None:
        named = or_(
            named, and_(TRANSFER.c.token_id == row.parent_id, TRANSFER.c.new_token_id == row.token_id)
        )
    moved = session.execute(
        select(*_MOVE).where(named, or_(TRANSFER.c.from_address == me, TRANSFER.c.to_address == me))
    )
    return any(
        row.token_id in _transfer_names(token_id, new_token_id, kind, sender, receiver, me)
        for token_id, new_token_id, kind, sender, receiver in moved
    )


# Run on every lineage request, cached body or not: built once (see participants._KEY_LOOKUP) and
# Core, not an ORM get (identity map and full row), because only two columns decide.
_SLOT_PARTIES = select(PAYABLE.c.obligor, PAYABLE.c.root_token_id).where(
    PAYABLE.c.slot_id == bindparam("slot")
)


def check_whole_tree(session: Session, party: Party, slot_id: int) -> SqlRow[Any]:
    """(obligor, root token) of payable `slot_id` if `party` may read its whole tree (NotFound, Forbidden)."""
    row = session.execute(_SLOT_PARTIES, {"slot": slot_id}).first()
    if row is None:
        raise NotFound(
            i18n.gettext("payable %(slot_id)s does not exist (or is not indexed yet)", slot_id=slot_id),
            code="payable_not_found",
        )
    if not sees_whole_tree(party, row.obligor):
        raise Forbidden(
            "the full lineage of a payable is visible to its obligor and auditors; "
            "holders can read the path of their own certificate (/v1/certificates/{id}/lineage)",
            code="not_a_party",
        )
    return row


def can_see_request(party: Party, row: FinancingRequest) -> bool:
    return party.sees_everything or party.address in (row.financier, row.seller)


# -- bills ------------------------------------------------------------------------------------------
def is_package_party(session: Session, party: Party, row: BillPackage) -> bool:
    """Auditors; the drawer, acceptor and payee; anyone who holds or held a range or is its pledgee;
    a bank asked to discount part of it."""
    me = party.address
    if party.sees_everything or me in (row.drawer, row.acceptor, row.payee):
        return True
    held = session.execute(
        select(BillRange.range_id)  # type: ignore[call-overload]
        .where(col(BillRange.package_id) == row.package_id)
        .where(or_(col(BillRange.holder) == me, col(BillRange.pledgee) == me))
        .limit(1)
    ).first()
    if held is not None:
        return True
    asked = session.execute(
        select(BillDiscountRequest.request_id)  # type: ignore[call-overload]
        .where(col(BillDiscountRequest.package_id) == row.package_id)
        .where(col(BillDiscountRequest.financier) == me)
        .limit(1)
    ).first()
    return asked is not None


def package_filter(party: Party) -> ColumnElement[bool] | None:
    """The condition on bill_package rows of the packages `party` is a party to (is_package_party as
    SQL, for lists); None for the supervisors, who see every package."""
    if party.sees_everything:
        return None
    me = party.address
    ranges = select(BillRange.package_id).where(  # type: ignore[call-overload]
        or_(col(BillRange.holder) == me, col(BillRange.pledgee) == me)
    )
    asked = select(BillDiscountRequest.package_id).where(  # type: ignore[call-overload]
        col(BillDiscountRequest.financier) == me
    )
    return or_(
        col(BillPackage.drawer) == me,
        col(BillPackage.acceptor) == me,
        col(BillPackage.payee) == me,
        col(BillPackage.package_id).in_(ranges),
        col(BillPackage.package_id).in_(asked),
    )


def can_read_document(session: Session, party: Party, row: StoredDocument) -> bool:
    """A backing document: its uploader, the parties to its payable (is_slot_party), the supervisors."""
    if party.sees_everything or row.uploader == party.address:
        return True
    if row.slot_id is None:
        return False
    slot = session.get(Payable, row.slot_id)
    return slot is not None and is_slot_party(session, party, slot)


def check_range_chain(session: Session, party: Party, row: BillRange, package: BillPackage) -> None:
    """Forbidden unless `party` may read the endorsement chain of range `row`."""
    me = party.address
    if party.sees_everything or me in (row.holder, row.pledgee, package.drawer, package.acceptor):
        return
    asked = session.execute(
        select(BillDiscountRequest.request_id)  # type: ignore[call-overload]
        .where(col(BillDiscountRequest.range_id) == row.range_id)
        .where(col(BillDiscountRequest.financier) == me)
        .limit(1)
    ).first()
    if asked is None:
        raise Forbidden(
            i18n.gettext(
                "the endorsement chain of bill range %(id)s is shown to its holder, the drawer, "
                "the acceptor and auditors",
                id=row.range_id,
            ),
            code="not_a_party",
        )
