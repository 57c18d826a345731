/* fuzz_json.c - libFuzzer target: the JSON readers of the CLI on arbitrary text.
 *   - src/cli/json.c (json_get_num / json_get_str), as `dann train --resume` reads run.json:
 *     every key run.json holds, plus one the text itself names;
 *   - src/cli/runjson.c: train_read_run_json (its range checks, the cwd-relative paths) on the
 *     text as a run folder's run.json, then train_merge_resume into a command line that gives
 *     nothing (the casts to int after the checks);
 *   - src/viz/metrics.c: json_flat_object_valid and metrics_read, which `dann plot` runs on a
 *     run's metrics.jsonl (through a temporary file: it takes a path).
 * Seeds: fuzz/corpus/json/ (a run.json and metrics.jsonl lines as dann train writes them). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include "cli/json.h"
#include "cli/runjson.h"
#include "viz/metrics.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *const KEYS[] = {
    "preset", "arch", "mode", "source", "target", "source_test", "target_test", "epochs",
    "batch", "seed", "seed_lo", "seed_hi", "max_steps", "chunk", "eval_max", "source_val", "lr",
    "patience", "lambda", "select", "select_n", "average", "version", "epoch", "cwd", "threads",
    "iters_per_epoch", "lambda_max", "gamma", "source_norm", "target_norm", NULL};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    char *s = malloc(size + 1), out[256], key[64];
    if (!s) return 0;
    memcpy(s, data, size);
    s[size] = 0;
    double x;
    for (int k = 0; KEYS[k]; k++) {
        json_get_num(s, KEYS[k], &x);
        json_get_str(s, KEYS[k], out, sizeof out);
        json_get_str(s, KEYS[k], out, 1);
    }
    /* A key taken from the text (its first quoted word), so odd keys are looked up too. */
    const char *q = strchr(s, '"');
    if (q) {
        size_t n = strcspn(q + 1, "\"");
        if (n < sizeof key) {
            memcpy(key, q + 1, n);
            key[n] = 0;
            json_get_num(s, key, &x);
            json_get_str(s, key, out, sizeof out);
        }
    }
    json_flat_object_valid(s);

    char path[64];
    snprintf(path, sizeof path, "/tmp/fuzz-json-%d.jsonl", (int)getpid());
    FILE *f = fopen(path, "wb");
    if (f) {
        fwrite(data, 1, size, f);
        fclose(f);
        metrics_run r;
        dann_error err;
        if (metrics_read(&r, path, &err) == DANN_OK) metrics_free(&r);
        unlink(path);
    }
    /* run.json in a folder of its own, as --resume reads it */
    char dir[64], rj[96];
    snprintf(dir, sizeof dir, "/tmp/fuzz-json-%d.run", (int)getpid());
    snprintf(rj, sizeof rj, "%s/run.json", dir);
    mkdir(dir, 0700);
    f = fopen(rj, "wb");
    if (f) {
        fwrite(data, 1, size, f);
        fclose(f);
        static run_info ri;  /* 25 KiB of paths */
        train_args a;
        memset(&a, 0, sizeof a);
        a.mode = -1;  /* "not given", as cmd_train.c's defaults */
        a.source_val = a.max_steps = a.eval_max = a.chunk = a.patience = a.iters_per_epoch = -1;
        if (train_read_run_json(dir, &ri) == 0) train_merge_resume(&a, &ri);
        unlink(rj);
    }
    rmdir(dir);
    free(s);
    return 0;
}
