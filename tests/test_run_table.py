"""The table `bench run` prints: one row per phase, medians with their min-max, sources below."""

from __future__ import annotations

import copy
import io
import json
from pathlib import Path

import pytest
from rich.console import Console

from bench import report_run
from bench.results import parse_result

QUICK = sorted((Path(__file__).parent / "fixtures" / "results" / "vm").glob("*.json"))[0]


@pytest.fixture
def document() -> dict:
    # Read, never written: tests do not touch the user's results/.
    return json.loads(QUICK.read_text(encoding="utf-8"))


def _printed(document: dict) -> str:
    console = Console(width=240, record=True, file=io.StringIO())
    report_run.print_summary(console, parse_result(document))
    return console.export_text()


def test_every_phase_of_every_finished_workload_has_a_row(document: dict) -> None:
    lines = _printed(document).splitlines()
    for workload in document["workloads"]:
        for phase in workload["phases"]:
            assert any(workload["name"] in line and f" {phase['name']} " in line for line in lines), phase["name"]


def test_a_row_shows_the_median_rate_with_its_window_range(document: dict) -> None:
    phase = document["workloads"][0]["phases"][0]
    rates = phase["spread"]["rate_per_s"]
    shown = f"{report_run.si(phase['rate_per_s'])}{phase['unit']} [{report_run.si(rates['min']).strip()}-" \
            f"{report_run.si(rates['max']).strip()}]"
    assert shown in _printed(document)


def test_energy_kind_is_shown_per_row_and_its_source_once_below(document: dict) -> None:
    text = _printed(document)
    source = document["workloads"][0]["energy_source"]
    assert text.count(source) == 1
    assert f"{document['workloads'][0]['energy_kind']} [1]" in text


def test_a_failed_workload_is_a_row_with_its_error(document: dict) -> None:
    failed = copy.deepcopy(document)
    failed["workloads"][1] = {"name": "infer", "status": "failed", "error": "out of memory at batch 1"}
    text = _printed(failed)
    assert "failed" in text and "out of memory at batch 1" in text


def test_the_idle_baseline_is_printed_with_its_kind(document: dict) -> None:
    idle = document["idle"]
    assert f"idle baseline: {idle['watts']:.1f} W over {idle['seconds']:.1f} s ({idle['energy_kind']})" in _printed(document)


def test_si_prefixes_keep_three_digits() -> None:
    assert report_run.si(37_938_631.5) == "37.9 M"
    assert report_run.si(5.02) == "5.02 "
    assert report_run.si(None) == "-"


def test_the_run_table_as_csv_carries_every_phase_in_full_precision(document: dict) -> None:
    import csv as csv_module

    text = report_run.summary_text(parse_result(document), "csv")
    rows = list(csv_module.DictReader(io.StringIO(text)))
    phases = [(w["name"], p["name"], p["rate_per_s"]) for w in document["workloads"] if w["status"] == "ok"
              for p in w["phases"]]
    assert [(r["workload"], r["phase"], float(r["rate_per_s"])) for r in rows] == phases
    assert report_run.summary_text(parse_result(document), "markdown").startswith("| workload | phase |")
