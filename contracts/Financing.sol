// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {ERC2771Context} from "@openzeppelin/contracts/metatx/ERC2771Context.sol";
import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";

import {IFinancing} from "./interfaces/IFinancing.sol";
import {IParticipantRegistry} from "./interfaces/IParticipantRegistry.sol";
import {IReceivables} from "./interfaces/IReceivables.sol";
import {Discount} from "./libraries/Discount.sol";
import {Roles} from "./libraries/Roles.sol";

/// @title Financing of receivable certificates with delivery versus payment.
/// @dev Three storage words per request; fund reads them once and writes one.
contract Financing is IFinancing, ERC2771Context {
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

    IParticipantRegistry public immutable registry;
    IReceivables public immutable receivables;
    IERC20 public immutable settlementToken;

    uint256 private _lastRequestId;
    mapping(uint256 requestId => RequestData) private _requests;

    constructor(
        IParticipantRegistry registry_,
        IReceivables receivables_,
        IERC20 settlementToken_,
        address trustedForwarder
    ) ERC2771Context(trustedForwarder) {
        registry = registry_;
        receivables = receivables_;
        settlementToken = settlementToken_;
    }

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
        if (expiry <= block.timestamp || expiry > maturity) revert FinancingInvalidExpiry(expiry);
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
    function acceptQuote(uint256 requestId) external {
        address seller = _msgSender();
        registry.requireNotPaused();
        registry.requireActive(seller, Roles.SUPPLIER);
        RequestData storage r = _request(requestId);
        if (r.seller != seller) revert FinancingNotSeller(requestId, seller);
        _requireStatus(requestId, r, RequestStatus.Quoted, RequestStatus.Quoted);
        _requireQuoteLive(requestId, r);
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
        address seller = r.seller;
        registry.requireActive(seller, Roles.SUPPLIER);
        uint256 tokenId = r.tokenId;
        IReceivables.Certificate memory c = receivables.token(tokenId);
        if (receivables.slot(c.slotId).status != IReceivables.SlotStatus.Defaulted) {
            revert FinancingNotDefaulted(c.slotId);
        }
        if (c.holder != financier) revert FinancingTokenMoved(requestId, tokenId);
        _setStatus(requestId, r, RequestStatus.Recoursed);
        // the seller agreed to recourse when requesting and approved this contract for it
        // slither-disable-next-line arbitrary-send-erc20
        settlementToken.safeTransferFrom(seller, financier, c.value);
        receivables.recourseTransfer(tokenId, seller);
        emit RecourseExercised(requestId, tokenId, financier, seller, c.value);
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
    /// status → Cancelled | Declined.
    function _allowed(RequestStatus from, RequestStatus to) private pure returns (bool) {
        if (to == RequestStatus.Quoted) return from == RequestStatus.Requested || from == RequestStatus.Quoted;
        if (to == RequestStatus.Accepted) return from == RequestStatus.Quoted;
        if (to == RequestStatus.Funded) return from == RequestStatus.Accepted;
        if (to == RequestStatus.Recoursed) return from == RequestStatus.Funded;
        if (to == RequestStatus.Cancelled || to == RequestStatus.Declined) {
            return from == RequestStatus.Requested || from == RequestStatus.Quoted || from == RequestStatus.Accepted;
        }
        return false;
    }
}
