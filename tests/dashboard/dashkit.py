"""Shared helpers of the dashboard tests: screenshots, sign-in, the live platform and the synthetic site."""

from __future__ import annotations

import datetime as dt
import re
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from playwright.sync_api import expect
from sqlmodel import Session, select

from tierflow.platform.dashboard import queries
from tierflow.platform.models.service import StoredDocument
from tierflow.platform.models.staff import StaffUser
from tierflow.platform.services.users import DEFAULT_ADMIN_NAME
from tierflow.testing import harness, synthetic
from tierflow.testing.chain import Platform

ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts"


def shot(page: Any, name: str) -> Path:
    """A full-page screenshot under tests/artifacts/, rewritten on every run."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


def sign_in(
    browser: Any, base_url: str, api_key: str, *, locale: str = "en-GB", size: tuple[int, int] = (1360, 900)
) -> Any:
    """A fresh browser context (its own cookies) signed in with `api_key` through the sign-in form."""
    viewport = {"width": size[0], "height": size[1]}
    context = browser.new_context(base_url=base_url, locale=locale, viewport=viewport)
    context.set_default_timeout(15_000)
    page = context.new_page()
    errors: list[str] = []  # console errors and warnings (a CSP violation, a 404 asset, a script error)
    page.on(
        "console",
        lambda message: errors.append(message.text) if message.type in ("error", "warning") else None,
    )
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.console_errors = errors
    page.goto("/dashboard/sign-in")
    # By id, not by label: the form is in the browser's language (API key / API 密钥).
    page.locator("#api_key").fill(api_key)
    page.locator("form.stack[action='/dashboard/sign-in'] button[type=submit]").click()
    page.wait_for_load_state("domcontentloaded")
    return page


# Latin-letter words a Chinese page may show: acronyms and the product's name.
LATIN_IN_CHINESE = {
    "API",
    "CSV",
    "UTC",
    "SHA",
    "KYB",
    "Tierflow",
    "csv",
    "English",  # the switch
    "ERP",
    "XLSX",
    "YYYY",
}  # file kinds and the date notation YYYY-MM-DD


def english_leftovers(html: str, names: list[str]) -> list[str]:
    """Words of three or more Latin letters in the page's visible text, participant names taken out."""
    from html.parser import HTMLParser

    class Text(HTMLParser):
        chunks: list[str] = []
        skip = 0

        def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
            self.skip += tag in ("script", "style", "code")
            self.chunks += [v for k, v in attrs if k in ("title", "placeholder", "aria-label") and v]

        def handle_endtag(self, tag: str) -> None:
            self.skip -= tag in ("script", "style", "code")

        def handle_data(self, data: str) -> None:
            if not self.skip:
                self.chunks.append(data)

    parser = Text()
    parser.chunks = []
    parser.feed(html)
    text = " ".join(parser.chunks)
    for name in sorted(names, key=len, reverse=True):
        text = text.replace(name, " ")
    for name in names:  # a name cut to fit a narrow place (the bill's range bar): "Suzhou Fast…"
        for cut in range(len(name) - 1, 2, -1):
            text = text.replace(f"{name[:cut]}…", " ")
    text = re.sub(r"0x[0-9a-fA-F…]+", " ", text)
    return [w for w in re.findall(r"[A-Za-z]{3,}", text) if w not in LATIN_IN_CHINESE]


@dataclass
class Live:
    """chain + indexer + API + dashboard behind one URL, the demo participants' keys and an API client."""

    platform: Platform
    ctx: Any
    server: harness.ServerThread
    keys: dict[str, str]
    http: httpx.Client
    _seq: list[int] = field(default_factory=lambda: [0])

    @property
    def url(self) -> str:
        return self.server.url

    def address(self, who: str) -> str:
        return self.platform.address(who)

    def api(self, who: str, path: str, json: Any = None, **kwargs: Any) -> dict[str, Any]:
        response = self.http.post(path, json=json, headers={"X-API-Key": self.keys[who]}, **kwargs)
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body

    def latest(self, model: Any, key: Any, *where: Any) -> Any:
        """The newest indexed row of `model` by `key` among those matching `where` (it must exist)."""
        with Session(self.ctx.engine) as db:
            row = db.exec(select(model).where(*where).order_by(key.desc())).first()
        assert row is not None
        return row

    def today(self, days: int = 0) -> str:
        day = dt.datetime.fromtimestamp(self.platform.now(), dt.UTC).date() + dt.timedelta(days=days)
        return day.isoformat()

    def unique(self) -> str:
        self._seq[0] += 1
        return f"{time.time_ns() % 10**16:016d}{self._seq[0] % 10**4:04d}"  # a 20-digit 全电发票 number

    def upload_invoice(
        self, core: str, supplier: str, number: str | None = None, filename: str = "invoice.pdf",
        content: bytes = b"%PDF invoice",
    ) -> str:  # fmt: skip
        """The document id of an invoice `core` uploads naming `supplier` as its seller."""
        response = self.http.post(
            "/v1/core/documents",
            headers={"X-API-Key": self.keys[core]},
            files={"file": (filename, content, "application/pdf")},
            data={
                "seller": self.address(supplier),
                "kind": "invoice",
                "invoice_number": number or self.unique(),
            },
        )
        assert response.status_code == 200, response.text
        return str(response.json()["document_id"])

    def received_bill(self, core: str, supplier: str, face: int, days: int) -> tuple[int, int]:
        """A bill of `face` fen `core` draws on itself to `supplier`, due in `days`, accepted and signed
        for: (package id, the supplier's range id), set up through the API."""
        upload = self.http.post(
            "/v1/bills/documents", headers={"X-API-Key": self.keys[core]},
            files={"file": ("invoice.pdf", b"%PDF bill", "application/pdf")},
            data={"seller": self.address(supplier), "kind": "invoice", "invoice_number": self.unique()},
        )  # fmt: skip
        assert upload.status_code == 200, upload.text
        package_id = int(self.api(core, "/v1/bills", {
            "acceptor": self.address(core), "payee": self.address(supplier), "face": face,
            "maturity": self.today(days), "document_ids": [upload.json()["document_id"]],
        })["result"]["package_id"])  # fmt: skip
        self.api(core, f"/v1/bills/{package_id}/accept")
        return package_id, int(self.api(supplier, f"/v1/bills/{package_id}/receive")["result"]["range_id"])

    def bill_discount_request(self, face: int, days: int, end: int, bank: str) -> int:
        """core2 draws a bill of `face` fen to supplier4, who asks `bank` to discount sub-tickets 1…`end`
        (fen): the discount request's id, set up through the API (the flows under test use the pages)."""
        _, root = self.received_bill("core2", "supplier4", face, days)
        asked = self.http.post(
            f"/v1/bills/ranges/{root}/discount-requests", headers={"X-API-Key": self.keys["supplier4"]},
            json={"financier": self.address(bank), "start": 1, "end": end},
        )  # fmt: skip
        assert asked.status_code == 200, asked.text
        return int(asked.json()["request_id"])

    def issue(self, core: str, supplier: str, face: int, line_id: int, days: int = 60) -> tuple[int, int]:
        """An accepted certificate, set up through the API (the flows under test use the pages)."""
        body = self.api(
            core,
            "/v1/core/certificates",
            {
                "supplier": self.address(supplier),
                "face": face,
                "maturity": self.today(days),
                "line_id": line_id,
                "document_ids": [self.upload_invoice(core, supplier)],
            },
        )
        slot, token = int(body["result"]["slot_id"]), int(body["result"]["token_id"])
        self.api(supplier, f"/v1/supplier/payables/{slot}/accept")
        return slot, token

    def funded(
        self,
        seller: str,
        bank: str,
        token: int,
        amount: int,
        *,
        rate_bps: int = 500,
        with_recourse: bool = False,
    ) -> int:
        """A financing request of `seller` to `bank` on `token`, quoted, accepted on the quoted terms and
        funded, through the API (the flows under test use the pages); its request id."""
        body = self.api(seller, "/v1/supplier/financing-requests", {
            "token_id": token, "amount": amount, "financier": self.address(bank),
            "with_recourse": with_recourse,
        })  # fmt: skip
        request_id = int(body["result"]["request_id"])
        self.api(
            bank, f"/v1/financier/requests/{request_id}/quote", {"rate_bps": rate_bps, "valid_hours": 24}
        )
        quoted = self.platform.c.financing.functions.getRequest(request_id).call()
        terms = {"rate_bps": quoted[6], "price": quoted[9], "expiry": quoted[7]}  # what the seller was shown
        self.api(seller, f"/v1/supplier/financing-requests/{request_id}/accept-quote", terms)
        self.api(bank, f"/v1/financier/requests/{request_id}/fund")
        return request_id


@dataclass
class Site:
    server: harness.ServerThread
    seeded: synthetic.Seeded

    @property
    def url(self) -> str:
        return self.server.url


CSRF_INPUT = re.compile(r'name="csrf_token" value="([0-9a-f]*)"')


def csrf_of(client: Any) -> str:
    """The CSRF token the dashboard gives this client's cookies (from the sign-in page's form)."""
    match = CSRF_INPUT.search(client.get("/dashboard/sign-in").text)
    assert match is not None, "the sign-in page has no CSRF field"
    return match.group(1)


def dashboard_sign_in(client: Any, api_key: str, **kwargs: Any) -> Any:
    """Sign in through the form as a browser does (with its CSRF token); later posts of `client` carry
    the session's token in the X-CSRF-Token header, as htmx sends it. The sign-in response."""
    response = client.post(
        "/dashboard/sign-in", data={"api_key": api_key, "csrf_token": csrf_of(client)}, **kwargs
    )
    client.headers["X-CSRF-Token"] = csrf_of(client)
    return response


FLASH = re.compile(r'<div class="flash flash-(\w+)"[^>]*>(.*?)</div>', re.S)


def client_of(live: Live, who: str) -> httpx.Client:
    """An HTTP client with its own cookies, signed in to the dashboard as `who`; follows redirects."""
    client = httpx.Client(base_url=live.url, timeout=120, follow_redirects=True)
    response = dashboard_sign_in(client, live.keys[who])
    assert response.status_code == 200, response.text
    return client


def flash_of(html: str) -> str:
    """The page's one-time message as "kind: text" (ok / error)."""
    match = FLASH.search(html)
    assert match is not None, "the page shows no message"
    return f"{match.group(1)}: {match.group(2)}"


class Story:
    """A chapter of the story in one language: each page looked at (its language; on a Chinese page no
    English UI text, hex address or unix time, participants' and people's names excepted) and
    photographed to tests/artifacts/<lang>/<chapter>/."""

    def __init__(self, live: Live, browser: Any, locale: str, lang: str, *, chapter: str) -> None:
        self.live, self.browser, self.locale, self.lang = live, browser, locale, lang
        self.shots = 0
        # each chapter of the story (a test) photographs into its own folder, this run's pages only
        self.folder = ARTIFACTS / lang / chapter
        shutil.rmtree(self.folder, ignore_errors=True)
        with Session(live.ctx.engine) as db:
            # an unnamed first admin's placeholder is the platform's word, shown in the reader's language
            people = [
                t
                for p in db.exec(select(StaffUser))
                for t in (p.name, p.login)
                if t and t != DEFAULT_ADMIN_NAME
            ]
            # names and logins are the participants' own
            self.names = [*queries.directory(db).names.values(), *people]

    def actor(self, who: str) -> Any:
        return self.actor_with(self.live.keys[who])

    def actor_with(self, api_key: str) -> Any:
        """A page signed in with `api_key` (a newcomer's, shown once) in this chapter's language."""
        return sign_in(self.browser, self.live.url, api_key, locale=self.locale)

    def claim_after(self, page: Any, days: int, token: int, amount: str) -> None:
        """`days` pass on the chain (then a block, indexed); the holder on `page` claims certificate
        `token`'s payout of `amount` (yuan as shown) with its button, on its confirmation page, and sees
        it among its payouts."""
        live = self.live
        live.platform.increase_time(days * 86_400)
        live.api("bank1", "/v1/settlement/mint", {"to": live.address("bank2"), "amount": 1})
        assert live.ctx.link.wait_for(live.platform.w3.eth.block_number, 60)
        page.reload()
        claim = page.locator(f"form[action$='/claim']:has(input[name=token_id][value='{token}']) button")
        expect(claim).to_contain_text(amount)
        if self.lang == "en":
            expect(claim).to_have_text(f"Claim ¥{amount}")
        claim.click()  # money moves: a confirmation page says who pays whom how much before anything is sent
        expect(page.get_by_test_id("confirm")).to_contain_text(amount)
        self.look(page, "confirm-claim")
        page.get_by_test_id("confirm-button").click()
        expect(page.locator(".flash-ok")).to_contain_text(f"T{token}")
        if self.lang == "en":
            expect(page.locator(".flash-ok")).to_contain_text("Claimed")
        expect(page.get_by_test_id("payouts")).to_contain_text(amount)
        # the payout's day, not its block number
        day = r"^\d{4}年\d{1,2}月\d{1,2}日$" if self.lang == "zh-CN" else r"^\d{1,2} [A-Z][a-z]{2} \d{4}$"
        expect(page.locator(f"[data-payout$='-{token}']")).to_have_text(re.compile(day))

    def nav(self, page: Any) -> None:
        """The header's navigation is in the chapter's language (its Bills link, 票据 in Chinese)."""
        bills = "票据" if self.lang == "zh-CN" else "Bills"
        expect(page.get_by_role("navigation").get_by_role("link", name=bills, exact=True)).to_be_visible()

    def look(self, page: Any, name: str) -> None:
        page.wait_for_load_state("domcontentloaded")
        expect(page.locator("html")).to_have_attribute("lang", self.lang)
        self.shots += 1
        self.folder.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(self.folder / f"{self.shots:02d}-{name}.png"), full_page=True)
        if self.lang != "zh-CN":
            return
        # a document's SHA-256 fingerprint (a tooltip beside the file) is a checksum, not an address
        html = re.sub(r"SHA-256 [0-9a-f]+", "SHA-256", page.content())
        with Session(self.live.ctx.engine) as db:  # files the participants uploaded keep their names
            files = [f for f in db.exec(select(StoredDocument.filename)) if f]
        leftovers = english_leftovers(html, self.names + files)
        assert not leftovers, (name, sorted(set(leftovers)))
        text = page.locator("body").inner_text()
        for name_ in self.names:
            text = text.replace(name_, " ")
        assert not re.search(r"0x[0-9a-fA-F]{8,}", text), (name, "a hex address on screen")
        assert not re.search(r"(?<![\d,.])1[6-9]\d{8}(?![\d,.])", text), (name, "unix seconds on screen")
