"""NVIDIA GPU energy through NVML: the total-energy counter, or sampled power where there is none.

The counter (Volta and newer, in mJ) is read at each window edge. It advances in steps, so a
window must span many update periods: ``min_window_s`` is 1 s, and a window that reads 0 J is
refused. Older GPUs have only a power reading (mW), sampled by a thread and integrated by
trapezoids. Both record power limit, clocks, temperature and throttle reasons at each window edge
and flag windows in which the GPU was throttled. MIG slices are refused: NVML's energy and power
cover the whole GPU.
"""

from __future__ import annotations

import time
from typing import Any, Callable

from bench import nvml
from bench.errors import BenchError
from bench.meters.base import MEASURED
from bench.meters.sampler import PowerIntegrator
from bench.meters.window import Reading, RunningTotalMeter

DEFAULT_SAMPLING_PERIOD_S = 0.05


class _NvmlMeter(RunningTotalMeter):
    kind = MEASURED
    min_window_s = 1.0

    def __init__(self, gpu: nvml.Gpu) -> None:
        super().__init__()
        self.gpu = gpu
        self.snapshot = gpu.snapshot()

    def _state(self) -> dict[str, Any]:
        return self.gpu.state()

    def _window_details(
        self, start: Reading, end: Reading, seconds: float, start_state: dict[str, Any], end_state: dict[str, Any]
    ) -> dict[str, Any]:
        reasons = set(start_state["throttle_reasons"] or []) | set(end_state["throttle_reasons"] or [])
        # Seen at either edge only: NVML keeps no history of what happened in between.
        return {"throttled": sorted(reasons & nvml.THROTTLING_REASONS)}

    def _describe(self) -> dict[str, Any]:
        return {"gpu": self.snapshot, "covers": "the whole GPU board, as NVML reports it"}

    def close(self) -> None:
        self.gpu.close()


class NvmlEnergyMeter(_NvmlMeter):
    name = "nvml-energy"

    def __init__(self, gpu: nvml.Gpu, *, clock: Callable[[], float] = time.monotonic) -> None:
        super().__init__(gpu)
        self._clock = clock
        self._mj0 = gpu.energy_mj()
        self.label = f"measured: NVML total-energy counter (GPU {gpu.cuda_index}, {gpu.name})"

    def _read(self) -> Reading:
        mj = self.gpu.energy_mj()
        return Reading(self._clock(), (mj - self._mj0) / 1000.0)

    def _describe(self) -> dict[str, Any]:
        return {**super()._describe(), "counter": "nvmlDeviceGetTotalEnergyConsumption (mJ)"}


class NvmlSampledMeter(_NvmlMeter):
    name = "nvml-power-sampling"

    def __init__(
        self, gpu: nvml.Gpu, *, period_s: float = DEFAULT_SAMPLING_PERIOD_S, clock: Callable[[], float] = time.monotonic
    ) -> None:
        super().__init__(gpu)
        self.period_s = period_s
        self.label = (
            f"measured: NVML power sampled every {period_s * 1000:g} ms, trapezoid-integrated "
            f"(GPU {gpu.cuda_index}, {gpu.name}; no energy counter)"
        )
        self._integrator = PowerIntegrator(gpu.power_watts, period_s, clock=clock, thread_name="joulebench-nvml-sampler")

    def _read(self) -> Reading:
        seconds, joules, samples = self._integrator.sample()
        return Reading(seconds, joules, {"samples": samples})

    def _describe(self) -> dict[str, Any]:
        return {
            **super()._describe(),
            "reading": "nvmlDeviceGetPowerUsage (mW)",
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
