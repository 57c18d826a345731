/* exp_testutil.h - helpers for the recipe, selection, averaging and experiment tests: tiny
 * in-memory image sets, loop options, and readers of a run's metrics.jsonl / summary.json. */
#ifndef DANN_EXP_TESTUTIL_H
#define DANN_EXP_TESTUTIL_H

#include "cli/trainloop.h"

/* n images (c, s, s) of n_classes classes: class k = i % n_classes is a bright block at a
 * class-dependent place, plus deterministic noise (seed); `shift` brightens every pixel
 * (another "domain"). mean/std 0.5/0.5. */
void exp_make_ds(dataset *ds, int n, int c, int s, int n_classes, uint32_t seed, int shift,
                 const char *name);
/* Quiet loop options: epochs, batch per domain, seed 5, run folder out (may be NULL). */
trainloop_opts exp_opts(int epochs, int batch, const char *out);
/* A preset's configuration with mode. */
dann_train_config exp_cfg(const char *preset, dann_mode mode);
/* The numbers under `key` in each line of a metrics.jsonl (up to max); returns the lines read
 * (-1 when the file cannot be opened). A line without the key gives NAN. */
int exp_metrics(const char *path, const char *key, double *v, int max);
/* A number of a one-object JSON file (summary.json); NAN when absent. */
double exp_json_num(const char *path, const char *key);

#endif
