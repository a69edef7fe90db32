"""Values rendered as text by the database itself: fen digits, CSV fields, JSON objects of whole rows.

For reads that return many rows (a CSV export, a lineage page of 1,000 certificates), building one
Python object per value and serialising it costs more than the query: the database renders each row's
text instead, and Python only joins the strings. Every function here renders what the typed value would
print as (json.dumps / csv.writer of the ORM value); tests compare the two byte for byte or parsed.
"""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import Boolean, Integer, String, bindparam, case, cast, func, literal, literal_column

from tierflow.platform.db import Fen


def fen_digits(column: Any, dialect: str) -> Any:
    """A Fen column as its integer's decimal digits (NULL stays NULL)."""
    if dialect == "postgresql":
        return cast(column, String)  # NUMERIC(78, 0) prints as the integer
    # 78 zero-padded digits on SQLite (db.Fen): strip the padding, keep one zero for 0.
    return case((column.is_(None), None), else_=func.coalesce(func.nullif(func.ltrim(column, "0"), ""), "0"))


def iso_day(column: Any, dialect: str) -> Any:
    """A unix-seconds column as its UTC day, YYYY-MM-DD, as schemas.times.Day prints it (NULL stays NULL)."""
    if dialect == "postgresql":
        # A date's own text (the epoch's date plus whole days): a tenth of to_char's cost per row, and ISO
        # under the connection's DateStyle, which iso_datestyle() pins for the statement.
        return cast(literal_column("DATE '1970-01-01'") + cast(column / 86_400, Integer), String)
    return func.strftime("%Y-%m-%d", column, "unixepoch")


# Run before a statement using iso_day on PostgreSQL: a date's text is YYYY-MM-DD only in DateStyle ISO
# (the default, but a server may be set otherwise). LOCAL: for the transaction only.
ISO_DATESTYLE = "SET LOCAL datestyle = 'ISO, MDY'"


def iso_instant(column: Any, dialect: str) -> Any:
    """A unix-seconds column as an ISO date-time in UTC ending in Z, as schemas.times.Instant prints it."""
    if dialect == "postgresql":
        return func.to_char(func.timezone("UTC", func.to_timestamp(column)), 'YYYY-MM-DD"T"HH24:MI:SS"Z"')
    return func.strftime("%Y-%m-%dT%H:%M:%SZ", column, "unixepoch")


def json_value(column: Any, dialect: str) -> Any:
    """`column` as JSON text: integers and fen as digits, booleans as true/false, strings quoted and
    escaped by the database's JSON functions, NULL as null."""
    kind = column.type
    if isinstance(kind, Fen):
        rendered = fen_digits(column, dialect)
    elif isinstance(kind, Boolean):
        rendered = case((column, "true"), else_="false")
    elif isinstance(kind, String):
        rendered = cast(func.to_json(column), String) if dialect == "postgresql" else func.json_quote(column)
    elif isinstance(kind, Integer):
        rendered = cast(column, String)
    else:
        raise TypeError(f"no JSON rendering for column {column.name} of type {kind}")
    return case((column.is_(None), "null"), else_=rendered)


def json_object(columns: list[Any], dialect: str, *, tail: bool = False) -> Any:
    """One row's JSON object text, keys in the order of `columns` (their names), as
    json.dumps(separators=(",", ":")) writes it. With `tail`, the object ends with the bound parameter
    `json_tail` instead of "}": more keys the same for every row (json_tail() renders them)."""
    text: Any = None
    for i, column in enumerate(columns):
        key = ("{" if i == 0 else ",") + json.dumps(column.name) + ":"
        part = literal(key, String).concat(json_value(column, dialect))
        text = part if text is None else text.concat(part)
    return text.concat(bindparam("json_tail", type_=String) if tail else literal("}", String))


def json_tail(extra: dict[str, Any]) -> str:
    """The `json_tail` of json_object(tail=True): `extra`'s keys and values, then the closing brace."""
    return "," + json.dumps(extra, separators=(",", ":"))[1:] if extra else "}"


class JsonTexts(list[str]):
    """A JSON array whose items are already JSON texts (rendered by the database): api.writing.json_bytes
    writes them as they are instead of serialising Python values."""
