"""bench.compare: merging files per device, comparability, sorting, ratios, spread verdicts, formats."""

from __future__ import annotations

import csv
import io
import json
import sys
from dataclasses import replace
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))  # tests/fixtures, whatever pytest's import mode

from fixtures.synthetic import make_result  # noqa: E402

from bench import compare  # noqa: E402
from bench.compare import Loaded, build_comparison, merge_devices  # noqa: E402
from bench import economics as econ  # noqa: E402
from bench.errors import BenchError  # noqa: E402
from bench.market import load_scenario  # noqa: E402
from bench.results import parse_result  # noqa: E402


def loaded(*documents):
    return [Loaded(f"r{i}.json", parse_result(d)) for i, d in enumerate(documents)]


def money(workload="mine", **figures):
    """An economics row of ``workload`` with ``figures`` set as given."""
    scenario = load_scenario()
    if workload == "mine":
        row = econ.mining_row("row", 1e8, 100.0, scenario, source="measured")
    else:
        row = econ.ai_row("row", 10.0, 100.0, scenario, workload=workload, source="measured")
    return replace(row, **figures)


def compare_docs(*documents, **kwargs):
    return build_comparison(merge_devices(loaded(*documents)), **kwargs)


def row(comparison, label):
    return next(r for r in comparison.rows if r.label == label)


def test_two_files_of_one_device_become_one_row_with_pooled_windows():
    a = make_result("Card A", created_utc="t1", mine=(1.0e6, 1.1e6, 1.2e6))
    b = make_result("Card A", created_utc="t2", mine=(1.3e6, 1.4e6, 1.5e6))
    [device] = merge_devices(loaded(a, b))
    figure = device.figures["mine"]
    assert figure.windows == 6
    assert figure.per_joule == pytest.approx(1.25e6)  # median of the six windows
    assert (figure.per_joule_spread.min, figure.per_joule_spread.max) == (pytest.approx(1.0e6), pytest.approx(1.5e6))
    assert device.paths == ("r0.json", "r1.json")
    comparison = build_comparison([device])
    assert [r.label for r in comparison.rows] == ["Card A"]


def test_a_single_file_keeps_its_own_median():
    doc = make_result("Card A", mine=(3.0e6, 1.0e6, 2.5e6))
    [device] = merge_devices(loaded(doc))
    assert device.figures["mine"].per_joule == doc["workloads"][0]["per_joule"] == 2.5e6


def test_economics_of_a_merged_device_price_the_merged_medians():
    a = make_result("Card A", created_utc="t1", mine=(1.0e6, 1.0e6, 1.0e6))
    b = make_result("Card A", created_utc="t2", mine=(3.0e6, 3.0e6, 3.0e6))
    [device] = merge_devices(loaded(a, b))
    mine = next(r for r in econ.rows_for_device(device, load_scenario()) if r.workload == "mine")
    assert mine.hashes_per_joule == pytest.approx(2.0e6)


def _rows_by_label(devices):
    return {d.label: d for d in devices}


def test_files_of_one_device_from_different_code_stay_separate_rows_marked_not_comparable():
    a = make_result("Card A", created_utc="2026-01-01T00:00:00Z")
    b = make_result("Card A", created_utc="2026-02-01T00:00:00Z", sources={"mine": "f" * 64})
    devices = merge_devices(loaded(a, b))
    assert [d.label for d in devices] == ["Card A (2026-02-01 00:00, quick)", "Card A (2026-01-01 00:00, quick)"]
    assert "mine: different workload code" in devices[1].note
    comparison = build_comparison(devices + merge_devices(loaded(make_result("Card B", created_utc="t3",
                                                                                sources={"mine": "f" * 64}))))
    older = row(comparison, "Card A (2026-01-01 00:00, quick)").cells["hashes_per_joule"]
    assert older.verdict == compare.NOT_COMPARABLE and "different workload code" in older.note


def test_files_of_one_device_with_other_settings_or_preset_stay_separate_rows():
    a = make_result("Card A", created_utc="2026-01-01T00:00:00Z")
    b = make_result("Card A", created_utc="2026-01-02T00:00:00Z", configs={"infer": {"model": "tiny", "batch_size": 64}})
    devices = merge_devices(loaded(a, b))
    assert len(devices) == 2 and "settings differ (batch_size unset vs 64)" in devices[1].note  # older vs newest
    c = make_result("Card A", created_utc="2026-01-03T00:00:00Z", preset="standard")
    devices = merge_devices(loaded(a, c))
    assert "preset quick vs standard" in devices[1].note
    comparison = build_comparison(devices)
    # presets grouped, newest first: here one row each
    assert [r.label for r in comparison.rows] == [d.label for d in devices]


def test_measured_and_estimated_energy_of_one_device_are_not_merged():
    a = make_result("Card A", created_utc="t1")
    b = make_result("Card A", created_utc="t2", energy_kind="estimated")
    devices = merge_devices(loaded(a, b))
    assert len(devices) == 2 and "energy measured vs estimated" in devices[1].note


def test_files_that_agree_merge_even_beside_one_that_does_not():
    a = make_result("Card A", created_utc="2026-01-01T00:00:00Z")
    b = make_result("Card A", created_utc="2026-01-02T00:00:00Z")
    c = make_result("Card A", created_utc="2026-01-03T00:00:00Z", preset="standard")
    devices = merge_devices(loaded(a, b, c))
    assert sorted(len(d.paths) for d in devices) == [1, 2]


def test_the_same_run_given_twice_is_refused():
    a = make_result("Card A")
    with pytest.raises(BenchError, match="r1.json: the same run as r0.json"):
        merge_devices(loaded(a, a))


def test_no_files_is_an_error():
    with pytest.raises(BenchError, match="no result files"):
        merge_devices([])


def test_devices_sort_best_first_with_ratio_to_the_best():
    comparison = compare_docs(
        make_result("Slow", mine=(1.0e6, 1.0e6, 1.0e6)),
        make_result("Fast", mine=(4.0e6, 4.0e6, 4.0e6)),
        make_result("Mid", mine=(2.0e6, 2.0e6, 2.0e6)),
    )
    assert [r.label for r in comparison.rows] == ["Fast", "Mid", "Slow"]
    cells = [r.cells["hashes_per_joule"] for r in comparison.rows]
    assert [c.ratio_to_best for c in cells] == [1.0, 0.5, 0.25]
    assert cells[0].verdict == compare.BEST


def test_sorting_by_another_column_reorders_rows():
    comparison = compare_docs(
        make_result("A", mine=(4e6, 4e6, 4e6), train=(1.0, 1.0, 1.0)),
        make_result("B", mine=(1e6, 1e6, 1e6), train=(3.0, 3.0, 3.0)),
        sort_key="train_tokens_per_joule",
    )
    assert [r.label for r in comparison.rows] == ["B", "A"]


def test_lower_is_better_columns_sort_ascending():
    economics = {
        "cuda0-a": [money(breakeven={"btc_usd_zero_profit": 90000.0})],
        "cuda0-b": [money(breakeven={"btc_usd_zero_profit": 30000.0})],
    }
    comparison = compare_docs(make_result("A"), make_result("B"), economics=economics, sort_key="breakeven_btc_usd")
    assert [r.label for r in comparison.rows] == ["B", "A"]
    assert row(comparison, "B").cells["breakeven_btc_usd"].verdict == compare.BEST


def test_rows_without_the_sort_value_come_last():
    comparison = compare_docs(make_result("None", mine=None), make_result("Some"))
    assert [r.label for r in comparison.rows] == ["Some", "None"]
    assert row(comparison, "None").cells["hashes_per_joule"].value is None


def test_unknown_sort_column_is_a_one_line_error():
    with pytest.raises(BenchError, match="unknown sort column 'speed'"):
        compare_docs(make_result("A"), sort_key="speed")


def test_difference_beyond_the_spread_is_called_so():
    comparison = compare_docs(
        make_result("A", mine=(2.0e6, 2.1e6, 2.2e6)),
        make_result("B", mine=(1.0e6, 1.1e6, 1.2e6)),
    )
    assert row(comparison, "B").cells["hashes_per_joule"].verdict == compare.BEYOND_SPREAD


def test_difference_inside_the_spread_is_called_so():
    comparison = compare_docs(
        make_result("A", mine=(1.0e6, 1.5e6, 2.0e6)),
        make_result("B", mine=(1.1e6, 1.4e6, 1.9e6)),
    )
    assert row(comparison, "B").cells["hashes_per_joule"].verdict == compare.WITHIN_SPREAD


def test_too_few_windows_gives_no_verdict():
    comparison = compare_docs(make_result("A", mine=(2.0e6, 2.0e6)), make_result("B", mine=(1.0e6, 1.0e6)))
    assert row(comparison, "B").cells["hashes_per_joule"].verdict == compare.FEW_WINDOWS


def test_device_from_other_workload_code_is_marked_not_comparable_with_the_reason():
    comparison = compare_docs(
        make_result("A", mine=(1e6, 1e6, 1e6)),
        make_result("B", mine=(1e6, 1e6, 1e6)),
        make_result("Odd", mine=(9e6, 9e6, 9e6), sources={"mine": "9" * 64}),
    )
    odd = row(comparison, "Odd").cells["hashes_per_joule"]
    assert odd.verdict == compare.NOT_COMPARABLE
    assert "different workload code (source 99999999 vs mmmmmmmm)" in odd.note
    assert odd.ratio_to_best is None
    # the odd row's higher figure does not become the best
    assert row(comparison, "A").cells["hashes_per_joule"].verdict == compare.BEST
    assert any("mine: compared against the runs of A, B" in n for n in comparison.notes)


def test_other_preset_is_not_comparable():
    # (Another schema version never reaches compare: the loader refuses it, tests/test_compare_cli.py.)
    comparison = compare_docs(make_result("A"), make_result("B"), make_result("C", preset="long"))
    assert "preset long vs quick" in row(comparison, "C").cells["decode_tokens_per_joule"].note


def test_tokens_of_another_model_are_not_comparable_but_hashes_still_are():
    comparison = compare_docs(
        make_result("A"), make_result("B"),
        make_result("Big", configs={"infer": {"model": "llama-8b"}, "train": {"model": "llama-8b"}}),
    )
    big = row(comparison, "Big").cells
    assert big["decode_tokens_per_joule"].verdict == compare.NOT_COMPARABLE
    assert 'model "llama-8b" vs "tiny"' in big["decode_tokens_per_joule"].note
    assert big["hashes_per_joule"].verdict != compare.NOT_COMPARABLE


def test_a_model_given_as_its_shape_is_named_by_its_name():
    shape = {"name": "llama-1b", "n_layers": 16}
    comparison = compare_docs(
        make_result("A", configs={"infer": {"model": shape}}), make_result("B", configs={"infer": {"model": shape}}),
        make_result("C", configs={"infer": {"model": {**shape, "n_layers": 2}}}),
        make_result("D", configs={"infer": {"model": {"name": "tiny", "n_layers": 2}}}),
    )
    assert row(comparison, "C").cells["decode_tokens_per_joule"].note == "model settings differ"
    assert row(comparison, "D").cells["decode_tokens_per_joule"].note == 'model "tiny" vs "llama-1b"'
    assert row(comparison, "B").cells["decode_tokens_per_joule"].verdict != compare.NOT_COMPARABLE


def test_mixing_measured_and_estimated_devices_is_noted():
    comparison = compare_docs(make_result("A"), make_result("B", energy_kind="estimated"))
    assert row(comparison, "B").cells["hashes_per_joule"].energy_kind == "estimated"
    assert any("mixes measured and estimated" in n for n in comparison.notes)


def test_failed_workload_shows_why_it_has_no_figure():
    comparison = compare_docs(make_result("A", failed={"train": "out of memory"}))
    cell = row(comparison, "A").cells["train_tokens_per_joule"]
    assert cell.value is None and cell.note == "failed: out of memory"


def test_economics_columns_take_the_workload_verdict():
    economics = {
        "cuda0-a": [money(revenue_usd_per_kwh=0.2)],
        "cuda0-b": [money(revenue_usd_per_kwh=0.1)],
    }
    comparison = compare_docs(
        make_result("A", mine=(2.0e6, 2.1e6, 2.2e6)), make_result("B", mine=(1.0e6, 1.05e6, 1.1e6)),
        economics=economics,
    )
    cell = row(comparison, "B").cells["mining_usd_per_kwh"]
    assert cell.ratio_to_best == pytest.approx(0.5)
    assert cell.verdict == compare.BEYOND_SPREAD
    assert cell.spread.min == pytest.approx(0.1 / 1.05)  # the per-joule spread, rescaled


def test_asic_datasheet_rows_are_labelled_and_have_no_spread_verdict():
    asic = money(name="Antminer S21", source="datasheet", hashes_per_joule=5.7e10, revenue_usd_per_kwh=1.5,
                 source_detail="datasheet (2023): vendor sheet")
    comparison = compare_docs(make_result("A"), economics={"cuda0-a": []}, asics=[asic])
    s21 = row(comparison, "Antminer S21").cells["hashes_per_joule"]
    assert s21.energy_kind == compare.DATASHEET and s21.verdict == compare.BEST
    assert row(comparison, "A").cells["hashes_per_joule"].verdict == compare.BEST_RUN
    assert row(comparison, "A").cells["hashes_per_joule"].ratio_to_best == pytest.approx(1.1e6 / 5.7e10)
    assert comparison.rows[0].kind == "asic"


def test_runs_are_judged_against_the_best_run_when_a_datasheet_row_is_best():
    asic = money(name="S21", source="datasheet", hashes_per_joule=5.7e10)
    comparison = compare_docs(
        make_result("A", mine=(2.0e6, 2.1e6, 2.2e6)), make_result("B", mine=(1.0e6, 1.1e6, 1.2e6)), asics=[asic],
    )
    assert row(comparison, "B").cells["hashes_per_joule"].verdict == compare.BEYOND_SPREAD


def two_device_comparison():
    return compare_docs(
        make_result("A", mine=(1.0e6, 1.1e6, 1.3e6)),
        make_result("B", mine=(3.3e6, 3.1e6, 3.7e6), failed={"infer": "no model"}),
    )


def test_csv_parses_back_to_the_same_numbers():
    comparison = two_device_comparison()
    parsed = list(csv.DictReader(io.StringIO(compare.to_csv(comparison))))
    assert [p["device"] for p in parsed] == [r.label for r in comparison.rows]
    for line, r in zip(parsed, comparison.rows):
        for key, cell in r.cells.items():
            assert (float(line[key]) if line[key] else None) == cell.value
            assert (float(line[key + "_ratio_to_best"]) if line[key + "_ratio_to_best"] else None) == cell.ratio_to_best


def test_json_parses_back_to_the_same_numbers():
    comparison = two_device_comparison()
    parsed = json.loads(compare.to_json(comparison))
    assert parsed["sort"] == "hashes_per_joule"
    for line, r in zip(parsed["rows"], comparison.rows):
        assert line["device"] == r.label
        for key, cell in r.cells.items():
            assert line["cells"][key]["value"] == cell.value
            assert line["cells"][key]["verdict"] == cell.verdict


def test_markdown_has_a_row_per_device_and_says_what_the_marks_mean():
    text = compare.to_markdown(two_device_comparison())
    table = [line for line in text.splitlines() if line.startswith("| ")]
    assert len(table) == 3  # header and two devices
    assert table[1].startswith("| B | 3.3 M")
    assert "beyond spread: the min-max ranges do not overlap" in text
    assert "B: infer failed: no model" in text


def test_a_best_money_cell_of_work_that_loses_money_is_not_highlighted():
    losing = money(revenue_usd_per_kwh=0.2, profit_usd_per_day=-1.0)
    paying = money(revenue_usd_per_kwh=0.1, profit_usd_per_day=1.0)
    comparison = compare_docs(make_result("A"), make_result("B"),
                              economics={"cuda0-a": [losing], "cuda0-b": [paying]})
    a, b = row(comparison, "A").cells["mining_usd_per_kwh"], row(comparison, "B").cells["mining_usd_per_kwh"]
    assert a.verdict == compare.BEST and a.loses_money and not a.highlighted
    assert not b.loses_money


def test_the_compact_table_fits_100_columns_and_wide_shows_every_column():
    from rich.console import Console

    from bench.commands.compare import COMPACT_COLUMNS, rich_table
    from bench.market import load_scenario as scenario_of

    comparison = compare_docs(make_result("A card with a long name"), make_result("B"),
                              economics={"cuda0-a-card-with-a-long-name": [money()], "cuda0-b": [money()]})
    console = Console(width=100, record=True)
    console.print(rich_table(comparison, scenario_of(), wide=False))
    compact = console.export_text()
    assert max(len(line) for line in compact.splitlines()) <= 100
    assert "payback" not in compact.split("Market:")[0]  # a --wide column
    wide = rich_table(comparison, scenario_of(), wide=True)
    assert len(wide.columns) == 1 + len(comparison.columns) > 1 + len(COMPACT_COLUMNS)


def test_a_measured_asics_firmware_figure_ranks_beside_gpu_runs():
    # bench asic writes preset "asic" and its own code's hash: neither changes what a hash is
    asic = make_result("Antminer S19", kind="asic", preset="asic", infer=None, train=None, energy_kind="reported",
                       sources={"mine": "a" * 64}, mine=(3.0e10, 3.1e10, 3.2e10))
    comparison = compare_docs(make_result("A"), make_result("B"), asic)
    cell = row(comparison, "Antminer S19").cells["hashes_per_joule"]
    assert cell.verdict == compare.BEST and cell.energy_kind == "reported" and not cell.note
    gpu = row(comparison, "A").cells["hashes_per_joule"]
    assert gpu.verdict != compare.NOT_COMPARABLE and gpu.ratio_to_best < 1e-4
    assert "J/TH" in compare.describe_cell(cell, comparison.column("hashes_per_joule"))
