"""Digital bills: the participant's bills sections and forms, a bill's range bar and endorsement chain, the
bank's discount queue with its confirmations."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Query, Request
from fastapi.responses import HTMLResponse, Response
from sqlmodel import Session
from starlette.concurrency import run_in_threadpool

from tierflow.platform import i18n
from tierflow.platform.dashboard import actions, labels, queries, web
from tierflow.platform.dashboard import format as fmt
from tierflow.platform.dashboard.session import Viewer
from tierflow.platform.models import BillPackage, BillQuote, BillRange
from tierflow.platform.models.service import BillDiscountRequest
from tierflow.platform.services import bills, documents
from tierflow.platform.services.errors import Forbidden, ServiceError
from tierflow.platform.services.schemas import times
from tierflow.platform.services.schemas.bills import (
    BillDiscountCreate,
    BillDishonour,
    BillEndorse,
    BillIssue,
    BillPledge,
    BillQuoteCreate,
    BillRangePublic,
    BillRecourse,
)

router = web.page_router("/bills")

BAR_WIDTH = 1000  # [svg units] the whole package, sub-ticket 1 … face
# Holders get colours in order of first appearance along the bar; the palette repeats after ten.
PALETTE = [
    "#2f6f9f", "#d08c2c", "#4f9a5b", "#b4485a", "#7a5aa6",
    "#3c9c9c", "#a87b4f", "#6b7f2a", "#c4609c", "#56657a",
]  # fmt: skip
LABEL_MIN_WIDTH = 70  # [svg units] narrower intervals keep their label in the tooltip and the table


@dataclass(frozen=True)
class Segment:
    range_id: int
    x: float
    width: float
    colour: str
    label: str
    title: str
    selected: bool
    status: str


def range_bar(ranges: list[BillRangePublic], face: int, names: Any, selected: int | None) -> list[Segment]:
    """Place each live range on a 0 … BAR_WIDTH bar in proportion to its sub-tickets."""
    colours: dict[str, str] = {}
    segments = []
    for r in ranges:
        colour = colours.setdefault(r.holder, PALETTE[len(colours) % len(PALETTE)])
        x = (r.start - 1) * BAR_WIDTH / face
        width = max(r.amount * BAR_WIDTH / face, 0.8)  # a one-fen range must still be visible
        name = names.name(r.holder)
        status = labels.status(r.status)
        label = f"{name} · {status}" if width >= LABEL_MIN_WIDTH * 1.8 else name
        segments.append(
            Segment(
                range_id=r.range_id,
                x=round(x, 3),
                width=round(width, 3),
                colour=colour,
                label=label if width >= LABEL_MIN_WIDTH else "",
                title=i18n.gettext(
                    "R%(range)s: sub-tickets %(start)s … %(end)s (%(amount)s), %(name)s, %(status)s",
                    range=r.range_id,
                    start=f"{r.start:,}",
                    end=f"{r.end:,}",
                    amount=i18n.money(r.amount),
                    name=name,
                    status=status,
                ),
                selected=r.range_id == selected,
                status=r.status,
            )
        )
    return segments


# -- pages ------------------------------------------------------------------------------------------
PAGE = 200  # rows of each list on the bills page; the rest are a "next page" link (cursor) away
Cursor = Annotated[int | None, Query(gt=0, lt=2**63)]


@router.get("", response_class=HTMLResponse)
def bills_page(
    request: Request,
    viewer: web.SignedIn,
    bills_after: Cursor = None,
    held_after: Cursor = None,
    queue_after: Cursor = None,
    quoted_after: Cursor = None,
) -> Response:
    """The signed-in participant's bills: issue, incoming, holdings with endorse/present/discount, queue.

    Each list is a keyset page of PAGE rows after its own cursor (`bills_after`, …), so a party to more
    bills than a page sees every one of them, a page at a time, instead of the first PAGE only."""
    with web.session(request) as db:
        caller = actions.caller_of(db, viewer)
        names = queries.directory(db)
        packages_page = bills.packages(session=db, caller=caller, limit=PAGE, offset=0, after=bills_after)
        held_page = bills.holdings(session=db, address=viewer.address, limit=PAGE, offset=0, after=held_after)
        queue_page = (
            bills.discount_requests(
                session=db, financier=viewer.address, limit=PAGE, offset=0, after=queue_after
            )
            if viewer.is_financier
            else None
        )
        quoted_page = bills.discount_requests(
            session=db, seller=viewer.address, status="quoted", limit=PAGE, offset=0, after=quoted_after
        )
        listing, held, mine = packages_page.data, held_page.data, quoted_page.data
        queue = queue_page.data if queue_page is not None else []
        to_pay, pledged = bills.awaiting(session=db, address=viewer.address)
        recourse = bills.recourse_choices(session=db, caller=caller, held=held)
        claims = bills.claims_against(session=db, address=viewer.address)
        standing = queries.standing_rate(db, viewer.address, viewer.standing_rate_bps)
        counterparties = [
            (address, names.name(address))
            for address in sorted(names.names)
            if address != viewer.address and names.roles.get(address, 0) & 7
        ]
        banks = [(a, n) for a, n in counterparties if names.roles.get(a, 0) & 4]
    return web.page(
        request,
        "bills/list.html",
        names=names,
        packages=listing,
        held=held,
        queue=queue,
        mine=mine,
        pages={
            "bills_after": (bills_after, packages_page),
            "held_after": (held_after, held_page),
            "queue_after": (queue_after, queue_page),
            "quoted_after": (quoted_after, quoted_page),
        },
        to_pay=to_pay,
        pledged=pledged,
        recourse=recourse,
        claims=claims,
        counterparties=counterparties,
        banks=banks,
        standing_rate_bps=standing,
        can_draw=(viewer.is_core or viewer.is_supplier) and not viewer.sees_everything,
        can_hold=(viewer.is_core or viewer.is_supplier or viewer.is_financier),
        today=dt.datetime.fromtimestamp(web.now(request), dt.UTC).date(),
    )


@router.get("/{package_id}", response_class=HTMLResponse)
def bill_page(request: Request, viewer: web.SignedIn, package_id: int, range: int | None = None) -> Response:  # noqa: A002
    with web.session(request) as db:
        caller = actions.caller_of(db, viewer)
        names = queries.directory(db)
        try:
            detail = bills.detail(session=db, caller=caller, package_id=package_id)
        except ServiceError as error:
            if isinstance(error, Forbidden):
                raise web.Denied(i18n.gettext("bill B%(id)s", id=package_id)) from error
            return web.page(
                request,
                "empty.html",
                status_code=404,
                title=i18n.gettext("Unknown bill"),
                message=error.message,
            )
        chosen = range if range is not None else (detail.ranges[0].range_id if detail.ranges else None)
        chain = None
        if chosen is not None:
            try:
                chain = bills.chain(session=db, caller=caller, range_id=chosen)
            except ServiceError:
                chain = None  # not this viewer's range: the bar still shows, the chain does not
        obligors: list[str] = []
        if chain is not None and chain.range.holder == viewer.address and chain.range.status == "Dishonoured":
            obligors = bills.recourse_obligors(chain, detail.package.drawer, detail.package.acceptor)
    face = int(detail.package.face)
    return web.page(
        request,
        "bills/page.html",
        names=names,
        bill=detail.package,
        ranges=detail.ranges,
        quotes=detail.quotes,
        history=detail.history,
        segments=range_bar(detail.ranges, face, names, chosen),
        bar_width=BAR_WIDTH,
        chosen=chosen,
        chain=chain,
        obligors=obligors,
        now=web.now(request),
    )


# -- forms ------------------------------------------------------------------------------------------
def _acting(viewer: Viewer) -> None:
    if viewer.sees_everything and not (viewer.is_core or viewer.is_financier):
        raise web.Denied("bill actions (auditors read only)")


@router.post("/issue")
async def issue(request: Request, viewer: web.SignedIn) -> Response:
    _acting(viewer)
    form = await request.form()
    back = "/dashboard/bills"
    upload = form.get("invoice")
    try:
        face = web.form_yuan(form, "face", "Face")
        maturity = dt.date.fromisoformat(str(form.get("maturity", "")).strip())
        number = str(form.get("invoice_number", "")).strip()
        if not number or upload is None or isinstance(upload, str):
            raise actions.ActionError("Attach the invoice and give its number (发票号码).")
        content = await upload.read()
        payee, acceptor = (
            web.checksum(str(form.get("payee", ""))),
            web.checksum(str(form.get("acceptor", ""))),
        )
    except ValueError:
        message = i18n.gettext("Maturity: pick a date in the calendar.")
        return web.redirect(back, message=message, kind="error")
    except actions.ActionError as error:
        return web.redirect(back, message=str(error), kind="error")
    filename = upload.filename or "invoice"
    content_type = upload.content_type or "application/octet-stream"

    def work(context: Any, who: Viewer) -> Any:
        def run(session: Session, caller: Any) -> Any:
            doc = documents.upload(
                ctx=context, session=session, caller=caller, content=content, filename=filename,
                content_type=content_type, kind="invoice", seller=payee, invoice_number=number,
            )  # fmt: skip
            data = BillIssue(
                acceptor=acceptor, payee=payee, face=face, maturity=maturity,
                splittable=form.get("splittable") == "on",
                not_transferable=form.get("not_transferable") == "on",
                document_ids=[doc.document_id],
            )  # fmt: skip
            return bills.issue(ctx=context, session=session, caller=caller, data=data)

        return actions.run_as(context, who, run)

    return await web.act(
        request, viewer, back,
        lambda r: i18n.gettext(
            "Issued bill B%(id)s of %(amount)s; waiting for the acceptor.",
            id=r.result.get("package_id"), amount=i18n.money(face),
        ),
        work,
    )  # fmt: skip


PACKAGE_VERBS = {
    "accept": (i18n.N_("Accepted bill B%(id)s; the payee can now sign for it."), "accept"),
    "refuse": (i18n.N_("Refused bill B%(id)s; its invoices are released."), "refuse"),
    "receive": (i18n.N_("Signed for bill B%(id)s: you hold all of its sub-tickets."), "receive"),
    "reject": (i18n.N_("Rejected bill B%(id)s; its invoices are released."), "reject"),
    "cancel": (i18n.N_("Withdrew bill B%(id)s; its invoices are released."), "cancel"),
}


@router.post("/{package_id}/{verb}")
async def package_action(request: Request, viewer: web.SignedIn, package_id: int, verb: str) -> Response:
    _acting(viewer)
    if verb not in PACKAGE_VERBS:
        return Response(status_code=404)

    def work(context: Any, who: Viewer) -> Any:
        def run(session: Session, caller: Any) -> Any:
            kw = {"ctx": context, "session": session, "caller": caller, "package_id": package_id}
            if verb in ("receive", "reject"):
                return bills.respond(**kw, receive=verb == "receive")
            return {"accept": bills.accept, "refuse": bills.refuse, "cancel": bills.cancel}[verb](**kw)

        return actions.run_as(context, who, run)

    if verb == "accept":
        form = await request.form()
        confirmation = await run_in_threadpool(_accept_confirmation, request, viewer, package_id)
        if confirmation is not None and not web.confirmed(form):
            return await run_in_threadpool(web.confirm_page, request, form, "/dashboard/bills", confirmation)
    return await web.act(
        request, viewer, "/dashboard/bills", i18n.gettext(PACKAGE_VERBS[verb][0], id=package_id), work
    )


def _accept_confirmation(request: Request, viewer: Viewer, package_id: int) -> web.Confirmation | None:
    """Accepting (承兑) makes the acceptor the bill's main debtor: say for how much, to whom and when.
    None unless the viewer is the acceptor (the service refuses anyone else's post)."""
    gettext, money = i18n.gettext, i18n.money
    with web.session(request) as db:
        names = queries.directory(db)
        package = db.get(BillPackage, package_id)
    if package is None or package.acceptor != viewer.address:
        return None
    return web.Confirmation(
        title=gettext("Accept bill B%(bill)s (承兑)", bill=package_id),
        rows=[
            (gettext("Drawer"), names.name(package.drawer)),
            (gettext("Payee"), names.name(package.payee)),
            (
                gettext("You promise to pay"),
                gettext("%(amount)s on %(day)s", amount=money(package.face), day=i18n.date(package.maturity)),
            ),
        ],
        button=gettext("Confirm: accept and owe %(amount)s", amount=money(package.face)),
        note=gettext(
            "Acceptance cannot be withdrawn: from now on you must pay whoever holds the bill at maturity, "
            "and every holder can claim recourse against you if you do not."
        ),
    )


def _sub_tickets_for(request: Request, range_id: int, amount: int) -> tuple[int | None, int | None]:
    """The sub-tickets that carry `amount` fen of a range: its first ones (1 sub-ticket = 1 fen); the
    whole range (None, None) when the amount is all of it. People type yuan, never sub-ticket numbers."""
    with web.session(request) as db:
        row = db.get(BillRange, range_id)
    if row is None:
        raise actions.ActionError(
            i18n.gettext("Range R%(range)s does not exist any more; reload the page.", range=range_id)
        )
    try:
        start, end = bills.sub_tickets_for(row, amount)  # the service picks, as for the API's bodies
    except ServiceError as error:
        raise actions.ActionError(error.message, field="amount") from error
    if (start, end) == (int(row.start), int(row.end)):
        return None, None
    return start, end


def _part(form: Any) -> tuple[int | None, int | None]:
    """Optional sub-ticket bounds of a form: both blank = the whole range."""
    start, end = str(form.get("start", "")).strip(), str(form.get("end", "")).strip()
    if not start and not end:
        return None, None
    return web.form_int(form, "start", "First sub-ticket"), web.form_int(form, "end", "Last sub-ticket")


@router.post("/ranges/{range_id}/{verb}")
async def range_action(request: Request, viewer: web.SignedIn, range_id: int, verb: str) -> Response:
    _acting(viewer)
    form = await request.form()
    back = str(form.get("back") or "/dashboard/bills")
    if not back.startswith("/dashboard/"):
        back = "/dashboard/bills"
    try:
        if range_id == 0:  # the holdings forms choose the range in a select
            range_id = web.form_int(form, "range_id", "Range")
        start, end = _part(form) if verb in ("endorse", "discount", "pledge") else (None, None)
        if (
            verb in ("endorse", "discount", "pledge")
            and start is None
            and str(form.get("amount", "")).strip()
        ):
            start, end = await run_in_threadpool(
                _sub_tickets_for, request, range_id, web.form_yuan(form, "amount", "Amount")
            )
    except actions.ActionError as error:
        return web.redirect(back, message=str(error), kind="error")
    to = web.checksum(str(form.get("to", "")))
    raw_reason = str(form.get("reason", "")).strip()
    reason = int(raw_reason) if raw_reason.isdigit() and 0 < int(raw_reason) < 256 else 1

    def work(context: Any, who: Viewer) -> Any:
        def run(session: Session, caller: Any) -> Any:
            kw = {"ctx": context, "session": session, "caller": caller, "range_id": range_id}
            if verb == "endorse":
                return bills.endorse(**kw, data=BillEndorse(to=to, start=start, end=end))
            if verb == "discount":
                return bills.request_discount(
                    session=session, caller=caller, range_id=range_id,
                    data=BillDiscountCreate(financier=to, start=start, end=end),
                )  # fmt: skip
            if verb == "pledge":
                return bills.pledge(**kw, data=BillPledge(pledgee=to, start=start, end=end))
            if verb == "present":
                return bills.present(**kw)
            if verb == "recourse":
                return bills.claim_recourse(**kw, data=BillRecourse(obligor=to))
            if verb == "settle":
                return bills.settle_recourse(**kw)
            if verb == "release":
                return bills.release_pledge(**kw)
            if verb == "pay":
                return bills.pay(**kw)
            if verb == "dishonour":
                return bills.dishonour(**kw, data=BillDishonour(reason=reason))
            raise actions.ActionError(f"unknown action {verb}")

        return actions.run_as(context, who, run)

    amount_text, to_name = await run_in_threadpool(_amount_and_name, request, range_id, start, end, to)
    done: dict[str, Any] = {
        # Who received what, and the new range as a detail (the range moved is a new record).
        "endorse": lambda r: i18n.gettext(
            "%(amount)s endorsed to %(to)s (range R%(range)s).",
            amount=amount_text,
            to=to_name,
            range=(r.result.get("new_range_id") if hasattr(r, "result") else None) or range_id,
        ),
        "discount": i18n.gettext(
            "Asked %(bank)s for a discount quote on %(amount)s of range R%(range)s; the bank sees it in its "
            "queue.",
            bank=to_name,
            amount=amount_text,
            range=range_id,
        ),
        "pledge": lambda r: i18n.gettext(
            "%(amount)s pledged to %(to)s (range R%(range)s); the bank releases it when the loan is repaid.",
            amount=amount_text,
            to=to_name,
            range=(r.result.get("pledged_range_id") if hasattr(r, "result") else None) or range_id,
        ),
        "present": i18n.gettext(
            "Presented range R%(id)s for payment; the acceptor pays or dishonours it.", id=range_id
        ),
        "recourse": i18n.gettext(
            "Claimed recourse on range R%(id)s; the obligor pays it and takes the range.", id=range_id
        ),
        "settle": i18n.gettext("Paid the recourse claim on range R%(id)s: the range is yours.", id=range_id),
        "release": i18n.gettext("Released the pledge on range R%(id)s.", id=range_id),
        "pay": i18n.gettext("Paid range R%(id)s: its holder received the face amount.", id=range_id),
        "dishonour": i18n.gettext(
            "Dishonoured range R%(id)s; its holder may now claim recourse.", id=range_id
        ),
    }
    if verb not in done:
        return Response(status_code=404)
    if verb in CONFIRMED_RANGE_VERBS and not web.confirmed(form):
        confirmation = await run_in_threadpool(
            _range_confirmation, request, viewer, verb, range_id, start, end, to, reason
        )
        # A party to the action confirms first; anyone else's post goes to the service, which refuses
        # it (a confirmation page would show them the range's holder and amount).
        if confirmation is not None:
            return await run_in_threadpool(web.confirm_page, request, form, back, confirmation)
    return await web.act(request, viewer, back, done[verb], work)


# The range actions that move money or have legal effect: each passes a confirmation page first.
def _amount_and_name(
    request: Request, range_id: int, start: int | None, end: int | None, to: str
) -> tuple[str, str]:
    """What a range action moves, in yuan, and the counterparty's name (for the message after it)."""
    with web.session(request) as db:
        row = db.get(BillRange, range_id)
        names = queries.directory(db)
    if start is not None and end is not None:
        amount = end - start + 1
    else:
        amount = int(row.end) - int(row.start) + 1 if row is not None else 0
    return i18n.money(amount), names.name(to) if to.startswith("0x") else to


CONFIRMED_RANGE_VERBS = ("endorse", "pledge", "release", "pay", "dishonour", "recourse", "settle")
DISHONOUR_REASONS = {
    1: i18n.N_("insufficient funds"), 2: i18n.N_("dispute over the goods"), 3: i18n.N_("other"),
}  # fmt: skip


def _range_confirmation(
    request: Request,
    viewer: Viewer,
    verb: str,
    range_id: int,
    start: int | None,
    end: int | None,
    to: str,
    reason: int,
) -> web.Confirmation | None:
    """What a range action will do, in yuan, dates and names; None unless the viewer is the party that
    may do it."""
    gettext, money = i18n.gettext, i18n.money
    with web.session(request) as db:
        names = queries.directory(db)
        row = db.get(BillRange, range_id)
        package = db.get(BillPackage, row.package_id) if row is not None else None
    if row is None or package is None:
        return None
    party = {
        "release": row.pledgee, "pay": package.acceptor, "dishonour": package.acceptor,
        "settle": row.recourse_obligor,
    }.get(verb, row.holder)  # fmt: skip
    if party != viewer.address:
        return None
    first, last = (start, end) if start is not None and end is not None else (row.start, row.end)
    amount, face = int(last) - int(first) + 1, int(row.end) - int(row.start) + 1
    holder, other = names.name(row.holder), names.name(to)
    bill = gettext(
        "B%(bill)s, %(face)s accepted by %(acceptor)s, due %(day)s",
        bill=package.package_id, face=money(package.face), acceptor=names.name(package.acceptor),
        day=i18n.date(package.maturity),
    )  # fmt: skip
    part = gettext(
        "%(amount)s (sub-tickets %(first)s … %(last)s of range R%(range)s)",
        amount=money(amount), first=i18n.number(int(first)), last=i18n.number(int(last)), range=range_id,
    )  # fmt: skip
    whole = gettext("%(amount)s (range R%(range)s)", amount=money(face), range=range_id)
    rows = [(gettext("Bill"), bill), (gettext("Holder"), holder)]
    if verb == "endorse":
        rows += [(gettext("You endorse"), part), (gettext("To"), other)]
        title = gettext("Endorse %(amount)s to %(to)s (背书)", amount=money(amount), to=other)
        button = gettext("Confirm: endorse")
        note = gettext(
            "The endorsee becomes the holder; you stay liable to it in recourse if the bill is dishonoured."
        )
    elif verb == "pledge":
        rows += [(gettext("You pledge"), part), (gettext("To the bank"), other)]
        title = gettext("Pledge %(amount)s to %(to)s (质押)", amount=money(amount), to=other)
        button = gettext("Confirm: pledge")
        note = gettext("The pledged part cannot be endorsed or discounted until the bank releases it.")
    elif verb == "release":
        rows += [(gettext("You release"), whole)]
        title = gettext("Release the pledge on range R%(range)s (解除质押)", range=range_id)
        button = gettext("Confirm: release the pledge")
        note = gettext("The holder can endorse or discount this part again; your security on it ends.")
    elif verb == "pay":
        rows += [(gettext("You pay"), gettext("%(what)s to %(holder)s", what=whole, holder=holder))]
        title = gettext("Pay %(amount)s to %(holder)s", amount=money(face), holder=holder)
        button = gettext("Confirm: pay %(amount)s", amount=money(face))
        note = gettext("The money leaves your settlement balance at once and the range is closed.")
    elif verb == "dishonour":
        rows += [
            (gettext("You refuse to pay"), gettext("%(what)s to %(holder)s", what=whole, holder=holder)),
            (gettext("Reason"), gettext(DISHONOUR_REASONS.get(reason, DISHONOUR_REASONS[3]))),
        ]
        title = gettext("Dishonour range R%(range)s (拒付)", range=range_id)
        button = gettext("Confirm: dishonour")
        note = gettext(
            "A dishonour is recorded for good: the holder may then claim recourse along the endorsement "
            "chain."
        )
    elif verb == "recourse":
        rows += [(gettext("You claim"), whole), (gettext("From"), other)]
        title = gettext("Claim recourse on range R%(range)s (追索)", range=range_id)
        button = gettext("Confirm: claim recourse")
        note = gettext(
            "%(obligor)s must then pay you the range's face and takes the range when it does.", obligor=other
        )
    else:  # settle
        rows += [
            (gettext("You pay"), gettext("%(what)s to %(holder)s", what=whole, holder=holder)),
            (gettext("You receive"), gettext("range R%(range)s", range=range_id)),
        ]
        title = gettext("Pay the recourse claim on range R%(range)s", range=range_id)
        button = gettext("Confirm: pay %(amount)s", amount=money(face))
        note = gettext("The money leaves your settlement balance at once; you become the range's holder.")
    return web.Confirmation(title=title, rows=rows, button=button, note=note)


# -- discount: the bank quotes from its queue, the holder accepts; each behind a confirmation ----------
@router.get("/queue/{request_id}/quote", response_class=HTMLResponse)
def quote_confirm(
    request: Request, viewer: web.SignedIn, request_id: int, rate: str = "", valid_hours: int = 24
) -> Response:
    _acting(viewer)
    back = "/dashboard/bills"
    with web.session(request) as db:
        row = db.get(BillDiscountRequest, request_id)
        if row is None or row.financier.lower() != viewer.address.lower():
            raise web.Denied("a discount request addressed to another bank")
        item = bills.request_public(db, row)
        names = queries.directory(db)
        # the bank's stored standing rate, as on the certificate quote page (the session's if none)
        standing = queries.standing_rate(db, viewer.address, viewer.standing_rate_bps)
    try:
        rate_bps = fmt.parse_percent(rate) if rate else standing
    except ValueError as error:
        return web.redirect(back, message=str(error), kind="error")
    now = web.now(request)
    days = fmt.days_to(times.day_unix(item.maturity), now)
    interest = fmt.discount(item.amount, rate_bps, days)
    hours = max(1, min(valid_hours, 24 * 30))
    return web.page(
        request, "bills/confirm_quote.html", names=names, item=item, rate_bps=rate_bps, days=days,
        interest=interest, price=item.amount - interest, valid_hours=hours, expiry=now + hours * 3600,
        rate_check=web.rate_check(rate_bps, standing),
    )  # fmt: skip


@router.post("/queue/{request_id}/quote")
async def quote_submit(request: Request, viewer: web.SignedIn, request_id: int) -> Response:
    _acting(viewer)
    form = await request.form()
    back = "/dashboard/bills"
    try:
        rate_bps = web.form_int(form, "rate_bps", "Rate")
        hours = web.form_int(form, "valid_hours", "Quote validity")
    except actions.ActionError as error:
        return web.redirect(back, message=str(error), kind="error")

    def work(context: Any, who: Viewer) -> Any:
        return actions.run_as(
            context, who,
            lambda s, c: bills.quote_discount(
                ctx=context, session=s, caller=c, request_id=request_id,
                data=BillQuoteCreate(rate_bps=rate_bps, valid_hours=hours),
            ),
        )  # fmt: skip

    return await web.act(
        request, viewer, back,
        lambda r: i18n.gettext(
            "Quoted discount request %(id)s at %(rate)s (quote Q%(quote)s); "
            "waiting for the holder to accept.",
            id=request_id, rate=fmt.percent_bps(rate_bps), quote=r.result.get("quote_id"),
        ),
        work,
    )  # fmt: skip


@router.get("/quotes/{quote_id}/accept", response_class=HTMLResponse)
def accept_confirm(request: Request, viewer: web.SignedIn, quote_id: int) -> Response:
    _acting(viewer)
    with web.session(request) as db:
        quote = db.get(BillQuote, quote_id)
        record = db.get(BillRange, quote.range_id) if quote is not None else None
        if quote is None or record is None or record.holder.lower() != viewer.address.lower():
            raise web.Denied("a quote on a range you do not hold")
        package = db.get(BillPackage, record.package_id)
        names = queries.directory(db)
    assert package is not None
    amount = int(quote.end) - int(quote.start) + 1
    days = fmt.days_to(package.maturity, web.now(request))
    interest = fmt.discount(amount, quote.rate_bps, days)
    return web.page(
        request, "bills/confirm_accept.html", names=names, quote=quote, package=package, amount=amount,
        days=days, interest=interest, price=amount - interest,
    )  # fmt: skip


@router.post("/quotes/{quote_id}/accept")
async def accept_submit(request: Request, viewer: web.SignedIn, quote_id: int) -> Response:
    _acting(viewer)

    def work(context: Any, who: Viewer) -> Any:
        return actions.run_as(
            context, who, lambda s, c: bills.accept_quote(ctx=context, session=s, caller=c, quote_id=quote_id)
        )

    return await web.act(
        request, viewer, "/dashboard/bills",
        lambda r: i18n.gettext(
            "Discounted: %(amount)s received; the bank holds the range.",
            amount=i18n.money(int(r.result.get("price", 0))),
        ),
        work,
    )  # fmt: skip
