/* v16/v16.h - what the v16 kernel files share (internal to src/layers/v16): the register tiles
 * per ISA, the NN micro-kernel, a convolution's geometry and scratch layout, and the functions
 * one file calls in another. Each file is compiled once per ISA (simd.h), so every name that
 * crosses files carries the ISA (V16_NAME). */
#ifndef DANN_V16_H
#define DANN_V16_H

#include <string.h>
#include "layers/conv2d_impl.h"
#include "layers/kernels.h"
#include "layers/simd.h"

/* Register tiles per ISA. They change no bit (every output element is the same chain whatever
 * tile computes it), only how many vector registers the accumulators fill: NN MR rows x NV
 * vectors of 16 positions; NT MR output channels x NR column rows, accumulators of one part of
 * a v16 each (simd.h: the parts run as passes of their own; nt_shape picks the shape).
 * AVX2 has 16 ymm (a v16 takes 2), NEON 32 q (4 per v16), AVX-512 32 zmm (1 per v16). */
#if defined(V16_AVX512)
#define MRMAX 5      // NN: 5 x 4 vectors = 20 zmm (64 positions), as conv2d_avx512.c
#define NVMAX 4
#define NT_MRMAX 5   // NT: 5 x 4 or 4 x 5 = 20 zmm
#define NT_NRMAX 5
#elif defined(V16_AVX2)
#define MRMAX 6      // NN: 6 x 1 vector = 12 ymm
#define NVMAX 1
#define NT_MRMAX 3   // NT: 3 x 4 = 12 ymm (lanes 0-7, then 8-15), 3 holding A, 1 streaming B
#define NT_NRMAX 4
#elif defined(V16_NEON)
#define MRMAX 6      // NN: 6 x 1 vector = 24 q
#define NVMAX 1
#define NT_MRMAX 4   // NT: 4 x 6 = 24 q (4 lanes a pass), 4 holding A, 1 streaming B
#define NT_NRMAX 6
#else
#define MRMAX 6
#define NVMAX 1
#define NT_MRMAX 2
#define NT_NRMAX 3
#endif
#define NT_POS 1024  // positions per NT image block (the block fixes the bits: see weight_grad)
enum { INIT_ZERO, INIT_BIAS, INIT_LOAD };

/* C[m][0..16*(NV-1)+last) = init + sum_k A[m*ams + k*aks] * Bm[k*ldb + ...], m < MR, one fused
 * chain per element in k order; init 0, bias[m] or C's own value. The last vector has `last`
 * lanes (all 16 when FULL); only those are read from Bm and C and written to C. SLOT (with
 * INIT_ZERO, FULL): the positions are 8-wide rows, each stored into a 16-float slot of C (vector
 * v's two rows at C + 32v and C + 32v + 16; see input_grad). */
V16_INLINE void tile(const int MR, const int NV, const int FULL, const int INIT, const int SLOT,
                     int K, const float *A, size_t ams, size_t aks, const float *Bm, size_t ldb,
                     int last, float *C, size_t ldc, const float *bias) {
    v16 acc[MRMAX][NVMAX];
#pragma GCC unroll 6
    for (int m = 0; m < MR; m++)
#pragma GCC unroll 4
        for (int v = 0; v < NV; v++) {
            const int whole = FULL || v < NV - 1;
            float *c = C + m * ldc + 16 * v;
            acc[m][v] = INIT == INIT_ZERO ? v16_zero()
                        : INIT == INIT_BIAS ? v16_set1(bias[m])
                        : whole ? v16_load(c) : v16_loadn(c, last);
        }
    for (int k = 0; k < K; k++) {
        const float *brow = Bm + (size_t)k * ldb;
        v16 b[NVMAX];
#pragma GCC unroll 4
        for (int v = 0; v < NV; v++)
            b[v] = FULL || v < NV - 1 ? v16_load(brow + 16 * v) : v16_loadn(brow + 16 * v, last);
        const float *a = A + (size_t)k * aks;
#pragma GCC unroll 6
        for (int m = 0; m < MR; m++) {
            const v16 am = v16_set1(a[m * ams]);
#pragma GCC unroll 4
            for (int v = 0; v < NV; v++) acc[m][v] = v16_fma(am, b[v], acc[m][v]);
        }
    }
#pragma GCC unroll 6
    for (int m = 0; m < MR; m++)
#pragma GCC unroll 4
        for (int v = 0; v < NV; v++) {
            float *c = C + m * ldc + (SLOT ? 32 : 16) * v;
            if (SLOT) v16_store2x8(c, c + 16, acc[m][v]);  // two 8-wide rows into their slots
            else if (FULL || v < NV - 1) v16_store(c, acc[m][v]);
            else v16_storen(c, acc[m][v], last);
        }
}

#define TILE_CASE(MR, NV)                                                                    \
    case MR * 8 + NV:                                                                        \
        if (last == 16) tile(MR, NV, 1, INIT, SLOT, K, A, ams, aks, Bm, ldb, last, C, ldc, bias); \
        else if (!SLOT) tile(MR, NV, 0, INIT, 0, K, A, ams, aks, Bm, ldb, last, C, ldc, bias); \
        break;
#if NVMAX == 4
#define TILE_ROW(MR) TILE_CASE(MR, 1) TILE_CASE(MR, 2) TILE_CASE(MR, 3) TILE_CASE(MR, 4)
#else
#define TILE_ROW(MR) TILE_CASE(MR, 1)
#endif
#if MRMAX == 6
#define TILE_ROWS TILE_ROW(1) TILE_ROW(2) TILE_ROW(3) TILE_ROW(4) TILE_ROW(5) TILE_ROW(6)
#else
#define TILE_ROWS TILE_ROW(1) TILE_ROW(2) TILE_ROW(3) TILE_ROW(4) TILE_ROW(5)
#endif
/* mr rows (<= MRMAX) x nv vectors (<= NVMAX), the last one `last` lanes wide */
#define TILE_FN(name, init, slot)                                                            \
    static void name(int mr, int nv, int K, const float *A, size_t ams, size_t aks,          \
                     const float *Bm, size_t ldb, int last, float *C, size_t ldc,            \
                     const float *bias) {                                                    \
        enum { INIT = init, SLOT = slot };                                                   \
        switch (mr * 8 + nv) { TILE_ROWS }                                                   \
    }

typedef void (*tile_fn)(int mr, int nv, int K, const float *A, size_t ams, size_t aks,
                        const float *Bm, size_t ldb, int last, float *C, size_t ldc,
                        const float *bias);

/* ---- a convolution's geometry and its scratch (one slot per thread) ---- */

#define SLOT_HMAX 32  // the slotted input gradient: planes at most 16 wide and 32 high
#if defined(V16_AVX512)
#define COL2IM_G 12   // plane rows summed at once by the slotted col2im (independent chains)
#else
#define COL2IM_G 4
#endif

/* slotted: the input gradient's column rows go to 16-float slots (8-wide output rows; see
 * conv.c's input_grad), srow slots per column row. */
typedef struct { int OH, OW, OHW, OHWp, KK, CKK, nb, slots, slotted, srow; size_t ntbuf, slot; } v16_geom;

static inline v16_geom v16_geometry(const conv_dims *d) {
    v16_geom g;
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
    g.slotted = g.OW == 8 && g.OH % 2 == 0 && d->W <= 16 && d->H <= SLOT_HMAX && d->K <= 9;
    g.srow = g.OH + 2 * (d->K - 1) + COL2IM_G;
    const size_t col = (size_t)g.CKK * g.OHW;                          // forward
    const size_t dcol = g.slotted ? (size_t)g.KK * g.srow * 16 + d->W * d->H + 32  // input gradient
                                  : (size_t)g.KK * g.OHW;
    g.ntbuf = (size_t)NT_NRMAX * g.nb * g.OHWp;                        // weight gradient: col rows
    // weight gradient: the block's output gradient, one produced image and the bias lanes
    const size_t produced = (size_t)d->OC * g.nb * g.OHWp + (size_t)d->OC * g.OHW + (size_t)d->OC * 16;
    size_t s = col > dcol ? col : dcol;
    s = s > g.ntbuf + produced ? s : g.ntbuf + produced;
    g.slot = s + 16;
    return g;
}

/* convw.c: dw += the weight gradient of a stored (dout) or produced (produce != NULL) output
 * gradient, and db from a produced one; v16_bias_grad: db from a stored one. */
void V16_NAME(v16_weight_grad)(float *dw, float *db, const float *dout, conv_dout_fn produce,
                               const void *ctx, const float *inp, const conv_dims *d,
                               const v16_geom *g, float *scratch);
void V16_NAME(v16_bias_grad)(float *db, const float *dout, const conv_dims *d, const v16_geom *g);
/* linear.c: the kernel set's Linear layers */
void V16_NAME(v16_linear_forward)(float *out, const float *inp, const float *w, const float *b,
                                  int B, int IN, int OUT);
void V16_NAME(v16_linear_backward)(float *dinp, float *dw, const float *dout, const float *inp,
                                   const float *w, int B, int IN, int OUT);

#endif
