/* test_viz_embed.c - PCA, t-SNE and trustworthiness (src/viz/dimred.h) against scikit-learn and
 * numpy on 300 of sklearn's digits (tests/fixtures/sklearn_viz.safetensors, made by
 * tools/make_viz_fixtures.py):
 *   - trustworthiness of given embeddings (sklearn's t-SNE, numpy's PCA) equals sklearn's value;
 *   - PCA projections and variances equal numpy's SVD (up to each component's sign), with more
 *     points than dimensions and with fewer;
 *   - the joint probabilities equal sklearn's _joint_probabilities (perplexity search and
 *     symmetrisation), and every row's entropy is log(perplexity);
 *   - the KL gradient equals central finite differences of the KL;
 *   - the C t-SNE's trustworthiness is within 0.01 of sklearn's embedding's (and far above PCA's),
 *     its KL no worse than sklearn's by 10%;
 *   - t-SNE, PCA and trustworthiness give the same bits at 1 and 2 threads (on 600 points, enough
 *     for every loop to run in parallel). */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "core/core.h"
#include "io/safetensors.h"
#include "test.h"
#include "viz/dimred.h"

#define FIXTURE "tests/fixtures/sklearn_viz.safetensors"

static st_file g_fx;
static int g_loaded;

static const st_file *fixture(void) {
    if (!g_loaded) {
        dann_error err = {0};
        CHECK(st_read(&g_fx, FIXTURE, &err) == DANN_OK, "%s", err.msg);
        g_loaded = 1;
    }
    return g_fx.n ? &g_fx : NULL;
}

static const float *tensor(const st_file *f, const char *name, size_t numel) {
    const st_tensor *t = st_find(f, name);
    CHECK(t && t->dtype == ST_F32 && t->numel == numel, "fixture tensor %s missing or mis-sized", name);
    return t && t->numel == numel ? t->data : NULL;
}

static double meta_num(const st_file *f, const char *key) {
    const char *v = st_meta_get(f, key);
    CHECK(v != NULL, "fixture metadata %s missing", key);
    return v ? strtod(v, NULL) : NAN;
}

TEST(viz_trustworthiness_matches_sklearn) {
    const st_file *f = fixture();
    if (!f) return;
    const float *x = tensor(f, "tsne_x", 300 * 64), *y = tensor(f, "tsne_y", 600);
    const float *pca = tensor(f, "pca_y", 900);
    if (!x || !y || !pca) return;
    float p2[600];
    for (int i = 0; i < 300; i++) p2[2 * i] = pca[3 * i], p2[2 * i + 1] = pca[3 * i + 1];
    double t5 = trustworthiness(x, 64, y, 2, 300, 5), t12 = trustworthiness(x, 64, y, 2, 300, 12);
    double tp = trustworthiness(x, 64, p2, 2, 300, 5);
    printf("    trustworthiness: t-SNE k=5 %.12f k=12 %.12f, PCA k=5 %.12f\n", t5, t12, tp);
    CHECK(fabs(t5 - meta_num(f, "trust_tsne_k5")) < 1e-12, "k=5: %.15f, sklearn %.15f", t5,
          meta_num(f, "trust_tsne_k5"));
    CHECK(fabs(t12 - meta_num(f, "trust_tsne_k12")) < 1e-12, "k=12: %.15f, sklearn %.15f", t12,
          meta_num(f, "trust_tsne_k12"));
    CHECK(fabs(tp - meta_num(f, "trust_pca_k5")) < 1e-12, "PCA: %.15f, sklearn %.15f", tp,
          meta_num(f, "trust_pca_k5"));
    /* the embedding as the input: nothing is lost */
    CHECK(trustworthiness(y, 2, y, 2, 300, 5) == 1.0, "an embedding of itself is not perfect");
}

/* Compares k projections with the reference up to each component's sign. */
static void check_pca(const float *got, const float *ref, int n, int k, const char *what) {
    float *flip = malloc(sizeof(float) * (size_t)n * k);
    for (int c = 0; c < k; c++) {
        double dot = 0;
        for (int i = 0; i < n; i++) dot += (double)got[i * k + c] * ref[i * k + c];
        for (int i = 0; i < n; i++) flip[i * k + c] = dot < 0 ? -got[i * k + c] : got[i * k + c];
    }
    double w = CHECK_CLOSE(what, flip, ref, (size_t)n * k, 1e-4, 1e-4);
    printf("    %s: worst |proj - numpy| %.2e\n", what, w);
    free(flip);
}

TEST(viz_pca_matches_numpy) {
    const st_file *f = fixture();
    if (!f) return;
    const float *x = tensor(f, "tsne_x", 300 * 64), *ref = tensor(f, "pca_y", 900);
    const float *var = tensor(f, "pca_var", 3), *ref40 = tensor(f, "pca40_y", 120);
    if (!x || !ref || !var || !ref40) return;
    float proj[900], comps[3 * 64], proj40[120];
    double v[3];
    dann_error err = {0};
    CHECK(pca_fit(proj, comps, v, x, 300, 64, 3, &err) == DANN_OK, "pca: %s", err.msg);
    check_pca(proj, ref, 300, 3, "PCA, 300 points in 64-d (covariance)");
    for (int c = 0; c < 3; c++) {
        CHECK(fabs(v[c] - var[c]) <= 1e-5 * var[c], "variance %d: %.8g, numpy %.8g", c, v[c], var[c]);
        double nn = 0;
        int big = 0;
        for (int j = 0; j < 64; j++) {
            nn += (double)comps[c * 64 + j] * comps[c * 64 + j];
            if (fabs(comps[c * 64 + j]) > fabs(comps[c * 64 + big])) big = j;
        }
        CHECK(fabs(nn - 1) < 1e-5 && comps[c * 64 + big] > 0, "component %d: norm^2 %g, sign", c, nn);
    }
    CHECK(pca_fit(proj40, NULL, NULL, x, 40, 64, 3, &err) == DANN_OK, "pca: %s", err.msg);
    check_pca(proj40, ref40, 40, 3, "PCA, 40 points in 64-d (Gram)");
    CHECK(pca_fit(proj, NULL, NULL, x, 300, 64, 17, &err) == DANN_ERR_ARG, "17 components accepted");
}

TEST(viz_tsne_joint_probabilities_match_sklearn) {
    const st_file *f = fixture();
    if (!f) return;
    const float *x = tensor(f, "tsne_x", 300 * 64), *ref = tensor(f, "tsne_p_rows", 20 * 300);
    if (!x || !ref) return;
    double *P = malloc(sizeof(double) * 300 * 300);
    float *p20 = malloc(sizeof(float) * 20 * 300);
    tsne_sq_distances(P, x, 300, 64);
    double e = tsne_joint_p(P, P, 300, 30);
    CHECK(e <= 1e-5, "a row's entropy is %.3g away from log(30)", e);
    double sum = 0;
    for (int i = 0; i < 300 * 300; i++) sum += P[i];
    CHECK(fabs(sum - 1) < 1e-9, "P sums to %.12f", sum);
    for (int i = 0; i < 20 * 300; i++) p20[i] = (float)P[i];
    double w = CHECK_CLOSE("P rows 0..19", p20, ref, 20 * 300, 1e-10, 1e-4);
    printf("    joint probabilities: worst |P - sklearn| %.2e (P ~ %.1e)\n", w, 1.0 / (300 * 299));
    free(P);
    free(p20);
}

TEST(viz_tsne_gradient_matches_finite_differences) {
    enum { N = 30, D = 5 };
    dann_rng r;
    rng_seed(&r, 5);
    float x[N * D];
    for (int i = 0; i < N * D; i++) x[i] = rng_uniform(&r);
    double P[N * N], Y[2 * N], g[2 * N];
    tsne_sq_distances(P, x, N, D);
    tsne_joint_p(P, P, N, 5);
    for (int i = 0; i < 2 * N; i++) Y[i] = rng_uniform(&r) * 4 - 2;
    tsne_kl_grad(g, P, Y, N);
    double worst = 0;
    for (int k = 0; k < 2 * N; k++) {
        double h = 1e-6, keep = Y[k];
        Y[k] = keep + h;
        double up = tsne_kl_grad(NULL, P, Y, N);
        Y[k] = keep - h;
        double dn = tsne_kl_grad(NULL, P, Y, N);
        Y[k] = keep;
        double fd = (up - dn) / (2 * h), d = fabs(fd - g[k]);
        worst = fmax(worst, d);
        CHECK(d <= 1e-6 + 1e-4 * fabs(fd), "dKL/dY[%d]: analytic %.9g, finite differences %.9g", k,
              g[k], fd);
    }
    printf("    KL gradient: worst |analytic - finite difference| %.2e\n", worst);
}

TEST(viz_tsne_quality_against_sklearn) {
    const st_file *f = fixture();
    if (!f) return;
    const float *x = tensor(f, "tsne_x", 300 * 64);
    if (!x) return;
    float y1[600], y2[600];
    tsne_opts o;
    tsne_opts_default(&o);
    tsne_stats s;
    dann_error err = {0};
    CHECK(tsne_run(y1, x, 300, 64, &o, &s, &err) == DANN_OK, "tsne: %s", err.msg);
    CHECK(tsne_run(y2, x, 300, 64, &o, NULL, &err) == DANN_OK, "tsne: %s", err.msg);
    CHECK(memcmp(y1, y2, sizeof y1) == 0, "t-SNE differs between two runs");
    double t = trustworthiness(x, 64, y1, 2, 300, 5), ts = meta_num(f, "trust_tsne_k5");
    double tp = meta_num(f, "trust_pca_k5"), kls = meta_num(f, "kl_tsne");
    printf("    t-SNE of 300 digits: trustworthiness %.4f (sklearn %.4f, PCA %.4f), KL %.4f "
           "(sklearn %.4f), %d iterations\n", t, ts, tp, s.kl, kls, s.iters_done);
    CHECK(t >= ts - 0.01, "trustworthiness %.4f, sklearn's embedding %.4f", t, ts);
    CHECK(t >= tp + 0.1, "trustworthiness %.4f is not far above PCA's %.4f", t, tp);
    CHECK(s.kl <= kls * 1.1, "KL %.4f, sklearn %.4f", s.kl, kls);
}

TEST(viz_tsne_rejects_bad_input) {
    float x[40] = {0};
    float y[40];
    tsne_opts o;
    tsne_opts_default(&o);
    dann_error err = {0};
    CHECK(tsne_run(y, x, 3, 2, &o, NULL, &err) == DANN_ERR_ARG, "3 points accepted");
    CHECK(tsne_run(y, x, 20, 2, &o, NULL, &err) == DANN_ERR_ARG && strstr(err.msg, "perplexity"),
          "perplexity 30 with 20 points: '%s'", err.msg);
    o.perplexity = 5;
    x[7] = NAN;
    CHECK(tsne_run(y, x, 20, 2, &o, NULL, &err) == DANN_ERR_NUMERIC, "NaN accepted");
}

TEST(viz_dimred_thread_count_changes_nothing) {
    enum { N = 600, D = 12 };
    float *x = malloc(sizeof(float) * N * D), y[2][2 * N], p[2][2 * N];
    double t[2];
    dann_rng r;
    rng_seed(&r, 9);
    for (int i = 0; i < N * D; i++) x[i] = rng_uniform(&r) + (float)((i / D) % 3 == i % D % 3);
    tsne_opts o;
    tsne_opts_default(&o);
    o.iters = 80;
    o.exag_iters = 40;
    dann_error err = {0};
    int keep = dann_get_threads();
    for (int k = 0; k < 2; k++) {
        dann_set_threads(k + 1);
        CHECK(tsne_run(y[k], x, N, D, &o, NULL, &err) == DANN_OK, "tsne: %s", err.msg);
        CHECK(pca_fit(p[k], NULL, NULL, x, N, D, 2, &err) == DANN_OK, "pca: %s", err.msg);
        t[k] = trustworthiness(x, D, y[k], 2, N, 7);
    }
    dann_set_threads(keep);
    CHECK(memcmp(y[0], y[1], sizeof y[0]) == 0, "t-SNE differs between 1 and 2 threads");
    CHECK(memcmp(p[0], p[1], sizeof p[0]) == 0, "PCA differs between 1 and 2 threads");
    CHECK(t[0] == t[1], "trustworthiness %.17g vs %.17g", t[0], t[1]);
    free(x);
}
