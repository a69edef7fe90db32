"""Errors of the service layer: what went wrong in domain terms, with a stable code; no HTTP here.

Services raise these; the API maps each class to an HTTP status (`api/errors.py`) and the dashboard
shows the message. Codes are stable (clients branch on them); messages say what happened and what
to do.
"""

from __future__ import annotations

from typing import Any

from tierflow.errors import TierflowError
from tierflow.platform import i18n


class ServiceError(TierflowError):
    """An error a service raises on purpose: a stable code, a message for people, details for programs."""

    code = "bad_request"

    def __init__(
        self, message: str, *, code: str | None = None, details: dict[str, Any] | None = None
    ) -> None:
        # A literal message is extracted for translation (`make translations`, the classes' first
        # argument) and shown in the reader's language; a composed one stays as written.
        message = i18n.translate(message)
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code
        self.details = details or {}


class Unauthenticated(ServiceError):
    """No caller could be identified (missing, unknown or revoked API key)."""

    code = "unauthenticated"


class Forbidden(ServiceError):
    """The caller is known but may not do or see this (wrong role, not a party)."""

    code = "forbidden"


class NotFound(ServiceError):
    code = "not_found"


class Conflict(ServiceError):
    """The request is valid but the current state does not allow it."""

    code = "conflict"


class InvalidRequest(ServiceError):
    """The request itself is wrong (bad parameters, an idempotency key reused with other parameters)."""

    code = "invalid_request"
