// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

/// @title Document registry: an invoice hash backs at most one asset platform-wide (no double financing).
/// @notice Consumers are the asset contracts (Receivables, Bills); the asset is always msg.sender.
/// Documents themselves stay off chain; only salted hashes are recorded.
interface IDocumentRegistry {
    event DocumentRegistered(bytes32 indexed docHash, address indexed asset, uint256 indexed assetId);
    /// @notice The asset never became live (rejected or cancelled): the document may back another asset.
    event DocumentReleased(bytes32 indexed docHash, address indexed asset, uint256 indexed assetId);
    event ConsumerSet(address indexed consumer, bool enabled, address indexed operator);

    error DocumentAlreadyUsed(bytes32 docHash, address asset, uint256 assetId);
    error DocumentNotOwnedByAsset(bytes32 docHash, address asset, uint256 assetId);
    error DocumentZeroHash();
    error DocumentNoneGiven();
    error DocumentUnauthorizedConsumer(address caller);
    error DocumentNotOperator(address caller);

    /// @notice Bind each hash to (msg.sender, assetId). Reverts DocumentAlreadyUsed if any is bound.
    function register(bytes32[] calldata docHashes, uint256 assetId) external;
    /// @notice Unbind hashes that msg.sender bound to assetId.
    function release(bytes32[] calldata docHashes, uint256 assetId) external;
    /// @notice Allow or disallow an asset contract. Operator only.
    function setConsumer(address consumer, bool enabled) external;
    /// @return asset the contract and id that `docHash` backs (zero when free)
    function assetOf(bytes32 docHash) external view returns (address asset, uint256 assetId);
}
