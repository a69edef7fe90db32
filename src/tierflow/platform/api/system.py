"""/health and /metrics: a terse public health answer, details and metrics only for the operator."""

from __future__ import annotations

import hmac
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, PlainTextResponse
from sqlalchemy import text
from sqlmodel import Session

from tierflow.errors import ChainUnavailableError, ConfigurationError
from tierflow.platform.api.schemas import HealthDetails, HealthPublic
from tierflow.platform.services.context import ServiceContext
from tierflow.platform.services.errors import Forbidden
from tierflow.platform.services.participants import authenticate

# The lag (in blocks) beyond which the indexer counts as behind and the service as degraded.
MAX_LAG = 10


def _operator_only(request: Request, ctx: ServiceContext, what: str) -> None:
    """Admit the operator's API key, or the metrics bearer token when one is configured."""
    token = ctx.settings.metrics_token
    bearer = request.headers.get("authorization", "")
    if token and bearer.startswith("Bearer ") and hmac.compare_digest(bearer[7:].encode(), token.encode()):
        return
    with Session(ctx.engine) as session:
        caller = authenticate(session=session, token=request.headers.get("x-api-key"))
    if not caller.is_operator:
        raise Forbidden(f"{what} is for the operator; your API key belongs to {caller.legal_name}")


def install(app: FastAPI, context: ServiceContext, metrics: Any) -> None:
    def details() -> HealthDetails:
        chain: dict[str, Any]
        head: int | None = None
        try:
            gateway = context.gateway()
            head = gateway.ping()
            chain = {"ok": True, "chain_id": gateway.chain_id, "head_block": head}
        except (ChainUnavailableError, ConfigurationError) as error:
            chain = {"ok": False, "error": str(error)}
        database: dict[str, Any]
        indexed: int | None = None
        try:
            with context.engine.connect() as conn:
                conn.execute(text("SELECT 1"))
            indexed = context.link.checkpoint_block()
            database = {"ok": True}
        except Exception as error:  # any driver error means "down" here
            database = {"ok": False, "error": type(error).__name__}
        lag = None if head is None or indexed is None else max(0, head - indexed)
        running = app.state.indexer
        indexer: dict[str, Any] = {
            "indexed_block": indexed,
            "lag_blocks": lag,
            "in_process": running is not None,
        }
        if running is not None and running.error:
            indexer["error"] = running.error
        if not database["ok"]:
            status = "down"  # no read and no write can be answered
        elif chain["ok"] and indexed is not None and (lag or 0) <= MAX_LAG and "error" not in indexer:
            status = "ok"
        else:
            status = "degraded"
        return HealthDetails(status=status, chain=chain, database=database, indexer=indexer)

    @app.get(
        "/health",
        response_model=HealthPublic | HealthDetails,
        tags=["system"],
        summary="ok / degraded / down; chain, database and indexer details for the operator's key",
        description=(
            "Public: only `status` (200 when ok, else 503), so that internal error text of the chain or "
            "the indexer never reaches an anonymous caller. With the operator's `X-API-Key`: the details."
        ),
    )
    def health(request: Request) -> JSONResponse:
        body = details()
        code = 200 if body.status == "ok" else 503
        if request.headers.get("x-api-key") is None:
            return JSONResponse(status_code=code, content=HealthPublic(status=body.status).model_dump())
        if body.database["ok"]:
            _operator_only(request, context, "the health details")
        else:  # the key cannot be checked: nothing but the status
            return JSONResponse(status_code=code, content=HealthPublic(status=body.status).model_dump())
        return JSONResponse(status_code=code, content=body.model_dump(mode="json"))

    @app.get(
        "/metrics",
        response_class=PlainTextResponse,
        tags=["system"],
        summary="Prometheus metrics: the operator's X-API-Key, or Bearer TIERFLOW_METRICS_TOKEN",
    )
    def prometheus(request: Request) -> PlainTextResponse:
        if not context.settings.metrics_public:
            _operator_only(request, context, "/metrics")
        extra: dict[str, float | int] = {}
        running = app.state.indexer
        if running is not None:
            extra.update(running.metrics.as_dict())
        return PlainTextResponse(metrics.render(extra), media_type="text/plain; version=0.0.4")
