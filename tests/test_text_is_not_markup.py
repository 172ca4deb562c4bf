"""Text from result files (device names and the like) is drawn and printed as written: never
parsed as matplotlib mathtext nor as rich markup."""

from __future__ import annotations

import html
import json
import shutil
from pathlib import Path

import pytest
from rich.console import Console

from bench import report_run
from bench.cli import main
from bench.results import parse_result

NAME = "GPU $\\alpha$ $\\frac{$ [/bold] [link=https://example.invalid]x[/link] <script>alert(\"x\")</script> & 'q'"
SOURCE = Path(__file__).resolve().parent / "fixtures" / "results" / "vm" / "20261121T162105Z_cpu-amd-epyc.json"


@pytest.fixture
def hostile_result(tmp_path: Path) -> Path:
    document = json.loads(SOURCE.read_text(encoding="utf-8"))
    document["device"]["name"] = NAME
    path = tmp_path / "hostile.json"
    path.write_text(json.dumps(document), encoding="utf-8")
    return path


def _run(args: list[str], capsys, monkeypatch) -> tuple[int, str]:
    monkeypatch.setenv("COLUMNS", "200")
    try:
        code = main(args)
    except SystemExit as exc:
        code = exc.code
    out = capsys.readouterr()
    return code or 0, out.out + out.err


def test_report_draws_a_device_name_holding_dollar_math_and_escapes_it_in_html(hostile_result, tmp_path, capsys, monkeypatch):
    out = tmp_path / "report.html"
    code, output = _run(["report", str(hostile_result), "--out", str(out)], capsys, monkeypatch)
    assert code == 0, output
    text = out.read_text(encoding="utf-8")
    assert html.escape(NAME) in text  # the whole name, escaped once, wherever the page shows it
    assert "$\\alpha$" in text
    assert "<link" not in text and "<script" not in text and NAME not in text


def test_economics_prints_a_device_name_as_written(hostile_result, capsys, monkeypatch):
    code, output = _run(["economics", str(hostile_result), "--no-asics"], capsys, monkeypatch)
    assert code == 0, output
    assert "[/bold]" in output and "[link=https://example.invalid]x[/link]" in output
    assert "<script>" in output  # a terminal shows the name as written
    assert "\x1b]8;" not in output


def test_compare_prints_rich_markup_in_a_device_name_literally(hostile_result, capsys, monkeypatch):
    code, output = _run(["compare", str(hostile_result)], capsys, monkeypatch)
    assert code == 0, output
    assert "[/bold]" in output
    assert "[link=" in output
    assert "\x1b]8;" not in output


def test_run_summary_prints_the_device_name_as_written():
    document = json.loads(SOURCE.read_text(encoding="utf-8"))
    document["device"]["name"] = NAME
    console = Console(record=True, width=400, force_terminal=True)
    report_run.print_summary(console, parse_result(document))
    exported = console.export_text()
    assert "[/bold]" in exported and "[link=https://example.invalid]x[/link]" in exported
    assert "$\\alpha$" in exported
    console = Console(record=True, width=400, force_terminal=True)
    report_run.print_summary(console, parse_result(document))
    assert "\x1b]8;" not in "".join(seg.text for seg in console._record_buffer)
