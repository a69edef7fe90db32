// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

/// @title Receivables: the certificate ledger, ERC-3525-style semi-fungible tokens.
/// @notice A slot is one payable a core enterprise (the obligor) issued: face [fen], maturity [unix s],
/// the credit line it draws on and the invoices behind it. A token is (id, slot, value [fen], holder,
/// parent, root): moving part of a token's value to another holder creates a new token whose parent
/// is the token it came from and whose root is the slot's first token, so lineage back to the
/// obligor's payable is on chain at any tier. The chain does not enumerate tokens or holders: the
/// indexer does, from the events below (one event per state change).
///
/// Invariant 1: for every slot, the sum of its live token values + paidOut == face, and never grows.
/// Invariant 6: at maturity the obligor's money (paidIn) is paid out once, fen for fen, to the holders.
/// Invariant 8: from maturity on every payment (on time, partial, late, a recovery after default) is
/// claimable at once by the holders pro rata to what each is still owed (see claim for the rounding).
interface IReceivables {
    /// @notice None (unknown) → Issued → Accepted | Rejected | Cancelled; Accepted → Defaulted | Repaid;
    /// Defaulted → Repaid.
    enum SlotStatus {
        None,
        Issued,
        Accepted,
        Rejected,
        Cancelled,
        Defaulted,
        Repaid
    }

    /// @notice One issued payable (a slot).
    struct Payable {
        address obligor;
        uint256 lineId;
        uint256 face; // [fen]
        uint64 maturity; // [unix s]
        uint64 issuedAt; // [unix s]
        SlotStatus status;
        uint256 paidIn; // [fen] repaid by the obligor so far
        uint256 paidOut; // [fen] paid to holders so far (claim / payout)
        uint256 rootTokenId;
        uint256 invoiceCount;
    }

    /// @notice One certificate token. `value` is what is still owed on it: claims lower it, 0 once paid in full.
    struct Certificate {
        address holder;
        uint256 slotId;
        uint256 value; // [fen]
        uint256 parent; // 0 for the root token
        uint256 root; // the slot's root token (its own id for the root)
        bool locked;
        uint256 lockRef; // the Financing request id while locked, else 0
    }

    /// @param face [fen]
    /// @param maturity [unix s]
    event CertificateIssued(
        uint256 indexed slotId,
        uint256 indexed tokenId,
        address indexed obligor,
        address supplier,
        uint256 face,
        uint64 maturity,
        uint256 lineId,
        bytes32[] invoiceHashes
    );
    event CertificateAccepted(uint256 indexed slotId, address indexed supplier);
    /// @notice The root token is burnt and the credit line restored; the proposed invoices never bound.
    event CertificateRejected(uint256 indexed slotId, address indexed supplier);
    /// @notice Same as a rejection.
    event CertificateCancelled(uint256 indexed slotId, address indexed obligor);
    /// @notice A whole token changed holder (transfer, transferValue of the whole value, financing
    /// settlement — which also clears the lock — and recourse).
    /// @param value [fen]
    event CertificateTransferred(uint256 indexed tokenId, address indexed from, address indexed to, uint256 value);
    /// @notice `value` [fen] left `fromTokenId` for the new token `newTokenId` held by `to`.
    event CertificateSplit(
        uint256 indexed fromTokenId,
        uint256 indexed newTokenId,
        address indexed to,
        address from,
        uint256 value,
        uint256 rootTokenId
    );
    /// @param ref the Financing request id
    event CertificateLocked(uint256 indexed tokenId, uint256 indexed ref);
    event CertificateUnlocked(uint256 indexed tokenId, uint256 indexed ref);
    /// @notice `amount` [fen] repaid now; `paidIn` [fen] repaid in total. paidIn == face means Repaid.
    event PayableRepaid(uint256 indexed slotId, address indexed obligor, uint256 amount, uint256 paidIn);
    /// @notice `amount` [fen] paid to `holder`; the token's value fell by `amount` (0 when paid in full).
    event CertificateClaimed(uint256 indexed tokenId, uint256 indexed slotId, address indexed holder, uint256 amount);
    /// @param unpaid [fen] face - paidIn when marked
    event PayableDefaulted(uint256 indexed slotId, uint256 unpaid, address indexed by);
    event FinancingSet(address indexed financing, address indexed operator);

    error CertificateUnknownSlot(uint256 slotId);
    error CertificateUnknownToken(uint256 tokenId);
    error CertificateNotHolder(uint256 tokenId, address caller, address holder);
    error CertificateNotSupplier(uint256 slotId, address caller);
    error CertificateNotObligor(uint256 slotId, address caller);
    error CertificateWrongStatus(uint256 slotId, SlotStatus status);
    /// @notice The token is locked for financing request `ref` (the event is CertificateLocked).
    error CertificateIsLocked(uint256 tokenId, uint256 ref);
    error CertificateMatured(uint256 tokenId, uint64 maturity);
    error CertificateNotMatured(uint256 slotId, uint64 maturity);
    error CertificateInsufficientValue(uint256 tokenId, uint256 value, uint256 requested);
    error CertificateInvalidAmount(uint256 amount, uint256 minUnit);
    error CertificateInvalidMaturity(uint64 maturity, uint64 latest);
    error CertificateOverpaid(uint256 slotId, uint256 outstanding, uint256 amount);
    error CertificateGracePeriodRunning(uint256 slotId, uint64 defaultableAt);
    error CertificateAlreadySettled(uint256 tokenId);
    error CertificateBatchTooLarge(uint256 size, uint256 max);
    error CertificateOnlyFinancing(address caller);
    error CertificateNoInvoices();
    /// @notice More invoice hashes than one certificate may carry.
    error CertificateTooManyInvoices(uint256 count, uint256 max);
    /// @notice A core enterprise cannot issue a certificate to itself.
    error CertificateSelfIssue(address obligor);
    /// @notice unlock/settleLocked of a token that is not locked.
    error CertificateNotLocked(uint256 tokenId);
    /// @notice Operator-only function (payout, setFinancing) called by someone else.
    error CertificateNotOperator(address caller);
    /// @notice markDefaulted by someone who is neither the operator nor the active holder of the named
    /// token of that payable.
    error CertificateNotAllowed(address caller);
    /// @notice transfer/transferValue of a whole token to its own holder would change nothing.
    error CertificateSelfTransfer(uint256 tokenId, address holder);
    /// @notice claim when the token's pro-rata share of the escrow is 0 fen (nothing paid in since).
    error CertificateNothingToClaim(uint256 tokenId, uint256 paidIn, uint256 paidOut);
    /// @notice payout that would pay no one.
    error CertificateNothingToPay();
    /// @notice setFinancing is one-time.
    error CertificateFinancingAlreadySet(address financing);

    /// @notice Issue a payable of `face` [fen] due at `maturity` [unix s] to `supplier`, drawing `face`
    /// on credit line `lineId` (which must be the caller's) and proposing `invoiceHashes` (1..32 keyed
    /// hashes, each unbound platform-wide: DocumentAlreadyUsed otherwise). They bind only when the
    /// supplier, the seller they name, accepts. Caller: an active CORE_ENTERPRISE; supplier: an active
    /// SUPPLIER other than the caller. face is a positive multiple of minUnit; now < maturity <= now + maxTenor.
    /// @return slotId the new payable
    /// @return tokenId its root token, held by `supplier`
    function issue(address supplier, uint256 face, uint64 maturity, uint256 lineId, bytes32[] calldata invoiceHashes)
        external
        returns (uint256 slotId, uint256 tokenId);
    /// @notice The supplier named at issue accepts the payable, before maturity, while Issued; this binds
    /// its invoices in the document registry (DocumentAlreadyUsed if another asset bound one first).
    function accept(uint256 slotId) external;
    /// @notice The supplier named at issue rejects it while Issued: the root token is burnt, the credit
    /// line restored; the invoices were never bound.
    function reject(uint256 slotId) external;
    /// @notice The obligor withdraws the payable while Issued (same as reject).
    function cancel(uint256 slotId) external;
    /// @notice Move the whole token to `to` (an active SUPPLIER or FINANCIER). Holder only, slot
    /// Accepted (or Repaid early), before maturity, token not locked.
    function transfer(uint256 tokenId, address to) external;
    /// @notice Move `value` [fen] of the token to `to`: a new token (parent = tokenId, same root) if
    /// value < token value, the whole token (same id) if equal. Same rules as transfer; value is a
    /// positive multiple of minUnit and at most the token value.
    /// @return newTokenId the token `to` now holds
    function transferValue(uint256 tokenId, address to, uint256 value) external returns (uint256 newTokenId);
    /// @notice transferValue to oneself: split `value` [fen] off into a new token (returns tokenId itself
    /// when value is the whole value).
    function split(uint256 tokenId, uint256 value) external returns (uint256 newTokenId);

    /// @notice Financing only: lock `amount` [fen] of `owner`'s token for request `ref`, splitting it off
    /// into a new token of `owner` first when amount < value.
    /// @return lockedTokenId the token now locked
    function lock(uint256 tokenId, address owner, uint256 amount, uint256 ref) external returns (uint256 lockedTokenId);
    /// @notice Financing only: release the lock (request cancelled or declined).
    function unlock(uint256 tokenId) external;
    /// @notice Financing only: deliver a locked token to the funding financier `to` and unlock it.
    /// Before maturity, slot Accepted (or Repaid early).
    function settleLocked(uint256 tokenId, address to) external;
    /// @notice Financing only: hand a token of a Defaulted slot back to `to` (the seller) on recourse, after
    /// paying its holder (the financier) the token's pending pro-rata share; later recoveries go to `to`.
    /// @return remaining [fen] the token's value left, the recourse debt
    function recourseTransfer(uint256 tokenId, address to) external returns (uint256 remaining);

    /// @notice The obligor pays `amount` [fen] (a positive multiple of minUnit, paidIn + amount <= face)
    /// in settlement token (approve this contract first), while Accepted or Defaulted, any time (early
    /// repayment stays in escrow here until maturity). Restores the credit line by `amount`; the
    /// slot becomes Repaid when paidIn == face.
    function repay(uint256 slotId, uint256 amount) external;
    /// @notice From maturity on, the holder collects its token's pro-rata share of what the obligor paid
    /// in (Accepted with a part paid, Defaulted, or Repaid). With V the token's value at maturity (its
    /// value now + what it claimed), the token is due floor(V × paidIn / face) in all; a claim pays that
    /// minus what it claimed before, and the token's value falls by the amount. Rounding: floor per token,
    /// so paid out <= paid in always; the fen left by flooring stay in escrow until a later payment; once
    /// paidIn == face every token has received exactly V, so no fen is stranded. A holder owing recourse
    /// pays its debt out of it at once (IFinancing.netRecourse).
    function claim(uint256 tokenId) external;
    /// @notice Operator only: claim on behalf of up to 100 holders, by the same rule. Settled tokens,
    /// locked tokens, tokens with a 0 share and tokens whose holder is not an active SUPPLIER/FINANCIER are
    /// skipped (their holder claims later); reverts CertificateNothingToPay when it would pay no one.
    function payout(uint256[] calldata tokenIds) external;
    /// @notice Mark an Accepted payable Defaulted once now >= maturity + gracePeriod and paidIn < face.
    /// Caller: the operator (`heldTokenId` ignored) or a party to it: the active holder of `heldTokenId`,
    /// a token of this payable with value left (the chain does not enumerate holders, so the caller names it).
    function markDefaulted(uint256 slotId, uint256 heldTokenId) external;
    /// @notice One-time wiring of the Financing contract. Operator only.
    function setFinancing(address financing_) external;

    /// @return the payable `slotId` (status None when unknown)
    function slot(uint256 slotId) external view returns (Payable memory);
    /// @return the token `tokenId` (holder zero when unknown or burnt)
    function token(uint256 tokenId) external view returns (Certificate memory);
    /// @return the invoice hashes proposed at issue (bound once accepted; still listed after a rejection or cancellation)
    function invoicesOf(uint256 slotId) external view returns (bytes32[] memory);
    /// @return the holder (reverts CertificateUnknownToken when unknown)
    function ownerOf(uint256 tokenId) external view returns (address);
    /// @return [fen] the token's value (ERC-3525 balanceOf)
    function balanceOf(uint256 tokenId) external view returns (uint256);
    /// @return the token's slot (reverts CertificateUnknownToken when unknown)
    function slotOf(uint256 tokenId) external view returns (uint256);
    /// @return 2: values are in fen
    function valueDecimals() external view returns (uint8);
    /// @return the last slot id issued (ids start at 1)
    function lastSlotId() external view returns (uint256);
    /// @return the last token id minted (ids start at 1)
    function lastTokenId() external view returns (uint256);
    /// @return the Financing contract (zero until set)
    function financing() external view returns (address);

    // ---------------------------------------------------------------- asset-level controls (issue 15)
    // A judicial hold (司法冻结) freezes a whole token; a hold on part of a token's value splits that part
    // off into a new token of the same holder first, so a frozen amount is always a whole token. Frozen
    // value cannot move, be financed or claimed; payout settles it into an escrow held here until the
    // hold is released, and release pays the token's holder then (after a forced transfer, the new one).
    // Every control is a governance power (today the registry's operator role) and names the order.

    /// @notice `value` [fen] of token `tokenId` (held by `holder`) was frozen under the order `reasonHash`.
    event CertificateFrozen(
        uint256 indexed tokenId, address indexed holder, uint256 value, bytes32 reasonHash, address indexed by
    );
    /// @notice The hold on `tokenId` was released; `released` [fen] of escrow went to `holder`.
    event CertificateUnfrozen(
        uint256 indexed tokenId, address indexed holder, uint256 released, bytes32 reasonHash, address indexed by
    );
    /// @notice Payout settled `amount` [fen] due on frozen token `tokenId` into the escrow of its hold.
    event CertificateEscrowed(uint256 indexed tokenId, uint256 indexed slotId, address indexed holder, uint256 amount);
    /// @notice Governance moved `value` [fen] of `fromTokenId` (token `tokenId` now, the same id for a whole
    /// token) from `from` to `to` on the order `reasonHash` (a court order or a key recovery). The move itself
    /// is also reported as CertificateTransferred or CertificateSplit (a key recovery is CertificateRecovered).
    event CertificateForceTransferred(
        uint256 indexed fromTokenId,
        uint256 indexed tokenId,
        address indexed to,
        address from,
        uint256 value,
        bytes32 reasonHash,
        address by
    );

    /// @notice Key recovery moved token `tokenId` (value [fen]) whole from `from` to `to`, with any lock (its
    /// request moves in Financing), hold and escrow: unlike CertificateTransferred, a lock stays.
    event CertificateRecovered(
        uint256 indexed tokenId, address indexed from, address indexed to, uint256 value, bytes32 reasonHash, address by
    );

    /// @notice Key recovery: `to` replaced `from` as the obligor of payable `slotId` (it repays it now).
    event PayableObligorRecovered(uint256 indexed slotId, address indexed from, address indexed to, bytes32 reasonHash);

    /// @notice A control called by someone other than governance.
    error CertificateNotGovernance(address caller);
    /// @notice The token is under a judicial hold (the event is CertificateFrozen).
    error CertificateIsFrozen(uint256 tokenId, bytes32 reasonHash);
    /// @notice unfreeze of a token that is not frozen.
    error CertificateNotFrozen(uint256 tokenId);
    /// @notice A control without the hash of the order behind it.
    error CertificateNoReason();
    /// @notice A hold or forced move of part of a token that has already been paid part of its value: the
    /// pro-rata accounting follows whole tokens from then on.
    error CertificatePartlyPaidOut(uint256 tokenId, uint256 claimed);
    /// @notice recoverTokens to an address the registry did not recover `from`'s key to.
    error CertificateNotRecovered(address from, address to);
    /// @notice A key recovery names 1 to `max` tokens.
    error CertificateRecoveryBatch(uint256 size, uint256 max);

    /// @notice Governance: freeze `amount` [fen] of `tokenId` (the whole token, or a part split off into a new
    /// token of the same holder) under the order `reasonHash`. Slot Accepted, Defaulted or Repaid, value left,
    /// not locked for financing and not frozen already; a part is a multiple of minUnit of a token not yet paid
    /// anything. Works while paused and whatever the holder's status.
    /// @return frozenTokenId the token now frozen
    function freeze(uint256 tokenId, uint256 amount, bytes32 reasonHash) external returns (uint256 frozenTokenId);
    /// @notice Governance: release the hold on `tokenId`, paying its escrow to its holder (who must then be an
    /// active SUPPLIER or FINANCIER; a holder owing recourse pays its debt out of it, as on a claim).
    function unfreeze(uint256 tokenId, bytes32 reasonHash) external;
    /// @notice Governance: move `value` [fen] of `tokenId` to `to` (an active SUPPLIER or FINANCIER) without its
    /// holder, on the order `reasonHash`: the whole token (a hold and its escrow follow it) or a part of an
    /// unfrozen token (same rules as a frozen part). Not locked for financing; any time after acceptance.
    /// @return newTokenId the token `to` now holds
    function forceTransfer(uint256 tokenId, address to, uint256 value, bytes32 reasonHash)
        external
        returns (uint256 newTokenId);
    /// @notice Governance, lost-key recovery: after ParticipantRegistry.recover(from, to, ...), move every token
    /// in `tokenIds` (all held by `from`; the chain does
    /// not enumerate, so the caller names them, at most MAX_RECOVERY_BATCH) whole to `to`, locks, holds and
    /// escrow included (Financing.recoverPositions moves the requests behind the locks). The registry moves
    /// the participant itself (ParticipantRegistry.recover).
    function recoverTokens(address from, address to, uint256[] calldata tokenIds, bytes32 reasonHash) external;
    /// @notice Governance, lost-key recovery: after ParticipantRegistry.recover(from, to, ...), make `to` the
    /// obligor of every payable in `slotIds` (all issued by `from`, any status; at most MAX_RECOVERY_BATCH), so
    /// the new key repays, cancels and answers for them and the old key none of them.
    function recoverObligations(address from, address to, uint256[] calldata slotIds, bytes32 reasonHash) external;
    /// @return frozen whether `tokenId` is under a hold
    /// @return reasonHash the order of the hold (0 when not frozen)
    /// @return escrowed [fen] settled on it and held until release
    function hold(uint256 tokenId) external view returns (bool frozen, bytes32 reasonHash, uint256 escrowed);
}
