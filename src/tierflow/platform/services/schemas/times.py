"""Dates and instants in API answers: ISO 8601 out (YYYY-MM-DD, or a UTC date-time ending in Z), built
from the unix seconds the database and the chain store (issue 13: one date format in and out)."""

from __future__ import annotations

import datetime as dt
import functools
from typing import Annotated, Any

from pydantic import BeforeValidator, Field


def _day(value: Any) -> Any:
    # Stored as unix seconds (a maturity is 00:00 UTC of its day): the UTC calendar day.
    if isinstance(value, int) and not isinstance(value, bool):
        return dt.datetime.fromtimestamp(value, tz=dt.UTC).date()
    return value


def _instant(value: Any) -> Any:
    # Unix seconds, or a naive datetime meant as UTC: an aware UTC datetime, so JSON ends in "Z".
    if isinstance(value, int) and not isinstance(value, bool):
        return dt.datetime.fromtimestamp(value, tz=dt.UTC)
    if isinstance(value, dt.datetime) and value.tzinfo is None:
        return value.replace(tzinfo=dt.UTC)
    return value


Day = Annotated[dt.date, BeforeValidator(_day), Field(description="ISO date (YYYY-MM-DD), UTC")]
Instant = Annotated[
    dt.datetime, BeforeValidator(_instant), Field(description="ISO 8601 date-time in UTC (…Z)")
]


@functools.lru_cache(maxsize=4096)
def iso_day(unix: int) -> str:
    """A unix time's UTC day as YYYY-MM-DD (for rows rendered without a model). Cached: a page's
    maturities repeat (one per payable, shared by all its certificates)."""
    return dt.datetime.fromtimestamp(unix, tz=dt.UTC).date().isoformat()


def iso_instant(unix: int) -> str:
    """A unix time as an ISO date-time in UTC ending in Z, as the models above serialise it."""
    return dt.datetime.fromtimestamp(unix, tz=dt.UTC).isoformat().replace("+00:00", "Z")


def day_unix(day: dt.date) -> int:
    """A day as unix seconds at 00:00 UTC, as maturities are stored (the inverse of Day)."""
    return int(dt.datetime(day.year, day.month, day.day, tzinfo=dt.UTC).timestamp())
