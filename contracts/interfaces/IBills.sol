// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

/// @title Digital bills (电子商业汇票): bill packages whose value is a range of 0.01-yuan sub-tickets (子票区间).
/// @notice A package of face F [fen] holds sub-tickets 1 … F (one sub-ticket = 1 fen). After the payee
/// signs for receipt the package is held as ranges [start, end]; endorsing, discounting, pledging or
/// settling recourse on part of a range carves a contiguous sub-range out of it. For each package the
/// live ranges never overlap and together cover exactly [1, face].
///
/// Ranges are records with a global id. A record's holder never changes: every change of holder
/// (endorsement, discount, rediscount, recourse) creates a new record for the new holder and links it
/// to where it came from (`prev`). Walking `prev` from a range gives its endorsement chain: the holders
/// of the ancestors are the prior endorsers who are liable in recourse, together with the drawer.
/// A record that keeps its holder but is carved (the remainder of a middle cut, a partly pledged range)
/// copies its parent's `prev`, so it inherits the same chain without copying arrays.
///
/// Carving rule (the indexer replays it from the events): moving [start, end] out of record `from`
/// holding [s, e]:
/// - whole ([start, end] == [s, e]): a new record gets [s, e] and `from` is Closed (for a pledge of the
///   whole range no record is created: `from` itself becomes Pledged);
/// - prefix (start == s, end < e): the new record gets [start, end], `from` keeps [end + 1, e];
/// - suffix or middle (start > s): the new record gets [start, end], `from` keeps [s, start - 1], and
///   for a middle cut (end < e) a remainder record `remainderRangeId` gets [end + 1, e] with
///   `from`'s holder and status Held and `from`'s prev.
///
/// Every state change checks `registry.requireNotPaused()` and that the acting party and the receiving
/// party are active participants in an allowed role. Auditors never write. Amounts are [fen].
interface IBills {
    /// @notice None (unknown id) → Issued → Accepted (承兑, delivered to the payee) → Received (收票, live);
    /// Issued → Cancelled (drawer withdraws or acceptor refuses); Accepted → Rejected (payee refuses).
    enum PackageStatus {
        None,
        Issued,
        Accepted,
        Received,
        Rejected,
        Cancelled
    }

    /// @notice None (unknown id); Held (may move before maturity); Pledged (质押, cannot move);
    /// Presented (提示付款, awaiting the acceptor); Paid (terminal); Dishonoured (拒付, recourse open);
    /// Closed (the holder passed every sub-ticket of this record on; kept for the endorsement chain);
    /// Frozen (司法冻结, a judicial hold on a Held range: cannot move, be discounted, pledged or presented).
    enum RangeStatus {
        None,
        Held,
        Pledged,
        Presented,
        Paid,
        Dishonoured,
        Closed,
        Frozen
    }

    struct Package {
        address drawer;
        uint64 maturity; // [unix s]
        PackageStatus status;
        bool splittable;
        bool notTransferable; // 不得转让: no endorsement, discount or pledge
        bool bankAcceptance; // the acceptor held the FINANCIER role at issue (银票), else commercial (商票)
        address acceptor;
        uint64 face; // [fen] = number of sub-tickets
        address payee;
        bytes12 invoicesDigest; // bytes12(keccak256(abi.encodePacked(invoiceHashes))), checked on receipt
    }

    struct Range {
        address holder; // never changes for a record
        uint64 packageId;
        RangeStatus status;
        uint24 depth; // records between this one and the root: the length of its endorsement chain
        uint64 start; // first sub-ticket, inclusive
        uint64 end; // last sub-ticket, inclusive
        uint64 prev; // record this holder received the range from (0: root range, or taken by the drawer)
        uint64 presentedAt; // [unix s] 0 until presented
    }

    struct Quote {
        address financier;
        uint64 rangeId;
        uint32 rateBps; // [bps] annual discount rate
        uint64 start;
        uint64 end;
        uint64 expiry; // [unix s] the quote may be accepted while now < expiry
    }

    // ------------------------------------------------------------------ events

    /// @notice 出票. `bankAcceptance` is true when the acceptor is a FINANCIER (bank acceptance bill).
    /// @param face [fen] the package holds sub-tickets 1 … face
    /// @param maturity [unix s]
    event BillIssued(
        uint256 indexed packageId,
        address indexed drawer,
        address indexed acceptor,
        address payee,
        uint256 face,
        uint64 maturity,
        bool splittable,
        bool notTransferable,
        bool bankAcceptance,
        bytes32[] invoiceHashes
    );
    /// @notice The drawer withdrew the package or the acceptor refused to accept it; its invoices never bound.
    event BillCancelled(uint256 indexed packageId, address indexed by);
    /// @notice 承兑: the acceptor accepted; the package is delivered to the payee.
    event BillAccepted(uint256 indexed packageId, address indexed acceptor, address indexed payee);
    /// @notice 收票: the payee signed for receipt; root range `rangeId` holds [1, face]; the invoices are
    /// bound to the package from now on (DocumentRegistry emits DocumentRegistered for each).
    event BillReceived(uint256 indexed packageId, uint256 indexed rangeId, address indexed payee, uint256 face);
    /// @notice The payee refused the delivered package; its invoices never bound.
    event BillRejected(uint256 indexed packageId, address indexed payee);
    /// @notice 背书转让 of [start, end] out of `fromRangeId` to `to`; see the carving rule.
    /// @param remainderRangeId the record created for the endorser's right-hand rest of a middle cut, else 0
    event BillEndorsed(
        uint256 indexed packageId,
        address indexed from,
        address indexed to,
        uint256 fromRangeId,
        uint256 newRangeId,
        uint256 start,
        uint256 end,
        uint256 remainderRangeId
    );
    /// @notice A financier offered to discount (or rediscount) [start, end] of `rangeId` at `rateBps`.
    event BillQuoted(
        uint256 indexed quoteId,
        uint256 indexed rangeId,
        address indexed financier,
        uint256 start,
        uint256 end,
        uint32 rateBps,
        uint64 expiry
    );
    event BillQuoteCancelled(uint256 indexed quoteId, address indexed financier);
    /// @notice 贴现 (holder not a financier) or 转贴现 (`rediscount`, holder is a financier): the holder
    /// accepted quote `quoteId`; `price` moved financier → holder and [start, end] moved holder → financier
    /// atomically. interest = round half up(amount × rateBps × days / 3_600_000), amount = end − start + 1,
    /// days = ceil((maturity − now) / 86400), price = amount − interest.
    event BillDiscounted(
        uint256 indexed packageId,
        uint256 indexed quoteId,
        address indexed financier,
        address from,
        uint256 fromRangeId,
        uint256 newRangeId,
        uint256 start,
        uint256 end,
        uint256 remainderRangeId,
        uint256 interest,
        uint256 price,
        bool rediscount
    );
    /// @notice 质押: [start, end] of `fromRangeId` pledged to `pledgee`. `rangeId` is the pledged record
    /// (== fromRangeId when the whole range is pledged; no new record then).
    event BillPledged(
        uint256 indexed packageId,
        address indexed holder,
        address indexed pledgee,
        uint256 fromRangeId,
        uint256 rangeId,
        uint256 start,
        uint256 end,
        uint256 remainderRangeId
    );
    /// @notice The pledgee released the pledge; the range is Held again.
    event BillPledgeReleased(uint256 indexed packageId, uint256 indexed rangeId, address indexed pledgee, address holder);
    /// @notice 提示付款 by the holder at or after maturity.
    event BillPresented(uint256 indexed packageId, uint256 indexed rangeId, address indexed holder, uint256 amount);
    /// @notice The acceptor paid `amount` [fen] of settlement token to the holder of the range.
    event BillPaid(
        uint256 indexed packageId, uint256 indexed rangeId, address indexed acceptor, address holder, uint256 amount
    );
    /// @notice 拒付. `by` is the acceptor (reason > 0, codes defined off chain) or the holder marking a
    /// presentation the acceptor left unanswered past the grace period (reason 0 = no response).
    event BillDishonoured(
        uint256 indexed packageId, uint256 indexed rangeId, address indexed by, address holder, uint256 amount, uint8 reason
    );
    /// @notice 追索: the holder of a dishonoured range named `obligor` (a prior endorser or the drawer).
    event BillRecourseClaimed(
        uint256 indexed packageId, uint256 indexed rangeId, address indexed obligor, address holder, uint256 amount
    );
    /// @notice The obligor paid `amount` to the holder and took the range as `newRangeId` (Dishonoured,
    /// linked behind its own place in the chain, so it may claim further back).
    event BillRecourseSettled(
        uint256 indexed packageId,
        address indexed obligor,
        address indexed holder,
        uint256 fromRangeId,
        uint256 newRangeId,
        uint256 amount
    );
    /// @notice The operator set the longest endorsement chain a range may reach.
    event BillChainLengthSet(uint256 cap, address indexed operator);
    event BillFinancingSet(address indexed financing, address indexed operator);

    // ------------------------------------------------------------------ errors

    error BillUnknownPackage(uint256 packageId);
    error BillUnknownRange(uint256 rangeId);
    error BillUnknownQuote(uint256 quoteId);
    error BillWrongPackageStatus(uint256 packageId, PackageStatus status);
    error BillWrongRangeStatus(uint256 rangeId, RangeStatus status);
    error BillNotDrawerOrAcceptor(uint256 packageId, address caller);
    error BillNotAcceptor(uint256 packageId, address caller);
    error BillNotPayee(uint256 packageId, address caller);
    error BillNotHolder(uint256 rangeId, address caller, address holder);
    error BillNotPledgee(uint256 rangeId, address caller);
    error BillNotQuoteFinancier(uint256 quoteId, address caller);
    error BillNotRecourseObligor(uint256 rangeId, address caller, address obligor);
    /// @notice face must be a positive multiple of minUnit and fit in 64 bits.
    error BillInvalidFace(uint256 face, uint256 minUnit);
    /// @notice maturity must lie in (now, now + maxTenor].
    error BillInvalidMaturity(uint64 maturity, uint64 latest);
    error BillNoInvoices();
    error BillInvoicesMismatch(uint256 packageId);
    /// @notice [start, end] is empty or not inside the range's current [rangeStart, rangeEnd].
    error BillInvalidSubRange(uint256 rangeId, uint256 start, uint256 end);
    /// @notice the number of sub-tickets moved must be a multiple of minUnit.
    error BillInvalidAmount(uint256 amount, uint256 minUnit);
    error BillNotSplittable(uint256 packageId);
    error BillNotTransferable(uint256 packageId);
    error BillMatured(uint256 packageId, uint64 maturity);
    error BillNotMatured(uint256 packageId, uint64 maturity);
    error BillSelfTransfer(address account);
    error BillInvalidRate(uint32 rateBps);
    error BillInvalidExpiry(uint64 expiry);
    error BillQuoteExpired(uint256 quoteId, uint64 expiry);
    error BillInvalidReason(uint8 reason);
    error BillResponsePending(uint256 rangeId, uint64 dishonourableAt);
    /// @notice `obligor` is neither the drawer nor a prior endorser of the range (endorsers between a
    /// holder's own earlier place in the chain and itself do not count), or the holder is the drawer or
    /// the acceptor.
    error BillRecourseNotAllowed(uint256 rangeId, address holder, address obligor);
    /// @notice Moving part of `rangeId` would give the new record `depth` prior holders, more than the cap:
    /// recourse walks the chain, so its cost is bounded by bounding the chain.
    error BillChainTooLong(uint256 rangeId, uint256 depth, uint256 cap);
    error BillNotOperator(address caller);
    /// @notice setFinancing is one-time and takes a non-zero address: the one already set.
    error BillFinancingAlreadySet(address financing);
    /// @notice The cap must lie in [1, limit] and differ from the current one.
    error BillInvalidChainLength(uint256 cap, uint256 limit);

    // ------------------------------------------------------------------ issue and delivery

    /// @notice 出票 by an active CORE_ENTERPRISE or SUPPLIER drawer. `acceptor` an active CORE_ENTERPRISE
    /// (commercial bill) or FINANCIER (bank acceptance); `payee` an active CORE_ENTERPRISE or SUPPLIER.
    /// face [fen] a positive multiple of minUnit; now < maturity ≤ now + maxTenor; ≥1 invoice hash, each
    /// still unbound in the document registry (DocumentAlreadyUsed otherwise). The invoices are only proposed:
    /// they bind to (Bills, packageId) when the payee, the seller they name, receives the bill.
    function issue(
        address acceptor,
        address payee,
        uint256 face,
        uint64 maturity,
        bool splittable,
        bool notTransferable,
        bytes32[] calldata invoiceHashes
    ) external returns (uint256 packageId);
    /// @notice The drawer withdraws, or the acceptor refuses, an Issued package (its invoices never bound).
    function cancel(uint256 packageId) external;
    /// @notice 承兑 by the acceptor while Issued and before maturity; delivers the package to the payee.
    function accept(uint256 packageId) external;
    /// @notice 收票 by the payee while Accepted and before maturity: creates the root range [1, face] and binds
    /// the invoices (pass the hashes given at issue: BillInvoicesMismatch otherwise; DocumentAlreadyUsed when
    /// another asset bound one of them first).
    function receiveBill(uint256 packageId, bytes32[] calldata invoiceHashes) external returns (uint256 rangeId);
    /// @notice The payee refuses an Accepted package (its invoices never bound).
    function reject(uint256 packageId) external;

    // ------------------------------------------------------------------ moving ranges (before maturity)

    /// @notice 背书转让 [start, end] of a Held range to an active CORE_ENTERPRISE, SUPPLIER or FINANCIER.
    /// Whole range only when the package is not splittable; never when it is not transferable; never
    /// beyond the chain-length cap (BillChainTooLong; so is a discount).
    function endorse(uint256 rangeId, uint256 start, uint256 end, address to) external returns (uint256 newRangeId);
    /// @notice A FINANCIER offers to discount [start, end] of another holder's Held range at `rateBps`
    /// (0 < rateBps ≤ 10000) until `expiry`. Stored; the holder accepts with `acceptQuote`.
    function quoteDiscount(uint256 rangeId, uint256 start, uint256 end, uint32 rateBps, uint64 expiry)
        external
        returns (uint256 quoteId);
    /// @notice The quoting financier withdraws its quote.
    function cancelQuote(uint256 quoteId) external;
    /// @notice 贴现 / 转贴现: the holder accepts a quote; DvP: `price` settlement token financier → holder
    /// (`transferFrom`: the financier approves Bills) and [start, end] holder → financier, atomically.
    function acceptQuote(uint256 quoteId) external returns (uint256 newRangeId);
    /// @notice 质押 [start, end] of a Held range to an active FINANCIER. A pledged range cannot move.
    function pledge(uint256 rangeId, uint256 start, uint256 end, address pledgee)
        external
        returns (uint256 pledgedRangeId);
    /// @notice The pledgee releases a Pledged range (any time); it is Held again.
    function releasePledge(uint256 rangeId) external;

    // ------------------------------------------------------------------ payment and recourse

    /// @notice 提示付款: the holder presents a Held range at or after maturity.
    function present(uint256 rangeId) external;
    /// @notice The acceptor pays a Presented (or, late, a Dishonoured) range: `end − start + 1` settlement
    /// token acceptor → holder (`transferFrom`: the acceptor approves Bills). The range becomes Paid.
    /// A Frozen record (a judicial hold) is paid from maturity into escrow instead (once; it stays Frozen):
    /// unfreezeRange pays it to whoever holds the record then.
    function pay(uint256 rangeId) external;
    /// @notice 拒付 by the acceptor of a Presented range, reason > 0.
    function dishonour(uint256 rangeId, uint8 reason) external;
    /// @notice The holder marks a presentation dishonoured (reason 0) once the acceptor has left it
    /// unanswered for the registry's grace period.
    function dishonourUnanswered(uint256 rangeId) external;
    /// @notice 追索: the holder of a Dishonoured range names the obligor it claims against: the drawer or a
    /// prior endorser of the range (joint liability: a later claim replaces an earlier one).
    function claimRecourse(uint256 rangeId, address obligor) external;
    /// @notice The claimed obligor pays the range amount to the holder (`transferFrom`, obligor approves
    /// Bills) and takes the range atomically, as a new Dishonoured record from which it may claim further back.
    function settleRecourse(uint256 rangeId) external returns (uint256 newRangeId);

    // ------------------------------------------------------------------ parameters

    /// @notice The operator sets the longest endorsement chain (1 … CHAIN_LENGTH_LIMIT); records already
    /// deeper keep their place but cannot move further.
    function setMaxChainLength(uint24 cap) external;
    /// @notice The operator wires Financing once (non-zero): from then on every payment Bills makes to a
    /// holder (discount price, payment, recourse settlement) nets that holder's certificate recourse debt.
    function setFinancing(address financing_) external;
    /// @notice The longest endorsement chain a range may reach (default 50).
    function maxChainLength() external view returns (uint256);

    // ------------------------------------------------------------------ views

    function package(uint256 packageId) external view returns (Package memory);
    function range(uint256 rangeId) external view returns (Range memory);
    function quote(uint256 quoteId) external view returns (Quote memory);
    /// @notice The pledgee of a Pledged range (zero otherwise).
    function pledgeeOf(uint256 rangeId) external view returns (address);
    /// @notice The pending recourse claim on a range (zero when none).
    function recourseClaim(uint256 rangeId) external view returns (address obligor, uint256 ancestorRangeId);
    /// @notice The holders of the range's ancestors, nearest first (prior endorsers); for off-chain use.
    function endorsers(uint256 rangeId) external view returns (address[] memory);
    /// @notice Whether the holder of `rangeId` may claim recourse against `obligor` (ignores status).
    /// @return allowed true when the claim would be accepted
    /// @return ancestorRangeId the obligor's earliest record in the chain (0 for the drawer)
    function recourseAllowed(uint256 rangeId, address obligor)
        external
        view
        returns (bool allowed, uint256 ancestorRangeId);
    /// @notice Discount interest on `amount` [fen] at `rateBps` from `at` to `maturity` [unix s]:
    /// days = ceil((maturity − at) / 86400), interest = (amount × rateBps × days + 1_800_000) / 3_600_000
    /// (round half up to the fen).
    function discountInterest(uint256 amount, uint32 rateBps, uint64 maturity, uint64 at)
        external
        pure
        returns (uint256 interest, uint256 days_);
    function nextPackageId() external view returns (uint256);
    function nextRangeId() external view returns (uint256);

    // ------------------------------------------------------------------ asset-level controls (issue 15)
    // A judicial hold carves a Held range, or a part of it, into a Frozen record of the same holder and
    // chain. Frozen sub-tickets cannot move, be discounted, pledged or presented. From maturity the acceptor
    // pays a Frozen record into escrow (as certificates' payouts do); the release pays it to the record's holder
    // then (after a forced transfer, the new one: the escrow moves with the record). Unpaid at release, the
    // holder presents it as usual. A forced transfer (court order) carves
    // a range to a new holder who steps into the old holder's place in the chain (it is no endorsement).
    // A key recovery replaces the old key by the new one in place, in every range record that names
    // it (the same legal entity: the one exception to "a record's holder never changes"). The order behind
    // a hold is in its events only (BillRangeFrozen, the indexer's asset_hold): no storage, for code size.

    /// @notice [start, end] of `fromRangeId` frozen as record `rangeId` under the order `reasonHash`.
    event BillRangeFrozen(
        uint256 indexed packageId,
        uint256 indexed rangeId,
        address indexed holder,
        uint256 fromRangeId,
        uint256 start,
        uint256 end,
        uint256 remainderRangeId,
        bytes32 reasonHash
    );
    /// @notice The hold on `rangeId` was released: Held again.
    event BillRangeUnfrozen(uint256 indexed packageId, uint256 indexed rangeId, address indexed holder, bytes32 reasonHash);
    /// @notice Governance moved [start, end] of `fromRangeId` from `from` to `to` as `newRangeId` on the
    /// order `reasonHash`; see the carving rule (the new record takes `fromRangeId`'s chain and status).
    event BillRangeForceTransferred(
        uint256 indexed packageId,
        address indexed from,
        address indexed to,
        uint256 fromRangeId,
        uint256 newRangeId,
        uint256 start,
        uint256 end,
        uint256 remainderRangeId,
        bytes32 reasonHash
    );
    /// @notice Key recovery: `from` was replaced by `to` in package `packageId` (as drawer, acceptor or
    /// payee) or in range record `rangeId` (as holder, pledgee or recourse obligor); the other id is 0.
    event BillPartyRecovered(
        uint256 indexed packageId, uint256 indexed rangeId, address indexed from, address to, bytes32 reasonHash
    );

    /// @notice The acceptor paid `amount` [fen] for Frozen record `rangeId` at maturity, into escrow (held by Bills).
    event BillEscrowed(uint256 indexed packageId, uint256 indexed rangeId, address indexed acceptor, uint256 amount);
    /// @notice The hold on `rangeId` was released and its escrow, `amount` [fen], paid to `holder`: record Paid.
    event BillEscrowReleased(uint256 indexed packageId, uint256 indexed rangeId, address indexed holder, uint256 amount);
    /// @notice Key recovery: `to` replaced `from` as the financier of quote `quoteId`.
    event BillQuoteRecovered(uint256 indexed quoteId, address indexed from, address indexed to, bytes32 reasonHash);

    /// @notice A control called by someone other than governance.
    error BillNotGovernance(address caller);
    /// @notice A control without the hash of the order behind it.
    error BillNoReason();
    /// @notice A recovery to an address the registry did not recover `from`'s key to, or naming `size` ids
    /// (0 or more than MAX_RECOVERY_BATCH, 200).
    error BillNotRecovered(address from, address to, uint256 size);
    /// @notice A recovery names a package, range record or quote (`id`) in which `from` plays no part.
    error BillNotParty(uint256 id, address from);

    /// @notice Governance: freeze [start, end] of Held range `rangeId` under the order `reasonHash` (a part
    /// only of a splittable package, in multiples of minUnit). Works while paused, whatever the holder's status.
    /// @return frozenRangeId the record now Frozen (a new record, by the carving rule, even for the whole range)
    function freezeRange(uint256 rangeId, uint256 start, uint256 end, bytes32 reasonHash)
        external
        returns (uint256 frozenRangeId);
    /// @notice Governance: release the hold on `rangeId`: Held again (presentable from maturity on), or, when the
    /// acceptor paid it into escrow while frozen, Paid, the escrow going to the record's holder now.
    function unfreezeRange(uint256 rangeId, bytes32 reasonHash) external;
    /// @notice Governance: move [start, end] of a Held range (or a whole Frozen one, with its hold)
    /// to `to` (an active holder role) on the order `reasonHash`, without its holder, any time.
    /// @return newRangeId the record `to` now holds
    function forceTransferRange(uint256 rangeId, uint256 start, uint256 end, address to, bytes32 reasonHash)
        external
        returns (uint256 newRangeId);
    /// @notice Governance, lost-key recovery: after ParticipantRegistry.recover(from, to, ...), replace `from` by
    /// `to` as holder, pledgee or recourse obligor in every range record named (the indexer lists them; at most
    /// MAX_RECOVERY_BATCH). Package parties and quotes move with recoverPackageParties.
    function recoverParties(address from, address to, uint256[] calldata rangeIds, bytes32 reasonHash) external;
    /// @notice Governance, lost-key recovery: replace `from` by `to` as drawer, acceptor or payee of every package
    /// in `packageIds` (the new key accepts, pays and dishonours them) and as the financier of every quote in
    /// `quoteIds` (at most MAX_RECOVERY_BATCH ids in all).
    function recoverPackageParties(
        address from,
        address to,
        uint256[] calldata packageIds,
        uint256[] calldata quoteIds,
        bytes32 reasonHash
    ) external;
}
