"""Read models of the participant registry: participants, platform parameters, system contracts."""

from __future__ import annotations

from sqlmodel import SQLModel

from tierflow.platform.models._fields import addr, big, fen, hash32, text


class Participant(SQLModel, table=True):
    __tablename__ = "participant"

    address: str = addr(primary_key=True)
    roles: int = big()  # bit set: CORE_ENTERPRISE=1, SUPPLIER=2, FINANCIER=4, SETTLEMENT_BANK=8, AUDITOR=16
    status: str = text(16)  # active | suspended
    entity_hash: str = hash32()
    registered_by: str = addr()
    block_number: int = big(index=True)  # registered in
    updated_block: int = big()


class PlatformState(SQLModel, table=True):
    """Platform switches and parameters; one row, created by the first parameter or pause event."""

    __tablename__ = "platform_state"

    id: int = big(primary_key=True, default=1)
    paused: bool = False
    max_tenor: int | None = big(nullable=True)  # [s]
    grace_period: int | None = big(nullable=True)  # [s]
    min_unit: int | None = fen(nullable=True)  # [fen]
    block_number: int = big(index=True)
    updated_block: int = big()


class SystemContract(SQLModel, table=True):
    __tablename__ = "system_contract"

    address: str = addr(primary_key=True)
    enabled: bool
    block_number: int = big(index=True)
    updated_block: int = big()
