"""Batch issue: many payables from one ERP export (CSV or XLSX), every row checked before any is sent.

A batch is idempotent as a whole: its key is the SHA-256 of the company and the file's bytes, whatever
the channel (API or dashboard) and whatever Idempotency-Key came with it (`identity`), and each row's
idempotency key derives from it, so the same file sent twice sends no transaction twice and answers the
first run's outcomes.
"""

from __future__ import annotations

import contextvars
import csv
import datetime as dt
import hashlib
import io
import json
import logging
import os
import re
import secrets
import socket
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from decimal import Decimal, InvalidOperation
from typing import Any, Literal, TypeVar

from pydantic import BaseModel, Field
from sqlalchemy import Executable
from sqlalchemy.engine import Engine
from sqlalchemy.exc import OperationalError
from sqlmodel import Session, col, select

from tierflow.chain.node import recording_sends
from tierflow.chain.vocabulary import Role
from tierflow.errors import ContractRevert, TransactionOutcomeUnknown
from tierflow.platform import i18n
from tierflow.platform.models import CreditLine
from tierflow.platform.models.registry import Participant, PlatformState
from tierflow.platform.models.service import DirectoryParticipant, IdempotencyRecord
from tierflow.platform.security.crypto import invoice_hash
from tierflow.platform.security.invoice_keys import InvoiceKeyError, canonical_invoice
from tierflow.platform.services import (
    audit_trail,
    batch_recovery,
    batch_state,
    documents,
    group_commit,
    idempotency,
    invoice_files,
    names,
    workflows,
    writes,
)
from tierflow.platform.services.context import ServiceContext
from tierflow.platform.services.errors import InvalidRequest, ServiceError
from tierflow.platform.services.group_commit import Alike, execute_all
from tierflow.platform.services.participants import Caller
from tierflow.platform.services.policy import ApprovalRequired
from tierflow.platform.services.schemas.certificates import MAX_FEN, CertificateIssue, TxResult

T = TypeVar("T")
log = logging.getLogger("tierflow.batch")
MAX_ROWS = 5_000
MAX_FILE_BYTES = 20 * 1024 * 1024
MAX_INVOICES_PER_ROW = 20
DAY = 86_400
# Rows in flight at once, each a thread of `run`. A row waits about a block and a half (mined, then
# indexed), so the gateway's per-participant pipeline (rounds of up to MAX_QUEUED_BATCH writes, a
# transaction per half block of gas) can only fill blocks with many rows waiting. What bounds it is real:
# a waiting row holds no database connection (services/writes.py closes its session before the chain
# works; the pool serves only the rows' short bookkeeping transactions), and a thread costs its stack.
# Measured on 1 s blocks, 2,000 rows, three uploads each (stop 17, PostgreSQL): 512 → 6.1–6.6 s over 6
# blocks (one run in the bench over 7), 1,024 → 5.4–5.6 s over 5 (400 per block, every row of the raw
# baseline's block), 2,048 → 6.2–6.4 s over 6 with more CPU a row (2.3–2.5 ms against 2.2: more threads
# contend for one interpreter). Before the invoice check read by key (documents.py), PostgreSQL's CPU
# bounded it and 1,024 measured the same as 512.
CONCURRENCY = 1024
ATTEMPTS = 5

# The columns of an ERP export, by every header name we accept (English and Chinese, any case).
COLUMNS: dict[str, tuple[str, ...]] = {
    "supplier": ("supplier", "供应商", "供应商名称", "supplier address"),
    "amount": ("amount", "amount (yuan)", "face", "金额", "金额(元)", "金额（元）", "票面金额"),
    "maturity": ("maturity", "maturity date", "due date", "到期日"),
    "line_id": ("credit line", "credit line id", "line", "line_id", "授信编号", "授信额度编号"),
    "invoice_numbers": ("invoice numbers", "invoice number", "invoice_numbers", "发票号码"),
    "invoice_files": ("invoice files", "invoice file", "invoice_files", "发票文件"),
}
REQUIRED = ("supplier", "amount", "maturity", "line_id", "invoice_numbers")
_SPLIT = re.compile(r"[;；,，\s]+")


class RowError(BaseModel):
    row: int  # the row's line in the file (the header is line 1)
    column: str
    message: str


Done = Literal["issued", "funded"]


class RowOutcome(BaseModel):
    row: int  # the row of the file (batch issue) or the financing request id (batch funding)
    # in_progress: claimed by an earlier run whose answer is not known yet (services/batch_recovery.py)
    status: Literal["issued", "funded", "approval_required", "failed", "in_progress"]
    slot_id: int | None = None
    tx_hash: str | None = None
    approval_id: int | None = None
    code: str | None = None
    error: str | None = None
    result: dict[str, Any] = {}  # what the write returned (slot_id, token_id, …)


class BatchResult(BaseModel):
    batch_key: str
    rows: int
    total: int = Field(description="[fen] the face of all rows together")
    errors: list[RowError] = []
    outcomes: list[RowOutcome] = []


@dataclass
class BatchRow:
    row: int
    supplier: str
    face: int  # [fen]
    maturity: dt.date
    line_id: int
    invoice_numbers: list[str]
    invoice_files: list[str]
    text: str  # the row as the file had it: the invoice record stored when no file is attached

    def payload(self) -> dict[str, Any]:
        return {
            "supplier": self.supplier,
            "face": self.face,
            "maturity": self.maturity.isoformat(),
            "line_id": self.line_id,
            "invoice_numbers": self.invoice_numbers,
            "invoice_files": self.invoice_files,
        }


@dataclass(frozen=True)
class Upload:
    filename: str
    content_type: str
    data: bytes


@dataclass
class Progress:
    total: int
    done: int = 0
    finished: bool = False
    result: BatchResult | None = None


def progress(engine: Engine, batch_key: str, address: str | None = None) -> Progress | None:
    """A started batch's progress, from any API instance (services/batch_state.py)."""
    stored = batch_state.progress(engine, batch_key, address)
    if stored is None:
        return None
    result = None if stored.result is None else BatchResult.model_validate_json(stored.result)
    return Progress(total=stored.total, done=stored.done, finished=stored.finished, result=result)


def batch_key(caller: Caller, content: bytes, idempotency_key: str | None = None) -> str:
    """The batch's identity as stored before stop 16: the company and the file, or the company and the
    client's key when it sent one (`identity` decides which one a batch has)."""
    digest = hashlib.sha256(caller.address.lower().encode() + b"\n")
    digest.update(b"key:" + idempotency_key.encode() if idempotency_key else b"file:" + content)
    return digest.hexdigest()


def identity(
    engine: Engine, caller: Caller, content: bytes, idempotency_key: str | None, kind: str = "issue"
) -> str:
    """The batch's identity: the company and the file's bytes (`kind` "fund": the requests funded),
    whatever the channel (API or dashboard) and whatever Idempotency-Key came with it, so the same export
    sent twice is one batch however it was sent. A client's key is bound to its file's batch (the same
    key with another file is refused: idempotency_key_reused); a batch sent under its key before stop 16
    keeps that identity."""

    def of(base: str) -> str:
        return base if kind == "issue" else hashlib.sha256(f"{kind}:{base}".encode()).hexdigest()

    key = of(batch_key(caller, content))
    if not idempotency_key:
        return key
    earlier = of(batch_key(caller, content, idempotency_key))
    if already_run(engine, caller, earlier):
        return earlier
    alias = f"batch-alias:{kind}:" + hashlib.sha256(idempotency_key.encode()).hexdigest()
    if idempotency.begin(engine=engine, address=caller.address, key=alias, print_=key) is None:
        idempotency.complete(
            engine=engine, address=caller.address, key=alias, status_code=200, body={"batch_key": key}
        )
    return key


# The channels that send one batch: its rows' fingerprints name the channel that sent them first, and a
# row sent again through the other is the same row (its key derives from the same file).
SAME_ROWS = {
    "/v1/core/payables/batch": "dashboard batch issue",
    "dashboard batch issue": "/v1/core/payables/batch",
}


def row_key(key: str, row: int) -> str:
    return f"batch:{key[:64]}:{row}"


def rows_key(key: str) -> str:
    """The record that keeps a batch issue's rows (`key`: the batch's). Outside its rows' key range
    (`batch:<key>:`, read by `already_run` and the sweep): `-` sorts before `:`."""
    return f"batch-rows:{key[:64]}"


def keep_rows(engine: Engine, address: str, record: str, name: str, rows: Sequence[int]) -> None:
    """Keep a batch's rows (the file's rows, a funding's request ids: `name`) in one answered record
    `record` before any row is claimed, so its status lists each one, a row never sent too (its claim
    dropped: services/batch_sweep.py `rows_status`). Stored once whatever the channel: the same file
    through the dashboard and the API is one batch with the same rows. Its fingerprint is no request's
    (method KEEP): no client's request replays it."""
    kept = {name: sorted(rows)}
    print_ = idempotency.fingerprint("KEEP", record, kept)
    _retrying(idempotency.keep, engine=engine, address=address, key=record, print_=print_, body=kept)


def kept_rows(engine: Engine, address: str, record: str, name: str) -> list[int]:
    """The rows `keep_rows` kept in `record`; none for a batch run before its rows were kept (and for
    one whose record a client took first for a key of its own: an Idempotency-Key is any text)."""
    with engine.connect() as conn:
        body = conn.execute(
            select(idempotency.TABLE.c.body).where(
                idempotency.TABLE.c.address == address, idempotency.TABLE.c.key == record
            )
        ).scalar()
    try:
        found = json.loads(body) if body else {}
    except ValueError:
        return []
    listed = found.get(name) if isinstance(found, dict) else None
    return [i for i in listed if isinstance(i, int)] if isinstance(listed, list) else []


# -- reading the file ---------------------------------------------------------------------------------
def read_table(content: bytes, filename: str) -> list[list[str]]:
    """The file's rows as text cells: an XLSX workbook's first sheet, else CSV (UTF-8, or GB18030)."""
    if not content:
        raise InvalidRequest(i18n.gettext("The file is empty."), code="empty_batch")
    if len(content) > MAX_FILE_BYTES:
        raise InvalidRequest(
            i18n.gettext("The file is larger than 20 MB; split the batch."), code="batch_too_large"
        )
    if content[:4] == b"PK\x03\x04" or filename.lower().endswith(".xlsx"):
        return _read_xlsx(content)
    try:
        text = content.decode("utf-8-sig")
    except UnicodeDecodeError:
        # Chinese ERP exports are often GBK; GB18030 decodes all of it.
        text = content.decode("gb18030", errors="replace")
    return [[cell.strip() for cell in row] for row in csv.reader(io.StringIO(text))]


def _read_xlsx(content: bytes) -> list[list[str]]:
    import openpyxl  # only XLSX uploads need it

    try:
        book = openpyxl.load_workbook(io.BytesIO(content), read_only=True, data_only=True)
    except Exception as error:  # openpyxl raises many kinds for a damaged workbook
        raise InvalidRequest(
            i18n.gettext(
                "The workbook cannot be read (%(problem)s); save it again as XLSX or CSV.", problem=error
            ),
            code="unreadable_batch",
        ) from None
    sheet = book.worksheets[0]
    rows = [[_cell(value) for value in row] for row in sheet.iter_rows(values_only=True)]
    book.close()
    return rows


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, dt.datetime):
        return value.date().isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, float):
        # Excel keeps numbers as doubles: the shortest text that reads back the same is what was typed.
        return repr(value).removesuffix(".0") if value.is_integer() else repr(value)
    return str(value).strip()


def parse(table: list[list[str]]) -> tuple[list[BatchRow], list[RowError]]:
    """Rows of the table with their own (format) errors; the checks against the ledger come after."""
    table = [row for row in table if any(cell for cell in row)]
    if not table:
        raise InvalidRequest(i18n.gettext("The file has no rows."), code="empty_batch")
    header = [cell.strip().lower() for cell in table[0]]
    where: dict[str, int] = {}
    for name, aliases in COLUMNS.items():
        for index, title in enumerate(header):
            if title in aliases:
                where[name] = index
                break
    missing = [name for name in REQUIRED if name not in where]
    if missing:
        raise InvalidRequest(
            i18n.gettext(
                "The header row lacks the column(s) %(missing)s; the columns are supplier, amount, "
                "maturity, credit line, invoice numbers (and optionally invoice files).",
                missing=", ".join(missing),
            ),
            code="batch_columns_missing",
        )
    if len(table) - 1 > MAX_ROWS:
        raise InvalidRequest(
            i18n.gettext("A batch has at most %(max)s rows; split the file.", max=MAX_ROWS),
            code="batch_too_large",
        )
    rows: list[BatchRow] = []
    errors: list[RowError] = []
    for number, cells in enumerate(table[1:], start=2):

        def cell(name: str, cells: list[str] = cells) -> str:
            index = where.get(name)
            return cells[index].strip() if index is not None and index < len(cells) else ""

        def fail(column: str, message: str, number: int = number) -> None:
            errors.append(RowError(row=number, column=column, message=message))

        before = len(errors)
        face = _fen(cell("amount"), lambda m: fail("amount", m))
        maturity: dt.date | None = None
        try:
            maturity = dt.date.fromisoformat(cell("maturity"))
        except ValueError:
            fail("maturity", i18n.gettext("Maturity: give a date as YYYY-MM-DD."))
        line_id = 0
        try:
            line_id = int(cell("line_id"))
            if not 0 < line_id < 2**63:
                raise ValueError
        except ValueError:
            fail("line_id", i18n.gettext("Credit line: give the line's number."))
        numbers = [n for n in _SPLIT.split(cell("invoice_numbers")) if n]
        if not numbers:
            fail("invoice_numbers", i18n.gettext("Invoice numbers: give at least one."))
        elif len(numbers) > MAX_INVOICES_PER_ROW:
            fail(
                "invoice_numbers",
                i18n.gettext("Invoice numbers: at most %(max)s per payable.", max=MAX_INVOICES_PER_ROW),
            )
        files = [name for name in re.split(r"[;；|]+", cell("invoice_files")) if name.strip()]
        if files and len(files) != len(numbers):
            fail(
                "invoice_files",
                i18n.gettext("Invoice files: name one file per invoice number, in the same order."),
            )
        if not cell("supplier"):
            fail("supplier", i18n.gettext("Supplier: give the supplier's name or address."))
        if len(errors) == before and face is not None and maturity is not None:
            rows.append(
                BatchRow(
                    row=number, supplier=cell("supplier"), face=face, maturity=maturity, line_id=line_id,
                    invoice_numbers=numbers, invoice_files=[f.strip() for f in files],
                    text=",".join(cells),
                )
            )  # fmt: skip
    return rows, errors


def _fen(text: str, fail: Callable[[str], None]) -> int | None:
    """Yuan as typed (1,234.56 or ¥1234.5) to integer fen; never through a float."""
    cleaned = text.replace(",", "").replace("，", "").replace("¥", "").replace("￥", "").strip()
    try:
        yuan = Decimal(cleaned)
    except InvalidOperation:
        fail(i18n.gettext("Amount: give yuan, e.g. 12500.00."))
        return None
    if not yuan.is_finite() or yuan <= 0:
        fail(i18n.gettext("Amount: it must be more than zero."))
        return None
    if yuan != yuan.quantize(Decimal("0.01")):
        fail(i18n.gettext("Amount: at most two decimals (fen)."))
        return None
    fen = int(yuan * 100)
    if fen > MAX_FEN:
        fail(i18n.gettext("Amount: too large."))
        return None
    return fen


# -- checks against the ledger ------------------------------------------------------------------------
def validate(
    *,
    ctx: ServiceContext,
    session: Session,
    caller: Caller,
    rows: list[BatchRow],
    uploads: Sequence[Upload],
) -> list[RowError]:
    """Every row against the ledger before anything is sent; resolves supplier names to addresses."""
    errors: list[RowError] = []
    people = list(session.exec(select(DirectoryParticipant)).all())
    onchain = {p.address: p for p in session.exec(select(Participant)).all()}
    by_name = {p.legal_name.strip().lower(): p for p in people}
    by_address = {p.address.lower(): p for p in people}
    state = session.get(PlatformState, 1)
    now = ctx.gateway().chain_time()
    latest = now + (state.max_tenor if state is not None and state.max_tenor else 0)
    lines: dict[int, CreditLine | None] = {}
    drawn: dict[int, int] = {}
    seen: dict[str, int] = {}
    files = {u.filename: u for u in uploads}
    unbound: list[tuple[int, int, str, str]] = []  # (where its error goes, row, number, invoice hash)
    for row in rows:

        def fail(column: str, message: str, row: BatchRow = row) -> None:
            errors.append(RowError(row=row.row, column=column, message=message))

        person = by_address.get(row.supplier.lower()) or by_name.get(row.supplier.strip().lower())
        chain = onchain.get(person.address) if person is not None else None
        if person is None or chain is None:
            fail("supplier", i18n.gettext("Supplier %(name)s is not a participant.", name=row.supplier))
        elif not chain.roles & Role.SUPPLIER or chain.status != "active":
            fail("supplier", i18n.gettext("%(name)s is not an active supplier.", name=person.legal_name))
        elif person.address == caller.address:
            fail("supplier", i18n.gettext("Supplier: you cannot issue a payable to yourself."))
        else:
            row.supplier = person.address
        maturity = workflows.date_to_unix(row.maturity)
        if maturity <= now or (state is not None and state.max_tenor and maturity > latest):
            fail(
                "maturity",
                i18n.gettext(
                    "Maturity: choose a day after today and no later than %(latest)s.",
                    latest=i18n.date(latest),
                ),
            )
        if row.line_id not in lines:
            lines[row.line_id] = session.get(CreditLine, row.line_id)
        line = lines[row.line_id]
        if line is None or line.obligor != caller.address:
            fail("line_id", i18n.gettext("Credit line %(line)s is not one of yours.", line=row.line_id))
        else:
            need = drawn.get(row.line_id, 0) + row.face
            if line.expiry <= now:
                fail("line_id", i18n.gettext("Credit line %(line)s has expired.", line=row.line_id))
            elif need > line.limit - line.used:
                # Not counted in the running total: the rows after it are judged as if it were removed.
                fail(
                    "line_id",
                    i18n.gettext(
                        "Credit line %(line)s has %(left)s left; the rows up to this one need %(need)s.",
                        line=row.line_id, left=i18n.money(line.limit - line.used), need=i18n.money(need),
                    ),
                )  # fmt: skip
            else:
                drawn[row.line_id] = need
        for name in row.invoice_files:
            if name not in files:
                fail("invoice_files", i18n.gettext("Invoice file %(name)s was not uploaded.", name=name))
        for index, number in enumerate(row.invoice_numbers):
            try:
                claimed = canonical_invoice(number, None)
            except InvoiceKeyError as error:
                fail(
                    "invoice_numbers",
                    i18n.gettext("Invoice %(number)s: %(problem)s", number=number, problem=error),
                )
                continue
            digits = claimed.digits
            upload = files.get(row.invoice_files[index]) if row.invoice_files else None
            if upload is not None and person is not None:
                # A readable e-invoice must be the invoice its row files it as, checked before sending.
                try:
                    invoice_files.verify(
                        upload.data, claimed=claimed, seller_legal_id=person.legal_id, amount=None
                    )
                except ServiceError as error:
                    fail("invoice_files", error.message)
            if digits in seen:
                fail(
                    "invoice_numbers",
                    i18n.gettext(
                        "Invoice %(number)s is also in row %(other)s.", number=number, other=seen[digits]
                    ),
                )
                continue
            seen[digits] = row.row
            if person is None:
                continue
            key = (
                "0x"
                + invoice_hash(
                    ctx.settings.master_key, seller_legal_id=person.legal_id, invoice_number=digits
                ).hex()
            )
            # Looked up for all rows at once below; its error goes where it would have come.
            unbound.append((len(errors), row.row, number, key))
    hashes = [key for *_, key in unbound]
    used = documents.invoices_in_use(session, hashes, issuer=caller.address)
    for position, row_number, number, key in reversed(unbound):  # from the end: positions stay right
        asset = used.get(key)
        if asset is None:
            continue
        if asset.kind == "bill" and asset.bound:
            message = i18n.gettext(
                "Invoice %(number)s already backs bill B%(package)s.", number=number, package=asset.asset_id
            )
        elif asset.kind == "bill":
            message = i18n.gettext(
                "Invoice %(number)s already backs bill B%(package)s, which awaits its payee's receipt.",
                number=number, package=asset.asset_id,
            )  # fmt: skip
        else:
            message = i18n.gettext(
                "Invoice %(number)s already backs payable P%(slot)s.", number=number, slot=asset.asset_id
            )
        errors.insert(position, RowError(row=row_number, column="invoice_numbers", message=message))
    return errors


def already_run(engine: Engine, caller: Caller, key: str) -> bool:
    """True once any row of this batch was claimed: a re-submission replays instead of validating again
    (its invoices are now used by its own first run)."""
    with Session(engine) as session:
        found = session.exec(
            select(IdempotencyRecord.key)
            .where(
                col(IdempotencyRecord.address) == caller.address,
                idempotency.with_prefix(col(IdempotencyRecord.key), row_key(key, 0)[:-1]),
            )
            .limit(1)
        ).first()
    return found is not None


# -- sending ------------------------------------------------------------------------------------------
def run(
    *,
    ctx: ServiceContext,
    caller: Caller,
    key: str,
    rows: list[BatchRow],
    uploads: Sequence[Upload],
    action: str,
    on_row: Callable[[], None] | None = None,
    stored: StoredInvoices | None = None,
    claimed: set[str] | None = None,
) -> list[RowOutcome]:
    """Send every row through the normal write path, concurrently; one outcome per row, in file order.

    `stored` holds each row's invoices, stored before the rows go out (`store_documents`: the files of
    `uploads` among them); `claimed` the rows' keys claimed before (`claim_rows`)."""
    context = writes.decoding_once(contextvars.copy_context())  # rows of one transaction: decoded once

    def one(row: BatchRow) -> RowOutcome:
        try:
            return context.copy().run(
                _issue_row, ctx=ctx, caller=caller, key=key, row=row, action=action,
                stored=stored if stored is not None else StoredInvoices({}), claimed=claimed or set(),
            )  # fmt: skip
        finally:
            if on_row is not None:
                on_row()

    return every_row(one, rows)


def every_row(one: Callable[[T], RowOutcome], rows: Sequence[T]) -> list[RowOutcome]:
    """`one` of each row, concurrently, in order; every row runs to its end before an error is raised.

    pool.map would raise a row's unexpected error at once and cancel the rows still queued behind it:
    those stay claimed (claim_rows) and never signed, answering "in progress" for UNSIGNED_GRACE_S to
    every re-submission, though the service never died."""
    with ThreadPoolExecutor(max_workers=max(1, min(CONCURRENCY, len(rows)))) as pool:
        futures = [pool.submit(one, row) for row in rows]
    # (leaving the pool waited for every row: none is cancelled)
    return [future.result() for future in futures]


def claim_rows(ctx: ServiceContext, caller: Caller, rows: dict[str, tuple[str, dict[str, Any]]]) -> set[str]:
    """Claim every row's key (key -> action, payload) in one statement before the rows start: the keys
    won. A row's claim is then no commit of its own, which pays for the one that stores its signed request
    before it is sent (services/batch_recovery.py)."""
    prints = {
        rkey: idempotency.fingerprint("POST", action, payload) for rkey, (action, payload) in rows.items()
    }
    return _retrying(idempotency.claim_many, engine=ctx.engine, address=caller.address, prints=prints)


@dataclass
class StoredInvoices:
    """A batch's invoices stored before its rows go out: per row its document ids, or its upload's error;
    `taken` are the rows whose write named them."""

    answers: dict[int, list[str] | ServiceError]
    taken: set[int] = field(default_factory=set)

    def take(self, row: int) -> list[str]:
        answer = self.answers.get(row)
        if answer is None:
            raise AssertionError(f"row {row}'s invoices were not stored before it was sent")
        if isinstance(answer, ServiceError):
            raise answer
        self.taken.add(row)
        return list(answer)

    def untaken(self) -> list[str]:
        return [
            document_id
            for row, answer in self.answers.items()
            if row not in self.taken and isinstance(answer, list)
            for document_id in answer
        ]


def store_documents(
    *, ctx: ServiceContext, caller: Caller, rows: list[BatchRow], uploads: Sequence[Upload]
) -> StoredInvoices:
    """Every row's invoices stored at once before the rows go out: per row its document ids (one per
    invoice number, in order), or the error its upload met (the row then fails with it, sending nothing).

    Without a file the ERP's row itself is the invoice's record (stored as not verified)."""
    files = {u.filename: u for u in uploads}
    groups = []
    for row in rows:
        group = []
        for index, number in enumerate(row.invoice_numbers):
            upload = files.get(row.invoice_files[index]) if row.invoice_files else None
            group.append(
                documents.NewDocument(
                    seller=row.supplier, content=upload.data if upload else row.text.encode(),
                    filename=upload.filename if upload else f"row-{row.row}.csv",
                    content_type=upload.content_type if upload else "text/csv", invoice_number=number,
                )
            )  # fmt: skip
        groups.append(group)
    answers = documents.store_many(ctx=ctx, caller=caller, documents=groups)
    return StoredInvoices({row.row: answer for row, answer in zip(rows, answers, strict=True)})


def _issue_row(
    *,
    ctx: ServiceContext,
    caller: Caller,
    key: str,
    row: BatchRow,
    action: str,
    stored: StoredInvoices,
    claimed: set[str],
) -> RowOutcome:
    binds: list[Executable | Alike] = []

    def work(session: Session, ids: list[str]) -> Any:
        binds.clear()
        mine = stored.take(row.row)
        # Noted as this row's before the write: a refusal for certain discards them (`discard`).
        ids += mine
        data = CertificateIssue(
            supplier=row.supplier, face=row.face, maturity=row.maturity, line_id=row.line_id,
            document_ids=mine,
        )  # fmt: skip
        deferring = documents.DEFERRED_BINDS.set(binds)
        try:
            return workflows.issue(ctx=ctx, session=session, caller=caller, data=data)
        finally:
            documents.DEFERRED_BINDS.reset(deferring)

    def discard(session: Session, ids: list[str]) -> None:
        documents.discard(session=session, caller=caller, document_ids=ids)

    return keyed_item(
        ctx=ctx, caller=caller, rkey=row_key(key, row.row), item=row.row, payload=row.payload(),
        action=action, work=work, discard=discard, binds=binds, claimed=row_key(key, row.row) in claimed,
    )  # fmt: skip


def keyed_item(
    *,
    ctx: ServiceContext,
    caller: Caller,
    rkey: str,
    item: int,
    payload: dict[str, Any],
    action: str,
    work: Callable[[Session, list[str]], Any],
    discard: Callable[[Session, list[str]], None] | None = None,
    done: Done = "issued",
    binds: list[Executable | Alike] | None = None,
    claimed: bool = False,
) -> RowOutcome:
    """One item of a batch through the normal write path under its own idempotency key `rkey` (already
    claimed by `claim_rows` when `claimed`).

    An item the database refused for a moment (SQLite's single writer under many concurrent items) is
    tried again: unsent it is claimed anew, sent it is looked up, never resent. `work` may note what it
    kept off chain in its list; `discard` removes it when the write was refused for certain. `binds`
    is where `work` leaves statements to commit with the item's answer (documents.DEFERRED_BINDS).
    """
    one = _Item(rkey, item, payload, action, work, discard, done, [] if binds is None else binds)
    for attempt in range(ATTEMPTS * 2):
        try:
            outcome = _item_once(ctx, caller, one, claimed and attempt == 0)
        except OperationalError as error:
            # Busy while looking up a sent item's transaction: its key still names it, so look again.
            outcome = _failed(item, "unavailable", str(error))
        if outcome.code not in ("unavailable", "transaction_outcome_unknown"):
            break
        time.sleep(0.05 * (attempt + 1))
    return outcome


@dataclass(frozen=True)
class _Item:
    rkey: str
    item: int
    payload: dict[str, Any]
    action: str
    work: Callable[[Session, list[str]], Any]
    discard: Callable[[Session, list[str]], None] | None
    done: Done
    binds: list[Executable | Alike]  # filled by `work` (documents.DEFERRED_BINDS)


def _item_once(
    ctx: ServiceContext, caller: Caller, one: _Item, claimed: bool = False, other: bool = True
) -> RowOutcome:
    rkey, item, payload, action, done = one.rkey, one.item, one.payload, one.action, one.done
    print_ = idempotency.fingerprint("POST", action, payload)
    try:
        claim = (
            None
            if claimed
            else _retrying(
                idempotency.begin, engine=ctx.engine, address=caller.address, key=rkey, print_=print_
            )
        )
    except ServiceError as error:
        if error.code == "idempotency_in_progress":  # claimed by a run that may have died: the chain says
            return _settled(ctx, caller, one)
        if (
            error.code == "idempotency_key_reused" and other and one.action in SAME_ROWS
        ):  # the other channel's
            return _item_once(ctx, caller, replace(one, action=SAME_ROWS[one.action]), other=False)
        return _failed(item, error.code, error.message)
    if isinstance(claim, idempotency.Replay):
        return _outcome(item, claim.status_code, claim.body, done)
    if isinstance(claim, idempotency.Sent):
        try:
            with Session(ctx.engine) as session:
                found = writes.look_up(ctx=ctx, session=session, tx_hash=claim.tx_hash)
        except ServiceError as error:  # mined and reverted: the item failed, nothing changed
            status, body = 409, _error_body(error.code, error.message)
        else:
            if found is None:
                message = i18n.gettext(
                    "Sent, not mined yet: submit the same file again later for its outcome."
                )
                return RowOutcome(
                    row=item, status="failed", tx_hash=claim.tx_hash, code="transaction_outcome_unknown",
                    error=message,
                )  # fmt: skip
            status, body = 200, found.model_dump(mode="json")
        stored = _retrying(
            idempotency.resolve, engine=ctx.engine, address=caller.address, key=rkey, status_code=status,
            body=body,
        )  # fmt: skip
        if stored is not None:  # a concurrent retry resolved it first: its answer is the answer
            status, body = stored.status_code, stored.body
        return _outcome(item, status, body, done)
    status, body, answered = _send(ctx=ctx, caller=caller, rkey=rkey, work=one.work, discard=one.discard)
    # The item's answer (its idempotency record) commits with its audit line: one transaction, shared
    # with the other items answered meanwhile (audit_trail's group commit). Until it commits the record
    # stays claimed, as when the process stops between sending and answering: a retry never resends.
    # What the write left to commit with it comes first: its invoices' binding to the payable it issued
    # (documents.DEFERRED_BINDS), whatever the answer (mined, the payable exists).
    also = list(one.binds)
    if answered:
        also.append(idempotency.completion(address=caller.address, key=rkey, status_code=status, body=body))
    try:
        _retrying(
            audit_trail.record,
            ctx.engine, actor=caller.actor, action=f"write POST {action} item {item}",
            outcome=f"{status} {body.get('status') or body.get('error', {}).get('code')}",
            origin=caller.origin, tx_hash=body.get("tx_hash"), also=also,
        )  # fmt: skip
    except Exception:
        # The audit line failed (with every line of its group): the answer is stored on its own still,
        # so a re-submission replays it instead of finding the item claimed forever; then the error.
        with ctx.engine.begin() as conn:
            execute_all(conn, also)
        raise
    return _outcome(item, status, body, done)


def _settled(ctx: ServiceContext, caller: Caller, one: _Item) -> RowOutcome:
    """A row claimed by an earlier run that has not answered: its answer from the chain, or sent afresh
    (`unavailable` has keyed_item claim it again) if it never ran, or still in progress
    (services/batch_recovery.py)."""
    settled = batch_recovery.settle(ctx=ctx, address=caller.address, key=one.rkey)
    if isinstance(settled, batch_recovery.Answered):
        if settled.found:  # the answer its run never recorded: its audit line too
            _retrying(
                batch_recovery.record_found, ctx.engine, settled, actor=caller.actor,
                action=f"write POST {one.action} item {one.item}", origin=caller.origin,
            )  # fmt: skip
        return _outcome(one.item, settled.status_code, settled.body, one.done)
    if isinstance(settled, batch_recovery.Resend):
        return _failed(one.item, "unavailable", i18n.gettext("Never sent: sending it now."))
    return RowOutcome(row=one.item, status="in_progress", code="row_in_progress", error=settled.message)


def _send(
    *,
    ctx: ServiceContext,
    caller: Caller,
    rkey: str,
    work: Callable[[Session, list[str]], Any],
    discard: Callable[[Session, list[str]], None] | None,
) -> tuple[int, dict[str, Any], bool]:
    """Run the item's write: its status and answer, and whether the answer is final (the caller stores
    it in the item's idempotency record; an outcome-unknown or unavailable item settled its record here)."""
    engine, address = ctx.engine, caller.address
    with Session(engine) as session, recording_sends() as sent:
        kept: list[str] = []
        # The items' reads by key before their sends are shared among them (group_commit.SHARED_READS).
        sharing = group_commit.SHARED_READS.set(True)
        try:
            with batch_recovery.announcing(engine, address, rkey):  # its request stored before it is sent
                result = work(session, kept)
        except ApprovalRequired as pending:
            body: dict[str, Any] = {
                "status": "approval_required",
                "approval_id": pending.approval.approval_id,
            }
            return 202, body, True
        except TransactionOutcomeUnknown as error:
            _retrying(idempotency.mark_sent, engine=engine, address=address, key=rkey, tx_hash=error.tx_hash)
            return (
                503,
                {"tx_hash": error.tx_hash, **_error_body("transaction_outcome_unknown", str(error))},
                False,
            )
        except (ServiceError, ContractRevert) as error:
            # Refused for certain (a reverted transaction changed nothing): what it kept goes too.
            session.rollback()
            if discard is not None:
                discard(session, kept)
            if isinstance(error, ContractRevert):
                # parties by name, as the API's own answers (a batch item's answer is one of them)
                body = _error_body(
                    error.name,
                    i18n.revert_message(
                        error, names=names.of_revert(engine, error).get, with_error_name=True
                    ),
                )
            else:
                body = _error_body(error.code, error.message)
            # A row whose claim another submission settled meanwhile sent nothing and answers nothing.
            return 409, body, not isinstance(error, batch_recovery.NotAnnounced)
        except Exception as error:  # chain or database failed: what matters is whether anything went out
            session.rollback()
            if sent:
                # Sent, then the service failed (e.g. the database while waiting for the indexer): the
                # item stays bound to its transaction, so a re-submission looks it up, never resends.
                _retrying(idempotency.mark_sent, engine=engine, address=address, key=rkey, tx_hash=sent[-1])
                body = {"tx_hash": sent[-1], **_error_body("transaction_outcome_unknown", str(error))}
                return 503, body, False
            _retrying(idempotency.abandon, engine=engine, address=address, key=rkey)
            return 503, _error_body("unavailable", str(error)), False
        finally:
            group_commit.SHARED_READS.reset(sharing)
    if not isinstance(result, TxResult):
        _retrying(idempotency.abandon, engine=engine, address=address, key=rkey)
        message = i18n.gettext("Batches are for custodial keys; sign each payable through the API.")
        return 422, _error_body("self_custody", message), False
    return 200, result.model_dump(mode="json"), True


def _retrying(function: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """A bookkeeping write (idempotency record, audit line) tried again while SQLite is busy with the
    batch's other rows: dropped, it would leave a row's key claimed with no answer."""
    for attempt in range(ATTEMPTS * 4):
        try:
            return function(*args, **kwargs)
        except OperationalError:
            if attempt == ATTEMPTS * 4 - 1:
                raise
            time.sleep(0.02 * (attempt + 1))
    raise AssertionError("unreachable")


def _error_body(code: str, message: str) -> dict[str, Any]:
    return {"error": {"code": code, "message": message}}


def _failed(item: int, code: str, message: str) -> RowOutcome:
    return RowOutcome(row=item, status="failed", code=code, error=message)


def _outcome(item: int, status: int, body: dict[str, Any], done: Done = "issued") -> RowOutcome:
    if status == 200:
        result = body.get("result") or {}
        return RowOutcome(
            row=item, status=done, slot_id=result.get("slot_id"), tx_hash=body.get("tx_hash"), result=result
        )
    if status == 202:
        return RowOutcome(row=item, status="approval_required", approval_id=body.get("approval_id"))
    error = body.get("error") or {}
    return RowOutcome(
        row=item, status="failed", tx_hash=body.get("tx_hash"), code=error.get("code"),
        error=error.get("message"),
    )  # fmt: skip


# A row's outcome from its stored answer, for whoever rebuilds a batch's result (services/batch_sweep.py).
outcome_of = _outcome


def _drop_unused(ctx: ServiceContext, caller: Caller, stored: StoredInvoices) -> None:
    """Delete the stored invoices no row's write named: rows that replayed an earlier run's answer (or
    were claimed by a concurrent run). A row whose write ran keeps its own, as its upload did before:
    discarded on a refusal for certain, kept while its payable waits for approval or its outcome is
    unknown."""
    untaken = stored.untaken()
    for start in range(0, len(untaken), 500):
        with Session(ctx.engine) as session:
            _retrying(
                documents.discard, session=session, caller=caller, document_ids=untaken[start : start + 500]
            )


# -- the whole ----------------------------------------------------------------------------------------
@dataclass
class Batch:
    """A parsed and checked upload: what the dashboard previews and what `issue` sends."""

    key: str
    rows: list[BatchRow]
    errors: list[RowError]
    replay: bool = False
    uploads: list[Upload] = field(default_factory=list)

    @property
    def total(self) -> int:
        return sum(row.face for row in self.rows)


def prepare(
    *,
    ctx: ServiceContext,
    session: Session,
    caller: Caller,
    content: bytes,
    filename: str,
    uploads: Sequence[Upload],
    idempotency_key: str | None = None,
) -> Batch:
    """Read and check the file; a batch already run is not checked again (it will replay)."""
    key = identity(ctx.engine, caller, content, idempotency_key)
    rows, errors = parse(read_table(content, filename))
    if already_run(ctx.engine, caller, key):
        return Batch(key=key, rows=rows, errors=errors, replay=True, uploads=list(uploads))
    errors += validate(ctx=ctx, session=session, caller=caller, rows=rows, uploads=uploads)
    errors.sort(key=lambda e: e.row)
    # End the read transaction: on SQLite it would hold a lock the rows' concurrent writes wait on.
    session.rollback()
    return Batch(key=key, rows=rows, errors=errors, uploads=list(uploads))


def start(*, ctx: ServiceContext, caller: Caller, batch: Batch, action: str) -> Progress:
    """Send a checked (and staged) batch in the background; the dashboard polls `progress` meanwhile,
    from any instance. A double click, here or on another instance, starts it once."""
    runner = new_runner_id()
    if batch_state.claim(ctx.engine, batch.key, runner, len(batch.rows)):
        # The person's language follows into the thread (row errors are shown to them).
        context = contextvars.copy_context()
        thread = threading.Thread(
            target=context.run, args=(_issue_quietly,), kwargs={"ctx": ctx, "caller": caller, "batch": batch,
            "action": action, "runner": runner}, name=f"batch-{batch.key[:8]}", daemon=True,
        )  # fmt: skip
        thread.start()
    return progress(ctx.engine, batch.key) or Progress(total=len(batch.rows))


def new_runner_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(4)}"


def _issue_quietly(*, ctx: ServiceContext, caller: Caller, batch: Batch, action: str, runner: str) -> None:
    result: BatchResult | None = None
    try:
        result = issue(
            ctx=ctx, caller=caller, batch=batch, action=action,
            on_row=lambda: batch_state.advance(ctx.engine, batch.key, runner),
        )  # fmt: skip
    except Exception:  # the thread has no caller to raise to: the page says the batch stopped
        log.exception("batch %s stopped", batch.key)
    finally:
        batch_state.finish(
            ctx.engine, batch.key, runner, None if result is None else result.model_dump_json()
        )


def issue(
    *,
    ctx: ServiceContext,
    caller: Caller,
    batch: Batch,
    action: str,
    on_row: Callable[[], None] | None = None,
) -> BatchResult:
    """Send a checked batch (nothing is sent while any row is wrong); per-row outcomes in file order."""
    if batch.errors:
        rows = len({row.row for row in batch.rows} | {error.row for error in batch.errors})
        return BatchResult(batch_key=batch.key, rows=rows, total=batch.total, errors=batch.errors)
    if batch.replay:
        # Supplier names and addresses resolve to the addresses the first run used (its fingerprints).
        with Session(ctx.engine) as session:
            people = list(session.exec(select(DirectoryParticipant)).all())
        known = {p.legal_name.strip().lower(): p.address for p in people}
        known.update({p.address.lower(): p.address for p in people})
        for row in batch.rows:
            row.supplier = known.get(row.supplier.strip().lower(), row.supplier)
    stored = store_documents(ctx=ctx, caller=caller, rows=batch.rows, uploads=batch.uploads)
    try:
        # Its rows, kept before any is claimed (whatever the channel): its status lists each one.
        keep_rows(ctx.engine, caller.address, rows_key(batch.key), "rows", [row.row for row in batch.rows])
        claimed = claim_rows(
            ctx, caller, {row_key(batch.key, row.row): (action, row.payload()) for row in batch.rows}
        )
        outcomes = run(
            ctx=ctx, caller=caller, key=batch.key, rows=batch.rows, uploads=batch.uploads, action=action,
            on_row=on_row, stored=stored, claimed=claimed,
        )  # fmt: skip
    finally:
        _drop_unused(ctx, caller, stored)
    return BatchResult(batch_key=batch.key, rows=len(batch.rows), total=batch.total, outcomes=outcomes)
