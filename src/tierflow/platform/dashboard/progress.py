"""How far a dashboard write has got while the person waits: sent → in block n → indexed.

The browser names each posted form with a random `write_id` (static/app.js) and polls
`/dashboard/writes/<write_id>` every second while the post is under way; `web.act` records the stages
the write path reports (services/writes.PROGRESS) under that id. The answer says where the write is
and how long it has taken, so a long wait never looks frozen. Entries are per process and short-lived:
a poll that finds none says the write is on its way (the post may not have arrived yet).
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from tierflow.platform import i18n

WRITE_ID = re.compile(r"^[0-9a-f]{16,64}$")
KEEP_SECONDS = 600  # an entry is forgotten this long after its last change


@dataclass
class Progress:
    owner: str  # the participant whose write it is: only they can read its progress
    stage: str  # submitted | sending | mined | indexed | index_late | done | failed
    block: int | None
    started: float  # [monotonic s]
    updated: float  # [monotonic s]


_writes: dict[str, Progress] = {}
_lock = threading.Lock()


def valid(write_id: str) -> bool:
    return bool(WRITE_ID.match(write_id))


def start(write_id: str, owner: str) -> None:
    now = time.monotonic()
    with _lock:
        for key in [k for k, p in _writes.items() if now - p.updated > KEEP_SECONDS]:
            del _writes[key]
        _writes[write_id] = Progress(owner=owner, stage="submitted", block=None, started=now, updated=now)


def update(write_id: str, stage: str, details: dict[str, Any]) -> None:
    with _lock:
        found = _writes.get(write_id)
        if found is not None:
            found.stage = stage
            found.block = details.get("block", found.block)
            found.updated = time.monotonic()


def listener(write_id: str) -> Callable[[str, dict[str, Any]], None]:
    """What the write path calls at each stage (set as services.writes.PROGRESS for the write)."""
    return lambda stage, details: update(write_id, stage, details)


def read(write_id: str, owner: str) -> dict[str, Any]:
    """Where the write is, as the progress line shows it: stage, block, seconds, a sentence."""
    with _lock:
        found = _writes.get(write_id)
        progress = None if found is None or found.owner != owner else Progress(**vars(found))
    if progress is None:
        return {
            "stage": "unknown",
            "block": None,
            "seconds": None,
            "text": i18n.gettext("Sent; waiting for the platform…"),
        }
    seconds = int(time.monotonic() - progress.started)
    texts = {
        "submitted": i18n.gettext("Received; checking it…"),
        "sending": i18n.gettext("Signed and sent to the chain; waiting for a block…"),
        "mined": i18n.gettext(
            "In block %(block)s; waiting for the platform to index it…", block=progress.block
        ),
        "indexed": i18n.gettext("Indexed (block %(block)s); loading the page…", block=progress.block),
        "index_late": i18n.gettext(
            "In block %(block)s; the platform is slow to index it, the page will show it shortly.",
            block=progress.block,
        ),
        "done": i18n.gettext("Done; loading the page…"),
        "failed": i18n.gettext("Not done; loading the page with the reason…"),
    }
    text = texts.get(progress.stage, progress.stage)
    return {"stage": progress.stage, "block": progress.block, "seconds": seconds, "text": text}
