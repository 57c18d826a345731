/* cmd_pad.c - `dann pad`: the proxy A-distance between a source and a target dataset, on the
 * raw inputs (the model's input tensors, normalised as in training) or on a checkpoint's
 * features (--model), with the JMLR paper's protocol (src/viz/pad.h): a table of C and held-out
 * errors and the PAD, or one JSON object (--json). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "cli/args.h"
#include "cli/cli.h"
#include "cli/json_out.h"
#include "cli/vecfit.h"
#include "data/vec.h"
#include "io/checkpoint.h"
#include "viz/pad.h"
#include "viz/samples.h"

static void usage(FILE *f) {
    fprintf(f,
            "usage: dann pad --source SPEC --target SPEC [--model CKPT] [options]\n"
            "\n"
            "Proxy A-distance (Ganin et al. 2016, section 5.1.5): N source examples labelled 0\n"
            "and N target examples labelled 1 are each split in half (seeded); a linear SVM\n"
            "(liblinear, L2-regularised squared hinge, regularised bias) is trained on one half\n"
            "for every C and tested on the other; with e the lowest held-out error,\n"
            "PAD = 2 (1 - 2e): 2 when a linear classifier separates the domains, about 0 when\n"
            "it cannot tell them apart.\n"
            "\n"
            "  --source SPEC       source dataset (mnist:DIR, mnistm:PATH, folder:DIR, images:DIR,\n"
            "                      or feature vectors: csv:FILE, svmlight:FILE)\n"
            "  --target SPEC       target dataset\n"
            "  --model CKPT        measure on this checkpoint's features (eval mode); without it,\n"
            "                      on the raw 3x28x28 inputs\n"
            "  --n N               examples drawn per domain (default 1000; 0: all)\n"
            "  --split test|train  which split of mnist:/mnistm: (default test)\n"
            "  --C LIST            comma-separated C values (default 0.001,0.01,0.1,1,10,100)\n"
            "  --seed S            seed of the draw and of the split (default 1)\n"
            "  --json              print one JSON object: source, target, model (or null), dims,\n"
            "                      n_source, n_target, n_train, n_test, seed, C, error, best_C,\n"
            "                      best_error, pad\n"
            "  --threads T         threads (the Cs train in parallel; default 2)\n"
            "  --help              this text\n");
}

static int parse_c_list(const char *s, double *C, int *nc) {
    char buf[512];
    snprintf(buf, sizeof buf, "%s", s);
    *nc = 0;
    for (char *tok = strtok(buf, ","); tok; tok = strtok(NULL, ",")) {
        if (*nc == PAD_MAX_C || args_parse_double(tok, 1e-12, 1e12, &C[*nc])) return -1;
        (*nc)++;
    }
    return *nc ? 0 : -1;
}

static void print_json(const char *src, const char *tgt, const char *model, int dims, int ns,
                       int nt, uint64_t seed, const pad_result *r) {
    printf("{\"source\": ");
    json_string(stdout, src);
    printf(", \"target\": ");
    json_string(stdout, tgt);
    printf(", \"model\": ");
    if (model) json_string(stdout, model);
    else printf("null");
    printf(", \"dims\": %d, \"n_source\": %d, \"n_target\": %d, \"n_train\": %d, \"n_test\": %d, "
           "\"seed\": %llu, \"C\": [", dims, ns, nt, r->n_train, r->n_test, (unsigned long long)seed);
    for (int c = 0; c < r->n_c; c++) printf("%s%.10g", c ? ", " : "", r->C[c]);
    printf("], \"error\": [");
    for (int c = 0; c < r->n_c; c++) printf("%s%.10g", c ? ", " : "", r->err[c]);
    printf("], \"best_C\": %.10g, \"best_error\": %.10g, \"pad\": %.10g}\n", r->C[r->best],
           r->err[r->best], r->pad);
}

int cmd_pad(int argc, char **argv) {
    const char *src = NULL, *tgt = NULL, *model = NULL, *clist = NULL;
    static const char *const splits[] = {"train", "test", NULL};
    int split = 1, json = 0, n = 1000, threads = 2;
    uint64_t seed = 1;
    args_parser ap;
    args_init(&ap, "pad", argc, argv);
    while (args_next(&ap)) {
        if (args_is(&ap, "--source")) args_str(&ap, &src);
        else if (args_is(&ap, "--target")) args_str(&ap, &tgt);
        else if (args_is(&ap, "--model")) args_str(&ap, &model);
        else if (args_is(&ap, "--n")) args_int(&ap, 0, 1 << 24, &n);
        else if (args_is(&ap, "--split")) args_choice(&ap, splits, &split);
        else if (args_is(&ap, "--C")) args_str(&ap, &clist);
        else if (args_is(&ap, "--seed")) args_u64(&ap, &seed);
        else if (args_is(&ap, "--json")) args_flag(&ap, &json);
        else if (args_is(&ap, "--threads")) args_int(&ap, 1, 1024, &threads);
        else if (args_is(&ap, "--help") || args_is(&ap, "-h")) {
            usage(stdout);
            return 0;
        } else args_unknown(&ap);
        if (ap.failed) return 2;
    }
    if (!src || !tgt) return args_usage("pad", "--source SPEC and --target SPEC are required (dann pad --help)");
    double C[PAD_MAX_C];
    int nc = pad_default_c(C);
    if (clist && parse_c_list(clist, C, &nc))
        return args_usage("pad", "--C: '%s' is not a list of 1 to %d positive numbers", clist, PAD_MAX_C);
    threads = args_threads("pad", threads);

    dann_error err = {0};
    dann_model *m = NULL;
    sample_set S = {0}, T = {0};
    float *fs = NULL, *ft = NULL;
    int rc = 1, c = 3, h = 28, w = 28, ncls;
    const char *specs[2] = {src, tgt};
    int vec = vec_spec_is_vector(src);
    if (model) {
        if (ckpt_load(model, 64, &m, NULL, NULL, &err)) goto done;
        dann_model_shape(m, &c, &h, &w, &ncls);
        vec = dann_model_input_is_vector(m);
    }
    if (vecfit_kinds("pad", vec, specs, 2, m ? dann_model_description(m) : "the raw inputs")) {
        rc = 2;
        goto done;
    }
    if (vec) h = w = 1;
    if (sample_open(&S, src, split, h, w, &err) || sample_open(&T, tgt, split, h, w, &err))
        goto done;
    if (vec && !m) {  // raw feature vectors: the dimension of the two files together
        dataset *const both[2] = {&S.ds, &T.ds};
        if (vecfit_dim(both, 2, 0, &c, &err)) goto done;
    }
    if (sample_draw(&S, n, seed, c, h, w, &err)) goto done;
    if (sample_draw(&T, n, seed + 1, c, h, w, &err)) goto done;
    int dims = c * h * w;
    const float *xs = S.x, *xt = T.x;
    if (m) {
        if (sample_features(&fs, &S, m, &err) || sample_features(&ft, &T, m, &err)) goto done;
        xs = fs, xt = ft, dims = dann_model_feature_dim(m);
    }
    pad_result r;
    if (pad_compute(&r, xs, S.n, xt, T.n, dims, seed, C, nc, &err)) goto done;
    if (json) print_json(src, tgt, model, dims, S.n, T.n, seed, &r);
    else {
        printf("source    %s (%s split, %d examples)\n", src, splits[split], S.n);
        printf("target    %s (%s split, %d examples)\n", tgt, splits[split], T.n);
        printf("measured  on %s (%d dimensions)\n", model ? model : "the raw inputs", dims);
        printf("split     %d to train, %d held out (seed %llu)\n\n", r.n_train, r.n_test,
               (unsigned long long)seed);
        printf("         C   held-out error\n");
        for (int k = 0; k < r.n_c; k++)
            printf("  %8g   %.4f%s\n", r.C[k], r.err[k], k == r.best ? "   <- lowest" : "");
        printf("\nproxy A-distance  PAD = 2 (1 - 2 x %.4f) = %.4f\n", r.err[r.best], r.pad);
    }
    if (fflush(stdout) || ferror(stdout)) dann_fail(&err, DANN_ERR_IO, "stdout: write error");
    else rc = 0;
done:
    if (rc == 1) args_fail("pad", &err);
    free(fs);
    free(ft);
    sample_free(&S);
    sample_free(&T);
    dann_model_free(m);
    return rc;
}
