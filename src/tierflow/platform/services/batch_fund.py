"""Batch funding: a bank funds many accepted financing requests in one action, every request checked first.

Idempotent as a whole like a batch issue: the key is the SHA-256 of the bank and the sorted request ids
(or of the bank and the client's Idempotency-Key); each request's key derives from it.
"""

from __future__ import annotations

import contextvars
from typing import Annotated, Any

from pydantic import BaseModel, Field
from sqlalchemy import select
from sqlmodel import Session

from tierflow.platform import i18n
from tierflow.platform.models.documents import SettlementBalance
from tierflow.platform.models.financing import FinancingRequest
from tierflow.platform.services import batch_issue, batch_sweep, workflows, writes
from tierflow.platform.services.batch_issue import RowError, RowOutcome
from tierflow.platform.services.context import ServiceContext
from tierflow.platform.services.errors import InvalidRequest
from tierflow.platform.services.participants import Caller

ACTION = "/v1/financier/requests/fund-batch"


class FundBatch(BaseModel):
    # Ids are positive 64-bit integers like every id the database stores (a larger one cannot exist).
    request_ids: list[Annotated[int, Field(gt=0, lt=2**63)]] = Field(
        min_length=1, max_length=500, description="accepted requests to fund"
    )


class FundBatchResult(BaseModel):
    batch_key: str
    requests: int
    total: int = Field(description="[fen] the prices paid, all requests together")
    outcomes: list[RowOutcome]  # `row` is the request id


def check(session: Session, caller: Caller, request_ids: list[int]) -> tuple[list[RowError], int]:
    """Row errors (row = request id) and the total price; the balance must pay for all of them."""
    errors: list[RowError] = []
    total = 0
    wanted = list(dict.fromkeys(request_ids))
    # The three columns checked, in one read (at most 500 ids: FundBatch's limit), not an ORM row each.
    table = FinancingRequest.__table__  # type: ignore[attr-defined]
    found = {
        row.request_id: row
        for row in session.execute(
            select(table.c.request_id, table.c.financier, table.c.status, table.c.price).where(
                table.c.request_id.in_(wanted)
            )
        )
    }
    for request_id in wanted:
        row = found.get(request_id)
        if row is None or row.financier != caller.address:
            message = i18n.gettext("Request %(id)s is not addressed to you.", id=request_id)
            errors.append(RowError(row=request_id, column="request_id", message=message))
        elif row.status != "Accepted" or row.price is None:
            message = i18n.gettext(
                "Request %(id)s is %(status)s, not an accepted quote.", id=request_id, status=row.status
            )
            errors.append(RowError(row=request_id, column="status", message=message))
        else:
            total += int(row.price)
    balance = session.get(SettlementBalance, caller.address)
    if not errors and total > (balance.balance if balance is not None else 0):
        message = i18n.gettext(
            "Funding them all takes %(total)s; your settlement balance is %(balance)s.",
            total=i18n.money(total), balance=i18n.money(balance.balance if balance is not None else 0),
        )  # fmt: skip
        errors.append(RowError(row=0, column="balance", message=message))
    return errors, total


def fund(
    *, ctx: ServiceContext, session: Session, caller: Caller, data: FundBatch, idempotency_key: str | None
) -> FundBatchResult:
    """Check every request, then fund them all concurrently; one outcome per request, in the given order."""
    ids = list(dict.fromkeys(data.request_ids))
    content = ",".join(str(i) for i in sorted(ids)).encode()
    key = batch_issue.identity(ctx.engine, caller, content, idempotency_key, kind="fund")
    errors, total = check(session, caller, ids)
    if errors and not batch_issue.already_run(ctx.engine, caller, key):
        raise InvalidRequest(
            i18n.gettext("Some requests cannot be funded; nothing was sent. Leave them out and try again."),
            code="batch_rows_invalid",
            details={"rows": [error.model_dump() for error in errors]},
        )
    checked = not errors
    if checked:
        # One approval of the settlement token before the fan-out, not one per concurrent request; the
        # rows then skip the allowance read (an allowance that fell short after all is refused by each
        # row's simulation before sending: ERC20InsufficientAllowance, nothing sent).
        workflows.ensure_allowance(ctx=ctx, session=session, caller=caller, spender="Financing", amount=total)
    session.rollback()  # end the read transaction before the concurrent writes (SQLite's lock)
    # Its requests, kept before any is claimed: its status names each one, those never sent too.
    batch_issue.keep_rows(ctx.engine, caller.address, _requests_key(key), "request_ids", ids)
    rkeys = {request_id: batch_issue.row_key(key, request_id) for request_id in ids}
    claimed = batch_issue.claim_rows(
        ctx, caller, {rkeys[request_id]: (ACTION, {"request_id": request_id}) for request_id in ids}
    )

    # The rows' threads start from an empty context, as before, with one DecodedReceipts for all: the
    # rows of one transaction, looked up when the batch is submitted again, decode its receipt once.
    context = writes.decoding_once(contextvars.Context())

    def one(request_id: int) -> RowOutcome:
        def work(item_session: Session, _kept: list[str]) -> Any:
            return workflows.fund(
                ctx=ctx, session=item_session, caller=caller, request_id=request_id, allowance_checked=checked
            )

        return context.copy().run(
            batch_issue.keyed_item,
            ctx=ctx, caller=caller, rkey=batch_issue.row_key(key, request_id), item=request_id,
            payload={"request_id": request_id}, action=ACTION, work=work, done="funded",
            claimed=rkeys[request_id] in claimed,
        )  # fmt: skip

    outcomes = batch_issue.every_row(one, ids)
    return FundBatchResult(batch_key=key, requests=len(ids), total=total, outcomes=outcomes)


def _requests_key(key: str) -> str:
    """The record that keeps a batch funding's request ids (`key`: the batch's)."""
    return f"batch-requests:{key}"


def status(ctx: ServiceContext, address: str, key: str) -> batch_sweep.BatchStatus:
    """The outcome of each request of `address`'s batch funding `key` as known now, by request id: funded,
    failed, in progress (the sweep settles it) or not sent. NotFound for another's or an unknown batch."""
    # A batch run before its requests were kept lists the requests it claimed.
    rows = batch_issue.kept_rows(ctx.engine, address, _requests_key(key), "request_ids")
    message = i18n.gettext(
        "Not sent: the batch stopped before this request was funded. Submit the same requests again to fund "
        "it (those already funded are not funded twice)."
    )
    return batch_sweep.rows_status(ctx, address, key, done="funded", rows=rows, not_sent_message=message)
