"""The report page: one self-contained HTML file (no script, no fetch; plots as data URIs).

Each distinct energy source (a meter, an estimate's formula, a datasheet's citation) is written
once, in the numbered list of the Energy sources section; plots, the table's tooltips and the
energy table refer to it by number, so a long estimate paragraph is not repeated per figure.
"""

from __future__ import annotations

import base64
import html
from typing import Sequence

from bench.compare import NOT_COMPARABLE, Comparison, DeviceRuns, describe_cell, format_number
from bench.energy import EnergyKind
from bench.report import Plot, ReportInputs
from bench.report.plots import datasheet_bars


_STYLE = """
body{font-family:system-ui,-apple-system,"Segoe UI",sans-serif;margin:2rem auto;max-width:1200px;padding:0 1rem;color:#222}
h1{font-size:1.5rem}h2{font-size:1.15rem;margin-top:2rem;border-bottom:1px solid #ccc}
table{border-collapse:collapse;font-size:.82rem;margin:.5rem 0}th,td{border:1px solid #ccc;padding:.3rem .45rem;text-align:right;vertical-align:top}
th{background:#f2f2f2}td:first-child,th:first-child{text-align:left}
td.best{background:#e3f4e3}td.nc{background:#f8e7e7;color:#555}
.kind{font-size:.7rem;padding:0 .25rem;border-radius:.2rem;white-space:nowrap}
.measured{background:#d8ecd8}.estimated{background:#f6e3c3}.datasheet{background:#dde4f3}.reported{background:#ece0f1}.user{background:#eee}
.sub{display:block;color:#555;font-size:.72rem}figure{margin:1rem 0}figcaption{font-size:.85rem;color:#333;max-width:900px}
#energy-table td,#market-table td{text-align:left}td.date{white-space:nowrap}
img{max-width:100%;height:auto;border:1px solid #ddd}.missing{color:#8a4b00}ul{font-size:.88rem}
"""


def render_html(inputs: ReportInputs, plots: Sequence[Plot]) -> str:
    e = html.escape
    comparison = inputs.comparison
    sources = energy_sources(inputs)
    files = sum(len(d.paths) for d in inputs.devices)
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
        + f". {_count(len(inputs.devices), 'device')} from {_count(files, 'result file')}.</p>",
        _verdict_html(inputs.verdict),
        '<h2 id="comparison">Comparison</h2>',
        _table_html(comparison, sources),
        "<p class=\"sub\">Sorted by " + e(comparison.column(comparison.sort_key).title)
        + ", best first. ±: half the range from the lowest to the highest window; ×N: ratio to the best "
        "comparable row of the column; <i>beyond spread</i>: the two devices' lowest-to-highest window ranges do "
        "not overlap; <i>within spread</i>: they overlap, so the difference may be run-to-run noise. "
        "Each figure's energy is tagged measured, estimated or datasheet; its source is numbered under "
        "<i>Energy sources</i>.</p>",
    ]
    # A datasheet row's note is its citation, listed once under Energy sources; a note several rows
    # share ("no idle baseline ...") is written once with the rows it applies to.
    shared: dict[str, list[str]] = {}
    for row in comparison.rows:
        for note in row.notes:
            if note not in sources:
                shared.setdefault(note, []).append(row.label)
    notes = list(comparison.notes) + [f"{', '.join(labels)}: {note}" for note, labels in shared.items()]
    if notes:
        parts.append("<ul>" + "".join(f"<li>{e(n)}</li>" for n in notes) + "</ul>")
    for plot in plots:
        parts.append(f'<h2 id="plot-{e(plot.key)}">{e(plot.title)}</h2>')
        if plot.png is not None:
            data = base64.b64encode(plot.png).decode("ascii")
            parts.append(
                f'<figure><img class="plot" id="img-{e(plot.key)}" alt="{e(plot.title)}" '
                f'src="data:image/png;base64,{data}"><figcaption>{e(plot.caption)}'
                f"{_energy_refs(inputs, plot.key, sources)}</figcaption></figure>"
            )
        if plot.missing:
            parts.append(f'<p class="missing">{e(plot.missing)}</p>')
    parts.append('<h2 id="energy">Energy sources</h2>')
    parts.append(_sources_html(sources))
    parts.append(_energy_table(inputs.devices, comparison, sources))
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


def _verdict_html(lines: Sequence[str]) -> str:
    """The answer first: one line per device."""
    if not lines:
        return ""
    items = "".join(f"<li>{html.escape(line)}</li>" for line in lines)
    return f'<section id="verdict"><h2>Verdict</h2><ul>{items}</ul></section>'


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}{'' if n == 1 else 's'}"


def energy_sources(inputs: ReportInputs) -> dict[str, tuple[int, str]]:
    """Each distinct energy source on the page -> (its number from 1, its kind), in page order:
    the devices' figures, then the datasheet rows' citations."""
    out: dict[str, tuple[int, str]] = {}
    for device in inputs.devices:
        for figure in device.figures.values():
            out.setdefault(figure.energy_source, (len(out) + 1, str(figure.energy_kind)))
    for bar in datasheet_bars(inputs.comparison):
        if bar.source:
            out.setdefault(bar.source, (len(out) + 1, str(EnergyKind.DATASHEET)))
    return out


def _ref(source: str | None, sources: dict[str, tuple[int, str]]) -> str:
    return f"[{sources[source][0]}]" if source in sources else ""


def _sources_html(sources: dict[str, tuple[int, str]]) -> str:
    e = html.escape
    if not sources:
        return ""
    items = "".join(f'<li id="source-{n}"><span class="kind {e(kind)}">{e(kind)}</span> {e(text)}</li>'
                    for text, (n, kind) in sources.items())
    return f'<ol id="energy-sources">{items}</ol>'


def _table_html(comparison: Comparison, sources: dict[str, tuple[int, str]]) -> str:
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
            css = "best" if cell.highlighted else "nc" if cell.verdict == NOT_COMPARABLE else ""
            if cell.value is None:
                cells.append(f"<td title=\"{e(cell.note)}\">-" + (f"<span class=\"sub\">{e(cell.note)}</span>" if cell.note else "") + "</td>")
                continue
            detail = describe_cell(cell, column)[len(format_number(cell.value, column.unit)):].strip()
            if cell.energy_kind and not column.economics:
                detail = detail.replace(f"({cell.energy_kind})", "").strip()
            ref = _ref(cell.energy_source, sources)
            title = f' title="energy source {ref} under Energy sources"' if ref else ""
            kind = (f' <span class="kind {e(cell.energy_kind)}"{title}>{e(cell.energy_kind)}</span>'
                    if cell.energy_kind else "")
            cells.append(
                f'<td class="{css}">{e(format_number(cell.value, column.unit))}{kind}'
                + (f'<span class="sub">{e(detail)}</span>' if detail else "") + "</td>"
            )
        rows.append("<tr>" + "".join(cells) + "</tr>")
    return (f'<table id="comparison-table"><thead><tr><th>device</th>{head}</tr></thead>'
            f"<tbody>{''.join(rows)}</tbody></table>")


_PLOT_WORKLOADS = {"scatter": ("mine", "infer"), "revenue": ("mine", "infer"), "bars": ("mine", "infer", "train"),
                   "horizon": ("mine", "infer", "train")}
_WORK_NAMES = {"mine": "mining", "infer": "inference", "train": "training"}


def _energy_refs(inputs: ReportInputs, plot_key: str, sources: dict[str, tuple[int, str]]) -> str:
    """Per device, each drawn workload's energy kind and source number (the text is listed once below)."""
    e = html.escape
    items = []
    for device in inputs.devices:
        parts = []
        for workload in _PLOT_WORKLOADS.get(plot_key, ()):
            figure = device.figures.get(workload)
            if figure is not None:
                parts.append(f'{_WORK_NAMES[workload]} <span class="kind {e(figure.energy_kind)}">'
                             f"{e(figure.energy_kind)}</span> {_ref(figure.energy_source, sources)}")
        if parts:
            items.append(f"<li>{e(device.label)}: {', '.join(parts)}</li>")
    if plot_key in ("revenue", "bars"):
        for bar in datasheet_bars(inputs.comparison):
            items.append(f'<li>{e(bar.label)}: mining <span class="kind {EnergyKind.DATASHEET}">'
                         f"{EnergyKind.DATASHEET}</span> {_ref(bar.source, sources)}</li>")
    return f'<ul class="energy">{"".join(items)}</ul>' if items else ""


def _energy_table(devices: Sequence[DeviceRuns], comparison: Comparison, sources: dict[str, tuple[int, str]]) -> str:
    e = html.escape
    rows = []
    for device in devices:
        for figure in device.figures.values():
            rows.append(
                f"<tr><td>{e(device.label)}</td><td>{e(figure.workload)} ({e(figure.phase)})</td>"
                f"<td><span class=\"kind {e(figure.energy_kind)}\">{e(figure.energy_kind)}</span></td>"
                f"<td>{_ref(figure.energy_source, sources)}</td><td>{figure.windows}</td>"
                f"<td>{format_number(figure.watts)}</td></tr>"
            )
    for bar in datasheet_bars(comparison):
        rows.append(f"<tr><td>{e(bar.label)}</td><td>mine</td><td><span class=\"kind {EnergyKind.DATASHEET}\">"
                    f"{EnergyKind.DATASHEET}</span></td><td>{_ref(bar.source, sources)}</td><td>-</td><td>-</td></tr>")
    return ("<table id=\"energy-table\"><thead><tr><th>device</th><th>workload (phase)</th><th>energy</th>"
            "<th>source (numbered above)</th><th>windows</th><th>median W</th></tr></thead><tbody>"
            + "".join(rows) + "</tbody></table>")


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


