"""The bank's work without curl, over HTTP against the real chain: credit lines (grant, adjust, freeze,
unfreeze), settlement money (mint, burn), claim, mark default, recourse and its collection.

Named to run after the other dashboard files that share the live chain: the default test moves the
chain's clock past a maturity and its grace period.
"""

from __future__ import annotations

import re

from dashkit import Live, client_of, flash_of

from tierflow.platform.dashboard import format as fmt
from tierflow.platform.services.seed import DEMO_NAMES

DAY = 86_400


def _balance(live: Live, who: str) -> int:
    return int(live.platform.c.token.functions.balanceOf(live.address(who)).call())


def _travel(live: Live, days: int) -> None:
    """Move the chain's clock; a small mint then gives the indexer a block of that time (the pages'
    clock is the last indexed event's time when the chain is ahead of the wall clock)."""
    live.platform.increase_time(days * DAY)
    live.api("bank1", "/v1/settlement/mint", {"to": live.address("bank2"), "amount": 1})


def _line_row(html: str, line_id: int) -> str:
    return next(row for row in html.split("<tr") if f'data-line="{line_id}"' in row)


def test_bank_credit_line_grant_adjust_freeze_unfreeze_in_the_dashboard(live: Live) -> None:
    bank, page = client_of(live, "bank1"), f"/dashboard/bank/{live.address('bank1')}"
    try:
        html = bank.get(page).text
        assert 'data-testid="grant-line"' in html and live.address("core2") in html
        html = bank.post(f"{page}/lines", data={
            "obligor": live.address("core2"), "limit": "2,000,000.00", "expiry": live.today(200),
        }).text  # fmt: skip
        assert flash_of(html).startswith("ok: Granted"), flash_of(html)
        line_id = max(int(n) for n in re.findall(r'data-line="(\d+)"', html))
        line = live.platform.c.credit_lines.functions.line(line_id).call()
        assert line[0] == live.address("bank1") and line[1] == live.address("core2")
        assert line[2] == 2_000_000_00  # the limit, in fen on chain, from yuan on the form
        assert "2,000,000.00" in _line_row(html, line_id)

        html = bank.post(f"{page}/lines/{line_id}/adjust", data={
            "limit": "3,500,000", "expiry": live.today(250),
        }).text  # fmt: skip
        assert flash_of(html).startswith("ok: Credit line"), flash_of(html)
        assert live.platform.c.credit_lines.functions.line(line_id).call()[2] == 3_500_000_00

        # Frozen: nothing drawn, so nothing can be issued on it; the adjust form offers the old limit back.
        confirm = bank.post(f"{page}/lines/{line_id}/freeze").text
        rows = _confirm_rows(confirm)
        assert rows["Limit"] == "¥3,500,000.00 → ¥0.00"
        assert rows["Core enterprise"] == "Shenzhen Bright Electronics Holdings"
        assert live.platform.c.credit_lines.functions.available(line_id).call() == 3_500_000_00  # not yet
        html = bank.post(f"{page}/lines/{line_id}/freeze", data={"confirmed": "yes"}).text
        assert flash_of(html).startswith("ok: Credit line"), flash_of(html)
        assert live.platform.c.credit_lines.functions.available(line_id).call() == 0
        row = _line_row(html, line_id)
        assert 'data-testid="line-frozen"' in row and 'value="3,500,000.00"' in row and "Unfreeze" in row
        refused = bank.post(f"{page}/lines/{line_id}/freeze", data={"confirmed": "yes"}).text
        assert flash_of(refused).startswith("error:") and "already frozen" in flash_of(refused)

        html = bank.post(f"{page}/lines/{line_id}/adjust", data={
            "limit": "3,500,000.00", "expiry": live.today(250),
        }).text  # fmt: skip
        assert live.platform.c.credit_lines.functions.available(line_id).call() == 3_500_000_00
        assert 'data-testid="line-frozen"' not in _line_row(html, line_id)

        # A typo comes back as a sentence, nothing sent.
        html = bank.post(f"{page}/lines", data={
            "obligor": live.address("core2"), "limit": "abc", "expiry": live.today(200),
        }).text  # fmt: skip
        assert flash_of(html).startswith("error: Limit:"), flash_of(html)
    finally:
        bank.close()


def test_bank_line_actions_refuse_another_bank(live: Live, line_core1: int) -> None:
    # bank2 plays the attacker: bank1's page, and bank1's line through its own page.
    attacker = client_of(live, "bank2")
    try:
        theirs = f"/dashboard/bank/{live.address('bank1')}"
        for path in (f"{theirs}/lines/{line_core1}/freeze", f"{theirs}/money/burn"):
            assert attacker.post(path, data={"amount": "1"}).status_code == 403
        own = f"/dashboard/bank/{live.address('bank2')}"
        html = attacker.post(f"{own}/lines/{line_core1}/freeze").text  # no confirmation page for it
        assert flash_of(html).startswith("error: Credit line") and "not one of yours" in flash_of(html)
        html = attacker.post(f"{own}/lines/{line_core1}/freeze", data={"confirmed": "yes"}).text
        assert flash_of(html).startswith("error:")
        assert f"was granted by {DEMO_NAMES['bank1']}, not by you" in flash_of(html)
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
    bank, page = client_of(live, "bank1"), f"/dashboard/bank/{live.address('bank1')}"
    try:
        assert 'data-testid="mint"' in bank.get(page).text
        before = _balance(live, "supplier3")
        html = bank.post(
            f"{page}/money/mint", data={"to": live.address("supplier3"), "amount": "1,234.56"}
        ).text
        assert flash_of(html).startswith("ok: Credited ¥1,234.56"), flash_of(html)
        assert _balance(live, "supplier3") == before + 1_234_56

        own = _balance(live, "bank1")
        rows = _confirm_rows(bank.post(f"{page}/money/burn", data={"amount": "100"}).text)
        assert rows["Your settlement balance"] == f"¥{fmt.yuan(own)} → ¥{fmt.yuan(own - 100_00)}"
        assert _balance(live, "bank1") == own
        html = bank.post(f"{page}/money/burn", data={"amount": "100", "confirmed": "yes"}).text
        assert flash_of(html).startswith("ok: Retired ¥100.00"), flash_of(html)
        assert _balance(live, "bank1") == own - 100_00
    finally:
        bank.close()


def test_bank_claims_a_repaid_position_with_a_button(live: Live, line_core1: int) -> None:
    slot, token = live.issue("core1", "supplier1", face=200_000_00, line_id=line_core1, days=30)
    request_id = live.funded("supplier1", "bank1", token, 200_000_00)
    live.api("core1", f"/v1/core/payables/{slot}/repay", {"amount": 200_000_00})
    bank, page = client_of(live, "bank1"), f"/dashboard/bank/{live.address('bank1')}"
    try:
        assert f"/claims/{token}" not in bank.get(page).text  # repaid early: claimable from maturity on
        _travel(live, 31)
        html = bank.get(page).text
        assert 'data-testid="claimable"' in html and f"/claims/{token}" in html, request_id
        before = _balance(live, "bank1")
        # Claim moves money: a page first says who pays whom how much; nothing reaches the chain yet.
        rows = _confirm_rows(bank.post(f"{page}/claims/{token}").text)
        assert rows["Who pays whom"] == (
            "Hangzhou Grand Motors Group pays Bank of Tierflow (settlement bank) ¥200,000.00, out of its "
            "repayment held on the platform"
        ), rows
        assert rows["Repaid by the obligor"] == "¥200,000.00 of ¥200,000.00"
        assert rows["Your settlement balance"] == f"¥{fmt.yuan(before)} → ¥{fmt.yuan(before + 200_000_00)}"
        assert _balance(live, "bank1") == before  # not claimed before Confirm
        # Another holder's certificate: no page offers its money to the bank, and a forged Confirm is refused.
        _, theirs = live.issue("core1", "supplier1", face=1_000_00, line_id=line_core1, days=60)
        refused = bank.post(f"{page}/claims/{theirs}").text
        assert (
            flash_of(refused)
            == f"error: Certificate T{theirs} is not one of yours to claim on; reload the page."
        )
        refused = bank.post(f"{page}/claims/{theirs}", data={"confirmed": "yes"}).text
        assert flash_of(refused).startswith("error:") and _balance(live, "bank1") == before
        html = bank.post(f"{page}/claims/{token}", data={"confirmed": "yes"}).text
        assert (
            flash_of(html)
            == f"ok: Claimed ¥200,000.00 on certificate T{token}: it is in your settlement balance."
        )
        assert _balance(live, "bank1") == before + 200_000_00
        assert f"/claims/{token}" not in html  # claimed: the button is gone
        # Closed: what was paid and received, from the indexed events, and the yield realised.
        deal = (
            html.split('data-testid="closed"', 1)[1]
            .split(f'data-request="{request_id}"', 1)[1]
            .split("</tr>")[0]
        )
        price = int(live.platform.c.financing.functions.getRequest(request_id).call()[9])
        assert fmt.yuan(price) in deal and "200,000.00" in deal
        assert 'data-testid="closed-kpis"' in html
        # Claiming again changes nothing: no page offers it, and the chain's refusal is a sentence.
        again = bank.post(f"{page}/claims/{token}").text
        assert (
            flash_of(again) == f"error: Certificate T{token} is paid out in full: nothing is left to claim."
        )
        again = bank.post(f"{page}/claims/{token}", data={"confirmed": "yes"}).text
        assert flash_of(again).startswith("error:")
        assert _balance(live, "bank1") == before + 200_000_00
    finally:
        bank.close()


def test_bank_marks_default_exercises_and_collects_recourse(live: Live, line_core1: int) -> None:
    # The discount (100% a year over 10 days, a 36th of the face) is more than all supplier4 holds
    # besides the price: when recourse comes, the debt is collected in part at once, the rest after a
    # deposit, with the Collect button.
    face = 40 * _balance(live, "supplier4") + 100_000_00
    slot, token = live.issue("core1", "supplier4", face=face, line_id=line_core1, days=10)
    request_id = live.funded("supplier4", "bank1", token, face, rate_bps=10_000, with_recourse=True)
    bank, page = client_of(live, "bank1"), f"/dashboard/bank/{live.address('bank1')}"
    try:
        html = bank.get(f"{page}?book=inline").text
        assert f"/payables/{slot}/default" not in html  # not due yet: no default button
        _travel(live, 20)  # past maturity and the 7-day grace period, unpaid
        html = bank.get(f"{page}?book=inline").text
        assert f"/payables/{slot}/default" in html
        assert "data-confirm" not in _row_of(html, f"/payables/{slot}/default")  # a page, not a dialog
        # The button leads to a confirmation page in words and yuan; nothing is declared yet.
        confirm = bank.post(f"{page}/payables/{slot}/default").text
        assert _confirm_rows(confirm)["Unpaid"] == "¥" + fmt.yuan(face)
        assert "cannot be undone" in confirm and _confirm_rows(confirm)["Held by"].startswith(
            "Bank of Tierflow"
        )
        assert _slot_status(live, slot) == ACCEPTED
        html = bank.post(f"{page}/payables/{slot}/default", data={"confirmed": "yes"}).text
        assert flash_of(html).startswith(f"ok: Payable P{slot} marked defaulted"), flash_of(html)

        html = bank.get(f"{page}?book=inline").text
        assert f"/requests/{request_id}/recourse" in html
        assert "data-confirm" not in _row_of(html, f"/requests/{request_id}/recourse")
        held = _balance(live, "supplier4")
        confirm = bank.post(f"{page}/requests/{request_id}/recourse").text
        rows = _confirm_rows(confirm)
        # who pays whom how much: the whole face is owed (nothing was repaid), what it holds is taken now
        assert rows["Goes back to"] == "Jiaxing Coatings Co." and rows["Paid to you first"].startswith(
            "¥0.00"
        )
        assert rows["Jiaxing Coatings Co. then owes you"] == "¥" + fmt.yuan(face)
        assert rows["Collected at once"].startswith("¥" + fmt.yuan(held))
        assert rows["Still owed after that"] == "¥" + fmt.yuan(face - held)
        assert live.platform.c.financing.functions.getRequest(request_id).call()[5] == FUNDED  # not yet
        html = bank.post(f"{page}/requests/{request_id}/recourse", data={"confirmed": "yes"}).text
        assert flash_of(html).startswith(f"ok: Recourse exercised on request {request_id}"), flash_of(html)
        assert 'data-testid="recoursed"' in html and f"/recourse/{request_id}/collect" in html
        assert _balance(live, "supplier4") == 0  # all it had went to the debt; some is still owed

        live.api("bank1", "/v1/settlement/mint", {"to": live.address("supplier4"), "amount": 10_000_00})
        before = _balance(live, "bank1")
        confirm = bank.post(f"{page}/recourse/{request_id}/collect").text
        rows = _confirm_rows(confirm)
        assert rows["Jiaxing Coatings Co. owes you"] == "¥" + fmt.yuan(face - held), rows
        # what it owes, as far as the ¥10,000.00 it now holds goes; the rest (if any) stays its own
        pays = min(face - held, 10_000_00)
        assert rows["Jiaxing Coatings Co. pays now"].startswith("¥" + fmt.yuan(pays))
        assert rows["Its settlement balance"] == f"¥10,000.00 → ¥{fmt.yuan(10_000_00 - pays)}"
        assert _balance(live, "bank1") == before  # the page sent nothing
        html = bank.post(f"{page}/recourse/{request_id}/collect", data={"confirmed": "yes"}).text
        assert flash_of(html).startswith("ok: Collected"), flash_of(html)
        assert _balance(live, "bank1") > before
        again = bank.post(f"{page}/recourse/{request_id}/collect", data={"confirmed": "yes"}).text
        assert flash_of(again).startswith("error:"), flash_of(again)  # nothing owed any more: a sentence
    finally:
        bank.close()


ACCEPTED, FUNDED = 2, 4  # SlotStatus.Accepted, RequestStatus.Funded


def _slot_status(live: Live, slot: int) -> int:
    return int(live.platform.c.receivables.functions.slot(slot).call()[5])


def _row_of(html: str, action: str) -> str:
    """The form that posts to `action`, up to its closing tag."""
    start = html.index(action)
    return html[html.rindex("<form", 0, start) : html.index("</form>", start)]


def _confirm_rows(html: str) -> dict[str, str]:
    """A confirmation page's rows, label → value (the page writes nothing until Confirm)."""
    assert 'data-testid="confirm"' in html and 'data-testid="confirm-button"' in html
    table = html.split('data-testid="confirm"', 1)[1].split("</table>", 1)[0]
    return {
        re.sub(r"<[^>]+>", "", th).strip(): re.sub(r"<[^>]+>", "", td).strip()
        for th, td in re.findall(r"<th[^>]*>(.*?)</th><td>(.*?)</td>", table, re.S)
    }


def test_bank_book_counts_a_discounted_bill(live: Live) -> None:
    bank = client_of(live, "bank2")
    html = bank.get(f"/dashboard/bank/{live.address('bank2')}?book=inline").text
    before_book, before_exposure = _held(html, "by-obligor", 2), _held(html, "exposure", 6)
    asked = live.bill_discount_request(7_777_00, days=120, end=5_000_00, bank="bank2")
    quoted = live.api("bank2", f"/v1/bills/discount-requests/{asked}/quote",
                      {"rate_bps": 360, "valid_hours": 24})  # fmt: skip
    live.api("supplier4", f"/v1/bills/quotes/{int(quoted['result']['quote_id'])}/accept")

    try:
        html = bank.get(f"/dashboard/bank/{live.address('bank2')}?book=inline").text
        # the discounted range, ¥5,000.00 of the ¥7,777.00 bill, on top of any certificate of core2's
        assert _held(html, "by-obligor", 2) == before_book + 5_000_00
        assert _held(html, "exposure", 6) == before_exposure + 5_000_00
    finally:
        bank.close()


def _held(html: str, testid: str, column: int) -> int:
    """The amount [fen] in `column` of the row of core2 (Shenzhen Bright Electronics) in table `testid`."""
    if f'data-testid="{testid}"' not in html:
        return 0
    table = html.split(f'data-testid="{testid}"', 1)[1].split("</table>", 1)[0]
    for row in table.split("<tr>"):
        if "Shenzhen Bright Electronics" in row:
            cells = [re.sub(r"<[^>]+>", "", c).strip() for c in re.findall(r"<td[^>]*>(.*?)</td>", row, re.S)]
            return fmt.parse_yuan(cells[column])
    return 0
