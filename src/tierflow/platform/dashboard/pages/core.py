"""The core enterprise's page: credit lines, issuing payables against invoices, repayments, tier spread."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from fastapi import Query, Request
from fastapi.responses import HTMLResponse, Response
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile

from tierflow.chain.vocabulary import Role
from tierflow.platform import i18n
from tierflow.platform.dashboard import actions, queries, web
from tierflow.platform.dashboard import format as fmt
from tierflow.platform.dashboard.session import Viewer
from tierflow.platform.models import Payable
from tierflow.platform.services import batch_issue, forecast
from tierflow.platform.services.schemas.certificates import Page

router = web.page_router("/core")


@router.get("/{address}", response_class=HTMLResponse)
def core_page(
    request: Request,
    viewer: web.SignedIn,
    address: str,
    panel: str = "",
    payables_after: Annotated[int | None, Query(gt=0, lt=2**63)] = None,
    upcoming_after: str | None = None,
    repayments_after: str | None = None,
) -> Response:
    address = web.checksum(address)
    read_only = web.owner_page(viewer, address, Role.CORE_ENTERPRISE, "another core enterprise's payables")
    # `payables_after`: the payables table's page, newest first, below that slot (queries.core_view);
    # `upcoming_after` and `repayments_after`: the opaque cursors of the other two lists.
    context = _page_context(
        request, address, read_only, payables_after=payables_after, upcoming_after=upcoming_after,
        repayments_after=repayments_after,
    )  # fmt: skip
    if panel == "tables":
        return web.page(request, "core/_tables.html", **context)
    return web.page(request, "core/page.html", **context)


def _page_context(
    request: Request,
    address: str,
    read_only: bool,
    *,
    payables_after: int | None = None,
    upcoming_after: str | None = None,
    repayments_after: str | None = None,
) -> dict[str, Any]:
    now = web.now(request)
    with web.session(request) as db:
        names = queries.directory(db)
        view = queries.core_view(
            db, address, now=now, payables_after=payables_after, upcoming_after=upcoming_after,
            repayments_after=repayments_after,
        )  # fmt: skip
        page = Page[Any](
            data=view.payables, count=view.payables_count, limit=len(view.payables) or 1, offset=0,
            next_after=view.payables_next,
        )  # fmt: skip
        return {
            "names": names,
            "owner": address,
            "read_only": read_only,
            "view": view,
            "pages": {"payables_after": (payables_after, page), **view.pages},
            # Every link and the live refresh keep the page's other cursors (web.query_with).
            "query_with": web.query_with(
                payables_after=view.payables_after,
                upcoming_after=view.pages["upcoming_after"][0],
                repayments_after=view.pages["repayments_after"][0],
            ),
            "now": now,
            "suppliers": names.with_role(Role.SUPPLIER),
            **queries.indexed(db),
            "default_maturity": fmt.iso_date(now + 90 * 86_400),
            "balance": queries.settlement_balance(db, address),
            "typed": {},
            "invalid": None,
        }


# What the issue form sends back when it is drawn again (files cannot be: a browser never lets a page
# fill a file input, so the page asks for them again).
ISSUE_FIELDS = ("supplier", "face", "maturity", "line_id", "invoice_numbers")


def _issue_again(request: Request, address: str, typed: dict[str, str]) -> Any:
    """The page once more after a refused issue: what was typed kept, the failing field marked."""

    def draw(error: actions.ActionError) -> Response:
        context = _page_context(request, address, read_only=False)
        context.update(typed=typed, invalid=error.field or "form")
        return web.refused_page(request, "core/page.html", str(error), **context)

    return draw


def _repay_confirmation(request: Request, address: str, slot_id: int, amount: int) -> web.Confirmation:
    """What a repayment does, in yuan, dates and names, before it is sent."""
    gettext, money = i18n.gettext, i18n.money
    now = web.now(request)
    with web.session(request) as db:
        names = queries.directory(db)
        payable = db.get(Payable, slot_id)
        balance = queries.settlement_balance(db, address)
    if payable is None or payable.obligor != address:
        raise actions.ActionError(
            gettext("Payable P%(slot)s is not one of yours; reload the page.", slot=slot_id)
        )
    outstanding = payable.face - payable.paid_in
    days = fmt.days_to(payable.maturity, now)
    if days > 0:
        when = i18n.ngettext("due in %(num)s day", "due in %(num)s days", days)
    elif days == 0:
        when = gettext("due today")
    else:
        when = i18n.ngettext("%(num)s day overdue", "%(num)s days overdue", -days)
    rows = [
        (
            gettext("Payable"),
            gettext(
                "P%(slot)s to %(supplier)s, face %(face)s",
                slot=slot_id, supplier=names.name(payable.supplier), face=money(payable.face),
            ),
        ),
        (gettext("Maturity"), f"{i18n.date(payable.maturity)} ({when})"),
        (gettext("You pay now"), gettext("%(amount)s from your settlement balance", amount=money(amount))),
        (gettext("Settlement balance"), f"{money(balance)} → {money(balance - amount)}"),
        (
            gettext("Still owed after this"),
            gettext(
                "%(left)s of %(owed)s", left=money(max(outstanding - amount, 0)), owed=money(outstanding)
            ),
        ),
    ]  # fmt: skip
    warnings = []
    if amount > outstanding:
        warnings.append(
            gettext(
                "This is more than the %(owed)s still owed; the chain will refuse it.",
                owed=money(outstanding),
            )
        )
    if amount > balance:
        warnings.append(
            gettext(
                "Your settlement balance is only %(balance)s; ask your bank to credit it first.",
                balance=money(balance),
            )
        )
    return web.Confirmation(
        title=gettext("Repay %(amount)s on payable P%(slot)s", amount=money(amount), slot=slot_id),
        rows=rows,
        button=gettext("Confirm: pay %(amount)s", amount=money(amount)),
        note=gettext(
            "The money is paid in at once and cannot be taken back; every holder of the payable's "
            "certificates can then claim its share pro rata."
        ),
        warnings=warnings,
    )


@router.get("/{address}/batch/{key}", response_class=HTMLResponse)
def batch_page(request: Request, viewer: web.SignedIn, address: str, key: str, panel: str = "") -> Response:
    """A batch's progress while it runs (the status panel polls itself), then its per-row results."""
    address = web.checksum(address)
    web.owner_page(viewer, address, Role.CORE_ENTERPRISE, i18n.gettext("another core enterprise's payables"))
    service = web.service_context(request)
    state = None if service is None else batch_issue.progress(service.engine, key, address)
    if state is None:
        message = i18n.gettext("That batch is not known here any more; its payables are in the table.")
        return web.redirect(f"/dashboard/core/{address}", message=message, kind="error")
    with web.session(request) as db:
        names = queries.directory(db)
    context: dict[str, Any] = {"owner": address, "key": key, "state": state, "names": names, "errors": []}
    if panel == "status":
        return web.page(request, "core/_batch_status.html", **context)
    return web.page(request, "core/batch.html", **context)


# The batch file's columns in words, for the table of row errors (the API names them by key).
BATCH_COLUMNS = {
    "supplier": i18n.N_("Supplier"),
    "amount": i18n.N_("Amount"),
    "maturity": i18n.N_("Maturity"),
    "line_id": i18n.N_("Credit line"),
    "invoice_numbers": i18n.N_("Invoice numbers"),
    "invoice_files": i18n.N_("Invoice files"),
}


async def _batch(request: Request, viewer: Viewer, address: str, form: Any) -> Response:
    """Upload → row errors (nothing sent) or a confirmation of count and total → Confirm → results."""
    back = f"/dashboard/core/{address}"
    if web.confirmed(form):
        key = str(form.get("batch_key", ""))[:64]
        try:
            await run_in_threadpool(actions.batch_start, web.service_context(request), viewer, key=key)
        except actions.ActionError as error:
            return web.redirect(back, message=str(error), kind="error")
        return web.redirect(f"{back}/batch/{key}")
    upload = form.get("file")
    if not isinstance(upload, UploadFile) or not upload.filename:
        return web.redirect(
            back, message=i18n.gettext("Choose the CSV or XLSX file to upload."), kind="error"
        )
    invoices = [
        actions.Upload(item.filename, item.content_type or "application/octet-stream", await item.read())
        for item in form.getlist("invoices")
        if isinstance(item, UploadFile) and item.filename
    ]
    content = await upload.read()
    try:
        batch = await run_in_threadpool(
            actions.batch_prepare, web.service_context(request), viewer,
            content=content, filename=upload.filename, uploads=invoices,
        )  # fmt: skip
    except actions.ActionError as error:
        return web.redirect(back, message=str(error), kind="error")
    if batch.errors:
        with web.session(request) as db:
            names = queries.directory(db)
        context = {
            "owner": address, "key": batch.key, "state": None, "names": names, "errors": batch.errors,
            "columns": {name: i18n.gettext(label) for name, label in BATCH_COLUMNS.items()},
        }  # fmt: skip
        return web.page(request, "core/batch.html", status_code=422, **context)
    count, total = len(batch.rows), i18n.money(batch.total)
    confirmation = web.Confirmation(
        title=i18n.ngettext("Issue %(num)s payable", "Issue %(num)s payables", count),
        rows=[
            (i18n.gettext("Payables"), i18n.number(count)),
            (i18n.gettext("Total face"), total),
            (i18n.gettext("Suppliers"), i18n.number(len({row.supplier for row in batch.rows}))),
        ],
        button=i18n.ngettext("Confirm: issue %(num)s payable", "Confirm: issue %(num)s payables", count),
        note=i18n.gettext(
            "Each payable draws on its credit line and goes to its supplier to accept. Sending the same "
            "file again later issues nothing twice."
        )
        if not batch.replay
        else i18n.gettext("This file was sent before: confirming shows its results and sends nothing again."),
    )
    return web.page(
        request, "confirm.html", confirmation=confirmation, fields=[("batch_key", batch.key)],
        action=request.url.path, back=back,
    )  # fmt: skip


@router.get("/{address}/forecast.csv")
def cash_forecast(request: Request, viewer: web.SignedIn, address: str) -> Response:
    """The cash forecast as CSV: per maturity date, what is due (exact fen and yuan) and on which payables."""
    address = web.checksum(address)
    web.owner_page(viewer, address, Role.CORE_ENTERPRISE, i18n.gettext("another core enterprise's payables"))
    with web.session(request) as db:
        days = queries.cash_forecast(db, address)
    return Response(
        forecast.forecast_csv(days),  # the API's writer (services.forecast): one CSV for both
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": 'attachment; filename="tierflow-cash-forecast.csv"'},
    )


@router.post("/{address}/{verb}")
async def core_action(request: Request, viewer: web.SignedIn, address: str, verb: str) -> Response:
    web.owner_acting(viewer, address, Role.CORE_ENTERPRISE, "another core enterprise's payables")
    back = f"/dashboard/core/{address}"
    form = await request.form()
    if verb == "batch":
        return await _batch(request, viewer, address, form)
    if verb == "issue":
        typed = {name: str(form.get(name, ""))[:2000] for name in ISSUE_FIELDS}
        again = _issue_again(request, address, typed)
        try:
            supplier = typed["supplier"]
            if not supplier.startswith("0x"):
                raise actions.ActionError(
                    i18n.gettext("Supplier: choose who receives the certificate."), field="supplier"
                )
            face = web.form_yuan(form, "face", "Face")
            try:
                maturity = fmt.parse_date(typed["maturity"])
            except ValueError as error:
                raise actions.ActionError(
                    i18n.gettext("Maturity: %(problem)s.", problem=error), field="maturity"
                ) from error
            line_id = web.form_int(form, "line_id", "Credit line")
            uploads = []
            for item in form.getlist("invoices"):
                if isinstance(item, UploadFile) and item.filename:
                    kind = item.content_type or "application/octet-stream"
                    uploads.append(actions.Upload(item.filename, kind, await item.read()))
            numbers = [n.strip() for n in typed["invoice_numbers"].splitlines() if n.strip()]
            if not uploads:
                raise actions.ActionError(
                    i18n.gettext("Invoices: attach the invoice file(s) backing this payable."),
                    field="invoices",
                )
            if len(numbers) != len(uploads):
                raise actions.ActionError(
                    i18n.gettext(
                        "Invoice numbers: give one number per file, one a line, in the order of the files "
                        "(%(files)s files, %(numbers)s numbers).",
                        files=len(uploads), numbers=len(numbers),
                    ),
                    field="invoice_numbers",
                )  # fmt: skip
        except actions.ActionError as error:
            return await run_in_threadpool(again, error)
        who = web.name_of(request, supplier)
        done = i18n.gettext(
            "Issued %(amount)s to %(name)s, due %(day)s.",
            amount=i18n.money(face),
            name=who,
            day=i18n.date(maturity),
        )
        return await web.act(
            request, viewer, back, done, actions.issue, again=again,
            supplier=supplier, face=face, maturity=dt.datetime.fromtimestamp(maturity, tz=dt.UTC).date(),
            line_id=line_id, invoices=list(zip(uploads, numbers, strict=True)),
        )  # fmt: skip
    try:
        slot_id = web.form_int(form, "slot_id", "Payable")
        if verb == "repay":
            amount = web.form_yuan(form, "amount", "Amount to repay")
            if not web.confirmed(form):
                confirmation = await run_in_threadpool(_repay_confirmation, request, address, slot_id, amount)
                return await run_in_threadpool(web.confirm_page, request, form, back, confirmation)
            done = i18n.gettext("Repaid %(amount)s on P%(id)s.", amount=i18n.money(amount), id=slot_id)
            return await web.act(request, viewer, back, done, actions.repay, slot_id=slot_id, amount=amount)
        if verb == "cancel":
            return await web.act(
                request,
                viewer,
                back,
                i18n.gettext("Payable P%(id)s cancelled.", id=slot_id),
                actions.cancel_payable,
                slot_id=slot_id,
            )
    except (actions.ActionError, ValueError) as error:
        return web.redirect(back, message=str(error), kind="error")
    return Response(status_code=404)
