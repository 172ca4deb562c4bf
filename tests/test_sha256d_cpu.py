"""The CPU kernels (numba.njit, both variants) against hashlib: real blocks, property tests,
edges of their layout.

The first test to call the ``simd`` kernel pays its cold compile (about 10 s on 2 cores; ``sha-ni``
under 1 s) unless the on-disk cache already holds it.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kernels import sha256_ni, sha256_rounds, sha256d, sha256d_cpu
from kernels.sha256d import KNOWN_BLOCKS

WINDOW = 3000  # nonces on each side of a known nonce
VARIANTS = [
    pytest.param(
        v,
        marks=pytest.mark.skipif(v == "sha-ni" and not sha256_ni.available(), reason="this CPU has no SHA extensions"),
    )
    for v in sha256d_cpu.VARIANTS
]


def scan(header, start, count, target, variant):
    """sha256d.scan with a chosen CPU variant."""
    inputs = sha256d.kernel_inputs(header)
    limbs = sha256d.target_limbs(target)
    nonces, tops = sha256d_cpu.candidates(inputs, start, count, limbs[0], variant=variant)
    return sha256d.resolve_candidates(inputs, nonces, tops, limbs)


@pytest.mark.parametrize("variant", VARIANTS)
@pytest.mark.parametrize("height", sorted(KNOWN_BLOCKS))
def test_cpu_kernel_finds_the_real_nonce_in_a_window_around_it(height, variant):
    header, _ = KNOWN_BLOCKS[height]
    target = sha256d.bits_to_target(header.bits)
    assert scan(header.to_bytes(), header.nonce - WINDOW, 2 * WINDOW, target, variant) == [header.nonce]


@pytest.mark.parametrize("variant", VARIANTS)
def test_cpu_kernel_finds_nothing_in_the_window_after_the_genesis_nonce(variant):
    genesis, _ = KNOWN_BLOCKS[0]
    target = sha256d.bits_to_target(genesis.bits)
    assert scan(genesis.to_bytes(), genesis.nonce + 1, 20_000, target, variant) == []


@pytest.mark.parametrize("variant", VARIANTS)
def test_cpu_kernel_accepts_a_hash_equal_to_the_target_and_rejects_one_above(variant):
    """A tie on the top word is settled on all 256 bits; the target is inclusive."""
    header = KNOWN_BLOCKS[125552][0].to_bytes()
    nonce = 1000
    value = sha256d.hash_value(sha256d.with_nonce(header, nonce))
    assert nonce in scan(header, nonce - 5, 10, value, variant)
    assert nonce not in scan(header, nonce - 5, 10, value - 1, variant)
    assert scan(header, nonce - 5, 10, value, variant) == sha256d.scan_reference(header, nonce - 5, 10, value)


@pytest.mark.parametrize("variant", VARIANTS)
def test_cpu_kernel_equals_hashlib_on_random_headers_and_easy_targets(variant):
    @settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(
        prefix=st.binary(min_size=76, max_size=76),
        start=st.integers(0, 2**32 - 600),
        count=st.integers(0, 600),
        target_bits=st.integers(240, 256),
    )
    def property(prefix, start, count, target_bits):
        target = 2**target_bits - 1
        assert scan(prefix, start, count, target, variant) == sha256d.scan_reference(prefix, start, count, target)

    property()


def test_public_scan_with_the_measured_variant_equals_hashlib():
    header = KNOWN_BLOCKS[839900][0].to_bytes()
    assert sha256d.scan(header, 0, 2000, 2**249) == sha256d.scan_reference(header, 0, 2000, 2**249)


@pytest.mark.parametrize("variant", VARIANTS)
def test_public_scan_with_a_forced_variant_equals_hashlib(variant):
    header = KNOWN_BLOCKS[0][0].to_bytes()
    assert sha256d.scan(header, 0, 2000, 2**249, variant=variant) == sha256d.scan_reference(header, 0, 2000, 2**249)


@pytest.mark.parametrize("variant", VARIANTS)
def test_cpu_kernel_result_does_not_depend_on_threads(variant):
    @settings(max_examples=10, deadline=None)
    @given(prefix=st.binary(min_size=76, max_size=76), threads=st.integers(2, 5))
    def property(prefix, threads):
        inputs = sha256d.kernel_inputs(prefix)
        limit = np.uint32(2**26)  # one nonce in 64 is a candidate
        one = sha256d_cpu.candidates(inputs, 10_000, 9_000, limit, threads=1, variant=variant)
        many = sha256d_cpu.candidates(inputs, 10_000, 9_000, limit, threads=threads, variant=variant)
        assert one[0].tolist() == many[0].tolist() and one[1].tolist() == many[1].tolist()

    property()


@pytest.mark.parametrize("variant", VARIANTS)
def test_cpu_kernel_scans_up_to_the_last_nonce_without_wrapping(variant):
    header = KNOWN_BLOCKS[0][0].to_bytes()
    start = 2**32 - 700
    assert scan(header, start, 700, 2**252, variant) == sha256d.scan_reference(header, start, 700, 2**252)


@pytest.mark.parametrize("variant", VARIANTS)
def test_cpu_kernel_keeps_every_candidate_when_its_buffer_overflows(variant):
    header = KNOWN_BLOCKS[0][0].to_bytes()
    inputs = sha256d.kernel_inputs(header)
    nonces, tops = sha256d_cpu._candidates(sha256d_cpu.kernel(variant), inputs, 0, 5000, np.uint32(0xFFFFFFFF), room=3)
    assert nonces.tolist() == list(range(5000))
    assert tops.tolist() == [sha256d.hash_value(sha256d.with_nonce(header, n)) >> 224 for n in range(5000)]


@pytest.mark.parametrize("variant", VARIANTS)
def test_compile_kernel_reports_seconds_and_cache_state(variant):
    seconds, cached = sha256d_cpu.compile_kernel(variant)
    assert seconds >= 0 and isinstance(cached, bool)
    assert len(sha256d_cpu.kernel(variant).signatures) == 1  # no retyping into a second compile


def test_unknown_or_unavailable_variant_is_refused():
    with pytest.raises(ValueError, match="variant must be one of sha-ni, simd"):
        sha256d_cpu.kernel("avx9000")


def test_sha_ni_compression_equals_the_scalar_rounds():
    if not sha256_ni.available():
        pytest.skip("this CPU has no SHA extensions")
    from numba import njit

    @njit
    def both(state, block):
        return sha256_ni.compress_ni(state, block), sha256_rounds.compress(*state, *block)

    rng = np.random.default_rng(1)
    for _ in range(20):
        state = tuple(np.uint32(x) for x in rng.integers(0, 2**32, 8, dtype=np.uint64))
        block = tuple(np.uint32(x) for x in rng.integers(0, 2**32, 16, dtype=np.uint64))
        ni, scalar = both(state, block)
        assert ni == scalar


def test_interleaved_pair_of_sha_ni_compressions_equals_two_scalar_ones():
    if not sha256_ni.available():
        pytest.skip("this CPU has no SHA extensions")
    from numba import njit

    @njit
    def both(sa, ba, sb, bb):
        return sha256_ni.compress_ni_x2(sa, ba, sb, bb), (sha256_rounds.compress(*sa, *ba), sha256_rounds.compress(*sb, *bb))

    rng = np.random.default_rng(2)
    for _ in range(20):
        sa, sb = (tuple(np.uint32(x) for x in rng.integers(0, 2**32, 8, dtype=np.uint64)) for _ in range(2))
        ba, bb = (tuple(np.uint32(x) for x in rng.integers(0, 2**32, 16, dtype=np.uint64)) for _ in range(2))
        pair, scalar = both(sa, ba, sb, bb)
        assert pair == scalar and pair[0] != pair[1]


@pytest.mark.parametrize("count", [1, 2, 3, 7])
def test_sha_ni_scan_handles_odd_and_tiny_counts(count):
    if not sha256_ni.available():
        pytest.skip("this CPU has no SHA extensions")
    header, nonce = sha256d.KNOWN_BLOCKS[0][0].to_bytes(), sha256d.KNOWN_BLOCKS[0][0].nonce
    easy = sha256d.difficulty_to_target(2**-24)
    expected = sha256d.scan_reference(header, nonce - count + 1, count, easy)
    assert nonce in expected
    assert scan(header, nonce - count + 1, count, easy, "sha-ni") == expected


def test_kernel_cache_goes_stale_when_a_round_file_changes(tmp_path):
    rounds_file = tmp_path / "rounds.py"

    def stamp_after_writing(text):
        rounds_file.write_text(text)
        dispatcher = SimpleNamespace(_cache=SimpleNamespace(_cache_file=SimpleNamespace(_source_stamp="kernel file")))
        sha256_rounds.cache_also_keyed_on(dispatcher, rounds_file)
        return dispatcher._cache._cache_file._source_stamp

    assert stamp_after_writing("a") == stamp_after_writing("a")
    assert stamp_after_writing("a") != stamp_after_writing("b")
    # and Numba's cache object still has the shape this relies on
    stamp = sha256d_cpu.scan_candidates_simd._cache._cache_file._source_stamp
    assert stamp[1][0] == hashlib.sha256(Path(sha256_rounds.__file__).read_bytes()).hexdigest()


@pytest.mark.parametrize(
    "cpu_name, cpu_features, expected",
    [(None, "+sha,+avx2", True), (None, "+avx2,-sha", False), ("generic", None, False)],
)
def test_sha_ni_availability_follows_numbas_target_settings(monkeypatch, cpu_name, cpu_features, expected):
    from numba.core import config

    monkeypatch.setattr(config, "CPU_NAME", cpu_name)
    monkeypatch.setattr(config, "CPU_FEATURES", cpu_features)
    assert sha256_ni.available() is expected
