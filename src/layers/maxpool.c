/* maxpool.c - max pooling 2x2 with stride 2 (floor), as torch.nn.MaxPool2d(2).
 * inp (B,C,H,W) -> out (B,C,H/2,W/2); argmax holds the winner's index in the (H,W) plane.
 * Ties keep the first element in row-major order, as in torch's CPU kernel (which updates on
 * `val > max`). Unlike torch, a NaN does not win the window; in this project every pool reads a
 * BatchNorm output, where one NaN poisons its whole channel, so NaN still reaches the loss and the
 * training step's finiteness check. */
#include "layers/layers.h"
#include "layers/pool2.h"

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
                float v;
                int32_t k;
                pool2_window(r0[2 * j], r0[2 * j + 1], r1[2 * j], r1[2 * j + 1], 2 * i * W + 2 * j, W, &v, &k);
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
