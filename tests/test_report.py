"""bench.report: a self-contained HTML page and PNG plots, each figure tagged with its energy source."""

from __future__ import annotations

import base64
import dataclasses
import html
import re
import sys
from html.parser import HTMLParser
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))  # tests/fixtures, whatever pytest's import mode

from fixtures.synthetic import make_result, write  # noqa: E402

from bench import cli as cli_module  # noqa: E402
from bench import report  # noqa: E402
from bench.commands.compare import report as report_command  # noqa: E402
from bench.compare import Loaded, build_comparison, merge_devices  # noqa: E402
from bench.report import axes, plots  # noqa: E402
from bench.report.page import energy_sources  # noqa: E402
from bench.results import parse_result  # noqa: E402
from bench.errors import BenchError  # noqa: E402

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


class References(HTMLParser):
    """Every URL-bearing attribute of the page."""

    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []
        self.tags: list[str] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        self.urls += [v for k, v in attrs if k in ("src", "href", "srcset", "data", "action", "poster") and v]


POWER_COST = 0.1  # USD per kWh drawn, in the sample curves


def sample_devices():
    return merge_devices([
        Loaded("results/gpu.json", parse_result(make_result("GPU One", mine=(2.0e7, 2.1e7, 2.2e7), infer=(30, 31, 32)))),
        Loaded("results/cpu.json", parse_result(make_result("CPU Two", kind="cpu", mine=(4e5, 4.1e5, 4.2e5), infer=(0.8, 0.9, 1.0),
                                               train=None, energy_kind="estimated"))),
        Loaded("results/odd.json", parse_result(make_result("Odd Three", mine=(1e7, 1e7, 1e7), infer=None, train=None))),
    ])


def sample_curves(devices):
    xs = [10000.0 * i for i in range(1, 21)]
    curves = []
    for d in devices:
        slope = d.figures["mine"].per_joule * 1e-12
        ys = [slope * x for x in xs]
        ai = d.figures["infer"].per_joule * 0.1 if "infer" in d.figures else None
        # ys is linear in x from 0, so it reaches the AI level at x = ai / slope and the power cost at cost / slope
        crossing = ai / slope if ai is not None else None
        curves.append(report.RevenueCurve(
            d.label, xs, ys, ai, crossing, d.figures["mine"].energy_kind,
            [y - POWER_COST for y in ys], ai - POWER_COST if ai is not None else None, POWER_COST / slope,
        ))
    return curves


def sample_asics():
    from bench.economics import asic_rows
    from bench.market import load_scenario

    return asic_rows(load_scenario(None))


def sample_inputs(asics=(), **kwargs):
    devices = kwargs.pop("devices", None) or sample_devices()
    defaults = dict(
        comparison=build_comparison(devices, asics=asics), devices=devices, curves=sample_curves(devices),
        electricity_usd_per_kwh=POWER_COST, btc_usd_now=95000.0,
        market=[report.MarketInput("btc_usd (bitcoin price)", "95000 USD/BTC", "2026-01", "an exchange index")],
        scenario="2026-01",
    )
    defaults.update(kwargs)
    return report.ReportInputs(**defaults)


@pytest.fixture(scope="module")
def written(tmp_path_factory):
    out = tmp_path_factory.mktemp("report") / "procurement.html"
    paths = report.write_report(out, sample_inputs())
    return out, paths, out.read_text(encoding="utf-8")


def test_report_writes_the_page_and_one_png_per_plot(written):
    out, paths, _ = written
    assert paths == [out] + [out.with_name(f"procurement-{k}.png") for k in ("scatter", "revenue", "bars")]
    for png in paths[1:]:
        assert png.read_bytes().startswith(PNG_MAGIC)


def test_embedded_images_are_the_written_pngs(written):
    _, paths, text = written
    embedded = [base64.b64decode(m) for m in re.findall(r'src="data:image/png;base64,([A-Za-z0-9+/=]+)"', text)]
    assert embedded == [p.read_bytes() for p in paths[1:]]


def test_page_refers_to_nothing_outside_itself(written):
    _, _, text = written
    parser = References()
    parser.feed(text)
    assert parser.urls and all(u.startswith("data:image/png;base64,") for u in parser.urls)
    assert "script" not in parser.tags and "link" not in parser.tags
    assert "default-src 'none'" in text  # the browser itself refuses any fetch


def test_every_plot_refers_to_each_figures_energy_source_by_number(written):
    _, _, text = written
    sources = energy_sources(sample_inputs())
    measured, estimated = sources["measured: test meter"][0], sources["estimated: test meter"][0]
    for key in ("scatter", "revenue", "bars"):
        section = text.split(f'id="plot-{key}"')[1].split("<h2")[0]
        assert f'CPU Two: mining <span class="kind estimated">estimated</span> [{estimated}]' in section
        assert f'GPU One: mining <span class="kind measured">measured</span> [{measured}]' in section
    listed = text.split('id="energy-sources"')[1].split("</ol>")[0]
    entry = f'<li id="source-{estimated}"><span class="kind estimated">estimated</span> estimated: test meter</li>'
    assert entry in listed


def test_each_energy_source_note_is_on_the_page_once(tmp_path):
    out = tmp_path / "report.html"
    inputs = sample_inputs(asics=sample_asics())
    report.write_report(out, inputs)
    text = out.read_text(encoding="utf-8")
    sources = energy_sources(inputs)
    assert "estimated: test meter" in sources and len(sources) > 2  # the devices' meters and the datasheets
    for source in sources:
        assert text.count(html.escape(source)) == 1, source


def test_devices_a_plot_cannot_show_are_named_with_the_reason(written):
    _, _, text = written
    assert "not drawn (no mining or no decode figure): Odd Three" in text


def test_market_inputs_are_shown_with_date_and_source(written):
    _, _, text = written
    market = text.split('id="market-table"')[1].split("</table>")[0]
    assert '<td>95000 USD/BTC</td><td class="date">2026-01</td><td>an exchange index</td>' in market


def test_comparison_table_has_a_row_per_device(written):
    _, _, text = written
    table = text.split('id="comparison-table"')[1].split("</table>")[0]
    assert table.count("<tr>") == 1 + 3


def test_one_device_gets_bars_and_no_one_point_scatter(tmp_path):
    [one] = [d for d in sample_devices() if d.label == "GPU One"]
    out = tmp_path / "one.html"
    paths = report.write_report(out, sample_inputs(devices=[one]))
    assert [p.name for p in paths[1:]] == ["one-revenue.png", "one-bars.png"]
    text = out.read_text(encoding="utf-8")
    assert "a single point compares nothing" in text
    assert "1 device from 1 result file." in text


def test_report_without_money_says_why_there_is_no_revenue_plot(tmp_path):
    out = tmp_path / "r.html"
    paths = report.write_report(out, sample_inputs(curves=(), market=()))
    text = out.read_text(encoding="utf-8")
    assert "no device has a mining figure to price" in text
    assert "no market inputs were given" in text
    assert len(paths) == 3  # page, scatter, bars


def test_report_path_must_be_html(tmp_path):
    with pytest.raises(BenchError, match=r"should end in \.html"):
        report.write_report(tmp_path / "report.pdf", sample_inputs())


def test_a_crossover_beyond_the_plotted_prices_is_named_not_drawn(monkeypatch):
    figures = drawn_figures(monkeypatch)
    inputs = sample_inputs()
    far = [dataclasses.replace(c, crossover_btc_usd=1e9) for c in inputs.curves]
    plot = report.plot_revenue_vs_btc(far, 0.15, 95000.0)
    assert plot.png is not None
    texts = [t.get_text() for t in figures[0].axes[0].texts]
    assert "GPU One flip $1B >" in texts and not any(t.startswith("GPU One flip $1B") and t != "GPU One flip $1B >"
                                                     for t in texts)
    assert "GPU One: mining pays more than AI only above BTC $1B (beyond the plotted prices)" in plot.missing


def test_the_verdict_opens_the_page_one_line_per_device(tmp_path):
    lines = ["GPU One: AI inference earns 3x more per kWh than mining", "CPU Two: <mining> & more"]
    out = tmp_path / "report.html"
    report.write_report(out, sample_inputs(verdict=lines))
    page = out.read_text(encoding="utf-8")
    assert page.index('id="verdict"') < page.index('id="comparison"') < page.index('id="plot-')
    assert page.index('id="verdict"') < page.index("<h2")  # nothing comes before the answer
    verdict = page[page.index('id="verdict"'):page.index('id="comparison"')]
    assert verdict.count("<li>") == 2 and "CPU Two: &lt;mining&gt; &amp; more" in verdict


@pytest.mark.parametrize("value, label", [
    (50_000, "$50k"), (100_000, "$100k"), (1_500_000, "$1.5M"), (125_000, "$125k"), (999_999.9, "$1M"),
    (2, "$2"), (0.05, "$0.05"), (0.143, "$0.143"), (1e-6, "$0.000001"), (-0.1, "-$0.1"), (0, "$0"),
])
def test_dollar_tick_labels_are_plain(value, label):
    assert axes.usd_label(value) == label


@pytest.mark.parametrize("value, label", [
    (5e10, "50 G"), (2.05e7, "20.5 M"), (4.2e5, "420 k"), (30, "30"), (0.9, "0.9"), (1e12, "1 T"),
])
def test_si_tick_labels_are_plain(value, label):
    assert axes.si_label(value) == label


def test_no_tick_formatter_writes_e_notation():
    values = [10.0 ** k * m for k in range(-9, 16) for m in (1, 2.5, 5)]
    for label in (axes.usd_label, axes.si_label, axes.plain_number):
        assert not [v for v in values if "e" in label(v).lower().replace("$", "")], label


def drawn_figures(monkeypatch):
    """Capture the figures the plot functions draw instead of only their PNG bytes."""
    figures = []

    def keep(figure):
        figure.canvas.draw()
        figures.append(figure)
        return plots.PNG_STAND_IN

    monkeypatch.setattr(plots, "_png", keep)
    return figures


plots.PNG_STAND_IN = PNG_MAGIC  # what a captured plot returns as its PNG


def tick_texts(axis):
    return [t.get_text() for t in axis.get_ticklabels() if t.get_text()]


def test_the_flip_is_marked_on_a_dollar_axis(monkeypatch):
    figures = drawn_figures(monkeypatch)
    curves = sample_curves(sample_devices())
    plots.plot_revenue_vs_btc(curves, POWER_COST, 95000.0)
    [figure] = figures
    revenue_ax, profit_ax = figure.axes
    assert profit_ax.xaxis.get_major_formatter()(95000.0, 0) == "$95k"
    ticks = tick_texts(profit_ax.xaxis)
    assert ticks and all(t.startswith("$") and "e" not in t for t in ticks)
    assert all(t.lstrip("-").startswith("$") for t in tick_texts(revenue_ax.yaxis) + tick_texts(profit_ax.yaxis))
    texts = [t.get_text() for t in revenue_ax.texts]
    gpu = next(c for c in curves if c.device == "GPU One")
    assert f"GPU One flip {axes.usd_label(gpu.crossover_btc_usd)}" in texts
    assert any(line.get_label().startswith("power cost $0.1/kWh") for line in revenue_ax.lines)
    assert any(line.get_label() == "scenario BTC price $95k" for line in revenue_ax.lines)
    # the profit panel: a zero-profit price within the plotted prices is annotated in dollars
    odd = next(c for c in curves if c.device == "Odd Three")
    assert f"Odd Three break-even {axes.usd_label(odd.zero_profit_btc_usd)}" in [t.get_text() for t in profit_ax.texts]


def test_datasheet_asics_are_bars_labelled_and_styled_apart(monkeypatch):
    figures = drawn_figures(monkeypatch)
    inputs = sample_inputs(asics=sample_asics())
    datasheet = plots.datasheet_bars(inputs.comparison)
    assert datasheet and all(a.label.startswith(("Antminer", "Whatsminer", "Avalon")) for a in datasheet)
    plots.plot_workload_bars(inputs.devices, datasheet)
    [figure] = figures
    mining = next(ax for ax in figure.axes if ax.get_title() == "Mining (SHA-256d)")
    labels = tick_texts(mining.xaxis)
    assert f"{datasheet[0].label}\n(datasheet)" in labels
    assert "GPU One\n(measured)" in labels and "CPU Two\n(estimated)" in labels
    bars = dict(zip(labels, mining.patches))
    assert bars[f"{datasheet[0].label}\n(datasheet)"].get_hatch() == ".."
    assert bars["CPU Two\n(estimated)"].get_hatch() == "//"
    assert bars["GPU One\n(measured)"].get_hatch() is None
    assert mining.get_yscale() == "log"  # CPU to ASIC spans five orders of magnitude
    assert all("e" not in t for t in tick_texts(mining.yaxis))
    # without --with-asics there are no datasheet bars
    assert plots.datasheet_bars(sample_inputs().comparison) == []


def run_report(tmp_path, *extra):
    results = tmp_path / "results"
    results.mkdir(parents=True, exist_ok=True)
    write(results / "gpu.json", make_result("Card A", mine=(2.0e7, 2.1e7, 2.2e7), infer=(30.0, 31.0, 32.0)))
    write(results / "cpu.json", make_result("Test CPU", kind="cpu", mine=(4.0e5, 4.2e5, 4.4e5),
                                            infer=(0.8, 0.9, 1.0), energy_kind="estimated"))
    out = tmp_path / "report.html"
    cli_module.cli.add_command(report_command)
    with pytest.raises(SystemExit) as exit_info:
        cli_module.main(["report", str(results), "--out", str(out), *extra])
    return exit_info.value.code, out


def test_cumulative_profit_plot_only_with_months(tmp_path, capsys):
    code, out = run_report(tmp_path / "without")
    assert code == 0
    assert not out.with_name("report-horizon.png").exists() and 'id="plot-horizon"' not in out.read_text()
    code, out = run_report(tmp_path / "with", "--months", "24", "--card-price", "Card A=25000")
    assert code == 0
    assert out.with_name("report-horizon.png").read_bytes().startswith(PNG_MAGIC)
    text = out.read_text(encoding="utf-8")
    assert 'id="img-horizon"' in text and "over 24 months" in text
    capsys.readouterr()
    code, _ = run_report(tmp_path / "bad", "--months", "0")
    assert code == 2 and "--months must be a whole number" in capsys.readouterr().err


def test_cumulative_profit_lines_are_the_horizons(monkeypatch):
    from bench.economics import rows_for_device
    from bench.market import load_scenario

    figures = drawn_figures(monkeypatch)
    scenario = load_scenario(None)
    devices = sample_devices()[:2]
    rows = {d.slug: rows_for_device(d, scenario, card_usd=1000.0) for d in devices}
    series = report.horizon_series(devices, rows, scenario, 12)
    plot = plots.plot_cumulative_profit(series, 12)
    assert plot.png is not None
    [figure] = figures
    for ax, one in zip(figure.axes, series):
        assert ax.get_title() == one.device
        lines = {line.get_label().split(" (")[0]: line for line in ax.lines if not line.get_label().startswith("_")}
        mining = lines["mining"]
        assert list(mining.get_xdata()) == list(range(13))
        assert mining.get_ydata()[0] == -1000.0  # starts at minus the card price
        assert mining.get_ydata()[-1] == pytest.approx(one.mining.cumulative_profit_usd)
        assert lines["switching"].get_ydata()[-1] == pytest.approx(one.switch.cumulative_profit_usd)
        assert one.switch.cumulative_profit_usd >= max(one.mining.cumulative_profit_usd, one.ai.cumulative_profit_usd)


def test_a_note_several_rows_share_is_written_once_with_their_names(tmp_path):
    from bench.economics import rows_for_device
    from bench.market import load_scenario

    devices, scenario = sample_devices(), load_scenario(None)
    comparison = build_comparison(devices, economics={d.slug: rows_for_device(d, scenario) for d in devices})
    inputs = sample_inputs(devices=devices, comparison=comparison)
    shared = [n for n in comparison.rows[0].notes if all(n in r.notes for r in comparison.rows[1:])]
    assert shared  # e.g. "mine economics: no idle baseline in the result: idle hours drawn as 0 W"
    out = tmp_path / "report.html"
    report.write_report(out, inputs)
    text = out.read_text(encoding="utf-8")
    for note in shared:
        assert text.count(html.escape(note)) == 1
        assert f"{', '.join(r.label for r in comparison.rows)}: {html.escape(note)}" in text


def test_every_energy_kind_but_measured_is_a_hatched_bar():
    from bench.energy import EnergyKind

    for kind in EnergyKind:
        hatch = plots._BAR_STYLES[kind][2]
        assert (hatch is None) == (kind == EnergyKind.MEASURED), kind
