"""Bills events are the indexer's API: replayed with the documented carving rule they rebuild every record."""

from __future__ import annotations

from typing import Any

from billkit import BillKit, RangeStatus, RangeView

from tierflow.testing.chain import Platform

EVENTS = (
    "BillIssued",
    "BillCancelled",
    "BillAccepted",
    "BillReceived",
    "BillRejected",
    "BillEndorsed",
    "BillQuoted",
    "BillQuoteCancelled",
    "BillDiscounted",
    "BillPledged",
    "BillPledgeReleased",
    "BillPresented",
    "BillPaid",
    "BillDishonoured",
    "BillRecourseClaimed",
    "BillRecourseSettled",
)


def logs(tf: Platform, kit: BillKit, from_block: int) -> list[tuple[str, dict[str, Any]]]:
    """Every Bills event since `from_block`, in chain order."""
    found = []
    for name in EVENTS:
        for log in getattr(kit.bills.events, name)().get_logs(from_block=from_block):
            found.append(((log["blockNumber"], log["logIndex"]), name, dict(log["args"])))
    return [(name, args) for _, name, args in sorted(found, key=lambda item: item[0])]


def replay(events: list[tuple[str, dict[str, Any]]]) -> dict[int, RangeView]:
    """A minimal indexer: range records from events only (see the carving rule in IBills.sol)."""
    ranges: dict[int, RangeView] = {}

    def carve(
        from_id: int, new_id: int, holder: str, prev: int, status: RangeStatus, e: dict[str, Any]
    ) -> None:
        r = ranges[from_id]
        start, end, remainder = e["start"], e["end"], e["remainderRangeId"]
        ranges[new_id] = RangeView(new_id, holder, r.package_id, status, start, end, prev, 0)
        if (start, end) == (r.start, r.end):
            ranges[from_id] = RangeView(**{**r.__dict__, "status": RangeStatus.CLOSED})
        elif start == r.start:
            ranges[from_id] = RangeView(**{**r.__dict__, "start": end + 1})
        else:
            ranges[from_id] = RangeView(**{**r.__dict__, "end": start - 1})
            if remainder:
                ranges[remainder] = RangeView(
                    remainder, r.holder, r.package_id, RangeStatus.HELD, end + 1, r.end, r.prev, 0
                )

    def set_status(rid: int, status: RangeStatus) -> None:
        ranges[rid] = RangeView(**{**ranges[rid].__dict__, "status": status})

    for name, e in events:
        if name == "BillReceived":
            ranges[e["rangeId"]] = RangeView(
                e["rangeId"], e["payee"], e["packageId"], RangeStatus.HELD, 1, e["face"], 0, 0
            )
        elif name == "BillEndorsed":
            carve(e["fromRangeId"], e["newRangeId"], e["to"], e["fromRangeId"], RangeStatus.HELD, e)
        elif name == "BillDiscounted":
            carve(e["fromRangeId"], e["newRangeId"], e["financier"], e["fromRangeId"], RangeStatus.HELD, e)
        elif name == "BillPledged":
            if e["rangeId"] == e["fromRangeId"]:
                set_status(e["rangeId"], RangeStatus.PLEDGED)
            else:
                parent = ranges[e["fromRangeId"]]
                carve(e["fromRangeId"], e["rangeId"], parent.holder, parent.prev, RangeStatus.PLEDGED, e)
        elif name == "BillPledgeReleased":
            set_status(e["rangeId"], RangeStatus.HELD)
        elif name == "BillPresented":
            set_status(e["rangeId"], RangeStatus.PRESENTED)
        elif name == "BillPaid":
            set_status(e["rangeId"], RangeStatus.PAID)
        elif name == "BillDishonoured":
            set_status(e["rangeId"], RangeStatus.DISHONOURED)
        elif name == "BillRecourseSettled":
            old = ranges[e["fromRangeId"]]
            set_status(e["fromRangeId"], RangeStatus.CLOSED)
            ancestor = ancestors_of(ranges, old, e["obligor"])
            prev = ranges[ancestor].prev if ancestor else 0
            ranges[e["newRangeId"]] = RangeView(
                e["newRangeId"],
                e["obligor"],
                old.package_id,
                RangeStatus.DISHONOURED,
                old.start,
                old.end,
                prev,
                0,
            )
    return ranges


def ancestors_of(ranges: dict[int, RangeView], r: RangeView, obligor: str) -> int:
    """The obligor's earliest record in r's chain after the holder's own earliest place (0: drawer)."""
    found, rid = 0, r.prev
    while rid:
        a = ranges[rid]
        if a.holder == r.holder:
            found = 0
        elif a.holder == obligor:
            found = rid
        rid = a.prev
    return found


def test_events_replayed_rebuild_every_range_record(tf: Platform, kit: BillKit) -> None:
    start_block = tf.w3.eth.block_number + 1
    first_range = kit.bills.functions.nextRangeId().call()
    package_id, root = kit.live(face=1_000, drawer="core2")
    a = int(kit.endorse(root, 1, 300, "supplier2", "supplier1")["newRangeId"])
    middle = kit.endorse(a, 101, 200, "supplier3", "supplier2")  # middle cut: remainder record
    b = int(kit.discount(root, 301, 500, "supplier1", "bank1")["newRangeId"])
    c = int(kit.discount(b, 301, 350, "bank1", "bank2")["newRangeId"])  # rediscount, prefix
    pledged_part = int(kit.pledge(root, 901, 1_000, "supplier1", "bank2")["rangeId"])
    kit.tx(kit.bills.functions.releasePledge(pledged_part), "bank2")
    kit.pledge(middle["remainderRangeId"], 201, 300, "supplier2", "bank1")  # whole-range pledge
    cancelled_quote = kit.quote(root, 501, 600, "bank1")
    kit.tx(kit.bills.functions.cancelQuote(cancelled_quote), "bank1")
    rejected_invoices = kit.invoices()
    rejected = kit.issue(invoices=rejected_invoices)
    kit.accept(rejected)
    kit.tx(kit.bills.functions.reject(rejected, rejected_invoices), "supplier1")
    kit.mature(package_id)
    kit.present(c, "bank2")
    kit.pay(c)
    held_by_3 = int(middle["newRangeId"])
    kit.present(held_by_3, "supplier3")
    kit.dishonour(held_by_3)
    kit.claim(held_by_3, "supplier1", "supplier3")
    taken = kit.settle(held_by_3, "supplier1")
    kit.claim(taken, "core2", "supplier1")
    kit.settle(taken, "core2")

    indexed = replay(logs(tf, kit, start_block))
    on_chain = {rid: kit.range(rid) for rid in range(first_range, kit.bills.functions.nextRangeId().call())}
    assert len(on_chain) == 9  # root, 2 endorsed + remainder, 2 discounted, 1 pledged part, 2 recourse
    assert {rid: RangeView(**{**r.__dict__, "presented_at": 0}) for rid, r in on_chain.items()} == indexed
    kit.assert_covers(package_id)
