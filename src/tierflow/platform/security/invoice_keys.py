"""Canonical invoice identities: every way of typing an invoice gives one key; two invoices never share one.

A Chinese VAT invoice is identified by its seller and its number: the 20-digit number of a fully
digital invoice (全电发票), or the invoice code (发票代码, 10 or 12 digits) plus the 8-digit number
(发票号码) of the older kind. People type them with full-width digits, spaces, dashes, zero-width
characters, "No." / "№" / "NO:" / "第…号" / "发票号码：" around them; each variant used to give
another key, so one invoice could back several assets. Here every variant is reduced to the digits
before keying, and anything that is not one of the two formats is refused (an 8-digit number
without its code names no invoice uniquely: the same number recurs under every code).

The identity keyed is `seller legal id : code ‖ number` — the code and the number concatenated,
so an old-kind invoice typed as code + number or as one 18/20-digit string has one key. A
fully digital number and an old-kind code ‖ number that happen to have the same 20 digits share a
key: that can only refuse a genuine second invoice (the operator then clears it by hand), never
let one invoice back two assets.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass

from tierflow.errors import TierflowError

DIGITAL_LENGTH = 20  # 全电发票号码
CODE_LENGTHS = (10, 12)  # 发票代码 of the older kind (专用 10, 普通 12)
NUMBER_LENGTH = 8  # 发票号码 of the older kind

# Label words people put before a number, compared after NFKC + case folding with separators gone.
# Longest first, so "发票号码" is dropped whole and not as "发票" + leftover.
_PREFIXES = (
    "invoicenumber",
    "invoiceno",
    "invoice",
    "发票号码",
    "发票代码",
    "发票号",
    "票号",
    "number",
    "no",
    "nr",
    "第",
)
_SUFFIXES = ("号码", "号")


class InvoiceKeyError(TierflowError, ValueError):
    """An invoice number (or code, or legal id) that names no invoice in a known format."""


def _strip(text: str) -> str:
    """NFKC, case-folded, with whitespace, zero-width/format characters, punctuation and symbols removed."""
    folded = unicodedata.normalize("NFKC", text).casefold()
    # Categories Z* (separators), C* (controls, and Cf: zero-width space/joiners, BOM), P* and S*.
    return "".join(ch for ch in folded if unicodedata.category(ch)[0] not in "ZCPS")


def _digits(text: str, what: str) -> str:
    """The digits of one typed field after normalisation and dropping label words around them."""
    value = _strip(text)
    changed = True
    while changed:  # "No. 第12345号" has two labels
        changed = False
        for prefix in _PREFIXES:
            if value.startswith(prefix) and len(value) > len(prefix):
                value, changed = value[len(prefix) :], True
                break
    for suffix in _SUFFIXES:
        if value.endswith(suffix):
            value = value[: -len(suffix)]
            break
    if not value.isascii() or not value.isdigit():
        raise InvoiceKeyError(
            f"{what} {text!r} is not a number: give the digits printed on the invoice "
            "(labels such as No., №, 第…号 and spaces are fine)"
        )
    return value


@dataclass(frozen=True)
class InvoiceId:
    """An invoice in canonical form: `code` is empty for a fully digital invoice."""

    code: str
    number: str

    @property
    def digits(self) -> str:
        return self.code + self.number


def canonical_invoice(number: str, code: str | None = None) -> InvoiceId:
    """Parse a typed invoice number (and code) into its canonical form; InvoiceKeyError if neither format."""
    n = _digits(number, "invoice number")
    c = _digits(code, "invoice code") if code is not None and _strip(code) else ""
    if c:
        if len(c) not in CODE_LENGTHS or len(n) != NUMBER_LENGTH:
            raise InvoiceKeyError(
                f"an invoice code has 10 or 12 digits and its number 8 (got {len(c)} and {len(n)}); "
                "a fully digital invoice (全电发票) has a 20-digit number and no code"
            )
        return InvoiceId(code=c, number=n)
    if len(n) == DIGITAL_LENGTH:
        return InvoiceId(code="", number=n)
    if len(n) - NUMBER_LENGTH in CODE_LENGTHS:  # code and number typed as one string
        return InvoiceId(code=n[:-NUMBER_LENGTH], number=n[-NUMBER_LENGTH:])
    if len(n) == NUMBER_LENGTH:
        raise InvoiceKeyError(
            "an 8-digit invoice number needs its invoice code (发票代码, 10 or 12 digits): "
            "the same number recurs under every code"
        )
    raise InvoiceKeyError(
        f"invoice number has {len(n)} digits: give the 20-digit number of a fully digital invoice "
        "(全电发票), or the invoice code and 8-digit number of an older one"
    )


def canonical_legal_id(legal_id: str) -> str:
    """A unified social credit code (统一社会信用代码) in canonical form: NFKC, upper case, no separators."""
    value = unicodedata.normalize("NFKC", legal_id)
    # Legal ids are checked at onboarding; here only the typing variants are removed.
    return "".join(ch for ch in value if unicodedata.category(ch)[0] not in "ZCPS").upper()


def invoice_identity(*, seller_legal_id: str, number: str, code: str | None = None) -> str:
    """The string that is keyed: seller and invoice digits, unambiguous (':' never occurs inside)."""
    invoice = canonical_invoice(number, code)
    return f"invoice:v2:{canonical_legal_id(seller_legal_id)}:{invoice.digits}"
