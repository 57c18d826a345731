/* average.h - weight averages evaluated beside the trained model (`--average`, docs/RECIPES.md).
 *
 *   ema[:DECAY]       exponential moving average of the parameters after every step:
 *                     avg = DECAY*avg + (1-DECAY)*w (the first update copies w; default 0.999).
 *                     BatchNorm running statistics are averaged the same way (as timm's
 *                     ModelEmaV2 does); the counters are the model's.
 *   swa[:FROM_EPOCH]  stochastic weight averaging: the mean of the weights at the end of epochs
 *                     FROM_EPOCH.. (default: the last quarter, floor(0.75*epochs) + 1), updated
 *                     as avg += (w - avg)/(n+1) (torch.optim.swa_utils). Its BatchNorm
 *                     statistics are recomputed before each evaluation as
 *                     torch.optim.swa_utils.update_bn does: the cumulative mean of the batch
 *                     statistics of AVG_BN_BATCHES training-mode batches per trained domain.
 * After every evaluated epoch the average is evaluated on the source test, target test and
 * source-val sets (metrics.jsonl: avg_source_test_acc, avg_target_test_acc, avg_source_val_acc)
 * and written to RUN_DIR/avg.ckpt (weights only; kv avg.kind, avg.count, avg.steps). Resuming
 * reads it back: avg.ckpt, or avg.prev.ckpt when a crash came between the two saves, whichever
 * holds the step count of last.ckpt. */
#ifndef DANN_CLI_AVERAGE_H
#define DANN_CLI_AVERAGE_H

#include <stddef.h>
#include <stdint.h>
#include "cli/trainloop.h"

enum { AVG_NONE = 0, AVG_EMA = 1, AVG_SWA = 2 };
#define AVG_BN_BATCHES 50

typedef struct {
    int kind;
    double decay;      /* EMA */
    int from_epoch;    /* SWA, 1-based; 0: floor(0.75*epochs) + 1 */
} avg_opts;

/* Parses "ema", "ema:0.99", "swa", "swa:20" (DANN_ERR_ARG with a one-line message otherwise). */
dann_status avg_parse(avg_opts *o, const char *spec, dann_error *err);
/* The canonical text of o ("ema:0.999", "swa:from-76", ...) for run.json and summaries. */
void avg_format(char *buf, size_t cap, const avg_opts *o, int epochs);

typedef struct avg_state avg_state;
dann_status avg_new(avg_state **out, const avg_opts *o, dann_error *err);
void avg_free(avg_state *a);
/* The loop extension (trainloop_ext) of a; a outlives the run. */
trainloop_ext avg_ext(avg_state *a);
/* The averaged model (NULL before the first update) and its evaluation after the last
 * evaluated epoch (-1 where none). */
dann_model *avg_model(const avg_state *a);
void avg_last(const avg_state *a, double *src_acc, double *tgt_acc, double *val_acc);

/* The updates on n floats: count is the number of earlier updates (count 0 copies x). */
void avg_ema_update(float *avg, const float *x, size_t n, double decay, int64_t count);
void avg_swa_update(float *avg, const float *x, size_t n, int64_t count);

#endif
