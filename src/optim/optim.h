/* optim.h - optimizers as flat loops over the parameter buffer (params, grads and moments share
 * one layout), matching torch.optim step for step. */
#ifndef DANN_OPTIM_H
#define DANN_OPTIM_H

#include <stddef.h>
#include <stdint.h>

/* torch.optim.Adam (amsgrad off) for step t >= 1 (t counts this step):
 *   g += wd*p;  m = b1*m + (1-b1)*g;  v = b2*v + (1-b2)*g*g;
 *   p -= (lr/(1-b1^t)) * m / (sqrt(v)/sqrt(1-b2^t) + eps)      (eps OUTSIDE the root) */
void adam_step(float *p, const float *g, float *m, float *v, size_t n, double lr, double beta1,
               double beta2, double eps, double weight_decay, int64_t t);

/* torch.optim.SGD with momentum (dampening 0, no Nesterov) for step t >= 1:
 *   d = g + wd*p;  buf = (t == 1) ? d : momentum*buf + d;  p -= lr*buf
 * (momentum 0: p -= lr*d, buf unused). Scalars are rounded to float as torch does. */
void sgd_step(float *p, const float *g, float *buf, size_t n, double lr, double momentum,
              double weight_decay, int64_t t);

#endif
