"""What each API operation does, for the OpenAPI document: a description per operation, and an example
answer for every operation whose schema carries none (built from the schema, units and all).

Descriptions live here, one line per operation, rather than in each router: the routers stay about
wiring, and `tests/api/test_openapi_docs.py` fails on an operation without a description or example.
Amounts are integer fen (1 yuan = 100 fen) wherever a field name or description says fen; dates are
ISO 8601 in and out (YYYY-MM-DD; instants as UTC date-times ending in Z); unix seconds only in fields
named `…_unix` and in the signed forwarder request's `deadline` (tests/api/test_openapi_dates.py).
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

from fastapi import FastAPI

WRITE = (
    " A write: custodial callers get the transaction's result once it is indexed (read-your-writes); "
    "self-custody callers get 202 with an EIP-712 request to sign and post to /v1/relay. Send an "
    "Idempotency-Key to retry safely."
)
PROPOSED = (
    " Governance's power: this proposes the change to the governors' council (`result.proposal_id`); it "
    "runs once enough governors approved it and the timelock's delay passed (POST "
    "/v1/governance/proposals/{proposal_id}/approve, then /execute)."
)
PAGED = " Paged: `limit` and `after` (the cursor of the previous page's `next_after`)."
OFFSET_PAGED = " Paged: `limit` and `offset`."
# Lists that had only `offset` before they took the cursor (issue 17) keep taking it.
STILL_OFFSET = PAGED + " `offset` is still taken (skips rows after the cursor); deep offsets are slow."
# Lists ordered by a composite key (issue 17): their cursor is opaque text (services.keyset).
OPAQUE_CURSOR = (
    " Paged: `limit` and `after`, the previous page's `next_after`: opaque text (base64url of the last "
    "row's key) to pass back unchanged; a cursor this list did not give out is refused (422 "
    "invalid_cursor). `offset` is still taken for compatibility (skips rows after the cursor); deep "
    "offsets are slow."
)

DESCRIPTIONS: dict[tuple[str, str], str] = {
    # -- governance: the governors' council (issue 15) -----------------------------------------------
    ("GET", "/v1/governance/proposals"): "Every proposal, newest first: the contract and function it would "
    "call with its arguments, who proposed and approved it, the approvals needed, its state (Pending, "
    "Scheduled, Executed, Cancelled, or Expired once past its deadline), when it may run and until when "
    "(governors, operator, auditors).",
    ("GET", "/v1/governance/proposals/{proposal_id}"): "One proposal with its approvals and state "
    "(governors, operator, auditors).",
    ("POST", "/v1/governance/proposals/parameters"): "Propose the longest tenor (days), the grace period "
    "(days) and the minimum unit (fen); counts as the proposer's approval (governor).",
    ("POST", "/v1/governance/proposals/quote-validity"): "Propose the longest a bank's quote may stay open, "
    "in hours (1 to 168) (governor).",
    ("POST", "/v1/governance/proposals/unpause"): "Propose to resume a paused platform (governor).",
    ("POST", "/v1/governance/proposals/role"): "Propose to grant or revoke the operator, guardian or "
    "controller role of an address (governor).",
    ("POST", "/v1/governance/proposals/upgrade"): "Propose to upgrade a contract to an implementation "
    "already deployed (its storage layout checked by `tierflow storage-check`) (governor).",
    ("POST", "/v1/governance/proposals/{proposal_id}/approve"): "Approve a pending proposal; the approval "
    "that reaches the threshold starts the timelock's delay (governor, once each).",
    ("POST", "/v1/governance/proposals/{proposal_id}/cancel"): "Cancel a pending or scheduled proposal: "
    "its proposer at once; any other governor votes, and as many votes as the threshold cancel it "
    "(governor).",
    ("POST", "/v1/governance/proposals/{proposal_id}/execute"): "Run a scheduled proposal once its delay "
    "has passed and before its deadline (governor).",
    # -- operator: platform parameters and asset-level controls (issues 13 and 15) ------------------
    ("PUT", "/v1/operator/quote-validity"): "Set the longest time a bank's quote may stay open, in hours "
    "(1 to 168; 24 by default): a seller's acceptance binds terms no older than this (operator)." + PROPOSED,
    ("POST", "/v1/operator/certificates/{token_id}/unfreeze"): "Release a judicial hold on a certificate "
    "(the order's reference is hashed on chain); whatever settlement paid into its escrow meanwhile goes "
    "to the certificate's holder then (operator)." + WRITE,
    ("POST", "/v1/operator/certificates/{token_id}/force-transfer"): "Move a certificate, or part of its "
    "value in fen, to another holder under a court order (its reference hashed on chain); a hold and its "
    "escrow move with a whole certificate (operator)." + PROPOSED,
    ("POST", "/v1/operator/bill-ranges/{range_id}/freeze"): "Put a judicial hold on a bill's sub-ticket "
    "range, or part of it: the frozen range cannot be endorsed, discounted, pledged, presented or paid "
    "until released (operator)." + WRITE,
    ("POST", "/v1/operator/bill-ranges/{range_id}/unfreeze"): "Release a judicial hold on a bill range: "
    "its holder may use it again (operator)." + WRITE,
    ("POST", "/v1/operator/bill-ranges/{range_id}/force-transfer"): "Move a bill range, or part of it, to "
    "another holder under a court order; the new holder takes the old one's place in the chain of "
    "endorsements (not an endorsement) (operator)." + PROPOSED,
    ("GET", "/v1/audit/holds"): "Every judicial hold in force or released: asset, holder, frozen value in "
    "fen, escrow in fen, the order's hash and dates (auditors and the operator).",
    ("GET", "/v1/audit/controls"): "The latest asset-level controls (freezes, releases, forced transfers, "
    "key recoveries), newest first, with the order's hash and who acted (auditors and the operator).",
    ("GET", "/v1/holds"): "Judicial holds on what the caller holds: the frozen value and any escrow in fen, "
    "the order's hash and since when.",
    # -- operator -----------------------------------------------------------------------------------
    (
        "GET",
        "/v1/operator/participants",
    ): "Every onboarded participant with its roles and status (operator), in onboarding order "
    "(created_at, address)." + OPAQUE_CURSOR,
    ("GET", "/v1/operator/participants/{address}"): "One participant by address: legal name, roles, status, "
    "custody (operator).",
    ("POST", "/v1/operator/participants/{address}/suspend"): "Suspend a participant on chain: it can neither "
    "send nor receive value until reinstated (operator)." + WRITE,
    ("POST", "/v1/operator/participants/{address}/reinstate"): "Lift a suspension (operator)." + WRITE,
    ("GET", "/v1/operator/participants/{address}/api-keys"): "The participant's API keys (ids, scopes, "
    "created and revoked times; never the keys themselves) (operator).",
    ("POST", "/v1/operator/participants/{address}/api-keys"): "Issue another API key for a participant; the "
    "key is shown once in the answer, only its hash is kept (operator).",
    ("DELETE", "/v1/operator/participants/{address}/api-keys/{key_id}"): "Revoke one API key at once; its "
    "dashboard sessions end too (operator).",
    ("GET", "/v1/operator/platform"): "The platform's pause state and parameters as the chain has them: "
    "longest tenor and grace period in days, minimum unit in fen (operator).",
    (
        "PUT",
        "/v1/operator/parameters",
    ): "Set the longest tenor (days), the grace period after maturity (days) "
    "and the minimum unit (fen) (operator)." + PROPOSED,
    ("POST", "/v1/operator/pause"): "Emergency stop: issuing, transfers, financing and repayments wait "
    "until unpause; reads go on (operator).",
    ("POST", "/v1/operator/unpause"): "Resume the platform after a pause (operator)." + PROPOSED,
    ("POST", "/v1/operator/payouts"): "Push the payouts of matured, repaid certificates to their holders in "
    "one batch, so nobody has to claim (operator)." + WRITE,
    # -- financier ----------------------------------------------------------------------------------
    ("POST", "/v1/financier/credit-lines"): "Grant a core enterprise a credit line: `limit` in fen, `expiry` "
    "an ISO date; issuing draws on it, repayment restores it (financier)." + WRITE,
    ("GET", "/v1/financier/credit-lines"): "The credit lines this financier granted, with used and available "
    "amounts in fen." + STILL_OFFSET,
    ("POST", "/v1/financier/credit-lines/{line_id}/adjust"): "Change a line's limit (fen, not below what is "
    "in use) or expiry (ISO date) (financier)." + WRITE,
    ("GET", "/v1/financier/requests"): "Financing requests addressed to this bank, with the certificate's "
    "lineage, obligor, face (fen), maturity and documents." + PAGED,
    ("GET", "/v1/financier/requests/{request_id}"): "One financing request with everything a credit officer "
    "needs: lineage, obligor and its exposure, maturity, invoices.",
    ("POST", "/v1/financier/requests/{request_id}/quote"): "Quote a discount rate (bps a year, 360-day "
    "basis) valid for some hours; the price the seller would receive is fixed by the quote "
    "(financier)." + WRITE,
    ("POST", "/v1/financier/requests/{request_id}/fund"): "Fund an accepted quote: the price in settlement "
    "token goes to the seller and the certificate to the bank in one transaction (DvP)." + WRITE,
    ("GET", "/v1/financier/requests/fund-batch/{batch_key}"): "A batch funding's outcome per request, as "
    "known now, without sending its requests again: `batch_key` is what POST "
    "/v1/financier/requests/fund-batch answered (the SHA-256 of `fund:` and the hex SHA-256 of the bank's "
    "lower-case address, a newline, `file:` and the request ids sorted and joined by commas). One outcome "
    "per request, by request id: `funded` with its tx hash, `failed` with the error's code and message, "
    "`in_progress` while a run that stopped before storing its answer is read from the chain (within "
    "minutes, also after a restart), `failed` with code `not_sent` for a request that never went out "
    "(submitting the same requests again sends it, and nothing twice). 404 for another bank's or an "
    "unknown batch.",
    ("POST", "/v1/financier/requests/{request_id}/decline"): "Decline a financing request; the seller's "
    "certificate is unlocked (financier)." + WRITE,
    ("POST", "/v1/financier/requests/{request_id}/recourse"): "After a default, hand a with-recourse "
    "certificate back to the seller against its value, collected from the seller's balance "
    "(financier)." + WRITE,
    ("GET", "/v1/financier/portfolio"): "The bank's book: certificates held, maturity ladder, yield, "
    "expected cash-in, overdue and defaulted positions; amounts in fen.",
    # -- core enterprise ----------------------------------------------------------------------------
    ("POST", "/v1/core/certificates"): "Issue a certificate (payable) to a supplier: face in fen, maturity "
    "an ISO date, a credit line to draw on and the uploaded invoices backing it (core enterprise)." + WRITE,
    ("POST", "/v1/core/payables/{slot_id}/cancel"): "Cancel a payable the supplier has not accepted yet; the "
    "credit line and invoices are released (core enterprise)." + WRITE,
    ("POST", "/v1/core/payables/{slot_id}/repay"): "Repay a payable in full or in part (amount in fen, "
    "settlement token); every holder can claim its share pro rata at once (core enterprise)." + WRITE,
    ("GET", "/v1/core/payables"): "This core enterprise's payables: face, repaid and paid out (fen), "
    "maturity, status." + PAGED,
    ("GET", "/v1/core/credit-lines"): "The credit lines granted to this core enterprise, with used and "
    "available amounts in fen." + STILL_OFFSET,
    ("GET", "/v1/core/payables/batch/{batch_key}"): "A batch issue's outcome per row, as known now, without "
    "sending its file again: `batch_key` is what POST /v1/core/payables/batch answered (the SHA-256 of the "
    "company's lower-case address, a newline, `file:` and the file's bytes). A row whose run stopped before "
    "its answer was stored is `in_progress` until the service reads it from the chain (within minutes, "
    "also after a restart); a row that never went out (its run died before signing it) is `failed` with code "
    "`not_sent` (submitting the same file again issues it, and nothing twice). 404 for another company's or "
    "an unknown batch.",
    ("GET", "/v1/core/maturities"): "Upcoming maturities by day: what this core enterprise owes and when.",
    # -- supplier -----------------------------------------------------------------------------------
    ("GET", "/v1/supplier/incoming"): "Certificates issued to this supplier and waiting for it to accept "
    "or reject them, with their invoices." + STILL_OFFSET,
    ("POST", "/v1/supplier/payables/{slot_id}/accept"): "Accept an incoming certificate: its invoices bind "
    "to it and it can be held, split, transferred or financed (supplier)." + WRITE,
    ("POST", "/v1/supplier/payables/{slot_id}/reject"): "Reject an incoming certificate; the core's credit "
    "line and invoices are released (supplier)." + WRITE,
    ("GET", "/v1/supplier/holdings"): "Certificates this supplier holds, value in fen, with tier, payable "
    "and maturity." + PAGED,
    ("POST", "/v1/supplier/financing-requests"): "Ask a chosen bank to finance all or part (fen) of a "
    "certificate, with or without recourse; that amount is locked meanwhile (supplier)." + WRITE,
    ("GET", "/v1/supplier/financing-requests"): "This supplier's financing requests and their quotes, "
    "newest first." + PAGED,
    ("POST", "/v1/supplier/financing-requests/{request_id}/cancel"): "Withdraw a financing request not yet "
    "funded; the certificate is unlocked (supplier)." + WRITE,
    # -- auditor ------------------------------------------------------------------------------------
    (
        "GET",
        "/v1/audit/participants",
    ): "Every participant, for supervision (auditor, operator), in onboarding order "
    "(created_at, address)." + OPAQUE_CURSOR,
    ("GET", "/v1/audit/payables"): "Every payable on the platform, filterable by obligor (auditor)." + PAGED,
    ("GET", "/v1/audit/certificates"): "Every certificate, filterable by holder (auditor)." + PAGED,
    ("GET", "/v1/audit/financing-requests"): "Every financing request with its terms (auditor)." + PAGED,
    ("GET", "/v1/audit/positions/{address}"): "Everything one participant holds, owes, financed or was paid "
    "(auditor).",
    ("GET", "/v1/audit/export/{table}.csv"): "A whole table as CSV, streamed however large it is (auditor): "
    "each amount as exact integer fen under its column's name and as yuan text in `<name>_yuan` (12345.67, "
    "never a float); dates and instants in ISO 8601 (UTC); the header in the request's language "
    "(Accept-Language: zh-CN or en, default en: the column names).",
    # -- shared -------------------------------------------------------------------------------------
    ("GET", "/v1/me"): "Who this API key belongs to: address, legal name, roles, status, custody.",
    (
        "GET",
        "/v1/payables/{slot_id}",
    ): "One payable: obligor, supplier, face and paid amounts (fen), maturity, "
    "status (its parties, financiers asked to fund it, auditors).",
    ("GET", "/v1/payables/{slot_id}/lineage"): "Every certificate of a payable at any depth: the tree of "
    "splits, holders and values (obligor, auditors)." + PAGED,
    ("GET", "/v1/payables/{slot_id}/transfers"): "The movement history of a payable's certificates: issue, "
    "splits, transfers, payouts, in chain order." + PAGED + " `offset` is still taken (skips rows after "
    "the cursor) for clients written before the cursor; deep offsets are slow.",
    ("GET", "/v1/payables/{slot_id}/documents"): "The documents backing a payable (metadata; download with "
    "/v1/documents/{id}/content).",
    ("GET", "/v1/certificates/{token_id}"): "One certificate: holder, value (fen), payable, tier, status.",
    ("GET", "/v1/certificates/{token_id}/lineage"): "The path from a certificate back to the root issued to "
    "the first supplier.",
    (
        "POST",
        "/v1/certificates/{token_id}/transfer",
    ): "Transfer all of a certificate, or split a value in fen "
    "off it to another registered holder (its holder)." + WRITE,
    ("POST", "/v1/certificates/{token_id}/claim"): "Collect this certificate's share of what the obligor has "
    "paid in (its holder)." + WRITE,
    (
        "POST",
        "/v1/payables/{slot_id}/mark-defaulted",
    ): "Mark a payable defaulted once maturity plus the grace "
    "period has passed unpaid (a holder or the operator); recourse becomes possible." + WRITE,
    ("POST", "/v1/operator/payables/{slot_id}/mark-defaulted"): "Mark a payable defaulted once maturity "
    "plus the grace period has passed unpaid (the operator; it names no certificate)." + WRITE,
    ("GET", "/v1/supplier/recourse-debts"): "This seller's recourse debts, oldest first: owed, collected and "
    "remaining in fen; what the seller is paid on the platform pays them first (supplier)." + STILL_OFFSET,
    ("GET", "/v1/financier/recourse-debts"): "Recourse debts sellers owe this bank, oldest first: owed, "
    "collected and remaining in fen; `open_only` leaves out settled ones (financier)." + STILL_OFFSET,
    ("POST", "/v1/recourse-debts/collect"): "Collect a seller's recourse debt out of its settlement balance, "
    "oldest debt first, without its allowance (any supplier or financier)." + WRITE,
    ("POST", "/v1/financing-requests/{request_id}/lapse"): "End an accepted financing request whose quote "
    "expired unfunded; anyone may, and the certificate is unlocked." + WRITE,
    ("GET", "/v1/payouts"): "Payouts this participant received, amounts in fen, newest first." + PAGED,
    ("GET", "/v1/documents"): "Documents this participant uploaded (metadata only), oldest first by "
    "(created_at, document id)." + OPAQUE_CURSOR,
    ("GET", "/v1/documents/{document_id}"): "One document's metadata: kind, invoice number, file name, "
    "verification, the payable it backs.",
    ("GET", "/v1/documents/{document_id}/content"): "Download a document, decrypted (its parties, financiers "
    "asked to fund it, auditors); every read is on the audit trail.",
    ("GET", "/v1/settlement/balance"): "This participant's settlement-token balance in fen (1 token unit = "
    "1 fen of bank deposit).",
    ("POST", "/v1/settlement/approvals"): "Let a Tierflow contract pull settlement token from you "
    "(funding, repayment, recourse); custodial writes do it themselves." + WRITE,
    ("POST", "/v1/settlement/mint"): "Credit settlement token (fen) against a deposit received off chain "
    "(settlement bank)." + WRITE,
    # -- bills --------------------------------------------------------------------------------------
    ("POST", "/v1/bills/documents"): "Upload an invoice backing a bill; the payee is its seller and its "
    "hash is the same as for certificates (one asset per invoice).",
    ("POST", "/v1/bills"): "Issue (出票) a bill package to a payee: face in fen, maturity an ISO date, "
    "accepted by a core enterprise or a bank, backed by uploaded invoices (drawer)." + WRITE,
    ("GET", "/v1/bills"): "Bills this caller is a party to (drawer, acceptor, payee, holder)." + STILL_OFFSET,
    ("GET", "/v1/bills/holdings"): "Sub-ticket ranges this caller holds: bill, first and last sub-ticket, "
    "amount in fen, status." + STILL_OFFSET,
    ("GET", "/v1/bills/discount-queue"): "Discount requests addressed to this bank with the range, "
    "maturity, acceptor and any quote." + STILL_OFFSET,
    ("GET", "/v1/bills/discount-requests"): "This holder's discount requests and their quotes."
    + STILL_OFFSET,
    ("GET", "/v1/bills/export/{table}.csv"): "Every bill package or every range record as CSV (auditor): "
    "the face or amount in exact fen and as yuan text in `face_yuan` / `amount_yuan`, dates and instants in "
    "ISO 8601 (UTC); the header in the request's language (Accept-Language: zh-CN or en, default en: the "
    "column names).",
    ("GET", "/v1/bills/ranges/{range_id}/chain"): "A range's endorsement chain, nearest first: who is "
    "liable to its holder in recourse.",
    ("GET", "/v1/bills/{package_id}"): "One bill with its live ranges, quotes and history (its parties, "
    "auditors).",
    ("POST", "/v1/bills/{package_id}/cancel"): "Withdraw an issued bill (drawer) or refuse to accept it "
    "(acceptor); its invoices are released." + WRITE,
    ("POST", "/v1/bills/{package_id}/accept"): "Accept (承兑) a bill: the acceptor becomes liable to pay its "
    "face at maturity to whoever holds it (acceptor)." + WRITE,
    ("POST", "/v1/bills/{package_id}/refuse"): "Refuse acceptance; the bill is cancelled and its invoices "
    "released (acceptor)." + WRITE,
    ("POST", "/v1/bills/{package_id}/receive"): "Sign for receipt (收票): the payee holds sub-tickets 1 … "
    "face (payee)." + WRITE,
    ("POST", "/v1/bills/{package_id}/reject"): "Reject a bill addressed to you (payee)." + WRITE,
    (
        "POST",
        "/v1/bills/ranges/{range_id}/endorse",
    ): "Endorse (背书) a whole range, an `amount` in fen (the service picks the range's first sub-tickets "
    "that carry it) or sub-tickets start … end to a registered endorsee (holder)." + WRITE,
    ("POST", "/v1/bills/ranges/{range_id}/pledge"): "Pledge (质押) a whole range or a part (an `amount` in "
    "fen, or sub-tickets start … end) to a bank; it cannot move until released (holder)." + WRITE,
    ("POST", "/v1/bills/ranges/{range_id}/release"): "Release a pledge (the pledgee bank)." + WRITE,
    ("POST", "/v1/bills/ranges/{range_id}/present"): "Present a range for payment (提示付款) at or after "
    "maturity (holder)." + WRITE,
    ("POST", "/v1/bills/ranges/{range_id}/pay"): "Pay a presented range: its amount in settlement token to "
    "its holder (acceptor)." + WRITE,
    (
        "POST",
        "/v1/bills/ranges/{range_id}/dishonour",
    ): "Dishonour (拒付) a presented range with a reason code "
    "(acceptor); the holder may then claim recourse." + WRITE,
    ("POST", "/v1/bills/ranges/{range_id}/dishonour-unanswered"): "Record a dishonour the acceptor left "
    "unanswered past the grace period (holder)." + WRITE,
    (
        "POST",
        "/v1/bills/ranges/{range_id}/recourse",
    ): "Claim recourse (追索) on a dishonoured range against the "
    "drawer or a prior endorser (holder)." + WRITE,
    ("POST", "/v1/bills/ranges/{range_id}/settle-recourse"): "Pay a recourse claim made against you and take "
    "the range, in one transaction (DvP)." + WRITE,
    ("POST", "/v1/bills/ranges/{range_id}/discount-requests"): "Ask a bank to quote a discount on a whole "
    "range or a part (an `amount` in fen, or sub-tickets start … end); nothing goes on chain until it "
    "quotes (holder).",
    (
        "POST",
        "/v1/bills/discount-requests/{request_id}/quote",
    ): "Quote a discount: interest = amount × rate × "
    "days / 360, half up to the fen; rate in bps a year (bank)." + WRITE,
    (
        "POST",
        "/v1/bills/quotes/{quote_id}/accept",
    ): "Accept a quote: the price is paid and the range moves to "
    "the bank in one transaction (DvP) (holder)." + WRITE,
    ("POST", "/v1/bills/quotes/{quote_id}/cancel"): "Withdraw a quote not yet accepted (bank)." + WRITE,
    # -- company staff ------------------------------------------------------------------------------
    ("GET", "/v1/company/users"): "Your company's users with their roles and status (admin).",
    ("POST", "/v1/company/users"): "Invite a user with roles (maker, checker, admin…); the first password "
    "is shown once (admin).",
    ("POST", "/v1/company/users/{user_id}/roles"): "Set a user's roles (admin); an admin cannot remove the "
    "last admin.",
    ("POST", "/v1/company/users/{user_id}/reset-second-factor"): "Clear a user's second factor so they can "
    "enrol again (admin).",
    ("POST", "/v1/company/users/{user_id}/api-keys"): "An API key for one user, with scopes and an expiry; "
    "shown once (admin).",
    ("POST", "/v1/company/users/{user_id}/{change}"): "Disable a user (their sessions and keys stop on the "
    "next request) or enable them again (admin).",
    ("POST", "/v1/company/me/password"): "Set your own password (needs a write key).",
    ("POST", "/v1/company/me/totp"): "Start second-factor enrolment: a TOTP secret and its QR code.",
    ("POST", "/v1/company/me/totp/confirm"): "Confirm second-factor enrolment with a first code.",
    ("GET", "/v1/company/approval-policy"): "Which writes need a checker's approval, above which amounts "
    "(fen).",
    ("PUT", "/v1/company/approval-policy"): "Set which writes need a checker's approval and above which "
    "amounts (fen) (admin).",
    ("GET", "/v1/company/approvals"): "Your company's pending and decided approvals." + PAGED,
    ("GET", "/v1/company/approvals/{approval_id}"): "One approval with the exact terms its maker submitted.",
    ("POST", "/v1/company/approvals/{approval_id}/approve"): "Release a pending write on the terms shown (a "
    "checker other than its maker): it is signed and sent now." + WRITE,
    ("POST", "/v1/company/approvals/{approval_id}/reject"): "Reject a pending write with a reason; nothing "
    "is sent (checker).",
    ("GET", "/v1/company/audit-trail"): "The audit trail: all of it for auditors and the operator, your "
    "company's for its admin, newest first (`after` pages to older entries)." + STILL_OFFSET,
    # -- estimates and payouts due (issue 13) --------------------------------------------------------
    ("GET", "/v1/supplier/financing-estimate"): "The financing-cost estimate (融资测算) before asking: for "
    "`amount` in fen of a certificate you hold (`token_id`) or one due on `maturity_date` (ISO date), each "
    "active bank's price at its standing rate: discount interest = face × rate × days / 360 (rounded half "
    "up to the fen), the price in fen, the days, and the all-in annual cost in bps; highest price first. "
    "An estimate, not a quote: the bank quotes its own rate when asked.",
    ("GET", "/v1/core/cash-forecast.csv"): "The cash forecast as CSV: per maturity date (ISO), what is "
    "still due on accepted or defaulted payables in exact fen and in yuan, and which payables; headers in "
    "the request's language (Accept-Language: zh-CN or en, default en); the dashboard's export.",
    ("PUT", "/v1/financier/standing-rate"): "Set this bank's standing annual discount rate in bps (1 to "
    "10,000): what suppliers' financing-cost estimates price at; each quote still names its own rate "
    "(financier).",
    ("GET", "/v1/operator/payouts-due"): "Matured payables whose obligor paid in more than the holders "
    "received: the obligor by name, the maturity date, the amount due in fen and the holders' live "
    "certificates to push with POST /v1/operator/payouts (operator); by maturity, then payable "
    "id." + OPAQUE_CURSOR,
    # -- system -------------------------------------------------------------------------------------
    ("GET", "/metrics"): "Prometheus metrics: the operator's X-API-Key, or Bearer TIERFLOW_METRICS_TOKEN.",
}


def install(app: FastAPI) -> None:
    """Complete the app's OpenAPI document: every operation gets its description (unless its route has
    one) and an example answer (unless its schema has one)."""
    plain: Callable[[], dict[str, Any]] = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = plain()
            add_descriptions(schema)
            add_examples(schema)
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


def add_descriptions(schema: dict[str, Any]) -> None:
    for path, item in schema.get("paths", {}).items():
        for method, operation in item.items():
            found = DESCRIPTIONS.get((method.upper(), path))
            if isinstance(operation, dict) and found and not operation.get("description"):
                operation["description"] = found


def has_example(value: Any) -> bool:
    """Does this part of an OpenAPI document carry an example anywhere inside?"""
    if isinstance(value, dict):
        return "example" in value or "examples" in value or any(has_example(v) for v in value.values())
    if isinstance(value, list):
        return any(has_example(v) for v in value)
    return False


def add_examples(schema: dict[str, Any]) -> None:
    """An example answer, built from its schema, for each operation that has none."""
    components = schema.get("components", {}).get("schemas", {})
    for item in schema.get("paths", {}).values():
        for operation in item.values():
            if not isinstance(operation, dict) or has_example(operation):
                continue
            # The success answer's body; an operation answering without one (204) gets its request's.
            bodies = [
                response.get("content", {})
                for status, response in sorted(operation.get("responses", {}).items())
                if status.startswith("2") and response.get("content")
            ] + [operation.get("requestBody", {}).get("content", {})]
            for content in bodies:
                for media, body in content.items():
                    body["example"] = (
                        CSV_EXAMPLE if media == "text/csv" else example_of(body.get("schema", {}), components)
                    )
                    break
                if content:
                    break


CSV_EXAMPLE = (
    "token_id,holder,value_fen,value_yuan\n"
    '7,0x90F79bf6EB2c4f870365E785982E1f101E93b906,60000000,"600,000.00"\n'
)


ADDRESS = "0x90F79bf6EB2c4f870365E785982E1f101E93b906"


def example_of(schema: dict[str, Any], components: dict[str, Any], depth: int = 0, name: str = "") -> Any:
    """A plausible value for `schema`: its own example or default, else one by type, format and name."""
    if depth > 6:
        return None
    if "$ref" in schema:
        return example_of(components.get(schema["$ref"].rsplit("/", 1)[1], {}), components, depth + 1, name)
    for key in ("example", "default", "const"):
        if key in schema and schema[key] is not None:
            return copy.deepcopy(schema[key])
    if schema.get("examples"):
        return copy.deepcopy(schema["examples"][0])
    if schema.get("enum"):
        return schema["enum"][0]
    for key in ("anyOf", "oneOf", "allOf"):
        choices = [c for c in schema.get(key, []) if c.get("type") != "null"]
        if choices:
            return example_of(choices[0], components, depth + 1, name)
    kind = schema.get("type")
    if kind == "object" or "properties" in schema:
        return {
            field: example_of(sub, components, depth + 1, field)
            for field, sub in schema.get("properties", {}).items()
        }
    if kind == "array":
        return [example_of(schema.get("items", {}), components, depth + 1, name)]
    if kind == "integer":
        if "fen" in str(schema.get("description", "")) or name.endswith("_fen"):
            return 60_000_000  # ¥600,000.00
        if name == "deadline" or name.endswith("_unix"):  # the only integer times left
            return 1_806_451_200  # [unix s] 2027-03-31 00:00 UTC
        return int(schema.get("minimum", 1) or 1)
    if kind == "number":
        return 1.0
    if kind == "boolean":
        return False
    return _string_example(schema, name)


def _string_example(schema: dict[str, Any], name: str) -> str:
    form = schema.get("format", "")
    if form == "date" or name.endswith("_date"):
        return "2027-03-31"
    if form == "date-time":
        return "2027-03-31T08:00:00Z"
    if "0x[0-9a-fA-F]{40}" in str(schema.get("pattern", "")) or name in ("address", "holder", "obligor"):
        return ADDRESS
    if name.endswith("hash"):
        return "0x" + "ab" * 32
    return name.replace("_", " ") or "text"
