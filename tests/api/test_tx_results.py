"""`TxResult.result` is typed per operation (issue 13): the OpenAPI document names each write's result
model with its fields, ids and fen amounts described, and real answers carry only those fields."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from apikit import Api
from test_openapi_units import openapi_document


def _schema(api: Api) -> dict[str, Any]:
    return api.client.get("/openapi.json").json()  # type: ignore[no-any-return]


def _resolve(schema: dict[str, Any], components: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        schema = components[schema["$ref"].rsplit("/", 1)[1]]
    return schema


def test_write_operations_document_a_typed_result_model(tmp_path: Path) -> None:
    document = openapi_document(tmp_path)  # the document only: no chain, one database
    components = document["components"]["schemas"]
    untyped, undescribed, writes = [], [], 0
    for path, item in document["paths"].items():
        for method, operation in item.items():
            body = operation.get("responses", {}).get("200", {}).get("content", {}).get("application/json")
            answer = _resolve(body["schema"], components) if body else {}
            if not {"tx_hash", "result"} <= set(answer.get("properties", {})):
                continue
            writes += 1
            result = answer["properties"]["result"]
            if "$ref" not in result:
                untyped.append(f"{method.upper()} {path}")
                continue
            model = _resolve(result, components)
            for name, field in model.get("properties", {}).items():
                text = field.get("description", "")
                money = name in ("amount", "price", "discount", "interest", "limit", "paid_in", "unpaid",
                                 "value", "released")  # fmt: skip
                if not text or (money and "[fen]" not in text):
                    undescribed.append(f"{method.upper()} {path}: {name}")
    assert writes >= 50
    assert not untyped, "writes whose result is an untyped object:\n" + "\n".join(untyped)
    assert not undescribed, "result fields without a description (money without its unit):\n" + "\n".join(
        undescribed
    )


def _declared(api: Api, method: str, path: str) -> set[str]:
    """The fields the OpenAPI document declares for the operation's result."""
    document = _schema(api)
    components = document["components"]["schemas"]
    body = document["paths"][path][method.lower()]["responses"]["200"]["content"]["application/json"]
    answer = _resolve(body["schema"], components)
    return set(_resolve(answer["properties"]["result"], components).get("properties", {}))


def _check(api: Api, method: str, path: str, body: dict[str, Any], *expected: str) -> dict[str, Any]:
    result: dict[str, Any] = body["result"]
    declared = _declared(api, method, path)
    assert set(result) <= declared, (path, set(result) - declared)
    assert set(expected) <= set(result), (path, result)
    assert all(isinstance(value, int) for value in result.values()), result
    return result


def test_write_results_carry_the_fields_of_their_operation_model(funded: Api) -> None:
    api = funded
    grant = "/v1/financier/credit-lines"
    line = _check(
        api,
        "POST",
        grant,
        api.ok("bank1", grant, {"obligor": api.address("core1"), "limit": 10**10, "expiry": api.today(300)}),
        "line_id",
    )["line_id"]
    issue = "/v1/core/certificates"
    issued = api.ok("core1", issue, {
        "supplier": api.address("supplier1"), "face": 500_000, "maturity": api.today(80), "line_id": line,
        "document_ids": [api.invoice("core1", "supplier1")]})  # fmt: skip
    token = _check(api, "POST", issue, issued, "slot_id", "token_id")["token_id"]
    api.ok("supplier1", f"/v1/supplier/payables/{issued['result']['slot_id']}/accept")
    asked = "/v1/supplier/financing-requests"
    request_id = _check(api, "POST", asked, api.ok("supplier1", asked, {
        "token_id": token, "financier": api.address("bank2"), "amount": 200_000}),
        "request_id", "new_token_id")["request_id"]  # fmt: skip
    quote = "/v1/financier/requests/{request_id}/quote"
    quoted = api.ok("bank2", quote.format(request_id=request_id), {"rate_bps": 450, "valid_hours": 24})
    _check(api, "POST", quote, quoted, "request_id", "price", "discount")
    transfer = "/v1/certificates/{token_id}/transfer"
    moved = api.ok(
        "supplier1", transfer.format(token_id=token), {"to": api.address("supplier2"), "value": 1_000}
    )
    _check(api, "POST", transfer, moved, "new_token_id")
