"""Exact display and parsing of money, rates and times for the dashboard: integer fen in, strings out."""

from __future__ import annotations

import datetime as dt
import re

from tierflow.platform import i18n
from tierflow.platform.services import estimates
from tierflow.platform.services.schemas import times

FEN_PER_YUAN = 100
SECONDS_PER_DAY = 86_400

_YUAN_RE = re.compile(r"^(?P<int>\d+)(?:\.(?P<frac>\d{1,2}))?$")


def yuan(fen: int) -> str:
    """1234567 fen → "12,345.67": thousands separators and exactly two decimals, integer arithmetic only."""
    if isinstance(fen, bool) or not isinstance(fen, int):
        raise TypeError(f"fen amounts are int, got {type(fen).__name__} {fen!r}")
    sign = "-" if fen < 0 else ""
    whole, cents = divmod(abs(fen), FEN_PER_YUAN)
    return f"{sign}{whole:,}.{cents:02d}"


def parse_yuan(text: str) -> int:
    """ "12,345.6" → 1234560 fen. Accepts separators (comma, space, underscore) and at most two decimals.

    Raises ValueError with a message meant for the person who typed it.
    """
    cleaned = re.sub(r"[,\s_]", "", text.strip())
    if cleaned.startswith(("¥", "￥")):
        cleaned = cleaned[1:]
    match = _YUAN_RE.match(cleaned)
    if not match:
        raise ValueError(
            i18n.gettext(
                "“%(text)s” is not an amount in yuan; write it like 12,345.67 (at most two decimals)",
                text=text,
            )
        )
    frac = (match["frac"] or "").ljust(2, "0")
    return int(match["int"]) * FEN_PER_YUAN + int(frac or "0")


def percent_bps(bps: int) -> str:
    """450 → "4.50%" (basis points as a percentage, exact)."""
    sign = "-" if bps < 0 else ""
    whole, rest = divmod(abs(bps), 100)
    return f"{sign}{whole}.{rest:02d}%"


def parse_percent(text: str) -> int:
    """ "4.5" or "4.50%" → 450 bps; at most two decimals of a percent."""
    cleaned = text.strip().removesuffix("%").strip()
    match = _YUAN_RE.match(cleaned)
    if not match:
        raise ValueError(
            i18n.gettext("“%(text)s” is not a rate; write it as a percentage like 4.50", text=text)
        )
    frac = (match["frac"] or "").ljust(2, "0")
    return int(match["int"]) * 100 + int(frac or "0")


def days_to(maturity: int, now: int) -> int:
    """Whole days from `now` to `maturity`, rounded up like the contract (negative once overdue)."""
    return estimates.days_to(maturity, now)


def discount(face: int, rate_bps: int, days: int) -> int:
    """Discount interest in fen, the on-chain formula (round half up)."""
    return estimates.discount_interest(face, rate_bps, days)


def unix(value: int | dt.date | dt.datetime) -> int:
    """Unix seconds of what a page shows: the database's ints, or the API models' ISO dates and instants
    (services/schemas/times.py: a date is 00:00 UTC of its day)."""
    if isinstance(value, dt.datetime):
        return int(value.timestamp())
    if isinstance(value, dt.date):
        return times.day_unix(value)
    return value


def iso_date(ts: int | dt.date | dt.datetime) -> str:
    """A unix time as a UTC calendar date (the page re-renders it in the reader's locale)."""
    return dt.datetime.fromtimestamp(unix(ts), tz=dt.UTC).strftime("%Y-%m-%d")


def iso_datetime(ts: int | dt.date | dt.datetime) -> str:
    return dt.datetime.fromtimestamp(unix(ts), tz=dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_date(text: str) -> int:
    """ "2026-12-31" → unix seconds at 00:00 UTC of that day."""
    try:
        day = dt.date.fromisoformat(text.strip())
    except ValueError:
        raise ValueError(
            i18n.gettext(
                "“%(text)s” is not a date; pick one in the calendar or write it as YYYY-MM-DD", text=text
            )
        ) from None
    return int(dt.datetime(day.year, day.month, day.day, tzinfo=dt.UTC).timestamp())


def short_address(address: str) -> str:
    """0x1234…abcd: enough to tell participants apart in a dense table; the full address is in the title."""
    if len(address) <= 12:
        return address
    return f"{address[:6]}…{address[-4:]}"


def share_bps(part: int, whole: int) -> int:
    """part/whole in basis points, rounded half up; 0 when whole is 0."""
    if whole <= 0:
        return 0
    return (part * 10_000 * 2 + whole) // (2 * whole)
