"""Dates come back as they went in (issue 13): a maturity given as an ISO date is answered as the same ISO
date by every read, those rendered as JSON rows without a model too (lists, holdings, lineage), and
instants are ISO date-times in UTC ending in Z; the quote expiry a seller is shown is what it echoes back."""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
from typing import Any

from apikit import Api

INSTANT = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$")


def _rows(api: Api, who: str, path: str, key: str, value: int) -> list[dict[str, Any]]:
    return [r for r in api.get(who, path, limit=1000).json()["data"] if r[key] == value]


def _export(api: Api, table: str, key: str, value: int) -> list[dict[str, str]]:
    # The auditor's CSV, rendered by the database (services/exports.py), shows dates as the API does.
    response = api.client.get(f"/v1/audit/export/{table}.csv", headers=api.headers("auditor"))
    assert response.status_code == 200, response.text
    return [r for r in csv.DictReader(io.StringIO(response.text)) if r[key] == str(value)]


def test_api_dates_maturity_round_trips_as_iso_on_every_read(funded: Api) -> None:
    api = funded
    line = api.credit_line("bank1", "core1")
    slot, root = api.issue("core1", "supplier1", 500_000, line, days=75)
    maturity = api.today(75)  # what the core sent

    assert api.get("core1", f"/v1/payables/{slot}").json()["maturity"] == maturity
    assert [p["maturity"] for p in _rows(api, "core1", "/v1/core/payables", "slot_id", slot)] == [maturity]
    assert [p["maturity"] for p in _rows(api, "auditor", "/v1/audit/payables", "slot_id", slot)] == [maturity]
    held = _rows(api, "supplier1", "/v1/supplier/holdings", "token_id", root)
    assert [c["maturity"] for c in held] == [maturity]
    assert api.get("supplier1", f"/v1/certificates/{root}").json()["maturity"] == maturity
    tree = api.get("core1", f"/v1/payables/{slot}/lineage").json()["tokens"]
    assert {t["maturity"] for t in tree} == {maturity}
    lines = _rows(api, "core1", "/v1/core/credit-lines", "line_id", line)
    assert [c["expiry"] for c in lines] == [api.today(360)]
    me = api.get("supplier1", "/v1/me").json()
    assert INSTANT.match(me["created_at"]), me["created_at"]

    assert [p["maturity"] for p in _export(api, "payables", "slot_id", slot)] == [maturity]
    assert [c["maturity"] for c in _export(api, "certificates", "token_id", root)] == [maturity]
    [company] = _export(api, "participants", "address", me["address"])
    assert company["created_at"] == me["created_at"]


def test_api_dates_quote_expiry_is_an_instant_the_seller_echoes_back(funded: Api) -> None:
    api = funded
    line = api.credit_line("bank1", "core1")
    _, root = api.issue("core1", "supplier1", 400_000, line)
    request_id = api.ok("supplier1", "/v1/supplier/financing-requests", {
        "token_id": root, "amount": 100_000, "financier": api.address("bank1"), "with_recourse": False,
    })["result"]["request_id"]  # fmt: skip
    api.ok("bank1", f"/v1/financier/requests/{request_id}/quote", {"rate_bps": 450, "valid_hours": 24})

    [shown] = _rows(api, "supplier1", "/v1/supplier/financing-requests", "request_id", request_id)
    expiry = shown["quote_expiry"]
    assert INSTANT.match(expiry), expiry
    now = dt.datetime.fromtimestamp(api.platform.now(), dt.UTC)
    assert dt.timedelta(hours=23) < dt.datetime.fromisoformat(expiry) - now <= dt.timedelta(hours=24)
    assert api.get("bank1", f"/v1/financier/requests/{request_id}").json()["quote_expiry"] == expiry
    [listed] = _rows(api, "bank1", "/v1/financier/requests", "request_id", request_id)
    assert listed["quote_expiry"] == expiry
    assert [r["quote_expiry"] for r in _export(api, "financing-requests", "request_id", request_id)] == [
        expiry
    ]

    terms = {"rate_bps": shown["rate_bps"], "price": shown["price"], "expiry": expiry}
    api.ok("supplier1", f"/v1/supplier/financing-requests/{request_id}/accept-quote", terms)
