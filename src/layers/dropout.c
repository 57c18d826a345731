/* dropout.c - inverted dropout (torch.nn.Dropout) and channel dropout (torch.nn.Dropout2d).
 * The tensor is n_units units of unit_size contiguous elements (Dropout: unit_size 1; Dropout2d:
 * one unit per (b, c) plane). mask[u] is the unit's factor, 0 or 1/(1-p), so the forward is one
 * multiply like torch's input * (bernoulli(1-p) / (1-p)). Masks are drawn serially from the
 * explicit RNG, which keeps runs reproducible whatever the thread count. */
#include "layers/layers.h"

void dropout_draw(float *mask, size_t n_units, float p, dann_rng *rng) {
    const float keep = 1.0f / (1.0f - p);
    for (size_t u = 0; u < n_units; u++) mask[u] = rng_uniform(rng) >= p ? keep : 0.0f;
}

void dropout_forward(float *out, const float *inp, const float *mask, size_t n_units,
                     size_t unit_size) {
    #pragma omp parallel for schedule(static)
    for (size_t u = 0; u < n_units; u++)
        for (size_t k = 0; k < unit_size; k++)
            out[u * unit_size + k] = inp[u * unit_size + k] * mask[u];
}

void dropout_backward(float *dinp, const float *dout, const float *mask, size_t n_units,
                      size_t unit_size) {
    #pragma omp parallel for schedule(static)
    for (size_t u = 0; u < n_units; u++)
        for (size_t k = 0; k < unit_size; k++)
            dinp[u * unit_size + k] += dout[u * unit_size + k] * mask[u];
}
