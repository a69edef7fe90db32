"""The response cache of large reads, keyed by the indexer's data version: a write is visible on the next
read, empty blocks keep it warm, party checks still run on every request."""

from __future__ import annotations

from apikit import Api
from sqlmodel import Session

from tierflow.platform.services import participants
from tierflow.platform.services.readcache import data_version_of


def _version(api: Api) -> int:
    with Session(api.ctx.engine) as session:
        version = data_version_of(session)
    assert version is not None
    return version


def test_lineage_cache_sees_the_next_write_and_still_checks_the_caller(funded: Api) -> None:
    api = funded
    line = api.credit_line("bank1", "core1")
    slot, root = api.issue("core1", "supplier1", 1_000_000, line, days=30)
    path = f"/v1/payables/{slot}/lineage"

    first = api.get("core1", path)
    again = api.get("core1", path)  # served from the cache: byte for byte the same body
    assert first.status_code == again.status_code == 200
    assert first.content == again.content
    assert [t["token_id"] for t in first.json()["tokens"]] == [root]

    # The cached tree never answers a caller who may not read it.
    refused = api.get("supplier2", path)
    assert refused.status_code == 403 and refused.json()["error"]["code"] == "not_a_party"

    # Read-your-writes: the split is in the very next read (the write waited for the indexer, whose
    # commit moved the checkpoint the cache is keyed by).
    body = api.ok(
        "supplier1", f"/v1/certificates/{root}/transfer", {"to": api.address("supplier2"), "value": 1}
    )
    child = body["result"]["new_token_id"]
    tree = api.get("core1", path).json()
    assert {t["token_id"] for t in tree["tokens"]} == {root, child}
    assert tree["count"] == 2
    values = {t["token_id"]: t["value"] for t in tree["tokens"]}
    assert values == {root: 999_999, child: 1}

    # Another page of the same tree is its own entry.
    page = api.get("core1", path, limit=1, offset=1).json()
    assert [t["token_id"] for t in page["tokens"]] == [child]


def test_me_is_byte_for_byte_the_response_model(api: Api) -> None:
    """GET /v1/me skips the response-model pass: its body must still be what the model renders."""
    for who in ("operator", "supplier1", "bank1", "auditor"):
        response = api.get(who, "/v1/me")
        assert response.status_code == 200
        with Session(api.ctx.engine) as session:
            row = participants.get(session=session, address=api.address(who))
            expected = participants.public(row).model_dump_json().encode()
        assert response.content == expected


def test_holdings_and_bank_queue_caches_see_the_next_write_and_stay_per_caller(funded: Api) -> None:
    api = funded
    line = api.credit_line("bank1", "core1")
    slot, root = api.issue("core1", "supplier1", 500_000, line, days=30)
    before = api.get("supplier2", "/v1/supplier/holdings", slot_id=slot).json()
    assert before["data"] == [] and before["count"] == 0
    queue_before = api.get("bank2", "/v1/financier/requests", status="Requested").json()
    other_bank = api.get("bank1", "/v1/financier/requests", status="Requested").json()
    # The auditor's lists: the same query again is a cache hit, byte for byte; the caller is still checked.
    audit = {
        "/v1/audit/certificates": {"holder": api.address("supplier2")},
        "/v1/audit/payables": {"obligor": api.address("core1")},
    }
    audited = {path: api.get("auditor", path, **query) for path, query in audit.items()}
    hits, misses = api.ctx.responses.hits, api.ctx.responses.misses
    for path, query in audit.items():
        assert api.get("auditor", path, **query).content == audited[path].content
        assert api.get("supplier2", path, **query).status_code == 403
    assert (api.ctx.responses.hits, api.ctx.responses.misses) == (hits + 2, misses)

    body = api.ok(
        "supplier1", f"/v1/certificates/{root}/transfer", {"to": api.address("supplier2"), "value": 7}
    )
    child = body["result"]["new_token_id"]
    # Read-your-writes through the auditor's cached lists too.
    seen = api.get("auditor", "/v1/audit/certificates", **audit["/v1/audit/certificates"]).json()
    assert child in [c["token_id"] for c in seen["data"]] or seen["next_after"] is not None
    assert seen["count"] == audited["/v1/audit/certificates"].json()["count"] + 1
    after = api.get("supplier2", "/v1/supplier/holdings", slot_id=slot).json()
    assert [(c["token_id"], c["value"]) for c in after["data"]] == [(child, 7)]
    # The same query by another holder is its own entry: supplier1 sees its own certificate only.
    mine = api.get("supplier1", "/v1/supplier/holdings", slot_id=slot).json()
    assert [(c["token_id"], c["value"]) for c in mine["data"]] == [(root, 499_993)]

    body = api.ok(
        "supplier2",
        "/v1/supplier/financing-requests",
        {"token_id": child, "amount": 7, "financier": api.address("bank2"), "with_recourse": False},
    )
    request_id = body["result"]["request_id"]
    queue = api.get("bank2", "/v1/financier/requests", status="Requested").json()
    assert request_id in [r["request_id"] for r in queue["data"]]
    assert queue["count"] == queue_before["count"] + 1
    # bank1 was not asked: its queue is unchanged and never shows bank2's request.
    unchanged = api.get("bank1", "/v1/financier/requests", status="Requested").json()
    assert unchanged["count"] == other_bank["count"]
    assert request_id not in [r["request_id"] for r in unchanged["data"]]


def test_empty_blocks_keep_cached_reads_and_the_poller_quiet_a_write_moves_both(funded: Api) -> None:
    api = funded
    line = api.credit_line("bank1", "core1")
    slot, root = api.issue("core1", "supplier1", 300_000, line, days=30)
    path = f"/v1/payables/{slot}/lineage"
    first = api.get("core1", path)
    assert first.status_code == 200
    version = _version(api)
    assert api.client.get("/dashboard/changes", params={"since": version}).status_code == 204

    w3 = api.platform.w3
    api.platform.mine(3)  # a real chain makes empty blocks all the time
    assert api.ctx.link.wait_for(w3.eth.block_number, 30)
    assert api.ctx.link.checkpoint_block() == w3.eth.block_number
    hits, misses = api.ctx.responses.hits, api.ctx.responses.misses
    again = api.get("core1", path)
    assert again.content == first.content
    assert (api.ctx.responses.hits, api.ctx.responses.misses) == (hits + 1, misses)
    assert api.client.get("/dashboard/changes", params={"since": version}).status_code == 204

    # A write: its answer waits for the indexer, whose commit moves the version; the next read rebuilds.
    body = api.ok(
        "supplier1", f"/v1/certificates/{root}/transfer", {"to": api.address("supplier2"), "value": 3}
    )
    child = body["result"]["new_token_id"]
    changed = api.client.get("/dashboard/changes", params={"since": version})
    assert changed.status_code == 200 and changed.headers["HX-Trigger"] == "chain-changed"
    assert f'since={_version(api)}"' in changed.text
    tree = api.get("core1", path).json()
    assert {t["token_id"] for t in tree["tokens"]} == {root, child}
    assert api.ctx.responses.misses == misses + 1
