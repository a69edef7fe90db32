"""Out-of-range dates and loose money values: a typed 422 naming what is allowed, never a 500 or a send."""

from __future__ import annotations

from typing import Any

import pytest
from apikit import Api

MONEY = [
    ("/v1/financier/credit-lines", "limit"),
    ("/v1/core/certificates", "face"),
    ("/v1/certificates/{token_id}/transfer", "value"),
    ("/v1/supplier/financing-requests", "amount"),
    ("/v1/settlement/mint", "amount"),
]


@pytest.mark.parametrize("expiry", ["0001-01-01", "1969-12-31"])
def test_credit_line_expiry_before_1970_is_422_naming_the_range(api: Api, expiry: str) -> None:
    block = api.platform.w3.eth.block_number
    line = api.credit_line("bank1", "core1")
    body = {"obligor": api.address("core1"), "limit": 1000, "expiry": expiry}
    for path, payload in (
        ("/v1/financier/credit-lines", body),
        (f"/v1/financier/credit-lines/{line}/adjust", {"limit": 1000, "expiry": expiry}),
    ):
        response = api.post("bank1", path, payload)
        assert response.status_code == 422, response.text
        error = response.json()["error"]
        assert error["code"] == "validation_error" and "1970-01-01" in error["message"], error
    assert api.platform.w3.eth.block_number == block + 1  # only the credit line of the setup


@pytest.mark.parametrize("value", [True, False, "1000", 1000.0, 10.5, "0x10", None])
def test_transfer_value_must_be_a_json_integer(api: Api, value: Any) -> None:
    block = api.platform.w3.eth.block_number
    response = api.post(
        "supplier1", "/v1/certificates/1/transfer", {"to": api.address("supplier2"), "value": value}
    )
    assert response.status_code == 422, response.text
    assert response.json()["error"]["code"] == "validation_error"
    assert "value" in response.json()["error"]["message"]
    assert api.platform.w3.eth.block_number == block  # nothing was sent


def test_openapi_money_fields_are_integers_in_fen(api: Api) -> None:
    schema = api.client.get("/openapi.json").json()
    components = schema["components"]["schemas"]
    checked = 0
    for path, field in MONEY:
        post = schema["paths"][path]["post"]
        ref = post["requestBody"]["content"]["application/json"]["schema"]["$ref"].rsplit("/", 1)[1]
        prop = components[ref]["properties"][field]
        assert prop["type"] == "integer", (path, prop)
        assert "fen" in prop.get("description", ""), (path, prop)
        assert "JSON integer" in prop["description"], (path, prop)
        checked += 1
    assert checked == len(MONEY)
    expiry = components["CreditLineCreate"]["properties"]["expiry"]
    assert "1970-01-01" in expiry.get("description", ""), expiry


@pytest.mark.parametrize("document_id", ["\x00", "not-a-document", "A" * 32])
def test_certificate_document_ids_are_checked_before_the_database(api: Api, document_id: str) -> None:
    # A NUL reached PostgreSQL and came back as 503 database_error (schemathesis found it).
    response = api.post(
        "core1",
        "/v1/core/certificates",
        {"supplier": api.address("supplier1"), "face": 1000, "maturity": api.today(30), "line_id": 1,
         "document_ids": [document_id]},
    )  # fmt: skip
    assert response.status_code == 422, response.text
    assert "document_ids" in response.json()["error"]["message"]
