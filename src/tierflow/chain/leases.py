"""What the gateway asks before it signs, when several API instances share accounts: the lease seam.

A transaction nonce (a relayer's, the operator's) and a custodial signer's forwarder nonce are counted
by the process that sends; two processes counting the same nonce would sign two transactions for one
slot. `ChainGateway` therefore asks a `Leases` before it signs:

* `check(account_lease(address))` before each transaction of a relayer: this instance holds that account's
  lease now (relayers are leased for the life of the instance, `platform/services/instances.py`);
* `hold(forwarder_lease(signer))` when a custodial signer's pipeline starts and `release` when it is idle:
  only one instance drives a signer's forwarder nonces at a time. Before each round of sends the
  pipeline asks `wanted`: while another instance waits for the signer, the holder sends nothing more,
  lets its writes in flight settle and gives the lease up; the instance that has waited longest is then
  first to take it (the instances take turns, a round each in the order they began to wait, instead of
  the busiest one keeping the signer for good);
* `hold(account_lease(operator))` around each operator transaction (rare: the operator's writes), whose
  nonce is then read from the node again, since another instance may have sent since.

`NoLeases` is the single process (tests, `tierflow up`, SQLite): everything is granted at once.
"""

from __future__ import annotations

from typing import Protocol


def account_lease(address: str) -> str:
    """The lease name of an account's transaction nonces."""
    return f"account:{address.lower()}"


def forwarder_lease(signer: str) -> str:
    """The lease name of a custodial signer's forwarder-nonce pipeline."""
    return f"forwarder:{signer.lower()}"


class Leases(Protocol):
    def check(self, name: str) -> bool:
        """Raise ChainUnavailableError unless this instance holds `name` now (and may sign with it).
        True on the first check after the lease was taken: nonces are then read from the node."""

    def hold(self, name: str) -> bool:
        """Take `name`, waiting while another instance holds it; raise ChainUnavailableError if it
        stays held. True when the lease was taken just now (not held already): the holder's nonces
        must then be read from the node, not from a count kept in memory."""

    def release(self, name: str) -> None:
        """Give `name` up (another instance may take it at once)."""

    def wanted(self, name: str) -> bool:
        """Whether another instance waits for `name`, which this instance holds: then it should give
        `name` up as soon as its work in flight under it is done."""


class NoLeases:
    """One process alone on its accounts: every lease is granted."""

    def check(self, name: str) -> bool:
        return False

    def hold(self, name: str) -> bool:
        return False

    def release(self, name: str) -> None:
        return None

    def wanted(self, name: str) -> bool:
        return False
