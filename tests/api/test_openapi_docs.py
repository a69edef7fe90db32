"""The OpenAPI document describes every operation and shows an example of each (docs for integrators)."""

from __future__ import annotations

from apikit import Api

from tierflow.platform.api.operation_docs import has_example


def test_openapi_every_operation_has_a_description_and_an_example(api: Api) -> None:
    schema = api.client.get("/openapi.json").json()
    operations = [
        (method.upper(), path, operation)
        for path, item in schema["paths"].items()
        for method, operation in item.items()
    ]
    assert len(operations) >= 100
    undescribed = [
        (method, path)
        for method, path, operation in operations
        # a description says more than the one-line summary above it
        if len(operation.get("description", "")) < 20
        or operation.get("description") == operation.get("summary")
    ]
    assert undescribed == []
    assert [(method, path) for method, path, operation in operations if not has_example(operation)] == []


def test_openapi_examples_carry_units_where_fields_are_money_or_dates(api: Api) -> None:
    schema = api.client.get("/openapi.json").json()
    holdings = schema["paths"]["/v1/supplier/holdings"]["get"]["responses"]["200"]["content"][
        "application/json"
    ]
    row = holdings["example"]["data"][0]
    assert row["value"] == 60_000_000 and row["holder"].startswith("0x")  # fen: ¥600,000.00
    assert "fen" in schema["paths"]["/v1/core/payables/{slot_id}/repay"]["post"]["description"]
