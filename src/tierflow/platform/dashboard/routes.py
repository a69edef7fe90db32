"""Dashboard pages and their forms: one router, mounted into the API application by `mount_dashboard`."""

from __future__ import annotations

import base64
import csv
import datetime as dt
import io
import logging
import threading
from collections import OrderedDict
from collections.abc import Callable, Coroutine, Iterator
from typing import Any
from urllib.parse import quote as urlquote

from eth_utils.address import to_checksum_address
from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse, Response, StreamingResponse
from fastapi.routing import APIRoute
from sqlalchemy.engine import Engine
from sqlalchemy.exc import SQLAlchemyError
from sqlmodel import Session, col, select
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile

from tierflow.chain.vocabulary import ROLE_BITS, Role
from tierflow.errors import ChainUnavailableError
from tierflow.platform.dashboard import actions, charts, queries
from tierflow.platform.dashboard import format as fmt
from tierflow.platform.dashboard.rendering import STATIC, render
from tierflow.platform.dashboard.session import (
    COOKIE_NAME,
    SESSION_SECONDS,
    SignInError,
    Viewer,
    encode_cookie,
    sign_in,
    viewer_from_cookie,
)
from tierflow.platform.models.credit import CreditLine
from tierflow.platform.models.financing import FinancingRequest
from tierflow.platform.models.receivables import Certificate, CertificateTransfer, Payable, Payout, Repayment
from tierflow.platform.models.registry import Participant
from tierflow.platform.models.service import ApiKey, DirectoryParticipant
from tierflow.platform.security.crypto import api_key_matches
from tierflow.platform.services.schemas.certificates import AcceptQuote
from tierflow.settings import REPO_ROOT, get_settings

log = logging.getLogger("tierflow.dashboard")


class PageRoute(APIRoute):
    """Pages answer in HTML even when something below them fails: a calm page that says what to do,
    never the API's JSON error or a stack trace."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def page_handler(request: Request) -> Response:
            try:
                return await handler(request)
            except (SQLAlchemyError, ChainUnavailableError) as error:
                log.warning("dashboard page unavailable: %s", error)
                message = "The platform's database or chain does not answer right now. Retry in a minute."
                status = 503
            except Exception:  # the last resort of a page; the log has the details
                log.exception("dashboard page failed")
                message = (
                    "Something went wrong on our side. Retry; if it persists, tell the operator the time."
                )
                status = 500
            html = render(
                "empty.html",
                request=request,
                viewer=None,
                paused=False,
                flash=None,
                title="Unavailable",
                message=message,
            )
            return HTMLResponse(html, status_code=status)

        return page_handler


router = APIRouter(prefix="/dashboard", include_in_schema=False, route_class=PageRoute)
FLASH_COOKIE = "tierflow_flash"
# Every script and style comes from this application; inline styles only for bar widths (style="--v").
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
    "object-src 'none'; base-uri 'self'; form-action 'self'; frame-ancestors 'none'"
)
ROLE_NAMES = {Role(bit): name for name, bit in ROLE_BITS.items()}
POLL_SECONDS = 4

# htmx comes from npm (package.json) and is served from node_modules: nothing is copied or committed.
HTMX_FILE = REPO_ROOT / "node_modules" / "htmx.org" / "dist" / "htmx.min.js"


# -- plumbing --------------------------------------------------------------------------------


def _engine(request: Request) -> Engine:
    engine: Engine = request.app.state.dashboard_engine()
    return engine


def _master_key(request: Request) -> str:
    return str(request.app.state.dashboard_master_key)


def _viewer(request: Request) -> Viewer | None:
    # Resolved once per request: pages call this several times, the key check is a database read.
    cached: tuple[Viewer | None] | None = getattr(request.state, "dashboard_viewer", None)
    if cached is not None:
        return cached[0]
    viewer = viewer_from_cookie(_engine(request), request.cookies.get(COOKIE_NAME), _master_key(request))
    request.state.dashboard_viewer = (viewer,)
    return viewer


def _now(request: Request) -> int:
    with Session(_engine(request)) as db:
        return queries.clock(db)


def _page(request: Request, template: str, *, status_code: int = 200, **context: Any) -> HTMLResponse:
    flash = request.cookies.get(FLASH_COOKIE)
    kind, _, message = _decode_flash(flash or "").partition(":")
    viewer = _viewer(request)
    paused = False
    if viewer is not None:
        with Session(_engine(request)) as db:
            state = queries.platform_state(db)
            paused = bool(state and state.paused)
    response = HTMLResponse(
        render(
            template,
            request=request,
            viewer=viewer,
            paused=paused,
            flash={"kind": kind, "message": message} if message else None,
            poll_seconds=POLL_SECONDS,
            **context,
        ),
        status_code=status_code,
    )
    if flash:
        response.delete_cookie(FLASH_COOKIE, path="/dashboard")
    response.headers["Content-Security-Policy"] = CSP
    response.headers["Referrer-Policy"] = "same-origin"
    return response


def _decode_flash(value: str) -> str:
    try:
        return base64.urlsafe_b64decode(value + "=" * (-len(value) % 4)).decode()
    except ValueError:
        return ""


def _redirect(url: str, *, message: str | None = None, kind: str = "ok") -> RedirectResponse:
    response = RedirectResponse(url, status_code=303)
    if message:
        # Cookies carry latin-1 only; messages quote names and amounts in any script.
        value = base64.urlsafe_b64encode(f"{kind}:{message[:1000]}".encode()).decode().rstrip("=")
        response.set_cookie(FLASH_COOKIE, value, path="/dashboard", httponly=True, samesite="strict")
    return response


def _sign_in_redirect(request: Request) -> Response:
    # Come back to the page after signing in; a form post is not replayed (its page is the Referer).
    back = request.url.path if request.method == "GET" else ""
    target = f"/dashboard/sign-in?next={urlquote(back)}" if back else "/dashboard/sign-in"
    if request.headers.get("HX-Request"):
        # A panel refreshing in the background after the session ended: move the whole page to the
        # sign-in form instead of drawing it inside the panel.
        return Response(status_code=200, headers={"HX-Redirect": target})
    return RedirectResponse(target, status_code=303)


def _checksum(address: str) -> str:
    """The EIP-55 form the read models store, so /bank/0xabc… and /bank/0xABC… are the same page."""
    try:
        return str(to_checksum_address(address))
    except ValueError:
        return address


def _denied(request: Request, viewer: Viewer, what: str) -> HTMLResponse:
    return _page(request, "denied.html", status_code=403, what=what, home=viewer.home())


def _owner_access(viewer: Viewer, address: str, role: Role) -> tuple[bool, bool]:
    """(may see, read only) for a page that belongs to `address` in `role`."""
    if viewer.address.lower() == address.lower() and viewer.has(role):
        return True, False
    if viewer.sees_everything:
        return True, True
    return False, True


def _form_yuan(form: Any, name: str, label: str) -> int:
    try:
        return fmt.parse_yuan(str(form.get(name, "")))
    except ValueError as error:
        raise actions.ActionError(f"{label}: {error}.") from error


def _form_int(form: Any, name: str, label: str) -> int:
    raw = str(form.get(name, "")).strip()
    if not raw.isdigit():
        raise actions.ActionError(f"{label}: choose one from the list (got “{raw or 'nothing'}”).")
    return int(raw)


def _context(request: Request) -> Any:
    """The API's service context when the API runs in this process, else None (reads still work)."""
    return getattr(request.app.state, "context", None)


async def _act(
    request: Request,
    viewer: Viewer,
    back: str,
    done: str | Callable[[Any], str],
    action: Callable[..., Any],
    **params: Any,
) -> RedirectResponse:
    """Run `action` as `viewer`, then back to the page saying what happened (or what to do about it).

    The action sends a transaction and waits for the indexer (seconds at worst): it runs in the
    thread pool so that the event loop keeps serving every other page and API call meanwhile.
    """
    try:
        result = await run_in_threadpool(action, _context(request), viewer, **params)
    except actions.ActionError as error:
        return _redirect(back, message=str(error), kind="error")
    return _redirect(back, message=done(result) if callable(done) else done)


# -- sign-in, home, live updates -------------------------------------------------------------


@router.get("", response_class=HTMLResponse)
def home(request: Request) -> Response:
    viewer = _viewer(request)
    if viewer is None:
        return _sign_in_redirect(request)
    return RedirectResponse(viewer.home(), status_code=303)


def _demo_keys(request: Request) -> list[tuple[str, str]]:
    """(name, key) of the seeded demo participants, in development only: their keys are public anyway."""
    if not request.app.state.dashboard_demo:
        return []
    from tierflow.platform.services.seed import DEMO_NAMES, demo_api_key

    found = []
    with Session(_engine(request)) as db:
        for name, label in DEMO_NAMES.items():
            key = db.get(ApiKey, name)
            token = demo_api_key(name)
            if (
                key is not None
                and key.revoked_at is None
                and api_key_matches(token.split("_", 2)[2], key.key_hash)
            ):
                found.append((f"{label} ({name})", token))
    return found


@router.get("/sign-in", response_class=HTMLResponse)
def sign_in_page(request: Request, next: str = "") -> Response:
    target = next if next.startswith("/dashboard") else ""
    return _page(request, "sign_in.html", next=target, error=None, demo=_demo_keys(request))


@router.post("/sign-in", response_class=HTMLResponse)
async def sign_in_submit(request: Request) -> Response:
    form = await request.form()
    token = str(form.get("api_key", ""))
    target = str(form.get("next", ""))
    with Session(_engine(request)) as db:
        try:
            viewer = sign_in(db, token)
        except SignInError as error:
            return _page(
                request,
                "sign_in.html",
                status_code=401,
                next=target,
                error=str(error),
                demo=_demo_keys(request),
            )
    response = RedirectResponse(
        target if target.startswith("/dashboard/") else viewer.home(), status_code=303
    )
    _set_session(request, response, viewer)
    return response


def _set_session(request: Request, response: Response, viewer: Viewer) -> None:
    response.set_cookie(
        COOKIE_NAME,
        encode_cookie(viewer, _master_key(request)),
        max_age=SESSION_SECONDS,
        path="/",
        httponly=True,
        # Strict: a form on another site cannot post with this session (no CSRF token needed).
        samesite="strict",
        secure=request.url.scheme == "https",
    )


@router.post("/sign-out")
def sign_out() -> Response:
    response = RedirectResponse("/dashboard/sign-in", status_code=303)
    response.delete_cookie(COOKIE_NAME, path="/")
    return response


@router.get("/changes")
def changes(request: Request, since: int = 0) -> Response:
    """Polled by every page: 204 while nothing changed, else a fresh poller and a `chain-changed` event."""
    with Session(_engine(request)) as db:
        block = queries.indexed_block(db)
    if block == since:
        return Response(status_code=204)
    html = render("_poller.html", block=block, poll_seconds=POLL_SECONDS)
    return HTMLResponse(html, headers={"HX-Trigger": "chain-changed"})


@router.get("/static/{name}")
def static(name: str) -> Response:
    if name == "htmx.min.js":
        if HTMX_FILE.exists():
            return FileResponse(
                HTMX_FILE, media_type="text/javascript", headers={"Cache-Control": "max-age=86400"}
            )
        # Pages work without it (plain forms and links); only live updates stop. `make setup` installs it.
        log.warning("htmx missing at %s: run `npm ci` (make setup) for live updates", HTMX_FILE)
        return Response("/* htmx not installed: run `make setup` */", media_type="text/javascript")
    path = (STATIC / name).resolve()
    if path.parent != STATIC or not path.is_file():
        return Response(status_code=404)
    return FileResponse(path, headers={"Cache-Control": "max-age=300"})


# -- bank ------------------------------------------------------------------------------------


def _bank_queue_context(db: Session, viewer: Viewer, address: str, page: int) -> dict[str, Any]:
    rate = viewer.standing_rate_bps
    return {
        "queue": queries.bank_queue(db, address, rate_bps=rate, now=queries.clock(db), page=page),
        "rate_bps": rate,
    }


# The portfolio aggregates every position of a bank (100,000 rows is a second on SQLite here), yet it
# only changes when the indexer commits a block, or when time moves a position into "overdue". Keep
# the last few results keyed by (database, bank, indexed block, 5-minute slot).
_BOOK_CACHE: OrderedDict[tuple[int, str, int, int], queries.Portfolio] = OrderedDict()
_BOOK_CACHE_SIZE = 32
_BOOK_LOCK = threading.Lock()
_BOOK_SLOT_SECONDS = 300


def _book_key(db: Session, address: str) -> tuple[int, str, int, int]:
    return (
        id(db.get_bind()),
        address.lower(),
        queries.indexed_block(db),
        queries.clock(db) // _BOOK_SLOT_SECONDS,
    )


def _cached_book(db: Session, address: str) -> queries.Portfolio | None:
    with _BOOK_LOCK:
        return _BOOK_CACHE.get(_book_key(db, address))


def _bank_book_context(db: Session, address: str, ladder: str) -> dict[str, Any]:
    key = _book_key(db, address)
    with _BOOK_LOCK:
        book = _BOOK_CACHE.get(key)
    if book is None:
        book = queries.portfolio(db, address, now=queries.clock(db))
        with _BOOK_LOCK:
            _BOOK_CACHE[key] = book
            while len(_BOOK_CACHE) > _BOOK_CACHE_SIZE:
                _BOOK_CACHE.popitem(last=False)
    buckets = book.monthly if ladder == "month" else book.weekly
    return {
        "book": book,
        "exposure": queries.exposure(db, address, book),
        "ladder_chart": charts.ladder(buckets, title=f"Expected cash-in by {ladder}"),
        "ladder_buckets": buckets,
    }


@router.get("/bank/{address}", response_class=HTMLResponse)
def bank_page(
    request: Request, address: str, page: int = 1, ladder: str = "week", panel: str = "", book: str = ""
) -> Response:
    address = _checksum(address)
    viewer = _viewer(request)
    if viewer is None:
        return _sign_in_redirect(request)
    allowed, read_only = _owner_access(viewer, address, Role.FINANCIER)
    if not allowed:
        return _denied(request, viewer, "this bank's financing dashboard")
    ladder = "month" if ladder == "month" else "week"
    with Session(_engine(request)) as db:
        names = queries.directory(db)
        base: dict[str, Any] = {"names": names, "owner": address, "read_only": read_only, "ladder": ladder}
        if panel == "queue":
            return _page(
                request, "bank/_queue.html", **base, **_bank_queue_context(db, viewer, address, page)
            )
        if panel == "book" or book == "inline":
            book_context = _bank_book_context(db, address, ladder)
            if panel == "book":
                return _page(request, "bank/_book.html", **base, **book_context)
        elif _cached_book(db, address) is not None:
            book_context = _bank_book_context(db, address, ladder)
        else:
            # Not computed for this block yet: the page shows at once and the book follows (htmx,
            # or a link without JavaScript) instead of holding the whole page back.
            book_context = {"book": None}
        return _page(
            request,
            "bank/page.html",
            **base,
            block=queries.indexed_block(db),
            balance=queries.settlement_balance(db, address),
            **_bank_queue_context(db, viewer, address, page),
            **book_context,
        )


@router.post("/bank/{address}/rate")
async def bank_rate(request: Request, address: str) -> Response:
    viewer = _viewer(request)
    if viewer is None:
        return _sign_in_redirect(request)
    back = f"/dashboard/bank/{address}"
    form = await request.form()
    try:
        rate = fmt.parse_percent(str(form.get("rate", "")))
    except ValueError as error:
        return _redirect(back, message=str(error), kind="error")
    if not 0 < rate <= 10_000:
        return _redirect(back, message="A standing rate is between 0.01% and 100.00%.", kind="error")
    response = _redirect(
        back, message=f"Standing rate set to {fmt.percent_bps(rate)}; suggested prices updated."
    )
    _set_session(request, response, viewer.with_rate(rate))
    return response


def _bank_request(
    request: Request, address: str, request_id: int
) -> tuple[Viewer | None, Response | None, Any]:
    """The financier and one of its requests, or the response to send instead (sign-in, denied, missing)."""
    viewer = _viewer(request)
    if viewer is None:
        return None, _sign_in_redirect(request), None
    allowed, read_only = _owner_access(viewer, address, Role.FINANCIER)
    if not allowed or read_only:
        return viewer, _denied(request, viewer, "actions on this bank's requests"), None
    with Session(_engine(request)) as db:
        try:
            found = queries.open_request(db, request_id)
        except LookupError:
            return (
                viewer,
                _redirect(
                    f"/dashboard/bank/{address}", message="That request no longer exists.", kind="error"
                ),
                None,
            )
        if found[0].financier.lower() != address.lower():
            return viewer, _denied(request, viewer, "a request addressed to another bank"), None
        return viewer, None, (found, queries.directory(db))


@router.get("/bank/{address}/requests/{request_id}/quote", response_class=HTMLResponse)
def quote_confirm(
    request: Request, address: str, request_id: int, rate: str = "", valid_hours: int = 24
) -> Response:
    viewer, stop, found = _bank_request(request, address, request_id)
    if stop is not None or viewer is None:
        return stop or _sign_in_redirect(request)
    (fin_request, token, payable), names = found
    back = f"/dashboard/bank/{address}"
    try:
        rate_bps = fmt.parse_percent(rate) if rate else viewer.standing_rate_bps
    except ValueError as error:
        return _redirect(back, message=str(error), kind="error")
    if payable is None:
        return _redirect(
            back,
            message="The certificate of this request is not indexed yet; retry in a moment.",
            kind="error",
        )
    now = _now(request)
    days = fmt.days_to(payable.maturity, now)
    discount = fmt.discount(fin_request.amount, rate_bps, days)
    return _page(
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
        # a quote is an offer for now: the registry caps its validity (24 h by default)
        valid_hours=max(1, min(valid_hours, 24)),
        expiry=now + max(1, min(valid_hours, 24)) * 3600,
    )


@router.post("/bank/{address}/requests/{request_id}/quote")
async def quote_submit(request: Request, address: str, request_id: int) -> Response:
    viewer, stop, _ = _bank_request(request, address, request_id)
    if stop is not None or viewer is None:
        return stop or _sign_in_redirect(request)
    form = await request.form()
    back = f"/dashboard/bank/{address}"
    try:
        rate_bps = _form_int(form, "rate_bps", "Rate")
        valid_hours = _form_int(form, "valid_hours", "Quote validity")
    except actions.ActionError as error:
        return _redirect(back, message=str(error), kind="error")
    return await _act(
        request,
        viewer,
        back,
        f"Quoted request {request_id} at {fmt.percent_bps(rate_bps)}; waiting for the supplier to accept.",
        actions.quote,
        request_id=request_id,
        rate_bps=rate_bps,
        valid_hours=valid_hours,
    )


@router.get("/bank/{address}/requests/{request_id}/fund", response_class=HTMLResponse)
def fund_confirm(request: Request, address: str, request_id: int) -> Response:
    viewer, stop, found = _bank_request(request, address, request_id)
    if stop is not None or viewer is None:
        return stop or _sign_in_redirect(request)
    (fin_request, token, payable), names = found
    if fin_request.status != "Accepted" or fin_request.price is None:
        return _redirect(
            f"/dashboard/bank/{address}",
            message=f"Request {request_id} is {fin_request.status}: fund it after the supplier accepts.",
            kind="error",
        )
    return _page(
        request,
        "bank/confirm_fund.html",
        names=names,
        owner=address,
        req=fin_request,
        token=token,
        payable=payable,
    )


@router.post("/bank/{address}/requests/{request_id}/{verb}")
async def bank_request_action(request: Request, address: str, request_id: int, verb: str) -> Response:
    viewer, stop, _ = _bank_request(request, address, request_id)
    if stop is not None or viewer is None:
        return stop or _sign_in_redirect(request)
    back = f"/dashboard/bank/{address}"
    done = {
        "fund": f"Funded request {request_id}: the price was paid and the certificate is in your portfolio.",
        "decline": f"Declined request {request_id}; the supplier's certificate is unlocked.",
        "recourse": f"Recourse exercised on request {request_id}: the certificate went back to the seller, "
        "whose debt is collected from its balance now and from whatever it is paid later.",
    }
    if verb not in done:
        return Response(status_code=404)
    return await _act(
        request, viewer, back, done[verb], actions.bank_request, verb=verb, request_id=request_id
    )


# -- supplier --------------------------------------------------------------------------------


@router.get("/supplier/{address}", response_class=HTMLResponse)
def supplier_page(request: Request, address: str, panel: str = "") -> Response:
    address = _checksum(address)
    viewer = _viewer(request)
    if viewer is None:
        return _sign_in_redirect(request)
    allowed, read_only = _owner_access(viewer, address, Role.SUPPLIER)
    if not allowed:
        return _denied(request, viewer, "another supplier's certificates")
    with Session(_engine(request)) as db:
        names = queries.directory(db)
        view = queries.supplier_view(db, address)
        context: dict[str, Any] = {
            "names": names,
            "owner": address,
            "read_only": read_only,
            "view": view,
            "now": _now(request),
            "recipients": [r for r in names.with_role(Role.SUPPLIER | Role.FINANCIER) if r[0] != address],
            "banks": names.with_role(Role.FINANCIER),
            "block": queries.indexed_block(db),
        }
    if panel == "tables":
        return _page(request, "supplier/_tables.html", **context)
    return _page(request, "supplier/page.html", **context)


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


@router.post("/supplier/{address}/{verb}")
async def supplier_action(request: Request, address: str, verb: str) -> Response:
    viewer = _viewer(request)
    if viewer is None:
        return _sign_in_redirect(request)
    allowed, read_only = _owner_access(viewer, address, Role.SUPPLIER)
    if not allowed or read_only:
        return _denied(request, viewer, "another supplier's certificates")
    if verb not in SUPPLIER_VERBS:
        return Response(status_code=404)
    back = f"/dashboard/supplier/{address}"
    form = await request.form()
    try:
        if verb in ("accept", "reject"):
            slot_id = _form_int(form, "slot_id", "Payable")
            outcome = "accepted: the certificate is in your holdings" if verb == "accept" else "rejected"
            done = f"Payable P{slot_id} {outcome}."
            return await _act(
                request, viewer, back, done, actions.respond, slot_id=slot_id, accept=verb == "accept"
            )
        if verb == "split_transfer":
            token_id = _form_int(form, "token_id", "Certificate")
            to = str(form.get("to", ""))
            if not to.startswith("0x"):
                raise actions.ActionError("Recipient: choose who receives the value.")
            value = _form_yuan(form, "amount", "Amount")
            done = f"Sent ¥{fmt.yuan(value)} of T{token_id} to {queries_name(request, to)}."
            return await _act(
                request, viewer, back, done, actions.split_transfer, token_id=token_id, to=to, value=value
            )
        if verb == "request_financing":
            token_id = _form_int(form, "token_id", "Certificate")
            financier = str(form.get("financier", ""))
            if not financier.startswith("0x"):
                raise actions.ActionError("Bank: choose the bank to ask.")
            amount = _form_yuan(form, "amount", "Amount to finance")
            recourse = form.get("with_recourse") == "on"
            done = f"Asked {queries_name(request, financier)} to finance ¥{fmt.yuan(amount)} of T{token_id}."
            return await _act(
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
        request_id = _form_int(form, "token_id" if verb == "claim" else "request_id", "Request")
        if verb == "accept_quote":
            terms = AcceptQuote(
                rate_bps=_form_int(form, "rate_bps", "Rate"),
                price=_form_int(form, "price", "Price"),
                expiry=_form_int(form, "expiry", "Expiry"),
            )
            done = f"Quote on request {request_id} accepted; the bank can now fund it."
            return await _act(
                request, viewer, back, done, actions.accept_quote, request_id=request_id, terms=terms
            )
        if verb == "lapse":
            done = f"Request {request_id} lapsed: the quote expired unfunded; the certificate is unlocked."
            return await _act(
                request, viewer, back, done, actions.seller_request, verb=verb, request_id=request_id
            )
        if verb == "cancel_request":
            done = f"Request {request_id} cancelled; the certificate is unlocked."
            return await _act(
                request, viewer, back, done, actions.seller_request, verb=verb, request_id=request_id
            )
        return await _act(
            request,
            viewer,
            back,
            f"Claimed T{request_id}: the payout is in your account.",
            actions.claim,
            token_id=request_id,
        )
    except (actions.ActionError, ValueError) as error:
        return _redirect(back, message=str(error), kind="error")


def queries_name(request: Request, address: str) -> str:
    with Session(_engine(request)) as db:
        return queries.directory(db).name(address)


# -- core enterprise -------------------------------------------------------------------------


@router.get("/core/{address}", response_class=HTMLResponse)
def core_page(request: Request, address: str, panel: str = "") -> Response:
    address = _checksum(address)
    viewer = _viewer(request)
    if viewer is None:
        return _sign_in_redirect(request)
    allowed, read_only = _owner_access(viewer, address, Role.CORE_ENTERPRISE)
    if not allowed:
        return _denied(request, viewer, "another core enterprise's payables")
    now = _now(request)
    with Session(_engine(request)) as db:
        names = queries.directory(db)
        context: dict[str, Any] = {
            "names": names,
            "owner": address,
            "read_only": read_only,
            "view": queries.core_view(db, address, now=now),
            "now": now,
            "suppliers": names.with_role(Role.SUPPLIER),
            "block": queries.indexed_block(db),
            "default_maturity": fmt.iso_date(now + 90 * 86_400),
            "balance": queries.settlement_balance(db, address),
        }
    if panel == "tables":
        return _page(request, "core/_tables.html", **context)
    return _page(request, "core/page.html", **context)


@router.post("/core/{address}/{verb}")
async def core_action(request: Request, address: str, verb: str) -> Response:
    viewer = _viewer(request)
    if viewer is None:
        return _sign_in_redirect(request)
    allowed, read_only = _owner_access(viewer, address, Role.CORE_ENTERPRISE)
    if not allowed or read_only:
        return _denied(request, viewer, "another core enterprise's payables")
    back = f"/dashboard/core/{address}"
    form = await request.form()
    try:
        if verb == "issue":
            supplier = str(form.get("supplier", ""))
            if not supplier.startswith("0x"):
                raise actions.ActionError("Supplier: choose who receives the certificate.")
            face = _form_yuan(form, "face", "Face")
            try:
                maturity = fmt.parse_date(str(form.get("maturity", "")))
            except ValueError as error:
                raise actions.ActionError(f"Maturity: {error}.") from error
            line_id = _form_int(form, "line_id", "Credit line")
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
            who = queries_name(request, supplier)
            done = f"Issued ¥{fmt.yuan(face)} to {who}, due {fmt.iso_date(maturity)}."
            return await _act(
                request, viewer, back, done, actions.issue,
                supplier=supplier, face=face, maturity=dt.datetime.fromtimestamp(maturity, tz=dt.UTC).date(),
                line_id=line_id, invoices=list(zip(uploads, numbers, strict=True)),
            )  # fmt: skip
        slot_id = _form_int(form, "slot_id", "Payable")
        if verb == "repay":
            amount = _form_yuan(form, "amount", "Amount to repay")
            done = f"Repaid ¥{fmt.yuan(amount)} on P{slot_id}."
            return await _act(request, viewer, back, done, actions.repay, slot_id=slot_id, amount=amount)
        if verb == "cancel":
            return await _act(
                request,
                viewer,
                back,
                f"Payable P{slot_id} cancelled.",
                actions.cancel_payable,
                slot_id=slot_id,
            )
    except (actions.ActionError, ValueError) as error:
        return _redirect(back, message=str(error), kind="error")
    return Response(status_code=404)


# -- lineage ---------------------------------------------------------------------------------


@router.get("/lineage/{slot_id}", response_class=HTMLResponse)
def lineage_page(request: Request, slot_id: int) -> Response:
    viewer = _viewer(request)
    if viewer is None:
        return _sign_in_redirect(request)
    with Session(_engine(request)) as db:
        tree = queries.lineage(db, slot_id)
        names = queries.directory(db)
    if tree is None:
        return _page(
            request,
            "empty.html",
            status_code=404,
            title=f"Payable P{slot_id}",
            message=f"There is no payable P{slot_id}. Check the number, or search for it in the audit view.",
        )
    if not viewer.sees_everything and viewer.address not in tree.parties:
        return _denied(request, viewer, f"the lineage of payable P{slot_id}")
    if (
        viewer.is_supplier
        and not viewer.sees_everything
        and viewer.address != tree.payable.obligor
        and not viewer.is_financier
    ):
        queries.restrict_lineage(tree, viewer.address)
    return _page(request, "lineage.html", names=names, tree=tree, now=_now(request))


# -- documents -------------------------------------------------------------------------------


@router.get("/documents/{document_id}")
def document(request: Request, document_id: str) -> Response:
    """A backing document, decrypted for a party to its certificate (the service decides who may)."""
    viewer = _viewer(request)
    if viewer is None:
        return _sign_in_redirect(request)
    try:
        row, content = actions.read_document(_context(request), viewer, document_id=document_id)
    except actions.ActionError as error:
        return _page(request, "empty.html", status_code=403, title="Document", message=str(error))
    safe_name = "".join(c for c in row.filename if c.isalnum() or c in "._- ") or "document"
    return Response(
        content,
        media_type=row.content_type,
        # Uploaded bytes are never rendered in our origin: always a download, never sniffed.
        headers={
            "Content-Disposition": f'attachment; filename="{safe_name}"',
            "X-Content-Type-Options": "nosniff",
        },
    )


# -- auditor ---------------------------------------------------------------------------------


@router.get("/audit", response_class=HTMLResponse)
def audit_page(request: Request, q: str = "") -> Response:
    viewer = _viewer(request)
    if viewer is None:
        return _sign_in_redirect(request)
    if not viewer.sees_everything:
        return _denied(request, viewer, "the auditor's view")
    with Session(_engine(request)) as db:
        names = queries.directory(db)
        results = queries.search(db, q, names) if q else []
        counts = queries.overview_counts(db)
        latest = db.exec(select(Payable).order_by(col(Payable.slot_id).desc()).limit(25)).all()
        block = queries.indexed_block(db)
    return _page(
        request,
        "audit/page.html",
        names=names,
        q=q,
        results=results,
        counts=counts,
        latest=latest,
        block=block,
    )


@router.get("/audit/participant/{address}", response_class=HTMLResponse)
def audit_participant(request: Request, address: str) -> Response:
    address = _checksum(address)
    viewer = _viewer(request)
    if viewer is None:
        return _sign_in_redirect(request)
    if not viewer.sees_everything:
        return _denied(request, viewer, "the auditor's view")
    with Session(_engine(request)) as db:
        names = queries.directory(db)
        roles = names.roles.get(address, 0)
        view = queries.supplier_view(db, address, limit=200)
        lines = db.exec(
            select(CreditLine).where(
                (col(CreditLine.obligor) == address) | (col(CreditLine.financier) == address)
            )
        ).all()
    pages = [
        (label, f"/dashboard/{kind}/{address}")
        for role, kind, label in (
            (Role.FINANCIER, "bank", "Financing dashboard"),
            (Role.SUPPLIER, "supplier", "Supplier page"),
            (Role.CORE_ENTERPRISE, "core", "Core enterprise page"),
        )
        if roles & role
    ]
    return _page(
        request,
        "audit/participant.html",
        names=names,
        address=address,
        view=view,
        lines=lines,
        pages=pages,
        roles=roles,
    )


EXPORTS: dict[str, tuple[type[Any], list[str]]] = {
    "payables": (
        Payable,
        ["slot_id", "obligor", "supplier", "line_id", "face", "maturity", "status", "paid_in", "paid_out"],
    ),
    "certificates": (
        Certificate,
        ["token_id", "slot_id", "holder", "value", "status", "parent_id", "root_id", "depth"],
    ),
    "financing_requests": (
        FinancingRequest,
        [
            "request_id",
            "token_id",
            "seller",
            "financier",
            "amount",
            "with_recourse",
            "status",
            "rate_bps",
            "discount",
            "price",
        ],
    ),
    "transfers": (
        CertificateTransfer,
        [
            "block_number",
            "log_index",
            "tx_hash",
            "kind",
            "slot_id",
            "token_id",
            "new_token_id",
            "from_address",
            "to_address",
            "value",
        ],
    ),
    "repayments": (
        Repayment,
        ["block_number", "log_index", "tx_hash", "slot_id", "obligor", "amount", "paid_in"],
    ),
    "payouts": (Payout, ["block_number", "log_index", "tx_hash", "token_id", "slot_id", "holder", "amount"]),
    "participants": (Participant, ["address", "roles", "status", "block_number"]),
    "credit_lines": (CreditLine, ["line_id", "financier", "obligor", "limit", "used", "available", "expiry"]),
}
FEN_COLUMNS = {
    "face",
    "paid_in",
    "paid_out",
    "value",
    "amount",
    "discount",
    "price",
    "limit",
    "used",
    "available",
}


@router.get("/audit/export/{name}.csv")
def audit_export(request: Request, name: str) -> Response:
    viewer = _viewer(request)
    if viewer is None:
        return _sign_in_redirect(request)
    if not viewer.sees_everything:
        return _denied(request, viewer, "CSV exports")
    if name not in EXPORTS:
        return Response(f"unknown export {name}; choose one of {', '.join(EXPORTS)}", status_code=404)
    model, columns = EXPORTS[name]
    engine = _engine(request)

    def rows() -> Iterator[str]:
        buffer = io.StringIO()
        writer = csv.writer(buffer)
        # Amounts as exact integer fen (…_fen) and as yuan text: spreadsheets never see a float.
        header = []
        for column in columns:
            header.extend([f"{column}_fen", f"{column}_yuan"] if column in FEN_COLUMNS else [column])
        writer.writerow(header)
        with Session(engine) as db:
            for row in db.exec(select(model).execution_options(yield_per=2000)):
                values: list[Any] = []
                for column in columns:
                    value = getattr(row, column)
                    values.extend(
                        [value, fmt.yuan(value)]
                        if column in FEN_COLUMNS and value is not None
                        else [value]
                        if column not in FEN_COLUMNS
                        else ["", ""]
                    )
                writer.writerow(values)
                if buffer.tell() > 65536:
                    yield buffer.getvalue()
                    buffer.seek(0)
                    buffer.truncate()
        yield buffer.getvalue()

    return StreamingResponse(
        rows(),
        media_type="text/csv",
        headers={"Content-Disposition": f'attachment; filename="tierflow-{name}.csv"'},
    )


# -- operator --------------------------------------------------------------------------------


@router.get("/operator", response_class=HTMLResponse)
def operator_page(request: Request) -> Response:
    viewer = _viewer(request)
    if viewer is None:
        return _sign_in_redirect(request)
    if not viewer.sees_everything:
        return _denied(request, viewer, "the operator's console")
    with Session(_engine(request)) as db:
        names = queries.directory(db)
        people = db.exec(select(DirectoryParticipant).order_by(col(DirectoryParticipant.created_at))).all()
        onchain = {p.address: p for p in db.exec(select(Participant))}
        state = queries.platform_state(db)
        block = queries.indexed_block(db)
    return _page(
        request,
        "operator/page.html",
        names=names,
        people=people,
        onchain=onchain,
        state=state,
        block=block,
        read_only=not viewer.is_operator,
        role_names=[(r.name or "", int(r)) for r in Role],
    )


@router.post("/operator/{verb}")
async def operator_action(request: Request, verb: str) -> Response:
    viewer = _viewer(request)
    if viewer is None:
        return _sign_in_redirect(request)
    if not viewer.is_operator:
        return _denied(request, viewer, "the operator's actions")
    back = "/dashboard/operator"
    form = await request.form()
    params: dict[str, Any]
    try:
        if verb == "onboard":
            roles = sum(int(str(v)) for v in form.getlist("roles") if str(v).isdigit())
            if not roles:
                raise actions.ActionError("Roles: tick at least one role.")
            name = str(form.get("legal_name", "")).strip()
            if not name:
                raise actions.ActionError("Legal name: write the name from the business licence.")
            address = str(form.get("address", "")).strip() or None
            params = {
                "legal_name": name,
                "legal_id": str(form.get("legal_id", "")).strip(),
                "roles": [ROLE_NAMES[bit] for bit in ROLE_NAMES if roles & bit],
                "contact": str(form.get("contact", "")).strip(),
                "custody": "self" if address else "custodial",
                "address": address,
            }

            def onboarded(created: Any) -> str:
                # The key is shown once, here, and never stored in clear: the operator hands it over.
                where = created.participant.address
                return f"Onboarded {name} at {where}. Their API key (shown once): {created.api_key}"

            return await _act(request, viewer, back, onboarded, actions.onboard, **params)
        if verb in ("suspend", "reinstate"):
            target = str(form.get("address", ""))
            done = f"{queries_name(request, target)} {'suspended' if verb == 'suspend' else 'reinstated'}."
            return await _act(
                request, viewer, back, done, actions.set_status, address=target, suspend=verb == "suspend"
            )
        if verb == "parameters":
            params = {
                "max_tenor_days": int(str(form.get("max_tenor_days", "0"))),
                "grace_period_days": int(str(form.get("grace_days", "0"))),
                "min_unit": _form_yuan(form, "min_unit", "Minimum unit"),
            }
            return await _act(request, viewer, back, "Parameters saved.", actions.set_parameters, **params)
        if verb in ("pause", "unpause"):
            return await _act(
                request, viewer, back, f"Platform {verb}d.", actions.set_paused, paused=verb == "pause"
            )
    except (actions.ActionError, ValueError) as error:
        return _redirect(back, message=str(error), kind="error")
    return Response(status_code=404)


# -- mounting --------------------------------------------------------------------------------


def mount_dashboard(
    app: FastAPI,
    *,
    engine: Callable[[], Engine] | None = None,
    master_key: str | None = None,
    root_redirect: bool = True,
) -> None:
    """Add the dashboard to `app`: its pages under /dashboard and, unless the app has one, `/` → /dashboard.

    Inside the API application the dashboard reads the API's database and acts through its service
    context (`app.state.context`); on its own (tests, benchmarks) it reads `engine` and is read-only.
    """
    context = getattr(app.state, "context", None)
    if engine is None:
        if context is not None:
            engine = lambda: context.engine  # noqa: E731
        else:
            from tierflow.platform.db import get_engine

            engine = get_engine
    app.state.dashboard_engine = engine
    settings = context.settings if context is not None else get_settings()
    app.state.dashboard_master_key = master_key or settings.master_key
    app.state.dashboard_demo = settings.environment != "production"
    app.include_router(router)
    # bill_pages imports this module, so it is imported here rather than at the top (a cycle).
    from tierflow.platform.dashboard import bill_pages

    app.include_router(bill_pages.router)
    has_root = any(getattr(r, "path", None) == "/" for r in app.router.routes)
    if root_redirect and not has_root:
        app.add_api_route(
            "/", lambda: RedirectResponse("/dashboard", status_code=307), include_in_schema=False
        )


__all__ = ["mount_dashboard", "router"]
