"""Keyset (cursor) pages: the query of one page after a cursor, and the cursor of the page after it.

A leaf module (no service imports) so that any service can page by cursor without an import cycle:
the audit trail's list is paged here too, and `queries` imports services that import the audit trail.
"""

from __future__ import annotations

from typing import Any


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
