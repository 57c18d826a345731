/* netdist.c - chunked sums for data-parallel steps (docs/SCALING.md).
 *
 * A pass's batch of Bg examples is cut into K = ceil(Bg / chunk) chunks; rank r of n holds the
 * contiguous chunks [r*K/n, (r+1)*K/n). A sum over the batch is computed as one partial per
 * chunk (by whichever rank holds it), the partials are gathered to every rank in chunk order
 * and added left to right: acc = p0; acc += p1; ... So the result is the same bits for any n,
 * 1 included, and every rank applies the same update. */
#include <string.h>
#include "model/model.h"

void dann_dist_slice(const dann_dist *d, int B, int *first, int *count) {
    if (!d || d->chunk <= 0 || d->n_ranks <= 1) {
        *first = 0, *count = B;
        return;
    }
    const int K = (B + d->chunk - 1) / d->chunk;
    const int k0 = (int)((long)d->rank * K / d->n_ranks), k1 = (int)((long)(d->rank + 1) * K / d->n_ranks);
    const int b0 = k0 * d->chunk, b1 = k1 * d->chunk < B ? k1 * d->chunk : B;
    *first = b0 < B ? b0 : B;
    *count = b1 > *first ? b1 - *first : 0;
}

static void rank_chunks(const dann_dist *d, int K, int r, int *k0, int *k1) {
    *k0 = (int)((long)r * K / d->n_ranks);
    *k1 = (int)((long)(r + 1) * K / d->n_ranks);
}

void dist_layout(dann_model *m, pass_t *p, int B, int B_total) {
    const dann_dist *d = &m->dist;
    p->Bg = B_total > 0 ? B_total : B;
    if (d->chunk <= 0) {
        p->first = p->k0 = p->k1 = 0;
        return;
    }
    const int K = (p->Bg + d->chunk - 1) / d->chunk;
    rank_chunks(d, K, d->n_ranks > 1 ? d->rank : 0, &p->k0, &p->k1);
    if (d->n_ranks <= 1) p->k0 = 0, p->k1 = K;
    int first, count;
    dann_dist_slice(d, p->Bg, &first, &count);
    DANN_ASSERT(count == B);  // the caller passes exactly this rank's examples
    p->first = first;
}

int dist_chunks(const dann_model *m, const pass_t *p) { return (p->Bg + m->dist.chunk - 1) / m->dist.chunk; }

void dist_chunk(const dann_model *m, const pass_t *p, int k, int *b0, int *n) {
    const int c = m->dist.chunk, s = k * c, e = s + c < p->Bg ? s + c : p->Bg;
    *b0 = s - p->first;  // relative to this rank's first example
    *n = e - s;
}

/* all (K chunks of per bytes, chunk order) from mine (this rank's chunks, in order). */
void dist_gather(dann_model *m, const pass_t *p, const void *mine, size_t per, void *all) {
    const dann_dist *d = &m->dist;
    const int K = dist_chunks(m, p);
    if (d->n_ranks <= 1) {
        memmove(all, mine, (size_t)K * per);
        return;
    }
    size_t bytes[1024];
    DANN_ASSERT(d->n_ranks <= 1024);
    for (int r = 0; r < d->n_ranks; r++) {
        int k0, k1;
        rank_chunks(d, K, r, &k0, &k1);
        bytes[r] = (size_t)(k1 - k0) * per;
    }
    if (m->dist_failed || d->allgather(d->ctx, mine, all, bytes)) {
        m->dist_failed = 1;
        memset(all, 0, (size_t)K * per);
    }
}

/* One int from every rank (flags, counts), in rank order. */
void dist_gather_int(dann_model *m, int mine, int *all) {
    const dann_dist *d = &m->dist;
    if (d->n_ranks <= 1) {
        all[0] = mine;
        return;
    }
    size_t bytes[1024];
    for (int r = 0; r < d->n_ranks; r++) bytes[r] = sizeof(int);
    if (m->dist_failed || d->allgather(d->ctx, &mine, all, bytes)) {
        m->dist_failed = 1;
        memset(all, 0, sizeof(int) * (size_t)d->n_ranks);
    }
}

void dist_fold_d(double *acc, const double *all, int K, size_t n) {
    memcpy(acc, all, n * sizeof(double));
    for (int k = 1; k < K; k++)
        for (size_t i = 0; i < n; i++) acc[i] += all[(size_t)k * n + i];
}

void dist_fold_f(float *acc, const float *all, int K, size_t n) {
    memcpy(acc, all, n * sizeof(float));
    for (int k = 1; k < K; k++) {
        const float *a = all + (size_t)k * n;
        for (size_t i = 0; i < n; i++) acc[i] += a[i];
    }
}
