"""The bank's work without curl, over HTTP against the real chain: credit lines (grant, adjust, freeze,
unfreeze), settlement money (mint, burn), claim, mark default, recourse and its collection.

Named to run after the other dashboard files that share the live chain: the default test moves the
chain's clock past a maturity and its grace period.
"""

from __future__ import annotations

import re

import httpx
from dashkit import Live, dashboard_sign_in

DAY = 86_400


def _signed_in(live: Live, who: str) -> httpx.Client:
    client = httpx.Client(base_url=live.url, timeout=120, follow_redirects=True)
    response = dashboard_sign_in(client, live.keys[who])
    assert response.status_code == 200, response.text
    return client


def _flash(html: str) -> str:
    match = re.search(r'<div class="flash flash-(\w+)"[^>]*>(.*?)</div>', html, re.S)
    assert match is not None, "the page shows no message"
    return f"{match.group(1)}: {match.group(2)}"


def _balance(live: Live, who: str) -> int:
    return int(live.platform.c.token.functions.balanceOf(live.address(who)).call())


def _travel(live: Live, days: int) -> None:
    """Move the chain's clock; a small mint then gives the indexer a block of that time (the pages'
    clock is the last indexed event's time when the chain is ahead of the wall clock)."""
    live.platform.increase_time(days * DAY)
    live.api("bank1", "/v1/settlement/mint", {"to": live.address("bank2"), "amount": 1})


def _line_row(html: str, line_id: int) -> str:
    return next(row for row in html.split("<tr") if f'data-line="{line_id}"' in row)


def _funded(live: Live, seller: str, token: int, amount: int, *, with_recourse: bool) -> int:
    """A financing request of `seller` to bank1 on `token`, quoted, accepted and funded (through the API)."""
    body = live.api(seller, "/v1/supplier/financing-requests", {
        "token_id": token, "amount": amount, "financier": live.address("bank1"),
        "with_recourse": with_recourse,
    })  # fmt: skip
    request_id = int(body["result"]["request_id"])
    live.api("bank1", f"/v1/financier/requests/{request_id}/quote", {"rate_bps": 500, "valid_hours": 24})
    quoted = live.platform.c.financing.functions.getRequest(request_id).call()
    terms = {"rate_bps": quoted[6], "price": quoted[9], "expiry": quoted[7]}
    live.api(seller, f"/v1/supplier/financing-requests/{request_id}/accept-quote", terms)
    live.api("bank1", f"/v1/financier/requests/{request_id}/fund")
    return request_id


def test_bank_credit_line_grant_adjust_freeze_unfreeze_in_the_dashboard(live: Live) -> None:
    bank, page = _signed_in(live, "bank1"), f"/dashboard/bank/{live.address('bank1')}"
    try:
        html = bank.get(page).text
        assert 'data-testid="grant-line"' in html and live.address("core2") in html
        html = bank.post(f"{page}/lines", data={
            "obligor": live.address("core2"), "limit": "2,000,000.00", "expiry": live.today(200),
        }).text  # fmt: skip
        assert _flash(html).startswith("ok: Granted"), _flash(html)
        line_id = max(int(n) for n in re.findall(r'data-line="(\d+)"', html))
        line = live.platform.c.credit_lines.functions.line(line_id).call()
        assert line[0] == live.address("bank1") and line[1] == live.address("core2")
        assert line[2] == 2_000_000_00  # the limit, in fen on chain, from yuan on the form
        assert "2,000,000.00" in _line_row(html, line_id)

        html = bank.post(f"{page}/lines/{line_id}/adjust", data={
            "limit": "3,500,000", "expiry": live.today(250),
        }).text  # fmt: skip
        assert _flash(html).startswith("ok: Credit line"), _flash(html)
        assert live.platform.c.credit_lines.functions.line(line_id).call()[2] == 3_500_000_00

        # Frozen: nothing drawn, so nothing can be issued on it; the adjust form offers the old limit back.
        html = bank.post(f"{page}/lines/{line_id}/freeze").text
        assert _flash(html).startswith("ok: Credit line"), _flash(html)
        assert live.platform.c.credit_lines.functions.available(line_id).call() == 0
        row = _line_row(html, line_id)
        assert 'data-testid="line-frozen"' in row and 'value="3,500,000.00"' in row and "Unfreeze" in row
        refused = bank.post(f"{page}/lines/{line_id}/freeze").text
        assert _flash(refused).startswith("error:") and "already frozen" in _flash(refused)

        html = bank.post(f"{page}/lines/{line_id}/adjust", data={
            "limit": "3,500,000.00", "expiry": live.today(250),
        }).text  # fmt: skip
        assert live.platform.c.credit_lines.functions.available(line_id).call() == 3_500_000_00
        assert 'data-testid="line-frozen"' not in _line_row(html, line_id)

        # A typo comes back as a sentence, nothing sent.
        html = bank.post(f"{page}/lines", data={
            "obligor": live.address("core2"), "limit": "abc", "expiry": live.today(200),
        }).text  # fmt: skip
        assert _flash(html).startswith("error: Limit:"), _flash(html)
    finally:
        bank.close()


def test_bank_line_actions_refuse_another_bank(live: Live, line_core1: int) -> None:
    # bank2 plays the attacker: bank1's page, and bank1's line through its own page.
    attacker = _signed_in(live, "bank2")
    try:
        theirs = f"/dashboard/bank/{live.address('bank1')}"
        for path in (f"{theirs}/lines/{line_core1}/freeze", f"{theirs}/money/burn"):
            assert attacker.post(path, data={"amount": "1"}).status_code == 403
        own = f"/dashboard/bank/{live.address('bank2')}"
        html = attacker.post(f"{own}/lines/{line_core1}/freeze").text
        assert _flash(html).startswith("error:") and "another financier" in _flash(html)
        assert live.platform.c.credit_lines.functions.available(line_core1).call() > 0
        # Not a settlement bank: no money form, and the action is refused.
        assert 'data-testid="mint"' not in attacker.get(own).text
        assert (
            attacker.post(f"{own}/money/mint", data={"to": live.address("bank2"), "amount": "1"}).status_code
            == 403
        )
    finally:
        attacker.close()


def test_settlement_bank_mints_and_burns_in_yuan(live: Live) -> None:
    bank, page = _signed_in(live, "bank1"), f"/dashboard/bank/{live.address('bank1')}"
    try:
        assert 'data-testid="mint"' in bank.get(page).text
        before = _balance(live, "supplier3")
        html = bank.post(
            f"{page}/money/mint", data={"to": live.address("supplier3"), "amount": "1,234.56"}
        ).text
        assert _flash(html).startswith("ok: Credited ¥1,234.56"), _flash(html)
        assert _balance(live, "supplier3") == before + 1_234_56

        own = _balance(live, "bank1")
        html = bank.post(f"{page}/money/burn", data={"amount": "100"}).text
        assert _flash(html).startswith("ok: Retired ¥100.00"), _flash(html)
        assert _balance(live, "bank1") == own - 100_00
    finally:
        bank.close()


def test_bank_claims_a_repaid_position_with_a_button(live: Live, line_core1: int) -> None:
    slot, token = live.issue("core1", "supplier1", face=200_000_00, line_id=line_core1, days=30)
    request_id = _funded(live, "supplier1", token, 200_000_00, with_recourse=False)
    live.api("core1", f"/v1/core/payables/{slot}/repay", {"amount": 200_000_00})
    bank, page = _signed_in(live, "bank1"), f"/dashboard/bank/{live.address('bank1')}"
    try:
        assert f"/claims/{token}" not in bank.get(page).text  # repaid early: claimable from maturity on
        _travel(live, 31)
        html = bank.get(page).text
        assert 'data-testid="claimable"' in html and f"/claims/{token}" in html, request_id
        before = _balance(live, "bank1")
        html = bank.post(f"{page}/claims/{token}").text
        assert (
            _flash(html)
            == f"ok: Claimed ¥200,000.00 on certificate T{token}: it is in your settlement balance."
        )
        assert _balance(live, "bank1") == before + 200_000_00
        assert f"/claims/{token}" not in html  # claimed: the button is gone
        # Claiming again changes nothing, and the chain's refusal is a sentence.
        again = bank.post(f"{page}/claims/{token}").text
        assert _flash(again).startswith("error:")
    finally:
        bank.close()


def test_bank_marks_default_exercises_and_collects_recourse(live: Live, line_core1: int) -> None:
    # supplier4 holds only the price when recourse comes: the debt is collected in part at once, the
    # rest after a deposit, with the Collect button. Other tests of the session pay supplier4 too:
    # what it holds now goes to bank2 first.
    held = _balance(live, "supplier4")
    if held:
        to_bank2 = live.platform.c.token.functions.transfer(live.address("bank2"), held)
        live.platform.transact(to_bank2, "supplier4")
        assert live.ctx.link.wait_for(live.platform.w3.eth.block_number, 60)
    assert _balance(live, "supplier4") == 0
    slot, token = live.issue("core1", "supplier4", face=100_000_00, line_id=line_core1, days=10)
    request_id = _funded(live, "supplier4", token, 100_000_00, with_recourse=True)
    bank, page = _signed_in(live, "bank1"), f"/dashboard/bank/{live.address('bank1')}"
    try:
        html = bank.get(f"{page}?book=inline").text
        assert f"/payables/{slot}/default" not in html  # not due yet: no default button
        _travel(live, 20)  # past maturity and the 7-day grace period, unpaid
        html = bank.get(f"{page}?book=inline").text
        assert f"/payables/{slot}/default" in html
        html = bank.post(f"{page}/payables/{slot}/default").text
        assert _flash(html).startswith(f"ok: Payable P{slot} marked defaulted"), _flash(html)

        html = bank.get(f"{page}?book=inline").text
        assert f"/requests/{request_id}/recourse" in html
        html = bank.post(f"{page}/requests/{request_id}/recourse").text
        assert _flash(html).startswith(f"ok: Recourse exercised on request {request_id}"), _flash(html)
        assert 'data-testid="recoursed"' in html and f"/recourse/{request_id}/collect" in html
        assert _balance(live, "supplier4") == 0  # all it had went to the debt; some is still owed

        live.api("bank1", "/v1/settlement/mint", {"to": live.address("supplier4"), "amount": 10_000_00})
        before = _balance(live, "bank1")
        html = bank.post(f"{page}/recourse/{request_id}/collect").text
        assert _flash(html).startswith("ok: Collected"), _flash(html)
        assert _balance(live, "bank1") > before
        again = bank.post(f"{page}/recourse/{request_id}/collect").text
        assert _flash(again).startswith("error:"), _flash(again)  # nothing owed any more: a sentence
    finally:
        bank.close()
