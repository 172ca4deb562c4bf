"""The report's plots, drawn with matplotlib's object API (``Figure`` + Agg canvas), never pyplot,
so no global state or display is involved. Every plot says, per device and workload, whether its
energy was measured (and by what) or estimated (and from what)."""

from __future__ import annotations

import functools
import io
from typing import Any, Callable, Sequence

from bench.compare import DeviceRuns
from bench.energy import EnergyKind
from bench.report import WORKLOAD_TITLES, Plot, RevenueCurve


def _new_figure(width: float = 7.5, height: float = 4.8):
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(width, height), dpi=110, layout="constrained")
    FigureCanvasAgg(figure)
    return figure


def _png(figure) -> bytes:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    return buffer.getvalue()


def _plain_text(plot: Callable[..., Plot]) -> Callable[..., Plot]:
    """Draw with mathtext off: device names and other data are drawn as written, never parsed
    (a name holding "$...$" would otherwise be typeset, or crash the renderer)."""

    @functools.wraps(plot)
    def wrapper(*args: Any, **kwargs: Any) -> Plot:
        import matplotlib

        with matplotlib.rc_context({"text.parse_math": False}):
            return plot(*args, **kwargs)

    return wrapper


def _marker_face(energy_kind: str, color: Any) -> Any:
    # Filled marks are measured; hollow marks are estimates, so an estimate never looks measured.
    return color if energy_kind == EnergyKind.MEASURED else "none"


@_plain_text
def plot_efficiency_scatter(devices: Sequence[DeviceRuns]) -> Plot:
    """Hashes/J against decode tokens/J, one point per device, whiskers over all windows."""
    drawn = [d for d in devices if "mine" in d.figures and "infer" in d.figures]
    left_out = [d.label for d in devices if d not in drawn]
    missing = f"not drawn (no mining or no decode figure): {', '.join(left_out)}" if left_out else ""
    if not drawn:
        return Plot("scatter", "Hashes per joule against tokens per joule", None, "", missing or "no devices")
    figure = _new_figure()
    ax = figure.add_subplot()
    colors = _colors(len(drawn))
    for device, color in zip(drawn, colors):
        mine, infer = device.figures["mine"], device.figures["infer"]
        kind = EnergyKind.MEASURED if mine.energy_kind == infer.energy_kind == EnergyKind.MEASURED else EnergyKind.ESTIMATED
        x, y = mine.per_joule, infer.per_joule
        xs, ys = mine.per_joule_spread, infer.per_joule_spread
        ax.errorbar(
            [x], [y], xerr=[[x - xs.min], [xs.max - x]], yerr=[[y - ys.min], [ys.max - y]],
            fmt="o", markersize=9, color=color, markerfacecolor=_marker_face(kind, color), capsize=3,
            label=f"{device.label} ({kind})",
        )
        ax.annotate(device.label, (x, y), textcoords="offset points", xytext=(8, 6), fontsize=8)
    _log_if_wide(ax, "x", [d.figures["mine"].per_joule for d in drawn])
    _log_if_wide(ax, "y", [d.figures["infer"].per_joule for d in drawn])
    ax.set_xlabel("mining: hashes per joule (higher is better)")
    ax.set_ylabel("inference: decode tokens per joule (higher is better)")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8, loc="best")
    caption = (
        "Each point is one device: median over all measurement windows of all its files; whiskers span "
        "the lowest to the highest window. Filled: both figures measured; hollow: at least one estimated."
    )
    return Plot("scatter", "Hashes per joule against tokens per joule", _png(figure), caption, missing)


@_plain_text
def plot_revenue_vs_btc(
    curves: Sequence[RevenueCurve], power_cost_usd_per_kwh: float | None, btc_usd_now: float | None = None,
) -> Plot:
    """Revenue per kWh against BTC price per device, AI revenue flat, crossovers marked."""
    title = "Revenue per kWh against BTC price"
    if not curves:
        return Plot("revenue", title, None, "", "no device has a mining figure to price")
    figure = _new_figure(height=5.2)
    ax = figure.add_subplot()
    off_chart = []
    for curve, color in zip(curves, _colors(len(curves))):
        style = "-" if curve.energy_kind == EnergyKind.MEASURED else "--"
        ax.plot(curve.btc_usd, curve.mining_usd_per_kwh, style, color=color,
                label=f"{curve.device}: mining ({curve.energy_kind})")
        if curve.ai_usd_per_kwh is not None:
            ax.axhline(curve.ai_usd_per_kwh, color=color, linestyle=":", linewidth=1.5,
                       label=f"{curve.device}: AI inference")
        crossing = curve.crossover_btc_usd
        if crossing is not None and curve.ai_usd_per_kwh is not None:
            if min(curve.btc_usd) <= crossing <= max(curve.btc_usd):
                ax.plot([crossing], [curve.ai_usd_per_kwh], marker="X", markersize=11,
                        color=color, markeredgecolor="black", linestyle="none")
                ax.annotate(f"${crossing:,.0f}", (crossing, curve.ai_usd_per_kwh),
                            textcoords="offset points", xytext=(6, 6), fontsize=8)
            else:
                off_chart.append(f"{curve.device}: mining pays more than AI only above BTC ${crossing:,.0f}")
    if power_cost_usd_per_kwh is not None:
        ax.axhline(power_cost_usd_per_kwh, color="black", linewidth=1, label="power cost (electricity x PUE)")
    if btc_usd_now is not None:
        ax.axvline(btc_usd_now, color="grey", linewidth=1, linestyle="-.", label="scenario BTC price")
    positive = [v for c in curves for v in c.mining_usd_per_kwh if v > 0]
    positive += [c.ai_usd_per_kwh for c in curves if c.ai_usd_per_kwh and c.ai_usd_per_kwh > 0]
    if power_cost_usd_per_kwh:
        positive.append(power_cost_usd_per_kwh)
    _log_if_wide(ax, "y", positive)
    ax.set_xlabel("BTC price (USD)")
    ax.set_ylabel("revenue per kWh drawn (USD/kWh)")
    ax.grid(True, which="both", alpha=0.3)
    figure.legend(fontsize=7, loc="outside right upper")
    caption = (
        "Solid: mining revenue from measured energy; dashed: from estimated energy or a datasheet. Dotted: the "
        "same device's AI inference revenue, which does not depend on BTC price. X marks the BTC price above "
        "which mining pays more per kWh than AI work on that device. Black: the power cost per kWh drawn."
    )
    return Plot("revenue", title, _png(figure), caption, "; ".join(off_chart))


@_plain_text
def plot_workload_bars(devices: Sequence[DeviceRuns]) -> Plot:
    """Per workload, one bar per device (median) with whiskers over all windows."""
    workloads = [w for w in WORKLOAD_TITLES if any(w in d.figures for d in devices)]
    if not workloads:
        return Plot("bars", "Work per joule, by workload", None, "", "no workload figures")
    figure = _new_figure(width=3.2 * len(workloads) + 1.0, height=4.6)
    axes = figure.subplots(1, len(workloads), squeeze=False)[0]
    colors = dict(zip([d.slug for d in devices], _colors(len(devices))))
    for ax, workload in zip(axes, workloads):
        have = [d for d in devices if workload in d.figures]
        figures = [d.figures[workload] for d in have]
        values = [f.per_joule for f in figures]
        low = [f.per_joule - f.per_joule_spread.min for f in figures]
        high = [f.per_joule_spread.max - f.per_joule for f in figures]
        bars = ax.bar(range(len(have)), values, yerr=[low, high], capsize=4,
                      color=[colors[d.slug] for d in have], edgecolor="black")
        for bar, f in zip(bars, figures):
            if f.energy_kind != EnergyKind.MEASURED:
                bar.set_hatch("//")
                bar.set_facecolor("white")
        ax.set_xticks(range(len(have)), [d.label for d in have], rotation=20, ha="right", fontsize=8)
        ax.set_title(WORKLOAD_TITLES[workload], fontsize=10)
        ax.set_ylabel(f"{figures[0].unit} per joule")
        _log_if_wide(ax, "y", values)
        ax.grid(True, axis="y", alpha=0.3)
    caption = (
        "Bars: median per joule over all windows of all files of a device; whiskers: lowest to highest window. "
        "Solid bars: measured energy; hatched white bars: estimated energy."
    )
    return Plot("bars", "Work per joule, by workload", _png(figure), caption)


def _log_if_wide(ax, axis: str, values: Sequence[float]) -> None:
    # Devices differ by orders of magnitude (a CPU against an ASIC): a linear axis would hide most of them.
    positive = [v for v in values if v and v > 0]
    if len(positive) >= 2 and max(positive) / min(positive) > 30:
        (ax.set_xscale if axis == "x" else ax.set_yscale)("log")
        plain_log_ticks(ax.xaxis if axis == "x" else ax.yaxis)


def plain_log_ticks(axis) -> None:
    """Log-axis tick labels without mathtext (the plots draw with it off): 0.01, 1, 1e+06."""
    from matplotlib.ticker import FuncFormatter, NullFormatter

    axis.set_major_formatter(FuncFormatter(lambda value, _: f"{value:g}"))
    axis.set_minor_formatter(NullFormatter())


def _colors(n: int) -> list[Any]:
    from matplotlib import colormaps

    palette = colormaps["tab10"]
    return [palette(i % 10) for i in range(n)]


