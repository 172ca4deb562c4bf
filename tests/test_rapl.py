"""RAPL meter against temporary powercap trees: the real file-reading code, counters written by the test."""

from __future__ import annotations

import os
import tempfile
import threading
import time
from pathlib import Path

import pytest

from bench.devices import Device
from bench.errors import BenchError
from bench.meters import rapl, select_meter
from bench.meters.base import MEASURED
from bench.meters.rapl import RaplMeter, counter_delta_uj, discover_zones
from tests.fakes import ManualClock

CPU = Device("cpu", None, "Test CPU")
BIG_RANGE_UJ = 262_143_328_850  # a real Intel package's max_energy_range_uj


def make_zone(root: Path, zone_id: str, name: str, energy_uj: int, max_uj: int = BIG_RANGE_UJ) -> Path:
    path = root / zone_id
    path.mkdir(parents=True)
    (path / "name").write_text(name + "\n")
    (path / "max_energy_range_uj").write_text(f"{max_uj}\n")
    set_energy(path, energy_uj)
    return path


def set_energy(zone: Path, energy_uj: int) -> None:
    # Replaced atomically, so a reader never sees a half-written number.
    temp = zone / ".energy_uj.tmp"
    temp.write_text(f"{energy_uj}\n")
    os.replace(temp, zone / "energy_uj")



@pytest.fixture
def server_tree(tmp_path: Path) -> dict[str, Path]:
    """Two packages with DRAM, plus core and psys zones that must not be counted."""
    return {
        "pkg0": make_zone(tmp_path, "intel-rapl:0", "package-0", 1_000_000),
        "core0": make_zone(tmp_path, "intel-rapl:0:0", "core", 500_000),
        "dram0": make_zone(tmp_path, "intel-rapl:0:1", "dram", 2_000_000, max_uj=65_712_999_613),
        "pkg1": make_zone(tmp_path, "intel-rapl:1", "package-1", 3_000_000),
        "psys": make_zone(tmp_path, "intel-rapl:2", "psys", 9_000_000),
    }


def test_counter_delta_counts_across_the_wrap_at_max_energy_range() -> None:
    assert counter_delta_uj(100, 350, 1000) == 250
    assert counter_delta_uj(900, 50, 1000) == 150  # 100 to the top, 50 after the wrap
    assert counter_delta_uj(7, 7, 1000) == 0


def test_packages_and_dram_are_summed_and_core_and_psys_left_out(tmp_path: Path, server_tree) -> None:
    with RaplMeter(discover_zones(tmp_path), tmp_path, clock=ManualClock(100.0)) as meter:
        meter.begin("w")
        set_energy(server_tree["pkg0"], 1_000_000 + 12_345_678)
        set_energy(server_tree["dram0"], 2_000_000 + 1_111_111)
        set_energy(server_tree["pkg1"], 3_000_000 + 7)
        set_energy(server_tree["core0"], 500_000 + 99_999_999)
        set_energy(server_tree["psys"], 9_000_000 + 99_999_999)
        m = meter.end("w")
    assert m.joules == pytest.approx(13.456796, abs=1e-9)  # 12.345678 + 1.111111 + 0.000007
    assert m.kind == MEASURED
    assert m.details["counts"] == pytest.approx(
        {"package-0_joules": 12.345678, "package-0/dram_joules": 1.111111, "package-1_joules": 0.000007}, abs=1e-9
    )
    assert "package-0 + package-0/dram + package-1" in m.source


def test_window_across_a_wraparound_is_exact_to_the_microjoule(tmp_path: Path) -> None:
    max_uj = 65_532_610_987
    zone = make_zone(tmp_path, "intel-rapl:0", "package-0", max_uj - 1_234, max_uj=max_uj)
    clock = ManualClock(100.0)
    with RaplMeter(discover_zones(tmp_path), tmp_path, clock=clock) as meter:
        meter.begin("w")
        set_energy(zone, 5_678)
        clock.now += 0.5
        m = meter.end("w")
    assert m.joules == pytest.approx(0.006912, abs=1e-9)  # 1234 + 5678 uJ
    assert m.seconds == 0.5
    assert m.watts == pytest.approx(0.013824, abs=1e-9)


def test_nested_windows_each_get_their_own_joules(tmp_path: Path) -> None:
    zone = make_zone(tmp_path, "intel-rapl:0", "package-0", 0)
    with RaplMeter(discover_zones(tmp_path), tmp_path, clock=ManualClock(100.0)) as meter:
        meter.begin("workload")
        set_energy(zone, 1_000_000)
        meter.begin("workload/prefill")
        set_energy(zone, 3_000_000)
        prefill = meter.end("workload/prefill")
        meter.begin("workload/decode")
        set_energy(zone, 3_500_001)
        decode = meter.end("workload/decode")
        whole = meter.end("workload")
    assert (prefill.joules, decode.joules, whole.joules) == pytest.approx((2.0, 0.500001, 3.500001), abs=1e-9)


def test_nested_sysfs_layout_of_devices_virtual_powercap_is_found(tmp_path: Path) -> None:
    top = tmp_path / "intel-rapl"
    make_zone(top, "intel-rapl:0", "package-0", 10)
    make_zone(top / "intel-rapl:0", "intel-rapl:0:1", "dram", 20)
    zones = discover_zones(tmp_path)
    assert [z.label for z in zones] == ["package-0", "package-0/dram"]


def test_missing_tree_names_the_path_and_the_environment_variable(tmp_path: Path) -> None:
    with pytest.raises(BenchError, match="JOULEBENCH_POWERCAP_ROOT") as err:
        discover_zones(tmp_path / "absent")
    assert str(tmp_path / "absent") in str(err.value)


def test_tree_without_package_zone_is_refused(tmp_path: Path) -> None:
    make_zone(tmp_path, "intel-rapl:0", "psys", 10)
    with pytest.raises(BenchError, match="no RAPL package zone.*psys"):
        discover_zones(tmp_path)


def _discover_unprivileged(root: Path) -> str:
    """Run discover_zones as a user who may not read root-only files; return its error message."""
    if os.geteuid() != 0:
        try:
            discover_zones(root)
        except BenchError as exc:
            return str(exc)
        return ""
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # child: drop to nobody, try, report through the pipe
        os.close(read_end)
        message = ""
        try:
            os.setgid(65534)
            os.setuid(65534)
            discover_zones(root)
        except BenchError as exc:
            message = str(exc)
        except BaseException as exc:
            message = f"unexpected {type(exc).__name__}: {exc}"
        os.write(write_end, message.encode())
        os._exit(0)
    os.close(write_end)
    chunks = []
    while chunk := os.read(read_end, 65536):
        chunks.append(chunk)
    os.close(read_end)
    os.waitpid(pid, 0)
    return b"".join(chunks).decode()


def test_unreadable_counter_is_reported_with_the_chmod_fix() -> None:
    root = Path(tempfile.mkdtemp(prefix="joulebench-rapl-"))
    try:
        root.chmod(0o755)  # traversable by anyone: only energy_uj is closed
        zone = make_zone(root, "intel-rapl:0", "package-0", 42)
        for name in ("name", "max_energy_range_uj"):
            (zone / name).chmod(0o444)
        (zone / "energy_uj").chmod(0o400)  # as the kernel leaves it since CVE-2020-8694
        message = _discover_unprivileged(root)
    finally:
        import shutil

        shutil.rmtree(root)
    assert "permission denied" in message
    assert f"chmod a+r {root}/intel-rapl:*/energy_uj" in message
    assert "JOULEBENCH_POWERCAP_ROOT" in message


def test_counter_that_does_not_move_over_a_long_window_is_refused_not_zero(tmp_path: Path) -> None:
    make_zone(tmp_path, "intel-rapl:0", "package-0", 5_000)
    clock = ManualClock(100.0)
    with RaplMeter(discover_zones(tmp_path), tmp_path, clock=clock) as meter:
        meter.begin("idle")
        clock.now += 2.0
        with pytest.raises(BenchError, match="read 0 J over 2.000 s"):
            meter.end("idle")


def test_explicit_root_that_fails_is_an_error_not_a_quiet_estimate(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("JOULEBENCH_POWERCAP_ROOT", str(tmp_path / "nowhere"))
    with pytest.raises(BenchError, match="JOULEBENCH_POWERCAP_ROOT=.*nowhere"):
        select_meter(CPU, cpu_tdp_watts=100.0)


def test_counter_advancing_at_known_power_reads_that_power_within_5_percent(tmp_path: Path, monkeypatch) -> None:
    """Through select_meter, as a run picks it, with a counter that wraps twice inside the window."""
    watts, range_uj = 40.0, 30_000_000  # wraps every 0.75 s: only the guard thread's polls see each wrap
    zone = make_zone(tmp_path, "intel-rapl:0", "package-0", 0, max_uj=range_uj)
    stop = threading.Event()
    t0 = time.monotonic()

    def advance() -> None:  # the "hardware": energy = watts x time, modulo the range
        while not stop.wait(0.002):
            set_energy(zone, int(watts * (time.monotonic() - t0) * 1e6) % range_uj)

    writer = threading.Thread(target=advance, daemon=True)
    writer.start()
    monkeypatch.setenv("JOULEBENCH_POWERCAP_ROOT", str(tmp_path))
    try:
        meter = select_meter(CPU)
        try:
            assert isinstance(meter, RaplMeter) and meter.guard_period_s < 0.75 / 2
            meter.begin("w")
            time.sleep(1.6)
            m = meter.end("w")
        finally:
            meter.close()
    finally:
        stop.set()
        writer.join()
    assert m.watts == pytest.approx(watts, rel=0.05)
    assert m.joules > range_uj / 1e6 * 2  # more than two wraps' worth, all counted


def test_guard_thread_stops_when_the_meter_closes(tmp_path: Path) -> None:
    make_zone(tmp_path, "intel-rapl:0", "package-0", 0, max_uj=1_000_000)
    meter = RaplMeter.open(tmp_path)
    assert meter._guard is not None and meter._guard.is_alive()
    meter.close()
    assert not meter._guard.is_alive()


def test_rapl_meter_describes_root_zones_and_guard_period(tmp_path: Path, server_tree) -> None:
    with RaplMeter.open(tmp_path) as meter:
        described = meter.describe()
    assert described["powercap_root"] == str(tmp_path)
    assert [z["label"] for z in described["zones"]] == ["package-0", "package-0/dram", "package-1"]
    assert described["label"].startswith("measured: RAPL")
    assert rapl.DEFAULT_ROOT == Path("/sys/class/powercap")
