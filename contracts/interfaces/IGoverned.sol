// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

/// @title What every Tierflow contract behind a proxy shares: a version, and powers only governance holds.
/// @notice Each Tierflow contract (the forwarder aside) is an ERC-1967 proxy whose implementation is
/// replaced only by governance (the TimelockController that the governors' council drives, M-of-N with
/// a delay): see docs/contracts.md, "Governance and upgrades".
interface IGoverned {
    /// @notice A power reserved to governance (an upgrade, a role grant) was called by someone else.
    error GovernanceOnly(address caller);

    /// @notice The implementation's release, recorded in deployments/<chain_id>.json.
    function version() external pure returns (string memory);
}
