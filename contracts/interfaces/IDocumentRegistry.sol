// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

/// @title Document registry: an invoice hash backs at most one asset platform-wide (no double financing).
/// @notice Consumers are the asset contracts (Receivables, Bills); the asset is always msg.sender.
/// Documents themselves stay off chain; only keyed hashes are recorded.
///
/// Who may bind what: an invoice is bound only with the consent of the seller it names. The issuer of
/// a certificate (or the drawer of a bill) merely proposes invoices: the asset contract checks at issue
/// that they are still free (`requireUnbound`) and binds them (`register`) only when the seller accepts
/// (the supplier accepting the certificate, the payee receiving the bill). A proposal that is rejected,
/// cancelled or never accepted therefore holds nothing; several proposals of one invoice may be open at
/// once, and the first acceptance wins: the others can no longer be accepted (DocumentAlreadyUsed).
/// A binding is permanent: an accepted asset is live and its invoice must never back another one.
interface IDocumentRegistry {
    /// @notice The seller accepted `asset` `assetId`: from now on `docHash` backs it and nothing else.
    event DocumentRegistered(bytes32 indexed docHash, address indexed asset, uint256 indexed assetId);
    event ConsumerSet(address indexed consumer, bool enabled, address indexed operator);

    error DocumentAlreadyUsed(bytes32 docHash, address asset, uint256 assetId);
    error DocumentZeroHash();
    error DocumentNoneGiven();
    error DocumentUnauthorizedConsumer(address caller);
    error DocumentNotOperator(address caller);

    /// @notice Bind each hash to (msg.sender, assetId): called when the seller accepts the asset.
    /// Reverts DocumentAlreadyUsed if any is bound (another proposal of the invoice was accepted first).
    function register(bytes32[] calldata docHashes, uint256 assetId) external;
    /// @notice Reverts DocumentAlreadyUsed (or DocumentZeroHash, DocumentNoneGiven) unless every hash is
    /// free: an asset contract checks its proposal at issue so that a bound invoice is refused at once.
    function requireUnbound(bytes32[] calldata docHashes) external view;
    /// @notice Allow or disallow an asset contract. Operator only.
    function setConsumer(address consumer, bool enabled) external;
    /// @return asset the contract and id that `docHash` backs (zero when free)
    function assetOf(bytes32 docHash) external view returns (address asset, uint256 assetId);
}
