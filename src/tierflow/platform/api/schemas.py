"""Response models that only the HTTP layer has: the error envelope and /health."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field


class ErrorDetail(BaseModel):
    code: str = Field(examples=["CertificateIsLocked"])
    message: str = Field(
        examples=[
            "CertificateIsLocked: token 12 is under financing request 4; cancel or finish that request first"
        ]
    )
    request_id: str | None = None
    details: Any = None


class ErrorResponse(BaseModel):
    error: ErrorDetail


class HealthPublic(BaseModel):
    status: Literal["ok", "degraded"]
    chain: dict[str, Any]
    database: dict[str, Any]
    indexer: dict[str, Any]
