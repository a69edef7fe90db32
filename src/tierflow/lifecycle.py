"""SIGTERM stops a long-running command the way Ctrl-C does: every `finally` and `with` exit still runs."""

from __future__ import annotations

import signal
from types import FrameType


def _interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def sigterm_as_interrupt() -> None:
    """From now on SIGTERM raises KeyboardInterrupt in the main thread.

    Under the default disposition SIGTERM (`kill`, a service manager, `docker stop`) ended the process
    at once: `tierflow up` left its anvil running, orphaned on its port with its state not dumped, and
    uvicorn, which re-raises the signal it caught once its graceful shutdown is done, died before the
    devnet's `with` block could stop the chain.
    """
    signal.signal(signal.SIGTERM, _interrupt)
