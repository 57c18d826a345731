/* pad.c - proxy A-distance on liblinear (see pad.h). Rows become liblinear's sparse feature
 * nodes (exact zeros, common after ReLU, are left out; the bias node of value 1 is appended at
 * index d + 1, as liblinear's own train/predict programs do). liblinear's progress printing is
 * silenced. */
#include <linear.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "core/core.h"
#include "viz/pad.h"

#define PAD_EPS 1e-6  /* liblinear's stopping tolerance: tight enough to reach the optimum */

int pad_default_c(double *C) {
    static const double grid[] = {1e-3, 1e-2, 1e-1, 1, 10, 100};
    memcpy(C, grid, sizeof grid);
    return (int)(sizeof grid / sizeof *grid);
}

static void quiet(const char *s) { (void)s; }

typedef struct {
    struct feature_node **x;
    struct feature_node *nodes;
    double *y;
} rows;

static void rows_free(rows *r) {
    free(r->x);
    free(r->nodes);
    free(r->y);
}

static dann_status rows_make(rows *r, const float *X, const int32_t *y, int n, int d,
                             int *has0, int *has1, dann_error *err) {
    memset(r, 0, sizeof *r);
    size_t nnz = 0;
    for (size_t i = 0; i < (size_t)n * d; i++) {
        if (!isfinite(X[i]))
            return dann_fail(err, DANN_ERR_NUMERIC, "proxy A-distance: example %zu holds a "
                             "non-finite value", i / (size_t)d);
        nnz += X[i] != 0;
    }
    r->x = dann_calloc((size_t)n, sizeof *r->x, err);
    r->nodes = r->x ? dann_calloc(nnz + 2 * (size_t)n, sizeof *r->nodes, err) : NULL;
    r->y = r->nodes ? dann_calloc((size_t)n, sizeof *r->y, err) : NULL;
    if (!r->y) {
        rows_free(r);
        return DANN_ERR_NOMEM;
    }
    struct feature_node *p = r->nodes;
    *has0 = *has1 = 0;
    for (int i = 0; i < n; i++) {
        r->x[i] = p;
        for (int j = 0; j < d; j++)
            if (X[(size_t)i * d + j] != 0) *p++ = (struct feature_node){j + 1, X[(size_t)i * d + j]};
        *p++ = (struct feature_node){d + 1, 1.0};  /* the bias feature */
        *p++ = (struct feature_node){-1, 0};
        r->y[i] = y[i] ? 1 : 0;
        *has0 |= y[i] == 0;
        *has1 |= y[i] != 0;
    }
    return DANN_OK;
}

dann_status pad_fit(pad_result *r, const float *Xtr, const int32_t *ytr, int ntr,
                    const float *Xte, const int32_t *yte, int nte, int d, const double *C, int nc,
                    dann_error *err) {
    memset(r, 0, sizeof *r);
    if (nc < 1 || nc > PAD_MAX_C)
        return dann_fail(err, DANN_ERR_ARG, "proxy A-distance: %d values of C (1 to %d)", nc, PAD_MAX_C);
    for (int c = 0; c < nc; c++)
        if (!(C[c] > 0 && isfinite(C[c])))
            return dann_fail(err, DANN_ERR_ARG, "proxy A-distance: C = %g is not positive", C[c]);
    rows tr, te;
    int a0, a1, b0, b1;
    dann_status st = rows_make(&tr, Xtr, ytr, ntr, d, &a0, &a1, err);
    if (st) return st;
    if ((st = rows_make(&te, Xte, yte, nte, d, &b0, &b1, err))) {
        rows_free(&tr);
        return st;
    }
    if (!a0 || !a1 || !b0 || !b1) {
        rows_free(&tr);
        rows_free(&te);
        return dann_fail(err, DANN_ERR_ARG, "proxy A-distance: each half needs examples of both "
                         "domains");
    }
    set_print_string_function(quiet);
    struct problem prob = {ntr, d + 1, tr.y, tr.x, 1.0};
    int failed = 0;
#pragma omp parallel for schedule(dynamic, 1) reduction(| : failed)
    for (int c = 0; c < nc; c++) {
        struct parameter par = {L2R_L2LOSS_SVC, PAD_EPS, C[c], 0, NULL, NULL, 0.1, NULL};
        struct model *m = check_parameter(&prob, &par) ? NULL : train(&prob, &par);
        if (!m) {
            failed = 1;
            continue;
        }
        int wrong = 0;
        for (int i = 0; i < nte; i++) wrong += predict(m, te.x[i]) != te.y[i];
        r->err[c] = (double)wrong / nte;
        free_and_destroy_model(&m);
    }
    rows_free(&tr);
    rows_free(&te);
    if (failed) return dann_fail(err, DANN_ERR_NOMEM, "proxy A-distance: liblinear could not train");
    r->n_c = nc;
    r->n_train = ntr;
    r->n_test = nte;
    for (int c = 0; c < nc; c++) {
        r->C[c] = C[c];
        if (r->err[c] < r->err[r->best]) r->best = c;
    }
    r->pad = 2 * (1 - 2 * r->err[r->best]);
    return DANN_OK;
}

dann_status pad_compute(pad_result *r, const float *Xs, int ns, const float *Xt, int nt, int d,
                        uint64_t seed, const double *C, int nc, dann_error *err) {
    memset(r, 0, sizeof *r);
    if (ns < 2 || nt < 2)
        return dann_fail(err, DANN_ERR_ARG, "proxy A-distance: %d source and %d target examples "
                         "(at least 2 each)", ns, nt);
    int n = ns + nt, ntr = ns / 2 + nt / 2, nte = n - ntr;
    float *xtr = dann_calloc((size_t)ntr * d, sizeof *xtr, err);
    float *xte = xtr ? dann_calloc((size_t)nte * d, sizeof *xte, err) : NULL;
    int32_t *lab = xte ? dann_calloc((size_t)n + (size_t)(ns > nt ? ns : nt), sizeof *lab, err) : NULL;
    if (!lab) {
        free(xtr), free(xte);
        return DANN_ERR_NOMEM;
    }
    int32_t *ytr = lab, *yte = lab + ntr, *perm = lab + n;
    dann_rng rng;
    rng_seed(&rng, seed);
    int itr = 0, ite = 0;
    for (int dom = 0; dom < 2; dom++) {
        int m = dom ? nt : ns;
        const float *X = dom ? Xt : Xs;
        for (int i = 0; i < m; i++) perm[i] = i;
        rng_shuffle(&rng, perm, m);
        for (int i = 0; i < m; i++) {
            int train_half = i < m / 2;
            float *dst = train_half ? xtr + (size_t)itr * d : xte + (size_t)ite * d;
            memcpy(dst, X + (size_t)perm[i] * d, sizeof(float) * (size_t)d);
            if (train_half) ytr[itr++] = dom;
            else yte[ite++] = dom;
        }
    }
    dann_status st = pad_fit(r, xtr, ytr, ntr, xte, yte, nte, d, C, nc, err);
    free(xtr), free(xte), free(lab);
    return st;
}
