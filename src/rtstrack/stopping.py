"""Stopping long work cleanly on Ctrl-C or SIGTERM, shared by ``rtstrack track`` and training.

The first signal only sets :attr:`StopRequest.requested`: the loop finishes its current unit of
work (a frame, an optimiser step), saves what it has and stops. A second signal raises
KeyboardInterrupt at once. ``timeout``, ``docker stop``, ``kill -- -PGID`` and a cluster's
pre-emption send SIGTERM; a terminal's Ctrl-C sends SIGINT.
"""

from __future__ import annotations

import signal
import threading
from typing import Any, Callable

SIGNALS = (signal.SIGINT, signal.SIGTERM)


class StopRequest:
    """Context manager that turns the first SIGINT/SIGTERM into ``requested`` (the signal's name:
    ``"Ctrl-C"`` or ``"SIGTERM"``). Installed only in the main thread (signal handlers cannot be
    set elsewhere); the previous handlers are restored on exit.

    Args:
        on_request: called with that name when the first signal arrives (e.g. to log it).
    """

    def __init__(self, on_request: Callable[[str], None] | None = None) -> None:
        self.requested: str | None = None
        self._on_request = on_request
        self._previous: dict[int, Any] = {}

    def _handle(self, signum: int, frame: Any) -> None:
        if self.requested:
            raise KeyboardInterrupt
        self.requested = "Ctrl-C" if signum == signal.SIGINT else signal.Signals(signum).name
        if self._on_request is not None:
            self._on_request(self.requested)

    def __enter__(self) -> StopRequest:
        if threading.current_thread() is threading.main_thread():
            self._previous = {sig: signal.signal(sig, self._handle) for sig in SIGNALS}
        return self

    def __exit__(self, *exc: object) -> None:
        for sig, previous in self._previous.items():
            signal.signal(sig, previous)
        self._previous = {}


def ignore_stop_signals(*_: Any) -> None:
    """For worker processes (e.g. a DataLoader's ``worker_init_fn``): leave SIGINT and SIGTERM to the
    main process. A terminal's Ctrl-C and ``kill -- -PGID`` signal every process of the group, and a
    worker killed by them would make the main process fail mid-step before it could save its work."""
    for sig in SIGNALS:
        signal.signal(sig, signal.SIG_IGN)
