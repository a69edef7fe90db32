"""Participants by name for the services' answers and messages: the directory's legal name, else a
shortened address (a party the directory does not know, e.g. a contract)."""

from __future__ import annotations

from collections.abc import Iterable

from eth_utils.address import is_address, to_checksum_address
from sqlalchemy.engine import Engine
from sqlalchemy.exc import SQLAlchemyError
from sqlmodel import Session, col, select

from tierflow.errors import ContractRevert
from tierflow.platform.models.service import DirectoryParticipant


def short(address: str) -> str:
    """0x1234…abcd: the dashboard's form for an address nobody has named."""
    return f"{address[:6]}…{address[-4:]}" if len(address) > 12 else address


def names(session: Session, addresses: Iterable[str]) -> dict[str, str]:
    """Legal name of each address, keyed by the address as given (the directory keeps checksummed ones)."""
    wanted = {address: _checksum(address) for address in addresses if address}
    if not wanted:
        return {}
    rows = session.exec(
        select(DirectoryParticipant.address, DirectoryParticipant.legal_name).where(
            col(DirectoryParticipant.address).in_(set(wanted.values()))
        )
    ).all()
    found = dict(rows)
    return {given: found.get(stored) or short(given) for given, stored in wanted.items()}


def _checksum(address: str) -> str:
    return str(to_checksum_address(address)) if is_address(address) else address


def name(session: Session, address: str) -> str:
    """The legal name of `address`, or its short form."""
    return names(session, [address]).get(address) or short(address)


def of_revert(engine: Engine, error: ContractRevert) -> dict[str, str]:
    """Names of the parties a contract error names (its address arguments), for `i18n.revert_message`.

    Read in a session of its own: the error may come from anywhere, even a failed transaction. An error
    answer must not fail on its names, so a database that does not answer leaves the short addresses."""
    addresses = [
        value for value in error.args_by_name.values() if isinstance(value, str) and is_address(value)
    ]
    if not addresses:
        return {}
    try:
        with Session(engine) as session:
            return names(session, addresses)
    except SQLAlchemyError:
        return {}
