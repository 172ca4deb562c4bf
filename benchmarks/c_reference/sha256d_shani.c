/* A plain C SHA-256d nonce scanner through the x86 SHA extensions: the yardstick the
 * benchmark puts beside the Numba `sha-ni` kernel, so "as fast as a C miner on this CPU" is
 * measured here instead of quoted from another machine.
 *
 * Written for joulebench after the structure every SHA-NI Bitcoin miner shares (cpuminer-opt's
 * SHA path among them): midstate of the header's first 64 bytes computed once; rounds 0-1 of
 * the second block, which read only header words 16 and 17, computed once; LANES nonces hashed
 * side by side so the 4-cycle sha256rnds2 chains overlap; of the second hash only the word the
 * target test reads (h, the hash's top 32 bits once byte-swapped), so its last round pair is
 * skipped. It is not cpuminer-opt and says so wherever its figures are printed.
 *
 * Build (the benchmark does this):  cc -O3 -march=native -shared -fPIC -DLANES=2 ...
 * API: scan(inputs, start, count, top_limit, found_nonces, room) -> number of candidates, or
 * UINT64_MAX when count is not a multiple of LANES. inputs are the 19 words of
 * kernels.sha256d.kernel_inputs (midstate 0-7, unused 8-15, header words 16-18); a candidate is
 * a nonce whose hash's top word is <= top_limit (ties are settled by the caller).
 */
#include <immintrin.h>
#include <stdint.h>

#ifndef LANES
#define LANES 2
#endif

static const uint32_t K[64] = {
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
    0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
    0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
    0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
    0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
    0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
    0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
    0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
};

#define KV(g) _mm_loadu_si128((const __m128i *)&K[4 * (g)])
#define W4(w0, w1, w2, w3) _mm_set_epi32((int)(w3), (int)(w2), (int)(w1), (int)(w0)) /* lane i = W[i] */

/* One group of four rounds for every lane: optional schedule step, then two sha256rnds2. The
 * state lives as ABEF (lanes f, e, b, a) and CDGH (h, g, d, c); each rnds2 makes the other one. */
#define SCHEDULE(m, g)                                                                           \
    for (int l = 0; l < LANES; l++)                                                              \
        m[l][(g) & 3] = _mm_sha256msg2_epu32(                                                    \
            _mm_add_epi32(_mm_sha256msg1_epu32(m[l][(g) & 3], m[l][((g) + 1) & 3]),             \
                          _mm_alignr_epi8(m[l][((g) + 3) & 3], m[l][((g) + 2) & 3], 4)),         \
            m[l][((g) + 3) & 3])
#define ROUNDS_LO(abef, cdgh, m, g, wk)                                                          \
    for (int l = 0; l < LANES; l++) {                                                            \
        wk[l] = _mm_add_epi32(m[l][(g) & 3], KV(g));                                             \
        cdgh[l] = _mm_sha256rnds2_epu32(cdgh[l], abef[l], wk[l]);                                \
    }
#define ROUNDS_HI(abef, cdgh, wk)                                                                \
    for (int l = 0; l < LANES; l++)                                                              \
        abef[l] = _mm_sha256rnds2_epu32(abef[l], cdgh[l], _mm_shuffle_epi32(wk[l], 0x0E))

static inline uint32_t bswap32(uint32_t x) { return __builtin_bswap32(x); }

/* ABEF/CDGH from eight state words a..h, and back. */
static inline void to_lanes(const uint32_t *s, __m128i *abef, __m128i *cdgh) {
    *abef = _mm_set_epi32((int)s[0], (int)s[1], (int)s[4], (int)s[5]);
    *cdgh = _mm_set_epi32((int)s[2], (int)s[3], (int)s[6], (int)s[7]);
}
static inline void to_words(__m128i abef, __m128i cdgh, __m128i *abcd, __m128i *efgh) {
    __m128i feba = _mm_shuffle_epi32(abef, 0x1B);  /* lanes a, b, e, f */
    __m128i dchg = _mm_shuffle_epi32(cdgh, 0xB1);  /* lanes g, h, c, d */
    *abcd = _mm_blend_epi16(feba, dchg, 0xF0);     /* a, b, c, d */
    *efgh = _mm_alignr_epi8(dchg, feba, 8);        /* e, f, g, h */
}

uint64_t scan(const uint32_t *inputs, uint32_t start, uint64_t count, uint32_t top_limit,
              uint32_t *found_nonces, uint64_t room) {
    static const uint32_t IV[8] = {0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
                                   0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19};
    __m128i mid_abef, mid_cdgh, iv_abef, iv_cdgh;
    to_lanes(inputs, &mid_abef, &mid_cdgh);
    to_lanes(IV, &iv_abef, &iv_cdgh);
    const uint32_t w0 = inputs[16], w1 = inputs[17], w2 = inputs[18];
    /* Rounds 0-1 of the second block read only w0 and w1: once per header. */
    const __m128i wk0 = _mm_add_epi32(W4(w0, w1, w2, 0), KV(0));
    const __m128i pre_cdgh = _mm_sha256rnds2_epu32(mid_cdgh, mid_abef, wk0);
    if (count % LANES) return UINT64_MAX; /* whole trips only: the benchmark sizes its runs so */
    uint64_t found = 0;
    for (uint64_t done = 0; done < count; done += LANES) {
        __m128i m[LANES][4], abef[LANES], cdgh[LANES], wk[LANES];
        /* First hash: the second 64-byte block, nonce in word 3 (read big-endian). */
        for (int l = 0; l < LANES; l++) {
            uint32_t nonce = start + (uint32_t)done + (uint32_t)l;
            m[l][0] = W4(w0, w1, w2, bswap32(nonce));
            m[l][1] = W4(0x80000000u, 0, 0, 0);
            m[l][2] = W4(0, 0, 0, 0);
            m[l][3] = W4(0, 0, 0, 640);
            abef[l] = mid_abef;
            cdgh[l] = pre_cdgh;
            wk[l] = _mm_add_epi32(m[l][0], KV(0));
        }
        ROUNDS_HI(abef, cdgh, wk); /* rounds 2-3 */
#pragma GCC unroll 16
        for (int g = 1; g < 16; g++) {
            if (g >= 4) SCHEDULE(m, g);
            ROUNDS_LO(abef, cdgh, m, g, wk);
            ROUNDS_HI(abef, cdgh, wk);
        }
        /* Second hash: the 32-byte digest, padded. */
        for (int l = 0; l < LANES; l++) {
            __m128i abcd, efgh;
            to_words(_mm_add_epi32(abef[l], mid_abef), _mm_add_epi32(cdgh[l], mid_cdgh), &abcd, &efgh);
            m[l][0] = abcd;
            m[l][1] = efgh;
            m[l][2] = W4(0x80000000u, 0, 0, 0);
            m[l][3] = W4(0, 0, 0, 256);
            abef[l] = iv_abef;
            cdgh[l] = iv_cdgh;
        }
#pragma GCC unroll 16
        for (int g = 0; g < 15; g++) {
            if (g >= 4) SCHEDULE(m, g);
            ROUNDS_LO(abef, cdgh, m, g, wk);
            ROUNDS_HI(abef, cdgh, wk);
        }
        SCHEDULE(m, 15);
        ROUNDS_LO(abef, cdgh, m, 15, wk); /* the final CDGH; the last pair feeds only ABEF */
        for (int l = 0; l < LANES; l++) {
            uint32_t h = (uint32_t)_mm_cvtsi128_si32(cdgh[l]) + IV[7];
            if (bswap32(h) <= top_limit) {
                if (found < room) found_nonces[found] = start + (uint32_t)done + (uint32_t)l;
                found++;
            }
        }
    }
    return found;
}

