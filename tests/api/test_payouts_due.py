"""Payouts due: a repaid, matured payable with unclaimed holders is listed, and one push pays them all."""

from __future__ import annotations

from apikit import Api
from sqlmodel import Session

from tierflow.platform.services import payouts_due


def _balance(api: Api, who: str) -> int:
    return int(api.get(who, "/v1/settlement/balance").json()["balance"])


def test_payouts_due_lists_repaid_matured_payables_and_push_all_pays_their_holders(funded: Api) -> None:
    api = funded
    line = api.credit_line("bank1", "core1")
    slot, _ = api.issue("core1", "supplier1", 70_000, line, days=2)
    api.ok("core1", f"/v1/core/payables/{slot}/repay", {"amount": 70_000})
    with Session(api.ctx.engine) as session:
        assert slot not in [
            row.slot_id for row in payouts_due.due(session, api.platform.now())
        ]  # not matured
    api.platform.increase_time(3 * 86_400)
    now = api.platform.now()
    with Session(api.ctx.engine) as session:
        due = {row.slot_id: row for row in payouts_due.due(session, now)}
    assert slot in due and due[slot].due == 70_000 and len(due[slot].token_ids) == 1
    before = _balance(api, "supplier1")
    with Session(api.ctx.engine) as session:
        results = payouts_due.push_all(ctx=api.ctx, session=session, now=now)
    assert results and all(r.status == "executed" for r in results)
    assert api.ctx.link.wait_for(api.platform.w3.eth.block_number, 30)
    assert _balance(api, "supplier1") >= before + 70_000
    with Session(api.ctx.engine) as session:
        assert slot not in [row.slot_id for row in payouts_due.due(session, api.platform.now())]
