/* maxpool.c - max pooling 2x2 with stride 2 (floor), as torch.nn.MaxPool2d(2).
 * inp (B,C,H,W) -> out (B,C,H/2,W/2); argmax holds the winner's index in the (H,W) plane.
 * Ties keep the first element in row-major order and NaN wins, as in torch's CPU kernel
 * (which updates on `val > max || isnan(val)`). */
#include "layers/layers.h"

void maxpool2_forward(float *out, int32_t *argmax, const float *inp, int B, int C, int H, int W) {
    const int OH = H / 2, OW = W / 2;
    #pragma omp parallel for schedule(static)
    for (int bc = 0; bc < B * C; bc++) {
        const float *x = inp + (size_t)bc * H * W;
        float *y = out + (size_t)bc * OH * OW;
        int32_t *am = argmax + (size_t)bc * OH * OW;
        for (int i = 0; i < OH; i++) {
            const float *r0 = x + (size_t)(2 * i) * W, *r1 = r0 + W;
            for (int j = 0; j < OW; j++) {
                float v = r0[2 * j];
                int32_t k = 2 * i * W + 2 * j;
                if (r0[2 * j + 1] > v || r0[2 * j + 1] != r0[2 * j + 1]) v = r0[2 * j + 1], k = 2 * i * W + 2 * j + 1;
                if (r1[2 * j] > v || r1[2 * j] != r1[2 * j]) v = r1[2 * j], k = (2 * i + 1) * W + 2 * j;
                if (r1[2 * j + 1] > v || r1[2 * j + 1] != r1[2 * j + 1]) v = r1[2 * j + 1], k = (2 * i + 1) * W + 2 * j + 1;
                y[i * OW + j] = v;
                am[i * OW + j] = k;
            }
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
