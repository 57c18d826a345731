/* pca.c - principal components by subspace iteration on the covariance (or Gram) matrix.
 *
 * With R the centred data arranged so that its rows are the shorter side (R = Xc^T, (d, n),
 * when d <= n; R = Xc, (n, d), otherwise), S = R R^T is m x m, m = min(n, d), and its top
 * eigenvectors give the components (d <= n) or the normalised projections (n < d). S is formed
 * in double, one row per task, each entry a dot product in a fixed order, so the result does
 * not depend on the thread count. A block of b = k + 8 vectors is multiplied by S, the
 * Rayleigh-Ritz problem of the block solved by cyclic Jacobi and the block re-orthonormalised
 * (modified Gram-Schmidt) until the top k Ritz pairs have residuals below 1e-9 of the top
 * eigenvalue. numpy's SVD is the reference in the tests. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "core/core.h"
#include "viz/dimred.h"

#define PCA_MAX_K 16
#define PCA_EXTRA 8
#define PCA_MAX_ITERS 3000

/* Eigen-decomposition of the symmetric b x b matrix A (destroyed): eigenvalues lam and
 * eigenvectors as the columns of V, sorted by decreasing eigenvalue. */
static void jacobi_eigen(double *A, int b, double *lam, double *V) {
    for (int i = 0; i < b * b; i++) V[i] = 0;
    for (int i = 0; i < b; i++) V[i * b + i] = 1;
    for (int sweep = 0; sweep < 100; sweep++) {
        double off = 0, norm = 0;
        for (int i = 0; i < b; i++)
            for (int j = 0; j < b; j++) {
                norm += A[i * b + j] * A[i * b + j];
                if (i != j) off += A[i * b + j] * A[i * b + j];
            }
        if (off <= 1e-30 * norm || norm == 0) break;
        for (int p = 0; p < b; p++)
            for (int q = p + 1; q < b; q++) {
                double apq = A[p * b + q];
                if (apq == 0) continue;
                double theta = (A[q * b + q] - A[p * b + p]) / (2 * apq);
                double t = (theta >= 0 ? 1 : -1) / (fabs(theta) + sqrt(theta * theta + 1));
                double c = 1 / sqrt(t * t + 1), s = t * c;
                for (int k = 0; k < b; k++) {  /* A <- J^T A J: columns, then rows */
                    double akp = A[k * b + p], akq = A[k * b + q];
                    A[k * b + p] = c * akp - s * akq;
                    A[k * b + q] = s * akp + c * akq;
                }
                for (int k = 0; k < b; k++) {
                    double apk = A[p * b + k], aqk = A[q * b + k];
                    A[p * b + k] = c * apk - s * aqk;
                    A[q * b + k] = s * apk + c * aqk;
                }
                for (int k = 0; k < b; k++) {
                    double vkp = V[k * b + p], vkq = V[k * b + q];
                    V[k * b + p] = c * vkp - s * vkq;
                    V[k * b + q] = s * vkp + c * vkq;
                }
            }
    }
    for (int i = 0; i < b; i++) lam[i] = A[i * b + i];
    for (int i = 0; i < b; i++) {  /* selection sort, descending, columns of V with them */
        int best = i;
        for (int j = i + 1; j < b; j++)
            if (lam[j] > lam[best]) best = j;
        if (best == i) continue;
        double t = lam[i];
        lam[i] = lam[best];
        lam[best] = t;
        for (int k = 0; k < b; k++) {
            t = V[k * b + i];
            V[k * b + i] = V[k * b + best];
            V[k * b + best] = t;
        }
    }
}

/* Orthonormalises the b columns of Q (m, b) in place by modified Gram-Schmidt, twice; a column
 * that vanishes (rank below b) is replaced by a fresh random direction. */
static void orthonormalise(double *Q, int m, int b, dann_rng *rng) {
    for (int c = 0; c < b; c++)
        for (int pass = 0; pass < 3; pass++) {
            double before = 0;
            for (int i = 0; i < m; i++) before += Q[i * b + c] * Q[i * b + c];
            for (int p = 0; p < c; p++) {
                double dot = 0;
                for (int i = 0; i < m; i++) dot += Q[i * b + p] * Q[i * b + c];
                for (int i = 0; i < m; i++) Q[i * b + c] -= dot * Q[i * b + p];
            }
            double nn = 0;
            for (int i = 0; i < m; i++) nn += Q[i * b + c] * Q[i * b + c];
            if (nn <= 1e-20 * before || nn == 0) {
                for (int i = 0; i < m; i++) Q[i * b + c] = rng_uniform(rng) - 0.5;
                continue;  /* orthogonalise the new direction on the next pass */
            }
            double inv = 1 / sqrt(nn);
            for (int i = 0; i < m; i++) Q[i * b + c] *= inv;
            if (pass >= 1) break;
        }
}

/* Top-k eigenpairs of the symmetric PSD S (m, m): vectors U (m, k) and values lam (k). */
static dann_status top_eigen(double *U, double *lam, const double *S, int m, int k, dann_error *err) {
    int b = k + PCA_EXTRA < m ? k + PCA_EXTRA : m;
    double *Q = dann_calloc((size_t)m * b, sizeof *Q, err);
    double *Z = dann_calloc((size_t)m * b, sizeof *Z, err);
    double *T = dann_calloc((size_t)b * b * 2, sizeof *T, err), *W = T ? T + b * b : NULL;
    double *mu = dann_calloc((size_t)b, sizeof *mu, err);
    if (!Q || !Z || !T || !mu) {
        free(Q), free(Z), free(T), free(mu);
        return DANN_ERR_NOMEM;
    }
    dann_rng rng;
    rng_seed(&rng, 0x9ca5eedULL);
    for (size_t i = 0; i < (size_t)m * b; i++) Q[i] = rng_uniform(&rng) - 0.5;
    orthonormalise(Q, m, b, &rng);
    for (int it = 0; it < PCA_MAX_ITERS; it++) {
#pragma omp parallel for schedule(static) if (m >= 256)
        for (int i = 0; i < m; i++)  /* Z = S Q */
            for (int c = 0; c < b; c++) {
                double s = 0;
                for (int j = 0; j < m; j++) s += S[(size_t)i * m + j] * Q[(size_t)j * b + c];
                Z[(size_t)i * b + c] = s;
            }
        for (int p = 0; p < b; p++)  /* T = Q^T S Q */
            for (int q = 0; q < b; q++) {
                double s = 0;
                for (int i = 0; i < m; i++) s += Q[(size_t)i * b + p] * Z[(size_t)i * b + q];
                T[p * b + q] = s;
            }
        for (int p = 0; p < b; p++)
            for (int q = p + 1; q < b; q++) T[p * b + q] = T[q * b + p] = (T[p * b + q] + T[q * b + p]) / 2;
        jacobi_eigen(T, b, mu, W);
        /* residuals of the top k Ritz pairs: |S (Q w) - mu (Q w)| = |Z w - mu Q w| */
        double worst = 0;
        for (int c = 0; c < k; c++) {
            double r2 = 0;
            for (int i = 0; i < m; i++) {
                double zw = 0, qw = 0;
                for (int p = 0; p < b; p++) {
                    zw += Z[(size_t)i * b + p] * W[p * b + c];
                    qw += Q[(size_t)i * b + p] * W[p * b + c];
                }
                r2 += (zw - mu[c] * qw) * (zw - mu[c] * qw);
            }
            worst = fmax(worst, sqrt(r2));
        }
        int done = worst <= 1e-9 * fmax(mu[0], 1e-300) || it == PCA_MAX_ITERS - 1;
        /* the Ritz vectors Q W are the answer; Z W = S Q W the next block */
        double *src = done ? Q : Z;
        for (int i = 0; i < m; i++) {
            double row[PCA_MAX_K + PCA_EXTRA];
            for (int c = 0; c < b; c++) {
                double s = 0;
                for (int p = 0; p < b; p++) s += src[(size_t)i * b + p] * W[p * b + c];
                row[c] = s;
            }
            memcpy(&Q[(size_t)i * b], row, sizeof(double) * b);
        }
        if (done) break;
        orthonormalise(Q, m, b, &rng);
    }
    for (int i = 0; i < m; i++)
        for (int c = 0; c < k; c++) U[(size_t)i * k + c] = Q[(size_t)i * b + c];
    for (int c = 0; c < k; c++) lam[c] = mu[c] > 0 ? mu[c] : 0;
    free(Q), free(Z), free(T), free(mu);
    return DANN_OK;
}

dann_status pca_fit(float *proj, float *comps, double *var, const float *X, int n, int d, int k,
                    dann_error *err) {
    if (n < 2 || d < 1 || k < 1 || k > PCA_MAX_K || k > n || k > d)
        return dann_fail(err, DANN_ERR_ARG, "PCA of %d points in %d dimensions: %d components "
                         "asked (1 to min(points, dimensions, %d))", n, d, k, PCA_MAX_K);
    int gram = n < d, m = gram ? n : d, len = gram ? d : n;
    double *mean = dann_calloc((size_t)d, sizeof *mean, err);
    double *R = mean ? dann_calloc((size_t)m * len, sizeof *R, err) : NULL;
    double *S = R ? dann_calloc((size_t)m * m, sizeof *S, err) : NULL;
    double *U = S ? dann_calloc((size_t)m * k, sizeof *U, err) : NULL;
    double *C = U ? dann_calloc((size_t)k * d, sizeof *C, err) : NULL;
    double lam[PCA_MAX_K];
    dann_status st = C ? DANN_OK : DANN_ERR_NOMEM;
    if (st) goto done;
    for (int i = 0; i < n; i++)
        for (int j = 0; j < d; j++) mean[j] += X[(size_t)i * d + j];
    for (int j = 0; j < d; j++) mean[j] /= n;
    for (int i = 0; i < n; i++)
        for (int j = 0; j < d; j++) {
            double v = X[(size_t)i * d + j] - mean[j];
            if (!isfinite(v)) {
                st = dann_fail(err, DANN_ERR_NUMERIC, "PCA: point %d holds a non-finite value", i);
                goto done;
            }
            if (gram) R[(size_t)i * d + j] = v;
            else R[(size_t)j * n + i] = v;
        }
#pragma omp parallel for schedule(dynamic, 8) if (m >= 64)
    for (int a = 0; a < m; a++)
        for (int b = a; b < m; b++) {
            const double *ra = R + (size_t)a * len, *rb = R + (size_t)b * len;
            double s = 0;
            for (int t = 0; t < len; t++) s += ra[t] * rb[t];
            S[(size_t)a * m + b] = S[(size_t)b * m + a] = s;
        }
    if ((st = top_eigen(U, lam, S, m, k, err))) goto done;
    /* components C (k, d): U's columns (d <= n), or R^T u / sqrt(lam) (n < d) */
    for (int c = 0; c < k; c++) {
        if (!gram)
            for (int j = 0; j < d; j++) C[(size_t)c * d + j] = U[(size_t)j * k + c];
        else if (lam[c] > 0) {
            double inv = 1 / sqrt(lam[c]);
            for (int j = 0; j < d; j++) {
                double s = 0;
                for (int i = 0; i < n; i++) s += R[(size_t)i * d + j] * U[(size_t)i * k + c];
                C[(size_t)c * d + j] = s * inv;
            }
        }
        int big = 0;
        for (int j = 1; j < d; j++)
            if (fabs(C[(size_t)c * d + j]) > fabs(C[(size_t)c * d + big])) big = j;
        if (C[(size_t)c * d + big] < 0)
            for (int j = 0; j < d; j++) C[(size_t)c * d + j] = -C[(size_t)c * d + j];
    }
#pragma omp parallel for schedule(static) if (n >= 256)
    for (int i = 0; i < n; i++)
        for (int c = 0; c < k; c++) {
            double s = 0;
            for (int j = 0; j < d; j++) s += ((double)X[(size_t)i * d + j] - mean[j]) * C[(size_t)c * d + j];
            proj[(size_t)i * k + c] = (float)s;
        }
    for (int c = 0; c < k; c++) {
        if (var) var[c] = lam[c] / (n - 1);
        if (comps)
            for (int j = 0; j < d; j++) comps[(size_t)c * d + j] = (float)C[(size_t)c * d + j];
    }
done:
    free(mean), free(R), free(S), free(U), free(C);
    return st;
}
