"""Pages every participant shares: sign-in and sign-out, home, live updates, static files, documents."""

from __future__ import annotations

from fastapi import Request
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, RedirectResponse, Response

from tierflow.platform import i18n
from tierflow.platform.dashboard import actions, progress, queries, web
from tierflow.platform.dashboard.pages import team
from tierflow.platform.dashboard.rendering import STATIC, render
from tierflow.platform.dashboard.session import (
    COOKIE_NAME,
    SignInError,
    end_session,
    ensure_pre_session,
    sign_in,
)
from tierflow.platform.models.service import ApiKey
from tierflow.platform.security.crypto import api_key_matches
from tierflow.settings import REPO_ROOT

router = web.page_router()

# htmx comes from npm (package.json) and is served from node_modules: nothing is copied or committed.
HTMX_FILE = REPO_ROOT / "node_modules" / "htmx.org" / "dist" / "htmx.min.js"


@router.get("", response_class=HTMLResponse)
def home(viewer: web.SignedIn) -> Response:
    return RedirectResponse(viewer.home(), status_code=303)


def _demo_keys(request: Request) -> list[tuple[str, str]]:
    """(name, key) of the seeded demo participants, in development only: their keys are public anyway."""
    if not request.app.state.dashboard_demo:
        return []
    from tierflow.platform.services.seed import DEMO_NAMES, demo_api_key

    found = []
    with web.session(request) as db:
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
    response = web.page(request, "sign_in.html", next=target, error=None, demo=_demo_keys(request))
    ensure_pre_session(request, response)  # the cookie the form's CSRF token derives from
    return response


@router.post("/sign-in", response_class=HTMLResponse)
async def sign_in_submit(request: Request) -> Response:
    form = await request.form()
    token = str(form.get("api_key", ""))
    target = str(form.get("next", ""))
    with web.session(request) as db:
        try:
            viewer = sign_in(
                db,
                token,
                engine=web.engine(request),
                origin=web.origin_of(request),
                limits=web.limits(request),
            )
        except SignInError as error:
            return web.page(
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
    web.set_session(request, response, viewer)
    return response


@router.post("/sign-out")
def sign_out(request: Request) -> Response:
    # On the server: a copy of the cookie no longer signs anyone in.
    end_session(web.engine(request), request.cookies.get(COOKIE_NAME), web.master_key(request))
    team.end_staff_session(request)  # a person's session ends on the server too, not only in the browser
    response = RedirectResponse("/dashboard/sign-in", status_code=303)
    response.delete_cookie(COOKIE_NAME, path="/")
    return response


@router.post("/language")
async def choose_language(request: Request) -> Response:
    """The header's 中文 / English switch: remembered in a cookie (a year), then back to the same page."""
    form = await request.form()
    locale = i18n.normalise(str(form.get("locale", ""))) or i18n.DEFAULT_LOCALE
    back = str(form.get("next", ""))
    response = RedirectResponse(back if back.startswith("/dashboard") else "/dashboard", status_code=303)
    web.set_language_cookie(request, response, locale)
    return response


@router.get("/changes")
def changes(request: Request, since: int = 0) -> Response:
    """Polled by every page: 204 while nothing changed, else a fresh poller and a `chain-changed` event.

    `since` is the indexer's data version the page was rendered at: empty blocks do not move it, so
    on a chain making a block a second the pages refresh only when rows really changed."""
    with web.session(request) as db:
        version = queries.data_version(db)
    if version == since:
        return Response(status_code=204)
    html = render("_poller.html", version=version, poll_seconds=web.POLL_SECONDS)
    return HTMLResponse(html, headers={"HX-Trigger": "chain-changed"})


@router.get("/writes/{write_id}")
def write_progress(request: Request, viewer: web.SignedIn, write_id: str) -> Response:
    """Where one of the viewer's writes is (polled by the page while its form is posted)."""
    if not progress.valid(write_id):
        return JSONResponse({"error": "not a write id"}, status_code=404)
    return JSONResponse(progress.read(write_id, viewer.address), headers={"Cache-Control": "no-store"})


@router.get("/static/{name}")
def static(name: str) -> Response:
    if name == "htmx.min.js":
        if HTMX_FILE.exists():
            return FileResponse(
                HTMX_FILE, media_type="text/javascript", headers={"Cache-Control": "max-age=86400"}
            )
        # Pages work without it (plain forms and links); only live updates stop. `make setup` installs it.
        web.log.warning("htmx missing at %s: run `npm ci` (make setup) for live updates", HTMX_FILE)
        return Response("/* htmx not installed: run `make setup` */", media_type="text/javascript")
    path = (STATIC / name).resolve()
    if path.parent != STATIC or not path.is_file():
        return Response(status_code=404)
    return FileResponse(path, headers={"Cache-Control": "max-age=300"})


@router.get("/documents/{document_id}")
def document(request: Request, viewer: web.SignedIn, document_id: str) -> Response:
    """A backing document, decrypted for a party to its certificate (the service decides who may)."""
    try:
        row, content = actions.read_document(web.service_context(request), viewer, document_id=document_id)
    except actions.ActionError as error:
        return web.page(request, "empty.html", status_code=403, title="Document", message=str(error))
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
