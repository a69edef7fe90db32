"""Swagger UI at /docs from the pinned npm `swagger-ui-dist`, served by the app: nothing leaves the host."""

from __future__ import annotations

import logging

from fastapi import FastAPI
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import FileResponse, HTMLResponse, Response

from tierflow.settings import REPO_ROOT

log = logging.getLogger("tierflow.api")

# From npm (package.json, installed by `make setup`), like htmx: nothing copied or committed.
SWAGGER_DIST = REPO_ROOT / "node_modules" / "swagger-ui-dist"
ASSETS = {
    "swagger-ui-bundle.js": "text/javascript",
    "swagger-ui.css": "text/css",
    "favicon-32x32.png": "image/png",
}
ASSETS_PATH = "/docs/assets"


def install(app: FastAPI) -> None:
    """Serve /docs and its assets. Create the app with docs_url=None and redoc_url=None: FastAPI's own
    pages load Swagger UI and ReDoc from a public CDN (blank offline, and every visit leaks to it)."""

    @app.get("/docs", include_in_schema=False)
    def swagger_ui() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url=app.openapi_url or "/openapi.json",
            title=f"{app.title} - docs",
            swagger_js_url=f"{ASSETS_PATH}/swagger-ui-bundle.js",
            swagger_css_url=f"{ASSETS_PATH}/swagger-ui.css",
            swagger_favicon_url=f"{ASSETS_PATH}/favicon-32x32.png",
            # The default validator badge fetches an image from validator.swagger.io.
            swagger_ui_parameters={"validatorUrl": None},
        )

    @app.get(ASSETS_PATH + "/{name}", include_in_schema=False)
    def swagger_asset(name: str) -> Response:
        media_type = ASSETS.get(name)
        if media_type is None:
            return Response(status_code=404)
        path = SWAGGER_DIST / name
        if not path.is_file():
            log.warning("Swagger UI missing at %s: run `make setup` (npm ci)", SWAGGER_DIST)
            return Response(
                "/* Swagger UI not installed: run `make setup` (npm ci); the schema is at /openapi.json */",
                status_code=404,
                media_type=media_type,
            )
        return FileResponse(path, media_type=media_type, headers={"Cache-Control": "max-age=86400"})
