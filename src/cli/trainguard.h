/* trainguard.h - the epoch loop's guards (trainloop.c calls them; README "Reliability"):
 *
 *   - a checkpoint being resumed is checked against the run before any of its fields is used:
 *     its CRCs prove only that the bytes are intact, not that their writer was honest, so the
 *     run position (epoch, step in epoch, optimizer steps), run length, batch, seed, best-so-far
 *     bookkeeping, data-shuffle RNG and the loop's own key/value lines must all be ones this run
 *     could have written;
 *   - divergence that stays finite: a class loss above GUARD_LOSS_FACTOR ln(C) (C classes; ln(C)
 *     is the loss of a uniform guess, where every run starts) at GUARD_LOSS_STEPS consecutive
 *     steps stops the run (a NaN or infinite loss stops it at once, in dann_train_step; non-finite
 *     parameters are caught before every checkpoint write);
 *   - temporary files a killed save left in the run folder are removed when a run starts. */
#ifndef DANN_CLI_TRAINGUARD_H
#define DANN_CLI_TRAINGUARD_H

#include <stdint.h>
#include "dann.h"
#include "io/checkpoint.h"

#define GUARD_LOSS_FACTOR 10.0
#define GUARD_LOSS_STEPS 10

/* What a resumed checkpoint must agree with: the run as configured now. */
typedef struct {
    int epochs, batch, steps_per_epoch, source_val;
    uint64_t seed;
} guard_run;

/* Checks the run position and bookkeeping of checkpoint `path` (meta, and the trainer's step
 * count `steps`) against run r. DANN_ERR_ARG when the run asks for other settings (epochs,
 * batch, seed, an epoch length the stored position does not fit), DANN_ERR_FORMAT for a field
 * no run could have written; the one-line message names path and the field. */
dann_status guard_check_resume(const char *path, const ckpt_meta *meta, int64_t steps,
                               const guard_run *r, dann_error *err);

/* Reads the integer value of key from kv lines into *v when present: 1 found and in [lo, hi],
 * 0 absent, -1 present but not a decimal integer in range. */
int guard_kv_int(const char *kv, const char *key, long long lo, long long hi, long long *v);

/* The finite-divergence watch over the class loss. */
typedef struct {
    double limit;   /* GUARD_LOSS_FACTOR * ln(C) */
    int over;       /* consecutive steps above it */
} guard_watch;

void guard_watch_init(guard_watch *w, int n_classes);
/* Records a step's class loss; 1 when it has been above the limit for GUARD_LOSS_STEPS steps. */
int guard_watch_step(guard_watch *w, double loss_class);

/* Removes the temporary files a killed save can leave in the run folder dir (regular files
 * named *.ckpt.tmp, run.json.tmp, summary.json.tmp, metrics.jsonl.tmp); says so on stdout
 * unless quiet. Returns the number removed. */
int guard_clean_tmp(const char *dir, int quiet);

#endif
