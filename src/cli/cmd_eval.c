/* cmd_eval.c - `dann eval`: accuracy, per-class accuracy and confusion matrix of a checkpoint on
 * a labelled dataset, as a readable report or one JSON object (--json). The images go through
 * the same pipeline as in training (data.h: decoded once, resized to the model's input, RGB to
 * grey for a grey network) with the normalisation the checkpoint stores for the chosen domain
 * (--domain, default target; the data kind's constants for a checkpoint that stores none), the
 * classes matched to the checkpoint's class names, and the model in eval mode (running
 * BatchNorm statistics, no dropout), via model_evaluate. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "cli/args.h"
#include "cli/cli.h"
#include "cli/domains.h"
#include "cli/json_out.h"
#include "cli/vecfit.h"
#include "data/data.h"
#include "data/vec.h"
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
            "                      in training: the checkpoint's stored normalisation of the\n"
            "                      domain; classes are matched to its class names by name);\n"
            "                      for a feature-vector model csv:FILE or svmlight:FILE (their\n"
            "                      options as in dann train --help)\n"
            "  --domain source|target   whose stored normalisation (default: the domain whose\n"
            "                      data SPEC is, by the specs the run read, else the target)\n"
            "  --split test|train  which split of mnist:/mnistm: (default test)\n"
            "  --max N             evaluate only N images: the first N of mnist:/mnistm:, a\n"
            "                      seeded sample (--seed, default 1) of a folder\n"
            "  --seed S            the sample's seed\n"
            "  --json              print one JSON object: model, data, split, n, correct,\n"
            "                      accuracy, per_class (accuracy per true label, null when the\n"
            "                      label has no image), per_class_n, confusion (rows: true label,\n"
            "                      columns: prediction), classes (the class names), norm\n"
            "  --threads T         threads for the kernels (default 1)\n"
            "  --help              this text\n");
}

static void print_text(const char *model, const char *spec, const char *split, const char *arch,
                       const char *norm, const eval_result *r, const int64_t *conf, int NC,
                       char *const *names) {
    printf("model     %s (%s)\n", model, arch);
    printf("data      %s, %s split, %lld labelled %s\n", spec, split, (long long)r->n,
           vec_spec_is_vector(spec) ? "examples" : "images");
    printf("norm      %s\n", norm);
    printf("accuracy  %.4f  (%lld / %lld)\n\n", r->accuracy, (long long)r->correct,
           (long long)r->n);
    printf("per-class accuracy\n  class        n  correct  accuracy%s\n", names ? "  name" : "");
    for (int c = 0; c < NC; c++) {
        int64_t n = 0;
        for (int p = 0; p < NC; p++) n += conf[(size_t)c * NC + p];
        int64_t ok = conf[(size_t)c * NC + c];
        if (n) printf("  %5d %8lld %8lld    %.4f", c, (long long)n, (long long)ok, (double)ok / (double)n);
        else printf("  %5d %8d %8d         -", c, 0, 0);
        printf("%s%s\n", names ? "  " : "", names ? names[c] : "");
    }
    printf("\nconfusion matrix (rows: true label, columns: predicted label)\n  true\\pred");
    for (int p = 0; p < NC; p++) printf(" %6d", p);
    printf("\n");
    for (int c = 0; c < NC; c++) {
        printf("  %9d", c);
        for (int p = 0; p < NC; p++) printf(" %6lld", (long long)conf[(size_t)c * NC + p]);
        printf("%s%s\n", names ? "  " : "", names ? names[c] : "");
    }
}

static void print_json(const char *model, const char *spec, const char *split,
                       const dataset *ds, const eval_result *r, const int64_t *conf, int NC,
                       char *const *names) {
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
    printf("], \"classes\": ");
    if (names) {
        printf("[");
        for (int c = 0; c < NC; c++) {
            printf("%s", c ? ", " : "");
            json_string(stdout, names[c]);
        }
        printf("]");
    } else {
        printf("null");
    }
    printf(", \"norm\": {\"mean\": [%.9g, %.9g, %.9g], \"std\": [%.9g, %.9g, %.9g]}}\n",
           ds->mean[0], ds->mean[1], ds->mean[2], ds->std[0], ds->std[1], ds->std[2]);
}

int cmd_eval(int argc, char **argv) {
    const char *model_path = NULL, *spec = NULL;
    static const char *const splits[] = {"train", "test", NULL};
    static const char *const domains[] = {"source", "target", NULL};
    int split = 1, json = 0, max_n = 0, threads = 1, domain = -1;
    uint64_t seed = 1;
    args_parser ap;
    args_init(&ap, "eval", argc, argv);
    while (args_next(&ap)) {
        if (args_is(&ap, "--model")) args_str(&ap, &model_path);
        else if (args_is(&ap, "--data")) args_str(&ap, &spec);
        else if (args_is(&ap, "--split")) args_choice(&ap, splits, &split);
        else if (args_is(&ap, "--domain")) args_choice(&ap, domains, &domain);
        else if (args_is(&ap, "--seed")) args_u64(&ap, &seed);
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
    threads = args_threads("eval", threads);

    dann_error err = {0};
    dann_model *m = NULL;
    dataset ds = {0};
    int64_t *conf = NULL;
    char **names = NULL, norm[200], nv[128];
    int rc = 1, C, H, W, NC, n_names = 0;
    static ckpt_info info;  /* 64 KiB of kv: not on the stack */
    if (ckpt_peek(model_path, &info, &err) || ckpt_load(model_path, EVAL_BATCH, &m, NULL, NULL, &err))
        goto done;
    dann_model_shape(m, &C, &H, &W, &NC);
    const int vec = dann_model_input_is_vector(m);
    if (vecfit_kinds("eval", vec, &spec, 1, dann_model_description(m))) {
        rc = 2;
        goto done;
    }
    if (dataset_load(&ds, spec, split ? DATA_TEST : DATA_TRAIN, H, W, &err)) goto done;
    if (vec && vec_set_dim(&ds, C, &err)) goto done;
    if (C == 1 && !vec) dataset_to_grey(&ds);  /* as train does for a grey network */
    if (vec) {
        /* vectors: the labels are the classes (docs/VECTORS.md), checked against the head */
        if (ds.n_classes > NC) {
            dann_fail(&err, DANN_ERR_ARG, "%s: %d classes, but the model in %s predicts %d", spec,
                      ds.n_classes, model_path, NC);
            goto done;
        }
        if (domain_kv_classes(info.meta.kv, &names, &n_names) && n_names != NC) {
            free(names);
            names = NULL;
        }
    } else if (domain_kv_classes(info.meta.kv, &names, &n_names)) {
        char what[4200];
        snprintf(what, sizeof what, "the model %s", model_path);
        if (n_names != NC) {
            dann_fail(&err, DANN_ERR_FORMAT, "%s: %d class names for %d classes", model_path,
                      n_names, NC);
            goto done;
        }
        if (domain_match(&ds, spec, (const char *const *)names, NC, what, 1, &err)) goto done;
    } else if (ds.n_classes > NC) {
        dann_fail(&err, DANN_ERR_ARG, "%s: %d classes, but the model in %s predicts %d", spec,
                  ds.n_classes, model_path, NC);
        goto done;
    }
    const char *dom = domain >= 0 ? domains[domain] : domain_kv_guess(info.meta.kv, spec);
    if (vec) {
        snprintf(norm, sizeof norm, "none (feature vectors are used as given)");
    } else if (domain_kv_norm(info.meta.kv, dom, ds.mean, ds.std)) {
        norm_format(nv, sizeof nv, ds.mean, ds.std, 6);
        snprintf(norm, sizeof norm, "%s (the %s domain's, stored in the checkpoint)", nv, dom);
    } else {
        norm_format(nv, sizeof nv, ds.mean, ds.std, 6);
        snprintf(norm, sizeof norm, "%s (the data kind's; the checkpoint stores none)", nv);
    }
    if (max_n && domain_spec_is_sorted(spec)) {  /* a folder is sorted by class: sample it */
        if (dataset_subsample(&ds, max_n, seed, &err)) goto done;
        max_n = 0;
    }
    if (!(conf = dann_calloc((size_t)NC * NC, sizeof *conf, &err))) goto done;
    eval_result r;
    if (model_evaluate(m, &ds, max_n, conf, NULL, &r, &err)) goto done;
    if (r.n == 0) {
        dann_fail(&err, DANN_ERR_ARG, "%s: no labelled %s to evaluate", spec,
                  vec ? "examples" : "images");
        goto done;
    }
    if (json) print_json(model_path, spec, splits[split], &ds, &r, conf, NC, names);
    else print_text(model_path, spec, splits[split], dann_model_arch(m), norm, &r, conf, NC, names);
    if (fflush(stdout) || ferror(stdout)) dann_fail(&err, DANN_ERR_IO, "stdout: write error");
    else rc = 0;
done:
    if (rc == 1) args_fail("eval", &err);
    free(conf);
    free(names);
    dataset_free(&ds);
    dann_model_free(m);
    return rc;
}
