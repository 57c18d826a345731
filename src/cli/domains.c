/* domains.c - a domain's datasets for the commands: loading with a test spec or a held-out
 * split, channel handling, the normalisation choice, class matching by name, the data: line and
 * the checkpoint's key/value lines (domains.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "cli/args.h"
#include "cli/domains.h"
#include "cli/progress.h"
#include "cli/recipe.h"
#include "cli/trainloop.h"
#include "data/vec.h"
#include "io/checkpoint.h"

/* Derived seed streams of the run seed (trainloop_seed; 1-9 are the loop's and extensions'). */
enum { SEED_SPLIT = 20, SEED_SAMPLE = 22 };

/* "a" or "a,b,c" into v[3]; -1 unless every value is in [lo, hi]. */
static int parse_triple(const char *s, size_t len, double lo, double hi, float v[3]) {
    char buf[128];
    if (len == 0 || len >= sizeof buf) return -1;
    memcpy(buf, s, len);
    buf[len] = 0;
    double d[3];
    int n = 0;
    char *save = NULL;
    for (char *tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        if (n == 3 || args_parse_double(tok, lo, hi, &d[n])) return -1;
        n++;
    }
    if (n != 1 && n != 3) return -1;
    for (int c = 0; c < 3; c++) v[c] = (float)d[n == 1 ? 0 : c];
    return 0;
}

int norm_parse(norm_choice *n, const char *s) {
    memset(n, 0, sizeof *n);
    if (!strcmp(s, "ref")) n->kind = NORM_REF;
    else if (!strcmp(s, "auto")) n->kind = NORM_AUTO;
    else if (!strcmp(s, "mean")) n->kind = NORM_MEAN;
    else {
        const char *slash = strchr(s, '/');
        if (!slash || parse_triple(s, (size_t)(slash - s), -1e6, 1e6, n->mean) ||
            parse_triple(slash + 1, strlen(slash + 1), 1e-9, 1e6, n->std))
            return -1;
        n->kind = NORM_GIVEN;
    }
    return 0;
}

void norm_format(char *buf, size_t cap, const float mean[3], const float std[3], int digits) {
    if (mean[0] == mean[1] && mean[1] == mean[2] && std[0] == std[1] && std[1] == std[2])
        snprintf(buf, cap, "%.*g/%.*g", digits, mean[0], digits, std[0]);
    else
        snprintf(buf, cap, "%.*g,%.*g,%.*g/%.*g,%.*g,%.*g", digits, mean[0], digits, mean[1], digits,
                 mean[2], digits, std[0], digits, std[1], digits, std[2]);
}

void norm_apply(const norm_choice *n, dataset *train, dataset *test) {
    float mean[3], std[3];
    if (train->vec) return;  /* feature vectors are used as given */
    if (n->kind == NORM_REF) {
        /* dataset_load set each kind's constants; a test set of another kind takes the
         * training set's, so the domain has one normalisation */
        memcpy(mean, train->mean, sizeof mean);
        memcpy(std, train->std, sizeof std);
    } else if (n->kind == NORM_MEAN) {
        dataset *others[1] = {test};
        recipe_mean_subtract(train, others, 1, NULL);
        return;
    } else if (n->kind == NORM_AUTO) {
        double m[3], s[3];
        dataset_pixel_stats(train, m, s);
        for (int c = 0; c < 3; c++) mean[c] = (float)m[c], std[c] = s[c] > 1e-6 ? (float)s[c] : 1.0f;
    } else {
        memcpy(mean, n->mean, sizeof mean);
        memcpy(std, n->std, sizeof std);
    }
    memcpy(train->mean, mean, sizeof mean);
    memcpy(train->std, std, sizeof std);
    if (test) {
        memcpy(test->mean, mean, sizeof mean);
        memcpy(test->std, std, sizeof std);
    }
}

int domain_spec_is_sorted(const char *spec) {
    return strncmp(spec, "mnist:", 6) && strncmp(spec, "mnistm:", 7);
}

/* The data kind's prefix is all a set's own name keeps; the role names it in messages. */
static void name_set(dataset *ds, const char *role, const char *suffix) {
    snprintf(ds->name, sizeof ds->name, "%s%s", role, suffix);
}

dann_status domain_load(domain_sets *d, const char *role, const char *spec, const char *test_spec,
                        int C, int H, int W, uint64_t seed, int eval_max, dann_error *err) {
    memset(d, 0, sizeof *d);
    const int k = strcmp(role, "source") ? 1 : 0;
    dann_status st = dataset_load(&d->train, spec, DATA_TRAIN, H, W, err);
    if (st) return st;
    name_set(&d->train, role, "");
    if (test_spec && !strncmp(test_spec, "split:", 6)) {
        double f;
        if (args_parse_double(test_spec + 6, 1e-9, 1 - 1e-9, &f))
            return dann_fail(err, DANN_ERR_ARG, "--%s-test %s: expected split:F with 0 < F < 1 "
                             "(e.g. split:0.1)", role, test_spec);
        int n = (int)(f * d->train.n + 0.5);
        if (n < 1) n = 1;
        if (n >= d->train.n)
            return dann_fail(err, DANN_ERR_ARG, "--%s-test %s: %s has %d images, too few to hold "
                             "some out", role, test_spec, spec, d->train.n);
        if ((st = dataset_split(&d->train, &d->test, n, trainloop_seed(seed, SEED_SPLIT + k), err)))
            return st;
        d->has_test = 1;
    } else if (test_spec) {
        if ((st = dataset_load(&d->test, test_spec, DATA_TEST, H, W, err))) return st;
        d->has_test = 1;
    }
    if (d->has_test) {
        name_set(&d->test, role, "-test");
        if (eval_max > 0 && (!test_spec || domain_spec_is_sorted(test_spec)) &&
            (st = dataset_subsample(&d->test, eval_max, trainloop_seed(seed, SEED_SAMPLE + k), err)))
            return st;
    }
    if (C == 1) {  /* a grey network: RGB images become PIL's luma */
        dataset_to_grey(&d->train);
        dataset_to_grey(&d->test);
    }
    return DANN_OK;
}

void domain_free(domain_sets *d) {
    dataset_free(&d->train);
    dataset_free(&d->test);
}

void domain_print(const dataset *ds, const char *spec, int C, int H, int W, const char *norm_word,
                  double seconds) {
    char size[64], chan[96], norm[128], cls[32] = "";
    if (ds->vec) {
        char desc[512];
        vec_describe(ds, desc, sizeof desc);
        if (ds->n_classes > 0) snprintf(cls, sizeof cls, "  %d classes", ds->n_classes);
        printf("data: %-11s %6d examples%s  %s  (%.1f s)\n      %s\n", ds->name, ds->n, cls, spec,
               seconds, desc);
        return;
    }
    if (ds->in_h_min == H && ds->in_h_max == H && ds->in_w_min == W && ds->in_w_max == W)
        snprintf(size, sizeof size, "%dx%d as stored", H, W);
    else if (ds->in_h_min == ds->in_h_max && ds->in_w_min == ds->in_w_max)
        snprintf(size, sizeof size, "%dx%d -> %dx%d", ds->in_h_max, ds->in_w_max, H, W);
    else
        snprintf(size, sizeof size, "%d..%dx%d..%d -> %dx%d", ds->in_h_min, ds->in_h_max,
                 ds->in_w_min, ds->in_w_max, H, W);
    const int grey = ds->n_grey, rgb = ds->n - ds->n_grey;
    const char *stored = rgb == 0 ? "grey" : grey == 0 ? "RGB" : "mixed";
    if (C == 1)
        snprintf(chan, sizeof chan, "%s%s", stored, rgb ? " -> grey (PIL's L)" : "");
    else if (rgb && grey)
        snprintf(chan, sizeof chan, "%d grey + %d RGB -> RGB (grey repeated)", grey, rgb);
    else
        snprintf(chan, sizeof chan, "%s%s", stored, grey ? " -> 3 channels (repeated)" : "");
    norm_format(norm, sizeof norm, ds->mean, ds->std, 4);
    if (ds->n_classes > 0) snprintf(cls, sizeof cls, "  %d classes", ds->n_classes);
    printf("data: %-11s %6d images%s  %s  %s, %s, norm %s %s  (%.1f s)\n", ds->name, ds->n, cls,
           spec, size, chan, norm_word, norm, seconds);
    if (ds->n_ignored)
        printf("note: %s: %d files that are not .png/.jpg/.jpeg were ignored\n", spec, ds->n_ignored);
}

dann_status domain_match(dataset *ds, const char *spec, const char *const *ref_names, int ref_n,
                         const char *ref_what, int quiet, dann_error *err) {
    int absent = 0;
    dann_status st = dataset_match_classes(ds, ref_names, ref_n, ref_what, &absent, err);
    if (st) {
        char msg[sizeof err->msg];
        snprintf(msg, sizeof msg, "%s", err->msg);
        return dann_fail(err, st, "%s: %s", spec, msg);
    }
    if (absent && !quiet)
        printf("note: %s (%s) has no image of %d of the %d classes of %s\n", ds->name, spec, absent,
               ref_n, ref_what);
    return DANN_OK;
}

static const char *const DATA_KEYS[4] = {"data.source", "data.source_test", "data.target",
                                         "data.target_test"};

dann_status domain_kv_put(char *kv, const dataset *labelled, const dataset *src,
                          const dataset *tgt, const char *const specs[4], dann_error *err) {
    char v[160], key[32];
    dann_status st = DANN_OK;
    for (int k = 0; k < 4 && specs; k++) {
        dann_error ignored;
        if (specs[k]) ckpt_kv_set(kv, DATA_KEYS[k], specs[k], &ignored);
    }
    const dataset *dom[2] = {src, tgt};
    const char *role[2] = {"norm.source", "norm.target"};
    for (int k = 0; k < 2 && !st; k++) {
        if (!dom[k]) continue;
        const float *m = dom[k]->mean, *s = dom[k]->std;  /* %.9g: float32 exactly */
        snprintf(v, sizeof v, "%.9g,%.9g,%.9g/%.9g,%.9g,%.9g", m[0], m[1], m[2], s[0], s[1], s[2]);
        st = ckpt_kv_set(kv, role[k], v, err);
    }
    if (st || !labelled || !labelled->class_names) return st;
    snprintf(v, sizeof v, "%d", labelled->n_classes);
    st = ckpt_kv_set(kv, "classes", v, err);
    for (int c = 0; c < labelled->n_classes && !st; c++) {
        snprintf(key, sizeof key, "class.%d", c);
        st = ckpt_kv_set(kv, key, labelled->class_names[c], err);
    }
    return st;
}

int domain_kv_norm(const char *kv, const char *role, float mean[3], float std[3]) {
    char key[32], v[256];
    snprintf(key, sizeof key, "norm.%s", role);
    if (!ckpt_kv_get(kv, key, v, sizeof v)) return 0;
    norm_choice n;
    if (norm_parse(&n, v) || n.kind != NORM_GIVEN) return 0;
    memcpy(mean, n.mean, sizeof n.mean);
    memcpy(std, n.std, sizeof n.std);
    return 1;
}

int domain_kv_classes(const char *kv, char ***names, int *n) {
    char v[4096], key[32];
    *names = NULL;
    *n = 0;
    long count;
    if (!ckpt_kv_get(kv, "classes", v, sizeof v) || args_parse_long(v, 1, 1 << 20, &count)) return 0;
    size_t bytes = (size_t)count * sizeof(char *);
    for (long c = 0; c < count; c++) {
        snprintf(key, sizeof key, "class.%ld", c);
        if (!ckpt_kv_get(kv, key, v, sizeof v)) return 0;
        bytes += strlen(v) + 1;
    }
    char **out = malloc(bytes);
    if (!out) return 0;
    char *p = (char *)(out + count);
    for (long c = 0; c < count; c++) {
        snprintf(key, sizeof key, "class.%ld", c);
        ckpt_kv_get(kv, key, v, sizeof v);
        out[c] = p;
        strcpy(p, v);
        p += strlen(v) + 1;
    }
    *names = out;
    *n = (int)count;
    return 1;
}

const char *domain_kv_guess(const char *kv, const char *spec) {
    char v[4096];
    for (int k = 0; k < 4; k++)
        if (ckpt_kv_get(kv, DATA_KEYS[k], v, sizeof v) && !strcmp(v, spec))
            return k < 2 ? "source" : "target";
    const char *colon = strchr(spec, ':');
    const size_t plen = colon ? (size_t)(colon - spec) + 1 : 0;
    int match[2] = {0, 0};
    for (int k = 0; k < 4 && plen; k++)
        if (ckpt_kv_get(kv, DATA_KEYS[k], v, sizeof v) && !strncmp(v, spec, plen)) match[k / 2] = 1;
    return match[0] && !match[1] ? "source" : "target";
}
