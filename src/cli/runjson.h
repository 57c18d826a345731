/* runjson.h - `dann train`'s options and its run folder (runjson.c; cmd_train.c runs the
 * command): run.json, the settings of a run written once and read back on --resume (numbers
 * range-checked, data paths absolute), merged into the options; the checks of a run folder. */
#ifndef DANN_CLI_RUNJSON_H
#define DANN_CLI_RUNJSON_H

#include <stdint.h>
#include "dann.h"

#define SPEC_LEN 4096

/* --mode's words, in dann_mode order, NULL-terminated. */
extern const char *const TRAIN_MODES[];

/* The command line of dann train (cmd_train.c parses it). */
typedef struct {
    const char *preset, *source, *target, *source_test, *target_test, *out, *resume, *arch, *input;
    const char *select, *average, *source_norm, *target_norm;
    int mode;            /* index in TRAIN_MODES, -1 = not given */
    int epochs, batch, threads, source_val, max_steps, eval_max, progress, quiet, chunk, patience,
        select_n, iters_per_epoch;
    int has_seed, has_lr, has_lambda, has_lambda_max, has_gamma;
    uint64_t seed;
    double lr, lambda, lambda_max, gamma;
} train_args;

/* What run.json holds (numbers as read, already range-checked). */
typedef struct {
    char preset[32], mode[32], source[SPEC_LEN], target[SPEC_LEN], source_test[SPEC_LEN],
        target_test[SPEC_LEN], select[128], average[64], source_norm[128], target_norm[128],
        cwd[SPEC_LEN];
    double epochs, batch, max_steps, eval_max, source_val, lr, seed_lo, seed_hi, chunk, patience,
        select_n, iters_per_epoch, threads;
} run_info;

/* Writes dir/run.json atomically with a's settings, the mode's name, cfg's schedule values,
 * the test specs, the network and the thread count; 0, or 1 after printing why. */
int train_write_run_json(const char *dir, const train_args *a, const char *mode,
                         const dann_train_config *cfg, const char *src_test, const char *tgt_test,
                         const char *net, int threads);
/* Reads dir/run.json into r: 0, or 1 after printing one line naming the file (and the key of a
 * number out of range). */
int train_read_run_json(const char *dir, run_info *r);
/* Fills a's unset options from r; 2 (a usage error, printed) when a given option contradicts
 * the run being resumed. */
int train_merge_resume(train_args *a, run_info *r);
/* 0 when dir can hold a fresh run (see runjson.c); otherwise prints why and returns 1. Creates
 * nothing. */
int train_check_run_folder(const char *dir);
/* mkdir -p; 0, or -1 with errno (ENOTDIR when dir is not a folder). */
int train_mkdir_p(const char *dir);

#endif
