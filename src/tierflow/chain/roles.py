"""Participant role bits, mirrored from IParticipantRegistry.sol."""

from __future__ import annotations

from enum import IntEnum, IntFlag


class Role(IntFlag):
    CORE_ENTERPRISE = 1
    SUPPLIER = 2
    FINANCIER = 4
    SETTLEMENT_BANK = 8
    AUDITOR = 16


class ParticipantStatus(IntEnum):
    NONE = 0
    ACTIVE = 1
    SUSPENDED = 2
