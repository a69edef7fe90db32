"""The lineage of a payable: its certificate tree as the viewer may see it (services/access.py decides),
a page of certificates at a time."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Query, Request
from fastapi.responses import HTMLResponse, Response

from tierflow.platform import i18n
from tierflow.platform.dashboard import queries, web
from tierflow.platform.services import lineage
from tierflow.platform.services.errors import Forbidden

router = web.page_router("/lineage")
# Certificates rendered per page: a 10,000-token tree rendered whole was ~10,000 nested list items.
PAGE = 1_000


@dataclass
class TreePage:
    """One page of a tree in the order it renders (parents before children, pre-order): the page's
    certificates, and above them their ancestors from earlier pages (shown as context, not counted)."""

    shown: set[int]  # token ids rendered: the page's and their ancestors
    context: set[int]  # the ancestors from earlier pages
    size: int  # certificates of this page
    after: int | None  # the cursor this page started after (None: the first page)
    next: int | None  # the cursor of the next page (its last certificate), None on the last


def tree_page(root: lineage.LineageNode | None, after: int | None, size: int) -> TreePage:
    """The page of `size` certificates after certificate `after` in pre-order (from the top if `after` is
    not in the tree). A pre-order range's ancestors outside it are all ancestors of its first node."""
    order: list[lineage.LineageNode] = []
    parent: dict[int, lineage.LineageNode] = {}
    stack = [root] if root is not None else []
    while stack:
        node = stack.pop()
        order.append(node)
        for child in reversed(node.children):
            parent[child.certificate.token_id] = node
            stack.append(child)
    ids = [n.certificate.token_id for n in order]
    start = ids.index(after) + 1 if after is not None and after in ids else 0
    page = ids[start : start + size]
    context: set[int] = set()
    if page:
        above = parent.get(page[0])
        while above is not None:
            context.add(above.certificate.token_id)
            above = parent.get(above.certificate.token_id)
    following = page[-1] if start + size < len(ids) else None
    return TreePage(set(page) | context, context, len(page), ids[start - 1] if start else None, following)


@router.get("/{slot_id}", response_class=HTMLResponse)
def lineage_page(
    request: Request,
    viewer: web.SignedIn,
    slot_id: int,
    after: Annotated[int | None, Query(gt=0, lt=2**63)] = None,
) -> Response:
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
    # `after`: the last certificate of the page before (a cursor into the rendering order).
    page = tree_page(tree.root, after, PAGE)
    return web.page(request, "lineage.html", names=names, tree=tree, page=page, now=web.now(request))
