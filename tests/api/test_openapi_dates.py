"""One date format in and out of the API (issue 13): a test walks the OpenAPI document and fails on a
number field or parameter named or described like a date or time unless its name says unix seconds
(`…_unix`) or a count (`days`, `…_hours`, `…_seconds`), and on a string date field without its format."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from test_openapi_units import openapi_document

DATE_NAME = re.compile(r"(^|_)(date|time|timestamp|maturity|expiry|expires|deadline|until|at)(_|$)")
DATE_WORDS = re.compile(r"\b(date|time|maturity|expiry|deadline|unix)\b", re.IGNORECASE)
# Counts of time, not points in time, named by their unit; and identifiers (a token id whose description
# says "its maturity" is still an id).
COUNT = re.compile(r"(^|_)(days|hours|seconds|id)$")
# The ERC-2771 ForwardRequest a wallet signs (EIP-712): its field names are fixed by the forwarder
# contract's type hash, so `deadline` stays unix seconds there and says so in its description.
SIGNED_STRUCT = re.compile(r"^ForwardRequestMessage(-Input|-Output)?\.deadline$")


def _variants(field: dict[str, Any]) -> list[dict[str, Any]]:
    return [field, *field.get("anyOf", [])]


def _described(field: dict[str, Any]) -> str:
    return " ".join(v.get("description", "") for v in _variants(field))


def _problem(where: str, name: str, field: dict[str, Any]) -> str | None:
    types = {v.get("type") for v in _variants(field)}
    formats = {v.get("format") for v in _variants(field)}
    if name.endswith("_unix") or COUNT.search(name) or SIGNED_STRUCT.match(where):
        return None
    named = bool(DATE_NAME.search(name))
    if types & {"integer", "number"} and (named or DATE_WORDS.search(_described(field))):
        return f"{where}: a number for a date or time (ISO 8601, or name it …_unix)"
    if named and "string" in types and not formats & {"date", "date-time"}:
        return f"{where}: a date string without format date / date-time"
    return None


def _openapi_date_problems(document: dict[str, Any]) -> list[str]:
    problems = []
    for model, schema in document["components"]["schemas"].items():
        for name, field in schema.get("properties", {}).items():
            problems.append(_problem(f"{model}.{name}", name, field))
    for path, item in document["paths"].items():
        for method, operation in item.items():
            for parameter in operation.get("parameters", []):
                field = dict(parameter.get("schema", {}))
                field["description"] = parameter.get("description", "") + " " + _described(field)
                problems.append(
                    _problem(f"{method.upper()} {path} ?{parameter['name']}", parameter["name"], field)
                )
    return [p for p in problems if p is not None]


def test_openapi_dates_are_iso_unless_named_unix(tmp_path: Path) -> None:
    problems = _openapi_date_problems(openapi_document(tmp_path))
    assert not problems, "dates and times not in ISO 8601:\n" + "\n".join(problems)


def test_openapi_dates_walker_flags_unix_fields() -> None:
    # The walker itself: what the API answered before (unix integers, an unformatted date string) is
    # flagged; ISO fields, …_unix fields and counts of days pass.
    document = {
        "components": {"schemas": {"PayablePublic": {"properties": {
            "maturity": {"type": "integer"},
            "created_at": {"anyOf": [{"type": "integer"}, {"type": "null"}]},
            "quote": {"type": "integer", "description": "[unix s] the quote's expiry"},
            "due_date": {"type": "string"},
            "maturity_day": {"type": "string", "format": "date"},
            "expiry_unix": {"type": "integer"},
            "days": {"type": "integer", "description": "days to maturity"},
            "token_id": {"type": "integer", "description": "the certificate (its maturity is used)"},
        }}}},
        "paths": {"/v1/x": {"get": {"parameters": [
            {"name": "maturity_before", "schema": {"type": "integer"}},
            {"name": "after", "schema": {"type": "integer"}, "description": "a token id"},
        ]}}},
    }  # fmt: skip
    assert sorted(p.split(":")[0] for p in _openapi_date_problems(document)) == [
        "GET /v1/x ?maturity_before",
        "PayablePublic.created_at",
        "PayablePublic.due_date",
        "PayablePublic.maturity",
        "PayablePublic.quote",
    ]
