"""The report opened in a real browser (headless Chromium): the table and every plot render, and
the page logs no console error and fetches nothing.

Needs Debian's ``chromium`` package (.ci/run installs it). Set JOULEBENCH_SCREENSHOT_DIR to keep
the screenshot for a person to look at.
"""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))  # tests/fixtures, whatever pytest's import mode

from fixtures.chromium import Chromium, find_chromium  # noqa: E402
from fixtures.synthetic import make_result, write  # noqa: E402

from bench import cli as cli_module  # noqa: E402
from bench.commands.compare import compare, report  # noqa: E402
from bench.compare import column_keys  # noqa: E402

CHROMIUM = find_chromium()
pytestmark = [pytest.mark.slow, pytest.mark.skipif(
    CHROMIUM is None, reason="no chromium on PATH: install Debian's package (apt-get install -y chromium)"
)]


@pytest.fixture(scope="module")
def rendered(tmp_path_factory):
    """`bench report` over three devices (one estimated, one without training) plus ASIC rows and a
    24-month horizon, opened in Chromium; yields the page and the report's paths."""
    folder = tmp_path_factory.mktemp("browser")
    results = folder / "results"
    results.mkdir()
    write(results / "gpu.json", make_result("Card A", mine=(2.0e7, 2.1e7, 2.2e7), infer=(30.0, 31.0, 32.0)))
    write(results / "gpu2.json", make_result("Card B", mine=(1.4e7, 1.5e7, 1.7e7), infer=(20.0, 26.0, 24.0),
                                             train=None))
    write(results / "cpu.json", make_result("Test CPU", kind="cpu", mine=(4.0e5, 4.2e5, 4.4e5),
                                            infer=(0.8, 0.9, 1.0), energy_kind="estimated"))
    out = folder / "report.html"
    cli_module.cli.add_command(compare)
    cli_module.cli.add_command(report)
    with pytest.raises(SystemExit) as exit_info:
        cli_module.main(["report", str(results), "--out", str(out), "--with-asics", "--card-price", "Card A=25000",
                           "--months", "24"])
    assert exit_info.value.code == 0
    with Chromium(CHROMIUM) as browser:
        page = browser.open_page(out.as_uri())
        screenshot = page.screenshot(folder / "report.png")
        keep = os.environ.get("JOULEBENCH_SCREENSHOT_DIR")
        if keep:
            Path(keep).mkdir(parents=True, exist_ok=True)
            shutil.copy(screenshot, Path(keep) / "report.png")
        yield page, out, screenshot


def test_every_plot_is_decoded_and_shown(rendered):
    page, out, _ = rendered
    images = page.evaluate(
        "[...document.querySelectorAll('img.plot')].map(i => ({id: i.id, ok: i.complete && i.naturalWidth > 0,"
        " width: i.getBoundingClientRect().width, height: i.getBoundingClientRect().height}))"
    )
    pngs = sorted(out.parent.glob("report-*.png"))
    assert [i["id"] for i in images] == ["img-scatter", "img-revenue", "img-bars", "img-horizon"]
    assert len(pngs) == len(images)
    for image in images:
        assert image["ok"], f"{image['id']} did not decode"
        assert image["width"] > 300 and image["height"] > 150, f"{image['id']} is not laid out visibly: {image}"


def test_the_comparison_table_has_every_device_and_asic(rendered):
    page, _, _ = rendered
    rows = page.evaluate(
        "[...document.querySelectorAll('#comparison-table tbody tr')].map(r => r.cells[0].innerText.split('\\n')[0])"
    )
    assert {"Card A", "Card B", "Test CPU"} <= set(rows)
    assert any(r.startswith("Antminer") for r in rows)
    headers = page.evaluate("document.querySelectorAll('#comparison-table thead th').length")
    assert headers == 1 + len(column_keys())  # device + every column
    visible = page.evaluate("document.querySelector('#comparison-table').getBoundingClientRect().height")
    assert visible > 100


def test_page_logs_no_console_error_and_fetches_nothing(rendered):
    page, out, _ = rendered
    assert page.problems() == []
    fetched = [u for u in page.requested_urls() if not u.startswith("data:") and u != out.as_uri()]
    assert fetched == []


def test_screenshot_is_taken(rendered):
    _, _, screenshot = rendered
    data = screenshot.read_bytes()
    assert data.startswith(b"\x89PNG") and len(data) > 50_000


def test_the_verdict_is_at_the_top_and_each_energy_source_listed_once(rendered):
    page, _, _ = rendered
    tops = page.evaluate(
        "['#verdict', '#comparison-table', 'img.plot'].map(s => document.querySelector(s).getBoundingClientRect().top)"
    )
    assert tops == sorted(tops)  # the verdict above the table, the table above the plots
    lines = page.evaluate("[...document.querySelectorAll('#verdict li')].map(li => li.innerText)")
    assert len(lines) == 3 and all(line.split(":")[0] in ("Card A", "Card B", "Test CPU") for line in lines)
    sources = page.evaluate("[...document.querySelectorAll('#energy-sources li')].map(li => li.innerText)")
    assert len(sources) == len(set(sources)) > 2  # the two test meters and the datasheets, once each
    body = page.evaluate("document.body.innerText")
    assert all(body.count(s.split(" ", 1)[1]) == 1 for s in sources)
