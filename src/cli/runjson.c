/* runjson.c - the run folder of `dann train` (runjson.h): run.json written once and read back
 * on --resume, merged into the options, and the folder checks.
 *
 * run.json keeps the data specs with their relative paths made absolute (and the folder they
 * were given in, "cwd"), so --resume works from any folder; an older run.json's relative paths
 * are resolved against its "cwd" when it has one. Every number read back is checked to be whole
 * and inside the range its option accepts before it is cast: a file edited by hand must give a
 * message, not undefined behaviour. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "cli/args.h"
#include "cli/json.h"
#include "cli/runjson.h"
#include "cli/select.h"

#define CMD "train"

const char *const TRAIN_MODES[] = {"dann", "source-only", "target-only", NULL};

/* A data spec KIND:PATH with a relative PATH that names a file or folder in dir (the run's
 * working folder) made absolute, so that --resume works from anywhere; other specs (absolute
 * paths, split:F) are copied. 0, or -1 when it does not fit. */
static int spec_abs(char *out, size_t cap, const char *spec, const char *dir) {
    const char *colon = strchr(spec, ':');
    struct stat sb;
    int n = -1;
    if (colon && colon[1] && colon[1] != '/' && dir[0]) {
        n = snprintf(out, cap, "%.*s%s/%s", (int)(colon + 1 - spec), spec, dir, colon + 1);
        if (n >= 0 && (size_t)n < cap && stat(out + (colon + 1 - spec), &sb) != 0) n = -1;
    }
    if (n < 0) n = snprintf(out, cap, "%s", spec);
    return n < 0 || (size_t)n >= cap ? -1 : 0;
}

int train_write_run_json(const char *dir, const train_args *a, const char *mode,
                          const dann_train_config *cfg, const char *src_test, const char *tgt_test,
                          const char *net, int threads) {
    const double lr = cfg->lr;
    /* data paths absolute (and the folder they were given from, for the record) */
    static char cwd[SPEC_LEN], spec[4][SPEC_LEN];
    if (!getcwd(cwd, sizeof cwd)) cwd[0] = 0;
    const char *given[4] = {a->source, a->target ? a->target : "", src_test, tgt_test};
    for (int k = 0; k < 4; k++)
        if (given[k] && spec_abs(spec[k], sizeof spec[k], given[k], cwd)) {
            fprintf(stderr, "dann %s: %s: data path too long\n", CMD, given[k]);
            return 1;
        }
    json_buf j;
    json_begin(&j);
    json_str(&j, "preset", a->preset);
    json_str(&j, "arch", net);
    json_str(&j, "mode", mode);
    json_str(&j, "source", spec[0]);
    json_str(&j, "target", spec[1]);
    json_str(&j, "source_test", src_test ? spec[2] : NULL);
    json_str(&j, "target_test", tgt_test ? spec[3] : NULL);
    json_str(&j, "cwd", cwd);
    json_int(&j, "threads", threads);
    json_int(&j, "epochs", a->epochs);
    json_int(&j, "batch", a->batch);
    json_u64(&j, "seed", a->seed);
    /* the seed again as two exact 32-bit halves: %.10g readers lose bits above 2^53 */
    json_int(&j, "seed_lo", (int64_t)(a->seed & 0xffffffffu));
    json_int(&j, "seed_hi", (int64_t)(a->seed >> 32));
    json_int(&j, "max_steps", a->max_steps);
    json_int(&j, "chunk", a->chunk);
    json_int(&j, "eval_max", a->eval_max);
    json_int(&j, "source_val", a->source_val);
    json_num(&j, "lr", lr);
    json_int(&j, "patience", a->patience);
    json_num_or_null(&j, "lambda", a->lambda, a->has_lambda);
    json_num(&j, "lambda_max", cfg->lambda_max);
    json_num(&j, "gamma", cfg->gamma);
    json_int(&j, "iters_per_epoch", a->iters_per_epoch);
    json_str(&j, "source_norm", a->source_norm);
    json_str(&j, "target_norm", a->target_norm);
    json_str(&j, "select", a->select ? a->select : "");
    json_int(&j, "select_n", a->select_n);
    json_str(&j, "average", a->average ? a->average : "");
    json_str(&j, "version", DANN_VERSION_STRING);
    json_end(&j);
    char path[SPEC_LEN + 32], tmp[SPEC_LEN + 40];
    snprintf(path, sizeof path, "%s/run.json", dir);
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    FILE *f = j.overflow ? NULL : fopen(tmp, "wb");
    int ok = f && fwrite(j.buf, 1, j.n, f) == j.n;
    if (f) {  // always close, whatever the flush gave
        const int flushed = fflush(f) == 0 && fsync(fileno(f)) == 0, closed = fclose(f) == 0;
        ok = ok && flushed && closed;
    }
    if (!ok || rename(tmp, path) != 0) {
        fprintf(stderr, "dann %s: %s: cannot write: %s\n", CMD, j.overflow ? "run.json" : path,
                j.overflow ? "settings too long" : strerror(errno));
        unlink(tmp);
        return 1;
    }
    return 0;
}

int train_read_run_json(const char *dir, run_info *r) {
    char path[SPEC_LEN + 32], buf[6 * SPEC_LEN];
    snprintf(path, sizeof path, "%s/run.json", dir);
    FILE *f;
    dann_error err;
    if (file_fopen_regular(path, &f, NULL, &err)) {
        fprintf(stderr, "dann %s: %s (needed by --resume)\n", CMD, err.msg);
        return 1;
    }
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    int bad = ferror(f);
    fclose(f);
    buf[n] = 0;
    memset(r, 0, sizeof *r);
    if (bad || !json_get_str(buf, "preset", r->preset, sizeof r->preset) ||
        !json_get_str(buf, "mode", r->mode, sizeof r->mode) ||
        !json_get_str(buf, "source", r->source, sizeof r->source) ||
        !json_get_str(buf, "target", r->target, sizeof r->target) ||
        !json_get_num(buf, "epochs", &r->epochs) || !json_get_num(buf, "batch", &r->batch) ||
        !json_get_num(buf, "seed_lo", &r->seed_lo) || !json_get_num(buf, "seed_hi", &r->seed_hi) ||
        !json_get_num(buf, "max_steps", &r->max_steps) ||
        !json_get_num(buf, "eval_max", &r->eval_max) ||
        !json_get_num(buf, "source_val", &r->source_val)) {
        fprintf(stderr, "dann %s: %s: not a run.json written by dann train\n", CMD, path);
        return 1;
    }
    json_get_str(buf, "source_test", r->source_test, sizeof r->source_test);
    json_get_str(buf, "target_test", r->target_test, sizeof r->target_test);
    json_get_str(buf, "cwd", r->cwd, sizeof r->cwd);
    if (!json_get_num(buf, "chunk", &r->chunk)) r->chunk = 0;
    json_get_str(buf, "select", r->select, sizeof r->select);
    json_get_str(buf, "average", r->average, sizeof r->average);
    if (!json_get_num(buf, "patience", &r->patience)) r->patience = 0;
    if (!json_get_num(buf, "select_n", &r->select_n)) r->select_n = SELECT_N_DEFAULT;
    if (!json_get_num(buf, "iters_per_epoch", &r->iters_per_epoch)) r->iters_per_epoch = 0;
    json_get_str(buf, "source_norm", r->source_norm, sizeof r->source_norm);
    json_get_str(buf, "target_norm", r->target_norm, sizeof r->target_norm);
    if (!json_get_num(buf, "threads", &r->threads)) r->threads = 0;  /* older runs: not stored */
    /* Every number within what the options accept, and whole: a value cast to int unchecked
     * is undefined behaviour (1e300 epochs). The ranges are those of parse(). */
    const struct { const char *key; double v, lo, hi; } num[] = {
        {"epochs", r->epochs, 1, 1000000},      {"batch", r->batch, 1, 65536},
        {"seed_lo", r->seed_lo, 0, 4294967295.0}, {"seed_hi", r->seed_hi, 0, 4294967295.0},
        {"max_steps", r->max_steps, 0, 100000000}, {"eval_max", r->eval_max, 0, 100000000},
        {"source_val", r->source_val, 0, 100000000}, {"chunk", r->chunk, 0, 65536},
        {"patience", r->patience, 0, 1000000},  {"select_n", r->select_n, 0, 1000000},
        {"iters_per_epoch", r->iters_per_epoch, 0, 100000000}, {"threads", r->threads, 0, 1024},
    };
    for (size_t k = 0; k < sizeof num / sizeof *num; k++)
        if (!(num[k].v >= num[k].lo && num[k].v <= num[k].hi) || num[k].v != floor(num[k].v)) {
            fprintf(stderr, "dann %s: %s: \"%s\" is %g, not a whole number in [%.0f, %.0f]\n", CMD,
                    path, num[k].key, num[k].v, num[k].lo, num[k].hi);
            return 1;
        }
    /* a relative data path of an older run.json is relative to the folder it was started in */
    char *specs[4] = {r->source, r->target, r->source_test, r->target_test};
    char abs_spec[SPEC_LEN];
    for (int k = 0; k < 4 && r->cwd[0]; k++)
        if (specs[k][0] && !spec_abs(abs_spec, sizeof abs_spec, specs[k], r->cwd))
            memcpy(specs[k], abs_spec, sizeof abs_spec);
    return 0;
}

/* Fills unset options from run.json; 2 when a given option contradicts it. */
int train_merge_resume(train_args *a, run_info *r) {
    struct { const char *name; int *given; int unset; double stored; } nums[] = {
        {"--epochs", &a->epochs, 0, r->epochs},
        {"--batch", &a->batch, 0, r->batch},
        {"--max-steps", &a->max_steps, -1, r->max_steps},
        {"--source-val", &a->source_val, -1, r->source_val},
        {"--chunk", &a->chunk, -1, r->chunk},
        {"--patience", &a->patience, -1, r->patience},
        {"--select-n", &a->select_n, 0, r->select_n},
        {"--iters-per-epoch", &a->iters_per_epoch, -1, r->iters_per_epoch},
    };
    for (size_t k = 0; k < sizeof nums / sizeof *nums; k++) {
        if (*nums[k].given == nums[k].unset) *nums[k].given = (int)nums[k].stored;
        else if (*nums[k].given != (int)nums[k].stored)
            return args_usage(CMD, "%s %d differs from the run being resumed (%d): a resumed run "
                              "keeps its settings", nums[k].name, *nums[k].given, (int)nums[k].stored);
    }
    uint64_t seed = (uint64_t)r->seed_lo | ((uint64_t)r->seed_hi << 32);
    if (a->has_seed && a->seed != seed)
        return args_usage(CMD, "--seed %llu differs from the run being resumed (%llu)",
                          (unsigned long long)a->seed, (unsigned long long)seed);
    a->seed = seed;
    if (a->eval_max < 0) a->eval_max = (int)r->eval_max;
    if (a->mode >= 0 && strcmp(TRAIN_MODES[a->mode], r->mode))
        return args_usage(CMD, "--mode %s differs from the run being resumed (%s)", TRAIN_MODES[a->mode],
                          r->mode);
    for (int k = 0; a->mode < 0 && TRAIN_MODES[k]; k++)
        if (!strcmp(TRAIN_MODES[k], r->mode)) a->mode = k;  /* e.g. source-only needs no target */
    const char *given[2] = {a->select, a->average}, *stored[2] = {r->select, r->average};
    const char *names[2] = {"--select", "--average"};
    for (int k = 0; k < 2; k++) {
        if (given[k] && strcmp(given[k], stored[k]))
            return args_usage(CMD, "%s %s differs from the run being resumed ('%s')", names[k],
                              given[k], stored[k]);
    }
    if (!a->select && r->select[0]) a->select = r->select;
    if (!a->average && r->average[0]) a->average = r->average;
    if (a->has_lambda || a->has_lambda_max || a->has_gamma)
        return args_usage(CMD, "%s cannot change on --resume (the checkpoint holds it)",
                          a->has_lambda ? "--lambda" : a->has_lambda_max ? "--lambda-max" : "--gamma");
    if (a->source_norm || a->target_norm)
        return args_usage(CMD, "%s cannot change on --resume (the checkpoint holds the "
                          "normalisation)", a->source_norm ? "--source-norm" : "--target-norm");
    if (!a->preset) a->preset = r->preset;
    if (!a->source) a->source = r->source;
    if (!a->target && r->target[0]) a->target = r->target;
    if (!a->source_test && r->source_test[0]) a->source_test = r->source_test;
    if (!a->target_test && r->target_test[0]) a->target_test = r->target_test;
    return 0;
}

int train_mkdir_p(const char *dir) {
    char p[SPEC_LEN];
    if (snprintf(p, sizeof p, "%s", dir) >= (int)sizeof p) {
        errno = ENAMETOOLONG;
        return -1;
    }
    for (char *s = p + 1; *s; s++)
        if (*s == '/') {
            *s = 0;
            if (mkdir(p, 0755) != 0 && errno != EEXIST) return -1;
            *s = '/';
        }
    if (mkdir(p, 0755) != 0 && errno != EEXIST) return -1;
    struct stat sb;
    if (stat(p, &sb) != 0) return -1;
    if (!S_ISDIR(sb.st_mode)) {
        errno = ENOTDIR;
        return -1;
    }
    return 0;
}

/* 0 when dir can hold a fresh run: a folder, or a path that train_mkdir_p can create (its
 * nearest existing ancestor a folder), holding no run yet (a folder whose run stopped before
 * its first epoch, with only run.json, may be reused). Otherwise prints why and returns 1.
 * Creates nothing. */
int train_check_run_folder(const char *dir) {
    char p[SPEC_LEN];
    struct stat sb;
    if (snprintf(p, sizeof p, "%s", dir) >= (int)sizeof p)
        return fprintf(stderr, "dann %s: --out %s: path too long\n", CMD, dir), 1;
    while (stat(p, &sb) != 0) {
        char *slash = strrchr(p, '/');
        if (errno != ENOENT && errno != ENOTDIR)  /* ENOTDIR: an ancestor is a file, found below */
            return fprintf(stderr, "dann %s: --out %s: %s: %s\n", CMD, dir, p, strerror(errno)), 1;
        if (!slash) snprintf(p, sizeof p, ".");
        else if (slash == p) p[1] = 0;
        else *slash = 0;
    }
    if (!S_ISDIR(sb.st_mode))
        return fprintf(stderr, "dann %s: --out %s: %s is not a folder\n", CMD, dir, p), 1;
    if (access(p, W_OK | X_OK) != 0)
        return fprintf(stderr, "dann %s: --out %s: %s: %s\n", CMD, dir, p, strerror(errno)), 1;
    if (strcmp(p, dir)) return 0;  /* to be created: empty */
    char metrics[SPEC_LEN + 32], last[SPEC_LEN + 32];
    snprintf(metrics, sizeof metrics, "%s/metrics.jsonl", dir);
    snprintf(last, sizeof last, "%s/last.ckpt", dir);
    const int has_last = stat(last, &sb) == 0;
    if (has_last)
        return fprintf(stderr, "dann %s: %s: a run already exists in %s (continue it with --resume "
                       "%s, or choose another --out)\n", CMD, last, dir, last), 1;
    if (stat(metrics, &sb) == 0 && sb.st_size > 0)
        return fprintf(stderr, "dann %s: %s: %s holds the metrics of a run that has no last.ckpt "
                       "(it stopped before its first checkpoint): remove the folder or choose "
                       "another --out\n", CMD, metrics, dir), 1;
    return 0;
}
