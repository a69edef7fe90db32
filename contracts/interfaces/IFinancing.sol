// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

/// @title Financing: request → quote → accept → fund, delivery versus payment.
/// @notice A certificate holder (the seller) asks a chosen financier to discount a token or part of it;
/// the requested value is locked at once. Funding swaps atomically: the financier pays
/// price = face − discount in settlement token and receives the certificate.
/// Discount interest (贴现利息), rounded half up to the fen:
///   days     = ceil((maturity − now) / 86400)                      (a started day counts)
///   discount = (face × rateBps × days + 1_800_000) / 3_600_000     (3_600_000 = 360 days × 10_000 bps)
/// A quote binds: the seller accepts naming the exact terms it saw (rate, price, expiry), a quote is valid
/// for at most the registry's quoteValidity (default 24 h, at most 7 days) and is funded only before it
/// expires; an accepted quote that expired unfunded may be lapsed by anyone, unlocking the token.
/// With recourse, at default the financier hands the certificate back to the seller and the unpaid value
/// becomes a recourse debt of the seller recorded here. The debt is collected without the seller's
/// cooperation: at once and whenever the seller is paid on the platform (financing proceeds, certificate
/// claims and payouts) out of the seller's settlement-token balance, in parts, oldest debt first, also
/// while the seller is suspended; a seller that owes may not request new financing.
/// The platform never lends: only the financier's money moves, and only on the financier's call.
interface IFinancing {
    /// @notice None (unknown) → Requested → Quoted (re-quotable) → Accepted → Funded → Recoursed;
    /// Requested/Quoted/Accepted → Cancelled (seller) | Declined (financier); Accepted → Lapsed (anyone,
    /// once the quote expired unfunded).
    enum RequestStatus {
        None,
        Requested,
        Quoted,
        Accepted,
        Funded,
        Cancelled,
        Declined,
        Recoursed,
        Lapsed
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
    /// @param amount [fen] the token's unpaid value, now owed by the seller to the financier (recourse debt)
    event RecourseExercised(
        uint256 indexed requestId, uint256 indexed tokenId, address indexed financier, address seller, uint256 amount
    );
    /// @notice An accepted quote expired unfunded; the token is unlocked. Both sides are named (indexed).
    event FinancingLapsed(uint256 indexed requestId, address indexed seller, address indexed financier, address by);
    /// @notice `amount` [fen] of the recourse debt of `requestId` was collected from the seller's balance.
    /// @param remaining [fen] still owed on this request
    event RecourseCollected(
        uint256 indexed requestId, address indexed seller, address indexed financier, uint256 amount, uint256 remaining
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
    /// @notice acceptQuote named terms that are not the current quote's (it was re-quoted): the current terms.
    error FinancingQuoteChanged(uint256 requestId, uint32 rateBps, uint256 price, uint64 expiry);
    /// @notice lapse of a request whose quote is still live.
    error FinancingQuoteLive(uint256 requestId, uint64 expiry);
    /// @notice A seller that owes recourse cannot request new financing.
    error FinancingRecourseOwed(address seller, uint256 owed);
    /// @notice collectRecourse found nothing to collect (no debt, or no balance).
    error FinancingNothingToCollect(address seller, uint256 owed);
    /// @notice netRecourse called by someone other than a Tierflow system contract (Receivables, Bills).
    error FinancingNotSystemContract(address caller);

    /// @notice The holder (an active SUPPLIER) asks `financier` (an active FINANCIER) to discount
    /// `amount` [fen] of token `tokenId`; that value is locked at once (split off when partial).
    /// @return requestId ids start at 1
    function request(uint256 tokenId, uint256 amount, address financier, bool withRecourse)
        external
        returns (uint256 requestId);
    /// @notice The addressed financier quotes `rateBps` [bps] (1..10_000, and discount < face) valid
    /// until `expiry` [unix s] (now < expiry <= min(maturity, now + registry.quoteValidity())), while
    /// Requested or Quoted (re-quote).
    function quote(uint256 requestId, uint32 rateBps, uint64 expiry) external;
    /// @notice The seller accepts the current quote, before its expiry, naming the terms it saw:
    /// reverts FinancingQuoteChanged unless rate [bps], price [fen] and expiry [unix s] are the current ones.
    function acceptQuote(uint256 requestId, uint32 rateBps, uint256 price, uint64 expiry) external;
    /// @notice The financier funds an Accepted request before the quote's expiry: `price` settlement
    /// token financier → seller (approve this contract first) and the locked token → financier, atomically.
    function fund(uint256 requestId) external;
    /// @notice The seller withdraws the request before funding; the token is unlocked.
    function cancel(uint256 requestId) external;
    /// @notice The financier declines the request before funding; the token is unlocked.
    function decline(uint256 requestId) external;
    /// @notice Anyone ends an Accepted request whose quote expired unfunded: Lapsed, the token unlocked.
    function lapse(uint256 requestId) external;
    /// @notice The financier of a Funded with-recourse request, still holding the token of a Defaulted
    /// slot: its pending pro-rata share of the payments so far is paid to it, the token goes back to the
    /// seller, and the token's remaining value becomes the seller's recourse debt, collected at once as far
    /// as the seller's balance goes (no allowance needed; works while the seller is suspended).
    function exerciseRecourse(uint256 requestId) external;
    /// @notice Anyone: collect what a seller owes on recourse out of its settlement-token balance, oldest
    /// debt first; reverts FinancingNothingToCollect when nothing moves.
    function collectRecourse(address seller) external;
    /// @notice System contracts only (Receivables, Bills), after paying `holder`: collect its recourse debt
    /// out of what it just received (no-op when none).
    function netRecourse(address holder) external;

    /// @return the request (status None when unknown)
    function getRequest(uint256 requestId) external view returns (Request memory);
    /// @return owed [fen] what `seller` still owes on recourse, all requests together
    function recourseOwed(address seller) external view returns (uint256 owed);
    /// @return owed [fen] what is still owed on the recourse of request `requestId`
    function recourseDebt(uint256 requestId) external view returns (uint256 owed);
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

    // ---------------------------------------------------------------- lost-key recovery (issue 15)

    /// @notice Key recovery: `from` was replaced by `to` as the seller or the financier of `requestId`.
    event FinancingPartyRecovered(uint256 indexed requestId, address indexed from, address indexed to, bytes32 reasonHash);
    /// @notice Key recovery: the recourse debts of `from`, `owed` [fen] in all, are now owed by `to`.
    event RecourseDebtsRecovered(address indexed from, address indexed to, uint256 owed, bytes32 reasonHash);

    /// @notice A control called by someone other than governance.
    error FinancingNotGovernance(address caller);
    /// @notice recoverPositions to an address the registry did not recover `from`'s key to.
    error FinancingNotRecovered(address from, address to);
    /// @notice A recovery naming a request in which `from` is neither seller nor financier.
    error FinancingNotParty(uint256 requestId, address from);
    /// @notice A recovery without the hash of the re-verification record, or one that would move nothing.
    error FinancingNothingToRecover(address from);

    /// @notice Governance, lost-key recovery: after ParticipantRegistry.recover(from, to, ...), make `to` the
    /// seller or financier of every request in `requestIds` (at most 200) and move `from`'s recourse debts to
    /// `to`. Open requests keep going: funding pays the new seller (Receivables.recoverTokens moves the locked
    /// token to it).
    function recoverPositions(address from, address to, uint256[] calldata requestIds, bytes32 reasonHash) external;
}
