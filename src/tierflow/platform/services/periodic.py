"""A background job of the service run now and every `interval` seconds after, in a thread of its own."""

from __future__ import annotations

import logging
import threading
from typing import Any, Self

log = logging.getLogger("tierflow.platform")


class Periodic:
    """Runs `run_once` when started and every `interval` seconds after until `stop`. A failed round (the
    database or the node away) is logged and kept in `error`, and the next round tries again."""

    name = "tierflow-periodic"  # the thread's name
    failed = "periodic job failed"  # the log line's start when a round fails

    def __init__(self, interval: float) -> None:
        self.interval = interval
        self.stop_event = threading.Event()
        self.thread: threading.Thread | None = None
        self.error: str | None = None

    def run_once(self) -> Any:
        raise NotImplementedError

    def start(self) -> Self:
        def run() -> None:
            while True:
                try:
                    self.run_once()
                    self.error = None
                except Exception as error:  # the database or the node is away: the next round
                    self.error = f"{type(error).__name__}: {error}"
                    log.warning("%s: %s", self.failed, self.error)
                if self.stop_event.wait(self.interval):
                    return

        self.thread = threading.Thread(target=run, name=self.name, daemon=True)
        self.thread.start()
        return self

    def stop(self) -> None:
        self.stop_event.set()
        if self.thread is not None:
            self.thread.join(timeout=10)
            self.thread = None
