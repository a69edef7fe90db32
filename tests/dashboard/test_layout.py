"""Layout at 1,366 × 768 (a common office laptop): no action button or link cut off or outside its frame."""

from __future__ import annotations

from typing import Any

import pytest
from dashkit import Live, shot, sign_in

# Every button in a table cell and every link in an actions column: its box must lie inside the
# visible part of its scrolling frame (a wide table scrolls inside its panel, the actions column
# stays in view) and inside the window, and its text must fit (a button cut to "Decli" fails).
CLIPPED = """() => {
  const width = document.documentElement.clientWidth;
  const bad = [];
  if (document.documentElement.scrollWidth > width + 1) bad.push('the page scrolls sideways');
  for (const el of document.querySelectorAll('td button, td input[type=submit], td.actions a')) {
    const box = el.getBoundingClientRect();
    if (box.width === 0 && box.height === 0) continue;
    let frame = el.parentElement;
    const scrolls = (node) => ['auto', 'scroll', 'hidden'].includes(getComputedStyle(node).overflowX);
    while (frame && !scrolls(frame)) frame = frame.parentElement;
    const edges = frame ? frame.getBoundingClientRect() : {left: 0, right: width};
    const left = Math.max(edges.left, 0), right = Math.min(edges.right, width);
    if (box.left < left - 1 || box.right > right + 1 || el.scrollWidth > el.clientWidth + 1) {
      const where = `${Math.round(box.left)}–${Math.round(box.right)} px`;
      const frameText = `frame ${Math.round(left)}–${Math.round(right)}`;
      bad.push(`${el.textContent.trim() || el.value} at ${where}, ${frameText}`);
    }
  }
  return bad;
}"""


@pytest.fixture(scope="module")
def busy(live: Live, line_core1: int) -> dict[str, int]:
    """Something in every table with buttons: a request in the bank's queue, an incoming certificate,
    a payable to repay, a bill to accept."""
    slot, token = live.issue("core1", "supplier1", face=750_000_00, line_id=line_core1, days=40)
    live.api("supplier1", "/v1/supplier/financing-requests", {
        "token_id": token, "amount": 250_000_00, "financier": live.address("bank1"), "with_recourse": True,
    })  # fmt: skip
    live.api("core1", "/v1/core/certificates", {
        "supplier": live.address("supplier1"), "face": 120_000_00, "maturity": live.today(50),
        "line_id": line_core1, "document_ids": [live.upload_invoice("core1", "supplier1")],
    })  # fmt: skip
    return {"slot": slot}


PAGES = [
    ("bank1", "/dashboard/bank/{bank1}"),
    ("supplier1", "/dashboard/supplier/{supplier1}"),
    ("core1", "/dashboard/core/{core1}"),
    ("core1", "/dashboard/bills"),
    ("supplier1", "/dashboard/bills"),
    ("auditor", "/dashboard/audit"),
    ("operator", "/dashboard/operator"),
    ("core1", "/dashboard/lineage/{slot}"),
    ("bank2", "/dashboard/governance"),  # a governor bank's panel (its proposals table is the console's)
]


@pytest.mark.parametrize(("who", "path"), PAGES)
def test_layout_keeps_every_action_in_view_at_1366_by_768(
    browser: Any, live: Live, busy: dict[str, int], who: str, path: str
) -> None:
    page = sign_in(browser, live.url, live.keys[who], size=(1366, 768))
    url = path.format(
        slot=busy["slot"], **{name: live.address(name) for name in ("bank1", "supplier1", "core1")}
    )
    page.goto(url)
    page.wait_for_load_state("networkidle")
    clipped = page.evaluate(CLIPPED)
    shot(page, f"layout-1366-{who}-{path.split('/')[2]}")
    assert clipped == [], f"{url}: {clipped}"
    page.context.close()
