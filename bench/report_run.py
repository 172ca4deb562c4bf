"""What `bench run` and `bench devices` show in the terminal (rich), apart from the measuring."""

from __future__ import annotations

import contextlib
from typing import Any, Iterator

from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from bench.result_model import Result
from bench.units import si


class _RunProgress:
    """A progress bar per workload, advanced by the runner's progress callback."""

    def __init__(self, console: Console, names: list[str]):
        self._progress = Progress(
            TextColumn("{task.fields[workload]:<6}"), BarColumn(), TextColumn("{task.description}"),
            TimeElapsedColumn(), console=console, transient=False,
        )
        self._tasks = {
            name: self._progress.add_task("waiting", total=None, workload=name) for name in names
        }

    def __call__(self, workload: str, phase: str, done: int, total: int) -> None:
        if phase == "building":  # the runner's notice that a build started: no windows to count yet
            self._progress.update(self._tasks[workload], total=None, completed=0, description="building")
            return
        self._progress.update(self._tasks[workload], total=total, completed=done, description=f"{phase} {done}/{total}")

    def stop(self) -> None:
        self._progress.stop()


@contextlib.contextmanager
def progress_bars(console: Console, names: list[str]) -> Iterator[_RunProgress]:
    bars = _RunProgress(console, names)
    with bars._progress:
        yield bars


def print_summary(console: Console, result: Result) -> None:
    """One row per phase: rate, power, work per joule, all medians with min-max; energy sources below."""
    title = (f"{result.device.name} - preset {result.protocol.preset}: "
             f"median [min-max] of {result.protocol.details.get('windows')} windows")
    table = Table(title=escape(title))
    for column in ("workload", "phase", "rate /s", "watts", "per joule", "above idle /J", "energy"):
        table.add_column(column, justify="left" if column in ("workload", "phase", "energy") else "right")
    sources: list[str] = []
    for workload in result.workloads:
        if not workload.ok:
            table.add_row(escape(workload.name), "-", "[red]failed[/]", "", "", "", escape(workload.error or ""))
            continue
        for phase in workload.phases:
            figures = phase.figures
            rates, watts = figures.spread["rate_per_s"], figures.spread["watts"]
            above = figures.above_idle.per_joule if figures.above_idle else None
            if figures.energy_source not in sources:
                sources.append(figures.energy_source)
            table.add_row(
                escape(workload.name),
                escape(phase.name),
                escape(f"{si(figures.rate_per_s)}{figures.unit} [{si(rates.min).strip()}-{si(rates.max).strip()}]"),
                f"{figures.draw_watts:.1f} [{watts.min:.1f}-{watts.max:.1f}]",
                escape(f"{si(figures.per_joule)}{figures.unit}"),
                si(above).strip() if above is not None else "-",
                escape(f"{figures.energy_kind} [{sources.index(figures.energy_source) + 1}]"),
            )
    console.print(table)
    for number, source in enumerate(sources, 1):
        console.print(escape(f"[{number}] {source}"))
    for workload in result.workloads:
        for phase in workload.phases:
            if phase.figures.throttled:
                console.print(escape(f"warning: {workload.name} {phase.name} ran throttled "
                                     f"({', '.join(phase.figures.throttled)}): its figures hold under that limit"))
    idle = result.idle
    if idle and idle.watts is not None:
        console.print(escape(f"idle baseline: {idle.watts:.1f} W over {idle.seconds:.1f} s "
                             f"({idle.details.get('energy_kind')})"))


def summary_text(result: Result, output_format: str) -> str:
    """The run's table as CSV or Markdown: one row per phase, full-precision numbers in CSV."""
    from bench.formats import as_text

    headers = ("workload", "phase", "unit", "rate_per_s", "watts", "per_joule", "above_idle_per_joule",
               "energy_kind", "energy_source")
    rows = []
    for workload in result.workloads:
        if not workload.ok:
            rows.append((workload.name, "-", "", None, None, None, None, "failed", workload.error or ""))
            continue
        for phase in workload.phases:
            f = phase.figures
            rows.append((workload.name, phase.name, f.unit, float(f.rate_per_s), float(f.draw_watts),
                         float(f.per_joule), f.above_idle.per_joule if f.above_idle else None,
                         str(f.energy_kind), f.energy_source))
    return as_text(output_format, headers, rows)


def print_economics(console: Console, result: Result) -> None:
    """The same money comparison `bench economics` gives, for this run under the default scenario."""
    from bench.compare import Loaded, merge_devices
    from bench.economics import render_table, rows_for_device, unpriced
    from bench.economics.verdict import verdict_lines
    from bench.market import load_scenario

    scenario = load_scenario()
    [device] = merge_devices([Loaded("this run", result)])
    rows = rows_for_device(device, scenario)
    for line in verdict_lines(rows, scenario):
        console.print(escape(line))
    if rows:
        console.print(render_table(rows, scenario))
    for line in unpriced(device, scenario):
        console.print(escape(line))
        console.print(escape(f"market inputs: scenario {scenario.name}; their dates and sources: "
                             f"bench economics --scenario {scenario.name}"))


def device_listing() -> dict[str, Any]:
    """Devices visible here and, for each, which meters can read it and why the others cannot."""
    from bench.devices import Device, cpu_name, cuda_device_count
    from bench.meters import survey

    found = [Device("cpu", None, cpu_name())]
    import torch

    for index in range(cuda_device_count()):
        found.append(Device("cuda", index, torch.cuda.get_device_name(index)))
    listing = []
    for device in found:
        listing.append(
            {
                "device": device.torch_device,
                "name": device.name,
                "meters": [status.to_dict() for status in survey(device)],
            }
        )
    notes = []
    if not torch.cuda.is_available():
        notes.append(
            f"torch {torch.__version__} sees no CUDA device"
            + (" (CPU build)" if torch.version.cuda is None else "")
        )
    return {"devices": listing, "notes": notes}


def print_devices(console: Console, listing: dict[str, Any]) -> None:
    table = Table(title="devices and energy meters")
    for column in ("device", "name", "meter", "usable", "why / how"):
        table.add_column(column)
    for device in listing["devices"]:
        for i, meter in enumerate(device["meters"]):
            table.add_row(
                escape(device["device"]) if i == 0 else "",
                escape(device["name"]) if i == 0 else "",
                escape(meter["meter"]),
                "[green]yes[/]" if meter["usable"] else "[red]no[/]",
                escape(meter.get("reason") or ""),
            )
    console.print(table)
    for note in listing["notes"]:
        console.print(escape(f"note: {note}"))
