/* convg.c - 2-D convolution with any stride and zero padding, with bias:
 * torch.nn.Conv2d(C, OC, K, stride=S, padding=P) (cross-correlation),
 *   out[b,oc,i,j] = b[oc] + sum_{c,ki,kj} w[oc,c,ki,kj] * x[b,c,i*S+ki-P, j*S+kj-P]
 * with x zero outside the H x W plane; OH = (H + 2P - K)/S + 1, OW likewise (floor).
 *
 * Stride 1 runs on the fast stride-1 kernels conv2d_forward/conv2d_backward: with P = 0 it is a
 * plain call; with P > 0 the input is copied with a zero margin into scratch, the unpadded
 * kernel runs on the (H+2P) x (W+2P) copy, and the input gradient of the copy (also in
 * scratch) is cropped and added into dinp. So stride 1 gets the kernels' speed and exactly
 * their results on the padded input.
 * Stride > 1 (no preset uses it) is a portable im2col + gemm, image after image:
 *   col (C*K*K, OH*OW)   col[(c*K+ki)*K+kj][i*OW+j] = x[b,c,i*S+ki-P, j*S+kj-P] (0 in the margin)
 *   out_b = w (OC, CKK) @ col + bias;   dw += dout_b @ col^T;   dcol = w^T @ dout_b -> col2im,
 * threaded only inside the gemm seam (BLAS), so it is deterministic for a given BLAS. */
#include <string.h>
#include "layers/layers.h"

static int out_size(int n, int K, int S, int P) { return (n + 2 * P - K) / S + 1; }

void convg_out_shape(const convg_dims *d, int *OH, int *OW) {
    *OH = out_size(d->H, d->K, d->stride, d->pad);
    *OW = out_size(d->W, d->K, d->stride, d->pad);
}

static void check_dims(const convg_dims *d) {
    DANN_ASSERT(d->B >= 0 && d->C > 0 && d->OC > 0 && d->K > 0 && d->stride >= 1 && d->pad >= 0);
    DANN_ASSERT(d->K <= d->H + 2 * d->pad && d->K <= d->W + 2 * d->pad);
}

// The stride-1 kernel's dimensions on the padded plane.
static conv_dims padded_dims(const convg_dims *d) {
    return (conv_dims){.B = d->B, .C = d->C, .H = d->H + 2 * d->pad, .W = d->W + 2 * d->pad,
                       .OC = d->OC, .K = d->K, .slots = d->slots};
}


size_t convg_scratch_floats(const convg_dims *d) {
    check_dims(d);
    if (d->stride > 1) {  // one image's col and dcol
        int OH, OW;
        convg_out_shape(d, &OH, &OW);
        return 2 * (size_t)d->C * d->K * d->K * OH * OW;
    }
    conv_dims pd = padded_dims(d);
    if (d->pad == 0) return conv2d_scratch_floats(&pd);
    // padded input and its gradient, then the stride-1 kernel's scratch
    return 2 * (size_t)d->B * d->C * pd.H * pd.W + conv2d_scratch_floats(&pd);
}

// x (B,C,H,W) -> xp (B,C,H+2P,W+2P) with a zero margin.
static void pad_copy(float *xp, const float *x, const convg_dims *d) {
    const int P = d->pad, Hp = d->H + 2 * P, Wp = d->W + 2 * P;
    #pragma omp parallel for schedule(static)
    for (int bc = 0; bc < d->B * d->C; bc++) {
        float *dst = xp + (size_t)bc * Hp * Wp;
        const float *src = x + (size_t)bc * d->H * d->W;
        memset(dst, 0, (size_t)P * Wp * sizeof(float));
        for (int i = 0; i < d->H; i++) {
            float *row = dst + (size_t)(i + P) * Wp;
            memset(row, 0, (size_t)P * sizeof(float));
            memcpy(row + P, src + (size_t)i * d->W, (size_t)d->W * sizeof(float));
            memset(row + P + d->W, 0, (size_t)P * sizeof(float));
        }
        memset(dst + (size_t)(P + d->H) * Wp, 0, (size_t)P * Wp * sizeof(float));
    }
}

// dinp (B,C,H,W) += the interior of dxp (B,C,H+2P,W+2P).
static void crop_add(float *dinp, const float *dxp, const convg_dims *d) {
    const int P = d->pad, Hp = d->H + 2 * P, Wp = d->W + 2 * P;
    #pragma omp parallel for schedule(static)
    for (int bc = 0; bc < d->B * d->C; bc++) {
        const float *src = dxp + (size_t)bc * Hp * Wp + (size_t)P * Wp + P;
        float *dst = dinp + (size_t)bc * d->H * d->W;
        for (int i = 0; i < d->H; i++)
            for (int j = 0; j < d->W; j++) dst[(size_t)i * d->W + j] += src[(size_t)i * Wp + j];
    }
}

/* One image x (C,H,W) -> col (C*K*K, OH*OW), zeros where the window leaves the plane. */
static void im2col_strided(float *col, const float *x, const convg_dims *d, int OH, int OW) {
    const int K = d->K, S = d->stride, P = d->pad;
    for (int c = 0; c < d->C; c++)
        for (int ki = 0; ki < K; ki++)
            for (int kj = 0; kj < K; kj++) {
                float *dst = col + ((size_t)(c * K + ki) * K + kj) * OH * OW;
                const float *plane = x + (size_t)c * d->H * d->W;
                for (int i = 0; i < OH; i++) {
                    const int y = i * S + ki - P;
                    for (int j = 0; j < OW; j++) {
                        const int xx = j * S + kj - P;
                        dst[i * OW + j] = y >= 0 && y < d->H && xx >= 0 && xx < d->W
                                              ? plane[(size_t)y * d->W + xx] : 0.0f;
                    }
                }
            }
}

// The adjoint: dx (C,H,W) += col2im(dcol), skipping the margin.
static void col2im_strided_add(float *dx, const float *dcol, const convg_dims *d, int OH, int OW) {
    const int K = d->K, S = d->stride, P = d->pad;
    for (int c = 0; c < d->C; c++)
        for (int ki = 0; ki < K; ki++)
            for (int kj = 0; kj < K; kj++) {
                const float *src = dcol + ((size_t)(c * K + ki) * K + kj) * OH * OW;
                float *plane = dx + (size_t)c * d->H * d->W;
                for (int i = 0; i < OH; i++) {
                    const int y = i * S + ki - P;
                    if (y < 0 || y >= d->H) continue;
                    for (int j = 0; j < OW; j++) {
                        const int xx = j * S + kj - P;
                        if (xx >= 0 && xx < d->W) plane[(size_t)y * d->W + xx] += src[i * OW + j];
                    }
                }
            }
}

static void strided_forward(float *out, const float *inp, const float *w, const float *b,
                            const convg_dims *d, float *col) {
    int OH, OW;
    convg_out_shape(d, &OH, &OW);
    const int ckk = d->C * d->K * d->K, ohw = OH * OW;
    for (int i = 0; i < d->B; i++) {
        float *y = out + (size_t)i * d->OC * ohw;
        im2col_strided(col, inp + (size_t)i * d->C * d->H * d->W, d, OH, OW);
        gemm(0, 0, d->OC, ohw, ckk, 1.0f, w, ckk, col, ohw, 0.0f, y, ohw);
        for (int oc = 0; oc < d->OC; oc++)
            for (int s = 0; s < ohw; s++) y[(size_t)oc * ohw + s] += b[oc];
    }
}

static void strided_backward(float *dinp, float *dw, float *db, const float *dout,
                             const float *inp, const float *w, const convg_dims *d, float *col) {
    int OH, OW;
    convg_out_shape(d, &OH, &OW);
    const int ckk = d->C * d->K * d->K, ohw = OH * OW;
    float *dcol = col + (size_t)ckk * ohw;
    for (int i = 0; i < d->B; i++) {
        const float *g = dout + (size_t)i * d->OC * ohw;
        im2col_strided(col, inp + (size_t)i * d->C * d->H * d->W, d, OH, OW);
        gemm(0, 1, d->OC, ckk, ohw, 1.0f, g, ohw, col, ohw, 1.0f, dw, ckk);
        for (int oc = 0; oc < d->OC; oc++) {
            double s = 0.0;
            for (int k = 0; k < ohw; k++) s += g[(size_t)oc * ohw + k];
            db[oc] += (float)s;
        }
        if (dinp) {
            gemm(1, 0, ckk, ohw, d->OC, 1.0f, w, ckk, g, ohw, 0.0f, dcol, ohw);
            col2im_strided_add(dinp + (size_t)i * d->C * d->H * d->W, dcol, d, OH, OW);
        }
    }
}

void convg_forward(float *out, const float *inp, const float *w, const float *b,
                   const convg_dims *d, float *scratch) {
    check_dims(d);
    if (d->stride > 1) {
        strided_forward(out, inp, w, b, d, scratch);
        return;
    }
    const conv_dims pd = padded_dims(d);
    if (d->pad == 0) {
        conv2d_forward(out, inp, w, b, &pd, scratch);
        return;
    }
    const size_t n_pad = (size_t)d->B * d->C * pd.H * pd.W;
    pad_copy(scratch, inp, d);
    conv2d_forward(out, scratch, w, b, &pd, scratch + 2 * n_pad);
}

void convg_backward(float *dinp, float *dw, float *db, const float *dout, const float *inp,
                    const float *w, const convg_dims *d, float *scratch) {
    check_dims(d);
    if (d->stride > 1) {
        strided_backward(dinp, dw, db, dout, inp, w, d, scratch);
        return;
    }
    const conv_dims pd = padded_dims(d);
    if (d->pad == 0) {
        conv2d_backward(dinp, dw, db, dout, inp, w, &pd, scratch);
        return;
    }
    const size_t n_pad = (size_t)d->B * d->C * pd.H * pd.W;
    float *xp = scratch, *dxp = dinp ? scratch + n_pad : NULL;
    pad_copy(xp, inp, d);
    if (dxp) memset(dxp, 0, n_pad * sizeof(float));
    conv2d_backward(dxp, dw, db, dout, xp, w, &pd, scratch + 2 * n_pad);
    if (dinp) crop_add(dinp, dxp, d);
}
