/* conv2d.c - 2-D convolution, stride 1, no padding, with bias: torch.nn.Conv2d(C, OC, K).
 * (cross-correlation: out[b,oc,i,j] = b[oc] + sum_{c,ki,kj} w[oc,c,ki,kj] * inp[b,c,i+ki,j+kj])
 * The entry points hand the work to the kernel set in effect (kernels.c): the v16 kernels
 * (v16/conv.c), the hand-written AVX-512 ones (conv2d_avx512.c) or the BLAS path here:
 *
 * im2col + sgemm on chunks of a few images, sized so a chunk's column matrix stays in cache:
 *   col  (C*K*K, n*OH*OW)   col[(c*K+ki)*K+kj][b*OH*OW + i*OW + j] = inp[b,c,i+ki,j+kj]
 *   outT (OC, n*OH*OW)      = w (OC, C*K*K) @ col, then scattered to (n, OC, OH, OW) + bias
 * Backward, per chunk: doutT from dout, dw += doutT @ col^T, dcol = w^T @ doutT, dinp += col2im.
 * Threads take whole chunks (each with its own scratch slot; BLAS runs single-threaded inside),
 * and each thread sums its chunks' weight gradients into its own partial buffer; the partials
 * are added in slot order at the end, so results are reproducible for a given slot count. */
#include <string.h>
#include "layers/conv2d_impl.h"
#include "layers/kernels.h"
#ifdef _OPENMP
#include <omp.h>
#endif

#ifndef CHUNK_BYTES
#define CHUNK_BYTES (1u << 20)   // target size of one chunk's column matrix
#endif

typedef struct { int OH, OW, OHW, CKK, chunk, n_chunks, slots; size_t slot_floats; } conv_plan;

static conv_plan plan(const conv_dims *d) {
    conv_plan p;
    p.OH = d->H - d->K + 1;
    p.OW = d->W - d->K + 1;
    p.OHW = p.OH * p.OW;
    p.CKK = d->C * d->K * d->K;
    size_t per_image = (size_t)p.CKK * p.OHW * sizeof(float);
    p.chunk = (int)(CHUNK_BYTES / per_image);
    if (p.chunk < 1) p.chunk = 1;
    if (p.chunk > d->B) p.chunk = d->B;
    p.n_chunks = (d->B + p.chunk - 1) / p.chunk;
    p.slots = d->slots > 0 ? d->slots : 1;
    size_t N = (size_t)p.chunk * p.OHW;
    // col + outT/doutT + dw partial + db partial
    p.slot_floats = (size_t)p.CKK * N + (size_t)d->OC * N + (size_t)d->OC * p.CKK + d->OC;
    return p;
}

size_t conv2d_scratch_floats(const conv_dims *d) {
    // sized for every implementation, so kernels_use() can switch at any time
    conv_plan p = plan(d);
    size_t most = p.slot_floats * p.slots, simd = conv2d_avx512_scratch_floats(d);
    most = simd > most ? simd : most;
    for (int k = 0; k < KERNELS_N; k++) {
        const kernel_set *s = kernels_v16_set(k);
        const size_t n = s ? s->conv_scratch_floats(d) : 0;
        most = n > most ? n : most;
    }
    return most;
}

/* Images [b0, b0+n) -> col (C*K*K, n*OH*OW), col[(c*K+ki)*K+kj][b*OH*OW + i*OW + j] =
 * inp[b0+b,c,i+ki,j+kj]. The row copy is instantiated for the widths of the py3 network (8 and
 * 24): fixed-length moves. */
#define IM2COL_ROWS(OWC)                                                                    \
    for (int i = 0; i < p->OH; i++)                                                         \
        memcpy(out + i * (OWC), plane + (size_t)(i + ki) * d->W + kj, (OWC) * sizeof(float));
static void im2col(float *col, const float *inp, int b0, int n, const conv_dims *d,
                   const conv_plan *p) {
    const int K = d->K, OW = p->OW;
    const size_t N = (size_t)n * p->OHW;
    for (int r = 0; r < p->CKK; r++) {
        const int c = r / (K * K), ki = (r / K) % K, kj = r % K;
        for (int b = 0; b < n; b++) {
            const float *plane = inp + ((size_t)(b0 + b) * d->C + c) * d->H * d->W;
            float *out = col + (size_t)r * N + (size_t)b * p->OHW;
            if (OW == 8) {
                IM2COL_ROWS(8)
            } else if (OW == 24) {
                IM2COL_ROWS(24)
            } else {
                IM2COL_ROWS(OW)
            }
        }
    }
}

// The adjoint: dcol (C*K*K, n*OH*OW) -> dinp images [b0, b0+n), accumulating.
static void col2im_add(float *dinp, const float *dcol, int b0, int n, const conv_dims *d,
                       const conv_plan *p) {
    const int K = d->K, OW = p->OW;
    const size_t N = (size_t)n * p->OHW;
    for (int r = 0; r < p->CKK; r++) {
        const int c = r / (K * K), ki = (r / K) % K, kj = r % K;
        for (int b = 0; b < n; b++) {
            const float *src = dcol + (size_t)r * N + (size_t)b * p->OHW;
            float *plane = dinp + ((size_t)(b0 + b) * d->C + c) * d->H * d->W;
            for (int i = 0; i < p->OH; i++) {
                float *dst = plane + (size_t)(i + ki) * d->W + kj;
                for (int j = 0; j < OW; j++) dst[j] += src[i * OW + j];
            }
        }
    }
}

// Sum of n floats in 16 independent lanes (vectorisable without reassociation flags).
static float row_sum(const float *x, int n) {
    float acc[16] = {0}, r = 0.0f;
    int s = 0;
    for (; s + 16 <= n; s += 16)
        for (int l = 0; l < 16; l++) acc[l] += x[s + l];
    for (; s < n; s++) r += x[s];
    for (int l = 0; l < 16; l++) r += acc[l];
    return r;
}

static void blas_forward(float *out, const float *inp, const float *w, const float *b,
                             const conv_dims *d, float *scratch) {
    const conv_plan p = plan(d);
    #pragma omp parallel for schedule(static) num_threads(p.slots)
    for (int ch = 0; ch < p.n_chunks; ch++) {
        float *col = scratch + p.slot_floats * thread_id();
        const int b0 = ch * p.chunk, n = d->B - b0 < p.chunk ? d->B - b0 : p.chunk;
        const int N = n * p.OHW;
        float *outT = col + (size_t)p.CKK * N;
        im2col(col, inp, b0, n, d, &p);
        gemm(0, 0, d->OC, N, p.CKK, 1.0f, w, p.CKK, col, N, 0.0f, outT, N);
        for (int bb = 0; bb < n; bb++)
            for (int oc = 0; oc < d->OC; oc++) {
                const float *src = outT + (size_t)oc * N + (size_t)bb * p.OHW;
                float *dst = out + ((size_t)(b0 + bb) * d->OC + oc) * p.OHW;
                for (int s = 0; s < p.OHW; s++) dst[s] = src[s] + b[oc];
            }
    }
}

static void blas_backward(float *dinp, float *dw, float *db, const float *dout,
                              const float *inp, const float *w, const conv_dims *d, float *scratch) {
    const conv_plan p = plan(d);
    const size_t nw = (size_t)d->OC * p.CKK;
    const size_t part = (size_t)p.CKK * p.chunk * p.OHW + (size_t)d->OC * p.chunk * p.OHW;
    for (int s = 0; s < p.slots; s++) memset(scratch + p.slot_floats * s + part, 0, (nw + d->OC) * sizeof(float));
    #pragma omp parallel for schedule(static) num_threads(p.slots)
    for (int ch = 0; ch < p.n_chunks; ch++) {
        float *col = scratch + p.slot_floats * thread_id();
        float *dw_part = col + part, *db_part = dw_part + nw;
        const int b0 = ch * p.chunk, n = d->B - b0 < p.chunk ? d->B - b0 : p.chunk;
        const int N = n * p.OHW;
        float *doutT = col + (size_t)p.CKK * N;
        for (int oc = 0; oc < d->OC; oc++) {
            float *row = doutT + (size_t)oc * N;
            for (int bb = 0; bb < n; bb++)
                memcpy(row + (size_t)bb * p.OHW, dout + ((size_t)(b0 + bb) * d->OC + oc) * p.OHW,
                       (size_t)p.OHW * sizeof(float));
            db_part[oc] += row_sum(row, N);
        }
        im2col(col, inp, b0, n, d, &p);
        gemm(0, 1, d->OC, p.CKK, N, 1.0f, doutT, N, col, N, 1.0f, dw_part, p.CKK);
        if (dinp) {
            gemm(1, 0, p.CKK, N, d->OC, 1.0f, w, p.CKK, doutT, N, 0.0f, col, N);
            col2im_add(dinp, col, b0, n, d, &p);
        }
    }
    for (int s = 0; s < p.slots; s++) {
        const float *dw_part = scratch + p.slot_floats * s + part, *db_part = dw_part + nw;
        for (size_t i = 0; i < nw; i++) dw[i] += dw_part[i];
        for (int oc = 0; oc < d->OC; oc++) db[oc] += db_part[oc];
    }
}

void conv2d_forward(float *out, const float *inp, const float *w, const float *b,
                    const conv_dims *d, float *scratch) {
    const int k = kernels_use(-1);
    const kernel_set *s = kernels_v16_set(k);
    if (s) s->conv_forward(out, inp, w, b, d, scratch);
    else if (k == KERNELS_AVX512) conv2d_avx512_forward(out, inp, w, b, d, scratch);
    else blas_forward(out, inp, w, b, d, scratch);
}

void conv2d_backward(float *dinp, float *dw, float *db, const float *dout, const float *inp,
                     const float *w, const conv_dims *d, float *scratch) {
    const int k = kernels_use(-1);
    const kernel_set *s = kernels_v16_set(k);
    if (s) s->conv_backward(dinp, dw, db, dout, inp, w, d, scratch);
    else if (k == KERNELS_AVX512) conv2d_avx512_backward(dinp, dw, db, dout, inp, w, d, scratch);
    else blas_backward(dinp, dw, db, dout, inp, w, d, scratch);
}

void conv2d_backward_weights_from(float *dw, float *db, conv_dout_fn produce, const void *ctx,
                                  const float *inp, const conv_dims *d, float *scratch,
                                  float *dout_buf) {
    const int k = kernels_use(-1);
    const kernel_set *s = kernels_v16_set(k);
    if (s) {
        s->conv_weights_from(dw, db, produce, ctx, inp, d, scratch);
        return;
    }
    if (k == KERNELS_AVX512) {
        conv2d_avx512_weights_from(dw, db, produce, ctx, inp, d, scratch);
        return;
    }
    const size_t per_image = (size_t)d->OC * (d->H - d->K + 1) * (d->W - d->K + 1);
    #pragma omp parallel for schedule(static) num_threads(d->slots > 0 ? d->slots : 1)
    for (int b = 0; b < d->B; b++) produce(dout_buf + per_image * b, b, 0, d->OC, ctx);
    blas_backward(NULL, dw, db, dout_buf, inp, NULL, d, scratch);
}
