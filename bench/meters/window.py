"""Windows over a running total: every adapter reads "joules so far", and a window is a difference.

Because each reading is a running total, windows with different keys nest and overlap freely (a
workload around its phases) and cost one reading at each edge. Adapters implement ``_read`` (and
optionally ``_state``, the device state recorded at both edges); this class does the bookkeeping
and the checks every meter shares.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping

from bench.errors import BenchError
from bench.meters.base import MEASURED, Measurement


@dataclass(frozen=True)
class Reading:
    seconds: float  # monotonic clock at the reading
    joules: float  # running total since the meter opened
    counts: Mapping[str, float] = field(default_factory=dict)  # other running totals (per-domain joules...)
    # How this reading was taken, kept per edge (e.g. the wait for an energy-counter update).
    edge: Mapping[str, Any] = field(default_factory=dict)


class RunningTotalMeter:
    """Base of every adapter: ``begin``/``end`` windows over ``_read()``'s running totals."""

    name: str
    kind: str
    min_window_s: float
    label: str  # e.g. "measured: RAPL powercap counters (package-0)"; shown in every table

    def __init__(self) -> None:
        self._open: dict[str, tuple[Reading, dict[str, Any]]] = {}

    # -- what adapters provide ---------------------------------------------------------------
    def _read(self) -> Reading:
        raise NotImplementedError

    def _state(self) -> dict[str, Any]:
        """Device state worth recording at both edges of a window (clocks, throttling)."""
        return {}

    def _window_details(
        self, start: Reading, end: Reading, seconds: float, start_state: dict[str, Any], end_state: dict[str, Any]
    ) -> dict[str, Any]:
        """Adapter-specific figures of one window (utilisation, throttling...)."""
        return {}

    def _describe(self) -> dict[str, Any]:
        return {}

    # -- the Meter interface -----------------------------------------------------------------
    def begin(self, key: str) -> None:
        if key in self._open:
            raise ValueError(f"meter window {key!r} is already open")
        state = self._state()  # before the reading, so querying it falls outside the window
        self._open[key] = (self._read(), state)

    def end(self, key: str) -> Measurement:
        if key not in self._open:
            raise ValueError(f"meter window {key!r} was never opened")
        reading = self._read()
        start, start_state = self._open.pop(key)
        end_state = self._state()
        seconds = reading.seconds - start.seconds
        joules = reading.joules - start.joules
        if joules < 0:
            raise BenchError(f"{self.name}: energy went backwards by {-joules:.6f} J in window {key!r} (counter reset?)")
        if joules == 0 and self.kind == MEASURED:
            # A hardware counter that did not move has not measured zero energy; it has not updated.
            raise BenchError(
                f"{self.name}: window {key!r} read 0 J over {seconds:.3f} s; the counter did not update "
                f"(windows must be at least {self.min_window_s:g} s, many counter update periods)"
            )
        details: dict[str, Any] = {
            "min_window_s": self.min_window_s,
            # The runner lengthens such windows; one that slips through is marked, not hidden.
            "window_too_short": seconds < self.min_window_s,
        }
        counts = {name: reading.counts[name] - start.counts.get(name, 0.0) for name in reading.counts}
        if counts:
            details["counts"] = counts
        if start.edge or reading.edge:
            details["edges"] = {"start": dict(start.edge), "end": dict(reading.edge)}
        details.update(self._window_details(start, reading, seconds, start_state, end_state))
        if start_state or end_state:
            details["state_start"] = start_state
            details["state_end"] = end_state
        return Measurement(joules=joules, seconds=seconds, source=self.label, kind=self.kind, details=details)

    def describe(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "kind": self.kind,
            "label": self.label,
            "min_window_s": self.min_window_s,
            **self._describe(),
        }

    def close(self) -> None:
        pass

    def __enter__(self) -> "RunningTotalMeter":
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
