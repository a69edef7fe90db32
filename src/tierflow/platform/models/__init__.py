"""SQL tables of Tierflow: the indexer's bookkeeping and the read models derived from contract events."""

from tierflow.platform.models.bills import BillInvoice, BillMovement, BillPackage, BillQuote, BillRange
from tierflow.platform.models.controls import AssetControl, AssetHold
from tierflow.platform.models.credit import CreditLine, CreditLineMovement
from tierflow.platform.models.documents import Document, SettlementBalance, SettlementMovement
from tierflow.platform.models.financing import (
    FinancingFunding,
    FinancingQuote,
    FinancingRequest,
    RecourseDebt,
    RecourseExercise,
)
from tierflow.platform.models.governance import GovernanceProposal, GovernanceStep
from tierflow.platform.models.indexer import (
    Checkpoint,
    IndexedBlock,
    IndexerLease,
    RawEvent,
    SlotVersion,
    UndoEntry,
)
from tierflow.platform.models.receivables import (
    ZERO_ADDRESS,
    Certificate,
    CertificateTransfer,
    Payable,
    PayableDefault,
    Payout,
    Repayment,
)
from tierflow.platform.models.registry import Participant, PlatformState, SystemContract
from tierflow.platform.models.summary import FundedSummary, Position

# Tables derived from events by the handlers: rolled back on a reorg, rebuilt by a replay.
READ_MODELS = [
    Participant,
    PlatformState,
    SystemContract,
    CreditLine,
    CreditLineMovement,
    Payable,
    Certificate,
    CertificateTransfer,
    Repayment,
    Payout,
    PayableDefault,
    FinancingRequest,
    FinancingQuote,
    FinancingFunding,
    RecourseExercise,
    RecourseDebt,
    Document,
    SettlementBalance,
    SettlementMovement,
    BillPackage,
    BillInvoice,
    BillRange,
    BillQuote,
    BillMovement,
    GovernanceProposal,
    GovernanceStep,
    AssetHold,
    AssetControl,
    # Summaries of the rows above, written with them (indexer.summary): rolled back and rebuilt alike.
    Position,
    FundedSummary,
]

__all__ = [
    "READ_MODELS",
    "AssetControl",
    "AssetHold",
    "BillInvoice",
    "BillMovement",
    "BillPackage",
    "BillQuote",
    "BillRange",
    "ZERO_ADDRESS",
    "Certificate",
    "CertificateTransfer",
    "Checkpoint",
    "CreditLine",
    "CreditLineMovement",
    "Document",
    "FinancingFunding",
    "FinancingQuote",
    "FinancingRequest",
    "FundedSummary",
    "GovernanceProposal",
    "GovernanceStep",
    "IndexedBlock",
    "SlotVersion",
    "IndexerLease",
    "Participant",
    "Payable",
    "PayableDefault",
    "Payout",
    "PlatformState",
    "Position",
    "RawEvent",
    "RecourseDebt",
    "RecourseExercise",
    "Repayment",
    "SettlementBalance",
    "SettlementMovement",
    "SystemContract",
    "UndoEntry",
]
