"""FastAPI dependencies as Annotated aliases: context, DB session, the authenticated caller by role."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Annotated

from fastapi import Depends, Header, Query, Request
from fastapi.security import APIKeyHeader
from sqlmodel import Session

from tierflow.chain.vocabulary import ROLE_BITS
from tierflow.platform.services.context import ServiceContext
from tierflow.platform.services.errors import Forbidden
from tierflow.platform.services.participants import Caller, authenticate

api_key_header = APIKeyHeader(
    name="X-API-Key",
    auto_error=False,
    description="API key issued at onboarding (tf_<id>_<secret>); the operator can rotate and revoke it",
)


async def get_context(request: Request) -> ServiceContext:
    context: ServiceContext = request.app.state.context
    return context


ContextDep = Annotated[ServiceContext, Depends(get_context)]


async def get_session(ctx: ContextDep) -> AsyncIterator[Session]:
    # Async on purpose: a sync generator dependency costs two thread-pool hops per request (enter and
    # exit), more than a short read itself. Nothing here blocks: a Session opens its connection lazily
    # (inside the sync endpoint's worker thread), and closing returns it to the pool.
    with Session(ctx.engine) as session:
        yield session


SessionDep = Annotated[Session, Depends(get_session)]


async def current_caller(
    request: Request, session: SessionDep, token: Annotated[str | None, Depends(api_key_header)]
) -> Caller:
    # On the event loop, not in the thread pool: the lookup is one indexed row (well under a
    # millisecond), while a hop to a worker thread and back costs more than that under load
    # (GIL hand-offs between the loop and the workers).
    caller = authenticate(session=session, token=token)
    # Hand the connection back before the endpoint runs: held from here to a thread-pool endpoint,
    # 20 requests arriving at once would hold 20 connections, and a request waiting for the pool on
    # the event loop blocks every request that would give one back. The endpoint's first query
    # checks one out again (in its worker thread, where waiting is harmless).
    session.close()
    request.state.caller = caller.address
    return caller


CurrentCaller = Annotated[Caller, Depends(current_caller)]


def role_guard(
    *roles: str, operator: bool = False, auditor: bool = False
) -> Callable[[Caller], Awaitable[Caller]]:
    """A dependency admitting callers holding any of `roles` (or the operator / auditors if allowed)."""
    bits = 0
    for role in roles:
        bits |= ROLE_BITS[role]
    wanted = [*roles, *(["operator"] if operator else []), *(["auditor"] if auditor else [])]

    async def guard(caller: CurrentCaller) -> Caller:
        if caller.has(bits) or (operator and caller.is_operator) or (auditor and caller.is_auditor):
            return caller
        raise Forbidden(
            f"this endpoint is for {' or '.join(wanted)}; your API key belongs to "
            f"{caller.legal_name} ({caller.address})",
            code="wrong_role",
        )

    return guard


OperatorCaller = Annotated[Caller, Depends(role_guard(operator=True))]
FinancierCaller = Annotated[Caller, Depends(role_guard("financier"))]
SettlementBankCaller = Annotated[Caller, Depends(role_guard("settlement_bank"))]
CoreCaller = Annotated[Caller, Depends(role_guard("core_enterprise"))]
SupplierCaller = Annotated[Caller, Depends(role_guard("supplier"))]
HolderCaller = Annotated[Caller, Depends(role_guard("supplier", "financier"))]
AuditorCaller = Annotated[Caller, Depends(role_guard(auditor=True, operator=True))]
WriterCaller = Annotated[
    Caller, Depends(role_guard("core_enterprise", "supplier", "financier", "settlement_bank"))
]

IdempotencyKey = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        max_length=128,
        description="makes the POST safe to retry: the first response is stored and replayed",
    ),
]
Limit = Annotated[int, Query(ge=1, le=1000, description="page size")]
Offset = Annotated[int, Query(ge=0, le=10**9, description="rows to skip")]
