// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

/// @title Credit lines: a financier grants a core enterprise a line; issuing draws on it, repayment restores it.
/// @notice Invariant 5: for every line used <= limit, and a core enterprise's outstanding issued face
/// (issued or accepted and not yet repaid) equals the sum of `used` over its lines.
/// Only the platform decides nothing here: the financier sets limit and expiry.
interface ICreditLines {
    /// @param limit [fen]
    /// @param expiry [unix s] issuing against the line is allowed strictly before it
    event CreditLineGranted(
        uint256 indexed lineId, address indexed financier, address indexed obligor, uint256 limit, uint64 expiry
    );
    /// @param limit [fen]
    /// @param expiry [unix s]
    event CreditLineAdjusted(uint256 indexed lineId, uint256 limit, uint64 expiry, address indexed financier);
    /// @param amount [fen] drawn now
    /// @param used [fen] drawn in total after this draw
    event CreditLineDrawn(uint256 indexed lineId, uint256 amount, uint256 used);
    /// @param amount [fen] restored now
    /// @param used [fen] drawn in total after this restore
    event CreditLineRestored(uint256 indexed lineId, uint256 amount, uint256 used);
    event ConsumerSet(address indexed consumer, bool enabled, address indexed operator);

    /// @notice Key recovery: `to` replaced `from` as the line's obligor or financier.
    event CreditLineRecovered(uint256 indexed lineId, address indexed from, address indexed to, bytes32 reasonHash);

    error CreditLineUnknown(uint256 lineId);
    error CreditLineExpired(uint256 lineId, uint64 expiry);
    error CreditLineExceeded(uint256 lineId, uint256 available, uint256 requested);
    error CreditLineWrongObligor(uint256 lineId, address obligor);
    error CreditLineNotFinancier(uint256 lineId, address caller);
    error CreditLineBelowUsed(uint256 lineId, uint256 used, uint256 newLimit);
    error CreditLineUnauthorizedConsumer(address caller);
    error CreditLineInvalidExpiry(uint64 expiry);
    error CreditLineZeroLimit();
    /// @notice setConsumer from an address without the operator role.
    error CreditLineNotOperator(address caller);
    /// @notice recoverLines called by someone other than governance.
    error CreditLineNotGovernance(address caller);
    /// @notice recoverLines to an address the registry did not recover `from`'s key to, without a reason, or
    /// naming `size` lines (0 or more than MAX_RECOVERY_BATCH, 200).
    error CreditLineNotRecovered(address from, address to, uint256 size);
    /// @notice A recovery names line `lineId`, of which `from` is neither the obligor nor the financier.
    error CreditLineNotParty(uint256 lineId, address from);
    /// @notice restore of more than is drawn (a consumer bug; cannot happen through Receivables).
    error CreditLineOverRestored(uint256 lineId, uint256 used, uint256 amount);

    /// @notice Grant `obligor` (an active CORE_ENTERPRISE) a line of `limit` [fen] until `expiry` [unix s].
    /// Caller: an active FINANCIER. Ids start at 1.
    /// @return lineId the new line's id
    function grant(address obligor, uint256 limit, uint64 expiry) external returns (uint256 lineId);
    /// @notice Change limit [fen] and expiry [unix s] of a line. Caller: the line's financier, active.
    /// `newLimit` may be anything >= used (0 or `used` freezes the line); `newExpiry` must be in the future.
    function adjust(uint256 lineId, uint256 newLimit, uint64 newExpiry) external;
    /// @notice Draw `amount` [fen] for an issue by `obligor`. Consumers (Receivables) only.
    /// Requires line.obligor == obligor, now < expiry, used + amount <= limit, and the line's
    /// financier still an active FINANCIER (a suspended bank's lines cannot be drawn).
    function draw(uint256 lineId, address obligor, uint256 amount) external;
    /// @notice Give back `amount` [fen] (repayment, rejection or cancellation). Consumers only.
    /// Works after expiry too: it only lowers `used`.
    function restore(uint256 lineId, uint256 amount) external;
    /// @notice Allow or disallow a consumer contract. Operator only.
    function setConsumer(address consumer, bool enabled) external;

    /// @notice Governance, lost-key recovery: after ParticipantRegistry.recover(from, to, ...), replace `from` by
    /// `to` as obligor and/or financier of every line in `lineIds` (the indexer lists them; at most 200), so the
    /// new key issues against, adjusts and is repaid on them and the old key on none.
    function recoverLines(address from, address to, uint256[] calldata lineIds, bytes32 reasonHash) external;
    /// @return financier the bank that granted the line
    /// @return obligor the core enterprise that may draw on it
    /// @return limit [fen]
    /// @return used [fen] currently drawn
    /// @return expiry [unix s]
    function line(uint256 lineId)
        external
        view
        returns (address financier, address obligor, uint256 limit, uint256 used, uint64 expiry);
    /// @return [fen] limit - used (0 for an unknown line; not reduced by expiry)
    function available(uint256 lineId) external view returns (uint256);
    /// @return whether `consumer` may draw and restore
    function isConsumer(address consumer) external view returns (bool);
}
