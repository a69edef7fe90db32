"""Whole-table CSV exports for auditors: every row, streamed in chunks with constant memory.

A table of a million certificates is ~160 MB of CSV: it is never held in memory, neither as rows nor as
text. Each export reads through one connection of its own (the request's session is gone once the
response starts streaming) in batches — a server-side cursor on PostgreSQL, SQLite's own step-by-step
cursor — and hands the client ~64 KB pieces of CSV as they fill. The rows come from one statement,
hence one consistent snapshot, however long the download takes.

The tables of plain columns go through the driver's cursor, the database rendering each row as its CSV
line (fen as integer text, booleans as True/False, csv.writer's quoting): per value, SQLAlchemy's row
and type processing, and then Python's csv writer, cost more than the database's own work.

Each amount comes twice: the exact integer fen under the column's own name, then `<name>_yuan` as plain
decimal text (12345.67: no separator, exactly two decimals, never a float). The header row is in the
request's language: in English the column names (programs read them), in Chinese an auditor's words
(`exports.header`, the same words as the dashboard's CSV files).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    Boolean,
    Integer,
    Numeric,
    Select,
    String,
    case,
    cast,
    func,
    literal,
    or_,
    select,
    type_coerce,
)
from sqlalchemy.engine import Engine
from sqlmodel import Session, col

from tierflow.platform import i18n
from tierflow.platform.db import FEN_DIGITS, Fen
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
    """`statement` with one column: each row's CSV line (without its terminator), built by the database;
    an amount (Fen) is two fields, its fen digits and its yuan text.

    One string per row crosses the driver instead of one value per column: at a million rows, making
    13 million Python objects and writing them through csv.writer was most of the export's time.
    """
    fields = []
    for column in statement.selected_columns:
        fields.append(_csv_field(column, dialect))
        if isinstance(column.type, Fen):  # the yuan text beside the exact fen: digits and a point, unquoted
            fields.append(func.coalesce(_yuan_sql(column, dialect), ""))
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
        # the typed path of _csv_lines' yuan text after each amount
        amounts = [] if export.orm else _fen_positions(export.statement)
        for partition in partitions:
            rows = map(export.convert, partition) if export.convert else partition
            writer.writerows(_iso_rows(rows, dated, amounts) if dated or amounts else rows)
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


def _fen_positions(statement: Select[Any]) -> list[int]:
    return [i for i, column in enumerate(statement.selected_columns) if isinstance(column.type, Fen)]


def _iso_rows(
    rows: Iterable[Sequence[Any]], dated: list[tuple[int, Callable[[int], str]]], amounts: list[int]
) -> Iterator[list[Any]]:
    for row in rows:
        values = list(row)
        for i, render in dated:
            if values[i] is not None:
                values[i] = render(values[i])
        for i in reversed(amounts):  # from the right: the positions on the left stay where they are
            values.insert(i + 1, yuan_text(values[i]))
        yield values


def _joined(value: Any) -> Any:
    return "|".join(map(str, value)) if isinstance(value, list) else value


def _model_row(public: Callable[[Any], Any]) -> Callable[[Any], list[Any]]:
    # JSON mode: dates and instants as the API answers them (2027-01-15, 2027-01-15T08:00:00Z).
    return lambda row: [_joined(v) for v in public(row).model_dump(mode="json").values()]


# Column names the exports' Chinese header translates (the others are in dashboard/labels.CSV_HEADERS,
# the same msgids: one column name, one header, in the dashboard's CSV files and the API's).
COLUMN_WORDS = (
    i18n.N_("acceptor"), i18n.N_("bank_acceptance"), i18n.N_("contact"), i18n.N_("created_at"),
    i18n.N_("custody"), i18n.N_("drawer"), i18n.N_("end"), i18n.N_("entity_hash"),
    i18n.N_("invoice_hashes"), i18n.N_("is_operator"), i18n.N_("legal_name"), i18n.N_("lock_ref"),
    i18n.N_("locked"), i18n.N_("not_transferable"), i18n.N_("origin"), i18n.N_("package_id"),
    i18n.N_("payee"), i18n.N_("pledgee"), i18n.N_("presented_at"), i18n.N_("prev"),
    i18n.N_("quote_expiry"), i18n.N_("range_id"), i18n.N_("recourse_obligor"), i18n.N_("root_range_id"),
    i18n.N_("root_token_id"), i18n.N_("splittable"), i18n.N_("start"),
)  # fmt: skip


def header(names: Sequence[str], fen: frozenset[str]) -> list[str]:
    """The header row in the current language: each name, and `<name>_yuan` after each amount in `fen`.
    English keeps the column names; Chinese says the unit of each amount (票面金额（分） / （元）)."""
    english = i18n.get_locale() == i18n.EN
    row: list[str] = []
    for name in names:
        if name in fen:
            row += (
                [name, f"{name}_yuan"]
                if english
                else [i18n.gettext(f"{name}_fen"), i18n.gettext(f"{name}_yuan")]
            )
        else:
            row.append(name if english else i18n.gettext(name))
    return row


def yuan_text(fen: int | None) -> str | None:
    """Fen as plain yuan text: 1234567 → "12345.67" (integer arithmetic, exactly two decimals)."""
    if fen is None:
        return None
    whole, cents = divmod(abs(fen), 100)
    return f"{'-' if fen < 0 else ''}{whole}.{cents:02d}"


def _yuan_sql(column: Any, dialect: str) -> Any:
    """A Fen column as yuan_text renders it, as text, by the database (NULL stays NULL)."""
    if dialect == "postgresql":
        # NUMERIC × 0.01 is exact, of scale 2: prints as 12345.67, 0.05, 0.00
        return cast(type_coerce(column, Numeric()) * literal(Decimal("0.01"), Numeric(3, 2)), String)
    # 78 zero-padded digits (db.Fen). Below 2**63 fen (text order is numeric order: the padding) SQLite's
    # own integer and printf, the cheapest rendering per row; above, string slices (exact at any size):
    # the whole yuan without the padding but with at least its last digit, a point, the cents.
    number = cast(column, Integer)
    fast = func.printf("%d.%02d", number // 100, number % 100)
    whole = func.ltrim(func.substr(column, 1, 75), "0").concat(func.substr(column, 76, 1))
    exact = whole.concat(".").concat(func.substr(column, 77, 2))
    return case((column <= literal(f"{2**63 - 1:0{FEN_DIGITS}d}"), fast), else_=exact)


def _model_row_yuan(public: Callable[[Any], Any], fen: frozenset[str]) -> Callable[[Any], list[Any]]:
    """_model_row with the yuan text after each amount in `fen`."""

    def row(record: Any) -> list[Any]:
        values: list[Any] = []
        for name, value in public(record).model_dump(mode="json").items():
            values.append(_joined(value))
            if name in fen:
                values.append(yuan_text(value))
        return values

    return row


def _fen_names(columns: Sequence[Any]) -> frozenset[str]:
    return frozenset(c.name for c in columns if isinstance(c.type, Fen))


def api_export(table: str) -> Export:
    """The API's exports (/v1/audit/export/{table}.csv): the columns of each table's public model, a yuan
    column after each amount (_csv_lines), the header in the current language."""
    if table == "payables":
        columns = [PAYABLE.c[name] for name in PayablePublic.model_fields]
        statement = select(*columns).order_by(PAYABLE.c.slot_id)
        return Export(header([c.name for c in columns], _fen_names(columns)), statement)
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
        return Export(header([c.name for c in columns], _fen_names(columns)), statement)
    if table == "financing-requests":
        columns = [REQUEST.c[name] for name in FinancingPublic.model_fields]
        statement = select(*columns).order_by(REQUEST.c.request_id.desc())
        return Export(header([c.name for c in columns], _fen_names(columns)), statement)
    if table == "participants":
        statement = select(DirectoryParticipant).order_by(
            col(DirectoryParticipant.created_at), col(DirectoryParticipant.address)
        )
        names = list(ParticipantPublic.model_fields)
        return Export(header(names, frozenset()), statement, _model_row(participants.public), orm=True)
    raise ValueError(f"no export named {table}")


def bill_export(table: str) -> Export:
    """/v1/bills/export/{packages,ranges}.csv: every package or every range record (Closed ones too), a
    yuan column after each amount, the header in the current language."""
    if table == "packages":
        packages = select(BillPackage).order_by(col(BillPackage.package_id))
        fen = frozenset({"face"})
        row = _model_row_yuan(bills.package_public, fen)
        return Export(header(list(BillPackagePublic.model_fields), fen), packages, row, True)
    ranges = select(BillRange).order_by(col(BillRange.range_id))
    fen = frozenset({"amount"})
    row = _model_row_yuan(bills.range_public, fen)
    return Export(header(list(BillRangePublic.model_fields), fen), ranges, row, True)
