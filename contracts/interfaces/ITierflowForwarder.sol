// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {ERC2771Forwarder} from "@openzeppelin/contracts/metatx/ERC2771Forwarder.sol";

/// @title The trusted forwarder's rules beyond OpenZeppelin's ERC2771Forwarder.
/// @notice Signed requests are short-lived and single-chance (DESIGN.md invariant 11):
/// - a request's deadline may be at most MAX_REQUEST_LIFETIME (1 hour) ahead of chain time when relayed;
/// - a batch is all or nothing: a failed call reverts the batch, so no nonce is burnt on the side;
/// - a request that fails now can be voided by anyone holding it (the relayer does so right after it
///   reverted): its nonce is used up, so the same signed calldata can never succeed later.
interface ITierflowForwarder {
    /// @notice The request of `signer` with forwarder nonce `nonce` was voided: its call fails now and
    /// the request can never be relayed.
    event ForwardRequestVoided(address indexed signer, uint256 nonce, address indexed by);

    /// @notice The request's deadline [unix s] lies more than MAX_REQUEST_LIFETIME past chain time.
    error ForwarderDeadlineTooFar(uint48 deadline, uint256 latest);
    /// @notice executeBatch with a refund receiver (the non-atomic mode, which burns the nonce of a failed call).
    error ForwarderPartialBatch(address refundReceiver);
    /// @notice A call of an (atomic) batch failed: the whole batch reverts.
    error ForwarderBatchCallFailed(uint256 index);
    /// @notice voidRequest of a request whose call would succeed now: relay it instead.
    error ForwarderRequestWouldSucceed(address signer, uint256 nonce);

    /// @notice Void a validly signed, current request whose call fails now (see the title).
    function voidRequest(ERC2771Forwarder.ForwardRequestData calldata request) external;
}
