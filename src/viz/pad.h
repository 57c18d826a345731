/* pad.h - the proxy A-distance (Ben-David et al. 2007), with the protocol of Ganin et al., JMLR
 * 2016, section 5.1.5: source examples labelled 0 and target examples 1, split in half; a linear
 * SVM is trained on one half for each C of a grid and tested on the other; with e the lowest
 * held-out error, PAD = 2 (1 - 2e). PAD is 2 for domains a linear classifier separates, about 0
 * (or below) for domains it cannot tell apart.
 *
 * The SVM is liblinear's primal L2-regularised L2-loss (squared hinge) SVC (solver
 * L2R_L2LOSS_SVC, stopping tolerance 1e-6) with a bias feature of 1 that is regularised like
 * the weights: scikit-learn's LinearSVC(penalty="l2", loss="squared_hinge", dual=False) at
 * the optimum, which the tests compare against. The Cs are trained in parallel (each
 * independently, so the thread count changes nothing). */
#ifndef DANN_VIZ_PAD_H
#define DANN_VIZ_PAD_H

#include <stdint.h>
#include "dann.h"

#define PAD_MAX_C 24

typedef struct {
    int n_c;
    double C[PAD_MAX_C];
    double err[PAD_MAX_C];   /* held-out error of each C */
    int best;                /* index of the lowest error (the first such C) */
    double pad;              /* 2 (1 - 2 err[best]) */
    int n_train, n_test;
} pad_result;

/* The default C grid: 10^-3 .. 10^2, one per decade. Returns its length. */
int pad_default_c(double *C);

/* Trains on (Xtr, ytr) (ntr rows of d floats, labels 0/1) for each of the nc values in C and
 * tests on (Xte, yte). DANN_ERR_ARG when a half lacks one of the labels, nc is outside
 * 1..PAD_MAX_C or a C is not positive; DANN_ERR_NOMEM; DANN_ERR_NUMERIC for a non-finite
 * feature value. */
dann_status pad_fit(pad_result *r, const float *Xtr, const int32_t *ytr, int ntr,
                    const float *Xte, const int32_t *yte, int nte, int d, const double *C, int nc,
                    dann_error *err);

/* The whole protocol on ns source rows Xs and nt target rows Xt: each domain is shuffled (RNG
 * seeded with seed) and split in half, the first halves train and the second halves test (so
 * both halves keep the domains' proportions). Needs at least 2 rows per domain. */
dann_status pad_compute(pad_result *r, const float *Xs, int ns, const float *Xt, int nt, int d,
                        uint64_t seed, const double *C, int nc, dann_error *err);

#endif
