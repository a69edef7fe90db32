"""Bill forms over HTTP on the live platform: pledge (质押), release, recourse (追索) and its settlement."""

from __future__ import annotations

import html
import re
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from dashkit import Live, dashboard_sign_in

from tierflow.platform.services.bills import recourse_obligors
from tierflow.platform.services.schemas.bills import BillRangePublic, EndorsementChain
from tierflow.platform.services.seed import DEMO_NAMES

DAY = 86_400
FACE = 1_000_000  # [fen] ¥10,000.00


@pytest.fixture
def as_party(live: Live) -> Iterator[Any]:
    """A dashboard client signed in as one of the demo participants (its own cookies)."""
    clients: list[httpx.Client] = []

    def sign_in(who: str) -> httpx.Client:
        client = httpx.Client(base_url=live.url, timeout=60, follow_redirects=True)
        clients.append(client)
        response = dashboard_sign_in(client, live.keys[who])
        assert response.status_code == 200, response.text
        return client

    yield sign_in
    for client in clients:
        client.close()


def _bill(live: Live, *, days: int = 90, accepted: bool = True) -> tuple[int, int]:
    """A bill drawn and accepted by core1, received by supplier1 (set up through the API); only drawn
    (range 0) unless `accepted`."""
    upload = live.http.post(
        "/v1/bills/documents",
        headers={"X-API-Key": live.keys["core1"]},
        files={"file": ("invoice.pdf", b"%PDF bill", "application/pdf")},
        data={"seller": live.address("supplier1"), "kind": "invoice", "invoice_number": live.unique()},
    )
    assert upload.status_code == 200, upload.text
    body = live.api(
        "core1",
        "/v1/bills",
        {
            "acceptor": live.address("core1"),
            "payee": live.address("supplier1"),
            "face": FACE,
            "maturity": live.today(days),
            "document_ids": [upload.json()["document_id"]],
        },
    )
    package_id = int(body["result"]["package_id"])
    if not accepted:
        return package_id, 0
    live.api("core1", f"/v1/bills/{package_id}/accept")
    root = int(live.api("supplier1", f"/v1/bills/{package_id}/receive")["result"]["range_id"])
    return package_id, root


def _ranges(live: Live, package_id: int) -> dict[int, dict[str, Any]]:
    """The indexed live ranges of a package, as the auditor reads them through the API."""
    response = live.http.get(f"/v1/bills/{package_id}", headers={"X-API-Key": live.keys["auditor"]})
    assert response.status_code == 200, response.text
    return {r["range_id"]: r for r in response.json()["ranges"]}


def _flash(page: httpx.Response) -> tuple[str, str]:
    """(kind, message) of the flash a form's redirect left on the page it came back to."""
    assert page.status_code == 200, page.text
    assert "Traceback" not in page.text
    found = re.search(r'<div class="flash flash-(\w+)"[^>]*>(.*?)</div>', page.text, re.S)
    assert found is not None, "no flash on the page"
    return found.group(1), html.unescape(found.group(2))


def _post(client: httpx.Client, path: str, **form: Any) -> tuple[str, str]:
    """Post a bill form as its confirmation page's button does (confirmed=yes): the action itself."""
    return _flash(client.post(path, data={"confirmed": "yes", **{k: str(v) for k, v in form.items()}}))


def test_bill_pledge_form_holder_pledges_and_only_the_pledgee_releases(live: Live, as_party: Any) -> None:
    package_id, root = _bill(live)
    holder, bank, other_bank, other = (as_party(w) for w in ("supplier1", "bank1", "bank2", "supplier2"))

    # the holder is offered its range in the pledge form, with banks only as pledgees
    page = holder.get("/dashboard/bills").text
    form = re.search(r'data-testid="bill-pledge-form".*?</form>', page, re.S)
    assert form is not None and f'<option value="{root}">' in form.group(0)
    assert "Pledge (质押)" in form.group(0)
    assert live.address("bank1") in form.group(0) and live.address("supplier2") not in form.group(0)
    # nobody else is offered it; the auditor sees no pledge form at all
    assert f'<option value="{root}">' not in other.get("/dashboard/bills").text
    assert "bill-pledge-form" not in as_party("auditor").get("/dashboard/bills").text

    # a forged post by a non-holder is refused with the service's message, and nothing moves
    kind, message = _post(
        other, f"/dashboard/bills/ranges/{root}/pledge", to=live.address("bank2"), start=1, end=100
    )
    assert (
        kind == "error" and f"Bill range R{root} is held by {DEMO_NAMES['supplier1']}, not by you" in message
    )
    assert live.address("supplier1") not in message  # by name, not by address
    assert _ranges(live, package_id)[root]["status"] == "Held"
    # a pledge to a party that is no bank is refused by the chain, said in words
    kind, message = _post(
        holder, "/dashboard/bills/ranges/0/pledge", range_id=root, to=live.address("supplier2")
    )
    assert kind == "error" and message.startswith("The chain refused it"), message

    kind, message = _post(
        holder,
        "/dashboard/bills/ranges/0/pledge",
        range_id=root,
        to=live.address("bank1"),
        start=1,
        end=400_000,
    )
    pledged = [r for r in _ranges(live, package_id).values() if r["status"] == "Pledged"]
    assert len(pledged) == 1
    rid = pledged[0]["range_id"]
    assert (kind, message) == (
        "ok",
        f"¥4,000.00 pledged to Bank of Tierflow (settlement bank) (range R{rid}); the bank releases it when "
        "the loan is repaid.",
    )
    assert (pledged[0]["start"], pledged[0]["end"], pledged[0]["pledgee"]) == (
        1,
        400_000,
        live.address("bank1"),
    )
    assert pledged[0]["holder"] == live.address("supplier1")

    # only the pledgee bank is offered the release; another bank's and the holder's forged posts fail
    assert f'data-testid="bill-pledged-{rid}"' in bank.get("/dashboard/bills").text
    assert f'data-testid="bill-pledged-{rid}"' not in other_bank.get("/dashboard/bills").text
    assert f"/ranges/{rid}/release" not in holder.get("/dashboard/bills").text
    for forger in (other_bank, holder):
        kind, message = _post(forger, f"/dashboard/bills/ranges/{rid}/release")
        assert (kind, message) == ("error", f"bill range {rid} is not pledged to you")
    assert _ranges(live, package_id)[rid]["status"] == "Pledged"

    kind, message = _post(bank, f"/dashboard/bills/ranges/{rid}/release")
    assert (kind, message) == ("ok", f"Released the pledge on range R{rid}.")
    released = _ranges(live, package_id)[rid]
    assert (released["status"], released["pledgee"], released["holder"]) == (
        "Held",
        None,
        live.address("supplier1"),
    )
    assert f'data-testid="bill-pledged-{rid}"' not in bank.get("/dashboard/bills").text


def test_bill_recourse_form_holder_claims_against_a_prior_party_and_the_obligor_settles(
    live: Live, as_party: Any
) -> None:
    package_id, root = _bill(live, days=2)
    a = live.address
    # supplier1 → supplier2 → supplier3, whole ranges; at maturity supplier3 presents, core1 dishonours
    tier2 = int(
        live.api("supplier1", f"/v1/bills/ranges/{root}/endorse", {"to": a("supplier2")})["result"][
            "new_range_id"
        ]
    )
    held = int(
        live.api("supplier2", f"/v1/bills/ranges/{tier2}/endorse", {"to": a("supplier3")})["result"][
            "new_range_id"
        ]
    )
    live.platform.increase_time(3 * DAY)
    live.api("supplier3", f"/v1/bills/ranges/{held}/present")
    live.api("core1", f"/v1/bills/ranges/{held}/dishonour", {"reason": 1})
    holder, prior, first = (as_party(w) for w in ("supplier3", "supplier2", "supplier1"))

    # the holder chooses among its chain's prior endorsers and the drawer, nearest first
    for page in (
        holder.get("/dashboard/bills").text,
        holder.get(f"/dashboard/bills/{package_id}?range={held}").text,
    ):
        form = re.search(rf'data-testid="bill-recourse-form-{held}".*?</form>', page, re.S)
        assert form is not None and "Claim recourse (追索) against" in form.group(0)
        offered = re.findall(r'<option value="(0x[0-9a-fA-F]{40})"', form.group(0))
        assert offered == [a("supplier2"), a("supplier1"), a("core1")]
    # earlier holders see no recourse form on its range
    for other in (prior, first):
        assert f"bill-recourse-form-{held}" not in other.get("/dashboard/bills").text
        assert (
            f"bill-recourse-form-{held}" not in other.get(f"/dashboard/bills/{package_id}?range={held}").text
        )

    # forged posts: by a non-holder (the service), against a party outside the chain (the chain)
    kind, message = _post(prior, f"/dashboard/bills/ranges/{held}/recourse", to=a("supplier1"))
    assert (
        kind == "error" and f"Bill range R{held} is held by {DEMO_NAMES['supplier3']}, not by you" in message
    )
    kind, message = _post(holder, f"/dashboard/bills/ranges/{held}/recourse", to=a("supplier4"))
    assert kind == "error" and "BillRecourseNotAllowed" in message, message
    assert _ranges(live, package_id)[held]["recourse_obligor"] is None

    back = f"/dashboard/bills/{package_id}?range={held}"
    page = holder.post(
        f"/dashboard/bills/ranges/{held}/recourse",
        data={"to": a("supplier2"), "back": back, "confirmed": "yes"},
    )
    assert str(page.url).endswith(back)
    assert _flash(page) == (
        "ok",
        f"Claimed recourse on range R{held}; the obligor pays it and takes the range.",
    )
    claimed = _ranges(live, package_id)[held]
    assert (claimed["status"], claimed["recourse_obligor"]) == ("Dishonoured", a("supplier2"))
    assert 'data-testid="bill-recourse-claimed"' in page.text
    assert f'data-testid="bill-recourse-claimed-{held}"' in holder.get("/dashboard/bills").text

    # the obligor is asked to pay; nobody else is, and a forged settlement is refused
    assert f'data-testid="bill-claim-{held}"' in prior.get("/dashboard/bills").text
    assert f'data-testid="bill-claim-{held}"' not in first.get("/dashboard/bills").text
    kind, message = _post(first, f"/dashboard/bills/ranges/{held}/settle")
    assert (kind, message) == ("error", f"no recourse claim against you is open on bill range {held}")
    live.api("bank1", "/v1/settlement/mint", {"to": a("supplier2"), "amount": FACE})
    kind, message = _post(prior, f"/dashboard/bills/ranges/{held}/settle")
    assert (kind, message) == ("ok", f"Paid the recourse claim on range R{held}: the range is yours.")
    after = _ranges(live, package_id)
    assert held not in after  # closed: supplier2 holds the dishonoured sub-tickets in a new record
    [taken] = after.values()
    assert (taken["holder"], taken["status"], taken["start"], taken["end"]) == (
        a("supplier2"),
        "Dishonoured",
        1,
        FACE,
    )


def test_recourse_obligors_stop_at_the_holders_earliest_place_and_end_with_the_drawer() -> None:
    s1, s2, s3, s4, drawer, acceptor = (f"0x{i:040x}" for i in range(1, 7))

    def chain(holder: str, endorsers: list[str]) -> EndorsementChain:
        rng = BillRangePublic(
            range_id=9, package_id=1, holder=holder, start=1, end=10, amount=10, status="Dishonoured",
            prev=8, origin="endorsed", pledgee=None, presented_at=None, recourse_obligor=None,
        )  # fmt: skip
        return EndorsementChain(range=rng, chain=[], endorsers=endorsers)

    # s1 → s2 → s3 → s2 → s4: s4 may go to anyone before it (each once), then the drawer
    assert recourse_obligors(chain(s4, [s2, s3, s2, s1]), drawer, acceptor) == [s2, s3, s1, drawer]
    # s1 → s2 → s3 → s1: back at its earliest place, s1 has only the drawer
    assert recourse_obligors(chain(s1, [s3, s2, s1]), drawer, acceptor) == [drawer]
    # the drawer or the acceptor holding the bill has no one
    assert recourse_obligors(chain(drawer, [s1]), drawer, acceptor) == []
    assert recourse_obligors(chain(acceptor, [s1]), drawer, acceptor) == []


def test_bill_list_shows_the_invoice_binding_pending_until_receipt(live: Live, as_party: Any) -> None:
    """The drawer's invoices are only proposed until the payee (their seller) signs for receipt."""
    upload = live.http.post(
        "/v1/bills/documents",
        headers={"X-API-Key": live.keys["core1"]},
        files={"file": ("invoice.pdf", b"%PDF bill", "application/pdf")},
        data={"seller": live.address("supplier1"), "kind": "invoice", "invoice_number": live.unique()},
    )
    assert upload.status_code == 200, upload.text
    package_id = int(live.api("core1", "/v1/bills", {
        "acceptor": live.address("core1"), "payee": live.address("supplier1"), "face": FACE,
        "maturity": live.today(90), "document_ids": [upload.json()["document_id"]],
    })["result"]["package_id"])  # fmt: skip
    payee = as_party("supplier1")

    def binding() -> str:
        page = payee.get("/dashboard/bills").text
        row = next(r for r in page.split("<tr>") if f'href="/dashboard/bills/{package_id}"' in r)
        found = re.search(r'data-testid="invoice-binding">(.*?)</td>', row, re.S)
        assert found is not None, row
        return re.sub(r"<[^>]+>", "", found.group(1)).strip()

    assert binding() == "1 pending"
    live.api("core1", f"/v1/bills/{package_id}/accept")
    assert binding() == "1 pending"  # accepted by the acceptor, not yet by the seller
    root = int(live.api("supplier1", f"/v1/bills/{package_id}/receive")["result"]["range_id"])
    assert binding() == "1 bound"
    # the holder sees how long the range's endorsement chain is (Bills caps it)
    assert f'data-testid="bill-depth-{root}">0</td>' in payee.get("/dashboard/bills").text


def _package(live: Live, package_id: int) -> dict[str, Any]:
    response = live.http.get(f"/v1/bills/{package_id}", headers={"X-API-Key": live.keys["auditor"]})
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def test_bill_money_and_legal_actions_show_a_confirmation_before_writing(live: Live, as_party: Any) -> None:
    acceptor, holder, other = as_party("core1"), as_party("supplier1"), as_party("supplier2")
    # accept (承兑): the acceptor reads what it promises; nothing is written until it confirms
    package_id, _ = _bill(live, accepted=False)
    page = acceptor.post(f"/dashboard/bills/{package_id}/accept")
    assert page.status_code == 200 and 'data-testid="confirm"' in page.text
    text = html.unescape(page.text)
    assert "You promise to pay" in text and "¥10,000.00 on " in text
    assert 'name="confirmed" value="yes"' in page.text
    assert _package(live, package_id)["package"]["status"] == "Issued"
    kind, _ = _post(acceptor, f"/dashboard/bills/{package_id}/accept")
    assert kind == "ok" and _package(live, package_id)["package"]["status"] == "Accepted"

    # pay and dishonour (拒付) of a presented range: the acceptor sees amount, holder, consequence
    package_id, root = _bill(live, days=2)
    live.platform.increase_time(3 * DAY)
    live.api("supplier1", f"/v1/bills/ranges/{root}/present")
    for verb, words in (("pay", "Confirm: pay ¥10,000.00"), ("dishonour", "Confirm: dishonour")):
        page = acceptor.post(f"/dashboard/bills/ranges/{root}/{verb}", data={"reason": "2"})
        text = html.unescape(page.text)
        assert page.status_code == 200 and words in text, text[:2000]
        assert live.address("supplier1") not in text  # names, never addresses, in the rows…
        assert "Ningbo Steel Frames Co." in text  # …the holder by name
        assert _ranges(live, package_id)[root]["status"] == "Presented"
    assert "dispute over the goods" in html.unescape(page.text)
    # …and in Chinese for a Chinese browser
    zh = acceptor.post(
        f"/dashboard/bills/ranges/{root}/dishonour",
        data={"reason": "2"},
        headers={"Accept-Language": "zh-CN"},
    )
    assert "确认：拒付" in zh.text and "货物争议" in zh.text and "拒付一经记录不可撤销" in zh.text
    # someone else's unconfirmed post is refused by the service, never shown the range's terms
    kind, message = _flash(other.post(f"/dashboard/bills/ranges/{root}/pay"))
    assert kind == "error" and "Confirm" not in message
    # endorse: the holder sees the amount in yuan and the endorsee's name
    package_id, root = _bill(live)
    page = holder.post(
        f"/dashboard/bills/ranges/{root}/endorse",
        data={"to": live.address("supplier2"), "start": 1, "end": 500_000},
    )
    text = html.unescape(page.text)
    assert "¥5,000.00 (sub-tickets 1 … 500,000 of range R" in text
    assert _ranges(live, package_id)[root]["end"] == FACE


def test_bill_forms_take_yuan_and_say_who_received_what(live: Live, as_party: Any) -> None:
    package_id, root = _bill(live)
    holder = as_party("supplier1")
    page = holder.get("/dashboard/bills").text
    assert f'<option value="{root}">R{root} · B{package_id} · ¥10,000.00 (1 … 1,000,000)</option>' in page
    kind, message = _post(
        holder,
        "/dashboard/bills/ranges/0/endorse",
        range_id=root,
        to=live.address("supplier2"),
        amount="2,500.00",
    )
    moved = [r for r in _ranges(live, package_id).values() if r["holder"] == live.address("supplier2")]
    assert len(moved) == 1 and (moved[0]["start"], moved[0]["end"]) == (1, 250_000)  # the service picked them
    assert (kind, message) == (
        "ok",
        f"¥2,500.00 endorsed to Wuxi Precision Bearings Co. (range R{moved[0]['range_id']}).",
    )
    kind, message = _post(
        holder,
        "/dashboard/bills/ranges/0/endorse",
        range_id=root,
        to=live.address("supplier2"),
        amount="20,000",
    )
    assert kind == "error" and "holds ¥" in message  # more than the range holds: said in yuan
