"""The bank's financing dashboard: the queue of requests to quote and fund, the book, exposure by obligor."""

from __future__ import annotations

import datetime as dt
import threading
from collections import OrderedDict
from dataclasses import replace
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse, Response
from sqlmodel import Session
from starlette.concurrency import run_in_threadpool

from tierflow.chain.vocabulary import Role
from tierflow.platform import i18n
from tierflow.platform.dashboard import actions, charts, confirmations, labels, queries, web
from tierflow.platform.dashboard import format as fmt
from tierflow.platform.dashboard.session import Viewer
from tierflow.platform.models.financing import FinancingRequest
from tierflow.platform.models.receivables import Certificate, Payable
from tierflow.platform.services import controls, estimates

router = web.page_router("/bank")
_ = i18n.gettext


def _queue_context(
    db: Session, viewer: Viewer, address: str, before: int | None, after: int | None
) -> dict[str, Any]:
    # The bank's standing rate (what its suppliers' estimates use), else the viewer's own.
    rate = queries.standing_rate(db, address, viewer.standing_rate_bps)
    return {
        "queue": queries.bank_queue(
            db, address, rate_bps=rate, now=queries.clock(db), before=before, after=after
        ),
        "rate_bps": rate,
    }


# The portfolio aggregates every position of a bank (100,000 rows is a second on SQLite here), yet it
# only changes when the indexer writes rows, or when time moves a position into "overdue". Keep the
# last few results keyed by (database, bank, data version, 5-minute slot): empty blocks keep them.
BOOK_CACHE: OrderedDict[tuple[int, str, int, int], queries.Portfolio] = OrderedDict()
_BOOK_CACHE_SIZE = 32
_BOOK_LOCK = threading.Lock()
_BOOK_SLOT_SECONDS = 300


def _book_key(db: Session, address: str) -> tuple[int, str, int, int]:
    return (
        id(db.get_bind()),
        address.lower(),
        queries.data_version(db),
        queries.clock(db) // _BOOK_SLOT_SECONDS,
    )


def _cached_book(db: Session, address: str) -> queries.Portfolio | None:
    with _BOOK_LOCK:
        return BOOK_CACHE.get(_book_key(db, address))


def _book_context(db: Session, address: str, ladder: str) -> dict[str, Any]:
    key = _book_key(db, address)
    with _BOOK_LOCK:
        book = BOOK_CACHE.get(key)
    if book is None:
        book = queries.portfolio(db, address, now=queries.clock(db))
        with _BOOK_LOCK:
            BOOK_CACHE[key] = book
            while len(BOOK_CACHE) > _BOOK_CACHE_SIZE:
                BOOK_CACHE.popitem(last=False)
    # The cached buckets are the same for every reader; their labels are written in the reader's language.
    label = i18n.month if ladder == "month" else i18n.date
    buckets = [replace(b, label=label(b.start)) for b in (book.monthly if ladder == "month" else book.weekly)]
    return {
        "book": book,
        "exposure": queries.exposure(db, address, book),
        "ladder_chart": charts.ladder(
            buckets,
            title=i18n.gettext("Expected cash-in by month")
            if ladder == "month"
            else i18n.gettext("Expected cash-in by week"),
        ),
        "ladder_buckets": buckets,
    }


def _actions_context(db: Session, viewer: Viewer, address: str) -> dict[str, Any]:
    """What the bank's own actions need: its lines, claimable positions, recourse to collect, whom to
    grant or credit (a supervisor sees the same lists, without the forms)."""
    names = queries.directory(db)
    now = queries.clock(db)
    return {
        "lines": queries.bank_lines(db, address, now=now),
        "claimable": queries.claimable_positions(db, address, now=now),
        "recoursed": queries.recoursed_requests(db, address),
        # what each recoursed request's seller still owes (owed, collected, remaining) from the read model
        "debts": {d.request_id: d for d in queries.recourse_debts(db, financier=address)},
        "closed": queries.closed_deals(db, address),
        "cores": names.with_role(Role.CORE_ENTERPRISE),
        "participants": sorted(
            ((a, names.name(a)) for a, status in names.status.items() if status == "active"),
            key=lambda row: row[1].lower(),
        ),
        "settlement_bank": viewer.has(Role.SETTLEMENT_BANK) and viewer.address == address,
        "default_expiry": fmt.iso_date(now + 365 * 86_400),
        "today": fmt.iso_date(now),
    }


@router.get("/{address}", response_class=HTMLResponse)
def bank_page(
    request: Request,
    viewer: web.SignedIn,
    address: str,
    before: int | None = None,
    after: int | None = None,
    ladder: str = "week",
    panel: str = "",
    book: str = "",
) -> Response:
    address = web.checksum(address)
    read_only = web.owner_page(viewer, address, Role.FINANCIER, "this bank's financing dashboard")
    ladder = "month" if ladder == "month" else "week"
    with web.session(request) as db:
        names = queries.directory(db)
        base: dict[str, Any] = {
            "names": names, "owner": address, "read_only": read_only, "ladder": ladder,
            "validity_hours": _validity_choices(request),
        }  # fmt: skip
        if panel == "queue":
            queue = _queue_context(db, viewer, address, before, after)
            return web.page(request, "bank/_queue.html", **base, **queue)
        if panel == "book" or book == "inline":
            book_context = _book_context(db, address, ladder)
            if panel == "book":
                return web.page(request, "bank/_book.html", **base, **book_context)
        elif _cached_book(db, address) is not None:
            book_context = _book_context(db, address, ladder)
        else:
            # Not computed for this block yet: the page shows at once and the book follows (htmx,
            # or a link without JavaScript) instead of holding the whole page back.
            book_context = {"book": None}
        return web.page(
            request,
            "bank/page.html",
            **base,
            **_actions_context(db, viewer, address),
            **queries.indexed(db),
            balance=queries.settlement_balance(db, address),
            holds=controls.holds(session=db, holder=address),
            **_queue_context(db, viewer, address, before, after),
            **book_context,
        )


@router.post("/{address}/rate")
async def bank_rate(request: Request, viewer: web.SignedIn, address: str) -> Response:
    """The bank's standing rate: stored for the bank (its suppliers' financing-cost estimates price at
    it, and its queue suggests prices at it) and kept in the viewer's session for the bill pages."""
    address, back = _bank_acting(viewer, address)
    form = await request.form()
    try:
        rate = fmt.parse_percent(str(form.get("rate", "")))
    except ValueError as error:
        return web.redirect(back, message=str(error), kind="error")
    done = _(
        "Standing rate set to %(rate)s: suggested prices and your suppliers' estimates use it.",
        rate=fmt.percent_bps(rate),
    )
    response = await web.act(request, viewer, back, done, actions.set_standing_rate, rate_bps=rate)
    if rate and 0 < rate <= estimates.MAX_RATE_BPS:
        web.set_session(request, response, viewer.with_rate(rate))
    return response


QUOTE_HOURS = (1, 4, 8, 24, 48, 72, 168)


def _validity_choices(request: Request) -> list[int]:
    """The quote validities a bank may choose [hours]: up to the registry's cap (24 h if unreadable)."""
    cap = actions.quote_validity_hours(web.service_context(request)) or 24
    return [h for h in QUOTE_HOURS if h <= cap] or [cap]


Found = tuple[tuple[FinancingRequest, Certificate | None, Payable | None], queries.Directory]


def _bank_request(request: Request, viewer: Viewer, address: str, request_id: int) -> Found | Response:
    """One of the bank's open requests and the names, or the response to send instead (it is gone)."""
    web.owner_acting(viewer, address, Role.FINANCIER, "actions on this bank's requests")
    with web.session(request) as db:
        try:
            found = queries.open_request(db, request_id)
        except LookupError:
            return web.redirect(
                f"/dashboard/bank/{address}",
                message=i18n.gettext("That request no longer exists."),
                kind="error",
            )
        if found[0].financier.lower() != address.lower():
            raise web.Denied("a request addressed to another bank")
        return found, queries.directory(db)


@router.get("/{address}/requests/{request_id}/quote", response_class=HTMLResponse)
def quote_confirm(
    request: Request,
    viewer: web.SignedIn,
    address: str,
    request_id: int,
    rate: str = "",
    valid_hours: int = 24,
) -> Response:
    found = _bank_request(request, viewer, address, request_id)
    if isinstance(found, Response):
        return found
    (fin_request, token, payable), names = found
    back = f"/dashboard/bank/{address}"
    with web.session(request) as db:
        standing = queries.standing_rate(db, address, viewer.standing_rate_bps)
    try:
        rate_bps = fmt.parse_percent(rate) if rate else standing
    except ValueError as error:
        return web.redirect(back, message=str(error), kind="error")
    if payable is None:
        return web.redirect(
            back,
            message=i18n.gettext("The certificate of this request is not indexed yet; retry in a moment."),
            kind="error",
        )
    now = web.now(request)
    days = fmt.days_to(payable.maturity, now)
    discount = fmt.discount(fin_request.amount, rate_bps, days)
    hours = max(1, min(valid_hours, max(_validity_choices(request))))
    return web.page(
        request,
        "bank/confirm_quote.html",
        names=names,
        owner=address,
        req=fin_request,
        token=token,
        payable=payable,
        rate_bps=rate_bps,
        days=days,
        discount=discount,
        price=fin_request.amount - discount,
        # a quote is an offer for now: the registry caps its validity (24 h by default, 7 days at most)
        valid_hours=hours,
        expiry=now + hours * 3600,
        rate_check=web.rate_check(rate_bps, standing),
    )


@router.post("/{address}/requests/{request_id}/quote")
async def quote_submit(request: Request, viewer: web.SignedIn, address: str, request_id: int) -> Response:
    found = _bank_request(request, viewer, address, request_id)
    if isinstance(found, Response):
        return found
    form = await request.form()
    back = f"/dashboard/bank/{address}"
    try:
        rate_bps = web.form_int(form, "rate_bps", "Rate")
        valid_hours = web.form_int(form, "valid_hours", "Quote validity")
    except actions.ActionError as error:
        return web.redirect(back, message=str(error), kind="error")
    return await web.act(
        request,
        viewer,
        back,
        i18n.gettext(
            "Quoted request %(id)s at %(rate)s; waiting for the supplier to accept.",
            id=request_id,
            rate=fmt.percent_bps(rate_bps),
        ),
        actions.quote,
        request_id=request_id,
        rate_bps=rate_bps,
        valid_hours=valid_hours,
    )


@router.get("/{address}/requests/{request_id}/fund", response_class=HTMLResponse)
def fund_confirm(request: Request, viewer: web.SignedIn, address: str, request_id: int) -> Response:
    found = _bank_request(request, viewer, address, request_id)
    if isinstance(found, Response):
        return found
    (fin_request, token, payable), names = found
    if fin_request.status != "Accepted" or fin_request.price is None:
        return web.redirect(
            f"/dashboard/bank/{address}",
            message=i18n.gettext(
                "Request %(id)s is %(status)s: fund it after the supplier accepts.",
                id=request_id,
                status=labels.status(fin_request.status),
            ),
            kind="error",
        )
    return web.page(
        request,
        "bank/confirm_fund.html",
        names=names,
        owner=address,
        req=fin_request,
        token=token,
        payable=payable,
    )


REQUEST_VERBS = {
    "fund": i18n.N_("Funded request %(id)s: the price was paid and the certificate is in your portfolio."),
    "decline": i18n.N_("Declined request %(id)s; the supplier's certificate is unlocked."),
    "recourse": i18n.N_(
        "Recourse exercised on request %(id)s: the certificate went back to the seller, whose debt "
        "is collected from its balance now and from whatever it is paid later."
    ),
}


@router.post("/{address}/requests/{request_id}/{verb}")
async def bank_request_action(
    request: Request, viewer: web.SignedIn, address: str, request_id: int, verb: str
) -> Response:
    found = _bank_request(request, viewer, address, request_id)
    if isinstance(found, Response):
        return found
    if verb not in REQUEST_VERBS:
        return Response(status_code=404)
    back = f"/dashboard/bank/{address}"
    if verb in ("recourse", "decline"):
        # a legal act (recourse moves money too): what it does, in yuan and names, before it is sent
        page = await web.confirm_first(
            request, await request.form(), back,
            lambda db: confirmations.recourse(db, request_id, financier=address, now=queries.clock(db))
            if verb == "recourse"
            else confirmations.decline(db, request_id, financier=address),
        )  # fmt: skip
        if page is not None:
            return page
    done = i18n.gettext(REQUEST_VERBS[verb], id=request_id)
    return await web.act(
        request,
        viewer,
        back,
        done,
        actions.bank_request,
        verb=verb,
        request_id=request_id,
    )


# -- credit lines, settlement money, claims, default and recourse ---------------------------------------
def _bank_acting(viewer: Viewer, address: str) -> tuple[str, str]:
    """The bank's checksummed address and its page, if the viewer is that bank (else Denied)."""
    address = web.checksum(address)
    web.owner_acting(viewer, address, Role.FINANCIER, _("another bank's credit lines and positions"))
    return address, f"/dashboard/bank/{address}"


def _form_date(form: Any, name: str, label: str) -> dt.date:
    raw = str(form.get(name, "")).strip()
    try:
        return dt.date.fromisoformat(raw)
    except ValueError:
        raise actions.ActionError(
            _(
                "%(field)s: “%(raw)s” is not a date; pick one in the calendar (YYYY-MM-DD).",
                field=label,
                raw=raw or _("nothing"),
            )
        ) from None


@router.post("/{address}/lines")
async def grant_line(request: Request, viewer: web.SignedIn, address: str) -> Response:
    address, back = _bank_acting(viewer, address)
    form = await request.form()
    try:
        obligor = str(form.get("obligor", "")).strip()
        if not obligor:
            raise actions.ActionError(_("Core enterprise: choose one from the list."))
        limit = web.form_yuan(form, "limit", _("Limit"))
        expiry = _form_date(form, "expiry", _("Last day of the line"))
    except actions.ActionError as error:
        return web.redirect(back, message=str(error), kind="error")
    done = _(
        "Granted %(core)s a credit line of %(limit)s until %(day)s; it can issue certificates on it now.",
        core=web.name_of(request, obligor),
        limit=i18n.money(limit),
        day=i18n.date(expiry),
    )
    return await web.act(
        request, viewer, back, done, actions.grant_line, obligor=obligor, limit=limit, expiry=expiry
    )


@router.post("/{address}/lines/{line_id}/adjust")
async def adjust_line(request: Request, viewer: web.SignedIn, address: str, line_id: int) -> Response:
    address, back = _bank_acting(viewer, address)
    form = await request.form()
    try:
        limit = web.form_yuan(form, "limit", _("New limit"))
        expiry = _form_date(form, "expiry", _("Last day of the line"))
    except actions.ActionError as error:
        return web.redirect(back, message=str(error), kind="error")
    done = _(
        "Credit line %(line)s now has a limit of %(limit)s until %(day)s.",
        line=line_id,
        limit=i18n.money(limit),
        day=i18n.date(expiry),
    )
    return await web.act(
        request, viewer, back, done, actions.adjust_line, line_id=line_id, limit=limit, expiry=expiry
    )


@router.post("/{address}/lines/{line_id}/freeze")
async def freeze_line(request: Request, viewer: web.SignedIn, address: str, line_id: int) -> Response:
    address, back = _bank_acting(viewer, address)
    page = await web.confirm_first(
        request, await request.form(), back,
        lambda db: confirmations.freeze_line(db, line_id, financier=address),
    )  # fmt: skip
    if page is not None:
        return page
    done = _(
        "Credit line %(line)s frozen: its limit is now what is drawn, so nothing new can be issued on it. "
        "Repayments still restore it; set a higher limit to unfreeze it.",
        line=line_id,
    )
    return await web.act(request, viewer, back, done, actions.freeze_line, line_id=line_id)


@router.post("/{address}/money/{verb}")
async def settlement_money(request: Request, viewer: web.SignedIn, address: str, verb: str) -> Response:
    address, back = _bank_acting(viewer, address)
    if verb not in ("mint", "burn"):
        return Response(status_code=404)
    if not viewer.has(Role.SETTLEMENT_BANK):
        raise web.Denied(_("settlement money: only a settlement bank mints and burns it"))
    form = await request.form()
    try:
        amount = web.form_yuan(form, "amount", _("Amount"))
        to = str(form.get("to", "")).strip() if verb == "mint" else ""
        if verb == "mint" and not to:
            raise actions.ActionError(_("Credit to: choose the participant whose deposit you received."))
    except actions.ActionError as error:
        return web.redirect(back, message=str(error), kind="error")
    if verb == "mint":
        done = _(
            "Credited %(amount)s of settlement money to %(party)s.",
            amount=i18n.money(amount),
            party=web.name_of(request, to),
        )
        return await web.act(request, viewer, back, done, actions.mint, to=to, amount=amount)
    page = await web.confirm_first(request, form, back, lambda db: confirmations.burn(db, address, amount))
    if page is not None:
        return page
    done = _("Retired %(amount)s of settlement money from your own balance.", amount=i18n.money(amount))
    return await web.act(request, viewer, back, done, actions.burn, amount=amount)


@router.post("/{address}/fund-selected")
async def fund_selected(request: Request, viewer: web.SignedIn, address: str) -> Response:
    """Fund the ticked accepted requests in one action: a confirmation of count and total, then all."""
    address, back = _bank_acting(viewer, address)
    form = await request.form()
    try:
        ids = [int(str(value)) for value in form.getlist("request_ids")][:500]
    except ValueError:
        ids = []
    if not ids:
        return web.redirect(back, message=_("Tick the accepted requests to fund first."), kind="error")
    if not web.confirmed(form):
        with web.session(request) as db:
            rows = [db.get(FinancingRequest, i) for i in ids]
            balance = queries.settlement_balance(db, address)
        total = sum(int(r.price or 0) for r in rows if r is not None)
        confirmation = web.Confirmation(
            title=i18n.ngettext("Fund %(num)s request", "Fund %(num)s requests", len(ids)),
            rows=[
                (_("Requests"), ", ".join(str(i) for i in ids)),
                (_("You pay now"), i18n.money(total)),
                (_("Settlement balance"), f"{i18n.money(balance)} → {i18n.money(balance - total)}"),
            ],
            button=_("Confirm: pay %(amount)s", amount=i18n.money(total)),
            note=_(
                "Each price is paid and its certificate comes to your portfolio; nothing is sent if any "
                "request cannot be funded."
            ),  # fmt: skip
            warnings=[_("Your settlement balance does not cover them all.")] if total > balance else [],
        )
        return await run_in_threadpool(web.confirm_page, request, form, back, confirmation)

    def done(result: Any) -> str:
        funded = sum(1 for o in result.outcomes if o.status == "funded")
        failed = [f"{o.row}: {o.error}" for o in result.outcomes if o.status == "failed"]
        message = _("Funded %(funded)s of %(total)s requests.", funded=funded, total=len(result.outcomes))
        return " ".join([message, *failed])

    return await web.act(request, viewer, back, done, actions.fund_batch, request_ids=ids)


@router.post("/{address}/claims/{token_id}")
async def claim(request: Request, viewer: web.SignedIn, address: str, token_id: int) -> Response:
    address, back = _bank_acting(viewer, address)
    # money moves to the bank: who pays whom how much, on a page, before anything is sent
    page = await web.confirm_first(
        request, await request.form(), back,
        lambda db: confirmations.claim(db, token_id, holder=address, now=queries.clock(db)),
    )  # fmt: skip
    if page is not None:
        return page

    def claimed(result: Any) -> str:
        amount = (getattr(result, "result", None) or {}).get("amount")
        paid = i18n.money(int(amount)) if amount is not None else _("its share")
        return _(
            "Claimed %(amount)s on certificate T%(token)s: it is in your settlement balance.",
            amount=paid,
            token=token_id,
        )

    return await web.act(request, viewer, back, claimed, actions.claim, token_id=token_id)


@router.post("/{address}/payables/{slot_id}/default")
async def mark_defaulted(request: Request, viewer: web.SignedIn, address: str, slot_id: int) -> Response:
    address, back = _bank_acting(viewer, address)
    page = await web.confirm_first(
        request, await request.form(), back,
        lambda db: confirmations.default(db, slot_id, now=queries.clock(db), by=address),
    )  # fmt: skip
    if page is not None:
        return page
    done = _(
        "Payable P%(slot)s marked defaulted: with-recourse positions on it can now be handed back to their "
        "sellers, and any later payment by the obligor is still claimable pro rata.",
        slot=slot_id,
    )
    return await web.act(request, viewer, back, done, actions.mark_defaulted, slot_id=slot_id)


@router.post("/{address}/recourse/{request_id}/collect")
async def collect_recourse(request: Request, viewer: web.SignedIn, address: str, request_id: int) -> Response:
    address, back = _bank_acting(viewer, address)
    with web.session(request) as db:
        found = db.get(FinancingRequest, request_id)
    if found is None or found.financier != address:
        raise web.Denied(_("another bank's recourse"))
    seller = found.seller
    page = await web.confirm_first(
        request,
        await request.form(),
        back,
        lambda db: confirmations.collect(db, request_id, financier=address),
    )
    if page is not None:
        return page
    done = _(
        "Collected what %(seller)s could pay of its recourse debt from its balance.",
        seller=web.name_of(request, seller),
    )
    return await web.act(request, viewer, back, done, actions.collect_recourse, seller=seller)
