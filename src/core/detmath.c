/* detmath.c - deterministic exp / log / pow in double (see detmath.h).
 * exp: x = k ln2 + r with k = round(x / ln2) and r by Cody-Waite (ln2 split in a high part
 *      with trailing zero bits, so k * LN2_HI is exact), |r| <= 0.35; e^r by its Taylor series
 *      to r^13 (truncation below 5e-18) in Horner form; times 2^k by ldexp (exact).
 * log: x = m 2^e with m in [sqrt(1/2), sqrt(2)); ln m = 2 atanh(s), s = (m-1)/(m+1), |s| <=
 *      0.172, by its series to s^25 (truncation below 1e-19); plus e ln2 in two parts. */
#include <math.h>
#include "core/detmath.h"

#define LN2_HI 6.93147180369123816490e-01 /* 0x3fe62e42fee00000 */
#define LN2_LO 1.90821492927058770002e-10
#define INV_LN2 1.44269504088896338700e+00

double det_exp(double x) {
    if (x != x) return x;
    if (x > 709.782712893384) return HUGE_VAL;
    if (x < -745.1332191019412) return 0.0;
    const double k = floor(x * INV_LN2 + 0.5);
    const double r = (x - k * LN2_HI) - k * LN2_LO;
    double p = 1.0 / 6227020800.0;  // 1/13!
    static const double inv_fact[13] = {
        1.0 / 479001600.0, 1.0 / 39916800.0, 1.0 / 3628800.0, 1.0 / 362880.0, 1.0 / 40320.0,
        1.0 / 5040.0, 1.0 / 720.0, 1.0 / 120.0, 1.0 / 24.0, 1.0 / 6.0, 0.5, 1.0, 1.0};
    for (int i = 0; i < 13; i++) p = p * r + inv_fact[i];
    return ldexp(p, (int)k);
}

double det_log(double x) {
    if (x != x || x < 0.0) return NAN;
    if (x == 0.0) return -HUGE_VAL;
    if (x == HUGE_VAL) return x;
    int e;
    double m = frexp(x, &e);  // x = m 2^e, m in [0.5, 1)
    if (m < 0.70710678118654752440) m *= 2.0, e--;
    const double f = m - 1.0, s = f / (2.0 + f), z = s * s;
    double p = 1.0 / 25.0;
    for (int n = 23; n >= 3; n -= 2) p = p * z + 1.0 / n;
    const double log_m = 2.0 * s + 2.0 * s * (z * p);
    return (double)e * LN2_HI + ((double)e * LN2_LO + log_m);
}

double det_pow(double x, double y) {
    if (!(x > 0.0)) return NAN;
    if (x == 1.0) return 1.0;
    return det_exp(y * det_log(x));
}
