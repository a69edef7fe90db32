"""Typed JSON errors: every failure becomes {"error": {code, message, request_id, details}}.

The services raise domain errors (`services/errors.py`) and the chain decoded custom errors; this
module is the one place that maps them to HTTP status codes. On-chain rule violations become 409 with
the contract's error name as the code and the message of `chain/vocabulary.py`.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import OperationalError, SQLAlchemyError
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException

from tierflow.chain.gateway import RelayError
from tierflow.errors import (
    ChainUnavailableError,
    ConfigurationError,
    ContractRevert,
    TierflowError,
    TransactionOutcomeUnknown,
)
from tierflow.platform import i18n
from tierflow.platform.security.crypto import DecryptionError
from tierflow.platform.services import names, throttle
from tierflow.platform.services.audit_trail import Origin
from tierflow.platform.services.context import DatabaseUnavailableError
from tierflow.platform.services.errors import (
    Conflict,
    Forbidden,
    InvalidRequest,
    NotFound,
    ServiceError,
    Unauthenticated,
)
from tierflow.platform.services.participants import Caller
from tierflow.platform.services.throttle import TooManyAttempts

log = logging.getLogger("tierflow.api")
# Relay refusals that are the request's fault (422); the others are the chain's state (409).
INVALID_RELAY_REQUEST = frozenset(
    {"invalid_signature", "signer_mismatch", "target_not_allowed", "value_not_zero", "gas_out_of_range",
     "deadline_out_of_range"}
)  # fmt: skip

# The HTTP status of each domain error (the most specific class wins; any other ServiceError is 400).
STATUS: dict[type[ServiceError], int] = {
    Unauthenticated: 401,
    Forbidden: 403,
    NotFound: 404,
    Conflict: 409,
    InvalidRequest: 422,
    TooManyAttempts: 429,
}


def status_of(error: ServiceError) -> int:
    for kind in type(error).__mro__:
        status = STATUS.get(kind)
        if status is not None:
            return status
    return 400


def error_body(request: Request, status: int, code: str, message: str, details: Any = None) -> JSONResponse:
    payload: dict[str, Any] = {
        "code": code,
        "message": message,
        "request_id": getattr(request.state, "request_id", None),
    }
    if details:
        payload["details"] = details
    return JSONResponse(status_code=status, content={"error": payload})


def outcome_unknown(request: Request, tx_hash: str, message: str, status: int = 503) -> JSONResponse:
    """A sent transaction whose outcome is not known (yet): `transaction_outcome_unknown` with its hash."""
    return error_body(request, status, "transaction_outcome_unknown", message, {"tx_hash": tx_hash})


def api_error_response(request: Request, error: BaseException) -> JSONResponse:
    """The JSON response of any error (also used to store idempotent replies)."""
    if isinstance(error, ServiceError):
        response = error_body(request, status_of(error), error.code, error.message, error.details)
        if isinstance(error, TooManyAttempts):
            response.headers["Retry-After"] = str(error.retry_after)
        return response
    if isinstance(error, ContractRevert):
        details = {"error": error.name, "args": {k: _jsonable(v) for k, v in error.args_by_name.items()}}
        context = getattr(request.app.state, "context", None)
        known = names.of_revert(context.engine, error) if context is not None else {}
        message = i18n.revert_message(error, names=known.get, with_error_name=True)
        return error_body(request, 409, error.name, message, details)
    if isinstance(error, RelayError):
        status = 422 if error.code in INVALID_RELAY_REQUEST else 409
        # the gateway's refusals are marked N_ (English, %(name)s): shown in the reader's language
        message = (
            i18n.translate(error.template) % error.params if error.params else i18n.translate(error.template)
        )
        return error_body(request, status, error.code, message)
    if isinstance(error, TransactionOutcomeUnknown):
        # Without an Idempotency-Key (run_write words the keyed case): a blind retry would send again.
        return outcome_unknown(
            request,
            error.tx_hash,
            f"transaction {error.tx_hash} was sent but its receipt did not arrive in time ({error}); "
            "it may still be mined. Do not simply retry: this request had no Idempotency-Key, so a retry "
            "sends a new transaction. Look the transaction up or read the object's state first, and "
            "send an Idempotency-Key to make retries safe",
        )
    if isinstance(error, ChainUnavailableError):
        return error_body(request, 503, "chain_unavailable", f"{error}; retry shortly")
    if isinstance(error, DatabaseUnavailableError | OperationalError):
        return error_body(request, 503, "database_unavailable", "the database does not answer; retry shortly")
    if isinstance(error, SQLAlchemyError):
        log.error("database error: %s", error, extra={"fields": {"error": str(error)}})
        return error_body(request, 503, "database_error", "the database refused the request; retry shortly")
    if isinstance(error, DecryptionError | ConfigurationError):
        log.error("configuration error", extra={"fields": {"error": str(error)}})
        return error_body(request, 503, "misconfigured", f"the service is misconfigured: {error}")
    log.exception("unexpected error", exc_info=error)
    return error_body(
        request, 500, "internal_error", "unexpected error; report the request id to the operator"
    )


def _jsonable(value: Any) -> Any:
    if isinstance(value, bytes):
        return "0x" + value.hex()
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    return value


WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
# Codes whose attempt the key check itself already recorded in the audit trail.
RECORDED_BY_KEY_CHECK = frozenset(
    {"invalid_api_key", "revoked_api_key", "expired_api_key", "user_disabled", "too_many_attempts"}
)


async def audit_refused_write(request: Request, response: JSONResponse) -> JSONResponse:
    """A write answered by an error handler never reached run_write's audit line: record it here (who,
    what, the status and code), so every write attempt is in the trail. An anonymous flood gets 429."""
    if request.method not in WRITE_METHODS:
        return response
    try:
        code = str(json.loads(bytes(response.body))["error"]["code"])
    except (ValueError, KeyError, TypeError):
        code = "error"
    if code in RECORDED_BY_KEY_CHECK:
        return response
    context = getattr(request.app.state, "context", None)
    if context is None:
        return response
    caller = getattr(request.state, "caller_obj", None)
    origin = Origin.of_request(request)
    actor = caller.actor if isinstance(caller, Caller) else None
    what = f"{request.method} {request.url.path}"
    try:
        await run_in_threadpool(
            throttle.refused_write,
            context.engine,
            actor,
            origin,
            what,
            f"{response.status_code} {code}",
            throttle.Limits.of(context.settings),
        )
    except TooManyAttempts as too_many:
        return api_error_response(request, too_many)
    except SQLAlchemyError as failure:  # the refusal stands; the log says the trail missed it
        log.warning("audit of a refused write failed: %s", failure)
    return response


def install(app: FastAPI) -> None:
    async def on_validation(request: Request, error: Exception) -> JSONResponse:
        assert isinstance(error, RequestValidationError)
        details = [
            {"loc": list(item.get("loc", ())), "msg": item.get("msg", ""), "type": item.get("type", "")}
            for item in error.errors()
        ]
        first = details[0] if details else {"loc": [], "msg": "invalid"}
        where = ".".join(str(part) for part in first["loc"])
        return await audit_refused_write(
            request,
            error_body(
                request,
                422,
                "validation_error",
                f"{where}: {first['msg']}; fix the request and retry",
                details,
            ),
        )

    async def on_http(request: Request, error: Exception) -> JSONResponse:
        assert isinstance(error, StarletteHTTPException)
        codes = {404: "not_found", 405: "method_not_allowed", 401: "unauthenticated", 403: "forbidden"}
        message = str(error.detail)
        if error.status_code == 404 and message == "Not Found":
            message = "no such endpoint; see /docs for the API"
        response = error_body(request, error.status_code, codes.get(error.status_code, "http_error"), message)
        if error.headers:
            response.headers.update(error.headers)
        return response

    async def on_any(request: Request, error: Exception) -> JSONResponse:
        return await audit_refused_write(request, api_error_response(request, error))

    app.add_exception_handler(RequestValidationError, on_validation)
    app.add_exception_handler(StarletteHTTPException, on_http)
    app.add_exception_handler(Exception, on_any)
    for kind in (TierflowError, SQLAlchemyError):
        app.add_exception_handler(kind, on_any)
