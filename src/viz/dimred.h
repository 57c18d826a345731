/* dimred.h - dimensionality reduction for the embedding pictures: PCA, exact t-SNE and the
 * trustworthiness score that measures how well an embedding keeps neighbourhoods.
 *
 * Points are float32 rows X (n, d), row-major. Work is done in double. Results depend only on
 * the inputs and the seed, never on the thread count (every parallel loop writes its own rows,
 * and sums over rows are taken serially in a fixed order). */
#ifndef DANN_VIZ_DIMRED_H
#define DANN_VIZ_DIMRED_H

#include <stdint.h>
#include "dann.h"

/* ---- PCA (pca.c) -----------------------------------------------------------------------
 * The first k principal components of X (centred): projections proj (n, k), optionally the
 * components comps (k, d, unit length) and the variances var (k, divided by n - 1) of the
 * projections. Sign convention: each component's coefficient of largest magnitude is positive.
 * The eigenvectors of the d x d covariance (or of the n x n Gram matrix when n < d) are found
 * by subspace iteration with Rayleigh-Ritz steps. 1 <= k <= min(n, d, 16), n >= 2. */
dann_status pca_fit(float *proj, float *comps, double *var, const float *X, int n, int d, int k,
                    dann_error *err);

/* ---- t-SNE (tsne.c) --------------------------------------------------------------------
 * Exact t-SNE (van der Maaten & Hinton 2008) as scikit-learn's TSNE(method="exact") computes
 * it: squared euclidean input distances, a binary search per point for the Gaussian width
 * whose conditional distribution has perplexity `perplexity`, P = (P + P^T) / sum, a Student-t
 * (one degree of freedom) output kernel; PCA initialisation scaled to a first-coordinate
 * standard deviation of 1e-4 (or a seeded Gaussian of that spread), 250 iterations with early
 * exaggeration 12 and momentum 0.5, then momentum 0.8, learning rate max(n / 48, 50), gains
 * +0.2 / x0.8 with a floor of 0.01. The cost is O(n^2) time and memory per iteration: meant for
 * a few thousand points (at most TSNE_MAX_POINTS). */
#define TSNE_MAX_POINTS 8000

typedef struct {
    double perplexity;     /* 30 */
    int iters;             /* 1000, of which the first exag_iters with exaggeration */
    int exag_iters;        /* 250 */
    double exaggeration;   /* 12 */
    double learning_rate;  /* <= 0: max(n / exaggeration / 4, 50) */
    int init_pca;          /* 1: PCA initialisation; 0: Gaussian from seed */
    uint64_t seed;
} tsne_opts;

typedef struct {
    double kl;             /* KL(P || Q) of the result */
    int iters_done;
} tsne_stats;

void tsne_opts_default(tsne_opts *o);

/* Y (n, 2) for X (n, d). DANN_ERR_ARG when n < 4, n > TSNE_MAX_POINTS or the perplexity is
 * not below n - 1; DANN_ERR_NOMEM; DANN_ERR_NUMERIC when X holds a non-finite value. */
dann_status tsne_run(float *Y, const float *X, int n, int d, const tsne_opts *o, tsne_stats *st,
                     dann_error *err);

/* The steps of tsne_run, for the tests. */
/* Squared euclidean distances D (n, n) of the rows of X. */
void tsne_sq_distances(double *D, const float *X, int n, int d);
/* Joint probabilities P (n, n) from squared distances D: per row the conditional Gaussian with
 * perplexity `perplexity` (binary search on its precision to entropy tolerance 1e-5, at most 100
 * steps), then symmetrised and normalised to sum 1, floored at DBL_EPSILON. Returns the largest
 * |entropy - log(perplexity)| over the rows (the search's own check), NAN when out of memory.
 * P may be D (in place). */
double tsne_joint_p(double *P, const double *D, int n, double perplexity);
/* KL(P || Q) for the embedding Y (n, 2) and its gradient grad (n, 2) (may be NULL), as
 * sklearn's _kl_divergence with one degree of freedom. */
double tsne_kl_grad(double *grad, const double *P, const double *Y, int n);

/* ---- trustworthiness (trust.c) ---------------------------------------------------------
 * sklearn.manifold.trustworthiness(X, Y, n_neighbors=k) with euclidean distances:
 *   T(k) = 1 - 2 / (n k (2n - 3k - 1)) * sum_i sum_{j in N_k^Y(i)} max(0, r(i, j) - k)
 * where N_k^Y(i) are the k nearest neighbours of i in the embedding Y (n, dy) and r(i, j) is
 * the rank of j among i's neighbours in X (n, dx) (1 = nearest). 1 is perfect. Requires
 * 1 <= k < n / 2. Returns NAN when the memory cannot be had. */
double trustworthiness(const float *X, int dx, const float *Y, int dy, int n, int k);

#endif
