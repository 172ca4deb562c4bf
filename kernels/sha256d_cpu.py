"""SHA-256d nonce scan on the CPU with numba.njit, in two variants, one thread per part of the range.

  * ``sha-ni``: two nonces at a time through the x86 SHA extensions (``kernels.sha256_ni``), on
    CPUs that have them; about a second to compile;
  * ``simd``: lanes of nonces in SIMD registers, described below; any x86-64 (AVX2 or AVX-512
    make it fast).
Which is faster depends on the CPU (2.4x one way on a Zen 3, 2x the other on a Zen 5 with
AVX-512), so nothing here picks one: ``kernels.sha256d_choice`` measures the candidates
(``available_variants()``) and remembers the winner. Both share everything but the loop.

How the ``simd`` work is laid out:
  * per header (``sha256d.kernel_inputs``): the midstate of the first 64 bytes and rounds 0..2 of
    the second block, which do not depend on the nonce;
  * per thread: a contiguous part of the range, run by ``scan_candidates_simd`` with the GIL released
    (``nogil``); Python threads rather than ``parallel=True``, whose parfor lowering makes the cold
    compile several times longer (docs/mining-kernels.md);
  * inside a part, blocks of ``BLOCK_NONCES``: a loop whose body is the whole straight-line double
    SHA-256 of one nonce, keeping only the digest's last word. Iterations are independent, so
    LLVM's loop vectorizer runs the body on 8 nonces per AVX2 register (16 with AVX-512): the
    lanes are the structure-of-arrays layout, in registers, with the nonce-independent words
    hoisted out of the loop and the final-round work that feeds only other words dropped.
    ``forceinline`` (inherited by every callee) is what lets LLVM see one loop body: without it
    the rounds stay calls and the loop runs scalar;
  * early reject: that last word is the hash's top 32 bits. A nonce whose top word is below the
    target's top limb meets the target, one above it cannot; only a tie needs the other 224 bits,
    which ``sha256d.resolve_candidates`` compares on the host with the same round functions run
    by Python (a tie happens for one nonce in 2**32: not worth a second compiled copy of the hash).

Compiled once per machine and cached on disk (``cache=True``), the cache kept stale-proof against
edits of the round files too (``sha256_rounds.cache_also_keyed_on``); ``compile_kernel`` says what
the first call in this process cost and whether it came from the cache.
"""

from __future__ import annotations

import functools
import os
import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np
from numba import njit

from kernels import sha256_ni, sha256_rounds
from kernels.sha256_rounds import DIGEST_BITS, HEADER_BITS, IV, PAD_FIRST, ZERO, bswap32, sha256d_words, u32

VARIANTS = ("sha-ni", "simd")
BLOCK_NONCES = 4096  # simd: nonces per vectorized loop; their top words fit in L1 (16 KiB)
SIGNATURE = "int64(uint32[::1], int64, int64, uint32, int64[::1], uint32[::1])"  # both variants


@njit(cache=True, nogil=True, forceinline=True)
def scan_candidates_simd(inputs, start, count, top_limit, found_nonces, found_tops):
    """Nonces in [start, start + count) whose hash's top 32 bits are <= ``top_limit``, in order.

    Writes the first ``len(found_nonces)`` of them and their top words, and returns how many
    there were: a return value above the room means some were not stored (the caller rescans).
    """
    m0, m1, m2, m3, m4, m5, m6, m7 = inputs[0], inputs[1], inputs[2], inputs[3], inputs[4], inputs[5], inputs[6], inputs[7]
    p0, p1, p2, p3, p4, p5, p6, p7 = inputs[8], inputs[9], inputs[10], inputs[11], inputs[12], inputs[13], inputs[14], inputs[15]
    w0, w1, w2 = inputs[16], inputs[17], inputs[18]
    room = found_nonces.shape[0]
    tops = np.empty(BLOCK_NONCES, dtype=np.uint32)
    found = 0
    for first in range(start, start + count, BLOCK_NONCES):
        n = min(BLOCK_NONCES, start + count - first)
        for i in range(n):  # the vectorized loop: one nonce per SIMD lane
            digest = sha256d_words(m0, m1, m2, m3, m4, m5, m6, m7, p0, p1, p2, p3, p4, p5, p6, p7, w0, w1, w2, u32(first + i))
            tops[i] = bswap32(digest[7])
        for i in range(n):
            if tops[i] <= top_limit:
                if found < room:
                    found_nonces[found] = first + i
                    found_tops[found] = tops[i]
                found += 1
    return found


@njit(forceinline=True)
def _first_block(w0, w1, w2, nonce):
    return (w0, w1, w2, bswap32(u32(nonce)), PAD_FIRST, ZERO, ZERO, ZERO, ZERO, ZERO, ZERO, ZERO, ZERO, ZERO, ZERO, HEADER_BITS)


@njit(forceinline=True)
def _second_block(d):
    return (d[0], d[1], d[2], d[3], d[4], d[5], d[6], d[7], PAD_FIRST, ZERO, ZERO, ZERO, ZERO, ZERO, ZERO, DIGEST_BITS)


@njit(cache=True, nogil=True, forceinline=True)
def scan_candidates_shani(inputs, start, count, top_limit, found_nonces, found_tops):
    """``scan_candidates_simd`` through the SHA extensions: same arguments, same results."""
    midstate = (inputs[0], inputs[1], inputs[2], inputs[3], inputs[4], inputs[5], inputs[6], inputs[7])
    w0, w1, w2 = inputs[16], inputs[17], inputs[18]
    iv = (IV[0], IV[1], IV[2], IV[3], IV[4], IV[5], IV[6], IV[7])
    room = found_nonces.shape[0]
    found = 0
    end = start + count
    for first in range(start, end, 2):
        second = first + 1 if first + 1 < end else first  # an odd count's last trip: hashed twice, counted once
        # Two nonces a trip, their hashes interleaved (sha256_ni.compress_ni_x2), as fast as
        # the C yardstick (benchmarks/c_reference). Only the second hash's word 7 is read, so LLVM drops the
        # work that feeds only the other words, the last round pair included.
        da, db = sha256_ni.compress_ni_x2(
            midstate, _first_block(w0, w1, w2, first), midstate, _first_block(w0, w1, w2, second)
        )
        ha, hb = sha256_ni.compress_ni_x2(iv, _second_block(da), iv, _second_block(db))
        top_a, top_b = bswap32(ha[7]), bswap32(hb[7])
        if top_a <= top_limit:
            if found < room:
                found_nonces[found] = first
                found_tops[found] = top_a
            found += 1
        if second != first and top_b <= top_limit:
            if found < room:
                found_nonces[found] = second
                found_tops[found] = top_b
            found += 1
    return found


for _scan in (scan_candidates_simd, scan_candidates_shani):
    sha256_rounds.cache_also_keyed_on(_scan, sha256_rounds.__file__, sha256_ni.__file__)


def cpu_features() -> dict[str, bool]:
    """The host features that decide how fast each variant runs (what LLVM compiles for)."""
    import llvmlite.binding as llvm

    features = llvm.get_host_cpu_features()
    return {name: bool(features.get(name, False)) for name in ("sha", "avx2", "avx512f", "avx512vl")}


def available_variants() -> tuple[str, ...]:
    """The variants this CPU runs (as Numba compiles for it), in ``VARIANTS`` order."""
    return tuple(v for v in VARIANTS if v != "sha-ni" or sha256_ni.available())


def kernel(variant: str):
    """The compiled-on-demand scan function of ``variant``; ValueError if unknown or not runnable here."""
    if variant == "simd":
        return scan_candidates_simd
    if variant == "sha-ni":
        if not sha256_ni.available():
            raise ValueError("variant 'sha-ni' needs a CPU with the SHA extensions, and this one has none")
        return scan_candidates_shani
    raise ValueError(f"variant must be one of {', '.join(VARIANTS)}, got {variant!r}")


def default_threads() -> int:
    """CPUs this process may run on."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


@functools.lru_cache(maxsize=4)
def _pool(threads: int) -> ThreadPoolExecutor:
    """Worker threads kept between calls (a scan step is ~100 ms; no need to start threads each time)."""
    return ThreadPoolExecutor(threads, thread_name_prefix="sha256d-cpu")


def _candidates(scan, inputs: np.ndarray, start: int, count: int, top_limit: np.uint32, room: int):
    found_nonces = np.empty(room, dtype=np.int64)
    found_tops = np.empty(room, dtype=np.uint32)
    found = scan(inputs, start, count, top_limit, found_nonces, found_tops)
    if found > room:  # never dropped: scan this part again with room for all of them
        found_nonces = np.empty(found, dtype=np.int64)
        found_tops = np.empty(found, dtype=np.uint32)
        scan(inputs, start, count, top_limit, found_nonces, found_tops)
    return found_nonces[:found], found_tops[:found]


def candidates(inputs: np.ndarray, start: int, count: int, top_limit: np.uint32, threads: int | None = None, *, variant: str):
    """Nonces in [start, start + count) whose hash's top word is <= ``top_limit``, in increasing
    order, with those top words; on ``threads`` threads (default: every CPU this process may use)
    with kernel ``variant`` ("sha-ni" or "simd"; ``sha256d.scan`` takes "auto").
    ``sha256d.resolve_candidates`` turns them into hits. Arguments are checked by the caller."""
    scan = kernel(variant)
    if count == 0:
        return np.empty(0, dtype=np.int64), np.empty(0, dtype=np.uint32)
    threads = max(1, min(threads or default_threads(), -(-count // BLOCK_NONCES)))
    top_limit = np.uint32(top_limit)
    part = -(-count // threads)
    # Room for twice the expected candidates plus slack: a rescan is rare, and still correct.
    room = int(min(part, 2 * part * (int(top_limit) + 1) / 2**32 + 64))
    parts = [(s, min(part, start + count - s)) for s in range(start, start + count, part)]
    if len(parts) == 1:
        results = [_candidates(scan, inputs, start, count, top_limit, room)]
    else:
        results = list(_pool(len(parts)).map(lambda p: _candidates(scan, inputs, p[0], p[1], top_limit, room), parts))
    return np.concatenate([r[0] for r in results]), np.concatenate([r[1] for r in results])


def compile_kernel(variant: str) -> tuple[float, bool]:
    """Compile ``variant``'s kernel, or load it from the on-disk cache; returns (seconds, from_cache)."""
    scan = kernel(variant)
    before = time.perf_counter()
    scan.compile(SIGNATURE)  # a no-op when already compiled in this process
    seconds = time.perf_counter() - before
    return seconds, bool(scan.stats.cache_hits)
