"""The meter interface: a window opened and closed around a measurement.

``begin(key)`` opens a window, ``end(key)`` closes it and returns a Measurement. Windows with
different keys may nest or overlap (a whole workload around its phases). Every adapter converts
its native unit (mJ, uJ, W) to joules inside itself, and says in ``source`` how the joules were
obtained, so an estimate is never shown as a measurement.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Protocol

from bench.energy import EnergyKind

# The two kinds a meter can be (bench/energy.py holds them all).
MEASURED = EnergyKind.MEASURED
ESTIMATED = EnergyKind.ESTIMATED


@dataclass(frozen=True)
class Measurement:
    joules: float
    seconds: float
    source: str  # human label, e.g. "measured: nvml energy counter" or "estimated: TDP x utilisation"
    kind: str  # MEASURED or ESTIMATED
    details: dict[str, Any] = field(default_factory=dict)  # inputs of an estimate, sampler period...

    @property
    def watts(self) -> float:
        return self.joules / self.seconds if self.seconds > 0 else float("nan")

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["watts"] = self.watts
        return out


class Meter(Protocol):
    name: str  # e.g. "nvml-energy", "rapl", "estimated-cpu"
    kind: str  # MEASURED or ESTIMATED
    # Shortest window whose reading can be trusted (several counter update periods); the runner
    # lengthens its windows to at least this.
    min_window_s: float

    def begin(self, key: str) -> None: ...

    def end(self, key: str) -> Measurement: ...

    def describe(self) -> dict[str, Any]:
        """JSON-able account of the meter and its inputs, for the result file."""

    def close(self) -> None: ...
