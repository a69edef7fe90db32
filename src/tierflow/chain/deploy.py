"""Deploy and wire every Tierflow contract; record addresses, ABIs and deploy block in deployments/."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from eth_account.signers.local import LocalAccount
from pydantic import BaseModel
from web3 import Web3
from web3.contract import Contract

from tierflow.chain.abi import RevertDecoder
from tierflow.chain.compile import Artifact, abi_hash, compile_all
from tierflow.chain.node import FeePolicy, TxSender
from tierflow.errors import ConfigurationError

# Deployment order and constructor arguments ("admin" is the deploying operator).
CONSTRUCTORS: dict[str, list[str]] = {
    "TierflowForwarder": [],
    "ParticipantRegistry": ["admin", "TierflowForwarder"],
    "SettlementToken": ["ParticipantRegistry", "TierflowForwarder"],
    "DocumentRegistry": ["ParticipantRegistry", "TierflowForwarder"],
    "CreditLines": ["ParticipantRegistry", "TierflowForwarder"],
    "Receivables": [
        "ParticipantRegistry", "CreditLines", "DocumentRegistry", "SettlementToken", "TierflowForwarder",
    ],
    "Financing": ["ParticipantRegistry", "Receivables", "SettlementToken", "TierflowForwarder"],
    "Bills": ["ParticipantRegistry", "DocumentRegistry", "SettlementToken", "TierflowForwarder"],
}  # fmt: skip

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


class ContractRecord(BaseModel):
    address: str
    abi: list[dict[str, Any]]


class Deployment(BaseModel):
    """The content of deployments/<chain_id>.json."""

    chain_id: int
    deploy_block: int
    abi_hash: str
    operator: str
    contracts: dict[str, ContractRecord]

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
) -> Deployment:
    """Deploy everything (or reuse a live deployment recorded in deployments_dir) and wire it."""
    artifacts = artifacts or compile_all()
    names = deployable(artifacts)
    if deployments_dir is not None and not force:
        existing = load_deployment(deployments_dir, w3.eth.chain_id)
        if existing is not None and is_live(w3, existing, artifacts):
            return existing
    sender = TxSender(w3, RevertDecoder(a.abi for a in artifacts.values()), fees=fees)
    deploy_block = w3.eth.block_number + 1
    addresses: dict[str, str] = {"admin": operator.address}
    for name in names:
        artifact = artifacts[name]
        factory = w3.eth.contract(abi=artifact.abi, bytecode=artifact.bytecode)
        args = [addresses[dependency] for dependency in CONSTRUCTORS[name]]
        receipt = sender.transact(factory.constructor(*args), operator)
        addresses[name] = str(receipt["contractAddress"])
        if progress:
            progress(f"deployed {name} at {addresses[name]}")
    contracts = {
        name: w3.eth.contract(address=Web3.to_checksum_address(addresses[name]), abi=artifacts[name].abi)
        for name in names
    }
    for contract_name, function, raw_args in WIRING:
        if any(
            isinstance(a, str) and a in CONSTRUCTORS and a not in addresses
            for a in [contract_name, *raw_args]
        ):
            continue
        args = [addresses.get(a, a) if isinstance(a, str) else a for a in raw_args]
        sender.transact(getattr(contracts[contract_name].functions, function)(*args), operator)
        if progress:
            progress(f"{contract_name}.{function}({', '.join(map(str, raw_args))})")
    deployment = Deployment(
        chain_id=w3.eth.chain_id,
        deploy_block=deploy_block,
        abi_hash=abi_hash(artifacts, names),
        operator=operator.address,
        contracts={name: ContractRecord(address=addresses[name], abi=artifacts[name].abi) for name in names},
    )
    if deployments_dir is not None:
        write_deployment(deployment, deployments_dir)
    return deployment


def write_deployment(deployment: Deployment, deployments_dir: Path) -> Path:
    deployments_dir.mkdir(parents=True, exist_ok=True)
    path = deployment.path(deployments_dir)
    temporary = path.with_suffix(".tmp")
    temporary.write_text(json.dumps(deployment.model_dump(), indent=1))
    temporary.replace(path)
    return path
