// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {ERC2771Forwarder} from "@openzeppelin/contracts/metatx/ERC2771Forwarder.sol";

/// @title The trusted forwarder of every Tierflow contract.
/// @notice A participant signs an EIP-712 `ForwardRequest` (domain name "Tierflow", version "1");
/// the platform relays it and pays the gas; the target contract sees the signer as `_msgSender()`.
/// Nonces make a request single-use and its `deadline` [unix s] bounds when it can be relayed.
contract TierflowForwarder is ERC2771Forwarder {
    constructor() ERC2771Forwarder("Tierflow") {}
}
