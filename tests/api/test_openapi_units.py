"""Every money field of the API says its unit (issue 13): a test walks the OpenAPI document and fails on
an integer field named like an amount whose description says neither fen nor yuan."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from tierflow.platform.db import make_engine
from tierflow.platform.main import create_app, make_context
from tierflow.settings import Settings

# Names of amounts (alone, or as a word of a longer name: paid_in, funded_price, obligor_exposure …).
MONEY = re.compile(
    r"(^|_)(amount|face|price|discount|value|limit|used|available|paid_in|paid_out|balance|owed|collected|"
    r"remaining|interest|due|unpaid|released|escrow|min_unit|exposure|outstanding|total)(_|$)"
)
UNIT = re.compile(r"\bfen\b|\byuan\b|¥")
# Not money although named so: a page size, a block number, the ether `value` of an ERC-2771 request.
NOT_MONEY = re.compile(r"^((Cursor)?Page_.*\.limit|.*_block|ForwardRequestMessage.*\.value)$")


def openapi_document(tmp_path: Path) -> dict[str, Any]:
    """The app's OpenAPI document, built over an empty SQLite file (no chain is needed)."""
    url = f"sqlite:///{tmp_path / 'units.db'}"
    settings = Settings(environment="test", rpc_url="http://127.0.0.1:9", database_url=url)
    engine = make_engine(url)
    try:
        return create_app(make_context(settings, engine)).openapi()
    finally:
        engine.dispose()


def _described(field: dict[str, Any]) -> str:
    return " ".join(
        [field.get("description", "")] + [c.get("description", "") for c in field.get("anyOf", [])]
    )


def _types(field: dict[str, Any]) -> set[str]:
    return {field.get("type", "")} | {c.get("type", "") for c in field.get("anyOf", [])}


def test_openapi_money_fields_say_their_unit(tmp_path: Path) -> None:
    document = openapi_document(tmp_path)
    missing = []
    for model, schema in document["components"]["schemas"].items():
        for name, field in schema.get("properties", {}).items():
            where = f"{model}.{name}"
            if "integer" in _types(field) and MONEY.search(name) and not NOT_MONEY.match(where):
                if not UNIT.search(_described(field)):
                    missing.append(where)
    for path, item in document["paths"].items():
        for method, operation in item.items():
            for parameter in operation.get("parameters", []):
                name = parameter["name"]
                described = parameter.get("description", "") + _described(parameter.get("schema", {}))
                if MONEY.search(name) and name != "limit" and not UNIT.search(described):
                    missing.append(f"{method.upper()} {path} ?{name}")
    assert not missing, "money fields without their unit (fen or yuan) in the description:\n" + "\n".join(
        missing
    )
