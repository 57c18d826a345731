/* trust.c - trustworthiness of an embedding, computed as sklearn.manifold.trustworthiness does
 * (euclidean distances; ranks in the input space by a full sort of each row, self excluded; the
 * k nearest embedded neighbours, self excluded). Rows run in parallel; the per-row penalties are
 * integers summed serially, so the value does not depend on the thread count. */
#include <math.h>
#include <stdlib.h>
#include "core/core.h"
#include "viz/dimred.h"

typedef struct { double d; int j; } nb;

static int nb_cmp(const void *a, const void *b) {
    const nb *x = a, *y = b;
    if (x->d != y->d) return x->d < y->d ? -1 : 1;
    return x->j - y->j;  /* ties by index: a fixed order */
}

static double sq_dist(const float *a, const float *b, int d) {
    double s = 0;
    for (int t = 0; t < d; t++) {
        double v = (double)a[t] - b[t];
        s += v * v;
    }
    return s;
}

double trustworthiness(const float *X, int dx, const float *Y, int dy, int n, int k) {
    DANN_ASSERT(k >= 1 && 2 * k < n);
    long long *pen = calloc((size_t)n, sizeof *pen);
    if (!pen) return NAN;
    int failed = 0;
#pragma omp parallel reduction(| : failed) if (n >= 256)
    {
        nb *buf = malloc(sizeof(nb) * (size_t)n);
        int *rank = malloc(sizeof(int) * (size_t)n);
        failed = !buf || !rank;
#pragma omp for schedule(dynamic, 8)
        for (int i = 0; i < n; i++) {
            if (!buf || !rank) continue;
            int m = 0;
            for (int j = 0; j < n; j++)
                if (j != i) buf[m++] = (nb){sq_dist(X + (size_t)i * dx, X + (size_t)j * dx, dx), j};
            qsort(buf, (size_t)m, sizeof *buf, nb_cmp);
            for (int r = 0; r < m; r++) rank[buf[r].j] = r + 1;
            m = 0;
            for (int j = 0; j < n; j++)
                if (j != i) buf[m++] = (nb){sq_dist(Y + (size_t)i * dy, Y + (size_t)j * dy, dy), j};
            qsort(buf, (size_t)m, sizeof *buf, nb_cmp);
            long long p = 0;
            for (int r = 0; r < k; r++)
                if (rank[buf[r].j] > k) p += rank[buf[r].j] - k;
            pen[i] = p;
        }
        free(buf);
        free(rank);
    }
    long long t = 0;
    for (int i = 0; i < n; i++) t += pen[i];
    free(pen);
    if (failed) return NAN;
    return 1.0 - (double)t * (2.0 / ((double)n * k * (2.0 * n - 3.0 * k - 1.0)));
}
