/* trainguard.c - the epoch loop's guards (see trainguard.h): a resumed checkpoint's fields
 * checked against the run, the finite-divergence watch, stale temporary files removed.
 *
 * The resume checks mirror what trainloop.c writes: a checkpoint at the end of epoch e says
 * (epoch e + 1, step 0); one written on an interruption says (epoch e, step i) with
 * 0 < i < S; the optimizer has then taken exactly epoch * S + step_in_epoch steps (one per loop
 * step, whatever the number of processes); best_epoch is 1-based and never ahead of the
 * position; the shuffle RNG is a xoshiro256** state, which is never all zero. */
#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "cli/trainguard.h"
#include "core/core.h"

int guard_kv_int(const char *kv, const char *key, long long lo, long long hi, long long *v) {
    char s[64];
    if (!ckpt_kv_get(kv, key, s, sizeof s)) return 0;
    char *end;
    errno = 0;
    long long x = strtoll(s, &end, 10);
    if (end == s || *end || errno || x < lo || x > hi) return -1;
    *v = x;
    return 1;
}

dann_status guard_check_resume(const char *path, const ckpt_meta *meta, int64_t steps,
                               const guard_run *r, dann_error *err) {
    const int S = r->steps_per_epoch;
    if (meta->epochs != (uint32_t)r->epochs)
        return dann_fail(err, DANN_ERR_ARG, "%s: field epochs is %u; this run asks for %d epochs",
                         path, meta->epochs, r->epochs);
    if (meta->batch != (uint32_t)r->batch)
        return dann_fail(err, DANN_ERR_ARG, "%s: field batch is %u; this run asks for batch %d",
                         path, meta->batch, r->batch);
    if (meta->seed != r->seed)
        return dann_fail(err, DANN_ERR_ARG, "%s: field seed is %llu; this run asks for seed %llu",
                         path, (unsigned long long)meta->seed, (unsigned long long)r->seed);
    if (meta->epoch > meta->epochs)
        return dann_fail(err, DANN_ERR_FORMAT, "%s: field epoch %u beyond the run's %u epochs",
                         path, meta->epoch, meta->epochs);
    if (meta->step_in_epoch >= (uint32_t)S)
        return dann_fail(err, DANN_ERR_ARG, "%s: field step_in_epoch %u: stopped at a step the "
                         "epoch of %d steps here does not have (different data or --max-steps?)",
                         path, meta->step_in_epoch, S);
    if (meta->epoch == meta->epochs && meta->step_in_epoch)
        return dann_fail(err, DANN_ERR_FORMAT, "%s: field step_in_epoch %u after the last epoch",
                         path, meta->step_in_epoch);
    const int64_t want = (int64_t)meta->epoch * S + meta->step_in_epoch;
    if (steps != want)
        return dann_fail(err, DANN_ERR_FORMAT, "%s: field steps %lld does not match the position "
                         "(epoch %u step %u of %d-step epochs is %lld optimizer steps)", path,
                         (long long)steps, meta->epoch, meta->step_in_epoch, S, (long long)want);
    if (meta->best_epoch > meta->epoch || (meta->best_epoch && r->source_val == 0))
        return dann_fail(err, DANN_ERR_FORMAT, "%s: field best_epoch %u %s", path,
                         meta->best_epoch, meta->best_epoch > meta->epoch
                         ? "is ahead of the epochs done" : "set in a run without --source-val");
    const float acc = meta->best_val_acc;
    if (!isfinite(acc) || acc < (meta->best_epoch ? 0.0f : -1.0f) || acc > 1.0f)
        return dann_fail(err, DANN_ERR_FORMAT, "%s: field best_val_acc %g out of range", path,
                         (double)acc);
    if (!(meta->shuffle_rng[0] | meta->shuffle_rng[1] | meta->shuffle_rng[2] | meta->shuffle_rng[3]))
        return dann_fail(err, DANN_ERR_FORMAT, "%s: field shuffle_rng is all zero (not a state "
                         "xoshiro256** can be in)", path);
    /* the loop's own key/value lines (the extensions check theirs in their start) */
    long long v;
    if (guard_kv_int(meta->kv, "early_stop", 1, meta->epoch, &v) < 0)
        return dann_fail(err, DANN_ERR_FORMAT, "%s: key early_stop is not an epoch in [1, %u]",
                         path, meta->epoch);
    if (guard_kv_int(meta->kv, "threads", 1, 1024, &v) < 0)
        return dann_fail(err, DANN_ERR_FORMAT, "%s: key threads is not a thread count in [1, 1024]",
                         path);
    return DANN_OK;
}

void guard_watch_init(guard_watch *w, int n_classes) {
    w->limit = GUARD_LOSS_FACTOR * log(n_classes > 1 ? n_classes : 2);
    w->over = 0;
}

int guard_watch_step(guard_watch *w, double loss_class) {
    w->over = loss_class > w->limit ? w->over + 1 : 0;
    return w->over >= GUARD_LOSS_STEPS;
}

/* 1 when name is a temporary file one of the run folder's atomic writes uses. */
static int is_run_tmp(const char *name) {
    const size_t n = strlen(name);
    static const char *const whole[] = {"run.json.tmp", "summary.json.tmp", "metrics.jsonl.tmp"};
    for (size_t k = 0; k < sizeof whole / sizeof *whole; k++)
        if (!strcmp(name, whole[k])) return 1;
    return n > strlen(".ckpt.tmp") && !strcmp(name + n - strlen(".ckpt.tmp"), ".ckpt.tmp");
}

int guard_clean_tmp(const char *dir, int quiet) {
    DIR *d = opendir(dir);
    if (!d) return 0;
    int removed = 0;
    struct dirent *e;
    char p[4608];
    while ((e = readdir(d))) {
        if (!is_run_tmp(e->d_name)) continue;
        snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
        struct stat sb;
        if (lstat(p, &sb) != 0 || !S_ISREG(sb.st_mode) || unlink(p) != 0) continue;
        removed++;
        if (!quiet) printf("removed %s (left by a save that was killed)\n", p);
    }
    closedir(d);
    return removed;
}
