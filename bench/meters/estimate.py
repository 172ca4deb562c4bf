"""Estimated CPU energy where no counter can be read: TDP shared over the CPU's threads, times busy time.

Model (stated in every result): a CPU whose package draws its TDP with all logical CPUs busy draws
``TDP / logical CPUs`` watts per busy logical CPU, so

    joules = TDP / logical_cpus x CPU-seconds this process used (user + system, all its threads)

CPU-seconds come from psutil. Using this process's time, not the machine's, keeps other users of a
shared machine out of joulebench's figures; the machine's utilisation is recorded beside it. The
model ignores idle and uncore power and turbo above TDP: it is an estimate, labelled as one.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from typing import Any, Callable

import psutil

from bench.meters.base import ESTIMATED
from bench.meters.window import Reading, RunningTotalMeter


@dataclass(frozen=True)
class CpuTdp:
    tdp_watts: float
    logical_cpus: int  # threads the TDP is shared over
    source: str  # where the figure came from

    @property
    def watts_per_busy_cpu(self) -> float:
        return self.tdp_watts / self.logical_cpus


# Default TDP and thread count from the vendors' product pages (AMD, Intel). Matched as whole words
# in the CPU model name, so "Gold 6248" does not match "Gold 6248R".
_TDP_TABLE: tuple[tuple[str, float, int], ...] = (
    ("EPYC 7742", 225.0, 128),
    ("EPYC 7713", 225.0, 128),
    ("EPYC 7763", 280.0, 128),
    ("EPYC 9654", 360.0, 192),
    ("EPYC 9754", 360.0, 256),
    ("Ryzen 9 5950X", 105.0, 32),
    ("Ryzen 9 7950X", 170.0, 32),
    ("Xeon(R) Gold 6248", 150.0, 40),
    ("Xeon(R) Gold 6248R", 205.0, 48),
    ("Xeon(R) Platinum 8380", 270.0, 80),
    ("Xeon(R) Platinum 8480+", 350.0, 112),
)


def lookup_tdp(cpu_model: str) -> CpuTdp | None:
    """TDP of a CPU model from the built-in table, or None when the model is not in it."""
    for key, tdp_watts, threads in _TDP_TABLE:
        if re.search(rf"(?<![\w+]){re.escape(key)}(?![\w+])", cpu_model):
            return CpuTdp(tdp_watts, threads, f"TDP table: {key}")
    return None


def table_median_tdp(logical_cpus: int | None = None) -> CpuTdp:
    """For a CPU not in the table: the table's median TDP per thread, times this machine's threads.

    A stated, reproducible stand-in (about 3 W per thread across the server and desktop parts
    listed), so a plain ``bench run`` works anywhere; --cpu-tdp-watts replaces it.
    """
    threads = logical_cpus or psutil.cpu_count(logical=True) or 1
    per_thread = sorted(tdp / n for _key, tdp, n in _TDP_TABLE)
    middle = len(per_thread) // 2
    median = per_thread[middle] if len(per_thread) % 2 else (per_thread[middle - 1] + per_thread[middle]) / 2
    return CpuTdp(
        median * threads, threads,
        f"model not in the TDP table: table median {median:.2f} W per thread x {threads} logical CPUs",
    )


def given_tdp(tdp_watts: float, logical_cpus: int | None = None) -> CpuTdp:
    """A TDP the user gave (--cpu-tdp-watts), shared over the logical CPUs this machine sees."""
    threads = logical_cpus or psutil.cpu_count(logical=True) or 1
    return CpuTdp(tdp_watts, threads, "--cpu-tdp-watts, over this machine's logical CPUs")


def _busy_cpu_seconds(times: Any) -> float:
    # Steal is time the hypervisor gave other guests, and guest time is already inside user.
    return sum(getattr(times, name, 0.0) for name in ("user", "nice", "system", "irq", "softirq"))


class EstimatedCpuMeter(RunningTotalMeter):
    name = "estimated-cpu"
    kind = ESTIMATED
    # psutil CPU times tick every 10 ms; a second keeps that quantisation near 1%.
    min_window_s = 1.0

    def __init__(
        self,
        tdp: CpuTdp,
        *,
        why_not_measured: str = "",
        process: Any = None,
        machine_cpu_times: Callable[[], Any] = psutil.cpu_times,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        super().__init__()
        self.tdp = tdp
        self.why_not_measured = why_not_measured
        self._process = process or psutil.Process()
        self._machine_cpu_times = machine_cpu_times
        self._clock = clock
        self._visible_cpus = psutil.cpu_count(logical=True) or 1
        self.label = (
            f"estimated: {tdp.tdp_watts:g} W TDP / {tdp.logical_cpus} logical CPUs "
            f"x this process's CPU-seconds ({tdp.source})"
        )

    def _read(self) -> Reading:
        times = self._process.cpu_times()
        process_cpu_s = times.user + times.system
        machine_cpu_s = _busy_cpu_seconds(self._machine_cpu_times())
        seconds = self._clock()
        return Reading(
            seconds,
            process_cpu_s * self.tdp.watts_per_busy_cpu,
            {"process_cpu_seconds": process_cpu_s, "machine_busy_cpu_seconds": machine_cpu_s},
        )

    def _window_details(
        self, start: Reading, end: Reading, seconds: float, start_state: dict[str, Any], end_state: dict[str, Any]
    ) -> dict[str, Any]:
        capacity = seconds * self._visible_cpus
        if capacity <= 0:
            return {}
        return {
            "process_utilisation": (end.counts["process_cpu_seconds"] - start.counts["process_cpu_seconds"]) / capacity,
            "machine_utilisation": (
                end.counts["machine_busy_cpu_seconds"] - start.counts["machine_busy_cpu_seconds"]
            ) / capacity,
        }

    def _describe(self) -> dict[str, Any]:
        return {
            "model": "joules = tdp_watts / logical_cpus x process CPU-seconds (psutil user+system)",
            "tdp_watts": self.tdp.tdp_watts,
            "logical_cpus": self.tdp.logical_cpus,
            "watts_per_busy_cpu": self.tdp.watts_per_busy_cpu,
            "tdp_source": self.tdp.source,
            "visible_logical_cpus": self._visible_cpus,
            "why_not_measured": self.why_not_measured,
        }
