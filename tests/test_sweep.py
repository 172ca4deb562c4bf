"""Sensitivity sweeps: crossings found on the grid agree with the closed-form break-evens and,
plugged back in, give equal revenues; data and plots are written."""

from __future__ import annotations

import csv
import json

import pytest

from bench import economics as econ
from bench.errors import BenchError
from bench.market import load_scenario
from bench.sweep import parse_sweep, save_data, save_plot, sweep


@pytest.fixture
def scenario():
    return load_scenario("2026-01")


@pytest.fixture
def device_rows(scenario):
    # A GPU-like device: 3 GH/s mining at 300 W, 900 tokens/s decoding at 350 W.
    mining = econ.mining_row("gpu mine", 3e9, 300, scenario, source="user", device="gpu")
    ai = econ.ai_row("gpu infer", 900, 350, scenario, source="user", device="gpu")
    return list(econ.pair(mining, ai, scenario))


def rel(x, y):
    return abs(x - y) / abs(y)


@pytest.mark.parametrize("spec, expected", [
    ("btc_usd=20000:200000", ("btc_usd", 20000.0, 200000.0)),
    ("electricity_usd_per_kwh=0:0.3", ("electricity_usd_per_kwh", 0.0, 0.3)),
    ("difficulty=1e14:2e14", ("difficulty", 1e14, 2e14)),
])
def test_parse_sweep_reads_key_from_and_to(spec, expected):
    assert parse_sweep(spec) == expected


@pytest.mark.parametrize("spec, message", [
    ("btc_usd", "KEY=FROM:TO"),
    ("btc_usd=100", "KEY=FROM:TO"),
    ("price=1:2", "unknown market input 'price'"),
    ("btc_usd=5:1", "FROM must be less than TO"),
    ("btc_usd=0:1000", "btc_usd 0.0 is not allowed"),
    ("btc_usd=a:1000", "'a' is not a number"),
    ("btc_usd=1:nan", "not allowed"),
])
def test_parse_sweep_refuses_bad_specs_naming_the_problem(spec, message):
    with pytest.raises(BenchError, match=message):
        parse_sweep(spec)


def test_btc_sweep_finds_the_flip_price_of_the_device(scenario, device_rows):
    flip = device_rows[0].breakeven["btc_usd"]
    result = sweep(device_rows, scenario, "btc_usd", flip / 3, flip * 3, points=51)
    flips = [c for c in result.crossovers if c.kind == "flip"]
    assert len(flips) == 1 and flips[0].rows == ("gpu mine", "gpu infer")
    assert rel(flips[0].value, flip) < 1e-9
    at = scenario.with_value("btc_usd", flips[0].value, "test")
    mining, ai = (econ.recompute(row, at) for row in device_rows)
    assert rel(mining.revenue_usd_per_kwh, ai.revenue_usd_per_kwh) < 1e-9


def test_btc_sweep_breakevens_are_the_zero_profit_prices_of_asics(scenario):
    rows = econ.asic_rows(scenario)
    result = sweep(rows, scenario, "btc_usd", 20_000, 400_000, points=41)
    found = {c.rows[0]: c.value for c in result.crossovers if c.kind == "breakeven"}
    assert set(found) == {row.name for row in rows}
    for row in rows:
        assert rel(found[row.name], row.breakeven["btc_usd_zero_profit"]) < 1e-9


def test_electricity_sweep_has_no_flip_only_each_rows_breakeven(scenario, device_rows):
    result = sweep(device_rows, scenario, "electricity_usd_per_kwh", 0.0, 1.0, points=21)
    assert not [c for c in result.crossovers if c.kind == "flip"]  # revenue does not depend on power price
    found = {c.rows[0]: c.value for c in result.crossovers}
    for row in device_rows:
        assert rel(found[row.name], row.breakeven["electricity_usd_per_kwh"]) < 1e-9
        at = scenario.with_value("electricity_usd_per_kwh", found[row.name], "test")
        assert abs(econ.recompute(row, at).profit_usd_per_day) < 1e-9


def test_token_price_and_difficulty_sweeps_flip_where_revenues_meet(scenario, device_rows):
    mining, ai = device_rows
    # Token revenue per kWh is proportional to the token price: the flip price is
    # price x mining revenue per kWh / AI revenue per kWh.
    expected = scenario.get("usd_per_million_tokens") * mining.revenue_usd_per_kwh / ai.revenue_usd_per_kwh
    result = sweep(device_rows, scenario, "usd_per_million_tokens", expected / 10, expected * 10, points=31)
    (flip,) = [c for c in result.crossovers if c.kind == "flip"]
    assert rel(flip.value, expected) < 1e-9
    # Mining revenue is inversely proportional to difficulty: flip at difficulty x mining / AI.
    expected = scenario.get("difficulty") * mining.revenue_usd_per_kwh / ai.revenue_usd_per_kwh
    result = sweep(device_rows, scenario, "difficulty", expected / 4, expected * 4, points=31)
    (flip,) = [c for c in result.crossovers if c.kind == "flip"]
    assert rel(flip.value, expected) < 1e-9


def test_a_range_that_holds_no_crossing_reports_none(scenario, device_rows):
    flip = device_rows[0].breakeven["btc_usd"]
    result = sweep(device_rows, scenario, "btc_usd", flip * 2, flip * 3, points=11)
    assert not [c for c in result.crossovers if c.kind == "flip"]


def test_sweep_needs_rows_and_two_points(scenario, device_rows):
    with pytest.raises(BenchError, match="nothing to sweep"):
        sweep([], scenario, "btc_usd", 1, 2)
    with pytest.raises(BenchError, match="2 points"):
        sweep(device_rows, scenario, "btc_usd", 1, 2, points=1)


def test_sweep_data_is_written_as_csv_and_json(tmp_path, scenario, device_rows):
    result = sweep(device_rows, scenario, "btc_usd", 20_000, 200_000, points=11)
    csv_path, json_path = save_data(result, tmp_path / "out" / "sweep")
    with open(csv_path, newline="") as f:
        table = list(csv.reader(f))
    assert table[0][:3] == ["btc_usd (USD/BTC)", "power cost USD/kWh", "gpu mine revenue USD/kWh"]
    assert len(table) == 1 + 11
    assert float(table[-1][0]) == 200_000
    document = json.loads(json_path.read_text())
    assert document["key"] == "btc_usd" and len(document["values"]) == 11
    assert set(document["revenue_usd_per_kwh"]) == {"gpu mine", "gpu infer"}


def test_sweep_plot_is_written_as_png_or_svg(tmp_path, scenario, device_rows):
    flip = device_rows[0].breakeven["btc_usd"]
    result = sweep(device_rows + econ.asic_rows(scenario), scenario, "btc_usd", flip / 2, flip * 2, points=21)
    png = save_plot(result, tmp_path / "s.png")
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    svg = save_plot(result, tmp_path / "s.svg")
    assert b"<svg" in svg.read_bytes()[:1000]
    with pytest.raises(BenchError, match=".png or .svg"):
        save_plot(result, tmp_path / "s.pdf")
