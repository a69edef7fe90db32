"""Check an uploaded invoice file against the number (and seller) it is uploaded as, where the format allows.

A PDF with a text layer, an XML e-invoice and an OFD (a zip of XML parts, the national e-invoice
format) state their own invoice number, code and seller's tax id; the upload must name the same
invoice, or it is refused (otherwise a file of one invoice could be filed as any number). A scan, an
image or a PDF without text cannot be read here: it is stored as "not verified", which the bank sees
next to the document. Parsing is bounded (pages, zip members, sizes): files come from participants.
"""

from __future__ import annotations

import io
import re
import unicodedata
import zipfile
from dataclasses import dataclass
from xml.etree import ElementTree

from tierflow.platform import i18n
from tierflow.platform.security.invoice_keys import InvoiceId, canonical_legal_id
from tierflow.platform.services.errors import InvalidRequest

VERIFIED = "verified"
NOT_VERIFIED = "not_verified"

MAX_PDF_PAGES = 5
MAX_XML_BYTES = 2 * 1024 * 1024
MAX_OFD_MEMBERS = 200

# Element names (local part, case-insensitive) of the invoice number, code and seller id in the XML of
# fully digital invoices, OFD invoices and common exports (pinyin abbreviations included).
_NUMBER_TAGS = {"invoicenumber", "invoiceno", "eiid", "fphm", "发票号码"}
_CODE_TAGS = {"invoicecode", "fpdm", "发票代码"}
_SELLER_TAGS = {"selleridnum", "sellertaxid", "sellertaxno", "xsfnsrsbh", "xfsh", "销售方纳税人识别号"}
_AMOUNT_TAGS = {"totaltax-includedamount", "totalamountwithtax", "totalamount", "jshj", "价税合计"}
_YUAN = re.compile(r"(?<![\d.])(\d{1,3}(?:,\d{3})+|\d+)\.(\d{2})(?!\d)")
_DIGITS = re.compile(r"\d+")
_TAX_ID = re.compile(r"(?<![0-9A-Z])[0-9A-HJ-NP-RTUWXY]{2}\d{6}[0-9A-HJ-NP-RTUWXY]{10}(?![0-9A-Z])")


@dataclass(frozen=True)
class Found:
    """What a file says about itself: digit runs of its text, and tagged fields where it has them."""

    numbers: frozenset[str]
    codes: frozenset[str]
    sellers: frozenset[str]
    digit_runs: frozenset[str]
    tax_ids: frozenset[str]
    amounts: frozenset[int] = frozenset()  # [fen] tagged totals, or every yuan amount of the text


def verify(content: bytes, *, claimed: InvoiceId, seller_legal_id: str, amount: int | None = None) -> str:
    """VERIFIED or NOT_VERIFIED; InvalidRequest when the file names another invoice, seller or amount.

    `amount` [fen], when the upload states the total, must be the file's tagged total (XML, OFD) or
    appear among the yuan amounts of its text (PDF).
    """
    found = _read(content)
    if found is None:
        return NOT_VERIFIED
    seller = canonical_legal_id(seller_legal_id)
    if found.numbers:  # tagged: exact fields
        number_ok = claimed.number in found.numbers or claimed.digits in found.numbers
        code_ok = not claimed.code or claimed.code in found.codes or claimed.digits in found.numbers
        if not (number_ok and code_ok):
            shown = ", ".join(sorted(found.codes | found.numbers))
            _mismatch(
                i18n.gettext(
                    "The file is invoice %(shown)s, not %(claimed)s: upload the file of the invoice you "
                    "name, or correct the invoice number.",
                    shown=shown,
                    claimed=claimed.digits,
                )
            )
        sellers = found.sellers
    else:  # text: the claimed digits must appear as a run of their own
        runs = found.digit_runs
        looks_like_invoice = any(len(r) in (8, 10, 12, 18, 20) for r in runs)
        if not looks_like_invoice:
            return NOT_VERIFIED
        number_ok = claimed.digits in runs or (
            claimed.code != "" and claimed.code in runs and claimed.number in runs
        )
        if not number_ok:
            _mismatch(
                i18n.gettext(
                    "The file does not show invoice number %(claimed)s: upload the file of the invoice "
                    "you name, or correct the invoice number.",
                    claimed=claimed.digits,
                )
            )
        sellers = found.tax_ids
    if sellers and seller not in sellers:
        _mismatch(
            i18n.gettext(
                "The file names the seller %(found)s, not the seller's legal id %(seller)s: upload the "
                "invoice this seller issued.",
                found=i18n.translate(", ").join(sorted(sellers)),
                seller=seller,
            )
        )
    if amount is not None and found.amounts and amount not in found.amounts:
        _mismatch(
            i18n.gettext(
                "The file's amounts are %(shown)s, not %(amount)s: upload the invoice for this amount, or "
                "correct the amount.",
                shown=i18n.translate(", ").join(i18n.money(a) for a in sorted(found.amounts)[:5]),
                amount=i18n.money(amount),
            )
        )
    return VERIFIED


def _mismatch(message: str) -> None:
    """Refuse an upload whose file contradicts what it claims (each message says what and what to do)."""
    raise InvalidRequest(message, code="invoice_file_mismatch")


def _read(content: bytes) -> Found | None:
    if content.startswith(b"%PDF"):
        return _from_text(_pdf_text(content))
    if content.startswith(b"PK"):
        return _ofd(content)
    head = content.lstrip()[:64]
    if head.startswith(b"<"):
        return _xml([content])
    return None


def _pdf_text(content: bytes) -> str | None:
    from pypdf import PdfReader  # imported here: only uploads of PDFs pay for it
    from pypdf.errors import PyPdfError

    try:
        reader = PdfReader(io.BytesIO(content))
        return "\n".join(page.extract_text() or "" for page in reader.pages[:MAX_PDF_PAGES])
    except (PyPdfError, ValueError, KeyError, TypeError, AttributeError, IndexError):
        return None  # not a PDF we can read: treated like a scan


def _from_text(text: str | None) -> Found | None:
    if not text or not text.strip():
        return None
    normal = unicodedata.normalize("NFKC", text)
    # Digit groups split by spaces or dashes inside a number ("2431 2000 …") are one run.
    joined = re.sub(r"(?<=\d)[ \t\-]+(?=\d)", "", normal)
    return Found(
        numbers=frozenset(),
        codes=frozenset(),
        sellers=frozenset(),
        digit_runs=frozenset(_DIGITS.findall(joined)),
        tax_ids=frozenset(_TAX_ID.findall(normal.upper())),
        amounts=frozenset(_fen(whole, cents) for whole, cents in _YUAN.findall(normal)),
    )


def _fen(whole: str, cents: str) -> int:
    return int(whole.replace(",", "")) * 100 + int(cents)


def _ofd(content: bytes) -> Found | None:
    try:
        with zipfile.ZipFile(io.BytesIO(content)) as archive:
            parts = []
            for info in archive.infolist()[:MAX_OFD_MEMBERS]:
                if info.filename.lower().endswith(".xml") and info.file_size <= MAX_XML_BYTES:
                    parts.append(archive.read(info))
    except (zipfile.BadZipFile, OSError, ValueError):
        return None
    return _xml(parts)


def _xml(parts: list[bytes]) -> Found | None:
    numbers: set[str] = set()
    codes: set[str] = set()
    sellers: set[str] = set()
    amounts: set[int] = set()
    texts: list[str] = []
    for part in parts:
        if len(part) > MAX_XML_BYTES:
            continue
        try:
            root = ElementTree.fromstring(part)  # expat refuses entity-expansion bombs (Python ≥ 3.7.1)
        except ElementTree.ParseError:
            continue
        for element in root.iter():
            name = str(element.tag).rsplit("}", 1)[-1].lower()
            value = unicodedata.normalize("NFKC", (element.text or "").strip())
            if not value:
                continue
            texts.append(value)
            compact = re.sub(r"\s+", "", value)
            if name in _NUMBER_TAGS:
                numbers.add(compact)
            elif name in _CODE_TAGS:
                codes.add(compact)
            elif name in _SELLER_TAGS:
                sellers.add(canonical_legal_id(compact))
            elif name in _AMOUNT_TAGS and (total := _YUAN.fullmatch(compact.lstrip("¥"))):
                amounts.add(_fen(*total.groups()))
    if numbers:
        tagged = (frozenset(numbers), frozenset(codes), frozenset(sellers))
        return Found(*tagged, digit_runs=frozenset(), tax_ids=frozenset(), amounts=frozenset(amounts))
    # An OFD page keeps its text in TextCode elements: read it like a PDF's text layer.
    return _from_text("\n".join(texts))
