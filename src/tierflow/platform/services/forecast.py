"""The core enterprise's cash forecast: what it must pay, by maturity date, and the same as CSV for the
API (`GET /v1/core/cash-forecast.csv`) and the dashboard (one writer, headers in the reader's language)."""

from __future__ import annotations

import csv
import datetime as dt
import io
from dataclasses import dataclass

from sqlmodel import Session, col, select

from tierflow.chain.vocabulary import yuan
from tierflow.platform import i18n
from tierflow.platform.models import Payable


@dataclass
class ForecastDay:
    day: int  # 00:00 UTC of the maturity [unix s]
    due: int  # face not yet repaid [fen]
    payables: list[int]


def cash_forecast(db: Session, obligor: str) -> list[ForecastDay]:
    """What `obligor` must pay, by maturity date: every accepted or defaulted payable not fully repaid."""
    days: dict[int, ForecastDay] = {}
    for payable in db.exec(
        select(Payable)
        .where(col(Payable.obligor) == obligor, col(Payable.status).in_(("Accepted", "Defaulted")))
        .order_by(col(Payable.maturity), col(Payable.slot_id))
    ):
        if payable.face <= payable.paid_in:
            continue
        entry = days.setdefault(payable.maturity, ForecastDay(payable.maturity, 0, []))
        entry.due += payable.face - payable.paid_in
        entry.payables.append(payable.slot_id)
    return [days[k] for k in sorted(days)]


def forecast_csv(days: list[ForecastDay]) -> str:
    """The forecast as CSV: ISO date, exact fen and yuan text (a spreadsheet never sees a float), the
    payables; the header in the current locale."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(
        [i18n.gettext("Date"), i18n.gettext("Amount due (fen)"), i18n.gettext("Amount due (¥)"),
         i18n.gettext("Payables")]
    )  # fmt: skip
    for day in days:
        writer.writerow(
            [
                dt.datetime.fromtimestamp(day.day, tz=dt.UTC).date().isoformat(),
                day.due,
                yuan(day.due).replace("¥", "", 1),  # the column header carries the unit
                " ".join(f"P{slot}" for slot in day.payables),
            ]
        )
    return buffer.getvalue()
