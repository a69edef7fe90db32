// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {AccessControlUpgradeable} from "@openzeppelin/contracts-upgradeable/access/AccessControlUpgradeable.sol";
import {ERC2771ContextUpgradeable} from "@openzeppelin/contracts-upgradeable/metatx/ERC2771ContextUpgradeable.sol";
import {ContextUpgradeable} from "@openzeppelin/contracts-upgradeable/utils/ContextUpgradeable.sol";
import {PausableUpgradeable} from "@openzeppelin/contracts-upgradeable/utils/PausableUpgradeable.sol";

import {IParticipantRegistry} from "./interfaces/IParticipantRegistry.sol";
import {Roles} from "./libraries/Roles.sol";
import {Governed} from "./upgrade/Governed.sol";

/// @title Participant registry: roles, status, platform parameters and the platform-wide pause.
/// @dev Powers are OpenZeppelin AccessControl roles. DEFAULT_ADMIN_ROLE is governance (the timelock the
/// governors' council drives, M-of-N with a delay): it grants and revokes every role, sets the platform
/// parameters, unpauses, recovers lost keys, orders forced transfers and alone upgrades any Tierflow
/// contract (`isGovernance`). OPERATOR_ROLE runs the platform day to day without delay (onboarding,
/// suspensions, pushing payouts); GUARDIAN_ROLE can pause at once and do nothing else; CONTROLLER_ROLE
/// (ERC-3643's "agent") places and lifts judicial holds at once, since a court's freeze cannot wait out
/// the timelock, and nothing else. Operator functions work while paused (the operator must be able to
/// suspend a participant during an emergency).
/// @custom:oz-upgrades-from v1:ParticipantRegistry
contract ParticipantRegistry is
    IParticipantRegistry,
    AccessControlUpgradeable,
    PausableUpgradeable,
    ERC2771ContextUpgradeable,
    Governed
{
    bytes32 public constant OPERATOR_ROLE = keccak256("OPERATOR_ROLE");
    /// @dev Pauses the platform at once in an emergency; cannot unpause, grant roles or upgrade.
    bytes32 public constant GUARDIAN_ROLE = keccak256("GUARDIAN_ROLE");
    /// @dev Freezes and unfreezes assets (judicial holds) at once; granted and revoked by governance only.
    bytes32 public constant CONTROLLER_ROLE = keccak256("CONTROLLER_ROLE");

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

    /// @custom:oz-upgrades-unsafe-allow constructor
    constructor(address trustedForwarder) ERC2771ContextUpgradeable(trustedForwarder) {
        _disableInitializers();
    }

    /// @notice Run once, by the proxy's deployment: `governance` holds DEFAULT_ADMIN_ROLE, `operator`
    /// OPERATOR_ROLE, `guardian` GUARDIAN_ROLE and `controller` CONTROLLER_ROLE (later grants of any role
    /// are governance proposals).
    function initialize(address operator, address governance, address guardian, address controller)
        external
        initializer
    {
        if (operator == address(0) || governance == address(0) || guardian == address(0) || controller == address(0))
        {
            revert RegistryZeroAddress();
        }
        _grantRole(DEFAULT_ADMIN_ROLE, governance);
        _grantRole(OPERATOR_ROLE, operator);
        _grantRole(GUARDIAN_ROLE, guardian);
        _grantRole(CONTROLLER_ROLE, controller);
        _setParameters(180 days, 7 days, 1, operator);
        _setQuoteValidity(24 hours, operator);
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
    function setParameters(uint64 maxTenor_, uint64 gracePeriod_, uint128 minUnit_) external onlyGovernance {
        _setParameters(maxTenor_, gracePeriod_, minUnit_, msg.sender);
    }

    /// @inheritdoc IParticipantRegistry
    function setQuoteValidity(uint64 validity) external onlyGovernance {
        _setQuoteValidity(validity, msg.sender);
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
    function pause() external {
        address sender = _msgSender();
        if (!hasRole(OPERATOR_ROLE, sender) && !hasRole(GUARDIAN_ROLE, sender)) revert RegistryNotOperator(sender);
        _pause();
    }

    /// @inheritdoc IParticipantRegistry
    /// @dev Governance only: the guardian and the operator pause at once, but resuming is M-of-N with a delay.
    function unpause() external onlyGovernance {
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
    function isGovernance(address account) external view returns (bool) {
        return hasRole(DEFAULT_ADMIN_ROLE, account);
    }

    /// @inheritdoc IParticipantRegistry
    function canControl(address account, bool councilOnly) external view returns (bool) {
        return hasRole(DEFAULT_ADMIN_ROLE, account) || (!councilOnly && hasRole(CONTROLLER_ROLE, account));
    }

    /// @inheritdoc IParticipantRegistry
    function isSystemContract(address account) external view returns (bool) {
        return _systemContracts[account];
    }

    /// @inheritdoc IParticipantRegistry
    function paused() public view override(IParticipantRegistry, PausableUpgradeable) returns (bool) {
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

    function _requireGovernance() internal view override {
        if (!hasRole(DEFAULT_ADMIN_ROLE, msg.sender)) revert GovernanceOnly(msg.sender);
    }

    // ---------------------------------------------------------------- ERC-2771 plumbing

    function _msgSender() internal view override(ContextUpgradeable, ERC2771ContextUpgradeable) returns (address) {
        return ERC2771ContextUpgradeable._msgSender();
    }

    function _msgData() internal view override(ContextUpgradeable, ERC2771ContextUpgradeable) returns (bytes calldata) {
        return ERC2771ContextUpgradeable._msgData();
    }

    function _contextSuffixLength()
        internal
        view
        override(ContextUpgradeable, ERC2771ContextUpgradeable)
        returns (uint256)
    {
        return ERC2771ContextUpgradeable._contextSuffixLength();
    }

    // ---------------------------------------------------------------- lost-key recovery (issue 15)

    /// @dev The one gate of this contract's governance powers (parameters, unpause, recovery, upgrades).
    modifier onlyGovernance() {
        _requireGovernance();
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
        address by = msg.sender;
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
