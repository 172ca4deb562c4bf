"""SHA-256 (FIPS 180-4) compression written once, for numba.njit, numba.cuda.jit and plain Python.

Every function here is a plain Python function registered with ``register_jitable``: the CPU
kernel (``numba.njit``), the CUDA kernel (``numba.cuda.jit``, where each becomes a device
function) and the CUDA simulator all call the same source. Words are ``numpy.uint32``. Numba
widens ``uint32 op uint32`` to 64 bits, so every result is cut back with ``u32(...)``; LLVM and
NVVM turn that back into 32-bit instructions. In plain Python, numpy wraps uint32 sums and warns
about the overflow: callers that run this in Python silence it (``numpy.errstate``).

Shape, chosen for the compilers rather than for the reader:
the state lives in eight scalars and the message schedule in sixteen, and the 64 rounds are
spread over a few ordinary functions of eight rounds each. No loops over local arrays (NVVM
keeps those rolled, in local memory) and no Numba-level inlining (minutes of compile time):
NVVM inlines the calls by itself, LLVM on the CPU when the kernel asks (``forceinline``), and
both constant-fold the padding words.

Kernels hash an 80-byte header in two blocks. The first 64 bytes never change while nonces are
scanned, so their compression (the *midstate*) and the first three rounds of the second block,
which read only the header's last three words before the nonce, are computed once per header by
``nonce_block_prefix``. Per nonce, ``sha256d_words`` runs rounds 3..63 of that block and the
whole second SHA-256.
"""

from __future__ import annotations

import numpy as np
from numba.extending import register_jitable

u32 = np.uint32

# Round constants and initial hash value, FIPS 180-4 sections 4.2.2 and 5.3.3.
K = np.array(
    [
        0x428A2F98, 0x71374491, 0xB5C0FBCF, 0xE9B5DBA5, 0x3956C25B, 0x59F111F1, 0x923F82A4, 0xAB1C5ED5,
        0xD807AA98, 0x12835B01, 0x243185BE, 0x550C7DC3, 0x72BE5D74, 0x80DEB1FE, 0x9BDC06A7, 0xC19BF174,
        0xE49B69C1, 0xEFBE4786, 0x0FC19DC6, 0x240CA1CC, 0x2DE92C6F, 0x4A7484AA, 0x5CB0A9DC, 0x76F988DA,
        0x983E5152, 0xA831C66D, 0xB00327C8, 0xBF597FC7, 0xC6E00BF3, 0xD5A79147, 0x06CA6351, 0x14292967,
        0x27B70A85, 0x2E1B2138, 0x4D2C6DFC, 0x53380D13, 0x650A7354, 0x766A0ABB, 0x81C2C92E, 0x92722C85,
        0xA2BFE8A1, 0xA81A664B, 0xC24B8B70, 0xC76C51A3, 0xD192E819, 0xD6990624, 0xF40E3585, 0x106AA070,
        0x19A4C116, 0x1E376C08, 0x2748774C, 0x34B0BCB5, 0x391C0CB3, 0x4ED8AA4A, 0x5B9CCA4F, 0x682E6FF3,
        0x748F82EE, 0x78A5636F, 0x84C87814, 0x8CC70208, 0x90BEFFFA, 0xA4506CEB, 0xBEF9A3F7, 0xC67178F2,
    ],
    dtype=np.uint32,
)
IV = np.array(
    [0x6A09E667, 0xBB67AE85, 0x3C6EF372, 0xA54FF53A, 0x510E527F, 0x9B05688C, 0x1F83D9AB, 0x5BE0CD19],
    dtype=np.uint32,
)
# Padding words: a 1 bit after the message, and the message length in bits at the end.
PAD_FIRST = u32(0x80000000)
ZERO = u32(0)
HEADER_BITS = u32(640)  # 80-byte header, length word of its second block
DIGEST_BITS = u32(256)  # 32-byte first digest, length word of the second SHA-256
_BYTE1 = u32(0x0000FF00)
_BYTE2 = u32(0x00FF0000)


@register_jitable
def bswap32(x):
    """Byte-reverse a word: header fields are little-endian, SHA-256 reads big-endian words."""
    return u32((x >> 24) | ((x >> 8) & _BYTE1) | ((x << 8) & _BYTE2) | (x << 24))


@register_jitable
def big_sigma0(x):
    return u32(((x >> 2) | (x << 30)) ^ ((x >> 13) | (x << 19)) ^ ((x >> 22) | (x << 10)))


@register_jitable
def big_sigma1(x):
    return u32(((x >> 6) | (x << 26)) ^ ((x >> 11) | (x << 21)) ^ ((x >> 25) | (x << 7)))


@register_jitable
def small_sigma0(x):
    return u32(((x >> 7) | (x << 25)) ^ ((x >> 18) | (x << 14)) ^ (x >> 3))


@register_jitable
def small_sigma1(x):
    return u32(((x >> 17) | (x << 15)) ^ ((x >> 19) | (x << 13)) ^ (x >> 10))


@register_jitable
def choose(e, f, g):
    return u32(g ^ (e & (f ^ g)))  # (e & f) | (~e & g) in three operations


@register_jitable
def majority(a, b, c):
    return u32((a & b) | (c & (a | b)))


@register_jitable
def sha256_round(a, b, c, d, e, f, g, h, k, w):
    """One round with round constant ``k`` and message word ``w``; returns the new a..h."""
    t1 = u32(h + big_sigma1(e) + choose(e, f, g) + k + w)
    t2 = u32(big_sigma0(a) + majority(a, b, c))
    return u32(t1 + t2), a, b, c, u32(d + t1), e, f, g


@register_jitable
def rounds8(a, b, c, d, e, f, g, h, w0, w1, w2, w3, w4, w5, w6, w7, first):
    """Rounds ``first`` .. ``first + 7`` with message words w0..w7 of those rounds."""
    a, b, c, d, e, f, g, h = sha256_round(a, b, c, d, e, f, g, h, K[first], w0)
    a, b, c, d, e, f, g, h = sha256_round(a, b, c, d, e, f, g, h, K[first + 1], w1)
    a, b, c, d, e, f, g, h = sha256_round(a, b, c, d, e, f, g, h, K[first + 2], w2)
    a, b, c, d, e, f, g, h = sha256_round(a, b, c, d, e, f, g, h, K[first + 3], w3)
    a, b, c, d, e, f, g, h = sha256_round(a, b, c, d, e, f, g, h, K[first + 4], w4)
    a, b, c, d, e, f, g, h = sha256_round(a, b, c, d, e, f, g, h, K[first + 5], w5)
    a, b, c, d, e, f, g, h = sha256_round(a, b, c, d, e, f, g, h, K[first + 6], w6)
    a, b, c, d, e, f, g, h = sha256_round(a, b, c, d, e, f, g, h, K[first + 7], w7)
    return a, b, c, d, e, f, g, h


@register_jitable
def schedule_word(w_minus16, w_minus15, w_minus7, w_minus2):
    return u32(small_sigma1(w_minus2) + w_minus7 + small_sigma0(w_minus15) + w_minus16)


@register_jitable
def expand16(w0, w1, w2, w3, w4, w5, w6, w7, w8, w9, w10, w11, w12, w13, w14, w15):
    """The next sixteen message-schedule words from the previous sixteen."""
    w16 = schedule_word(w0, w1, w9, w14)
    w17 = schedule_word(w1, w2, w10, w15)
    w18 = schedule_word(w2, w3, w11, w16)
    w19 = schedule_word(w3, w4, w12, w17)
    w20 = schedule_word(w4, w5, w13, w18)
    w21 = schedule_word(w5, w6, w14, w19)
    w22 = schedule_word(w6, w7, w15, w20)
    w23 = schedule_word(w7, w8, w16, w21)
    w24 = schedule_word(w8, w9, w17, w22)
    w25 = schedule_word(w9, w10, w18, w23)
    w26 = schedule_word(w10, w11, w19, w24)
    w27 = schedule_word(w11, w12, w20, w25)
    w28 = schedule_word(w12, w13, w21, w26)
    w29 = schedule_word(w13, w14, w22, w27)
    w30 = schedule_word(w14, w15, w23, w28)
    w31 = schedule_word(w15, w16, w24, w29)
    return w16, w17, w18, w19, w20, w21, w22, w23, w24, w25, w26, w27, w28, w29, w30, w31


@register_jitable
def rounds16_to_63(a, b, c, d, e, f, g, h, w0, w1, w2, w3, w4, w5, w6, w7, w8, w9, w10, w11, w12, w13, w14, w15):
    """Rounds 16..63, given the block's first sixteen message words; returns the new a..h."""
    # Written out, not looped: the first expansion of a padded block is partly constant, and the
    # compilers fold it only when they see each call on its own.
    w0, w1, w2, w3, w4, w5, w6, w7, w8, w9, w10, w11, w12, w13, w14, w15 = expand16(
        w0, w1, w2, w3, w4, w5, w6, w7, w8, w9, w10, w11, w12, w13, w14, w15
    )
    a, b, c, d, e, f, g, h = rounds8(a, b, c, d, e, f, g, h, w0, w1, w2, w3, w4, w5, w6, w7, 16)
    a, b, c, d, e, f, g, h = rounds8(a, b, c, d, e, f, g, h, w8, w9, w10, w11, w12, w13, w14, w15, 24)
    w0, w1, w2, w3, w4, w5, w6, w7, w8, w9, w10, w11, w12, w13, w14, w15 = expand16(
        w0, w1, w2, w3, w4, w5, w6, w7, w8, w9, w10, w11, w12, w13, w14, w15
    )
    a, b, c, d, e, f, g, h = rounds8(a, b, c, d, e, f, g, h, w0, w1, w2, w3, w4, w5, w6, w7, 32)
    a, b, c, d, e, f, g, h = rounds8(a, b, c, d, e, f, g, h, w8, w9, w10, w11, w12, w13, w14, w15, 40)
    w0, w1, w2, w3, w4, w5, w6, w7, w8, w9, w10, w11, w12, w13, w14, w15 = expand16(
        w0, w1, w2, w3, w4, w5, w6, w7, w8, w9, w10, w11, w12, w13, w14, w15
    )
    a, b, c, d, e, f, g, h = rounds8(a, b, c, d, e, f, g, h, w0, w1, w2, w3, w4, w5, w6, w7, 48)
    a, b, c, d, e, f, g, h = rounds8(a, b, c, d, e, f, g, h, w8, w9, w10, w11, w12, w13, w14, w15, 56)
    return a, b, c, d, e, f, g, h


@register_jitable
def compress(s0, s1, s2, s3, s4, s5, s6, s7, w0, w1, w2, w3, w4, w5, w6, w7, w8, w9, w10, w11, w12, w13, w14, w15):
    """SHA-256 compression of one 16-word block into state s0..s7; returns the new state."""
    a, b, c, d, e, f, g, h = rounds8(s0, s1, s2, s3, s4, s5, s6, s7, w0, w1, w2, w3, w4, w5, w6, w7, 0)
    a, b, c, d, e, f, g, h = rounds8(a, b, c, d, e, f, g, h, w8, w9, w10, w11, w12, w13, w14, w15, 8)
    a, b, c, d, e, f, g, h = rounds16_to_63(
        a, b, c, d, e, f, g, h, w0, w1, w2, w3, w4, w5, w6, w7, w8, w9, w10, w11, w12, w13, w14, w15
    )
    return (
        u32(s0 + a), u32(s1 + b), u32(s2 + c), u32(s3 + d),
        u32(s4 + e), u32(s5 + f), u32(s6 + g), u32(s7 + h),
    )  # fmt: skip


@register_jitable
def nonce_block_prefix(m0, m1, m2, m3, m4, m5, m6, m7, w0, w1, w2):
    """State after rounds 0..2 of the header's second block: they read only words w0..w2
    (the merkle root's last word, time and bits), so they are done once per header."""
    a, b, c, d, e, f, g, h = sha256_round(m0, m1, m2, m3, m4, m5, m6, m7, K[0], w0)
    a, b, c, d, e, f, g, h = sha256_round(a, b, c, d, e, f, g, h, K[1], w1)
    return sha256_round(a, b, c, d, e, f, g, h, K[2], w2)


@register_jitable
def sha256d_words(m0, m1, m2, m3, m4, m5, m6, m7, p0, p1, p2, p3, p4, p5, p6, p7, w0, w1, w2, nonce):
    """Double SHA-256 of a header with ``nonce``, as the eight big-endian digest words.

    m0..m7: midstate (first 64 header bytes compressed); p0..p7: ``nonce_block_prefix``;
    w0..w2: header words 16..18. A kernel that reads only the last word lets the compiler drop
    the work of the final rounds that only feed the other words (the early reject).
    """
    # The nonce field is little-endian; SHA-256 reads it big-endian.
    return sha256d_words_of_word(m0, m1, m2, m3, m4, m5, m6, m7, p0, p1, p2, p3, p4, p5, p6, p7, w0, w1, w2, bswap32(nonce))


@register_jitable
def sha256d_words_of_word(m0, m1, m2, m3, m4, m5, m6, m7, p0, p1, p2, p3, p4, p5, p6, p7, w0, w1, w2, w3):
    """``sha256d_words`` given header word 19 as SHA-256 reads it (the nonce byte-swapped), for
    a kernel with a cheaper byte swap of its own (CUDA's byte permute)."""
    a, b, c, d, e, f, g, h = sha256_round(p0, p1, p2, p3, p4, p5, p6, p7, K[3], w3)
    a, b, c, d, e, f, g, h = sha256_round(a, b, c, d, e, f, g, h, K[4], PAD_FIRST)
    a, b, c, d, e, f, g, h = sha256_round(a, b, c, d, e, f, g, h, K[5], ZERO)
    a, b, c, d, e, f, g, h = sha256_round(a, b, c, d, e, f, g, h, K[6], ZERO)
    a, b, c, d, e, f, g, h = sha256_round(a, b, c, d, e, f, g, h, K[7], ZERO)
    a, b, c, d, e, f, g, h = rounds8(a, b, c, d, e, f, g, h, ZERO, ZERO, ZERO, ZERO, ZERO, ZERO, ZERO, HEADER_BITS, 8)
    a, b, c, d, e, f, g, h = rounds16_to_63(
        a, b, c, d, e, f, g, h,
        w0, w1, w2, w3, PAD_FIRST, ZERO, ZERO, ZERO, ZERO, ZERO, ZERO, ZERO, ZERO, ZERO, ZERO, HEADER_BITS,
    )  # fmt: skip
    return compress(
        IV[0], IV[1], IV[2], IV[3], IV[4], IV[5], IV[6], IV[7],
        u32(m0 + a), u32(m1 + b), u32(m2 + c), u32(m3 + d), u32(m4 + e), u32(m5 + f), u32(m6 + g), u32(m7 + h),
        PAD_FIRST, ZERO, ZERO, ZERO, ZERO, ZERO, ZERO, DIGEST_BITS,
    )  # fmt: skip


@register_jitable
def digest_meets_target(h0, h1, h2, h3, h4, h5, h6, h7, target_limbs):
    """Digest, read as a little-endian 256-bit number, <= target given as eight 32-bit limbs,
    most significant first (``target_limbs[0] == target >> 224``)."""
    x = bswap32(h7)
    if x != target_limbs[0]:
        return x < target_limbs[0]
    x = bswap32(h6)
    if x != target_limbs[1]:
        return x < target_limbs[1]
    x = bswap32(h5)
    if x != target_limbs[2]:
        return x < target_limbs[2]
    x = bswap32(h4)
    if x != target_limbs[3]:
        return x < target_limbs[3]
    x = bswap32(h3)
    if x != target_limbs[4]:
        return x < target_limbs[4]
    x = bswap32(h2)
    if x != target_limbs[5]:
        return x < target_limbs[5]
    x = bswap32(h1)
    if x != target_limbs[6]:
        return x < target_limbs[6]
    return bswap32(h0) <= target_limbs[7]


def cache_also_keyed_on(dispatcher, *paths) -> None:
    """Make a kernel's on-disk cache (``cache=True``) stale when any of ``paths`` changes.

    Numba checks only the stamp of the file that defines the kernel, so a kernel whose rounds
    live here would keep running cached code after this file is edited. This adds the SHA-256 of
    each of ``paths`` to the stamp Numba stores and compares. It reaches into Numba's cache
    object (the same in numba and numba-cuda 0.2x-0.3x); if that ever changes shape, it does
    nothing, and the docstrings' advice (touch the kernel file) applies again.
    """
    import hashlib
    from pathlib import Path

    try:
        cache_file = dispatcher._cache._cache_file
        stamps = tuple(hashlib.sha256(Path(p).read_bytes()).hexdigest() for p in paths)
        cache_file._source_stamp = (cache_file._source_stamp, stamps)
    except (AttributeError, OSError):
        pass
