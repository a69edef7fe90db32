// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {AccessControl} from "@openzeppelin/contracts/access/AccessControl.sol";
import {ERC2771Context} from "@openzeppelin/contracts/metatx/ERC2771Context.sol";
import {Context} from "@openzeppelin/contracts/utils/Context.sol";
import {Pausable} from "@openzeppelin/contracts/utils/Pausable.sol";

import {IParticipantRegistry} from "./interfaces/IParticipantRegistry.sol";
import {Roles} from "./libraries/Roles.sol";

/// @title Participant registry: roles, status, platform parameters and the platform-wide pause.
/// @dev The operator is the OpenZeppelin AccessControl role OPERATOR_ROLE; the deployer (`admin`)
/// holds DEFAULT_ADMIN_ROLE and OPERATOR_ROLE. Operator functions work while paused (the operator
/// must be able to suspend a participant during an emergency).
contract ParticipantRegistry is IParticipantRegistry, AccessControl, Pausable, ERC2771Context {
    bytes32 public constant OPERATOR_ROLE = keccak256("OPERATOR_ROLE");

    /// @dev Regulation: tenor 6 months in principle, one year at most.
    uint64 public constant MAX_TENOR_CAP = 366 days; // [s]
    /// @dev A quote is an offer for the seller to take or leave now, not an option for the bank.
    uint64 public constant MAX_QUOTE_VALIDITY = 7 days; // [s]

    struct Participant {
        uint8 roles;
        Status status;
        bytes32 entityHash; // salted hash of the legal identity
    }

    /// @dev One storage word, read by every state change on the platform.
    struct Parameters {
        uint64 maxTenor; // [s]
        uint64 gracePeriod; // [s]
        uint128 minUnit; // [fen]
    }

    mapping(address account => Participant) private _participants;
    mapping(address account => bool) private _systemContracts;
    Parameters private _params;
    uint64 private _quoteValidity; // [s]
    mapping(uint64 day => AuditHead) private _auditHeads; // [unix day] → the trail's head that day
    /// @dev lost-key recovery: the old address → the new one (the old one is barred for good)
    mapping(address account => address) private _recoveredTo;

    struct AuditHead {
        uint64 seq;
        bytes32 head;
    }

    constructor(address admin, address trustedForwarder) ERC2771Context(trustedForwarder) {
        if (admin == address(0)) revert RegistryZeroAddress();
        _grantRole(DEFAULT_ADMIN_ROLE, admin);
        _grantRole(OPERATOR_ROLE, admin);
        _setParameters(180 days, 7 days, 1, admin);
        _setQuoteValidity(24 hours, admin);
    }

    modifier onlyOperator() {
        address sender = _msgSender();
        if (!hasRole(OPERATOR_ROLE, sender)) revert RegistryNotOperator(sender);
        _;
    }

    // ---------------------------------------------------------------- operator

    /// @inheritdoc IParticipantRegistry
    function register(address account, uint8 roles, bytes32 entityHash) external onlyOperator {
        if (account == address(0)) revert RegistryZeroAddress();
        if (_participants[account].status != Status.None) revert RegistryAlreadyRegistered(account);
        _checkRoles(roles);
        _participants[account] = Participant({roles: roles, status: Status.Active, entityHash: entityHash});
        emit ParticipantRegistered(account, roles, entityHash, _msgSender());
    }

    /// @inheritdoc IParticipantRegistry
    function setRoles(address account, uint8 roles) external onlyOperator {
        Participant storage p = _known(account);
        _checkRoles(roles);
        p.roles = roles;
        emit ParticipantRolesChanged(account, roles, _msgSender());
    }

    /// @inheritdoc IParticipantRegistry
    function suspend(address account) external onlyOperator {
        Participant storage p = _known(account);
        if (p.status == Status.Suspended) revert RegistryParticipantSuspended(account);
        _setStatus(account, p, Status.Suspended);
    }

    /// @inheritdoc IParticipantRegistry
    function reinstate(address account) external onlyOperator {
        Participant storage p = _known(account);
        address successor = _recoveredTo[account];
        if (successor != address(0)) revert RegistryAccountRecovered(account, successor);
        if (p.status != Status.Suspended) revert RegistryNotSuspended(account);
        _setStatus(account, p, Status.Active);
    }

    /// @inheritdoc IParticipantRegistry
    function setParameters(uint64 maxTenor_, uint64 gracePeriod_, uint128 minUnit_) external onlyOperator {
        _setParameters(maxTenor_, gracePeriod_, minUnit_, _msgSender());
    }

    /// @inheritdoc IParticipantRegistry
    function setQuoteValidity(uint64 validity) external onlyOperator {
        _setQuoteValidity(validity, _msgSender());
    }

    /// @dev AccessControl's grant/revoke/renounce return quietly when nothing changes; here they revert,
    /// so that a call without a state change never looks like one (DESIGN.md invariant 10).
    function _grantRole(bytes32 role, address account) internal override returns (bool) {
        if (!super._grantRole(role, account)) revert RegistryRoleUnchanged(role, account);
        return true;
    }

    function _revokeRole(bytes32 role, address account) internal override returns (bool) {
        if (!super._revokeRole(role, account)) revert RegistryRoleUnchanged(role, account);
        return true;
    }

    /// @inheritdoc IParticipantRegistry
    function setSystemContract(address account, bool enabled) external onlyOperator {
        if (account == address(0)) revert RegistryZeroAddress();
        _systemContracts[account] = enabled;
        emit SystemContractSet(account, enabled, _msgSender());
    }

    /// @inheritdoc IParticipantRegistry
    function anchorAuditHead(uint64 day, uint64 seq, bytes32 head) external onlyOperator {
        AuditHead storage anchored = _auditHeads[day];
        if (anchored.seq != 0 || seq == 0) revert RegistryAuditDayAnchored(day, anchored.head);
        _auditHeads[day] = AuditHead({seq: seq, head: head});
        emit AuditHeadAnchored(day, seq, head, _msgSender());
    }

    /// @inheritdoc IParticipantRegistry
    function auditAnchor(uint64 day) external view returns (uint64 seq, bytes32 head) {
        AuditHead storage anchored = _auditHeads[day];
        return (anchored.seq, anchored.head);
    }

    /// @inheritdoc IParticipantRegistry
    function pause() external onlyOperator {
        _pause();
    }

    /// @inheritdoc IParticipantRegistry
    function unpause() external onlyOperator {
        _unpause();
    }

    // ---------------------------------------------------------------- views

    /// @inheritdoc IParticipantRegistry
    function participant(address account) external view returns (uint8 roles, Status status, bytes32 entityHash) {
        Participant storage p = _participants[account];
        return (p.roles, p.status, p.entityHash);
    }

    /// @inheritdoc IParticipantRegistry
    function hasRole(address account, uint8 roles) external view returns (bool) {
        Participant storage p = _participants[account];
        return p.status == Status.Active && roles != 0 && p.roles & roles == roles;
    }

    /// @inheritdoc IParticipantRegistry
    function requireActive(address account, uint8 anyOfRoles) public view {
        Participant storage p = _participants[account];
        Status status = p.status;
        if (status != Status.Active) {
            if (status == Status.None) revert RegistryUnknownParticipant(account);
            revert RegistryParticipantSuspended(account);
        }
        uint8 held = p.roles;
        if (held & anyOfRoles == 0) revert RegistryMissingRole(account, anyOfRoles, held);
    }

    /// @inheritdoc IParticipantRegistry
    function requireActiveOrSystem(address account, uint8 anyOfRoles) external view {
        if (!_systemContracts[account]) requireActive(account, anyOfRoles);
    }

    /// @inheritdoc IParticipantRegistry
    function requireNotPaused() external view {
        if (paused()) revert RegistryPlatformPaused();
    }

    /// @inheritdoc IParticipantRegistry
    function isOperator(address account) external view returns (bool) {
        return hasRole(OPERATOR_ROLE, account);
    }

    /// @inheritdoc IParticipantRegistry
    function isSystemContract(address account) external view returns (bool) {
        return _systemContracts[account];
    }

    /// @inheritdoc IParticipantRegistry
    function paused() public view override(IParticipantRegistry, Pausable) returns (bool) {
        return super.paused();
    }

    /// @inheritdoc IParticipantRegistry
    function maxTenor() external view returns (uint64) {
        return _params.maxTenor;
    }

    /// @inheritdoc IParticipantRegistry
    function gracePeriod() external view returns (uint64) {
        return _params.gracePeriod;
    }

    /// @inheritdoc IParticipantRegistry
    function minUnit() external view returns (uint128) {
        return _params.minUnit;
    }

    /// @inheritdoc IParticipantRegistry
    function quoteValidity() external view returns (uint64) {
        return _quoteValidity;
    }

    /// @inheritdoc IParticipantRegistry
    function parameters() external view returns (uint64, uint64, uint128) {
        Parameters memory p = _params;
        return (p.maxTenor, p.gracePeriod, p.minUnit);
    }

    // ---------------------------------------------------------------- internal

    function _known(address account) private view returns (Participant storage p) {
        p = _participants[account];
        if (p.status == Status.None) revert RegistryUnknownParticipant(account);
    }

    /// @dev A non-zero combination of the defined bits; AUDITOR only alone, so that an auditor never writes.
    function _checkRoles(uint8 roles) private pure {
        if (roles == 0 || roles & ~Roles.ALL != 0 || (roles & Roles.AUDITOR != 0 && roles != Roles.AUDITOR)) {
            revert RegistryInvalidRoles(roles);
        }
    }

    /// @dev The one place a participant's status changes.
    function _setStatus(address account, Participant storage p, Status status) private {
        p.status = status;
        if (status == Status.Suspended) emit ParticipantSuspended(account, _msgSender());
        else emit ParticipantReinstated(account, _msgSender());
    }

    function _setParameters(uint64 maxTenor_, uint64 gracePeriod_, uint128 minUnit_, address operator) private {
        if (maxTenor_ == 0 || maxTenor_ > MAX_TENOR_CAP || gracePeriod_ > MAX_TENOR_CAP || minUnit_ == 0) {
            revert RegistryInvalidParameters(maxTenor_, gracePeriod_, minUnit_);
        }
        _params = Parameters({maxTenor: maxTenor_, gracePeriod: gracePeriod_, minUnit: minUnit_});
        emit ParametersChanged(maxTenor_, gracePeriod_, minUnit_, operator);
    }

    function _setQuoteValidity(uint64 validity, address operator) private {
        if (validity == 0 || validity > MAX_QUOTE_VALIDITY) {
            revert RegistryInvalidQuoteValidity(validity, MAX_QUOTE_VALIDITY);
        }
        _quoteValidity = validity;
        emit QuoteValidityChanged(validity, operator);
    }

    // ---------------------------------------------------------------- ERC-2771 plumbing

    function _msgSender() internal view override(Context, ERC2771Context) returns (address) {
        return ERC2771Context._msgSender();
    }

    function _msgData() internal view override(Context, ERC2771Context) returns (bytes calldata) {
        return ERC2771Context._msgData();
    }

    function _contextSuffixLength() internal view override(Context, ERC2771Context) returns (uint256) {
        return ERC2771Context._contextSuffixLength();
    }

    // ---------------------------------------------------------------- lost-key recovery (issue 15)

    /// @dev The one gate of governance powers added for issue 15; governance's address will be re-pointed
    /// here (today the operator role).
    modifier onlyGovernance() {
        address sender = _msgSender();
        if (!hasRole(OPERATOR_ROLE, sender)) revert RegistryNotOperator(sender);
        _;
    }

    /// @inheritdoc IParticipantRegistry
    function recover(address account, address newAccount, bytes32 reasonHash) external onlyGovernance {
        if (reasonHash == bytes32(0)) revert RegistryNoReason();
        if (newAccount == address(0)) revert RegistryZeroAddress();
        Participant storage p = _known(account);
        address successor = _recoveredTo[account];
        if (successor != address(0)) revert RegistryAccountRecovered(account, successor);
        if (_participants[newAccount].status != Status.None) revert RegistryAlreadyRegistered(newAccount);
        uint8 roles = p.roles;
        bytes32 entityHash = p.entityHash;
        address by = _msgSender();
        _recoveredTo[account] = newAccount;
        _participants[newAccount] = Participant({roles: roles, status: Status.Active, entityHash: entityHash});
        emit ParticipantRegistered(newAccount, roles, entityHash, by);
        if (p.status == Status.Active) _setStatus(account, p, Status.Suspended);
        emit ParticipantRecovered(account, newAccount, roles, reasonHash, by);
    }

    /// @inheritdoc IParticipantRegistry
    function recoveredTo(address account) external view returns (address) {
        return _recoveredTo[account];
    }
}
