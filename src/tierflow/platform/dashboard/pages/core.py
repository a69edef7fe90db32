"""The core enterprise's page: credit lines, issuing payables against invoices, repayments, tier spread."""

from __future__ import annotations

import csv
import datetime as dt
import io
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse, Response
from starlette.datastructures import UploadFile

from tierflow.chain.vocabulary import Role
from tierflow.platform import i18n
from tierflow.platform.dashboard import actions, queries, web
from tierflow.platform.dashboard import format as fmt

router = web.page_router("/core")


@router.get("/{address}", response_class=HTMLResponse)
def core_page(request: Request, viewer: web.SignedIn, address: str, panel: str = "") -> Response:
    address = web.checksum(address)
    read_only = web.owner_page(viewer, address, Role.CORE_ENTERPRISE, "another core enterprise's payables")
    now = web.now(request)
    with web.session(request) as db:
        names = queries.directory(db)
        context: dict[str, Any] = {
            "names": names,
            "owner": address,
            "read_only": read_only,
            "view": queries.core_view(db, address, now=now),
            "now": now,
            "suppliers": names.with_role(Role.SUPPLIER),
            **queries.indexed(db),
            "default_maturity": fmt.iso_date(now + 90 * 86_400),
            "balance": queries.settlement_balance(db, address),
        }
    if panel == "tables":
        return web.page(request, "core/_tables.html", **context)
    return web.page(request, "core/page.html", **context)


@router.get("/{address}/forecast.csv")
def cash_forecast(request: Request, viewer: web.SignedIn, address: str) -> Response:
    """The cash forecast as CSV: per maturity date, what is due (exact fen and yuan) and on which payables."""
    address = web.checksum(address)
    web.owner_page(viewer, address, Role.CORE_ENTERPRISE, i18n.gettext("another core enterprise's payables"))
    with web.session(request) as db:
        days = queries.cash_forecast(db, address)
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(
        [i18n.gettext("Date"), i18n.gettext("Amount due (fen)"), i18n.gettext("Amount due (¥)"),
         i18n.gettext("Payables")]
    )  # fmt: skip
    for day in days:
        writer.writerow(
            [fmt.iso_date(day.day), day.due, fmt.yuan(day.due), " ".join(f"P{slot}" for slot in day.payables)]
        )
    return Response(
        buffer.getvalue(),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": 'attachment; filename="tierflow-cash-forecast.csv"'},
    )


@router.post("/{address}/{verb}")
async def core_action(request: Request, viewer: web.SignedIn, address: str, verb: str) -> Response:
    web.owner_acting(viewer, address, Role.CORE_ENTERPRISE, "another core enterprise's payables")
    back = f"/dashboard/core/{address}"
    form = await request.form()
    try:
        if verb == "issue":
            supplier = str(form.get("supplier", ""))
            if not supplier.startswith("0x"):
                raise actions.ActionError("Supplier: choose who receives the certificate.")
            face = web.form_yuan(form, "face", "Face")
            try:
                maturity = fmt.parse_date(str(form.get("maturity", "")))
            except ValueError as error:
                raise actions.ActionError(f"Maturity: {error}.") from error
            line_id = web.form_int(form, "line_id", "Credit line")
            uploads = []
            for item in form.getlist("invoices"):
                if isinstance(item, UploadFile) and item.filename:
                    kind = item.content_type or "application/octet-stream"
                    uploads.append(actions.Upload(item.filename, kind, await item.read()))
            numbers = [n.strip() for n in str(form.get("invoice_numbers", "")).splitlines() if n.strip()]
            if not uploads:
                raise actions.ActionError("Invoices: attach the invoice file(s) backing this payable.")
            if len(numbers) != len(uploads):
                raise actions.ActionError(
                    f"Invoice numbers: give one number per file, one a line, in the order of the files "
                    f"({len(uploads)} files, {len(numbers)} numbers)."
                )
            who = web.name_of(request, supplier)
            done = f"Issued ¥{fmt.yuan(face)} to {who}, due {fmt.iso_date(maturity)}."
            return await web.act(
                request, viewer, back, done, actions.issue,
                supplier=supplier, face=face, maturity=dt.datetime.fromtimestamp(maturity, tz=dt.UTC).date(),
                line_id=line_id, invoices=list(zip(uploads, numbers, strict=True)),
            )  # fmt: skip
        slot_id = web.form_int(form, "slot_id", "Payable")
        if verb == "repay":
            amount = web.form_yuan(form, "amount", "Amount to repay")
            done = f"Repaid ¥{fmt.yuan(amount)} on P{slot_id}."
            return await web.act(request, viewer, back, done, actions.repay, slot_id=slot_id, amount=amount)
        if verb == "cancel":
            return await web.act(
                request,
                viewer,
                back,
                f"Payable P{slot_id} cancelled.",
                actions.cancel_payable,
                slot_id=slot_id,
            )
    except (actions.ActionError, ValueError) as error:
        return web.redirect(back, message=str(error), kind="error")
    return Response(status_code=404)
