/* adam.c - torch.optim.Adam (single-tensor path of PyTorch 1.13), operation for operation.
 * Python-float hyper-parameters enter torch's kernels as float32 scalars: (float)beta1,
 * (float)(1 - beta1), ...; the bias corrections are computed in double and the update is
 *   denom = sqrt(v) / (float)sqrt(bc2) + (float)eps;  p = p + (float)(-lr/bc1) * m / denom
 * evaluated left to right like torch's addcdiv. Built without FMA contraction (-std=c11). */
#include <math.h>
#include "core/detmath.h"
#include "optim/optim.h"

void adam_step(float *p, const float *g, float *m, float *v, size_t n, double lr, double beta1,
               double beta2, double eps, double weight_decay, int64_t t) {
    const double bc1 = 1.0 - det_pow(beta1, (double)t);  // detmath.h: the same bits on every ISA
    const double bc2 = 1.0 - det_pow(beta2, (double)t);
    const float step_size = (float)(-lr / bc1);
    const float bc2_sqrt = (float)sqrt(bc2);
    const float b1 = (float)beta1, b2 = (float)beta2, one_b1 = (float)(1.0 - beta1);
    const float one_b2 = (float)(1.0 - beta2), feps = (float)eps, wd = (float)weight_decay;
    #pragma omp parallel for schedule(static)
    for (size_t i = 0; i < n; i++) {
        float gi = wd != 0.0f ? g[i] + wd * p[i] : g[i];
        m[i] = m[i] * b1 + gi * one_b1;
        v[i] = v[i] * b2 + one_b2 * gi * gi;
        float denom = sqrtf(v[i]) / bc2_sqrt + feps;
        p[i] = p[i] + step_size * m[i] / denom;
    }
}
