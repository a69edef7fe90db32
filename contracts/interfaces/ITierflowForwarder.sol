// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {ERC2771Forwarder} from "@openzeppelin/contracts/metatx/ERC2771Forwarder.sol";

/// @title The trusted forwarder's rules beyond OpenZeppelin's ERC2771Forwarder.
/// @notice Signed requests are short-lived and single-chance (DESIGN.md invariant 11):
/// - a request's deadline may be at most MAX_REQUEST_LIFETIME (1 hour) ahead of chain time when relayed;
/// - a batch is all or nothing: a failed call reverts the batch, so no nonce is burnt on the side;
/// - the relayer sends every request through `executeOrVoid`: a request whose call fails uses up its
///   nonce in that same transaction (ForwardRequestFailed), so the signed calldata can never succeed later
///   and no second transaction (a void that could sit unmined) is needed;
/// - `executeOrVoidBatch` relays several requests (a signer's pipelined writes) that way in one transaction;
/// - a request that fails now can also be voided by anyone holding it (`voidRequest`).
interface ITierflowForwarder {
    /// @notice The request of `signer` with forwarder nonce `nonce` was voided: its call fails now and
    /// the request can never be relayed.
    event ForwardRequestVoided(address indexed signer, uint256 nonce, address indexed by);

    /// @notice The request of `signer` with forwarder nonce `nonce` was relayed by executeOrVoid and its
    /// call failed with `reason` (the revert data): the nonce is used up, the request can never be relayed.
    event ForwardRequestFailed(address indexed signer, uint256 nonce, bytes reason);

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
    /// @notice Relay a request (execute's checks; no value): if its call fails the transaction still
    /// succeeds, the nonce stays used and ForwardRequestFailed carries the revert data; if it succeeds,
    /// ExecutedForwardRequest(signer, nonce, true) as execute.
    function executeOrVoid(ERC2771Forwarder.ForwardRequestData calldata request) external;
    /// @notice executeOrVoid of each request in order, in one transaction: each request runs or dies on
    /// its own (a failed call uses up its nonce and emits ForwardRequestFailed, so the requests behind it
    /// still validate). A request that is not valid now (expired, wrong signature or nonce, a deadline
    /// too far, value, a target that does not trust this forwarder) reverts the whole batch: no nonce is
    /// used and nothing runs. Anyone may relay, as `execute`; the gas check of each call (EIP-150's
    /// 63/64) reverts the batch rather than let a relayer starve one request into failing.
    function executeOrVoidBatch(ERC2771Forwarder.ForwardRequestData[] calldata requests) external;
}
