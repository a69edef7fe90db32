"""Read models of the asset-level controls (issue 15): judicial holds, forced transfers, key recoveries."""

from __future__ import annotations

from sqlmodel import SQLModel

from tierflow.platform.models._fields import addr, big, fen, hash32, text


class AssetHold(SQLModel, table=True):
    """One judicial hold (司法冻结) on a certificate token or a bill range record, open or released.

    A hold of part of an asset is a hold of a whole new token or record split off for it (the contracts
    carve first), so `asset_id` always names exactly the frozen value.
    """

    __tablename__ = "asset_hold"

    asset: str = text(16, primary_key=True)  # certificate | bill_range
    asset_id: int = big(primary_key=True)  # token id or range id
    holder: str = addr(index=True)  # the holder now (a forced transfer moves a hold with its asset)
    value: int = fen()  # [fen] frozen at the time of the order
    reason_hash: str = hash32()  # hash of the court order
    status: str = text(16, index=True)  # frozen | released
    escrowed: int = fen()  # [fen] settled into the hold's escrow while frozen (certificates)
    released: int = fen()  # [fen] of escrow paid to the holder at release
    release_hash: str | None = hash32(nullable=True)  # hash of the order lifting the hold
    frozen_block: int = big()
    frozen_at: int | None = big(nullable=True)  # block time [unix s]
    released_block: int | None = big(nullable=True)
    block_number: int = big(index=True)
    updated_block: int = big()


class AssetControl(SQLModel, table=True):
    """Every control event: frozen, unfrozen, escrowed, forced (court order), recovered (lost key)."""

    __tablename__ = "asset_control"

    block_number: int = big(primary_key=True)
    log_index: int = big(primary_key=True)
    tx_hash: str = hash32()
    kind: str = text(16, index=True)  # frozen | unfrozen | escrowed | forced | recovered
    # certificate | bill_range | bill_package | financing | recourse_debt | participant | balance
    asset: str = text(16)
    asset_id: int | None = big(nullable=True, index=True)
    new_asset_id: int | None = big(nullable=True)  # the token/record a forced part went to
    from_address: str | None = addr(nullable=True, index=True)
    to_address: str | None = addr(nullable=True, index=True)
    value: int | None = fen(nullable=True)  # [fen]
    reason_hash: str | None = hash32(nullable=True)
    actor: str | None = addr(nullable=True)
