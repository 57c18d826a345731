/* detmath.h - exp, log and pow in double that give the same bits on every machine (detmath.c).
 * The C library's versions may not: glibc picks FMA-contracted variants on x86-64 CPUs that
 * have FMA (ifunc) and computes them differently on other architectures, all within an ulp but
 * not bit for bit. These use only IEEE operations in a fixed order (+, -, *, /, floor, frexp,
 * ldexp; no contraction: the build has -ffp-contract=off), so the training step's losses,
 * schedules and optimizer constants are the same on x86-64, aarch64 and any other IEEE-754
 * machine. Accuracy: within 2 ulps of the exact value over the ranges the library uses
 * (tests/test_detmath.c). */
#ifndef DANN_DETMATH_H
#define DANN_DETMATH_H

/* e^x; +inf above 709.78, 0 below -745.13, NaN for NaN. */
double det_exp(double x);
/* ln x; -inf at 0, NaN below 0 or for NaN, +inf at +inf. */
double det_log(double x);
/* x^y for x > 0 as e^(y ln x) (NaN for x <= 0 or NaN; 1 for x == 1). */
double det_pow(double x, double y);

#endif
