"""FastAPI dependencies as Annotated aliases: context, DB session, the caller by role, path ids, the write."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Annotated, Any, TypeVar

from fastapi import Depends, Form, Header, Path, Query, Request
from fastapi.responses import JSONResponse
from fastapi.security import APIKeyHeader
from pydantic import BaseModel
from sqlmodel import Session

from tierflow.chain.vocabulary import ROLE_BITS
from tierflow.platform.api.writing import run_write
from tierflow.platform.services import throttle
from tierflow.platform.services.audit_trail import Origin
from tierflow.platform.services.context import ServiceContext
from tierflow.platform.services.errors import Forbidden
from tierflow.platform.services.keyset import CURSOR_PATTERN
from tierflow.platform.services.participants import Caller, authenticate
from tierflow.platform.services.schemas.certificates import NO_NUL, TxResult

api_key_header = APIKeyHeader(
    name="X-API-Key",
    auto_error=False,
    description="API key issued at onboarding (tf_<id>_<secret>); the operator can rotate and revoke it",
)


async def get_context(request: Request) -> ServiceContext:
    context: ServiceContext = request.app.state.context
    return context


ContextDep = Annotated[ServiceContext, Depends(get_context)]


async def get_session(request: Request, ctx: ContextDep) -> AsyncIterator[Session]:
    # Async on purpose: a sync generator dependency costs two thread-pool hops per request (enter and
    # exit), more than a short read itself. Nothing here blocks: a Session opens its connection lazily
    # (inside the sync endpoint's worker thread), and closing returns it to the pool.
    # A GET reads without a transaction of its own (ctx.read_engine): no BEGIN and ROLLBACK round trips.
    engine = ctx.read_engine if request.method in ("GET", "HEAD") else ctx.engine
    with Session(engine) as session:
        yield session


SessionDep = Annotated[Session, Depends(get_session)]


async def current_caller(
    request: Request,
    ctx: ContextDep,
    session: SessionDep,
    token: Annotated[str | None, Depends(api_key_header)],
) -> Caller:
    # On the event loop, not in the thread pool: the lookup is one indexed row (well under a
    # millisecond), while a hop to a worker thread and back costs more than that under load
    # (GIL hand-offs between the loop and the workers).
    caller = authenticate(
        session=session, token=token, origin=origin_of(request), limits=throttle.Limits.of(ctx.settings)
    )
    # Hand the connection back before the endpoint runs: held from here to a thread-pool endpoint,
    # 20 requests arriving at once would hold 20 connections, and a request waiting for the pool on
    # the event loop blocks every request that would give one back. The endpoint's first query
    # checks one out again (in its worker thread, where waiting is harmless). An endpoint marked
    # `reads_through_run_read` keeps it: it reads through readcache.run_read, which closes the session
    # as soon as the read returns, before the loop runs anything else for it; so the read needs no
    # second checkout (on PostgreSQL, a pre-ping round trip), and on SQLite it reads in the key
    # lookup's snapshot.
    if not getattr(request.scope.get("endpoint"), READS_THROUGH_RUN_READ, False):
        session.close()
    request.state.caller = caller.address
    request.state.caller_obj = caller  # for the audit line of a write (api/writing.py)
    return caller


def origin_of(request: Request) -> Origin:
    """Where the request came from, for the audit trail."""
    return Origin.of_request(request)


CurrentCaller = Annotated[Caller, Depends(current_caller)]

READS_THROUGH_RUN_READ = "tierflow_reads_through_run_read"
Endpoint = TypeVar("Endpoint", bound=Callable[..., Any])


def reads_through_run_read(endpoint: Endpoint) -> Endpoint:
    """Marks an async endpoint whose every path ends in readcache.run_read or a ResponseCache.body
    (which close the session): current_caller then leaves it the key lookup's connection."""
    setattr(endpoint, READS_THROUGH_RUN_READ, True)
    return endpoint


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
Offset = Annotated[
    int,
    Query(
        ge=0,
        le=10**9,
        description="rows to skip (after the cursor, if any); deep offsets are slow: use `after`",
    ),
]
After = Annotated[
    int | None,
    Query(
        gt=0,
        lt=2**63,
        description="cursor: the previous page's `next_after`; the page starts right after that row",
    ),
]
# The cursor of a list ordered by a composite key (services.keyset.encode_cursor): opaque text.
KeyCursor = Annotated[
    str | None,
    Query(
        pattern=CURSOR_PATTERN,
        description="cursor: the previous page's `next_after`, opaque text passed back unchanged; the page "
        "starts right after that row. A cursor this list did not give out is refused (422 invalid_cursor)",
    ),
]


# -- path parameters ------------------------------------------------------------------------------
# Ids are positive and fit a signed 64-bit column (a bill discount request id a 32-bit one).
SlotId = Annotated[int, Path(gt=0, lt=2**63, description="payable (slot) id")]
TokenId = Annotated[int, Path(gt=0, lt=2**63, description="certificate (token) id")]
FinancingRequestId = Annotated[int, Path(gt=0, lt=2**63, description="financing request id")]
LineId = Annotated[int, Path(gt=0, lt=2**63, description="credit line id")]
BatchKey = Annotated[str, Path(pattern="^[0-9a-f]{64}$", description="the batch's key (64 hex digits)")]
DocumentId = Annotated[str, Path(pattern=r"^[0-9a-f]{32}$", description="document id (32 hex digits)")]
PackageId = Annotated[int, Path(gt=0, lt=2**63, description="bill package id")]
RangeId = Annotated[int, Path(gt=0, lt=2**63, description="range record id")]
BillQuoteId = Annotated[int, Path(gt=0, lt=2**63, description="bill quote id")]
BillRequestId = Annotated[int, Path(gt=0, lt=2**31, description="bill discount request id")]


# -- writes ---------------------------------------------------------------------------------------
class Write:
    """The transaction-sending side of one POST: `write(caller, body, action)` runs `action` at most once
    per (caller, Idempotency-Key) and answers 200, 202 (signature required) or the stored first reply."""

    def __init__(self, request: Request, ctx: ServiceContext, key: str | None) -> None:
        self.request = request
        self.ctx = ctx
        self.key = key

    def __call__(
        self,
        address: str,
        body: BaseModel | dict[str, Any] | None,
        action: Callable[[], BaseModel],
        *,
        after: Callable[[TxResult], BaseModel | None] | None = None,
        undo: Callable[[], None] | None = None,
    ) -> JSONResponse:
        return run_write(self.request, self.ctx, address, self.key, body, action, after=after, undo=undo)


async def get_write(request: Request, ctx: ContextDep, key: IdempotencyKey = None) -> Write:
    return Write(request, ctx, key)


WriteDep = Annotated[Write, Depends(get_write)]

# The invoice fields of the two document uploads (a core enterprise's, a bill drawer's): one
# declaration, so both forms validate and document them alike.
InvoiceCodeForm = Annotated[
    str | None,
    Form(max_length=64, pattern=NO_NUL, description="发票代码 of an older invoice (none for 全电发票)"),
]
InvoiceAmountForm = Annotated[
    int | None,
    Form(ge=1, le=10**15, description="[fen] 价税合计 (total incl. tax), checked against the file"),
]
