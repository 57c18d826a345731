/* fdcheck.c - the finite-difference gradient checker of fdcheck.h. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "fdcheck.h"
#include "test.h"

/* ---- small helpers ---- */

float *fvec(size_t n) {
    float *p = calloc(n ? n : 1, sizeof *p);
    if (!p) { fprintf(stderr, "test_gradcheck: out of memory\n"); abort(); }
    return p;
}

float *fdup(const float *x, size_t n) {
    float *p = fvec(n);
    memcpy(p, x, n * sizeof *p);
    return p;
}

void fill(float *x, size_t n, dann_rng *r, float lo, float hi) {
    for (size_t i = 0; i < n; i++) x[i] = lo + (hi - lo) * rng_uniform(r);
}

double dot(const float *a, const float *b, size_t n) {
    double s = 0;
    for (size_t i = 0; i < n; i++) s += (double)a[i] * (double)b[i];
    return s;
}

static int verbose(void) {
    const char *v = getenv("DANN_FD_VERBOSE");
    return v && *v && *v != '0';
}

/* Compares the analytic gradient g of x (n elements) with central differences of f. */
fd_result fd_eval(float *x, size_t n, const float *g, fd_loss f, void *ctx, uint64_t seed) {
    fd_result res = {0};
    double num = 0, den = 0;
    size_t count = n <= FD_ALL_MAX ? n : FD_SUBSET;
    int32_t *idx = malloc((n ? n : 1) * sizeof *idx);
    if (!idx) { fprintf(stderr, "test_gradcheck: out of memory\n"); abort(); }
    for (size_t i = 0; i < n; i++) idx[i] = (int32_t)i;
    if (count < n) {
        dann_rng rng;
        rng_seed(&rng, seed);
        rng_shuffle(&rng, idx, (int)n);
    }
    for (size_t k = 0; k < count; k++) {
        size_t i = (size_t)idx[k];
        float x0 = x[i];
        x[i] = (float)(x0 + FD_EPS);
        double hp = (double)x[i] - (double)x0;
        double lp = f(ctx);
        x[i] = (float)(x0 - FD_EPS);
        double hm = (double)x0 - (double)x[i];
        double lm = f(ctx);
        x[i] = x0;
        double fd = (lp - lm) / (hp + hm);
        double d = fabs((double)g[i] - fd);
        double ratio = d / (FD_ATOL + FD_RTOL * fabs(fd));
        if (!(d == d)) ratio = d = INFINITY;
        if (ratio > 1) res.bad++;
        if (d > res.worst_abs) res.worst_abs = d;
        if (ratio > res.worst_ratio || k == 0) {
            res.worst_ratio = ratio;
            res.worst_i = i;
            res.worst_g = g[i];
            res.worst_fd = fd;
        }
        num += d * d;
        den += fd * fd;
    }
    res.checked = (int)count;
    res.rel_norm = den > 0 ? sqrt(num / den) : (num > 0 ? INFINITY : 0);
    free(idx);
    return res;
}

int fd_ok(const fd_result *r) { return r->bad == 0 && r->rel_norm <= FD_NORM_TOL; }

void fd_check_at(const char *what, float *x, size_t n, const float *g, fd_loss f, void *ctx,
                        uint64_t seed, const char *file, int line) {
    fd_result r = fd_eval(x, n, g, f, ctx, seed);
    if (verbose())
        printf("    fd %-28s n=%-4d worst |g-fd| %.3g  worst/tol %.3f  ||g-fd||/||fd|| %.3g\n", what,
               r.checked, r.worst_abs, r.worst_ratio, r.rel_norm);
    if (!fd_ok(&r))
        test_fail(file, line,
                  "%s: %d of %d elements outside |g-fd| <= %g + %g|fd|, ||g-fd||/||fd|| = %.3g "
                  "(limit %g); worst [%zu] g %.7g fd %.7g",
                  what, r.bad, r.checked, FD_ATOL, FD_RTOL, r.rel_norm, FD_NORM_TOL, r.worst_i,
                  r.worst_g, r.worst_fd);
}

/* After a backward on buffers that held `pre`, `got` must be pre + g. */
void check_accum(const char *what, const float *got, const float *pre, const float *g,
                        size_t n) {
    float *want = fvec(n);
    for (size_t i = 0; i < n; i++) want[i] = pre[i] + g[i];
    CHECK_CLOSE(what, got, want, n, ACC_TOL, ACC_TOL);
    free(want);
}
