"""Alembic: one head, upgrade creates exactly the models' schema (read models and the API's own
tables), upgrading twice is a no-op."""

from __future__ import annotations

import json
from typing import Any

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect, text
from sqlalchemy.engine import Engine
from sqlmodel import SQLModel

import tierflow.platform.models  # noqa: F401
from tierflow.platform.indexer import tiers
from tierflow.platform.migrate import alembic_config, current, heads, upgrade
from tierflow.platform.models import READ_MODELS
from tierflow.platform.models.service import SERVICE_TABLES

TIER_PARENT = "c3f8a1d5e7b9"  # the revision before certificate.tier
BILL_INVOICE_PARENT = "c3e5a7b9d1f2"  # the revision before bill_invoice
INDEXER_TABLES = {"raw_event", "indexer_checkpoint", "indexed_block", "undo_entry", "indexer_lease"}


def test_migrations_have_one_head() -> None:
    assert len(heads()) == 1


def test_upgrade_matches_the_models(engine: Engine) -> None:
    assert current(engine) == heads()[0]
    ours = {model.__tablename__ for model in [*READ_MODELS, *SERVICE_TABLES]} | INDEXER_TABLES

    def include(obj: Any, name: str | None, type_: str, reflected: bool, compare_to: Any) -> bool:
        table = name if type_ == "table" else getattr(getattr(obj, "table", None), "name", None)
        return table in ours

    with engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True, "include_object": include})
        differences = compare_metadata(context, SQLModel.metadata)
    assert differences == []
    assert ours <= set(inspect(engine).get_table_names())


def test_upgrade_twice_is_a_no_op(engine: Engine) -> None:
    upgrade(engine)
    assert current(engine) == heads()[0]


def test_tier_migration_fills_existing_certificates_with_the_lineage_walk(engine: Engine) -> None:
    """Certificates indexed before certificate.tier existed get the walk's tier from the migration: a
    split to a new supplier (tier 2), a whole transfer on (3), a split back to a holder already on the
    path (1), a financier's piece (None)."""
    with engine.begin() as conn:
        command.downgrade(alembic_config(conn), TIER_PARENT)
    s1, s2, s3, bank = ("0x" + f"{n:040x}" for n in (1, 2, 3, 4))
    tokens = [(1, None, s1, 0), (2, 1, s3, 1), (3, 2, s1, 2), (4, 1, bank, 1), (5, 1, s1, 1)]
    moves = [
        ("issued", 1, None, s1), ("split", 1, 2, s2), ("transferred", 2, None, s3), ("split", 2, 3, s1),
        ("split", 1, 4, bank), ("split", 1, 5, s1),
    ]  # fmt: skip
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO participant (address, roles, status, entity_hash, registered_by, block_number, "
                "updated_block) VALUES (:a, :r, 'active', :h, :a, 1, 1)"
            ),
            [{"a": a, "r": 4 if a == bank else 2, "h": "0x" + "00" * 32} for a in (s1, s2, s3, bank)],
        )
        conn.execute(
            text(
                "INSERT INTO certificate (token_id, slot_id, holder, value, initial_value, status, locked, "
                "parent_id, root_id, depth, block_number, updated_block) "
                "VALUES (:t, 9, :h, 1, 1, 'active', FALSE, :p, 1, :d, 1, 1)"
            ),
            [{"t": t, "p": p, "h": h, "d": d} for t, p, h, d in tokens],
        )
        conn.execute(
            text(
                "INSERT INTO certificate_transfer (block_number, log_index, tx_hash, kind, slot_id, "
                "token_id, new_token_id, from_address, to_address, value) "
                "VALUES (:b, 0, :x, :k, 9, :t, :n, :a, :a, 1)"
            ),
            [
                {"b": 10 + i, "x": "0x" + f"{i:064x}", "k": k, "t": t, "n": n, "a": to}
                for i, (k, t, n, to) in enumerate(moves)
            ],
        )
    upgrade(engine)
    with engine.connect() as conn:
        kept = dict(conn.execute(text("SELECT token_id, tier FROM certificate")).all())
        assert kept == {1: 1, 2: 3, 3: 1, 4: None, 5: 1} == tiers.walk_slots(conn, [9])


def test_bill_invoice_migration_fills_the_invoices_of_bills_indexed_before(engine: Engine) -> None:
    """Bills indexed before bill_invoice existed get one row per invoice hash of their proposal (a hash
    repeated in one proposal once), in their block, as the indexer writes them."""
    with engine.begin() as conn:
        command.downgrade(alembic_config(conn), BILL_INVOICE_PARENT)
    a, b = ("0x" + f"{n:064x}" for n in (0xA, 0xB))
    who = "0x" + "11" * 20
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO bill_package (package_id, drawer, acceptor, payee, face, maturity, splittable, "
                "not_transferable, bank_acceptance, status, invoice_hashes, block_number, updated_block) "
                "VALUES (:p, :w, :w, :w, 100, 1, TRUE, FALSE, FALSE, 'Issued', :h, :b, :b)"
            ),
            [
                {"p": 1, "w": who, "h": json.dumps([a, b]), "b": 7},
                {"p": 2, "w": who, "h": json.dumps([a, a]), "b": 9},
                {"p": 3, "w": who, "h": "[]", "b": 9},
            ],
        )
    upgrade(engine)
    with engine.connect() as conn:
        rows = conn.execute(text("SELECT doc_hash, package_id, block_number FROM bill_invoice")).all()
    assert sorted(tuple(row) for row in rows) == [(a, 1, 7), (a, 2, 9), (b, 1, 7)]


def test_idempotency_keys_are_compared_in_byte_order(engine: Engine) -> None:
    """A batch's rows are read as a range of keys (services/idempotency.py `with_prefix`), exact and
    served by the primary key only in byte order: the migration puts the column in collation "C" on
    PostgreSQL (a language collation ignores punctuation: 'batch:K:12' would sort after 'batch:K;');
    SQLite compares bytes already. (compare_metadata does not compare collations.)"""
    with engine.connect() as conn:
        if engine.dialect.name == "postgresql":
            collation = conn.execute(
                text(
                    "SELECT collation_name FROM information_schema.columns "
                    "WHERE table_name = 'idempotency_record' AND column_name = 'key'"
                )
            ).scalar()
            assert collation == "C"
        keys = ["batch:k:12", "batch:k;", "batch:k:", "Batch:k:1", "batch:k:2"]
        conn.execute(
            text("INSERT INTO idempotency_record (address, key, fingerprint, state, created_at) VALUES " +
                 ", ".join(f"('0xorder', '{k}', 'f', 'done', 0)" for k in keys))
        )  # fmt: skip
        inside = (
            conn.execute(
                text(
                    "SELECT key FROM idempotency_record WHERE address = '0xorder' "
                    "AND key >= 'batch:k:' AND key < 'batch:k;' ORDER BY key"
                )
            )
            .scalars()
            .all()
        )
        conn.rollback()
    assert inside == ["batch:k:", "batch:k:12", "batch:k:2"]
