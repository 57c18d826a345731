/* fdcheck.h - the central finite-difference gradient checker of the layer tests
 * (test_gradcheck.c: the py3 layers; test_gradcheck_net.c: the layers of described networks).
 *
 * Method. For a layer with inputs/parameters X and output out = f(X), take the scalar
 *   L(X) = sum_i out_i * r_i        (r fixed and random: it is the upstream gradient dout)
 * accumulated in double from the float32 forward output. For each element x of each input and
 * parameter the central difference
 *   fd = (L(x + h+) - L(x - h-)) / (h+ + h-)
 * is compared with the analytic gradient that backward produced from dout = r. h+ and h- are the
 * steps actually taken after rounding x +- FD_EPS to float, so rounding of the perturbed input
 * is not an error source. Tensors here are small, so every element is checked; a tensor larger
 * than FD_ALL_MAX is checked on FD_SUBSET random elements.
 *
 * Step and error budget (inputs, weights and r are O(1)). FD_EPS = 1e-2:
 *   - truncation: the error of a central difference is eps^2/6 * L''', zero for the layers
 *     linear in the perturbed element and ~1e-5 for log-softmax; batchnorm over only 4 values
 *     per channel has a large L''' (each derivative brings a factor rstd, and the channel's
 *     variance moves with every element): ~1.4e-3 there, which halving eps divides by 4;
 *   - rounding: a float32 forward output carries a relative error ~1e-7 * sqrt(terms), so
 *     L+ - L- has an absolute error ~1e-7 * sqrt(#outputs touched) ~ 1e-6, i.e. ~5e-5 after the
 *     division by 2 eps.
 * Both are far below the tolerances:
 *   per element   |g - fd| <= FD_ATOL + FD_RTOL * |fd|        (1e-3 + 5e-3 |fd|)
 *   per tensor    ||g - fd||_2 / ||fd||_2 <= FD_NORM_TOL        (2e-3)
 * The norm criterion catches small systematic errors (a gradient off by 1% overall fails it);
 * the per-element one catches a single wrong element. test_gradcheck_catches_planted_errors
 * shows both fire on planted mistakes. Set DANN_FD_VERBOSE=1 to print the worst error of
 * every check. */
#ifndef DANN_FDCHECK_H
#define DANN_FDCHECK_H

#include <stddef.h>
#include <stdint.h>
#include "core/core.h"

#define FD_EPS 1e-2
#define FD_ATOL 1e-3
#define FD_RTOL 5e-3
#define FD_NORM_TOL 2e-3
#define FD_ALL_MAX 1000
#define FD_SUBSET 64
/* Accumulation: (pre + g) computed by the kernel vs by the test, float rounding only. */
#define ACC_TOL 1e-5

/* The scalar loss L of the perturbed inputs (the layer's forward, dotted with r in double). */
typedef double (*fd_loss)(void *ctx);

typedef struct {
    int checked, bad;
    double worst_abs;    /* max |g - fd| */
    double worst_ratio;  /* max |g - fd| / (FD_ATOL + FD_RTOL |fd|): > 1 fails */
    double rel_norm;     /* ||g - fd|| / ||fd|| */
    size_t worst_i;
    double worst_g, worst_fd;
} fd_result;

/* Zeroed floats (aborts when out of memory), a copy, uniform values in [lo, hi), a double dot. */
float *fvec(size_t n);
float *fdup(const float *x, size_t n);
void fill(float *x, size_t n, dann_rng *r, float lo, float hi);
double dot(const float *a, const float *b, size_t n);

/* Compares the analytic gradient g of x (n elements; x is perturbed in place and restored) with
 * central differences of f; a tensor over FD_ALL_MAX elements is checked on FD_SUBSET elements
 * drawn with seed. fd_ok: every element within tolerance and the norm criterion met. */
fd_result fd_eval(float *x, size_t n, const float *g, fd_loss f, void *ctx, uint64_t seed);
int fd_ok(const fd_result *r);

/* fd_eval + a test failure naming `what` and the worst element (prints the figures when
 * DANN_FD_VERBOSE=1). */
#define FD_CHECK(what, x, n, g, f, ctx, seed) fd_check_at(what, x, n, g, f, ctx, seed, __FILE__, __LINE__)
void fd_check_at(const char *what, float *x, size_t n, const float *g, fd_loss f, void *ctx,
                 uint64_t seed, const char *file, int line);

/* After a backward on buffers that held `pre`, `got` must be pre + g. */
void check_accum(const char *what, const float *got, const float *pre, const float *g, size_t n);

#endif
