"""Mounting the dashboard into an application: every page module's router, under /dashboard."""

from __future__ import annotations

from collections.abc import Callable

from fastapi import FastAPI
from fastapi.responses import RedirectResponse
from sqlalchemy.engine import Engine

from tierflow.platform.dashboard.pages import (
    audit,
    bank,
    bills,
    common,
    core,
    governance,
    lineage,
    operator,
    supplier,
    team,
)
from tierflow.platform.i18n import LocaleMiddleware
from tierflow.settings import get_settings

# One module per actor (pages/<actor>.py, templates/<actor>/); a new page module is added here.
PAGES = (common, bank, supplier, core, lineage, audit, operator, bills, team, governance)


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
    app.state.dashboard_settings = settings  # public URL and proxy trust decide Secure cookies
    app.state.dashboard_demo = settings.environment != "production"
    for module in PAGES:
        app.include_router(module.router)
    # The request's language (cookie, else Accept-Language) for every route of the app: pages, and the
    # API's error messages (an API client without Accept-Language reads English).
    app.add_middleware(LocaleMiddleware)
    has_root = any(getattr(r, "path", None) == "/" for r in app.router.routes)
    if root_redirect and not has_root:
        app.add_api_route(
            "/", lambda: RedirectResponse("/dashboard", status_code=307), include_in_schema=False
        )


__all__ = ["PAGES", "mount_dashboard"]
