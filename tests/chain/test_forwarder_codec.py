"""The forwarder's request hash and calldata laid out by hand (chain/forwarder.py) equal eth_abi's and
eth_account's generic encoding of the same values, refuse what those refuse, and spend no keccak on
address checksums (the relayer's hot path: ~0.5 ms of a batch row's CPU through the generic encoders)."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any, cast

import pytest
from eth_abi.abi import encode as abi_encode
from eth_account.messages import encode_typed_data
from eth_utils.crypto import keccak
from web3 import Web3

from tierflow.chain import forwarder
from tierflow.chain.forwarder import (
    EIP712_DOMAIN_FIELDS,
    FORWARD_REQUEST_FIELDS,
    FORWARD_REQUEST_TYPEHASH,
    encode_request,
    encode_requests,
    struct_hash,
)
from tierflow.chain.gateway import FORWARD_REQUEST_DATA, ChainGateway

SIGNER = "0x90F79bf6EB2c4f870365E785982E1f101E93b906"
TARGET = "0x5fbdb2315678afecb367f032d93f642f64180aa3"  # lower case, as a body may give it
FORWARDER = "0xe7f1725E7734CE288F8367e1Bb143E90bb3F0512"


def _message(data: str, nonce: int = 7, deadline: int = 1_900_000_000) -> dict[str, Any]:
    return {"from": SIGNER, "to": TARGET, "value": 0, "gas": 300_000, "nonce": nonce, "deadline": deadline,
            "data": data}  # fmt: skip


def _tuple(message: dict[str, Any], signature: str) -> tuple[Any, ...]:
    return (
        Web3.to_checksum_address(message["from"]), Web3.to_checksum_address(message["to"]), message["value"],
        message["gas"], message["deadline"], bytes.fromhex(message["data"][2:]), bytes.fromhex(signature[2:]),
    )  # fmt: skip


# data of every length class: none, under a word, a whole word, over a word, a real call's length
DATAS = ["0x", "0x00", "0x" + "ab" * 32, "0x" + "cd" * 33, "0x" + "12" * 196]
SIGNATURE = "0x" + "11" * 64 + "1b"


def test_forwarder_codec_equals_eth_abi_for_every_data_length() -> None:
    for data in DATAS:
        message = _message(data)
        expected_struct = keccak(
            abi_encode(
                ["bytes32", "address", "address", "uint256", "uint256", "uint256", "uint48", "bytes32"],
                [
                    FORWARD_REQUEST_TYPEHASH,
                    SIGNER,
                    Web3.to_checksum_address(TARGET),
                    0,
                    300_000,
                    7,
                    1_900_000_000,
                    keccak(bytes.fromhex(data[2:])),
                ],
            )  # fmt: skip
        )
        assert struct_hash(message) == expected_struct
        assert encode_request(message, SIGNATURE) == abi_encode(
            [FORWARD_REQUEST_DATA], [_tuple(message, SIGNATURE)]
        )
    requests = [(_message(data, nonce=n), SIGNATURE) for n, data in enumerate(DATAS)]
    for count in (0, 1, 2, len(requests)):
        assert encode_requests(requests[:count]) == abi_encode(
            [FORWARD_REQUEST_DATA + "[]"], [[_tuple(m, s) for m, s in requests[:count]]]
        )


def test_forwarder_digest_equals_eth_account_typed_data_without_checksumming(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The gateway's digest is what eth_signTypedData_v4 signs, and costs no address checksum (web3's
    to_checksum_address hashes each address: the old digest did two per request, the batch calldata two
    more)."""
    domain = {"name": "Tierflow", "version": "1", "chainId": 31337, "verifyingContract": FORWARDER}
    message = _message("0x" + "12" * 196)
    signable = encode_typed_data(
        full_message={
            "types": {"EIP712Domain": EIP712_DOMAIN_FIELDS, "ForwardRequest": FORWARD_REQUEST_FIELDS},
            "primaryType": "ForwardRequest",
            "domain": domain,
            "message": {**message, "to": Web3.to_checksum_address(TARGET)},
        }
    )
    expected = keccak(b"\x19" + signable.version + signable.header + signable.body)
    gateway = cast(ChainGateway, SimpleNamespace(domain_separator=signable.header))

    def no_checksum(value: str) -> str:
        raise AssertionError(f"checksummed {value} on the hot path")

    monkeypatch.setattr(Web3, "to_checksum_address", staticmethod(no_checksum))
    assert ChainGateway.digest(gateway, message) == expected
    ChainGateway._batch_data(gateway, [(message, SIGNATURE)])


@pytest.mark.parametrize(
    ("field", "value"),
    [("deadline", 2**48), ("deadline", -1), ("gas", 2**256), ("value", -1), ("from", "0x1234"),
     ("to", TARGET[2:] + "00")],
)  # fmt: skip
def test_forwarder_codec_out_of_range_value_is_refused(field: str, value: Any) -> None:
    message = {**_message("0x00"), field: value}
    with pytest.raises(ValueError):
        struct_hash(message)
    with pytest.raises(ValueError):
        encode_request(message, SIGNATURE)
    assert forwarder.UINT48_LIMIT == 2**48
