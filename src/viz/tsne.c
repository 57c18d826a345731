/* tsne.c - exact t-SNE, step for step as scikit-learn's TSNE(method="exact") (1.2):
 * _joint_probabilities (binary search per row, symmetrise, normalise, floor at machine
 * epsilon), _kl_divergence (Student-t kernel, Q floored at machine epsilon, gradient
 * 4 sum_j (p_ij - q_ij) w_ij (y_i - y_j)) and _gradient_descent (momentum, gains, a check every
 * 50 iterations for a vanishing gradient or 300 iterations without progress).
 *
 * Every O(n^2) pass runs over rows in parallel; each row writes only its own outputs and the
 * per-row partial sums are added serially afterwards, so the thread count never changes a bit.
 * The pair loops are written for the compiler to vectorise (omp simd reductions). */
#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "core/core.h"
#include "viz/dimred.h"

#define PERPLEXITY_TOL 1e-5
#define SEARCH_STEPS 100
#define CHECK_EVERY 50
#define MIN_GRAD_NORM 1e-7
#define NO_PROGRESS_EXPLORE 250   /* sklearn's _EXPLORATION_N_ITER, the first stage's patience */
#define NO_PROGRESS 300
/* below this many points a pass is too short to pay for waking threads (every iteration has
 * two parallel passes, whose barriers cost dearly on a loaded machine) */
#define OMP_MIN_ROWS 512

void tsne_opts_default(tsne_opts *o) {
    o->perplexity = 30;
    o->iters = 1000;
    o->exag_iters = 250;
    o->exaggeration = 12;
    o->learning_rate = 0;
    o->init_pca = 1;
    o->seed = 1;
}

void tsne_sq_distances(double *D, const float *X, int n, int d) {
#pragma omp parallel for schedule(dynamic, 16) if (n >= OMP_MIN_ROWS)
    for (int i = 0; i < n; i++) {
        const float *xi = X + (size_t)i * d;
        D[(size_t)i * n + i] = 0;
        for (int j = i + 1; j < n; j++) {
            const float *xj = X + (size_t)j * d;
            double s = 0;
#pragma omp simd reduction(+ : s)
            for (int t = 0; t < d; t++) {
                double v = (double)xi[t] - xj[t];
                s += v * v;
            }
            D[(size_t)i * n + j] = s;
        }
    }
    for (int i = 0; i < n; i++)
        for (int j = 0; j < i; j++) D[(size_t)i * n + j] = D[(size_t)j * n + i];
}

/* One row of sklearn's _binary_search_perplexity: the conditional distribution p (n) of point
 * i; returns |entropy - log(perplexity)| at the end of the search. */
static double search_row(double *p, const double *Di, int n, int i, double perplexity) {
    double beta = 1, beta_min = -INFINITY, beta_max = INFINITY, want = log(perplexity), diff = 0;
    for (int step = 0; step < SEARCH_STEPS; step++) {
        double sum = 0, sum_dp = 0;
        for (int j = 0; j < n; j++) {
            p[j] = j == i ? 0 : exp(-Di[j] * beta);
            sum += p[j];
        }
        if (sum == 0) sum = 1e-8;  /* sklearn's EPSILON_DBL */
        for (int j = 0; j < n; j++) {
            p[j] /= sum;
            sum_dp += Di[j] * p[j];
        }
        diff = log(sum) + beta * sum_dp - want;
        if (fabs(diff) <= PERPLEXITY_TOL) break;
        if (diff > 0) {
            beta_min = beta;
            beta = beta_max == INFINITY ? beta * 2 : (beta + beta_max) / 2;
        } else {
            beta_max = beta;
            beta = beta_min == -INFINITY ? beta / 2 : (beta + beta_min) / 2;
        }
    }
    return fabs(diff);
}

double tsne_joint_p(double *P, const double *D, int n, double perplexity) {
    double worst = 0;
    int failed = 0;
#pragma omp parallel reduction(max : worst) reduction(| : failed) if (n >= OMP_MIN_ROWS)
    {
        double *row = malloc(sizeof(double) * (size_t)n);  /* P may be D: each row in turn */
        failed = !row;
#pragma omp for schedule(dynamic, 16)
        for (int i = 0; i < n; i++) {
            if (!row) continue;
            double e = search_row(row, D + (size_t)i * n, n, i, perplexity);
            memcpy(P + (size_t)i * n, row, sizeof(double) * (size_t)n);
            if (e > worst) worst = e;
        }
        free(row);
    }
    if (failed) return NAN;
    double total = 0;
    for (int i = 0; i < n; i++)
        for (int j = i + 1; j < n; j++) {
            double s = P[(size_t)i * n + j] + P[(size_t)j * n + i];
            P[(size_t)i * n + j] = P[(size_t)j * n + i] = s;
            total += 2 * s;
        }
    total = fmax(total, DBL_EPSILON);
    for (int i = 0; i < n; i++)
        for (int j = 0; j < n; j++)
            P[(size_t)i * n + j] = i == j ? 0 : fmax(P[(size_t)i * n + j] / total, DBL_EPSILON);
    return worst;
}

/* The KL divergence of exag * P against Q (when want_kl) and its gradient. Y is (n, 2)
 * interleaved; scratch holds 3n doubles (the two coordinates apart, so that the pair loops read
 * contiguous memory, and the per-row sums). */
static double kl_grad(double *grad, const double *P, double exag, const double *Y, int n,
                      double *scratch, int want_kl) {
    double *y0 = scratch, *y1 = scratch + n, *rowsum = scratch + 2 * n;
    for (int i = 0; i < n; i++) y0[i] = Y[2 * i], y1[i] = Y[2 * i + 1];
#pragma omp parallel for schedule(static) if (n >= OMP_MIN_ROWS)
    for (int i = 0; i < n; i++) {
        double yi0 = y0[i], yi1 = y1[i], s = 0;
#pragma omp simd reduction(+ : s)
        for (int j = 0; j < n; j++) {
            double a = yi0 - y0[j], b = yi1 - y1[j];
            s += 1 / (1 + a * a + b * b);
        }
        rowsum[i] = s - 1;  /* the j == i term is exactly 1 */
    }
    double Z = 0;
    for (int i = 0; i < n; i++) Z += rowsum[i];
    double invZ = 1 / Z;
#pragma omp parallel for schedule(static) if (n >= OMP_MIN_ROWS)
    for (int i = 0; i < n; i++) {
        const double *Pi = P + (size_t)i * n;
        double yi0 = y0[i], yi1 = y1[i], g0 = 0, g1 = 0, kl = 0;
#pragma omp simd reduction(+ : g0, g1)
        for (int j = 0; j < n; j++) {
            double a = yi0 - y0[j], b = yi1 - y1[j];
            double w = 1 / (1 + a * a + b * b), q = w * invZ;
            q = q > DBL_EPSILON ? q : DBL_EPSILON;  /* sklearn floors Q at machine epsilon */
            double m = (exag * Pi[j] - q) * w;
            g0 += m * a;
            g1 += m * b;
        }
        if (want_kl)
            for (int j = 0; j < n; j++) {
                if (j == i || Pi[j] <= 0) continue;
                double a = yi0 - y0[j], b = yi1 - y1[j];
                double q = fmax(invZ / (1 + a * a + b * b), DBL_EPSILON), p = exag * Pi[j];
                kl += p * log(fmax(p, DBL_EPSILON) / q);
            }
        if (grad) {
            grad[2 * i] = 4 * g0;
            grad[2 * i + 1] = 4 * g1;
        }
        rowsum[i] = kl;
    }
    double kl = 0;
    for (int i = 0; i < n; i++) kl += rowsum[i];
    return kl;
}

double tsne_kl_grad(double *grad, const double *P, const double *Y, int n) {
    double *scratch = malloc(sizeof(double) * 3 * (size_t)n);
    DANN_ASSERT(scratch);
    double kl = kl_grad(grad, P, 1, Y, n, scratch, 1);
    free(scratch);
    return kl;
}

/* One stage of sklearn's _gradient_descent, iterations [it0, it1); returns the last iteration
 * run and the last KL computed. */
static int descend(double *Y, double *grad, double *update, double *gains, double *scratch,
                   const double *P, double exag, int n, int it0, int it1, double momentum,
                   double lr, int patience, double *kl_out) {
    int N = 2 * n, i = it0, best_iter = it0;
    double best = DBL_MAX, kl = DBL_MAX;
    for (int k = 0; k < N; k++) update[k] = 0, gains[k] = 1;
    for (i = it0; i < it1; i++) {
        int check = (i + 1) % CHECK_EVERY == 0;
        kl = kl_grad(grad, P, exag, Y, n, scratch, check || i == it1 - 1);
        for (int k = 0; k < N; k++) {
            if (update[k] * grad[k] < 0) gains[k] += 0.2;
            else gains[k] *= 0.8;
            if (gains[k] < 0.01) gains[k] = 0.01;
            grad[k] *= gains[k];
            update[k] = momentum * update[k] - lr * grad[k];
            Y[k] += update[k];
        }
        if (check) {
            double gn = 0;
            for (int k = 0; k < N; k++) gn += grad[k] * grad[k];
            if (kl < best) {
                best = kl;
                best_iter = i;
            } else if (i - best_iter > patience) break;
            if (sqrt(gn) <= MIN_GRAD_NORM) break;
        }
    }
    *kl_out = kl;
    return i < it1 ? i : it1 - 1;
}

dann_status tsne_run(float *Yout, const float *X, int n, int d, const tsne_opts *o, tsne_stats *st,
                     dann_error *err) {
    if (n < 4 || n > TSNE_MAX_POINTS)
        return dann_fail(err, DANN_ERR_ARG, "t-SNE of %d points: between 4 and %d (exact t-SNE "
                         "costs n^2 memory and time)", n, TSNE_MAX_POINTS);
    if (!(o->perplexity > 0 && o->perplexity < n - 1))
        return dann_fail(err, DANN_ERR_ARG, "t-SNE perplexity %g must be in (0, %d) for %d points",
                         o->perplexity, n - 1, n);
    for (size_t i = 0; i < (size_t)n * d; i++)
        if (!isfinite(X[i]))
            return dann_fail(err, DANN_ERR_NUMERIC, "t-SNE: point %zu holds a non-finite value",
                             i / (size_t)d);
    double *P = dann_calloc((size_t)n * n, sizeof *P, err);
    double *work = P ? dann_calloc((size_t)n * 11, sizeof *work, err) : NULL;
    float *init = work ? dann_calloc((size_t)n * 2, sizeof *init, err) : NULL;
    if (!init) {
        free(P), free(work);
        return DANN_ERR_NOMEM;
    }
    double *Y = work, *grad = work + 2 * n, *update = work + 4 * n, *gains = work + 6 * n,
           *scratch = work + 8 * n;
    dann_status s = DANN_OK;
    /* P first holds the distances, then (row by row, in place) the probabilities */
    tsne_sq_distances(P, X, n, d);
    if (isnan(tsne_joint_p(P, P, n, o->perplexity))) {
        s = dann_fail(err, DANN_ERR_NOMEM, "t-SNE: out of memory");
        goto done;
    }
    if (o->init_pca && d >= 2) {
        if ((s = pca_fit(init, NULL, NULL, X, n, d, 2, err))) goto done;
    } else {
        dann_rng rng;
        rng_seed(&rng, o->seed);
        for (int k = 0; k < 2 * n; k += 2) {  /* Box-Muller */
            double u = 1 - rng_uniform(&rng), v = rng_uniform(&rng), r = sqrt(-2 * log(u));
            init[k] = (float)(r * cos(2 * M_PI * v));
            init[k + 1] = (float)(r * sin(2 * M_PI * v));
        }
    }
    double mean0 = 0, var0 = 0;
    for (int i = 0; i < n; i++) mean0 += init[2 * i];
    mean0 /= n;
    for (int i = 0; i < n; i++) var0 += (init[2 * i] - mean0) * (init[2 * i] - mean0);
    double scale = var0 > 0 ? 1e-4 / sqrt(var0 / n) : 1e-4;  /* np.std: ddof 0 */
    for (int k = 0; k < 2 * n; k++) Y[k] = init[k] * scale;
    double lr = o->learning_rate > 0 ? o->learning_rate : fmax(n / o->exaggeration / 4, 50);
    double kl = 0;
    int exag_end = o->exag_iters < o->iters ? o->exag_iters : o->iters;
    int it = descend(Y, grad, update, gains, scratch, P, o->exaggeration, n, 0, exag_end, 0.5, lr,
                     NO_PROGRESS_EXPLORE, &kl);
    if (o->iters > exag_end)
        it = descend(Y, grad, update, gains, scratch, P, 1, n, it + 1, o->iters, 0.8, lr,
                     NO_PROGRESS, &kl);
    if (st) {
        st->kl = kl_grad(NULL, P, 1, Y, n, scratch, 1);
        st->iters_done = it + 1;
    }
    for (int k = 0; k < 2 * n; k++) Yout[k] = (float)Y[k];
done:
    free(P), free(work), free(init);
    return s;
}
