/* fuzz_json.c - libFuzzer target: the JSON readers of the CLI on arbitrary text.
 *   - src/cli/json.c (json_get_num / json_get_str), as `dann train --resume` reads run.json:
 *     every key run.json holds, plus one the text itself names;
 *   - src/viz/metrics.c: json_flat_object_valid and metrics_read, which `dann plot` runs on a
 *     run's metrics.jsonl (through a temporary file: it takes a path).
 * Seeds: fuzz/corpus/json/ (a run.json and metrics.jsonl lines as dann train writes them). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "cli/json.h"
#include "viz/metrics.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *const KEYS[] = {
    "preset", "arch", "mode", "source", "target", "source_test", "target_test", "epochs",
    "batch", "seed", "seed_lo", "seed_hi", "max_steps", "chunk", "eval_max", "source_val", "lr",
    "patience", "lambda", "select", "select_n", "average", "version", "epoch", NULL};

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
    free(s);
    return 0;
}
