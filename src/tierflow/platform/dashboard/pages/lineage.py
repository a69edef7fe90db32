"""The lineage of a payable: its certificate tree as the viewer may see it (services/access.py decides)."""

from __future__ import annotations

from fastapi import Request
from fastapi.responses import HTMLResponse, Response

from tierflow.platform.dashboard import queries, web
from tierflow.platform.services import lineage
from tierflow.platform.services.errors import Forbidden

router = web.page_router("/lineage")


@router.get("/{slot_id}", response_class=HTMLResponse)
def lineage_page(request: Request, viewer: web.SignedIn, slot_id: int) -> Response:
    with web.session(request) as db:
        try:
            tree = lineage.payable_lineage(db, viewer, slot_id)
        except Forbidden as error:
            raise web.Denied(f"the lineage of payable P{slot_id}") from error
        names = queries.directory(db)
    if tree is None:
        return web.page(
            request,
            "empty.html",
            status_code=404,
            title=f"Payable P{slot_id}",
            message=f"There is no payable P{slot_id}. Check the number, or search for it in the audit view.",
        )
    return web.page(request, "lineage.html", names=names, tree=tree, now=web.now(request))
