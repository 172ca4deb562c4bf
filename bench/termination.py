"""SIGTERM and SIGHUP during a run, turned into an exception that unwinds like Ctrl-C, so the
runner saves what finished and marks the file partial with the signal's name."""

from __future__ import annotations

import signal
import threading
from typing import Any


class Terminated(KeyboardInterrupt):
    """SIGTERM or SIGHUP, raised where the run is, so it unwinds like Ctrl-C."""

    def __init__(self, signum: int):
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


HANDLED_SIGNALS = tuple(getattr(signal, name) for name in ("SIGTERM", "SIGHUP") if hasattr(signal, name))


def _raise(signum: int, frame: Any) -> None:
    raise Terminated(signum)


def install_handlers() -> dict[int, Any]:
    """SIGTERM/SIGHUP raise Terminated (main thread only: Python allows handlers nowhere else)."""
    if threading.current_thread() is not threading.main_thread():
        return {}
    previous = {}
    for signum in HANDLED_SIGNALS:
        previous[signum] = signal.signal(signum, _raise)
    return previous


def restore_handlers(previous: dict[int, Any]) -> None:
    for signum, handler in previous.items():
        signal.signal(signum, handler)


def ignore_further() -> None:
    """While the interrupted run saves: SIGTERM/SIGHUP ignored (the previous handlers come back after)."""
    if threading.current_thread() is threading.main_thread():
        for signum in HANDLED_SIGNALS:
            signal.signal(signum, signal.SIG_IGN)
