// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {UUPSUpgradeable} from "@openzeppelin/contracts-upgradeable/proxy/utils/UUPSUpgradeable.sol";

import {IGoverned} from "../interfaces/IGoverned.sol";

/// @title Base of every upgradeable Tierflow contract: UUPS upgrades that only governance authorises.
/// @dev UUPS rather than a TransparentUpgradeableProxy: the proxy is the bare ERC-1967 one (no admin
/// check on every call, no ProxyAdmin contract per proxy), and the one rule "only governance upgrades"
/// lives in `_requireGovernance`, the same seam every other governance-only power uses.
/// Layout: OpenZeppelin's upgradeable bases keep their state in ERC-7201 namespaces; each Tierflow
/// contract keeps its own variables in declaration order, append-only (checked against the last
/// release by `tierflow storage-check`). Contract addresses wired at construction stay immutables of
/// the implementation (they cost no storage read on the hot path); an upgrade passes the same ones.
abstract contract Governed is IGoverned, UUPSUpgradeable {
    /// @inheritdoc IGoverned
    function version() external pure virtual returns (string memory) {
        return "1";
    }

    /// @dev Reverts unless the caller holds the governance power; msg.sender on purpose, not the
    /// ERC-2771 sender: governance is a contract and never relays through the forwarder.
    function _requireGovernance() internal view virtual;

    function _authorizeUpgrade(address) internal view override {
        _requireGovernance();
    }
}
