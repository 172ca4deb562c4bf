"""The one measurement protocol every workload goes through.

For each workload: build (compile, allocate) timed apart; then for each of its phases a warm-up,
timed apart, which also calibrates how many steps fill a window; then ``windows`` measurement
windows of about ``window_s`` seconds each, with the device synchronized before every timestamp
and every meter reading. Medians and spread come from the windows. The result document is
written after every workload, so a later failure or Ctrl-C loses nothing already measured.
"""

from __future__ import annotations

import hashlib
import math
import signal
import time
import traceback
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable

from bench import results, storage, termination
from bench.devices import Device
from bench.errors import BenchError
from bench.meters.base import Meter, Measurement
from bench.stats import spread
from bench.workloads.base import Phase, Workload, release


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


Progress = Callable[[str, str, int, int], None]  # workload, phase, windows done, windows total


def _no_progress(workload: str, phase: str, done: int, total: int) -> None:
    pass


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
) -> dict[str, Any]:
    """Warm up, calibrate and measure one phase; return its entry for the result document."""
    warmup_seconds, warmup_steps, step_s = _warm_up(phase, device, protocol.warmup_s, clock)
    window_s = max(protocol.window_s, meter.min_window_s)
    target_s = max(protocol.window_s, meter.min_window_s * _METER_MINIMUM_MARGIN)  # what calibration aims at
    steps = max(1, math.ceil(target_s / step_s))
    windows: list[Window] = []
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
    return _phase_entry(phase, windows, meter, warmup_seconds, warmup_steps, idle_watts)


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


def _phase_entry(
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


def source_sha256(files: list[Path]) -> str:
    """Hash of the files that define a workload, so results of changed code are never compared."""
    digest = hashlib.sha256()
    for path in sorted(Path(f) for f in files):
        digest.update(path.name.encode())
        digest.update(b"\0")
        digest.update(path.read_bytes())
        digest.update(b"\0")
    return digest.hexdigest()


# Figures a workload entry copies from its headline phase, so readers need not know the phases.
HEADLINE_FIELDS = (
    "unit", "rate_per_s", "per_joule", "watts", "joules", "seconds", "work",
    "energy_source", "energy_kind", "spread", "above_idle",
)


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


def measure_workload(
    workload: Workload,
    device: Device,
    meter: Meter,
    protocol: Protocol,
    *,
    idle_watts: float | None = None,
    progress: Progress = _no_progress,
    clock: Callable[[], float] = time.perf_counter,
) -> dict[str, Any]:
    """Build, measure every phase and self-check one workload; return its result entry."""
    config = workload.config()
    source = source_sha256(workload.source_files())
    meter.begin(workload.name)  # the outer window: build, warm-up and all, phases nest inside it
    try:
        t0 = clock()
        build = workload.build(device)
        device.synchronize()
        build_seconds = clock() - t0
        phases = []
        for phase in build.phases:
            phases.append(
                measure_phase(
                    phase, device, meter, protocol,
                    key=f"{workload.name}/{phase.name}",
                    idle_watts=idle_watts,
                    progress=lambda done, total, name=phase.name: progress(workload.name, name, done, total),
                    clock=clock,
                )
            )
        check = workload.check()
        device.synchronize()
    finally:
        total = meter.end(workload.name)
    headline_name = next((p.name for p in build.phases if p.headline), build.phases[-1].name)
    headline = next(p for p in phases if p["name"] == headline_name)
    entry: dict[str, Any] = {"name": workload.name, "status": "ok", "headline_phase": headline_name}
    entry.update({k: headline[k] for k in HEADLINE_FIELDS if k in headline})
    entry.update(
        source_sha256=source,
        config=config,
        build={"seconds": build_seconds, **build.details},
        total={"seconds": total.seconds, "joules": total.joules, "note": "build, warm-up, windows and check"},
        check=check,
        phases=phases,
    )
    return entry


def failed_entry(workload: Workload, exc: BaseException) -> dict[str, Any]:
    return {
        "name": workload.name,
        "status": "failed",
        "error": one_line(exc),
        "traceback": traceback.format_exception(type(exc), exc, exc.__traceback__)[-3:],
    }


def one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text if isinstance(exc, BenchError) else f"{type(exc).__name__}: {text}"


def utc_timestamp(now: datetime | None = None) -> str:
    return (now or datetime.now(timezone.utc)).strftime("%Y%m%dT%H%M%SZ")


def new_document(*, tool: dict, machine: dict, device: dict, protocol: Protocol, meter: dict) -> dict[str, Any]:
    return {
        "format": results.FORMAT_NAME,
        "schema_version": results.SCHEMA_VERSION,
        "created_utc": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "status": "partial",
        "partial_reason": "running",
        "tool": tool,
        "machine": machine,
        "device": device,
        "protocol": protocol.to_dict(),
        "meter": meter,
        "idle": None,
        "workloads": [],
    }


class RunInterrupted(Exception):
    """Ctrl-C, SIGTERM or SIGHUP during a run; ``path`` is where the finished workloads were saved
    (None if none), ``signum`` the signal (SIGINT for Ctrl-C)."""

    def __init__(self, path: Path | None, document: dict[str, Any], signum: int = signal.SIGINT):
        super().__init__("interrupted")
        self.path = path
        self.document = document
        self.signum = int(signum)

    @property
    def exit_code(self) -> int:
        return 128 + self.signum


class SaveFailed(BenchError):
    """The result file could not be written; the message says where the document went instead."""


def run(
    document: dict[str, Any],
    workloads: list[Workload],
    device: Device,
    meter: Meter,
    protocol: Protocol,
    path: Path,
    *,
    progress: Progress = _no_progress,
    clock: Callable[[], float] = time.perf_counter,
    sleep: Callable[[float], None] = time.sleep,
) -> dict[str, Any]:
    """Measure the idle baseline then each workload, saving the document after every workload.

    A workload that fails is recorded as failed and the run goes on; Ctrl-C saves what finished
    (status ``partial``) and raises RunInterrupted.
    """
    saved = False

    def save() -> None:
        nonlocal saved, path
        clean = storage.clean_floats(document)
        try:
            storage.write_atomic(path, clean, exclusive=not saved)
        except OSError as exc:
            failed_path = path
            why = exc.strerror or str(exc)
            rescue = storage.rescue_path(path)
            try:
                storage.write_atomic(rescue, clean, exclusive=True)
            except OSError as rescue_exc:
                raise SaveFailed(
                    f"cannot save results to {failed_path}: {why}; nor to {rescue}: "
                    f"{rescue_exc.strerror or rescue_exc}"
                ) from None
            path = rescue
            saved = True
            raise SaveFailed(
                f"cannot save results to {failed_path}: {why}; the finished workloads were saved to {rescue} instead"
            ) from None
        saved = True

    previous_handlers = termination.install_handlers()
    try:
        return _run(document, workloads, device, meter, protocol, save, lambda: path if saved else None,
                    progress=progress, clock=clock, sleep=sleep)
    finally:
        termination.restore_handlers(previous_handlers)


def _run(
    document: dict[str, Any],
    workloads: list[Workload],
    device: Device,
    meter: Meter,
    protocol: Protocol,
    save: Callable[[], None],
    saved_path: Callable[[], Path | None],
    *,
    progress: Progress,
    clock: Callable[[], float],
    sleep: Callable[[float], None],
) -> dict[str, Any]:
    current = "idle baseline"
    try:
        document["idle"] = measure_idle(meter, device, protocol.idle_s, sleep)
        idle_watts = document["idle"]["watts"]
        for workload in workloads:
            current = workload.name
            try:
                entry = measure_workload(
                    workload, device, meter, protocol, idle_watts=idle_watts, progress=progress, clock=clock
                )
            except KeyboardInterrupt:
                raise
            except Exception as exc:  # recorded in the file; the run goes on with the next workload
                entry = failed_entry(workload, exc)
            # Free it before the next one builds, and record what stays in use (build details).
            released = release(workload, device)
            if entry["status"] == "ok":
                entry["build"]["memory_after_teardown"] = released
            document["workloads"].append(entry)
            save()
    except KeyboardInterrupt as interrupt:
        signum = getattr(interrupt, "signum", signal.SIGINT)
        by = f" by {signal.Signals(signum).name}" if signum != signal.SIGINT else ""
        document["partial_reason"] = f"interrupted{by} during {current}"
        termination.ignore_further()  # a second signal must not cut the save short
        if document["workloads"]:
            save()
        raise RunInterrupted(saved_path(), document, signum) from None
    failed = [w["name"] for w in document["workloads"] if w["status"] != "ok"]
    document["status"] = "partial" if failed else "complete"
    document["partial_reason"] = f"failed: {', '.join(failed)}" if failed else None
    save()
    return document
