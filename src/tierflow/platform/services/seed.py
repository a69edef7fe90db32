"""Development seeding: the demo participants in the directory, custodial, with well-known API keys."""

from __future__ import annotations

from sqlmodel import Session

from tierflow.chain.accounts import DEMO_PARTICIPANTS, demo_accounts
from tierflow.chain.demo import demo_legal_id
from tierflow.platform.services.context import ServiceContext
from tierflow.platform.services.participants import ensure_directory_entry

DEMO_NAMES = {
    "operator": "Tierflow Platform Operator",
    "core1": "Hangzhou Grand Motors Group",
    "core2": "Shenzhen Bright Electronics Holdings",
    "supplier1": "Ningbo Steel Frames Co.",
    "supplier2": "Wuxi Precision Bearings Co.",
    "supplier3": "Suzhou Fasteners Co.",
    "supplier4": "Jiaxing Coatings Co.",
    "bank1": "Bank of Tierflow (settlement bank)",
    "bank2": "Eastern Factoring Co.",
    "auditor": "Tierflow Audit & Supervision",
}


def demo_api_key(name: str) -> str:
    """The API key of a demo participant in development: public knowledge, refused in production."""
    return f"tf_{name}_dev-{name}-key-not-secret"


def seed_demo_directory(ctx: ServiceContext) -> dict[str, str]:
    """Put every registered demo participant (and the operator) in the directory; name → API key."""
    if ctx.settings.environment == "production":
        raise RuntimeError("demo participants and their public API keys are for development only")
    gateway = ctx.gateway()
    accounts = demo_accounts()
    keys: dict[str, str] = {}
    with Session(ctx.engine) as session:
        for name, (_, roles) in DEMO_PARTICIPANTS.items():
            if name == "outsider":
                continue
            account = accounts[name]
            entity = None
            if roles is not None:
                _, status, entity = gateway.call("ParticipantRegistry", "participant", account.address)
                if status == 0:
                    continue
            ensure_directory_entry(
                ctx=ctx,
                session=session,
                account=account,
                legal_name=DEMO_NAMES.get(name, name),
                legal_id=demo_legal_id(name),
                roles=int(roles or 0),
                is_operator=name == "operator",
                api_key=demo_api_key(name),
                entity=bytes(entity) if entity is not None else None,
            )
            keys[name] = demo_api_key(name)
    return keys
