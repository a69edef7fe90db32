// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {ERC2771Forwarder} from "@openzeppelin/contracts/metatx/ERC2771Forwarder.sol";

import {ITierflowForwarder} from "./interfaces/ITierflowForwarder.sol";

/// @title The trusted forwarder of every Tierflow contract.
/// @notice A participant signs an EIP-712 `ForwardRequest` (domain name "Tierflow", version "1");
/// the platform relays it and pays the gas; the target contract sees the signer as `_msgSender()`.
/// Nonces make a request single-use and its `deadline` [unix s] bounds when it can be relayed; see
/// ITierflowForwarder for what this contract adds (deadline cap, atomic batches, voiding).
contract TierflowForwarder is ITierflowForwarder, ERC2771Forwarder {
    /// @dev Long enough for a person to sign a prepared request; custodial requests use minutes.
    uint256 public constant MAX_REQUEST_LIFETIME = 1 hours; // [s]

    constructor() ERC2771Forwarder("Tierflow") {}

    /// @dev All or nothing: no refund receiver, and a failed call reverts the batch (OpenZeppelin's
    /// atomic mode still burns the nonce of a failed call and emits ExecutedForwardRequest(false)).
    function executeBatch(ForwardRequestData[] calldata requests, address payable refundReceiver)
        public
        payable
        override
    {
        if (refundReceiver != address(0)) revert ForwarderPartialBatch(refundReceiver);
        uint256 requestsValue = 0;
        uint256 n = requests.length;
        for (uint256 i; i < n; ++i) {
            requestsValue += requests[i].value;
            if (!_execute(requests[i], true)) revert ForwarderBatchCallFailed(i);
        }
        if (requestsValue != msg.value) revert ERC2771ForwarderMismatchedValue(requestsValue, msg.value);
    }

    /// @inheritdoc ITierflowForwarder
    function voidRequest(ForwardRequestData calldata request) external {
        (bool success, address signer, uint256 nonce) = _useAndCall(request);
        // if the call succeeds the request is not a failed one and voiding it would only deny the signer
        // (the revert undoes the call and the nonce)
        if (success) revert ForwarderRequestWouldSucceed(signer, nonce);
        emit ForwardRequestVoided(signer, nonce, msg.sender);
    }

    /// @inheritdoc ITierflowForwarder
    function executeOrVoid(ForwardRequestData calldata request) external {
        _runOrVoid(request);
    }

    /// @inheritdoc ITierflowForwarder
    function executeOrVoidBatch(ForwardRequestData[] calldata requests) external {
        uint256 n = requests.length;
        for (uint256 i; i < n; ++i) {
            _runOrVoid(requests[i]);
        }
    }

    /// @dev executeOrVoid of one request: an invalid request reverts (the whole batch with it, so no
    /// nonce is used out of order); a valid one uses its nonce and either runs or dies here, with its
    /// event closing its logs (a relayer cuts a batch's receipt into requests at these events).
    function _runOrVoid(ForwardRequestData calldata request) private {
        (bool success, address signer, uint256 nonce) = _useAndCall(request);
        if (success) {
            emit ExecutedForwardRequest(signer, nonce, true);
            return;
        }
        // the nonce stays used: the failed request dies in the transaction that tried it
        bytes memory reason = new bytes(0);
        assembly ("memory-safe") {
            let size := returndatasize()
            reason := mload(0x40)
            mstore(reason, size)
            returndatacopy(add(reason, 0x20), 0, size)
            mstore(0x40, add(add(reason, 0x20), and(add(size, 31), not(31))))
        }
        emit ForwardRequestFailed(signer, nonce, reason);
    }

    /// @dev The checks of `execute` (deadline cap, target, expiry, signature; no value), then the nonce is
    /// used and the call made. The return data of the call is left in the return buffer for the caller.
    function _useAndCall(ForwardRequestData calldata request)
        private
        returns (bool success, address signer, uint256 nonce)
    {
        _checkDeadline(request);
        bool isTrustedForwarder;
        bool active;
        bool signerMatch;
        (isTrustedForwarder, active, signerMatch, signer) = _validate(request);
        if (!isTrustedForwarder) revert ERC2771UntrustfulTarget(request.to, address(this));
        if (!active) revert ERC2771ForwarderExpiredRequest(request.deadline);
        if (!signerMatch) revert ERC2771ForwarderInvalidSigner(signer, request.from);
        if (request.value != 0) revert ERC2771ForwarderMismatchedValue(request.value, 0);
        nonce = _useNonce(signer);
        uint256 reqGas = request.gas;
        address to = request.to;
        bytes memory data = abi.encodePacked(request.data, request.from);
        uint256 gasLeft;
        assembly ("memory-safe") {
            success := call(reqGas, to, 0, add(data, 0x20), mload(data), 0, 0)
            gasLeft := gas()
        }
        // a caller starving the call of gas must not make a good request look failed (EIP-150: 63/64)
        if (gasLeft < reqGas / 63) {
            assembly ("memory-safe") {
                invalid()
            }
        }
    }

    /// @dev Every relayed request: the deadline cap first, then OpenZeppelin's checks and call.
    function _execute(ForwardRequestData calldata request, bool requireValidRequest)
        internal
        override
        returns (bool success)
    {
        _checkDeadline(request);
        return super._execute(request, requireValidRequest);
    }

    function _checkDeadline(ForwardRequestData calldata request) private view {
        uint256 latest = block.timestamp + MAX_REQUEST_LIFETIME;
        if (request.deadline > latest) revert ForwarderDeadlineTooFar(request.deadline, latest);
    }
}
