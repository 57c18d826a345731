/* v16/conv.c - conv2d and Linear kernels written once over the 16-lane vector of simd.h and
 * compiled once per ISA (the Makefile: portable, AVX2+FMA, AVX-512 on x86-64; portable, NEON on
 * aarch64). Every instantiation computes the same bits, for any number of threads.
 *
 * Two micro-kernels do the arithmetic. NN: a tile C (MR x 16) = chain over k of A(m,k) *
 * Bm(k, 0..15), one broadcast of A per row and k, one vector load of Bm per k, MR = 6 vector
 * accumulators (12 ymm on AVX2, 24 q on NEON); each output element is one fused multiply-add
 * chain in k order, started from 0, the bias or C itself (accumulation), so neither the tile
 * shape nor any blocking changes a bit. NT (weight gradient): positions are the reduction axis,
 * in lanes: MR x NR lane-partial chains over a block of images, each folded by v16_hsum's fixed
 * tree and added to dw once per block; the block (nb images) depends on the geometry only.
 * Per image, with the column matrix col (CKK, OHW), col[(c,ki,kj)][i*OW+j] = inp[c,i+ki,j+kj]:
 *   forward  out_b (OC, OHW)  = bias + w (OC, CKK) @ col_b          NN, lanes: positions
 *   input    dcol (KK, OHW)   = w[:,c]^T @ dout_b per channel c,     NN, lanes: positions,
 *            then dinp[c] += col2im(dcol), each pixel's K*K terms summed in (ki, kj) order
 *   weights  dw (OC, CKK)    += sum_b dout_b @ col_b^T               NT, lanes: positions
 * Threads split images (forward, input gradient) or weight tiles (weight gradient), never a
 * sum, so no result depends on the thread count. */
#include <string.h>
#include "layers/conv2d_impl.h"
#include "layers/kernels.h"
#include "layers/simd.h"
#ifdef _OPENMP
#include <omp.h>
#endif

#define MRMAX 6
#define NT_MR 1      // NT tile: output channels x NT_NR column rows (12 ymm of partial sums; one
#define NT_NR 6      // output-gradient row streamed from L2 per 6 column rows kept in L1)
#define NT_POS 1024  // positions per NT image block (its column rows stay in L1)
enum { INIT_ZERO, INIT_BIAS, INIT_LOAD };


/* C[m][0..n) (n <= 16; all 16 when FULL) = init + sum_k A[m*ams + k*aks] * Bm[k*ldb + 0..n),
 * m < MR, one fused chain per element in k order; init 0, bias[m] or C's own value. Only the n
 * lanes are read from Bm and C and written to C. */
V16_INLINE void tile(const int MR, const int FULL, const int INIT, int K, const float *A,
                     size_t ams, size_t aks, const float *Bm, size_t ldb, int n, float *C,
                     size_t ldc, const float *bias) {
    v16 acc[MRMAX];
#pragma GCC unroll 6
    for (int m = 0; m < MR; m++)
        acc[m] = INIT == INIT_ZERO   ? v16_zero()
                 : INIT == INIT_BIAS ? v16_set1(bias[m])
                 : FULL              ? v16_load(C + m * ldc)
                                     : v16_loadn(C + m * ldc, n);
    for (int k = 0; k < K; k++) {
        const v16 b = FULL ? v16_load(Bm + (size_t)k * ldb) : v16_loadn(Bm + (size_t)k * ldb, n);
        const float *a = A + (size_t)k * aks;
#pragma GCC unroll 6
        for (int m = 0; m < MR; m++) acc[m] = v16_fma(v16_set1(a[m * ams]), b, acc[m]);
    }
#pragma GCC unroll 6
    for (int m = 0; m < MR; m++) {
        if (FULL) v16_store(C + m * ldc, acc[m]);
        else v16_storen(C + m * ldc, acc[m], n);
    }
}

#define TILE_CASE(MR)                                                                        \
    case MR:                                                                                 \
        if (n == 16) tile(MR, 1, INIT, K, A, ams, aks, Bm, ldb, n, C, ldc, bias);            \
        else tile(MR, 0, INIT, K, A, ams, aks, Bm, ldb, n, C, ldc, bias);                    \
        break;
#define TILE_FN(name, init)                                                                  \
    static void name(int mr, int K, const float *A, size_t ams, size_t aks, const float *Bm,   \
                     size_t ldb, int n, float *C, size_t ldc, const float *bias) {           \
        enum { INIT = init };                                                                \
        switch (mr) { TILE_CASE(1) TILE_CASE(2) TILE_CASE(3) TILE_CASE(4) TILE_CASE(5) TILE_CASE(6) } \
    }
TILE_FN(tile_zero, INIT_ZERO)
TILE_FN(tile_bias, INIT_BIAS)
TILE_FN(tile_acc, INIT_LOAD)

typedef void (*tile_fn)(int mr, int K, const float *A, size_t ams, size_t aks, const float *Bm,
                        size_t ldb, int n, float *C, size_t ldc, const float *bias);

/* C (M, N) by tiles: rows [0, M) in tiles of MRMAX, columns [0, N) in panels of 16, panels
 * outermost (a panel of Bm is reused from cache by every row tile). */
static void matrix(tile_fn fn, int M, int N, int K, const float *A, size_t ams, size_t aks,
                   const float *Bm, size_t ldb, float *C, size_t ldc, const float *bias) {
    for (int p0 = 0; p0 < N; p0 += 16) {
        const int n = N - p0 < 16 ? N - p0 : 16;
        for (int m0 = 0; m0 < M; m0 += MRMAX) {
            const int mr = M - m0 < MRMAX ? M - m0 : MRMAX;
            fn(mr, K, A + (size_t)m0 * ams, ams, aks, Bm + p0, ldb, n, C + (size_t)m0 * ldc + p0,
               ldc, bias ? bias + m0 : NULL);
        }
    }
}

/* ---- geometry and scratch ---- */

typedef struct { int OH, OW, OHW, OHWp, KK, CKK, nb, slots; size_t ntbuf, slot; } geom;

static geom geometry(const conv_dims *d) {
    geom g;
    g.OH = d->H - d->K + 1;
    g.OW = d->W - d->K + 1;
    g.OHW = g.OH * g.OW;
    g.OHWp = (g.OHW + 15) & ~15;
    g.KK = d->K * d->K;
    g.CKK = d->C * g.KK;
    g.nb = NT_POS / g.OHWp;
    if (g.nb < 1) g.nb = 1;
    if (g.nb > d->B) g.nb = d->B;
    g.slots = d->slots > 0 ? d->slots : 1;
    const size_t col = (size_t)g.CKK * g.OHW;                         // forward
    const size_t dcol = (size_t)g.KK * g.OHW;                          // input gradient
    g.ntbuf = (size_t)NT_NR * g.nb * g.OHWp;                           // weight gradient: col rows
    // weight gradient: the block's output gradient, one produced image and the bias lanes
    const size_t produced = (size_t)d->OC * g.nb * g.OHWp + (size_t)d->OC * g.OHW + (size_t)d->OC * 16;
    size_t s = col > dcol ? col : dcol;
    s = s > g.ntbuf + produced ? s : g.ntbuf + produced;
    g.slot = s + 16;
    return g;
}

static size_t scratch_floats(const conv_dims *d) {
    const geom g = geometry(d);
    return g.slot * g.slots;
}

/* ---- column matrices ---- */

// col (CKK, OHW) of one image (C, H, W): OW-wide row copies.
static void im2col(float *col, const float *img, const conv_dims *d, const geom *g) {
    const int K = d->K, OW = g->OW;
    for (int r = 0; r < g->CKK; r++) {
        const int c = r / g->KK, ki = (r / K) % K, kj = r % K;
        const float *src = img + ((size_t)c * d->H + ki) * d->W + kj;
        float *dst = col + (size_t)r * g->OHW;
        if (OW == 8)
            for (int i = 0; i < g->OH; i++) memcpy(dst + i * 8, src + (size_t)i * d->W, 8 * sizeof(float));
        else
            for (int i = 0; i < g->OH; i++) memcpy(dst + i * OW, src + (size_t)i * d->W, (size_t)OW * sizeof(float));
    }
}

/* Column rows [r0, r0+nr) of images [b0, b0+n): row r of image b at dst + (r-r0)*rs + b*OHWp. */
static void im2col_rows(float *dst, size_t rs, const float *inp, int b0, int n, int r0, int nr,
                        const conv_dims *d, const geom *g) {
    const int K = d->K, OW = g->OW;
    for (int r = r0; r < r0 + nr; r++) {
        const int c = r / g->KK, ki = (r / K) % K, kj = r % K;
        for (int b = 0; b < n; b++) {
            const float *src = inp + (((size_t)(b0 + b) * d->C + c) * d->H + ki) * d->W + kj;
            float *out = dst + (size_t)(r - r0) * rs + (size_t)b * g->OHWp;
            if (OW == 8)
                for (int i = 0; i < g->OH; i++) memcpy(out + i * 8, src + (size_t)i * d->W, 8 * sizeof(float));
            else if (OW == 24)
                for (int i = 0; i < g->OH; i++) memcpy(out + i * 24, src + (size_t)i * d->W, 24 * sizeof(float));
            else
                for (int i = 0; i < g->OH; i++) memcpy(out + i * OW, src + (size_t)i * d->W, (size_t)OW * sizeof(float));
        }
    }
}

/* plane (H, W) += col2im of its K*K column rows dcol (KK, OHW): for each 16-lane run of a row,
 * the terms of (ki, kj) in order from shifted lane-range loads, then one add to the plane. */
static void col2im_add(float *plane, const float *dcol, const conv_dims *d, const geom *g) {
    const int K = d->K, OW = g->OW, W = d->W;
    for (int y = 0; y < d->H; y++)
        for (int x0 = 0; x0 < W; x0 += 16) {
            v16 acc = v16_zero();
            for (int ki = 0; ki < K; ki++) {
                const int i = y - ki;
                if (i < 0 || i >= g->OH) continue;
                for (int kj = 0; kj < K; kj++) {
                    // lane x takes dcol row (ki,kj) at i*OW + x0+x-kj, for 0 <= x0+x-kj < OW
                    int lo = kj - x0, hi = kj + OW - x0;
                    lo = lo < 0 ? 0 : lo;
                    hi = hi > 16 ? 16 : hi;
                    if (hi <= lo) continue;
                    const float *src = dcol + (size_t)(ki * K + kj) * g->OHW + i * OW + x0 - kj;
                    acc = v16_add(acc, v16_load_range(src, lo, hi));
                }
            }
            const int n = W - x0 < 16 ? W - x0 : 16;
            float *p = plane + (size_t)y * W + x0;
            if (n == 16) v16_store(p, v16_add(v16_load(p), acc));
            else v16_storen(p, v16_add(v16_loadn(p, n), acc), n);
        }
}

/* ---- convolution ---- */

static void conv_forward(float *out, const float *inp, const float *w, const float *b,
                         const conv_dims *d, float *scratch) {
    const geom g = geometry(d);
    #pragma omp parallel for schedule(static) num_threads(g.slots)
    for (int img = 0; img < d->B; img++) {
        float *col = scratch + g.slot * thread_id();
        im2col(col, inp + (size_t)img * d->C * d->H * d->W, d, &g);
        matrix(tile_bias, d->OC, g.OHW, g.CKK, w, (size_t)g.CKK, 1, col, (size_t)g.OHW,
               out + (size_t)img * d->OC * g.OHW, (size_t)g.OHW, b);
    }
}

// dinp += col2im(w^T @ dout_b) for every image, one input channel (K*K column rows) at a time.
static void input_grad(float *dinp, const float *dout, const float *w, const conv_dims *d,
                       const geom *g, float *scratch) {
    #pragma omp parallel for schedule(static) num_threads(g->slots)
    for (int img = 0; img < d->B; img++) {
        float *dcol = scratch + g->slot * thread_id();
        const float *dout_b = dout + (size_t)img * d->OC * g->OHW;
        float *plane = dinp + (size_t)img * d->C * d->H * d->W;
        for (int c = 0; c < d->C; c++, plane += d->H * d->W) {
            matrix(tile_zero, g->KK, g->OHW, d->OC, w + (size_t)c * g->KK, 1, (size_t)g->CKK, dout_b,
                   (size_t)g->OHW, dcol, (size_t)g->OHW, NULL);
            col2im_add(plane, dcol, d, g);
        }
    }
}

/* lanes + image b's gradient plane of one channel (OHW values), 16 at a time in order: the bias
 * gradient's lane sums, the same for a stored and a produced gradient. */
V16_INLINE v16 add_plane(v16 lanes, const float *x, int n) {
    int p = 0;
    for (; p + 16 <= n; p += 16) lanes = v16_add(lanes, v16_load(x + p));
    if (p < n) lanes = v16_add(lanes, v16_loadn(x + p, n - p));
    return lanes;
}

/* NT tile: dw[m*ldw + n] += hsum of the lane chains over the positions p < np (a multiple of
 * 16) of A[m*am + p] * Bt[n*bn + p], m < MR, n < NR (constants at every call). */
V16_INLINE void nt_tile(const int MR, const int NR, int np, const float *A, size_t am,
                        const float *Bt, size_t bn, float *dw, size_t ldw) {
    v16 acc[NT_MR][NT_NR];
#pragma GCC unroll 3
    for (int m = 0; m < MR; m++)
#pragma GCC unroll 6
        for (int n = 0; n < NR; n++) acc[m][n] = v16_zero();
    for (int p = 0; p < np; p += 16) {
        v16 bv[NT_NR];
#pragma GCC unroll 6
        for (int n = 0; n < NR; n++) bv[n] = v16_load(Bt + n * bn + p);
#pragma GCC unroll 3
        for (int m = 0; m < MR; m++) {
            const v16 av = v16_load(A + m * am + p);
#pragma GCC unroll 6
            for (int n = 0; n < NR; n++) acc[m][n] = v16_fma(av, bv[n], acc[m][n]);
        }
    }
#pragma GCC unroll 3
    for (int m = 0; m < MR; m++)
#pragma GCC unroll 6
        for (int n = 0; n < NR; n++) dw[(size_t)m * ldw + n] += v16_hsum(acc[m][n]);
}

static void nt(int mr, int nr, int np, const float *A, size_t am, const float *Bt, size_t bn,
               float *dw, size_t ldw) {
#define NT_CASE(MR, NR) \
    case MR * 8 + NR: nt_tile(MR, NR, np, A, am, Bt, bn, dw, ldw); break;
#if NT_NR == 2
#define NT_ROW(MR) NT_CASE(MR, 1) NT_CASE(MR, 2)
#elif NT_NR == 3
#define NT_ROW(MR) NT_CASE(MR, 1) NT_CASE(MR, 2) NT_CASE(MR, 3)
#else
#define NT_ROW(MR) NT_CASE(MR, 1) NT_CASE(MR, 2) NT_CASE(MR, 3) NT_CASE(MR, 4) NT_CASE(MR, 5) NT_CASE(MR, 6)
#endif
    switch (mr * 8 + nr) {
#if NT_MR == 1
        NT_ROW(1)
#elif NT_MR == 2
        NT_ROW(1) NT_ROW(2)
#else
        NT_ROW(1) NT_ROW(2) NT_ROW(3)
#endif
    }
#undef NT_ROW
#undef NT_CASE
}

/* dw += sum_b dout_b @ col_b^T (and db from a produced gradient), by blocks of nb images. A
 * block is laid out position-major per row, each image's OHW positions padded to OHWp with
 * zeros: the output gradient as at (OC, nb*OHWp), the column rows of a row tile likewise, so a
 * tile's lane chains run over the whole block in one loop (padding adds exact zeros: the chain
 * of a lane is its positions in image order). Each thread walks the blocks in order over its
 * own tiles of the (channel tile x column-row tile) grid, building the column rows of its
 * current row tile for the block, so each dw element is summed in one fixed order for any
 * thread count. From a stored gradient the grid is split in contiguous runs (each row tile's
 * column rows built by one thread); from a produced one (produce != NULL) by channel tiles, so
 * a thread produces only its own channels' gradient, and sums their bias lanes in the stored
 * path's order (add_plane, images in order). */
static void weight_grad(float *dw, float *db, const float *dout, conv_dout_fn produce,
                        const void *ctx, const float *inp, const conv_dims *d, const geom *g,
                        float *scratch) {
    const int n_ot = (d->OC + NT_MR - 1) / NT_MR, n_rt = (g->CKK + NT_NR - 1) / NT_NR;
    const int T = n_ot * n_rt;
    const size_t bn = (size_t)g->nb * g->OHWp, img = (size_t)d->OC * g->OHW;
    #pragma omp parallel num_threads(g->slots)
    {
        const int tid = thread_id(), nth = thread_count();
        int t0 = (int)((long)T * tid / nth), t1 = (int)((long)T * (tid + 1) / nth);
        float *buf = scratch + g->slot * tid, *at = buf + g->ntbuf, *tmp = at + (size_t)d->OC * bn;
        float *lanes = tmp + img;  // bias lanes, 16 per channel
        int c0 = 0, c1 = d->OC;
        if (produce) {
            t0 = n_ot * tid / nth, t1 = n_ot * (tid + 1) / nth;  // channel tiles [t0, t1)
            c0 = t0 * NT_MR, c1 = t1 * NT_MR < d->OC ? t1 * NT_MR : d->OC;
            memset(lanes, 0, (size_t)d->OC * 16 * sizeof(float));
        }
        memset(buf, 0, (g->ntbuf + (size_t)d->OC * bn) * sizeof(float));  // the padding lanes
        for (int b0 = 0; b0 < d->B && t1 > t0; b0 += g->nb) {
            const int nimg = d->B - b0 < g->nb ? d->B - b0 : g->nb;
            for (int i = 0; i < nimg; i++) {
                const float *src = dout + (size_t)(b0 + i) * img;
                if (produce) {
                    produce(tmp, b0 + i, c0, c1, ctx);
                    src = tmp;
                    for (int oc = c0; oc < c1; oc++)
                        v16_store(lanes + oc * 16, add_plane(v16_load(lanes + oc * 16),
                                                             tmp + (size_t)oc * g->OHW, g->OHW));
                }
                for (int oc = c0; oc < c1; oc++)
                    memcpy(at + oc * bn + (size_t)i * g->OHWp, src + (size_t)oc * g->OHW,
                           (size_t)g->OHW * sizeof(float));
            }
            if (nimg < g->nb)  // a short last block: the chains stop at its last image
                for (int oc = c0; oc < c1; oc++)
                    memset(at + oc * bn + (size_t)nimg * g->OHWp, 0,
                           (size_t)(g->nb - nimg) * g->OHWp * sizeof(float));
            const int np = nimg * g->OHWp, runs = produce ? n_rt : 1;
            for (int run = 0; run < runs; run++) {
                int built = -1;
                for (int t = t0; t < t1; t++) {
                    const int rt = produce ? run : t / n_ot, ot = produce ? t : t % n_ot;
                    const int r0 = rt * NT_NR, nr = g->CKK - r0 < NT_NR ? g->CKK - r0 : NT_NR;
                    const int m0 = ot * NT_MR, mr = d->OC - m0 < NT_MR ? d->OC - m0 : NT_MR;
                    if (rt != built) {
                        im2col_rows(buf, bn, inp, b0, nimg, r0, nr, d, g);
                        built = rt;
                    }
                    nt(mr, nr, np, at + m0 * bn, bn, buf, bn, dw + (size_t)m0 * g->CKK + r0,
                       (size_t)g->CKK);
                }
            }
        }
        if (produce)
            for (int oc = c0; oc < c1; oc++) db[oc] += v16_hsum(v16_load(lanes + oc * 16));
    }
}

static void conv_backward(float *dinp, float *dw, float *db, const float *dout, const float *inp,
                          const float *w, const conv_dims *d, float *scratch) {
    const geom g = geometry(d);
    const size_t img_out = (size_t)d->OC * g.OHW;
    // bias: db[oc] += hsum of its lanes over the images in order (threads split channels)
    #pragma omp parallel for schedule(static) num_threads(g.slots)
    for (int oc = 0; oc < d->OC; oc++) {
        v16 lanes = v16_zero();
        for (int b = 0; b < d->B; b++) lanes = add_plane(lanes, dout + b * img_out + (size_t)oc * g.OHW, g.OHW);
        db[oc] += v16_hsum(lanes);
    }
    weight_grad(dw, NULL, dout, NULL, NULL, inp, d, &g, scratch);
    if (dinp) input_grad(dinp, dout, w, d, &g, scratch);
}

static void conv_weights_from(float *dw, float *db, conv_dout_fn produce, const void *ctx,
                              const float *inp, const conv_dims *d, float *scratch) {
    const geom g = geometry(d);
    weight_grad(dw, db, NULL, produce, ctx, inp, d, &g, scratch);
}

/* ---- Linear layers on the same tile ----
 *   forward  out (B, OUT) = b + inp @ w^T    lanes: outputs; w^T packed by panels on the stack
 *   input    dinp (B, IN) += dout @ w        lanes: inputs
 *   weights  dw (OUT, IN) += dout^T @ inp    lanes: inputs, dout read transposed in place
 * Threads split output panels (forward) or input panels (backward). */
#define LIN_KB 512  // rows of a packed w^T panel block (32 KiB on the stack)

static void lin_forward(float *out, const float *inp, const float *w, const float *b, int B,
                           int IN, int OUT) {
    const int panels = (OUT + 15) / 16;
    #pragma omp parallel for schedule(static)
    for (int q = 0; q < panels; q++) {
        const int o0 = q * 16, n = OUT - o0 < 16 ? OUT - o0 : 16;
        float wt[LIN_KB * 16];
        for (int i = 0; i < B; i++) memcpy(out + (size_t)i * OUT + o0, b + o0, (size_t)n * sizeof(float));
        for (int k0 = 0; k0 < IN; k0 += LIN_KB) {
            const int kb = IN - k0 < LIN_KB ? IN - k0 : LIN_KB;
            for (int k = 0; k < kb; k++)
                for (int l = 0; l < 16; l++) wt[k * 16 + l] = l < n ? w[(size_t)(o0 + l) * IN + k0 + k] : 0.0f;
            for (int m0 = 0; m0 < B; m0 += MRMAX) {
                const int mr = B - m0 < MRMAX ? B - m0 : MRMAX;
                tile_acc(mr, kb, inp + (size_t)m0 * IN + k0, (size_t)IN, 1, wt, 16, n,
                         out + (size_t)m0 * OUT + o0, (size_t)OUT, NULL);
            }
        }
    }
}

static void lin_backward(float *dinp, float *dw, const float *dout, const float *inp,
                            const float *w, int B, int IN, int OUT) {
    const int panels = (IN + 15) / 16;
    #pragma omp parallel for schedule(static)
    for (int q = 0; q < panels; q++) {
        const int k0 = q * 16, n = IN - k0 < 16 ? IN - k0 : 16;
        for (int m0 = 0; m0 < OUT; m0 += MRMAX) {
            const int mr = OUT - m0 < MRMAX ? OUT - m0 : MRMAX;
            tile_acc(mr, B, dout + m0, 1, (size_t)OUT, inp + k0, (size_t)IN, n,
                     dw + (size_t)m0 * IN + k0, (size_t)IN, NULL);
        }
        if (dinp)
            for (int m0 = 0; m0 < B; m0 += MRMAX) {
                const int mr = B - m0 < MRMAX ? B - m0 : MRMAX;
                tile_acc(mr, OUT, dout + (size_t)m0 * OUT, (size_t)OUT, 1, w + k0, (size_t)IN, n,
                         dinp + (size_t)m0 * IN + k0, (size_t)IN, NULL);
            }
    }
}

/* ---- the machine's FMA throughput: n iterations of FMA_CHAINS independent fused multiply-add
 * chains (enough to cover the FMA latency on each ISA: 12 ymm, 24 q or 12 zmm registers) ---- */
#if defined(V16_AVX512)
#define FMA_CHAINS 12
#else
#define FMA_CHAINS 6
#endif
static float fma_loop(long n) {
    v16 a[FMA_CHAINS];
    const v16 x = v16_set1(0.999999f), y = v16_set1(1e-6f);
    for (int i = 0; i < FMA_CHAINS; i++) a[i] = v16_set1((float)i);
    for (long k = 0; k < n; k++)
#pragma GCC unroll 12
        for (int i = 0; i < FMA_CHAINS; i++) a[i] = v16_fma(a[i], x, y);
    float s = 0.0f;
    for (int i = 0; i < FMA_CHAINS; i++) s += v16_lane0(a[i]);
    return s;
}

const kernel_set V16_NAME(kernels_v16) = {
    .name = V16_ISA_NAME,
    .conv_scratch_floats = scratch_floats,
    .conv_forward = conv_forward,
    .conv_backward = conv_backward,
    .conv_weights_from = conv_weights_from,
    .linear_forward = lin_forward,
    .linear_backward = lin_backward,
    .fma_loop = fma_loop,
    .fma_flops_per_iter = FMA_CHAINS * 32,
};
