/* sigmoid.c - the logistic function, torch.nn.Sigmoid: out = 1 / (1 + exp(-inp)).
 * Evaluated as 1/(1+e^-x) for x >= 0 and e^x/(1+e^x) for x < 0: the exponential is only taken
 * of a non-positive number, so it never overflows and no inf is formed on the way (e^x/(1+e^x)
 * for large x would be inf/inf = NaN; 1/(1+e^-x) for very negative x relies on 1/inf = 0).
 * Large |x| give exactly 0 or 1, and the small outputs of negative x keep their relative
 * precision down to the subnormals (torch 1.13 returns 0 there). A NaN input stays NaN.
 * Backward uses the forward OUTPUT, as torch's sigmoid_backward does:
 * dinp += dout * y * (1 - y); out may alias inp (in place). */
#include <math.h>
#include "layers/layers.h"

void sigmoid_forward(float *out, const float *inp, size_t n) {
    #pragma omp parallel for schedule(static)
    for (size_t i = 0; i < n; i++) {
        const float x = inp[i];
        if (x >= 0.0f) {
            out[i] = 1.0f / (1.0f + expf(-x));
        } else {
            const float e = expf(x);  // also the NaN branch: expf(NaN) = NaN
            out[i] = e / (1.0f + e);
        }
    }
}

void sigmoid_backward(float *dinp, const float *dout, const float *out, size_t n) {
    #pragma omp parallel for schedule(static)
    for (size_t i = 0; i < n; i++) dinp[i] += dout[i] * (out[i] * (1.0f - out[i]));
}
