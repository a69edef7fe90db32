"""One line, not a traceback: how every `tierflow` command answers bad settings or an unreachable service."""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable
from typing import Any, TypeVar

import typer
from pydantic import ValidationError
from sqlalchemy.exc import ArgumentError, NoSuchModuleError, SQLAlchemyError

from tierflow.errors import TierflowError

F = TypeVar("F", bound=Callable[..., Any])


def explain(error: BaseException) -> str | None:
    """What went wrong and what to do, in one line; None for an error that is a bug (keep its traceback)."""
    if isinstance(error, ValidationError):
        problems = "; ".join(
            (f"{_setting_name(problem['loc'])}: " if problem["loc"] else "")
            + problem["msg"].removeprefix("Value error, ")
            for problem in error.errors()
        )
        return f"invalid settings: {problems}"
    if isinstance(error, (ArgumentError, NoSuchModuleError)):
        return (
            "DATABASE_URL is not a database URL Tierflow understands: use "
            "postgresql+psycopg://user:password@host:port/db, or leave it empty for SQLite"
        )
    if isinstance(error, SQLAlchemyError):
        reason = str(getattr(error, "orig", None) or error).strip().splitlines()[0]
        return f"the database does not answer ({reason}): start it or fix DATABASE_URL"
    if isinstance(error, TierflowError):
        return str(error).strip().splitlines()[0]
    if isinstance(error, ValueError) and "JSON-RPC URL" in str(error):
        return f"{error}: set TIERFLOW_RPC_URL to the node's http(s) URL"
    return None


def _setting_name(location: tuple[int | str, ...]) -> str:
    name = str(location[0])
    return "DATABASE_URL" if name == "database_url" else f"TIERFLOW_{name.upper()}"


def friendly(command: F) -> F:
    """Wrap a Typer command: a known error prints `error: …` on stderr and exits 2."""

    @functools.wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return command(*args, **kwargs)
        except (typer.Exit, typer.Abort, KeyboardInterrupt, SystemExit):
            raise
        except Exception as error:
            line = explain(error)
            if line is None:
                raise
            print(f"error: {line}", file=sys.stderr)
            raise typer.Exit(2) from None

    return wrapper  # type: ignore[return-value]
