/* test_viz_pad.c - the proxy A-distance (src/viz/pad.h):
 *   - per C, the held-out error of liblinear's SVM equals scikit-learn's LinearSVC with the same
 *     loss, penalty, tolerance and C on the same split (tests/fixtures/sklearn_viz.safetensors,
 *     tools/make_viz_fixtures.py), within one example of 150;
 *   - hand-checkable cases: two domains drawn from one distribution give an error near 1/2, so
 *     PAD near 0 (|PAD| <= 0.4: e in [0.4, 0.6]); domains 10 apart along one axis are separated
 *     without error, PAD = 2 exactly;
 *   - the split keeps both domains in both halves, and bad arguments are refused. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "core/core.h"
#include "io/safetensors.h"
#include "test.h"
#include "viz/pad.h"

#define FIXTURE "tests/fixtures/sklearn_viz.safetensors"

TEST(viz_pad_matches_sklearn_linearsvc) {
    st_file f;
    dann_error err = {0};
    if (st_read(&f, FIXTURE, &err)) {
        CHECK(0, "%s", err.msg);
        return;
    }
    const st_tensor *xtr = st_find(&f, "pad_xtr"), *ytr = st_find(&f, "pad_ytr");
    const st_tensor *xte = st_find(&f, "pad_xte"), *yte = st_find(&f, "pad_yte");
    const st_tensor *tc = st_find(&f, "pad_c"), *te = st_find(&f, "pad_err");
    const char *exact = st_meta_get(&f, "pad_err_repr");
    CHECK(xtr && ytr && xte && yte && tc && te && exact, "fixture tensors missing");
    if (!xtr || !ytr || !xte || !yte || !tc || !te || !exact) {
        st_free(&f);
        return;
    }
    int ntr = (int)xtr->shape[0], d = (int)xtr->shape[1], nte = (int)xte->shape[0], nc = (int)tc->numel;
    double C[PAD_MAX_C], want[PAD_MAX_C];
    char *p = (char *)exact;
    for (int c = 0; c < nc; c++) {
        C[c] = ((const float *)tc->data)[c];
        want[c] = strtod(p, &p);
    }
    /* the fixture's grid is the default grid (so the CLI's default is what was checked) */
    double dflt[PAD_MAX_C];
    int nd = pad_default_c(dflt);
    CHECK(nd == nc, "default grid has %d values, fixture %d", nd, nc);
    for (int c = 0; c < nc && c < nd; c++)
        CHECK(fabs(C[c] - dflt[c]) <= 1e-6 * dflt[c], "C[%d] %g vs default %g", c, C[c], dflt[c]);
    pad_result r;
    CHECK(pad_fit(&r, xtr->data, ytr->data, ntr, xte->data, yte->data, nte, d, dflt, nc, &err) == DANN_OK,
          "pad_fit: %s", err.msg);
    int same = 0;
    double best = 1;
    for (int c = 0; c < nc; c++) {
        printf("    C %-6g  error %.4f  sklearn %.4f\n", dflt[c], r.err[c], want[c]);
        CHECK(fabs(r.err[c] - want[c]) <= 1.0 / nte + 1e-12, "C %g: error %.4f, sklearn %.4f", dflt[c],
              r.err[c], want[c]);
        same += fabs(r.err[c] - want[c]) < 1e-12;
        best = fmin(best, want[c]);
    }
    CHECK(same >= nc - 1, "only %d of %d errors equal sklearn's exactly", same, nc);
    CHECK(fabs(r.pad - 2 * (1 - 2 * best)) <= 4.0 / nte + 1e-12, "PAD %.4f, sklearn's %.4f", r.pad,
          2 * (1 - 2 * best));
    printf("    PAD %.4f (sklearn's errors give %.4f)\n", r.pad, 2 * (1 - 2 * best));
    st_free(&f);
}

static void gaussian(float *x, int n, int d, double shift_axis0, dann_rng *rng) {
    for (int i = 0; i < n * d; i += 2) {
        double u = 1 - rng_uniform(rng), v = rng_uniform(rng), r = sqrt(-2 * log(u));
        x[i] = (float)(r * cos(2 * M_PI * v));
        if (i + 1 < n * d) x[i + 1] = (float)(r * sin(2 * M_PI * v));
    }
    for (int i = 0; i < n; i++) x[(size_t)i * d] += (float)shift_axis0;
}

TEST(viz_pad_hand_checkable_cases) {
    enum { N = 400, D = 10 };
    float *xs = malloc(sizeof(float) * N * D), *xt = malloc(sizeof(float) * N * D);
    dann_rng rng;
    rng_seed(&rng, 3);
    double C[PAD_MAX_C];
    int nc = pad_default_c(C);
    pad_result r;
    dann_error err = {0};
    gaussian(xs, N, D, 0, &rng);
    gaussian(xt, N, D, 0, &rng);
    CHECK(pad_compute(&r, xs, N, xt, N, D, 1, C, nc, &err) == DANN_OK, "%s", err.msg);
    printf("    identical domains: best error %.4f, PAD %.4f\n", r.err[r.best], r.pad);
    CHECK(r.n_train == N && r.n_test == N, "halves %d / %d", r.n_train, r.n_test);
    CHECK(fabs(r.pad) <= 0.4, "identical domains: PAD %.4f", r.pad);
    gaussian(xt, N, D, 10, &rng);
    CHECK(pad_compute(&r, xs, N, xt, N, D, 1, C, nc, &err) == DANN_OK, "%s", err.msg);
    printf("    separated domains: best error %.4f, PAD %.4f\n", r.err[r.best], r.pad);
    CHECK(r.pad == 2.0, "separated domains: PAD %.4f", r.pad);
    /* uneven domains, odd sizes: each half still holds both */
    CHECK(pad_compute(&r, xs, 3, xt, 7, D, 2, C, nc, &err) == DANN_OK, "%s", err.msg);
    CHECK(r.n_train == 1 + 3 && r.n_test == 2 + 4, "halves %d / %d", r.n_train, r.n_test);
    CHECK(pad_compute(&r, xs, 1, xt, 7, D, 2, C, nc, &err) == DANN_ERR_ARG, "1 source example accepted");
    double bad = 0;
    CHECK(pad_compute(&r, xs, N, xt, N, D, 1, &bad, 1, &err) == DANN_ERR_ARG, "C = 0 accepted");
    xs[5] = NAN;
    CHECK(pad_compute(&r, xs, N, xt, N, D, 1, C, nc, &err) == DANN_ERR_NUMERIC, "NaN accepted");
    free(xs);
    free(xt);
}
