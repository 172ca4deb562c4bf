"""Power caps (bench/power_limit.py) against a patched ``pynvml``: set, read back, restored after
an exception and after Ctrl-C; refused without privileges and on a device that is not a GPU."""

from __future__ import annotations

import json

import pynvml
import pytest

from bench import power_limit, runner, storage
from bench.cli import main
from bench.devices import Device
from bench.errors import BenchError
from tests.fakes import CPU, FakeClock, FakeMeter, FakeWorkload
from tests.test_nvml import FakeGpu, FakeNvml

GPU0 = Device("cuda", 0, "NVIDIA H100 80GB HBM3")


class CappableGpu(FakeGpu):
    """A GPU whose power management limit can be set, as the driver allows (root, within range)."""

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.limit_mw = 700_000
        self.range_mw = (200_000, 700_000)
        self.root = True
        self.sets: list[int] = []


@pytest.fixture
def gpu(monkeypatch) -> CappableGpu:
    card = CappableGpu()
    FakeNvml(monkeypatch, [card])

    def set_limit(handle: CappableGpu, milliwatts: int) -> None:
        if not handle.root:
            raise pynvml.NVMLError(pynvml.NVML_ERROR_NO_PERMISSION)
        if not handle.range_mw[0] <= milliwatts <= handle.range_mw[1]:
            raise pynvml.NVMLError(pynvml.NVML_ERROR_INVALID_ARGUMENT)
        handle.sets.append(milliwatts)
        handle.limit_mw = milliwatts

    monkeypatch.setattr(pynvml, "nvmlDeviceGetPowerManagementLimit", lambda h: h.limit_mw, raising=False)
    monkeypatch.setattr(pynvml, "nvmlDeviceGetPowerManagementLimitConstraints", lambda h: h.range_mw, raising=False)
    monkeypatch.setattr(pynvml, "nvmlDeviceGetPowerManagementDefaultLimit", lambda h: 700_000, raising=False)
    monkeypatch.setattr(pynvml, "nvmlDeviceSetPowerManagementLimit", set_limit, raising=False)
    return card


def test_caps_parse_as_watts_and_bad_ones_are_one_line_errors() -> None:
    assert power_limit.parse_caps("250, 300.5,250") == [250.0, 300.5]
    for bad in ("", "abc", "0", "-5", "nan", "200,,300"):
        with pytest.raises(BenchError, match="--power-limit"):
            power_limit.parse_caps(bad)


def test_each_cap_is_set_and_read_back_then_the_original_restored(gpu, tmp_path) -> None:
    seen: list[int] = []

    def run_once() -> int:
        seen.append(gpu.limit_mw)  # what the card was capped at while this run measured
        return 0

    code, runs = power_limit.sweep(GPU0, [300.0, 450.0], run_once, tmp_path, echo=lambda line: None)
    assert code == 0
    assert seen == [300_000, 450_000]
    assert [(r.cap_w, r.read_back_w) for r in runs] == [(300.0, 300.0), (450.0, 450.0)]
    assert gpu.limit_mw == 700_000 and gpu.sets[-1] == 700_000


def test_original_limit_is_restored_after_a_run_raises(gpu, tmp_path) -> None:
    def run_once() -> int:
        raise RuntimeError("workload broke")

    with pytest.raises(RuntimeError, match="workload broke"):
        power_limit.sweep(GPU0, [250.0, 300.0], run_once, tmp_path, echo=lambda line: None)
    assert gpu.sets == [700_000, 250_000, 700_000]  # privilege probe, the cap, the restore
    assert gpu.limit_mw == 700_000


def test_original_limit_is_restored_after_ctrl_c(gpu, tmp_path) -> None:
    def run_once() -> int:
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        power_limit.sweep(GPU0, [250.0], run_once, tmp_path, echo=lambda line: None)
    assert gpu.limit_mw == 700_000


def test_without_root_the_sweep_is_refused_before_any_run(gpu, tmp_path) -> None:
    gpu.root = False
    runs = []
    with pytest.raises(BenchError, match="needs root") as refused:
        power_limit.sweep(GPU0, [300.0], lambda: runs.append(1) or 0, tmp_path, echo=lambda line: None)
    assert "\n" not in str(refused.value) and runs == []


def test_a_cap_outside_the_cards_range_is_refused_naming_the_range(gpu, tmp_path) -> None:
    with pytest.raises(BenchError, match="200-700 W"):
        power_limit.sweep(GPU0, [150.0], lambda: 0, tmp_path, echo=lambda line: None)
    assert gpu.limit_mw == 700_000


def test_a_cpu_is_refused_in_one_line_with_exit_2(capsys) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["run", "--device", "cpu", "--workload", "mine", "--power-limit", "100"])
    err = capsys.readouterr().err.strip()
    assert exited.value.code == 2
    assert err.startswith("error: --power-limit") and "not an NVIDIA GPU" in err and "\n" not in err


def test_each_caps_result_records_the_cap_and_the_best_cap_earns_most(gpu, tmp_path) -> None:
    """Two real (fake-metered) runs: the lower cap draws less for the same hashes, so it profits more."""
    draw_at = {300_000: 150.0, 450_000: 250.0}

    def run_once() -> int:
        clock = FakeClock()
        meter = FakeMeter(clock, watts=draw_at[gpu.limit_mw])
        document = runner.new_document(tool={}, machine={}, device={"kind": "cuda", "name": "Fake", "slug": "fake"},
                                       protocol=runner.protocol_for("quick"), meter=meter.describe())
        path = storage.new_result_path(tmp_path, "m", "fake")
        runner.run(document, [FakeWorkload(clock, work_per_step=10**9)], CPU, meter, runner.protocol_for("quick"),
                   path, clock=clock, sleep=clock.sleep)
        return 0

    code, runs = power_limit.sweep(GPU0, [300.0, 450.0], run_once, tmp_path / "m", echo=lambda line: None)
    assert code == 0
    saved = json.loads(runs[0].result_path.read_text())
    assert saved["power_limit"]["set_w"] == 300.0 and saved["power_limit"]["original_w"] == 700.0
    figures = power_limit.cap_figures(runs)
    assert sorted(f.watts for f in figures) == pytest.approx([150.0, 250.0])
    assert power_limit.best_caps(figures)["mine"].cap_w == 300.0
