"""Keyset (cursor) pages: the query of one page after a cursor, and the cursor of the page after it.

A leaf module (no service imports) so that any service can page by cursor without an import cycle:
the audit trail's list is paged here too, and `queries` imports services that import the audit trail.
"""

from __future__ import annotations

import base64
import json
import re
from typing import Any

from sqlalchemy import func, literal, select, tuple_

from tierflow.platform.services.errors import InvalidRequest


def page_query(query: Any, key: Any, *, after: int | None, descending: bool, limit: int, offset: int) -> Any:
    """`query` after the cursor `after` in `key` order, with one look-ahead row (see `next_after`)."""
    if after is not None:
        query = query.where(key < after if descending else key > after)
    return query.order_by(key.desc() if descending else key).limit(limit + 1).offset(offset)


def next_after(rows: list[Any], limit: int, key: Any) -> int | None:
    """Cut the look-ahead row off `rows`; the cursor of the next page, None on the last."""
    if len(rows) <= limit:
        return None
    del rows[limit:]
    last = rows[-1]
    return int(last[key] if isinstance(last, dict) else getattr(last, key))


# -- opaque cursors of composite keys ------------------------------------------------------------------
# Lists ordered by more than one column (participants by (created_at, address), documents by (created_at,
# id), payouts due by (maturity, slot id)) answer their cursor as base64url (no padding) of the JSON array
# of the last row's key. It is opaque to clients but not secret and not signed: it only says where a page
# starts in a list the caller may read whole anyway, so a forged one can skip rows but never reveal one.
# Anything that does not decode to the list's own key shape is refused with a typed 422 (InvalidRequest).
CURSOR_PATTERN = r"^[A-Za-z0-9_-]{1,200}$"
Part = int | str


def encode_cursor(*parts: Part) -> str:
    """The opaque cursor of a row whose key is `parts`."""
    raw = json.dumps(list(parts), separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(
    cursor: str | None, shape: tuple[type[int] | type[str], ...], *, pattern: str = ""
) -> tuple[Part, ...] | None:
    """The key an opaque cursor names, checked against `shape` (the key's types) and, for strings,
    `pattern`; InvalidRequest when it is not one this list gave out."""
    if cursor is None:
        return None
    try:
        parts = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except (ValueError, UnicodeDecodeError):
        parts = None
    if (
        not isinstance(parts, list)
        or len(parts) != len(shape)
        or not all(type(part) is kind for part, kind in zip(parts, shape, strict=True))
        or not all(re.fullmatch(pattern, part) for part in parts if isinstance(part, str))
        or not all(0 <= part < 2**63 for part in parts if isinstance(part, int))
    ):
        raise InvalidRequest(
            "This `after` cursor is not one this list gave out: pass the `next_after` of the previous page "
            "unchanged, or leave `after` out to start from the first page.",
            code="invalid_cursor",
        )
    return tuple(parts)


def next_cursor(rows: list[Any], limit: int, names: tuple[str, ...]) -> str | None:
    """Cut the look-ahead row off `rows`; the opaque cursor of the next page, None on the last."""
    if len(rows) <= limit:
        return None
    del rows[limit:]
    last = rows[-1]
    return encode_cursor(*(last[n] if isinstance(last, dict) else getattr(last, n) for n in names))


def composite_rows(
    session: Any,
    query: Any,
    keys: tuple[Any, ...],
    *,
    after: tuple[Part, ...] | None,
    limit: int,
    offset: int,
    descending: bool = False,
    count: int | None = None,
) -> tuple[list[Any], int, str | None]:
    """One keyset page of `query`'s ORM rows after the composite key `after` in `keys` order (its
    columns; `descending`: newest first), the count over every page (`count`, when the caller has it
    already), and the next page's opaque cursor. The page is a row-value comparison, which both SQLite
    and PostgreSQL answer from an index on `keys`."""
    if count is None:
        count = int(session.execute(select(func.count()).select_from(query.subquery())).scalar_one())
    if after is not None:
        position, start = tuple_(*keys), tuple_(*(literal(part) for part in after))
        query = query.where(position < start if descending else position > start)
    order = [key.desc() for key in keys] if descending else list(keys)
    page = query.order_by(*order).limit(limit + 1).offset(offset)  # one look-ahead row: next_cursor
    rows = list(session.execute(page).scalars().all())
    return rows, count, next_cursor(rows, limit, tuple(key.key for key in keys))
