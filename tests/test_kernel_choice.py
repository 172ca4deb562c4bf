"""The CPU kernel variant chosen by measurement: timing, the per-machine cache and its key, forced
variants, and the mine workload, ``bench run --kernel`` and ``sha256d.scan`` using the choice.

No test here depends on how fast anything runs: the timer, the scan or the measured rates are
injected, so the choice is whatever the test says is faster.
"""

from __future__ import annotations

import json
import os

import pytest

from bench.cli import main
from bench.devices import Device
from bench.errors import BenchError
from bench.workloads.mine import MineWorkload
from kernels import sha256_ni, sha256d, sha256d_choice, sha256d_cpu

CPU = Device("cpu", None, "test CPU")
BOTH = pytest.mark.skipif(len(sha256d_cpu.available_variants()) < 2, reason="this CPU runs one variant only")


class FakeScanClock:
    """A clock that a fake scan advances by nonces / the variant's rate: timing without timing."""

    def __init__(self, rates_hps):
        self.now, self.rates_hps, self.calls = 0.0, rates_hps, []

    def clock(self):
        return self.now

    def scan(self, variant, nonces, threads):
        self.calls.append((variant, nonces, threads))
        self.now += nonces / (self.rates_hps[variant] * threads)


def test_measure_rates_calibrates_each_burst_and_reports_the_median_rate():
    fake = FakeScanClock({"a": 10e6, "b": 40e6})
    rates = sha256d_choice.measure_rates(["a", "b"], 2, burst_s=0.1, rounds=3, scan=fake.scan, clock=fake.clock)
    assert rates == pytest.approx({"a": 20e6, "b": 80e6})
    timed = fake.calls[-6:]  # after calibration: 3 rounds of both, order rotated every round
    assert [v for v, _, _ in timed] == ["a", "b", "b", "a", "a", "b"]
    for variant, nonces, threads in timed:  # each burst sized to about burst_s
        assert nonces / (fake.rates_hps[variant] * threads) == pytest.approx(0.1, rel=0.01)
    calibration = fake.calls[:-6]
    assert calibration[0][1] == sha256d_choice.PROBE_NONCES_PER_THREAD * 2 and all(t == 2 for _, _, t in fake.calls)


def test_measure_rates_stops_growing_a_burst_at_the_cap():
    fake = FakeScanClock({"a": 1e15})  # absurdly fast: calibration would grow forever
    sha256d_choice.measure_rates(["a"], 1, scan=fake.scan, clock=fake.clock)
    assert max(n for _, n, _ in fake.calls) == sha256d_choice.MAX_BURST_NONCES


def _rates(winner):
    return lambda variants, threads: {v: (2e7 if v == winner else 1e7) for v in variants}


def _never(variants, threads):
    raise AssertionError("measured although the choice was cached")


@BOTH
@pytest.mark.parametrize("winner", ["sha-ni", "simd"])
def test_the_fastest_candidate_is_chosen_recorded_and_then_read_from_the_cache(tmp_path, winner):
    first = sha256d_choice.choose(2, directory=tmp_path, measure=_rates(winner))
    assert (first.variant, first.source) == (winner, "measured")
    assert first.to_dict()["candidates_mhs"] == {v: (20.0 if v == winner else 10.0) for v in ("sha-ni", "simd")}
    again = sha256d_choice.choose(2, directory=tmp_path, measure=_never)
    assert (again.variant, again.source, again.rates_hps) == (winner, "cache", first.rates_hps)
    assert again.cache_file == str(tmp_path / sha256d_choice.CACHE_FILE)


@BOTH
def test_a_cached_choice_is_invalidated_when_a_kernel_source_changes(tmp_path):
    source = tmp_path / "kernel.py"
    source.write_text("version 1")
    cache = tmp_path / "cache"
    assert sha256d_choice.choose(1, directory=cache, sources=[source], measure=_rates("simd")).source == "measured"
    assert sha256d_choice.choose(1, directory=cache, sources=[source], measure=_never).variant == "simd"
    source.write_text("version 2")
    changed = sha256d_choice.choose(1, directory=cache, sources=[source], measure=_rates("sha-ni"))
    assert (changed.variant, changed.source) == ("sha-ni", "measured")


@BOTH
def test_a_choice_is_per_thread_count(tmp_path):
    sha256d_choice.choose(1, directory=tmp_path, measure=_rates("simd"))
    other = sha256d_choice.choose(2, directory=tmp_path, measure=_rates("sha-ni"))
    assert (other.variant, other.source) == ("sha-ni", "measured")
    assert sha256d_choice.choose(1, directory=tmp_path, measure=_never).variant == "simd"


def test_the_cache_key_names_the_cpu_its_features_the_threads_and_the_kernel_sources():
    key = sha256d_choice.machine_key(4)
    assert key["cpu_model"] == sha256d_choice.cpu_model() and key["threads"] == 4
    assert ("sha" in key["features"]) == sha256_ni.available()
    assert len(key["sources_sha256"]) == len(sha256d_choice.SOURCES) == 3
    assert {p.name for p in sha256d_choice.SOURCES} == {"sha256d_cpu.py", "sha256_ni.py", "sha256_rounds.py"}


@BOTH
@pytest.mark.parametrize("damage", ["{not json", '{"format": "something else"}', "[]", '{"format": "joulebench-kernel-choice", "version": 1, "entries": {"x": 5}}'])
def test_a_damaged_cache_is_measured_afresh_and_rewritten(tmp_path, damage):
    path = tmp_path / sha256d_choice.CACHE_FILE
    path.write_text(damage)
    choice = sha256d_choice.choose(1, directory=tmp_path, measure=_rates("simd"))
    assert (choice.variant, choice.source) == ("simd", "measured")
    assert json.loads(path.read_text())["format"] == sha256d_choice.CACHE_FORMAT
    assert sha256d_choice.choose(1, directory=tmp_path, measure=_never).source == "cache"


@BOTH
def test_an_unwritable_cache_still_gives_a_choice_and_says_why_it_was_not_kept(tmp_path):
    blocker = tmp_path / "a file"
    blocker.write_text("")
    choice = sha256d_choice.choose(1, directory=blocker / "cache", measure=_rates("sha-ni"))
    assert choice.variant == "sha-ni" and "not cached" in choice.cache_note


def test_the_cache_goes_where_the_environment_says(monkeypatch, tmp_path):
    monkeypatch.setenv(sha256d_choice.CACHE_ENV, str(tmp_path / "here"))
    assert sha256d_choice.cache_dir() == tmp_path / "here"
    monkeypatch.delenv(sha256d_choice.CACHE_ENV)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert sha256d_choice.cache_dir() == tmp_path / "xdg" / "joulebench"


def test_tests_keep_the_cache_out_of_the_home_folder():
    """tests/conftest.py sets the variable by name; this checks it is the one the kernels read."""
    assert os.environ[sha256d_choice.CACHE_ENV] and not os.environ[sha256d_choice.CACHE_ENV].startswith(
        os.path.expanduser("~/.cache")
    )


@pytest.mark.parametrize("variant", sha256d_cpu.available_variants())
def test_a_forced_variant_is_honoured_without_measuring(tmp_path, variant):
    choice = sha256d_choice.choose(1, variant=variant, directory=tmp_path, measure=_never)
    assert (choice.variant, choice.source) == (variant, "forced")


def _without_sha(monkeypatch):
    from numba.core import config

    monkeypatch.setattr(config, "CPU_FEATURES", "+avx2,-sha")


def test_a_variant_the_cpu_lacks_is_refused_and_a_lone_candidate_is_not_timed(monkeypatch, tmp_path):
    _without_sha(monkeypatch)
    assert sha256d_cpu.available_variants() == ("simd",)
    with pytest.raises(ValueError, match="needs a CPU with the SHA extensions"):
        sha256d_choice.choose(1, variant="sha-ni", directory=tmp_path)
    only = sha256d_choice.choose(1, directory=tmp_path, measure=_never)
    assert (only.variant, only.source) == ("simd", "only")


def _workload(winner, tmp_path, variant=None):
    def choose(threads, variant):
        return sha256d_choice.choose(threads, variant=variant, directory=tmp_path, measure=_rates(winner))

    return MineWorkload.for_preset("quick", CPU, threads=1, variant=variant, choose=choose)


@pytest.mark.parametrize("winner", sha256d_cpu.available_variants())
def test_mine_build_runs_the_measured_winner_and_records_every_candidate(tmp_path, winner):
    workload = _workload(winner, tmp_path)
    assert workload.config()["variant"] == "auto"
    build = workload.build()
    assert build.details["variant"] == winner
    choice = build.details["choice"]
    assert choice["chosen"] == winner and choice["threads"] == 1
    assert set(choice["candidates_mhs"]) == set(sha256d_cpu.available_variants()) or choice["source"] == "only"
    assert workload._variant == winner
    json.dumps(build.details)  # stored as-is in the result file


def test_mine_build_honours_a_forced_variant(tmp_path):
    workload = _workload("sha-ni", tmp_path, variant="simd")
    assert workload.config()["variant"] == "simd"
    build = workload.build()
    assert build.details["variant"] == "simd" and build.details["choice"]["source"] == "forced"


def test_mine_refuses_a_variant_the_cpu_lacks_before_building(monkeypatch):
    _without_sha(monkeypatch)
    with pytest.raises(BenchError, match="--kernel sha-ni: variant 'sha-ni' needs a CPU with the SHA extensions"):
        MineWorkload.for_preset("quick", CPU, variant="sha-ni")


def test_bench_run_kernel_the_cpu_lacks_is_one_line_and_exit_2(monkeypatch, capsys, tmp_path):
    _without_sha(monkeypatch)
    with pytest.raises(SystemExit) as exited:
        main(["run", "--device", "cpu", "--workload", "mine", "--kernel", "sha-ni", "--out", str(tmp_path)])
    err = capsys.readouterr().err
    assert exited.value.code == 2
    assert "sha-ni" in err and "SHA extensions" in err and len(err.strip().splitlines()) == 1
    assert not list(tmp_path.rglob("*.json"))


def test_bench_run_kernel_refuses_an_unknown_name(capsys, tmp_path):
    with pytest.raises(SystemExit) as exited:
        main(["run", "--device", "cpu", "--workload", "mine", "--kernel", "avx9000", "--out", str(tmp_path)])
    assert exited.value.code == 2 and "avx9000" in capsys.readouterr().err


@BOTH
@pytest.mark.parametrize("winner", ["sha-ni", "simd"])
def test_scan_auto_uses_the_cached_choice(monkeypatch, tmp_path, winner):
    monkeypatch.setenv(sha256d_choice.CACHE_ENV, str(tmp_path))
    threads = sha256d_cpu.default_threads()
    sha256d_choice.choose(threads, measure=_rates(winner))  # what a build on this machine measured
    used = []
    real = sha256d_cpu.candidates

    def spy(*args, variant, **kwargs):
        used.append(variant)
        return real(*args, variant=variant, **kwargs)

    monkeypatch.setattr(sha256d_cpu, "candidates", spy)
    header = sha256d.KNOWN_BLOCKS[0][0].to_bytes()
    assert sha256d.scan(header, 0, 500, 2**250) == sha256d.scan_reference(header, 0, 500, 2**250)
    assert used == [winner]


def test_scan_refuses_a_variant_on_cuda_and_an_unknown_one():
    with pytest.raises(ValueError, match="CPU kernels only"):
        sha256d.scan(bytes(80), 0, 10, 2**255, device="cuda", variant="simd")
    with pytest.raises(ValueError, match="variant must be one of"):
        sha256d.scan(bytes(80), 0, 10, 2**255, variant="avx9000")
