"""The procurement report: one self-contained HTML file plus the same plots as PNG files.

Self-contained means no network and no other file: plots are PNGs embedded as base64 data
URIs, styles are inline, there is no script, and a Content-Security-Policy forbids fetching
anything but those data URIs, so a browser opening it offline shows everything.

Plots are drawn with matplotlib's object API (``Figure`` + Agg canvas), never pyplot, so no
global state or display is involved. Every plot says next to it, per device and workload,
whether its energy was measured (and by what) or estimated (and from what).
"""

from __future__ import annotations

import base64
import functools
import html
import io
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable, Sequence

from bench.compare import (
    BEST, BEST_RUN, NOT_COMPARABLE, Comparison, DeviceRuns, describe_cell, format_number,
)
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
    """Revenue per kWh of one device against BTC price: mining rises with price, AI is flat."""

    device: str
    btc_usd: Sequence[float]
    mining_usd_per_kwh: Sequence[float]
    ai_usd_per_kwh: float | None  # None: no AI figure for this device
    crossover_btc_usd: float | None  # where mining starts paying more per kWh than AI (may be off the chart)
    energy_kind: str  # of the mining figure: "measured", "estimated" or "datasheet"


@dataclass(frozen=True)
class ReportInputs:
    comparison: Comparison
    devices: Sequence[DeviceRuns]
    market: Sequence[MarketInput] = ()
    curves: Sequence[RevenueCurve] = ()
    electricity_usd_per_kwh: float | None = None  # the power cost per kWh drawn (price x PUE)
    btc_usd_now: float | None = None  # the scenario's BTC price, marked on the revenue plot
    scenario: str = ""
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
    return color if energy_kind == "measured" else "none"


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
        kind = "measured" if mine.energy_kind == infer.energy_kind == "measured" else "estimated"
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
        style = "-" if curve.energy_kind == "measured" else "--"
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
            if f.energy_kind != "measured":
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


# ---------------------------------------------------------------------------------------------
# HTML

_STYLE = """
body{font-family:system-ui,-apple-system,"Segoe UI",sans-serif;margin:2rem auto;max-width:1200px;padding:0 1rem;color:#222}
h1{font-size:1.5rem}h2{font-size:1.15rem;margin-top:2rem;border-bottom:1px solid #ccc}
table{border-collapse:collapse;font-size:.82rem;margin:.5rem 0}th,td{border:1px solid #ccc;padding:.3rem .45rem;text-align:right;vertical-align:top}
th{background:#f2f2f2}td:first-child,th:first-child{text-align:left}
td.best{background:#e3f4e3}td.nc{background:#f8e7e7;color:#555}
.kind{font-size:.7rem;padding:0 .25rem;border-radius:.2rem;white-space:nowrap}
.measured{background:#d8ecd8}.estimated{background:#f6e3c3}.datasheet{background:#dde4f3}
.sub{display:block;color:#555;font-size:.72rem}figure{margin:1rem 0}figcaption{font-size:.85rem;color:#333;max-width:900px}
#energy-table td,#market-table td{text-align:left}td.date{white-space:nowrap}
img{max-width:100%;height:auto;border:1px solid #ddd}.missing{color:#8a4b00}ul{font-size:.88rem}
"""


def render_html(inputs: ReportInputs, plots: Sequence[Plot]) -> str:
    e = html.escape
    comparison = inputs.comparison
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        # Nothing may be fetched: only the embedded images and the inline style.
        "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; img-src data:; style-src 'unsafe-inline'\">",
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{e(inputs.title)}</title><style>{_STYLE}</style></head><body>",
        f"<h1>{e(inputs.title)}</h1>",
        f"<p>Generated {e(inputs.generated_utc)}"
        + (f" by joulebench {e(inputs.tool_version)}" if inputs.tool_version else "")
        + (f", scenario <b>{e(inputs.scenario)}</b>" if inputs.scenario else "")
        + f". {len(inputs.devices)} device(s) from {sum(len(d.paths) for d in inputs.devices)} result file(s).</p>",
        '<h2 id="comparison">Comparison</h2>',
        _table_html(comparison),
        "<p class=\"sub\">Sorted by " + e(comparison.column(comparison.sort_key).title)
        + ", best first. ±: half the range from the lowest to the highest window; ×N: ratio to the best "
        "comparable row of the column; <i>beyond spread</i>: the two devices' lowest-to-highest window ranges do "
        "not overlap; <i>within spread</i>: they overlap, so the difference may be run-to-run noise. "
        "Each figure's energy is tagged measured, estimated or datasheet.</p>",
    ]
    notes = list(comparison.notes) + [f"{r.label}: {n}" for r in comparison.rows for n in r.notes]
    if notes:
        parts.append("<ul>" + "".join(f"<li>{e(n)}</li>" for n in notes) + "</ul>")
    for plot in plots:
        parts.append(f'<h2 id="plot-{e(plot.key)}">{e(plot.title)}</h2>')
        if plot.png is not None:
            data = base64.b64encode(plot.png).decode("ascii")
            parts.append(
                f'<figure><img class="plot" id="img-{e(plot.key)}" alt="{e(plot.title)}" '
                f'src="data:image/png;base64,{data}"><figcaption>{e(plot.caption)}'
                f"{_energy_list(inputs.devices, plot.key)}</figcaption></figure>"
            )
        if plot.missing:
            parts.append(f'<p class="missing">{e(plot.missing)}</p>')
    parts.append('<h2 id="energy">Energy sources</h2>')
    parts.append(_energy_table(inputs.devices, comparison))
    parts.append('<h2 id="market">Market inputs</h2>')
    parts.append(_market_html(inputs))
    parts.append('<h2 id="files">Result files</h2><ul>')
    for device in inputs.devices:
        parts.append(
            f"<li>{e(device.label)} (hosts {e(', '.join(device.hosts))}): "
            + ", ".join(f"<code>{e(p)}</code>" for p in device.paths) + "</li>"
        )
    parts.append("</ul></body></html>")
    return "\n".join(parts) + "\n"


def _table_html(comparison: Comparison) -> str:
    e = html.escape
    head = "".join(
        f"<th>{e(c.title)}<span class=\"sub\">{e(c.unit)}"
        + (f", {'higher' if c.higher_is_better else 'lower'} is better" if c.ranked else "") + "</span></th>"
        for c in comparison.columns
    )
    rows = []
    for row in comparison.rows:
        cells = [f"<td>{e(row.label)}<span class=\"sub\">{e(row.kind)}"
                 + (f", {len(row.files)} file(s)" if row.files else "") + "</span></td>"]
        for column in comparison.columns:
            cell = row.cells[column.key]
            css = "best" if cell.verdict in (BEST, BEST_RUN) else "nc" if cell.verdict == NOT_COMPARABLE else ""
            if cell.value is None:
                cells.append(f"<td title=\"{e(cell.note)}\">-" + (f"<span class=\"sub\">{e(cell.note)}</span>" if cell.note else "") + "</td>")
                continue
            detail = describe_cell(cell, column)[len(format_number(cell.value)):].strip()
            if cell.energy_kind and not column.economics:
                detail = detail.replace(f"({cell.energy_kind})", "").strip()
            kind = (f' <span class="kind {e(cell.energy_kind)}" title="{e(cell.energy_source or "")}">{e(cell.energy_kind)}</span>'
                    if cell.energy_kind else "")
            cells.append(
                f'<td class="{css}">{e(format_number(cell.value))}{kind}'
                + (f'<span class="sub">{e(detail)}</span>' if detail else "") + "</td>"
            )
        rows.append("<tr>" + "".join(cells) + "</tr>")
    return (f'<table id="comparison-table"><thead><tr><th>device</th>{head}</tr></thead>'
            f"<tbody>{''.join(rows)}</tbody></table>")


_PLOT_WORKLOADS = {"scatter": ("mine", "infer"), "revenue": ("mine", "infer"), "bars": ("mine", "infer", "train")}


def _energy_list(devices: Sequence[DeviceRuns], plot_key: str) -> str:
    e = html.escape
    items = []
    for device in devices:
        for workload in _PLOT_WORKLOADS.get(plot_key, ()):
            figure = device.figures.get(workload)
            if figure is not None:
                items.append(f"<li>{e(device.label)}, {e(workload)}: <span class=\"kind {e(figure.energy_kind)}\">"
                             f"{e(figure.energy_kind)}</span> {e(figure.energy_source)}</li>")
    return f'<ul class="energy">{"".join(items)}</ul>' if items else ""


def _energy_table(devices: Sequence[DeviceRuns], comparison: Comparison) -> str:
    e = html.escape
    rows = []
    for device in devices:
        for figure in device.figures.values():
            rows.append(
                f"<tr><td>{e(device.label)}</td><td>{e(figure.workload)} ({e(figure.phase)})</td>"
                f"<td><span class=\"kind {e(figure.energy_kind)}\">{e(figure.energy_kind)}</span></td>"
                f"<td>{e(figure.energy_source)}</td><td>{figure.windows}</td><td>{format_number(figure.watts)}</td></tr>"
            )
    for row in comparison.rows:
        if row.kind == "asic":
            rows.append(f"<tr><td>{e(row.label)}</td><td>mine</td><td><span class=\"kind datasheet\">datasheet</span></td>"
                        f"<td>{e('; '.join(row.notes))}</td><td>-</td><td>-</td></tr>")
    return ("<table id=\"energy-table\"><thead><tr><th>device</th><th>workload (phase)</th><th>energy</th>"
            "<th>source</th><th>windows</th><th>median W</th></tr></thead><tbody>" + "".join(rows) + "</tbody></table>")


def _market_html(inputs: ReportInputs) -> str:
    e = html.escape
    if not inputs.market:
        return '<p class="missing">no market inputs were given, so no money figures are shown</p>'
    rows = "".join(
        f"<tr><td>{e(m.name)}</td><td>{e(m.value)}</td><td class=\"date\">{e(m.date)}</td><td>{e(m.source)}</td></tr>"
        for m in inputs.market
    )
    return ("<table id=\"market-table\"><thead><tr><th>input</th><th>value</th><th>date</th><th>source</th></tr>"
            f"</thead><tbody>{rows}</tbody></table>")


def build_plots(inputs: ReportInputs) -> list[Plot]:
    return [
        plot_efficiency_scatter(inputs.devices),
        plot_revenue_vs_btc(inputs.curves, inputs.electricity_usd_per_kwh, inputs.btc_usd_now),
        plot_workload_bars(inputs.devices),
    ]


def write_report(out_html: Path, inputs: ReportInputs) -> list[Path]:
    """Write the HTML report and one PNG per drawn plot beside it (``<stem>-<plot>.png``)."""
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
