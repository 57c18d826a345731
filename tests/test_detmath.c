/* test_detmath.c - the deterministic exp / log / pow (src/core/detmath.c) against the C
 * library's (correctly rounded in nearly all cases; within an ulp): every value within 2 ulps
 * (relative 4.4e-16) over the ranges the library uses and far beyond (pow: plus the rounding
 * of its exponent), and the special values.
 * That they give the same bits on another ISA is make test-arm's (kernels_cross_isa_resume:
 * the training step's log-softmax, schedules and Adam constants use them). */
#include <float.h>
#include <math.h>
#include "core/core.h"
#include "core/detmath.h"
#include "test.h"

#define ULPS2 (4.0 * DBL_EPSILON / 2.0)  // 2 ulps, relative

static void sweep(const char *name, double (*mine)(double), double (*libm)(double), double lo,
                  double hi, int n) {
    dann_rng r;
    rng_seed(&r, 42);
    double worst = 0.0, at = lo;
    for (int i = 0; i < n; i++) {
        const double u = (double)rng_next(&r) / 18446744073709551616.0;
        const double x = lo + (hi - lo) * u;
        const double want = libm(x), got = mine(x);
        const double rel = fabs(got - want) / fabs(want);
        if (!(rel <= worst)) worst = rel, at = x;
    }
    CHECK(worst <= ULPS2, "%s on [%g, %g]: worst relative error %.3g at %.17g (want <= 2 ulps)", name,
          lo, hi, worst, at);
}

TEST(detmath_within_two_ulps_of_libm) {
    sweep("exp", det_exp, exp, -80.0, 0.0, 200000);     // log-softmax: exp(x - max)
    sweep("exp", det_exp, exp, -700.0, 700.0, 200000);
    sweep("exp", det_exp, exp, -1e-3, 1e-3, 20000);
    sweep("log", det_log, log, 1.0, 1e4, 200000);        // log of a softmax sum (>= 1)
    sweep("log", det_log, log, 1e-300, 1e300, 200000);
    sweep("log", det_log, log, 0.5, 2.0, 200000);        // near 1, where cancellation looms
    /* pow(beta, t) for Adam's bias corrections, t up to 1e5 steps: e^(t ln beta) carries the
     * rounding of t ln beta, |t ln beta| ulps; allowed 2 ulps more than that. */
    dann_rng r;
    rng_seed(&r, 7);
    const double betas[2] = {0.9, 0.999};
    for (int k = 0; k < 2; k++) {
        double worst = 0.0, at = 0.0;
        for (int i = 0; i < 20000; i++) {
            const double t = floor(1.0 + 1e5 * rng_uniform(&r)), want = pow(betas[k], t);
            if (want < 1e-300) continue;
            const double excess = fabs(det_pow(betas[k], t) - want) / want -
                                  (2.0 + fabs(t * log(betas[k]))) * DBL_EPSILON;
            if (excess > worst) worst = excess, at = t;
        }
        CHECK(worst <= 0.0, "pow(%g, t): error above (2 + |t ln beta|) ulps by %.3g at t = %g",
              betas[k], worst, at);
    }
    CHECK(det_exp(0.0) == 1.0 && det_exp(-1000.0) == 0.0 && det_exp(1000.0) == HUGE_VAL &&
              isnan(det_exp(NAN)),
          "exp special values");
    CHECK(det_log(1.0) == 0.0 && det_log(0.0) == -HUGE_VAL && isnan(det_log(-1.0)) &&
              isnan(det_log(NAN)) && det_log(HUGE_VAL) == HUGE_VAL,
          "log special values");
    CHECK(det_pow(1.0, 123.0) == 1.0 && isnan(det_pow(-2.0, 2.0)) &&
              fabs(det_pow(2.0, 10.0) - 1024.0) <= 1024.0 * ULPS2,
          "pow special values: %.17g", det_pow(2.0, 10.0));
}
