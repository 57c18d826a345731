/* simd.h - v16, a fixed 16-lane float vector, mapped onto each SIMD ISA: AVX-512 (one zmm),
 * AVX2+FMA (two ymm), NEON (four q registers) and portable C (16 floats, explicit fmaf), the
 * reference. The kernels of src/layers/v16/ are written once over it and compiled once per ISA
 * (the Makefile defines one of V16_AVX512, V16_AVX2, V16_NEON; none means portable).
 *
 * Why one lane count: a kernel's summation order is then a property of its source, not of the
 * machine. Every operation here is lane-wise and IEEE-exact in the same way on every ISA (add,
 * sub, mul, fused multiply-add with one rounding, compares); the only reduction, v16_hsum, adds
 * the lanes in one fixed tree. So each instantiation of a kernel computes the same bits.
 * v16_store2x8(lo, hi, v) stores lanes 0..7 at lo and 8..15 at hi.
 * v16_reg(v) returns v unchanged, held in registers: it only stops a compiler from folding a
 * load that a kernel reuses into every instruction that uses it (one load each).
 * Parts: a v16 is V16_PARTS native registers (AVX-512: 1 of 16 lanes, AVX2: 2 of 8, NEON: 4 of
 * 4, portable: 1). v16p is one part, with zero, load, store, fma and reg; a kernel may run the
 * lanes of each part in a pass of its own (V16_PW lanes from part q * V16_PW), which changes no
 * bit, as every operation is lane-wise, and lets an accumulator take one register.
 * Deliberately absent: max/min (x86 and ARM disagree on NaN and on -0 vs +0; kernels compare and
 * select instead), reciprocal and rsqrt estimates (approximations differ per ISA), anything
 * whose result depends on the register width. NaN payloads may differ between ISAs (x86's
 * default NaN is negative, ARM's positive); finite results do not.
 * Internal to src/layers. */
#ifndef DANN_SIMD_H
#define DANN_SIMD_H

#include <math.h>
#include <string.h>

#define V16_INLINE static inline __attribute__((always_inline))

#if defined(V16_AVX512)
#include <immintrin.h>
#define V16_SUFFIX avx512
typedef __m512 v16;
static inline __mmask16 v16_mask_(int n) { return (__mmask16)(n >= 16 ? 0xFFFF : (1u << n) - 1); }
V16_INLINE v16 v16_zero(void) { return _mm512_setzero_ps(); }
V16_INLINE v16 v16_set1(float x) { return _mm512_set1_ps(x); }
V16_INLINE v16 v16_load(const float *p) { return _mm512_loadu_ps(p); }
V16_INLINE void v16_store(float *p, v16 v) { _mm512_storeu_ps(p, v); }
V16_INLINE v16 v16_add(v16 a, v16 b) { return _mm512_add_ps(a, b); }
V16_INLINE v16 v16_sub(v16 a, v16 b) { return _mm512_sub_ps(a, b); }
V16_INLINE v16 v16_mul(v16 a, v16 b) { return _mm512_mul_ps(a, b); }
V16_INLINE v16 v16_fma(v16 a, v16 b, v16 c) { return _mm512_fmadd_ps(a, b, c); }
/* lanes [lo, hi) of p (only those are read), zeros elsewhere */
V16_INLINE v16 v16_load_range(const float *p, int lo, int hi) {
    return _mm512_maskz_loadu_ps((__mmask16)(v16_mask_(hi) & ~v16_mask_(lo)), p);
}
V16_INLINE void v16_storen(float *p, v16 v, int n) { _mm512_mask_storeu_ps(p, v16_mask_(n), v); }
V16_INLINE void v16_store2x8(float *lo, float *hi, v16 v) {
    _mm256_storeu_ps(lo, _mm512_castps512_ps256(v));
    _mm256_storeu_ps(hi, _mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(v), 1)));
}
V16_INLINE float v16_lane0(v16 v) { return _mm512_cvtss_f32(v); }
V16_INLINE v16 v16_reg(v16 v) { __asm__("" : "+v"(v)); return v; }
#define V16_PARTS 1
typedef __m512 v16p;
V16_INLINE v16p v16p_zero(void) { return _mm512_setzero_ps(); }
V16_INLINE v16p v16p_load(const float *p) { return _mm512_loadu_ps(p); }
V16_INLINE void v16p_store(float *p, v16p v) { _mm512_storeu_ps(p, v); }
V16_INLINE v16p v16p_fma(v16p a, v16p b, v16p c) { return _mm512_fmadd_ps(a, b, c); }
V16_INLINE v16p v16p_reg(v16p v) { __asm__("" : "+v"(v)); return v; }
/* the fixed tree: lane i + lane i+8, then i + i+4, i + i+2, 0 + 1 */
V16_INLINE float v16_hsum(v16 v) {
    const __m256 h = _mm256_add_ps(_mm512_castps512_ps256(v),
                                   _mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(v), 1)));
    const __m128 q = _mm_add_ps(_mm256_castps256_ps128(h), _mm256_extractf128_ps(h, 1));
    const __m128 d = _mm_add_ps(q, _mm_movehl_ps(q, q));
    return _mm_cvtss_f32(_mm_add_ss(d, _mm_shuffle_ps(d, d, 1)));
}

#elif defined(V16_AVX2)
#include <immintrin.h>
#define V16_SUFFIX avx2
typedef struct { __m256 lo, hi; } v16;
/* lane mask of [lo, hi) for one ymm half starting at lane `base` */
static inline __m256i v16_half_mask_(int lo, int hi, int base) {
    const __m256i idx = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    const __m256i l = _mm256_set1_epi32(lo - base - 1), h = _mm256_set1_epi32(hi - base);
    return _mm256_and_si256(_mm256_cmpgt_epi32(idx, l), _mm256_cmpgt_epi32(h, idx));
}
V16_INLINE v16 v16_zero(void) { return (v16){_mm256_setzero_ps(), _mm256_setzero_ps()}; }
V16_INLINE v16 v16_set1(float x) { const __m256 s = _mm256_set1_ps(x); return (v16){s, s}; }
V16_INLINE v16 v16_load(const float *p) { return (v16){_mm256_loadu_ps(p), _mm256_loadu_ps(p + 8)}; }
V16_INLINE void v16_store(float *p, v16 v) { _mm256_storeu_ps(p, v.lo), _mm256_storeu_ps(p + 8, v.hi); }
V16_INLINE v16 v16_add(v16 a, v16 b) { return (v16){_mm256_add_ps(a.lo, b.lo), _mm256_add_ps(a.hi, b.hi)}; }
V16_INLINE v16 v16_sub(v16 a, v16 b) { return (v16){_mm256_sub_ps(a.lo, b.lo), _mm256_sub_ps(a.hi, b.hi)}; }
V16_INLINE v16 v16_mul(v16 a, v16 b) { return (v16){_mm256_mul_ps(a.lo, b.lo), _mm256_mul_ps(a.hi, b.hi)}; }
V16_INLINE v16 v16_fma(v16 a, v16 b, v16 c) {
    return (v16){_mm256_fmadd_ps(a.lo, b.lo, c.lo), _mm256_fmadd_ps(a.hi, b.hi, c.hi)};
}
/* masked-off lanes are neither read nor faulted on (vmaskmovps) */
V16_INLINE v16 v16_load_range(const float *p, int lo, int hi) {
    return (v16){_mm256_maskload_ps(p, v16_half_mask_(lo, hi, 0)),
                 _mm256_maskload_ps(p + 8, v16_half_mask_(lo, hi, 8))};
}
V16_INLINE void v16_storen(float *p, v16 v, int n) {
    _mm256_maskstore_ps(p, v16_half_mask_(0, n, 0), v.lo);
    _mm256_maskstore_ps(p + 8, v16_half_mask_(0, n, 8), v.hi);
}
V16_INLINE void v16_store2x8(float *lo, float *hi, v16 v) { _mm256_storeu_ps(lo, v.lo), _mm256_storeu_ps(hi, v.hi); }
V16_INLINE float v16_lane0(v16 v) { return _mm256_cvtss_f32(v.lo); }
V16_INLINE v16 v16_reg(v16 v) { __asm__("" : "+x"(v.lo), "+x"(v.hi)); return v; }
#define V16_PARTS 2
typedef __m256 v16p;
V16_INLINE v16p v16p_zero(void) { return _mm256_setzero_ps(); }
V16_INLINE v16p v16p_load(const float *p) { return _mm256_loadu_ps(p); }
V16_INLINE void v16p_store(float *p, v16p v) { _mm256_storeu_ps(p, v); }
V16_INLINE v16p v16p_fma(v16p a, v16p b, v16p c) { return _mm256_fmadd_ps(a, b, c); }
V16_INLINE v16p v16p_reg(v16p v) { __asm__("" : "+x"(v)); return v; }
V16_INLINE float v16_hsum(v16 v) {
    const __m256 h = _mm256_add_ps(v.lo, v.hi);
    const __m128 q = _mm_add_ps(_mm256_castps256_ps128(h), _mm256_extractf128_ps(h, 1));
    const __m128 d = _mm_add_ps(q, _mm_movehl_ps(q, q));
    return _mm_cvtss_f32(_mm_add_ss(d, _mm_shuffle_ps(d, d, 1)));
}

#elif defined(V16_NEON)
#include <arm_neon.h>
#define V16_SUFFIX neon
typedef struct { float32x4_t q[4]; } v16;
V16_INLINE v16 v16_zero(void) { const float32x4_t z = vdupq_n_f32(0.0f); return (v16){{z, z, z, z}}; }
V16_INLINE v16 v16_set1(float x) { const float32x4_t s = vdupq_n_f32(x); return (v16){{s, s, s, s}}; }
V16_INLINE v16 v16_load(const float *p) {
    return (v16){{vld1q_f32(p), vld1q_f32(p + 4), vld1q_f32(p + 8), vld1q_f32(p + 12)}};
}
V16_INLINE void v16_store(float *p, v16 v) {
    vst1q_f32(p, v.q[0]), vst1q_f32(p + 4, v.q[1]), vst1q_f32(p + 8, v.q[2]), vst1q_f32(p + 12, v.q[3]);
}
#define V16_LANEWISE_(op, a, b) (v16){{op(a.q[0], b.q[0]), op(a.q[1], b.q[1]), op(a.q[2], b.q[2]), op(a.q[3], b.q[3])}}
V16_INLINE v16 v16_add(v16 a, v16 b) { return V16_LANEWISE_(vaddq_f32, a, b); }
V16_INLINE v16 v16_sub(v16 a, v16 b) { return V16_LANEWISE_(vsubq_f32, a, b); }
V16_INLINE v16 v16_mul(v16 a, v16 b) { return V16_LANEWISE_(vmulq_f32, a, b); }
V16_INLINE v16 v16_fma(v16 a, v16 b, v16 c) {  /* vfmaq_f32(c, a, b) = c + a*b, one rounding */
    return (v16){{vfmaq_f32(c.q[0], a.q[0], b.q[0]), vfmaq_f32(c.q[1], a.q[1], b.q[1]),
                  vfmaq_f32(c.q[2], a.q[2], b.q[2]), vfmaq_f32(c.q[3], a.q[3], b.q[3])}};
}
V16_INLINE v16 v16_load_range(const float *p, int lo, int hi) {
    float t[16] = {0};
    if (hi > lo) memcpy(t + lo, p + lo, (size_t)(hi - lo) * sizeof(float));
    return v16_load(t);
}
V16_INLINE void v16_storen(float *p, v16 v, int n) {
    float t[16];
    v16_store(t, v);
    memcpy(p, t, (size_t)n * sizeof(float));
}
V16_INLINE void v16_store2x8(float *lo, float *hi, v16 v) {
    vst1q_f32(lo, v.q[0]), vst1q_f32(lo + 4, v.q[1]), vst1q_f32(hi, v.q[2]), vst1q_f32(hi + 4, v.q[3]);
}
V16_INLINE float v16_lane0(v16 v) { return vgetq_lane_f32(v.q[0], 0); }
V16_INLINE v16 v16_reg(v16 v) { __asm__("" : "+w"(v.q[0]), "+w"(v.q[1]), "+w"(v.q[2]), "+w"(v.q[3])); return v; }
#define V16_PARTS 4
typedef float32x4_t v16p;
V16_INLINE v16p v16p_zero(void) { return vdupq_n_f32(0.0f); }
V16_INLINE v16p v16p_load(const float *p) { return vld1q_f32(p); }
V16_INLINE void v16p_store(float *p, v16p v) { vst1q_f32(p, v); }
V16_INLINE v16p v16p_fma(v16p a, v16p b, v16p c) { return vfmaq_f32(c, a, b); }
V16_INLINE v16p v16p_reg(v16p v) { __asm__("" : "+w"(v)); return v; }
V16_INLINE float v16_hsum(v16 v) {
    const float32x4_t q = vaddq_f32(vaddq_f32(v.q[0], v.q[2]), vaddq_f32(v.q[1], v.q[3]));
    const float32x2_t d = vadd_f32(vget_low_f32(q), vget_high_f32(q));
    return vget_lane_f32(d, 0) + vget_lane_f32(d, 1);
}

#else  /* portable C: the reference */
#define V16_PORTABLE 1
#define V16_SUFFIX portable
/* GNU C's vector type (lane-wise IEEE operations, laid out as float[16]; the compiler maps it
 * onto whatever the target has), a struct elsewhere. The fused multiply-add is fmaf, lane by
 * lane: one rounding, as the intrinsics. */
#if defined(__GNUC__)
#pragma GCC diagnostic ignored "-Wpsabi"  /* v16 never crosses a call: every function is inlined */
typedef float v16 __attribute__((vector_size(64), aligned(4)));
#define V16_LANE_(v, l) (v)[l]
#else
typedef struct { float f[16]; } v16;
#define V16_LANE_(v, l) (v).f[l]
#endif
#define V16_EACH_(expr) do { for (int l_ = 0; l_ < 16; l_++) { expr; } } while (0)
V16_INLINE v16 v16_zero(void) { v16 r; V16_EACH_(V16_LANE_(r, l_) = 0.0f); return r; }
V16_INLINE v16 v16_set1(float x) { v16 r; V16_EACH_(V16_LANE_(r, l_) = x); return r; }
V16_INLINE v16 v16_load(const float *p) { v16 r; memcpy(&r, p, sizeof r); return r; }
V16_INLINE void v16_store(float *p, v16 v) { memcpy(p, &v, sizeof v); }
V16_INLINE v16 v16_add(v16 a, v16 b) { v16 r; V16_EACH_(V16_LANE_(r, l_) = V16_LANE_(a, l_) + V16_LANE_(b, l_)); return r; }
V16_INLINE v16 v16_sub(v16 a, v16 b) { v16 r; V16_EACH_(V16_LANE_(r, l_) = V16_LANE_(a, l_) - V16_LANE_(b, l_)); return r; }
V16_INLINE v16 v16_mul(v16 a, v16 b) { v16 r; V16_EACH_(V16_LANE_(r, l_) = V16_LANE_(a, l_) * V16_LANE_(b, l_)); return r; }
V16_INLINE v16 v16_fma(v16 a, v16 b, v16 c) {
    v16 r;
    V16_EACH_(V16_LANE_(r, l_) = fmaf(V16_LANE_(a, l_), V16_LANE_(b, l_), V16_LANE_(c, l_)));
    return r;
}
V16_INLINE v16 v16_load_range(const float *p, int lo, int hi) {
    float t[16] = {0};
    if (hi > lo) memcpy(t + lo, p + lo, (size_t)(hi - lo) * sizeof(float));
    return v16_load(t);
}
V16_INLINE void v16_storen(float *p, v16 v, int n) { memcpy(p, &v, (size_t)n * sizeof(float)); }
V16_INLINE void v16_store2x8(float *lo, float *hi, v16 v) {
    memcpy(lo, &v, 8 * sizeof(float));
    memcpy(hi, (const float *)&v + 8, 8 * sizeof(float));
}
V16_INLINE float v16_lane0(v16 v) { return V16_LANE_(v, 0); }
V16_INLINE v16 v16_reg(v16 v) { return v; }
#define V16_PARTS 1
typedef v16 v16p;
#define v16p_zero v16_zero
#define v16p_load v16_load
#define v16p_store v16_store
#define v16p_fma v16_fma
#define v16p_reg v16_reg
V16_INLINE float v16_hsum(v16 v) {
    float x[16], s8[8], s4[4];
    memcpy(x, &v, sizeof x);
    for (int l = 0; l < 8; l++) s8[l] = x[l] + x[l + 8];
    for (int l = 0; l < 4; l++) s4[l] = s8[l] + s8[l + 4];
    return (s4[0] + s4[2]) + (s4[1] + s4[3]);
}
#endif

#define V16_PW (16 / V16_PARTS)

/* the first n lanes of p (0 <= n <= 16), zeros elsewhere; nothing past p + n is read */
V16_INLINE v16 v16_loadn(const float *p, int n) { return v16_load_range(p, 0, n); }

#define V16_CAT2_(a, b) a##_##b
#define V16_CAT_(a, b) V16_CAT2_(a, b)
/* name##_<isa>: each instantiation's symbols; V16_ISA_NAME: "avx2", ... */
#define V16_NAME(name) V16_CAT_(name, V16_SUFFIX)
#define V16_STR2_(x) #x
#define V16_STR_(x) V16_STR2_(x)
#define V16_ISA_NAME V16_STR_(V16_SUFFIX)

#endif
