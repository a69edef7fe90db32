// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {ERC1967Proxy} from "@openzeppelin/contracts/proxy/ERC1967/ERC1967Proxy.sol";

/// @title The address of a Tierflow contract: an ERC-1967 proxy to its current implementation (UUPS).
/// @notice Deployed with the implementation and its `initialize` call in one step, so that nobody can
/// initialise the proxy in between; later implementations come only through governance (see Governed).
contract TierflowProxy is ERC1967Proxy {
    constructor(address implementation, bytes memory initData) payable ERC1967Proxy(implementation, initData) {}
}
