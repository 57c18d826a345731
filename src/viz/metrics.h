/* metrics.h - reads a run's metrics.jsonl (one flat JSON object per epoch, written by `dann
 * train`; keys in README "Training on the real data") into columns for `dann plot`.
 *
 * Every line must be a flat JSON object (strings, numbers, true/false/null; checked by a small
 * validator, not by looking for keys). A key that is missing or null in a line gives NaN in
 * that row; keys the reader does not know are ignored. A last line without its newline that
 * does not parse (a run killed while writing it) is dropped with a warning; any other line that
 * does not parse is an error naming file:line. A missing file, an empty file or one without a
 * single usable line is an error. */
#ifndef DANN_VIZ_METRICS_H
#define DANN_VIZ_METRICS_H

#include <stddef.h>
#include "dann.h"

enum {
    MET_SOURCE_TEST_ACC = 0, MET_TARGET_TEST_ACC, MET_SOURCE_VAL_ACC, MET_DOMAIN_ACC,
    MET_LOSS_CLASS, MET_LOSS_DOMAIN, MET_LAMBDA, MET_LR, MET_SECONDS, MET_NKEYS
};
/* The JSON key of each column ("source_test_acc", ...). */
extern const char *const metrics_keys[MET_NKEYS];

typedef struct {
    char path[4096];       /* the metrics file read */
    int n;                 /* rows (epochs) */
    double *epoch;         /* n: the "epoch" key, or the previous row's + 1 when absent */
    double *col[MET_NKEYS];/* each n; NaN where the key is missing or null */
    char warning[4200];    /* non-empty when a truncated last line was dropped */
} metrics_run;

/* Reads `where`: a run folder (its metrics.jsonl) or the path of a .jsonl file itself. On
 * failure *r is left empty (metrics_free is safe). */
dann_status metrics_read(metrics_run *r, const char *where, dann_error *err);
void metrics_free(metrics_run *r);

/* 1 when s (up to its end or a newline) is one flat JSON object, else 0. */
int json_flat_object_valid(const char *s);

#endif
