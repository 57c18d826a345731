/* maxpool.c - max pooling 2x2 with stride 2 (floor), as torch.nn.MaxPool2d(2).
 * inp (B,C,H,W) -> out (B,C,H/2,W/2); argmax holds the winner's index in the (H,W) plane.
 * Ties keep the first element in row-major order (torch's CPU kernel updates on val > max). */
#include "layers/layers.h"

void maxpool2_forward(float *out, int32_t *argmax, const float *inp, int B, int C, int H, int W) {
    const int OH = H / 2, OW = W / 2;
    #pragma omp parallel for schedule(static)
    for (int bc = 0; bc < B * C; bc++) {
        const float *x = inp + (size_t)bc * H * W;
        float *y = out + (size_t)bc * OH * OW;
        int32_t *am = argmax + (size_t)bc * OH * OW;
        for (int i = 0; i < OH; i++)
            for (int j = 0; j < OW; j++) {
                int best = (2 * i) * W + 2 * j;
                float v = x[best];
                const int cand[3] = {best + 1, best + W, best + W + 1};
                for (int k = 0; k < 3; k++)
                    if (x[cand[k]] > v || x[cand[k]] != x[cand[k]]) {
                        v = x[cand[k]];
                        best = cand[k];
                    }
                y[i * OW + j] = v;
                am[i * OW + j] = best;
            }
    }
}

void maxpool2_backward(float *dinp, const float *dout, const int32_t *argmax,
                       int B, int C, int H, int W) {
    const int OHW = (H / 2) * (W / 2);
    #pragma omp parallel for schedule(static)
    for (int bc = 0; bc < B * C; bc++) {
        float *dx = dinp + (size_t)bc * H * W;
        const float *dy = dout + (size_t)bc * OHW;
        const int32_t *am = argmax + (size_t)bc * OHW;
        for (int k = 0; k < OHW; k++) dx[am[k]] += dy[k];
    }
}
