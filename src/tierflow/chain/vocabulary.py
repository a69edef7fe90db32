"""The contracts' vocabulary in Python: status enums, role bits, and a human message for every custom error.

This is the one mirror of the Solidity names; `tests/chain/test_vocabulary.py` checks it against the
compiler output (enum members from the AST, role constants from `contracts/libraries/Roles.sol`,
custom errors from every ABI) and fails on any difference.

Adding a custom error to a contract? Add one line to ERROR_MESSAGES, keyed by the error's name:

    "BillSomethingWrong": "bill {packageId} is …; what to do about it",

Placeholders are the error's argument names, and every argument appears in its message. Format
specs: `{value:yuan}` shows an amount in fen as yuan ("¥12,345.67"; every argument in fen uses it),
`{status:RangeStatus}` names an enum ordinal after the enum of that name below, `{maturity:date}` and
`{expiry:datetime}` show unix seconds as a date, `{caller:party}` an address by its holder's name,
`{rateBps:pct}` basis points as a percentage, `{held:roles}` role bits as role names.

Every message is English and marked `N_(…)` for translation: its Chinese is in the catalogue
(src/tierflow/platform/locale/zh_CN/LC_MESSAGES/messages.po, same `{…}` placeholders). The platform
renders a message in the reader's language with `revert_message(error, wording)`, where `wording`
carries the translation and the lookups (names, dates) it has; this module stays below the platform.
"""

from __future__ import annotations

import datetime as dt
import string
from collections.abc import Callable
from dataclasses import dataclass, field
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


class ProposalState(IntEnum):
    """IGovernanceCouncil.ProposalState: the life of a governance proposal."""

    NONE = 0
    PENDING = 1
    SCHEDULED = 2
    EXECUTED = 3
    CANCELLED = 4
    EXPIRED = 5  # never stored: a Pending or Scheduled proposal past its deadline


ENUMS: dict[str, type[IntEnum]] = {
    "SlotStatus": SlotStatus,
    "RequestStatus": RequestStatus,
    "PackageStatus": PackageStatus,
    "RangeStatus": RangeStatus,
    "Status": ParticipantStatus,
    "ProposalState": ProposalState,
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


def N_(message: str) -> str:  # noqa: N802 - gettext's conventional marker, extracted by `make translations`
    return message


# What a contract's custom error means to a person, and what to do about it (see the module doc).
ERROR_MESSAGES: dict[str, str] = {
    # Receivables
    "CertificateIsLocked": N_(
        "token {tokenId} is under financing request {ref}; cancel or finish that request first"
    ),
    "CertificateNotHolder": N_("token {tokenId} is held by {holder:party}, not by {caller:party}"),
    "CertificateInsufficientValue": N_(
        "token {tokenId} holds {value:yuan}, asked {requested:yuan}; ask for less"
    ),
    "CertificateWrongStatus": N_(
        "payable {slotId} is {status:SlotStatus}; this action is not allowed in that status"
    ),
    "CertificateMatured": N_(
        "token {tokenId} matured at {maturity:date}; it can no longer move, claim it instead"
    ),
    "CertificateNotMatured": N_("payable {slotId} matures at {maturity:date}; wait until then"),
    "CertificateInvalidAmount": N_(
        "amount {amount:yuan} is not a positive multiple of the minimum unit {minUnit:yuan}"
    ),
    "CertificateInvalidMaturity": N_(
        "maturity {maturity:date} is not in the allowed window (latest {latest:date})"
    ),
    "CertificateOverpaid": N_(
        "payable {slotId} has {outstanding:yuan} outstanding; repaying {amount:yuan} is too much"
    ),
    "CertificateGracePeriodRunning": N_(
        "payable {slotId} can be marked defaulted from {defaultableAt:datetime}"
    ),
    "CertificateAlreadySettled": N_("token {tokenId} was already paid out"),
    "CertificateNotSupplier": N_("{caller:party} is not the supplier named on payable {slotId}"),
    "CertificateNotObligor": N_("{caller:party} is not the obligor of payable {slotId}"),
    "CertificateUnknownSlot": N_("payable {slotId} does not exist"),
    "CertificateUnknownToken": N_("token {tokenId} does not exist"),
    "CertificateBatchTooLarge": N_("a batch of {size} tokens is too large; send at most {max} per call"),
    "CertificateFinancingAlreadySet": N_("the financing contract is already set to {financing:party}"),
    "CertificateNoInvoices": N_("a certificate needs at least one invoice; upload it first"),
    "CertificateNotAllowed": N_("{caller:party} may not do this on the certificate ledger"),
    "CertificateNotLocked": N_("token {tokenId} is not locked by a financing request"),
    "CertificateNotOperator": N_("{caller:party} is not the platform operator"),
    "CertificateOnlyFinancing": N_(
        "{caller:party} is not the financing contract; only it may lock and move financed tokens"
    ),
    "CertificateSelfIssue": N_("{obligor:party} cannot issue a certificate to itself"),
    "CertificateTooManyInvoices": N_("{count} invoices is too many for one certificate; at most {max}"),
    "CertificateSelfTransfer": N_(
        "token {tokenId} is held by {holder:party} already; moving it to oneself changes nothing"
    ),
    "CertificateNothingToClaim": N_(
        "token {tokenId} has nothing to claim now (payable paid in {paidIn:yuan}, "
        "paid out {paidOut:yuan}); claim again after the next payment"
    ),
    "CertificateNothingToPay": N_("none of these tokens has anything to be paid now"),
    "CertificateNotGovernance": N_(
        "{caller:party} may not control certificates: a judicial hold needs the controller role or "
        "governance; a forced transfer or a key recovery needs a proposal of the governors' council"
    ),
    "CertificateIsFrozen": N_(
        "token {tokenId} is frozen by a judicial hold (order {reasonHash}); it cannot "
        "move, be financed or claimed until governance releases it"
    ),
    "CertificateNotFrozen": N_("token {tokenId} is not frozen; there is no hold to release"),
    "CertificateNoReason": N_(
        "name the court order or re-verification record (its hash) behind this control"
    ),
    "CertificatePartlyPaidOut": N_(
        "token {tokenId} has been paid {claimed:yuan} already; freeze or move it whole"
    ),
    "CertificateNotRecovered": N_(
        "the registry has not recovered {from:party}'s key to {to:party}; recover the participant first"
    ),
    "CertificateRecoveryBatch": N_("a recovery moves 1 to {max} tokens per call, not {size}; split the list"),
    # CreditLines
    "CreditLineExceeded": N_(
        "credit line {lineId} has {available:yuan} available, {requested:yuan} needed; "
        "ask the financier to extend it"
    ),
    "CreditLineExpired": N_(
        "credit line {lineId} expired at {expiry:datetime}; ask the financier to extend it"
    ),
    "CreditLineWrongObligor": N_("credit line {lineId} belongs to another obligor, not {obligor:party}"),
    "CreditLineNotFinancier": N_("{caller:party} did not grant credit line {lineId}"),
    "CreditLineBelowUsed": N_(
        "credit line {lineId} has {used:yuan} in use; the new limit {newLimit:yuan} is below it"
    ),
    "CreditLineUnknown": N_("credit line {lineId} does not exist"),
    "CreditLineInvalidExpiry": N_("credit line expiry {expiry:datetime} must be in the future"),
    "CreditLineNotOperator": N_("{caller:party} is not the platform operator"),
    "CreditLineOverRestored": N_(
        "credit line {lineId} has {used:yuan} in use; restoring {amount:yuan} is more than that"
    ),
    "CreditLineUnauthorizedConsumer": N_("{caller:party} is not a contract allowed to draw on credit lines"),
    "CreditLineZeroLimit": N_("a credit line needs a limit above zero"),
    # DocumentRegistry
    "DocumentAlreadyUsed": N_(
        "invoice {docHash} already backs asset {assetId} of {asset:party}, whose seller "
        "accepted it first; one invoice backs one asset: reject this one or propose another invoice"
    ),
    "DocumentNoneGiven": N_("no invoice hash was given; name at least one"),
    "DocumentNotOperator": N_("{caller:party} is not the platform operator"),
    "DocumentUnauthorizedConsumer": N_("{caller:party} is not a contract allowed to bind invoices"),
    "DocumentZeroHash": N_("an invoice hash of zero is not allowed"),
    # Financing
    "FinancingWrongStatus": N_(
        "financing request {requestId} is {status:RequestStatus}; this action is not allowed now"
    ),
    "FinancingQuoteExpired": N_(
        "the quote of request {requestId} expired at {expiry:datetime}; ask for a new quote"
    ),
    "FinancingNotSeller": N_("{caller:party} is not the seller of financing request {requestId}"),
    "FinancingNotFinancier": N_("{caller:party} is not the financier of financing request {requestId}"),
    "FinancingUnknownRequest": N_("financing request {requestId} does not exist"),
    "FinancingInvalidRate": N_("rate {rateBps:pct} is not allowed"),
    "FinancingInvalidExpiry": N_(
        "quote expiry {expiry:datetime} is not allowed (it must be in the future, before maturity)"
    ),
    "FinancingNoRecourse": N_("financing request {requestId} was agreed without recourse"),
    "FinancingNotDefaulted": N_("payable {slotId} is not defaulted; recourse needs a defaulted payable"),
    "FinancingTokenMoved": N_(
        "the financed token {tokenId} of request {requestId} is no longer held by the financier"
    ),
    "FinancingSelfDealing": N_("{account:party} cannot finance its own certificate"),
    "FinancingQuoteChanged": N_(
        "the quote of request {requestId} changed: it is now {rateBps:pct}, price "
        "{price:yuan}, valid until {expiry:datetime}; review the new terms and accept those if you agree"
    ),
    "FinancingQuoteLive": N_(
        "the quote of request {requestId} is valid until {expiry:datetime}; it can lapse only then"
    ),
    "FinancingRecourseOwed": N_(
        "{seller:party} owes {owed:yuan} on recourse; no new financing until that is paid"
    ),
    "FinancingNothingToCollect": N_(
        "nothing to collect from {seller:party}: it owes {owed:yuan} and holds no settlement balance now"
    ),
    "FinancingNotSystemContract": N_(
        "{caller:party} is not a Tierflow system contract; only they report payments to net"
    ),
    "BillFinancingAlreadySet": N_("the financing contract is already set to {financing:party}"),
    # Bills
    "BillUnknownPackage": N_("bill {packageId} does not exist"),
    "BillUnknownRange": N_("bill range {rangeId} does not exist"),
    "BillUnknownQuote": N_(
        "bill quote {quoteId} does not exist (or was used or withdrawn); ask for a new quote"
    ),
    "BillWrongPackageStatus": N_(
        "bill {packageId} is {status:PackageStatus}; this action is not allowed in that status"
    ),
    "BillWrongRangeStatus": N_(
        "bill range {rangeId} is {status:RangeStatus}; this action is not allowed in "
        "that status (a pledged range must be released first, a closed one has passed on: read the "
        "package's ranges)"
    ),
    "BillNotDrawerOrAcceptor": N_(
        "{caller:party} is neither the drawer nor the acceptor of bill {packageId}"
    ),
    "BillNotAcceptor": N_("{caller:party} is not the acceptor of bill {packageId}"),
    "BillNotPayee": N_("{caller:party} is not the payee of bill {packageId}"),
    "BillNotHolder": N_("bill range {rangeId} is held by {holder:party}, not by {caller:party}"),
    "BillNotPledgee": N_("bill range {rangeId} is not pledged to {caller:party}"),
    "BillNotQuoteFinancier": N_("bill quote {quoteId} was not made by {caller:party}"),
    "BillNotRecourseObligor": N_(
        "the recourse claim on bill range {rangeId} names {obligor:party}, not {caller:party}"
    ),
    "BillInvalidFace": N_("face {face:yuan} is not a positive multiple of the minimum unit {minUnit:yuan}"),
    "BillInvalidMaturity": N_("maturity {maturity:date} is not in the allowed window (latest {latest:date})"),
    "BillNoInvoices": N_("a bill needs at least one invoice; upload it with POST /v1/bills/documents"),
    "BillInvoicesMismatch": N_("the invoices named do not match those of bill {packageId}"),
    "BillInvalidSubRange": N_(
        "sub-tickets {start} … {end} are not inside bill range {rangeId}; "
        "read the package to see its current ranges"
    ),
    "BillInvalidAmount": N_(
        "{amount:yuan} of sub-tickets is not a multiple of the minimum unit {minUnit:yuan}"
    ),
    "BillNotSplittable": N_("bill {packageId} may not be split; endorse, discount or pledge the whole range"),
    "BillNotTransferable": N_(
        "bill {packageId} is marked 不得转让 (not transferable); it can only be presented for payment"
    ),
    "BillMatured": N_("bill {packageId} matured at {maturity:date}; present it for payment instead"),
    "BillNotMatured": N_("bill {packageId} matures at {maturity:date}; present it from then on"),
    "BillSelfTransfer": N_("{account:party} cannot endorse, discount or pledge to itself"),
    "BillInvalidRate": N_("rate {rateBps:pct} is not allowed (1 … 10,000, and the price must stay positive)"),
    "BillInvalidExpiry": N_("quote expiry {expiry:datetime} must be in the future"),
    "BillQuoteExpired": N_("bill quote {quoteId} expired at {expiry:datetime}; ask the bank for a new quote"),
    "BillInvalidReason": N_("dishonour reason {reason} is not allowed; give a code from 1 to 255"),
    "BillResponsePending": N_(
        "the acceptor may still answer for bill range {rangeId}; "
        "it counts as dishonoured from {dishonourableAt:datetime}"
    ),
    "BillRecourseNotAllowed": N_(
        "{holder:party} has no recourse against {obligor:party} on bill range {rangeId}; "
        "name the drawer or an endorser before your first place in the chain"
    ),
    "BillChainTooLong": N_(
        "bill range {rangeId} would reach {depth} endorsements, more than the cap of {cap}; "
        "it may still be pledged, presented at maturity or held"
    ),
    "BillNotOperator": N_("{caller:party} is not the platform operator"),
    "BillInvalidChainLength": N_(
        "the endorsement-chain cap must be 1 … {limit} and differ from the current one (asked {cap})"
    ),
    # ParticipantRegistry
    "RegistryPlatformPaused": N_("the platform is paused by the operator; retry after it is unpaused"),
    "RegistryUnknownParticipant": N_("{account:party} is not a registered participant"),
    "RegistryParticipantSuspended": N_("{account:party} is suspended; contact the operator"),
    "RegistryMissingRole": N_(
        "{account:party} lacks the role needed (roles: {held:roles}; needs one of: {required:roles})"
    ),
    "RegistryAlreadyRegistered": N_("{account:party} is already registered"),
    "RegistryNotSuspended": N_("{account:party} is not suspended"),
    "RegistryAuditDayAnchored": N_(
        "day {day} of the audit trail is anchored already (head {head}), "
        "or its sequence number is 0; an anchor never changes"
    ),
    "RegistryInvalidParameters": N_(
        "parameters not allowed: tenor cap {maxTenor} s, grace period "
        "{gracePeriod} s, minimum unit {minUnit:yuan}"
    ),
    "RegistryInvalidRoles": N_("roles {roles:roles} are not a valid combination of roles"),
    "RegistryNotOperator": N_("{account:party} is not the platform operator"),
    "RegistryZeroAddress": N_("the zero address cannot be a participant"),
    "RegistryInvalidQuoteValidity": N_("a quote validity of {validity} s is not allowed (1 s to {max} s)"),
    "RegistryRoleUnchanged": N_("{account:party} already has (or never had) role {role}: nothing to change"),
    "RegistryAccountRecovered": N_(
        "{account:party}'s key was recovered to {newAccount:party}; use that address"
    ),
    "RegistryNoReason": N_("name the re-verification record (its hash) behind this recovery"),
    # SettlementToken and OpenZeppelin's ERC-20
    "SettlementNotBank": N_("{caller:party} is not a settlement bank; only settlement banks mint and burn"),
    "SettlementZeroAmount": N_("an amount of zero moves nothing; enter a positive amount"),
    "SettlementSelfTransfer": N_("{account:party} cannot pay itself; choose another recipient"),
    "SettlementNotSystem": N_(
        "{caller:party} is not a Tierflow contract; only they collect without an allowance"
    ),
    "SettlementNotGovernance": N_(
        "{caller:party} is not platform governance; only governance moves a recovered balance"
    ),
    "SettlementNotRecovered": N_(
        "the registry has not recovered {account:party}'s key to {newAccount:party}; "
        "recover the participant first"
    ),
    "ERC20InsufficientBalance": N_(
        "{sender:party} holds {balance:yuan} of settlement token, {needed:yuan} needed"
    ),
    "ERC20InsufficientAllowance": N_(
        "allowance of {spender:party} is {allowance:yuan}, {needed:yuan} needed; "
        "approve it with POST /v1/settlement/approvals"
    ),
    "ERC20InvalidApprover": N_("{approver:party} cannot approve settlement token"),
    "ERC20InvalidReceiver": N_("{receiver:party} cannot receive settlement token"),
    "ERC20InvalidSender": N_("{sender:party} cannot send settlement token"),
    "ERC20InvalidSpender": N_("{spender:party} cannot be approved to spend settlement token"),
    "ERC2612ExpiredSignature": N_("the permit signature expired at {deadline:datetime}; sign a new one"),
    "ERC2612InvalidSigner": N_("the permit was signed by {signer:party}, not by the owner {owner:party}"),
    # OpenZeppelin: the forwarder, access control, pausing, signatures, utilities
    "ERC2771ForwarderExpiredRequest": N_("the signed request expired at {deadline:datetime}; sign a new one"),
    "ERC2771ForwarderInvalidSigner": N_(
        "the request was signed by {signer:party}, not by {from:party}; sign it with "
        "the key of the sender it names"
    ),
    "ERC2771ForwarderMismatchedValue": N_(
        "the request carries {requestedValue} wei but {msgValue} wei were sent"
    ),
    "ERC2771UntrustfulTarget": N_("{target:party} does not trust the forwarder {forwarder:party}"),
    "ForwarderDeadlineTooFar": N_(
        "the request's deadline {deadline:datetime} is more than an hour ahead (latest "
        "{latest:date}); sign a request that expires sooner"
    ),
    "ForwarderPartialBatch": N_(
        "a batch with a refund receiver ({refundReceiver:party}) could fail part-way; "
        "send batches all or nothing"
    ),
    "ForwarderBatchCallFailed": N_("call {index} of the batch failed, so nothing in it was done"),
    "ForwarderRequestWouldSucceed": N_(
        "the request of {signer:party} with nonce {nonce} would succeed now; "
        "only a failing request can be voided"
    ),
    "InvalidAccountNonce": N_(
        "nonce of {account:party} is {currentNonce}; the request was already used or "
        "is out of order: ask for a new one"
    ),
    "AccessControlBadConfirmation": N_("an account may only renounce its own roles"),
    "AccessControlUnauthorizedAccount": N_("{account:party} lacks the role {neededRole}"),
    "EnforcedPause": N_("the contract is paused; retry after the operator unpauses it"),
    "ExpectedPause": N_("the contract is not paused"),
    "ECDSAInvalidSignature": N_("the signature is not valid; sign the request again"),
    "ECDSAInvalidSignatureLength": N_("the signature is {length} bytes long, 65 expected"),
    "ECDSAInvalidSignatureS": N_("the signature's s value {s} is not allowed (malleable); sign again"),
    "FailedCall": N_("the inner call failed without a reason"),
    "InvalidShortString": N_("a short string was not valid"),
    "StringTooLong": N_("the string {str} is too long"),
    "SafeCastOverflowedUintDowncast": N_("{value} does not fit in {bits} bits"),
    "SafeERC20FailedOperation": N_("the token {token:party} refused the operation"),
    # asset-level controls of bills and positions (issue 15)
    "FinancingNotGovernance": N_(
        "{caller:party} is not platform governance; only governance moves positions in a key recovery"
    ),
    "FinancingNotRecovered": N_(
        "the registry has not recovered {from:party}'s key to {to:party}; recover the participant first"
    ),
    "FinancingNotParty": N_(
        "{from:party} is neither the seller nor the financier of request {requestId}; "
        "leave it out of the recovery"
    ),
    "FinancingNothingToRecover": N_(
        "nothing to recover for {from:party}: name 1 to 200 of its requests (or it must owe recourse) "
        "and the re-verification record"
    ),
    "BillNotGovernance": N_(
        "{caller:party} may not control bills: a judicial hold needs the controller role or "
        "governance; a forced transfer or a key recovery needs a proposal of the governors' council"
    ),
    "BillNoReason": N_("name the court order or re-verification record (its hash) behind this control"),
    "BillNotRecovered": N_(
        "the registry has not recovered {from:party}'s key to {to:party}, or the recovery names {size} range "
        "records (1 to 200 per call); recover the participant first, or split the list"
    ),
    "BillNotParty": N_(
        "{from:party} plays no part in the bill package, range record or quote {id}; leave it out of the "
        "recovery"
    ),
    "CreditLineNotGovernance": N_(
        "{caller:party} is not platform governance; only governance moves credit lines in a key recovery"
    ),
    "CreditLineNotRecovered": N_(
        "the registry has not recovered {from:party}'s key to {to:party}, the order is missing, or the "
        "recovery names {size} credit lines (1 to 200 per call); recover the participant first, or split "
        "the list"
    ),
    "CreditLineNotParty": N_(
        "{from:party} is neither the borrower nor the bank of credit line {lineId}; leave it out of the "
        "recovery"
    ),
    # governance and upgrades (issue 15)
    "GovernanceOnly": N_("{caller:party} is not governance: propose the change to the governors' council"),
    "CouncilNotGovernor": N_("{caller:party} is not a governor"),
    "CouncilOnlyTimelock": N_("{caller:party} is not the timelock: change the council through a proposal"),
    "CouncilUnknownProposal": N_("there is no proposal {proposalId}"),
    "CouncilAlreadyApproved": N_(
        "{governor:party} has already approved proposal {proposalId}; another governor must"
    ),
    "CouncilWrongState": N_("proposal {proposalId} is {state:ProposalState}"),
    "CouncilNotReady": N_("proposal {proposalId} can be executed from {eta:datetime} on; wait for the delay"),
    "CouncilProposalExpired": N_(
        "proposal {proposalId} expired at {deadline:datetime} without being executed; propose it again"
    ),
    "CouncilAlreadyVotedCancel": N_(
        "{governor:party} has already voted to cancel proposal {proposalId}; another governor must"
    ),
    "CouncilInvalidWindow": N_(
        "a proposal window of {window} s must be longer than the timelock's delay of {delay} s"
    ),
    "CouncilInvalidBatch": N_(
        "a batch of {targets} targets and {datas} calls: give at least one call, and one target per call"
    ),
    "CouncilInvalidGovernors": N_(
        "{threshold} of {count} governors is not a valid council: the threshold must "
        "be 1 .. the number of governors, each governor distinct and non-zero"
    ),
    "TimelockInsufficientDelay": N_("a delay of {delay} s is below the timelock's minimum {minDelay} s"),
    "TimelockInvalidOperationLength": N_(
        "a batch of {targets} targets, {payloads} payloads and {values} values; give as many of each"
    ),
    "TimelockUnauthorizedCaller": N_(
        "{caller:party} may not call the timelock directly; go through the council"
    ),
    "TimelockUnexecutedPredecessor": N_("operation {predecessorId} must be executed first"),
    "TimelockUnexpectedOperationState": N_(
        "timelock operation {operationId} is not in a state {expectedStates} allows"
    ),
    "AddressEmptyCode": N_("{target:party} has no code"),
    "ERC1967InvalidImplementation": N_(
        "{implementation:party} is not a contract and cannot be an implementation"
    ),
    "ERC1967NonPayable": N_("an upgrade without an initialising call takes no value"),
    "InvalidInitialization": N_(
        "already initialised: an initializer runs once, and never on an implementation"
    ),
    "NotInitializing": N_("only an initializer may call this"),
    "UUPSUnauthorizedCallContext": N_("call the proxy, not the implementation"),
    "UUPSUnsupportedProxiableUUID": N_("the new implementation is not UUPS-compatible (slot {slot})"),
}


def yuan(fen: int) -> str:
    """1234567 fen → "¥12,345.67" (integer arithmetic: no float ever rounds an amount)."""
    sign = "-" if fen < 0 else ""
    whole, cents = divmod(abs(fen), 100)
    return f"{sign}¥{whole:,}.{cents:02d}"


def _iso_date(seconds: int) -> str:
    return dt.datetime.fromtimestamp(seconds, tz=dt.UTC).strftime("%Y-%m-%d")


def _iso_datetime(seconds: int) -> str:
    return dt.datetime.fromtimestamp(seconds, tz=dt.UTC).strftime("%Y-%m-%d %H:%M UTC")


def _percent(bps: int) -> str:
    whole, rest = divmod(abs(bps), 100)
    return f"{'-' if bps < 0 else ''}{whole}.{rest:02d}%"


@dataclass(frozen=True)
class Wording:
    """How a revert message is worded: the language and the lookups the caller has (names, dates).

    The default is English with ISO dates and raw addresses; the platform passes the reader's language,
    its date format and the directory's names.
    """

    translate: Callable[[str], str] = field(default=lambda text: text)
    date: Callable[[int], str] = _iso_date
    datetime: Callable[[int], str] = _iso_datetime
    name: Callable[[str], str] = field(default=lambda address: address)
    role: Callable[[str], str] = field(default=lambda role: role.replace("_", " "))
    separator: str = ", "
    # "Name: " before the message (the API's error code readers know it); the dashboard leaves it out.
    with_error_name: bool = True


ENGLISH = Wording()


class _Formatter(string.Formatter):
    def __init__(self, wording: Wording) -> None:
        super().__init__()
        self.wording = wording

    def format_field(self, value: Any, format_spec: str) -> Any:
        w = self.wording
        if isinstance(value, int) and not isinstance(value, bool):
            if format_spec == "yuan":
                return yuan(value)
            if format_spec in ("date", "datetime"):
                if not 0 < value < 2**40:  # 0 or type(uint64).max mean "none" to a contract
                    return str(value)
                return w.date(value) if format_spec == "date" else w.datetime(value)
            if format_spec == "pct":
                return _percent(value)
            if format_spec == "roles":
                names = role_names(value)
                return w.separator.join(w.role(name) for name in names) if names else "—"
            enum = ENUMS.get(format_spec)
            if enum is not None:
                if value in enum._value2member_map_:
                    return w.translate(status_name(enum, value))
                return str(value)
        if format_spec == "party" and isinstance(value, str):
            return w.name(value)
        if format_spec in ("yuan", "date", "datetime", "pct", "roles", "party", *ENUMS):
            return str(value)
        return super().format_field(value, format_spec)


SPECS = ("yuan", "date", "datetime", "pct", "roles", "party", *ENUMS)


def revert_message(error: ContractRevert, wording: Wording = ENGLISH) -> str:
    """ "Name: what happened; what to do", from ERROR_MESSAGES in `wording`'s language, or the raw
    arguments if none matches."""
    args = {key: _display(value) for key, value in error.args_by_name.items()}
    template = ERROR_MESSAGES.get(error.name)
    if template is not None:
        try:
            text = _Formatter(wording).format(wording.translate(template), **args)
            return f"{error.name}: {text}" if wording.with_error_name else text
        except (KeyError, IndexError, ValueError):
            pass
    rendered = ", ".join(f"{key}={value}" for key, value in args.items())
    return f"{error.name}({rendered}): " + wording.translate(
        N_("the contract rejected the transaction; nothing was changed")
    )


def _display(value: Any) -> Any:
    if isinstance(value, bytes):
        return "0x" + value.hex()
    return value
