"""pytest-benchmark cases for the SHA-256d kernels: MH/s per kernel variant and thread count,
beside a plain hashlib loop. Not part of the default test run (testpaths = tests); run with

    .venv/bin/python -m pytest benchmarks/test_bench_sha256d.py --benchmark-enable

One round hashes 2**20 nonces per thread (about 0.1 s a thread on a Zen 3 core); extra_info
carries the MH/s of the median round. ``benchmarks/bench_sha256d.py`` interleaves the
configurations and prints ratios and the ops-per-hash bound.
"""

from __future__ import annotations

import hashlib
import struct

import pytest

from kernels import sha256_ni, sha256d, sha256d_cpu

HEADER = sha256d.KNOWN_BLOCKS[839900][0].to_bytes()
INPUTS = sha256d.kernel_inputs(HEADER)
CPUS = sha256d_cpu.default_threads()
VARIANTS = [v for v in sha256d_cpu.VARIANTS if v != "sha-ni" or sha256_ni.available()]


def _record_mhs(benchmark, nonces: int) -> None:
    benchmark.extra_info["nonces_per_round"] = nonces
    if benchmark.enabled:
        benchmark.extra_info["mhs_median"] = nonces / benchmark.stats.stats.median / 1e6


@pytest.mark.parametrize("threads", sorted({1, CPUS}))
@pytest.mark.parametrize("variant", VARIANTS)
def test_cpu_kernel_speed(benchmark, variant, threads):
    sha256d_cpu.compile_kernel(variant)  # compile (or load) outside the timed rounds
    nonces = 2**20 * threads
    benchmark.group = f"sha256d cpu, {threads} thread(s)"
    benchmark.pedantic(
        sha256d_cpu.candidates, args=(INPUTS, 0, nonces, 0), kwargs={"threads": threads, "variant": variant},
        rounds=7, warmup_rounds=1,
    )
    _record_mhs(benchmark, nonces)


def test_hashlib_loop_speed(benchmark):
    prefix, sha256, pack = HEADER[:76], hashlib.sha256, struct.Struct("<I").pack
    nonces = 2**15

    def loop():
        for nonce in range(nonces):
            sha256(sha256(prefix + pack(nonce)).digest()).digest()

    benchmark.group = "sha256d cpu, 1 thread(s)"
    benchmark.pedantic(loop, rounds=7, warmup_rounds=1)
    _record_mhs(benchmark, nonces)


@pytest.fixture(scope="module")
def c_reference():
    import shutil

    from bench_sha256d import CReference  # this folder is on sys.path when pytest collects it

    if not sha256_ni.available() or shutil.which("cc") is None:
        pytest.skip("the C SHA-NI yardstick needs a C compiler and a CPU with the SHA extensions")
    return CReference()


@pytest.mark.parametrize("threads", sorted({1, CPUS}))
def test_c_reference_speed(benchmark, c_reference, threads):
    """The C SHA-NI scanner of benchmarks/c_reference (ours, not cpuminer-opt), same nonces."""
    nonces = 2**20 * threads
    benchmark.group = f"sha256d cpu, {threads} thread(s)"
    benchmark.pedantic(c_reference.rate, args=(INPUTS, nonces, threads), rounds=7, warmup_rounds=1)
    _record_mhs(benchmark, nonces)
