"""Energy from power readings: a background thread samples watts and integrates by trapezoids.

Used where no energy counter exists (NVML on pre-Volta GPUs, a user's ``--watts-command``).
Readers also take a sample at each window edge, so a window's integral runs exactly between its
edge samples and the thread only fills in the middle.
"""

from __future__ import annotations

import math
import threading
import time
from typing import Callable

from bench.errors import BenchError


def trapezoid_joules(t0_s: float, w0: float, t1_s: float, w1: float) -> float:
    """Energy between two power readings, taking power as linear between them."""
    return 0.5 * (w0 + w1) * (t1_s - t0_s)


class PowerIntegrator:
    """Running total of joules from ``read_watts()`` sampled every ``period_s`` by a daemon thread."""

    def __init__(
        self,
        read_watts: Callable[[], float],
        period_s: float,
        *,
        clock: Callable[[], float] = time.monotonic,
        thread: bool = True,
        thread_name: str = "joulebench-power-sampler",
    ) -> None:
        if not (period_s > 0 and math.isfinite(period_s)):
            raise BenchError(f"sampling period must be a positive number of seconds, got {period_s}")
        self.period_s = period_s
        self._read_watts = read_watts
        self._clock = clock
        self._lock = threading.Lock()
        self._joules = 0.0
        self._samples = 0
        self._last: tuple[float, float] | None = None  # (seconds, watts) of the latest sample
        self._error: BaseException | None = None
        self._stop = threading.Event()
        self.sample()  # a reader that cannot read fails here, at selection, not mid-run
        self._thread: threading.Thread | None = None
        if thread:
            self._thread = threading.Thread(target=self._run, name=thread_name, daemon=True)
            self._thread.start()

    def sample(self) -> tuple[float, float, int]:
        """Read power now; return (seconds, running joules, samples so far)."""
        if self._error is not None:
            raise self._error
        # Under the lock, so the sampler thread and a window edge never interleave out of order.
        with self._lock:
            before = self._clock()
            watts = float(self._read_watts())
            # A reading that takes time (a shell command) is dated at its midpoint.
            now = 0.5 * (before + self._clock())
            if not (watts >= 0 and math.isfinite(watts)):
                raise BenchError(f"power reading of {watts} W is not a non-negative number")
            if self._last is not None:
                self._joules += trapezoid_joules(self._last[0], self._last[1], now, watts)
            self._last = (now, watts)
            self._samples += 1
            return now, self._joules, self._samples

    def _run(self) -> None:
        while not self._stop.wait(self.period_s):
            try:
                self.sample()
            except BaseException as exc:  # handed to the next reader, who raises it
                self._error = exc
                return

    def close(self) -> None:
        self._stop.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout=max(1.0, 2 * self.period_s))
