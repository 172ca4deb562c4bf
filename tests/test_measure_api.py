"""The Python API (bench/api.py): `with measure(...) as m:` over the meters `bench run` uses."""

from __future__ import annotations

import dataclasses
import hashlib
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

import bench.api
from bench import Monitor, measure
from bench.api import ShortWindowWarning
from bench.energy import EnergyKind
from bench.errors import BenchError
from bench.meters import MEASURED, rapl
from bench.meters.user import ConstantPowerMeter
from bench.meters.window import Reading, RunningTotalMeter
from tests.fakes import FakeClock, FakeMeter, ManualClock

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def no_rapl(monkeypatch, tmp_path: Path) -> None:
    """No powercap tree, as on our CI machines: the CPU meter is the estimate."""
    monkeypatch.setattr(rapl, "DEFAULT_ROOT", tmp_path / "no-powercap")
    monkeypatch.delenv("JOULEBENCH_POWERCAP_ROOT", raising=False)


def _hash_for(seconds: float) -> int:
    """Real work: chained SHA-256 until ``seconds`` of wall time have passed."""
    digest, rounds, end = b"joulebench", 0, time.perf_counter() + seconds
    while time.perf_counter() < end:
        for _ in range(1000):
            digest = hashlib.sha256(digest).digest()
        rounds += 1000
    return rounds


class _Log:
    """One ordered record of what the device, the meter and the work did."""

    def __init__(self) -> None:
        self.events: list[str] = []


class _FakeCuda:
    """A CUDA device as far as the API sees one; its synchronize is recorded, or raises on demand."""

    kind, index, name, torch_device = "cuda", 1, "Fake GPU", "cuda:1"

    def __init__(self, log: _Log, fail_on_sync: int | None = None) -> None:
        self.log, self.syncs, self.fail_on_sync = log, 0, fail_on_sync

    def synchronize(self) -> None:
        self.syncs += 1
        self.log.events.append("sync")
        if self.syncs == self.fail_on_sync:
            raise RuntimeError("CUDA error: an illegal memory access was encountered")


class _RecordingMeter(ConstantPowerMeter):
    def __init__(self, log: _Log, watts: float, clock) -> None:
        super().__init__(watts, clock=clock)
        self.log = log

    def begin(self, key: str) -> None:
        self.log.events.append("begin")
        super().begin(key)

    def end(self, key: str):
        self.log.events.append("end")
        return super().end(key)


class _StuckCounter(RunningTotalMeter):
    """A hardware counter that never moves: it refuses every window (0 J is not a measurement)."""

    name, kind, min_window_s, label = "stuck", MEASURED, 1.0, "measured: a counter that never moves"

    def __init__(self, clock) -> None:
        super().__init__()
        self._clock = clock

    def _read(self) -> Reading:
        return Reading(self._clock(), 5.0)


class _KindlessMeter(FakeMeter):
    kind = "guessed"  # not an EnergyKind: its joules could not be labelled

    def __init__(self) -> None:
        super().__init__(FakeClock())


# -- importing ------------------------------------------------------------------------------------


def test_importing_bench_and_measuring_on_the_cpu_load_neither_torch_nor_numba():
    code = (
        "import sys\n"
        "import bench\n"
        "assert 'bench.api' not in sys.modules, 'bench imported its API eagerly'\n"
        "from bench import measure\n"
        "with measure('cpu', watts=10) as m:\n"
        "    pass\n"
        "heavy = [name for name in ('torch', 'numba') if name in sys.modules]\n"
        "assert not heavy, heavy\n"
        "print(m.joules >= 0)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "True"


def test_from_bench_import_measure_is_the_api_even_after_the_run_protocol_module_loads():
    import bench.protocol  # noqa: F401 - the run protocol
    from bench import measure as api_measure
    from bench.protocol import measure_phase

    assert callable(api_measure) and api_measure.__module__ == "bench"
    assert measure_phase.__module__ == "bench.protocol"


# -- real work on this machine ------------------------------------------------------------------


def test_a_block_of_real_work_on_the_cpu_is_measured_with_the_estimate(no_rapl):
    with measure(device="cpu") as m:
        rounds = _hash_for(1.1)  # over the estimate's 1 s minimum window
    assert rounds > 0
    assert m.seconds >= 1.1 and m.joules > 0 and m.watts > 0
    assert m.energy_kind is EnergyKind.ESTIMATED and str(m.energy_kind) == "estimated"
    assert m.energy_source.startswith("estimated:") and "CPU-seconds" in m.energy_source
    assert m.complete and not m.too_short and m.note is None
    assert m.result.meter == "estimated-cpu" and m.result.device == "cpu"


def test_a_constant_power_gives_joules_equal_to_watts_times_seconds():
    with measure("cpu", watts=40) as m:
        time.sleep(0.1)
    assert m.watts == pytest.approx(40.0)
    assert m.joules == pytest.approx(40.0 * m.meter_seconds)
    # The meter's span and the synchronised wall span differ by the cost of one reading.
    assert m.joules == pytest.approx(40.0 * m.seconds, rel=1e-2)
    assert m.energy_kind is EnergyKind.ESTIMATED and "40 W constant" in m.energy_source


def test_the_readme_example_runs_and_prints_its_figures(capsys):
    text = (ROOT / "README.md").read_text()
    section = text.split("## Measuring your own code", 1)[1].split("\n## ", 1)[0]
    [example] = re.findall(r"```python\n(.*?)```", section, flags=re.S)[:1]
    exec(compile(example, "README.md", "exec"), {"__name__": "readme_example"})
    out = capsys.readouterr().out
    assert re.search(r"\d+\.\d+ s, \d+\.\d+ J, \d+\.\d+ W \((measured|estimated): \S", out), out


# -- a CUDA device: synchronised at both edges -------------------------------------------------


def test_cuda_is_synchronised_before_the_start_and_before_the_end_reading():
    log, clock = _Log(), ManualClock(100.0)
    device = _FakeCuda(log)
    meter = _RecordingMeter(log, 300.0, clock)
    with measure(device, meter=meter, clock=clock) as m:
        log.events.append("work")
        clock.now += 2.0
    assert log.events == ["sync", "begin", "work", "sync", "end"]
    assert (m.seconds, m.joules, m.watts) == (2.0, 600.0, 300.0)
    assert m.result.device == "cuda:1"


def test_cuda_with_watts_uses_the_constant_without_nvml(monkeypatch):
    def no_nvml(index):
        raise AssertionError("NVML opened although watts= was given")

    monkeypatch.setattr("bench.meters.open_nvml_meter", no_nvml)
    device = _FakeCuda(_Log())
    with measure(device, watts=300) as m:
        pass
    assert device.syncs == 2 and m.result.meter == "user-watts" and "300 W" in m.energy_source


def test_a_gpu_nvml_cannot_read_is_refused_in_one_line_naming_the_keyword_arguments(monkeypatch):
    def no_nvml(index):
        raise BenchError(f"NVML: no GPU at index {index}")

    monkeypatch.setattr("bench.meters.open_nvml_meter", no_nvml)
    with pytest.raises(BenchError) as refused:
        measure(_FakeCuda(_Log()))
    message = str(refused.value)
    assert "\n" not in message and "cuda:1" in message
    assert "watts= or watts_command=" in message and "--watts" not in message


def test_a_failing_final_synchronize_propagates_and_leaves_no_figure(monkeypatch):
    fake = FakeMeter(FakeClock())
    monkeypatch.setattr(bench.api, "select_meter", lambda *a, **k: fake)
    with pytest.raises(RuntimeError, match="illegal memory access"):
        with measure(_FakeCuda(_Log(), fail_on_sync=2)) as m:
            pass
    assert fake.closed and not fake.open
    assert not m.complete and m.joules is None and m.watts is None and "illegal memory access" in m.note


# -- blocks that raise, blocks too short --------------------------------------------------------


def test_a_block_that_raises_closes_the_meter_propagates_and_gives_no_energy_figure(monkeypatch):
    fake = FakeMeter(FakeClock())
    monkeypatch.setattr(bench.api, "select_meter", lambda *a, **k: fake)
    with pytest.raises(ZeroDivisionError):
        with measure("cpu") as m:
            fake.clock.sleep(3.0)
            1 / 0
    assert fake.closed and not fake.open
    assert not m.complete and m.joules is None and m.watts is None
    assert m.seconds >= 0 and "ZeroDivisionError" in m.note


def test_a_block_shorter_than_the_meter_minimum_is_flagged_and_warned_with_the_meters_own_reading():
    clock = FakeClock(watts=100.0)
    meter = FakeMeter(clock, watts=100.0, min_window_s=1.0)
    with pytest.warns(ShortWindowWarning, match="shorter than fake's 1 s minimum"):
        with measure("cpu", meter=meter, clock=clock) as m:
            clock.sleep(0.2)
    assert m.too_short and m.complete
    assert m.joules == pytest.approx(20.0) and m.watts == pytest.approx(100.0)
    assert not meter.closed  # a meter handed in is its owner's to close


def test_a_counter_that_did_not_update_in_a_short_block_gives_no_figure_not_zero():
    clock = ManualClock(10.0)
    with pytest.warns(ShortWindowWarning, match="did not update"):
        with measure("cpu", meter=_StuckCounter(clock), clock=clock) as m:
            clock.now += 0.05
    assert m.too_short and m.joules is None and m.watts is None and "did not update" in m.note


def test_a_counter_that_did_not_update_over_a_long_enough_block_is_a_fault_said_in_one_line():
    clock = ManualClock(10.0)
    with pytest.raises(BenchError, match="did not update") as refused:
        with measure("cpu", meter=_StuckCounter(clock), clock=clock) as m:
            clock.now += 2.0
    assert "\n" not in str(refused.value)
    assert not m.complete and m.joules is None


def test_an_estimate_too_short_to_see_any_cpu_time_is_unknown_not_zero():
    clock = FakeClock()
    meter = FakeMeter(clock, watts=0.0, min_window_s=1.0)
    with pytest.warns(ShortWindowWarning, match="read 0 J"):
        with measure("cpu", meter=meter, clock=clock) as m:
            clock.sleep(0.1)
    assert m.joules is None and m.too_short


# -- a Monitor: one meter, many blocks ---------------------------------------------------------


def test_a_monitor_measures_blocks_in_sequence_and_nested_on_one_meter(monkeypatch):
    clock = ManualClock(0.0)
    meter = ConstantPowerMeter(10.0, clock=clock)
    closed = []
    meter.close = lambda: closed.append(True)
    monkeypatch.setattr(bench.api, "select_meter", lambda *a, **k: meter)
    with Monitor("cpu", clock=clock) as monitor:
        with monitor.measure("outer") as outer:
            clock.now += 1.0
            with monitor.measure("inner") as inner:
                clock.now += 2.0
            clock.now += 0.5
        with monitor.measure("after") as after:
            clock.now += 1.0
        assert not closed  # the meter stays open between blocks
    assert closed == [True]
    assert (inner.seconds, inner.joules) == (2.0, 20.0)
    assert (outer.seconds, outer.joules) == (3.5, 35.0)
    assert (after.seconds, after.joules) == (1.0, 10.0)
    with pytest.raises(BenchError, match="Monitor is closed"):
        with monitor.measure():
            pass


def test_a_block_runs_once_and_has_no_figures_until_it_ends():
    clock = ManualClock(0.0)
    block = measure("cpu", meter=ConstantPowerMeter(5.0, clock=clock), clock=clock)
    with pytest.raises(BenchError, match="has not run"):
        block.joules
    with block as m:
        assert m.energy_kind is EnergyKind.ESTIMATED  # known before the block ends
        with pytest.raises(BenchError, match="still running"):
            m.seconds
        clock.now += 1.0
    assert m.joules == 5.0
    with pytest.raises(BenchError, match="already run"):
        with block:
            pass


def test_the_result_is_a_frozen_dataclass():
    clock = ManualClock(0.0)
    with measure("cpu", meter=ConstantPowerMeter(5.0, clock=clock), clock=clock) as m:
        clock.now += 2.0
    result = m.result
    assert dataclasses.is_dataclass(result)
    with pytest.raises(dataclasses.FrozenInstanceError):
        result.joules = 1.0
    with pytest.raises(TypeError):
        result.details["window_too_short"] = True
    assert result.to_dict()["joules"] == 10.0 and result.to_dict()["energy_kind"] == "estimated"


# -- bad input: one line ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "kwargs", "says"),
    [
        (("tpu",), {}, "unknown device"),
        ((42,), {}, "device must be"),
        (("cpu",), {"watts": -1}, "watts= must be a positive number"),
        (("cpu",), {"watts": 5, "watts_command": "echo 5"}, "watts= and watts_command= both given"),
        (("cpu",), {"cpu_tdp_watts": 1e9}, "cpu_tdp_watts= 1e+09 W is outside"),
        (("cpu",), {"meter": object(), "watts": 5}, "choose one source"),
        (("cpu",), {"watts": 5, "name": ""}, "non-empty string"),
        (("cpu",), {"meter": _KindlessMeter()}, "has kind 'guessed'"),
    ],
)
def test_bad_input_is_refused_in_one_line(args, kwargs, says):
    with pytest.raises(BenchError) as refused:
        measure(*args, **kwargs)
    assert says in str(refused.value) and "\n" not in str(refused.value)
