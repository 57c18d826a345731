/* conv2d.c - 2-D convolution, stride 1, no padding, with bias: torch.nn.Conv2d(C, OC, K).
 * (cross-correlation: out[b,oc,i,j] = b[oc] + sum_{c,ki,kj} w[oc,c,ki,kj] * inp[b,c,i+ki,j+kj])
 *
 * Implemented as one batched im2col + one sgemm per call, so the matrix product sees the whole
 * batch (N = B*OH*OW columns) and BLAS can use both cores:
 *   col  (C*K*K, B*OH*OW)   col[(c*K+ki)*K+kj][b*OH*OW + i*OW + j] = inp[b,c,i+ki,j+kj]
 *   outT (OC, B*OH*OW)      = w (OC, C*K*K) @ col
 * Backward recomputes col (cheaper than keeping it per layer), forms doutT, then
 *   dw += doutT @ col^T,  dcol = w^T @ doutT,  dinp += col2im(dcol). */
#include <string.h>
#include "layers/layers.h"

size_t conv2d_scratch_floats(const conv_dims *d) {
    size_t OH = (size_t)(d->H - d->K + 1), OW = (size_t)(d->W - d->K + 1);
    size_t N = (size_t)d->B * OH * OW;
    return (size_t)d->C * d->K * d->K * N + (size_t)d->OC * N;
}

// inp (B,C,H,W) -> col (C*K*K, B*OH*OW)
static void im2col(float *col, const float *inp, const conv_dims *d) {
    const int K = d->K, OH = d->H - K + 1, OW = d->W - K + 1, B = d->B;
    const size_t OHW = (size_t)OH * OW, N = (size_t)B * OHW;
    #pragma omp parallel for schedule(static)
    for (int r = 0; r < d->C * K * K; r++) {
        int c = r / (K * K), ki = (r / K) % K, kj = r % K;
        float *row = col + (size_t)r * N;
        for (int b = 0; b < B; b++) {
            const float *plane = inp + ((size_t)b * d->C + c) * d->H * d->W;
            for (int i = 0; i < OH; i++) {
                const float *src = plane + (size_t)(i + ki) * d->W + kj;
                memcpy(row + (size_t)b * OHW + (size_t)i * OW, src, (size_t)OW * sizeof(float));
            }
        }
    }
}

// dcol (C*K*K, B*OH*OW) -> dinp (B,C,H,W), accumulating. One thread per (b, c) plane: no races.
static void col2im_add(float *dinp, const float *dcol, const conv_dims *d) {
    const int K = d->K, OH = d->H - K + 1, OW = d->W - K + 1, B = d->B, C = d->C;
    const size_t OHW = (size_t)OH * OW, N = (size_t)B * OHW;
    #pragma omp parallel for schedule(static)
    for (int bc = 0; bc < B * C; bc++) {
        int b = bc / C, c = bc % C;
        float *plane = dinp + (size_t)bc * d->H * d->W;
        for (int ki = 0; ki < K; ki++)
            for (int kj = 0; kj < K; kj++) {
                const float *row = dcol + (size_t)((c * K + ki) * K + kj) * N + (size_t)b * OHW;
                for (int i = 0; i < OH; i++) {
                    float *dst = plane + (size_t)(i + ki) * d->W + kj;
                    const float *src = row + (size_t)i * OW;
                    for (int j = 0; j < OW; j++) dst[j] += src[j];
                }
            }
    }
}

void conv2d_forward(float *out, const float *inp, const float *w, const float *b,
                    const conv_dims *d, float *scratch) {
    const int CKK = d->C * d->K * d->K, OHW = (d->H - d->K + 1) * (d->W - d->K + 1);
    const int N = d->B * OHW;
    float *col = scratch, *outT = scratch + (size_t)CKK * N;
    im2col(col, inp, d);
    gemm(0, 0, d->OC, N, CKK, 1.0f, w, CKK, col, N, 0.0f, outT, N);
    // outT (OC, B*OHW) -> out (B, OC, OHW) + bias
    #pragma omp parallel for schedule(static)
    for (int bo = 0; bo < d->B * d->OC; bo++) {
        int bb = bo / d->OC, oc = bo % d->OC;
        const float *src = outT + (size_t)oc * N + (size_t)bb * OHW;
        float *dst = out + (size_t)bo * OHW;
        for (int s = 0; s < OHW; s++) dst[s] = src[s] + b[oc];
    }
}

void conv2d_backward(float *dinp, float *dw, float *db, const float *dout, const float *inp,
                     const float *w, const conv_dims *d, float *scratch) {
    const int CKK = d->C * d->K * d->K, OHW = (d->H - d->K + 1) * (d->W - d->K + 1);
    const int N = d->B * OHW;
    float *col = scratch, *doutT = scratch + (size_t)CKK * N;
    // dout (B, OC, OHW) -> doutT (OC, B*OHW); db[oc] += sum over batch and space
    #pragma omp parallel for schedule(static)
    for (int oc = 0; oc < d->OC; oc++) {
        double sum = 0.0;
        for (int bb = 0; bb < d->B; bb++) {
            const float *src = dout + ((size_t)bb * d->OC + oc) * OHW;
            float *dst = doutT + (size_t)oc * N + (size_t)bb * OHW;
            for (int s = 0; s < OHW; s++) {
                dst[s] = src[s];
                sum += src[s];
            }
        }
        db[oc] += (float)sum;
    }
    im2col(col, inp, d);
    gemm(0, 1, d->OC, CKK, N, 1.0f, doutT, N, col, N, 1.0f, dw, CKK);
    if (dinp) {
        gemm(1, 0, CKK, N, d->OC, 1.0f, w, CKK, doutT, N, 0.0f, col, N);
        col2im_add(dinp, col, d);
    }
}
