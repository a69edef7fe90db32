"""The lineage of a payable: its certificate tree as the viewer may see it (services/access.py decides)."""

from __future__ import annotations

from fastapi import Request
from fastapi.responses import HTMLResponse, Response

from tierflow.platform import i18n
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
            raise web.Denied(i18n.gettext("the lineage of payable P%(id)s", id=slot_id)) from error
        names = queries.directory(db)
    if tree is None:
        return web.page(
            request,
            "empty.html",
            status_code=404,
            title=i18n.gettext("Payable P%(id)s", id=slot_id),
            message=i18n.gettext(
                "There is no payable P%(id)s. Check the number, or search for it in the audit view.",
                id=slot_id,
            ),
        )
    return web.page(request, "lineage.html", names=names, tree=tree, now=web.now(request))
