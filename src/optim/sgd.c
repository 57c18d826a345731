/* sgd.c - torch.optim.SGD with momentum (dampening 0, no Nesterov) and optional weight decay.
 * On the first step the momentum buffer is the gradient itself, as in torch. */
#include "optim/optim.h"

void sgd_step(float *p, const float *g, float *buf, size_t n, double lr, double momentum,
              double weight_decay, int64_t t) {
    const float mom = (float)momentum, wd = (float)weight_decay, neg_lr = (float)-lr;
    #pragma omp parallel for schedule(static)
    for (size_t i = 0; i < n; i++) {
        float d = wd != 0.0f ? g[i] + wd * p[i] : g[i];
        if (mom != 0.0f) {
            buf[i] = t <= 1 ? d : buf[i] * mom + d;
            d = buf[i];
        }
        p[i] = p[i] + neg_lr * d;
    }
}
