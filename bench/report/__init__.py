"""The procurement report: one self-contained HTML file plus the same plots as PNG files.

Self-contained means no network and no other file: plots are PNGs embedded as base64 data
URIs, styles are inline, there is no script, and a Content-Security-Policy forbids fetching
anything but those data URIs, so a browser opening it offline shows everything.

Plots are drawn with matplotlib's object API (``Figure`` + Agg canvas), never pyplot, so no
global state or display is involved. Every plot says next to it, per device and workload,
whether its energy was measured (and by what) or estimated (and from what): each distinct source
is written once on the page, numbered, and the plots and tables refer to it by number.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Mapping, Sequence

from bench.compare import Comparison, DeviceRuns
from bench.energy import EnergyKind
from bench.errors import BenchError

WORKLOAD_TITLES = {
    "mine": "Mining (SHA-256d)",
    "infer": "Inference (decode)",
    "train": "Training",
}


@dataclass(frozen=True)
class MarketInput:
    """One named market figure the economics used, with where and when it came from."""

    name: str
    value: str  # as shown, unit included
    date: str
    source: str


@dataclass(frozen=True)
class RevenueCurve:
    """Revenue and profit per kWh of one device against BTC price: mining rises with price, AI is flat."""

    device: str
    btc_usd: Sequence[float]
    mining_usd_per_kwh: Sequence[float]
    ai_usd_per_kwh: float | None  # None: no AI figure for this device
    crossover_btc_usd: float | None  # where mining starts paying more per kWh than AI (may be off the chart)
    energy_kind: EnergyKind  # of the mining figure
    mining_profit_usd_per_kwh: Sequence[float]  # at each of btc_usd: revenue less power and hosting
    ai_profit_usd_per_kwh: float | None
    zero_profit_btc_usd: float | None  # where mining's profit per kWh is zero (may be off the chart)


@dataclass(frozen=True)
class HorizonSeries:
    """One device over ``--months``: cumulative profit month by month mining, doing AI work, and
    switching each month to whichever earns more (bench.economics.horizon)."""

    device: str
    mining: Any = None  # bench.economics.horizon.Horizon, None without a mining figure
    ai: Any = None
    ai_work: str = ""  # "infer" or "train": which AI work the ai and switch horizons price
    switch: Any = None  # None unless the device has both
    mining_kind: str = ""  # energy kind behind each horizon, so an estimate is drawn as one
    ai_kind: str = ""


def horizon_series(devices: Sequence[DeviceRuns], rows: Mapping[str, Sequence[Any]], scenario: Any,
                   months: int) -> list[HorizonSeries]:
    """Each device's horizons from its economics rows (``rows``: device slug -> EconomicsRows), the
    same rows the table and the verdict use; AI work is inference where measured, else training."""
    from bench.economics.horizon import project, switch

    out = []
    for device in devices:
        by_workload = {r.workload: r for r in rows.get(device.slug, ())}
        mining = by_workload.get("mine")
        ai = by_workload.get("infer") or by_workload.get("train")
        if mining is None and ai is None:
            continue
        mined = project(mining, scenario, months) if mining is not None else None
        worked = project(ai, scenario, months) if ai is not None else None
        out.append(HorizonSeries(
            device.label, mined, worked, ai.workload if ai is not None else "",
            switch(mined, worked, scenario) if mined is not None and worked is not None else None,
            mining.source if mining is not None else "", ai.source if ai is not None else "",
        ))
    return out


@dataclass(frozen=True)
class ReportInputs:
    comparison: Comparison
    devices: Sequence[DeviceRuns]
    market: Sequence[MarketInput] = ()
    curves: Sequence[RevenueCurve] = ()
    electricity_usd_per_kwh: float | None = None  # the power cost per kWh drawn (price x PUE)
    btc_usd_now: float | None = None  # the scenario's BTC price, marked on the revenue plot
    scenario: str = ""
    verdict: Sequence[str] = ()  # one line per device: which work earns more per kWh, where it flips
    horizons: Sequence[HorizonSeries] = ()  # with --months: cumulative profit by month
    months: int | None = None
    title: str = "joulebench: mining against AI work, per joule"
    generated_utc: str = field(default_factory=lambda: datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"))
    tool_version: str = ""


@dataclass(frozen=True)
class Plot:
    key: str  # file-name part, e.g. "scatter"
    title: str
    png: bytes | None  # None when there is nothing to draw
    caption: str  # what is drawn, and the energy source of each point or bar
    missing: str = ""  # why nothing (or not everything) is drawn



def build_plots(inputs: ReportInputs) -> list[Plot]:
    from bench.report.plots import (
        datasheet_bars, plot_cumulative_profit, plot_efficiency_scatter, plot_revenue_vs_btc, plot_workload_bars,
    )

    plots = [
        plot_efficiency_scatter(inputs.devices),
        plot_revenue_vs_btc(inputs.curves, inputs.electricity_usd_per_kwh, inputs.btc_usd_now),
        plot_workload_bars(inputs.devices, datasheet_bars(inputs.comparison)),
    ]
    if inputs.months is not None:  # only asked for with --months: no horizon otherwise
        plots.append(plot_cumulative_profit(inputs.horizons, inputs.months))
    return plots


def write_report(out_html: Path, inputs: ReportInputs) -> list[Path]:
    """Write the HTML report and one PNG per drawn plot beside it (``<stem>-<plot>.png``)."""
    from bench.report.page import render_html

    if out_html.suffix.lower() not in (".html", ".htm"):
        raise BenchError(f"report path {out_html} should end in .html")
    plots = build_plots(inputs)
    try:
        out_html.parent.mkdir(parents=True, exist_ok=True)
        written = []
        for plot in plots:
            if plot.png is not None:
                path = out_html.with_name(f"{out_html.stem}-{plot.key}.png")
                path.write_bytes(plot.png)
                written.append(path)
        out_html.write_text(render_html(inputs, plots), encoding="utf-8")
    except OSError as exc:
        raise BenchError(f"cannot write report {out_html}: {exc.strerror or exc}") from None
    return [out_html, *written]


def __getattr__(name: str):
    # The plot functions live in plots.py (matplotlib is imported only when a report is drawn).
    import importlib

    plots = importlib.import_module("bench.report.plots")
    try:
        return getattr(plots, name)
    except AttributeError:
        raise AttributeError(f"module 'bench.report' has no attribute {name!r}") from None
