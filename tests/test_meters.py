"""Meter selection, windows, the power sampler, user-supplied power and the CPU estimate."""

from __future__ import annotations

import math
import sys
import time
from pathlib import Path
from types import SimpleNamespace

import pytest

from bench.devices import Device
from bench.errors import BenchError
from bench.meters import ESTIMATED, MEASURED, rapl, select_meter, survey
from bench.meters import estimate
from bench.meters.estimate import CpuTdp, EstimatedCpuMeter, lookup_tdp
from bench.meters.sampler import PowerIntegrator
from bench.meters.user import CommandPowerMeter, ConstantPowerMeter
from tests.fakes import ManualClock

CPU = Device("cpu", None, "AMD EPYC")  # this CI machine's name: no model number, so not in the TDP table



@pytest.fixture
def no_rapl(monkeypatch, tmp_path: Path) -> None:
    """A machine without a powercap tree, as our CI machines are."""
    monkeypatch.setattr(rapl, "DEFAULT_ROOT", tmp_path / "no-powercap")
    monkeypatch.delenv("JOULEBENCH_POWERCAP_ROOT", raising=False)


# -- windows -------------------------------------------------------------------------------------


def test_nested_and_overlapping_windows_are_independent() -> None:
    clock = ManualClock(10.0)
    meter = ConstantPowerMeter(100.0, clock=clock)
    meter.begin("mine")
    clock.now += 1.0
    meter.begin("mine/hash/0")
    clock.now += 2.0
    inner = meter.end("mine/hash/0")
    clock.now += 0.5
    outer = meter.end("mine")
    assert (inner.joules, inner.seconds) == (200.0, 2.0)
    assert (outer.joules, outer.seconds) == (350.0, 3.5)
    assert outer.watts == 100.0


def test_window_misuse_is_refused() -> None:
    meter = ConstantPowerMeter(100.0)
    with pytest.raises(ValueError, match="never opened"):
        meter.end("x")
    meter.begin("x")
    with pytest.raises(ValueError, match="already open"):
        meter.begin("x")


def test_window_shorter_than_the_meter_minimum_is_marked() -> None:
    clock = ManualClock(10.0)
    meter = EstimatedCpuMeter(
        CpuTdp(100.0, 4, "test"),
        process=SimpleNamespace(cpu_times=lambda: SimpleNamespace(user=clock.now, system=0.0)),
        machine_cpu_times=lambda: SimpleNamespace(user=clock.now),
        clock=clock,
    )
    meter.begin("a")
    clock.now += 0.5
    assert meter.end("a").details["window_too_short"] is True
    meter.begin("b")
    clock.now += 1.0
    assert meter.end("b").details["window_too_short"] is False


# -- selection and bad input ---------------------------------------------------------------------


@pytest.mark.parametrize("option", ["watts", "cpu_tdp_watts"])
@pytest.mark.parametrize("value", [0.0, -5.0, math.nan, math.inf, "abc"])
def test_non_positive_or_non_finite_watts_are_refused_in_one_line(option: str, value, no_rapl) -> None:
    flag = "--" + option.replace("_", "-")
    with pytest.raises(BenchError, match=f"{flag} must be a positive number of watts") as err:
        select_meter(CPU, **{option: value})
    assert "\n" not in str(err.value)


def test_watts_and_watts_command_together_are_refused() -> None:
    with pytest.raises(BenchError, match="both given"):
        select_meter(CPU, watts=100.0, watts_command="echo 100")


def test_user_constant_watts_is_labelled_estimated_with_its_figure(no_rapl) -> None:
    meter = select_meter(CPU, watts=250.0)
    assert isinstance(meter, ConstantPowerMeter)
    assert meter.kind == ESTIMATED
    assert meter.describe()["label"].startswith("estimated: user-supplied 250 W constant (--watts)")


def test_user_watts_win_over_a_hardware_counter(tmp_path: Path, monkeypatch) -> None:
    zone = tmp_path / "intel-rapl:0"
    zone.mkdir()
    for name, text in (("name", "package-0"), ("energy_uj", "1"), ("max_energy_range_uj", "1000")):
        (zone / name).write_text(text)
    monkeypatch.setenv("JOULEBENCH_POWERCAP_ROOT", str(tmp_path))
    meter = select_meter(CPU, watts=90.0)
    assert meter.name == "user-watts"
    hardware = select_meter(CPU)
    assert hardware.name == "rapl"
    hardware.close()


def test_cpu_without_rapl_or_known_model_is_estimated_from_the_table_median_per_thread(no_rapl) -> None:
    meter = select_meter(CPU)
    # The table's 11 parts per thread, sorted: 360/256, 225/128 (twice), 360/192, 280/128, 350/112,
    # 105/32, 270/80, 150/40, 205/48, 170/32; the sixth, 350/112 = 3.125 W, is the median.
    assert len(estimate._TDP_TABLE) == 11  # redo the arithmetic above when the table changes
    assert meter.kind == ESTIMATED
    assert meter.tdp.watts_per_busy_cpu == pytest.approx(350 / 112)
    assert "model not in the TDP table: table median" in meter.label


def test_cpu_only_machine_gets_an_estimate_labelled_estimated_with_its_inputs(no_rapl) -> None:
    meter = select_meter(CPU, cpu_tdp_watts=120.0)
    described = meter.describe()
    assert meter.kind == ESTIMATED and described["kind"] == ESTIMATED
    assert described["label"].startswith("estimated: 120 W TDP / ")
    assert described["tdp_watts"] == 120.0
    assert "RAPL unusable: no powercap tree" in described["why_not_measured"]


def test_known_cpu_model_gets_its_tdp_from_the_table(no_rapl) -> None:
    meter = select_meter(Device("cpu", None, "AMD EPYC 7763 64-Core Processor"))
    assert (meter.tdp.tdp_watts, meter.tdp.logical_cpus) == (280.0, 128)
    assert "TDP table: EPYC 7763" in meter.label


@pytest.mark.parametrize(
    "model, tdp_watts",
    [
        ("Intel(R) Xeon(R) Gold 6248 CPU @ 2.50GHz", 150.0),
        ("Intel(R) Xeon(R) Gold 6248R CPU @ 3.00GHz", 205.0),
        ("Intel(R) Xeon(R) Platinum 8480+", 350.0),
        ("AMD EPYC 7713P 64-Core Processor", None),  # a different part; not guessed from 7713
        ("AMD EPYC", None),
    ],
)
def test_tdp_table_matches_whole_model_numbers_only(model: str, tdp_watts) -> None:
    found = lookup_tdp(model)
    assert (found.tdp_watts if found else None) == tdp_watts


# -- the CPU estimate ----------------------------------------------------------------------------


def test_estimate_is_tdp_per_thread_times_process_cpu_seconds() -> None:
    clock, cpu = ManualClock(10.0), SimpleNamespace(user=3.0, system=1.0)
    machine = SimpleNamespace(user=100.0, system=10.0, idle=500.0, steal=7.0)
    meter = EstimatedCpuMeter(
        CpuTdp(280.0, 128, "test"),
        process=SimpleNamespace(cpu_times=lambda: cpu),
        machine_cpu_times=lambda: machine,
        clock=clock,
    )
    meter.begin("w")
    clock.now += 2.0
    cpu.user, cpu.system = 4.5, 1.5  # 2 CPU-seconds in 2 s: one thread busy
    machine.user, machine.steal = 103.0, 50.0  # steal is someone else's time
    m = meter.end("w")
    assert m.joules == pytest.approx(2.0 * 280.0 / 128, abs=1e-12)
    assert m.kind == ESTIMATED
    visible = meter.describe()["visible_logical_cpus"]
    assert m.details["process_utilisation"] == pytest.approx(2.0 / (2.0 * visible))
    assert m.details["machine_utilisation"] == pytest.approx(3.0 / (2.0 * visible))


def test_estimate_counts_this_process_burning_a_cpu(no_rapl) -> None:
    with select_meter(CPU, cpu_tdp_watts=64.0) as meter:
        meter.begin("busy")
        end = time.monotonic() + 1.05
        while time.monotonic() < end:
            pass
        m = meter.end("busy")
    cpu_seconds = m.details["counts"]["process_cpu_seconds"]
    assert 0.3 < cpu_seconds < 1.3  # one thread spinning, on a machine others share
    assert m.joules == pytest.approx(cpu_seconds * meter.tdp.watts_per_busy_cpu)


# -- power sampling ------------------------------------------------------------------------------


def test_trapezoids_integrate_a_power_ramp_exactly() -> None:
    clock, power = ManualClock(10.0), {"w": 0.0}
    integrator = PowerIntegrator(lambda: power["w"], 1.0, clock=clock, thread=False)
    for _ in range(10):  # 0 -> 100 W over 10 s
        clock.now += 1.0
        power["w"] += 10.0
        integrator.sample()
    seconds, joules, samples = integrator.sample()
    assert joules == pytest.approx(500.0, abs=1e-9)
    assert samples == 12


def test_sampler_thread_samples_between_window_edges() -> None:
    integrator = PowerIntegrator(lambda: 50.0, 0.01)
    try:
        t0, j0, n0 = integrator.sample()
        time.sleep(0.3)
        t1, j1, n1 = integrator.sample()
    finally:
        integrator.close()
    assert n1 - n0 >= 5  # ~30 expected; a loaded shared machine may delay the thread
    assert j1 - j0 == pytest.approx(50.0 * (t1 - t0), rel=1e-9)


def test_sampler_thread_error_is_raised_at_the_next_reading() -> None:
    calls = {"n": 0}

    def flaky() -> float:
        calls["n"] += 1
        if calls["n"] > 1:
            raise BenchError("meter unplugged")
        return 10.0

    integrator = PowerIntegrator(flaky, 0.005)
    deadline = time.monotonic() + 5.0
    while integrator._error is None and time.monotonic() < deadline:
        time.sleep(0.01)
    integrator.close()
    with pytest.raises(BenchError, match="meter unplugged"):
        integrator.sample()


def test_negative_power_reading_is_refused() -> None:
    with pytest.raises(BenchError, match="not a non-negative number"):
        PowerIntegrator(lambda: -3.0, 1.0, thread=False)


# -- a command that prints watts -----------------------------------------------------------------


def test_watts_command_is_sampled_and_labelled_measured_by_that_command(no_rapl) -> None:
    command = f"{sys.executable} -c \"print('42.5 W')\""
    with select_meter(CPU, watts_command=command) as meter:
        assert isinstance(meter, CommandPowerMeter) and meter.kind == MEASURED
        meter.begin("w")
        time.sleep(0.2)
        m = meter.end("w")
    assert m.joules == pytest.approx(42.5 * m.seconds, rel=1e-9)
    assert m.source == f"measured: `{command}` sampled every 1 s, trapezoid-integrated"
    assert m.details["window_too_short"] is True  # 0.2 s is under five sampling periods


@pytest.mark.parametrize(
    "command, message",
    [
        ("echo hello", "printed 'hello', not a number of watts"),
        ("echo oops >&2; exit 3", "exited with status 3: oops"),
        ("echo nan", "not a non-negative number"),
        ("   ", "is empty"),
    ],
)
def test_watts_command_that_cannot_be_read_is_refused_at_selection(command: str, message: str, no_rapl) -> None:
    with pytest.raises(BenchError, match=message):
        select_meter(CPU, watts_command=command)


# -- survey --------------------------------------------------------------------------------------


def test_survey_of_this_cpu_says_why_rapl_cannot_serve_and_the_estimate_falls_back(no_rapl) -> None:
    rows = {s.meter: s for s in survey(CPU)}
    assert rows["rapl"].usable is False and "no powercap tree" in rows["rapl"].reason
    assert rows["estimated-cpu"].usable is True and "not in the TDP table" in rows["estimated-cpu"].reason
    assert rows["user"].usable is True


def test_survey_reports_usable_rapl_zones(tmp_path: Path, monkeypatch) -> None:
    zone = tmp_path / "intel-rapl:0"
    zone.mkdir()
    for name, text in (("name", "package-0"), ("energy_uj", "1"), ("max_energy_range_uj", "1000")):
        (zone / name).write_text(text)
    monkeypatch.setenv("JOULEBENCH_POWERCAP_ROOT", str(tmp_path))
    rows = {s.meter: s for s in survey(Device("cpu", None, "AMD EPYC 7763 64-Core Processor"))}
    assert rows["rapl"].usable and rows["rapl"].reason == f"package-0 at {tmp_path}"
    assert rows["estimated-cpu"].usable


def test_watts_outside_physical_sense_are_refused_by_the_meters():
    from bench.meters.user import positive_watts

    for value in (1e-320, 1e-4, 1e7, 1e308):
        with pytest.raises(BenchError, match="outside"):
            positive_watts(value, "--watts")
    assert positive_watts(0.5, "--watts") == 0.5


def test_a_watts_command_printing_binary_is_a_one_line_error():
    from bench.meters.user import run_watts_command

    with pytest.raises(BenchError, match="not a number of watts"):
        run_watts_command("printf '\\377\\376\\000garbage'")
    with pytest.raises(BenchError, match="not a non-negative number"):
        run_watts_command("echo 1e308")
