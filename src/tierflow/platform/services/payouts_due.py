"""Payouts due: matured payables whose obligor paid in more than their holders received, and pushing
every such payout at once (the operator's Receivables.payout, in rounds of the contract's batch limit)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from sqlmodel import Session, col, select

from tierflow.errors import ContractRevert
from tierflow.platform.models import Certificate, Payable
from tierflow.platform.services import names, workflows
from tierflow.platform.services.context import ServiceContext
from tierflow.platform.services.schemas.certificates import Page, PayoutDuePublic, TxResult

MAX_PAYOUT_BATCH = 100  # Receivables.MAX_PAYOUT_BATCH: token ids per payout call


@dataclass
class DuePayable:
    slot_id: int
    obligor: str
    maturity: int  # [unix s]
    due: int  # [fen] paid in by the obligor, not yet paid to holders
    token_ids: list[int] = field(default_factory=list)


def due(session: Session, now: int) -> list[DuePayable]:
    """Matured payables with money paid in that is not yet out, and their holders' live tokens."""
    payables = session.exec(
        select(Payable)
        .where(col(Payable.maturity) <= now, col(Payable.paid_in) > col(Payable.paid_out))
        .order_by(col(Payable.maturity), col(Payable.slot_id))
    ).all()
    rows = {p.slot_id: DuePayable(p.slot_id, p.obligor, p.maturity, p.paid_in - p.paid_out) for p in payables}
    if not rows:
        return []
    tokens = session.exec(
        select(Certificate)
        .where(col(Certificate.slot_id).in_(list(rows)), col(Certificate.value) > 0)
        .where(col(Certificate.status) == "active")
        .order_by(col(Certificate.token_id))
    ).all()
    for token in tokens:
        rows[token.slot_id].token_ids.append(token.token_id)
    return [row for row in rows.values() if row.token_ids]


def listing(*, session: Session, now: int, limit: int, offset: int) -> Page[PayoutDuePublic]:
    """The payouts due as the API lists them: the obligor by name, the maturity as a date."""
    rows = due(session, now)
    obligors = names.names(session, {row.obligor for row in rows})
    data = [
        PayoutDuePublic(
            slot_id=row.slot_id, obligor=row.obligor, obligor_name=obligors[row.obligor],
            maturity_date=dt.datetime.fromtimestamp(row.maturity, dt.UTC).date(), due=row.due,
            token_ids=row.token_ids,
        )
        for row in rows[offset : offset + limit]
    ]  # fmt: skip
    return Page(data=data, count=len(rows), limit=limit, offset=offset)


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
