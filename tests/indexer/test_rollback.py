"""The undo journal: rolling back to any block gives exactly the state of a fresh run up to that block."""

from __future__ import annotations

import random
import shutil
from pathlib import Path

import pytest
from ixkit import ADDRESSES as A
from ixkit import ZERO, EventFactory, apply, dump, h32
from sqlalchemy.engine import Engine

from tierflow.chain.abi import Event
from tierflow.platform.db import make_engine
from tierflow.platform.indexer.store import Store

HOLDERS = [A["supplier1"], A["supplier2"], A["supplier3"], A["bank1"]]


def random_history(
    seed: int, blocks: int = 40, fork: int | None = None, branch_seed: int = 0
) -> list[list[Event]]:
    """Valid event sequences over `blocks` blocks: issues, splits, whole moves, locks, repayments,
    claims, cash transfers, suspensions, documents."""
    rnd = random.Random(seed)
    f = EventFactory()
    tokens: dict[int, dict[str, object]] = {}
    cash: dict[str, int] = {}
    suspended: set[str] = set()
    history: list[list[Event]] = []
    next_token, next_slot, next_doc = 1, 1, 1
    events: list[Event] = [
        f(
            "ParticipantRegistry:ParticipantRegistered",
            account=a,
            roles=2,
            entityHash=h32(i),
            operator=A["operator"],
        )
        for i, a in enumerate(HOLDERS)
    ]
    events.append(
        f(
            "CreditLines:CreditLineGranted",
            lineId=1,
            financier=A["bank1"],
            obligor=A["core1"],
            limit=10**30,
            expiry=2_000_000_000,
        )
    )
    history.append(events)
    for _ in range(blocks):
        f.next_block()
        if f.block == fork:
            rnd = random.Random(branch_seed)  # the other branch: same past, different future
        events = []
        for _ in range(rnd.randint(1, 5)):
            live = [t for t, v in tokens.items() if v["value"] > 1 and not v["locked"]]  # type: ignore[operator]
            choice = rnd.random()
            if choice < 0.15 or not live:
                face = rnd.randint(2, 10**21)
                events += [
                    f("CreditLines:CreditLineDrawn", lineId=1, amount=face, used=face),
                    f(
                        "Receivables:CertificateIssued",
                        slotId=next_slot,
                        tokenId=next_token,
                        obligor=A["core1"],
                        supplier=HOLDERS[0],
                        face=face,
                        maturity=1_900_000_000,
                        lineId=1,
                        invoiceHashes=[h32(next_doc)],
                    ),
                    f(
                        "DocumentRegistry:DocumentRegistered",
                        docHash=h32(next_doc),
                        asset=A["core2"],
                        assetId=next_slot,
                    ),
                    f("Receivables:CertificateAccepted", slotId=next_slot, supplier=HOLDERS[0]),
                ]
                tokens[next_token] = {"holder": HOLDERS[0], "value": face, "locked": False, "slot": next_slot}
                next_token, next_slot, next_doc = next_token + 1, next_slot + 1, next_doc + 1
            elif choice < 0.55:
                source = rnd.choice(live)
                token = tokens[source]
                value = rnd.randint(1, int(token["value"]) - 1)  # type: ignore[call-overload]
                to = rnd.choice(HOLDERS)
                events.append(
                    f(
                        "Receivables:CertificateSplit",
                        fromTokenId=source,
                        newTokenId=next_token,
                        to=to,
                        **{"from": token["holder"]},
                        value=value,
                        rootTokenId=1,
                    )
                )
                token["value"] = int(token["value"]) - value  # type: ignore[call-overload]
                tokens[next_token] = {"holder": to, "value": value, "locked": False, "slot": token["slot"]}
                next_token += 1
            elif choice < 0.7:
                source = rnd.choice(live)
                token = tokens[source]
                to = rnd.choice(HOLDERS)
                events.append(
                    f(
                        "Receivables:CertificateTransferred",
                        tokenId=source,
                        to=to,
                        value=token["value"],
                        **{"from": token["holder"]},
                    )
                )
                token["holder"] = to
            elif choice < 0.8:
                token_id = rnd.choice(list(tokens))
                token = tokens[token_id]
                key = (
                    "Receivables:CertificateUnlocked" if token["locked"] else "Receivables:CertificateLocked"
                )
                events.append(f(key, tokenId=token_id, ref=rnd.randint(1, 9)))
                token["locked"] = not token["locked"]
            elif choice < 0.9:
                to = rnd.choice(HOLDERS)
                amount = rnd.randint(1, 10**20)
                sender = rnd.choice([ZERO, *[h for h, v in cash.items() if v >= amount]])
                events.append(f("SettlementToken:Transfer", **{"from": sender}, to=to, value=amount))
                if sender != ZERO:
                    cash[sender] -= amount
                cash[to] = cash.get(to, 0) + amount
            else:
                who = rnd.choice(HOLDERS)
                key = "ParticipantReinstated" if who in suspended else "ParticipantSuspended"
                events.append(f(f"ParticipantRegistry:{key}", account=who, operator=A["operator"]))
                suspended ^= {who}
        history.append(events)
    return history


def _fresh(template: Path, directory: Path, name: str) -> Engine:
    path = directory / name
    shutil.copyfile(template, path)
    return make_engine(f"sqlite:///{path}")


def _windows(history: list[list[Event]], rnd: random.Random) -> list[list[Event]]:
    windows, i = [], 0
    while i < len(history):
        size = rnd.randint(1, 4)
        windows.append([event for block in history[i : i + size] for event in block])
        i += size
    return windows


@pytest.mark.parametrize("seed", range(2))
def test_undo_to_any_block_equals_a_fresh_run_to_that_block(
    engine: Engine, sqlite_template: Path, tmp_path: Path, seed: int
) -> None:
    history = random_history(seed)
    rnd = random.Random(seed)
    store = Store()
    for window in _windows(history, rnd):
        apply(engine, window, journal=True, store=store)
    last = history[-1][0].block_number
    # roll back in decreasing steps, each time comparing with a fresh run of the same prefix
    for target in sorted(rnd.sample(range(1, last), 3), reverse=True):
        with engine.begin() as conn:
            store.undo_to(conn, target)
        expected = _fresh(sqlite_template, tmp_path, f"expected-{target}.db")
        apply(
            expected,
            [e for block in history if block[0].block_number <= target for e in block],
            journal=False,
        )
        assert dump(engine, raw=False) == dump(expected, raw=False), f"rollback to {target}"
        expected.dispose()


@pytest.mark.parametrize("seed", [7])
def test_undo_then_new_branch_equals_a_fresh_run_of_the_new_branch(
    engine: Engine, sqlite_template: Path, tmp_path: Path, seed: int
) -> None:
    fork = 12
    old = random_history(seed, 30, fork=fork + 1, branch_seed=1)
    new = random_history(seed, 30, fork=fork + 1, branch_seed=2)
    assert old[:fork] == new[:fork] and old[fork:] != new[fork:]
    store = Store()
    for block in old:
        apply(engine, block, journal=True, store=store)
    with engine.begin() as conn:
        store.undo_to(conn, fork)
    for block in new[fork:]:
        apply(engine, block, journal=True, store=store)
    expected = _fresh(sqlite_template, tmp_path, "expected.db")
    apply(expected, [event for block in new for event in block], journal=False)
    assert dump(engine, raw=False) == dump(expected, raw=False)
    expected.dispose()
