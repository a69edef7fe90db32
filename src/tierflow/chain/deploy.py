"""Deploy and wire every Tierflow contract; record addresses, ABIs and deploy block in deployments/."""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from eth_account.signers.local import LocalAccount
from eth_utils.crypto import keccak
from pydantic import BaseModel
from web3 import Web3
from web3.contract import Contract
from web3.logs import DISCARD

from tierflow.chain.abi import RevertDecoder
from tierflow.chain.accounts import DEMO_GOVERNOR_INDICES, DEMO_GUARDIAN_INDEX, dev_account
from tierflow.chain.compile import Artifact, abi_hash, compile_all
from tierflow.chain.node import FeePolicy, TxSender
from tierflow.errors import ConfigurationError

# Deployment order and constructor arguments of each implementation. Every contract but the forwarder is
# an ERC-1967 proxy (TierflowProxy) to its implementation, so the names below stand for proxy addresses;
# "GovernanceCouncil" deploys the timelock ("TierflowTimelock") that governs them all.
CONSTRUCTORS: dict[str, list[str]] = {
    "TierflowForwarder": [],
    "GovernanceCouncil": ["governors", "threshold", "delay", "window"],
    "ParticipantRegistry": ["TierflowForwarder"],
    "SettlementToken": ["ParticipantRegistry", "TierflowForwarder"],
    "DocumentRegistry": ["ParticipantRegistry", "TierflowForwarder"],
    "CreditLines": ["ParticipantRegistry", "TierflowForwarder"],
    "Receivables": [
        "ParticipantRegistry", "CreditLines", "DocumentRegistry", "SettlementToken", "TierflowForwarder",
    ],
    "Financing": ["ParticipantRegistry", "Receivables", "SettlementToken", "TierflowForwarder"],
    "Bills": ["ParticipantRegistry", "DocumentRegistry", "SettlementToken", "TierflowForwarder"],
}  # fmt: skip

# The contracts behind proxies, and the arguments of their one-time `initialize` (run by the proxy's
# constructor, so nobody can initialise a proxy before its deployer).
INITIALIZERS: dict[str, list[str]] = {
    "ParticipantRegistry": ["operator", "TierflowTimelock", "guardian", "controller"],
    "SettlementToken": [],
    "DocumentRegistry": [],
    "CreditLines": [],
    "Receivables": [],
    "Financing": [],
    "Bills": [],
}

# Operator calls that connect the contracts once all are deployed: (contract, function, arguments).
WIRING: list[tuple[str, str, list[Any]]] = [
    ("ParticipantRegistry", "setSystemContract", ["Receivables", True]),
    ("ParticipantRegistry", "setSystemContract", ["Financing", True]),
    ("ParticipantRegistry", "setSystemContract", ["Bills", True]),
    ("CreditLines", "setConsumer", ["Receivables", True]),
    ("DocumentRegistry", "setConsumer", ["Receivables", True]),
    ("DocumentRegistry", "setConsumer", ["Bills", True]),
    ("Receivables", "setFinancing", ["Financing"]),
    ("Bills", "setFinancing", ["Financing"]),
]

PROXY = "TierflowProxy"
TIMELOCK = "TierflowTimelock"
COUNCIL = "GovernanceCouncil"


class GovernanceConfig(BaseModel):
    """Who governs a new deployment: M-of-N governors, the timelock's delay, the guardian who may pause,
    and the controller who places judicial holds at once (later grants of either are proposals)."""

    governors: list[str]
    threshold: int
    delay: int  # [s]
    guardian: str
    controller: str
    window: int = 7 * 86_400  # [s] a proposal's life: approvals and execution by then, or it is dead

    def check(self) -> GovernanceConfig:
        """This configuration, or ConfigurationError saying which option is wrong and what to give (the
        council's constructor would revert on some of these, after the forwarder was already deployed)."""
        problems = []
        addresses = [*self.governors, self.guardian, self.controller]
        bad = [a for a in addresses if not Web3.is_address(a) or int(a, 16) == 0]
        if bad:
            problems.append(
                f"not an address: {', '.join(bad)} (give 0x and 40 hex digits, not the zero address)"
            )
        governors = [a.lower() for a in self.governors]
        if not governors:
            problems.append("name at least one governor (--governor, once per governor)")
        if len(set(governors)) != len(governors):
            problems.append("the governors must be distinct: an address is named twice")
        if len(governors) > 255:
            problems.append(f"at most 255 governors, {len(governors)} given")
        if not 1 <= self.threshold <= len(governors):
            problems.append(
                f"--threshold {self.threshold} must be between 1 and the {len(governors)} governors (M <= N)"
            )
        if self.delay < 0:
            problems.append("--delay cannot be negative")
        if self.window <= self.delay:
            problems.append(
                f"--window ({self.window} s) must be longer than --delay ({self.delay} s): a proposal must "
                "live through its delay to be executed"
            )
        if self.window > 2**32 - 1:
            problems.append("--window is at most 136 years (2**32 - 1 seconds)")
        if problems:
            raise ConfigurationError("governance options: " + "; ".join(problems))
        return self.model_copy(
            update={
                "governors": [Web3.to_checksum_address(a) for a in self.governors],
                "guardian": Web3.to_checksum_address(self.guardian),
                "controller": Web3.to_checksum_address(self.controller),
            }
        )

    @classmethod
    def demo(cls, delay: int = 60) -> GovernanceConfig:
        """The devnet's: the operator and the two demo banks, 2-of-3, dev account 15 as guardian, and the
        operator as the controller that executes courts' holds (forced transfers stay with the council)."""
        return cls(
            governors=[dev_account(i).address for i in DEMO_GOVERNOR_INDICES],
            threshold=2,
            delay=delay,
            guardian=dev_account(DEMO_GUARDIAN_INDEX).address,
            controller=dev_account(DEMO_GOVERNOR_INDICES[0]).address,
        )


class ContractRecord(BaseModel):
    address: str  # the proxy, for upgradeable contracts: the address the platform uses
    abi: list[dict[str, Any]]
    implementation: str = ""  # "" for contracts without a proxy
    version: str = ""  # the implementation's version()
    code_hash: str = ""  # of the implementation's compiled runtime code: an upgrade replaces a changed one


class Deployment(BaseModel):
    """The content of deployments/<chain_id>.json."""

    chain_id: int
    deploy_block: int
    abi_hash: str
    operator: str
    contracts: dict[str, ContractRecord]
    timelock: str = ""  # governance: holds the registry's DEFAULT_ADMIN_ROLE, driven by GovernanceCouncil
    guardian: str = ""
    # who governed it at deployment (later changes are proposals: the council's events are the record)
    governance: GovernanceConfig | None = None

    def contract(self, w3: Web3, name: str) -> Contract:
        record = self.contracts[name]
        return w3.eth.contract(address=Web3.to_checksum_address(record.address), abi=record.abi)

    def decoder(self) -> RevertDecoder:
        return RevertDecoder(record.abi for record in self.contracts.values())

    def path(self, deployments_dir: Path) -> Path:
        return deployments_dir / f"{self.chain_id}.json"


def deployable(artifacts: dict[str, Artifact]) -> list[str]:
    """Contract names to deploy, in order."""
    missing = [name for name in CONSTRUCTORS if name not in artifacts]
    if missing:
        raise ConfigurationError(f"contracts missing from contracts/: {', '.join(missing)}")
    return list(CONSTRUCTORS)


def load_deployment(deployments_dir: Path, chain_id: int) -> Deployment | None:
    path = deployments_dir / f"{chain_id}.json"
    if not path.exists():
        return None
    return Deployment.model_validate_json(path.read_text())


def is_live(w3: Web3, deployment: Deployment, artifacts: dict[str, Artifact]) -> bool:
    """True when the recorded deployment matches the current ABIs and its code is on chain."""
    if deployment.chain_id != w3.eth.chain_id:
        return False
    if deployment.abi_hash != abi_hash(artifacts, list(deployment.contracts)):
        return False
    return all(
        len(w3.eth.get_code(Web3.to_checksum_address(r.address))) > 0 for r in deployment.contracts.values()
    )


def deploy_all(
    w3: Web3,
    operator: LocalAccount,
    *,
    deployments_dir: Path | None = None,
    artifacts: dict[str, Artifact] | None = None,
    force: bool = False,
    progress: Any = None,
    fees: FeePolicy | None = None,
    governance: GovernanceConfig | None = None,
) -> Deployment:
    """Deploy everything (or reuse a live deployment recorded in deployments_dir) and wire it."""
    artifacts = artifacts or compile_all()
    names = deployable(artifacts)
    if deployments_dir is not None and not force:
        existing = load_deployment(deployments_dir, w3.eth.chain_id)
        if existing is not None and is_live(w3, existing, artifacts):
            return existing
    governance = (governance or GovernanceConfig.demo()).check()
    sender = TxSender(w3, RevertDecoder(a.abi for a in artifacts.values()), fees=fees)
    deploy_block = w3.eth.block_number + 1
    addresses: dict[str, Any] = {
        "operator": operator.address,
        "guardian": governance.guardian,
        "controller": governance.controller,
        "governors": governance.governors,
        "threshold": governance.threshold,
        "delay": governance.delay,
        "window": governance.window,
    }
    implementations: dict[str, str] = {}
    for name in names:
        args = [addresses[dependency] for dependency in CONSTRUCTORS[name]]
        address = _create(w3, sender, operator, artifacts[name], args)
        if name in INITIALIZERS:
            implementations[name] = address
            init = [addresses[a] for a in INITIALIZERS[name]]
            init_data = _contract(w3, artifacts[name], address).encode_abi("initialize", init)
            address = _create(w3, sender, operator, artifacts[PROXY], [address, init_data])
        addresses[name] = address
        if name == COUNCIL:
            addresses[TIMELOCK] = _contract(w3, artifacts[name], address).functions.timelock().call()
        if progress:
            progress(f"deployed {name} at {address}")
    contracts = {name: _contract(w3, artifacts[name], addresses[name]) for name in names}
    for contract_name, function, raw_args in WIRING:
        args = [addresses.get(a, a) if isinstance(a, str) else a for a in raw_args]
        sender.transact(getattr(contracts[contract_name].functions, function)(*args), operator)
        if progress:
            progress(f"{contract_name}.{function}({', '.join(map(str, raw_args))})")
    deployment = Deployment(
        chain_id=w3.eth.chain_id,
        deploy_block=deploy_block,
        abi_hash=abi_hash(artifacts, names),
        operator=operator.address,
        contracts={
            name: _record(w3, artifacts[name], addresses[name], implementations.get(name, ""))
            for name in names
        },
        timelock=addresses[TIMELOCK],
        guardian=governance.guardian,
        governance=governance,
    )
    if deployments_dir is not None:
        write_deployment(deployment, deployments_dir)
    return deployment


def code_hash(artifact: Artifact) -> str:
    """Identifies an implementation's compiled code (immutables are zero in the artifact)."""
    return "0x" + hashlib.sha256(artifact.deployed_bytecode.encode()).hexdigest()


def _create(w3: Web3, sender: TxSender, deployer: LocalAccount, artifact: Artifact, args: list[Any]) -> str:
    factory = w3.eth.contract(abi=artifact.abi, bytecode=artifact.bytecode)
    receipt = sender.transact(factory.constructor(*args), deployer)
    return str(receipt["contractAddress"])


def _contract(w3: Web3, artifact: Artifact, address: str) -> Contract:
    return w3.eth.contract(address=Web3.to_checksum_address(address), abi=artifact.abi)


def _record(w3: Web3, artifact: Artifact, address: str, implementation: str) -> ContractRecord:
    if not implementation:
        return ContractRecord(address=address, abi=artifact.abi)
    version = str(_contract(w3, artifact, address).functions.version().call())
    return ContractRecord(
        address=address,
        abi=artifact.abi,
        implementation=implementation,
        version=version,
        code_hash=code_hash(artifact),
    )


def write_deployment(deployment: Deployment, deployments_dir: Path) -> Path:
    deployments_dir.mkdir(parents=True, exist_ok=True)
    path = deployment.path(deployments_dir)
    temporary = path.with_suffix(".tmp")
    temporary.write_text(json.dumps(deployment.model_dump(), indent=1))
    temporary.replace(path)
    return path


def upgrade_all(
    w3: Web3,
    deployment: Deployment,
    governors: list[LocalAccount],
    *,
    artifacts: dict[str, Artifact] | None = None,
    deployments_dir: Path | None = None,
    wait: Callable[[int], None] | None = None,
    progress: Any = None,
    fees: FeePolicy | None = None,
) -> Deployment:
    """Upgrade in place, through governance, every proxied contract whose compiled code changed.

    For each: deploy the new implementation (same constructor arguments: the proxies' addresses), the
    first governor proposes `upgradeToAndCall(new, "")` to the council, the others approve (as many as
    the threshold needs), then, once `wait(seconds)` has let the timelock's delay pass (a real sleep by
    default), the first governor executes each proposal. Proxies, and so all state, stay where they are.
    """
    artifacts = artifacts or compile_all()
    sender = TxSender(w3, RevertDecoder(a.abi for a in artifacts.values()), fees=fees)
    council = _contract(w3, artifacts[COUNCIL], deployment.contracts[COUNCIL].address)
    threshold = int(council.functions.threshold().call())
    if len(governors) < threshold:
        raise ConfigurationError(f"an upgrade needs {threshold} governors' keys, {len(governors)} given")
    addresses = {name: record.address for name, record in deployment.contracts.items()}
    changed = [
        name for name in INITIALIZERS if deployment.contracts[name].code_hash != code_hash(artifacts[name])
    ]
    if progress:
        progress(f"implementations changed: {', '.join(changed) or 'none, nothing to upgrade'}")
    proposer, *approvers = governors[:threshold]
    proposals: dict[str, tuple[int, str]] = {}
    for name in changed:
        args = [addresses[dependency] for dependency in CONSTRUCTORS[name]]
        implementation = _create(w3, sender, proposer, artifacts[name], args)
        proxy = _contract(w3, artifacts[name], addresses[name])
        data = proxy.encode_abi("upgradeToAndCall", [implementation, b""])
        description = keccak(text=f"upgrade {name} to {implementation}")
        receipt = sender.transact(council.functions.propose(proxy.address, data, description), proposer)
        (created,) = council.events.ProposalCreated().process_receipt(receipt, errors=DISCARD)
        proposal_id = int(created["args"]["proposalId"])
        for governor in approvers:
            sender.transact(council.functions.approve(proposal_id), governor)
        proposals[name] = (proposal_id, implementation)
        if progress:
            progress(f"proposal {proposal_id}: upgrade {name} to {implementation}, approved by {threshold}")
    if proposals:
        delay = int(_contract(w3, artifacts[TIMELOCK], deployment.timelock).functions.getMinDelay().call())
        (wait or _sleep)(delay + 1)
    contracts = dict(deployment.contracts)
    for name, (proposal_id, implementation) in proposals.items():
        sender.transact(council.functions.execute(proposal_id), proposer)
        contracts[name] = _record(w3, artifacts[name], addresses[name], implementation)
        if progress:
            progress(f"executed proposal {proposal_id}: {name} is version {contracts[name].version}")
    upgraded = deployment.model_copy(
        update={"contracts": contracts, "abi_hash": abi_hash(artifacts, list(contracts))}
    )
    if deployments_dir is not None:
        write_deployment(upgraded, deployments_dir)
    return upgraded


def _sleep(seconds: int) -> None:
    time.sleep(seconds)
