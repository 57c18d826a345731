/* exp_read.c - reading run folders for `dann experiment`'s tables (exp.h): run.json (the
 * settings), summary.json (present once the run is complete: the last epoch's accuracies, each
 * selection rule's pick, the weight average, the oracle) and metrics.jsonl (epochs done and the
 * time spent). Any folder made by `dann train` reads, whoever started it. */
#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include "cli/exp.h"
#include "core/core.h"
#include "cli/json.h"
#include "cli/recipe.h"

/* The whole file (at most max bytes) NUL-terminated in a malloc'd *buf; 0, 1 when absent, -1 on
 * an error (message set). */
static int slurp(const char *path, size_t max, char **buf, char *msg, size_t cap) {
    *buf = NULL;
    FILE *f;
    uint64_t size;
    dann_error err;
    if (file_fopen_regular(path, &f, &size, &err))  /* no directory, no FIFO */
        return errno == ENOENT ? 1 : exp_fail(msg, cap, "%s", err.msg);
    if (size > max) {
        fclose(f);
        return exp_fail(msg, cap, "%s: larger than %zu bytes", path, max);
    }
    char *b = malloc((size_t)size + 1);
    size_t n = b ? fread(b, 1, (size_t)size, f) : 0;
    int bad = !b || ferror(f);
    fclose(f);
    if (bad) {
        free(b);
        return exp_fail(msg, cap, "%s: read error", path);
    }
    b[n] = 0;
    *buf = b;
    return 0;
}

static double num_or_nan(const char *obj, const char *key) {
    double v;
    return json_get_num(obj, key, &v) ? v : NAN;
}

/* The preset whose network equals the description, or "custom". */
static void net_name(const char *arch, char *out, size_t cap) {
    static const char *const PRESETS[] = {"py3", "paper-mnist", "paper-svhn", "paper-gtsrb", "shallow"};
    int c, h, w, ncls, vec;
    dann_error err;
    snprintf(out, cap, "custom");
    if (!arch[0]) {
        snprintf(out, cap, "?");
        return;
    }
    if (dann_net_info(arch, &c, &h, &w, &ncls, &vec, &err)) return;
    static char want[8192];
    for (size_t k = 0; k < sizeof PRESETS / sizeof *PRESETS; k++)
        if (!dann_net_adapt(want, sizeof want, PRESETS[k], c, h, w, ncls, &err) && !strcmp(want, arch)) {
            snprintf(out, cap, "%s", PRESETS[k]);
            return;
        }
}

/* Epochs done and the seconds spent (training, evaluation, selection, average) from
 * metrics.jsonl; a later line of the same epoch replaces an earlier one. */
static int read_metrics(const char *dir, exp_result *r, char *msg, size_t cap) {
    char path[EXP_PATH + 32];
    snprintf(path, sizeof path, "%s/metrics.jsonl", dir);
    FILE *f;
    dann_error err;
    if (file_fopen_regular(path, &f, NULL, &err))
        return errno == ENOENT ? 0 : exp_fail(msg, cap, "%s", err.msg);
    int cap_e = 0, max_e = 0;
    double *sec = NULL;
    char *line = NULL;
    size_t line_cap = 0;
    ssize_t len;
    int rc = 0;
    while ((len = getline(&line, &line_cap, f)) > 0) {
        double e;
        if (line[len - 1] != '\n' || !json_get_num(line, "epoch", &e) || !(e >= 1 && e <= 1e6))
            continue;  // a torn last line (a run killed while writing) or a foreign one
        const int ep = (int)e;
        if (ep > cap_e) {
            int nc = ep * 2 + 16;
            double *g = realloc(sec, sizeof *sec * (size_t)nc);
            if (!g) {
                rc = exp_fail(msg, cap, "%s: out of memory", path);
                break;
            }
            for (int k = cap_e; k < nc; k++) g[k] = NAN;
            sec = g, cap_e = nc;
        }
        static const char *const T[] = {"seconds", "eval_seconds", "select_seconds", "avg_seconds"};
        double s = 0;
        for (int k = 0; k < 4; k++) {
            double v;
            if (json_get_num(line, T[k], &v) && isfinite(v)) s += v;
        }
        sec[ep - 1] = s;
        if (ep > max_e) max_e = ep;
    }
    if (!rc && ferror(f)) rc = exp_fail(msg, cap, "%s: read error", path);
    fclose(f);
    free(line);
    if (!rc) {
        double total = 0;
        int done = 0;
        for (int k = 0; k < max_e; k++)
            if (!isnan(sec[k])) total += sec[k], done++;
        r->epochs_done = done;
        r->v[EXP_COL_WALL] = done ? total : NAN;
    }
    free(sec);
    return rc;
}

int exp_read_run(const char *dir, exp_result *r, char *msg, size_t cap) {
    memset(r, 0, sizeof *r);
    for (int k = 0; k < EXP_NCOL; k++) r->v[k] = NAN;
    snprintf(r->dir, sizeof r->dir, "%s", dir);
    char path[EXP_PATH + 32], *run = NULL, *sum = NULL;
    snprintf(path, sizeof path, "%s/run.json", dir);
    int st = slurp(path, 1 << 20, &run, msg, cap);
    if (st > 0) return exp_fail(msg, cap, "%s: missing (not a run folder of dann train)", path);
    if (st < 0) return -1;
    double lo, hi;
    if (!json_get_str(run, "mode", r->mode, sizeof r->mode) ||
        !json_get_str(run, "source", r->source, sizeof r->source) ||
        !json_get_str(run, "target", r->target, sizeof r->target) ||
        !json_get_num(run, "epochs", &r->epochs) || !json_get_num(run, "seed_lo", &lo) ||
        !json_get_num(run, "seed_hi", &hi)) {
        free(run);
        return exp_fail(msg, cap, "%s: not a run.json written by dann train", path);
    }
    /* the seed's two 32-bit halves, whole and in range before the casts (1e300 was undefined) */
    if (!(lo >= 0 && lo <= 4294967295.0 && hi >= 0 && hi <= 4294967295.0) || lo != floor(lo) ||
        hi != floor(hi)) {
        free(run);
        return exp_fail(msg, cap, "%s: seed_lo/seed_hi are not whole numbers in [0, 2^32)", path);
    }
    r->seed = (uint64_t)lo | ((uint64_t)hi << 32);
    if (!json_get_str(run, "preset", r->preset, sizeof r->preset)) snprintf(r->preset, sizeof r->preset, "py3");
    json_get_str(run, "arch", r->arch, sizeof r->arch);
    json_get_str(run, "select", r->select, sizeof r->select);
    json_get_str(run, "average", r->average, sizeof r->average);
    r->batch = num_or_nan(run, "batch");
    r->max_steps = num_or_nan(run, "max_steps");
    r->source_val = num_or_nan(run, "source_val");
    r->lr = num_or_nan(run, "lr");
    r->eval_max = num_or_nan(run, "eval_max");
    r->has_lambda = json_get_num(run, "lambda", &r->lambda);
    /* keys older files lack: the values they had before they were options */
    dann_train_config cfg;
    dann_error err;
    const int known = dann_train_config_preset(&cfg, r->preset, &err) == DANN_OK;
    const recipe *rcp = recipe_find(r->preset);
    const char *norm = rcp && rcp->norm == RECIPE_NORM_MEAN ? "mean" : "ref";
    const struct { const char *key; double *v, dflt; } opt[] = {
        {"lambda_max", &r->lambda_max, known ? cfg.lambda_max : NAN}, {"gamma", &r->gamma, known ? cfg.gamma : NAN},
        {"iters_per_epoch", &r->iters_per_epoch, 0}, {"patience", &r->patience, 0}, {"chunk", &r->chunk, 0},
        {"select_n", &r->select_n, SELECT_N_DEFAULT}};
    for (size_t k = 0; k < sizeof opt / sizeof *opt; k++)
        if (!json_get_num(run, opt[k].key, opt[k].v)) *opt[k].v = opt[k].dflt;
    if (r->select_n == 0) r->select_n = SELECT_N_DEFAULT;  // run.json's 0: the default
    if (!json_get_str(run, "source_norm", r->source_norm, sizeof r->source_norm))
        snprintf(r->source_norm, sizeof r->source_norm, "%s", norm);
    if (!json_get_str(run, "target_norm", r->target_norm, sizeof r->target_norm))
        snprintf(r->target_norm, sizeof r->target_norm, "%s", norm);
    free(run);
    net_name(r->arch, r->net, sizeof r->net);

    snprintf(path, sizeof path, "%s/summary.json", dir);
    if ((st = slurp(path, 1 << 20, &sum, msg, cap)) < 0) return -1;
    if (st == 0) {
        r->finished = 1;
        r->v[EXP_COL_LAST] = num_or_nan(sum, "final_target_test_acc");
        r->v[EXP_COL_SOURCE] = num_or_nan(sum, "final_source_test_acc");
        r->v[EXP_COL_ORACLE] = num_or_nan(sum, "oracle_best_target_test_acc");
        r->v[EXP_COL_AVG] = num_or_nan(sum, "avg_final_target_test_acc");
        for (int k = 0; k < SEL_N; k++) {
            char key[64];
            snprintf(key, sizeof key, "select_%s_target_test_acc", select_rule_name(k));
            r->v[EXP_COL_RULE0 + k] = num_or_nan(sum, key);
        }
        /* best.ckpt of --source-val without --select val is the same rule */
        if (isnan(r->v[EXP_COL_RULE0 + SEL_VAL]) && !isnan(num_or_nan(sum, "best_epoch")))
            r->v[EXP_COL_RULE0 + SEL_VAL] = num_or_nan(sum, "best_target_test_acc");
        free(sum);
    }
    return read_metrics(dir, r, msg, cap);
}

/* ---- scanning ---------------------------------------------------------------------------- */

typedef struct {
    char **paths;
    int n, cap;
} path_list;

static int add_path(path_list *l, const char *p) {
    if (l->n == l->cap) {
        int nc = l->cap ? 2 * l->cap : 64;
        char **g = realloc(l->paths, sizeof *g * (size_t)nc);
        if (!g) return -1;
        l->paths = g, l->cap = nc;
    }
    if (!(l->paths[l->n] = strdup(p))) return -1;
    l->n++;
    return 0;
}

static int has_run_json(const char *dir) {
    char p[EXP_PATH + 32];
    struct stat sb;
    snprintf(p, sizeof p, "%s/run.json", dir);
    return stat(p, &sb) == 0 && S_ISREG(sb.st_mode);
}

static int walk(const char *dir, int depth, path_list *l) {
    if (has_run_json(dir)) return add_path(l, dir);
    if (depth == 0) return 0;
    DIR *d = opendir(dir);
    if (!d) return 0;
    struct dirent *e;
    int rc = 0;
    while (!rc && (e = readdir(d))) {
        if (e->d_name[0] == '.') continue;
        char sub[EXP_PATH];
        if (snprintf(sub, sizeof sub, "%s/%s", dir, e->d_name) >= (int)sizeof sub) continue;
        struct stat sb;
        if (stat(sub, &sb) == 0 && S_ISDIR(sb.st_mode)) rc = walk(sub, depth - 1, l);
    }
    closedir(d);
    return rc;
}

static int cmp_str(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b);
}

int exp_scan(const char *root, exp_result **rs, int *n, char *msg, size_t cap) {
    *rs = NULL, *n = 0;
    struct stat sb;
    if (stat(root, &sb) != 0) return exp_fail(msg, cap, "%s: cannot open: %s", root, strerror(errno));
    if (!S_ISDIR(sb.st_mode)) return exp_fail(msg, cap, "%s: not a folder", root);
    path_list l = {0};
    int rc = walk(root, 3, &l);
    if (rc) exp_fail(msg, cap, "%s: out of memory", root);
    qsort(l.paths, (size_t)l.n, sizeof *l.paths, cmp_str);
    exp_result *r = !rc && l.n ? calloc((size_t)l.n, sizeof *r) : NULL;
    if (!rc && l.n && !r) rc = exp_fail(msg, cap, "%s: out of memory", root);
    int k = 0;
    for (int i = 0; !rc && i < l.n; i++) {
        char m[512];
        if (exp_read_run(l.paths[i], &r[k], m, sizeof m)) fprintf(stderr, "dann experiment: %s (left out)\n", m);
        else k++;
    }
    for (int i = 0; i < l.n; i++) free(l.paths[i]);
    free(l.paths);
    if (rc) {
        free(r);
        return -1;
    }
    *rs = r, *n = k;
    return 0;
}
