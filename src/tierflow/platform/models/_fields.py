"""Column helpers shared by the models: 64-bit integers, exact fen amounts, addresses and hashes."""

from __future__ import annotations

from typing import Any

from sqlalchemy import JSON, BigInteger, String
from sqlmodel import Field

from tierflow.platform.db import Fen

ADDRESS_LEN = 42  # 0x + 40 hex digits, EIP-55 checksummed
HASH_LEN = 66  # 0x + 64 hex digits


def big(*, primary_key: bool = False, index: bool = False, nullable: bool = False, default: Any = ...) -> Any:
    """A 64-bit integer column (block numbers, ids, unix times); SQLModel's int is 32-bit on PostgreSQL."""
    if nullable and default is ...:
        default = None
    return Field(default=default, sa_type=BigInteger, primary_key=primary_key, index=index, nullable=nullable)


def fen(*, index: bool = False, nullable: bool = False, default: Any = ...) -> Any:
    """An exact amount in fen (uint256)."""
    if nullable and default is ...:
        default = None
    return Field(default=default, sa_type=Fen, index=index, nullable=nullable)


def addr(*, primary_key: bool = False, index: bool = False, nullable: bool = False) -> Any:
    default = None if nullable else ...
    return Field(
        default=default, sa_type=String(ADDRESS_LEN), primary_key=primary_key, index=index, nullable=nullable
    )


def hash32(*, primary_key: bool = False, index: bool = False, nullable: bool = False) -> Any:
    default = None if nullable else ...
    return Field(
        default=default, sa_type=String(HASH_LEN), primary_key=primary_key, index=index, nullable=nullable
    )


def text(length: int = 32, *, primary_key: bool = False, index: bool = False, default: Any = ...) -> Any:
    return Field(default=default, sa_type=String(length), primary_key=primary_key, index=index)


def json_field(*, default: Any = ...) -> Any:
    return Field(default=default, sa_type=JSON)
