/* pool2.h - the 2x2 max-pool window shared by maxpool.c and the fused BatchNorm kernel:
 * window values a b / c e at plane index k0 (row stride W). Branch-free (random data makes these
 * comparisons unpredictable): the value by select, the winner's index by integer arithmetic.
 * Ties keep the first element in row-major order, as torch's CPU kernel does. */
#ifndef DANN_POOL2_H
#define DANN_POOL2_H

#include <stdint.h>

static inline void pool2_window(float a, float b, float c, float e, int32_t k0, int W, float *v,
                                int32_t *k) {
    const int32_t tab = b > a, tce = e > c;
    const float ab = tab ? b : a, ce = tce ? e : c;
    const int32_t kab = k0 + tab, kce = k0 + W + tce, t = ce > ab;
    *v = t ? ce : ab;
    *k = kab + t * (kce - kab);
}

#endif
