"""The supplier's page: payables to accept, holdings to split, pass on or finance, requests and payouts."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Query, Request
from fastapi.responses import HTMLResponse, Response
from sqlmodel import Session

from tierflow.chain.vocabulary import Role
from tierflow.platform import i18n
from tierflow.platform.dashboard import actions, confirmations, queries, web
from tierflow.platform.dashboard import format as fmt
from tierflow.platform.services import controls, estimates
from tierflow.platform.services.errors import ServiceError
from tierflow.platform.services.schemas.certificates import AcceptQuote

router = web.page_router("/supplier")


def _estimate(db: Session, view: Any, now: int, amount: str, token: str, maturity: str) -> dict[str, Any]:
    """The financing-cost estimate (融资测算) the supplier asked for: per bank at its standing rate."""
    asked = {"amount": amount, "token": token, "maturity": maturity}
    if not amount.strip():
        return {"asked": asked, "rows": None, "error": None}
    try:
        fen = fmt.parse_yuan(amount)
        held = {str(h.certificate.token_id): h for h in view.holdings}
        if token in held:
            due = held[token].payable.maturity
        elif maturity.strip():
            due = fmt.parse_date(maturity)
        else:
            raise ValueError(i18n.gettext("choose a certificate, or give a maturity date"))
        rows = estimates.estimate(session=db, amount=fen, maturity=due, now=now)
    except ValueError as error:
        return {"asked": asked, "rows": None, "error": str(error)}
    except ServiceError as error:
        return {"asked": asked, "rows": None, "error": error.message}
    return {"asked": asked, "rows": rows, "error": None, "maturity": due}


@router.get("/{address}", response_class=HTMLResponse)
def supplier_page(
    request: Request,
    viewer: web.SignedIn,
    address: str,
    panel: str = "",
    estimate_amount: str = "",
    estimate_token: str = "",
    estimate_maturity: str = "",
    after: Annotated[int | None, Query(gt=0, lt=2**63)] = None,
    requests_after: Annotated[int | None, Query(gt=0, lt=2**63)] = None,
    payouts_after: Annotated[int | None, Query(gt=0, lt=2**63)] = None,
    statement_after: str | None = None,
) -> Response:
    address = web.checksum(address)
    read_only = web.owner_page(viewer, address, Role.SUPPLIER, "another supplier's certificates")
    now = web.now(request)
    with web.session(request) as db:
        names = queries.directory(db)
        # Holdings a page at a time by cursor (`after`: the last certificate of the page before), and
        # the financing requests (`requests_after`: the last request of the newer page before).
        # The payouts (`payouts_after`) and the statement (`statement_after`) page by their own cursors;
        # every link and the live refresh keep the others (`query_with`).
        view = queries.supplier_view(
            db, address, after=after, requests_after=requests_after, payouts_after=payouts_after,
            statement_after=statement_after,
        )  # fmt: skip
        estimate = _estimate(db, view, now, estimate_amount, estimate_token, estimate_maturity)
        context: dict[str, Any] = {
            "estimate": estimate,
            "names": names,
            "owner": address,
            "read_only": read_only,
            "view": view,
            "pages": view.pages,
            "query_with": web.query_with(
                after=view.holdings_after,
                requests_after=view.requests_after,
                payouts_after=view.pages["payouts_after"][0],
                statement_after=view.pages["statement_after"][0],
            ),
            "now": web.now(request),
            "recipients": [r for r in names.with_role(Role.SUPPLIER | Role.FINANCIER) if r[0] != address],
            "banks": names.with_role(Role.FINANCIER),
            "debts": queries.recourse_debts(db, seller=address),
            "holds": controls.holds(session=db, holder=address),
            **queries.indexed(db),
        }
    if panel == "tables":
        return web.page(request, "supplier/_tables.html", **context)
    return web.page(request, "supplier/page.html", **context)


SUPPLIER_VERBS = {
    "accept",
    "reject",
    "split_transfer",
    "request_financing",
    "accept_quote",
    "lapse",
    "cancel_request",
    "claim",
}


@router.post("/{address}/{verb}")
async def supplier_action(request: Request, viewer: web.SignedIn, address: str, verb: str) -> Response:
    web.owner_acting(viewer, address, Role.SUPPLIER, "another supplier's certificates")
    if verb not in SUPPLIER_VERBS:
        return Response(status_code=404)
    back = f"/dashboard/supplier/{address}"
    form = await request.form()
    try:
        if verb in ("accept", "reject"):
            slot_id = web.form_int(form, "slot_id", "Payable")
            if verb == "reject":
                page = await web.confirm_first(
                    request, form, back, lambda db: confirmations.reject(db, slot_id, supplier=address)
                )
                if page is not None:
                    return page
            done = (
                i18n.gettext("Payable P%(id)s accepted: the certificate is in your holdings.", id=slot_id)
                if verb == "accept"
                else i18n.gettext("Payable P%(id)s rejected.", id=slot_id)
            )
            return await web.act(
                request, viewer, back, done, actions.respond, slot_id=slot_id, accept=verb == "accept"
            )
        if verb == "split_transfer":
            token_id = web.form_int(form, "token_id", "Certificate")
            to = str(form.get("to", ""))
            if not to.startswith("0x"):
                raise actions.ActionError(i18n.gettext("Recipient: choose who receives the value."))
            value = web.form_yuan(form, "amount", "Amount")
            done = i18n.gettext(
                "Sent %(amount)s of T%(token)s to %(name)s.",
                amount=i18n.money(value),
                token=token_id,
                name=web.name_of(request, to),
            )
            return await web.act(
                request, viewer, back, done, actions.split_transfer, token_id=token_id, to=to, value=value
            )
        if verb == "request_financing":
            token_id = web.form_int(form, "token_id", "Certificate")
            financier = str(form.get("financier", ""))
            if not financier.startswith("0x"):
                raise actions.ActionError(i18n.gettext("Bank: choose the bank to ask."))
            amount = web.form_yuan(form, "amount", "Amount to finance")
            recourse = form.get("with_recourse") == "on"
            done = i18n.gettext(
                "Asked %(bank)s to finance %(amount)s of T%(token)s.",
                bank=web.name_of(request, financier),
                amount=i18n.money(amount),
                token=token_id,
            )
            return await web.act(
                request,
                viewer,
                back,
                done,
                actions.request_financing,
                token_id=token_id,
                amount=amount,
                financier=financier,
                with_recourse=recourse,
            )
        request_id = web.form_int(form, "token_id" if verb == "claim" else "request_id", "Request")
        if verb == "accept_quote":
            # the terms the page showed (hidden fields): a re-quote since makes the chain refuse
            terms = AcceptQuote(
                rate_bps=web.form_int(form, "rate_bps", "Rate"),
                price=web.form_int(form, "price", "Price"),
                expiry=web.form_int(form, "expiry", "Expiry"),
            )
            done = i18n.gettext("Quote on request %(id)s accepted; the bank can now fund it.", id=request_id)
            return await web.act(
                request, viewer, back, done, actions.accept_quote, request_id=request_id, terms=terms
            )
        if verb == "lapse":
            done = i18n.gettext(
                "Request %(id)s lapsed: the quote expired unfunded; the certificate is unlocked.",
                id=request_id,
            )
            return await web.act(
                request, viewer, back, done, actions.seller_request, verb=verb, request_id=request_id
            )
        if verb == "cancel_request":
            done = i18n.gettext("Request %(id)s cancelled; the certificate is unlocked.", id=request_id)
            return await web.act(
                request, viewer, back, done, actions.seller_request, verb=verb, request_id=request_id
            )
        # money moves to the supplier: who pays whom how much, on a page, before anything is sent
        page = await web.confirm_first(
            request, form, back,
            lambda db: confirmations.claim(db, request_id, holder=address, now=queries.clock(db)),
        )  # fmt: skip
        if page is not None:
            return page
        return await web.act(
            request,
            viewer,
            back,
            i18n.gettext("Claimed T%(id)s: the payout is in your account.", id=request_id),
            actions.claim,
            token_id=request_id,
        )
    except (actions.ActionError, ValueError) as error:
        return web.redirect(back, message=str(error), kind="error")
