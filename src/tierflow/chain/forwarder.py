"""EIP-712 types of OpenZeppelin's ERC2771Forwarder ForwardRequest, shared by the relayer and the tests."""

from __future__ import annotations

from eth_utils.crypto import keccak

FORWARD_REQUEST_FIELDS = [
    {"name": "from", "type": "address"},
    {"name": "to", "type": "address"},
    {"name": "value", "type": "uint256"},
    {"name": "gas", "type": "uint256"},
    {"name": "nonce", "type": "uint256"},
    {"name": "deadline", "type": "uint48"},
    {"name": "data", "type": "bytes"},
]
FORWARD_REQUEST_TYPEHASH = keccak(
    b"ForwardRequest(address from,address to,uint256 value,uint256 gas,uint256 nonce,"
    b"uint48 deadline,bytes data)"
)
EIP712_DOMAIN_FIELDS = [
    {"name": "name", "type": "string"},
    {"name": "version", "type": "string"},
    {"name": "chainId", "type": "uint256"},
    {"name": "verifyingContract", "type": "address"},
]
EIP712_DOMAIN_TYPEHASH = keccak(
    b"EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)"
)
