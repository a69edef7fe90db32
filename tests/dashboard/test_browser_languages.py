"""Every actor's pages in Chinese and in English, in chromium; a screenshot of each in tests/artifacts/."""

from __future__ import annotations

from typing import Any

import pytest
from dashkit import Live, shot, sign_in
from playwright.sync_api import expect

# (who, pages) — each participant's own pages and the shared ones it uses.
TOUR = [
    ("bank1", ["/dashboard/bank/{bank1}"]),
    ("supplier1", ["/dashboard/supplier/{supplier1}"]),
    ("core1", ["/dashboard/core/{core1}", "/dashboard/bills"]),
    ("auditor", ["/dashboard/audit", "/dashboard/operator"]),
]


@pytest.mark.parametrize(("locale", "lang", "bills"), [("zh-CN", "zh-CN", "票据"), ("en-GB", "en", "Bills")])
def test_browser_tour_shows_every_page_in_the_browser_language(
    browser: Any, live: Live, line_core1: int, locale: str, lang: str, bills: str
) -> None:
    addresses = {name: live.address(name) for name in ("bank1", "supplier1", "core1")}
    for who, paths in TOUR:
        page = sign_in(browser, live.url, live.keys[who], locale=locale)
        for path in paths:
            page.goto(path.format(**addresses))
            expect(page.locator("html")).to_have_attribute("lang", lang)
            expect(page.get_by_role("navigation").get_by_role("link", name=bills, exact=True)).to_be_visible()
            shot(page, f"tour-{locale}-{who}-{path.strip('/').split('/')[1]}-{len(path)}")
        assert not page.console_errors, page.console_errors
        page.context.close()
