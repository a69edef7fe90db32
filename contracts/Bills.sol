// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {ERC2771ContextUpgradeable} from "@openzeppelin/contracts-upgradeable/metatx/ERC2771ContextUpgradeable.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {IBills} from "./interfaces/IBills.sol";
import {IDocumentRegistry} from "./interfaces/IDocumentRegistry.sol";
import {IFinancing} from "./interfaces/IFinancing.sol";
import {IParticipantRegistry} from "./interfaces/IParticipantRegistry.sol";
import {ISettlementToken} from "./interfaces/ISettlementToken.sol";
import {Discount} from "./libraries/Discount.sol";
import {Roles} from "./libraries/Roles.sol";
import {Governed} from "./upgrade/Governed.sol";

/// @title Digital bills (电子商业汇票) held as sub-ticket ranges (子票区间); see IBills for the model.
/// @dev Storage is lean on purpose: a package is 3 words, a range record 2 words, nothing is enumerated
/// on chain (the indexer replays the events). The endorsement chain is a linked list through `prev`.
/// @custom:oz-upgrades-from v1:Bills
contract Bills is IBills, ERC2771ContextUpgradeable, Governed {
    using SafeERC20 for ISettlementToken;

    /// @dev who may draw, and who may be named payee
    uint8 private constant DRAWER_ROLES = Roles.CORE_ENTERPRISE | Roles.SUPPLIER;
    uint8 private constant ACCEPTOR_ROLES = Roles.CORE_ENTERPRISE | Roles.FINANCIER;
    /// @dev who may hold, endorse, receive an endorsement, present and be liable in recourse
    uint8 private constant HOLDER_ROLES = Roles.CORE_ENTERPRISE | Roles.SUPPLIER | Roles.FINANCIER;

    uint32 private constant MAX_RATE_BPS = 10_000; // [bps] 100 % a year
    /// @dev The cap on endorsement-chain length never goes above this: a recourse claim walks the chain
    /// (two storage reads per record), and at this length the longest walk stays near 0.5 M gas, a third of
    /// the relayer's 1.5 M budget for one forwarded call.
    uint24 public constant CHAIN_LENGTH_LIMIT = 100;
    uint24 private constant DEFAULT_CHAIN_LENGTH = 50;
    /// @dev A recovery rewrites one or two words and emits one event per id (about as much as a certificate's
    /// ~14,000 gas; not measured separately): 200 stay near 3 M gas, a tenth of a 30 M block.
    uint256 public constant MAX_RECOVERY_BATCH = 200;

    /// @custom:oz-upgrades-unsafe-allow state-variable-immutable
    IParticipantRegistry public immutable registry;
    /// @custom:oz-upgrades-unsafe-allow state-variable-immutable
    IDocumentRegistry public immutable documents;
    /// @custom:oz-upgrades-unsafe-allow state-variable-immutable
    ISettlementToken public immutable settlementToken;

    struct Claim {
        address obligor;
        uint64 ancestorRangeId; // the obligor's earliest record in the chain; 0 for the drawer
    }

    uint64 private _lastPackageId;
    uint64 private _lastRangeId;
    uint64 private _lastQuoteId;
    /// @dev packed beside the counters: endorsing reads it from the slot `_newRange` touches anyway
    uint24 private _maxChainLength;

    mapping(uint256 packageId => Package) private _packages;
    mapping(uint256 rangeId => Range) private _ranges;
    mapping(uint256 quoteId => Quote) private _quotes;
    mapping(uint256 rangeId => address) private _pledgees;
    mapping(uint256 rangeId => Claim) private _claims;
    /// @dev Set once by the operator (Financing is deployed before Bills but wired after): every payment
    /// to a holder nets its recourse debt there (IFinancing.netRecourse). Appended last: storage layout.
    address public financing;
    /// @dev Issue 15: what the acceptor paid at maturity for a Frozen record [fen], held here until the hold is
    /// released, then paid to whoever holds the record then. Appended last: storage layout.
    mapping(uint256 rangeId => uint256) public escrowed;

    /// @custom:oz-upgrades-unsafe-allow constructor
    constructor(address registry_, address documents_, address settlementToken_, address trustedForwarder_)
        ERC2771ContextUpgradeable(trustedForwarder_)
    {
        registry = IParticipantRegistry(registry_);
        documents = IDocumentRegistry(documents_);
        settlementToken = ISettlementToken(settlementToken_);
        _disableInitializers();
    }

    /// @notice Run once, by the proxy's deployment (the implementation itself can never be initialised).
    function initialize() external initializer {
        _maxChainLength = DEFAULT_CHAIN_LENGTH;
    }

    // ------------------------------------------------------------------ issue and delivery

    /// @inheritdoc IBills
    function issue(
        address acceptor,
        address payee,
        uint256 face,
        uint64 maturity,
        bool splittable,
        bool notTransferable,
        bytes32[] calldata invoiceHashes
    ) external returns (uint256 packageId) {
        registry.requireNotPaused();
        address drawer = _msgSender();
        registry.requireActive(drawer, DRAWER_ROLES);
        registry.requireActive(acceptor, ACCEPTOR_ROLES);
        registry.requireActive(payee, DRAWER_ROLES);
        {
            // slither-disable-next-line unused-return (the grace period is not needed at issue)
            (uint64 maxTenor,, uint128 minUnit) = registry.parameters();
            if (face == 0 || face % minUnit != 0 || face > type(uint64).max) revert BillInvalidFace(face, minUnit);
            uint64 latest = uint64(block.timestamp) + maxTenor;
            if (maturity <= block.timestamp || maturity > latest) revert BillInvalidMaturity(maturity, latest);
        }
        if (invoiceHashes.length == 0) revert BillNoInvoices();
        bool bankAcceptance = registry.hasRole(acceptor, Roles.FINANCIER);

        packageId = ++_lastPackageId;
        _packages[packageId] = Package({
            drawer: drawer,
            maturity: maturity,
            status: PackageStatus.Issued,
            splittable: splittable,
            notTransferable: notTransferable,
            bankAcceptance: bankAcceptance,
            acceptor: acceptor,
            face: uint64(face),
            payee: payee,
            invoicesDigest: _digest(invoiceHashes)
        });
        // A proposal only: the invoices bind when the payee (their seller) receives the bill.
        documents.requireUnbound(invoiceHashes);
        emit BillIssued(
            packageId, drawer, acceptor, payee, face, maturity, splittable, notTransferable, bankAcceptance, invoiceHashes
        );
    }

    /// @inheritdoc IBills
    function cancel(uint256 packageId) external {
        registry.requireNotPaused();
        address caller = _msgSender();
        Package storage p = _package(packageId);
        if (caller != p.drawer && caller != p.acceptor) revert BillNotDrawerOrAcceptor(packageId, caller);
        registry.requireActive(caller, HOLDER_ROLES);
        _setPackageStatus(packageId, p, PackageStatus.Issued, PackageStatus.Cancelled);
        emit BillCancelled(packageId, caller);
    }

    /// @inheritdoc IBills
    function accept(uint256 packageId) external {
        registry.requireNotPaused();
        address acceptor = _msgSender();
        Package storage p = _package(packageId);
        if (acceptor != p.acceptor) revert BillNotAcceptor(packageId, acceptor);
        registry.requireActive(acceptor, ACCEPTOR_ROLES);
        address payee = p.payee;
        registry.requireActive(payee, DRAWER_ROLES);
        _requireBeforeMaturity(packageId, p);
        _setPackageStatus(packageId, p, PackageStatus.Issued, PackageStatus.Accepted);
        emit BillAccepted(packageId, acceptor, payee);
    }

    /// @inheritdoc IBills
    function receiveBill(uint256 packageId, bytes32[] calldata invoiceHashes) external returns (uint256 rangeId) {
        registry.requireNotPaused();
        address payee = _msgSender();
        Package storage p = _package(packageId);
        if (payee != p.payee) revert BillNotPayee(packageId, payee);
        registry.requireActive(payee, DRAWER_ROLES);
        _requireBeforeMaturity(packageId, p);
        _setPackageStatus(packageId, p, PackageStatus.Accepted, PackageStatus.Received);
        // The seller consents: the invoices bind now (DocumentAlreadyUsed if another proposal of one of
        // them was accepted first). The digest stops a payee from binding a subset or other hashes.
        if (_digest(invoiceHashes) != p.invoicesDigest) revert BillInvoicesMismatch(packageId);
        documents.register(invoiceHashes, packageId);
        uint64 face = p.face;
        rangeId = _newRange(payee, packageId, RangeStatus.Held, 1, face, 0, 0);
        emit BillReceived(packageId, rangeId, payee, face);
    }

    /// @inheritdoc IBills
    function reject(uint256 packageId) external {
        registry.requireNotPaused();
        address payee = _msgSender();
        Package storage p = _package(packageId);
        if (payee != p.payee) revert BillNotPayee(packageId, payee);
        registry.requireActive(payee, DRAWER_ROLES);
        _setPackageStatus(packageId, p, PackageStatus.Accepted, PackageStatus.Rejected);
        emit BillRejected(packageId, payee);
    }

    // ------------------------------------------------------------------ moving ranges

    /// @inheritdoc IBills
    function endorse(uint256 rangeId, uint256 start, uint256 end, address to) external returns (uint256 newRangeId) {
        registry.requireNotPaused();
        address from = _msgSender();
        registry.requireActive(from, HOLDER_ROLES);
        registry.requireActive(to, HOLDER_ROLES);
        if (to == from) revert BillSelfTransfer(to);
        (Range storage r, uint256 packageId) = _movableRange(rangeId, from);
        _checkSubRange(rangeId, r, packageId, start, end);
        uint24 depth = _nextDepth(rangeId, r);
        uint256 remainderRangeId;
        (newRangeId, remainderRangeId) = _carve(r, start, end, to, rangeId, depth, RangeStatus.Held);
        emit BillEndorsed(packageId, from, to, rangeId, newRangeId, start, end, remainderRangeId);
    }

    /// @inheritdoc IBills
    function quoteDiscount(uint256 rangeId, uint256 start, uint256 end, uint32 rateBps, uint64 expiry)
        external
        returns (uint256 quoteId)
    {
        registry.requireNotPaused();
        address financier = _msgSender();
        registry.requireActive(financier, Roles.FINANCIER);
        Range storage r = _range(rangeId);
        if (r.holder == financier) revert BillSelfTransfer(financier);
        if (r.status != RangeStatus.Held) revert BillWrongRangeStatus(rangeId, r.status);
        uint256 packageId = r.packageId;
        _requireTransferable(packageId, _packages[packageId]);
        _checkSubRange(rangeId, r, packageId, start, end);
        if (rateBps == 0 || rateBps > MAX_RATE_BPS) revert BillInvalidRate(rateBps);
        if (expiry <= block.timestamp) revert BillInvalidExpiry(expiry);

        quoteId = ++_lastQuoteId;
        // start/end fit in 64 bits: _checkSubRange bounded them by the range's own uint64 fields.
        _quotes[quoteId] = Quote({
            financier: financier,
            rangeId: uint64(rangeId),
            rateBps: rateBps,
            start: uint64(start),
            end: uint64(end),
            expiry: expiry
        });
        emit BillQuoted(quoteId, rangeId, financier, start, end, rateBps, expiry);
    }

    /// @inheritdoc IBills
    function cancelQuote(uint256 quoteId) external {
        registry.requireNotPaused();
        address caller = _msgSender();
        address financier = _quote(quoteId).financier;
        if (caller != financier) revert BillNotQuoteFinancier(quoteId, caller);
        registry.requireActive(caller, Roles.FINANCIER);
        delete _quotes[quoteId];
        emit BillQuoteCancelled(quoteId, caller);
    }

    /// @inheritdoc IBills
    function acceptQuote(uint256 quoteId) external returns (uint256 newRangeId) {
        registry.requireNotPaused();
        address holder = _msgSender();
        Quote memory q = _quote(quoteId);
        if (block.timestamp >= q.expiry) revert BillQuoteExpired(quoteId, q.expiry);
        registry.requireActive(holder, HOLDER_ROLES);
        registry.requireActive(q.financier, Roles.FINANCIER);
        (Range storage r, uint256 packageId) = _movableRange(q.rangeId, holder);
        _checkSubRange(q.rangeId, r, packageId, q.start, q.end);

        uint256 amount = uint256(q.end) - q.start + 1; // [fen]
        (uint256 interest,) = _discountInterest(amount, q.rateBps, _packages[packageId].maturity, block.timestamp);
        if (interest >= amount) revert BillInvalidRate(q.rateBps);
        bool rediscount = registry.hasRole(holder, Roles.FINANCIER);

        uint24 depth = _nextDepth(q.rangeId, r);
        delete _quotes[quoteId];
        uint256 remainderRangeId;
        (newRangeId, remainderRangeId) =
            _carve(r, q.start, q.end, q.financier, q.rangeId, depth, RangeStatus.Held);
        unchecked {
            // interest < amount was checked above
            amount -= interest; // now the price [fen]
        }
        settlementToken.safeTransferFrom(q.financier, holder, amount);
        emit BillDiscounted(
            packageId,
            quoteId,
            q.financier,
            holder,
            q.rangeId,
            newRangeId,
            q.start,
            q.end,
            remainderRangeId,
            interest,
            amount,
            rediscount
        );
        _net(holder);
    }

    /// @inheritdoc IBills
    function pledge(uint256 rangeId, uint256 start, uint256 end, address pledgee)
        external
        returns (uint256 pledgedRangeId)
    {
        registry.requireNotPaused();
        address holder = _msgSender();
        registry.requireActive(holder, HOLDER_ROLES);
        registry.requireActive(pledgee, Roles.FINANCIER);
        if (pledgee == holder) revert BillSelfTransfer(pledgee);
        (Range storage r, uint256 packageId) = _movableRange(rangeId, holder);
        _checkSubRange(rangeId, r, packageId, start, end);
        uint256 remainderRangeId = 0;
        if (start == r.start && end == r.end) {
            r.status = RangeStatus.Pledged;
            pledgedRangeId = rangeId;
        } else {
            // same holder, same chain: the pledged part copies the parent's prev link
            (pledgedRangeId, remainderRangeId) = _carve(r, start, end, holder, r.prev, r.depth, RangeStatus.Pledged);
        }
        _pledgees[pledgedRangeId] = pledgee;
        emit BillPledged(packageId, holder, pledgee, rangeId, pledgedRangeId, start, end, remainderRangeId);
    }

    /// @inheritdoc IBills
    function releasePledge(uint256 rangeId) external {
        registry.requireNotPaused();
        address caller = _msgSender();
        Range storage r = _range(rangeId);
        if (r.status != RangeStatus.Pledged) revert BillWrongRangeStatus(rangeId, r.status);
        if (caller != _pledgees[rangeId]) revert BillNotPledgee(rangeId, caller);
        registry.requireActive(caller, Roles.FINANCIER);
        r.status = RangeStatus.Held;
        delete _pledgees[rangeId];
        emit BillPledgeReleased(r.packageId, rangeId, caller, r.holder);
    }

    // ------------------------------------------------------------------ payment and recourse

    /// @inheritdoc IBills
    function present(uint256 rangeId) external {
        registry.requireNotPaused();
        address holder = _msgSender();
        Range storage r = _range(rangeId);
        if (holder != r.holder) revert BillNotHolder(rangeId, holder, r.holder);
        registry.requireActive(holder, HOLDER_ROLES);
        if (r.status != RangeStatus.Held) revert BillWrongRangeStatus(rangeId, r.status);
        uint256 packageId = r.packageId;
        uint64 maturity = _packages[packageId].maturity;
        if (block.timestamp < maturity) revert BillNotMatured(packageId, maturity);
        r.status = RangeStatus.Presented;
        r.presentedAt = uint64(block.timestamp);
        emit BillPresented(packageId, rangeId, holder, _amount(r));
    }

    /// @inheritdoc IBills
    function pay(uint256 rangeId) external {
        registry.requireNotPaused();
        address acceptor = _msgSender();
        Range storage r = _range(rangeId);
        uint256 packageId = r.packageId;
        if (acceptor != _packages[packageId].acceptor) revert BillNotAcceptor(packageId, acceptor);
        registry.requireActive(acceptor, ACCEPTOR_ROLES);
        RangeStatus status = r.status;
        uint256 amount = _amount(r);
        if (status == RangeStatus.Frozen) {
            // a judicial hold does not delay the acceptor: from maturity its sub-tickets are paid into escrow
            // (once), released with the hold to whoever holds the record then
            uint64 maturity = _packages[packageId].maturity;
            if (block.timestamp < maturity) revert BillNotMatured(packageId, maturity);
            if (escrowed[rangeId] != 0) revert BillWrongRangeStatus(rangeId, status);
            escrowed[rangeId] = amount;
            settlementToken.safeTransferFrom(acceptor, address(this), amount);
            emit BillEscrowed(packageId, rangeId, acceptor, amount);
            return;
        }
        address holder = r.holder;
        registry.requireActive(holder, HOLDER_ROLES);
        if (status == RangeStatus.Dishonoured) {
            delete _claims[rangeId]; // paid late by the acceptor: a pending recourse claim lapses
        } else if (status != RangeStatus.Presented) {
            revert BillWrongRangeStatus(rangeId, status);
        }
        r.status = RangeStatus.Paid;
        settlementToken.safeTransferFrom(acceptor, holder, amount);
        emit BillPaid(packageId, rangeId, acceptor, holder, amount);
        _net(holder);
    }

    /// @inheritdoc IBills
    function dishonour(uint256 rangeId, uint8 reason) external {
        registry.requireNotPaused();
        address acceptor = _msgSender();
        Range storage r = _range(rangeId);
        uint256 packageId = r.packageId;
        if (acceptor != _packages[packageId].acceptor) revert BillNotAcceptor(packageId, acceptor);
        registry.requireActive(acceptor, ACCEPTOR_ROLES);
        if (reason == 0) revert BillInvalidReason(reason);
        _dishonour(rangeId, r, packageId, acceptor, reason);
    }

    /// @inheritdoc IBills
    function dishonourUnanswered(uint256 rangeId) external {
        registry.requireNotPaused();
        address holder = _msgSender();
        Range storage r = _range(rangeId);
        if (holder != r.holder) revert BillNotHolder(rangeId, holder, r.holder);
        registry.requireActive(holder, HOLDER_ROLES);
        if (r.status == RangeStatus.Presented) {
            uint64 dishonourableAt = r.presentedAt + registry.gracePeriod();
            if (block.timestamp < dishonourableAt) revert BillResponsePending(rangeId, dishonourableAt);
        }
        _dishonour(rangeId, r, r.packageId, holder, 0);
    }

    /// @inheritdoc IBills
    function claimRecourse(uint256 rangeId, address obligor) external {
        registry.requireNotPaused();
        address holder = _msgSender();
        Range storage r = _range(rangeId);
        if (holder != r.holder) revert BillNotHolder(rangeId, holder, r.holder);
        registry.requireActive(holder, HOLDER_ROLES);
        registry.requireActive(obligor, HOLDER_ROLES);
        if (r.status != RangeStatus.Dishonoured) revert BillWrongRangeStatus(rangeId, r.status);
        (bool allowed, uint256 ancestorRangeId) = _recourseAllowed(r, obligor);
        if (!allowed) revert BillRecourseNotAllowed(rangeId, holder, obligor);
        _claims[rangeId] = Claim({obligor: obligor, ancestorRangeId: uint64(ancestorRangeId)});
        emit BillRecourseClaimed(r.packageId, rangeId, obligor, holder, _amount(r));
    }

    /// @inheritdoc IBills
    function settleRecourse(uint256 rangeId) external returns (uint256 newRangeId) {
        registry.requireNotPaused();
        address obligor = _msgSender();
        Range storage r = _range(rangeId);
        if (r.status != RangeStatus.Dishonoured) revert BillWrongRangeStatus(rangeId, r.status);
        Claim memory c = _claims[rangeId];
        if (obligor != c.obligor) revert BillNotRecourseObligor(rangeId, obligor, c.obligor);
        registry.requireActive(obligor, HOLDER_ROLES);
        address holder = r.holder;
        registry.requireActive(holder, HOLDER_ROLES);

        delete _claims[rangeId];
        r.status = RangeStatus.Closed;
        // The payer steps into its own (earliest) place in the chain: it may claim only against those
        // before it. The drawer (ancestor 0) gets a root-less record and can claim against no one.
        uint64 prev = 0;
        uint24 depth = 0;
        if (c.ancestorRangeId != 0) {
            Range storage a = _ranges[c.ancestorRangeId];
            (prev, depth) = (a.prev, a.depth);
        }
        uint256 packageId = r.packageId;
        newRangeId = _newRange(obligor, packageId, RangeStatus.Dishonoured, r.start, r.end, prev, depth);
        uint256 amount = _amount(r);
        settlementToken.safeTransferFrom(obligor, holder, amount);
        emit BillRecourseSettled(packageId, obligor, holder, rangeId, newRangeId, amount);
        _net(holder);
    }

    // ------------------------------------------------------------------ parameters

    /// @inheritdoc IBills
    function setMaxChainLength(uint24 cap) external {
        address operator = _msgSender();
        if (!registry.isOperator(operator)) revert BillNotOperator(operator);
        if (cap == 0 || cap > CHAIN_LENGTH_LIMIT || cap == _maxChainLength) {
            revert BillInvalidChainLength(cap, CHAIN_LENGTH_LIMIT);
        }
        _maxChainLength = cap;
        emit BillChainLengthSet(cap, operator);
    }

    /// @inheritdoc IBills
    function setFinancing(address financing_) external {
        address operator = _msgSender();
        if (!registry.isOperator(operator)) revert BillNotOperator(operator);
        if (financing != address(0) || financing_ == address(0)) revert BillFinancingAlreadySet(financing);
        financing = financing_;
        emit BillFinancingSet(financing_, operator);
    }

    /// @inheritdoc IBills
    function maxChainLength() external view returns (uint256) {
        return _maxChainLength;
    }

    // ------------------------------------------------------------------ views

    /// @inheritdoc IBills
    function package(uint256 packageId) external view returns (Package memory) {
        return _packages[packageId];
    }

    /// @inheritdoc IBills
    function range(uint256 rangeId) external view returns (Range memory) {
        return _ranges[rangeId];
    }

    /// @inheritdoc IBills
    function quote(uint256 quoteId) external view returns (Quote memory) {
        return _quotes[quoteId];
    }

    /// @inheritdoc IBills
    function pledgeeOf(uint256 rangeId) external view returns (address) {
        return _pledgees[rangeId];
    }

    /// @inheritdoc IBills
    function recourseClaim(uint256 rangeId) external view returns (address obligor, uint256 ancestorRangeId) {
        Claim memory c = _claims[rangeId];
        return (c.obligor, c.ancestorRangeId);
    }

    /// @inheritdoc IBills
    function endorsers(uint256 rangeId) external view returns (address[] memory chain) {
        uint256 n = 0;
        for (uint256 id = _ranges[rangeId].prev; id != 0; id = _ranges[id].prev) ++n;
        chain = new address[](n);
        n = 0;
        for (uint256 id = _ranges[rangeId].prev; id != 0; id = _ranges[id].prev) chain[n++] = _ranges[id].holder;
    }

    /// @inheritdoc IBills
    function recourseAllowed(uint256 rangeId, address obligor)
        external
        view
        returns (bool allowed, uint256 ancestorRangeId)
    {
        Range storage r = _ranges[rangeId];
        if (r.status == RangeStatus.None) return (false, 0);
        return _recourseAllowed(r, obligor);
    }

    /// @inheritdoc IBills
    function discountInterest(uint256 amount, uint32 rateBps, uint64 maturity, uint64 at)
        external
        pure
        returns (uint256 interest, uint256 days_)
    {
        return _discountInterest(amount, rateBps, maturity, at);
    }

    /// @inheritdoc IBills
    function nextPackageId() external view returns (uint256) {
        return uint256(_lastPackageId) + 1;
    }

    /// @inheritdoc IBills
    function nextRangeId() external view returns (uint256) {
        return uint256(_lastRangeId) + 1;
    }

    // ------------------------------------------------------------------ internals

    /// @dev The one place a package changes status.
    function _setPackageStatus(uint256 packageId, Package storage p, PackageStatus from, PackageStatus to) private {
        if (p.status != from) revert BillWrongPackageStatus(packageId, p.status);
        p.status = to;
    }

    function _newRange(
        address holder,
        uint256 packageId,
        RangeStatus status,
        uint64 start,
        uint64 end,
        uint64 prev,
        uint24 depth
    ) private returns (uint256 rangeId) {
        rangeId = ++_lastRangeId;
        // packageId came from the uint64 counter
        _ranges[rangeId] = Range({
            holder: holder,
            packageId: uint64(packageId),
            status: status,
            depth: depth,
            start: start,
            end: end,
            prev: prev,
            presentedAt: 0
        });
    }

    /// @dev Moves [start, end] (already checked to lie inside `r`) out of record `r` into a new record
    /// for `holder` with `prev` and `status`; `r` keeps the left part (or the right part of a prefix cut)
    /// and a middle cut gives the right part to a remainder record with r's holder and chain.
    function _carve(
        Range storage r,
        uint256 start,
        uint256 end,
        address holder,
        uint256 prev,
        uint24 depth,
        RangeStatus status
    ) private returns (uint256 newRangeId, uint256 remainderRangeId) {
        // start, end lie inside r's uint64 bounds and prev is a range id (uint64 counter): the casts are exact.
        newRangeId = _newRange(holder, r.packageId, status, uint64(start), uint64(end), uint64(prev), depth);
        if (start == r.start) {
            if (end == r.end) r.status = RangeStatus.Closed;
            else r.start = uint64(end) + 1;
        } else {
            remainderRangeId = _keepLeft(r, start, end);
        }
    }

    /// @dev `r` keeps [r.start, start - 1]; the part right of `end`, if any, goes to a remainder record
    /// with r's holder and chain.
    function _keepLeft(Range storage r, uint256 start, uint256 end) private returns (uint256 remainderRangeId) {
        uint64 e = r.end;
        r.end = uint64(start) - 1;
        if (end < e) {
            remainderRangeId = _newRange(r.holder, r.packageId, RangeStatus.Held, uint64(end) + 1, e, r.prev, r.depth);
        }
    }

    function _dishonour(uint256 rangeId, Range storage r, uint256 packageId, address by, uint8 reason) private {
        if (r.status != RangeStatus.Presented) revert BillWrongRangeStatus(rangeId, r.status);
        r.status = RangeStatus.Dishonoured;
        emit BillDishonoured(packageId, rangeId, by, r.holder, _amount(r), reason);
    }

    /// @dev The depth of a record that takes over part of `r` from its holder; BillChainTooLong past the cap.
    function _nextDepth(uint256 rangeId, Range storage r) private view returns (uint24 depth) {
        uint24 cap = _maxChainLength;
        // r.depth <= cap <= CHAIN_LENGTH_LIMIT, far below 2^24
        unchecked {
            depth = r.depth + 1;
        }
        if (depth > cap) revert BillChainTooLong(rangeId, depth, cap);
    }

    /// @dev 96 bits suffice: the digest only stops a payee from binding a subset or other hashes than
    /// those the drawer proposed (a 2^96 second-preimage search).
    function _digest(bytes32[] calldata invoiceHashes) private pure returns (bytes12) {
        return bytes12(keccak256(abi.encodePacked(invoiceHashes)));
    }

    /// @dev A Held range of a transferable package, held by `caller`, before maturity.
    function _movableRange(uint256 rangeId, address caller) private view returns (Range storage r, uint256 packageId) {
        r = _range(rangeId);
        if (caller != r.holder) revert BillNotHolder(rangeId, caller, r.holder);
        if (r.status != RangeStatus.Held) revert BillWrongRangeStatus(rangeId, r.status);
        packageId = r.packageId;
        _requireTransferable(packageId, _packages[packageId]);
    }

    function _requireTransferable(uint256 packageId, Package storage p) private view {
        if (p.notTransferable) revert BillNotTransferable(packageId);
        _requireBeforeMaturity(packageId, p);
    }

    function _requireBeforeMaturity(uint256 packageId, Package storage p) private view {
        uint64 maturity = p.maturity;
        if (block.timestamp >= maturity) revert BillMatured(packageId, maturity);
    }

    /// @dev [start, end] non-empty and inside the range; a proper part only of a splittable package and
    /// only in multiples of minUnit (a whole range always moves, whatever minUnit became since).
    function _checkSubRange(uint256 rangeId, Range storage r, uint256 packageId, uint256 start, uint256 end)
        private
        view
    {
        uint64 s = r.start;
        uint64 e = r.end;
        if (start > end || start < s || end > e) revert BillInvalidSubRange(rangeId, start, end);
        if (start == s && end == e) return;
        if (!_packages[packageId].splittable) revert BillNotSplittable(packageId);
        uint256 amount = end - start + 1;
        uint256 minUnit = registry.minUnit();
        if (amount % minUnit != 0) revert BillInvalidAmount(amount, minUnit);
    }

    /// @dev Who the holder of `r` may claim against. Walks the chain nearest first; an appearance of the
    /// holder itself resets the search (票据法 art. 69: a holder who was an earlier endorser has no recourse
    /// against those after its earlier place), and the obligor's earliest appearance is returned.
    function _recourseAllowed(Range storage r, address obligor)
        private
        view
        returns (bool allowed, uint256 ancestorRangeId)
    {
        address holder = r.holder;
        Package storage p = _packages[r.packageId];
        address drawer = p.drawer;
        // A drawer holding its own bill has no recourse against endorsers (art. 69), nor has the
        // acceptor, the main debtor, when a bill comes back to it.
        if (holder == drawer || holder == p.acceptor || obligor == holder || obligor == address(0)) {
            return (false, 0);
        }
        if (obligor == drawer) return (true, 0);
        for (uint256 id = r.prev; id != 0;) {
            Range storage a = _ranges[id];
            address h = a.holder;
            if (h == holder) ancestorRangeId = 0;
            else if (h == obligor) ancestorRangeId = id;
            id = a.prev;
        }
        allowed = ancestorRangeId != 0;
    }

    /// @dev days = ceil((maturity − at) / 1 day); interest = amount × rate × days / 3_600_000, round half up.
    function _discountInterest(uint256 amount, uint32 rateBps, uint64 maturity, uint256 at)
        private
        pure
        returns (uint256 interest, uint256 days_)
    {
        return Discount.interest(amount, rateBps, maturity, at);
    }

    /// @dev After paying `holder` (discount proceeds, payment, recourse settlement): if it owes a recourse
    /// debt on a certificate financing, Financing collects it from the money just received, in the same
    /// transaction and without the holder's cooperation (invariant 9). Financing calls back nothing here.
    function _net(address holder) private {
        address financing_ = financing;
        if (financing_ != address(0)) IFinancing(financing_).netRecourse(holder);
    }

    function _amount(Range storage r) private view returns (uint256) {
        return uint256(r.end) - r.start + 1;
    }

    function _package(uint256 packageId) private view returns (Package storage p) {
        p = _packages[packageId];
        if (p.status == PackageStatus.None) revert BillUnknownPackage(packageId);
    }

    function _range(uint256 rangeId) private view returns (Range storage r) {
        r = _ranges[rangeId];
        if (r.status == RangeStatus.None) revert BillUnknownRange(rangeId);
    }

    function _quote(uint256 quoteId) private view returns (Quote memory q) {
        q = _quotes[quoteId];
        if (q.financier == address(0)) revert BillUnknownQuote(quoteId);
    }

    // ------------------------------------------------------------------ asset-level controls (issue 15)

    /// @dev The one gate of every control (a function, not a modifier: the contract is near the 24 KB code
    /// limit): a hold needs governance or the registry's CONTROLLER_ROLE (a court's freeze acts at once), a
    /// forced transfer or a recovery governance alone (`councilOnly`: M-of-N with the delay). Every control
    /// names the order behind it.
    /// @dev A forced transfer or a recovery: governance only.
    function _checkControl(bytes32 reasonHash) private view {
        _checkControl(reasonHash, true);
    }

    function _checkControl(bytes32 reasonHash, bool councilOnly) private view {
        address caller = _msgSender();
        if (!registry.canControl(caller, councilOnly)) revert BillNotGovernance(caller);
        if (reasonHash == bytes32(0)) revert BillNoReason();
    }

    /// @inheritdoc IBills
    function freezeRange(uint256 rangeId, uint256 start, uint256 end, bytes32 reasonHash)
        external
        returns (uint256 frozenRangeId)
    {
        _checkControl(reasonHash, false);
        Range storage r = _range(rangeId);
        if (r.status != RangeStatus.Held) revert BillWrongRangeStatus(rangeId, r.status);
        address holder = r.holder;
        uint256 remainderRangeId;
        (frozenRangeId, remainderRangeId) = _controlCarve(rangeId, r, start, end, holder, RangeStatus.Frozen);
        emit BillRangeFrozen(r.packageId, frozenRangeId, holder, rangeId, start, end, remainderRangeId, reasonHash);
    }

    /// @inheritdoc IBills
    function unfreezeRange(uint256 rangeId, bytes32 reasonHash) external {
        _checkControl(reasonHash, false);
        Range storage r = _range(rangeId);
        if (r.status != RangeStatus.Frozen) revert BillWrongRangeStatus(rangeId, r.status);
        address holder = r.holder;
        uint256 amount = escrowed[rangeId];
        emit BillRangeUnfrozen(r.packageId, rangeId, holder, reasonHash);
        // escrow is this contract's own bookkeeping: == 0 is exact
        // slither-disable-next-line incorrect-equality
        if (amount == 0) {
            r.status = RangeStatus.Held;
            return;
        }
        // paid at maturity while frozen: the escrow goes to the holder now, and the record is Paid
        delete escrowed[rangeId];
        r.status = RangeStatus.Paid;
        settlementToken.safeTransfer(holder, amount);
        emit BillEscrowReleased(r.packageId, rangeId, holder, amount);
        _net(holder);
    }

    /// @inheritdoc IBills
    function forceTransferRange(uint256 rangeId, uint256 start, uint256 end, address to, bytes32 reasonHash)
        external
        returns (uint256 newRangeId)
    {
        _checkControl(reasonHash);
        registry.requireActive(to, HOLDER_ROLES);
        Range storage r = _range(rangeId);
        address from = r.holder;
        if (to == from) revert BillSelfTransfer(to);
        RangeStatus status = r.status;
        // a hold moves whole, with its order; only Held and Frozen records are the holder's to lose
        bool whole = start == r.start && end == r.end;
        if (status != RangeStatus.Held && (status != RangeStatus.Frozen || !whole)) {
            revert BillWrongRangeStatus(rangeId, status);
        }
        uint256 remainderRangeId;
        (newRangeId, remainderRangeId) = _controlCarve(rangeId, r, start, end, to, status);
        _moveEscrow(rangeId, newRangeId);
        emit BillRangeForceTransferred(
            r.packageId, from, to, rangeId, newRangeId, start, end, remainderRangeId, reasonHash
        );
    }

    /// @inheritdoc IBills
    function recoverParties(address from, address to, uint256[] calldata rangeIds, bytes32 reasonHash) external {
        uint256 n = rangeIds.length;
        _checkRecovery(from, to, n, reasonHash);
        // any record, Closed ones too: the old key's earlier places in endorsement chains carry recourse
        for (uint256 i; i < n; ++i) {
            uint256 rangeId = rangeIds[i];
            Range storage r = _range(rangeId);
            bool party = false;
            if (r.holder == from) (r.holder, party) = (to, true);
            if (_pledgees[rangeId] == from) (_pledgees[rangeId], party) = (to, true);
            if (_claims[rangeId].obligor == from) (_claims[rangeId].obligor, party) = (to, true);
            if (!party) revert BillNotParty(rangeId, from);
            emit BillPartyRecovered(0, rangeId, from, to, reasonHash);
        }
    }

    /// @inheritdoc IBills
    function recoverPackageParties(
        address from,
        address to,
        uint256[] calldata packageIds,
        uint256[] calldata quoteIds,
        bytes32 reasonHash
    ) external {
        uint256 n = packageIds.length;
        uint256 m = quoteIds.length;
        _checkRecovery(from, to, n + m, reasonHash);
        for (uint256 i; i < n; ++i) {
            uint256 packageId = packageIds[i];
            Package storage p = _package(packageId);
            bool party = false;
            if (p.drawer == from) (p.drawer, party) = (to, true);
            if (p.acceptor == from) (p.acceptor, party) = (to, true);
            if (p.payee == from) (p.payee, party) = (to, true);
            if (!party) revert BillNotParty(packageId, from);
            emit BillPartyRecovered(packageId, 0, from, to, reasonHash);
        }
        // a bank's quotes: the holder accepting one pays the new key (expired ones may move too, harmlessly)
        for (uint256 i; i < m; ++i) {
            uint256 quoteId = quoteIds[i];
            if (_quotes[quoteId].financier != from) revert BillNotParty(quoteId, from);
            _quotes[quoteId].financier = to;
            emit BillQuoteRecovered(quoteId, from, to, reasonHash);
        }
    }

    /// @dev A recovery's checks: governance, with the order; the registry's record is the authority (nothing
    /// moves but to the re-verified address); 1 to MAX_RECOVERY_BATCH ids.
    function _checkRecovery(address from, address to, uint256 n, bytes32 reasonHash) private view {
        _checkControl(reasonHash);
        if (n == 0 || n > MAX_RECOVERY_BATCH || to == address(0) || registry.recoveredTo(from) != to) {
            revert BillNotRecovered(from, to, n);
        }
    }

    /// @dev A whole Frozen record moves with its escrow (a Held one has none). Its own function: the caller's
    /// stack is full.
    function _moveEscrow(uint256 rangeId, uint256 newRangeId) private {
        uint256 amount = escrowed[rangeId];
        if (amount != 0) (escrowed[rangeId], escrowed[newRangeId]) = (0, amount);
    }

    /// @dev The carve of a control: [start, end] of `r` to `to` with `status`, in `r`'s place in the chain
    /// (a hold or a court order is no endorsement). Always a new record: the indexer replays one rule.
    function _controlCarve(uint256 rangeId, Range storage r, uint256 start, uint256 end, address to, RangeStatus status)
        private
        returns (uint256 newRangeId, uint256 remainderRangeId)
    {
        _checkSubRange(rangeId, r, r.packageId, start, end);
        return _carve(r, start, end, to, r.prev, r.depth, status);
    }

    function _requireGovernance() internal view override {
        if (!registry.isGovernance(msg.sender)) revert GovernanceOnly(msg.sender);
    }
}
