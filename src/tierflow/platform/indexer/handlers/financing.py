"""Handlers of Financing events: financing requests, quotes, funding and recourse."""

from __future__ import annotations

from tierflow.chain.abi import Event
from tierflow.platform.indexer.handlers.registry import handles, history, require
from tierflow.platform.indexer.store import Store


@handles("Financing:FinancingRequested")
def financing_requested(event: Event, store: Store) -> None:
    a = event.args
    store.create(
        "financing_request",
        {
            "request_id": a["requestId"],
            "token_id": a["tokenId"],
            "seller": a["seller"],
            "financier": a["financier"],
            "amount": a["amount"],
            "with_recourse": a["withRecourse"],
            "status": "Requested",
        },
    )


@handles("Financing:FinancingQuoted")
def financing_quoted(event: Event, store: Store) -> None:
    a = event.args
    request = require(store, "financing_request", a["requestId"])
    request.update(
        status="Quoted",
        rate_bps=a["rateBps"],
        quote_expiry=a["expiry"],
        discount=a["discount"],
        price=a["price"],
    )
    store.append(
        "financing_quote",
        history(
            event,
            request_id=a["requestId"],
            financier=a["financier"],
            rate_bps=a["rateBps"],
            expiry=a["expiry"],
            discount=a["discount"],
            price=a["price"],
        ),
    )


@handles("Financing:FinancingQuoteAccepted")
def financing_quote_accepted(event: Event, store: Store) -> None:
    require(store, "financing_request", event.args["requestId"])["status"] = "Accepted"


@handles("Financing:FinancingFunded")
def financing_funded(event: Event, store: Store) -> None:
    a = event.args
    request = require(store, "financing_request", a["requestId"])
    request.update(status="Funded", funded_block=event.block_number, price=a["price"], discount=a["discount"])
    store.append(
        "financing_funding",
        history(
            event,
            request_id=a["requestId"],
            token_id=a["tokenId"],
            financier=a["financier"],
            seller=a["seller"],
            price=a["price"],
            discount=a["discount"],
        ),
    )


@handles("Financing:FinancingCancelled")
def financing_cancelled(event: Event, store: Store) -> None:
    request = require(store, "financing_request", event.args["requestId"])
    request.update(status="Cancelled", cancelled_by=event.args["by"])


@handles("Financing:FinancingDeclined")
def financing_declined(event: Event, store: Store) -> None:
    request = require(store, "financing_request", event.args["requestId"])
    request.update(status="Declined", cancelled_by=event.args["financier"])


@handles("Financing:FinancingLapsed")
def financing_lapsed(event: Event, store: Store) -> None:
    request = require(store, "financing_request", event.args["requestId"])
    request.update(status="Lapsed", cancelled_by=event.args["by"])


@handles("Financing:RecourseExercised")
def recourse_exercised(event: Event, store: Store) -> None:
    a = event.args
    require(store, "financing_request", a["requestId"])["status"] = "Recoursed"
    store.append(
        "recourse_exercise",
        history(
            event,
            request_id=a["requestId"],
            token_id=a["tokenId"],
            financier=a["financier"],
            seller=a["seller"],
            amount=a["amount"],
        ),
    )
    store.create(
        "recourse_debt",
        {
            "request_id": a["requestId"],
            "token_id": a["tokenId"],
            "seller": a["seller"],
            "financier": a["financier"],
            "owed": a["amount"],
            "collected": 0,
            "remaining": a["amount"],
        },
    )


@handles("Financing:RecourseCollected")
def recourse_collected(event: Event, store: Store) -> None:
    a = event.args
    debt = require(store, "recourse_debt", a["requestId"])
    debt.update(collected=debt["collected"] + a["amount"], remaining=a["remaining"])
