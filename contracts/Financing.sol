// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {ERC2771ContextUpgradeable} from "@openzeppelin/contracts-upgradeable/metatx/ERC2771ContextUpgradeable.sol";
import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";

import {IFinancing} from "./interfaces/IFinancing.sol";
import {IParticipantRegistry} from "./interfaces/IParticipantRegistry.sol";
import {IReceivables} from "./interfaces/IReceivables.sol";
import {ISettlementToken} from "./interfaces/ISettlementToken.sol";
import {Discount} from "./libraries/Discount.sol";
import {Roles} from "./libraries/Roles.sol";
import {Governed} from "./upgrade/Governed.sol";

/// @title Financing of receivable certificates with delivery versus payment.
/// @dev Three storage words per request; fund reads them once and writes one.
/// @custom:oz-upgrades-from v1:Financing
contract Financing is IFinancing, ERC2771ContextUpgradeable, Governed {
    using SafeERC20 for IERC20;

    struct RequestData {
        address seller; // word 0
        RequestStatus status; // word 0
        bool withRecourse; // word 0
        uint32 rateBps; // word 0 [bps]
        uint40 expiry; // word 0 [unix s]; quote expiry <= maturity < 2**40
        address financier; // word 1
        uint64 tokenId; // word 1
        uint128 amount; // word 2 [fen]
        uint128 price; // word 2 [fen]
    }

    uint32 public constant MAX_RATE_BPS = 10_000; // [bps] 100 % a year

    /// @custom:oz-upgrades-unsafe-allow state-variable-immutable
    IParticipantRegistry public immutable registry;
    /// @custom:oz-upgrades-unsafe-allow state-variable-immutable
    IReceivables public immutable receivables;
    /// @custom:oz-upgrades-unsafe-allow state-variable-immutable
    IERC20 public immutable settlementToken;

    uint256 private _lastRequestId;
    mapping(uint256 requestId => RequestData) private _requests;

    // Recourse debts: per request what is still owed, per seller the total and a FIFO of its debts
    // (collection pays the oldest first; a seller has few, and each step settles one or ends the loop).
    mapping(uint256 requestId => uint256) private _recourseDebt; // [fen]
    mapping(address seller => uint256) private _recourseOwed; // [fen]
    mapping(address seller => uint256[]) private _debtQueue;
    mapping(address seller => uint256) private _debtHead;

    /// @custom:oz-upgrades-unsafe-allow constructor
    constructor(
        IParticipantRegistry registry_,
        IReceivables receivables_,
        IERC20 settlementToken_,
        address trustedForwarder
    ) ERC2771ContextUpgradeable(trustedForwarder) {
        registry = registry_;
        receivables = receivables_;
        settlementToken = settlementToken_;
        _disableInitializers();
    }

    /// @notice Run once, by the proxy's deployment (the implementation itself can never be initialised).
    function initialize() external initializer {}

    /// @inheritdoc IFinancing
    function request(uint256 tokenId, uint256 amount, address financier, bool withRecourse)
        external
        returns (uint256 requestId)
    {
        address seller = _msgSender();
        registry.requireNotPaused();
        registry.requireActive(seller, Roles.SUPPLIER);
        registry.requireActive(financier, Roles.FINANCIER);
        if (seller == financier) revert FinancingSelfDealing(seller);
        uint256 owed = _recourseOwed[seller];
        if (owed != 0) revert FinancingRecourseOwed(seller, owed);
        // one id per request: a uint256 cannot overflow
        unchecked {
            requestId = ++_lastRequestId;
        }
        // lock checks holder, slot status, maturity, lock and amount; a partial amount is split off
        uint256 lockedTokenId = receivables.lock(tokenId, seller, amount, requestId);
        _requests[requestId] = RequestData({
            seller: seller,
            status: RequestStatus.Requested,
            withRecourse: withRecourse,
            rateBps: 0,
            expiry: 0,
            financier: financier,
            tokenId: uint64(lockedTokenId), // Receivables token ids are uint64
            amount: uint128(amount), // amount <= token value < 2**128 (checked by lock)
            price: 0
        });
        emit FinancingRequested(requestId, lockedTokenId, seller, financier, amount, withRecourse);
    }

    /// @inheritdoc IFinancing
    function quote(uint256 requestId, uint32 rateBps, uint64 expiry) external {
        address financier = _msgSender();
        registry.requireNotPaused();
        registry.requireActive(financier, Roles.FINANCIER);
        RequestData storage r = _request(requestId);
        if (r.financier != financier) revert FinancingNotFinancier(requestId, financier);
        _requireStatus(requestId, r, RequestStatus.Requested, RequestStatus.Quoted);
        if (rateBps == 0 || rateBps > MAX_RATE_BPS) revert FinancingInvalidRate(rateBps);
        uint64 maturity = receivables.slot(receivables.slotOf(r.tokenId)).maturity;
        // a quote is a short offer, not a free option: at most quoteValidity (<= 7 days), never past maturity
        uint256 latest = block.timestamp + registry.quoteValidity();
        if (expiry <= block.timestamp || expiry > maturity || expiry > latest) revert FinancingInvalidExpiry(expiry);
        uint256 amount = r.amount;
        (, uint256 discount, uint256 price) = _discount(amount, rateBps, maturity);
        if (discount >= amount) revert FinancingInvalidRate(rateBps);
        _setStatus(requestId, r, RequestStatus.Quoted);
        r.rateBps = rateBps;
        r.expiry = uint40(expiry); // expiry <= maturity < 2**40
        r.price = uint128(price); // price < amount < 2**128
        emit FinancingQuoted(requestId, financier, rateBps, expiry, discount, price);
    }

    /// @inheritdoc IFinancing
    function acceptQuote(uint256 requestId, uint32 rateBps, uint256 price, uint64 expiry) external {
        address seller = _msgSender();
        registry.requireNotPaused();
        registry.requireActive(seller, Roles.SUPPLIER);
        RequestData storage r = _request(requestId);
        if (r.seller != seller) revert FinancingNotSeller(requestId, seller);
        _requireStatus(requestId, r, RequestStatus.Quoted, RequestStatus.Quoted);
        _requireQuoteLive(requestId, r);
        // the seller's acceptance binds only the terms it saw: a re-quote landing first makes it fail
        if (r.rateBps != rateBps || r.price != price || r.expiry != expiry) {
            revert FinancingQuoteChanged(requestId, r.rateBps, r.price, r.expiry);
        }
        _setStatus(requestId, r, RequestStatus.Accepted);
        emit FinancingQuoteAccepted(requestId, seller);
    }

    /// @inheritdoc IFinancing
    function fund(uint256 requestId) external {
        address financier = _msgSender();
        registry.requireNotPaused();
        registry.requireActive(financier, Roles.FINANCIER);
        RequestData storage r = _request(requestId);
        if (r.financier != financier) revert FinancingNotFinancier(requestId, financier);
        _requireStatus(requestId, r, RequestStatus.Accepted, RequestStatus.Accepted);
        _requireQuoteLive(requestId, r);
        address seller = r.seller;
        registry.requireActive(seller, Roles.SUPPLIER);
        _setStatus(requestId, r, RequestStatus.Funded);
        uint256 tokenId = r.tokenId;
        uint256 price = r.price;
        settlementToken.safeTransferFrom(financier, seller, price);
        receivables.settleLocked(tokenId, financier);
        // price < amount (checked by quote)
        unchecked {
            emit FinancingFunded(requestId, tokenId, financier, seller, price, r.amount - price);
        }
        // proceeds of a request made before a recourse debt arose pay that debt first
        if (_recourseOwed[seller] != 0) _net(seller);
    }

    /// @inheritdoc IFinancing
    function lapse(uint256 requestId) external {
        address by = _msgSender();
        registry.requireNotPaused();
        RequestData storage r = _request(requestId);
        _requireStatus(requestId, r, RequestStatus.Accepted, RequestStatus.Accepted);
        uint40 expiry = r.expiry;
        if (block.timestamp < expiry) revert FinancingQuoteLive(requestId, expiry);
        _setStatus(requestId, r, RequestStatus.Lapsed);
        receivables.unlock(r.tokenId);
        emit FinancingLapsed(requestId, r.seller, r.financier, by);
    }

    /// @inheritdoc IFinancing
    function cancel(uint256 requestId) external {
        address seller = _msgSender();
        registry.requireNotPaused();
        registry.requireActive(seller, Roles.SUPPLIER);
        RequestData storage r = _request(requestId);
        if (r.seller != seller) revert FinancingNotSeller(requestId, seller);
        _setStatus(requestId, r, RequestStatus.Cancelled);
        receivables.unlock(r.tokenId);
        emit FinancingCancelled(requestId, seller);
    }

    /// @inheritdoc IFinancing
    function decline(uint256 requestId) external {
        address financier = _msgSender();
        registry.requireNotPaused();
        registry.requireActive(financier, Roles.FINANCIER);
        RequestData storage r = _request(requestId);
        if (r.financier != financier) revert FinancingNotFinancier(requestId, financier);
        _setStatus(requestId, r, RequestStatus.Declined);
        receivables.unlock(r.tokenId);
        emit FinancingDeclined(requestId, financier);
    }

    /// @inheritdoc IFinancing
    function exerciseRecourse(uint256 requestId) external {
        address financier = _msgSender();
        registry.requireNotPaused();
        registry.requireActive(financier, Roles.FINANCIER);
        RequestData storage r = _request(requestId);
        if (r.financier != financier) revert FinancingNotFinancier(requestId, financier);
        _requireStatus(requestId, r, RequestStatus.Funded, RequestStatus.Funded);
        if (!r.withRecourse) revert FinancingNoRecourse(requestId);
        // the seller's status does not matter: a suspended seller still owes
        address seller = r.seller;
        uint256 tokenId = r.tokenId;
        IReceivables.Certificate memory c = receivables.token(tokenId);
        if (receivables.slot(c.slotId).status != IReceivables.SlotStatus.Defaulted) {
            revert FinancingNotDefaulted(c.slotId);
        }
        if (c.holder != financier) revert FinancingTokenMoved(requestId, tokenId);
        _setStatus(requestId, r, RequestStatus.Recoursed);
        // Receivables pays the financier its pending share of what came in so far, then hands the token
        // (and so every later recovery) to the seller, who bears the loss; the rest is the debt.
        uint256 owed = receivables.recourseTransfer(tokenId, seller);
        _recourseDebt[requestId] = owed;
        _recourseOwed[seller] += owed;
        _debtQueue[seller].push(requestId);
        emit RecourseExercised(requestId, tokenId, financier, seller, owed);
        _net(seller);
    }

    /// @inheritdoc IFinancing
    function collectRecourse(address seller) external {
        registry.requireNotPaused();
        // an amount collected, not a balance compared
        // slither-disable-next-line incorrect-equality
        if (_net(seller) == 0) revert FinancingNothingToCollect(seller, _recourseOwed[seller]);
    }

    /// @inheritdoc IFinancing
    function netRecourse(address holder) external {
        // Receivables and Bills (system contracts) call it after paying `holder`; Receivables, the frequent
        // caller (every claim), is known here without a registry read
        if (msg.sender != address(receivables) && !registry.isSystemContract(msg.sender)) {
            revert FinancingNotSystemContract(msg.sender);
        }
        if (_recourseOwed[holder] != 0) _net(holder);
    }

    // ---------------------------------------------------------------- lost-key recovery (issue 15)

    /// @dev The one gate of the recovery here: governance only (a council proposal, M-of-N with the delay).
    modifier onlyGovernance() {
        address caller = _msgSender();
        if (!registry.canControl(caller, true)) revert FinancingNotGovernance(caller);
        _;
    }

    /// @inheritdoc IFinancing
    function recoverPositions(address from, address to, uint256[] calldata requestIds, bytes32 reasonHash)
        external
        onlyGovernance
    {
        // the registry's record is the authority: positions move only to the re-verified address
        if (to == address(0) || registry.recoveredTo(from) != to) revert FinancingNotRecovered(from, to);
        uint256 n = requestIds.length;
        uint256 owed = _recourseOwed[from];
        // owed is this contract's own exact bookkeeping [fen], which nobody can nudge: == 0 is exact
        // slither-disable-next-line incorrect-equality
        if (reasonHash == bytes32(0) || n > 200 || (n == 0 && owed == 0)) revert FinancingNothingToRecover(from);
        for (uint256 i; i < n; ++i) {
            uint256 requestId = requestIds[i];
            RequestData storage r = _requests[requestId];
            bool party = false;
            if (r.seller == from) (r.seller, party) = (to, true);
            if (r.financier == from) (r.financier, party) = (to, true);
            if (!party) revert FinancingNotParty(requestId, from);
            emit FinancingPartyRecovered(requestId, from, to, reasonHash);
        }
        // own bookkeeping, as above
        // slither-disable-next-line incorrect-equality
        if (owed == 0) return;
        // `to` was unregistered until the recovery: it owes nothing and has no queue of its own
        uint256[] storage queue = _debtQueue[from];
        uint256[] storage moved = _debtQueue[to];
        for (uint256 i = _debtHead[from]; i < queue.length; ++i) {
            moved.push(queue[i]);
        }
        delete _debtQueue[from];
        delete _debtHead[from];
        delete _recourseOwed[from];
        _recourseOwed[to] = owed;
        emit RecourseDebtsRecovered(from, to, owed, reasonHash);
    }

    // ---------------------------------------------------------------- views

    /// @inheritdoc IFinancing
    function getRequest(uint256 requestId) external view returns (Request memory q) {
        RequestData storage r = _requests[requestId];
        q.tokenId = r.tokenId;
        q.seller = r.seller;
        q.financier = r.financier;
        q.amount = r.amount;
        q.withRecourse = r.withRecourse;
        q.status = r.status;
        q.rateBps = r.rateBps;
        q.expiry = r.expiry;
        q.price = r.price;
        // price <= amount always; both 0 before a quote
        unchecked {
            q.discount = r.rateBps == 0 ? 0 : uint256(r.amount) - r.price;
        }
    }

    /// @inheritdoc IFinancing
    function recourseOwed(address seller) external view returns (uint256) {
        return _recourseOwed[seller];
    }

    /// @inheritdoc IFinancing
    function recourseDebt(uint256 requestId) external view returns (uint256) {
        return _recourseDebt[requestId];
    }

    /// @inheritdoc IFinancing
    function lastRequestId() external view returns (uint256) {
        return _lastRequestId;
    }

    /// @inheritdoc IFinancing
    function discountFor(uint256 face, uint32 rateBps, uint64 maturity)
        external
        view
        returns (uint256 days_, uint256 discount, uint256 price)
    {
        return _discount(face, rateBps, maturity);
    }

    // ---------------------------------------------------------------- internal

    /// @dev days = ceil((maturity - now) / 1 day); discount = round-half-up(face × rate × days / 3_600_000).
    function _discount(uint256 face, uint32 rateBps, uint64 maturity)
        private
        view
        returns (uint256 days_, uint256 discount, uint256 price)
    {
        (discount, days_) = Discount.interest(face, rateBps, maturity, block.timestamp);
        // checked just before: discount < face
        unchecked {
            price = discount < face ? face - discount : 0;
        }
    }

    /// @dev Collects as much of `seller`'s recourse debt as its balance covers, oldest debt first; returns
    /// the amount collected. The token's `collect` needs no allowance: requesting with recourse is the
    /// seller's standing consent (see IFinancing), and it works while the seller is suspended.
    /// Effects first (debts, head), then the transfers.
    // amounts are compared to 0 to skip empty steps, not balances to decide a rule
    // slither-disable-next-line incorrect-equality
    function _net(address seller) private returns (uint256 collected) {
        uint256 owed = _recourseOwed[seller];
        uint256 balance = settlementToken.balanceOf(seller);
        collected = owed < balance ? owed : balance;
        if (collected == 0) return 0;
        // collected <= owed
        unchecked {
            _recourseOwed[seller] = owed - collected;
        }
        uint256[] storage queue = _debtQueue[seller];
        uint256 head = _debtHead[seller];
        uint256 open = queue.length - head;
        uint256[] memory ids = new uint256[](open);
        uint256[] memory parts = new uint256[](open);
        uint256[] memory remaining = new uint256[](open);
        uint256 n = 0;
        uint256 left = collected;
        // owed == the sum of the open debts, so `left` runs out before the queue does; each round either
        // settles one debt (head moves) or uses up `left`
        while (left != 0) {
            uint256 requestId = queue[head];
            uint256 due = _recourseDebt[requestId];
            uint256 part = left;
            if (due <= left) {
                part = due;
                ++head;
            }
            // part <= due and part <= left
            unchecked {
                _recourseDebt[requestId] = due - part;
                left -= part;
                (ids[n], parts[n], remaining[n]) = (requestId, part, due - part);
                ++n;
            }
        }
        _debtHead[seller] = head;
        for (uint256 i = 0; i < n; ++i) {
            if (parts[i] == 0) continue;
            address financier = _requests[ids[i]].financier;
            ISettlementToken(address(settlementToken)).collect(seller, financier, parts[i]);
            emit RecourseCollected(ids[i], seller, financier, parts[i], remaining[i]);
        }
    }

    function _requireQuoteLive(uint256 requestId, RequestData storage r) private view {
        uint40 expiry = r.expiry;
        if (block.timestamp >= expiry) revert FinancingQuoteExpired(requestId, expiry);
    }

    /// @dev Status checks come before any other rule, so a closed request always reports FinancingWrongStatus.
    function _requireStatus(uint256 requestId, RequestData storage r, RequestStatus a, RequestStatus b) private view {
        RequestStatus status = r.status;
        if (status != a && status != b) revert FinancingWrongStatus(requestId, status);
    }

    function _request(uint256 requestId) private view returns (RequestData storage r) {
        r = _requests[requestId];
        if (r.status == RequestStatus.None) revert FinancingUnknownRequest(requestId);
    }

    /// @dev The one place a request's status changes; reverts on a transition the lifecycle forbids.
    function _setStatus(uint256 requestId, RequestData storage r, RequestStatus to) private {
        RequestStatus from = r.status;
        if (!_allowed(from, to)) revert FinancingWrongStatus(requestId, from);
        r.status = to;
    }

    /// @dev The request lifecycle: Requested → Quoted (↺) → Accepted → Funded → Recoursed; any open
    /// status → Cancelled | Declined; Accepted → Lapsed.
    function _allowed(RequestStatus from, RequestStatus to) private pure returns (bool) {
        if (to == RequestStatus.Quoted) return from == RequestStatus.Requested || from == RequestStatus.Quoted;
        if (to == RequestStatus.Accepted) return from == RequestStatus.Quoted;
        if (to == RequestStatus.Funded) return from == RequestStatus.Accepted;
        if (to == RequestStatus.Recoursed) return from == RequestStatus.Funded;
        if (to == RequestStatus.Lapsed) return from == RequestStatus.Accepted;
        if (to == RequestStatus.Cancelled || to == RequestStatus.Declined) {
            return from == RequestStatus.Requested || from == RequestStatus.Quoted || from == RequestStatus.Accepted;
        }
        return false;
    }

    function _requireGovernance() internal view override {
        if (!registry.isGovernance(msg.sender)) revert GovernanceOnly(msg.sender);
    }
}
