/* v16/conv.c - the convolution kernels written once over the 16-lane vector of simd.h and
 * compiled once per ISA (the Makefile: portable, AVX2+FMA, AVX-512 on x86-64; portable, NEON on
 * aarch64), and the kernel set they make (with convw.c's weight gradient and linear.c's Linear
 * layers). Every instantiation computes the same bits, for any number of threads.
 *
 * Two micro-kernels do the arithmetic. NN (v16.h): a tile C (MR x 16*NV) = chain over k of
 * A(m,k) * Bm(k, .), one broadcast of A per row and k, NV vector loads of Bm per k; each output
 * element is one fused multiply-add chain in k order, started from 0, the bias or C itself
 * (accumulation), so neither the tile shape nor any blocking changes a bit. NT (convw.c, the
 * weight gradient): positions are the reduction axis, in lanes, folded by v16_hsum's fixed tree
 * once per block of images; the block depends on the geometry only.
 * Per image, with the column matrix col (CKK, OHW), col[(c,ki,kj)][i*OW+j] = inp[c,i+ki,j+kj]:
 *   forward  out_b (OC, OHW)  = bias + w (OC, CKK) @ col_b          NN, lanes: positions
 *   input    dcol (KK, OHW)   = w[:,c]^T @ dout_b per channel c,     NN, lanes: positions,
 *            then dinp[c] += col2im(dcol), each pixel's K*K terms summed in (ki, kj) order
 *   weights  dw (OC, CKK)    += sum_b dout_b @ col_b^T               NT, lanes: positions
 * Threads split images (forward, input gradient) or weight tiles (weight gradient), never a
 * sum, so no result depends on the thread count. */
#include "layers/v16/v16.h"

TILE_FN(tile_zero, INIT_ZERO, 0)
TILE_FN(tile_bias, INIT_BIAS, 0)
TILE_FN(tile_slots, INIT_ZERO, 1)

/* C (M, N) by tiles: rows [0, M) in tiles of MRMAX, columns [0, N) in panels of 16*NVMAX,
 * panels outermost (a panel of Bm is reused from cache by every row tile). tile_slots: C's rows
 * in slots (input_grad), 16 floats per 8 positions. */
static void matrix(tile_fn fn, int M, int N, int K, const float *A, size_t ams, size_t aks,
                   const float *Bm, size_t ldb, float *C, size_t ldc, const float *bias) {
    const int tiles = (M + MRMAX - 1) / MRMAX;  // row tiles as even as they go (25 rows: 5 x 5)
    for (int p0 = 0; p0 < N; p0 += 16 * NVMAX) {
        const int w = N - p0 < 16 * NVMAX ? N - p0 : 16 * NVMAX, nv = (w + 15) / 16;
        for (int t = 0; t < tiles; t++) {
            const int m0 = (int)((long)M * t / tiles), mr = (int)((long)M * (t + 1) / tiles) - m0;
            fn(mr, nv, K, A + (size_t)m0 * ams, ams, aks, Bm + p0, ldb, w - 16 * (nv - 1),
               C + (size_t)m0 * ldc + (fn == tile_slots ? 2 * p0 : p0), ldc, bias ? bias + m0 : NULL);
        }
    }
}

static size_t scratch_floats(const conv_dims *d) {
    const v16_geom g = v16_geometry(d);
    return g.slot * g.slots;
}

// col (CKK, OHW) of one image (C, H, W): OW-wide row copies.
static void im2col(float *col, const float *img, const conv_dims *d, const v16_geom *g) {
    const int K = d->K, OW = g->OW;
    for (int r = 0; r < g->CKK; r++) {
        const int c = r / g->KK, ki = (r / K) % K, kj = r % K;
        const float *src = img + ((size_t)c * d->H + ki) * d->W + kj;
        float *dst = col + (size_t)r * g->OHW;
        if (OW == 8)  // py3's widths: fixed-size moves
            for (int i = 0; i < g->OH; i++) memcpy(dst + i * 8, src + (size_t)i * d->W, 8 * sizeof(float));
        else if (OW == 24)
            for (int i = 0; i < g->OH; i++) memcpy(dst + i * 24, src + (size_t)i * d->W, 24 * sizeof(float));
        else
            for (int i = 0; i < g->OH; i++) memcpy(dst + i * OW, src + (size_t)i * d->W, (size_t)OW * sizeof(float));
    }
}

/* plane (H, W) += col2im of its K*K column rows dcol (KK, OHW): for each 16-lane run of a row,
 * the terms of (ki, kj) in order from shifted lane-range loads, then one add to the plane. */
static void col2im_add(float *plane, const float *dcol, const conv_dims *d, const v16_geom *g) {
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

/* col2im_add for 8-wide output rows in slots (g->slotted): column row r's output row i at
 * rows + (r*srow + i + K-1)*16 + K-1, zeros around it (K-1 zero slots above and below, and
 * each slot's lanes outside its 8), so one unmasked load at offset -kj is that row shifted right
 * by kj lanes with zeros elsewhere. A plane row y sums its terms in (ki, kj) order as
 * col2im_add does, and where col2im_add skips a term (i out of range) or masks a lane, this adds
 * an exact +0, which changes no bit (the sum starts at +0 and so is never -0). COL2IM_G rows at
 * once (independent chains); the sums go to tmp laid out as the plane (each row's store
 * overwritten past its W lanes by the next), then plane += tmp, as col2im_add adds. */
static void col2im_slots_add(float *plane, const float *rows, float *tmp, const conv_dims *d,
                             const v16_geom *g) {
    const int K = d->K, W = d->W, H = d->H, HW = H * W;
    for (int y0 = 0; y0 < H; y0 += COL2IM_G) {
        v16 acc[COL2IM_G];
#pragma GCC unroll 12
        for (int j = 0; j < COL2IM_G; j++) acc[j] = v16_zero();
        for (int ki = 0; ki < K; ki++)
            for (int kj = 0; kj < K; kj++) {
                // plane row y takes output row i = y - ki: slot y - ki + K-1 (>= 0 as y >= ki - ...)
                const float *src = rows + ((size_t)(ki * K + kj) * g->srow + y0 - ki + K - 1) * 16 + K - 1 - kj;
#pragma GCC unroll 12
                for (int j = 0; j < COL2IM_G; j++) acc[j] = v16_add(acc[j], v16_load(src + j * 16));
            }
        for (int j = 0; j < COL2IM_G && y0 + j < H; j++) v16_store(tmp + (y0 + j) * W, acc[j]);
    }
    int p = 0;
    for (; p + 16 <= HW; p += 16) v16_store(plane + p, v16_add(v16_load(plane + p), v16_load(tmp + p)));
    if (p < HW) v16_storen(plane + p, v16_add(v16_loadn(plane + p, HW - p), v16_loadn(tmp + p, HW - p)), HW - p);
}

/* ---- convolution ---- */

static void conv_forward(float *out, const float *inp, const float *w, const float *b,
                         const conv_dims *d, float *scratch) {
    const v16_geom g = v16_geometry(d);
    #pragma omp parallel for schedule(static) num_threads(g.slots)
    for (int img = 0; img < d->B; img++) {
        float *col = scratch + g.slot * thread_id();
        im2col(col, inp + (size_t)img * d->C * d->H * d->W, d, &g);
        matrix(tile_bias, d->OC, g.OHW, g.CKK, w, (size_t)g.CKK, 1, col, (size_t)g.OHW,
               out + (size_t)img * d->OC * g.OHW, (size_t)g.OHW, b);
    }
}

/* dinp += col2im(w^T @ dout_b) for every image, one input channel (K*K column rows) at a time;
 * 8-wide output rows go through slots (col2im_slots_add), others through col2im_add. */
static void input_grad(float *dinp, const float *dout, const float *w, const conv_dims *d,
                       const v16_geom *g, float *scratch) {
    #pragma omp parallel for schedule(static) num_threads(g->slots)
    for (int img = 0; img < d->B; img++) {
        float *dcol = scratch + g->slot * thread_id();
        const float *dout_b = dout + (size_t)img * d->OC * g->OHW;
        float *plane = dinp + (size_t)img * d->C * d->H * d->W;
        const size_t rows = (size_t)g->KK * g->srow * 16 + 16;  // the slots, a zero vector after
        if (g->slotted) memset(dcol, 0, rows * sizeof(float));  // the zeros around the rows
        for (int c = 0; c < d->C; c++, plane += d->H * d->W) {
            if (g->slotted) {
                matrix(tile_slots, g->KK, g->OHW, d->OC, w + (size_t)c * g->KK, 1, (size_t)g->CKK,
                       dout_b, (size_t)g->OHW, dcol + (d->K - 1) * 17, (size_t)g->srow * 16, NULL);
                col2im_slots_add(plane, dcol, dcol + rows, d, g);
                continue;
            }
            matrix(tile_zero, g->KK, g->OHW, d->OC, w + (size_t)c * g->KK, 1, (size_t)g->CKK, dout_b,
                   (size_t)g->OHW, dcol, (size_t)g->OHW, NULL);
            col2im_add(plane, dcol, d, g);
        }
    }
}

static void conv_backward(float *dinp, float *dw, float *db, const float *dout, const float *inp,
                          const float *w, const conv_dims *d, float *scratch) {
    const v16_geom g = v16_geometry(d);
    V16_NAME(v16_bias_grad)(db, dout, d, &g);
    V16_NAME(v16_weight_grad)(dw, NULL, dout, NULL, NULL, inp, d, &g, scratch);
    if (dinp) input_grad(dinp, dout, w, d, &g, scratch);
}

static void conv_weights_from(float *dw, float *db, conv_dout_fn produce, const void *ctx,
                              const float *inp, const conv_dims *d, float *scratch) {
    const v16_geom g = v16_geometry(d);
    V16_NAME(v16_weight_grad)(dw, db, NULL, produce, ctx, inp, d, &g, scratch);
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
    float s = 0.0f;  // every lane, or the compiler drops the chains of the unread ones
    for (int i = 0; i < FMA_CHAINS; i++) s += v16_hsum(a[i]);
    return s;
}

const kernel_set V16_NAME(kernels_v16) = {
    .name = V16_ISA_NAME,
    .conv_scratch_floats = scratch_floats,
    .conv_forward = conv_forward,
    .conv_backward = conv_backward,
    .conv_weights_from = conv_weights_from,
    .linear_forward = V16_NAME(v16_linear_forward),
    .linear_backward = V16_NAME(v16_linear_backward),
    .fma_loop = fma_loop,
    .fma_flops_per_iter = FMA_CHAINS * 32,
};
