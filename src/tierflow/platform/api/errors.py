"""Typed JSON errors: every failure becomes {"error": {code, message, request_id, details}}.

The services raise domain errors (`services/errors.py`) and the chain decoded custom errors; this
module is the one place that maps them to HTTP status codes. On-chain rule violations become 409 with
the contract's error name as the code and the message of `chain/vocabulary.py`.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import OperationalError, SQLAlchemyError
from starlette.exceptions import HTTPException as StarletteHTTPException

from tierflow.chain.gateway import RelayError
from tierflow.chain.vocabulary import revert_message
from tierflow.errors import (
    ChainUnavailableError,
    ConfigurationError,
    ContractRevert,
    TierflowError,
    TransactionOutcomeUnknown,
)
from tierflow.platform.security.crypto import DecryptionError
from tierflow.platform.services.context import DatabaseUnavailableError
from tierflow.platform.services.errors import (
    Conflict,
    Forbidden,
    InvalidRequest,
    NotFound,
    ServiceError,
    Unauthenticated,
)

log = logging.getLogger("tierflow.api")

# The HTTP status of each domain error (the most specific class wins; any other ServiceError is 400).
STATUS: dict[type[ServiceError], int] = {
    Unauthenticated: 401,
    Forbidden: 403,
    NotFound: 404,
    Conflict: 409,
    InvalidRequest: 422,
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
        return error_body(request, status_of(error), error.code, error.message, error.details)
    if isinstance(error, ContractRevert):
        details = {"error": error.name, "args": {k: _jsonable(v) for k, v in error.args_by_name.items()}}
        return error_body(request, 409, error.name, revert_message(error), details)
    if isinstance(error, RelayError):
        status = 422 if error.code in {"invalid_signature", "signer_mismatch", "target_not_allowed"} else 409
        return error_body(request, status, error.code, str(error))
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
        log.error("database error", extra={"fields": {"error": str(error)}})
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


def install(app: FastAPI) -> None:
    async def on_validation(request: Request, error: Exception) -> JSONResponse:
        assert isinstance(error, RequestValidationError)
        details = [
            {"loc": list(item.get("loc", ())), "msg": item.get("msg", ""), "type": item.get("type", "")}
            for item in error.errors()
        ]
        first = details[0] if details else {"loc": [], "msg": "invalid"}
        where = ".".join(str(part) for part in first["loc"])
        return error_body(
            request, 422, "validation_error", f"{where}: {first['msg']}; fix the request and retry", details
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
        return api_error_response(request, error)

    app.add_exception_handler(RequestValidationError, on_validation)
    app.add_exception_handler(StarletteHTTPException, on_http)
    app.add_exception_handler(Exception, on_any)
    for kind in (TierflowError, SQLAlchemyError):
        app.add_exception_handler(kind, on_any)
