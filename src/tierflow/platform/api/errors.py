"""Typed JSON errors: every failure becomes {"error": {code, message, request_id, details}}.

Codes are stable (clients branch on them); messages say what happened and what to do. On-chain rule
violations arrive as decoded custom errors and become 409 with the contract's error name as the code.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import OperationalError, SQLAlchemyError
from starlette.exceptions import HTTPException as StarletteHTTPException

from tierflow.errors import (
    ChainUnavailableError,
    ConfigurationError,
    ContractRevert,
    TierflowError,
    TransactionOutcomeUnknown,
)
from tierflow.platform.security.crypto import DecryptionError
from tierflow.platform.services.context import DatabaseUnavailableError
from tierflow.platform.services.relayer import RelayError

log = logging.getLogger("tierflow.api")

SLOT_STATUS = ["None", "Issued", "Accepted", "Rejected", "Cancelled", "Defaulted", "Repaid"]
REQUEST_STATUS = [
    "None",
    "Requested",
    "Quoted",
    "Accepted",
    "Funded",
    "Cancelled",
    "Declined",
    "Recoursed",
    "Lapsed",
]


class ApiError(TierflowError):
    """An error the API raises on purpose, with its HTTP status and stable code."""

    status = 400
    code = "bad_request"

    def __init__(
        self, message: str, *, code: str | None = None, details: dict[str, Any] | None = None
    ) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code
        self.details = details or {}


class Unauthorized(ApiError):
    status = 401
    code = "unauthenticated"


class Forbidden(ApiError):
    status = 403
    code = "forbidden"


class NotFound(ApiError):
    status = 404
    code = "not_found"


class Conflict(ApiError):
    status = 409
    code = "conflict"


class Unprocessable(ApiError):
    status = 422
    code = "invalid_request"


class Unavailable(ApiError):
    status = 503
    code = "unavailable"


# What a contract's custom error means to an API user, and what to do about it.
REVERT_MESSAGES: dict[str, str] = {
    "CertificateIsLocked": "token {tokenId} is under financing request {ref};"
    " cancel or finish that request first",
    "CertificateNotHolder": "token {tokenId} is held by {holder}, not by {caller}",
    "CertificateInsufficientValue": "token {tokenId} holds {value} fen, asked {requested}; ask for less",
    "CertificateWrongStatus": "payable {slotId} is {status}; this action is not allowed in that status",
    "CertificateMatured": "token {tokenId} matured at {maturity}; it can no longer move, claim it instead",
    "CertificateNotMatured": "payable {slotId} matures at {maturity}; wait until then",
    "CertificateInvalidAmount": "amount {amount} is not a positive multiple of the minimum "
    "unit {minUnit} fen",
    "CertificateInvalidMaturity": "maturity {maturity} is not in the allowed window (latest {latest})",
    "CertificateOverpaid": "payable {slotId} has {outstanding} fen outstanding;"
    " repaying {amount} is too much",
    "CertificateNotRepaid": "payable {slotId} is repaid {paidIn} of {face} fen;"
    " claims open when fully repaid",
    "CertificateGracePeriodRunning": "payable {slotId} can be marked defaulted from {defaultableAt}",
    "CertificateAlreadySettled": "token {tokenId} was already paid out",
    "CertificateNotSupplier": "{caller} is not the supplier named on payable {slotId}",
    "CertificateNotObligor": "{caller} is not the obligor of payable {slotId}",
    "CertificateUnknownSlot": "payable {slotId} does not exist",
    "CertificateUnknownToken": "token {tokenId} does not exist",
    "CreditLineExceeded": "credit line {lineId} has {available} fen available, {requested} needed; "
    "ask the financier to extend it",
    "CreditLineExpired": "credit line {lineId} expired at {expiry}; ask the financier to extend it",
    "CreditLineWrongObligor": "credit line {lineId} belongs to another obligor, not {obligor}",
    "CreditLineNotFinancier": "{caller} did not grant credit line {lineId}",
    "CreditLineBelowUsed": "credit line {lineId} has {used} fen in use; the new limit {newLimit} is below it",
    "CreditLineUnknown": "credit line {lineId} does not exist",
    "DocumentAlreadyUsed": "invoice {docHash} already backs asset {assetId}; one invoice backs one asset",
    "FinancingWrongStatus": "financing request {requestId} is {status}; this action is not allowed now",
    "FinancingQuoteExpired": "the quote of request {requestId} expired at {expiry}; ask for a new quote",
    "FinancingNotSeller": "{caller} is not the seller of financing request {requestId}",
    "FinancingNotFinancier": "{caller} is not the financier of financing request {requestId}",
    "FinancingUnknownRequest": "financing request {requestId} does not exist",
    "FinancingInvalidRate": "rate {rateBps} bps is not allowed",
    "FinancingInvalidExpiry": "quote expiry {expiry} is not allowed (it must be in the "
    "future, before maturity)",
    "FinancingNoRecourse": "financing request {requestId} was agreed without recourse",
    "FinancingNotDefaulted": "payable {slotId} is not defaulted; recourse needs a defaulted payable",
    "FinancingTokenMoved": "the financed token {tokenId} of request {requestId} is no "
    "longer held by the financier",
    "BillUnknownPackage": "bill {packageId} does not exist",
    "BillUnknownRange": "bill range {rangeId} does not exist",
    "BillUnknownQuote": "bill quote {quoteId} does not exist (or was used or withdrawn); ask for a new quote",
    "BillWrongPackageStatus": "bill {packageId} is {status}; this action is not allowed in that status",
    "BillWrongRangeStatus": "bill range {rangeId} is {status}; this action is not allowed in that status "
    "(a pledged range must be released first, a closed one has passed on: read the package's ranges)",
    "BillNotDrawerOrAcceptor": "{caller} is neither the drawer nor the acceptor of bill {packageId}",
    "BillNotAcceptor": "{caller} is not the acceptor of bill {packageId}",
    "BillNotPayee": "{caller} is not the payee of bill {packageId}",
    "BillNotHolder": "bill range {rangeId} is held by {holder}, not by {caller}",
    "BillNotPledgee": "bill range {rangeId} is not pledged to {caller}",
    "BillNotQuoteFinancier": "bill quote {quoteId} was not made by {caller}",
    "BillNotRecourseObligor": "the recourse claim on bill range {rangeId} names {obligor}, not {caller}",
    "BillInvalidFace": "face {face} is not a positive multiple of the minimum unit {minUnit} fen",
    "BillInvalidMaturity": "maturity {maturity} is not in the allowed window (latest {latest})",
    "BillNoInvoices": "a bill needs at least one invoice; upload it with POST /v1/bills/documents",
    "BillInvoicesMismatch": "the invoices named do not match those of bill {packageId}",
    "BillInvalidSubRange": "sub-tickets {start} … {end} are not inside bill range {rangeId}; "
    "read the package to see its current ranges",
    "BillInvalidAmount": "{amount} sub-tickets is not a multiple of the minimum unit {minUnit} fen",
    "BillNotSplittable": "bill {packageId} may not be split; endorse, discount or pledge the whole range",
    "BillNotTransferable": "bill {packageId} is marked 不得转让 (not transferable); it can only be "
    "presented for payment",
    "BillMatured": "bill {packageId} matured at {maturity}; present it for payment instead",
    "BillNotMatured": "bill {packageId} matures at {maturity}; present it from then on",
    "BillSelfTransfer": "{account} cannot endorse, discount or pledge to itself",
    "BillInvalidRate": "rate {rateBps} bps is not allowed (1 … 10,000, and the price must stay positive)",
    "BillInvalidExpiry": "quote expiry {expiry} must be in the future",
    "BillQuoteExpired": "bill quote {quoteId} expired at {expiry}; ask the bank for a new quote",
    "BillInvalidReason": "dishonour reason {reason} is not allowed; give a code from 1 to 255",
    "BillResponsePending": "the acceptor may still answer for bill range {rangeId}; "
    "it counts as dishonoured from {dishonourableAt}",
    "BillRecourseNotAllowed": "{holder} has no recourse against {obligor} on bill range {rangeId}; "
    "name the drawer or an endorser before your first place in the chain",
    "RegistryPlatformPaused": "the platform is paused by the operator; retry after it is unpaused",
    "RegistryUnknownParticipant": "{account} is not a registered participant",
    "RegistryParticipantSuspended": "{account} is suspended; contact the operator",
    "RegistryMissingRole": "{account} lacks the role needed (roles {held}, needs one of {required})",
    "RegistryAlreadyRegistered": "{account} is already registered",
    "RegistryNotSuspended": "{account} is not suspended",
    "ERC20InsufficientBalance": "{sender} holds {balance} fen of settlement token, {needed} needed",
    "ERC20InsufficientAllowance": "allowance of {spender} is {allowance} fen, {needed} needed; "
    "approve it with POST /v1/settlement/approvals",
    "EnforcedPause": "the contract is paused; retry after the operator unpauses it",
}


# Bills reports statuses as enum ordinals (IBills.PackageStatus, IBills.RangeStatus); messages name them.
BILL_STATUS_NAMES: dict[str, list[str]] = {
    "BillWrongPackageStatus": ["None", "Issued", "Accepted", "Received", "Rejected", "Cancelled"],
    "BillWrongRangeStatus": ["None", "Held", "Pledged", "Presented", "Paid", "Dishonoured", "Closed"],
}


def revert_message(error: ContractRevert) -> str:
    args = {key: _display(key, value) for key, value in error.args_by_name.items()}
    names = BILL_STATUS_NAMES.get(error.name)
    status = args.get("status")
    if names is not None and isinstance(status, int) and 0 <= status < len(names):
        args["status"] = names[status]
    template = REVERT_MESSAGES.get(error.name)
    if template is not None:
        try:
            return f"{error.name}: " + template.format(**args)
        except (KeyError, IndexError):
            pass
    rendered = ", ".join(f"{key}={value}" for key, value in args.items())
    return f"{error.name}({rendered}): the contract rejected the transaction; nothing was changed"


def _display(key: str, value: Any) -> Any:
    if isinstance(value, bytes):
        return "0x" + value.hex()
    if key == "status" and isinstance(value, int):
        return value
    return value


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
    if isinstance(error, ApiError):
        return error_body(request, error.status, error.code, error.message, error.details)
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
    for kind in (ApiError, TierflowError, SQLAlchemyError):
        app.add_exception_handler(kind, on_any)
