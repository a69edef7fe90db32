"""Every governor's governance panel (issue 15): the council's open proposals in words, approve / cancel /
execute on confirmation pages with the company's own key, and the history of executed, cancelled and
expired ones. The operator, a governor too, acts from its console; auditors read here."""

from __future__ import annotations

from fastapi import Request
from fastapi.responses import HTMLResponse, Response
from starlette.concurrency import run_in_threadpool

from tierflow.platform import i18n
from tierflow.platform.dashboard import council, web
from tierflow.platform.dashboard.session import Viewer
from tierflow.platform.models.service import DirectoryParticipant

router = web.page_router("/governance")
BACK = "/dashboard/governance"


def _governor(request: Request, viewer: Viewer) -> bool:
    terms = council.terms(request)
    return terms is not None and viewer.address in terms.governors


@router.get("", response_class=HTMLResponse)
def governance_page(request: Request, viewer: web.SignedIn) -> Response:
    with web.session(request) as db:
        shown = council.page_context(request, db, limit=200)
        me = db.get(DirectoryParticipant, viewer.address)
    terms = shown["council"]
    governor = terms is not None and viewer.address in terms.governors
    if not governor and not viewer.sees_everything:
        raise web.Denied(i18n.gettext("the governance panel, which is for the council's governors"))
    context = web.service_context(request)
    return web.page(
        request,
        "governance/page.html",
        **shown,
        governor=governor,
        read_only=not governor or viewer.status != "active",
        action_base=BACK,
        me=viewer.address,
        wallet=me is not None and me.custody == "self",
        council_address=context.gateway().deployment.contracts["GovernanceCouncil"].address
        if context
        else "",
        delay=council.span(terms.delay) if terms else "",
        window=council.span(terms.window) if terms else "",
        who=council.who_approves(shown["names"], terms),
    )


@router.post("/{verb}")
async def governance_action(request: Request, viewer: web.SignedIn, verb: str) -> Response:
    """approve / cancel / execute a proposal as the viewer's company (a governor), after its confirmation."""
    if verb not in ("approve", "cancel", "execute"):
        return Response(status_code=404)
    if not await run_in_threadpool(_governor, request, viewer):
        raise web.Denied(i18n.gettext("the governors' council, which only its governors act in"))
    return await council.act(request, viewer, verb, BACK)
