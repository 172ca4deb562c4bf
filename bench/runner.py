"""A run: the idle baseline, then each workload built (timed apart), its phases measured under
the protocol of bench/protocol.py, and self-checked. The result document is written after every
workload, so a later failure or Ctrl-C loses nothing already measured.
"""

from __future__ import annotations

import hashlib
import signal
import time
import traceback
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable

from bench import results, storage, termination
from bench.devices import Device
from bench.errors import BenchError
from bench.launcher import ALONE, Sync
from bench.protocol import PRESETS, Protocol, measure_idle, measure_phase, protocol_for
from bench.meters.base import Meter
from bench.workloads.base import Workload, release

# The protocol's names are re-exported: callers of a run choose its preset here.
__all__ = [
    "HEADLINE_FIELDS", "PRESETS", "Protocol", "RunInterrupted", "SaveFailed", "failed_entry", "measure_idle",
    "measure_phase", "measure_workload", "new_document", "one_line", "protocol_for", "run", "source_sha256",
    "utc_timestamp",
]

Progress = Callable[[str, str, int, int], None]  # workload, phase, windows done, windows total
# (phase "building", 0, 0 as a workload starts building)


def _no_progress(workload: str, phase: str, done: int, total: int) -> None:
    pass


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


def measure_workload(
    workload: Workload,
    device: Device,
    meter: Meter,
    protocol: Protocol,
    *,
    idle_watts: float | None = None,
    progress: Progress = _no_progress,
    clock: Callable[[], float] = time.perf_counter,
    barrier: Callable[[str], None] = lambda label: None,
) -> dict[str, Any]:
    """Build, measure every phase and self-check one workload; return its result entry."""
    config = workload.config()
    source = source_sha256(workload.source_files())
    meter.begin(workload.name)  # the outer window: build, warm-up and all, phases nest inside it
    try:
        progress(workload.name, "building", 0, 0)  # a build can take many seconds: the progress line says so
        t0 = clock()
        build = workload.build()
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
                    before=lambda stage, key=f"{workload.name}/{phase.name}": barrier(f"{key} {stage}"),
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
    sync: Sync | None = None,
) -> dict[str, Any]:
    """Measure the idle baseline then each workload, saving the document after every workload.

    ``sync`` (bench/launcher.py Fleet, under torchrun or srun): barriers before the idle baseline
    and each phase, and ``end`` after each workload, finished or failed, so ranks stay in step.

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
                    progress=progress, clock=clock, sleep=sleep, sync=sync or ALONE)
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
    sync: Sync,
) -> dict[str, Any]:
    current = "idle baseline"
    try:
        sync.barrier("idle baseline")  # a node meter's idle is of the whole node idle
        document["idle"] = measure_idle(meter, device, protocol.idle_s, sleep)
        idle_watts = document["idle"]["watts"]
        for workload in workloads:
            current = workload.name
            try:
                entry = measure_workload(
                    workload, device, meter, protocol, idle_watts=idle_watts, progress=progress, clock=clock,
                    barrier=sync.barrier,
                )
            except KeyboardInterrupt:
                raise
            except Exception as exc:  # recorded in the file; the run goes on with the next workload
                entry = failed_entry(workload, exc)
            sync.end(f"end {workload.name}")
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
