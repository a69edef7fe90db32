"""The words the dashboard shows for stored keys: statuses, roles, custody, CSV columns (in both languages).

The read models store English keys ("Accepted", "financier", "face"); pages and CSV files show them
through these tables so that a key never reaches the screen untranslated.
"""

from __future__ import annotations

import re

from tierflow.chain.vocabulary import ROLE_BITS
from tierflow.platform import i18n
from tierflow.platform.i18n import N_
from tierflow.platform.services.policy import ACTION_LABELS
from tierflow.platform.services.users import DEFAULT_ADMIN_NAME

# Every status of payables, certificates, requests, bills, ranges, participants, staff and approvals.
STATUSES: dict[str, str] = {
    "issued": N_("Issued"),
    "accepted": N_("Accepted"),
    "rejected": N_("Rejected"),
    "cancelled": N_("Cancelled"),
    "defaulted": N_("Defaulted"),
    "repaid": N_("Repaid"),
    "requested": N_("Requested"),
    "quoted": N_("Quoted"),
    "funded": N_("Funded"),
    "declined": N_("Declined"),
    "recoursed": N_("Recoursed"),
    "lapsed": N_("Lapsed"),
    "received": N_("Received"),
    "held": N_("Held"),
    "pledged": N_("Pledged"),
    "presented": N_("Presented"),
    "paid": N_("Paid"),
    "dishonoured": N_("Dishonoured"),
    "closed": N_("Closed"),
    "active": N_("Active"),
    "suspended": N_("Suspended"),
    "settled": N_("Settled"),
    "burned": N_("Burned"),
    "locked": N_("Locked"),
    "unknown": N_("Unknown"),
    "pending": N_("Pending"),
    "approved": N_("Approved"),
    "executed": N_("Executed"),
    "expired": N_("Expired"),
    "failed": N_("Failed"),
    "disabled": N_("Disabled"),
    "enabled": N_("Enabled"),
    "running": N_("Running"),
    "paused": N_("Paused"),
    "open": N_("Open"),
    # a bill discount request's (services.bills.request_public)
    "discounted": N_("Discounted"),
    "withdrawn": N_("Withdrawn"),
    "quote_cancelled": N_("Quote cancelled"),
}

ROLES: dict[str, str] = {
    "core_enterprise": N_("core enterprise"),
    "supplier": N_("supplier"),
    "financier": N_("financier"),
    "settlement_bank": N_("settlement bank"),
    "auditor": N_("auditor"),
    "operator": N_("operator"),
    # people in a company (maker/checker)
    "maker": N_("maker"),
    "checker": N_("checker"),
    "admin": N_("administrator"),
    "viewer": N_("viewer"),
}

# What the auditor's search found.
SEARCH_KINDS: dict[str, str] = {
    "certificate movement": N_("certificate movement"),
    "repayment": N_("repayment"),
    "payout": N_("payout"),
    "participant": N_("participant"),
    "payable": N_("payable"),
    "certificate": N_("certificate"),
    "invoice": N_("invoice"),
}

# How a bill range came to its holder (BillRange.origin, written by the indexer).
ORIGINS: dict[str, str] = {
    "received": N_("received from the drawer"),
    "endorsed": N_("endorsed"),
    "discounted": N_("discounted"),
    "pledged": N_("pledged"),
    "recourse": N_("taken in recourse"),
    "remainder": N_("remainder"),
}
# What happened to a bill range (BillMovement.kind), for the bill's history.
MOVEMENTS: dict[str, str] = {
    **ORIGINS,
    "rediscounted": N_("rediscounted"),
    "pledge_released": N_("pledge released"),
    "presented": N_("presented"),
    "paid": N_("paid"),
    "dishonoured": N_("dishonoured"),
    "recourse_claimed": N_("recourse claimed"),
    "recourse_settled": N_("recourse settled"),
}

CUSTODY: dict[str, str] = {"custodial": N_("custodial (platform keeps the key)"), "self": N_("self-custody")}


def status(key: str) -> str:
    """A stored status ("Accepted", "suspended") in the reader's language; in English, and for an
    unknown key, the stored word as it is."""
    return _translated(STATUSES.get(key.lower()), key)


def _translated(label: str | None, key: str) -> str:
    """The reader's word for `label`, or `key` itself where the reader's language has none (English)."""
    if label is None:
        return key
    word = i18n.gettext(label)
    return key if word == label else word


def role(key: str) -> str:
    label = ROLES.get(key.lower())
    return i18n.gettext(label) if label is not None else key.replace("_", " ")


def roles(bits: int, *, is_operator: bool = False) -> str:
    """Role bits as names ("core enterprise, supplier"); "—" for none."""
    names = (["operator"] if is_operator else []) + [name for name, bit in ROLE_BITS.items() if bits & bit]
    return i18n.gettext(", ").join(role(name) for name in names) if names else "—"


def person(name: str | None) -> str:
    """A person's name as stored; the placeholder of an unnamed first admin in the reader's language."""
    if name == DEFAULT_ADMIN_NAME:
        return i18n.gettext("Company administrator")
    return name or ""


def search_kind(key: str) -> str:
    label = SEARCH_KINDS.get(key)
    return i18n.gettext(label) if label is not None else key


def action(key: str) -> str:
    """An approval's action ("fund") as people say it ("Fund a financing request")."""
    label = ACTION_LABELS.get(key)
    return i18n.gettext(label) if label is not None else key


USER_CHANGES: dict[str, str] = {
    "enable": N_("enable"),
    "disable": N_("disable"),
    "reset-second-factor": N_("reset-second-factor"),
}


def user_change(key: str) -> str:
    """What an admin did to a person (the stored verb in English, the word in Chinese)."""
    return _translated(USER_CHANGES.get(key), key)


def origin(key: str) -> str:
    """How a bill range came to its holder, in the reader's language (the stored word in English)."""
    return _translated(ORIGINS.get(key), key)


def movement(key: str) -> str:
    """What happened to a bill range, in the reader's language (the stored word in English)."""
    return _translated(MOVEMENTS.get(key), key)


def custody(key: str) -> str:
    return _translated(CUSTODY.get(key), key)


# The auditor's CSV exports: the file names and every column header. In English the headers stay the
# stored column names (programs read them); in Chinese they are the words an auditor uses.
EXPORTS: dict[str, str] = {
    "payables": N_("payables"),
    "certificates": N_("certificates"),
    "financing_requests": N_("financing requests"),
    "transfers": N_("transfers"),
    "repayments": N_("repayments"),
    "payouts": N_("payouts"),
    "participants": N_("participants"),
    "credit_lines": N_("credit lines"),
}
CSV_HEADERS: tuple[str, ...] = (
    N_("slot_id"),
    N_("obligor"),
    N_("supplier"),
    N_("line_id"),
    N_("face_fen"),
    N_("face_yuan"),
    N_("maturity"),
    N_("status"),
    N_("paid_in_fen"),
    N_("paid_in_yuan"),
    N_("paid_out_fen"),
    N_("paid_out_yuan"),
    N_("token_id"),
    N_("holder"),
    N_("value_fen"),
    N_("value_yuan"),
    N_("parent_id"),
    N_("root_id"),
    N_("depth"),
    N_("request_id"),
    N_("seller"),
    N_("financier"),
    N_("amount_fen"),
    N_("amount_yuan"),
    N_("with_recourse"),
    N_("rate_bps"),
    N_("discount_fen"),
    N_("discount_yuan"),
    N_("price_fen"),
    N_("price_yuan"),
    N_("block_number"),
    N_("log_index"),
    N_("tx_hash"),
    N_("kind"),
    N_("new_token_id"),
    N_("from_address"),
    N_("to_address"),
    N_("address"),
    N_("roles"),
    N_("limit_fen"),
    N_("limit_yuan"),
    N_("used_fen"),
    N_("used_yuan"),
    N_("available_fen"),
    N_("available_yuan"),
    N_("expiry"),
    # the derived columns of the exports: names beside addresses, dates beside unix seconds, event times
    N_("maturity_date"),
    N_("maturity_unix"),
    N_("issued_at"),
    N_("expiry_date"),
    N_("expiry_unix"),
    N_("initial_value_fen"),
    N_("initial_value_yuan"),
    N_("obligor_name"),
    N_("supplier_name"),
    N_("holder_name"),
    N_("seller_name"),
    N_("financier_name"),
    N_("from_address_name"),
    N_("to_address_name"),
    N_("address_name"),
    N_("block_time"),
    N_("tier"),
)


def export_name(name: str) -> str:
    label = EXPORTS.get(name)
    return i18n.gettext(label) if label is not None else name.replace("_", " ")


def csv_header(column: str) -> str:
    """A CSV column header in the reader's language (the stored name in English)."""
    return i18n.gettext(column) if column in CSV_HEADERS else column


# The audit trail's stored action and outcome keys (English keeps them as stored: they are what an
# auditor searches for; Chinese gets words).
TRAIL_ACTIONS: dict[str, str] = {
    "signin": N_("signed in"),
    "signout": N_("signed out"),
    "user.create": N_("person invited"),
    "user.roles": N_("roles changed"),
    "user.disable": N_("person disabled"),
    "user.enable": N_("person enabled"),
    "user.password": N_("password set"),
    "user.totp_enrolled": N_("second factor enrolled"),
    "user.totp_reset": N_("second factor reset"),
    "policy.set": N_("approval rules changed"),
    "apikey.issue": N_("API key issued"),
    "document.read": N_("document opened"),
    "dashboard batch issue": N_("batch issue"),
}
TRAIL_STEPS: dict[str, str] = {
    "submit": N_("submitted for approval: %(action)s"),
    "approve": N_("approved: %(action)s"),
    "reject": N_("rejected: %(action)s"),
}
TRAIL_REQUESTS: dict[str, str] = {"dashboard": N_("on the dashboard"), "write": N_("through the API")}
REFUSED_WRITE = "write.refused"
REFUSED_WORDS = N_("refused before it ran (%(where)s)")
TRAIL_OUTCOMES: dict[str, str] = {
    "ok": N_("done"),
    "pending": N_("waiting for a checker"),
    "executed": N_("executed"),
    "refused": N_("refused"),
    "denied": N_("no right to it"),
    "rejected": N_("rejected"),
    "failed": N_("failed"),
    "disabled": N_("person disabled"),
    "locked": N_("locked"),
    "locked_now": N_("locked now"),
    "needs_totp": N_("code needed"),
    "unknown_login": N_("unknown login"),
    "terms_changed": N_("terms changed"),
}
_ADDRESS = re.compile(r"0x[0-9a-fA-F]{40}")


def trail_action(key: str) -> tuple[str, str]:
    """An audit-trail action as (words, request): the request ("POST /dashboard/…", addresses shortened)
    is shown as code beside the words; in English the stored key is the words."""
    head, _, rest = key.partition(" ")
    if head == REFUSED_WRITE and rest:
        # "write.refused POST /v1/…" (the API) or "write.refused dashboard POST /dashboard/…": a write
        # refused before any service ran (no right, a forged form); in English the stored key is the words.
        where, request = trail_action(rest if rest.split(" ")[0] in TRAIL_REQUESTS else f"write {rest}")
        words = i18n.gettext(REFUSED_WORDS, where=where)
        english = i18n.translations(i18n.get_locale()).gettext(REFUSED_WORDS) == REFUSED_WORDS
        return (head if english else words), request
    if head in TRAIL_REQUESTS and rest.split(" ")[0] in ("GET", "POST", "PUT", "PATCH", "DELETE"):
        request = _ADDRESS.sub(lambda m: f"{m.group()[:6]}…{m.group()[-4:]}", rest)
        return _translated(TRAIL_REQUESTS[head], head), request
    parts = key.split(".")
    if len(parts) == 3 and parts[0] == "approval" and parts[1] in TRAIL_STEPS:
        step = TRAIL_STEPS[parts[1]]
        english = i18n.translations(i18n.get_locale()).gettext(step) == step
        return (key if english else i18n.gettext(step, action=action(parts[2]))), ""
    return _translated(TRAIL_ACTIONS.get(key), key), ""


def trail_outcome(key: str) -> str:
    """An audit-trail outcome ("ok", "303 ok") in the reader's words; English keeps the stored key."""
    status, _, word = key.rpartition(" ")
    label = _translated(TRAIL_OUTCOMES.get(word), word)
    return f"{status} {label}" if status else label
