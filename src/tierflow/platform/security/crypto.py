"""Key derivation from the master key, AES-GCM sealing, API keys and platform-wide invoice hashes.

Every secret the service keeps at rest is derived from `settings.master_key` with HKDF-SHA256 under
its own label, so one compromised purpose key (say, the invoice-hash key) reveals nothing about the
others, and rotating the master key rotates them all.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
import unicodedata
from dataclasses import dataclass
from functools import lru_cache

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from tierflow.errors import TierflowError
from tierflow.platform.security.invoice_keys import invoice_identity

# HKDF labels; a new version of a format gets a new label, old data stays readable under the old one.
CUSTODY_LABEL = b"tierflow/custodial-keys/v1"
DOCUMENT_LABEL = b"tierflow/documents/v1"
INVOICE_LABEL = b"tierflow/invoice-hash/v1"
ENTITY_SALT_LABEL = b"tierflow/entity-salt/v1"

_SEAL_VERSION = b"\x01"
_NONCE_LEN = (
    12  # 96-bit random nonces: the AES-GCM standard size; collision risk negligible below 2**32 seals
)

API_KEY_PREFIX = "tf"


class DecryptionError(TierflowError):
    """A sealed value does not open under this master key (wrong key, tampered data or wrong row)."""


@lru_cache(maxsize=32)
def derive_key(master_key: str, label: bytes) -> bytes:
    """A 256-bit purpose key derived from the master key."""
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=b"tierflow", info=label).derive(
        master_key.encode()
    )


def seal(key: bytes, plaintext: bytes, associated: bytes) -> bytes:
    """AES-256-GCM encrypt; `associated` binds the ciphertext to its row (copying it elsewhere fails)."""
    nonce = os.urandom(_NONCE_LEN)
    return _SEAL_VERSION + nonce + AESGCM(key).encrypt(nonce, plaintext, associated)


def unseal(key: bytes, sealed: bytes, associated: bytes) -> bytes:
    if len(sealed) < 1 + _NONCE_LEN + 16 or sealed[:1] != _SEAL_VERSION:
        raise DecryptionError("sealed value is malformed")
    nonce, body = sealed[1 : 1 + _NONCE_LEN], sealed[1 + _NONCE_LEN :]
    try:
        return AESGCM(key).decrypt(nonce, body, associated)
    except InvalidTag as error:
        raise DecryptionError(
            "sealed value does not open: wrong TIERFLOW_MASTER_KEY or tampered data"
        ) from error


@dataclass(frozen=True)
class IssuedApiKey:
    key_id: str
    secret: str  # shown to the participant once, never stored

    @property
    def token(self) -> str:
        return f"{API_KEY_PREFIX}_{self.key_id}_{self.secret}"


def new_api_key() -> IssuedApiKey:
    return IssuedApiKey(key_id=secrets.token_hex(6), secret=secrets.token_urlsafe(32))


def parse_api_key(token: str) -> tuple[str, str] | None:
    """(key id, secret) of a well-formed token, else None."""
    parts = token.strip().split("_", 2)
    if len(parts) != 3 or parts[0] != API_KEY_PREFIX or not parts[1] or not parts[2]:
        return None
    return parts[1], parts[2]


def hash_api_key(secret: str) -> str:
    # The secret carries 256 bits of entropy: a fast hash is enough (no dictionary to attack), and
    # it keeps authentication to one SHA-256 per request instead of a deliberately slow KDF.
    return hashlib.sha256(secret.encode()).hexdigest()


def api_key_matches(secret: str, stored_hash: str) -> bool:
    return hmac.compare_digest(hash_api_key(secret), stored_hash)


def normalise_legal_id(legal_id: str) -> str:
    return unicodedata.normalize("NFKC", legal_id).strip().upper()


def invoice_hash(
    master_key: str, *, seller_legal_id: str, invoice_number: str, invoice_code: str | None = None
) -> bytes:
    """The on-chain key of an invoice: the same for every upload and every way of typing it, platform-wide.

    HMAC-SHA256 under a platform key over the canonical identity (seller's legal id, invoice code ‖
    number; see `invoice_keys`). Deterministic, so the DocumentRegistry's "one invoice backs one
    asset" holds however often the invoice is uploaded and whatever the file looks like; keyed,
    because invoice numbers have little entropy and a plain hash on a public chain could be reversed
    by enumeration. Raises InvoiceKeyError for a number in neither invoice format.
    """
    identity = invoice_identity(seller_legal_id=seller_legal_id, number=invoice_number, code=invoice_code)
    return hmac.new(derive_key(master_key, INVOICE_LABEL), identity.encode(), hashlib.sha256).digest()


def entity_salt(master_key: str, address: str) -> bytes:
    """Per-participant salt of the on-chain entity hash (the legal id itself stays off chain)."""
    return hmac.new(
        derive_key(master_key, ENTITY_SALT_LABEL), address.lower().encode(), hashlib.sha256
    ).digest()
