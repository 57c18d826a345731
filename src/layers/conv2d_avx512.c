/* conv2d_avx512.c - conv2d with AVX-512 micro-kernels (x86-64; picked at run time by conv2d.c).
 *
 * Everything stays in PyTorch's NCHW layout; per image the convolution is three small matrix
 * products with the column matrix col (C*K*K, OH*OW), col[(c,ki,kj)][i*OW+j] = inp[c,i+ki,j+kj]:
 *   forward  out_b (OC, OHW)  = w (OC, CKK) @ col_b            + bias     "NN" kernel
 *   input    dcol  (CKK, OHW) = w^T @ dout_b, added back by col2im         "NN" kernel
 *   weights  dw    (OC, CKK) += dout_b @ col_b^T, summed over images       "NT" kernel
 * NN: a tile of MR rows x up to 64 positions (MR*4 zmm accumulators), one weight broadcast per row
 * and k, four vector loads of the position row; no packing (the weights are read in place, col is
 * built once per image, in L2). NT: positions are the reduction axis, in zmm lanes: a tile of MR
 * output channels x NR column rows keeps MR*NR lane-partial sums over a block of images (col rows
 * built for the block only, in L1) and folds the lanes once per block.
 * Threads split images (forward, input gradient) or weight tiles (weight gradient), never a sum,
 * so every result is the same for any number of threads. The Linear layers use the same tiles
 * (avx512_linear_*, at the end). */
#include <limits.h>
#include <string.h>
#include "layers/conv2d_impl.h"
#ifdef _OPENMP
#include <omp.h>
#endif

#if defined(__x86_64__) && defined(__AVX512F__)
#include <immintrin.h>

#define MRMAX 5   // NN tile rows, NT tile output channels
#define NVMAX 4   // NN tile: 4 vectors = 64 positions
#define NT_POS 1024  // positions per NT block (the dout block stays in L2, the col rows in L1)
#define SLOT_HMAX 32  // the slotted input gradient's plane height limit

typedef struct { int OH, OW, OHW, OHWp, CKK, slots, nb, slotted; size_t col, ntbuf, tile, blk; } geom;

static geom geometry(const conv_dims *d) {
    geom g;
    g.OH = d->H - d->K + 1;
    g.OW = d->W - d->K + 1;
    g.OHW = g.OH * g.OW;
    g.OHWp = (g.OHW + 15) & ~15;
    g.CKK = d->C * d->K * d->K;
    g.slots = d->slots > 0 ? d->slots : 1;
    g.nb = NT_POS / g.OHWp;
    if (g.nb < 1) g.nb = 1;
    if (g.nb > d->B) g.nb = d->B;
    g.col = (size_t)g.CKK * g.OHW;                // forward: one image's column matrix
    g.ntbuf = (size_t)MRMAX * g.nb * g.OHWp;      // weight gradient: col rows of one tile
    g.tile = (size_t)d->K * d->K * g.OHWp;        // input gradient: dcol rows of one channel
    // ... or, for 8-wide output rows and planes at most 16 wide, the rows in 16-float slots
    g.slotted = g.OW == 8 && g.OHW % 16 == 0 && d->W <= 16 && d->H <= SLOT_HMAX;
    if (g.slotted) g.tile = (size_t)d->K * d->K * g.OH * 16 + 16;
    // weights from a produced gradient: one block's output gradient, and 16 bias-sum lanes per channel
    g.blk = (size_t)g.nb * d->OC * g.OHW + (size_t)d->OC * 16;
    return g;
}

// A slot: [ column matrix | NT column rows, input-gradient rows ] then the produced block.
static size_t blk_offset(const geom *g) {
    size_t bwd = g->ntbuf + g->tile;
    return (g->col > bwd ? g->col : bwd) + 16;
}
static size_t slot_floats(const geom *g) { return blk_offset(g) + g->blk; }

size_t conv2d_avx512_scratch_floats(const conv_dims *d) {
    geom g = geometry(d);
    return slot_floats(&g) * g.slots;
}

int conv2d_avx512_available(void) { return __builtin_cpu_supports("avx512f"); }

static inline __mmask16 lanes(int n) { return n >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << n) - 1); }


/* Column rows [r0, r0+nr) of images [b0, b0+n) (row r = (c,ki,kj) of image b at
 * dst + (r-r0)*row_stride + b*img_stride, element i*OW+j = inp[b0+b,c,i+ki,j+kj]), with masked vector
 * moves of the OW-wide output rows. */
static void im2col_rows(float *dst, size_t row_stride, size_t img_stride, const float *inp, int b0,
                        int n, int r0, int nr, const conv_dims *d, const geom *g) {
    const int K = d->K, OW = g->OW;
    for (int r = r0; r < r0 + nr; r++) {
        const int c = r / (K * K), ki = (r / K) % K, kj = r % K;
        float *row = dst + (size_t)(r - r0) * row_stride;
        for (int b = 0; b < n; b++) {
            const float *plane = inp + ((size_t)(b0 + b) * d->C + c) * d->H * d->W + ki * d->W + kj;
            float *out = row + (size_t)b * img_stride;
            // plain moves for the widths of py3 (masked stores are slow on some CPUs)
            if (OW == 8)
                for (int i = 0; i < g->OH; i++)
                    _mm256_storeu_ps(out + i * 8, _mm256_loadu_ps(plane + (size_t)i * d->W));
            else if (OW == 24)
                for (int i = 0; i < g->OH; i++) {
                    _mm512_storeu_ps(out + i * 24, _mm512_loadu_ps(plane + (size_t)i * d->W));
                    _mm256_storeu_ps(out + i * 24 + 16, _mm256_loadu_ps(plane + (size_t)i * d->W + 16));
                }
            else
                for (int i = 0; i < g->OH; i++)
                    for (int j = 0; j < OW; j += 16) {
                        const __mmask16 m = lanes(OW - j);
                        _mm512_mask_storeu_ps(out + i * OW + j, m,
                                              _mm512_maskz_loadu_ps(m, plane + (size_t)i * d->W + j));
                    }
        }
    }
}

/* The adjoint for one channel: dinp plane (b, c) += col2im of its K*K column rows (row stride
 * rs). Gathered per output vector: each of the 16 lanes of dinp[y][x0..] sums its K*K terms
 * from shifted masked loads of the rows, so the plane is read and written once (scattering row
 * by row instead would stall on stores that overlap the next row's loads). */
static void col2im_plane_add(float *plane, const float *rows, size_t rs, const conv_dims *d,
                             const geom *g) {
    const int K = d->K, OW = g->OW, W = d->W;
    for (int y = 0; y < d->H; y++)
        for (int x0 = 0; x0 < W; x0 += 16) {
            __m512 acc = _mm512_setzero_ps();
            for (int ki = 0; ki < K; ki++) {
                const int i = y - ki;
                if (i < 0 || i >= g->OH) continue;
                for (int kj = 0; kj < K; kj++) {
                    // lane x takes row element i*OW + (x0 + x - kj), valid for 0 <= x0+x-kj < OW
                    int lo = kj - x0, hi = kj + OW - x0;
                    lo = lo < 0 ? 0 : lo;
                    hi = hi > 16 ? 16 : hi;
                    if (hi <= lo) continue;
                    const __mmask16 m = (__mmask16)(lanes(hi) & ~lanes(lo));
                    const float *src = rows + (size_t)(ki * K + kj) * rs + i * OW + x0 - kj;
                    acc = _mm512_add_ps(acc, _mm512_maskz_loadu_ps(m, src));
                }
            }
            const __mmask16 m = lanes(W - x0);
            float *p = plane + (size_t)y * W + x0;
            _mm512_mask_storeu_ps(p, m, _mm512_add_ps(_mm512_maskz_loadu_ps(m, p), acc));
        }
}

/* col2im_plane_add for rows of width 8 kept in slots: column row r's output row i at
 * rows + (r*OH + i)*16 + K-1, zeros around it, so one unmasked load at kj before it is that row
 * shifted right by kj lanes with zeros elsewhere (the next slot starts with K-1 zeros). Each
 * plane row (W <= 16 wide) is summed in registers; all are loaded and added before the first
 * store, and stored in order with plain 16-wide stores (lanes past the row carry the next row's
 * values unchanged, overwritten by the next store) except where a store would leave the plane. */
static void col2im_slots_add(float *plane, const float *rows, const conv_dims *d, const geom *g) {
    const int K = d->K, W = d->W, H = d->H, OH = g->OH, HW = H * W;
    __m512 acc[SLOT_HMAX];
    for (int y = 0; y < H; y++) {
        __m512 a0 = _mm512_setzero_ps(), a1 = _mm512_setzero_ps();
        for (int ki = 0; ki < K; ki++) {
            const int i = y - ki;
            if (i < 0 || i >= OH) continue;
            const float *src = rows + ((size_t)ki * K * OH + i) * 16 + K - 1;
            int kj = 0;
            for (; kj + 1 < K; kj += 2) {
                a0 = _mm512_add_ps(a0, _mm512_loadu_ps(src + (size_t)kj * OH * 16 - kj));
                a1 = _mm512_add_ps(a1, _mm512_loadu_ps(src + (size_t)(kj + 1) * OH * 16 - kj - 1));
            }
            if (kj < K) a0 = _mm512_add_ps(a0, _mm512_loadu_ps(src + (size_t)kj * OH * 16 - kj));
        }
        acc[y] = _mm512_add_ps(a0, a1);
    }
    for (int y = 0; y < H; y++) {
        const int left = HW - y * W;
        acc[y] = _mm512_add_ps(acc[y], left >= 16 ? _mm512_loadu_ps(plane + y * W)
                                                  : _mm512_maskz_loadu_ps(lanes(left), plane + y * W));
    }
    for (int y = 0; y < H; y++) {
        const int left = HW - y * W;
        if (left >= 16) _mm512_storeu_ps(plane + y * W, acc[y]);
        else _mm512_mask_storeu_ps(plane + y * W, lanes(left), acc[y]);
    }
}

/* NN tile: C[m][p] = sum_k A[m*ams + k*aks] * Bm[k*ldb + p] (+ bias[m]), m < MR, p < 16*NV
 * (the last vector limited to the lanes in `last` unless FULL). MR, NV and FULL are constants
 * at every call. */
static inline __attribute__((always_inline)) void nn_tile(const int MR, const int NV, const int FULL,
                                                          const int SLOT, const int ACC, int K,
                                                          const float *A,
                                                          size_t ams, size_t aks, const float *Bm,
                                                          size_t ldb, __mmask16 last, float *C,
                                                          size_t ldc, const float *bias) {
    __m512 acc[MRMAX][NVMAX];
#pragma GCC unroll 5
    for (int m = 0; m < MR; m++)
#pragma GCC unroll 4
        for (int v = 0; v < NV; v++) acc[m][v] = _mm512_setzero_ps();
    for (int k = 0; k < K; k++) {
        const float *brow = Bm + (size_t)k * ldb;
        __m512 bv[NVMAX];
#pragma GCC unroll 4
        for (int v = 0; v < NV; v++)
            bv[v] = v == NV - 1 && !FULL ? _mm512_maskz_loadu_ps(last, brow + 16 * v) : _mm512_loadu_ps(brow + 16 * v);
        const float *ak = A + (size_t)k * aks;
#pragma GCC unroll 5
        for (int m = 0; m < MR; m++) {
            const __m512 a = _mm512_set1_ps(ak[m * ams]);
#pragma GCC unroll 4
            for (int v = 0; v < NV; v++) acc[m][v] = _mm512_fmadd_ps(a, bv[v], acc[m][v]);
        }
    }
#pragma GCC unroll 5
    for (int m = 0; m < MR; m++) {
        const __m512 bm = _mm512_set1_ps(bias ? bias[m] : 0.0f);
        float *c = C + (size_t)m * ldc;
#pragma GCC unroll 4
        for (int v = 0; v < NV; v++) {
            __m512 x = bias ? _mm512_add_ps(acc[m][v], bm) : acc[m][v];
            if (ACC)  // C += the product
                x = _mm512_add_ps(x, v == NV - 1 && !FULL ? _mm512_maskz_loadu_ps(last, c + 16 * v)
                                                          : _mm512_loadu_ps(c + 16 * v));
            if (SLOT) {  // 8-wide rows to 16-float slots (see col2im_slots_add)
                _mm256_storeu_ps(c + 32 * v, _mm512_castps512_ps256(x));
                _mm256_storeu_ps(c + 32 * v + 16,
                                 _mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(x), 1)));
            } else if (v == NV - 1 && !FULL)
                _mm512_mask_storeu_ps(c + 16 * v, last, x);
            else
                _mm512_storeu_ps(c + 16 * v, x);
        }
    }
}

#define NN_CASE(MR, NV)                                                                      \
    case (MR) * 8 + (NV):                                                                    \
        if (last == 0xFFFF)                                                                  \
            nn_tile(MR, NV, 1, SLOT, ACC, K, A, ams, aks, Bm, ldb, last, C, ldc, bias);      \
        else                                                                                 \
            nn_tile(MR, NV, 0, SLOT, ACC, K, A, ams, aks, Bm, ldb, last, C, ldc, bias);      \
        break;
#define NN_ROW(MR) NN_CASE(MR, 1) NN_CASE(MR, 2) NN_CASE(MR, 3) NN_CASE(MR, 4)
#define NN_DISPATCH(name, slot, acc)                                                         \
    static void name(int mr, int nv, int K, const float *A, size_t ams, size_t aks,         \
                     const float *Bm, size_t ldb, __mmask16 last, float *C, size_t ldc,     \
                     const float *bias) {                                                    \
        enum { SLOT = slot, ACC = acc };                                                     \
        switch (mr * 8 + nv) {                                                               \
            NN_ROW(1) NN_ROW(2) NN_ROW(3) NN_ROW(4) NN_ROW(5)                                \
        }                                                                                    \
    }
NN_DISPATCH(nn_write, 0, 0)  // C = A @ Bm (+ bias)
NN_DISPATCH(nn_add, 0, 1)    // C += A @ Bm
NN_DISPATCH(nn_slots, 1, 0)  // C = A @ Bm, 8-wide rows into 16-float slots (see col2im_slots_add)

enum { NN_WRITE, NN_ADD, NN_SLOTS };

/* C (M, N) = A @ Bm (+ bias) by NN tiles (mode NN_WRITE), C += A @ Bm (NN_ADD), or NN_WRITE's
 * result with each 8-wide output row i of row m at C + m*ldc + i*16 (NN_SLOTS: N a multiple of
 * 16, rows 8 wide; see col2im_slots_add). A(m,k) at A[m*ams + k*aks], Bm (K, N) with row stride
 * ldb, C with row stride ldc. Panels of 64 columns outermost, so a panel of Bm is reused from
 * cache by every row tile; panels [p_lo, p_hi) only (all: 0, INT_MAX). */
static void nn_panels(int mode, int M, int N, int K, const float *A, size_t ams, size_t aks,
                      const float *Bm, size_t ldb, float *C, size_t ldc, const float *bias,
                      int p_lo, int p_hi) {
    for (int pi = p_lo; pi < p_hi && pi * 16 * NVMAX < N; pi++) {
        const int p0 = pi * 16 * NVMAX;
        const int w = N - p0 < 16 * NVMAX ? N - p0 : 16 * NVMAX, nv = (w + 15) / 16;
        const __mmask16 last = lanes(w - 16 * (nv - 1));
        float *Cp = C + (mode == NN_SLOTS ? 2 * p0 : p0);  // slots: 16 floats per 8 positions
        for (int m0 = 0; m0 < M; m0 += MRMAX) {
            const int mr = M - m0 < MRMAX ? M - m0 : MRMAX;
            (mode == NN_ADD ? nn_add : mode == NN_SLOTS ? nn_slots : nn_write)(
                mr, nv, K, A + (size_t)m0 * ams, ams, aks, Bm + p0, ldb, last,
                Cp + (size_t)m0 * ldc, ldc, bias ? bias + m0 : NULL);
        }
    }
}
static void nn_matrix(int M, int N, int K, const float *A, size_t ams, size_t aks, const float *Bm,
                      size_t ldb, float *C, size_t ldc, const float *bias) {
    nn_panels(NN_WRITE, M, N, K, A, ams, aks, Bm, ldb, C, ldc, bias, 0, INT_MAX);
}

/* NT tile: dw[m*ldw + n] += sum over images i < nimg and positions p < OHW of
 * A[m*am + i*ai + p] * Bt[n*bn + i*OHWp + p], m < MR, n < NR (constants at every call).
 * Lane-wise partial sums, folded once at the end. */
static inline __attribute__((always_inline)) void nt_tile(const int MR, const int NR, int nimg, int OHW,
                                                          int OHWp, const float *A, size_t am, size_t ai,
                                                          const float *Bt, size_t bn, float *dw,
                                                          size_t ldw) {
    __m512 acc[MRMAX][MRMAX];
    const __mmask16 tail = lanes(OHW & 15);
    const int full = OHW & ~15;
#pragma GCC unroll 5
    for (int m = 0; m < MR; m++)
#pragma GCC unroll 5
        for (int n = 0; n < NR; n++) acc[m][n] = _mm512_setzero_ps();
    for (int i = 0; i < nimg; i++) {
        const float *a = A + (size_t)i * ai, *b = Bt + (size_t)i * OHWp;
        for (int p = 0; p <= OHW - 1; p += 16) {
            __m512 av[MRMAX], bv[MRMAX];
            if (p < full) {
#pragma GCC unroll 5
                for (int m = 0; m < MR; m++) av[m] = _mm512_loadu_ps(a + m * am + p);
#pragma GCC unroll 5
                for (int n = 0; n < NR; n++) bv[n] = _mm512_loadu_ps(b + n * bn + p);
            } else {
#pragma GCC unroll 5
                for (int m = 0; m < MR; m++) av[m] = _mm512_maskz_loadu_ps(tail, a + m * am + p);
#pragma GCC unroll 5
                for (int n = 0; n < NR; n++) bv[n] = _mm512_maskz_loadu_ps(tail, b + n * bn + p);
            }
#pragma GCC unroll 5
            for (int m = 0; m < MR; m++)
#pragma GCC unroll 5
                for (int n = 0; n < NR; n++) acc[m][n] = _mm512_fmadd_ps(av[m], bv[n], acc[m][n]);
        }
    }
    if (NR >= 4) {  // fold four accumulators at once: their four sums in one 128-bit vector
#pragma GCC unroll 5
        for (int m = 0; m < MR; m++) {
            const __m512 x01 = _mm512_add_ps(_mm512_unpacklo_ps(acc[m][0], acc[m][1]),
                                             _mm512_unpackhi_ps(acc[m][0], acc[m][1]));
            const __m512 x23 = _mm512_add_ps(_mm512_unpacklo_ps(acc[m][2], acc[m][3]),
                                             _mm512_unpackhi_ps(acc[m][2], acc[m][3]));
            const __m512 x = _mm512_add_ps(
                _mm512_castpd_ps(_mm512_unpacklo_pd(_mm512_castps_pd(x01), _mm512_castps_pd(x23))),
                _mm512_castpd_ps(_mm512_unpackhi_pd(_mm512_castps_pd(x01), _mm512_castps_pd(x23))));
            const __m256 h = _mm256_add_ps(_mm512_castps512_ps256(x),
                                           _mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(x), 1)));
            const __m128 q = _mm_add_ps(_mm256_castps256_ps128(h), _mm256_extractf128_ps(h, 1));
            float *d = dw + (size_t)m * ldw;
            _mm_storeu_ps(d, _mm_add_ps(_mm_loadu_ps(d), q));
#pragma GCC unroll 1
            for (int n = 4; n < NR; n++) d[n] += _mm512_reduce_add_ps(acc[m][n]);
        }
        return;
    }
#pragma GCC unroll 5
    for (int m = 0; m < MR; m++)
#pragma GCC unroll 5
        for (int n = 0; n < NR; n++) dw[(size_t)m * ldw + n] += _mm512_reduce_add_ps(acc[m][n]);
}

#define NT_CASE(MR, NR)                                                                      \
    case (MR) * 8 + (NR):                                                                    \
        nt_tile(MR, NR, nimg, OHW, OHWp, A, am, ai, Bt, bn, dw, ldw);                        \
        break;
#define NT_ROW(MR) NT_CASE(MR, 1) NT_CASE(MR, 2) NT_CASE(MR, 3) NT_CASE(MR, 4)

static void nt(int mr, int nr, int nimg, int OHW, int OHWp, const float *A, size_t am, size_t ai,
               const float *Bt, size_t bn, float *dw, size_t ldw) {
    switch (mr * 8 + nr) {
        NT_ROW(1) NT_ROW(2) NT_ROW(3) NT_ROW(4) NT_ROW(5)
        NT_CASE(1, 5) NT_CASE(2, 5) NT_CASE(3, 5) NT_CASE(4, 5)
    }
}

void conv2d_avx512_forward(float *out, const float *inp, const float *w, const float *b,
                           const conv_dims *d, float *scratch) {
    const geom g = geometry(d);
    const size_t sf = slot_floats(&g);
    #pragma omp parallel for schedule(static) num_threads(g.slots)
    for (int img = 0; img < d->B; img++) {
        float *col = scratch + sf * thread_id();
        im2col_rows(col, (size_t)g.OHW, 0, inp, img, 1, 0, g.CKK, d, &g);
        nn_matrix(d->OC, g.OHW, g.CKK, w, (size_t)g.CKK, 1, col, (size_t)g.OHW,
                  out + (size_t)img * d->OC * g.OHW, (size_t)g.OHW, b);
    }
}

// dinp += col2im(w^T @ dout_b) for every image, one input channel (K*K column rows) at a time.
static void input_grad(float *dinp, const float *dout, const float *w, const conv_dims *d,
                       const geom *g, float *scratch, size_t sf) {
    const int KK = d->K * d->K;
    #pragma omp parallel for schedule(static) num_threads(g->slots)
    for (int img = 0; img < d->B; img++) {
        float *rows = scratch + sf * thread_id() + g->ntbuf;
        const float *dout_b = dout + (size_t)img * d->OC * g->OHW;
        float *plane = dinp + (size_t)img * d->C * d->H * d->W;
        if (g->slotted) memset(rows, 0, g->tile * sizeof(float));  // the slots' zero margins
        for (int c = 0; c < d->C; c++, plane += d->H * d->W) {
            if (g->slotted) {
                nn_panels(NN_SLOTS, KK, g->OHW, d->OC, w + (size_t)c * KK, 1, (size_t)g->CKK,
                          dout_b, (size_t)g->OHW, rows + d->K - 1, (size_t)g->OH * 16, NULL, 0,
                          INT_MAX);
                col2im_slots_add(plane, rows, d, g);
                continue;
            }
            nn_matrix(KK, g->OHW, d->OC, w + (size_t)c * KK, 1, (size_t)g->CKK, dout_b,
                      (size_t)g->OHW, rows, (size_t)g->OHWp, NULL);
            col2im_plane_add(plane, rows, (size_t)g->OHWp, d, g);
        }
    }
}

/* acc + the n values at x, 16 lanes at a time in order (the last vector masked): the bias
 * gradients' per-channel lane sums, shared so the stored and produced paths add alike. */
static inline __m512 add_lanes(__m512 acc, const float *x, int n) {
    int p = 0;
    for (; p + 16 <= n; p += 16) acc = _mm512_add_ps(acc, _mm512_loadu_ps(x + p));
    if (p < n) acc = _mm512_add_ps(acc, _mm512_maskz_loadu_ps(lanes(n - p), x + p));
    return acc;
}

/* dw += sum_b dout_b @ col_b^T. Each thread walks the image blocks in order over its own
 * tiles of the (channel tile x column-row tile) grid, building the column rows of its current
 * row tile for the block, so each dw element is summed in one fixed order for any thread count.
 * From a stored gradient the grid is split in contiguous runs (each row tile's column rows are
 * built by one thread); from a produced one (produce != NULL) by channel tiles, so a thread
 * produces only its own channels' gradient for each block, into its slot, and also sums their
 * bias gradient in bias_grad's order. */
static void weight_grad(float *dw, float *db, const float *dout, conv_dout_fn produce,
                        const void *ctx, const float *inp, const conv_dims *d, const geom *g,
                        float *scratch, size_t sf) {
    // tile shape: MRMAX output channels x 4 rows, or 4 x MRMAX where OC is not a multiple of it
    const int MR = d->OC % MRMAX == 0 ? MRMAX : 4, NR = MR == MRMAX ? 4 : MRMAX;
    const int n_ot = (d->OC + MR - 1) / MR, n_rt = (g->CKK + NR - 1) / NR, T = n_ot * n_rt;
    const size_t bn = (size_t)g->nb * g->OHWp, img = (size_t)d->OC * g->OHW;
    #pragma omp parallel num_threads(g->slots)
    {
        const int tid = thread_id(), nth = thread_count();
        int t0 = (int)((long)T * tid / nth), t1 = (int)((long)T * (tid + 1) / nth);
        float *buf = scratch + sf * tid, *blk = buf + blk_offset(g);
        float *dbl = blk + (size_t)g->nb * img;  // bias-sum lanes, 16 per channel
        int c0 = 0, c1 = 0;
        if (produce) {
            const int o0 = n_ot * tid / nth, o1 = n_ot * (tid + 1) / nth;
            t0 = o0, t1 = o1;  // channel tiles [o0, o1) of every row tile
            c0 = o0 * MR, c1 = o1 * MR < d->OC ? o1 * MR : d->OC;
            memset(dbl, 0, (size_t)d->OC * 16 * sizeof(float));
        }
        for (int b0 = 0; b0 < d->B; b0 += g->nb) {
            const int nimg = d->B - b0 < g->nb ? d->B - b0 : g->nb;
            const float *A = dout + (size_t)b0 * img;
            if (produce) {
                for (int i = 0; i < nimg; i++) {
                    float *dst = blk + (size_t)i * img;
                    produce(dst, b0 + i, c0, c1, ctx);
                    for (int oc = c0; oc < c1; oc++)  // bias_grad's lanes, images in order
                        _mm512_storeu_ps(dbl + oc * 16, add_lanes(_mm512_loadu_ps(dbl + oc * 16),
                                                                  dst + (size_t)oc * g->OHW, g->OHW));
                }
                A = blk;
            }
            const int runs = produce ? n_rt : 1;
            for (int run = 0; run < runs; run++) {
                int built = -1;
                for (int t = t0; t < t1; t++) {
                    const int rt = produce ? run : t / n_ot, ot = produce ? t : t % n_ot;
                    const int r0 = rt * NR, nr = g->CKK - r0 < NR ? g->CKK - r0 : NR;
                    const int m0 = ot * MR, mr = d->OC - m0 < MR ? d->OC - m0 : MR;
                    if (rt != built) {
                        im2col_rows(buf, bn, (size_t)g->OHWp, inp, b0, nimg, r0, nr, d, g);
                        built = rt;
                    }
                    nt(mr, nr, nimg, g->OHW, g->OHWp, A + (size_t)m0 * g->OHW, (size_t)g->OHW, img,
                       buf, bn, dw + (size_t)m0 * g->CKK + r0, (size_t)g->CKK);
                }
            }
        }
        if (produce)
            for (int oc = c0; oc < c1; oc++) db[oc] += _mm512_reduce_add_ps(_mm512_loadu_ps(dbl + oc * 16));
    }
}

// db[oc] += sum over images and positions of dout, in 16 lanes per channel.
static void bias_grad(float *db, const float *dout, const conv_dims *d, const geom *g) {
    #pragma omp parallel for schedule(static) num_threads(g->slots)
    for (int oc = 0; oc < d->OC; oc++) {
        __m512 acc = _mm512_setzero_ps();
        for (int img = 0; img < d->B; img++)
            acc = add_lanes(acc, dout + ((size_t)img * d->OC + oc) * g->OHW, g->OHW);
        db[oc] += _mm512_reduce_add_ps(acc);
    }
}

void conv2d_avx512_backward(float *dinp, float *dw, float *db, const float *dout,
                            const float *inp, const float *w, const conv_dims *d, float *scratch) {
    const geom g = geometry(d);
    const size_t sf = slot_floats(&g);
    // the column rows' padding lanes stay zero: the NT kernel masks them anyway
    bias_grad(db, dout, d, &g);
    weight_grad(dw, NULL, dout, NULL, NULL, inp, d, &g, scratch, sf);
    if (dinp) input_grad(dinp, dout, w, d, &g, scratch, sf);
}

void conv2d_avx512_weights_from(float *dw, float *db, conv_dout_fn produce, const void *ctx,
                                const float *inp, const conv_dims *d, float *scratch) {
    const geom g = geometry(d);
    weight_grad(dw, db, NULL, produce, ctx, inp, d, &g, scratch, slot_floats(&g));
}

/* ---- Linear layers on the same tiles (linear.c picks them with the convolution kernels) ----
 *   forward  out (B, OUT) = b + inp @ w^T   NT tiles: the IN products of a row pair in lanes
 *   input    dinp (B, IN) += dout @ w       NN tiles
 *   weights  dw (OUT, IN) += dout^T @ inp   NN tiles, dout read transposed in place
 * Threads split output tiles or column panels, so results do not depend on their number. */
void avx512_linear_forward(float *out, const float *inp, const float *w, const float *b, int B,
                           int IN, int OUT) {
    const int n_mt = (B + MRMAX - 1) / MRMAX, n_nt = (OUT + 3) / 4;
    #pragma omp parallel for schedule(static)
    for (int t = 0; t < n_mt * n_nt; t++) {
        const int m0 = t / n_nt * MRMAX, n0 = t % n_nt * 4;
        const int mr = B - m0 < MRMAX ? B - m0 : MRMAX, nr = OUT - n0 < 4 ? OUT - n0 : 4;
        for (int m = m0; m < m0 + mr; m++)
            for (int n = n0; n < n0 + nr; n++) out[(size_t)m * OUT + n] = b[n];
        nt(mr, nr, 1, IN, IN, inp + (size_t)m0 * IN, (size_t)IN, 0, w + (size_t)n0 * IN, (size_t)IN,
           out + (size_t)m0 * OUT + n0, (size_t)OUT);
    }
}

void avx512_linear_backward(float *dinp, float *dw, const float *dout, const float *inp,
                            const float *w, int B, int IN, int OUT) {
    const int n_p = (IN + 16 * NVMAX - 1) / (16 * NVMAX);
    #pragma omp parallel for schedule(static)
    for (int pi = 0; pi < 2 * n_p; pi++) {
        if (pi < n_p) {
            nn_panels(NN_ADD, OUT, IN, B, dout, 1, (size_t)OUT, inp, (size_t)IN, dw, (size_t)IN,
                      NULL, pi, pi + 1);
        } else if (dinp) {
            nn_panels(NN_ADD, B, IN, OUT, dout, (size_t)OUT, 1, w, (size_t)IN, dinp, (size_t)IN,
                      NULL, pi - n_p, pi - n_p + 1);
        }
    }
}

#else  // no AVX-512 in this build: never selected

int conv2d_avx512_available(void) { return 0; }
size_t conv2d_avx512_scratch_floats(const conv_dims *d) { (void)d; return 0; }
void conv2d_avx512_forward(float *out, const float *inp, const float *w, const float *b,
                           const conv_dims *d, float *scratch) {
    (void)out, (void)inp, (void)w, (void)b, (void)d, (void)scratch;
}
void conv2d_avx512_backward(float *dinp, float *dw, float *db, const float *dout,
                            const float *inp, const float *w, const conv_dims *d, float *scratch) {
    (void)dinp, (void)dw, (void)db, (void)dout, (void)inp, (void)w, (void)d, (void)scratch;
}
void conv2d_avx512_weights_from(float *dw, float *db, conv_dout_fn produce, const void *ctx,
                                const float *inp, const conv_dims *d, float *scratch) {
    (void)dw, (void)db, (void)produce, (void)ctx, (void)inp, (void)d, (void)scratch;
}

void avx512_linear_forward(float *out, const float *inp, const float *w, const float *b, int B,
                           int IN, int OUT) {
    (void)out, (void)inp, (void)w, (void)b, (void)B, (void)IN, (void)OUT;
}
void avx512_linear_backward(float *dinp, float *dw, const float *dout, const float *inp,
                            const float *w, int B, int IN, int OUT) {
    (void)dinp, (void)dw, (void)dout, (void)inp, (void)w, (void)B, (void)IN, (void)OUT;
}

#endif
