"""Power caps for ``bench run --power-limit W[,W...]``: each workload measured at each cap.

On an NVIDIA GPU the cap is NVML's power management limit (nvmlDeviceSetPowerManagementLimit,
what ``nvidia-smi -pl`` sets). Setting it needs root; that is checked before anything is
measured by setting the current limit again (a no-op), and refused in one line without it, as is
any device that is not an NVIDIA GPU and any cap outside the card's range.

Each cap is set, read back, and the whole run (idle baseline and workloads) is made under it:
one ordinary result file per cap, with a ``power_limit`` section saying what was set and read
back. The limit the card had before is restored afterwards, on a failure, on Ctrl-C and on
SIGTERM/SIGHUP (bench/termination.py turns those into an exception so ``finally`` runs).
A summary then gives hashes/J and tokens/J against watts, and per workload the cap that earns
the most per day (profit: revenue minus electricity) under the default market scenario.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from bench import nvml, termination
from bench.devices import Device
from bench.errors import BenchError

# NVML works in milliwatts; every figure outside this module is in watts.
MILLIWATTS_PER_WATT = 1000


def parse_caps(text: str) -> list[float]:
    """``"200,250.5"`` -> [200.0, 250.5]; BenchError for anything that is not positive watts."""
    caps = []
    for part in text.split(","):
        part = part.strip()
        try:
            watts = float(part)
        except ValueError:
            raise BenchError(f"--power-limit {text!r}: {part!r} is not a number of watts") from None
        if not math.isfinite(watts) or watts <= 0:
            raise BenchError(f"--power-limit {text!r}: {part!r} is not a positive number of watts")
        caps.append(watts)
    return list(dict.fromkeys(caps))  # a cap given twice is measured once


@dataclass(frozen=True)
class LimitRange:
    min_w: float
    max_w: float
    default_w: float | None


class PowerLimit:
    """One GPU's power management limit, opened for a sweep: read, set, restore.

    The NVML calls go through bench.nvml's translation of errors (``nvml._call``), so a failure
    is one line naming the call; bench.nvml has no setter of its own yet.
    """

    def __init__(self, gpu: nvml.Gpu) -> None:
        self._gpu = gpu
        self.original_w = self.read_w()  # what is restored, whatever happens
        min_mw, max_mw = nvml._call("nvmlDeviceGetPowerManagementLimitConstraints", gpu._handle)
        default_mw = nvml._optional("nvmlDeviceGetPowerManagementDefaultLimit", gpu._handle)
        self.range = LimitRange(min_mw / MILLIWATTS_PER_WATT, max_mw / MILLIWATTS_PER_WATT,
                                None if default_mw is None else default_mw / MILLIWATTS_PER_WATT)

    @classmethod
    def open(cls, device: Device) -> "PowerLimit":
        """The limit of ``device``; BenchError (one line) on a device that is not an NVIDIA GPU or
        without the privilege to set it."""
        if device.kind != "cuda":
            raise BenchError(
                f"--power-limit sets an NVIDIA GPU's power limit through NVML; {device.torch_device} "
                f"({device.name}) is not an NVIDIA GPU"
            )
        try:
            gpu = nvml.open_gpu(device.index or 0)
        except BenchError as exc:
            raise BenchError(f"--power-limit on {device.torch_device}: {exc}") from None
        try:
            limit = cls(gpu)
            limit._set_mw(round(limit.original_w * MILLIWATTS_PER_WATT))  # the privilege check: a no-op set
        except BaseException:
            gpu.close()
            raise
        return limit

    def read_w(self) -> float:
        return nvml._call("nvmlDeviceGetPowerManagementLimit", self._gpu._handle) / MILLIWATTS_PER_WATT

    def check(self, caps: list[float]) -> None:
        outside = [w for w in caps if not self.range.min_w <= w <= self.range.max_w]
        if outside:
            raise BenchError(
                f"--power-limit {', '.join(f'{w:g}' for w in outside)} W outside what {self._gpu.name} accepts: "
                f"{self.range.min_w:g}-{self.range.max_w:g} W"
            )

    def set_w(self, watts: float) -> float:
        """Set the cap and return what the GPU reads back (W)."""
        self._set_mw(round(watts * MILLIWATTS_PER_WATT))
        return self.read_w()

    def _set_mw(self, milliwatts: int) -> None:
        try:
            nvml._call("nvmlDeviceSetPowerManagementLimit", self._gpu._handle, milliwatts)
        except nvml.NvmlError as exc:
            if exc.code == nvml.NO_PERMISSION:
                raise BenchError(
                    f"--power-limit needs root to set {self._gpu.name}'s power limit (NVML: no permission); "
                    "run bench as root, or without --power-limit"
                ) from None
            raise

    def restore(self) -> float:
        """Set the original limit again; returns what the GPU reads back."""
        return self.set_w(self.original_w)

    def close(self) -> None:
        self._gpu.close()


@dataclass(frozen=True)
class CapRun:
    cap_w: float
    read_back_w: float
    exit_code: int
    result_path: Path | None


def sweep(
    device: Device,
    caps: list[float],
    run_once: Callable[[], int],
    results_dir: Path,
    *,
    echo: Callable[[str], None],
    open_limit: Callable[[Device], PowerLimit] = PowerLimit.open,
) -> tuple[int, list[CapRun]]:
    """Run ``run_once`` (a whole ``bench run``) at each cap; the original limit is restored after.

    ``results_dir`` is where run_once saves; the file it adds there is that cap's result. Stops at
    the first interrupted run (exit >= 128) and returns its code.
    """
    limit = open_limit(device)
    runs: list[CapRun] = []
    code = 0
    # SIGTERM/SIGHUP between (or during) the runs unwind through ``finally`` like Ctrl-C.
    previous = termination.install_handlers()
    try:
        limit.check(caps)
        for cap in caps:
            read_back = limit.set_w(cap)
            echo(f"power limit {cap:g} W set (reads back {read_back:g} W; was {limit.original_w:g} W)")
            before = set(_own_results(results_dir))
            rc = run_once()
            added = sorted(set(_own_results(results_dir)) - before)
            path = added[-1] if added else None
            if path is not None:
                _record_cap(path, cap, read_back, limit)
            runs.append(CapRun(cap, read_back, rc, path))
            code = max(code, rc)
            if rc >= 128:  # interrupted: the run saved what finished; no further caps
                break
    finally:
        termination.ignore_further()  # a second signal must not cut the restore short
        try:
            restored = limit.restore()
            echo(f"power limit restored to {restored:g} W")
        except BaseException as exc:  # noqa: BLE001 - say so loudly, with the command that fixes it
            echo(f"error: could not restore the power limit to {limit.original_w:g} W ({exc}); "
                 f"run: nvidia-smi -i {device.index or 0} -pl {limit.original_w:g}")
            code = code or 1
        finally:
            limit.close()
            termination.restore_handlers(previous)
    return code, runs


def _own_results(results_dir: Path) -> list[Path]:
    """Result files this process wrote in ``results_dir`` (storage.new_result_path puts the pid in)."""
    import os

    if not results_dir.is_dir():
        return []
    return [p for p in results_dir.glob("*.json") if f"_{os.getpid():x}" in p.name]


def _record_cap(path: Path, cap: float, read_back: float, limit: PowerLimit) -> None:
    """The cap goes into the result file: a top-level section the format keeps as is."""
    import json

    from bench import storage

    document = json.loads(path.read_text(encoding="utf-8"))
    document["power_limit"] = {
        "set_w": cap, "read_back_w": read_back, "original_w": limit.original_w,
        "range_w": [limit.range.min_w, limit.range.max_w], "default_w": limit.range.default_w,
        "how": "NVML nvmlDeviceSetPowerManagementLimit before the idle baseline; original restored after the sweep",
    }
    storage.write_atomic(path, document)


@dataclass(frozen=True)
class CapFigure:
    workload: str
    cap_w: float
    watts: float
    per_joule: float
    unit: str
    profit_usd_per_day: float
    revenue_usd_per_day: float
    energy_source: str


def cap_figures(runs: list[CapRun]) -> list[CapFigure]:
    """Per cap and workload: draw, work per joule and money per day under the default scenario."""
    from bench.economics.measured import rows_from_result
    from bench.market import load_scenario
    from bench.results import read_result

    scenario = load_scenario()
    figures = []
    for run in runs:
        if run.result_path is None:
            continue
        result = read_result(run.result_path)
        rows = {row.workload: row for row in rows_from_result(result, scenario)}
        for name, workload in result.ok_workloads().items():
            row = rows.get(name)
            if row is None or workload.figures is None:
                continue
            figures.append(CapFigure(
                name, run.cap_w, row.watts, workload.figures.per_joule, workload.figures.unit,
                row.profit_usd_per_day, row.revenue_usd_per_day, workload.figures.energy_source,
            ))
    return figures


def best_caps(figures: list[CapFigure]) -> dict[str, CapFigure]:
    """Per workload, the cap with the highest profit per day (revenue minus electricity)."""
    best: dict[str, CapFigure] = {}
    for figure in figures:
        if figure.workload not in best or figure.profit_usd_per_day > best[figure.workload].profit_usd_per_day:
            best[figure.workload] = figure
    return best


def summary_lines(figures: list[CapFigure]) -> list[str]:
    from bench.units import fmt, si

    lines = ["power caps: workload, cap W, draw W, work per joule, profit $/day (default scenario)"]
    for f in sorted(figures, key=lambda f: (f.workload, f.cap_w)):
        lines.append(f"  {f.workload:<6} {f.cap_w:>7g} W cap  {fmt(f.watts):>7} W  {si(f.per_joule)}{f.unit}/J  "
                     f"{fmt(f.profit_usd_per_day, money=True)}/day  ({f.energy_source})")
    for name, f in best_caps(figures).items():
        lines.append(f"best cap for {name}: {f.cap_w:g} W ({fmt(f.profit_usd_per_day, money=True)} profit/day)")
    return lines



def run_sweep(device: Device, text: str, results_dir: Path, run_once: Callable[[], int]) -> int:
    """``bench run --power-limit``: parse the caps, run at each, print the summary; the exit code."""
    import click

    caps = parse_caps(text)
    echo = lambda line: click.echo(line, err=True)  # noqa: E731 - tables and paths stay on stdout
    code, runs = sweep(device, caps, run_once, results_dir, echo=echo)
    for line in summary_lines(cap_figures(runs)):
        click.echo(line)
    return code
