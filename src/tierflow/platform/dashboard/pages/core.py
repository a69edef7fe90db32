"""The core enterprise's page: credit lines, issuing payables against invoices, repayments, tier spread."""

from __future__ import annotations

import datetime as dt
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


@router.post("/{address}/{verb}")
async def core_action(request: Request, viewer: web.SignedIn, address: str, verb: str) -> Response:
    web.owner_acting(viewer, address, Role.CORE_ENTERPRISE, "another core enterprise's payables")
    back = f"/dashboard/core/{address}"
    form = await request.form()
    try:
        if verb == "issue":
            supplier = str(form.get("supplier", ""))
            if not supplier.startswith("0x"):
                raise actions.ActionError(i18n.gettext("Supplier: choose who receives the certificate."))
            face = web.form_yuan(form, "face", "Face")
            try:
                maturity = fmt.parse_date(str(form.get("maturity", "")))
            except ValueError as error:
                raise actions.ActionError(i18n.gettext("Maturity: %(problem)s.", problem=error)) from error
            line_id = web.form_int(form, "line_id", "Credit line")
            uploads = []
            for item in form.getlist("invoices"):
                if isinstance(item, UploadFile) and item.filename:
                    kind = item.content_type or "application/octet-stream"
                    uploads.append(actions.Upload(item.filename, kind, await item.read()))
            numbers = [n.strip() for n in str(form.get("invoice_numbers", "")).splitlines() if n.strip()]
            if not uploads:
                raise actions.ActionError(
                    i18n.gettext("Invoices: attach the invoice file(s) backing this payable.")
                )
            if len(numbers) != len(uploads):
                raise actions.ActionError(
                    i18n.gettext(
                        "Invoice numbers: give one number per file, one a line, in the order of the files "
                        "(%(files)s files, %(numbers)s numbers).",
                        files=len(uploads),
                        numbers=len(numbers),
                    )
                )
            who = web.name_of(request, supplier)
            done = i18n.gettext(
                "Issued %(amount)s to %(name)s, due %(day)s.",
                amount=i18n.money(face),
                name=who,
                day=i18n.date(maturity),
            )
            return await web.act(
                request, viewer, back, done, actions.issue,
                supplier=supplier, face=face, maturity=dt.datetime.fromtimestamp(maturity, tz=dt.UTC).date(),
                line_id=line_id, invoices=list(zip(uploads, numbers, strict=True)),
            )  # fmt: skip
        slot_id = web.form_int(form, "slot_id", "Payable")
        if verb == "repay":
            amount = web.form_yuan(form, "amount", "Amount to repay")
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
