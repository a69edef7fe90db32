"""Key custody, document sealing, API keys and platform-wide invoice hashes (no chain needed)."""

from __future__ import annotations

import pytest
from apikit import Api
from eth_account import Account
from sqlmodel import Session

from tierflow.platform.models.service import DirectoryParticipant, StoredDocument
from tierflow.platform.security.crypto import (
    CUSTODY_LABEL,
    DOCUMENT_LABEL,
    DecryptionError,
    api_key_matches,
    derive_key,
    hash_api_key,
    invoice_hash,
    new_api_key,
    parse_api_key,
    seal,
    unseal,
)


def test_seal_round_trip_and_tampering() -> None:
    key = derive_key("master", DOCUMENT_LABEL)
    sealed = seal(key, b"invoice bytes", b"doc-1")
    assert unseal(key, sealed, b"doc-1") == b"invoice bytes"
    assert seal(key, b"invoice bytes", b"doc-1") != sealed  # a fresh nonce every time
    with pytest.raises(DecryptionError):
        unseal(key, sealed, b"doc-2")  # moved to another row
    with pytest.raises(DecryptionError):
        unseal(derive_key("other master", DOCUMENT_LABEL), sealed, b"doc-1")
    with pytest.raises(DecryptionError):
        unseal(key, sealed[:-1] + bytes([sealed[-1] ^ 1]), b"doc-1")
    assert derive_key("master", DOCUMENT_LABEL) != derive_key("master", CUSTODY_LABEL)


def test_invoice_hash_is_deterministic_per_invoice_and_keyed() -> None:
    # an older invoice: code 044001234567 + number 00012345 (test_invoice_keys.py has the properties)
    a = invoice_hash("m", seller_legal_id="91310000ma1fl4xx1x", invoice_number="0440-0123 4567 00012345")
    b = invoice_hash(
        "m", seller_legal_id=" 91310000MA1FL4XX1X", invoice_number="00012345", invoice_code="044001234567"
    )
    c = invoice_hash(
        "m", seller_legal_id="91310000MA1FL4XX1X", invoice_number="０４４００１２３４５６７０００１２３４５"
    )  # full width
    assert a == b == c and len(a) == 32
    assert invoice_hash("m", seller_legal_id="91310000MA1FL4XX1X", invoice_number="04400123456700012346") != a
    assert invoice_hash("m", seller_legal_id="91310000OTHER00000", invoice_number="04400123456700012345") != a
    number = "04400123456700012345"
    assert invoice_hash("other", seller_legal_id="91310000MA1FL4XX1X", invoice_number=number) != a


def test_api_keys_are_stored_hashed() -> None:
    issued = new_api_key()
    assert parse_api_key(issued.token) == (issued.key_id, issued.secret)
    stored = hash_api_key(issued.secret)
    assert issued.secret not in stored and api_key_matches(issued.secret, stored)
    assert not api_key_matches(issued.secret + "x", stored)
    assert parse_api_key("tf_only") is None and parse_api_key("xx_a_b") is None


def test_custodial_keys_and_documents_are_encrypted_at_rest(funded: Api) -> None:
    api = funded
    created = api.onboard("Hefei Glass Co.", id_prefix="9134")
    address = created["participant"]["address"]
    number = api.invoice_number()
    document_id = api.invoice("core1", "supplier1", number)
    with Session(api.ctx.engine) as session:
        row = session.get(DirectoryParticipant, address)
        assert row is not None and row.encrypted_key is not None
        key = unseal(
            derive_key(api.ctx.settings.master_key, CUSTODY_LABEL), row.encrypted_key, address.encode()
        )
        assert Account.from_key(key).address == address
        assert key not in row.encrypted_key
        assert row.legal_id and row.legal_id not in row.entity_hash  # only a salted hash goes on chain
        document = session.get(StoredDocument, document_id)
        assert document is not None and b"%PDF" not in document.ciphertext
        assert (
            document.doc_hash
            == "0x"
            + invoice_hash(
                api.ctx.settings.master_key,
                seller_legal_id=session.get(DirectoryParticipant, api.address("supplier1")).legal_id,  # type: ignore[union-attr]
                invoice_number=number,
            ).hex()
        )


def test_document_upload_is_for_core_enterprises_and_validated(api: Api) -> None:
    def upload(who: str, **data: str) -> int:
        files = {"file": ("x.pdf", b"%PDF x", "application/pdf")}
        number = api.invoice_number()
        fields = {"seller": api.address("supplier1"), "kind": "invoice", "invoice_number": number, **data}
        return api.client.post(
            "/v1/core/documents", headers=api.headers(who), files=files, data=fields
        ).status_code

    for who in ("supplier1", "bank1", "auditor", "operator"):
        assert upload(who) == 403
    assert upload("core1", invoice_number="") == 422
    assert upload("core1", invoice_number="N-1") == 422  # no invoice format: give the printed digits
    assert upload("core1", invoice_number="12345678") == 422  # an old number needs its code
    assert upload("core1", seller="0x0000000000000000000000000000000000000001") == 404
    assert upload("core1", seller="nope") == 422
    assert upload("core1") == 200
