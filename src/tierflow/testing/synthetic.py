"""Synthetic read-model rows (participants, lines, payables, certificates, requests) for tests and benchmarks.

The rows look like what the indexer writes, without a chain: fast to create in bulk (core INSERTs, not
ORM objects) so that a benchmark can fill a database with 100,000 positions in seconds.
"""

from __future__ import annotations

import hashlib
import random
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from eth_utils.address import to_checksum_address
from sqlalchemy import Table, func, inspect, text
from sqlalchemy import select as sa_select
from sqlalchemy.engine import Connection, Engine
from sqlmodel import col

from tierflow.chain.vocabulary import Role
from tierflow.platform.indexer import summary, tiers
from tierflow.platform.indexer.store import write_slot_versions
from tierflow.platform.migrate import upgrade
from tierflow.platform.models import Checkpoint
from tierflow.platform.models.bills import BillPackage, BillQuote, BillRange
from tierflow.platform.models.credit import CreditLine
from tierflow.platform.models.financing import FinancingRequest
from tierflow.platform.models.receivables import Certificate, Payable, Payout
from tierflow.platform.models.registry import Participant
from tierflow.platform.models.service import ApiKey, BillDiscountRequest, DirectoryParticipant
from tierflow.platform.security.crypto import hash_api_key

DAY = 86_400

# name -> (roles, legal name); addresses are derived from the name so no key derivation is needed.
PEOPLE: dict[str, tuple[int, str]] = {
    "operator": (0, "Tierflow Platform Operator"),
    "core1": (Role.CORE_ENTERPRISE, "Huaxin Motors Co., Ltd."),
    "core2": (Role.CORE_ENTERPRISE, "Dongfang Appliances Group"),
    "supplier1": (Role.SUPPLIER, "Jiangnan Steel Parts"),
    "supplier2": (Role.SUPPLIER, "Ningbo Precision Castings"),
    "supplier3": (Role.SUPPLIER, "Suzhou Wiring Harness"),
    "supplier4": (Role.SUPPLIER, "Wuxi Fasteners"),
    "bank1": (Role.FINANCIER | Role.SETTLEMENT_BANK, "Bank of Shanghai Pudong Branch"),
    "bank2": (Role.FINANCIER, "Zhejiang Commercial Factoring"),
    "auditor": (Role.AUDITOR, "Regional Supervision Office"),
}


def address_of(name: str) -> str:
    digest = hashlib.sha256(f"tierflow-synthetic:{name}".encode()).hexdigest()
    return str(to_checksum_address("0x" + digest[:40]))  # EIP-55, as the indexer stores addresses


def api_token(name: str) -> str:
    """A fixed, well-formed API key per synthetic participant (test data only)."""
    return f"tf_{_key_id(name)}_{hashlib.sha256(f'secret:{name}'.encode()).hexdigest()[:32]}"


def _key_id(name: str) -> str:
    return hashlib.sha256(f"kid:{name}".encode()).hexdigest()[:12]


@dataclass
class Seeded:
    addresses: dict[str, str]
    tokens: dict[str, str]
    counts: dict[str, int] = field(default_factory=dict)


def create_tables(engine: Engine) -> None:
    """The platform's schema through its migrations, indexes included (what the benchmark must measure)."""
    upgrade(engine)


def seed_people(engine: Engine, *, with_keys: bool = True, addresses: dict[str, str] | None = None) -> Seeded:
    """Directory entries, on-chain participant rows and (optionally) an API key per participant."""
    now = int(time.time())
    addresses = addresses or {name: address_of(name) for name in PEOPLE}
    directory = []
    onchain = []
    keys = []
    for name, (roles, legal_name) in PEOPLE.items():
        address = addresses[name]
        directory.append(
            {
                "address": address,
                "legal_name": legal_name,
                "legal_id": ("91310000" + name.upper().ljust(10, "0"))[:18],
                "contact": f"{name}@example.cn",
                "roles": int(roles),
                "is_operator": name == "operator",
                "status": "active",
                "custody": "custodial",
                "encrypted_key": None,
                "entity_hash": "0x" + hashlib.sha256(name.encode()).hexdigest(),
                "created_at": now,
            }
        )
        if roles:
            onchain.append(
                {
                    "address": address,
                    "roles": int(roles),
                    "status": "active",
                    "entity_hash": "0x" + hashlib.sha256(name.encode()).hexdigest(),
                    "registered_by": addresses["operator"],
                    "block_number": 1,
                    "updated_block": 1,
                }
            )
        secret = api_token(name).split("_", 2)[2]
        keys.append(
            {
                "key_id": _key_id(name),
                "address": address,
                "key_hash": hash_api_key(secret),
                "label": "synthetic",
                "created_at": now,
                "revoked_at": None,
            }
        )
    with engine.begin() as conn:
        conn.execute(DirectoryParticipant.__table__.insert(), directory)  # type: ignore[attr-defined]
        conn.execute(Participant.__table__.insert(), onchain)  # type: ignore[attr-defined]
        if with_keys:
            conn.execute(ApiKey.__table__.insert(), keys)  # type: ignore[attr-defined]
        conn.execute(
            Checkpoint.__table__.insert(),  # type: ignore[attr-defined]
            [
                {
                    "id": 1,
                    "chain_id": 31337,
                    "block_number": 1,
                    "block_hash": "0x" + "00" * 32,
                    "journal_floor": None,
                    "data_version": 1,
                }
            ],
        )
    return Seeded(addresses, {name: api_token(name) for name in PEOPLE})


def _insert(engine: Engine, model: Any, rows: list[dict[str, Any]], chunk: int = 20_000) -> None:
    table = model.__table__
    # Keep only the columns the model has today: the read models still evolve with the indexer.
    names = set(table.columns.keys())
    rows = [{k: v for k, v in row.items() if k in names} for row in rows]
    with engine.begin() as conn:
        for start in range(0, len(rows), chunk):
            conn.execute(table.insert(), rows[start : start + chunk])


def seed_book(
    engine: Engine,
    seeded: Seeded,
    *,
    requests: int = 40,
    positions: int = 60,
    payables: int = 20,
    supplier_holdings: int = 6,
    seed: int = 7,
) -> Seeded:
    """A plausible book around bank1: payables of core1/core2, open requests to bank1, funded positions.

    Token ids: 1..payables are the root tokens (held by the first supplier), then split-off tokens.
    """
    rng = random.Random(seed)
    a = seeded.addresses
    now = int(time.time())
    obligors = [a["core1"], a["core2"]]
    suppliers = [a["supplier1"], a["supplier2"], a["supplier3"], a["supplier4"]]
    payable_rows = []
    for slot in range(1, payables + 1):
        maturity = (now // DAY + rng.randint(-10, 170)) * DAY
        status = "Accepted" if maturity > now else rng.choice(["Accepted", "Defaulted", "Repaid"])
        payable_rows.append(
            {
                "slot_id": slot,
                "obligor": obligors[slot % 2],
                "supplier": suppliers[0],
                "line_id": 1 + slot % 2,
                "face": 10**14,  # 1,000,000,000,000.00 yuan: room for every split below
                "maturity": maturity,
                "issued_at": now - 30 * DAY,
                "status": status,
                "paid_in": 10**14 if status == "Repaid" else 0,
                "paid_out": 0,
                "unpaid_at_default": 10**14 if status == "Defaulted" else None,
                "root_token_id": slot,
                "token_count": 1,
                "block_number": 2,
                "updated_block": 2,
            }
        )
    certificates = []
    for slot in range(1, payables + 1):
        certificates.append(_token(slot, slot, suppliers[0], 10**13, None, 0))
    token_id = payables
    request_rows = []

    def child(holder: str, value: int, depth: int, status: str = "active") -> int:
        nonlocal token_id
        token_id += 1
        slot = rng.randint(1, payables)
        certificates.append(_token(token_id, slot, holder, value, slot, depth, status))
        return token_id

    for i in range(supplier_holdings):
        child(suppliers[i % 4], rng.randint(1, 5_000) * 100_000, 1 + i % 3)
    for i in range(requests):
        value = rng.randint(10, 50_000) * 10_000
        token = child(suppliers[i % 4], value, 1 + i % 3, "locked")
        certificates[-1]["locked"] = True
        status = ["Requested", "Quoted", "Accepted"][i % 3]
        rate = 380 + (i % 7) * 10
        discount = value * rate * 90 // 3_600_000
        request_rows.append(
            _request(
                i + 1, token, suppliers[i % 4], a["bank1"], value, status, rate, discount, now, i % 4 == 0
            )
        )
    for i in range(positions):
        value = rng.randint(10, 80_000) * 10_000
        token = child(a["bank1"], value, 1 + i % 3)
        rate = 400 + (i % 5) * 15
        discount = value * rate * 60 // 3_600_000
        request_rows.append(
            _request(
                requests + i + 1,
                token,
                suppliers[i % 4],
                a["bank1"],
                value,
                "Funded",
                rate,
                discount,
                now,
                i % 3 == 0,
            )
        )
    lines = [
        _line(1, a["bank1"], a["core2"], 5 * 10**14, now),
        _line(2, a["bank1"], a["core1"], 8 * 10**14, now),
        _line(3, a["bank2"], a["core1"], 2 * 10**14, now),
    ]
    payouts = [
        {
            "block_number": 3,
            "log_index": i,
            "tx_hash": "0x" + hashlib.sha256(f"payout{i}".encode()).hexdigest(),
            "token_id": 1,
            "slot_id": 1,
            "holder": suppliers[0],
            "amount": 123_456_78,
        }
        for i in range(2)
    ]
    _insert(engine, Payable, payable_rows)
    _insert(engine, Certificate, certificates)
    fill_tiers(engine, range(1, payables + 1))
    _insert(engine, FinancingRequest, request_rows)
    _insert(engine, CreditLine, lines)
    _insert(engine, Payout, payouts)
    summarise(engine)
    seeded.counts = {
        "payables": len(payable_rows),
        "certificates": len(certificates),
        "requests": len(request_rows),
        "open_requests": requests,
        "positions": positions,
    }
    return seeded


def _token(
    token_id: int, slot: int, holder: str, value: int, parent: int | None, depth: int, status: str = "active"
) -> dict[str, Any]:
    return {
        "token_id": token_id,
        "slot_id": slot,
        "holder": holder,
        "value": value,
        "initial_value": value,
        "status": status,
        "locked": False,
        "lock_ref": None,
        "parent_id": parent,
        "root_id": slot,
        "depth": depth,
        "block_number": 2,
        "updated_block": 2,
    }


def _request(
    request_id: int,
    token_id: int,
    seller: str,
    financier: str,
    amount: int,
    status: str,
    rate: int,
    discount: int,
    now: int,
    recourse: bool,
) -> dict[str, Any]:
    quoted = status != "Requested"
    return {
        "request_id": request_id,
        "token_id": token_id,
        "seller": seller,
        "financier": financier,
        "amount": amount,
        "with_recourse": recourse,
        "status": status,
        "rate_bps": rate if quoted else None,
        "quote_expiry": now + DAY if quoted else None,
        "discount": discount if quoted else None,
        "price": amount - discount if quoted else None,
        "funded_block": 3 if status == "Funded" else None,
        "cancelled_by": None,
        "block_number": 2,
        "updated_block": 2,
    }


def _line(line_id: int, financier: str, obligor: str, limit: int, now: int) -> dict[str, Any]:
    used = limit // 3
    return {
        "line_id": line_id,
        "financier": financier,
        "obligor": obligor,
        "limit": limit,
        "used": used,
        "available": limit - used,
        "expiry": now + 365 * DAY,
        "block_number": 1,
        "updated_block": 1,
    }


def seed_tree(engine: Engine, seeded: Seeded, *, slot_id: int, tokens: int, seed: int = 11) -> int:
    """One payable whose root certificate was split `tokens - 1` times down the tiers; returns its root id.

    Each split halves part of a random earlier token, so values stay exact and sum to the face.
    """
    rng = random.Random(seed)
    a = seeded.addresses
    now = int(time.time())
    with engine.connect() as conn:
        first = int(conn.execute(sa_select(func.max(col(Certificate.token_id)))).scalar() or 0) + 1
    holders = [a["supplier1"], a["supplier2"], a["supplier3"], a["supplier4"], a["bank1"], a["bank2"]]
    face = 50_000_000_00  # 50,000,000.00 yuan
    nodes: list[dict[str, Any]] = [_token(first, slot_id, a["supplier1"], face, None, 0)]
    nodes[0]["root_id"] = first
    for i in range(1, tokens):
        parent = rng.choice([n for n in nodes if n["value"] >= 2]) if i > 1 else nodes[0]
        part = parent["value"] // 2
        parent["value"] -= part
        child = _token(first + i, slot_id, rng.choice(holders), part, parent["token_id"], parent["depth"] + 1)
        child["root_id"] = first
        nodes.append(child)
    for node in nodes:
        node["initial_value"] = node["value"]
    payable = {
        "slot_id": slot_id,
        "obligor": a["core1"],
        "supplier": a["supplier1"],
        "line_id": 2,
        "face": face,
        "maturity": (now // DAY + 75) * DAY,
        "issued_at": now - 20 * DAY,
        "status": "Accepted",
        "paid_in": 0,
        "paid_out": 0,
        "unpaid_at_default": None,
        "root_token_id": first,
        "block_number": 2,
        "updated_block": 2,
    }
    _insert(engine, Payable, [payable])
    _insert(engine, Certificate, nodes)
    fill_tiers(engine, [slot_id])
    summarise(engine)
    return first


def _numbers(engine: Engine, count: int) -> str:
    """A CTE `n(i)` of 0 .. count-1 (64-bit), generated by the database itself (no rows cross the driver)."""
    if engine.dialect.name == "postgresql":
        return f"WITH n(i) AS (SELECT CAST(generate_series(0, {int(count) - 1}) AS BIGINT))"
    return f"WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i + 1 < {int(count)})"


def _fen_sql(engine: Engine, expression: str) -> str:
    """`expression` (an integer) as the Fen column stores it: NUMERIC on PostgreSQL, 78 zero-padded
    digits on SQLite (tierflow.platform.db.Fen)."""
    if engine.dialect.name == "postgresql":
        return f"CAST({expression} AS NUMERIC(78, 0))"
    return f"printf('%078d', {expression})"


def _choice_sql(expression: str, values: list[str]) -> str:
    cases = " ".join(f"WHEN {i} THEN '{value}'" for i, value in enumerate(values))
    return f"CASE ({expression}) % {len(values)} {cases} END"


@contextmanager
def _indexes_rebuilt(conn: Connection, table: Table) -> Iterator[None]:
    """Drop `table`'s secondary indexes for a bulk load and build them again after it.

    Inserting a million rows into a table with nine secondary indexes updates each index row by row in
    random key order; building an index once over the loaded rows sorts them (SQLite and PostgreSQL
    alike), several times faster. The indexes come back as the schema declares them (same names and
    columns), in the same transaction.
    """
    present = {ix["name"]: ix["column_names"] for ix in inspect(conn).get_indexes(table.name)}
    # Only those the database has exactly as declared: a rebuilt index is always the one dropped.
    declared = [ix for ix in table.indexes if present.get(ix.name) == [c.name for c in ix.columns]]
    for index in declared:
        index.drop(conn)
    yield
    for index in declared:
        index.create(conn)


def seed_bulk(
    engine: Engine,
    seeded: Seeded,
    *,
    certificates: int,
    payables: int,
    first_slot: int,
    first_token: int,
    bank_every: int = 10,
) -> dict[str, int]:
    """`certificates` live certificates over `payables` payables, written by INSERT … SELECT in SQL.

    For the million-certificate benchmarks and the export/pagination tests: one statement per table, so
    1,000,000 certificates take seconds, not the minutes of rows built in Python. Certificate i (from 0)
    is token `first_token + i` of payable `first_slot + i % payables`; every `bank_every`-th one is held
    by bank1 (its book), the others by the four suppliers in turn. Values are 1,000.00-10,999.00 yuan.
    Returns the id ranges: {"first_slot", "last_slot", "first_token", "last_token"}.
    """
    a = seeded.addresses
    now = int(time.time())
    base_day = now // DAY
    suppliers = [a["supplier1"], a["supplier2"], a["supplier3"], a["supplier4"]]

    def holder_of(i: str) -> str:
        others = _choice_sql(f"{i} / {bank_every}", suppliers)
        return f"CASE WHEN {i} % {bank_every} = 0 THEN '{a['bank1']}' ELSE {others} END"

    holder = holder_of("i")
    # The tier the lineage walk gives (indexer.tiers), without movements: a root 1 (None if a financier
    # holds it); a certificate under it the root's tier if the root's holder holds it, None if a
    # financier does, else one more than the suppliers on the path (the root's holder, if a supplier).
    with engine.connect() as conn:
        roles = conn.execute(
            sa_select(col(Participant.roles)).where(col(Participant.address) == a["bank1"])
        ).scalar_one_or_none()
    bank_finances = roles is not None and bool(int(roles) & int(Role.FINANCIER))
    root = f"(i % {payables})"
    held_by_bank = f"i % {bank_every} = 0" if bank_finances else "1 = 0"
    root_by_bank = f"{root} % {bank_every} = 0" if bank_finances else "1 = 0"
    tier = (
        f"CASE WHEN i < {payables} THEN (CASE WHEN {held_by_bank} THEN NULL ELSE 1 END) "
        f"WHEN ({holder}) = ({holder_of(root)}) THEN (CASE WHEN {root_by_bank} THEN NULL ELSE 1 END) "
        f"WHEN {held_by_bank} THEN NULL WHEN {root_by_bank} THEN 1 ELSE 2 END"
    )
    value = "(100000 + (i * 7919) % 1000000) * 100"
    maturity = f"CAST({base_day} + 5 + i % 180 AS BIGINT) * {DAY}"  # 64-bit: int4 overflows in 2038
    with engine.begin() as conn, _indexes_rebuilt(conn, Certificate.__table__):  # type: ignore[attr-defined]
        conn.execute(
            text(
                f"""{_numbers(engine, payables)}
            INSERT INTO payable (slot_id, obligor, supplier, line_id, face, maturity, issued_at, status,
                                 paid_in, paid_out, unpaid_at_default, root_token_id, block_number,
                                 updated_block)
            SELECT {first_slot} + i, {_choice_sql("i", [a["core1"], a["core2"]])}, '{suppliers[0]}',
                   1 + i % 2, {_fen_sql(engine, str(10**15))}, {maturity},
                   {now - 30 * DAY}, 'Accepted', {_fen_sql(engine, "0")}, {_fen_sql(engine, "0")}, NULL,
                   {first_token} + i, 2, 2
            FROM n"""
            )
        )
        conn.execute(
            text(
                f"""{_numbers(engine, certificates)}
            INSERT INTO certificate (token_id, slot_id, holder, value, initial_value, status, locked,
                                     lock_ref, parent_id, root_id, depth, block_number, updated_block,
                                     tier)
            SELECT {first_token} + i, {first_slot} + i % {payables}, {holder},
                   {_fen_sql(engine, value)}, {_fen_sql(engine, value)}, 'active', FALSE, NULL,
                   CASE WHEN i < {payables} THEN NULL ELSE {first_token} + i % {payables} END,
                   {first_token} + i % {payables}, CASE WHEN i < {payables} THEN 0 ELSE 1 END, 2, 2,
                   {tier}
            FROM n"""
            )
        )
        # The indexer's position summary of these new payables, summed in SQL (values fit in 64 bits).
        total = (
            "SUM(CAST(value AS BIGINT))"
            if engine.dialect.name == "postgresql"
            else "SUM(CAST(value AS INTEGER))"
        )
        conn.execute(
            text(
                f"""INSERT INTO position (holder, slot_id, depth, tokens, value, block_number, updated_block)
            SELECT holder, slot_id, depth, COUNT(*), {_fen_sql(engine, total)}, 2, 2 FROM certificate
            WHERE slot_id BETWEEN {first_slot} AND {first_slot + payables - 1}
            GROUP BY holder, slot_id, depth"""
            )
        )
    return {
        "first_slot": first_slot,
        "last_slot": first_slot + payables - 1,
        "first_token": first_token,
        "last_token": first_token + certificates - 1,
    }


def seed_bills(engine: Engine, seeded: Seeded, *, packages: int, first: int = 1) -> None:
    """`packages` accepted bills drawn by core1 on bank1 to supplier1, ids `first`…; each one range of
    supplier2 (every 9th Closed, every 7th Pledged) and, for each live range, a discount request to bank1
    (every 5th quote accepted, every 6th cancelled, every 4th quoted and open). Rows only, no chain."""
    a, now = seeded.addresses, int(time.time())
    bills, ranges, requests, quotes = [], [], [], []
    for n in range(first, first + packages):
        bills.append({
            "package_id": n, "drawer": a["core1"], "acceptor": a["bank1"], "payee": a["supplier1"],
            "face": 10_000, "maturity": now + 90 * DAY, "splittable": True, "not_transferable": False,
            "bank_acceptance": True, "status": "Received", "root_range_id": n, "invoice_hashes": [],
            "block_number": 2, "updated_block": 2,
        })  # fmt: skip
        status = "Closed" if n % 9 == 0 else "Pledged" if n % 7 == 0 else "Held"
        ranges.append({
            "range_id": n, "package_id": n, "holder": a["supplier2"], "start": 1, "end": 10_000,
            "status": status, "prev": 0, "depth": 0, "origin": "received",
            "pledgee": a["bank1"] if status == "Pledged" else None, "block_number": 2, "updated_block": 2,
        })  # fmt: skip
        if status == "Closed":
            continue
        quote = None
        if n % 5 == 0 or n % 6 == 0 or n % 4 == 0:
            quote = n
            quote_status = "accepted" if n % 5 == 0 else "cancelled" if n % 6 == 0 else "open"
            quotes.append({
                "quote_id": n, "range_id": n, "financier": a["bank1"], "start": 1, "end": 10_000,
                "rate_bps": 300, "expiry": now + DAY, "status": quote_status, "block_number": 2,
                "updated_block": 2,
            })  # fmt: skip
        requests.append({
            "request_id": n, "range_id": n, "package_id": n, "seller": a["supplier2"],
            "financier": a["bank1"], "start": 1, "end": 10_000,
            "status": "open" if quote is None else "quoted", "quote_id": quote, "created_at": now,
        })  # fmt: skip
    _insert(engine, BillPackage, bills)
    _insert(engine, BillRange, ranges)
    _insert(engine, BillQuote, quotes)
    _insert(engine, BillDiscountRequest, requests)


def fill_tiers(engine: Engine, slots: Iterable[int]) -> None:
    """Write the certificates' tiers of payables `slots` as the indexer keeps them (indexer.tiers), after
    rows were written or changed behind its back."""
    with engine.begin() as conn:
        tiers.fill(conn, slots)


def summarise(engine: Engine) -> None:
    """Recompute the summary tables from the rows (what the indexer keeps up to date as it writes them)."""
    with engine.begin() as conn:
        summary.rebuild(conn, block_number=2)


def add_certificates(engine: Engine, *, holder: str, slot_id: int, token_ids: list[int], value: int) -> None:
    """More certificates of an existing payable (what new splits look like to the readers)."""
    _insert(engine, Certificate, [_token(t, slot_id, holder, value, None, 1) for t in token_ids])
    fill_tiers(engine, [slot_id])
    summarise(engine)


def add_requests(
    engine: Engine, *, token_id: int, seller: str, financier: str, request_ids: list[int], amount: int
) -> None:
    """More open financing requests (status Requested) on an existing certificate."""
    now = int(time.time())
    rows = [
        _request(r, token_id, seller, financier, amount, "Requested", 0, 0, now, False) for r in request_ids
    ]
    _insert(engine, FinancingRequest, rows)
    summarise(engine)


def touch(engine: Engine, slots: Iterable[int] = ()) -> int:
    """Move the data version on, as the indexer does in the transaction that writes rows, and write it as
    the version of `slots` (models.SlotVersion; 0: every tree), as a window that changed them does.
    Returns the new data version."""
    table = Checkpoint.__table__  # type: ignore[attr-defined]
    with engine.begin() as conn:
        conn.execute(table.update().values(data_version=table.c.data_version + 1))
        version = int(conn.execute(sa_select(table.c.data_version)).scalar_one())
        write_slot_versions(conn, slots, version)
    return version


# The payouts due as plain SQL, for tests to compare the service's keyset pages with (:now, unix s).
PAYOUTS_DUE_SQL = (
    "SELECT slot_id FROM payable p WHERE maturity <= :now AND paid_in > paid_out AND EXISTS (SELECT 1 FROM "
    "certificate c WHERE c.slot_id = p.slot_id AND c.value > 0 AND c.status = 'active') "
    "ORDER BY maturity, slot_id"
)


def add_due_payables(
    engine: Engine, *, obligor: str, holder: str, slot_ids: list[int], maturity: int, first_token: int
) -> None:
    """Matured payables repaid in full and not yet paid out, one live token each (the operator's payouts
    due): four at a time share a maturity day, so a page boundary falls inside a run of equal maturities."""
    payables = [
        {"slot_id": slot, "obligor": obligor, "supplier": holder, "line_id": 1, "face": 10**6,
         "maturity": maturity + (i // 4) * DAY, "issued_at": maturity - 30 * DAY, "status": "Accepted",
         "paid_in": 10**6, "paid_out": 0, "unpaid_at_default": None, "root_token_id": first_token + i,
         "token_count": 1, "block_number": 2, "updated_block": 2}
        for i, slot in enumerate(slot_ids)
    ]  # fmt: skip
    _insert(engine, Payable, payables)
    tokens = [_token(first_token + i, slot, holder, 10**6, None, 0) for i, slot in enumerate(slot_ids)]
    _insert(engine, Certificate, tokens)
