"""Whole-table CSV exports for auditors: every row, streamed in chunks with constant memory.

A table of a million certificates is ~160 MB of CSV: it is never held in memory, neither as rows nor as
text. Each export reads through one connection of its own (the request's session is gone once the
response starts streaming) in batches — a server-side cursor on PostgreSQL, SQLite's own step-by-step
cursor — and hands the client ~64 KB pieces of CSV as they fill. The rows come from one statement,
hence one consistent snapshot, however long the download takes.

The tables of plain columns go through the driver's cursor, the database rendering each row as its CSV
line (fen as integer text, booleans as True/False, csv.writer's quoting): per value, SQLAlchemy's row
and type processing, and then Python's csv writer, cost more than the database's own work.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Boolean, Select, String, case, cast, func, literal, or_, select
from sqlalchemy.engine import Engine
from sqlmodel import Session, col

from tierflow.platform.db import Fen
from tierflow.platform.models import BillPackage, BillRange, Certificate, FinancingRequest, Payable
from tierflow.platform.models.service import DirectoryParticipant
from tierflow.platform.services import bills, participants, sqltext
from tierflow.platform.services.schemas import times
from tierflow.platform.services.schemas.bills import BillPackagePublic, BillRangePublic
from tierflow.platform.services.schemas.certificates import (
    CertificatePublic,
    FinancingPublic,
    ParticipantPublic,
    PayablePublic,
)

CHUNK_BYTES = 65_536
YIELD_PER = 2_000

PAYABLE = Payable.__table__  # type: ignore[attr-defined]
CERT = Certificate.__table__  # type: ignore[attr-defined]
REQUEST = FinancingRequest.__table__  # type: ignore[attr-defined]


@dataclass(frozen=True)
class Export:
    """A header and the rows under it; `convert` turns one fetched row into the CSV row's values."""

    header: Sequence[str]
    statement: Select[Any]
    convert: Callable[[Any], Sequence[Any]] | None = None
    orm: bool = False  # rows are ORM objects (scalars), converted one by one


# Unix-seconds columns the API answers in ISO 8601 (issue 13): the export shows them the same way.
ISO_DAYS = frozenset({("payable", "maturity")})
ISO_INSTANTS = frozenset({("financing_request", "quote_expiry")})


def _as_csv(column: Any, dialect: str) -> Any:
    """`column` as the CSV shows it, rendered by the database (what the typed Python value prints as)."""
    rendered: Any
    key = (getattr(column.table, "name", None), column.name)
    if key in ISO_DAYS:
        rendered = sqltext.iso_day(column, dialect)
    elif key in ISO_INSTANTS:
        rendered = sqltext.iso_instant(column, dialect)
    elif isinstance(column.type, Fen):
        rendered = sqltext.fen_digits(column, dialect)
    elif isinstance(column.type, Boolean):
        rendered = case((column.is_(None), None), (column, "True"), else_="False")
    else:
        return column
    return rendered.label(column.name)


# Text columns that never hold a comma, a quote or a line break: hex addresses and the indexer's own
# status words. Their fields skip the quoting test (four string searches and a CASE per value: about a
# fifth of the database's work on each row of the certificate export).
NEVER_QUOTED = frozenset(
    (table, name)
    for table in ("certificate", "payable", "financing_request")
    for name in ("holder", "obligor", "supplier", "seller", "financier", "cancelled_by", "status")
)


def _csv_field(column: Any, dialect: str) -> Any:
    """`column` as one CSV field, text rendered by the database exactly as csv.writer writes the typed
    value (QUOTE_MINIMAL): NULL as empty, a string holding a comma, a quote or a line break quoted with
    its quotes doubled."""
    rendered = _as_csv(column, dialect)
    text = func.coalesce(cast(rendered, String), "")
    if rendered is not column or not isinstance(column.type, String):
        return text  # digits, True/False: never quoted
    if (getattr(column.table, "name", None), column.name) in NEVER_QUOTED:
        return text
    position = func.strpos if dialect == "postgresql" else func.instr
    special = or_(*(position(text, c) > 0 for c in (",", '"', "\r", "\n")))
    quoted = literal('"').concat(func.replace(text, '"', '""')).concat('"')
    return case((special, quoted), else_=text)


def _csv_lines(statement: Select[Any], dialect: str) -> Select[Any]:
    """`statement` with one column: each row's CSV line (without its terminator), built by the database.

    One string per row crosses the driver instead of one value per column: at a million rows, making
    13 million Python objects and writing them through csv.writer was most of the export's time.
    """
    fields = [_csv_field(c, dialect) for c in statement.selected_columns]
    line = fields[0]
    for field in fields[1:]:
        line = line.concat(",").concat(field)
    return statement.with_only_columns(line.label("line"), maintain_column_froms=True)


def _raw_lines(engine: Engine, export: Export) -> Iterator[Sequence[Any]]:
    """Batches of the statement's rows from the driver's cursor, each row one CSV line (_csv_lines)."""
    dialect = engine.dialect.name
    statement = _csv_lines(export.statement, dialect)
    sql = str(statement.compile(dialect=engine.dialect, compile_kwargs={"literal_binds": True}))
    with engine.connect() as conn:
        driver = conn.connection.driver_connection
        # psycopg: a named cursor is a server-side one (rows arrive batch by batch, not all at once).
        cursor = driver.cursor(name="tierflow_export") if dialect == "postgresql" else driver.cursor()  # type: ignore[union-attr]
        try:
            if dialect == "postgresql":
                driver.execute(sqltext.ISO_DATESTYLE)  # type: ignore[union-attr]
            cursor.execute(sql)
            while batch := cursor.fetchmany(YIELD_PER):
                yield batch
        finally:
            cursor.close()


def chunks(engine: Engine, export: Export) -> Iterator[bytes]:
    """The CSV text of `export`, header first, in pieces of about CHUNK_BYTES."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(export.header)
    if export.convert is None and not export.orm:
        for batch in _raw_lines(engine, export):
            buffer.write("\r\n".join([row[0] for row in batch]))
            buffer.write("\r\n")
            if buffer.tell() >= CHUNK_BYTES:
                yield buffer.getvalue().encode()
                buffer.seek(0)
                buffer.truncate()
        yield buffer.getvalue().encode()
        return
    with Session(engine) as session:
        result = session.execute(export.statement.execution_options(yield_per=YIELD_PER))
        partitions: Iterable[Sequence[Any]] = (
            result.scalars().partitions() if export.orm else result.partitions()
        )
        dated = [] if export.orm else _dated_columns(export.statement)
        for partition in partitions:
            rows = map(export.convert, partition) if export.convert else partition
            writer.writerows(_iso_rows(rows, dated) if dated else rows)
            if buffer.tell() >= CHUNK_BYTES:
                yield buffer.getvalue().encode()
                buffer.seek(0)
                buffer.truncate()
    yield buffer.getvalue().encode()


def _dated_columns(statement: Select[Any]) -> list[tuple[int, Callable[[int], str]]]:
    """Positions of the statement's unix-seconds columns shown in ISO, with their Python rendering (the
    typed path of what _as_csv renders in SQL)."""
    found: list[tuple[int, Callable[[int], str]]] = []
    for i, column in enumerate(statement.selected_columns):
        key = (getattr(getattr(column, "table", None), "name", None), column.name)
        if key in ISO_DAYS:
            found.append((i, times.iso_day))
        elif key in ISO_INSTANTS:
            found.append((i, times.iso_instant))
    return found


def _iso_rows(
    rows: Iterable[Sequence[Any]], dated: list[tuple[int, Callable[[int], str]]]
) -> Iterator[list[Any]]:
    for row in rows:
        values = list(row)
        for i, render in dated:
            if values[i] is not None:
                values[i] = render(values[i])
        yield values


def _joined(value: Any) -> Any:
    return "|".join(map(str, value)) if isinstance(value, list) else value


def _model_row(public: Callable[[Any], Any]) -> Callable[[Any], list[Any]]:
    # JSON mode: dates and instants as the API answers them (2027-01-15, 2027-01-15T08:00:00Z).
    return lambda row: [_joined(v) for v in public(row).model_dump(mode="json").values()]


def api_export(table: str) -> Export:
    """The API's exports (/v1/audit/export/{table}.csv): the columns of each table's public model."""
    if table == "payables":
        columns = [PAYABLE.c[name] for name in PayablePublic.model_fields]
        return Export([c.name for c in columns], select(*columns).order_by(PAYABLE.c.slot_id))
    if table == "certificates":
        columns = [
            *(CERT.c[name] for name in CertificatePublic.model_fields if name in CERT.c),
            PAYABLE.c.maturity,
            PAYABLE.c.obligor,
        ]
        statement = (
            select(*columns)
            .select_from(CERT.outerjoin(PAYABLE, PAYABLE.c.slot_id == CERT.c.slot_id))
            .order_by(CERT.c.token_id)
        )
        return Export([c.name for c in columns], statement)
    if table == "financing-requests":
        columns = [REQUEST.c[name] for name in FinancingPublic.model_fields]
        return Export([c.name for c in columns], select(*columns).order_by(REQUEST.c.request_id.desc()))
    if table == "participants":
        statement = select(DirectoryParticipant).order_by(
            col(DirectoryParticipant.created_at), col(DirectoryParticipant.address)
        )
        header = list(ParticipantPublic.model_fields)
        return Export(header, statement, _model_row(participants.public), orm=True)
    raise ValueError(f"no export named {table}")


def bill_export(table: str) -> Export:
    """/v1/bills/export/{packages,ranges}.csv: every package or every range record (Closed ones too)."""
    if table == "packages":
        packages = select(BillPackage).order_by(col(BillPackage.package_id))
        return Export(list(BillPackagePublic.model_fields), packages, _model_row(bills.package_public), True)
    ranges = select(BillRange).order_by(col(BillRange.range_id))
    return Export(list(BillRangePublic.model_fields), ranges, _model_row(bills.range_public), True)
