/* fuzz_json.c - libFuzzer target: the JSON readers of the CLI on arbitrary text.
 *   - src/cli/json.c (json_get_num / json_get_str), as `dann train --resume` reads run.json:
 *     every key run.json holds, plus one the text itself names;
 *   - src/cli/runjson.c: train_read_run_json (its range checks, the cwd-relative paths) on the
 *     text as a run folder's run.json, then train_merge_resume into a command line that gives
 *     nothing (the casts to int after the checks);
 *   - src/cli/exp_read.c: exp_read_run, which `dann experiment` runs on every run folder
 *     (run.json, summary.json, metrics.jsonl: all three hold the text);
 *   - src/viz/metrics.c: json_flat_object_valid and metrics_read, which `dann plot` runs on a
 *     run's metrics.jsonl (the readers take paths: the text goes through temporary files).
 * Seeds: fuzz/corpus/json/ (a run.json and metrics.jsonl lines as dann train writes them). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include "cli/exp.h"
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

    /* A run folder whose run.json, summary.json and metrics.jsonl all hold the text: read as
     * dann plot (metrics.jsonl), dann train --resume (run.json) and dann experiment (all three)
     * read them. */
    char dir[64];
    snprintf(dir, sizeof dir, "/tmp/fuzz-json-%d.run", (int)getpid());
    mkdir(dir, 0700);
    static const char *const FILES[] = {"run.json", "summary.json", "metrics.jsonl"};
    char path[3][96];
    int written = 0;
    for (int k = 0; k < 3; k++) {
        snprintf(path[k], sizeof path[k], "%s/%s", dir, FILES[k]);
        FILE *f = fopen(path[k], "wb");
        if (f) written += fwrite(data, 1, size, f) == size, fclose(f);
    }
    if (written == 3) {
        metrics_run r;
        dann_error err;
        if (metrics_read(&r, path[2], &err) == DANN_OK) metrics_free(&r);
        static run_info ri;  /* 25 KiB of paths */
        train_args a;
        memset(&a, 0, sizeof a);
        a.mode = -1;  /* "not given", as cmd_train.c's defaults */
        a.source_val = a.max_steps = a.eval_max = a.chunk = a.patience = a.iters_per_epoch = -1;
        if (train_read_run_json(dir, &ri) == 0) train_merge_resume(&a, &ri);
        static exp_result x;
        char msg[512];
        exp_read_run(dir, &x, msg, sizeof msg);
    }
    for (int k = 0; k < 3; k++) unlink(path[k]);
    rmdir(dir);
    free(s);
    return 0;
}
