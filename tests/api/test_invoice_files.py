"""An uploaded invoice file is checked against the invoice it is filed as, where its format can be read."""

from __future__ import annotations

import io
import zipfile

import pytest
from apikit import Api

from tierflow.platform.security.invoice_keys import canonical_invoice
from tierflow.platform.services.errors import InvalidRequest
from tierflow.platform.services.invoice_files import NOT_VERIFIED, VERIFIED, verify

NUMBER = "24312000000012345678"
SELLER = "91310000MA1FL4XX1X"


def text_pdf(*lines: str) -> bytes:
    """A one-page PDF whose text layer holds `lines` (Helvetica, ASCII), with a correct xref table."""
    stream = "BT /F1 12 Tf 72 720 Td 14 TL " + " ".join(f"({line}) '" for line in lines) + " ET"
    objects = [
        "<< /Type /Catalog /Pages 2 0 R >>",
        "<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R "
        "/Resources << /Font << /F1 5 0 R >> >> >>",
        f"<< /Length {len(stream)} >>\nstream\n{stream}\nendstream",
        "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    out = b"%PDF-1.4\n"
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += f"{number} 0 obj\n{body}\nendobj\n".encode()
    xref = len(out)
    out += f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode()
    out += b"".join(f"{offset:010d} 00000 n \n".encode() for offset in offsets)
    out += f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n".encode()
    return out


def xml_invoice(number: str = NUMBER, seller: str = SELLER) -> bytes:
    return (
        '<?xml version="1.0" encoding="UTF-8"?><EInvoice xmlns="http://example.invalid/einvoice">'
        f"<Header><EIid>{number}</EIid></Header><Seller><SellerIdNum>{seller}</SellerIdNum></Seller>"
        "<TotalAmount>1130.00</TotalAmount></EInvoice>"
    ).encode()


def ofd(xml: bytes) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("OFD.xml", "<ofd:OFD xmlns:ofd='http://www.ofdspec.org/2016'/>")
        archive.writestr("Doc_0/Attachs/original_invoice.xml", xml)
    return buffer.getvalue()


def _verify(content: bytes, number: str = NUMBER, code: str | None = None, amount: int | None = None) -> str:
    return verify(content, claimed=canonical_invoice(number, code), seller_legal_id=SELLER, amount=amount)


def test_verify_pdf_text_layer_matches_or_refuses() -> None:
    pdf = text_pdf("VAT invoice (fully digital)", f"Invoice No. {NUMBER}", f"Seller tax id {SELLER}")
    assert _verify(pdf) == VERIFIED
    with pytest.raises(InvalidRequest) as caught:
        _verify(pdf, "24312000000012345679")
    assert caught.value.code == "invoice_file_mismatch" and "24312000000012345679" in str(caught.value)
    other_seller = text_pdf(f"Invoice No. {NUMBER}", "Seller tax id 91440300MA5EXXXX0Y")
    with pytest.raises(InvalidRequest, match="seller"):
        _verify(other_seller)
    old_kind = text_pdf("Invoice code 044031900111", "Invoice No. 00123456")
    assert _verify(old_kind, "00123456", "044031900111") == VERIFIED
    with_total = text_pdf(f"Invoice No. {NUMBER}", "Tax 130.00", "Total 1,130.00")
    assert _verify(with_total, amount=113_000) == VERIFIED
    with pytest.raises(InvalidRequest, match="amounts"):
        _verify(with_total, amount=213_000)


def test_verify_xml_and_ofd_read_the_tagged_fields() -> None:
    assert _verify(xml_invoice()) == VERIFIED
    assert _verify(ofd(xml_invoice()), amount=113_000) == VERIFIED  # TotalAmount 1130.00
    with pytest.raises(InvalidRequest, match="amounts"):
        _verify(xml_invoice(), amount=113_001)
    for wrong in (xml_invoice(number="24312000000099999999"), ofd(xml_invoice(seller="91440300MA5EXXXX0Y"))):
        with pytest.raises(InvalidRequest):
            _verify(wrong)


def test_verify_unreadable_files_are_not_verified() -> None:
    assert _verify(b"\x89PNG\r\n\x1a\n scan") == NOT_VERIFIED
    assert _verify(b"%PDF a scan without a text layer") == NOT_VERIFIED
    assert _verify(text_pdf("Delivery note", "thank you")) == NOT_VERIFIED  # no number at all
    assert _verify(b"PK\x03\x04 broken zip") == NOT_VERIFIED


def test_upload_refuses_mismatch_and_shows_verification(api: Api) -> None:
    def upload(content: bytes, number: str, **extra: str) -> tuple[int, dict[str, object]]:
        response = api.client.post(
            "/v1/core/documents",
            headers=api.headers("core1"),
            files={"file": ("invoice.pdf", content, "application/pdf")},
            data={"seller": api.address("supplier1"), "kind": "invoice", "invoice_number": number, **extra},
        )
        return response.status_code, response.json()

    number = api.invoice_number()
    status, body = upload(text_pdf(f"Invoice No. {number}"), number)
    assert status == 200 and body["verification"] == "verified", body
    status, body = upload(text_pdf(f"Invoice No. {number}"), api.invoice_number())
    assert status == 422 and body["error"]["code"] == "invoice_file_mismatch", body  # type: ignore[index]
    number = api.invoice_number()
    status, body = upload(text_pdf(f"Invoice No. {number}", "Total 1,130.00"), number, invoice_amount="99900")
    assert status == 422 and body["error"]["code"] == "invoice_file_mismatch", body  # type: ignore[index]
    status, body = upload(b"\x89PNG scan", api.invoice_number())
    assert status == 200 and body["verification"] == "not_verified"
