/* extutil.h - small helpers shared by the loop's extensions (select.c, average.c, revval.c):
 * model copies, weights-only checkpoints in the run folder, batches of chosen examples. */
#ifndef DANN_CLI_EXTUTIL_H
#define DANN_CLI_EXTUTIL_H

#include <stddef.h>
#include <stdint.h>
#include "dann.h"
#include "data/data.h"

/* A new model with m's network (max_batch images) and m's parameters, BatchNorm statistics and
 * counters. */
dann_status ext_clone(dann_model **out, dann_model *m, int max_batch, dann_error *err);
/* Copies src's parameters, BatchNorm statistics and counters into dst (the same network). */
void ext_copy_weights(dann_model *dst, dann_model *src);
/* Writes m without a trainer to dir/name atomically, with meta's epoch and kv lines (kv may be
 * NULL) after the run's data lines (ext_data_kv). */
/* The run's data lines (class names, normalisation: domains.h) that every checkpoint an
 * extension writes starts with; the text must outlive the run. */
void ext_data_kv(const char *kv);
dann_status ext_save_weights(const char *dir, const char *name, const dann_model *m, int epoch,
                             const char *kv, dann_error *err);
/* dir/name into out (cap bytes). */
void ext_path(char *out, size_t cap, const char *dir, const char *name);

/* The first n of a permutation of [0, N) drawn from seed (n <= N), into idx. */
void ext_pick(int32_t *idx, int n, int N, uint64_t seed);

/* Eval-mode class log-probabilities (n, n_classes) or features (n, feature dim) of ds's
 * examples idx[0..n) (idx NULL: the first n); labels into y when non-NULL. The output arrays
 * are malloc'd (caller frees). */
dann_status ext_predict(dann_model *m, const dataset *ds, const int32_t *idx, int n, int features,
                        float **out, int32_t *y, dann_error *err);

#endif
