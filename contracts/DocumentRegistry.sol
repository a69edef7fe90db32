// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {ERC2771ContextUpgradeable} from "@openzeppelin/contracts-upgradeable/metatx/ERC2771ContextUpgradeable.sol";
import {SafeCast} from "@openzeppelin/contracts/utils/math/SafeCast.sol";

import {IDocumentRegistry} from "./interfaces/IDocumentRegistry.sol";
import {IParticipantRegistry} from "./interfaces/IParticipantRegistry.sol";
import {Governed} from "./upgrade/Governed.sol";

/// @title Document registry: one invoice hash backs at most one asset, platform-wide (invariant 4).
/// Bindings are made when the seller accepts and are never undone; see IDocumentRegistry.
/// @dev Consumers (Receivables, Bills) are trusted system contracts that have already checked the
/// pause and the acting participant; this contract checks only that the caller is a consumer.
/// @custom:oz-upgrades-from v1:DocumentRegistry
contract DocumentRegistry is IDocumentRegistry, ERC2771ContextUpgradeable, Governed {
    /// @dev One storage word per document: the asset contract and the asset id (uint96 is ample).
    struct Binding {
        address asset;
        uint96 assetId;
    }

    /// @custom:oz-upgrades-unsafe-allow state-variable-immutable
    IParticipantRegistry public immutable registry;

    mapping(bytes32 docHash => Binding) private _bindings;
    mapping(address consumer => bool) private _consumers;

    /// @custom:oz-upgrades-unsafe-allow constructor
    constructor(IParticipantRegistry registry_, address trustedForwarder) ERC2771ContextUpgradeable(trustedForwarder) {
        registry = registry_;
        _disableInitializers();
    }

    /// @notice Run once, by the proxy's deployment (the implementation itself can never be initialised).
    function initialize() external initializer {}

    /// @inheritdoc IDocumentRegistry
    function register(bytes32[] calldata docHashes, uint256 assetId) external {
        address asset = _requireConsumer();
        uint256 n = docHashes.length;
        if (n == 0) revert DocumentNoneGiven();
        uint96 id = SafeCast.toUint96(assetId);
        for (uint256 i; i < n; ++i) {
            _bind(docHashes[i], asset, id);
        }
    }

    /// @inheritdoc IDocumentRegistry
    function requireUnbound(bytes32[] calldata docHashes) external view {
        uint256 n = docHashes.length;
        if (n == 0) revert DocumentNoneGiven();
        for (uint256 i; i < n; ++i) {
            bytes32 docHash = docHashes[i];
            if (docHash == bytes32(0)) revert DocumentZeroHash();
            Binding memory b = _bindings[docHash];
            if (b.asset != address(0)) revert DocumentAlreadyUsed(docHash, b.asset, b.assetId);
        }
    }

    /// @inheritdoc IDocumentRegistry
    function setConsumer(address consumer, bool enabled) external {
        address operator = _msgSender();
        if (!registry.isOperator(operator)) revert DocumentNotOperator(operator);
        _consumers[consumer] = enabled;
        emit ConsumerSet(consumer, enabled, operator);
    }

    /// @inheritdoc IDocumentRegistry
    function assetOf(bytes32 docHash) external view returns (address asset, uint256 assetId) {
        Binding memory b = _bindings[docHash];
        return (b.asset, b.assetId);
    }

    /// @notice Whether `consumer` may bind documents.
    function isConsumer(address consumer) external view returns (bool) {
        return _consumers[consumer];
    }

    function _requireConsumer() private view returns (address consumer) {
        consumer = _msgSender();
        if (!_consumers[consumer]) revert DocumentUnauthorizedConsumer(consumer);
    }

    function _bind(bytes32 docHash, address asset, uint96 assetId) private {
        if (docHash == bytes32(0)) revert DocumentZeroHash();
        Binding memory b = _bindings[docHash];
        if (b.asset != address(0)) revert DocumentAlreadyUsed(docHash, b.asset, b.assetId);
        _bindings[docHash] = Binding({asset: asset, assetId: assetId});
        emit DocumentRegistered(docHash, asset, assetId);
    }

    function _requireGovernance() internal view override {
        if (!registry.isGovernance(msg.sender)) revert GovernanceOnly(msg.sender);
    }
}
