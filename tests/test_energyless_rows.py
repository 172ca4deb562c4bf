"""A miner whose firmware reports no power saves its hash rate alone (bench asic): such a file
loads, ranks as a row without a per-joule figure that says why, and is not priced per kWh."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))  # tests/fixtures, whatever pytest's import mode

from fixtures.synthetic import make_result  # noqa: E402

from bench import economics as econ  # noqa: E402
from bench.compare import Loaded, build_comparison, merge_devices  # noqa: E402
from bench.errors import BenchError  # noqa: E402
from bench.market import load_scenario  # noqa: E402
from bench.results import parse_result  # noqa: E402


def hash_rate_only(document: dict) -> dict:
    """What bench asic writes for a miner with no power figure: rates, no joules anywhere."""
    for entry in (document["workloads"][0], *document["workloads"][0]["phases"]):
        entry.update(per_joule=None, joules=None, watts=None, energy_kind=None,
                     energy_source="none: the firmware reports no power")
        entry["spread"] = {"rate_per_s": entry["spread"]["rate_per_s"]}
        for window in entry.get("windows", []):
            window.update(joules=None, per_joule=None)
    document["idle"] = None
    return document


def test_a_hash_rate_only_file_loads_ranks_with_its_reason_and_is_not_priced():
    doc = hash_rate_only(make_result("Antminer S9", kind="asic", preset="asic", infer=None, train=None,
                                     mine=(1e10, 1e10, 1e10)))
    [device] = merge_devices([Loaded("s9.json", parse_result(doc))])
    assert "mine" not in device.figures
    assert device.not_run["mine"].startswith("no energy figure (none: the firmware reports no power); 1 Thashes/s")
    comparison = build_comparison([device], economics={device.slug: econ.rows_for_device(device, load_scenario())})
    cell = comparison.rows[0].cells["hashes_per_joule"]
    assert cell.value is None and "no energy figure" in cell.note
    [line] = econ.unpriced(device, load_scenario())
    assert line.startswith("Antminer S9 mine: not priced: no energy figure")


def test_an_energy_kind_without_per_joule_figures_is_damaged():
    doc = make_result("Card A")
    doc["workloads"][0]["per_joule"] = None
    with pytest.raises(BenchError, match="an energy kind needs per_joule and joules"):
        parse_result(doc)
