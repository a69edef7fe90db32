"""The one exception root of Tierflow; the API maps these to HTTP status codes and messages."""

from __future__ import annotations

from typing import Any


class TierflowError(Exception):
    """Root of every error Tierflow raises on purpose."""


class ConfigurationError(TierflowError, ValueError):
    """Settings or files on disk are inconsistent (wrong chain id, missing deployment)."""


class WrongChainError(ConfigurationError):
    """The node reports a different chain id than the one configured or recorded."""

    def __init__(self, expected: int, actual: int, rpc_url: str) -> None:
        self.expected = expected
        self.actual = actual
        super().__init__(
            f"the node at {rpc_url} reports chain id {actual}, but {expected} is expected; "
            "point TIERFLOW_RPC_URL at the right node or change TIERFLOW_CHAIN_ID"
        )


class ChainUnavailableError(TierflowError, ConnectionError):
    """The JSON-RPC endpoint does not answer."""


class TransactionOutcomeUnknown(ChainUnavailableError):
    """A transaction was sent but its receipt did not arrive in time: it may still be mined.

    Unlike a plain ChainUnavailableError nothing guarantees that nothing happened, so a retry must
    look up `tx_hash` instead of sending again.
    """

    def __init__(self, tx_hash: str, message: str) -> None:
        self.tx_hash = tx_hash  # for one request of a batch: chain.node.SentTransaction (its nonce too)
        super().__init__(message)


class CompileError(TierflowError, RuntimeError):
    """solc reported errors."""


class ContractRevert(TierflowError):
    """A transaction or call reverted; `name` and `args` come from the contract's custom error."""

    def __init__(self, name: str, args: dict[str, Any], raw: str = "") -> None:
        self.name = name
        self.args_by_name = args
        self.raw = raw
        rendered = ", ".join(f"{key}={_render(value)}" for key, value in args.items())
        super().__init__(f"{name}({rendered})" if rendered else name)

    @property
    def values(self) -> tuple[Any, ...]:
        return tuple(self.args_by_name.values())


def _render(value: Any) -> str:
    if isinstance(value, bytes):
        return "0x" + value.hex()
    return str(value)
