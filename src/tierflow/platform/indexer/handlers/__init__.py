"""Event handlers: one function per "Contract:Event", each turning one decoded event into read-model rows.

One module per contract (participant_registry, credit_lines, receivables, financing,
document_registry, settlement_token, bills, governance; controls: the asset-level controls of issue 15
across them) registers its handlers in `registry.HANDLERS` on import;
importing this package imports them all. Handlers are deterministic functions of (event, rows so
far): replaying the raw events in (block, log index) order rebuilds the read models exactly. Events
without a handler (ERC-20 Approval, AccessControl role changes, wiring such as ConsumerSet) are kept
as raw events only.
"""

from __future__ import annotations

from tierflow.platform.indexer.handlers import (  # noqa: F401  (imported to register their handlers)
    bills,
    controls,
    credit_lines,
    document_registry,
    financing,
    governance,
    participant_registry,
    receivables,
    settlement_token,
)
from tierflow.platform.indexer.handlers.registry import HANDLERS, PREFETCH, Handler, MissingRowError

__all__ = ["HANDLERS", "PREFETCH", "Handler", "MissingRowError"]
