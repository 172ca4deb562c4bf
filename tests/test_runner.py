import json

import pytest

from bench import runner
from bench.errors import BenchError
from bench.results import load_result
from tests.fakes import CPU, FakeClock, FakeMeter, FakeWorkload

QUICK = runner.PRESETS["quick"]


def _document():
    return runner.new_document(tool={"version": "test"}, machine={}, device={"name": "Test CPU", "kind": "cpu"},
                               protocol=QUICK, meter={"name": "fake"})


def _run(tmp_path, workloads, clock, meter, idle_watts=40.0):
    def idle_sleep(seconds):  # the machine draws less while idle than under load
        busy = meter.watts
        meter.watts = idle_watts
        clock.sleep(seconds)
        meter.watts = busy

    path = tmp_path / "m" / "r.json"
    document = runner.run(_document(), workloads, CPU, meter, QUICK, path, clock=clock, sleep=idle_sleep)
    return document, path


def test_rate_and_work_per_joule_come_from_steady_state_windows_only(tmp_path):
    clock = FakeClock()
    meter = FakeMeter(clock, watts=100.0)
    workload = FakeWorkload(clock, step_s=0.01, work_per_step=1000, first_step_s=0.5, build_s=2.0)
    document, _ = _run(tmp_path, [workload], clock, meter)
    entry = document["workloads"][0]
    # 1000 hashes per 10 ms step: the slow first step and the build never enter the windows.
    assert entry["rate_per_s"] == pytest.approx(100_000)
    assert entry["per_joule"] == pytest.approx(1000)  # 100,000 hashes/s at 100 W
    assert entry["watts"] == pytest.approx(100)
    assert entry["build"]["seconds"] == pytest.approx(2.0)
    assert entry["phases"][0]["warmup"]["steps"] >= 2
    assert len(entry["phases"][0]["windows"]) == QUICK.windows
    assert entry["spread"]["rate_per_s"]["n"] == QUICK.windows
    assert entry["energy_kind"] == "estimated"
    assert workload.checked


def test_each_window_lasts_about_the_preset_window(tmp_path):
    clock = FakeClock()
    document, _ = _run(tmp_path, [FakeWorkload(clock, step_s=0.003)], clock, FakeMeter(clock))
    for window in document["workloads"][0]["phases"][0]["windows"]:
        assert QUICK.window_s <= window["seconds"] < QUICK.window_s + 0.01


def test_windows_are_lengthened_to_the_meters_minimum(tmp_path):
    clock = FakeClock()
    meter = FakeMeter(clock, min_window_s=5.0)  # e.g. an energy counter that updates slowly
    document, _ = _run(tmp_path, [FakeWorkload(clock)], clock, meter)
    for window in document["workloads"][0]["phases"][0]["windows"]:
        assert window["seconds"] >= 5.0


def test_figures_above_idle_subtract_the_idle_baseline(tmp_path):
    clock = FakeClock()
    document, _ = _run(tmp_path, [FakeWorkload(clock)], clock, FakeMeter(clock, watts=100.0), idle_watts=40.0)
    assert document["idle"]["watts"] == pytest.approx(40.0)
    above = document["workloads"][0]["above_idle"]
    assert above["watts"] == pytest.approx(60.0)
    assert above["per_joule"] == pytest.approx(100_000 / 60.0)


def test_a_meter_reading_zero_joules_fails_the_workload_instead_of_reporting_it(tmp_path):
    clock = FakeClock()
    document, _ = _run(tmp_path, [FakeWorkload(clock)], clock, FakeMeter(clock, watts=0.0), idle_watts=0.0)
    entry = document["workloads"][0]
    assert entry["status"] == "failed"
    assert "read 0.0 J" in entry["error"]


def test_a_failed_workload_is_recorded_and_the_next_one_still_runs(tmp_path):
    clock = FakeClock()
    broken = FakeWorkload(clock, name="infer", fail_in="step")
    fine = FakeWorkload(clock, name="train")
    document, path = _run(tmp_path, [broken, fine], clock, FakeMeter(clock))
    on_disk = load_result(path)
    assert [w["status"] for w in on_disk["workloads"]] == ["failed", "ok"]
    assert on_disk["workloads"][0]["error"] == "RuntimeError: step broke"
    assert on_disk["status"] == "partial" and on_disk["partial_reason"] == "failed: infer"


def test_a_failed_self_check_fails_the_workload_loudly(tmp_path):
    clock = FakeClock()
    document, _ = _run(tmp_path, [FakeWorkload(clock, fail_in="check")], clock, FakeMeter(clock))
    assert document["workloads"][0]["status"] == "failed"
    assert "differs from hashlib" in document["workloads"][0]["error"]
    assert document["status"] == "partial"


def test_interrupt_saves_the_finished_workloads_as_partial(tmp_path):
    clock = FakeClock()
    first = FakeWorkload(clock, name="mine")
    second = FakeWorkload(clock, name="infer", interrupt_after_steps=5)
    path = tmp_path / "r.json"
    with pytest.raises(runner.RunInterrupted) as caught:
        runner.run(_document(), [first, second], CPU, FakeMeter(clock), QUICK, path, clock=clock, sleep=clock.sleep)
    assert caught.value.path == path
    saved = load_result(path)
    assert saved["status"] == "partial"
    assert saved["partial_reason"] == "interrupted during infer"
    assert [w["name"] for w in saved["workloads"]] == ["mine"]


def test_interrupt_before_anything_finished_writes_no_file(tmp_path):
    clock = FakeClock()
    path = tmp_path / "r.json"
    with pytest.raises(runner.RunInterrupted) as caught:
        runner.run(_document(), [FakeWorkload(clock, interrupt_after_steps=1)], CPU, FakeMeter(clock), QUICK, path,
                   clock=clock, sleep=clock.sleep)
    assert caught.value.path is None
    assert not path.exists()


def test_complete_run_is_marked_complete_and_valid_json(tmp_path):
    clock = FakeClock()
    document, path = _run(tmp_path, [FakeWorkload(clock, phase_names=("prefill", "decode"))], clock, FakeMeter(clock))
    assert document["status"] == "complete" and document["partial_reason"] is None
    entry = json.loads(path.read_text())["workloads"][0]
    assert entry["headline_phase"] == "decode"
    assert [p["name"] for p in entry["phases"]] == ["prefill", "decode"]


def test_unknown_preset_is_refused_by_name():
    with pytest.raises(BenchError, match="unknown preset 'turbo'"):
        runner.protocol_for("turbo")


def test_long_preset_measures_at_least_600_seconds_per_phase():
    assert runner.PRESETS["long"].window_s * runner.PRESETS["long"].windows >= 600
    assert runner.PRESETS["standard"].window_s >= 10


def test_source_hash_changes_when_the_workload_code_changes(tmp_path):
    source = tmp_path / "kernel.py"
    source.write_text("x = 1\n")
    before = runner.source_sha256([source])
    source.write_text("x = 2\n")
    assert runner.source_sha256([source]) != before


def test_throttling_seen_by_the_meter_is_kept_per_window_and_flagged_on_the_phase(tmp_path):
    clock = FakeClock()
    meter = FakeMeter(clock)
    meter.throttled = ("sw_power_cap",)
    document, _ = _run(tmp_path, [FakeWorkload(clock)], clock, meter)
    phase = document["workloads"][0]["phases"][0]
    assert phase["throttled"] == ["sw_power_cap"]
    assert all(w["meter_details"]["throttled"] == ["sw_power_cap"] for w in phase["windows"])


def test_an_unthrottled_phase_says_so():
    clock = FakeClock()
    entry = runner.measure_phase(FakeWorkload(clock).build().phases[0], CPU, FakeMeter(clock), QUICK,
                                 key="k", clock=clock)
    assert entry["throttled"] == []


class _JitteryWorkload(FakeWorkload):
    """Steps of 10 ms give or take 10%, at a speed that shifts by up to 25% every 0.7 s (clock
    changes, other processes on a shared CPU): the calibration is never quite right."""

    def __init__(self, clock, seed):
        super().__init__(clock)
        import random

        self._random = random.Random(seed)
        self._speed, self._until = 1.0, clock.now

    def step(self):
        self.steps_done += 1
        if self.clock.now >= self._until:
            self._speed, self._until = self._random.uniform(0.75, 1.25), self.clock.now + 0.7
        jitter = self._random.uniform(0.9, 1.1)
        self.clock.sleep(self.step_s * self._speed * jitter * (1 if self.steps_done > 1 else 5))
        return self.work_per_step


def test_quick_windows_do_not_fail_by_chance_against_a_jittery_clock():
    # The CPU estimate's minimum window equals the quick preset's window: aiming at exactly it used
    # to fail "could not fill a 1.0 s window" whenever a window's steps ran a little fast.
    for seed in range(200):
        clock = FakeClock()
        meter = FakeMeter(clock, min_window_s=QUICK.window_s)
        phase = _JitteryWorkload(clock, seed).build().phases[0]
        entry = runner.measure_phase(phase, CPU, meter, QUICK, key="k", clock=clock)
        assert all(w["seconds"] >= meter.min_window_s for w in entry["windows"])


def test_a_figure_that_is_not_finite_fails_the_workload_instead_of_writing_nulls(tmp_path):
    clock = FakeClock()
    document, path = _run(tmp_path, [FakeWorkload(clock)], clock, FakeMeter(clock, watts=1e-320), idle_watts=1e-320)
    entry = document["workloads"][0]
    assert entry["status"] == "failed"
    assert "came out" in entry["error"]
    assert load_result(path)["status"] == "partial"
