// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

/// @title Participant registry: who may take part in Tierflow, in which role, and the platform switches.
/// @notice Every state-changing function of every Tierflow contract checks the acting party and
/// the receiving party here: an unknown or suspended address can neither send nor receive.
/// It also holds the platform parameters (tenor cap, grace period, minimum unit) and the one
/// emergency stop (pause) that all Tierflow contracts obey.
interface IParticipantRegistry {
    /// @notice Lifecycle of a participant: None (never registered), Active, Suspended.
    enum Status {
        None,
        Active,
        Suspended
    }

    // Role bits of a participant (a participant may hold several).
    // CORE_ENTERPRISE = 1  (obligor: issues certificates, accepts bills, repays)
    // SUPPLIER        = 2  (holds, splits, transfers, requests financing)
    // FINANCIER       = 4  (bank/factor: grants lines, quotes, funds, discounts)
    // SETTLEMENT_BANK = 8  (mints/burns the settlement token against deposits)
    // AUDITOR         = 16 (reads everything, never writes)

    /// @notice A participant was onboarded after KYB.
    /// @param entityHash salted hash of the legal identity (统一社会信用代码); the id itself stays off chain
    event ParticipantRegistered(address indexed account, uint8 roles, bytes32 entityHash, address indexed operator);
    /// @notice A participant's role bits were replaced.
    event ParticipantRolesChanged(address indexed account, uint8 roles, address indexed operator);
    event ParticipantSuspended(address indexed account, address indexed operator);
    event ParticipantReinstated(address indexed account, address indexed operator);
    /// @notice Platform parameters changed.
    /// @param maxTenor [s] longest allowed time from issue to maturity
    /// @param gracePeriod [s] time after maturity before an unpaid payable may be marked defaulted
    /// @param minUnit [fen] every amount moved must be a positive multiple of this
    event ParametersChanged(uint64 maxTenor, uint64 gracePeriod, uint128 minUnit, address indexed operator);
    /// @notice How long a financing quote may stay open changed.
    /// @param validity [s] longest time from quote to its expiry
    event QuoteValidityChanged(uint64 validity, address indexed operator);
    /// @notice A Tierflow contract was allowed (or no longer allowed) to hold settlement tokens and certificates in escrow.
    event SystemContractSet(address indexed account, bool enabled, address indexed operator);
    /// @notice The operator anchored the head of the off-chain audit trail at the end of `day`: a later
    /// rewrite of the platform's database no longer matches the chain.
    /// @param day [unix day] days since 1970-01-01 UTC
    /// @param seq the sequence number of the trail's last entry of that day
    /// @param head that entry's SHA-256 chain hash
    event AuditHeadAnchored(uint64 indexed day, uint64 seq, bytes32 head, address indexed operator);

    error RegistryUnknownParticipant(address account);
    error RegistryParticipantSuspended(address account);
    error RegistryAlreadyRegistered(address account);
    error RegistryMissingRole(address account, uint8 required, uint8 held);
    error RegistryNotOperator(address account);
    error RegistryInvalidRoles(uint8 roles);
    error RegistryInvalidParameters(uint64 maxTenor, uint64 gracePeriod, uint128 minUnit);
    error RegistryZeroAddress();
    error RegistryPlatformPaused();
    /// @notice reinstate() of a participant that is not suspended.
    error RegistryNotSuspended(address account);
    /// @notice setQuoteValidity outside 1 s .. MAX_QUOTE_VALIDITY (7 days).
    error RegistryInvalidQuoteValidity(uint64 validity, uint64 max);
    /// @notice grantRole of a role already held, or revokeRole/renounceRole of one not held: no change.
    error RegistryRoleUnchanged(bytes32 role, address account);
    /// @notice An audit-trail day is anchored once; its anchor never changes.
    error RegistryAuditDayAnchored(uint64 day, bytes32 head);

    /// @notice Onboard `account` with `roles` (a non-zero combination of the role bits). Operator only.
    function register(address account, uint8 roles, bytes32 entityHash) external;
    /// @notice Replace the role bits of a registered participant. Operator only.
    function setRoles(address account, uint8 roles) external;
    /// @notice Suspend an active participant. Operator only.
    function suspend(address account) external;
    /// @notice Reinstate a suspended participant. Operator only.
    function reinstate(address account) external;
    /// @notice Set the platform parameters. Governance only (a council proposal). maxTenor is capped at 366 days by regulation.
    function setParameters(uint64 maxTenor, uint64 gracePeriod, uint128 minUnit) external;
    /// @notice Set how long a financing quote may stay open, 1 s .. 7 days (default 24 h). Governance only.
    function setQuoteValidity(uint64 validity) external;
    /// @return [s] the longest time from a financing quote to its expiry
    function quoteValidity() external view returns (uint64);
    /// @notice Allow a Tierflow contract to act as escrow holder. Operator only.
    function setSystemContract(address account, bool enabled) external;
    /// @notice Anchor the audit trail's head of `day` (operator); reverts if that day is anchored already.
    function anchorAuditHead(uint64 day, uint64 seq, bytes32 head) external;
    /// @notice The anchored head of `day`; seq 0 and a zero head when it is not anchored.
    function auditAnchor(uint64 day) external view returns (uint64 seq, bytes32 head);

    /// @notice Stop every transfer, issue, financing and payment platform-wide. Operator or guardian.
    function pause() external;
    /// @notice Lift the pause. Governance only (neither the operator nor the guardian alone).
    function unpause() external;

    /// @return roles the role bits, status and entity hash of `account`
    function participant(address account) external view returns (uint8 roles, Status status, bytes32 entityHash);
    /// @return true when `account` is registered, active and holds every bit of `roles`
    function hasRole(address account, uint8 roles) external view returns (bool);
    /// @notice Reverts with RegistryUnknownParticipant / RegistryParticipantSuspended / RegistryMissingRole
    /// unless `account` is active and holds at least one of the bits of `anyOfRoles`.
    function requireActive(address account, uint8 anyOfRoles) external view;
    /// @notice Reverts with RegistryPlatformPaused while the platform is paused.
    function requireNotPaused() external view;
    function isOperator(address account) external view returns (bool);
    /// @notice Whether `account` is governance (holds DEFAULT_ADMIN_ROLE): the one check behind every
    /// governance-only power of every Tierflow contract (upgrades, role grants).
    function isGovernance(address account) external view returns (bool);
    /// @notice Whether `account` may exercise an asset control: governance always; CONTROLLER_ROLE too
    /// unless `councilOnly` (forced transfers and recoveries are for the council, holds are not).
    function canControl(address account, bool councilOnly) external view returns (bool);
    function isSystemContract(address account) external view returns (bool);
    function paused() external view returns (bool);
    function maxTenor() external view returns (uint64);
    function gracePeriod() external view returns (uint64);
    function minUnit() external view returns (uint128);

    /// @notice Like requireActive, but a system contract (see setSystemContract) passes as well.
    /// Used for the settlement token, which Tierflow contracts hold in escrow.
    function requireActiveOrSystem(address account, uint8 anyOfRoles) external view;
    /// @notice All three platform parameters in one call (one storage read).
    /// @return maxTenor [s] longest allowed time from issue to maturity
    /// @return gracePeriod [s] time after maturity before an unpaid payable may be marked defaulted
    /// @return minUnit [fen] every amount moved must be a positive multiple of this
    function parameters() external view returns (uint64 maxTenor, uint64 gracePeriod, uint128 minUnit);

    // ---------------------------------------------------------------- lost-key recovery (issue 15)

    /// @notice After off-chain re-verification (the record's hash is `reasonHash`), `account`'s roles and
    /// entity moved to `newAccount`; `account` is barred for good (suspended, never reinstated). Also reported
    /// as ParticipantRegistered (newAccount) and, if it was active, ParticipantSuspended (account).
    event ParticipantRecovered(
        address indexed account, address indexed newAccount, uint8 roles, bytes32 reasonHash, address indexed by
    );

    /// @notice A recovery (or a reinstatement) of an account whose key was already recovered to `newAccount`.
    error RegistryAccountRecovered(address account, address newAccount);
    /// @notice A recovery without the hash of the re-verification record.
    error RegistryNoReason();

    /// @notice Governance: move `account`'s registry entry (roles, entity hash) to the unregistered
    /// `newAccount`, active, and bar `account`. Holdings move contract by contract (Receivables.recoverTokens,
    /// SettlementToken.recoverBalance, ...), orchestrated by one service call.
    function recover(address account, address newAccount, bytes32 reasonHash) external;
    /// @return the address `account`'s key was recovered to (zero if none)
    function recoveredTo(address account) external view returns (address);
}
