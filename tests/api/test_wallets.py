"""Self custody with standard wallets: signed by an independent EIP-712 encoder and secp256k1 signer
(pycryptodome's keccak, coincurve; not eth-account), as ethers v6 and hardware wallets sign."""

from __future__ import annotations

from typing import Any

import pytest
from apikit import Api
from coincurve import PrivateKey
from Crypto.Hash import keccak as _keccak
from eth_account import Account

# What ethers v6 `signTypedData(domain, types, value)` derives the domain's type from (it refuses
# `types` that contain EIP712Domain): the fields present, in this order.
DOMAIN_ORDER = [("name", "string"), ("version", "string"), ("chainId", "uint256"),
                ("verifyingContract", "address"), ("salt", "bytes32")]  # fmt: skip


def keccak(data: bytes) -> bytes:
    return _keccak.new(digest_bits=256, data=data).digest()


def _encode_type(primary: str, types: dict[str, list[dict[str, str]]]) -> str:
    return primary + "(" + ",".join(f"{f['type']} {f['name']}" for f in types[primary]) + ")"


def _word(kind: str, value: Any) -> bytes:
    if kind == "string":
        return keccak(value.encode())
    if kind == "bytes":
        return keccak(bytes.fromhex(value[2:]))
    if kind == "address":
        return bytes(12) + bytes.fromhex(value[2:])
    if kind.startswith("uint"):
        return int(value).to_bytes(32, "big")
    raise AssertionError(f"the test encoder does not know {kind}")


def _hash_struct(primary: str, types: dict[str, list[dict[str, str]]], data: dict[str, Any]) -> bytes:
    encoded = keccak(_encode_type(primary, types).encode())
    for item in types[primary]:
        encoded += _word(item["type"], data[item["name"]])
    return keccak(encoded)


def ethers_digest(typed: dict[str, Any]) -> bytes:
    """The EIP-712 digest as ethers v6 computes it: EIP712Domain dropped from `types`, derived instead."""
    types = {name: fields for name, fields in typed["types"].items() if name != "EIP712Domain"}
    domain = typed["domain"]
    types["EIP712Domain"] = [{"name": n, "type": t} for n, t in DOMAIN_ORDER if n in domain]
    separator = _hash_struct("EIP712Domain", types, domain)
    return keccak(b"\x19\x01" + separator + _hash_struct(typed["primaryType"], types, typed["message"]))


def sign_raw(key: bytes, digest: bytes) -> tuple[bytes, bytes, int]:
    """(r, s, y parity 0/1), as a hardware wallet reports it."""
    signature = PrivateKey(key).sign_recoverable(digest, hasher=None)
    return signature[:32], signature[32:64], signature[64]


def compact(r: bytes, s: bytes, parity: int) -> bytes:
    """EIP-2098: the parity in the top bit of s."""
    return r + (int.from_bytes(s, "big") | (parity << 255)).to_bytes(32, "big")


@pytest.fixture(scope="module")
def wallet(funded: Api) -> tuple[Api, bytes, dict[str, str]]:
    account = Account.create()
    response = funded.post("operator", "/v1/operator/participants", {
        "legal_name": "Wallet Co.", "legal_id": funded.unique("9145"), "roles": ["supplier"],
        "custody": "self", "address": account.address,
    })  # fmt: skip
    assert response.status_code == 200, response.text
    return funded, bytes(account.key), {"X-API-Key": response.json()["api_key"]}


def _prepare(api: Api, headers: dict[str, str], amount: int) -> dict[str, Any]:
    prepared = api.client.post(
        "/v1/settlement/approvals", headers=headers, json={"spender": "Financing", "amount": amount}
    )
    assert prepared.status_code == 202, prepared.text
    typed: dict[str, Any] = prepared.json()["forward_request"]
    return typed


def _relayers_nonce(api: Api) -> int:
    return sum(api.platform.w3.eth.get_transaction_count(r.address) for r in api.ctx.gateway().relayers)


@pytest.mark.parametrize("form", ["v=0/1", "eip-2098", "v=27/28"])
def test_relay_accepts_standard_wallet_signatures(
    wallet: tuple[Api, bytes, dict[str, str]], form: str
) -> None:
    api, key, headers = wallet
    amount = {"v=0/1": 11, "eip-2098": 12, "v=27/28": 13}[form]
    typed = _prepare(api, headers, amount)
    r, s, parity = sign_raw(key, ethers_digest(typed))
    signature = {
        "v=0/1": r + s + bytes([parity]),
        "eip-2098": compact(r, s, parity),
        "v=27/28": r + s + bytes([27 + parity]),
    }[form]
    sent = _relayers_nonce(api)
    relayed = api.client.post(
        "/v1/relay", headers=headers, json={"request": typed["message"], "signature": "0x" + signature.hex()}
    )
    assert relayed.status_code == 200, relayed.text
    assert any(e["event"] == "Approval" for e in relayed.json()["events"])
    assert _relayers_nonce(api) == sent + 1


def test_relay_accepts_hex_quantities(wallet: tuple[Api, bytes, dict[str, str]]) -> None:
    api, key, headers = wallet
    typed = _prepare(api, headers, 14)
    r, s, parity = sign_raw(key, ethers_digest(typed))
    message = {k: hex(v) if isinstance(v, int) else v for k, v in typed["message"].items()}
    relayed = api.client.post(
        "/v1/relay",
        headers=headers,
        json={"request": message, "signature": "0x" + (r + s + bytes([parity])).hex()},
    )
    assert relayed.status_code == 200, relayed.text


@pytest.mark.parametrize(
    ("change", "code"),
    [
        ({"value": 1}, "value_not_zero"),
        ({"gas": 10**9}, "gas_out_of_range"),
        ({"deadline": 2**48}, "deadline_out_of_range"),
        ({"nonce": "twelve"}, "validation_error"),
    ],
)
def test_relay_error_codes_name_the_problem(
    wallet: tuple[Api, bytes, dict[str, str]], change: dict[str, Any], code: str
) -> None:
    api, key, headers = wallet
    typed = _prepare(api, headers, 15)
    message = {**typed["message"], **change}
    r, s, parity = sign_raw(key, ethers_digest({**typed, "message": {**typed["message"], **change}})
                            if code != "validation_error" else ethers_digest(typed))  # fmt: skip
    sent = _relayers_nonce(api)
    response = api.client.post(
        "/v1/relay",
        headers=headers,
        json={"request": message, "signature": "0x" + (r + s + bytes([parity])).hex()},
    )
    assert response.status_code == 422, response.text
    error = response.json()["error"]
    assert error["code"] == code, error
    field = next(iter(change))
    assert field in error["message"], error
    assert _relayers_nonce(api) == sent


def test_relay_refuses_a_signature_that_cannot_recover_before_sending(
    wallet: tuple[Api, bytes, dict[str, str]],
) -> None:
    api, key, headers = wallet
    typed = _prepare(api, headers, 16)
    r, s, parity = sign_raw(key, ethers_digest(typed))
    sent = _relayers_nonce(api)
    for v in (2, 26, 29):
        response = api.client.post(
            "/v1/relay",
            headers=headers,
            json={"request": typed["message"], "signature": "0x" + (r + s + bytes([v])).hex()},
        )
        assert response.status_code == 422, response.text
        assert response.json()["error"]["code"] == "invalid_signature"
    assert _relayers_nonce(api) == sent


def test_openapi_types_the_forward_request(api: Api) -> None:
    schema = api.client.get("/openapi.json").json()
    components = schema["components"]["schemas"]

    def resolve(node: dict[str, Any]) -> dict[str, Any]:
        while "$ref" in node:
            node = components[node["$ref"].rsplit("/", 1)[1]]
        return node

    returned = resolve(components["SignatureRequired"]["properties"]["forward_request"])
    assert {"types", "primaryType", "domain", "message"} <= set(returned["properties"])
    message = resolve(returned["properties"]["message"])
    assert {"from", "to", "value", "gas", "nonce", "deadline", "data"} <= set(message["properties"])
    relayed = resolve(components["RelayRequest"]["properties"]["request"])
    assert {"from", "to", "value", "gas", "nonce", "deadline", "data"} <= set(relayed["properties"])
    signature = components["RelayRequest"]["properties"]["signature"]
    assert "2098" in signature["description"]
