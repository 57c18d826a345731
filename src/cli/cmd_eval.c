/* cmd_eval.c - `dann eval`: accuracy, per-class accuracy and confusion matrix of a checkpoint on
 * a labelled dataset, as a readable report or one JSON object (--json). The images go through
 * the same pipeline as in training (data.h: decoded once, resized to the model's input, the
 * dataset kind's normalisation per batch) and the model runs in eval mode (running BatchNorm
 * statistics, no dropout), via model_evaluate. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "cli/args.h"
#include "cli/cli.h"
#include "cli/json_out.h"
#include "data/data.h"
#include "io/checkpoint.h"
#include "model/evaluate.h"

#define EVAL_BATCH 64  /* activation memory is ~1.7 MB per image of batch (two passes + grads) */

static void usage(FILE *f) {
    fprintf(f,
            "usage: dann eval --model CKPT --data SPEC [options]\n"
            "\n"
            "Accuracy, per-class accuracy and confusion matrix of a checkpoint in eval mode.\n"
            "\n"
            "  --model CKPT        checkpoint written by `dann train` or `dann import`\n"
            "  --data SPEC         labelled dataset: mnist:DIR, mnistm:PATH or folder:DIR\n"
            "                      (images are resized to the model's input and normalised as\n"
            "                      in training: MNIST 0.1307/0.3081, MNIST-M and folders 0.5/0.5)\n"
            "  --split test|train  which split of mnist:/mnistm: (default test)\n"
            "  --max N             evaluate only the first N images\n"
            "  --json              print one JSON object: model, data, split, n, correct,\n"
            "                      accuracy, per_class (accuracy per true label, null when the\n"
            "                      label has no image), per_class_n, confusion (rows: true label,\n"
            "                      columns: prediction)\n"
            "  --threads T         threads for the kernels (default 1)\n"
            "  --help              this text\n");
}

static void print_text(const char *model, const char *spec, const char *split, const char *arch,
                       const eval_result *r, const int64_t *conf, int NC) {
    printf("model     %s (%s)\n", model, arch);
    printf("data      %s, %s split, %lld labelled images\n", spec, split, (long long)r->n);
    printf("accuracy  %.4f  (%lld / %lld)\n\n", r->accuracy, (long long)r->correct,
           (long long)r->n);
    printf("per-class accuracy\n  class        n  correct  accuracy\n");
    for (int c = 0; c < NC; c++) {
        int64_t n = 0;
        for (int p = 0; p < NC; p++) n += conf[(size_t)c * NC + p];
        int64_t ok = conf[(size_t)c * NC + c];
        if (n) printf("  %5d %8lld %8lld    %.4f\n", c, (long long)n, (long long)ok, (double)ok / (double)n);
        else printf("  %5d %8d %8d         -\n", c, 0, 0);
    }
    printf("\nconfusion matrix (rows: true label, columns: predicted label)\n  true\\pred");
    for (int p = 0; p < NC; p++) printf(" %6d", p);
    printf("\n");
    for (int c = 0; c < NC; c++) {
        printf("  %9d", c);
        for (int p = 0; p < NC; p++) printf(" %6lld", (long long)conf[(size_t)c * NC + p]);
        printf("\n");
    }
}

static void print_json(const char *model, const char *spec, const char *split,
                       const eval_result *r, const int64_t *conf, int NC) {
    printf("{\"model\": ");
    json_string(stdout, model);
    printf(", \"data\": ");
    json_string(stdout, spec);
    printf(", \"split\": \"%s\", \"n\": %lld, \"correct\": %lld, \"accuracy\": %.10g", split,
           (long long)r->n, (long long)r->correct, r->accuracy);
    printf(", \"per_class\": [");
    for (int c = 0; c < NC; c++) {
        int64_t n = 0;
        for (int p = 0; p < NC; p++) n += conf[(size_t)c * NC + p];
        if (n) printf("%s%.10g", c ? ", " : "", (double)conf[(size_t)c * NC + c] / (double)n);
        else printf("%snull", c ? ", " : "");
    }
    printf("], \"per_class_n\": [");
    for (int c = 0; c < NC; c++) {
        int64_t n = 0;
        for (int p = 0; p < NC; p++) n += conf[(size_t)c * NC + p];
        printf("%s%lld", c ? ", " : "", (long long)n);
    }
    printf("], \"confusion\": [");
    for (int c = 0; c < NC; c++) {
        printf("%s[", c ? ", " : "");
        for (int p = 0; p < NC; p++) printf("%s%lld", p ? ", " : "", (long long)conf[(size_t)c * NC + p]);
        printf("]");
    }
    printf("]}\n");
}

int cmd_eval(int argc, char **argv) {
    const char *model_path = NULL, *spec = NULL;
    static const char *const splits[] = {"train", "test", NULL};
    int split = 1, json = 0, max_n = 0, threads = 1;
    args_parser ap;
    args_init(&ap, "eval", argc, argv);
    while (args_next(&ap)) {
        if (args_is(&ap, "--model")) args_str(&ap, &model_path);
        else if (args_is(&ap, "--data")) args_str(&ap, &spec);
        else if (args_is(&ap, "--split")) args_choice(&ap, splits, &split);
        else if (args_is(&ap, "--max")) args_int(&ap, 1, 1 << 30, &max_n);
        else if (args_is(&ap, "--threads")) args_int(&ap, 1, 1024, &threads);
        else if (args_is(&ap, "--json")) args_flag(&ap, &json);
        else if (args_is(&ap, "--help") || args_is(&ap, "-h")) {
            usage(stdout);
            return 0;
        } else args_unknown(&ap);
        if (ap.failed) return 2;
    }
    if (!model_path) return args_usage("eval", "--model CKPT is required (dann eval --help)");
    if (!spec) return args_usage("eval", "--data SPEC is required (dann eval --help)");
    dann_threads_set(threads);

    dann_error err = {0};
    dann_model *m = NULL;
    dataset ds = {0};
    int64_t *conf = NULL;
    int rc = 1, C, H, W, NC;
    if (ckpt_load(model_path, EVAL_BATCH, &m, NULL, NULL, &err)) goto done;
    dann_model_shape(m, &C, &H, &W, &NC);
    if (dataset_load(&ds, spec, split ? DATA_TEST : DATA_TRAIN, H, W, &err)) goto done;
    if (ds.n_classes > NC) {
        dann_fail(&err, DANN_ERR_ARG, "%s: %d classes, but the model in %s predicts %d", spec,
                  ds.n_classes, model_path, NC);
        goto done;
    }
    if (!(conf = dann_calloc((size_t)NC * NC, sizeof *conf, &err))) goto done;
    eval_result r;
    if (model_evaluate(m, &ds, max_n, conf, NULL, &r, &err)) goto done;
    if (r.n == 0) {
        dann_fail(&err, DANN_ERR_ARG, "%s: no labelled images to evaluate", spec);
        goto done;
    }
    if (json) print_json(model_path, spec, splits[split], &r, conf, NC);
    else print_text(model_path, spec, splits[split], dann_model_arch(m), &r, conf, NC);
    if (fflush(stdout) || ferror(stdout)) dann_fail(&err, DANN_ERR_IO, "stdout: write error");
    else rc = 0;
done:
    if (rc) args_fail("eval", &err);
    free(conf);
    dataset_free(&ds);
    dann_model_free(m);
    return rc;
}
