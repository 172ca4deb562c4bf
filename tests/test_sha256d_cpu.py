"""The CPU kernel (numba.njit) against hashlib: real blocks, property tests, edges of its layout.

The first test to call the kernel pays its cold compile (about 10 s on 2 cores) unless the
on-disk cache already holds it.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kernels import sha256d, sha256d_cpu
from kernels.sha256d import KNOWN_BLOCKS

WINDOW = 3000  # nonces on each side of a known nonce


@pytest.mark.parametrize("height", sorted(KNOWN_BLOCKS))
def test_cpu_kernel_finds_the_real_nonce_in_a_window_around_it(height):
    header, _ = KNOWN_BLOCKS[height]
    target = sha256d.bits_to_target(header.bits)
    found = sha256d.scan(header.to_bytes(), header.nonce - WINDOW, 2 * WINDOW, target, device="cpu")
    assert found == [header.nonce]


def test_cpu_kernel_finds_nothing_in_the_window_after_the_genesis_nonce():
    genesis, _ = KNOWN_BLOCKS[0]
    target = sha256d.bits_to_target(genesis.bits)
    assert sha256d.scan(genesis.to_bytes(), genesis.nonce + 1, 20_000, target) == []


def test_cpu_kernel_accepts_a_hash_equal_to_the_target_and_rejects_one_above():
    """A tie on the top word is settled on all 256 bits; the target is inclusive."""
    header = KNOWN_BLOCKS[125552][0].to_bytes()
    nonce = 1000
    value = sha256d.hash_value(sha256d.with_nonce(header, nonce))
    assert nonce in sha256d.scan(header, nonce - 5, 10, value)
    assert nonce not in sha256d.scan(header, nonce - 5, 10, value - 1)
    assert sha256d.scan(header, nonce - 5, 10, value) == sha256d.scan_reference(header, nonce - 5, 10, value)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    prefix=st.binary(min_size=76, max_size=76),
    start=st.integers(0, 2**32 - 600),
    count=st.integers(0, 600),
    target_bits=st.integers(240, 256),
)
def test_cpu_kernel_equals_hashlib_on_random_headers_and_easy_targets(prefix, start, count, target_bits):
    target = 2**target_bits - 1
    assert sha256d.scan(prefix, start, count, target) == sha256d.scan_reference(prefix, start, count, target)


@settings(max_examples=10, deadline=None)
@given(prefix=st.binary(min_size=76, max_size=76), threads=st.integers(1, 5))
def test_cpu_kernel_result_does_not_depend_on_threads(prefix, threads):
    inputs = sha256d.kernel_inputs(prefix)
    limit = np.uint32(2**26)  # one nonce in 64 is a candidate
    one = sha256d_cpu.candidates(inputs, 10_000, 9_000, limit, threads=1)
    many = sha256d_cpu.candidates(inputs, 10_000, 9_000, limit, threads=threads)
    assert one[0].tolist() == many[0].tolist() and one[1].tolist() == many[1].tolist()


def test_cpu_kernel_scans_up_to_the_last_nonce_without_wrapping():
    header = KNOWN_BLOCKS[0][0].to_bytes()
    start = 2**32 - 700
    assert sha256d.scan(header, start, 700, 2**252) == sha256d.scan_reference(header, start, 700, 2**252)


def test_cpu_kernel_keeps_every_candidate_when_its_buffer_overflows():
    inputs = sha256d.kernel_inputs(KNOWN_BLOCKS[0][0].to_bytes())
    nonces, tops = sha256d_cpu._candidates(inputs, 0, 5000, np.uint32(0xFFFFFFFF), room=3)
    assert nonces.tolist() == list(range(5000))
    expected_tops = [sha256d.hash_value(sha256d.with_nonce(KNOWN_BLOCKS[0][0].to_bytes(), n)) >> 224 for n in range(5000)]
    assert tops.tolist() == expected_tops


def test_compile_kernel_reports_seconds_and_cache_state():
    seconds, cached = sha256d_cpu.compile_kernel()
    assert seconds >= 0 and isinstance(cached, bool)
    assert len(sha256d_cpu.scan_candidates.signatures) == 1  # one compiled variant, no retyping
