"""NVIDIA GPU energy through NVML: the total-energy counter, or sampled power where there is none.

The counter (Volta and newer, in mJ) advances in steps, about every 100 ms (measured when the
meter opens: ``counter_update_period_s``). A window read at arbitrary moments would be off by up
to one step at each edge (10-20% of a 1 s window), so each edge waits for the counter to change
and is dated at the change: the window then runs from one update to another, and its seconds
and joules cover the same span. Windows are also at least 10 update periods (1 s at the least),
and one that reads 0 J is refused.

Older GPUs have only power readings, sampled by a thread and integrated by trapezoids: the
instant power field (NVML_FI_DEV_POWER_INSTANT) where the driver has it, since on Ampere and newer
nvmlDeviceGetPowerUsage is a one-second average; the meter says which it reads.

Throttling is the violation time each window accumulated (nvmlDeviceGetViolationStatus, per
policy: power cap, thermal...), where the GPU reports it; else the clocks-event reasons seen at
either edge, labelled as such. MIG slices are refused: NVML's energy and power cover the whole GPU.
"""

from __future__ import annotations

import statistics
import time
from typing import Any, Callable

from bench import nvml
from bench.errors import BenchError
from bench.meters.base import MEASURED
from bench.meters.sampler import PowerIntegrator
from bench.meters.window import Reading, RunningTotalMeter

DEFAULT_SAMPLING_PERIOD_S = 0.05
_POLL_S = 0.001  # between counter reads while waiting for an update (an NVML call is ~10-50 us)
_PERIOD_UPDATES = 4  # counter changes timed when the meter opens
_PERIOD_TIMEOUT_S = 3.0  # an update period longer than this is not measured (alignment off)
_MIN_PERIODS_PER_WINDOW = 10
_MIN_WINDOW_S = 1.0


class _NvmlMeter(RunningTotalMeter):
    kind = MEASURED
    min_window_s = _MIN_WINDOW_S

    def __init__(self, gpu: nvml.Gpu) -> None:
        super().__init__()
        self.gpu = gpu
        self.snapshot = gpu.snapshot()

    def _state(self) -> dict[str, Any]:
        return self.gpu.state()

    def _window_details(
        self, start: Reading, end: Reading, seconds: float, start_state: dict[str, Any], end_state: dict[str, Any]
    ) -> dict[str, Any]:
        before, after = start_state.get("violation_ns"), end_state.get("violation_ns")
        if before and after:
            violation_s = {name: (after[name] - before[name]) / 1e9 for name in after if name in before}
            return {
                "throttled": sorted(n for n, s in violation_s.items() if s > 0 and n in nvml.THROTTLING_POLICIES),
                "violation_s": violation_s,
                "throttle_basis": "violation time accumulated over the window (nvmlDeviceGetViolationStatus)",
            }
        reasons = set(start_state["throttle_reasons"] or []) | set(end_state["throttle_reasons"] or [])
        return {
            "throttled": sorted(reasons & nvml.THROTTLING_REASONS),
            # NVML keeps no history of the reasons: what happened between the edges is not seen.
            "throttle_basis": "clocks-event reasons at either edge only (no violation counters on this GPU)",
        }

    def _describe(self) -> dict[str, Any]:
        # Which board it reads; the board's state (clocks, limits, temperature) is the device
        # section's `nvml` snapshot, written once.
        board = {k: self.snapshot[k] for k in ("name", "uuid", "nvml_index", "cuda_index") if k in self.snapshot}
        return {"gpu": board, "covers": "the whole GPU board, as NVML reports it"}

    def close(self) -> None:
        self.gpu.close()


class NvmlEnergyMeter(_NvmlMeter):
    name = "nvml-energy"

    def __init__(self, gpu: nvml.Gpu, *, clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], None] = time.sleep, align: bool = True) -> None:
        super().__init__(gpu)
        self._clock, self._sleep = clock, sleep
        self._mj0 = gpu.energy_mj()
        self.label = f"measured: NVML total-energy counter (GPU {gpu.cuda_index}, {gpu.name})"
        self.update_period_s: float | None = None
        self.period_note = "edges not aligned (asked for)"
        if align:
            self.update_period_s, self.period_note = self._measure_update_period()
        if self.update_period_s is not None:
            self.min_window_s = max(_MIN_WINDOW_S, _MIN_PERIODS_PER_WINDOW * self.update_period_s)

    def _wait_for_update(self, timeout_s: float) -> tuple[float, int, float] | None:
        """Poll until the counter changes: (time of the change, mJ, seconds waited), None on timeout."""
        t0 = self._clock()
        last = self.gpu.energy_mj()
        while True:
            self._sleep(_POLL_S)
            mj, now = self.gpu.energy_mj(), self._clock()
            if mj != last:
                return now, mj, now - t0
            if now - t0 > timeout_s:
                return None

    def _measure_update_period(self) -> tuple[float | None, str]:
        first = self._wait_for_update(_PERIOD_TIMEOUT_S)
        if first is None:
            return None, f"counter did not change within {_PERIOD_TIMEOUT_S:g} s: edges not aligned"
        times = [first[0]]
        for _ in range(_PERIOD_UPDATES):
            update = self._wait_for_update(_PERIOD_TIMEOUT_S)
            if update is None:
                return None, f"counter stopped changing within {_PERIOD_TIMEOUT_S:g} s: edges not aligned"
            times.append(update[0])
        gaps = [b - a for a, b in zip(times, times[1:])]
        return statistics.median(gaps), f"median of {len(gaps)} intervals between counter changes"

    def _read(self) -> Reading:
        if self.update_period_s is not None:
            # Three periods: a late update (a busy driver) is waited for, a stuck counter is not.
            update = self._wait_for_update(max(3 * self.update_period_s, 0.05))
            if update is not None:
                seconds, mj, waited = update
                return Reading(seconds, (mj - self._mj0) / 1000.0, edge={"aligned": True, "waited_s": waited})
            mj = self.gpu.energy_mj()
            return Reading(self._clock(), (mj - self._mj0) / 1000.0,
                           edge={"aligned": False, "why": "no counter update within 3 periods"})
        mj = self.gpu.energy_mj()
        return Reading(self._clock(), (mj - self._mj0) / 1000.0)

    def _describe(self) -> dict[str, Any]:
        return {
            **super()._describe(),
            "counter": "nvmlDeviceGetTotalEnergyConsumption (mJ)",
            "counter_update_period_s": self.update_period_s,
            "counter_update_period_basis": self.period_note,
            "edges": ("each window edge waits for a counter update and is dated at it"
                      if self.update_period_s is not None else "read when asked (not aligned)"),
        }


class NvmlSampledMeter(_NvmlMeter):
    name = "nvml-power-sampling"

    def __init__(
        self, gpu: nvml.Gpu, *, period_s: float = DEFAULT_SAMPLING_PERIOD_S, clock: Callable[[], float] = time.monotonic
    ) -> None:
        super().__init__(gpu)
        self.period_s = period_s
        read_watts, self.reading = gpu.power_reader()
        self.instant = read_watts == gpu.power_instant_watts
        self.label = (
            f"measured: NVML {'instant power' if self.instant else 'power (1 s average on Ampere+)'} sampled "
            f"every {period_s * 1000:g} ms, trapezoid-integrated (GPU {gpu.cuda_index}, {gpu.name}; no energy counter)"
        )
        self._integrator = PowerIntegrator(read_watts, period_s, clock=clock, thread_name="joulebench-nvml-sampler")

    def _read(self) -> Reading:
        seconds, joules, samples = self._integrator.sample()
        return Reading(seconds, joules, {"samples": samples})

    def _describe(self) -> dict[str, Any]:
        return {
            **super()._describe(),
            "reading": self.reading,
            "sampling_period_s": self.period_s,
            "integration": "trapezoids",
        }

    def close(self) -> None:
        self._integrator.close()
        super().close()


def open_nvml_meter(cuda_index: int, *, sampling_period_s: float = DEFAULT_SAMPLING_PERIOD_S) -> _NvmlMeter:
    """The best NVML meter for ``cuda:N``: its energy counter, else sampled power; BenchError if neither."""
    gpu = nvml.open_gpu(cuda_index)
    try:
        if gpu.mig_mode() == "enabled":
            raise BenchError(
                f"GPU {cuda_index} ({gpu.name}) has MIG enabled: NVML's energy covers the whole GPU, "
                "not one slice"
            )
        try:
            gpu.energy_mj()
        except nvml.NvmlError as exc:
            if exc.code != nvml.NOT_SUPPORTED:
                raise
            return NvmlSampledMeter(gpu, period_s=sampling_period_s)
        return NvmlEnergyMeter(gpu)
    except BaseException:
        gpu.close()
        raise
