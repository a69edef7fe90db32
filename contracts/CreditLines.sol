// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {ERC2771ContextUpgradeable} from "@openzeppelin/contracts-upgradeable/metatx/ERC2771ContextUpgradeable.sol";
import {SafeCast} from "@openzeppelin/contracts/utils/math/SafeCast.sol";

import {ICreditLines} from "./interfaces/ICreditLines.sol";
import {IParticipantRegistry} from "./interfaces/IParticipantRegistry.sol";
import {Roles} from "./libraries/Roles.sol";
import {Governed} from "./upgrade/Governed.sol";

/// @title Credit lines granted by financiers to core enterprises.
/// @dev draw/restore are called by consumers (Receivables), which have already checked the pause and
/// the acting participant; draw still checks that the granting financier is active.
/// @custom:oz-upgrades-from v1:CreditLines
contract CreditLines is ICreditLines, ERC2771ContextUpgradeable, Governed {
    /// @dev Three words; restore touches word 1 only, draw reads all three and writes word 1.
    struct Line {
        address obligor; // word 0
        uint64 expiry; // word 0 [unix s]
        uint128 limit; // word 1 [fen]
        uint128 used; // word 1 [fen]
        address financier; // word 2
    }

    /// @dev A recovery rewrites one word and emits one event per line: 200 stay near 2 M gas.
    uint256 public constant MAX_RECOVERY_BATCH = 200;

    /// @custom:oz-upgrades-unsafe-allow state-variable-immutable
    IParticipantRegistry public immutable registry;

    uint256 private _lastLineId;
    mapping(uint256 lineId => Line) private _lines;
    mapping(address consumer => bool) private _consumers;

    /// @custom:oz-upgrades-unsafe-allow constructor
    constructor(IParticipantRegistry registry_, address trustedForwarder) ERC2771ContextUpgradeable(trustedForwarder) {
        registry = registry_;
        _disableInitializers();
    }

    /// @notice Run once, by the proxy's deployment (the implementation itself can never be initialised).
    function initialize() external initializer {}

    /// @inheritdoc ICreditLines
    function grant(address obligor, uint256 limit, uint64 expiry) external returns (uint256 lineId) {
        address financier = _msgSender();
        registry.requireNotPaused();
        registry.requireActive(financier, Roles.FINANCIER);
        registry.requireActive(obligor, Roles.CORE_ENTERPRISE);
        if (limit == 0) revert CreditLineZeroLimit();
        if (expiry <= block.timestamp) revert CreditLineInvalidExpiry(expiry);
        // ids count up from 1 by one per grant: a uint256 cannot overflow
        unchecked {
            lineId = ++_lastLineId;
        }
        _lines[lineId] = Line({
            obligor: obligor,
            expiry: expiry,
            limit: SafeCast.toUint128(limit),
            used: 0,
            financier: financier
        });
        emit CreditLineGranted(lineId, financier, obligor, limit, expiry);
    }

    /// @inheritdoc ICreditLines
    function adjust(uint256 lineId, uint256 newLimit, uint64 newExpiry) external {
        address financier = _msgSender();
        registry.requireNotPaused();
        registry.requireActive(financier, Roles.FINANCIER);
        Line storage l = _line(lineId);
        if (l.financier != financier) revert CreditLineNotFinancier(lineId, financier);
        if (newLimit < l.used) revert CreditLineBelowUsed(lineId, l.used, newLimit);
        if (newExpiry <= block.timestamp) revert CreditLineInvalidExpiry(newExpiry);
        l.limit = SafeCast.toUint128(newLimit);
        l.expiry = newExpiry;
        emit CreditLineAdjusted(lineId, newLimit, newExpiry, financier);
    }

    /// @inheritdoc ICreditLines
    function draw(uint256 lineId, address obligor, uint256 amount) external {
        _requireConsumer();
        Line storage l = _line(lineId);
        if (l.obligor != obligor) revert CreditLineWrongObligor(lineId, obligor);
        if (block.timestamp >= l.expiry) revert CreditLineExpired(lineId, l.expiry);
        uint256 used = l.used;
        uint256 limit = l.limit;
        // used <= limit always holds (draw and adjust keep it), so limit - used cannot underflow
        uint256 avail;
        unchecked {
            avail = limit - used;
        }
        if (amount > avail) revert CreditLineExceeded(lineId, avail, amount);
        registry.requireActive(l.financier, Roles.FINANCIER);
        // amount <= limit - used, so used + amount <= limit < 2**128
        unchecked {
            _setUsed(lineId, l, used + amount, amount, true);
        }
    }

    /// @inheritdoc ICreditLines
    function restore(uint256 lineId, uint256 amount) external {
        _requireConsumer();
        Line storage l = _line(lineId);
        uint256 used = l.used;
        if (amount > used) revert CreditLineOverRestored(lineId, used, amount);
        // checked just above: amount <= used
        unchecked {
            _setUsed(lineId, l, used - amount, amount, false);
        }
    }

    /// @inheritdoc ICreditLines
    function setConsumer(address consumer, bool enabled) external {
        address operator = _msgSender();
        if (!registry.isOperator(operator)) revert CreditLineNotOperator(operator);
        _consumers[consumer] = enabled;
        emit ConsumerSet(consumer, enabled, operator);
    }

    /// @inheritdoc ICreditLines
    function recoverLines(address from, address to, uint256[] calldata lineIds, bytes32 reasonHash) external {
        // governance's power (the council through the timelock), as every other contract's recovery
        address caller = _msgSender();
        if (!registry.canControl(caller, true)) revert CreditLineNotGovernance(caller);
        uint256 n = lineIds.length;
        // the registry's record is the authority: a line moves only to the re-verified address
        if (reasonHash == bytes32(0) || n == 0 || n > MAX_RECOVERY_BATCH || to == address(0) || registry.recoveredTo(from) != to) {
            revert CreditLineNotRecovered(from, to, n);
        }
        for (uint256 i; i < n; ++i) {
            uint256 lineId = lineIds[i];
            Line storage l = _line(lineId);
            bool party = false;
            if (l.obligor == from) (l.obligor, party) = (to, true);
            if (l.financier == from) (l.financier, party) = (to, true);
            if (!party) revert CreditLineNotParty(lineId, from);
            emit CreditLineRecovered(lineId, from, to, reasonHash);
        }
    }

    /// @inheritdoc ICreditLines
    function line(uint256 lineId)
        external
        view
        returns (address financier, address obligor, uint256 limit, uint256 used, uint64 expiry)
    {
        Line storage l = _lines[lineId];
        return (l.financier, l.obligor, l.limit, l.used, l.expiry);
    }

    /// @inheritdoc ICreditLines
    function available(uint256 lineId) external view returns (uint256) {
        Line storage l = _lines[lineId];
        // used <= limit always holds
        unchecked {
            return uint256(l.limit) - l.used;
        }
    }

    /// @inheritdoc ICreditLines
    function isConsumer(address consumer) external view returns (bool) {
        return _consumers[consumer];
    }

    /// @dev The one place `used` changes (draws and restores); `used` <= limit is checked by the callers.
    function _setUsed(uint256 lineId, Line storage l, uint256 used, uint256 amount, bool drawn) private {
        l.used = uint128(used);
        if (drawn) emit CreditLineDrawn(lineId, amount, used);
        else emit CreditLineRestored(lineId, amount, used);
    }

    function _line(uint256 lineId) private view returns (Line storage l) {
        l = _lines[lineId];
        if (l.obligor == address(0)) revert CreditLineUnknown(lineId);
    }

    function _requireConsumer() private view {
        address caller = _msgSender();
        if (!_consumers[caller]) revert CreditLineUnauthorizedConsumer(caller);
    }

    function _requireGovernance() internal view override {
        if (!registry.isGovernance(msg.sender)) revert GovernanceOnly(msg.sender);
    }
}
