/* bn_pool_x86.c - the fused BatchNorm-[dropout]-maxpool-ReLU forward of one plane
 * (batchnorm.c's bn_pool_plane) with AVX-512 and with AVX2, for even widths W <= 32 (an output
 * row fits in 16 lanes): the same float operations and comparisons as the C loop, lane by lane,
 * so the same bits (test_fused.c and the v16 training-step test compare them with the portable
 * set). batchnorm.c picks the one that matches the kernel set in use (bn_pool_plane_simd).
 *
 * Per output row i: input rows 2i and 2i+1 are split into even and odd values (permutes), each
 * value normalised as ((x - mu) * scale + shift) * f, operation by operation (no fused
 * multiply-add), the horizontal pair max taken (b > a picks b, as pool2_window), then the
 * vertical one (row 2i+1 > row 2i picks it), then the ReLU (v > 0 or NaN keeps v). Output rows
 * are stored whole vectors wide in increasing order (a row's extra lanes are overwritten by the
 * next row's store), masked only where a store would leave the plane. am NULL (inference):
 * the winners' indices and inputs are not stored. */
#include "layers/bnpool.h"

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>

__attribute__((target("avx512f"))) static void plane_avx512(float *y, int32_t *am, float *xs,
                                                            const float *x, float mu, float scale,
                                                            float shift, float f, int OH, int W) {
    const int OW = W / 2, OHW = OH * OW;
    const __m512i even = _mm512_set_epi32(30, 28, 26, 24, 22, 20, 18, 16, 14, 12, 10, 8, 6, 4, 2,
                                          0);
    const __m512i one = _mm512_set1_epi32(1), odd = _mm512_add_epi32(even, one);
    const __mmask16 lo = (__mmask16)(W >= 16 ? 0xFFFF : (1u << W) - 1);
    const __mmask16 hi = (__mmask16)(W <= 16 ? 0 : (1u << (W - 16)) - 1);
    const __m512 vmu = _mm512_set1_ps(mu), vsc = _mm512_set1_ps(scale), vsh = _mm512_set1_ps(shift);
    const __m512 vf = _mm512_set1_ps(f), zero = _mm512_setzero_ps();
    for (int i = 0; i < OH; i++) {
        __m512 hv[2], hx[2];
        __m512i hk[2];
        for (int r = 0; r < 2; r++) {  // the horizontal pairs of input rows 2i and 2i+1
            const float *row = x + (size_t)(2 * i + r) * W;
            __m512 v0, v1;
            if (W == 24 || W == 8) {  // py3's widths: plain loads
                v0 = W == 24 ? _mm512_loadu_ps(row) : _mm512_zextps256_ps512(_mm256_loadu_ps(row));
                v1 = W == 24 ? _mm512_zextps256_ps512(_mm256_loadu_ps(row + 16)) : zero;
            } else {
                v0 = _mm512_maskz_loadu_ps(lo, row);
                v1 = _mm512_maskz_loadu_ps(hi, row + 16);
            }
            const __m512 xa = _mm512_permutex2var_ps(v0, even, v1);
            const __m512 xb = _mm512_permutex2var_ps(v0, odd, v1);
            const __m512 a = _mm512_mul_ps(
                _mm512_add_ps(_mm512_mul_ps(_mm512_sub_ps(xa, vmu), vsc), vsh), vf);
            const __m512 b = _mm512_mul_ps(
                _mm512_add_ps(_mm512_mul_ps(_mm512_sub_ps(xb, vmu), vsc), vsh), vf);
            const __mmask16 t = _mm512_cmp_ps_mask(b, a, _CMP_GT_OQ);
            hv[r] = _mm512_mask_blend_ps(t, a, b);
            hx[r] = _mm512_mask_blend_ps(t, xa, xb);
            const __m512i k0 = _mm512_add_epi32(_mm512_set1_epi32((2 * i + r) * W), even);
            hk[r] = _mm512_mask_add_epi32(k0, t, k0, one);
        }
        const __mmask16 t = _mm512_cmp_ps_mask(hv[1], hv[0], _CMP_GT_OQ);
        const __m512 v = _mm512_mask_blend_ps(t, hv[0], hv[1]);
        const __m512 out = _mm512_maskz_mov_ps(_mm512_cmp_ps_mask(v, zero, _CMP_NLE_UQ), v);  // relu
        const __m512i k = _mm512_mask_blend_epi32(t, hk[0], hk[1]);
        const __m512 xsel = _mm512_mask_blend_ps(t, hx[0], hx[1]);
        const int left = OHW - i * OW;
        if (left >= 16) {
            _mm512_storeu_ps(y + i * OW, out);
            if (am) {
                _mm512_storeu_si512(am + i * OW, k);
                _mm512_storeu_ps(xs + i * OW, xsel);
            }
        } else {
            const __mmask16 m = (__mmask16)((1u << left) - 1);
            _mm512_mask_storeu_ps(y + i * OW, m, out);
            if (am) {
                _mm512_mask_storeu_epi32(am + i * OW, m, k);
                _mm512_mask_storeu_ps(xs + i * OW, m, xsel);
            }
        }
    }
}

/* AVX2: an input row is taken 16 values at a time (two ymm), split into 8 even and 8 odd
 * values: shuffle_ps picks the even (odd) values of each 128-bit half of both, permute4x64 puts
 * the halves in order. Widths up to 32 need at most two such chunks per row. */
#define AVX2 __attribute__((target("avx2,fma")))

AVX2 static inline __m256i lanes_upto(int n) {  // all-ones in lanes < n (n clamped to 0..8)
    const __m256i idx = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    return _mm256_cmpgt_epi32(_mm256_set1_epi32(n < 0 ? 0 : n > 8 ? 8 : n), idx);
}

AVX2 static inline __m256 load_upto(const float *p, int n) {
    return n >= 8 ? _mm256_loadu_ps(p) : _mm256_maskload_ps(p, lanes_upto(n));
}

AVX2 static void plane_avx2(float *y, int32_t *am, float *xs, const float *x, float mu,
                            float scale, float shift, float f, int OH, int W) {
    const int OW = W / 2, OHW = OH * OW;
    const __m256i even = _mm256_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14);
    const __m256 vmu = _mm256_set1_ps(mu), vsc = _mm256_set1_ps(scale), vsh = _mm256_set1_ps(shift);
    const __m256 vf = _mm256_set1_ps(f), zero = _mm256_setzero_ps();
    for (int i = 0; i < OH; i++) {
        for (int c = 0; c < W; c += 16) {  // input columns c .. c+15, output columns c/2 ..
            __m256 hv[2], hx[2];
            __m256i hk[2];
            for (int r = 0; r < 2; r++) {
                const float *row = x + (size_t)(2 * i + r) * W + c;
                const int n = W - c;
                const __m256 v0 = load_upto(row, n);
                const __m256 v1 = n > 8 ? load_upto(row + 8, n - 8) : zero;
                const __m256 xa = _mm256_castpd_ps(_mm256_permute4x64_pd(
                    _mm256_castps_pd(_mm256_shuffle_ps(v0, v1, _MM_SHUFFLE(2, 0, 2, 0))), 0xD8));
                const __m256 xb = _mm256_castpd_ps(_mm256_permute4x64_pd(
                    _mm256_castps_pd(_mm256_shuffle_ps(v0, v1, _MM_SHUFFLE(3, 1, 3, 1))), 0xD8));
                const __m256 a = _mm256_mul_ps(
                    _mm256_add_ps(_mm256_mul_ps(_mm256_sub_ps(xa, vmu), vsc), vsh), vf);
                const __m256 b = _mm256_mul_ps(
                    _mm256_add_ps(_mm256_mul_ps(_mm256_sub_ps(xb, vmu), vsc), vsh), vf);
                const __m256 t = _mm256_cmp_ps(b, a, _CMP_GT_OQ);
                hv[r] = _mm256_blendv_ps(a, b, t);
                hx[r] = _mm256_blendv_ps(xa, xb, t);
                const __m256i k0 = _mm256_add_epi32(_mm256_set1_epi32((2 * i + r) * W + c), even);
                hk[r] = _mm256_sub_epi32(k0, _mm256_castps_si256(t));  // + 1 where b won
            }
            const __m256 t = _mm256_cmp_ps(hv[1], hv[0], _CMP_GT_OQ);
            const __m256 v = _mm256_blendv_ps(hv[0], hv[1], t);
            const __m256 out = _mm256_and_ps(v, _mm256_cmp_ps(v, zero, _CMP_NLE_UQ));  // relu
            const __m256i k = _mm256_castps_si256(
                _mm256_blendv_ps(_mm256_castsi256_ps(hk[0]), _mm256_castsi256_ps(hk[1]), t));
            const __m256 xsel = _mm256_blendv_ps(hx[0], hx[1], t);
            const int o = i * OW + c / 2, left = OHW - o;
            if (left >= 8) {
                _mm256_storeu_ps(y + o, out);
                if (am) {
                    _mm256_storeu_si256((__m256i *)(am + o), k);
                    _mm256_storeu_ps(xs + o, xsel);
                }
            } else {
                const __m256i m = lanes_upto(left);
                _mm256_maskstore_ps(y + o, m, out);
                if (am) {
                    _mm256_maskstore_epi32((int *)(am + o), m, k);
                    _mm256_maskstore_ps(xs + o, m, xsel);
                }
            }
        }
    }
}

bn_plane_fn bn_pool_plane_simd(int impl, int W) {
    if (W % 2 || W > 32) return NULL;
    switch (impl) {
    case KERNELS_AVX512:
    case KERNELS_AVX512_V16: return plane_avx512;
    case KERNELS_AVX2: return plane_avx2;
    default: return NULL;
    }
}

#else

bn_plane_fn bn_pool_plane_simd(int impl, int W) {
    (void)impl, (void)W;
    return NULL;
}

#endif
