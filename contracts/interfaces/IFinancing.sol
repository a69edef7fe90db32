// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

/// @title Financing: request → quote → accept → fund, delivery versus payment.
/// @notice A certificate holder (the seller) asks a chosen financier to discount a token or part of it;
/// the requested value is locked at once. Funding swaps atomically: the financier pays
/// price = face − discount in settlement token and receives the certificate.
/// Discount interest (贴现利息), rounded half up to the fen:
///   days     = ceil((maturity − now) / 86400)                      (a started day counts)
///   discount = (face × rateBps × days + 1_800_000) / 3_600_000     (3_600_000 = 360 days × 10_000 bps)
/// With recourse, the financier may hand a defaulted certificate back to the seller for its value.
/// The platform never lends: only the financier's money moves, and only on the financier's call.
interface IFinancing {
    /// @notice None (unknown) → Requested → Quoted (re-quotable) → Accepted → Funded → Recoursed;
    /// Requested/Quoted/Accepted → Cancelled (seller) | Declined (financier).
    enum RequestStatus {
        None,
        Requested,
        Quoted,
        Accepted,
        Funded,
        Cancelled,
        Declined,
        Recoursed
    }

    struct Request {
        uint256 tokenId; // the locked token (split off the token named in request() when partial)
        address seller;
        address financier;
        uint256 amount; // [fen] face of the financed token
        bool withRecourse;
        RequestStatus status;
        uint32 rateBps; // [bps] annual discount rate of the current quote
        uint64 expiry; // [unix s] the quote may be accepted and funded strictly before this
        uint256 discount; // [fen]
        uint256 price; // [fen] amount - discount
    }

    /// @param tokenId the locked token
    /// @param amount [fen]
    event FinancingRequested(
        uint256 indexed requestId,
        uint256 indexed tokenId,
        address indexed seller,
        address financier,
        uint256 amount,
        bool withRecourse
    );
    /// @param rateBps [bps]
    /// @param expiry [unix s]
    /// @param discount [fen]
    /// @param price [fen]
    event FinancingQuoted(
        uint256 indexed requestId, address indexed financier, uint32 rateBps, uint64 expiry, uint256 discount, uint256 price
    );
    event FinancingQuoteAccepted(uint256 indexed requestId, address indexed seller);
    /// @param price [fen] paid to the seller
    /// @param discount [fen] kept by the financier until maturity
    event FinancingFunded(
        uint256 indexed requestId,
        uint256 indexed tokenId,
        address indexed financier,
        address seller,
        uint256 price,
        uint256 discount
    );
    event FinancingCancelled(uint256 indexed requestId, address indexed by);
    event FinancingDeclined(uint256 indexed requestId, address indexed financier);
    /// @param amount [fen] the token's value, paid by the seller to the financier
    event RecourseExercised(
        uint256 indexed requestId, uint256 indexed tokenId, address indexed financier, address seller, uint256 amount
    );

    error FinancingUnknownRequest(uint256 requestId);
    error FinancingWrongStatus(uint256 requestId, RequestStatus status);
    error FinancingNotSeller(uint256 requestId, address caller);
    error FinancingNotFinancier(uint256 requestId, address caller);
    error FinancingQuoteExpired(uint256 requestId, uint64 expiry);
    error FinancingInvalidRate(uint32 rateBps);
    error FinancingInvalidExpiry(uint64 expiry);
    error FinancingNoRecourse(uint256 requestId);
    error FinancingNotDefaulted(uint256 slotId);
    error FinancingTokenMoved(uint256 requestId, uint256 tokenId);
    /// @notice A participant cannot finance its own certificate.
    error FinancingSelfDealing(address account);

    /// @notice The holder (an active SUPPLIER) asks `financier` (an active FINANCIER) to discount
    /// `amount` [fen] of token `tokenId`; that value is locked at once (split off when partial).
    /// @return requestId ids start at 1
    function request(uint256 tokenId, uint256 amount, address financier, bool withRecourse)
        external
        returns (uint256 requestId);
    /// @notice The addressed financier quotes `rateBps` [bps] (1..10_000, and discount < face) valid
    /// until `expiry` [unix s] (now < expiry <= maturity), while Requested or Quoted (re-quote).
    function quote(uint256 requestId, uint32 rateBps, uint64 expiry) external;
    /// @notice The seller accepts the current quote, before its expiry.
    function acceptQuote(uint256 requestId) external;
    /// @notice The financier funds an Accepted request before the quote's expiry: `price` settlement
    /// token financier → seller (approve this contract first) and the locked token → financier, atomically.
    function fund(uint256 requestId) external;
    /// @notice The seller withdraws the request before funding; the token is unlocked.
    function cancel(uint256 requestId) external;
    /// @notice The financier declines the request before funding; the token is unlocked.
    function decline(uint256 requestId) external;
    /// @notice The financier of a Funded with-recourse request, still holding the token of a Defaulted
    /// slot, takes the token's value from the seller (who approved this contract) and hands the token back.
    function exerciseRecourse(uint256 requestId) external;

    /// @return the request (status None when unknown)
    function getRequest(uint256 requestId) external view returns (Request memory);
    /// @return the last request id (ids start at 1)
    function lastRequestId() external view returns (uint256);
    /// @notice The quote arithmetic for `face` [fen] at `rateBps` [bps] to `maturity` [unix s], as of now.
    /// @return days_ started days to maturity (0 at or after maturity)
    /// @return discount [fen]
    /// @return price [fen] face - discount (0 when the discount reaches the face)
    function discountFor(uint256 face, uint32 rateBps, uint64 maturity)
        external
        view
        returns (uint256 days_, uint256 discount, uint256 price);
}
