"""bench.report: a self-contained HTML page and PNG plots, each figure tagged with its energy source."""

from __future__ import annotations

import base64
import re
import sys
from html.parser import HTMLParser
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))  # tests/fixtures, whatever pytest's import mode

from fixtures.synthetic import make_result  # noqa: E402

from bench import report  # noqa: E402
from bench.compare import Loaded, build_comparison, merge_devices  # noqa: E402
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


def sample_inputs(**kwargs):
    devices = merge_devices([
        Loaded("results/gpu.json", parse_result(make_result("GPU One", mine=(2.0e7, 2.1e7, 2.2e7), infer=(30, 31, 32)))),
        Loaded("results/cpu.json", parse_result(make_result("CPU Two", kind="cpu", mine=(4e5, 4.1e5, 4.2e5), infer=(0.8, 0.9, 1.0),
                                               train=None, energy_kind="estimated"))),
        Loaded("results/odd.json", parse_result(make_result("Odd Three", mine=(1e7, 1e7, 1e7), infer=None, train=None))),
    ])
    xs = [10000.0 * i for i in range(1, 21)]
    curves = []
    for d in devices:
        ys = [d.figures["mine"].per_joule * 1e-12 * x for x in xs]
        ai = d.figures["infer"].per_joule * 0.1 if "infer" in d.figures else None
        # ys is linear in x from 0, so it reaches the AI level at x = ai / slope
        crossing = ai / (d.figures["mine"].per_joule * 1e-12) if ai is not None else None
        curves.append(report.RevenueCurve(d.label, xs, ys, ai, crossing, d.figures["mine"].energy_kind))
    defaults = dict(
        comparison=build_comparison(devices), devices=devices, curves=curves, electricity_usd_per_kwh=0.1,
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


def test_every_plot_lists_each_figures_energy_source(written):
    _, _, text = written
    for key in ("scatter", "revenue", "bars"):
        section = text.split(f'id="plot-{key}"')[1].split("<h2")[0]
        assert "CPU Two, mine: <span class=\"kind estimated\">estimated</span> estimated: test meter" in section
        assert "GPU One, mine: <span class=\"kind measured\">measured</span> measured: test meter" in section


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


def test_a_crossover_beyond_the_plotted_prices_is_named_not_drawn(tmp_path):
    inputs = sample_inputs()
    far = [report.RevenueCurve(c.device, c.btc_usd, c.mining_usd_per_kwh, c.ai_usd_per_kwh, 1e9, c.energy_kind)
           for c in inputs.curves]
    plot = report.plot_revenue_vs_btc(far, 0.15, 95000.0)
    assert plot.png is not None
    assert "GPU One: mining pays more than AI only above BTC $1,000,000,000" in plot.missing


def test_the_verdict_opens_the_page_one_line_per_device(tmp_path):
    lines = ["GPU One: AI inference earns 3x more per kWh than mining", "CPU Two: <mining> & more"]
    out = tmp_path / "report.html"
    report.write_report(out, sample_inputs(verdict=lines))
    page = out.read_text(encoding="utf-8")
    assert page.index('id="verdict"') < page.index('id="comparison"')
    verdict = page[page.index('id="verdict"'):page.index('id="comparison"')]
    assert verdict.count("<li>") == 2 and "CPU Two: &lt;mining&gt; &amp; more" in verdict
