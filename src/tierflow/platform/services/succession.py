"""A company goes on under its new address once the council has executed its key recovery (issue 15)."""

from __future__ import annotations

from sqlalchemy import update
from sqlmodel import Session, col

from tierflow.platform.models.service import ApiKey, DashboardSession, DirectoryParticipant
from tierflow.platform.models.staff import ApprovalPolicy, ApprovalSettings, StaffUser


def rebind_company(session: Session, old: str, new: str) -> None:
    """The company goes on under its new address: its directory entry, people, keys and approval rules.

    Called when the registry's `recover(old, new)` has been executed through the council (not when it is
    proposed: until then the new address is nobody on chain). The new address gets the old entry's legal
    identity (re-verified off chain) as a self-custody participant (the platform holds no key for it); the
    old entry stays, suspended, so history under the old address still shows the company's name, and its
    legal id names the successor (legal ids are unique). Pending approvals stay with the old address:
    their terms name it, so they lapse and are asked again.
    """
    row = session.get(DirectoryParticipant, old)
    if row is not None and session.get(DirectoryParticipant, new) is None:
        successor = DirectoryParticipant.model_validate(
            row.model_dump(),
            update={"address": new, "status": "active", "custody": "self", "encrypted_key": None},
        )
        row.status = "suspended"
        row.legal_id = f"recovered:{new}"
        session.add(row)
        session.flush()  # the legal id is free before the successor takes it
        session.add(successor)
    for table in (ApiKey, DashboardSession, StaffUser, ApprovalPolicy, ApprovalSettings):
        session.execute(update(table).where(col(table.address) == old).values(address=new))
    session.commit()
