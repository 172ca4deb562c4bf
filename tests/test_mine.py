"""The ``mine`` workload: presets, steps over a real header, time roll, and a check that fails loudly."""

from __future__ import annotations

import pytest

from bench.devices import Device
from bench.errors import BenchError, WorkloadCheckFailed
from kernels import sha256d, sha256d_cpu
from bench.workloads.mine import BLOCK, CPU_NONCES_PER_THREAD, MineConfig, MineWorkload, _poisson_cdf, share_target_for

CPU = Device("cpu", None, "test CPU")


def small_workload(nonces_per_step: int = 2**15, shares_per_step: float = 4) -> MineWorkload:
    """A workload with short steps, so a test runs a few of them in well under a second."""
    target = share_target_for(nonces_per_step, shares_per_step)
    return MineWorkload(MineConfig("cpu", 1, nonces_per_step, target, sha256d_cpu.available_variants()[0]), CPU)


@pytest.mark.parametrize(
    "preset, kind, threads, message",
    [
        ("fast", "cpu", None, "unknown preset 'fast'"),
        ("quick", "tpu", None, "unknown device kind 'tpu'"),
        ("quick", "cpu", 0, "threads must be a positive integer"),
        ("quick", "cuda", 4, "threads and kernel variant apply to mining on the CPU only"),
    ],
)
def test_for_preset_rejects_bad_options_with_one_line(preset, kind, threads, message):
    with pytest.raises(BenchError, match=message):
        MineWorkload.for_preset(preset, Device(kind, 0 if kind == "cuda" else None, f"test {kind}"), threads=threads)


def test_for_preset_rejects_an_unknown_kernel_variant():
    with pytest.raises(BenchError, match="variant must be one of sha-ni, simd"):
        MineWorkload.for_preset("quick", CPU, variant="avx9000")


def test_cpu_step_size_scales_with_threads_and_target_gives_about_two_shares_a_step():
    workload = MineWorkload.for_preset("quick", CPU, threads=3)
    config = workload.config()
    assert config["threads"] == 3
    assert config["variant"] == "auto"  # chosen at build, by measurement (tests/test_kernel_choice.py)
    assert config["nonces_per_step"] == 3 * CPU_NONCES_PER_THREAD
    expected_shares = config["nonces_per_step"] * (int(config["share_target_hex"], 16) + 1) / 2**256
    assert 1 <= expected_shares <= 4
    assert config["header"].endswith(BLOCK.hash_hex())
    assert "one nonce = one double SHA-256" in config["hash_unit"]


def test_share_target_is_a_power_of_two_minus_one():
    assert share_target_for(2**21) == 2**236 - 1
    assert share_target_for(1, shares_per_step=2**300) == sha256d.MAX_TARGET


def test_steps_find_shares_that_the_check_confirms_with_hashlib():
    workload = small_workload()
    build = workload.build()
    assert [p.name for p in build.phases] == ["hash"] and build.phases[0].headline
    assert {"compile_s", "cached"} <= set(build.details)
    assert sum(build.phases[0].step() for _ in range(4)) == 4 * 2**15
    result = workload.check()
    assert result["nonces_scanned"] == 4 * 2**15
    assert result["shares_found"] == result["shares_rehashed"] > 0
    assert result["sample_nonces_rehashed"] > 0


def test_check_fails_on_a_reported_share_that_is_not_one():
    workload = small_workload()
    workload.build().phases[0].step()
    prefix = workload._header_prefix
    not_a_share = next(n for n in range(10**6) if sha256d.hash_value(prefix + n.to_bytes(4, "little")) > workload._config.share_target)
    workload._shares.append((prefix, not_a_share))
    with pytest.raises(WorkloadCheckFailed, match=f"nonce {not_a_share} reported as a share"):
        workload.check()


def test_check_fails_when_the_kernel_misses_shares():
    workload = small_workload(shares_per_step=64)
    step = workload.build().phases[0].step
    step()
    workload._shares.clear()  # as if the kernel had found nothing
    with pytest.raises(WorkloadCheckFailed, match="shares"):
        workload.check()


def test_nonce_space_exhausted_rolls_the_header_time():
    workload = small_workload()
    step = workload.build().phases[0].step
    workload._next_nonce = 2**32 - 2**15  # one step left
    step()
    step()
    rolled = sha256d.BlockHeader.from_bytes(workload._header_prefix + bytes(4))
    assert rolled.time == BLOCK.time + 1
    assert workload._next_nonce == 2**15
    assert workload.check()["shares_found"] > 0


def test_poisson_lower_tail():
    assert _poisson_cdf(0, 21.0) == pytest.approx(7.58e-10, rel=1e-2)
    assert _poisson_cdf(3, 2.0) == pytest.approx(0.857123, rel=1e-5)
    assert _poisson_cdf(10_000, 10_000.0) == pytest.approx(0.5027, abs=1e-3)  # no underflow
