"""Alembic: one head, upgrade creates exactly the models' schema (read models and the API's own
tables), upgrading twice is a no-op."""

from __future__ import annotations

from typing import Any

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect
from sqlalchemy.engine import Engine
from sqlmodel import SQLModel

import tierflow.platform.models  # noqa: F401
from tierflow.platform.migrate import current, heads, upgrade
from tierflow.platform.models import READ_MODELS
from tierflow.platform.models.service import SERVICE_TABLES

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
