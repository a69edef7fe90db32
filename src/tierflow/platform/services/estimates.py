"""Financing-cost estimates (融资测算): what a supplier would receive for an amount from each bank at
that bank's standing rate, before it asks; and the standing rates the banks set.

The formula is the chain's (contracts/libraries/Discount.sol): discount interest = face × rate × days
/ 360, days counted from now to maturity with a started day counting whole, rounded half up to the fen.
A bank's quote may differ from its standing rate: the estimate says what the standing rate gives.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlmodel import Session, col, select

from tierflow.chain.vocabulary import Role
from tierflow.platform import i18n
from tierflow.platform.models import Certificate, Payable
from tierflow.platform.models.service import DirectoryParticipant
from tierflow.platform.services import names, workflows
from tierflow.platform.services.errors import Forbidden, InvalidRequest, NotFound
from tierflow.platform.services.participants import Caller
from tierflow.platform.services.schemas.certificates import FinancingEstimate, FinancingEstimates

SECONDS_PER_DAY = 86_400  # [s]
DAY_BPS_YEAR = 360 * 10_000  # 360 days × 10,000 bps
MAX_RATE_BPS = 10_000  # 100% a year


def days_to(maturity: int, now: int) -> int:
    """Whole days from `now` to `maturity` [unix s], a started day counting whole (negative once past)."""
    return -((now - maturity) // SECONDS_PER_DAY)


def discount_interest(face: int, rate_bps: int, days: int) -> int:
    """Discount interest [fen] on `face` [fen] at `rate_bps` a year over `days`, rounded half up."""
    if days <= 0:
        return 0
    return (face * rate_bps * days + DAY_BPS_YEAR // 2) // DAY_BPS_YEAR


def set_standing_rate(*, session: Session, caller: Caller, rate_bps: int) -> int:
    """The caller's (a financier's) standing annual rate [bps], shown to suppliers in their estimates."""
    if not caller.roles & Role.FINANCIER:
        raise Forbidden(i18n.gettext("Only a bank sets a standing rate."), code="not_a_financier")
    if not 0 < rate_bps <= MAX_RATE_BPS:
        raise InvalidRequest(
            i18n.gettext("A standing rate is between 0.01%% and 100.00%% a year."), code="invalid_rate"
        )
    row = session.get(DirectoryParticipant, caller.address)
    if row is None:
        raise Forbidden(i18n.gettext("Your participant is not in the directory; ask the operator."))
    row.standing_rate_bps = rate_bps
    session.add(row)
    session.commit()
    return rate_bps


def standing_rate(session: Session, address: str) -> int | None:
    row = session.get(DirectoryParticipant, address)
    return None if row is None else row.standing_rate_bps


@dataclass(frozen=True)
class Estimate:
    """What `amount` of a certificate due at `maturity` would fetch from one bank at its standing rate."""

    financier: str
    rate_bps: int
    days: int
    amount: int  # [fen] the face sold
    discount: int  # [fen] discount interest
    price: int  # [fen] received
    annual_cost_bps: int  # discount / price × 360 / days: the all-in annual cost of the money received


def estimate(*, session: Session, amount: int, maturity: int, now: int) -> list[Estimate]:
    """One Estimate per active bank with a standing rate, cheapest first (no bank set one: empty)."""
    if amount <= 0:
        raise InvalidRequest(i18n.gettext("Amount: more than ¥0.00."), code="invalid_amount")
    days = days_to(maturity, now)
    if days <= 0:
        raise InvalidRequest(
            i18n.gettext("Maturity: a date after today; a matured certificate is paid, not financed."),
            code="invalid_maturity",
        )
    banks = session.exec(
        select(DirectoryParticipant).where(
            col(DirectoryParticipant.standing_rate_bps).is_not(None),
            col(DirectoryParticipant.status) == "active",
        )
    ).all()
    found = []
    for bank in banks:
        if not bank.roles & Role.FINANCIER or bank.standing_rate_bps is None:
            continue
        interest = discount_interest(amount, bank.standing_rate_bps, days)
        price = amount - interest
        # [bps] of the price, a year of 360 days, rounded half up: above the quoted rate, since the
        # interest is taken out of the face up front.
        cost = (2 * interest * DAY_BPS_YEAR + price * days) // (2 * price * days) if price > 0 else 0
        found.append(Estimate(bank.address, bank.standing_rate_bps, days, amount, interest, price, cost))
    return sorted(found, key=lambda e: (-e.price, e.financier))


def for_supplier(
    *,
    session: Session,
    caller: Caller,
    amount: int,
    token_id: int | None,
    maturity_date: dt.date | None,
    now: int,
) -> FinancingEstimates:
    """The estimate for `amount` [fen] of a certificate the caller holds (`token_id`, its maturity), or of
    any certificate due on `maturity_date`: the API's 融资测算, the same prices as the dashboard's."""
    if (token_id is None) == (maturity_date is None):
        raise InvalidRequest(
            i18n.gettext("Give either a certificate you hold (token_id) or a maturity date, not both."),
            code="estimate_needs_one_of",
        )
    if token_id is not None:
        token = session.get(Certificate, token_id)
        if token is None or token.holder.lower() != caller.address.lower() or token.value == 0:
            raise NotFound(
                i18n.gettext(
                    "You hold no certificate %(token)s; list yours with GET /v1/supplier/holdings.",
                    token=token_id,
                ),
                code="certificate_not_held",
            )
        if amount > token.value:
            raise InvalidRequest(
                i18n.gettext(
                    "Amount: at most the certificate's value, %(value)s.", value=i18n.money(token.value)
                ),
                code="invalid_amount",
            )
        payable = session.get(Payable, token.slot_id)
        maturity = payable.maturity if payable is not None else 0
    else:
        assert maturity_date is not None
        maturity = workflows.date_to_unix(maturity_date)
    rows = estimate(session=session, amount=amount, maturity=maturity, now=now)
    banks = names.names(session, [row.financier for row in rows])
    return FinancingEstimates(
        maturity_date=dt.datetime.fromtimestamp(maturity, dt.UTC).date(),
        days=days_to(maturity, now),
        amount=amount,
        data=[
            FinancingEstimate(
                financier=row.financier,
                financier_name=banks[row.financier],
                rate_bps=row.rate_bps,
                amount=row.amount,
                discount=row.discount,
                price=row.price,
                annual_cost_bps=row.annual_cost_bps,
            )
            for row in rows
        ],
    )
