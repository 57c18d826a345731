/* select_scores.c - the label-free selection scores on plain arrays (select.h): prediction
 * entropy, soft neighbourhood density, and deep embedded validation (its density ratios from a
 * liblinear logistic regression, its control-variate risk). Sums run in double. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linear.h>
#include "cli/select.h"
#include "core/core.h"

double select_entropy(const float *logp, int n, int C) {
    double s = 0;
    for (int i = 0; i < n; i++)
        for (int c = 0; c < C; c++) {
            const double lp = logp[(size_t)i * C + c];
            s -= exp(lp) * lp;
        }
    return n ? s / n : 0.0;
}

double select_snd(const float *logp, int n, int C, double tau) {
    if (n < 2) return 0.0;
    double *P = malloc(sizeof(double) * (size_t)n * C);
    DANN_ASSERT(P);
    for (int i = 0; i < n; i++) {
        double nrm = 0;
        for (int c = 0; c < C; c++) {
            const double p = exp((double)logp[(size_t)i * C + c]);
            P[(size_t)i * C + c] = p;
            nrm += p * p;
        }
        nrm = sqrt(nrm);
        if (nrm < 1e-12) nrm = 1e-12;  /* F.normalize's eps */
        for (int c = 0; c < C; c++) P[(size_t)i * C + c] /= nrm;
    }
    double total = 0;
#pragma omp parallel for schedule(static) reduction(+ : total)
    for (int i = 0; i < n; i++) {
        double *row = malloc(sizeof(double) * (size_t)n);
        DANN_ASSERT(row);
        double mx = -INFINITY;
        for (int j = 0; j < n; j++) {
            double d = 0;
            if (j == i) {
                d = -1.0;
            } else {
                for (int c = 0; c < C; c++) d += P[(size_t)i * C + c] * P[(size_t)j * C + c];
            }
            row[j] = d / tau;
            if (row[j] > mx) mx = row[j];
        }
        double z = 0;
        for (int j = 0; j < n; j++) z += (row[j] = exp(row[j] - mx));
        double h = 0;
        for (int j = 0; j < n; j++) {
            const double s = row[j] / z;
            h -= s * log(s + 1e-5);
        }
        total += h;
        free(row);
    }
    free(P);
    return total / n;
}

#define DEV_MAX_LOG_RATIO 30.0

double select_dev_risk(const double *w, const double *loss, int n) {
    if (n < 2) return n ? w[0] * loss[0] : 0.0;
    double mw = 0, ml = 0;
    for (int i = 0; i < n; i++) mw += w[i], ml += w[i] * loss[i];
    mw /= n, ml /= n;
    double cov = 0, var = 0;
    for (int i = 0; i < n; i++) {
        const double a = w[i] * loss[i] - ml, b = w[i] - mw;
        cov += a * b, var += b * b;
    }
    cov /= n - 1, var /= n - 1;
    const double eta = var > 0 ? -cov / var : 0.0;
    return ml + eta * mw - eta;
}

static void quiet(const char *s) { (void)s; }

/* Rows of liblinear nodes for dense standardised features (index 1..d, then the bias node). */
static struct feature_node **make_rows(const float *x, int n, int d, const double *mu,
                                       const double *sd, struct feature_node **pool) {
    struct feature_node **rows = malloc(sizeof *rows * (size_t)(n ? n : 1));
    *pool = malloc(sizeof **pool * (size_t)(n ? n : 1) * (size_t)(d + 2));
    if (!rows || !*pool) {
        free(rows), free(*pool);
        *pool = NULL;
        return NULL;
    }
    for (int i = 0; i < n; i++) {
        struct feature_node *r = *pool + (size_t)i * (d + 2);
        rows[i] = r;
        for (int k = 0; k < d; k++) {
            r[k].index = k + 1;
            r[k].value = ((double)x[(size_t)i * d + k] - mu[k]) / sd[k];
        }
        r[d].index = d + 1;   /* the bias feature (prob.bias = 1) */
        r[d].value = 1.0;
        r[d + 1].index = -1;
    }
    return rows;
}

dann_status select_dev_weights(const float *fs, int ns, const float *ft, int nt, const float *fv,
                               int nv, int d, uint64_t seed, double *w, double *C_out,
                               dann_error *err) {
    if (ns < 5 || nt < 5)
        return dann_fail(err, DANN_ERR_ARG, "DEV: %d source and %d target features (5 each at least)",
                         ns, nt);
    const int n = ns + nt;
    double *mu = calloc((size_t)d, sizeof(double)), *sd = calloc((size_t)d, sizeof(double));
    float *X = malloc(sizeof(float) * (size_t)n * d);
    double *y = malloc(sizeof(double) * (size_t)n);
    int32_t *perm = malloc(sizeof(int32_t) * (size_t)n);
    if (!mu || !sd || !X || !y || !perm) {
        free(mu), free(sd), free(X), free(y), free(perm);
        return dann_fail(err, DANN_ERR_NOMEM, "DEV: out of memory");
    }
    /* shuffled, so that the held-out fifth holds both domains in proportion */
    dann_rng r;
    rng_seed(&r, seed);
    for (int i = 0; i < n; i++) perm[i] = i;
    rng_shuffle(&r, perm, n);
    for (int i = 0; i < n; i++) {
        const int k = perm[i];
        memcpy(X + (size_t)i * d, k < ns ? fs + (size_t)k * d : ft + (size_t)(k - ns) * d,
               sizeof(float) * (size_t)d);
        y[i] = k < ns ? 0.0 : 1.0;
    }
    for (int i = 0; i < n; i++)
        for (int k = 0; k < d; k++) mu[k] += X[(size_t)i * d + k];
    for (int k = 0; k < d; k++) mu[k] /= n;
    for (int i = 0; i < n; i++)
        for (int k = 0; k < d; k++) {
            const double e = X[(size_t)i * d + k] - mu[k];
            sd[k] += e * e;
        }
    for (int k = 0; k < d; k++) sd[k] = sd[k] > 0 ? sqrt(sd[k] / n) : 1.0;
    struct feature_node *pool = NULL, *vpool = NULL;
    struct feature_node **rows = make_rows(X, n, d, mu, sd, &pool);
    struct feature_node **vrows = make_rows(fv, nv, d, mu, sd, &vpool);
    dann_status st = DANN_OK;
    if (!rows || !vrows) {
        st = dann_fail(err, DANN_ERR_NOMEM, "DEV: out of memory");
        goto out;
    }
    set_print_string_function(quiet);
    const int ntr = n - n / 5;
    struct problem prob = {ntr, d + 1, y, rows, 1.0};
    static const double Cs[4] = {0.01, 0.1, 1, 10};
    struct model *best = NULL;
    double best_loss = INFINITY, best_C = 0;
    for (int c = 0; c < 4; c++) {
        struct parameter par = {L2R_LR, 0.01, Cs[c], 0, NULL, NULL, 0.1, NULL};
        struct model *mdl = check_parameter(&prob, &par) ? NULL : train(&prob, &par);
        if (!mdl) {
            st = dann_fail(err, DANN_ERR_NOMEM, "DEV: liblinear could not train the domain classifier");
            goto out;
        }
        int labels[2];
        get_labels(mdl, labels);
        double loss = 0;
        for (int i = ntr; i < n; i++) {
            double pr[2];
            predict_probability(mdl, rows[i], pr);
            const double py = pr[labels[0] == (int)y[i] ? 0 : 1];
            loss -= log(py > 1e-300 ? py : 1e-300);
        }
        if (loss < best_loss) {
            if (best) free_and_destroy_model(&best);
            best = mdl, best_loss = loss, best_C = Cs[c];
        } else {
            free_and_destroy_model(&mdl);
        }
    }
    int labels[2];
    get_labels(best, labels);
    const int it = labels[0] == 1 ? 0 : 1;  /* the probability slot of "target" */
    for (int i = 0; i < nv; i++) {
        double pr[2];
        predict_probability(best, vrows[i], pr);
        /* In the log domain, clamped: where the classifier separates the domains its
         * probabilities reach 0 and 1 in double, and a raw ratio of 1e300 overflowed the
         * risk's products into a NaN score. e^30 (1e13) keeps every product finite. */
        const double pt = pr[it], ps = pr[1 - it];
        double lr = log(pt > 1e-300 ? pt : 1e-300) - log(ps > 1e-300 ? ps : 1e-300);
        lr = lr > DEV_MAX_LOG_RATIO ? DEV_MAX_LOG_RATIO : lr < -DEV_MAX_LOG_RATIO ? -DEV_MAX_LOG_RATIO : lr;
        w[i] = exp(lr) * (double)ns / (double)nt;
    }
    if (C_out) *C_out = best_C;
    free_and_destroy_model(&best);
out:
    free(rows), free(pool), free(vrows), free(vpool);
    free(mu), free(sd), free(X), free(y), free(perm);
    return st;
}
