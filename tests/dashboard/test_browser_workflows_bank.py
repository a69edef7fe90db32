"""The bank's new actions in chromium, as a credit officer clicks them: grant, freeze and unfreeze a
credit line, mint and burn settlement money, claim a repaid position (screenshots in tests/artifacts/).

Named to run after test_browser_flows.py, whose checks count bank1's and core1's balances exactly.
"""

from __future__ import annotations

from typing import Any

import pytest
from dashkit import Live, shot, sign_in
from playwright.sync_api import expect

pytestmark = pytest.mark.browser
DAY = 86_400


def test_bank_walks_credit_lines_money_and_claim_in_the_browser(
    browser: Any, live: Live, line_core1: int
) -> None:
    bank = sign_in(browser, live.url, live.keys["bank1"])
    dialogs: list[str] = []  # Freeze and Burn are confirmed on a page, never in a browser dialog
    bank.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    flash = bank.locator(".flash")

    grant = bank.get_by_test_id("grant-line")
    grant.get_by_label("Core enterprise", exact=True).select_option(live.address("core2"))
    grant.get_by_label("Limit ¥", exact=True).fill("5,000,000.00")
    grant.get_by_role("button", name="Grant line").click()
    expect(flash).to_contain_text("a credit line of ¥5,000,000.00")
    line_id = max(int(n) for n in bank.get_by_test_id("lines").locator("tr[data-line]").evaluate_all(
        "rows => rows.map(r => r.dataset.line)"
    ))  # fmt: skip
    row = bank.locator(f'tr[data-line="{line_id}"]')
    expect(row).to_contain_text("5,000,000.00")
    shot(bank, "bank-credit-line-granted")

    row.get_by_role("button", name="Freeze").click()
    expect(bank.get_by_test_id("confirm").locator("tr", has_text="Limit")).to_contain_text(
        "¥5,000,000.00 → ¥0.00"
    )
    shot(bank, "bank-confirm-freeze")
    bank.get_by_test_id("confirm-button").click()
    expect(flash).to_contain_text(f"Credit line {line_id} frozen")
    expect(row.get_by_test_id("line-frozen")).to_be_visible()
    expect(row.get_by_label(f"New limit of line {line_id} (¥)")).to_have_value("5,000,000.00")
    shot(bank, "bank-credit-line-frozen")
    row.get_by_role("button", name="Unfreeze").click()
    expect(flash).to_contain_text(f"Credit line {line_id} now has a limit of ¥5,000,000.00")
    expect(row.get_by_test_id("line-frozen")).to_have_count(0)

    mint = bank.get_by_test_id("mint")
    mint.get_by_label("Credit to", exact=True).select_option(live.address("supplier3"))
    mint.get_by_label("Deposit received ¥", exact=True).fill("8,888.88")
    mint.get_by_role("button", name="Mint").click()
    expect(flash).to_contain_text("Credited ¥8,888.88 of settlement money")
    burn = bank.get_by_test_id("burn")
    burn.get_by_label("Withdrawal paid out ¥", exact=True).fill("88.88")
    burn.get_by_role("button", name="Burn").click()
    expect(bank.get_by_test_id("confirm")).to_contain_text("¥88.88")
    bank.get_by_test_id("confirm-button").click()
    expect(flash).to_contain_text("Retired ¥88.88")

    # A repaid, matured position: the Claim button beside it.
    slot, token = live.issue("core1", "supplier2", face=50_000_00, line_id=line_core1, days=5)
    live.funded("supplier2", "bank1", token, 50_000_00, rate_bps=400)
    live.api("core1", f"/v1/core/payables/{slot}/repay", {"amount": 50_000_00})
    live.platform.increase_time(6 * DAY)
    live.api(
        "bank1", "/v1/settlement/mint", {"to": live.address("bank2"), "amount": 1}
    )  # a block of that time
    bank.reload()
    claim = bank.get_by_test_id("claimable").locator(f'tr[data-token="{token}"]')
    shot(bank, "bank-claimable")
    claim.get_by_role("button", name="Claim").click()
    expect(flash).to_contain_text(f"Claimed ¥50,000.00 on certificate T{token}")
    assert not bank.console_errors, bank.console_errors
    assert not dialogs, dialogs
