"""Per-address rate limiting of failed sign-ins and API-key attempts, counted in the audit trail.

The audit trail already records every failed attempt with its IP, in the shared database, so the
limit holds across API instances without a second store: an address with `failures` failed attempts
in the last `window` seconds is refused (429) before any password is hashed or key looked up, and
refused attempts are not written again (a flood cannot grow the trail without bound).
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.engine import Engine

from tierflow.platform import i18n
from tierflow.platform.services.audit_trail import AUDIT, Actor, Origin, record
from tierflow.platform.services.errors import ServiceError
from tierflow.settings import Settings

# The audit outcomes that are a failed guess (a locked or disabled account is not a new guess).
FAILED_OUTCOMES = ("failed", "unknown_login", "locked_now", "refused")
THROTTLED_ACTIONS = ("signin", "auth.api_key")


@dataclass(frozen=True)
class Limits:
    """How many failed attempts one address may make in `window` seconds (0 failures: no limit)."""

    failures: int = 20
    window: int = 15 * 60

    @classmethod
    def of(cls, settings: Settings | None) -> Limits:
        if settings is None:
            return cls()
        return cls(settings.auth_failures_per_address, settings.auth_failure_window_seconds)


DEFAULT_LIMITS = Limits()


class TooManyAttempts(ServiceError):
    """Too many failed attempts from one address: it waits (HTTP 429 with Retry-After)."""

    code = "too_many_attempts"

    def __init__(self, retry_after: int) -> None:
        minutes = max(1, -(-retry_after // 60))
        super().__init__(
            i18n.ngettext(
                "Too many failed sign-in attempts from your network address; wait %(minutes)s minute and "
                "try again, or ask your company's admin.",
                "Too many failed sign-in attempts from your network address; wait %(minutes)s minutes and "
                "try again, or ask your company's admin.",
                minutes,
                minutes=minutes,
            ),
            details={"retry_after_seconds": retry_after},
        )
        self.retry_after = retry_after


def failures_since(engine: Engine, ip: str, since: int) -> tuple[int, int | None]:
    """(failed attempts from `ip` since `since`, unix time of the oldest of them)."""
    query = select(func.count(), func.min(AUDIT.c.at)).where(
        AUDIT.c.ip == ip,
        AUDIT.c.at >= since,
        AUDIT.c.action.in_(THROTTLED_ACTIONS),
        AUDIT.c.outcome.in_(FAILED_OUTCOMES),
    )
    with engine.connect() as conn:
        count, oldest = conn.execute(query).one()
    return int(count), None if oldest is None else int(oldest)


def check(
    engine: Engine, origin: Origin | None, limits: Limits = DEFAULT_LIMITS, now: int | None = None
) -> None:
    """Raise TooManyAttempts when `origin`'s address used up its failed attempts in the window."""
    if origin is None or not origin.ip or limits.failures <= 0:
        return
    now = int(time.time()) if now is None else now
    count, oldest = failures_since(engine, origin.ip, now - limits.window)
    if count >= limits.failures:
        raise TooManyAttempts(retry_after=max(1, (oldest or now) + limits.window - now))


def refused_key(engine: Engine, origin: Origin | None, code: str, limits: Limits = DEFAULT_LIMITS) -> None:
    """A failed API-key attempt: refused with 429 once the address is over its limit, else recorded
    in the audit trail (where the next check counts it)."""
    check(engine, origin, limits)
    record(engine, actor=Actor(), action="auth.api_key", outcome="refused", detail=code, origin=origin)


def refused_write(
    engine: Engine,
    actor: Actor | None,
    origin: Origin | None,
    what: str,
    outcome: str,
    limits: Limits = DEFAULT_LIMITS,
) -> None:
    """A write refused before any service ran (no key, a bad form, a forged CSRF token, no right):
    recorded with who tried it. An anonymous one counts as a failed attempt of its address, so a flood
    of them is limited like guessed keys (TooManyAttempts) instead of growing the trail."""
    if actor is None or actor.company is None:
        refused_key(engine, origin, outcome, limits)
        return
    record(engine, actor=actor, action=f"write.refused {what}", outcome=outcome, origin=origin)
