"""Payouts due: matured payables whose obligor paid in more than their holders received, and pushing
every such payout at once (the operator's Receivables.payout, in rounds of the contract's batch limit)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import literal
from sqlmodel import Session, col, select

from tierflow.errors import ContractRevert
from tierflow.platform.models import Certificate, Payable
from tierflow.platform.services import keyset, names, workflows
from tierflow.platform.services.context import ServiceContext
from tierflow.platform.services.schemas.certificates import CursorPage, PayoutDuePublic, TxResult

MAX_PAYOUT_BATCH = 100  # Receivables.MAX_PAYOUT_BATCH: token ids per payout call


@dataclass
class DuePayable:
    slot_id: int
    obligor: str
    maturity: int  # [unix s]
    due: int  # [fen] paid in by the obligor, not yet paid to holders
    token_ids: list[int] = field(default_factory=list)


# A live certificate, written so that no index on the status can serve it (`|| ''`, on SQLite and
# PostgreSQL alike): without statistics SQLite otherwise picks ix_certificate_status for the lookups by
# payable and reads every active certificate once per payable (2.5 s for a count at 120,000 certificates)
# instead of the payable's own few through ix_certificate_slot_token.
_ACTIVE = (col(Certificate.status) + literal("")) == "active"


def _due_payables(now: int) -> Any:
    """Matured payables with money paid in that is not yet out and a live token to pay it to, unordered:
    the one query of both the listing (a keyset page by maturity and slot) and the push (every row).

    Both parts read by key, whatever the statistics say: the payables through ix_payable_unpaid_maturity
    (only those with money not yet paid out are in it: `paid_in > paid_out` is its predicate, written the
    same here), and a live token per payable found, through the certificates' slot index (a correlated
    subquery). Through ix_payable_maturity_slot and an EXISTS, PostgreSQL visited every matured payable
    ever repaid and hashed every live certificate of the platform (estimated at 476, 60,000 in fact):
    13-17 ms a count or page with 8,000 matured payables, growing with both tables; now 0.1 ms.
    """
    live = (
        select(Certificate.token_id)
        .where(col(Certificate.slot_id) == col(Payable.slot_id), col(Certificate.value) > 0, _ACTIVE)
        .limit(1)
        .correlate(Payable)
        .scalar_subquery()
    )
    return select(Payable).where(
        col(Payable.maturity) <= now, col(Payable.paid_in) > col(Payable.paid_out), live.is_not(None)
    )


def _with_tokens(session: Session, payables: Sequence[Payable]) -> list[DuePayable]:
    """`payables` as DuePayable rows in their order, each with its holders' live tokens in id order."""
    rows = {p.slot_id: DuePayable(p.slot_id, p.obligor, p.maturity, p.paid_in - p.paid_out) for p in payables}
    if not rows:
        return []
    tokens = session.exec(
        select(Certificate)
        .where(col(Certificate.slot_id).in_(list(rows)), col(Certificate.value) > 0, _ACTIVE)
        .order_by(col(Certificate.token_id))
    ).all()
    for token in tokens:
        rows[token.slot_id].token_ids.append(token.token_id)
    return list(rows.values())


def due(session: Session, now: int) -> list[DuePayable]:
    """Every matured payable with money paid in that is not yet out, and its holders' live tokens."""
    payables = session.exec(_due_payables(now).order_by(col(Payable.maturity), col(Payable.slot_id))).all()
    return _with_tokens(session, payables)


@dataclass
class DuePage:
    """One keyset page of the payouts due: its rows, how many are due in all, the next page's cursor."""

    data: list[DuePayable]
    count: int
    next_after: str | None


def page(*, session: Session, now: int, limit: int, offset: int = 0, after: str | None = None) -> DuePage:
    """A keyset page of the payouts due in (maturity, slot) order after the opaque cursor `after`
    (services.keyset), through ix_payable_unpaid_maturity; the count is over every page."""
    start = keyset.decode_cursor(after, (int, int))
    keys = (col(Payable.maturity), col(Payable.slot_id))
    payables, count, following = keyset.composite_rows(
        session, _due_payables(now), keys, after=start, limit=limit, offset=offset
    )
    return DuePage(_with_tokens(session, payables), count, following)


def listing(
    *, session: Session, now: int, limit: int, offset: int, after: str | None = None
) -> CursorPage[PayoutDuePublic]:
    """The payouts due as the API lists them, a page of `page`: the obligor by name, the maturity as a
    date."""
    due_page = page(session=session, now=now, limit=limit, offset=offset, after=after)
    obligors = names.names(session, {row.obligor for row in due_page.data})
    data = [
        PayoutDuePublic(
            slot_id=row.slot_id, obligor=row.obligor, obligor_name=obligors[row.obligor],
            maturity_date=dt.datetime.fromtimestamp(row.maturity, dt.UTC).date(), due=row.due,
            token_ids=row.token_ids,
        )
        for row in due_page.data
    ]  # fmt: skip
    return CursorPage(
        data=data, count=due_page.count, limit=limit, offset=offset, next_after=due_page.next_after
    )


def push_all(*, ctx: ServiceContext, session: Session, now: int) -> list[TxResult]:
    """Push every due payout; a round the chain finds nothing to pay in (claimed meanwhile) is skipped."""
    token_ids = [token for row in due(session, now) for token in row.token_ids]
    session.rollback()  # end the read before the writes
    results: list[TxResult] = []
    for start in range(0, len(token_ids), MAX_PAYOUT_BATCH):
        try:
            results.append(
                workflows.push_payouts(ctx=ctx, token_ids=token_ids[start : start + MAX_PAYOUT_BATCH])
            )
        except ContractRevert as error:
            if error.name != "CertificateNothingToPay":
                raise
    return results
