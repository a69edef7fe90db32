"""Every deployed contract fits EIP-170's 24,576-byte runtime limit (anvil enforces it, and so does a real
chain); the proxies' implementations carry the UUPS upgrade code, which Bills can least afford."""

from __future__ import annotations

from tierflow.chain.compile import compile_all
from tierflow.chain.deploy import CONSTRUCTORS, PROXY, TIMELOCK

EIP170_LIMIT = 24_576  # [bytes]


def test_contract_size_every_deployed_contract_within_eip170() -> None:
    artifacts = compile_all()
    sizes = {
        name: (len(artifacts[name].deployed_bytecode) - 2) // 2 for name in [*CONSTRUCTORS, PROXY, TIMELOCK]
    }
    assert {name: size for name, size in sizes.items() if size > EIP170_LIMIT} == {}, sizes
