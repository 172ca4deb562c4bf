"""The report's plots, drawn with matplotlib's object API (``Figure`` + Agg canvas), never pyplot,
so no global state or display is involved. Every plot draws an estimate unlike a measurement
(hollow, hatched or dashed), and the page lists each figure's energy source beside it.

Tick labels are written by the formatters at the end (``usd_label``, ``si_label``), never in
e-notation: a reader should see $50k and 50 G, not 5e+04 and 5e+10."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Sequence

from bench.compare import Comparison, DeviceRuns
from bench.energy import EnergyKind
from bench.report import WORKLOAD_TITLES, HorizonSeries, Plot, RevenueCurve
from bench.units import si
from bench.report.axes import (
    _colors, _formatter, _joules_per_terahash_axis, _log_if_wide, _marker_face, _new_figure, _plain_text, _png,
    _si_ticks, _symlog_if_wide, si_label, usd_label,
)


@_plain_text
def plot_efficiency_scatter(devices: Sequence[DeviceRuns]) -> Plot:
    """Hashes/J against decode tokens/J, one point per device, whiskers over all windows; only for
    two devices or more (one point compares nothing; the bars show a single device)."""
    title = "Hashes per joule against tokens per joule"
    drawn = [d for d in devices if "mine" in d.figures and "infer" in d.figures]
    left_out = [d.label for d in devices if d not in drawn]
    missing = f"not drawn (no mining or no decode figure): {', '.join(left_out)}" if left_out else ""
    if len(drawn) < 2:
        why = ("only one device has both a mining and a decode figure: a single point compares nothing, "
               "so its figures are in the bars below" if drawn else "no device has both a mining and a decode figure")
        return Plot("scatter", title, None, "", "; ".join(m for m in (why, missing) if m))
    figure = _new_figure()
    ax = figure.add_subplot()
    colors = _colors(len(drawn))
    for device, color in zip(drawn, colors):
        mine, infer = device.figures["mine"], device.figures["infer"]
        both_measured = mine.energy_kind == infer.energy_kind == EnergyKind.MEASURED
        kind = EnergyKind.MEASURED if both_measured else EnergyKind.ESTIMATED
        x, y = mine.per_joule, infer.per_joule
        xs, ys = mine.per_joule_spread, infer.per_joule_spread
        ax.errorbar(
            [x], [y], xerr=[[x - xs.min], [xs.max - x]], yerr=[[y - ys.min], [ys.max - y]],
            fmt="o", markersize=9, color=color, markerfacecolor=_marker_face(kind, color), capsize=3,
            label=f"{device.label} ({kind})",
        )
        ax.annotate(device.label, (x, y), textcoords="offset points", xytext=(8, 6), fontsize=8)
    for axis, values in (("x", [d.figures["mine"].per_joule for d in drawn]),
                         ("y", [d.figures["infer"].per_joule for d in drawn])):
        if not _log_if_wide(ax, axis, values):
            _si_ticks(ax.xaxis if axis == "x" else ax.yaxis)
    ax.set_xlabel("mining: hashes per joule (higher is better)")
    ax.set_ylabel("inference: decode tokens per joule (higher is better)")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8, loc="best")
    caption = (
        "Each point is one device: median over all measurement windows of all its files; whiskers span "
        "the lowest to the highest window. Filled: both figures measured; hollow: at least one estimated."
    )
    return Plot("scatter", title, _png(figure), caption, missing)


@_plain_text
def plot_revenue_vs_btc(
    curves: Sequence[RevenueCurve], power_cost_usd_per_kwh: float | None, btc_usd_now: float | None = None,
) -> Plot:
    """Two panels over one dollar axis of BTC price: revenue per kWh (with the power cost line) and
    profit per kWh (with zero), each device's flip price and mining break-even price marked."""
    title = "Revenue and profit per kWh against BTC price"
    if not curves:
        return Plot("revenue", title, None, "", "no device has a mining figure to price")
    figure = _new_figure(width=9.5, height=8.0)
    revenue_ax, profit_ax = figure.subplots(2, 1, sharex=True)
    low, high = min(min(c.btc_usd) for c in curves), max(max(c.btc_usd) for c in curves)
    off_chart = []
    beyond: list[tuple[str, Any]] = []  # flips past either end of the axis, listed at the right edge
    for curve, color in zip(curves, _colors(len(curves))):
        datasheet = curve.energy_kind == EnergyKind.DATASHEET
        # Solid: measured; dashed: estimated; thin dash-dot: datasheet, so no estimate reads as measured.
        style = "-" if curve.energy_kind == EnergyKind.MEASURED else "-." if datasheet else "--"
        width = 0.9 if datasheet else 1.8
        revenue_ax.plot(curve.btc_usd, curve.mining_usd_per_kwh, style, color=color, linewidth=width,
                        label=f"{curve.device}: mining ({curve.energy_kind})")
        profit_ax.plot(curve.btc_usd, curve.mining_profit_usd_per_kwh, style, color=color, linewidth=width)
        if curve.ai_usd_per_kwh is not None:
            revenue_ax.axhline(curve.ai_usd_per_kwh, color=color, linestyle=":", linewidth=1.5,
                               label=f"{curve.device}: AI inference")
        if curve.ai_profit_usd_per_kwh is not None:
            profit_ax.axhline(curve.ai_profit_usd_per_kwh, color=color, linestyle=":", linewidth=1.5)
        crossing = curve.crossover_btc_usd
        if crossing is not None and curve.ai_usd_per_kwh is not None:
            if low <= crossing <= high:
                for ax in (revenue_ax, profit_ax):
                    ax.axvline(crossing, color=color, linestyle=(0, (1, 3)), linewidth=1.2)
                revenue_ax.plot([crossing], [curve.ai_usd_per_kwh], marker="X", markersize=11,
                                color=color, markeredgecolor="black", linestyle="none")
                revenue_ax.annotate(f"{curve.device} flip {usd_label(crossing)}", (crossing, 1.0),
                                    xycoords=("data", "axes fraction"), xytext=(3, -4), textcoords="offset points",
                                    rotation=90, va="top", ha="left", fontsize=7, color=color)
            else:
                off_chart.append(f"{curve.device}: mining pays more than AI only above BTC {usd_label(crossing)}"
                                 " (beyond the plotted prices)")
                beyond.append((f"{curve.device} flip {usd_label(crossing)} " + (">" if crossing > high else "<"),
                               color))
        zero = curve.zero_profit_btc_usd
        if zero is not None and low <= zero <= high:
            profit_ax.plot([zero], [0.0], marker="o", markersize=6 if datasheet else 8, color=color,
                           markeredgecolor="black", linestyle="none")
            if not datasheet:  # datasheet break-evens are read off the axis; naming all would crowd it
                profit_ax.annotate(f"{curve.device} break-even {usd_label(zero)}", (zero, 0.0),
                                   xytext=(4, 8), textcoords="offset points", fontsize=7, color=color)
    for i, (text, color) in enumerate(beyond):  # still on the dollar scale: named with the way it lies
        revenue_ax.annotate(text, (0.99, 0.55 - 0.065 * i), xycoords="axes fraction", ha="right", va="top", fontsize=7,
                            color=color, bbox={"boxstyle": "round,pad=0.15", "facecolor": "white", "alpha": 0.85,
                                               "edgecolor": "none"})
    if power_cost_usd_per_kwh is not None:
        revenue_ax.axhline(power_cost_usd_per_kwh, color="black", linewidth=1.2,
                           label=f"power cost {usd_label(power_cost_usd_per_kwh)}/kWh (electricity x PUE)")
    profit_ax.axhline(0.0, color="black", linewidth=1.2)
    if btc_usd_now is not None:
        for ax in (revenue_ax, profit_ax):
            ax.axvline(btc_usd_now, color="grey", linewidth=1.2, linestyle="-.")
        revenue_ax.plot([], [], color="grey", linewidth=1.2, linestyle="-.",
                        label=f"scenario BTC price {usd_label(btc_usd_now)}")
        profit_ax.annotate(f"scenario {usd_label(btc_usd_now)}", (btc_usd_now, 0.0), xycoords=("data", "axes fraction"),
                           xytext=(3, 4), textcoords="offset points", rotation=90, fontsize=7, color="dimgrey")
    positive = [v for c in curves for v in c.mining_usd_per_kwh if v > 0]
    positive += [c.ai_usd_per_kwh for c in curves if c.ai_usd_per_kwh and c.ai_usd_per_kwh > 0]
    if power_cost_usd_per_kwh:
        positive.append(power_cost_usd_per_kwh)
    _log_if_wide(revenue_ax, "y", positive, label=usd_label)
    revenue_ax.yaxis.set_major_formatter(_formatter(usd_label))
    profits = [v for c in curves for v in c.mining_profit_usd_per_kwh]
    profits += [c.ai_profit_usd_per_kwh for c in curves if c.ai_profit_usd_per_kwh is not None]
    _symlog_if_wide(profit_ax, profits, power_cost_usd_per_kwh)
    profit_ax.yaxis.set_major_formatter(_formatter(usd_label))
    profit_ax.xaxis.set_major_formatter(_formatter(usd_label))
    profit_ax.set_xlim(low, high)
    profit_ax.set_xlabel("BTC price (USD)")
    revenue_ax.set_ylabel("revenue per kWh drawn (USD/kWh)")
    profit_ax.set_ylabel("profit per kWh drawn (USD/kWh)")
    revenue_ax.set_title("Revenue per kWh: above the black power-cost line a device earns its electricity", fontsize=9)
    profit_ax.set_title("Profit per kWh (revenue less power and hosting): above zero it makes money", fontsize=9)
    for ax in (revenue_ax, profit_ax):
        ax.grid(True, which="both", alpha=0.3)
    figure.legend(fontsize=7, loc="outside right upper")
    caption = (
        "Both panels share the BTC-price axis. Solid: mining from measured energy; dashed: from estimated "
        "energy; thin dash-dot: a datasheet ASIC. Dotted horizontal: the same device's AI inference, which "
        "does not depend on BTC price. X and the dotted vertical line: the device's flip price, above which "
        "mining pays more per kWh than its AI work; a flip past the plotted prices is named at the right edge, "
        "> for above and < for below. Circles on zero profit: the BTC price where mining stops "
        "losing money. Grey dash-dot: the scenario's BTC price."
    )
    return Plot("revenue", title, _png(figure), caption, "; ".join(off_chart))


@dataclass(frozen=True)
class DatasheetBar:
    """A reference miner's hashes per joule, from its datasheet (a comparison row of kind asic)."""

    label: str
    hashes_per_joule: float
    source: str


def datasheet_bars(comparison: Comparison) -> list[DatasheetBar]:
    """The comparison's datasheet rows (``--with-asics``); a measured ASIC is a device row, not this."""
    out = []
    for row in comparison.rows:
        cell = row.cells.get("hashes_per_joule")
        if row.kind == "asic" and cell is not None and cell.value and cell.energy_kind == EnergyKind.DATASHEET:
            out.append(DatasheetBar(row.label, cell.value, cell.energy_source or ""))
    return out


# Bar styles by where the energy came from: only a measurement is a solid bar. Each entry: face
# (None: the device's colour), edge (None: the device's colour), hatch, edge line style, legend text.
_DATASHEET_FACE, _DATASHEET_EDGE = "#dde4f3", "#3b5b92"
_BAR_STYLES: dict[str, tuple[Any, Any, str | None, str, str]] = {
    EnergyKind.MEASURED: (None, "black", None, "-", "measured energy"),
    EnergyKind.REPORTED: ("#f3eef6", None, "xx", "-", "reported by the device's firmware"),
    EnergyKind.ESTIMATED: ("white", None, "//", "--", "estimated energy"),
    EnergyKind.USER: ("white", None, "\\\\", "--", "typed by the user"),
    EnergyKind.DATASHEET: (_DATASHEET_FACE, _DATASHEET_EDGE, "..", "-", "datasheet (not measured here)"),
}


@_plain_text
def plot_workload_bars(devices: Sequence[DeviceRuns], datasheet: Sequence[DatasheetBar] = ()) -> Plot:
    """Per workload, one bar per device (median, whiskers over all windows); mining also has one bar
    per datasheet ASIC. Each bar is labelled measured, estimated or datasheet and styled so."""
    title = "Work per joule, by workload"
    workloads = [w for w in WORKLOAD_TITLES if any(w in d.figures for d in devices) or (w == "mine" and datasheet)]
    if not workloads:
        return Plot("bars", title, None, "", "no workload figures")
    counts = dict((w, sum(w in d.figures for d in devices) + (len(datasheet) if w == "mine" else 0)) for w in workloads)
    others = [w for w in workloads if w != "mine"]
    if "mine" in workloads and others and counts["mine"] > 5:
        # Many miners: mining takes the top row, the AI work shares the bottom one.
        figure = _new_figure(width=max(7.5, 0.7 * counts["mine"] + 2.0), height=9.0)
        mosaic = figure.subplot_mosaic([["mine"] * len(others), others])
        axes = [mosaic[w] for w in workloads]
    else:
        figure = _new_figure(width=max(6.0, 0.75 * sum(counts.values()) + 1.6 * len(workloads) + 1.0), height=5.6)
        axes = figure.subplots(1, len(workloads), squeeze=False,
                               width_ratios=[max(counts[w], 2) for w in workloads])[0]
    colors = dict(zip([d.slug for d in devices], _colors(len(devices))))
    kinds_drawn: set[str] = set()
    for ax, workload in zip(axes, workloads):
        have = [d for d in devices if workload in d.figures]
        figures = [d.figures[workload] for d in have]
        bars = [(d.label, f.per_joule, f.per_joule - f.per_joule_spread.min, f.per_joule_spread.max - f.per_joule,
                 str(f.energy_kind), colors[d.slug]) for d, f in zip(have, figures)]
        if workload == "mine":
            bars += [(a.label, a.hashes_per_joule, 0.0, 0.0, str(EnergyKind.DATASHEET), _DATASHEET_EDGE)
                     for a in datasheet]
        positions = range(len(bars))
        drawn = ax.bar(positions, [b[1] for b in bars], color=[b[5] for b in bars], edgecolor="black")
        # Whiskers only where there are windows: a datasheet has one number and no spread.
        spread = [(i, b) for i, b in enumerate(bars) if b[4] != EnergyKind.DATASHEET]
        if spread:
            ax.errorbar([i for i, _ in spread], [b[1] for _, b in spread], yerr=[[b[2] for _, b in spread],
                        [b[3] for _, b in spread]], fmt="none", ecolor="black", capsize=4, linewidth=1)
        for bar, (_, _, _, _, kind, color) in zip(drawn, bars):
            # hollow or pale, hatched: an estimate, a firmware figure or a datasheet never looks measured
            face, edge, hatch, line, _ = _BAR_STYLES.get(kind, _BAR_STYLES[EnergyKind.ESTIMATED])
            bar.set(facecolor=face or color, edgecolor=edge or color, hatch=hatch, linestyle=line,
                    linewidth=1.5 if line == "--" else 1)
            kinds_drawn.add(kind if kind in _BAR_STYLES else str(EnergyKind.ESTIMATED))
        for i, b in enumerate(bars):  # the value over the whisker's top, so the two never overlap
            text = si_label(b[1]) + (f"\n{si(1e12 / b[1])}J/TH" if workload == "mine" else "")  # 47.6 kJ/TH
            ax.annotate(text, (i, b[1] + b[3]), xytext=(0, 3), textcoords="offset points",
                        ha="center", va="bottom", fontsize=7)
        ax.set_xticks(list(positions), [f"{b[0]}\n({b[4]})" for b in bars], rotation=35, ha="right", fontsize=7)
        ax.set_title(WORKLOAD_TITLES[workload], fontsize=10)
        unit = figures[0].unit if figures else "hashes"
        ax.set_ylabel(f"{unit} per joule (higher is better)")
        if not _log_if_wide(ax, "y", [b[1] for b in bars]):
            _si_ticks(ax.yaxis)
        # headroom for the labels over the tallest whisker
        top = max(b[1] + b[3] for b in bars)
        ax.set_ylim(top=top * (8 if ax.get_yscale() == "log" else 1.18))
        if workload == "mine" and ax.get_yscale() == "log":  # a linear axis reaches 0, where J/TH is infinite
            _joules_per_terahash_axis(ax)
        ax.grid(True, axis="y", which="major", alpha=0.3)
    from matplotlib.patches import Patch

    handles = [Patch(facecolor=face or "grey", edgecolor=edge or "grey", hatch=hatch, linestyle=line, label=text)
               for kind, (face, edge, hatch, line, text) in _BAR_STYLES.items() if kind in kinds_drawn]
    figure.legend(handles=handles, fontsize=8, loc="outside lower center", ncols=len(handles))
    caption = (
        "Bars: median per joule over all windows of all files of a device, the number above each bar; whiskers: "
        "lowest to highest window. Solid bars: measured energy; hatched white bars with a dashed edge: estimated "
        "energy; cross-hatched pale bars: power the device's firmware reported; dotted blue bars: an ASIC's "
        "datasheet figure, not run here. Mining bars also give joules per "
        "terahash, as miners quote them (lower is better), on the right axis where it is logarithmic."
    )
    return Plot("bars", title, _png(figure), caption)


@_plain_text
def plot_cumulative_profit(horizons: Sequence[HorizonSeries], months: int) -> Plot:
    """Per device, cumulative profit by month mining, doing AI work and switching to whichever earns
    more that month (bench.economics.horizon); it starts at minus the card price where one is given."""
    title = f"Cumulative profit over {months} months: mining, AI work, switching"
    if not horizons:
        return Plot("horizon", title, None, "", "no device has economics rows to project")
    columns = min(3, len(horizons))
    rows = math.ceil(len(horizons) / columns)
    figure = _new_figure(width=4.2 * columns + 1.0, height=3.4 * rows + 0.6)
    axes = figure.subplots(rows, columns, squeeze=False).ravel()
    styles = {"mine": ("#d95f02", "mining"), "ai": ("#1f78b4", "AI"), "switch": ("#1b9e77", "switching")}
    notes = []
    for ax, series in zip(axes, horizons):
        lines = [("mine", series.mining, series.mining_kind), ("ai", series.ai, series.ai_kind),
                 ("switch", series.switch, series.ai_kind if series.ai_kind == series.mining_kind else "estimated")]
        for key, horizon, kind in lines:
            if horizon is None:
                continue
            color, name = styles[key]
            if key == "ai":
                name = {"infer": "AI inference", "train": "AI training (rented)"}.get(series.ai_work, name)
            x = [0] + [m.month for m in horizon.months]  # month 0: the card bought, nothing earned yet
            y = [-(horizon.price_usd or 0.0)] + [m.cumulative_profit_usd for m in horizon.months]
            # Switching draws wide and pale beneath the others: it follows whichever is better.
            width, alpha, z = (5.0, 0.35, 1) if key == "switch" else (1.6, 1.0, 2)
            ax.plot(x, y, "-" if kind == EnergyKind.MEASURED else "--", color=color, linewidth=width, alpha=alpha,
                    zorder=z, label=f"{name} ({kind}): {usd_label(horizon.cumulative_profit_usd)}")
            if horizon.payback_month is not None:
                at = horizon.months[horizon.payback_month - 1]
                ax.plot([at.month], [at.cumulative_profit_usd], "o", color=color, markeredgecolor="black", zorder=3)
                ax.annotate(f"payback month {at.month}", (at.month, at.cumulative_profit_usd), xytext=(4, -10),
                            textcoords="offset points", fontsize=7, color=color)
        ax.axhline(0.0, color="black", linewidth=1)
        first = next(h for h in (series.mining, series.ai) if h is not None)
        if first.price_usd is None:
            notes.append(f"{series.device}: no card price (--card-price), so its profit starts at $0")
        ax.set_title(series.device, fontsize=9)
        ax.set_xlabel(f"months from {first.months[0].date}", fontsize=8)
        ax.set_ylabel("cumulative profit (USD)", fontsize=8)
        ax.yaxis.set_major_formatter(_formatter(usd_label))
        ax.tick_params(labelsize=7)
        ax.grid(True, alpha=0.3)
        ax.legend(fontsize=7, loc="best")
    for ax in axes[len(horizons):]:
        ax.set_visible(False)
    caption = (
        "Each panel is one device: its profit (revenue less power and hosting) summed month by month over the "
        "scenario's difficulty and BTC-price paths and the halvings in the horizon, from minus the card price "
        "given with --card-price. Orange: mining all the time; blue: AI work all the time; wide pale green: "
        "each month whichever of the two earns more. Solid: measured energy; dashed: estimated. Circles: the "
        "month cumulative profit first reaches zero (payback). The number in the legend: the total at the end."
    )
    return Plot("horizon", title, _png(figure), caption, "; ".join(notes))
