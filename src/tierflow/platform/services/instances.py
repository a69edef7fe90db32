"""Several API instances on one PostgreSQL and one chain: leases of accounts and signers' pipelines.

Nonces are counted by the process that signs (`TxSender` for transaction nonces, the gateway's
pipeline for a custodial signer's forwarder nonces), so two instances must never count the same one.
We lease rather than allocate nonces in the database: a database-backed allocator would add a
round trip and a row lock to every transaction, and a nonce allocated to a process that then died
leaves a gap that stops every later transaction of the account until it is filled; a lease costs
nothing per write, and the node's own `pending` count is the truth whenever a lease changes hands.

* **Relayer accounts** are leased for the life of an instance: at its first write an instance takes
  up to `TIERFLOW_RELAYERS_PER_INSTANCE` of the free TIERFLOW_RELAYER_KEYS (0: all that are free) and
  signs only with those; give every instance the same key list and K/N each.
* **A custodial signer's forwarder nonces** are leased while the signer has writes in flight in an
  instance (the gateway holds the lease when its pipeline starts and gives it up when it is idle): a
  write for that participant in another instance waits for it, then reads the nonce from the node.
  The waiting instance marks its wish in a `want:` row of its own (refreshed while it waits,
  WANT_TTL_S; `acquired_at` is when it began to wait); the holder sees it before its next round of
  sends (`wanted`), sends nothing more, and gives the lease up once its writes in flight have settled;
  a freed lease with live wishes is taken only by the instance that wished first. So a participant
  writing through every instance at once is served by each in turn (a round each, in the order they
  began to wait), where the busiest instance could keep the lease until the others' writes timed out.
  One wish row per lease (the first waiter's) was not enough with three instances: once the first
  waiter took the lease, the holder that had just given it up and a third instance that had waited
  all along raced for the free row at their next poll, and the third could lose every turn until its
  writes failed after 20 s.
  A self-custody signer's relays hold the same lease from a request's turn until it is mined (never
  while a request waits for the nonces before it, which may be at another instance) and hand it over the
  same way (chain/gateway.py `_relay_lease`): each change of hands costs a block, since the other
  instance may send the next nonce only once the holder's requests are mined.
  A wish is deleted once its waiter took the lease or gave up; one left by a waiter that died (expired,
  so it no longer counts) is deleted by any instance's heartbeat (`sweep_wishes`, every TTL), so the
  table does not keep a row per participant that was ever contended.
* **The operator's account** (shared by all) is leased around each of its transactions, whose nonce
  is read from the node each time.

A lease row names its holder and an expiry (`chain_lease`); a heartbeat thread renews the instance's
leases every third of the TTL. An instance signs only while its last renewal is younger than half the
TTL, while another instance takes a lease over only once it expired (the full TTL), so a stalled
instance stops signing before anyone else may start, with the other half of the TTL as margin for a
send in progress and for clock skew between hosts. A lease taken over is "fresh": the new holder reads
the account's nonce from the node's `pending` state (which includes the dead instance's transactions
still in the pool) before signing.

SQLite serves one API instance only (its writers take a file lock, and the leases would cost it a
write per request): `single_instance` refuses a second one with a message that says what to do.
"""

from __future__ import annotations

import hashlib
import logging
import os
import secrets
import socket
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

from eth_account.signers.local import LocalAccount
from sqlalchemy import case, delete, exists, select, true, update
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError, SQLAlchemyError

from tierflow.chain.leases import Leases, NoLeases, account_lease
from tierflow.errors import ChainUnavailableError, ConfigurationError
from tierflow.platform import i18n
from tierflow.platform.models.service import ChainLease

log = logging.getLogger("tierflow.api")
LEASE = ChainLease.__table__  # type: ignore[attr-defined]
DEFAULT_TTL_S = 30.0
# [s] how long a write waits for a signer (or the operator) leased by another instance.
DEFAULT_WAIT_S = 20.0
WAIT_POLL_S = 0.05
# [s] a waiting instance's wish for a lease lives this long after its last poll (every WAIT_POLL_S): a
# waiter that died holds a freed lease back for at most this long.
WANT_TTL_S = 3.0
SQLITE_INSTANCE = "instance"


def want_lease(name: str, holder: str | None = None) -> str:
    """The name of the row in which instance `holder`, waiting for lease `name`, says so; without a
    holder, the prefix of every such row. A row per waiter (not one per lease) keeps the order in which
    they began to wait; the holder is hashed to fit the column (80 characters)."""
    prefix = f"want:{name}#"
    return prefix if holder is None else prefix + hashlib.sha256(holder.encode()).hexdigest()[:12]


def new_holder_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(4)}"


def _now_ms() -> int:
    return int(time.time() * 1000)


@dataclass(eq=False)
class _Held:
    count: int = 0  # holds in this instance; the row is given up when it drops to 0 (not for relayers)
    valid_until: float = 0.0  # [monotonic s] this instance may sign until then
    fresh: bool = True  # taken since the last check: nonces must be read from the node
    lock: threading.Lock = field(default_factory=threading.Lock)


class DbLeases(Leases):
    """The leases of one API instance in `chain_lease`; thread-safe, with one heartbeat thread."""

    def __init__(
        self,
        engine: Engine,
        ttl: float = DEFAULT_TTL_S,
        wait: float = DEFAULT_WAIT_S,
        holder: str | None = None,
    ) -> None:
        self.engine = engine
        self.ttl = ttl
        self.wait = wait
        self.holder = holder or new_holder_id()
        self._held: dict[str, _Held] = {}
        self._guard = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._swept = 0.0  # [monotonic s] when the heartbeat last deleted expired wishes

    @property
    def renew_interval(self) -> float:
        return min(5.0, self.ttl / 3)

    # -- Leases (asked by the gateway) ---------------------------------------------------------
    def check(self, name: str) -> bool:
        with self._guard:
            held = self._held.get(name)
        if held is None or held.count <= 0 or time.monotonic() >= held.valid_until:
            log.warning("instance %s does not hold %s: a write was refused", self.holder, name)
            raise ChainUnavailableError(
                i18n.gettext(
                    "This API instance no longer holds the lease on its relayer account (its renewal in "
                    "the database failed, or another instance took it over): nothing was sent"
                )
            )
        with held.lock:
            fresh, held.fresh = held.fresh, False
        return fresh

    def hold(self, name: str) -> bool:
        held = self._entry(name)
        with held.lock:
            if held.count > 0 and time.monotonic() < held.valid_until:
                held.count += 1
                return False
            deadline = time.monotonic() + self.wait
            since: int | None = None  # [unix ms] when this instance's wish began (None: no wish yet)
            while True:
                started = time.monotonic()
                owner = self._take(name, since)
                if owner is None:
                    held.count += 1
                    held.valid_until = started + self.ttl / 2
                    held.fresh = False  # the caller reads the nonce itself (True returned)
                    self._ensure_heartbeat()
                    if since is not None:
                        self._unwant(name)
                    return True
                # The holder sees the wish before its next round and hands the lease over (`wanted`);
                # the instances waiting take it in the order their wishes began.
                since = self._want(name) or since
                if time.monotonic() >= deadline:
                    if since is not None:
                        self._unwant(name)
                    log.warning("instance %s waited in vain for %s, held by %s", self.holder, name, owner)
                    raise ChainUnavailableError(
                        i18n.gettext(
                            "Another API instance is sending transactions for the same account and did "
                            "not finish within %(seconds)s s: nothing was sent",
                            seconds=f"{self.wait:.0f}",
                        )
                    )
                time.sleep(WAIT_POLL_S)

    def release(self, name: str) -> None:
        held = self._entry(name)
        with held.lock:
            held.count = max(0, held.count - 1)
            if held.count:
                return
            held.valid_until = 0.0
            try:
                self._give_up(name)
            except SQLAlchemyError as error:
                # Never raised to the write that was done with it (its outcome stands): the row simply
                # expires after the TTL, and another instance waits that long.
                log.warning("instance %s could not give up %s: %s", self.holder, name, error)

    def wanted(self, name: str) -> bool:
        try:
            with self.engine.connect() as conn:
                found = conn.execute(
                    select(LEASE.c.holder).where(
                        LEASE.c.name.startswith(want_lease(name), autoescape=True),
                        LEASE.c.holder != self.holder,
                        LEASE.c.expires_at >= _now_ms(),
                    )
                ).first()
        except SQLAlchemyError as error:  # keep sending: the other instance waits, as before the wishes
            log.warning("instance %s could not read who waits for %s: %s", self.holder, name, error)
            return False
        return found is not None

    # -- relayers ----------------------------------------------------------------------------
    def take_relayers(self, accounts: Sequence[LocalAccount], count: int) -> list[LocalAccount]:
        """Lease up to `count` (0: all) of `accounts` not held by a live instance; kept until `close`."""
        taken: list[LocalAccount] = []
        for candidate in accounts:
            if count and len(taken) >= count:
                break
            name = account_lease(candidate.address)
            held = self._entry(name)
            with held.lock:
                started = time.monotonic()
                if self._take(name) is None:
                    held.count += 1
                    held.valid_until = started + self.ttl / 2
                    held.fresh = True
                    taken.append(candidate)
        if not taken:
            raise ChainUnavailableError(
                i18n.gettext(
                    "Every relayer account is leased by another API instance (%(count)s in "
                    "TIERFLOW_RELAYER_KEYS): give each instance its share with "
                    "TIERFLOW_RELAYERS_PER_INSTANCE, add keys, or wait until a stopped instance's lease "
                    "expires",
                    count=len(accounts),
                )
            )
        self._ensure_heartbeat()
        log.info("instance %s leased relayers %s", self.holder, ", ".join(a.address for a in taken))
        return taken

    def held_names(self) -> list[str]:
        with self._guard:
            return [name for name, held in self._held.items() if held.count > 0]

    def close(self) -> None:
        """Stop renewing and give every lease up (a clean stop: others take them without waiting)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None
        with self._guard:
            names = list(self._held)
            self._held.clear()
        for name in names:
            try:
                self._give_up(name)
            except SQLAlchemyError:  # the rows expire on their own
                break

    # -- the rows --------------------------------------------------------------------------------
    def _entry(self, name: str) -> _Held:
        with self._guard:
            return self._held.setdefault(name, _Held())

    def _take(self, name: str, since: int | None = None) -> str | None:
        """Take or renew the row of `name` if it is free, expired or ours: None, else its holder.
        `since`: when this instance's live wish for it began (None: it has none)."""
        now = _now_ms()
        expires = now + int(self.ttl * 1000)
        try:
            with self.engine.begin() as conn:
                # One conditional UPDATE: two instances racing for an expired row both run it, and the
                # row lock makes the second re-check the condition against the first one's holder.
                # A freed or expired lease goes first to the instance that has waited longest (the
                # earliest live wish; ties by holder): without a wish of its own, any live wish of
                # another instance comes first.
                wish = LEASE.alias("wish")
                earlier = (
                    true()
                    if since is None
                    else (wish.c.acquired_at < since)
                    | ((wish.c.acquired_at == since) & (wish.c.holder < self.holder))
                )
                wished_by_another = exists().where(
                    wish.c.name.startswith(want_lease(name), autoescape=True),
                    wish.c.holder != self.holder,
                    wish.c.expires_at >= now,
                    earlier,
                )
                if conn.execute(
                    update(LEASE)
                    .where(LEASE.c.name == name)
                    .where(
                        ((LEASE.c.holder == self.holder) & (LEASE.c.expires_at >= now))
                        | ((LEASE.c.expires_at < now) & ~wished_by_another)
                    )
                    .values(holder=self.holder, acquired_at=now, expires_at=expires)
                ).rowcount:
                    return None
                owner = conn.execute(select(LEASE.c.holder).where(LEASE.c.name == name)).scalar()
            if owner is not None:
                return str(owner)
            with self.engine.begin() as conn:
                conn.execute(
                    LEASE.insert().values(name=name, holder=self.holder, acquired_at=now, expires_at=expires)
                )
            return None
        except IntegrityError:
            return "another instance"  # it inserted the row first
        except SQLAlchemyError as error:
            raise ChainUnavailableError(f"the database does not answer (leases): {error}") from error

    def _want(self, name: str) -> int | None:
        """Say (or repeat) that this instance waits for `name`: when its wish began [unix ms], or None if
        the database did not take it (the instance then waits unannounced and tries again)."""
        want, now = want_lease(name, self.holder), _now_ms()
        expires = now + int(WANT_TTL_S * 1000)
        try:
            with self.engine.begin() as conn:
                # The wish keeps its start (`acquired_at`) while refreshed: its place in the queue. One
                # that expired (this instance stalled) counted nowhere meanwhile and starts anew.
                since = conn.execute(
                    update(LEASE)
                    .where(LEASE.c.name == want)
                    .values(
                        holder=self.holder,
                        acquired_at=case((LEASE.c.expires_at < now, now), else_=LEASE.c.acquired_at),
                        expires_at=expires,
                    )
                    .returning(LEASE.c.acquired_at)
                ).scalar()
                if since is not None:
                    return int(since)
                conn.execute(
                    LEASE.insert().values(name=want, holder=self.holder, acquired_at=now, expires_at=expires)
                )
            return now
        except SQLAlchemyError:
            return None

    def _unwant(self, name: str) -> None:
        """Delete this instance's wish (taken, or waited in vain): an expired row would stay for good."""
        try:
            with self.engine.begin() as conn:
                conn.execute(delete(LEASE).where(LEASE.c.name == want_lease(name, self.holder)))
        except SQLAlchemyError:  # the wish expires by itself within WANT_TTL_S (and is swept later)
            pass

    def sweep_wishes(self) -> int:
        """Delete every expired wish (a waiter that died before it could delete its own); how many.

        An expired wish counts nowhere (`wanted`, `_take` and `_want` read only live ones), so deleting
        it changes nothing; a waiter refreshing it at the same moment either updates it first (it is no
        longer expired when the row lock lets the DELETE re-check) or finds it gone and inserts it again.
        """
        now = _now_ms()
        with self.engine.begin() as conn:
            return int(
                conn.execute(
                    delete(LEASE).where(LEASE.c.name.startswith("want:"), LEASE.c.expires_at < now)
                ).rowcount
            )

    def _give_up(self, name: str) -> None:
        with self.engine.begin() as conn:
            conn.execute(
                update(LEASE)
                .where(LEASE.c.name == name, LEASE.c.holder == self.holder)
                .values(expires_at=_now_ms() - 1)
            )

    def _ensure_heartbeat(self) -> None:
        with self._guard:
            if self._thread is None:
                self._stop.clear()
                self._thread = threading.Thread(target=self._beat, name="lease-heartbeat", daemon=True)
                self._thread.start()

    def _beat(self) -> None:
        while not self._stop.wait(self.renew_interval):
            try:
                self.renew()
                if time.monotonic() - self._swept >= self.ttl:
                    self._swept = time.monotonic()
                    self.sweep_wishes()
            except (SQLAlchemyError, ChainUnavailableError) as error:
                # The thread lives on; the leases lapse locally, so writes refuse until renewed.
                log.warning("instance %s could not renew its leases: %s", self.holder, error)

    def renew(self) -> None:
        """Extend every lease held; a lease another instance took over (after it expired) is lost
        here and taken again when free (then fresh: nonces are read from the node again)."""
        names = self.held_names()
        if not names:
            return
        started = time.monotonic()
        now = _now_ms()
        with self.engine.begin() as conn:
            conn.execute(
                update(LEASE)
                .where(LEASE.c.holder == self.holder, LEASE.c.name.in_(names))
                .values(expires_at=now + int(self.ttl * 1000))
            )
            ours = set(
                conn.execute(
                    select(LEASE.c.name).where(LEASE.c.holder == self.holder, LEASE.c.name.in_(names))
                ).scalars()
            )
        for name in names:
            held = self._entry(name)
            if name in ours:
                held.valid_until = started + self.ttl / 2
                continue
            log.warning("instance %s lost its lease on %s", self.holder, name)
            with held.lock:
                held.valid_until = 0.0
                if self._take(name) is None:
                    held.valid_until = started + self.ttl / 2
                    held.fresh = True


def leases_for(engine: Engine, ttl: float = DEFAULT_TTL_S) -> Leases:
    """DbLeases on PostgreSQL; on SQLite (one instance only, `single_instance`) none are needed."""
    return NoLeases() if engine.dialect.name == "sqlite" else DbLeases(engine, ttl=ttl)


def single_instance(engine: Engine, ttl: float = DEFAULT_TTL_S) -> DbLeases | None:
    """On SQLite: take the one-instance lease, or refuse to start a second API instance; None on
    PostgreSQL (any number of instances). The returned leases are renewed until `close`."""
    if engine.dialect.name != "sqlite":
        return None
    leases = DbLeases(engine, ttl=ttl, wait=0.0)
    held = leases._take(SQLITE_INSTANCE)
    if held is not None and _process_gone(held):
        # Killed on this host (no clean stop): nothing of it can still write, so it need not expire.
        with engine.begin() as conn:
            conn.execute(update(LEASE).where(LEASE.c.name == SQLITE_INSTANCE).values(expires_at=0))
        held = leases._take(SQLITE_INSTANCE)
    if held is not None:
        with engine.connect() as conn:
            expires = conn.execute(select(LEASE.c.expires_at).where(LEASE.c.name == SQLITE_INSTANCE)).scalar()
        until = datetime.fromtimestamp((expires or 0) / 1000, UTC).strftime("%H:%M:%S UTC")
        raise ConfigurationError(
            f"another API instance ({held}) already serves this SQLite database, which serves one "
            f"instance only: stop it (its lease ends by {until} if it was killed), or use PostgreSQL "
            "(TIERFLOW_DATABASE_URL / DATABASE_URL) to run several"
        )
    entry = leases._entry(SQLITE_INSTANCE)
    entry.count, entry.valid_until = 1, time.monotonic() + ttl / 2
    leases._ensure_heartbeat()
    return leases


def _process_gone(holder: str) -> bool:
    """Whether `holder` (host:pid:random) was a process of this host that no longer runs."""
    host, _, rest = holder.partition(":")
    pid = rest.partition(":")[0]
    if host != socket.gethostname() or not pid.isdigit() or int(pid) == os.getpid():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except PermissionError:  # alive, another user's
        return False
    return False
