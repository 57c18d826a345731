/* samples.h - the examples `dann pad` and `dann embed` work on: n images drawn at random (seeded)
 * from one split of a dataset spec, as the model's inputs (normalised as in training, grey
 * repeated over 3 channels) or as a checkpoint's features (dann_model_features, eval mode). */
#ifndef DANN_VIZ_SAMPLES_H
#define DANN_VIZ_SAMPLES_H

#include <stdint.h>
#include "data/data.h"
#include "dann.h"

typedef struct {
    dataset ds;        /* the whole split, as loaded */
    int n;             /* examples drawn */
    int32_t *idx;      /* their indices in ds */
    int32_t *y;        /* their labels (-1 when unlabelled) */
    float *x;          /* inputs (n, c * h * w) */
    int c, h, w;
} sample_set;

/* Loads `spec` (split DATA_TRAIN / DATA_TEST) at h x w and draws min(n, size) examples with an
 * RNG seeded with seed (all of them, in order, when n <= 0), gathered as c-channel inputs. On
 * failure *s is left empty (sample_free is safe). */
dann_status sample_load(sample_set *s, const char *spec, int split, int n, uint64_t seed, int c,
                        int h, int w, dann_error *err);
/* sample_load in two steps: sample_open loads the split (its examples are not drawn yet; a
 * vector file keeps its own dimension), sample_draw draws them - for feature vectors as c = D
 * numbers (h = w = 1), the dimension the file takes (vec_set_dim). */
dann_status sample_open(sample_set *s, const char *spec, int split, int h, int w,
                        dann_error *err);
dann_status sample_draw(sample_set *s, int n, uint64_t seed, int c, int h, int w,
                        dann_error *err);
void sample_free(sample_set *s);

/* The features of m for the drawn examples: a malloc'd (s->n, dann_model_feature_dim(m)) array
 * in *feat. The model's input shape must be the samples' (c, h, w). */
dann_status sample_features(float **feat, const sample_set *s, dann_model *m, dann_error *err);

#endif
