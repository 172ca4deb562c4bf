"""The one measurement protocol every phase goes through, and the idle baseline.

For each phase a warm-up, timed apart, which also calibrates how many steps fill a window; then
``windows`` measurement windows of about ``window_s`` seconds each, with the device synchronized
before every timestamp and every meter reading. Medians and spread come from the windows.
"""

from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass
from typing import Any, Callable

from bench.devices import Device
from bench.errors import BenchError
from bench.meters.base import Meter, Measurement
from bench.stats import spread
from bench.workloads.base import Phase


@dataclass(frozen=True)
class Protocol:
    preset: str
    warmup_s: float  # per phase, at least two steps
    window_s: float  # target length of one measurement window
    windows: int  # measurement windows per phase
    idle_s: float  # idle baseline before the workloads

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


PRESETS = {
    "quick": Protocol("quick", warmup_s=0.5, window_s=1.0, windows=3, idle_s=1.0),
    "standard": Protocol("standard", warmup_s=5.0, window_s=10.0, windows=5, idle_s=10.0),
    # 10 x 60 s = 600 s of measurement per phase: the minimum run MLPerf Power sets.
    "long": Protocol("long", warmup_s=30.0, window_s=60.0, windows=10, idle_s=30.0),
}

# A window may come out shorter than asked when warm-up misjudged the step time; shorter than
# this fraction of the target (or than the meter's minimum) it is measured again with more steps.
_MIN_WINDOW_FRACTION = 0.5
_MAX_WINDOW_RETRIES = 4
# Windows aim this much above the meter's minimum, so step-time jitter does not leave a window
# just short of what the meter needs (aiming at exactly the minimum failed one run in seven).
_METER_MINIMUM_MARGIN = 1.25


def protocol_for(preset: str) -> Protocol:
    try:
        return PRESETS[preset]
    except KeyError:
        raise BenchError(f"unknown preset {preset!r}: expected one of {', '.join(PRESETS)}") from None

@dataclass
class Window:
    steps: int
    seconds: float
    work: int
    joules: float
    meter_seconds: float
    meter_details: dict[str, Any]  # what the meter saw: GPU state and throttling at both edges, estimate inputs

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "rate_per_s": self.work / self.seconds, "per_joule": self.work / self.joules}


def measure_phase(
    phase: Phase,
    device: Device,
    meter: Meter,
    protocol: Protocol,
    *,
    key: str,
    idle_watts: float | None = None,
    progress: Callable[[int, int], None] = lambda done, total: None,
    clock: Callable[[], float] = time.perf_counter,
    before: Callable[[str], None] = lambda stage: None,
) -> dict[str, Any]:
    """Warm up, calibrate and measure one phase; return its entry for the result document.

    ``before("warm-up")`` and ``before("windows")`` are called as each starts: under a launcher,
    barriers, so every rank's phase (and a node meter's windows) run together."""
    before("warm-up")
    warmup_seconds, warmup_steps, step_s = _warm_up(phase, device, protocol.warmup_s, clock)
    window_s = max(protocol.window_s, meter.min_window_s)
    target_s = max(protocol.window_s, meter.min_window_s * _METER_MINIMUM_MARGIN)  # what calibration aims at
    steps = max(1, math.ceil(target_s / step_s))
    windows: list[Window] = []
    before("windows")
    progress(0, protocol.windows)
    while len(windows) < protocol.windows:
        for _attempt in range(_MAX_WINDOW_RETRIES + 1):
            window = _measure_window(phase, device, meter, steps, f"{key}/{len(windows)}", clock)
            per_step_s = window.seconds / steps
            long_enough = window.seconds >= max(_MIN_WINDOW_FRACTION * window_s, meter.min_window_s)
            steps = max(1, math.ceil(target_s / max(per_step_s, 1e-12)))  # recalibrate on what was just seen
            if long_enough:
                break
        else:
            raise BenchError(
                f"phase {phase.name!r}: could not fill a {window_s:.1f} s window (last one {window.seconds:.3f} s)"
            )
        if window.joules <= 0:
            raise BenchError(
                f"phase {phase.name!r}: meter {meter.name} read {window.joules} J over {window.seconds:.3f} s; "
                "a window must be many meter update periods long"
            )
        windows.append(window)
        progress(len(windows), protocol.windows)
    return phase_entry(phase, windows, meter, warmup_seconds, warmup_steps, idle_watts)


def _warm_up(phase: Phase, device: Device, warmup_s: float, clock: Callable[[], float]) -> tuple[float, int, float]:
    """Run steps until ``warmup_s`` has passed (two steps at least); return time, steps and seconds per step."""
    device.synchronize()
    start = clock()
    step_times: list[float] = []
    while True:
        t0 = clock()
        phase.step()
        device.synchronize()
        step_times.append(clock() - t0)
        if len(step_times) >= 2 and clock() - start >= warmup_s:
            break
    # The first step may include lazy initialisation; calibrate on the later ones.
    later = sorted(step_times[1:])
    step_s = max(later[len(later) // 2], 1e-9)
    return clock() - start, len(step_times), step_s


def _measure_window(
    phase: Phase, device: Device, meter: Meter, steps: int, key: str, clock: Callable[[], float]
) -> Window:
    device.synchronize()
    meter.begin(key)
    t0 = clock()
    work = 0
    for _ in range(steps):
        work += phase.step()
    device.synchronize()
    seconds = clock() - t0
    measurement = meter.end(key)
    return Window(
        steps=steps, seconds=seconds, work=work, joules=measurement.joules, meter_seconds=measurement.seconds,
        meter_details=measurement.details,
    )


def phase_entry(
    phase: Phase,
    windows: list[Window],
    meter: Meter,
    warmup_seconds: float,
    warmup_steps: int,
    idle_watts: float | None,
) -> dict[str, Any]:
    rates = spread([w.work / w.seconds for w in windows])
    per_joule = spread([w.work / w.joules for w in windows])
    watts = spread([w.joules / w.meter_seconds for w in windows])
    total_work = sum(w.work for w in windows)
    total_seconds = sum(w.seconds for w in windows)
    total_joules = sum(w.joules for w in windows)
    entry: dict[str, Any] = {
        "name": phase.name,
        "unit": phase.unit,
        "rate_per_s": rates.median,
        "per_joule": per_joule.median,
        "watts": watts.median,
        "joules": total_joules,
        "seconds": total_seconds,
        "work": total_work,
        "energy_source": _energy_label(meter),
        "energy_kind": meter.kind,
        "spread": {"rate_per_s": rates.to_dict(), "per_joule": per_joule.to_dict(), "watts": watts.to_dict()},
        "warmup": {"seconds": warmup_seconds, "steps": warmup_steps},
        # Throttle reasons any window's meter saw (NVML: power cap, thermal...): figures of a
        # throttled device are what it does under that limit, which a reader must know.
        "throttled": sorted({r for w in windows for r in w.meter_details.get("throttled", [])}),
        "windows": [w.to_dict() for w in windows],
    }
    if idle_watts is not None:
        above_idle_joules = [w.joules - idle_watts * w.meter_seconds for w in windows]
        entry["above_idle"] = {
            "idle_watts": idle_watts,
            "joules": sum(above_idle_joules),
            "watts": sum(above_idle_joules) / total_seconds,
            # Median over windows like the gross figure; none when the load draws no more than
            # idle in some window (an estimate's floor, a noisy meter).
            "per_joule": (
                spread([w.work / j for w, j in zip(windows, above_idle_joules)]).median
                if all(j > 0 for j in above_idle_joules) else None
            ),
        }
    if phase.derived is not None:
        entry["derived"] = phase.derived(rates.median)
    _require_finite(phase.name, entry)
    return entry


def _require_finite(phase_name: str, value: Any, where: str = "") -> None:
    """Every figure a phase reports is a finite number (None only where the format allows it)."""
    if isinstance(value, float) and not math.isfinite(value):
        raise BenchError(
            f"phase {phase_name!r}: {where or 'a figure'} came out {value} (meter readings too small or too large "
            "for the arithmetic); nothing of this phase is reported"
        )
    if isinstance(value, dict):
        for key, item in value.items():
            _require_finite(phase_name, item, f"{where}.{key}" if where else str(key))
    elif isinstance(value, (list, tuple)):
        for i, item in enumerate(value):
            _require_finite(phase_name, item, f"{where}[{i}]")


def _energy_label(meter: Meter) -> str:
    description = meter.describe()
    label = description.get("label") if isinstance(description, dict) else None
    return label or f"{meter.kind}: {meter.name}"


def measure_idle(meter: Meter, device: Device, seconds: float, sleep: Callable[[float], None] = time.sleep) -> dict:
    """Energy drawn with nothing running: the baseline for figures 'above idle'."""
    seconds = max(seconds, meter.min_window_s)
    device.synchronize()
    meter.begin("idle")
    sleep(seconds)
    measurement: Measurement = meter.end("idle")
    return {
        "seconds": measurement.seconds,
        "joules": measurement.joules,
        "watts": measurement.watts,
        "energy_source": _energy_label(meter),
        "energy_kind": meter.kind,
        "details": measurement.details,
    }
