// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {TimelockController} from "@openzeppelin/contracts/governance/TimelockController.sol";

/// @title The delay in front of every governance power: OpenZeppelin's TimelockController, unchanged.
/// @notice It holds DEFAULT_ADMIN_ROLE of the participant registry, hence the power to upgrade every
/// Tierflow contract and to grant every role; its only proposer and executor is the governors' council
/// (GovernanceCouncil), which deploys it. Changing its delay is itself a governance proposal.
contract TierflowTimelock is TimelockController {
    constructor(uint256 minDelay, address[] memory proposers, address[] memory executors)
        TimelockController(minDelay, proposers, executors, address(0))
    {}
}
