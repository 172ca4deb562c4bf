"""bench switch (bench/workloads/switch.py, bench/commands/switch.py) end to end on the tiny model:
the real miner and model on this CPU, under the estimated meter; the file loads with read_result."""

from __future__ import annotations

import pytest

from bench.cli import main
from bench.devices import Device, cpu_name
from bench.errors import BenchError
from bench.protocol import Protocol
from bench.meters import select_meter
from bench.results import read_result
from bench.workloads import run_names
from bench.workloads.switch import DIRECTIONS, PARTS, SwitchWorkload

# Short steady states: the switches themselves are what is measured, at the size they have.
FAST = Protocol("quick", warmup_s=0.05, window_s=1.0, windows=2, idle_s=0.1)
CPU = Device("cpu", None, cpu_name())


def _switch(repeats: int = 2) -> SwitchWorkload:
    return SwitchWorkload.for_preset("quick", CPU, model="tiny", threads=1, repeats=repeats, output_tokens=4)


@pytest.mark.slow  # ~8 s alone: the kernel choice is measured and torch and numba load
def test_each_repeat_is_a_window_of_both_directions_split_into_its_parts() -> None:
    meter = select_meter(CPU)
    try:
        entry = _switch().measure(meter, FAST, idle_watts=0.0)
    finally:
        meter.close()
    assert [p["name"] for p in entry["phases"]] == list(DIRECTIONS)
    for phase in entry["phases"]:
        assert len(phase["windows"]) == 2 and phase["unit"] == "switches"
        assert phase["energy_kind"] == meter.kind and phase["energy_source"] == meter.describe()["label"]
        for window in phase["windows"]:
            parts = window["parts_s"]
            assert set(PARTS) <= set(parts)
            # The parts are consecutive spans of the window, so they add up to (nearly) all of it.
            assert sum(parts[p] for p in PARTS) == pytest.approx(window["seconds"], abs=0.01)
            assert window["joules"] > 0
        assert phase["derived"]["seconds_per_switch"]["n"] == 2
    assert entry["phases"][0]["windows"][0]["first_in_process"] is True
    assert entry["check"]["generated_ids_equal_across_repeats"] is True


@pytest.mark.slow
def test_bench_switch_saves_a_file_that_read_result_loads(tmp_path, capsys) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["switch", "--device", "cpu", "--model", "tiny", "--repeats", "1", "--threads", "1",
              "--output-tokens", "4", "--out", str(tmp_path)])
    out = capsys.readouterr().out
    assert exited.value.code == 0, out
    path = next(tmp_path.glob("*/*.json"))
    result = read_result(path)
    switch = result.workload("switch")
    assert switch.ok and [p.name for p in switch.phases] == list(DIRECTIONS)
    assert all(len(p.windows) == 1 and p.figures.joules > 0 for p in switch.phases)
    assert "mine-to-infer:" in out and "infer-to-mine:" in out and str(path) in out


def test_switch_and_serve_are_their_own_commands_not_bench_run_workloads() -> None:
    assert not {"switch", "serve"} & set(run_names()) and {"mine", "infer", "train"} <= set(run_names())


def test_bad_repeats_is_a_one_line_error() -> None:
    with pytest.raises(BenchError, match="repeats must be a positive integer"):
        SwitchWorkload.for_preset("quick", CPU, model="tiny", repeats=0)
