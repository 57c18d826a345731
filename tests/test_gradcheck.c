/* test_gradcheck.c - central finite-difference checks of the py3 layer kernels in layers.h
 * (conv2d, batchnorm, the fused BatchNorm-pool kernel, maxpool 2x2, ReLU, dropout, Linear,
 * log-softmax + NLL, GRL), with the checker of fdcheck.h (method, step and tolerances there).
 * Kinks are avoided: ReLU inputs have |x| >= 0.1 > eps; maxpool inputs are distinct values on a
 * 0.05 grid, so the 4 values of a window differ by more than 2 eps and no perturbation changes a
 * window's winner. Each layer test also checks that backward ACCUMULATES: it is called again on
 * buffers pre-filled with random values, which must grow by exactly the gradient.
 * test_gradcheck_catches_planted_errors shows both criteria fire on planted mistakes. Every test
 * runs the kernels with one thread (the tensors are tiny). */
#include <stdlib.h>
#include <string.h>
#include "fdcheck.h"
#include "layers/layers.h"
#include "test.h"

/* ---- conv2d ---- */

typedef struct {
    conv_dims d;
    float *inp, *w, *b, *out, *r, *scratch;
    size_t n_out;
} conv_ctx;

static double conv_loss(void *p) {
    conv_ctx *c = p;
    conv2d_forward(c->out, c->inp, c->w, c->b, &c->d, c->scratch);
    return dot(c->out, c->r, c->n_out);
}

static void conv_case(conv_dims d, uint64_t seed) {
    dann_rng rng;
    rng_seed(&rng, seed);
    int OH = d.H - d.K + 1, OW = d.W - d.K + 1;
    size_t n_in = (size_t)d.B * d.C * d.H * d.W, n_w = (size_t)d.OC * d.C * d.K * d.K;
    conv_ctx c = {.d = d, .n_out = (size_t)d.B * d.OC * OH * OW};
    c.inp = fvec(n_in); c.w = fvec(n_w); c.b = fvec(d.OC);
    c.out = fvec(c.n_out); c.r = fvec(c.n_out);
    c.scratch = fvec(conv2d_scratch_floats(&d));
    fill(c.inp, n_in, &rng, -1, 1);
    fill(c.w, n_w, &rng, -0.5f, 0.5f);
    fill(c.b, d.OC, &rng, -0.5f, 0.5f);
    fill(c.r, c.n_out, &rng, -1, 1);

    float *dinp = fvec(n_in), *dw = fvec(n_w), *db = fvec(d.OC);
    conv2d_forward(c.out, c.inp, c.w, c.b, &d, c.scratch);
    conv2d_backward(dinp, dw, db, c.r, c.inp, c.w, &d, c.scratch);

    /* dinp == NULL: the parameter gradients are unchanged. */
    float *dw2 = fvec(n_w), *db2 = fvec(d.OC);
    conv2d_backward(NULL, dw2, db2, c.r, c.inp, c.w, &d, c.scratch);
    CHECK_CLOSE("conv2d dw with dinp NULL", dw2, dw, n_w, 1e-6, 1e-6);
    CHECK_CLOSE("conv2d db with dinp NULL", db2, db, d.OC, 1e-6, 1e-6);

    /* Accumulation into pre-filled buffers. */
    float *pi = fvec(n_in), *pw = fvec(n_w), *pb = fvec(d.OC);
    fill(pi, n_in, &rng, -1, 1); fill(pw, n_w, &rng, -1, 1); fill(pb, d.OC, &rng, -1, 1);
    float *ai = fdup(pi, n_in), *aw = fdup(pw, n_w), *ab = fdup(pb, d.OC);
    conv2d_backward(ai, aw, ab, c.r, c.inp, c.w, &d, c.scratch);
    check_accum("conv2d dinp accumulates", ai, pi, dinp, n_in);
    check_accum("conv2d dw accumulates", aw, pw, dw, n_w);
    check_accum("conv2d db accumulates", ab, pb, db, d.OC);

    FD_CHECK("conv2d dinp", c.inp, n_in, dinp, conv_loss, &c, seed + 1);
    FD_CHECK("conv2d dw", c.w, n_w, dw, conv_loss, &c, seed + 2);
    FD_CHECK("conv2d db", c.b, d.OC, db, conv_loss, &c, seed + 3);

    free(c.inp); free(c.w); free(c.b); free(c.out); free(c.r); free(c.scratch);
    free(dinp); free(dw); free(db); free(dw2); free(db2);
    free(pi); free(pw); free(pb); free(ai); free(aw); free(ab);
}

TEST(gradcheck_conv2d) {
    dann_set_threads(1);
    /* Rectangular planes and C, OC > 1 so that a transposed index shows up. */
    conv_case((conv_dims){.B = 2, .C = 3, .H = 6, .W = 7, .OC = 4, .K = 3}, 11);
    conv_case((conv_dims){.B = 1, .C = 2, .H = 8, .W = 9, .OC = 3, .K = 5}, 12);
}

/* ---- batchnorm, training mode ---- */

typedef struct {
    int B, C, S;
    float *inp, *gamma, *beta, *out, *r, *mean, *rstd, *run_mean, *run_var;
} bn_ctx;

static double bn_loss(void *p) {
    bn_ctx *c = p;
    size_t n = (size_t)c->B * c->C * c->S;
    batchnorm_forward(c->out, c->mean, c->rstd, c->run_mean, c->run_var, c->inp, c->gamma,
                      c->beta, c->B, c->C, c->S, 1, 0.1f, 1e-5f);
    return dot(c->out, c->r, n);
}

static void bn_case(int B, int C, int S, uint64_t seed, const char *tag) {
    dann_rng rng;
    rng_seed(&rng, seed);
    size_t n = (size_t)B * C * S;
    bn_ctx c = {.B = B, .C = C, .S = S};
    c.inp = fvec(n); c.out = fvec(n); c.r = fvec(n);
    c.gamma = fvec(C); c.beta = fvec(C); c.mean = fvec(C); c.rstd = fvec(C);
    c.run_mean = fvec(C); c.run_var = fvec(C);
    /* Per-channel offset and spread, so the mean and variance terms matter. */
    for (int ch = 0; ch < C; ch++) {
        float off = -1 + 2 * rng_uniform(&rng), spread = 0.5f + rng_uniform(&rng);
        for (int b = 0; b < B; b++)
            for (int s = 0; s < S; s++)
                c.inp[((size_t)b * C + ch) * S + s] = off + spread * (2 * rng_uniform(&rng) - 1);
        c.run_var[ch] = 1;
    }
    fill(c.gamma, C, &rng, 0.5f, 1.5f);
    fill(c.beta, C, &rng, -0.5f, 0.5f);
    fill(c.r, n, &rng, -1, 1);

    float *dinp = fvec(n), *dg = fvec(C), *dbeta = fvec(C);
    bn_loss(&c);
    batchnorm_backward(dinp, dg, dbeta, c.r, c.inp, c.mean, c.rstd, c.gamma, B, C, S);

    float *pi = fvec(n), *pg = fvec(C), *pb = fvec(C);
    fill(pi, n, &rng, -1, 1); fill(pg, C, &rng, -1, 1); fill(pb, C, &rng, -1, 1);
    float *ai = fdup(pi, n), *ag = fdup(pg, C), *ab = fdup(pb, C);
    batchnorm_backward(ai, ag, ab, c.r, c.inp, c.mean, c.rstd, c.gamma, B, C, S);
    char what[64];
    snprintf(what, sizeof what, "%s dinp accumulates", tag);
    check_accum(what, ai, pi, dinp, n);
    snprintf(what, sizeof what, "%s dgamma accumulates", tag);
    check_accum(what, ag, pg, dg, C);
    snprintf(what, sizeof what, "%s dbeta accumulates", tag);
    check_accum(what, ab, pb, dbeta, C);

    snprintf(what, sizeof what, "%s dinp", tag);
    FD_CHECK(what, c.inp, n, dinp, bn_loss, &c, seed + 1);
    snprintf(what, sizeof what, "%s dgamma", tag);
    FD_CHECK(what, c.gamma, C, dg, bn_loss, &c, seed + 2);
    snprintf(what, sizeof what, "%s dbeta", tag);
    FD_CHECK(what, c.beta, C, dbeta, bn_loss, &c, seed + 3);

    free(c.inp); free(c.out); free(c.r); free(c.gamma); free(c.beta); free(c.mean); free(c.rstd);
    free(c.run_mean); free(c.run_var); free(dinp); free(dg); free(dbeta);
    free(pi); free(pg); free(pb); free(ai); free(ag); free(ab);
}

TEST(gradcheck_batchnorm) {
    dann_set_threads(1);
    /* Small batches: with n = B*S values per channel the mean and variance terms of the input
     * gradient are O(1/n) of each element's gradient, so a large n would hide a mistake there. */
    bn_case(2, 3, 6, 21, "batchnorm2d(S=6)");
    bn_case(4, 5, 1, 22, "batchnorm1d(S=1)");
}

/* ---- fused BatchNorm-apply -> channel dropout -> maxpool 2x2 -> ReLU (training mode) ---- */

typedef struct {
    int B, C, H, W;
    float *inp, *gamma, *beta, *mask, *out, *xsel, *r, *mean, *rstd, *run_mean, *run_var;
    int32_t *argmax;
} fused_ctx;

/* The batch statistics are part of the function of inp: recomputed on every evaluation. */
static double fused_loss(void *p) {
    fused_ctx *c = p;
    batchnorm_stats(c->mean, c->rstd, c->run_mean, c->run_var, c->inp, c->B, c->C, c->H * c->W, 1,
                    0.1f, 1e-5f);
    bn_mask_maxpool2_forward(c->out, c->argmax, c->xsel, c->inp, c->mean, c->rstd, c->gamma,
                             c->beta, c->mask, c->B, c->C, c->H, c->W);
    return dot(c->out, c->r, (size_t)c->B * c->C * (c->H / 2) * (c->W / 2));
}

static void fused_case(int with_mask, uint64_t seed, const char *tag) {
    dann_rng rng;
    rng_seed(&rng, seed);
    fused_ctx c = {.B = 2, .C = 3, .H = 4, .W = 7};
    const int C = c.C, S = c.H * c.W;
    size_t n = (size_t)c.B * C * S, n_out = (size_t)c.B * C * (c.H / 2) * (c.W / 2);
    c.inp = fvec(n); c.out = fvec(n_out); c.xsel = fvec(n_out); c.r = fvec(n_out);
    c.gamma = fvec(C); c.beta = fvec(C); c.mean = fvec(C); c.rstd = fvec(C);
    c.run_mean = fvec(C); c.run_var = fvec(C);
    c.argmax = calloc(n_out, sizeof *c.argmax);
    if (!c.argmax) abort();
    /* Per channel, distinct values on a 0.05 grid in random order (plus a channel offset): after
     * normalisation (rstd ~1.5 for these 2*4*7 values, gamma <= 1.5) neighbours differ by ~0.1,
     * while a perturbation moves an element by at most ~eps * 2.3 = 0.023: no window changes
     * its winner. */
    int32_t *perm = malloc((size_t)c.B * S * sizeof *perm);
    if (!perm) abort();
    for (int ch = 0; ch < C; ch++) {
        for (int i = 0; i < c.B * S; i++) perm[i] = i;
        rng_shuffle(&rng, perm, c.B * S);
        float off = rng_uniform(&rng) - 0.5f;
        for (int b = 0; b < c.B; b++)
            for (int s = 0; s < S; s++)
                c.inp[((size_t)b * C + ch) * S + s] =
                    off + 0.05f * (float)(perm[b * S + s] - c.B * S / 2);
        c.run_var[ch] = 1;
    }
    fill(c.gamma, C, &rng, 0.5f, 1.5f);
    fill(c.beta, C, &rng, -0.5f, 0.5f);
    /* The ReLU after the pool has a kink at 0 that finite differences cannot straddle: shift
     * channels clear of it, alternately all above (|xhat|*gamma < 2.6 here) and all below. */
    for (int ch = 0; ch < C; ch++) c.beta[ch] += ch % 2 ? -3.0f : 3.0f;
    fill(c.r, n_out, &rng, -1, 1);
    if (with_mask) {
        c.mask = fvec((size_t)c.B * C);
        for (int u = 0; u < c.B * C; u++) c.mask[u] = u % 3 == 1 ? 0.0f : 2.0f;
    }

    float *dinp = fvec(n), *dg = fvec(C), *dbeta = fvec(C), *coef = fvec(2 * (size_t)C);
    fused_loss(&c);
    bn_mask_maxpool2_backward(dinp, dg, dbeta, c.r, c.out, c.argmax, c.xsel, c.inp, c.mean, c.rstd,
                              c.gamma, c.mask, coef, c.B, C, c.H, c.W);

    /* The fused kernel promises the float operations of the separate kernels: the forward
     * bit for bit, the backward up to summation order. */
    {
        float *bn = fvec(n), *dr = fvec(n), *po = fvec(n_out), *mean2 = fvec(C), *rstd2 = fvec(C);
        float *rm = fvec(C), *rv = fvec(C), *g_po = fvec(n), *g_dr = fvec(n), *g_in = fvec(n);
        float *g_g = fvec(C), *g_b = fvec(C);
        int32_t *am = calloc(n_out, sizeof *am);
        if (!am) abort();
        for (int ch = 0; ch < C; ch++) rv[ch] = 1;
        batchnorm_forward(bn, mean2, rstd2, rm, rv, c.inp, c.gamma, c.beta, c.B, C, S, 1, 0.1f,
                          1e-5f);
        if (c.mask) dropout_forward(dr, bn, c.mask, (size_t)c.B * C, (size_t)S);
        maxpool2_forward(po, am, c.mask ? dr : bn, c.B, C, c.H, c.W);
        relu_forward(po, po, n_out);
        CHECK(memcmp(po, c.out, n_out * sizeof *po) == 0 &&
                  memcmp(am, c.argmax, n_out * sizeof *am) == 0,
              "%s: fused forward differs from batchnorm + dropout + maxpool + relu", tag);
        float *g_re = fvec(n_out);
        relu_backward(g_re, c.r, po, n_out);
        maxpool2_backward(g_po, g_re, am, c.B, C, c.H, c.W);
        free(g_re);
        if (c.mask) dropout_backward(g_dr, g_po, c.mask, (size_t)c.B * C, (size_t)S);
        batchnorm_backward(g_in, g_g, g_b, c.mask ? g_dr : g_po, c.inp, mean2, rstd2, c.gamma,
                           c.B, C, S);
        CHECK_CLOSE("fused dinp vs separate kernels", dinp, g_in, n, 1e-6, 1e-5);
        CHECK_CLOSE("fused dgamma vs separate kernels", dg, g_g, C, 1e-6, 1e-5);
        CHECK_CLOSE("fused dbeta vs separate kernels", dbeta, g_b, C, 1e-6, 1e-5);
        free(bn); free(dr); free(po); free(mean2); free(rstd2); free(rm); free(rv);
        free(g_po); free(g_dr); free(g_in); free(g_g); free(g_b); free(am);
    }

    float *pi = fvec(n), *pg = fvec(C), *pb = fvec(C);
    fill(pi, n, &rng, -1, 1); fill(pg, C, &rng, -1, 1); fill(pb, C, &rng, -1, 1);
    float *ai = fdup(pi, n), *ag = fdup(pg, C), *ab = fdup(pb, C);
    bn_mask_maxpool2_backward(ai, ag, ab, c.r, c.out, c.argmax, c.xsel, c.inp, c.mean, c.rstd,
                              c.gamma, c.mask, coef, c.B, C, c.H, c.W);
    char what[64];
    snprintf(what, sizeof what, "%s dinp overwrites", tag);
    CHECK(memcmp(ai, dinp, n * sizeof *ai) == 0, "%s: not the same as into a fresh buffer", what);
    snprintf(what, sizeof what, "%s dgamma accumulates", tag);
    check_accum(what, ag, pg, dg, C);
    snprintf(what, sizeof what, "%s dbeta accumulates", tag);
    check_accum(what, ab, pb, dbeta, C);

    snprintf(what, sizeof what, "%s dinp", tag);
    FD_CHECK(what, c.inp, n, dinp, fused_loss, &c, seed + 1);
    snprintf(what, sizeof what, "%s dgamma", tag);
    FD_CHECK(what, c.gamma, C, dg, fused_loss, &c, seed + 2);
    snprintf(what, sizeof what, "%s dbeta", tag);
    FD_CHECK(what, c.beta, C, dbeta, fused_loss, &c, seed + 3);

    free(c.inp); free(c.out); free(c.xsel); free(c.r); free(c.gamma); free(c.beta); free(c.mean); free(c.rstd);
    free(c.run_mean); free(c.run_var); free(c.argmax); free(c.mask); free(perm);
    free(dinp); free(dg); free(dbeta); free(coef); free(pi); free(pg); free(pb); free(ai); free(ag); free(ab);
}

TEST(gradcheck_bn_mask_maxpool2) {
    dann_set_threads(1);
    fused_case(0, 26, "bn_maxpool2");
    fused_case(1, 27, "bn_mask_maxpool2");
}

/* ---- maxpool 2x2 ---- */

typedef struct {
    int B, C, H, W;
    float *inp, *out, *r;
    int32_t *argmax;
} pool_ctx;

static double pool_loss(void *p) {
    pool_ctx *c = p;
    maxpool2_forward(c->out, c->argmax, c->inp, c->B, c->C, c->H, c->W);
    return dot(c->out, c->r, (size_t)c->B * c->C * (c->H / 2) * (c->W / 2));
}

TEST(gradcheck_maxpool2) {
    dann_set_threads(1);
    dann_rng rng;
    rng_seed(&rng, 31);
    /* Odd H and W: the last row and column belong to no window (floor), gradient 0. */
    pool_ctx c = {.B = 2, .C = 2, .H = 5, .W = 7};
    size_t n = (size_t)c.B * c.C * c.H * c.W, n_out = (size_t)c.B * c.C * (c.H / 2) * (c.W / 2);
    c.inp = fvec(n); c.out = fvec(n_out); c.r = fvec(n_out);
    c.argmax = calloc(n_out, sizeof *c.argmax);
    if (!c.argmax) abort();
    /* Distinct values on a 0.05 grid (> 2 eps apart) in random order. */
    int32_t *perm = malloc(n * sizeof *perm);
    if (!perm) abort();
    for (size_t i = 0; i < n; i++) perm[i] = (int32_t)i;
    rng_shuffle(&rng, perm, (int)n);
    for (size_t i = 0; i < n; i++) c.inp[i] = 0.05f * (float)(perm[i] - (int)n / 2);
    fill(c.r, n_out, &rng, -1, 1);

    float *dinp = fvec(n);
    pool_loss(&c);
    maxpool2_backward(dinp, c.r, c.argmax, c.B, c.C, c.H, c.W);

    float *pi = fvec(n);
    fill(pi, n, &rng, -1, 1);
    float *ai = fdup(pi, n);
    maxpool2_backward(ai, c.r, c.argmax, c.B, c.C, c.H, c.W);
    check_accum("maxpool2 dinp accumulates", ai, pi, dinp, n);

    FD_CHECK("maxpool2 dinp", c.inp, n, dinp, pool_loss, &c, 32);
    free(c.inp); free(c.out); free(c.r); free(c.argmax); free(perm);
    free(dinp); free(pi); free(ai);
}

/* ---- relu ---- */

typedef struct { size_t n; float *inp, *out, *r; } ew_ctx;

static double relu_loss(void *p) {
    ew_ctx *c = p;
    relu_forward(c->out, c->inp, c->n);
    return dot(c->out, c->r, c->n);
}

TEST(gradcheck_relu) {
    dann_set_threads(1);
    dann_rng rng;
    rng_seed(&rng, 41);
    ew_ctx c = {.n = 200};
    c.inp = fvec(c.n); c.out = fvec(c.n); c.r = fvec(c.n);
    /* |x| >= 0.1 > eps: no perturbation crosses the kink. */
    for (size_t i = 0; i < c.n; i++) {
        float mag = 0.1f + rng_uniform(&rng);
        c.inp[i] = rng_uniform(&rng) < 0.5f ? -mag : mag;
    }
    fill(c.r, c.n, &rng, -1, 1);
    float *dinp = fvec(c.n);
    relu_loss(&c);
    relu_backward(dinp, c.r, c.out, c.n);

    float *pi = fvec(c.n);
    fill(pi, c.n, &rng, -1, 1);
    float *ai = fdup(pi, c.n);
    relu_backward(ai, c.r, c.out, c.n);
    check_accum("relu dinp accumulates", ai, pi, dinp, c.n);

    FD_CHECK("relu dinp", c.inp, c.n, dinp, relu_loss, &c, 42);
    free(c.inp); free(c.out); free(c.r); free(dinp); free(pi); free(ai);
}

/* ---- dropout / dropout2d with a fixed mask ---- */

typedef struct { size_t n_units, unit; float *inp, *out, *r, *mask; } drop_ctx;

static double drop_loss(void *p) {
    drop_ctx *c = p;
    dropout_forward(c->out, c->inp, c->mask, c->n_units, c->unit);
    return dot(c->out, c->r, c->n_units * c->unit);
}

static void drop_case(size_t n_units, size_t unit, uint64_t seed, const char *tag) {
    dann_rng rng;
    rng_seed(&rng, seed);
    size_t n = n_units * unit;
    drop_ctx c = {.n_units = n_units, .unit = unit};
    c.inp = fvec(n); c.out = fvec(n); c.r = fvec(n); c.mask = fvec(n_units);
    /* p = 0.5: factors 0 and 2, a fixed pattern with both present. */
    for (size_t u = 0; u < n_units; u++) c.mask[u] = (u * 5 + 1) % 3 == 0 ? 0.0f : 2.0f;
    fill(c.inp, n, &rng, -1, 1);
    fill(c.r, n, &rng, -1, 1);
    float *dinp = fvec(n);
    drop_loss(&c);
    dropout_backward(dinp, c.r, c.mask, n_units, unit);

    float *pi = fvec(n);
    fill(pi, n, &rng, -1, 1);
    float *ai = fdup(pi, n);
    dropout_backward(ai, c.r, c.mask, n_units, unit);
    char what[64];
    snprintf(what, sizeof what, "%s dinp accumulates", tag);
    check_accum(what, ai, pi, dinp, n);
    snprintf(what, sizeof what, "%s dinp", tag);
    FD_CHECK(what, c.inp, n, dinp, drop_loss, &c, seed + 1);
    free(c.inp); free(c.out); free(c.r); free(c.mask); free(dinp); free(pi); free(ai);
}

TEST(gradcheck_dropout) {
    dann_set_threads(1);
    drop_case(60, 1, 51, "dropout");
    drop_case(2 * 3, 3 * 4, 52, "dropout2d");  /* B 2, C 3, H*W 12: one unit per plane */
}

/* ---- linear ---- */

typedef struct { int B, IN, OUT; float *inp, *w, *b, *out, *r; } lin_ctx;

static double lin_loss(void *p) {
    lin_ctx *c = p;
    linear_forward(c->out, c->inp, c->w, c->b, c->B, c->IN, c->OUT);
    return dot(c->out, c->r, (size_t)c->B * c->OUT);
}

/* Fills a linear case and its analytic gradients (dinp, dw, db from dout = r). */
static void lin_setup(lin_ctx *c, float **dinp, float **dw, float **db, dann_rng *rng) {
    size_t n_in = (size_t)c->B * c->IN, n_w = (size_t)c->OUT * c->IN, n_out = (size_t)c->B * c->OUT;
    c->inp = fvec(n_in); c->w = fvec(n_w); c->b = fvec(c->OUT);
    c->out = fvec(n_out); c->r = fvec(n_out);
    fill(c->inp, n_in, rng, -1, 1);
    fill(c->w, n_w, rng, -0.5f, 0.5f);
    fill(c->b, c->OUT, rng, -0.5f, 0.5f);
    fill(c->r, n_out, rng, -1, 1);
    *dinp = fvec(n_in); *dw = fvec(n_w); *db = fvec(c->OUT);
    lin_loss(c);
    linear_backward(*dinp, *dw, *db, c->r, c->inp, c->w, c->B, c->IN, c->OUT);
}

static void lin_free(lin_ctx *c) { free(c->inp); free(c->w); free(c->b); free(c->out); free(c->r); }

TEST(gradcheck_linear) {
    dann_set_threads(1);
    dann_rng rng;
    rng_seed(&rng, 61);
    lin_ctx c = {.B = 3, .IN = 7, .OUT = 5};
    float *dinp, *dw, *db;
    lin_setup(&c, &dinp, &dw, &db, &rng);
    size_t n_in = (size_t)c.B * c.IN, n_w = (size_t)c.OUT * c.IN;

    float *dw2 = fvec(n_w), *db2 = fvec(c.OUT);
    linear_backward(NULL, dw2, db2, c.r, c.inp, c.w, c.B, c.IN, c.OUT);
    CHECK_CLOSE("linear dw with dinp NULL", dw2, dw, n_w, 1e-6, 1e-6);
    CHECK_CLOSE("linear db with dinp NULL", db2, db, c.OUT, 1e-6, 1e-6);

    float *pi = fvec(n_in), *pw = fvec(n_w), *pb = fvec(c.OUT);
    fill(pi, n_in, &rng, -1, 1); fill(pw, n_w, &rng, -1, 1); fill(pb, c.OUT, &rng, -1, 1);
    float *ai = fdup(pi, n_in), *aw = fdup(pw, n_w), *ab = fdup(pb, c.OUT);
    linear_backward(ai, aw, ab, c.r, c.inp, c.w, c.B, c.IN, c.OUT);
    check_accum("linear dinp accumulates", ai, pi, dinp, n_in);
    check_accum("linear dw accumulates", aw, pw, dw, n_w);
    check_accum("linear db accumulates", ab, pb, db, c.OUT);

    FD_CHECK("linear dinp", c.inp, n_in, dinp, lin_loss, &c, 62);
    FD_CHECK("linear dw", c.w, n_w, dw, lin_loss, &c, 63);
    FD_CHECK("linear db", c.b, c.OUT, db, lin_loss, &c, 64);
    lin_free(&c);
    free(dinp); free(dw); free(db); free(dw2); free(db2);
    free(pi); free(pw); free(pb); free(ai); free(aw); free(ab);
}

/* ---- log-softmax + NLL ---- */

typedef struct { int B, C; float scale; float *inp, *logp; const int32_t *y; } nll_ctx;

/* scale * mean_b(-logp[b, y_b]), summed in double from the float log-probabilities. */
static double nll_fd_loss(void *p) {
    nll_ctx *c = p;
    logsoftmax_forward(c->logp, c->inp, c->B, c->C);
    double s = 0;
    for (int b = 0; b < c->B; b++) s -= c->logp[(size_t)b * c->C + c->y[b]];
    return c->scale * s / c->B;
}

TEST(gradcheck_logsoftmax_nll) {
    dann_set_threads(1);
    dann_rng rng;
    rng_seed(&rng, 71);
    static const int32_t y[4] = {2, 0, 5, 2};
    const float scales[2] = {1.0f, 0.7f};
    for (int si = 0; si < 2; si++) {
        nll_ctx c = {.B = 4, .C = 6, .scale = scales[si], .y = y};
        size_t n = (size_t)c.B * c.C;
        c.inp = fvec(n); c.logp = fvec(n);
        fill(c.inp, n, &rng, -2, 2);
        double l = nll_fd_loss(&c);
        float l_kernel = nll_loss(c.logp, y, c.B, c.C);
        CHECK(fabs(c.scale * (double)l_kernel - l) <= 1e-6 * (1 + fabs(l)),
              "nll_loss %.9g vs the test's sum %.9g", c.scale * (double)l_kernel, l);
        float *dinp = fvec(n);
        logsoftmax_nll_backward(dinp, c.logp, y, c.B, c.C, c.scale);

        float *pi = fvec(n);
        fill(pi, n, &rng, -1, 1);
        float *ai = fdup(pi, n);
        logsoftmax_nll_backward(ai, c.logp, y, c.B, c.C, c.scale);
        check_accum("logsoftmax_nll dinp accumulates", ai, pi, dinp, n);

        FD_CHECK(si == 0 ? "logsoftmax_nll dinp (scale 1)" : "logsoftmax_nll dinp (scale 0.7)",
                 c.inp, n, dinp, nll_fd_loss, &c, 72 + si);
        free(c.inp); free(c.logp); free(dinp); free(pi); free(ai);
    }
}

/* ---- gradient reversal ---- */

static double grl_identity_loss(void *p) {
    ew_ctx *c = p;
    return dot(c->inp, c->r, c->n);  /* the GRL's forward is the identity */
}

TEST(gradcheck_grl) {
    dann_set_threads(1);
    dann_rng rng;
    rng_seed(&rng, 81);
    ew_ctx c = {.n = 50};
    c.inp = fvec(c.n); c.r = fvec(c.n);
    fill(c.inp, c.n, &rng, -1, 1);
    fill(c.r, c.n, &rng, -1, 1);
    /* The GRL's backward is -lambda times the true gradient of its (identity) forward: scale
     * the analytic result by -1/lambda and it must match the finite differences. */
    const float lambdas[3] = {0.7f, 1.0f, -1.0f};
    for (int li = 0; li < 3; li++) {
        float lam = lambdas[li];
        float *dinp = fvec(c.n), *unrev = fvec(c.n);
        grl_backward(dinp, c.r, c.n, lam);
        for (size_t i = 0; i < c.n; i++) unrev[i] = dinp[i] / -lam;
        FD_CHECK(li == 0 ? "grl dinp / -0.7" : li == 1 ? "grl dinp / -1" : "grl dinp / +1", c.inp,
                 c.n, unrev, grl_identity_loss, &c, 82);
        float *pi = fvec(c.n);
        fill(pi, c.n, &rng, -1, 1);
        float *ai = fdup(pi, c.n);
        grl_backward(ai, c.r, c.n, lam);
        check_accum("grl dinp accumulates", ai, pi, dinp, c.n);
        free(dinp); free(unrev); free(pi); free(ai);
    }
    float *z = fvec(c.n);
    grl_backward(z, c.r, c.n, 0.0f);
    int nonzero = 0;
    for (size_t i = 0; i < c.n; i++) nonzero += z[i] != 0.0f;
    CHECK(nonzero == 0, "grl with lambda 0 propagated %d nonzero values", nonzero);
    free(z); free(c.inp); free(c.r);
}

/* ---- the checker itself must catch planted mistakes ---- */

TEST(gradcheck_catches_planted_errors) {
    dann_set_threads(1);
    dann_rng rng;
    rng_seed(&rng, 91);
    lin_ctx c = {.B = 3, .IN = 7, .OUT = 5};
    float *dinp, *dw, *db;
    lin_setup(&c, &dinp, &dw, &db, &rng);
    size_t n_in = (size_t)c.B * c.IN, n_w = (size_t)c.OUT * c.IN;

    fd_result r = fd_eval(c.w, n_w, dw, lin_loss, &c, 1);
    CHECK(fd_ok(&r), "the correct linear dw must pass (rel %.3g, %d bad)", r.rel_norm, r.bad);

    /* 1: the whole gradient 1% too large (a wrong scale factor, e.g. 1/B vs 1/(B-1)). */
    float *bad = fdup(dw, n_w);
    for (size_t i = 0; i < n_w; i++) bad[i] *= 1.01f;
    r = fd_eval(c.w, n_w, bad, lin_loss, &c, 1);
    CHECK(!fd_ok(&r), "dw * 1.01 was not caught (rel %.3g)", r.rel_norm);

    /* 2: one element 5% off (the largest, so the norm criterion alone would not see it). */
    memcpy(bad, dw, n_w * sizeof *bad);
    size_t big = 0;
    for (size_t i = 1; i < n_w; i++)
        if (fabsf(dw[i]) > fabsf(dw[big])) big = i;
    bad[big] *= 1.05f;
    r = fd_eval(c.w, n_w, bad, lin_loss, &c, 1);
    CHECK(!fd_ok(&r) && r.bad == 1 && r.worst_i == big,
          "dw[%zu] * 1.05 was not caught as the one bad element (%d bad, worst [%zu])", big, r.bad,
          r.worst_i);

    /* 3: one small input-gradient element dropped (a missing term). */
    float *badi = fdup(dinp, n_in);
    size_t small = n_in;
    for (size_t i = 0; i < n_in; i++)
        if (fabsf(dinp[i]) > 0.05f && (small == n_in || fabsf(dinp[i]) < fabsf(dinp[small])))
            small = i;
    CHECK(small < n_in, "no input-gradient element above 0.05");
    if (small == n_in) small = 0;
    badi[small] = 0;
    r = fd_eval(c.inp, n_in, badi, lin_loss, &c, 1);
    CHECK(!fd_ok(&r) && r.worst_i == small, "dinp[%zu] = 0 (was %g) was not caught", small,
          (double)dinp[small]);

    /* 4: a sign error in one bias element. */
    float *badb = fdup(db, c.OUT);
    badb[2] = -badb[2];
    r = fd_eval(c.b, c.OUT, badb, lin_loss, &c, 1);
    CHECK(!fd_ok(&r), "db[2] with a flipped sign was not caught");

    lin_free(&c);
    free(dinp); free(dw); free(db); free(bad); free(badi); free(badb);
}
