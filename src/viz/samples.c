/* samples.c - seeded draws of examples from a dataset, as inputs or features (see samples.h). */
#include <stdlib.h>
#include <string.h>
#include "core/core.h"
#include "data/vec.h"
#include "viz/samples.h"

void sample_free(sample_set *s) {
    dataset_free(&s->ds);
    free(s->idx);
    free(s->y);
    free(s->x);
    memset(s, 0, sizeof *s);
}

dann_status sample_open(sample_set *s, const char *spec, int split, int h, int w,
                        dann_error *err) {
    memset(s, 0, sizeof *s);
    return dataset_load(&s->ds, spec, split, h, w, err);
}

dann_status sample_load(sample_set *s, const char *spec, int split, int n, uint64_t seed, int c,
                        int h, int w, dann_error *err) {
    dann_status st = sample_open(s, spec, split, h, w, err);
    if (!st) st = sample_draw(s, n, seed, c, h, w, err);
    return st;
}

dann_status sample_draw(sample_set *s, int n, uint64_t seed, int c, int h, int w,
                        dann_error *err) {
    if (s->ds.vec) {
        dann_status st = vec_set_dim(&s->ds, c, err);
        if (st) {
            sample_free(s);
            return st;
        }
    } else if (!(c == s->ds.c || (c == 3 && s->ds.c == 1))) {
        sample_free(s);
        return dann_fail(err, DANN_ERR_ARG, "%s: %d-channel images, but %d channels are needed",
                         s->ds.name, s->ds.c, c);
    }
    int total = s->ds.n, all = n <= 0 || n >= total;
    s->n = all ? total : n;
    s->c = c, s->h = h, s->w = w;
    s->idx = dann_calloc((size_t)total, sizeof *s->idx, err);
    s->y = s->idx ? dann_calloc((size_t)s->n, sizeof *s->y, err) : NULL;
    s->x = s->y ? dann_calloc((size_t)s->n * c * h * w, sizeof *s->x, err) : NULL;
    if (!s->x) {
        sample_free(s);
        return DANN_ERR_NOMEM;
    }
    for (int i = 0; i < total; i++) s->idx[i] = i;
    if (!all) {
        dann_rng rng;
        rng_seed(&rng, seed);
        rng_shuffle(&rng, s->idx, total);
    }
    dataset_gather(s->x, s->y, &s->ds, s->idx, s->n, c);
    return DANN_OK;
}

dann_status sample_features(float **feat, const sample_set *s, dann_model *m, dann_error *err) {
    int c, h, w, nc;
    dann_model_shape(m, &c, &h, &w, &nc);
    DANN_ASSERT(c == s->c && h == s->h && w == s->w);
    size_t F = (size_t)dann_model_feature_dim(m);
    if (!(*feat = dann_calloc((size_t)s->n * F, sizeof **feat, err))) return DANN_ERR_NOMEM;
    dann_model_features(m, s->x, s->n, *feat);
    return DANN_OK;
}
