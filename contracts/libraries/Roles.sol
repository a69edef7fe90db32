// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

/// @title Role bits of a Tierflow participant (see IParticipantRegistry) and the combinations the contracts check.
library Roles {
    uint8 internal constant CORE_ENTERPRISE = 1;
    uint8 internal constant SUPPLIER = 2;
    uint8 internal constant FINANCIER = 4;
    uint8 internal constant SETTLEMENT_BANK = 8;
    uint8 internal constant AUDITOR = 16;
    /// @dev every defined bit
    uint8 internal constant ALL = 31;
    /// @dev who may hold a certificate
    uint8 internal constant HOLDER = SUPPLIER | FINANCIER;
    /// @dev who may hold or move settlement token: everyone but an auditor (auditors never write)
    uint8 internal constant PARTY = CORE_ENTERPRISE | SUPPLIER | FINANCIER | SETTLEMENT_BANK;
}
