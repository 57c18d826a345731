/* v16/convw.c - the weight and bias gradients of the v16 convolution (see conv.c), compiled
 * once per ISA like it.
 *
 * NT micro-kernel: positions are the reduction axis, in lanes. A tile of MR output channels x
 * NR column rows keeps MR*NR lane-partial fused multiply-add chains over a block of images
 * (NT_POS positions), folds each with v16_hsum's fixed tree and adds it to dw once per block.
 * The tile shape (per ISA, v16.h) changes no bit; the block (nb images) depends on the
 * geometry only. */
#include "layers/v16/v16.h"
#ifdef _OPENMP
#include <omp.h>
#endif

/* Column rows [r0, r0+nr) of images [b0, b0+n): row r of image b at dst + (r-r0)*rs + b*OHWp. */
static void im2col_rows(float *dst, size_t rs, const float *inp, int b0, int n, int r0, int nr,
                        const conv_dims *d, const v16_geom *g) {
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

/* lanes + image b's gradient plane of one channel (OHW values), 16 at a time in order: the bias
 * gradient's lane sums, the same for a stored and a produced gradient. */
V16_INLINE v16 add_plane(v16 lanes, const float *x, int n) {
    int p = 0;
    for (; p + 16 <= n; p += 16) lanes = v16_add(lanes, v16_load(x + p));
    if (p < n) lanes = v16_add(lanes, v16_loadn(x + p, n - p));
    return lanes;
}

/* NT tile: dw[m*ldw + n] += hsum of the lane chains over images i < nimg and their positions
 * p < np (a multiple of 16) of A[m*am + i*ai + p] * Bt[n*bn + i*bi + p], m < MR, n < NR
 * (constants at every call): each lane's chain runs over its positions in image order. One
 * pass per part of the vector (simd.h), its MR*NR partial sums in one register each; A's MR
 * parts are held, Bt's streamed. The parts' sums meet in sums[][] for v16_hsum. */
V16_INLINE void nt_tile(const int MR, const int NR, int nimg, int np, const float *A, size_t am,
                        size_t ai, const float *Bt, size_t bn, size_t bi, float *dw, size_t ldw) {
    float sums[NT_MRMAX][NT_NRMAX][16];
    for (int q = 0; q < V16_PARTS; q++) {
        v16p acc[NT_MRMAX][NT_NRMAX];
#pragma GCC unroll 6
        for (int m = 0; m < MR; m++)
#pragma GCC unroll 6
            for (int n = 0; n < NR; n++) acc[m][n] = v16p_zero();
        for (int i = 0; i < nimg; i++) {
            const float *a = A + (size_t)i * ai + q * V16_PW, *b = Bt + (size_t)i * bi + q * V16_PW;
            for (int p = 0; p < np; p += 16) {
                v16p av[NT_MRMAX];  // each loaded once (v16p_reg): used NR times
#pragma GCC unroll 6
                for (int m = 0; m < MR; m++)
                    av[m] = NR > 1 ? v16p_reg(v16p_load(a + m * am + p)) : v16p_load(a + m * am + p);
#pragma GCC unroll 6
                for (int n = 0; n < NR; n++) {
                    const v16p bv = MR > 1 ? v16p_reg(v16p_load(b + n * bn + p)) : v16p_load(b + n * bn + p);
#pragma GCC unroll 6
                    for (int m = 0; m < MR; m++) acc[m][n] = v16p_fma(av[m], bv, acc[m][n]);
                }
            }
        }
#pragma GCC unroll 6
        for (int m = 0; m < MR; m++)
#pragma GCC unroll 6
            for (int n = 0; n < NR; n++) v16p_store(sums[m][n] + q * V16_PW, acc[m][n]);
    }
#pragma GCC unroll 6
    for (int m = 0; m < MR; m++)
#pragma GCC unroll 6
        for (int n = 0; n < NR; n++) dw[(size_t)m * ldw + n] += v16_hsum(v16_load(sums[m][n]));
}

#define NT_C(MR, NR) \
    case MR * 8 + NR: nt_tile(MR, NR, nimg, np, A, am, ai, Bt, bn, bi, dw, ldw); break;
#if NT_NRMAX == 3
#define NT_ROW(MR) NT_C(MR, 1) NT_C(MR, 2) NT_C(MR, 3)
#elif NT_NRMAX == 4
#define NT_ROW(MR) NT_C(MR, 1) NT_C(MR, 2) NT_C(MR, 3) NT_C(MR, 4)
#elif NT_NRMAX == 5
#define NT_ROW(MR) NT_C(MR, 1) NT_C(MR, 2) NT_C(MR, 3) NT_C(MR, 4) NT_C(MR, 5)
#else
#define NT_ROW(MR) NT_C(MR, 1) NT_C(MR, 2) NT_C(MR, 3) NT_C(MR, 4) NT_C(MR, 5) NT_C(MR, 6)
#endif
#if NT_MRMAX == 2
#define NT_ROWS NT_ROW(1) NT_ROW(2)
#elif NT_MRMAX == 3
#define NT_ROWS NT_ROW(1) NT_ROW(2) NT_ROW(3)
#elif NT_MRMAX == 4
#define NT_ROWS NT_ROW(1) NT_ROW(2) NT_ROW(3) NT_ROW(4)
#else
#define NT_ROWS NT_ROW(1) NT_ROW(2) NT_ROW(3) NT_ROW(4) NT_ROW(5)
#endif

// an mr x nr tile (mr <= NT_MRMAX, nr <= NT_NRMAX)
static void nt(int mr, int nr, int nimg, int np, const float *A, size_t am, size_t ai,
               const float *Bt, size_t bn, size_t bi, float *dw, size_t ldw) {
    switch (mr * 8 + nr) { NT_ROWS }
}

/* The NT tile for OC output channels: MR x NR. */
static void nt_shape(int OC, int *MR, int *NR) {
#if defined(V16_AVX512)
    *MR = OC % 5 == 0 ? 5 : 4, *NR = *MR == 5 ? 4 : 5;
#else
    (void)OC;
    *MR = NT_MRMAX, *NR = NT_NRMAX;
#endif
}

// tile t's first channel or row when n units are split in T tiles as evenly as they go
static inline int tile_lo(int n, int T, int t) { return (int)((long)n * t / T); }

/* dw += sum_b dout_b @ col_b^T (and db from a produced gradient), by blocks of nb images. The
 * bits are fixed by the blocks: each dw element is, per block, the v16_hsum of 16 lane chains
 * (lane l over the block's positions p = l mod 16, image by image, each image's OHW positions
 * padded to OHWp with zeros), added to dw block by block. The column rows of a row tile are
 * built for the block at (NR, nb*OHWp); the output gradient is read where it is stored (or
 * produced image by image as it would be stored) where OHW is a multiple of 16, else copied to
 * the same padded layout (padding adds exact zeros). Each
 * thread walks the blocks in order over its own tiles of the (channel tile x column-row tile)
 * grid, building the column rows of its current row tile for the block, so each dw element is
 * summed in one fixed order for any thread count and tile shape. From a stored gradient the
 * grid is split in contiguous runs (each row tile's column rows built by one thread); from a
 * produced one (produce != NULL) by channel tiles, so a thread produces only its own channels'
 * gradient, and sums their bias lanes in the stored path's order (add_plane, images in order). */
void V16_NAME(v16_weight_grad)(float *dw, float *db, const float *dout, conv_dout_fn produce,
                        const void *ctx, const float *inp, const conv_dims *d, const v16_geom *g,
                        float *scratch) {
    int MR, NR;
    nt_shape(d->OC, &MR, &NR);
    const int n_ot = (d->OC + MR - 1) / MR, n_rt = (g->CKK + NR - 1) / NR;
    // OHW a multiple of 16: the output gradient is read where it is stored, or produced there
    const int T = n_ot * n_rt, in_place = !produce && g->OHW == g->OHWp;
    const int direct = produce && g->OHW == g->OHWp;
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
            c0 = tile_lo(d->OC, n_ot, t0), c1 = tile_lo(d->OC, n_ot, t1);
            memset(lanes, 0, (size_t)d->OC * 16 * sizeof(float));
        }
        memset(buf, 0, (g->ntbuf + (in_place || direct ? 0 : (size_t)d->OC * bn)) * sizeof(float));  // padding
        for (int b0 = 0; b0 < d->B && t1 > t0; b0 += g->nb) {
            const int nimg = d->B - b0 < g->nb ? d->B - b0 : g->nb;
            const float *A = at;
            size_t am = bn, ai = g->OHWp;
            if (in_place) A = dout + (size_t)b0 * img, am = g->OHW, ai = img;
            else if (direct) am = g->OHW, ai = img;  // produced as the images are stored
            for (int i = 0; i < nimg && !in_place; i++) {
                const float *src = dout + (size_t)(b0 + i) * img;
                if (produce) {
                    float *dst = direct ? at + (size_t)i * img : tmp;
                    produce(dst, b0 + i, c0, c1, ctx);
                    src = dst;
                    for (int oc = c0; oc < c1; oc++)
                        v16_store(lanes + oc * 16, add_plane(v16_load(lanes + oc * 16),
                                                             dst + (size_t)oc * g->OHW, g->OHW));
                }
                if (!direct)
                    for (int oc = c0; oc < c1; oc++)
                        memcpy(at + oc * bn + (size_t)i * g->OHWp, src + (size_t)oc * g->OHW,
                               (size_t)g->OHW * sizeof(float));
            }
            const int runs = produce ? n_rt : 1;
            for (int run = 0; run < runs; run++) {
                int built = -1;
                for (int t = t0; t < t1; t++) {
                    const int rt = produce ? run : t / n_ot, ot = produce ? t : t % n_ot;
                    const int r0 = tile_lo(g->CKK, n_rt, rt), nr = tile_lo(g->CKK, n_rt, rt + 1) - r0;
                    const int m0 = tile_lo(d->OC, n_ot, ot), mr = tile_lo(d->OC, n_ot, ot + 1) - m0;
                    if (rt != built) {
                        im2col_rows(buf, bn, inp, b0, nimg, r0, nr, d, g);
                        built = rt;
                    }
                    nt(mr, nr, nimg, g->OHWp, A + m0 * am, am, ai, buf, bn, g->OHWp,
                       dw + (size_t)m0 * g->CKK + r0, (size_t)g->CKK);
                }
            }
        }
        if (produce)
            for (int oc = c0; oc < c1; oc++) db[oc] += v16_hsum(v16_load(lanes + oc * 16));
    }
}

// db[oc] += hsum of its lanes over the images in order (threads split channels)
void V16_NAME(v16_bias_grad)(float *db, const float *dout, const conv_dims *d, const v16_geom *g) {
    const size_t img_out = (size_t)d->OC * g->OHW;
    #pragma omp parallel for schedule(static) num_threads(g->slots)
    for (int oc = 0; oc < d->OC; oc++) {
        v16 lanes = v16_zero();
        for (int b = 0; b < d->B; b++) lanes = add_plane(lanes, dout + b * img_out + (size_t)oc * g->OHW, g->OHW);
        db[oc] += v16_hsum(lanes);
    }
}
