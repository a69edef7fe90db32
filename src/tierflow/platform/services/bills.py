"""Bill workflows and reads: party checks against the bill read models, then one Bills call each."""

from __future__ import annotations

import time
from typing import Any

from sqlalchemy import select
from sqlmodel import Session, col

from tierflow.chain.gateway import Call
from tierflow.chain.vocabulary import ROLE_BITS
from tierflow.platform import i18n
from tierflow.platform.models import BillMovement, BillPackage, BillQuote, BillRange
from tierflow.platform.models.service import BillDiscountRequest, DirectoryParticipant
from tierflow.platform.services import access, documents, lineage, names
from tierflow.platform.services.context import ServiceContext
from tierflow.platform.services.errors import Forbidden, InvalidRequest
from tierflow.platform.services.participants import Caller
from tierflow.platform.services.queries import get_or_404, keyset_page
from tierflow.platform.services.schemas.bills import (
    BillDetail,
    BillDiscountCreate,
    BillDiscountRequestPublic,
    BillDishonour,
    BillEndorse,
    BillIssue,
    BillMovementPublic,
    BillPackagePublic,
    BillPledge,
    BillQuoteCreate,
    BillQuotePublic,
    BillRangePublic,
    BillRecourse,
    ChainLink,
    EndorsementChain,
    SubRange,
)
from tierflow.platform.services.schemas.certificates import Page, TxResult
from tierflow.platform.services.workflows import Written, _ensure_allowance, date_to_unix
from tierflow.platform.services.writes import execute

LIVE = ("Held", "Pledged", "Presented", "Dishonoured", "Paid")  # every status but Closed


# -- conversions ------------------------------------------------------------------------------------
def package_public(row: BillPackage) -> BillPackagePublic:
    return BillPackagePublic.model_validate(row, from_attributes=True)


def range_public(row: BillRange) -> BillRangePublic:
    return BillRangePublic(
        range_id=row.range_id,
        package_id=row.package_id,
        holder=row.holder,
        start=int(row.start),
        end=int(row.end),
        amount=int(row.end) - int(row.start) + 1,
        status=row.status,
        prev=row.prev,
        depth=row.depth,
        origin=row.origin,
        pledgee=row.pledgee,
        presented_at=row.presented_at,
        recourse_obligor=row.recourse_obligor,
    )


def quote_public(row: BillQuote) -> BillQuotePublic:
    return BillQuotePublic.model_validate(row, from_attributes=True)


# -- lookups ----------------------------------------------------------------------------------------
def package(session: Session, package_id: int) -> BillPackage:
    return get_or_404(session, BillPackage, package_id, "bill", "bill_not_found", indexed=True)


def bill_range(session: Session, range_id: int) -> BillRange:
    return get_or_404(session, BillRange, range_id, "bill range", "bill_range_not_found", indexed=True)


def _quote(session: Session, quote_id: int) -> BillQuote:
    return get_or_404(session, BillQuote, quote_id, "bill quote", "bill_quote_not_found", indexed=False)


def _discount_request(session: Session, request_id: int) -> BillDiscountRequest:
    return get_or_404(
        session,
        BillDiscountRequest,
        request_id,
        "bill discount request",
        "bill_request_not_found",
        indexed=False,
    )


def _own_range(session: Session, caller: Caller, range_id: int) -> BillRange:
    row = bill_range(session, range_id)
    if row.holder != caller.address:
        raise Forbidden(
            i18n.gettext(
                "Bill range R%(range_id)s is held by %(holder)s, not by you.",
                range_id=range_id,
                holder=names.name(session, row.holder),
            ),
            code="not_a_party",
        )
    return row


def sub_tickets_for(row: BillRange, amount: int) -> tuple[int, int]:
    """The sub-tickets of range `row` that carry `amount` [fen]: its first ones (1 sub-ticket = 1 fen).
    People and API clients give amounts in yuan or fen, never sub-ticket numbers; the API's amount bodies
    and the dashboard's bill forms both pick here."""
    size = int(row.end) - int(row.start) + 1
    if not 0 < amount <= size:
        raise InvalidRequest(
            i18n.gettext(
                "Amount: range R%(range)s holds %(size)s; enter an amount above zero and at most that.",
                range=row.range_id,
                size=i18n.money(size),
            ),
            code="invalid_amount",
        )
    return int(row.start), int(row.start) + amount - 1


def _sub_range(row: BillRange, sub: SubRange) -> tuple[int, int]:
    """The asked part of a range: by amount, by sub-tickets, or the whole range when none is given."""
    amount = getattr(sub, "amount", None)
    if amount is not None:
        return sub_tickets_for(row, amount)
    start = sub.start if sub.start is not None else int(row.start)
    end = sub.end if sub.end is not None else int(row.end)
    if not int(row.start) <= start <= end <= int(row.end):
        raise InvalidRequest(
            i18n.gettext(
                "sub-tickets %(start)s … %(end)s are not inside range %(range)s (%(first)s … %(last)s); "
                "read the package to see its current ranges",
                start=start,
                end=end,
                range=row.range_id,
                first=row.start,
                last=row.end,
            ),
            code="invalid_sub_range",
        )
    return start, end


def _invoice_hashes(row: BillPackage) -> list[bytes]:
    """The invoices proposed at issue: Bills keeps only their digest, so the payee names them on receipt."""
    return [bytes.fromhex(h[2:]) for h in row.invoice_hashes]


def _run(ctx: ServiceContext, session: Session, caller: Caller, function: str, *args: Any) -> Written:
    return execute(ctx=ctx, session=session, caller=caller, call=Call("Bills", function, args))


# -- drawer -----------------------------------------------------------------------------------------
def issue(*, ctx: ServiceContext, session: Session, caller: Caller, data: BillIssue) -> Written:
    # The payee sold the goods, so its invoices back the bill: the same HMAC hash as for a
    # certificate, hence "one invoice backs one asset" holds across certificates and bills.
    hashes = documents.invoices_for_issue(
        session=session, caller=caller, document_ids=data.document_ids, supplier=data.payee
    )
    return _run(
        ctx, session, caller, "issue", data.acceptor, data.payee, data.face, date_to_unix(data.maturity),
        data.splittable, data.not_transferable, hashes,
    )  # fmt: skip


def cancel(*, ctx: ServiceContext, session: Session, caller: Caller, package_id: int) -> Written:
    """Withdraw (drawer) or refuse acceptance (acceptor) of an issued bill; its invoices never bound."""
    row = package(session, package_id)
    if caller.address not in (row.drawer, row.acceptor):
        raise Forbidden(
            i18n.gettext("you are neither the drawer nor the acceptor of bill %(id)s", id=package_id),
            code="not_a_party",
        )
    return _run(ctx, session, caller, "cancel", package_id)


# -- acceptor ---------------------------------------------------------------------------------------
def _as_acceptor(session: Session, caller: Caller, package_id: int) -> BillPackage:
    row = package(session, package_id)
    if row.acceptor != caller.address:
        raise Forbidden(
            i18n.gettext("you are not the acceptor of bill %(package_id)s", package_id=package_id),
            code="not_a_party",
        )
    return row


def accept(*, ctx: ServiceContext, session: Session, caller: Caller, package_id: int) -> Written:
    _as_acceptor(session, caller, package_id)
    return _run(ctx, session, caller, "accept", package_id)


def refuse(*, ctx: ServiceContext, session: Session, caller: Caller, package_id: int) -> Written:
    _as_acceptor(session, caller, package_id)
    return _run(ctx, session, caller, "cancel", package_id)


def pay(*, ctx: ServiceContext, session: Session, caller: Caller, range_id: int) -> Written:
    row = bill_range(session, range_id)
    _as_acceptor(session, caller, row.package_id)
    amount = int(row.end) - int(row.start) + 1
    _ensure_allowance(ctx=ctx, session=session, caller=caller, spender="Bills", amount=amount)
    return _run(ctx, session, caller, "pay", range_id)


def dishonour(
    *, ctx: ServiceContext, session: Session, caller: Caller, range_id: int, data: BillDishonour
) -> Written:
    row = bill_range(session, range_id)
    _as_acceptor(session, caller, row.package_id)
    return _run(ctx, session, caller, "dishonour", range_id, data.reason)


# -- payee / holder ---------------------------------------------------------------------------------
def respond(
    *, ctx: ServiceContext, session: Session, caller: Caller, package_id: int, receive: bool
) -> Written:
    row = package(session, package_id)
    if row.payee != caller.address:
        raise Forbidden(
            i18n.gettext("you are not the payee of bill %(package_id)s", package_id=package_id),
            code="not_a_party",
        )
    if receive:  # the payee, the invoices' seller, consents: they bind to this bill now
        return _run(ctx, session, caller, "receiveBill", package_id, _invoice_hashes(row))
    return _run(ctx, session, caller, "reject", package_id)


def endorse(
    *, ctx: ServiceContext, session: Session, caller: Caller, range_id: int, data: BillEndorse
) -> Written:
    row = _own_range(session, caller, range_id)
    if data.to == caller.address:
        raise InvalidRequest("a bill cannot be endorsed to its own holder", code="self_transfer")
    start, end = _sub_range(row, data)
    written = _run(ctx, session, caller, "endorse", range_id, start, end, data.to)
    if isinstance(written, TxResult):
        written.message = i18n.gettext(
            "%(amount)s endorsed to %(to)s (range R%(range)s).",
            amount=i18n.money(end - start + 1),
            to=names.name(session, data.to),
            range=written.result.get("new_range_id") or range_id,
        )
    return written


def pledge(
    *, ctx: ServiceContext, session: Session, caller: Caller, range_id: int, data: BillPledge
) -> Written:
    row = _own_range(session, caller, range_id)
    start, end = _sub_range(row, data)
    written = _run(ctx, session, caller, "pledge", range_id, start, end, data.pledgee)
    if isinstance(written, TxResult):
        written.message = i18n.gettext(
            "%(amount)s pledged to %(to)s (range R%(range)s); the bank releases it when the loan is repaid.",
            amount=i18n.money(end - start + 1),
            to=names.name(session, data.pledgee),
            range=written.result.get("pledged_range_id") or range_id,
        )
    return written


def present(*, ctx: ServiceContext, session: Session, caller: Caller, range_id: int) -> Written:
    _own_range(session, caller, range_id)
    return _run(ctx, session, caller, "present", range_id)


def dishonour_unanswered(*, ctx: ServiceContext, session: Session, caller: Caller, range_id: int) -> Written:
    """The holder records a dishonour when the acceptor let the grace period pass without answering."""
    _own_range(session, caller, range_id)
    return _run(ctx, session, caller, "dishonourUnanswered", range_id)


def claim_recourse(
    *, ctx: ServiceContext, session: Session, caller: Caller, range_id: int, data: BillRecourse
) -> Written:
    _own_range(session, caller, range_id)
    return _run(ctx, session, caller, "claimRecourse", range_id, data.obligor)


def settle_recourse(*, ctx: ServiceContext, session: Session, caller: Caller, range_id: int) -> Written:
    row = bill_range(session, range_id)
    if row.recourse_obligor != caller.address:
        raise Forbidden(
            i18n.gettext(
                "no recourse claim against you is open on bill range %(range_id)s", range_id=range_id
            ),
            code="not_a_party",
        )
    amount = int(row.end) - int(row.start) + 1
    _ensure_allowance(ctx=ctx, session=session, caller=caller, spender="Bills", amount=amount)
    return _run(ctx, session, caller, "settleRecourse", range_id)


def request_discount(
    *, session: Session, caller: Caller, range_id: int, data: BillDiscountCreate
) -> BillDiscountRequestPublic:
    """Put (part of) a held range in a bank's discount queue; nothing goes on chain until it quotes."""
    row = _own_range(session, caller, range_id)
    if row.status != "Held":
        raise InvalidRequest(
            i18n.gettext(
                "bill range %(id)s is %(status)s; only a Held range can be discounted",
                id=range_id,
                status=row.status,
            ),
            code="range_not_held",
        )
    if data.financier == caller.address:
        raise InvalidRequest("a bank cannot discount a bill to itself", code="self_transfer")
    bank = session.get(DirectoryParticipant, data.financier)
    if bank is None or not bank.roles & ROLE_BITS["financier"]:
        raise InvalidRequest(
            i18n.gettext(
                "%(name)s is not a bank on the platform; choose a financier.",
                name=names.name(session, data.financier),
            ),
            code="not_a_financier",
        )
    start, end = _sub_range(row, data)
    request = BillDiscountRequest(
        range_id=range_id,
        package_id=row.package_id,
        seller=caller.address,
        financier=data.financier,
        start=start,
        end=end,
        status="open",
        created_at=int(time.time()),
    )
    session.add(request)
    session.commit()
    session.refresh(request)
    return request_public(session, request)


def accept_quote(*, ctx: ServiceContext, session: Session, caller: Caller, quote_id: int) -> Written:
    quote = _quote(session, quote_id)
    _own_range(session, caller, quote.range_id)
    return _run(ctx, session, caller, "acceptQuote", quote_id)


# -- bank -------------------------------------------------------------------------------------------
def quote_discount(
    *, ctx: ServiceContext, session: Session, caller: Caller, request_id: int, data: BillQuoteCreate
) -> Written:
    """Quote a discount (贴现; 转贴现 when the seller is a bank) on a request in this bank's queue."""
    request = _discount_request(session, request_id)
    if request.financier != caller.address:
        raise Forbidden(
            i18n.gettext("bill discount request %(id)s is addressed to another bank", id=request_id),
            code="not_a_party",
        )
    amount = int(request.end) - int(request.start) + 1
    # The seller's acceptQuote pulls the price from this bank: approve Bills now, or it would fail then.
    _ensure_allowance(ctx=ctx, session=session, caller=caller, spender="Bills", amount=amount)
    expiry = ctx.gateway().chain_time() + data.valid_hours * 3600
    outcome = _run(
        ctx, session, caller, "quoteDiscount",
        request.range_id, int(request.start), int(request.end), data.rate_bps, expiry,
    )  # fmt: skip
    if isinstance(outcome, TxResult):
        link_quote(session=session, request_id=request_id, result=outcome)
    return outcome


def link_quote(*, session: Session, request_id: int, result: TxResult) -> None:
    """Mark the discount request quoted by the transaction of `result` (also after a retry found it mined)."""
    if "quote_id" not in result.result:
        return
    fresh = session.get(BillDiscountRequest, request_id)
    assert fresh is not None
    fresh.status, fresh.quote_id = "quoted", int(result.result["quote_id"])
    session.add(fresh)
    session.commit()


def cancel_quote(*, ctx: ServiceContext, session: Session, caller: Caller, quote_id: int) -> Written:
    if _quote(session, quote_id).financier != caller.address:
        raise Forbidden(
            i18n.gettext("bill quote %(quote_id)s was made by another bank", quote_id=quote_id),
            code="not_a_party",
        )
    return _run(ctx, session, caller, "cancelQuote", quote_id)


def release_pledge(*, ctx: ServiceContext, session: Session, caller: Caller, range_id: int) -> Written:
    if bill_range(session, range_id).pledgee != caller.address:
        raise Forbidden(
            i18n.gettext("bill range %(range_id)s is not pledged to you", range_id=range_id),
            code="not_a_party",
        )
    return _run(ctx, session, caller, "releasePledge", range_id)


def request_public(session: Session, row: BillDiscountRequest) -> BillDiscountRequestPublic:
    pkg = session.get(BillPackage, row.package_id)
    rng = session.get(BillRange, row.range_id)
    quote = session.get(BillQuote, row.quote_id) if row.quote_id is not None else None
    status = row.status
    if quote is not None and quote.status == "accepted":
        status = "discounted"
    elif quote is not None and quote.status == "cancelled":
        status = "quote_cancelled"
    return BillDiscountRequestPublic(
        request_id=int(row.request_id or 0),
        range_id=row.range_id,
        package_id=row.package_id,
        seller=row.seller,
        financier=row.financier,
        start=int(row.start),
        end=int(row.end),
        amount=int(row.end) - int(row.start) + 1,
        status=status,
        quote_id=row.quote_id,
        created_at=row.created_at,
        maturity=pkg.maturity if pkg else 0,
        acceptor=pkg.acceptor if pkg else "",
        bank_acceptance=pkg.bank_acceptance if pkg else False,
        range_status=rng.status if rng else "unknown",
        quote=quote_public(quote) if quote is not None else None,
    )


def discount_requests(
    *, session: Session, financier: str | None = None, seller: str | None = None,
    status: str | None = None, limit: int, offset: int, after: int | None = None,
) -> Page[BillDiscountRequestPublic]:  # fmt: skip
    """A bank's discount queue (financier=…) or a holder's own requests (seller=…), oldest first, a
    keyset page at a time (`after` a request id)."""
    query = select(BillDiscountRequest)
    if financier is not None:
        query = query.where(col(BillDiscountRequest.financier) == financier)
    if seller is not None:
        query = query.where(col(BillDiscountRequest.seller) == seller)
    if status is not None:
        # The status shown is derived from the quote (request_public); filtered in SQL so that a page is
        # read by cursor instead of converting every request of the bank to filter them in Python.
        quote = select(BillQuote.status).where(  # type: ignore[call-overload]
            col(BillQuote.quote_id) == col(BillDiscountRequest.quote_id)
        )
        settled = {"discounted": "accepted", "quote_cancelled": "cancelled"}
        if status in settled:
            query = query.where(quote.scalar_subquery() == settled[status])
        else:
            query = query.where(col(BillDiscountRequest.status) == status).where(
                ~quote.where(col(BillQuote.status).in_(tuple(settled.values()))).exists()
            )
    return keyset_page(
        session, query, col(BillDiscountRequest.request_id), lambda r: request_public(session, r),
        limit=limit, offset=offset, after=after, prefetch=lambda rows: _load_for_requests(session, rows),
    )  # fmt: skip


def _load_for_requests(session: Session, rows: list[BillDiscountRequest]) -> list[Any]:
    """The packages, ranges and quotes a page of requests shows, read in one statement each into the
    session, so that request_public's `session.get`s find them there while the caller holds the list
    returned: read one by one they were three statements a request (125 for a page of 50, 10-22 ms)."""
    loaded: list[Any] = []
    for model, key, ids in (
        (BillPackage, BillPackage.package_id, {r.package_id for r in rows}),
        (BillRange, BillRange.range_id, {r.range_id for r in rows}),
        (BillQuote, BillQuote.quote_id, {r.quote_id for r in rows if r.quote_id is not None}),
    ):
        if ids:
            loaded += session.execute(select(model).where(col(key).in_(sorted(ids)))).scalars().all()
    return loaded


# -- reads ------------------------------------------------------------------------------------------
def packages(
    *, session: Session, caller: Caller, status: str | None = None, role: str | None = None,
    limit: int, offset: int, after: int | None = None,
) -> Page[BillPackagePublic]:  # fmt: skip
    query = select(BillPackage)
    me = caller.address
    held = select(BillRange.package_id).where(col(BillRange.holder) == me)  # type: ignore[call-overload]
    parties = access.package_filter(caller)
    if role == "drawer":
        query = query.where(col(BillPackage.drawer) == me)
    elif role == "acceptor":
        query = query.where(col(BillPackage.acceptor) == me)
    elif role == "payee":
        query = query.where(col(BillPackage.payee) == me)
    elif role == "holder":
        query = query.where(col(BillPackage.package_id).in_(held))
    elif parties is not None:
        query = query.where(parties)
    if status is not None:
        query = query.where(col(BillPackage.status) == status)
    return keyset_page(
        session, query, col(BillPackage.package_id), package_public, limit=limit, offset=offset, after=after
    )


def detail(*, session: Session, caller: Caller, package_id: int) -> BillDetail:
    row = package(session, package_id)
    if not access.is_package_party(session, caller, row):
        raise Forbidden(
            i18n.gettext("you are not a party to bill %(package_id)s", package_id=package_id),
            code="not_a_party",
        )
    ranges = session.execute(
        select(BillRange)
        .where(col(BillRange.package_id) == package_id)
        .where(col(BillRange.status).in_(LIVE))
        .order_by(col(BillRange.start))
    ).scalars()
    range_ids = select(BillRange.range_id).where(col(BillRange.package_id) == package_id)  # type: ignore[call-overload]
    quotes = session.execute(
        select(BillQuote).where(col(BillQuote.range_id).in_(range_ids)).order_by(col(BillQuote.quote_id))
    ).scalars()
    history = session.execute(
        select(BillMovement)
        .where(col(BillMovement.package_id) == package_id)
        .order_by(col(BillMovement.block_number), col(BillMovement.log_index))
    ).scalars()
    return BillDetail(
        package=package_public(row),
        ranges=[range_public(r) for r in ranges],
        quotes=[quote_public(q) for q in quotes],
        history=[BillMovementPublic.model_validate(m, from_attributes=True) for m in history],
    )


def chain(*, session: Session, caller: Caller, range_id: int) -> EndorsementChain:
    """A range and every record it came from, nearest first: the endorsers liable in recourse."""
    row = bill_range(session, range_id)
    pkg = package(session, row.package_id)
    access.check_range_chain(session, caller, row, pkg)
    # One recursive query along `prev`, nearest first (lineage.py), not a lookup per hop.
    links = [
        ChainLink(
            range_id=r["range_id"],
            holder=r["holder"],
            start=int(r["start"]),
            end=int(r["end"]),
            status=r["status"],
            origin=r["origin"],
        )  # fmt: skip
        for r in lineage.endorsement_chain(session, range_id)
    ]
    return EndorsementChain(
        range=range_public(row), chain=links, endorsers=[link.holder for link in links[1:]]
    )


def holdings(
    *, session: Session, address: str, status: str | None = None, package_id: int | None = None,
    limit: int, offset: int, after: int | None = None,
) -> Page[BillRangePublic]:  # fmt: skip
    query = select(BillRange).where(col(BillRange.holder) == address).where(col(BillRange.status) != "Closed")
    if status is not None:
        query = query.where(col(BillRange.status) == status)
    if package_id is not None:
        query = query.where(col(BillRange.package_id) == package_id)
    return keyset_page(
        session, query, col(BillRange.range_id), range_public, limit=limit, offset=offset, after=after
    )


def awaiting(*, session: Session, address: str) -> tuple[list[BillRangePublic], list[BillRangePublic]]:
    """Ranges waiting on `address`: presented to it as acceptor (pay, dishonour), pledged to it (release)."""
    presented = session.execute(
        select(BillRange)
        .join(BillPackage, col(BillPackage.package_id) == col(BillRange.package_id))
        .where(col(BillPackage.acceptor) == address)
        .where(col(BillRange.status) == "Presented")
        .order_by(col(BillRange.range_id))
    ).scalars()
    pledged = session.execute(
        select(BillRange)
        .where(col(BillRange.pledgee) == address)
        .where(col(BillRange.status) == "Pledged")
        .order_by(col(BillRange.range_id))
    ).scalars()
    return [range_public(r) for r in presented], [range_public(r) for r in pledged]


def recourse_obligors(chain: EndorsementChain, drawer: str, acceptor: str) -> list[str]:
    """Whom the holder of a dishonoured range may claim recourse against, nearest first (as Bills checks).

    The prior endorsers of its chain and the drawer; a holder that also appears earlier in its own
    chain stands in its earliest place, so only those before that place are liable to it. The drawer
    or the acceptor holding the bill has no recourse against anyone.
    """
    holder = chain.range.holder
    if holder in (drawer, acceptor):
        return []
    prior = list(chain.endorsers)
    if holder in prior:
        prior = prior[len(prior) - prior[::-1].index(holder) :]
    out: list[str] = []
    for address in [*prior, drawer]:
        if address != holder and address not in out:
            out.append(address)
    return out


def recourse_choices(
    *, session: Session, caller: Caller, held: list[BillRangePublic]
) -> dict[int, list[str]]:
    """For each dishonoured range of `held`, the parties its holder may claim recourse against."""
    choices: dict[int, list[str]] = {}
    for r in held:
        if r.status != "Dishonoured":
            continue
        pkg = package(session, r.package_id)
        found = chain(session=session, caller=caller, range_id=r.range_id)
        choices[r.range_id] = recourse_obligors(found, pkg.drawer, pkg.acceptor)
    return choices


def claims_against(*, session: Session, address: str) -> list[BillRangePublic]:
    """Dishonoured ranges whose holder claimed recourse against `address`: it pays and takes them."""
    rows = session.execute(
        select(BillRange)
        .where(col(BillRange.recourse_obligor) == address)
        .where(col(BillRange.status) == "Dishonoured")
        .order_by(col(BillRange.range_id))
    ).scalars()
    return [range_public(r) for r in rows]
