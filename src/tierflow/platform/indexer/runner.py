"""The indexer loop: block windows of logs → handlers → read models, with checkpoint, reorgs and replay.

Every window is one database transaction holding its raw events, the read-model changes, the
hashes of its blocks and the new checkpoint: killed at any instant, the indexer restarts from the
last committed checkpoint and nothing is lost or doubled. Before each window the checkpoint's block
hash is compared with the node's; on a mismatch the indexer walks back through the stored block
hashes to the last common block, undoes everything after it and indexes the new branch. Writes the API
answered from a dropped block are set back to outcome-unknown with it (indexer/answers.py).

Only one indexer writes a database: it takes the lease of indexer.lease before its first write and
renews it inside every writing transaction, so a window is never committed by a holder that lost it.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from sqlalchemy import Connection, delete, select, update
from sqlalchemy.engine import Engine
from sqlalchemy.exc import OperationalError
from web3 import Web3

from tierflow.chain.abi import Event, LogDecoder
from tierflow.chain.jsonrpc import BlockRef, Rpc, RpcError
from tierflow.errors import ConfigurationError
from tierflow.platform.indexer import answers, summary, tiers
from tierflow.platform.indexer.handlers import HANDLERS, PREFETCH, Handler
from tierflow.platform.indexer.lease import Lease
from tierflow.platform.indexer.metrics import IndexerMetrics
from tierflow.platform.indexer.store import Store, write_slot_versions
from tierflow.platform.models import Checkpoint, IndexedBlock, RawEvent

log = logging.getLogger("tierflow.indexer")

RAW = RawEvent.__table__  # type: ignore[attr-defined]
CHECKPOINT = Checkpoint.__table__  # type: ignore[attr-defined]
BLOCKS = IndexedBlock.__table__  # type: ignore[attr-defined]


@dataclass(frozen=True)
class CheckpointState:
    block_number: int
    block_hash: str
    journal_floor: int | None
    data_version: int = 0


def next_version(previous: CheckpointState | None) -> int:
    """A data version never used before by this database: one more than the last, and at least the
    clock in microseconds, so that a database whose checkpoint row was deleted (a rollback to before
    the first block) or recreated does not reuse a version that a running API still has cached."""
    return max((previous.data_version if previous else 0) + 1, time.time_ns() // 1000)


@dataclass(frozen=True)
class StepResult:
    kind: Literal["indexed", "idle", "reorg", "retry"]
    head: int
    from_block: int = 0
    to_block: int = 0
    events: int = 0


def contracts_of(deployment: Any) -> dict[str, tuple[str, list[dict[str, Any]]]]:
    """name → (address, ABI) from a tierflow.chain.deploy.Deployment."""
    return {name: (record.address, record.abi) for name, record in deployment.contracts.items()}


class Indexer:
    """Follows a fixed set of contracts from `start_block` into the database behind `engine`."""

    def __init__(
        self,
        engine: Engine,
        rpc: Rpc,
        contracts: Mapping[str, tuple[str, Iterable[Mapping[str, Any]]]],
        *,
        chain_id: int,
        start_block: int,
        confirmations: int = 0,
        reorg_window: int = 128,
        target_logs: int = 2_000,
        initial_window: int = 100,
        max_window: int = 5_000,
        metrics: IndexerMetrics | None = None,
        handlers: Mapping[str, Handler] | None = None,
        lease_ttl: float = 30.0,
        lease_holder: str | None = None,
    ) -> None:
        self.engine = engine
        self.rpc = rpc
        self.decoder = LogDecoder(contracts)
        self.addresses = self.decoder.addresses
        self.chain_id = chain_id
        self.start_block = start_block
        self.confirmations = confirmations
        # Blocks closer than this to the head keep undo records; a deeper reorg replays raw events.
        self.reorg_window = reorg_window
        self.target_logs = target_logs
        self.window = min(initial_window, max_window)
        self.max_window = max_window
        self.metrics = metrics or IndexerMetrics()
        self.handlers = dict(HANDLERS if handlers is None else handlers)
        self.store = Store()
        self._checkpoint: CheckpointState | None = None
        self._loaded = False
        # Single-writer lease [s]: taken before the first write, renewed as windows commit.
        self.lease = Lease(engine, lease_ttl, lease_holder)

    @classmethod
    def for_deployment(cls, engine: Engine, w3: Web3, deployment: Any, **options: Any) -> Indexer:
        return cls(
            engine,
            Rpc(w3),
            contracts_of(deployment),
            chain_id=deployment.chain_id,
            start_block=deployment.deploy_block,
            **options,
        )

    # -- checkpoint ------------------------------------------------------------------------------
    def checkpoint(self) -> CheckpointState | None:
        if not self._loaded:
            with self.engine.connect() as conn:
                row = conn.execute(select(CHECKPOINT).where(CHECKPOINT.c.id == 1)).mappings().first()
            if row is not None and row["chain_id"] != self.chain_id:
                raise ConfigurationError(
                    f"the database indexes chain {row['chain_id']}, the node is chain {self.chain_id}; "
                    "point DATABASE_URL at another database"
                )
            self._checkpoint = (
                None
                if row is None
                else CheckpointState(
                    row["block_number"], row["block_hash"], row["journal_floor"], row["data_version"]
                )
            )
            self._loaded = True
        return self._checkpoint

    def next_block(self) -> int:
        checkpoint = self.checkpoint()
        return self.start_block if checkpoint is None else checkpoint.block_number + 1

    def _write_checkpoint(self, conn: Connection, state: CheckpointState | None) -> None:
        if state is None:
            conn.execute(delete(CHECKPOINT))
        else:
            values = {
                "chain_id": self.chain_id,
                "block_number": state.block_number,
                "block_hash": state.block_hash,
                "journal_floor": state.journal_floor,
                "data_version": state.data_version,
            }
            if conn.execute(update(CHECKPOINT).where(CHECKPOINT.c.id == 1).values(values)).rowcount == 0:
                conn.execute(CHECKPOINT.insert().values(id=1, **values))

    # -- lease ---------------------------------------------------------------------------------------
    def acquire(self) -> None:
        """Take the single-writer lease (raises IndexerLeaseHeld when another indexer holds it)."""
        if not self.lease.held:
            self.lease.acquire()
            self._loaded = False  # the previous holder may have moved the checkpoint

    def release(self) -> None:
        """Give the lease up so that another indexer may start at once (a clean stop)."""
        self.lease.release()

    # -- one step --------------------------------------------------------------------------------
    def step(self) -> StepResult:
        """Check for a reorg, then index at most one window. Never leaves a partial window behind."""
        if self.lease.held:
            self.lease.renew_if_due()  # cheap: once every few seconds; each window renews it too
        else:
            self.acquire()
        head = self.rpc.block_number()
        self.metrics.head_block = head
        checkpoint = self.checkpoint()
        first = self.next_block()
        safe = head - self.confirmations
        last = min(first + self.window - 1, safe)
        # A one-block window proves continuity through its parent hash (checked below, one RPC less
        # per block when following the head); otherwise the checkpoint block must still be canonical.
        if checkpoint is not None and first != last:
            canonical = self.rpc.block(checkpoint.block_number)
            if canonical is None or canonical.hash != checkpoint.block_hash:
                return self._reorg(checkpoint, head)
        if first > safe:
            self.metrics.indexed_block = first - 1
            return StepResult("idle", head)
        started = time.perf_counter()
        fetched = self._fetch(first, last)
        if fetched is None:
            return StepResult("retry", head, first, last)
        last, block, logs = fetched
        if checkpoint is not None and first == last and block.parent_hash != checkpoint.block_hash:
            return self._reorg(checkpoint, head)
        events = self._decode(logs)
        self._commit(events, first, last, block.hash, head)
        elapsed = time.perf_counter() - started
        self.metrics.record_window(
            head=head, indexed=last, events=len(events), blocks=last - first + 1, seconds=elapsed
        )
        self._adapt(len(logs))
        log.info(
            "indexed window",
            extra={
                "fields": {
                    "from": first,
                    "to": last,
                    "events": len(events),
                    "head": head,
                    "ms": round(elapsed * 1e3, 1),
                }
            },
        )
        return StepResult("indexed", head, first, last, len(events))

    def _fetch(self, first: int, last: int) -> tuple[int, BlockRef, list[dict[str, Any]]] | None:
        """Logs of [first, last] from one consistent view of the chain, shrinking the window on errors.

        None when the chain changed under the request (the caller retries, and finds the reorg)."""
        while True:
            before = self.rpc.block(last)
            if before is None:  # the head moved back under us: a reorg is in flight
                return None
            try:
                logs = self.rpc.logs(first, last, self.addresses)
            except RpcError as error:
                if last == first:
                    raise
                self.metrics.rpc_retries_total += 1
                self.window = max(1, (last - first + 1) // 2)
                last = first + self.window - 1
                log.warning(
                    "eth_getLogs failed, halving the window",
                    extra={"fields": {"error": str(error), "window": self.window}},
                )
                continue
            # Every log of block `last` must come from the block whose hash we will store.
            if any(
                entry["blockHash"] != before.hash for entry in logs if entry.get("blockNumber") == hex(last)
            ):
                return None
            if first != last:
                # The hash of `last` commits to every block before it: unchanged hash, consistent logs.
                after = self.rpc.block(last)
                if after is None or after.hash != before.hash:
                    return None
            return last, before, logs

    def _reorg(self, checkpoint: CheckpointState, head: int) -> StepResult:
        self._handle_reorg(checkpoint)
        return StepResult("reorg", head, to_block=self.next_block() - 1)

    def _decode(self, logs: list[dict[str, Any]]) -> list[Event]:
        decoded = (self.decoder.decode(entry) for entry in logs if not entry.get("removed"))
        events = [event for event in decoded if event is not None]
        events.sort(key=lambda event: (event.block_number, event.log_index))
        return events

    def _adapt(self, count: int) -> None:
        if count > 2 * self.target_logs:
            self.window = max(1, self.window // 2)
        elif count < self.target_logs // 2:
            self.window = min(self.max_window, self.window * 2)

    def _apply(self, events: Iterable[Event], journal_from: int | None) -> int:
        """Run the handlers of `events` (in order) against the store; returns how many ran."""
        store, handlers, count = self.store, self.handlers, 0
        events = list(events)
        wanted: dict[str, list[tuple[Any, ...]]] = {}
        for event in events:
            prefetch = PREFETCH.get(event.key)
            if prefetch is not None:
                for table, key in prefetch(event):
                    wanted.setdefault(table, []).append(key)
        for table, keys in wanted.items():
            store.prefetch(table, keys)
        for event in events:
            if event.block_number != store.block_number:
                store.begin_block(
                    event.block_number, journal_from is not None and event.block_number >= journal_from
                )
            handler = handlers.get(event.key)
            if handler is not None:
                handler(event, store)
            count += 1
        return count

    def _commit(self, events: list[Event], first: int, last: int, last_hash: str, head: int) -> None:
        previous = self.checkpoint()
        journal_from = max(first, head - self.reorg_window + 1)
        floor = self._journal_floor(previous, first, last, journal_from)
        try:
            with self.engine.begin() as conn:
                self.lease.guard(conn)
                self.store.begin(conn)
                self._apply(events, journal_from if journal_from <= last else None)
                # Empty blocks keep the version: only rows written make cached reads stale.
                version = next_version(previous) if events or previous is None else previous.data_version
                self.store.flush(version)
                if events:
                    conn.execute(RAW.insert(), [_raw_row(event) for event in events])
                blocks = {event.block_number: event.block_hash for event in events}
                blocks[last] = last_hash
                conn.execute(BLOCKS.insert(), [{"number": n, "hash": h} for n, h in blocks.items()])
                answers.reopen_missing(conn, first, last, events)
                if floor is not None and floor < last - self.reorg_window:
                    floor = last - self.reorg_window
                    conn.execute(
                        delete(self.store.undo_table).where(self.store.undo_table.c.block_number <= floor)
                    )
                state = CheckpointState(last, last_hash, floor, version)
                self._write_checkpoint(conn, state)
        except BaseException:
            self.store.discard()
            self._loaded = False
            raise
        self._checkpoint = state

    def _journal_floor(
        self, previous: CheckpointState | None, first: int, last: int, journal_from: int
    ) -> int | None:
        """Every block above the returned one will have complete undo records after this window."""
        if journal_from > last:
            return None
        if journal_from == first and previous is not None and previous.journal_floor is not None:
            return previous.journal_floor
        return journal_from - 1

    # -- reorgs ----------------------------------------------------------------------------------
    def _handle_reorg(self, checkpoint: CheckpointState) -> None:
        fork = self._find_fork(checkpoint.block_number)
        log.warning(
            "reorg detected",
            extra={
                "fields": {
                    "checkpoint": checkpoint.block_number,
                    "fork": fork[0] if fork else self.start_block - 1,
                }
            },
        )
        self.rollback_to(fork)
        self.metrics.reorgs_total += 1
        self.metrics.rolled_back_blocks_total += checkpoint.block_number - (
            fork[0] if fork else self.start_block - 1
        )

    def _find_fork(self, below: int) -> tuple[int, str] | None:
        """The highest stored block below `below` that is still canonical (None: none is)."""
        with self.engine.connect() as conn:
            stored = conn.execute(
                select(BLOCKS.c.number, BLOCKS.c.hash)
                .where(BLOCKS.c.number < below)
                .order_by(BLOCKS.c.number.desc())
            ).all()
        for number, block_hash in stored:
            canonical = self.rpc.block(number)
            if canonical is not None and canonical.hash == block_hash:
                return number, block_hash
        return None

    def rollback_to(self, fork: tuple[int, str] | None) -> None:
        """Forget every block after `fork` (None: everything) and make its state the read models' state."""
        checkpoint = self.checkpoint()
        number = fork[0] if fork else self.start_block - 1
        self.acquire()
        try:
            with self.engine.begin() as conn:
                self.lease.guard(conn)
                conn.execute(delete(RAW).where(RAW.c.block_number > number))
                conn.execute(delete(BLOCKS).where(BLOCKS.c.number > number))
                # Writes answered from the dropped blocks: a retry must learn what the chain holds now.
                answers.reopen_above(conn, number)
                floor = checkpoint.journal_floor if checkpoint else None
                if fork is not None and floor is not None and number >= floor:
                    self.store.undo_to(conn, number)
                else:
                    self._replay(conn)
                    floor = None
                version = next_version(checkpoint)
                state = None if fork is None else CheckpointState(*fork, floor, version)
                # Every tree's key moves (slot 0): the undone slots' versions are not restored.
                write_slot_versions(conn, [0], version)
                self._write_checkpoint(conn, state)
        finally:
            self.store.discard()
            self._loaded = False

    def rebuild(self) -> int:
        """Recompute every read model from the stored raw events (after a handler change)."""
        return self._rewrite(self._replay)

    def rebuild_summaries(self) -> int:
        """Recompute the summary tables from the read models they sum (after reconcile found a drift);
        returns the rows written. Takes the lease: never beside a running indexer, which caches rows."""
        return self._rewrite(summary.rebuild)

    def rebuild_tiers(self) -> int:
        """Write every certificate's tier again from the lineage walk (after reconcile found one that
        differs); returns the rows written. Under the lease, like rebuild_summaries."""
        return self._rewrite(tiers.fill)

    def _rewrite(self, rewrite: Callable[[Connection], int]) -> int:
        """Run `rewrite` in one transaction under the lease, then move the data version on and drop the
        journal floor: the undo journal holds rows from before the rewrite, so deeper rollbacks replay."""
        self.acquire()
        try:
            with self.engine.begin() as conn:
                self.lease.guard(conn)
                count = rewrite(conn)
                checkpoint = self.checkpoint()
                if checkpoint is not None:
                    state = CheckpointState(
                        checkpoint.block_number, checkpoint.block_hash, None, next_version(checkpoint)
                    )
                    # A replay writes no slot versions (Store.flush): slot 0 moves every tree's key.
                    write_slot_versions(conn, [0], state.data_version)
                    self._write_checkpoint(conn, state)
        finally:
            self.store.discard()
            self._loaded = False
        return count

    def _replay(self, conn: Connection, page: int = 10_000) -> int:
        self.store.truncate(conn)
        self.store.begin(conn)
        count, after = 0, (-1, -1)
        while True:
            rows = (
                conn.execute(
                    select(RAW)
                    .where(
                        (RAW.c.block_number > after[0])
                        | ((RAW.c.block_number == after[0]) & (RAW.c.log_index > after[1]))
                    )
                    .order_by(RAW.c.block_number, RAW.c.log_index)
                    .limit(page)
                )
                .mappings()
                .all()
            )
            if not rows:
                break
            count += self._apply((_event_of(row) for row in rows), None)
            self.store.flush()
            after = (rows[-1]["block_number"], rows[-1]["log_index"])
        return count

    # -- loops -----------------------------------------------------------------------------------
    def catch_up(self, on_step: Callable[[StepResult], None] | None = None) -> int:
        """Index until the confirmed head as it was when each step started; returns events indexed."""
        total = 0
        while True:
            result = self.step()
            if on_step is not None:
                on_step(result)
            total += result.events
            if result.kind == "idle":
                return total

    def follow(
        self,
        poll_interval: float = 0.5,
        stop: threading.Event | None = None,
        on_step: Callable[[StepResult], None] | None = None,
    ) -> None:
        """Index forever (until `stop` is set), surviving node and database hiccups."""
        stop = stop or threading.Event()
        self.acquire()
        while not stop.is_set():
            try:
                result = self.step()
            except (ConnectionError, OSError, RpcError, OperationalError) as error:
                # Node or database unreachable for a moment: nothing was committed, try again. Data
                # errors (IntegrityError, MissingRowError) are bugs and stop the process instead.
                log.warning("indexer step failed, retrying", extra={"fields": {"error": str(error)}})
                stop.wait(max(poll_interval, 1.0))
                continue
            if on_step is not None:
                on_step(result)
            if result.kind == "idle":
                stop.wait(poll_interval)
        self.release()


def _raw_row(event: Event) -> dict[str, Any]:
    return {
        "block_hash": event.block_hash,
        "log_index": event.log_index,
        "block_number": event.block_number,
        "block_time": event.block_time,
        "tx_hash": event.tx_hash,
        "tx_index": event.tx_index,
        "contract": event.contract,
        "address": event.address,
        "event": event.event,
        "args": event.args,
    }


def _event_of(row: Any) -> Event:
    return Event(
        contract=row["contract"],
        event=row["event"],
        args=row["args"],
        block_number=row["block_number"],
        block_hash=row["block_hash"],
        log_index=row["log_index"],
        tx_hash=row["tx_hash"],
        tx_index=row["tx_index"],
        address=row["address"],
        block_time=row["block_time"],
    )
