"""Canonical invoice keys: every typed variant of an invoice maps to one key; two invoices never share one."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tierflow.platform.security.crypto import invoice_hash
from tierflow.platform.security.invoice_keys import InvoiceKeyError, canonical_invoice

SELLER = "91310000MA1FL4XX1X"
MASTER = "master"

digital_numbers = st.text(alphabet="0123456789", min_size=20, max_size=20)
old_codes = st.one_of(
    st.text(alphabet="0123456789", min_size=10, max_size=10),
    st.text(alphabet="0123456789", min_size=12, max_size=12),
)
old_numbers = st.text(alphabet="0123456789", min_size=8, max_size=8)

PREFIXES = ["", "No.", "NO:", "no ", "№", "№ ", "Nr.", "No.第", "第", "发票号码：", "Invoice No. ", "#"]
SUFFIXES = ["", "号", " 号", "."]
NOISE = ["", " ", "\u3000", "-", "_", "/", ".", "\u200b", "\u200c", "\u200d", "\u2060", "\ufeff", "\t", "·"]


def _full_width(digits: str) -> str:
    return "".join(chr(ord(d) - ord("0") + 0xFF10) for d in digits)


@st.composite
def typed(draw: st.DrawFn, digits: str) -> str:
    """One way a person (or an attacker) might type `digits`."""
    out = []
    for d in digits:
        out.append(_full_width(d) if draw(st.booleans()) else d)
        out.append(draw(st.sampled_from(NOISE)))
    prefix = draw(st.sampled_from(PREFIXES))
    prefix = prefix.upper() if draw(st.booleans()) else prefix
    return prefix + draw(st.sampled_from(NOISE)) + "".join(out) + draw(st.sampled_from(SUFFIXES))


def _key(number: str, code: str | None = None, seller: str = SELLER) -> bytes:
    return invoice_hash(MASTER, seller_legal_id=seller, invoice_number=number, invoice_code=code)


@given(st.data(), digital_numbers)
def test_invoice_number_variants_map_to_one_key(data: st.DataObject, number: str) -> None:
    assert _key(data.draw(typed(number))) == _key(number)


@given(st.data(), old_codes, old_numbers)
def test_invoice_code_and_number_variants_map_to_one_key(data: st.DataObject, code: str, number: str) -> None:
    canonical = _key(number, code)
    assert _key(data.draw(typed(number)), data.draw(typed(code))) == canonical
    # the same invoice typed as one string in the number field
    assert _key(data.draw(typed(code + number))) == canonical


@given(digital_numbers, digital_numbers)
def test_different_invoice_numbers_never_collide(a: str, b: str) -> None:
    if a != b:
        assert _key(a) != _key(b)


@given(old_codes, old_numbers, old_codes, old_numbers)
def test_different_old_invoices_never_collide(c1: str, n1: str, c2: str, n2: str) -> None:
    if c1 + n1 != c2 + n2:
        assert _key(n1, c1) != _key(n2, c2)


def test_invoice_key_depends_on_seller_and_platform_key() -> None:
    number = "24312000000012345678"
    assert _key(number) != _key(number, seller="91310000OTHER00000")
    assert invoice_hash("other", seller_legal_id=SELLER, invoice_number=number) != _key(number)
    assert _key(number, seller=" 91310000ma1fl4xx1x\u200b") == _key(number)


@pytest.mark.parametrize(
    "number, code",
    [
        ("12345678", None),  # an old number without its code names no invoice uniquely
        ("1234567", "0440012345"),
        ("123456789012", None),
        ("INV-1", None),
        ("", None),
        ("24312000000012345678", "044001234567"),  # a fully digital invoice has no code
        ("１２３４５６７８９０１２３４５６７８９٠", None),  # Arabic-Indic zero is not an ASCII digit
    ],
)
def test_invoice_number_in_no_known_format_is_refused(number: str, code: str | None) -> None:
    with pytest.raises(InvoiceKeyError):
        canonical_invoice(number, code)
