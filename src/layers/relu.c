/* relu.c - ReLU as torch.nn.ReLU; backward masks by the forward OUTPUT (out > 0), as torch's
 * threshold_backward does, so in-place use (out == inp) is fine. NaN passes through, as in
 * torch, so a NaN input reaches the loss and the step's finiteness check. */
#include "layers/layers.h"

void relu_forward(float *out, const float *inp, size_t n) {
    #pragma omp parallel for schedule(static)
    for (size_t i = 0; i < n; i++) out[i] = (inp[i] > 0.0f || inp[i] != inp[i]) ? inp[i] : 0.0f;
}

void relu_backward(float *dinp, const float *dout, const float *out, size_t n) {
    #pragma omp parallel for schedule(static)
    for (size_t i = 0; i < n; i++)
        if (out[i] > 0.0f) dinp[i] += dout[i];
}
