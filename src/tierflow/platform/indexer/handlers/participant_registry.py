"""Handlers of ParticipantRegistry events: participants, roles, parameters, pause and system contracts."""

from __future__ import annotations

from tierflow.chain.abi import Event
from tierflow.platform.indexer import tiers
from tierflow.platform.indexer.handlers.registry import handles, require
from tierflow.platform.indexer.store import Row, Store


@handles("ParticipantRegistry:ParticipantRegistered")
def participant_registered(event: Event, store: Store) -> None:
    a = event.args
    store.create(
        "participant",
        {
            "address": a["account"],
            "roles": a["roles"],
            "status": "active",
            "entity_hash": a["entityHash"],
            "registered_by": a["operator"],
        },
    )


@handles("ParticipantRegistry:ParticipantRolesChanged")
def participant_roles_changed(event: Event, store: Store) -> None:
    participant = require(store, "participant", event.args["account"])
    before, participant["roles"] = int(participant["roles"]), event.args["roles"]
    if (before ^ int(event.args["roles"])) & tiers.FINANCIER_ROLE:
        # A financier's pieces have no supplier tier and it counts as no supplier on a lineage.
        tiers.follow_roles(store, event.args["account"])


@handles("ParticipantRegistry:ParticipantSuspended")
def participant_suspended(event: Event, store: Store) -> None:
    require(store, "participant", event.args["account"])["status"] = "suspended"


@handles("ParticipantRegistry:ParticipantReinstated")
def participant_reinstated(event: Event, store: Store) -> None:
    require(store, "participant", event.args["account"])["status"] = "active"


def _platform_state(store: Store) -> Row:
    row = store.get("platform_state", 1)
    if row is None:
        row = store.create("platform_state", {"id": 1, "paused": False})
    row["updated_block"] = store.block_number
    return row


@handles("ParticipantRegistry:ParametersChanged")
def parameters_changed(event: Event, store: Store) -> None:
    row = _platform_state(store)
    row["max_tenor"] = event.args["maxTenor"]
    row["grace_period"] = event.args["gracePeriod"]
    row["min_unit"] = event.args["minUnit"]


@handles("ParticipantRegistry:Paused")
def paused(event: Event, store: Store) -> None:
    _platform_state(store)["paused"] = True


@handles("ParticipantRegistry:Unpaused")
def unpaused(event: Event, store: Store) -> None:
    _platform_state(store)["paused"] = False


@handles("ParticipantRegistry:SystemContractSet")
def system_contract_set(event: Event, store: Store) -> None:
    account, enabled = event.args["account"], event.args["enabled"]
    row = store.get("system_contract", account)
    if row is None:
        store.create("system_contract", {"address": account, "enabled": enabled})
    else:
        row["enabled"] = enabled
        row["updated_block"] = store.block_number
