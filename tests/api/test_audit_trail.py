"""The audit trail is a hash chain: `tierflow audit verify` passes on an intact trail and fails on an
edited, a deleted or an inserted row, and the heads anchored on chain catch a consistent rewrite; today's
company API keys migrate to an admin user and keep working."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from types import SimpleNamespace
from typing import cast

import pytest
from apikit import Api
from sqlalchemy import delete, event, insert, select, text, update
from sqlalchemy.engine import Engine
from sqlmodel import Session
from typer.testing import CliRunner

from tierflow.cli import app
from tierflow.errors import ContractRevert
from tierflow.platform.db import make_engine
from tierflow.platform.main import AuditAnchorer
from tierflow.platform.migrate import upgrade
from tierflow.platform.models.staff import AuditEntry, StaffUser
from tierflow.platform.security.crypto import hash_api_key
from tierflow.platform.services import audit_trail
from tierflow.platform.services.audit_trail import Actor, Origin
from tierflow.platform.services.context import ServiceContext
from tierflow.platform.services.participants import authenticate

AUDIT = AuditEntry.__table__  # type: ignore[attr-defined]


@pytest.fixture
def trail(tmp_path: Path) -> Iterator[tuple[Engine, str]]:
    url = f"sqlite:///{tmp_path / 'audit.db'}"
    engine = make_engine(url)
    upgrade(engine)
    for n, who in enumerate(["Mia Maker", "Chen Checker", "Mia Maker", "Chen Checker", "Ada Admin"]):
        audit_trail.record(
            engine,
            actor=Actor(company="0x" + "b" * 40, user_id=n % 2 + 1, user_name=who),
            action=f"write POST /v1/financier/requests/{n}/fund",
            outcome="200 executed",
            origin=Origin(ip="10.0.0.1", user_agent="pytest", request_id=f"r{n}"),
            tx_hash="0x" + f"{n:064x}",
        )
    yield engine, url
    engine.dispose()


def _verify(url: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, ["audit", "verify", "--database-url", url, "--no-anchors"])
    return result.exit_code, result.output


def test_audit_verify_passes_on_an_intact_trail(trail: tuple[Engine, str]) -> None:
    engine, url = trail
    code, output = _verify(url)
    assert code == 0, output
    assert "intact" in output and "5 entries" in output


def test_audit_verify_fails_on_an_edited_row(trail: tuple[Engine, str]) -> None:
    engine, url = trail
    with engine.begin() as conn:  # the checker's name is swapped for someone else's
        conn.execute(update(AUDIT).where(AUDIT.c.seq == 2).values(user_name="Somebody Else"))
    code, output = _verify(url)
    assert code == 1 and "entry 2" in output and "edited" in output


def test_audit_verify_fails_on_a_deleted_row(trail: tuple[Engine, str]) -> None:
    engine, url = trail
    with engine.begin() as conn:
        conn.execute(delete(AUDIT).where(AUDIT.c.seq == 3))
    code, output = _verify(url)
    assert code == 1 and "entry 4" in output and "deleted" in output


def test_audit_verify_fails_on_an_inserted_row(trail: tuple[Engine, str]) -> None:
    """A forger who renumbers the tail and hashes the new row correctly still breaks the next link."""
    engine, url = trail
    with engine.begin() as conn:
        rows = [dict(r) for r in conn.execute(select(AUDIT).order_by(AUDIT.c.seq.desc())).mappings()]
        for row in rows:
            if row["seq"] >= 3:
                conn.execute(update(AUDIT).where(AUDIT.c.seq == row["seq"]).values(seq=row["seq"] + 1))
        prev = next(r for r in rows if r["seq"] == 2)["entry_hash"]
        forged = {**rows[-1], "seq": 3, "user_name": "Mia Maker", "action": "approval.approve.fund"}
        forged.update(prev_hash=prev, entry_hash=audit_trail.entry_hash(prev, forged))
        conn.execute(insert(AUDIT).values(**forged))
    code, output = _verify(url)
    assert code == 1 and "entry 4" in output and "inserted" in output


def test_audit_record_appends_concurrent_entries_without_retries(trail: tuple[Engine, str]) -> None:
    """32 writers at once: one unbroken chain, one seq each, and no transaction lost to a seq race (each
    writer used to read the head, collide with the others and retry: ~6 transactions per entry)."""
    engine, _ = trail
    begun: list[int] = []
    event.listen(engine, "begin", lambda _conn: begun.append(1))
    barrier = threading.Barrier(32)

    def write(n: int) -> int:
        barrier.wait()
        return audit_trail.record(
            engine, actor=Actor(company="0x" + "c" * 40), action=f"write POST /v1/x/{n}", outcome="200"
        )

    with ThreadPoolExecutor(32) as pool:
        seqs = sorted(pool.map(write, range(32)))
    transactions = len(begun)
    assert seqs == list(range(6, 38))
    assert audit_trail.verify(engine) == (37, [])
    assert transactions <= 32  # at most one per entry (concurrent entries share one), no retries


def test_company_keys_migrate_to_an_admin_user_and_keep_working(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'old.db'}")
    upgrade(engine, "c3a9d4f1e7b2")  # the schema before staff users: one key is a whole company
    company = "0x" + "c" * 40
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO participant_directory (address, legal_name, legal_id, contact, roles,"
                " is_operator, status, custody, entity_hash, created_at)"
                " VALUES (:a, 'Old Bank', '91310000OLD', '', 4, 0, 'active', 'custodial', :h, 0)"
            ),
            {"a": company, "h": "0x" + "0" * 64},
        )
        conn.execute(
            text(
                "INSERT INTO api_key (key_id, address, key_hash, label, created_at)"
                " VALUES (:k, :a, :h, '', 0)"
            ),
            {"k": "oldkey01", "a": company, "h": hash_api_key("s" * 32)},
        )
    upgrade(engine)
    with Session(engine) as session:
        caller = authenticate(session=session, token="tf_oldkey01_" + "s" * 32)
        assert caller.address == company and caller.user_name == "Company administrator"
        assert {"admin", "maker", "checker"} <= caller.staff_roles and "write" in caller.scopes
        admin = session.get(StaffUser, caller.user_id)
        assert admin is not None and admin.address == company
    engine.dispose()


def test_anchored_head_detects_a_rewritten_or_truncated_trail(api: Api, tmp_path: Path) -> None:
    """A forger who rewrites the database consistently (every hash recomputed) or drops the last
    rows passes the hash chain, but not the head the operator anchored on chain."""
    engine = make_engine(f"sqlite:///{tmp_path / 'anchored.db'}")
    upgrade(engine)
    gateway = api.ctx.gateway()
    day = 19_000  # a day of 2022: no other test anchors it on this chain
    for n in range(5):
        audit_trail.record(
            engine, actor=Actor(user_name=f"person {n}"), action="write", outcome="ok", now=day * 86_400 + n
        )
    assert audit_trail.anchor_day(engine, gateway, api.ctx.operator, day) is not None
    read = audit_trail.chain_anchor(gateway)
    assert read(day)[0] == 5
    assert audit_trail.verify_anchors(engine, read) == ([], [])
    with pytest.raises(ContractRevert, match="RegistryAuditDayAnchored"):  # an anchor never changes
        audit_trail.anchor_day(engine, gateway, api.ctx.operator, day)

    with engine.begin() as conn:  # rewrite entry 2 and recompute every hash after it
        rows = [dict(r) for r in conn.execute(select(AUDIT).order_by(AUDIT.c.seq)).mappings()]
        rows[1]["user_name"] = "somebody else"
        prev = rows[0]["entry_hash"]
        for row in rows[1:]:
            row.update(prev_hash=prev, entry_hash=audit_trail.entry_hash(prev, row))
            conn.execute(update(AUDIT).where(AUDIT.c.seq == row["seq"]).values(**row))
            prev = row["entry_hash"]
    assert audit_trail.verify(engine)[1] == []  # the chain alone is fooled
    breaks, _ = audit_trail.verify_anchors(engine, read)
    assert [b.seq for b in breaks] == [5] and "rewritten" in breaks[0].problem

    with engine.begin() as conn:  # drop the last two rows: still a valid chain, but shorter
        conn.execute(delete(AUDIT).where(AUDIT.c.seq >= 4))
    assert audit_trail.verify(engine)[1] == []
    breaks, _ = audit_trail.verify_anchors(engine, read)
    assert [b.seq for b in breaks] == [5] and "deleted" in breaks[0].problem
    engine.dispose()


def test_audit_anchorer_anchors_each_ended_day_once_on_its_schedule(api: Api, tmp_path: Path) -> None:
    """Nobody has to remember `tierflow audit anchor`: the indexing process anchors every ended day
    (and only those), skips days anchored already, and keeps doing it on its schedule."""
    engine = make_engine(f"sqlite:///{tmp_path / 'scheduled.db'}")
    upgrade(engine)
    first, second, third = 19_100, 19_101, 19_102  # days of 2022 no other test anchors on this chain
    for day, entries in ((first, 3), (second, 2)):
        for n in range(entries):
            audit_trail.record(
                engine, actor=Actor(user_name="clerk"), action="write", outcome="ok", now=day * 86_400 + n
            )
    audit_trail.record(
        engine, actor=Actor(user_name="clerk"), action="write", outcome="ok"
    )  # today: not ended
    ctx = cast(ServiceContext, SimpleNamespace(engine=engine, gateway=api.ctx.gateway))
    anchorer = AuditAnchorer(ctx, interval=0.2)
    done = anchorer.run_once()
    assert [day for day, _ in done] == [first, second]
    read = audit_trail.chain_anchor(api.ctx.gateway())
    assert read(first)[0] == 3 and read(second)[0] == 5
    breaks, missing = audit_trail.verify_anchors(engine, read)
    assert breaks == [] and missing == [int(time.time()) // 86_400]  # only today waits
    assert anchorer.run_once() == []  # anchored already: nothing is sent twice

    anchorer.start()  # on its schedule: a day that ends up with entries later is anchored too
    try:
        audit_trail.record(
            engine, actor=Actor(user_name="clerk"), action="write", outcome="ok", now=third * 86_400
        )
        deadline = time.monotonic() + 20
        while third not in [day for day, _ in anchorer.anchored] and time.monotonic() < deadline:
            time.sleep(0.1)
    finally:
        anchorer.stop()
    assert third in [day for day, _ in anchorer.anchored], anchorer.error
    assert read(third)[0] == 7
    engine.dispose()
