// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {ERC2771ContextUpgradeable} from "@openzeppelin/contracts-upgradeable/metatx/ERC2771ContextUpgradeable.sol";
import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {SafeCast} from "@openzeppelin/contracts/utils/math/SafeCast.sol";

import {ICreditLines} from "./interfaces/ICreditLines.sol";
import {IDocumentRegistry} from "./interfaces/IDocumentRegistry.sol";
import {IFinancing} from "./interfaces/IFinancing.sol";
import {IParticipantRegistry} from "./interfaces/IParticipantRegistry.sol";
import {IReceivables} from "./interfaces/IReceivables.sol";
import {Roles} from "./libraries/Roles.sol";
import {Governed} from "./upgrade/Governed.sol";

/// @title Receivables: ERC-3525-style certificate ledger with on-chain lineage and maturity settlement.
/// @dev Lean layout: a token is two storage words, a slot three; no enumeration (the indexer
/// enumerates from events); one event per state change. Functions callable only by Financing trust
/// Financing's pause and participant checks and re-check only the certificate rules.
/// @custom:oz-upgrades-from v1:Receivables
contract Receivables is IReceivables, ERC2771ContextUpgradeable, Governed {
    using SafeERC20 for IERC20;

    /// @dev 2 words. locked <=> lockRef != 0 (financing request ids start at 1); lockRef == FROZEN marks a
    /// judicial hold, so the freeze check of every move is the lock check it already makes (no extra read).
    struct TokenData {
        address holder; // word 0
        uint48 slotId; // word 0
        uint48 lockRef; // word 0: Financing request id
        uint128 value; // word 1 [fen]; 0 once settled
        uint64 parent; // word 1
        uint64 root; // word 1
    }

    /// @dev 3 words, of which issue writes two. Moves read word 0 only; repay words 0-2; claim words 0 + 2.
    struct SlotData {
        address obligor; // word 0
        uint40 maturity; // word 0 [unix s]; uint40 lasts until year 36812
        uint40 issuedAt; // word 0 [unix s]
        SlotStatus status; // word 0
        uint8 invoiceCount; // word 0
        uint128 face; // word 1 [fen]
        uint64 lineId; // word 1
        uint64 rootTokenId; // word 1
        uint128 paidIn; // word 2 [fen]
        uint128 paidOut; // word 2 [fen]
    }

    uint256 public constant MAX_PAYOUT_BATCH = 100;
    /// @dev A lost-key recovery moves one token per ~14,000 gas (one cold word rewritten, two events; measured
    /// by bench/controls_gas.py): 200 take ~2.8 M gas, a tenth of a 30 M block.
    uint256 public constant MAX_RECOVERY_BATCH = 200;
    /// @dev lockRef of a frozen token. Financing request ids count up by one from 1: they never get here.
    uint48 private constant FROZEN = type(uint48).max;
    uint256 public constant MAX_INVOICES = 32;

    /// @custom:oz-upgrades-unsafe-allow state-variable-immutable
    IParticipantRegistry public immutable registry;
    /// @custom:oz-upgrades-unsafe-allow state-variable-immutable
    ICreditLines public immutable creditLines;
    /// @custom:oz-upgrades-unsafe-allow state-variable-immutable
    IDocumentRegistry public immutable documents;
    /// @custom:oz-upgrades-unsafe-allow state-variable-immutable
    IERC20 public immutable settlementToken;

    /// @inheritdoc IReceivables
    address public financing;

    // both counters in one word: issue bumps both with one write
    uint64 private _lastSlotId;
    uint64 private _lastTokenId;

    mapping(uint256 tokenId => TokenData) private _tokens;
    mapping(uint256 slotId => SlotData) private _slots;
    mapping(uint256 slotId => mapping(uint256 index => bytes32)) private _invoices;
    /// @dev [fen] paid out on a token so far; value + claimed is the token's value at maturity. Kept apart
    /// from TokenData so that splits and transfers (before maturity, when it is 0) never touch it.
    mapping(uint256 tokenId => uint256) private _claimed;
    /// @dev The order behind each hold; read only by the controls and the error of a refused move.
    mapping(uint256 tokenId => bytes32) private _holdReason;
    /// @dev [fen] settled on a frozen token and held here until its release (counted in the slot's paidOut).
    mapping(uint256 tokenId => uint256) private _escrow;

    /// @custom:oz-upgrades-unsafe-allow constructor
    constructor(
        IParticipantRegistry registry_,
        ICreditLines creditLines_,
        IDocumentRegistry documents_,
        IERC20 settlementToken_,
        address trustedForwarder
    ) ERC2771ContextUpgradeable(trustedForwarder) {
        registry = registry_;
        creditLines = creditLines_;
        documents = documents_;
        settlementToken = settlementToken_;
        _disableInitializers();
    }

    /// @notice Run once, by the proxy's deployment (the implementation itself can never be initialised).
    function initialize() external initializer {}

    modifier onlyFinancing() {
        address caller = _msgSender();
        if (caller != financing || caller == address(0)) revert CertificateOnlyFinancing(caller);
        _;
    }

    // ================================================================ issue / accept / reject / cancel

    /// @inheritdoc IReceivables
    function issue(address supplier, uint256 face, uint64 maturity, uint256 lineId, bytes32[] calldata invoiceHashes)
        external
        returns (uint256 slotId, uint256 tokenId)
    {
        address obligor = _msgSender();
        _checkIssue(obligor, supplier, face, maturity, invoiceHashes.length);
        (slotId, tokenId) = _issue(obligor, supplier, face, maturity, lineId, invoiceHashes);
        creditLines.draw(lineId, obligor, face);
        // A proposal only: the invoices bind when the supplier (their seller) accepts.
        documents.requireUnbound(invoiceHashes);
        _emitIssued(slotId, tokenId, supplier, lineId, invoiceHashes);
    }

    function _checkIssue(address obligor, address supplier, uint256 face, uint64 maturity, uint256 n) private view {
        registry.requireNotPaused();
        registry.requireActive(obligor, Roles.CORE_ENTERPRISE);
        registry.requireActive(supplier, Roles.SUPPLIER);
        if (supplier == obligor) revert CertificateSelfIssue(obligor);
        // the grace period is not needed at issue
        // slither-disable-next-line unused-return
        (uint64 maxTenor,, uint128 minUnit) = registry.parameters();
        _checkAmount(face, minUnit);
        // block.timestamp + maxTenor (<= 366 days) cannot overflow uint64 for billions of years
        uint64 latest;
        unchecked {
            latest = uint64(block.timestamp) + maxTenor;
        }
        if (maturity <= block.timestamp || maturity > latest) revert CertificateInvalidMaturity(maturity, latest);
        if (n == 0) revert CertificateNoInvoices();
        if (n > MAX_INVOICES) revert CertificateTooManyInvoices(n, MAX_INVOICES);
    }

    /// @dev Reads obligor, face and maturity back from (warm) storage to keep the stack shallow.
    function _emitIssued(
        uint256 slotId,
        uint256 tokenId,
        address supplier,
        uint256 lineId,
        bytes32[] calldata invoiceHashes
    ) private {
        SlotData storage s = _slots[slotId];
        emit CertificateIssued(slotId, tokenId, s.obligor, supplier, s.face, s.maturity, lineId, invoiceHashes);
    }

    /// @inheritdoc IReceivables
    function accept(uint256 slotId) external {
        address supplier = _msgSender();
        registry.requireNotPaused();
        registry.requireActive(supplier, Roles.SUPPLIER);
        SlotData storage s = _slot(slotId);
        if (_tokens[s.rootTokenId].holder != supplier) revert CertificateNotSupplier(slotId, supplier);
        if (block.timestamp >= s.maturity) revert CertificateMatured(s.rootTokenId, s.maturity);
        _setStatus(slotId, s, SlotStatus.Accepted, supplier);
        // The seller consents: the invoices bind now (DocumentAlreadyUsed if another proposal of one
        // of them was accepted first).
        documents.register(_invoiceHashes(slotId, s.invoiceCount), slotId);
    }

    /// @inheritdoc IReceivables
    function reject(uint256 slotId) external {
        address supplier = _msgSender();
        registry.requireNotPaused();
        registry.requireActive(supplier, Roles.SUPPLIER);
        SlotData storage s = _slot(slotId);
        if (_tokens[s.rootTokenId].holder != supplier) revert CertificateNotSupplier(slotId, supplier);
        _setStatus(slotId, s, SlotStatus.Rejected, supplier);
    }

    /// @inheritdoc IReceivables
    function cancel(uint256 slotId) external {
        address obligor = _msgSender();
        registry.requireNotPaused();
        registry.requireActive(obligor, Roles.CORE_ENTERPRISE);
        SlotData storage s = _slot(slotId);
        if (s.obligor != obligor) revert CertificateNotObligor(slotId, obligor);
        _setStatus(slotId, s, SlotStatus.Cancelled, obligor);
    }

    // ================================================================ transfer / split

    /// @inheritdoc IReceivables
    function transfer(uint256 tokenId, address to) external {
        address from = _msgSender();
        TokenData memory t = _checkMove(tokenId, from, to);
        if (from == to) revert CertificateSelfTransfer(tokenId, from);
        _moveWhole(tokenId, t, from, to);
    }

    /// @inheritdoc IReceivables
    function transferValue(uint256 tokenId, address to, uint256 value) external returns (uint256) {
        return _transferValue(tokenId, _msgSender(), to, value);
    }

    /// @inheritdoc IReceivables
    function split(uint256 tokenId, uint256 value) external returns (uint256) {
        address holder = _msgSender();
        return _transferValue(tokenId, holder, holder, value);
    }

    function _transferValue(uint256 tokenId, address from, address to, uint256 value) private returns (uint256) {
        TokenData memory t = _checkMove(tokenId, from, to);
        _checkAmount(value, registry.minUnit());
        if (value > t.value) revert CertificateInsufficientValue(tokenId, t.value, value);
        if (value == t.value) {
            // a whole-value move to oneself (split of everything) would change nothing
            if (from == to) revert CertificateSelfTransfer(tokenId, from);
            _moveWhole(tokenId, t, from, to);
            return tokenId;
        }
        return _split(tokenId, t, to, value);
    }

    /// @dev The rules of every holder-initiated move; returns the token.
    function _checkMove(uint256 tokenId, address from, address to) private view returns (TokenData memory t) {
        registry.requireNotPaused();
        registry.requireActive(from, Roles.HOLDER);
        registry.requireActive(to, Roles.HOLDER);
        t = _token(tokenId);
        if (t.holder != from) revert CertificateNotHolder(tokenId, from, t.holder);
        _checkMovable(tokenId, t);
    }

    /// @dev Slot Accepted (or Repaid early), before maturity, token not locked and not settled.
    function _checkMovable(uint256 tokenId, TokenData memory t) private view {
        SlotData storage s = _slots[t.slotId];
        SlotStatus status = s.status;
        if (status != SlotStatus.Accepted && status != SlotStatus.Repaid) revert CertificateWrongStatus(t.slotId, status);
        uint40 maturity = s.maturity;
        if (block.timestamp >= maturity) revert CertificateMatured(tokenId, maturity);
        if (t.lockRef != 0) _revertLocked(tokenId, t.lockRef);
    }

    // ================================================================ financing hooks

    /// @inheritdoc IReceivables
    function lock(uint256 tokenId, address owner, uint256 amount, uint256 ref)
        external
        onlyFinancing
        returns (uint256 lockedTokenId)
    {
        TokenData memory t = _token(tokenId);
        if (t.holder != owner) revert CertificateNotHolder(tokenId, owner, t.holder);
        _checkMovable(tokenId, t);
        _checkAmount(amount, registry.minUnit());
        if (amount > t.value) revert CertificateInsufficientValue(tokenId, t.value, amount);
        lockedTokenId = amount == t.value ? tokenId : _split(tokenId, t, owner, amount);
        _setLock(lockedTokenId, SafeCast.toUint48(ref));
    }

    /// @inheritdoc IReceivables
    function unlock(uint256 tokenId) external onlyFinancing {
        TokenData memory t = _token(tokenId);
        if (t.lockRef == 0) revert CertificateNotLocked(tokenId);
        _setLock(tokenId, 0);
    }

    /// @inheritdoc IReceivables
    function settleLocked(uint256 tokenId, address to) external onlyFinancing {
        TokenData memory t = _token(tokenId);
        if (t.lockRef == 0) revert CertificateNotLocked(tokenId);
        SlotData storage s = _slots[t.slotId];
        SlotStatus status = s.status;
        if (status != SlotStatus.Accepted && status != SlotStatus.Repaid) revert CertificateWrongStatus(t.slotId, status);
        if (block.timestamp >= s.maturity) revert CertificateMatured(tokenId, s.maturity);
        _moveWhole(tokenId, t, t.holder, to);
    }

    /// @inheritdoc IReceivables
    function recourseTransfer(uint256 tokenId, address to) external onlyFinancing returns (uint256 remaining) {
        TokenData memory t = _token(tokenId);
        SlotData storage s = _slots[t.slotId];
        SlotStatus status = s.status;
        if (status != SlotStatus.Defaulted) revert CertificateWrongStatus(t.slotId, status);
        if (t.lockRef != 0) _revertLocked(tokenId, t.lockRef);
        // the financier keeps what was paid in up to now (its pro-rata share); later recoveries follow the token
        uint128 value = t.value;
        uint256 share = _claimable(tokenId, value, s);
        // share <= value (see _claimable)
        unchecked {
            remaining = value - share;
        }
        t.value = uint128(remaining); // the move's event reports the value left
        _moveWhole(tokenId, t, t.holder, to);
        t.value = value;
        // paid to the holder before the move (t.holder, from memory); no netting: a financier owes no recourse here
        if (share != 0) _settle(tokenId, t, s, share, false);
    }

    // ================================================================ repay / claim / payout / default

    /// @inheritdoc IReceivables
    function repay(uint256 slotId, uint256 amount) external {
        address obligor = _msgSender();
        registry.requireNotPaused();
        registry.requireActive(obligor, Roles.CORE_ENTERPRISE);
        SlotData storage s = _slot(slotId);
        if (s.obligor != obligor) revert CertificateNotObligor(slotId, obligor);
        SlotStatus status = s.status;
        if (status != SlotStatus.Accepted && status != SlotStatus.Defaulted) revert CertificateWrongStatus(slotId, status);
        _checkAmount(amount, registry.minUnit());
        uint256 paidIn = s.paidIn;
        // paidIn <= face always (checked on every repay)
        uint256 outstanding;
        unchecked {
            outstanding = s.face - paidIn;
        }
        if (amount > outstanding) revert CertificateOverpaid(slotId, outstanding, amount);
        _repay(slotId, s, obligor, amount, paidIn);
    }

    function _repay(uint256 slotId, SlotData storage s, address obligor, uint256 amount, uint256 paidIn) private {
        // amount <= face - paidIn, so paidIn + amount <= face < 2**128
        unchecked {
            paidIn += amount;
        }
        s.paidIn = uint128(paidIn);
        if (paidIn == s.face) _setStatus(slotId, s, SlotStatus.Repaid, obligor);
        creditLines.restore(s.lineId, amount);
        settlementToken.safeTransferFrom(obligor, address(this), amount);
        emit PayableRepaid(slotId, obligor, amount, paidIn);
    }

    /// @inheritdoc IReceivables
    function claim(uint256 tokenId) external {
        address holder = _msgSender();
        registry.requireNotPaused();
        registry.requireActive(holder, Roles.HOLDER);
        TokenData memory t = _token(tokenId);
        if (t.holder != holder) revert CertificateNotHolder(tokenId, holder, t.holder);
        SlotData storage s = _checkClaimable(t);
        if (t.value == 0) revert CertificateAlreadySettled(tokenId);
        if (t.lockRef != 0) _revertLocked(tokenId, t.lockRef);
        uint256 amount = _claimable(tokenId, t.value, s);
        if (amount == 0) revert CertificateNothingToClaim(tokenId, s.paidIn, s.paidOut);
        _settle(tokenId, t, s, amount, true);
    }

    /// @inheritdoc IReceivables
    /// @dev Each round's transfer and netting call only the platform's own SettlementToken and Financing,
    /// which call nothing back here; a later round reads only its own token and its slot.
    // slither-disable-next-line reentrancy-no-eth
    function payout(uint256[] calldata tokenIds) external {
        address operator = _msgSender();
        if (!registry.isOperator(operator)) revert CertificateNotOperator(operator);
        registry.requireNotPaused();
        uint256 n = tokenIds.length;
        if (n > MAX_PAYOUT_BATCH) revert CertificateBatchTooLarge(n, MAX_PAYOUT_BATCH);
        uint256 paid = 0;
        for (uint256 i; i < n; ++i) {
            uint256 tokenId = tokenIds[i];
            TokenData memory t = _token(tokenId);
            SlotData storage s = _checkClaimable(t);
            if (t.value == 0) continue;
            // a frozen token's due goes into the escrow of its hold, whoever holds it
            bool frozen = t.lockRef == FROZEN;
            if (!frozen && (t.lockRef != 0 || !_isActiveHolder(t.holder))) continue;
            // the same pro-rata rule as claim: a later payment is pushed again
            uint256 amount = _claimable(tokenId, t.value, s);
            if (amount == 0) continue;
            if (frozen) _escrowDue(tokenId, t, s, amount);
            else _settle(tokenId, t, s, amount, true);
            ++paid;
        }
        if (paid == 0) revert CertificateNothingToPay();
    }

    /// @inheritdoc IReceivables
    function markDefaulted(uint256 slotId, uint256 heldTokenId) external {
        address by = _msgSender();
        registry.requireNotPaused();
        SlotData storage s = _slot(slotId);
        if (!registry.isOperator(by)) {
            // a party to the payable: the active holder of one of its tokens with value left
            TokenData storage t = _tokens[heldTokenId];
            if (t.holder != by || t.slotId != slotId || t.value == 0 || !_isActiveHolder(by)) {
                revert CertificateNotAllowed(by);
            }
        }
        if (s.status != SlotStatus.Accepted) revert CertificateWrongStatus(slotId, s.status);
        uint64 defaultableAt;
        // maturity < 2**40 and gracePeriod <= 366 days: the sum fits in uint64
        unchecked {
            defaultableAt = uint64(s.maturity) + registry.gracePeriod();
        }
        if (block.timestamp < defaultableAt) revert CertificateGracePeriodRunning(slotId, defaultableAt);
        _setStatus(slotId, s, SlotStatus.Defaulted, by);
    }

    /// @inheritdoc IReceivables
    function setFinancing(address financing_) external {
        address operator = _msgSender();
        if (!registry.isOperator(operator)) revert CertificateNotOperator(operator);
        if (financing != address(0) || financing_ == address(0)) revert CertificateFinancingAlreadySet(financing);
        financing = financing_;
        emit FinancingSet(financing_, operator);
    }

    /// @dev From maturity on, a payable that was accepted (Accepted with part paid, Defaulted, Repaid).
    function _checkClaimable(TokenData memory t) private view returns (SlotData storage s) {
        s = _slots[t.slotId];
        SlotStatus status = s.status;
        if (status != SlotStatus.Accepted && status != SlotStatus.Defaulted && status != SlotStatus.Repaid) {
            revert CertificateWrongStatus(t.slotId, status);
        }
        if (block.timestamp < s.maturity) revert CertificateNotMatured(t.slotId, s.maturity);
    }

    /// @dev The pro-rata rule. A token whose value at maturity was V [fen] (value + claimed) is due
    /// floor(V × paidIn / face) in all, so it may take that minus what it claimed already: each payment is
    /// shared in proportion to the values at maturity, whenever each holder claims. Flooring: the sum of
    /// the dues never exceeds paidIn (paid out <= paid in); the fen left by flooring stay in escrow and go
    /// out with a later payment; once paidIn == face every due is exactly V, so no fen is stranded.
    function _claimable(uint256 tokenId, uint256 value, SlotData storage s) private view returns (uint256) {
        uint256 claimed = _claimed[tokenId];
        // V <= face < 2**128 and paidIn <= face: the product fits; claimed was an earlier, smaller due
        unchecked {
            return (value + claimed) * s.paidIn / s.face - claimed;
        }
    }

    function _isActiveHolder(address account) private view returns (bool) {
        // the entity hash is not needed here
        // slither-disable-next-line unused-return
        (uint8 roles, IParticipantRegistry.Status status,) = registry.participant(account);
        return status == IParticipantRegistry.Status.Active && roles & Roles.HOLDER != 0;
    }

    // ================================================================ views

    /// @inheritdoc IReceivables
    function slot(uint256 slotId) external view returns (Payable memory p) {
        SlotData storage s = _slots[slotId];
        p.obligor = s.obligor;
        p.lineId = s.lineId;
        p.face = s.face;
        p.maturity = s.maturity;
        p.issuedAt = s.issuedAt;
        p.status = s.status;
        p.paidIn = s.paidIn;
        p.paidOut = s.paidOut;
        p.rootTokenId = s.rootTokenId;
        p.invoiceCount = s.invoiceCount;
    }

    /// @inheritdoc IReceivables
    function token(uint256 tokenId) external view returns (Certificate memory c) {
        TokenData memory t = _tokens[tokenId];
        c.holder = t.holder;
        c.slotId = t.slotId;
        c.value = t.value;
        c.parent = t.parent;
        c.root = t.root;
        // a hold is not a financing lock: it shows in hold()
        uint48 ref = t.lockRef == FROZEN ? 0 : t.lockRef;
        c.locked = ref != 0;
        c.lockRef = ref;
    }

    /// @inheritdoc IReceivables
    function invoicesOf(uint256 slotId) external view returns (bytes32[] memory hashes) {
        return _invoiceHashes(slotId, _slots[slotId].invoiceCount);
    }

    /// @inheritdoc IReceivables
    function ownerOf(uint256 tokenId) external view returns (address) {
        return _token(tokenId).holder;
    }

    /// @inheritdoc IReceivables
    function balanceOf(uint256 tokenId) external view returns (uint256) {
        return _token(tokenId).value;
    }

    /// @inheritdoc IReceivables
    function slotOf(uint256 tokenId) external view returns (uint256) {
        return _token(tokenId).slotId;
    }

    /// @inheritdoc IReceivables
    function valueDecimals() external pure returns (uint8) {
        return 2;
    }

    /// @inheritdoc IReceivables
    function lastSlotId() external view returns (uint256) {
        return _lastSlotId;
    }

    /// @inheritdoc IReceivables
    function lastTokenId() external view returns (uint256) {
        return _lastTokenId;
    }

    // ================================================================ internal: the state changes

    /// @dev Creates the slot, its invoices and its root token.
    function _issue(
        address obligor,
        address supplier,
        uint256 face,
        uint64 maturity,
        uint256 lineId,
        bytes32[] calldata invoiceHashes
    ) private returns (uint256 slotId, uint256 tokenId) {
        // ids grow by one per issue/split; a uint64 of them is out of reach (SafeCast below guards
        // the narrower slot id field of a token)
        unchecked {
            slotId = _lastSlotId + 1;
        }
        _lastSlotId = uint64(slotId);
        uint256 n = invoiceHashes.length;
        // maturity <= now + 366 days < 2**40; n <= MAX_INVOICES < 2**8; checked by issue().
        // The root token gets the next token id (minted just below).
        _slots[slotId] = SlotData({
            obligor: obligor,
            maturity: uint40(maturity),
            issuedAt: uint40(block.timestamp),
            status: SlotStatus.Issued,
            invoiceCount: uint8(n),
            face: SafeCast.toUint128(face),
            lineId: SafeCast.toUint64(lineId),
            rootTokenId: _lastTokenId + 1,
            paidIn: 0,
            paidOut: 0
        });
        mapping(uint256 => bytes32) storage inv = _invoices[slotId];
        for (uint256 i; i < n; ++i) {
            inv[i] = invoiceHashes[i];
        }
        tokenId = _mint(supplier, slotId, face, 0, 0);
    }

    /// @dev The one place tokens are created; root == 0 means "this is a root" (root = own id).
    function _mint(address to, uint256 slotId, uint256 value, uint256 parent, uint256 root)
        private
        returns (uint256 tokenId)
    {
        // see _issue: a uint64 of token ids is out of reach
        unchecked {
            tokenId = _lastTokenId + 1;
        }
        _lastTokenId = uint64(tokenId);
        _tokens[tokenId] = TokenData({
            holder: to,
            slotId: SafeCast.toUint48(slotId),
            lockRef: 0,
            value: uint128(value), // value <= face < 2**128
            parent: uint64(parent),
            root: uint64(root == 0 ? tokenId : root)
        });
    }

    /// @dev Moves `value` (< t.value) of `tokenId` into a new token of `to`.
    function _split(uint256 tokenId, TokenData memory t, address to, uint256 value) private returns (uint256 newTokenId) {
        // value < t.value: checked by every caller
        unchecked {
            _tokens[tokenId].value = t.value - uint128(value);
        }
        newTokenId = _mint(to, t.slotId, value, tokenId, t.root);
        emit CertificateSplit(tokenId, newTokenId, to, t.holder, value, t.root);
    }

    /// @dev Moves a whole token (clearing any lock: only settleLocked moves a locked token).
    function _moveWhole(uint256 tokenId, TokenData memory t, address from, address to) private {
        TokenData storage st = _tokens[tokenId];
        st.holder = to;
        st.lockRef = 0;
        emit CertificateTransferred(tokenId, from, to, t.value);
    }

    /// @dev A lock (financing) or a hold (judicial) stops the move: the hold gets its own error.
    function _revertLocked(uint256 tokenId, uint48 lockRef) private view {
        if (lockRef == FROZEN) revert CertificateIsFrozen(tokenId, _holdReason[tokenId]);
        revert CertificateIsLocked(tokenId, lockRef);
    }

    /// @dev The one place a lock is set or cleared.
    function _setLock(uint256 tokenId, uint48 ref) private {
        TokenData storage st = _tokens[tokenId];
        uint48 old = st.lockRef;
        st.lockRef = ref;
        if (ref != 0) emit CertificateLocked(tokenId, ref);
        else emit CertificateUnlocked(tokenId, old);
    }

    /// @dev Pays `amount` (<= the token's value, from _claimable) of the escrow to the holder: the token's
    /// value falls and paidOut rises by as much (invariant 1 holds). A holder that owes recourse pays its
    /// debt out of it at once when `net`.
    function _settle(uint256 tokenId, TokenData memory t, SlotData storage s, uint256 amount, bool net) private {
        // amount <= t.value, and paidOut + amount <= paidIn <= face < 2**128
        unchecked {
            _tokens[tokenId].value = t.value - uint128(amount);
            _claimed[tokenId] += amount;
            s.paidOut += uint128(amount);
        }
        settlementToken.safeTransfer(t.holder, amount);
        emit CertificateClaimed(tokenId, t.slotId, t.holder, amount);
        address financing_ = financing;
        if (net && financing_ != address(0)) IFinancing(financing_).netRecourse(t.holder);
    }

    /// @dev The one place a slot's status changes: checks the transition, applies its side effects
    /// and emits its event (PayableRepaid, emitted by repay, reports Repaid).
    function _setStatus(uint256 slotId, SlotData storage s, SlotStatus to, address by) private {
        SlotStatus from = s.status;
        bool allowed = from == SlotStatus.Issued
            ? (to == SlotStatus.Accepted || to == SlotStatus.Rejected || to == SlotStatus.Cancelled)
            : from == SlotStatus.Accepted
                ? (to == SlotStatus.Defaulted || to == SlotStatus.Repaid)
                : (from == SlotStatus.Defaulted && to == SlotStatus.Repaid);
        if (!allowed) revert CertificateWrongStatus(slotId, from);
        s.status = to;
        if (to == SlotStatus.Accepted) {
            emit CertificateAccepted(slotId, by);
        } else if (to == SlotStatus.Rejected || to == SlotStatus.Cancelled) {
            _unwind(s);
            if (to == SlotStatus.Rejected) emit CertificateRejected(slotId, by);
            else emit CertificateCancelled(slotId, by);
        } else if (to == SlotStatus.Defaulted) {
            // paidIn < face while not Repaid
            unchecked {
                emit PayableDefaulted(slotId, s.face - s.paidIn, by);
            }
        }
    }

    /// @dev Rejection/cancellation: burn the root token, restore the line. The invoices were only
    /// proposed (they bind on acceptance), so there is nothing to release.
    function _unwind(SlotData storage s) private {
        delete _tokens[s.rootTokenId];
        creditLines.restore(s.lineId, s.face);
    }

    // ================================================================ internal: checks and reads

    function _checkAmount(uint256 amount, uint256 minUnit) private pure {
        if (amount == 0 || amount % minUnit != 0) revert CertificateInvalidAmount(amount, minUnit);
    }

    function _token(uint256 tokenId) private view returns (TokenData memory t) {
        t = _tokens[tokenId];
        if (t.holder == address(0)) revert CertificateUnknownToken(tokenId);
    }

    function _slot(uint256 slotId) private view returns (SlotData storage s) {
        s = _slots[slotId];
        if (s.status == SlotStatus.None) revert CertificateUnknownSlot(slotId);
    }

    function _invoiceHashes(uint256 slotId, uint256 n) private view returns (bytes32[] memory hashes) {
        hashes = new bytes32[](n);
        mapping(uint256 => bytes32) storage inv = _invoices[slotId];
        for (uint256 i; i < n; ++i) {
            hashes[i] = inv[i];
        }
    }

    // ================================================================ asset-level controls (issue 15)

    /// @dev The one gate of every control: a hold (freeze, unfreeze) needs governance or the registry's
    /// CONTROLLER_ROLE, so that a court's freeze acts at once; a forced transfer or a recovery needs
    /// governance (a council proposal, M-of-N with the delay): `councilOnly`.
    function _requireControl(bool councilOnly) private view {
        address caller = _msgSender();
        if (!registry.canControl(caller, councilOnly)) revert CertificateNotGovernance(caller);
    }

    /// @dev Forced transfers and recoveries: governance only.
    modifier onlyGovernance() {
        _requireControl(true);
        _;
    }

    /// @dev Holds: the controller or governance.
    modifier onlyController() {
        _requireControl(false);
        _;
    }

    /// @inheritdoc IReceivables
    function freeze(uint256 tokenId, uint256 amount, bytes32 reasonHash)
        external
        onlyController
        returns (uint256 frozenTokenId)
    {
        TokenData memory t = _controllable(tokenId, reasonHash);
        if (t.lockRef == FROZEN) revert CertificateIsFrozen(tokenId, _holdReason[tokenId]);
        if (t.value == 0) revert CertificateAlreadySettled(tokenId);
        if (amount > t.value) revert CertificateInsufficientValue(tokenId, t.value, amount);
        if (amount == t.value) {
            frozenTokenId = tokenId;
        } else {
            _checkPart(tokenId, amount);
            frozenTokenId = _split(tokenId, t, t.holder, amount);
        }
        _tokens[frozenTokenId].lockRef = FROZEN;
        _holdReason[frozenTokenId] = reasonHash;
        emit CertificateFrozen(frozenTokenId, t.holder, amount, reasonHash, _msgSender());
    }

    /// @inheritdoc IReceivables
    /// @dev The transfer and the netting call only the platform's own SettlementToken and Financing, which
    /// call nothing back here; the hold is cleared before them.
    function unfreeze(uint256 tokenId, bytes32 reasonHash) external onlyController {
        if (reasonHash == bytes32(0)) revert CertificateNoReason();
        TokenData memory t = _token(tokenId);
        if (t.lockRef != FROZEN) revert CertificateNotFrozen(tokenId);
        _tokens[tokenId].lockRef = 0;
        delete _holdReason[tokenId];
        uint256 released = _escrow[tokenId];
        emit CertificateUnfrozen(tokenId, t.holder, released, reasonHash, _msgSender());
        if (released == 0) return;
        registry.requireActive(t.holder, Roles.HOLDER);
        delete _escrow[tokenId];
        settlementToken.safeTransfer(t.holder, released);
        address financing_ = financing;
        if (financing_ != address(0)) IFinancing(financing_).netRecourse(t.holder);
    }

    /// @inheritdoc IReceivables
    function forceTransfer(uint256 tokenId, address to, uint256 value, bytes32 reasonHash)
        external
        onlyGovernance
        returns (uint256 newTokenId)
    {
        TokenData memory t = _controllable(tokenId, reasonHash);
        registry.requireActive(to, Roles.HOLDER);
        if (t.holder == to) revert CertificateSelfTransfer(tokenId, to);
        if (value > t.value) revert CertificateInsufficientValue(tokenId, t.value, value);
        if (value == t.value) {
            // a settled token moves only for the escrow a hold keeps on it
            if (value == 0 && _escrow[tokenId] == 0) revert CertificateAlreadySettled(tokenId);
            newTokenId = tokenId;
            _tokens[tokenId].holder = to; // a hold stays: lockRef is untouched
            emit CertificateTransferred(tokenId, t.holder, to, value);
        } else {
            // the escrow of a hold cannot be divided between two tokens
            if (t.lockRef == FROZEN) revert CertificateIsFrozen(tokenId, _holdReason[tokenId]);
            _checkPart(tokenId, value);
            newTokenId = _split(tokenId, t, to, value);
        }
        emit CertificateForceTransferred(tokenId, newTokenId, to, t.holder, value, reasonHash, _msgSender());
    }

    /// @inheritdoc IReceivables
    function recoverTokens(address from, address to, uint256[] calldata tokenIds, bytes32 reasonHash)
        external
        onlyGovernance
    {
        uint256 n = tokenIds.length;
        _checkRecovery(from, to, n, reasonHash);
        registry.requireActive(to, Roles.HOLDER);
        for (uint256 i; i < n; ++i) {
            _recoverToken(tokenIds[i], from, to, reasonHash);
        }
    }

    /// @inheritdoc IReceivables
    function recoverObligations(address from, address to, uint256[] calldata slotIds, bytes32 reasonHash)
        external
        onlyGovernance
    {
        uint256 n = slotIds.length;
        _checkRecovery(from, to, n, reasonHash);
        for (uint256 i; i < n; ++i) {
            uint256 slotId = slotIds[i];
            SlotData storage s = _slots[slotId];
            // any status: a repaid or cancelled payable keeps its obligor for the record, and a defaulted one
            // is still owed (repay after default); the line it drew on moves in CreditLines.recoverLines
            if (s.obligor != from) revert CertificateNotObligor(slotId, from);
            s.obligor = to;
            emit PayableObligorRecovered(slotId, from, to, reasonHash);
        }
    }

    /// @dev A recovery's checks: the order named, 1 to MAX_RECOVERY_BATCH ids, and the registry's record is the
    /// authority (nothing moves but to the re-verified address).
    function _checkRecovery(address from, address to, uint256 n, bytes32 reasonHash) private view {
        if (reasonHash == bytes32(0)) revert CertificateNoReason();
        if (n == 0 || n > MAX_RECOVERY_BATCH) revert CertificateRecoveryBatch(n, MAX_RECOVERY_BATCH);
        if (to == address(0) || registry.recoveredTo(from) != to) revert CertificateNotRecovered(from, to);
    }

    /// @dev One token of a recovery: whole, with its hold, escrow and claimed amount (all keyed by token id).
    function _recoverToken(uint256 tokenId, address from, address to, bytes32 reasonHash) private {
        TokenData storage st = _tokens[tokenId];
        address holder = st.holder;
        if (holder != from) revert CertificateNotHolder(tokenId, from, holder);
        // a lock stays: Financing.recoverPositions makes the new address the request's seller
        st.holder = to;
        emit CertificateRecovered(tokenId, from, to, st.value, reasonHash, _msgSender());
    }

    /// @inheritdoc IReceivables
    function hold(uint256 tokenId) external view returns (bool frozen, bytes32 reasonHash, uint256 escrowed) {
        return (_tokens[tokenId].lockRef == FROZEN, _holdReason[tokenId], _escrow[tokenId]);
    }

    /// @dev A token a hold or a court order may act on: of an accepted payable (Accepted, Defaulted or
    /// Repaid), not locked for financing (the financier's claim on it comes first), with the order named.
    function _controllable(uint256 tokenId, bytes32 reasonHash) private view returns (TokenData memory t) {
        if (reasonHash == bytes32(0)) revert CertificateNoReason();
        t = _token(tokenId);
        SlotStatus status = _slots[t.slotId].status;
        if (status != SlotStatus.Accepted && status != SlotStatus.Defaulted && status != SlotStatus.Repaid) {
            revert CertificateWrongStatus(t.slotId, status);
        }
        if (t.lockRef != 0 && t.lockRef != FROZEN) revert CertificateIsLocked(tokenId, t.lockRef);
    }

    /// @dev A part split off by a control: a multiple of minUnit, of a token paid nothing yet (a split moves
    /// value, not what was claimed on it, so the pro-rata dues would no longer add up).
    function _checkPart(uint256 tokenId, uint256 amount) private view {
        _checkAmount(amount, registry.minUnit());
        uint256 claimed = _claimed[tokenId];
        if (claimed != 0) revert CertificatePartlyPaidOut(tokenId, claimed);
    }

    /// @dev _settle for a frozen token: the due leaves the token and the slot's escrow as usual (invariant 1
    /// holds) but stays here, in the hold's escrow, until release.
    function _escrowDue(uint256 tokenId, TokenData memory t, SlotData storage s, uint256 amount) private {
        // as in _settle: amount <= t.value, and paidOut + amount <= paidIn <= face < 2**128
        unchecked {
            _tokens[tokenId].value = t.value - uint128(amount);
            _claimed[tokenId] += amount;
            s.paidOut += uint128(amount);
            _escrow[tokenId] += amount;
        }
        emit CertificateEscrowed(tokenId, t.slotId, t.holder, amount);
    }

    function _requireGovernance() internal view override {
        if (!registry.isGovernance(msg.sender)) revert GovernanceOnly(msg.sender);
    }
}
