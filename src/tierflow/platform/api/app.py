"""The API half of the application: OpenAPI description, request ids, logs and metrics, routers, health."""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections import defaultdict
from typing import Any

from fastapi import FastAPI, Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from tierflow.platform.api import docs, errors, operation_docs, system
from tierflow.platform.api.routers import (
    auditor,
    bills,
    common,
    controls,
    core,
    financier,
    governance,
    operator,
    staff,
    supplier,
)
from tierflow.platform.services.context import ServiceContext

log = logging.getLogger("tierflow.api")

DESCRIPTION = """
Supply-chain finance on a permissioned EVM chain. Core enterprises issue certificates (payables) to
their suppliers; suppliers split and pass them up the chain or sell them to banks; at maturity every
holder is paid.

**Authentication**: every `/v1` endpoint needs the participant's API key in the `X-API-Key` header
(issued at onboarding, stored hashed, revocable by the operator).

**Signing**: custodial participants' requests are signed by the platform with their key (AES-GCM
encrypted at rest). Self-custody participants get `202` with an EIP-712 forward request; they sign it
and post it to `/v1/relay`. Either way the platform relays through the ERC-2771 forwarder and pays gas,
and answers once the indexer shows the write (read-your-writes).

**Amounts** are integers in fen (0.01 CNY). **Errors** are JSON `{"error": {code, message, request_id}}`:
422 invalid, 401 no key, 403 wrong role or not a party, 404 unknown, 409 an on-chain rule (the code is
the contract's custom error), 503 chain or database unavailable. **Idempotency-Key** on any POST makes
it safe to retry.
"""

OPENAPI_TAGS: list[dict[str, Any]] = [
    {"name": "operator", "description": "onboarding after KYB, suspension, parameters, pause"},
    {
        "name": "financier",
        "description": "credit lines, the request queue, quotes, funding, portfolio",
    },
    {"name": "core enterprise", "description": "invoices, issuing, cancelling, repaying"},
    {
        "name": "supplier",
        "description": "accepting, splitting and transferring, requesting financing",
    },
    {"name": "auditor", "description": "look-through supervision and CSV export"},
    {"name": "shared", "description": "reads every party may make about what it is party to"},
    {"name": "bills", "description": "digital bills (电子商业汇票) with sub-ticket ranges"},
    {"name": "signing", "description": "self-custody relay of EIP-712 forward requests"},
    {"name": "system", "description": "health and metrics"},
]


class Metrics:
    """Request counters and latency histograms, exposed in Prometheus text format."""

    BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.requests: dict[tuple[str, str, int], int] = defaultdict(int)
        self.latency: dict[tuple[str, str], list[float]] = {}

    def observe(self, method: str, route: str, status: int, seconds: float) -> None:
        with self._lock:
            self.requests[(method, route, status)] += 1
            buckets = self.latency.setdefault((method, route), [0.0] * (len(self.BUCKETS) + 2))
            for i, bound in enumerate(self.BUCKETS):
                if seconds <= bound:
                    buckets[i] += 1
            buckets[-2] += 1  # count
            buckets[-1] += seconds  # sum

    def render(self, extra: dict[str, float | int]) -> str:
        lines = [
            "# HELP tierflow_http_requests_total HTTP requests by method, route and status.",
            "# TYPE tierflow_http_requests_total counter",
        ]
        with self._lock:
            for (method, route, status), count in sorted(self.requests.items()):
                labels = f'method="{method}",route="{route}",status="{status}"'
                lines.append(f"tierflow_http_requests_total{{{labels}}} {count}")
            lines += [
                "# HELP tierflow_http_request_seconds HTTP request latency.",
                "# TYPE tierflow_http_request_seconds histogram",
            ]
            for (method, route), b in sorted(self.latency.items()):
                labels = f'method="{method}",route="{route}"'
                for i, bound in enumerate(self.BUCKETS):
                    lines.append(f'tierflow_http_request_seconds_bucket{{{labels},le="{bound}"}} {int(b[i])}')
                lines.append(f'tierflow_http_request_seconds_bucket{{{labels},le="+Inf"}} {int(b[-2])}')
                lines.append(f"tierflow_http_request_seconds_count{{{labels}}} {int(b[-2])}")
                lines.append(f"tierflow_http_request_seconds_sum{{{labels}}} {b[-1]:.6f}")
        for name, value in extra.items():
            kind = "counter" if name.endswith("_total") else "gauge"
            lines += [f"# TYPE {name} {kind}", f"{name} {value}"]
        return "\n".join(lines) + "\n"


class RequestContextMiddleware:
    """Pure ASGI: a request id per request (X-Request-ID in and out), one log line, metrics, and a
    last-resort JSON 500 so that no stack trace ever reaches a client."""

    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or [])
        incoming = headers.get(b"x-request-id", b"").decode("latin-1")[:64]
        request_id = incoming if incoming.replace("-", "").isalnum() else uuid.uuid4().hex
        scope.setdefault("state", {})["request_id"] = request_id
        started = time.perf_counter()
        status = 500
        response_started = False

        async def send_wrapper(message: Message) -> None:
            nonlocal status, response_started
            if message["type"] == "http.response.start":
                response_started = True
                status = int(message["status"])
                message.setdefault("headers", [])
                message["headers"] = [*message["headers"], (b"x-request-id", request_id.encode())]
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        except Exception as error:  # the last line of defence: JSON, no traceback to the client
            if response_started:
                raise
            request = Request(scope)
            response = errors.api_error_response(request, error)
            await response(scope, receive, send_wrapper)
        finally:
            seconds = time.perf_counter() - started
            route = scope.get("route")
            path = getattr(route, "path", None) or "unmatched"
            self.metrics.observe(scope["method"], path, status, seconds)
            log.info(
                "request",
                extra={
                    "fields": {
                        "request_id": request_id,
                        "method": scope["method"],
                        "path": scope["path"],
                        "status": status,
                        "ms": round(seconds * 1e3, 2),
                        "caller": scope.get("state", {}).get("caller"),
                    }
                },
            )


def mount_api(app: FastAPI, context: ServiceContext, extra_routers: list[Any] | None = None) -> Metrics:
    """Add the API to `app`: error mapping, request context, the /v1 routers, /health and /metrics."""
    metrics = Metrics()
    app.state.metrics = metrics
    errors.install(app)
    app.add_middleware(RequestContextMiddleware, metrics=metrics)
    for module in (operator, financier, core, supplier, auditor, common, bills, staff, controls, governance):
        app.include_router(module.router)
    app.include_router(financier.settlement)
    for extra in extra_routers or []:
        app.include_router(extra)

    system.install(app, context, metrics)  # /health and /metrics
    docs.install(app)  # /docs from npm assets (create the app with docs_url=None, redoc_url=None)
    operation_docs.install(app)  # a description and an example answer for every operation

    return metrics
