"""The dashboard's page kit: routers, the signed-in viewer, rendering, forms and acting on a service.

Every page module under `pages/` (one per actor, mirroring `templates/`) is built from these parts
and nothing else of the web layer; `mount.py` lists the modules and mounts their routers.

A page::

    router = web.page_router("/carrier")                       # pages/carrier.py, in mount.PAGES

    @router.get("/{address}", response_class=HTMLResponse)
    def carrier_page(request: Request, viewer: web.SignedIn, address: str) -> Response:
        address = web.checksum(address)
        read_only = web.owner_page(viewer, address, Role.SUPPLIER, "another carrier's page")
        with web.session(request) as db:
            names = queries.directory(db)
        return web.page(request, "carrier/page.html", names=names, read_only=read_only)

A form (post → act through a service → back to the page with a flash message)::

    @router.post("/{address}/ship")
    async def ship(request: Request, viewer: web.SignedIn, address: str) -> Response:
        web.owner_acting(viewer, address, Role.SUPPLIER, "another carrier's shipments")
        back = f"/dashboard/carrier/{address}"
        form = await request.form()
        try:
            amount = web.form_yuan(form, "amount", "Amount")
        except actions.ActionError as error:
            return web.redirect(back, message=str(error), kind="error")
        done = f"Shipped ¥{fmt.yuan(amount)}."
        return await web.act(request, viewer, back, done, actions.ship, amount=amount)

- `web.SignedIn` is the viewer as a FastAPI dependency: without a valid session the page answers
  with the sign-in form (a redirect that comes back to the page, or HX-Redirect for a panel).
- `raise web.Denied("what")` answers the calm 403 page; `owner_page` / `owner_acting` raise it from
  the one access decision (services/access.py) for pages that belong to a participant in a role.
- Pages answer in HTML whatever fails below them (`PageRoute`): a page that says what to do.
- Reads open `web.session(request)`; writes go through `web.act` and a function of `actions.py`,
  which calls the same service functions as the REST API (same party checks, custody, nonces).
"""

from __future__ import annotations

import base64
import logging
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field, replace
from typing import Annotated, Any
from urllib.parse import quote as urlquote
from urllib.parse import urlencode

from eth_utils.address import to_checksum_address
from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.routing import APIRoute
from sqlalchemy.engine import Engine
from sqlalchemy.exc import SQLAlchemyError
from sqlmodel import Session
from starlette.concurrency import run_in_threadpool

from tierflow.errors import ChainUnavailableError, TierflowError
from tierflow.platform import i18n
from tierflow.platform.dashboard import actions, progress, queries
from tierflow.platform.dashboard import format as fmt
from tierflow.platform.dashboard.rendering import render
from tierflow.platform.dashboard.session import (
    COOKIE_NAME,
    SESSION_SECONDS,
    CsrfError,
    Viewer,
    cookie_secure,
    encode_cookie,
    require_csrf,
    viewer_from_cookie,
)
from tierflow.platform.services import access, audit_trail, governance, throttle
from tierflow.platform.services.audit_trail import Actor, Origin
from tierflow.platform.services.writes import PROGRESS

log = logging.getLogger("tierflow.dashboard")

FLASH_COOKIE = "tierflow_flash"
# Every script and style comes from this application; inline styles only for bar widths (style="--v").
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
    "object-src 'none'; base-uri 'self'; form-action 'self'; frame-ancestors 'none'"
)
POLL_SECONDS = 4


# -- stopping a page early ---------------------------------------------------------------------------
class SignInRequired(Exception):
    """No valid session: the page answers with the sign-in form."""


class Denied(Exception):
    """The viewer may not see or do this: the page answers 403 with what and where to go instead."""

    def __init__(self, what: str) -> None:
        what = i18n.translate(what)  # a literal of the page module (extracted as Denied's 1st argument)
        super().__init__(what)
        self.what = what


class PageRoute(APIRoute):
    """Pages answer in HTML even when something below them fails: a calm page that says what to do,
    never the API's JSON error or a stack trace."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def page_handler(request: Request) -> Response:
            try:
                return await handler(request)
            except SignInRequired:
                return sign_in_redirect(request)
            except CsrfError:
                message = i18n.gettext(
                    "This form is out of date or came from another site, so nothing was done. "
                    "Reload the page and submit it again."
                )
                status = 403
                try:
                    await run_in_threadpool(_audit_refused, request, "403 csrf")
                except throttle.TooManyAttempts as too_many:
                    message, status = too_many.message, 429
            except Denied as denial:
                if request.method == "POST":
                    await run_in_threadpool(_audit_refused, request, "403 denied")
                return await run_in_threadpool(_denied_page, request, denial.what)
            except (SQLAlchemyError, ChainUnavailableError) as error:
                log.warning("dashboard page unavailable: %s", error)
                message = i18n.gettext(
                    "The platform's database or chain does not answer right now. Retry in a minute."
                )
                status = 503
            except Exception:  # the last resort of a page; the log has the details
                log.exception("dashboard page failed")
                message = i18n.gettext(
                    "Something went wrong on our side. Retry; if it persists, tell the operator the time."
                )
                status = 500
            html = render(
                "empty.html",
                request=request,
                viewer=None,
                paused=False,
                flash=None,
                title=i18n.gettext("Unavailable"),
                message=message,
            )
            return HTMLResponse(html, status_code=status)

        return page_handler


def page_router(prefix: str = "") -> APIRouter:
    """The router of one page module: under /dashboard`prefix`, HTML errors, not in the OpenAPI schema."""
    # require_csrf: every POST carries its session's CSRF token (and every page gets it for its forms).
    return APIRouter(
        prefix=f"/dashboard{prefix}", include_in_schema=False, route_class=PageRoute,
        dependencies=[Depends(require_csrf)],
    )  # fmt: skip


# -- the application's database and the signed-in viewer ---------------------------------------------
def engine(request: Request) -> Engine:
    found: Engine = request.app.state.dashboard_engine()
    return found


def session(request: Request) -> Session:
    """A database session for a page's reads (use as a context manager)."""
    return Session(engine(request))


def master_key(request: Request) -> str:
    return str(request.app.state.dashboard_master_key)


def service_context(request: Request) -> Any:
    """The API's service context when the API runs in this process, else None (reads still work)."""
    return getattr(request.app.state, "context", None)


def current_viewer(request: Request) -> Viewer | None:
    """The signed-in participant, or None; resolved once per request (the key check reads the database)."""
    cached: tuple[Viewer | None] | None = getattr(request.state, "dashboard_viewer", None)
    if cached is not None:
        return cached[0]
    viewer = viewer_from_cookie(engine(request), request.cookies.get(COOKIE_NAME), master_key(request))
    if viewer is not None:
        viewer = replace(viewer, origin=origin_of(request))
    request.state.dashboard_viewer = (viewer,)
    return viewer


async def signed_in(request: Request) -> Viewer:
    """The signed-in viewer, and their remembered language made the request's from here on.

    Async on purpose: a sync dependency runs in a worker thread with a copy of the request's context,
    so the language it set would be lost; set here, in the request's own task, everything the handler
    writes afterwards (flash messages, labels, refusals, CSV headers, error pages) is in the person's
    language, not only the page's frame.
    """
    viewer = await run_in_threadpool(current_viewer, request)  # the key check reads the database
    if viewer is None:
        raise SignInRequired
    if viewer.language:
        i18n.set_locale(viewer.language)  # the person's choice beats this browser's cookie
    return viewer


SignedIn = Annotated[Viewer, Depends(signed_in)]
"""A page parameter: the signed-in viewer; without a session the page answers with the sign-in form."""


def owner_page(viewer: Viewer, address: str, role: int, what: str) -> bool:
    """Read only? for the page of participant `address` in `role`; Denied(`what`) if not the viewer's."""
    allowed, read_only = access.owner_access(viewer, address, role)
    if not allowed:
        raise Denied(what)
    return read_only


def owner_acting(viewer: Viewer, address: str, role: int, what: str) -> None:
    """Denied(`what`) unless the viewer is participant `address` in `role` (supervisors only read)."""
    if owner_page(viewer, address, role, what):
        raise Denied(what)


def supervising(viewer: Viewer, what: str) -> None:
    """Denied(`what`) unless the viewer is an auditor or the operator (they read every page)."""
    if not viewer.sees_everything:
        raise Denied(what)


def set_session(request: Request, response: Response, viewer: Viewer) -> None:
    response.set_cookie(
        COOKIE_NAME,
        encode_cookie(viewer, master_key(request)),
        max_age=SESSION_SECONDS,
        path="/",
        httponly=True,
        # Strict: a form on another site cannot post with this session; the CSRF token covers the
        # rest (same-site subdomains, older browsers).
        samesite="strict",
        secure=cookie_secure(request),
    )
    if viewer.language:
        # The person's remembered language follows them to this browser from the first page on.
        set_language_cookie(request, response, viewer.language)


def set_language_cookie(request: Request, response: Response, locale: str) -> None:
    """Remember the reader's language in this browser (before and after sign-in)."""
    response.set_cookie(
        i18n.COOKIE_NAME,
        locale,
        max_age=365 * 86_400,
        path="/",
        httponly=True,
        samesite="lax",
        secure=cookie_secure(request),
    )


# -- answers ----------------------------------------------------------------------------------------
def page(request: Request, template: str, *, status_code: int = 200, **context: Any) -> HTMLResponse:
    """Render `template` (under templates/) inside the site's frame: viewer, pause banner, flash message."""
    flash = request.cookies.get(FLASH_COOKIE)
    kind, _, message = _decode_flash(flash or "").partition(":")
    refusal: str | None = getattr(request.state, "refusal", None)
    if refusal:
        kind, message = "error", refusal
    viewer = current_viewer(request)
    if viewer is not None and viewer.language:
        i18n.set_locale(viewer.language)  # the person's choice beats this browser's cookie
    paused = False
    if viewer is not None:
        with session(request) as db:
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
            governs=_governs(request, viewer),
            **context,
        ),
        status_code=status_code,
    )
    if flash:
        response.delete_cookie(FLASH_COOKIE, path="/dashboard")
    response.headers["Content-Security-Policy"] = CSP
    response.headers["Referrer-Policy"] = "same-origin"
    return response


def _governs(request: Request, viewer: Viewer | None) -> bool:
    """Is the viewer's company a governor other than the operator (the menu links its governance panel)?"""
    if viewer is None or viewer.is_operator or not (viewer.is_financier or viewer.is_core):
        return False
    context = service_context(request)
    if context is None:
        return False
    try:
        return viewer.address in governance.governors_cached(context)
    except TierflowError:
        return False


def refused_page(request: Request, template: str, refusal: str, **context: Any) -> HTMLResponse:
    """A form's page drawn again at once (422) with the reason it was refused: what was typed stays in
    the form (the template gets it in `context`), unlike a redirect that would wipe it."""
    request.state.refusal = refusal
    return page(request, template, status_code=422, **context)


def _denied_page(request: Request, what: str) -> HTMLResponse:
    viewer = current_viewer(request)
    home = viewer.home() if viewer is not None else "/dashboard/sign-in"
    return page(request, "denied.html", status_code=403, what=what, home=home)


def _decode_flash(value: str) -> str:
    try:
        return base64.urlsafe_b64decode(value + "=" * (-len(value) % 4)).decode()
    except ValueError:
        return ""


def redirect(url: str, *, message: str | None = None, kind: str = "ok") -> RedirectResponse:
    """Back to a page (303), with a message for the person at the screen shown there once."""
    response = RedirectResponse(url, status_code=303)
    if message:
        # Cookies carry latin-1 only; messages quote names and amounts in any script.
        value = base64.urlsafe_b64encode(f"{kind}:{message[:1000]}".encode()).decode().rstrip("=")
        response.set_cookie(FLASH_COOKIE, value, path="/dashboard", httponly=True, samesite="strict")
    return response


def sign_in_redirect(request: Request) -> Response:
    # Come back to the page after signing in; a form post is not replayed (its page is the Referer).
    back = request.url.path if request.method == "GET" else ""
    target = f"/dashboard/sign-in?next={urlquote(back)}" if back else "/dashboard/sign-in"
    if request.headers.get("HX-Request"):
        # A panel refreshing in the background after the session ended: move the whole page to the
        # sign-in form instead of drawing it inside the panel.
        return Response(status_code=200, headers={"HX-Redirect": target})
    return RedirectResponse(target, status_code=303)


# -- reading requests -------------------------------------------------------------------------------
def checksum(address: str) -> str:
    """The EIP-55 form the read models store, so /bank/0xabc… and /bank/0xABC… are the same page."""
    try:
        return str(to_checksum_address(address))
    except ValueError:
        return address


def now(request: Request) -> int:
    with session(request) as db:
        return queries.clock(db)


def name_of(request: Request, address: str) -> str:
    """The display name of `address` (for flash messages)."""
    with session(request) as db:
        return queries.directory(db).name(address)


def form_yuan(form: Any, name: str, label: str) -> int:
    """Field `name` as fen, from yuan as people write it; ActionError naming `label` if it is not one."""
    try:
        return fmt.parse_yuan(str(form.get(name, "")))
    except ValueError as error:
        raise actions.ActionError(
            i18n.gettext("%(field)s: %(problem)s.", field=i18n.translate(label), problem=error), field=name
        ) from error


def form_int(form: Any, name: str, label: str) -> int:
    """Field `name` as a number chosen from a list; ActionError naming `label` if it is not one."""
    raw = str(form.get(name, "")).strip()
    if not raw.isdigit():
        raise actions.ActionError(
            i18n.gettext(
                "%(field)s: choose one from the list (got “%(got)s”).",
                field=i18n.translate(label),
                got=raw or i18n.gettext("nothing"),
            ),
            field=name,
        )
    return int(raw)


# -- acting -----------------------------------------------------------------------------------------
async def act(
    request: Request,
    viewer: Viewer,
    back: str,
    done: str | Callable[[Any], str],
    action: Callable[..., Any],
    *,
    again: Callable[[actions.ActionError], Response] | None = None,
    **params: Any,
) -> Response:
    """Run `action(context, viewer, **params)`, then back to the page saying what happened (or what to
    do about it); `done` is the message, or makes it from the action's result. `again` draws the
    form once more, with what was typed and the failing field marked, when the action is refused.

    The action sends a transaction and waits for the indexer (seconds at worst): it runs in the
    thread pool so that the event loop keeps serving every other page and API call meanwhile.
    """
    write_id = str((await request.form()).get("write_id", ""))
    tracked = progress.valid(write_id)
    if tracked:
        progress.start(write_id, viewer.address)

    def run() -> Any:
        # The write path reports its stages to the progress line the browser polls (progress.py).
        token = PROGRESS.set(progress.listener(write_id) if tracked else None)
        try:
            return action(service_context(request), viewer, **params)
        finally:
            PROGRESS.reset(token)

    try:
        result = await run_in_threadpool(run)
    except actions.Submitted as submitted:
        await run_in_threadpool(_audit, request, viewer, "submitted", None)
        return redirect(back, message=str(submitted))
    except actions.ActionError as error:
        if tracked:
            progress.update(write_id, "failed", {})
        await run_in_threadpool(_audit, request, viewer, f"refused: {error}", None)
        if again is not None:
            return await run_in_threadpool(again, error)
        return redirect(back, message=str(error), kind="error")
    if tracked:
        progress.update(write_id, "done", {})
    await run_in_threadpool(_audit, request, viewer, "executed", getattr(result, "tx_hash", None))
    return redirect(back, message=done(result) if callable(done) else done)


@dataclass(frozen=True)
class Confirmation:
    """What an action will do, shown before it is done: rows of (what, how much / to whom / when)."""

    title: str
    rows: list[tuple[str, str]]
    button: str
    note: str = ""
    warnings: list[str] = field(default_factory=list)


def confirmed(form: Any) -> bool:
    """Did the person confirm this form on its confirmation page (the form posted a second time)?"""
    return str(form.get("confirmed", "")) == "yes"


def confirm_page(request: Request, form: Any, back: str, confirmation: Confirmation) -> HTMLResponse:
    """The confirmation page of a money or legal action: nothing is written; its Confirm button posts
    the same fields to the same address again, with confirmed=yes."""
    fields = [
        (name, str(value))
        for name, value in form.multi_items()
        if name not in ("csrf_token", "confirmed") and isinstance(value, str)
    ]
    return page(
        request, "confirm.html", confirmation=confirmation, fields=fields, action=request.url.path, back=back
    )


async def confirm_first(
    request: Request, form: Any, back: str, build: Callable[[Session], Confirmation]
) -> Response | None:
    """The confirmation page built by `build(db)` while the form is not confirmed yet (None once it is:
    go on and act); back to `back` with the reason when there is nothing to confirm (ActionError)."""
    if confirmed(form):
        return None

    def draw() -> Response:
        try:
            with session(request) as db:
                confirmation = build(db)
        except actions.ActionError as error:
            return redirect(back, message=str(error), kind="error")
        return confirm_page(request, form, back, confirmation)

    return await run_in_threadpool(draw)


MAX_RATE_BPS = 10_000  # [bps] the contracts' cap on a quote (Financing and Bills: MAX_RATE_BPS)
FAR_FROM_STANDING_BPS = 200  # [bps] a quote this far from the bank's standing rate is likely a typo


@dataclass(frozen=True)
class RateCheck:
    """Warnings on a quote's rate before Confirm; `blocked` when the chain would refuse it anyway."""

    warnings: list[str]
    blocked: bool


def rate_check(rate_bps: int, standing_bps: int | None) -> RateCheck:
    """Sanity warnings for a quote at `rate_bps`: 0 %, over the platform's cap, far from the standing rate."""
    gettext = i18n.gettext
    if rate_bps <= 0:
        return RateCheck(
            [
                gettext(
                    "A rate of zero is not a quote: the chain refuses it. Enter the annual rate you offer."
                )
            ],
            True,
        )
    if rate_bps > MAX_RATE_BPS:
        return RateCheck(
            [
                gettext(
                    "%(rate)s is above the platform's cap of %(cap)s a year: the chain refuses it. "
                    "Check the number (a rate is per year, in percent).",
                    rate=fmt.percent_bps(rate_bps), cap=fmt.percent_bps(MAX_RATE_BPS),
                )
            ],
            True,
        )  # fmt: skip
    warnings = []
    if standing_bps and abs(rate_bps - standing_bps) >= FAR_FROM_STANDING_BPS:
        warnings.append(
            gettext(
                "%(rate)s is far from your standing rate of %(standing)s: check it before you confirm.",
                rate=fmt.percent_bps(rate_bps), standing=fmt.percent_bps(standing_bps),
            )
        )  # fmt: skip
    return RateCheck(warnings, False)


def origin_of(request: Request) -> Origin:
    return Origin.of_request(request)


def _audit_refused(request: Request, outcome: str) -> None:
    """A dashboard post refused before any service ran (a forged or stale form, no right): who tried."""
    viewer = current_viewer(request)
    actor = None if viewer is None else _actor(viewer)
    what = f"dashboard {request.method} {request.url.path}"
    throttle.refused_write(engine(request), actor, origin_of(request), what, outcome, limits(request))


def _actor(viewer: Viewer) -> Actor:
    """Who acts in the audit trail: the company and the person (or the company's name for a key)."""
    return Actor(company=viewer.address, user_id=viewer.user_id, user_name=viewer.user_name or viewer.name)


def limits(request: Request) -> throttle.Limits:
    """The per-address limit of failed attempts (the API's settings when it runs in this process)."""
    context = service_context(request)
    return throttle.Limits.of(None if context is None else context.settings)


def _audit(request: Request, viewer: Viewer, outcome: str, tx_hash: str | None) -> None:
    """One audit line per dashboard action: who (person and company), what, the outcome, the transaction."""
    audit_trail.record(
        engine(request),
        actor=_actor(viewer),
        action=f"dashboard {request.method} {request.url.path}",
        outcome=outcome[:32],
        detail=outcome,
        origin=viewer.origin,
        tx_hash=tx_hash,
    )


class CursorQuery:
    """For a page with several cursors: `query_with(name=value)` in a template is the page's query string
    with that cursor changed (None drops it) and every other one kept, so that paging one list or the
    live refresh never resets the others; `query_with.keep(name)` is the rest for the _cursor_pager
    macro's `keep`."""

    def __init__(self, cursors: dict[str, Any]) -> None:
        self.cursors = cursors

    def __call__(self, **changes: Any) -> str:
        kept = {**self.cursors, **changes}
        return urlencode({name: value for name, value in kept.items() if value is not None})

    def keep(self, name: str) -> str:
        rest = self(**{name: None})
        return rest + "&" if rest else ""


def query_with(**cursors: Any) -> CursorQuery:
    """The CursorQuery of a page whose cursors are `cursors` (in the order its links should list them)."""
    return CursorQuery(cursors)
