"""`bench compare` over real result files written by `bench run`, kept in tests/fixtures/results/
(never the user's results/).

These files track the schema the runner really writes, which synthetic fixtures could drift from.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bench import compare
from bench.commands.compare import load_devices
from bench.results import load_result

RESULTS = Path(__file__).resolve().parent / "fixtures" / "results"
FILES = sorted(RESULTS.rglob("*.json"))


PRESETS = sorted({load_result(f)["protocol"]["preset"] for f in FILES})


@pytest.mark.parametrize("preset", PRESETS)
def test_every_result_device_becomes_one_row_with_its_own_figures(preset):
    files = [f for f in FILES if load_result(f)["protocol"]["preset"] == preset]
    devices = load_devices([RESULTS], preset)
    comparison = compare.build_comparison(devices)
    slugs = {load_result(f)["device"]["slug"] for f in files}
    assert {r.slug for r in comparison.rows} == slugs
    for device in devices:
        if len(device.paths) != 1:
            continue
        document = load_result(device.paths[0])
        for entry in document["workloads"]:
            if entry["status"] == "ok":
                # one file: the merged median is the file's own headline figure
                assert device.figures[entry["name"]].per_joule == pytest.approx(entry["per_joule"], rel=1e-12)
                assert device.figures[entry["name"]].energy_kind == entry["energy_kind"]


@pytest.mark.parametrize("preset", PRESETS)
def test_real_results_render_in_every_format(preset):
    comparison = compare.build_comparison(load_devices([RESULTS], preset))
    parsed = json.loads(compare.to_json(comparison))
    assert len(parsed["rows"]) == len(comparison.rows)
    assert compare.to_csv(comparison).count("\n") == 1 + len(comparison.rows)
    assert compare.to_markdown(comparison).count("\n| ") == len(comparison.rows)  # header starts the text
