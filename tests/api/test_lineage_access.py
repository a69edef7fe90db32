"""A holder reads a lineage as an attacker would: it must learn nothing of other holders' branches.

The API and the dashboard answer from the same access decision (services/access.py) and the same
lineage module: the holder sees its path to the root, and every total is over that path only.
"""

from __future__ import annotations

import re
from typing import Any

from apikit import Api
from fastapi.testclient import TestClient


def _dashboard(api: Api, who: str) -> TestClient:
    """A browser of its own (its own cookies), signed in to the dashboard as `who`."""
    client = TestClient(api.client.app)
    # The sign-in form's CSRF token, as a browser sends it back.
    token = re.search(r'name="csrf_token" value="([0-9a-f]+)"', client.get("/dashboard/sign-in").text)
    assert token is not None
    response = client.post(
        "/dashboard/sign-in", data={"api_key": api.keys[who], "csrf_token": token.group(1)},
        follow_redirects=False,
    )  # fmt: skip
    assert response.status_code == 303, response.text
    return client


def _page(api: Api, who: str, slot: int) -> tuple[set[int], int, list[tuple[str, ...]], str]:
    """(tokens shown, certificate count, tier table rows, html) of the dashboard's lineage page."""
    response = _dashboard(api, who).get(f"/dashboard/lineage/{slot}")
    assert response.status_code == 200, response.text
    html = response.text
    shown = {int(t) for t in re.findall(r'<li id="t(\d+)"', html)}
    count = int(re.search(r"<dt>Certificates</dt><dd[^>]*>(\d+)</dd>", html).group(1))  # type: ignore[union-attr]
    table = html.split('data-testid="lineage-tiers"', 1)[1].split("</table>", 1)[0]
    tiers = [
        tuple(re.sub(r"<[^>]+>", "", cell).strip() for cell in re.findall(r"<td[^>]*>(.*?)</td>", row))
        for row in re.findall(r"<tr>(.*?)</tr>", table.split("<tbody>", 1)[1])
    ]
    return shown, count, tiers, html


def _api_tiers(lineage: dict[str, Any]) -> list[tuple[str, ...]]:
    """The API's tier totals as the dashboard's table prints them."""
    return [
        (
            str(t["tier"]) if t["tier"] is not None else "financed",
            str(t["tokens"]),
            str(t["holders"]),
            f"{t['value'] // 100:,}.{t['value'] % 100:02d}",
        )
        for t in lineage["tiers"]
    ]


def test_lineage_holder_learns_nothing_of_other_branches(funded: Api) -> None:
    api = funded
    line = api.credit_line("bank1", "core1")
    slot, root = api.issue("core1", "supplier1", 1_000_000, line)
    # Two branches off the root: supplier2's 300,000 and supplier3's 200,000 (the victim).
    mine = api.ok(
        "supplier1", f"/v1/certificates/{root}/transfer", {"to": api.address("supplier2"), "value": 300_000}
    )["result"]["new_token_id"]
    theirs = api.ok(
        "supplier1", f"/v1/certificates/{root}/transfer", {"to": api.address("supplier3"), "value": 200_000}
    )["result"]["new_token_id"]

    # The API: supplier2 reads its path, nothing of supplier3's certificate or the whole tree.
    path = api.get("supplier2", f"/v1/certificates/{mine}/lineage").json()
    assert [t["token_id"] for t in path["tokens"]] == [mine, root]
    assert path["count"] == 2
    for refused in (f"/v1/certificates/{theirs}", f"/v1/certificates/{theirs}/lineage",
                    f"/v1/payables/{slot}/lineage", f"/v1/payables/{slot}/transfers"):  # fmt: skip
        assert api.get("supplier2", refused).status_code == 403, refused

    # The dashboard: the same tokens, and totals over them only (the old page counted 3 certificates
    # and showed tier 2 as 2 certificates, 2 holders, ¥5,000.00: supplier3's branch leaked).
    shown, count, tiers, html = _page(api, "supplier2", slot)
    assert shown == {t["token_id"] for t in path["tokens"]}
    assert count == path["count"] == 2
    assert tiers == _api_tiers(path) == [("1", "1", "1", "5,000.00"), ("2", "1", "1", "3,000.00")]
    assert f'id="t{theirs}"' not in html and api.address("supplier3") not in html
    assert "2,000.00" not in html  # supplier3's value, in no total either

    # A bank asked to finance supplier2's certificate sees that certificate's path, not the tree (the
    # old page showed a bank that was party to one certificate every certificate of the payable).
    request_id = api.ok("supplier2", "/v1/supplier/financing-requests", {
        "token_id": mine, "amount": 100_000, "financier": api.address("bank2"), "with_recourse": False,
    })["result"]["request_id"]  # fmt: skip
    asked = api.get("bank2", f"/v1/financier/requests/{request_id}").json()["token_id"]
    path = api.get("bank2", f"/v1/certificates/{asked}/lineage").json()
    assert api.get("bank2", f"/v1/certificates/{theirs}/lineage").status_code == 403
    shown, count, tiers, html = _page(api, "bank2", slot)
    assert shown == {t["token_id"] for t in path["tokens"]} and count == path["count"]
    assert tiers == _api_tiers(path)
    assert theirs not in shown and api.address("supplier3") not in html

    # The obligor (it pays every holder) sees the whole tree, in both.
    tree = api.get("core1", f"/v1/payables/{slot}/lineage").json()
    shown, count, tiers, _ = _page(api, "core1", slot)
    assert shown == {t["token_id"] for t in tree["tokens"]} == {root, mine, theirs, asked}
    assert count == tree["count"] == 4
    # Tiers are supply-chain distance (docs/tiers.md): the 1,000.00 supplier2 split off to itself (locked)
    # to be financed by bank2 is still supplier2's, tier 2 (split depth counted it as a tier 3).
    assert tiers == _api_tiers(tree)
    assert tiers == [("1", "1", "1", "5,000.00"), ("2", "3", "2", "5,000.00")]
