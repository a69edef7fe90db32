"""A deployed Tierflow on a throw-away anvil, with named accounts: the fixture of tests and benchmarks."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from types import SimpleNamespace
from typing import Any

from eth_account.signers.local import LocalAccount
from web3 import Web3
from web3.contract import Contract
from web3.contract.contract import ContractConstructor, ContractFunction
from web3.logs import DISCARD
from web3.types import TxReceipt

from tierflow.chain.accounts import demo_accounts, dev_account
from tierflow.chain.compile import compile_all
from tierflow.chain.demo import register_demo_participants
from tierflow.chain.deploy import Deployment, deploy_all
from tierflow.chain.devnet import Devnet
from tierflow.chain.node import TxSender, connect
from tierflow.errors import ContractRevert

# Attribute names of the contracts on Platform.c
CONTRACT_ATTRIBUTES = {
    "TierflowForwarder": "forwarder",
    "ParticipantRegistry": "registry",
    "SettlementToken": "token",
    "DocumentRegistry": "documents",
    "CreditLines": "credit_lines",
    "Receivables": "receivables",
    "Financing": "financing",
    "Bills": "bills",
    "GovernanceCouncil": "council",
}


class RevertExpectation:
    """Filled in by Platform.reverts(); lets a test inspect the decoded error after the block."""

    def __init__(self) -> None:
        self.error: ContractRevert | None = None


class Platform:
    """Everything a test needs: web3, deployed contracts (`c.receivables` …), named accounts, time travel."""

    def __init__(self, devnet: Devnet, w3: Web3, deployment: Deployment) -> None:
        self.devnet = devnet
        self.w3 = w3
        self.deployment = deployment
        self.decoder = deployment.decoder()
        self.sender = TxSender(w3, self.decoder)
        self.accounts: dict[str, LocalAccount] = demo_accounts()
        self.c = SimpleNamespace(
            **{
                **dict.fromkeys(CONTRACT_ATTRIBUTES.values()),
                **{CONTRACT_ATTRIBUTES[name]: deployment.contract(w3, name) for name in deployment.contracts},
            }
        )
        self.c.timelock = w3.eth.contract(
            address=Web3.to_checksum_address(deployment.timelock), abi=_timelock_abi()
        )

    @classmethod
    def start(cls, devnet: Devnet | None = None) -> Platform:
        devnet = devnet or Devnet().start()
        w3 = connect(devnet.url, expected_chain_id=devnet.chain_id)
        operator = dev_account(0)
        deployment = deploy_all(w3, operator)
        platform = cls(devnet, w3, deployment)
        register_demo_participants(w3, deployment, platform.sender, operator)
        return platform

    def stop(self) -> None:
        self.devnet.stop()

    # -- accounts ---------------------------------------------------------------------------
    def account(self, who: str | LocalAccount) -> LocalAccount:
        return self.accounts[who] if isinstance(who, str) else who

    def address(self, who: str | LocalAccount) -> str:
        return str(self.account(who).address)

    def extra_account(self, index: int) -> LocalAccount:
        """Devnet account 11 + index (funded, not registered): for tests needing more parties."""
        return dev_account(11 + index)

    # -- transactions -----------------------------------------------------------------------
    def transact(
        self, fn: ContractFunction | ContractConstructor, sender: str | LocalAccount, **kwargs: Any
    ) -> TxReceipt:
        self.sender.forget_nonce(self.address(sender))  # snapshots revert nonces under our feet
        return self.sender.transact(fn, self.account(sender), **kwargs)

    @contextmanager
    def reverts(self, name: str, *args: Any) -> Iterator[RevertExpectation]:
        """Expect the block to revert with custom error `name` (and exactly `args`, when given)."""
        expectation = RevertExpectation()
        try:
            yield expectation
        except ContractRevert as error:
            expectation.error = error
            assert error.name == name, f"expected revert {name}{args}, got {error}"
            if args:
                assert error.values == tuple(_normalise(a) for a in args), (
                    f"expected {name}{tuple(_normalise(a) for a in args)}, got {error}"
                )
            return
        raise AssertionError(f"expected revert {name}{args}, but nothing reverted")

    def events(self, receipt: TxReceipt, contract: Contract, event: str) -> list[dict[str, Any]]:
        """Decoded args of every `event` that `contract` emitted in the transaction."""
        decoded = getattr(contract.events, event)().process_receipt(receipt, errors=DISCARD)
        return [dict(item["args"]) for item in decoded if item["address"] == contract.address]

    def govern(self, fn: ContractFunction, approvers: tuple[str, ...] = ("operator", "bank1")) -> TxReceipt:
        """Run `fn` as governance: the first approver proposes, the others approve, the delay passes,
        the proposer executes (the receipt of the execution; a revert of `fn` surfaces there)."""
        council = self.c.council
        data = fn._encode_transaction_data()
        receipt = self.transact(council.functions.propose(fn.address, data, b"\0" * 32), approvers[0])
        proposal_id = self.events(receipt, council, "ProposalCreated")[0]["proposalId"]
        for who in approvers[1:]:
            self.transact(council.functions.approve(proposal_id), who)
        self.increase_time(int(self.c.timelock.functions.getMinDelay().call()) + 1)
        return self.transact(council.functions.execute(proposal_id), approvers[0])

    def govern_batch(
        self, fns: list[ContractFunction], approvers: tuple[str, ...] = ("operator", "bank1")
    ) -> TxReceipt:
        """Run `fns` as one batch proposal, like `govern`: in order, all in one execution or none."""
        council = self.c.council
        targets = [fn.address for fn in fns]
        datas = [fn._encode_transaction_data() for fn in fns]
        receipt = self.transact(council.functions.proposeBatch(targets, datas, b"\0" * 32), approvers[0])
        proposal_id = self.events(receipt, council, "BatchProposalCreated")[0]["proposalId"]
        for who in approvers[1:]:
            self.transact(council.functions.approve(proposal_id), who)
        self.increase_time(int(self.c.timelock.functions.getMinDelay().call()) + 1)
        return self.transact(council.functions.execute(proposal_id), approvers[0])

    # -- time and state -------------------------------------------------------------------------
    def now(self) -> int:
        return int(self.w3.eth.get_block("latest")["timestamp"])

    def increase_time(self, seconds: int) -> None:
        self.w3.provider.make_request("evm_increaseTime", [seconds])  # type: ignore[arg-type]
        self.mine()

    def mine(self, blocks: int = 1) -> None:
        self.w3.provider.make_request("anvil_mine", [hex(blocks)])  # type: ignore[arg-type]

    def snapshot(self) -> str:
        return str(self.w3.provider.make_request("evm_snapshot", [])["result"])  # type: ignore[arg-type]

    def revert_to(self, snapshot_id: str) -> None:
        result = self.w3.provider.make_request("evm_revert", [snapshot_id])  # type: ignore[arg-type]
        assert result.get("result") is True, f"evm_revert({snapshot_id}) failed: {result}"


def _timelock_abi() -> list[dict[str, Any]]:
    return compile_all()["TierflowTimelock"].abi


def _normalise(value: Any) -> Any:
    if isinstance(value, str) and value.startswith("0x") and len(value) == 42:
        return Web3.to_checksum_address(value)
    return value
