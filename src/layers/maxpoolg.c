/* maxpoolg.c - max pooling with any kernel K, stride S and padding P, floor mode:
 * torch.nn.MaxPool2d(K, stride=S, padding=P). inp (B,C,H,W) -> out (B,C,OH,OW) with
 * OH = (H + 2P - K)/S + 1 (floor), OW likewise; argmax holds each winner's index into the
 * unpadded (H,W) plane.
 *
 * Window (i, j) covers rows [i*S - P, i*S - P + K) and columns likewise, clipped to the plane:
 * the margin counts as -inf, so it never wins (torch requires P <= K/2, which leaves at least
 * one plane element in every window). Inside the window the scan is row-major and the winner
 * is updated on `v > max || isnan(v)`, which is torch's CPU kernel (aten cpu_max_pool): ties go
 * to the first element, a NaN wins (the last NaN of the window). The initial winner is the
 * window's first plane element, also as torch, so a window of -inf values reports that one.
 * Windows overlap when S < K: the backward accumulates every window's gradient into its
 * winner, so an element that wins several windows receives the sum. */
#include <math.h>
#include "layers/layers.h"

void maxpoolg_out_shape(const maxpoolg_dims *d, int *OH, int *OW) {
    *OH = (d->H + 2 * d->pad - d->K) / d->stride + 1;
    *OW = (d->W + 2 * d->pad - d->K) / d->stride + 1;
}

static void check_dims(const maxpoolg_dims *d) {
    DANN_ASSERT(d->B >= 0 && d->C > 0 && d->K > 0 && d->stride >= 1 && d->pad >= 0);
    DANN_ASSERT(2 * d->pad <= d->K && d->K <= d->H + 2 * d->pad && d->K <= d->W + 2 * d->pad);
}

void maxpoolg_forward(float *out, int32_t *argmax, const float *inp, const maxpoolg_dims *d) {
    check_dims(d);
    int OH, OW;
    maxpoolg_out_shape(d, &OH, &OW);
    const int H = d->H, W = d->W, K = d->K, S = d->stride, P = d->pad;
    #pragma omp parallel for schedule(static)
    for (int bc = 0; bc < d->B * d->C; bc++) {
        const float *x = inp + (size_t)bc * H * W;
        float *y = out + (size_t)bc * OH * OW;
        int32_t *am = argmax + (size_t)bc * OH * OW;
        for (int i = 0; i < OH; i++) {
            int r0 = i * S - P, r1 = r0 + K;
            if (r0 < 0) r0 = 0;
            if (r1 > H) r1 = H;
            for (int j = 0; j < OW; j++) {
                int c0 = j * S - P, c1 = c0 + K;
                if (c0 < 0) c0 = 0;
                if (c1 > W) c1 = W;
                float best = -INFINITY;
                int32_t k = r0 * W + c0;
                for (int r = r0; r < r1; r++)
                    for (int c = c0; c < c1; c++) {
                        const float v = x[r * W + c];
                        if (v > best || isnan(v)) best = v, k = r * W + c;
                    }
                y[i * OW + j] = best;
                am[i * OW + j] = k;
            }
        }
    }
}

void maxpoolg_backward(float *dinp, const float *dout, const int32_t *argmax,
                       const maxpoolg_dims *d) {
    check_dims(d);
    int OH, OW;
    maxpoolg_out_shape(d, &OH, &OW);
    const size_t ohw = (size_t)OH * OW, hw = (size_t)d->H * d->W;
    #pragma omp parallel for schedule(static)
    for (int bc = 0; bc < d->B * d->C; bc++) {
        float *dx = dinp + (size_t)bc * hw;
        const float *dy = dout + (size_t)bc * ohw;
        const int32_t *am = argmax + (size_t)bc * ohw;
        for (size_t k = 0; k < ohw; k++) dx[am[k]] += dy[k];
    }
}
