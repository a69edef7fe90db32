"""Dashboard issue form: a refused issue keeps what was typed, marks the field and leaves no upload behind."""

from __future__ import annotations

import re

import httpx
import pytest
from dashkit import Live, dashboard_sign_in
from pydantic import ValidationError
from sqlmodel import Session, col, select

from tierflow.platform.dashboard import actions
from tierflow.platform.models.service import StoredDocument
from tierflow.platform.services.schemas.certificates import Quote


def _documents(live: Live, number: str) -> list[StoredDocument]:
    with Session(live.ctx.engine) as session:
        rows = session.exec(select(StoredDocument).where(col(StoredDocument.invoice_number) == number))
        return list(rows)


def _issue_form(
    live: Live, line_id: int, number: str, maturity: str
) -> tuple[dict[str, str], dict[str, tuple[str, bytes, str]]]:
    data = {
        "supplier": live.address("supplier1"), "face": "123,456.78", "maturity": maturity,
        "line_id": str(line_id), "invoice_numbers": number,
    }  # fmt: skip
    return data, {"invoices": ("invoice1.pdf", b"%PDF-1.4 invoice one", "application/pdf")}


def test_issue_form_keeps_typed_values_and_discards_uploads_when_refused(live: Live, line_core1: int) -> None:
    core = live.address("core1")
    client = httpx.Client(base_url=live.url, timeout=120)
    try:
        assert dashboard_sign_in(client, live.keys["core1"]).status_code == 303
        number = live.unique()
        # Five years out: beyond the platform's longest tenor, refused by the chain after the upload.
        data, files = _issue_form(live, line_core1, number, live.today(5 * 365))
        refused = client.post(f"/dashboard/core/{core}/issue", data=data, files=files)
        assert refused.status_code == 422, refused.text[:500]
        page = refused.text
        assert 'value="123,456.78"' in page
        assert f'value="{live.address("supplier1")}" selected' in page
        assert f">{number}</textarea>" in page
        maturity = re.search(r'<input id="is-maturity"[^>]*>', page)
        assert maturity is not None and 'aria-invalid="true"' in maturity.group(0), maturity
        assert 'data-testid="issue-error"' in page and 'data-testid="reattach"' in page
        # The refused attempt's file is gone: it cannot be attached to a later payable.
        assert _documents(live, number) == []

        for _ in range(2):  # the user retries twice with a wrong date, then gets it right
            assert client.post(f"/dashboard/core/{core}/issue", data=data, files=files).status_code == 422
        data["maturity"] = live.today(60)
        done = client.post(f"/dashboard/core/{core}/issue", data=data, files=files)
        assert done.status_code == 303, done.text[:500]
        rows = _documents(live, number)
        assert len(rows) == 1 and rows[0].slot_id is not None, rows
    finally:
        client.close()


def test_issue_binds_only_named_upload_when_invoice_uploaded_twice(live: Live, line_core1: int) -> None:
    number = live.unique()
    # an API client uploads, its issue fails, it uploads the same invoice again
    ids = [
        live.upload_invoice("core1", "supplier1", number, "invoice1.pdf", b"%PDF-1.4 invoice")
        for _ in range(2)
    ]
    issued = live.api("core1", "/v1/core/certificates", {
        "supplier": live.address("supplier1"), "face": 100_000, "maturity": live.today(60),
        "line_id": line_core1, "document_ids": [ids[1]],
    })  # fmt: skip
    slot = issued["result"]["slot_id"]
    bound = [row.document_id for row in _documents(live, number) if row.slot_id == slot]
    assert bound == [ids[1]]


def test_issue_form_refuses_an_invoice_backing_a_payable_awaiting_acceptance(
    live: Live, line_core1: int
) -> None:
    """An invoice already proposed for a payable its supplier has not accepted yet cannot back a second
    one from the form: the field is marked, the message says what to do, nothing is sent and the upload
    is discarded. Before, the second payable was issued, drawing the credit line again."""
    core, number = live.address("core1"), live.unique()
    first = live.upload_invoice("core1", "supplier1", number, "invoice1.pdf", b"%PDF-1.4 invoice one")
    slot = live.api("core1", "/v1/core/certificates", {
        "supplier": live.address("supplier1"), "face": 100_000, "maturity": live.today(60),
        "line_id": line_core1, "document_ids": [first],
    })["result"]["slot_id"]  # fmt: skip
    client = httpx.Client(base_url=live.url, timeout=120)
    try:
        assert dashboard_sign_in(client, live.keys["core1"]).status_code == 303
        block = live.platform.w3.eth.block_number
        data, files = _issue_form(live, line_core1, number, live.today(60))
        refused = client.post(f"/dashboard/core/{core}/issue", data=data, files=files)
        assert refused.status_code == 422, refused.text[:500]
        numbers = re.search(r'<textarea id="is-numbers"[^>]*>', refused.text)
        assert numbers is not None and 'aria-invalid="true"' in numbers.group(0), numbers
        assert f"already backs payable P{slot}" in refused.text and "Cancel" in refused.text
        assert live.platform.w3.eth.block_number == block
        assert [row.document_id for row in _documents(live, number)] == [first]
    finally:
        client.close()


@pytest.mark.parametrize(
    ("fields", "sentence"),
    [
        ({"rate_bps": 0}, "Annual rate: enter more than 0%."),
        ({"rate_bps": 450, "valid_hours": 0}, "Quote validity (hours): enter at least 1."),
    ],
)
def test_validation_error_names_field_in_business_words(fields: dict[str, int], sentence: str) -> None:
    with pytest.raises(ValidationError) as raised:
        Quote(**fields)  # type: ignore[arg-type]
    assert actions.explain(raised.value) == sentence
    assert "rate_bps" not in sentence and "Input should" not in sentence
