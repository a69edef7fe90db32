"""The contracts' vocabulary in Python: status enums, role bits, and a human message for every custom error.

This is the one mirror of the Solidity names; `tests/chain/test_vocabulary.py` checks it against the
compiler output (enum members from the AST, role constants from `contracts/libraries/Roles.sol`,
custom errors from every ABI) and fails on any difference.

Adding a custom error to a contract? Add one line to ERROR_MESSAGES, keyed by the error's name:

    "BillSomethingWrong": "bill {packageId} is …; what to do about it",

Placeholders are the error's argument names, and every argument appears in its message. Two format
specs: `{value:yuan}` shows an amount in fen as yuan ("¥12,345.67"; every argument in fen uses it),
`{status:RangeStatus}` names an enum ordinal after the enum of that name below.
"""

from __future__ import annotations

import string
from enum import IntEnum, IntFlag
from typing import Any, Literal

from tierflow.errors import ContractRevert

# -- enums (members as in Solidity, upper case; the ordinal is the on-chain value) ---------------


class SlotStatus(IntEnum):
    """IReceivables.SlotStatus: the life of an issued payable."""

    NONE = 0
    ISSUED = 1
    ACCEPTED = 2
    REJECTED = 3
    CANCELLED = 4
    DEFAULTED = 5
    REPAID = 6


class RequestStatus(IntEnum):
    """IFinancing.RequestStatus: the life of a financing request."""

    NONE = 0
    REQUESTED = 1
    QUOTED = 2
    ACCEPTED = 3
    FUNDED = 4
    CANCELLED = 5
    DECLINED = 6
    RECOURSED = 7
    LAPSED = 8


class PackageStatus(IntEnum):
    """IBills.PackageStatus: the life of a bill package."""

    NONE = 0
    ISSUED = 1
    ACCEPTED = 2
    RECEIVED = 3
    REJECTED = 4
    CANCELLED = 5


class RangeStatus(IntEnum):
    """IBills.RangeStatus: the life of a sub-ticket range."""

    NONE = 0
    HELD = 1
    PLEDGED = 2
    PRESENTED = 3
    PAID = 4
    DISHONOURED = 5
    CLOSED = 6
    FROZEN = 7


class ParticipantStatus(IntEnum):
    """IParticipantRegistry.Status (the API and the read models write it in lower case)."""

    NONE = 0
    ACTIVE = 1
    SUSPENDED = 2


ENUMS: dict[str, type[IntEnum]] = {
    "SlotStatus": SlotStatus,
    "RequestStatus": RequestStatus,
    "PackageStatus": PackageStatus,
    "RangeStatus": RangeStatus,
    "Status": ParticipantStatus,
}


# The statuses as the read models and the API write them (every member but None), for Literal-typed
# parameters and fields; the test checks each against its enum.
SlotStatusName = Literal["Issued", "Accepted", "Rejected", "Cancelled", "Defaulted", "Repaid"]
RequestStatusName = Literal[
    "Requested", "Quoted", "Accepted", "Funded", "Cancelled", "Declined", "Recoursed", "Lapsed"
]
PackageStatusName = Literal["Issued", "Accepted", "Received", "Rejected", "Cancelled"]
RangeStatusName = Literal["Held", "Pledged", "Presented", "Paid", "Dishonoured", "Closed", "Frozen"]
# A closed range has passed on (split or moved): lists of ranges filter on the others.
OpenRangeStatusName = Literal["Held", "Pledged", "Presented", "Paid", "Dishonoured", "Frozen"]


def status_name(enum: type[IntEnum], ordinal: int) -> str:
    """The Solidity name of `ordinal` ("Held"), as the read models store it (every member is one word)."""
    return enum(ordinal).name.capitalize()


# -- roles (library Roles in contracts/libraries/Roles.sol) ------------------------------------


class Role(IntFlag):
    CORE_ENTERPRISE = 1
    SUPPLIER = 2
    FINANCIER = 4
    SETTLEMENT_BANK = 8
    AUDITOR = 16


# The role names of the API and the directory (snake case) and their bits.
RoleName = Literal["core_enterprise", "supplier", "financier", "settlement_bank", "auditor"]
ROLE_BITS: dict[str, int] = {role.name.lower(): int(role) for role in Role if role.name is not None}


def role_names(bits: int) -> list[str]:
    return [name for name, bit in ROLE_BITS.items() if bits & bit]


# -- custom errors -----------------------------------------------------------------------------

# What a contract's custom error means to a person, and what to do about it (see the module doc).
ERROR_MESSAGES: dict[str, str] = {
    # Receivables
    "CertificateIsLocked": "token {tokenId} is under financing request {ref};"
    " cancel or finish that request first",
    "CertificateNotHolder": "token {tokenId} is held by {holder}, not by {caller}",
    "CertificateInsufficientValue": "token {tokenId} holds {value:yuan}, asked {requested:yuan}; "
    "ask for less",
    "CertificateWrongStatus": "payable {slotId} is {status:SlotStatus}; "
    "this action is not allowed in that status",
    "CertificateMatured": "token {tokenId} matured at {maturity}; it can no longer move, claim it instead",
    "CertificateNotMatured": "payable {slotId} matures at {maturity}; wait until then",
    "CertificateInvalidAmount": "amount {amount:yuan} is not a positive multiple of the minimum "
    "unit {minUnit:yuan}",
    "CertificateInvalidMaturity": "maturity {maturity} is not in the allowed window (latest {latest})",
    "CertificateOverpaid": "payable {slotId} has {outstanding:yuan} outstanding;"
    " repaying {amount:yuan} is too much",
    "CertificateGracePeriodRunning": "payable {slotId} can be marked defaulted from {defaultableAt}",
    "CertificateAlreadySettled": "token {tokenId} was already paid out",
    "CertificateNotSupplier": "{caller} is not the supplier named on payable {slotId}",
    "CertificateNotObligor": "{caller} is not the obligor of payable {slotId}",
    "CertificateUnknownSlot": "payable {slotId} does not exist",
    "CertificateUnknownToken": "token {tokenId} does not exist",
    "CertificateBatchTooLarge": "a batch of {size} tokens is too large; send at most {max} per call",
    "CertificateFinancingAlreadySet": "the financing contract is already set to {financing}",
    "CertificateNoInvoices": "a certificate needs at least one invoice; upload it first",
    "CertificateNotAllowed": "{caller} may not do this on the certificate ledger",
    "CertificateNotLocked": "token {tokenId} is not locked by a financing request",
    "CertificateNotOperator": "{caller} is not the platform operator",
    "CertificateOnlyFinancing": "{caller} is not the financing contract; only it may lock and move "
    "financed tokens",
    "CertificateSelfIssue": "{obligor} cannot issue a certificate to itself",
    "CertificateTooManyInvoices": "{count} invoices is too many for one certificate; at most {max}",
    "CertificateSelfTransfer": "token {tokenId} is held by {holder} already; moving it to oneself "
    "changes nothing",
    "CertificateNothingToClaim": "token {tokenId} has nothing to claim now (payable paid in {paidIn:yuan}, "
    "paid out {paidOut:yuan}); claim again after the next payment",
    "CertificateNothingToPay": "none of these tokens has anything to be paid now",
    "CertificateNotGovernance": "{caller} is not platform governance; only governance freezes, forces "
    "transfers and recovers certificates",
    "CertificateIsFrozen": "token {tokenId} is frozen by a judicial hold (order {reasonHash}); it cannot "
    "move, be financed or claimed until governance releases it",
    "CertificateNotFrozen": "token {tokenId} is not frozen; there is no hold to release",
    "CertificateNoReason": "name the court order or re-verification record (its hash) behind this control",
    "CertificatePartlyPaidOut": "token {tokenId} has been paid {claimed:yuan} already; freeze or move it "
    "whole",
    "CertificateNotRecovered": "the registry has not recovered {from}'s key to {to}; recover the "
    "participant first",
    "CertificateRecoveryBatch": "a recovery moves 1 to {max} tokens per call, not {size}; split the list",
    "FinancingNotGovernance": "{caller} is not platform governance; only governance moves positions in a "
    "key recovery",
    "FinancingNotRecovered": "the registry has not recovered {from}'s key to {to}; recover the participant "
    "first",
    "FinancingNotParty": "{from} is neither the seller nor the financier of request {requestId}; leave it "
    "out of the recovery",
    "FinancingNothingToRecover": "nothing to recover for {from}: name 1 to 200 of its requests (or it must "
    "owe recourse) and the re-verification record",
    # CreditLines
    "CreditLineExceeded": "credit line {lineId} has {available:yuan} available, {requested:yuan} needed; "
    "ask the financier to extend it",
    "CreditLineExpired": "credit line {lineId} expired at {expiry}; ask the financier to extend it",
    "CreditLineWrongObligor": "credit line {lineId} belongs to another obligor, not {obligor}",
    "CreditLineNotFinancier": "{caller} did not grant credit line {lineId}",
    "CreditLineBelowUsed": "credit line {lineId} has {used:yuan} in use; the new limit {newLimit:yuan} "
    "is below it",
    "CreditLineUnknown": "credit line {lineId} does not exist",
    "CreditLineInvalidExpiry": "credit line expiry {expiry} must be in the future",
    "CreditLineNotOperator": "{caller} is not the platform operator",
    "CreditLineOverRestored": "credit line {lineId} has {used:yuan} in use; restoring {amount:yuan} "
    "is more than that",
    "CreditLineUnauthorizedConsumer": "{caller} is not a contract allowed to draw on credit lines",
    "CreditLineZeroLimit": "a credit line needs a limit above zero",
    # DocumentRegistry
    "DocumentAlreadyUsed": "invoice {docHash} already backs asset {assetId} of {asset}, whose seller "
    "accepted it first; one invoice backs one asset: reject this one or propose another invoice",
    "DocumentNoneGiven": "no invoice hash was given; name at least one",
    "DocumentNotOperator": "{caller} is not the platform operator",
    "DocumentUnauthorizedConsumer": "{caller} is not a contract allowed to bind invoices",
    "DocumentZeroHash": "an invoice hash of zero is not allowed",
    # Financing
    "FinancingWrongStatus": "financing request {requestId} is {status:RequestStatus}; "
    "this action is not allowed now",
    "FinancingQuoteExpired": "the quote of request {requestId} expired at {expiry}; ask for a new quote",
    "FinancingNotSeller": "{caller} is not the seller of financing request {requestId}",
    "FinancingNotFinancier": "{caller} is not the financier of financing request {requestId}",
    "FinancingUnknownRequest": "financing request {requestId} does not exist",
    "FinancingInvalidRate": "rate {rateBps} bps is not allowed",
    "FinancingInvalidExpiry": "quote expiry {expiry} is not allowed (it must be in the "
    "future, before maturity)",
    "FinancingNoRecourse": "financing request {requestId} was agreed without recourse",
    "FinancingNotDefaulted": "payable {slotId} is not defaulted; recourse needs a defaulted payable",
    "FinancingTokenMoved": "the financed token {tokenId} of request {requestId} is no "
    "longer held by the financier",
    "FinancingSelfDealing": "{account} cannot finance its own certificate",
    "FinancingQuoteChanged": "the quote of request {requestId} changed: it is now {rateBps} bps, price "
    "{price:yuan}, valid until {expiry}; review the new terms and accept those if you agree",
    "FinancingQuoteLive": "the quote of request {requestId} is valid until {expiry}; it can lapse only then",
    "FinancingRecourseOwed": "{seller} owes {owed:yuan} on recourse; no new financing until that is paid",
    "FinancingNothingToCollect": "nothing to collect from {seller}: it owes {owed:yuan} and holds no "
    "settlement balance now",
    "FinancingNotSystemContract": "{caller} is not a Tierflow system contract; "
    "only they report payments to net",
    "BillFinancingAlreadySet": "the financing contract is already set to {financing}",
    # Bills
    "BillUnknownPackage": "bill {packageId} does not exist",
    "BillUnknownRange": "bill range {rangeId} does not exist",
    "BillUnknownQuote": "bill quote {quoteId} does not exist (or was used or withdrawn); ask for a new quote",
    "BillWrongPackageStatus": "bill {packageId} is {status:PackageStatus}; "
    "this action is not allowed in that status",
    "BillWrongRangeStatus": "bill range {rangeId} is {status:RangeStatus}; this action is not allowed in "
    "that status (a pledged range must be released first, a closed one has passed on: read the "
    "package's ranges)",
    "BillNotDrawerOrAcceptor": "{caller} is neither the drawer nor the acceptor of bill {packageId}",
    "BillNotAcceptor": "{caller} is not the acceptor of bill {packageId}",
    "BillNotPayee": "{caller} is not the payee of bill {packageId}",
    "BillNotHolder": "bill range {rangeId} is held by {holder}, not by {caller}",
    "BillNotPledgee": "bill range {rangeId} is not pledged to {caller}",
    "BillNotQuoteFinancier": "bill quote {quoteId} was not made by {caller}",
    "BillNotRecourseObligor": "the recourse claim on bill range {rangeId} names {obligor}, not {caller}",
    "BillInvalidFace": "face {face:yuan} is not a positive multiple of the minimum unit {minUnit:yuan}",
    "BillInvalidMaturity": "maturity {maturity} is not in the allowed window (latest {latest})",
    "BillNoInvoices": "a bill needs at least one invoice; upload it with POST /v1/bills/documents",
    "BillInvoicesMismatch": "the invoices named do not match those of bill {packageId}",
    "BillInvalidSubRange": "sub-tickets {start} … {end} are not inside bill range {rangeId}; "
    "read the package to see its current ranges",
    "BillInvalidAmount": "{amount:yuan} of sub-tickets is not a multiple of the minimum unit {minUnit:yuan}",
    "BillNotSplittable": "bill {packageId} may not be split; endorse, discount or pledge the whole range",
    "BillNotTransferable": "bill {packageId} is marked 不得转让 (not transferable); it can only be "
    "presented for payment",
    "BillMatured": "bill {packageId} matured at {maturity}; present it for payment instead",
    "BillNotMatured": "bill {packageId} matures at {maturity}; present it from then on",
    "BillSelfTransfer": "{account} cannot endorse, discount or pledge to itself",
    "BillInvalidRate": "rate {rateBps} bps is not allowed (1 … 10,000, and the price must stay positive)",
    "BillInvalidExpiry": "quote expiry {expiry} must be in the future",
    "BillQuoteExpired": "bill quote {quoteId} expired at {expiry}; ask the bank for a new quote",
    "BillInvalidReason": "dishonour reason {reason} is not allowed; give a code from 1 to 255",
    "BillResponsePending": "the acceptor may still answer for bill range {rangeId}; "
    "it counts as dishonoured from {dishonourableAt}",
    "BillRecourseNotAllowed": "{holder} has no recourse against {obligor} on bill range {rangeId}; "
    "name the drawer or an endorser before your first place in the chain",
    "BillChainTooLong": "bill range {rangeId} would reach {depth} endorsements, more than the cap of {cap}; "
    "it may still be pledged, presented at maturity or held",
    "BillNotOperator": "{caller} is not the platform operator",
    "BillNotGovernance": "{caller} is not platform governance; only governance freezes, forces transfers "
    "and recovers bills",
    "BillNoReason": "name the court order or re-verification record (its hash) behind this control",
    "BillNotRecovered": "the registry has not recovered {from}'s key to {to}, or the recovery names {size} "
    "range records (1 to 200 per call); recover the participant first, or split the list",
    "BillNotParty": "{from} plays no part in range record {id}; leave it out of the recovery",
    "BillInvalidChainLength": "the endorsement-chain cap must be 1 … {limit} and differ from the current "
    "one (asked {cap})",
    # ParticipantRegistry
    "RegistryPlatformPaused": "the platform is paused by the operator; retry after it is unpaused",
    "RegistryUnknownParticipant": "{account} is not a registered participant",
    "RegistryParticipantSuspended": "{account} is suspended; contact the operator",
    "RegistryMissingRole": "{account} lacks the role needed (roles {held}, needs one of {required})",
    "RegistryAlreadyRegistered": "{account} is already registered",
    "RegistryNotSuspended": "{account} is not suspended",
    "RegistryAuditDayAnchored": "day {day} of the audit trail is anchored already (head {head}), "
    "or its sequence number is 0; an anchor never changes",
    "RegistryInvalidParameters": "parameters not allowed: tenor cap {maxTenor} s, grace period "
    "{gracePeriod} s, minimum unit {minUnit:yuan}",
    "RegistryInvalidRoles": "role bits {roles} are not a valid combination of roles",
    "RegistryNotOperator": "{account} is not the platform operator",
    "RegistryZeroAddress": "the zero address cannot be a participant",
    "RegistryInvalidQuoteValidity": "a quote validity of {validity} s is not allowed (1 s to {max} s)",
    "RegistryRoleUnchanged": "{account} already has (or never had) role {role}: nothing to change",
    "RegistryAccountRecovered": "{account}'s key was recovered to {newAccount}; use that address",
    "RegistryNoReason": "name the re-verification record (its hash) behind this recovery",
    # SettlementToken and OpenZeppelin's ERC-20
    "SettlementNotBank": "{caller} is not a settlement bank; only settlement banks mint and burn",
    "SettlementZeroAmount": "an amount of zero moves nothing; enter a positive amount",
    "SettlementSelfTransfer": "{account} cannot pay itself; choose another recipient",
    "SettlementNotSystem": "{caller} is not a Tierflow contract; only they collect without an allowance",
    "SettlementNotGovernance": "{caller} is not platform governance; only governance moves a recovered "
    "balance",
    "SettlementNotRecovered": "the registry has not recovered {account}'s key to {newAccount}; recover the "
    "participant first",
    "ERC20InsufficientBalance": "{sender} holds {balance:yuan} of settlement token, {needed:yuan} needed",
    "ERC20InsufficientAllowance": "allowance of {spender} is {allowance:yuan}, {needed:yuan} needed; "
    "approve it with POST /v1/settlement/approvals",
    "ERC20InvalidApprover": "{approver} cannot approve settlement token",
    "ERC20InvalidReceiver": "{receiver} cannot receive settlement token",
    "ERC20InvalidSender": "{sender} cannot send settlement token",
    "ERC20InvalidSpender": "{spender} cannot be approved to spend settlement token",
    "ERC2612ExpiredSignature": "the permit signature expired at {deadline}; sign a new one",
    "ERC2612InvalidSigner": "the permit was signed by {signer}, not by the owner {owner}",
    # OpenZeppelin: the forwarder, access control, pausing, signatures, utilities
    "ERC2771ForwarderExpiredRequest": "the signed request expired at {deadline}; sign a new one",
    "ERC2771ForwarderInvalidSigner": "the request was signed by {signer}, not by {from}; sign it with "
    "the key of the sender it names",
    "ERC2771ForwarderMismatchedValue": "the request carries {requestedValue} wei but {msgValue} wei "
    "were sent",
    "ERC2771UntrustfulTarget": "{target} does not trust the forwarder {forwarder}",
    "ForwarderDeadlineTooFar": "the request's deadline {deadline} is more than an hour ahead (latest "
    "{latest}); sign a request that expires sooner",
    "ForwarderPartialBatch": "a batch with a refund receiver ({refundReceiver}) could fail part-way; "
    "send batches all or nothing",
    "ForwarderBatchCallFailed": "call {index} of the batch failed, so nothing in it was done",
    "ForwarderRequestWouldSucceed": "the request of {signer} with nonce {nonce} would succeed now; "
    "only a failing request can be voided",
    "InvalidAccountNonce": "nonce of {account} is {currentNonce}; the request was already used or "
    "is out of order: ask for a new one",
    "AccessControlBadConfirmation": "an account may only renounce its own roles",
    "AccessControlUnauthorizedAccount": "{account} lacks the role {neededRole}",
    "EnforcedPause": "the contract is paused; retry after the operator unpauses it",
    "ExpectedPause": "the contract is not paused",
    "ECDSAInvalidSignature": "the signature is not valid; sign the request again",
    "ECDSAInvalidSignatureLength": "the signature is {length} bytes long, 65 expected",
    "ECDSAInvalidSignatureS": "the signature's s value {s} is not allowed (malleable); sign again",
    "FailedCall": "the inner call failed without a reason",
    "InvalidShortString": "a short string was not valid",
    "StringTooLong": "the string {str} is too long",
    "SafeCastOverflowedUintDowncast": "{value} does not fit in {bits} bits",
    "SafeERC20FailedOperation": "the token {token} refused the operation",
}


def yuan(fen: int) -> str:
    """1234567 fen → "¥12,345.67" (integer arithmetic: no float ever rounds an amount)."""
    sign = "-" if fen < 0 else ""
    whole, cents = divmod(abs(fen), 100)
    return f"{sign}¥{whole:,}.{cents:02d}"


class _Formatter(string.Formatter):
    def format_field(self, value: Any, format_spec: str) -> Any:
        if format_spec == "yuan" and isinstance(value, int):
            return yuan(value)
        enum = ENUMS.get(format_spec)
        if enum is not None and isinstance(value, int):
            return status_name(enum, value) if value in enum._value2member_map_ else str(value)
        if format_spec in ("yuan", *ENUMS):
            return str(value)
        return super().format_field(value, format_spec)


_FORMATTER = _Formatter()


def revert_message(error: ContractRevert) -> str:
    """ "Name: what happened; what to do", from ERROR_MESSAGES, or the raw arguments if none matches."""
    args = {key: _display(value) for key, value in error.args_by_name.items()}
    template = ERROR_MESSAGES.get(error.name)
    if template is not None:
        try:
            return f"{error.name}: " + _FORMATTER.format(template, **args)
        except (KeyError, IndexError, ValueError):
            pass
    rendered = ", ".join(f"{key}={value}" for key, value in args.items())
    return f"{error.name}({rendered}): the contract rejected the transaction; nothing was changed"


def _display(value: Any) -> Any:
    if isinstance(value, bytes):
        return "0x" + value.hex()
    return value
