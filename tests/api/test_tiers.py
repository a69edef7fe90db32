"""Tier is supply-chain distance from the core enterprise (docs/tiers.md), not split depth: the same
number in the API and the dashboard, on the real chain.

The old tier (split depth + 1) called a tier-1 supplier's financing request "tier 2" (the request
splits the certificate), a certificate passed on whole still the sender's tier, and counted a bank's
piece as a supplier tier.
"""

from __future__ import annotations

import csv
import io
import re
from typing import Any

from apikit import Api
from fastapi.testclient import TestClient


def _tier(api: Api, who: str, token: int) -> int | None:
    body = api.get(who, f"/v1/certificates/{token}").json()
    tier: int | None = body["tier"]
    return tier


def _dashboard(api: Api, who: str) -> TestClient:
    client = TestClient(api.client.app)
    token = re.search(r'name="csrf_token" value="([0-9a-f]+)"', client.get("/dashboard/sign-in").text)
    assert token is not None
    client.post("/dashboard/sign-in", data={"api_key": api.keys[who], "csrf_token": token.group(1)})
    return client


def _table(html: str, testid: str) -> list[tuple[str, ...]]:
    table = html.split(f'data-testid="{testid}"', 1)[1].split("</table>", 1)[0]
    return [
        tuple(re.sub(r"<[^>]+>", "", cell).strip() for cell in re.findall(r"<td[^>]*>(.*?)</td>", row)[:4])
        for row in re.findall(r"<tr>(.*?)</tr>", table.split("<tbody>", 1)[1])
    ]


def _totals(tokens: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Tier totals (TierTotal) of the live certificates among `tokens`: supplier tiers, then financed."""
    live = [t for t in tokens if t["status"] in ("active", "locked")]
    tiers = sorted({t["tier"] for t in live}, key=lambda tier: (tier is None, tier or 0))
    return [
        {"tier": tier, "tokens": len(at), "holders": len({t["holder"] for t in at}),
         "value": sum(t["value"] for t in at)}
        for tier in tiers
        for at in [[t for t in live if t["tier"] == tier]]
    ]  # fmt: skip


def test_tier_is_supply_chain_distance_through_financing_whole_transfers_and_a_cycle(funded: Api) -> None:
    api = funded
    line = api.credit_line("bank1", "core2")
    slot, root = api.issue("core2", "supplier1", 1_000_000, line)
    assert _tier(api, "supplier1", root) == 1

    # A financing request splits the certificate: the piece is still the tier-1 supplier's own.
    request_id = api.ok("supplier1", "/v1/supplier/financing-requests", {
        "token_id": root, "amount": 300_000, "financier": api.address("bank1"), "with_recourse": False,
    })["result"]["request_id"]  # fmt: skip
    piece = api.get("bank1", f"/v1/financier/requests/{request_id}").json()["token_id"]
    assert piece != root and _tier(api, "supplier1", piece) == 1  # split depth said 2
    detail = api.get("bank1", f"/v1/financier/requests/{request_id}").json()
    assert detail["certificate"]["tier"] == 1 and [t["tier"] for t in detail["lineage"]] == [1, 1]

    # Funded, the piece is the bank's: financed paper, no supplier tier.
    api.ok("bank1", f"/v1/financier/requests/{request_id}/quote", {"rate_bps": 500, "valid_hours": 24})
    mine = api.get("supplier1", "/v1/supplier/financing-requests").json()["data"]
    quoted = next(r for r in mine if r["request_id"] == request_id)
    terms = {"rate_bps": quoted["rate_bps"], "price": quoted["price"], "expiry": quoted["quote_expiry"]}
    api.ok("supplier1", f"/v1/supplier/financing-requests/{request_id}/accept-quote", terms)
    api.ok("bank1", f"/v1/financier/requests/{request_id}/fund")
    assert _tier(api, "bank1", piece) is None

    # Multi-hop: supplier1 → supplier2 (a split), supplier2 → supplier3 whole (no new token).
    hop = api.ok(
        "supplier1", f"/v1/certificates/{root}/transfer", {"to": api.address("supplier2"), "value": 200_000}
    )["result"]["new_token_id"]
    assert _tier(api, "supplier2", hop) == 2
    api.ok(
        "supplier2", f"/v1/certificates/{hop}/transfer", {"to": api.address("supplier3"), "value": 200_000}
    )
    assert _tier(api, "supplier3", hop) == 3  # split depth said 2: a whole transfer moved no depth

    # Back to a holder already on the lineage: supplier1 is the core's tier-1 supplier still.
    back = api.ok(
        "supplier3", f"/v1/certificates/{hop}/transfer", {"to": api.address("supplier1"), "value": 50_000}
    )["result"]["new_token_id"]
    assert _tier(api, "supplier1", back) == 1

    # The obligor's tree in the API and its dashboard: the same tiers, the bank's piece apart.
    tree = api.get("core2", f"/v1/payables/{slot}/lineage").json()
    assert {t["token_id"]: t["tier"] for t in tree["tokens"]} == {root: 1, piece: None, hop: 3, back: 1}
    assert [(t["tier"], t["tokens"], t["holders"], t["value"]) for t in tree["tiers"]] == [
        (1, 2, 1, 550_000), (3, 1, 1, 150_000), (None, 1, 1, 300_000),
    ]  # fmt: skip
    # Each certificate's own lineage (GET /v1/certificates/{id}/lineage, read in two statements): the
    # tree's certificates along the parent walk, with the same tiers, and totals over that path only.
    by_id = {t["token_id"]: t for t in tree["tokens"]}
    for token in by_id:
        walk, at = [], token
        while at is not None:
            walk.append(by_id[at])
            at = by_id[at]["parent_id"]
        path = api.get("core2", f"/v1/certificates/{token}/lineage").json()
        assert path["tokens"] == walk and path["count"] == len(walk) and path["root_token_id"] == root
        assert path["tiers"] == _totals(walk) and path["slot_id"] == slot
    core = _dashboard(api, "core2")
    assert _table(core.get(f"/dashboard/lineage/{slot}").text, "lineage-tiers") == [
        ("1", "2", "1", "5,500.00"), ("3", "1", "1", "1,500.00"), ("financed", "1", "1", "3,000.00"),
    ]  # fmt: skip
    spread = _table(core.get(f"/dashboard/core/{api.address('core2')}").text, "tiers")
    assert spread[-1][0] == "Banks (financed)" and all(row[0].startswith("Tier ") for row in spread[:-1])

    # The auditor's CSV: the same tiers (empty for the bank's piece).
    rows = list(
        csv.DictReader(
            io.StringIO(_dashboard(api, "auditor").get("/dashboard/audit/export/certificates.csv").text)
        )
    )
    tiers = {int(r["token_id"]): r["tier"] for r in rows if int(r["slot_id"]) == slot}
    assert tiers == {root: "1", piece: "", hop: "3", back: "1"}
