"""Stopping a training run on a signal: the first Ctrl-C or SIGTERM asks the loop to stop after
the current step (so the checkpoint written on the way out is consistent); a second stops at once."""
from __future__ import annotations

import signal
from typing import Any


class StopNow(KeyboardInterrupt):
    """A second stop signal: stop at once. ``signum`` says which (the CLI exits with 128 + it)."""

    def __init__(self, signum: int):
        super().__init__()
        self.signum = signum


class GracefulStop:
    """Turns the first Ctrl-C (or SIGTERM) into a request to stop after the current step, so the
    checkpoint written on the way out is a consistent one; a second one stops at once (StopNow).
    ``signal`` is the first signal received (None while there is none)."""

    def __init__(self):
        self.requested = False
        self.signal: signal.Signals | None = None
        self._old: dict[int, Any] = {}

    def _handle(self, signum, frame):
        if self.requested:
            raise StopNow(signum)
        self.requested = True
        self.signal = signal.Signals(signum)

    def __enter__(self) -> "GracefulStop":
        import threading

        if threading.current_thread() is threading.main_thread():
            for sig in (signal.SIGINT, signal.SIGTERM):
                self._old[sig] = signal.signal(sig, self._handle)
        return self

    def __exit__(self, *exc) -> None:
        for sig, handler in self._old.items():
            signal.signal(sig, handler)
