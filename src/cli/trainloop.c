/* trainloop.c - the epoch loop of trainloop.h: permutations, batches, steps, per-epoch
 * evaluation, metrics.jsonl, checkpoints, interruption and exact resume.
 *
 * Files in the run folder (when out_dir is set):
 *   metrics.jsonl  one JSON object per completed epoch, appended whole (one write, then fsync);
 *                  on resume, lines of epochs the checkpoint has not completed are dropped
 *   last.ckpt      after every epoch and on interruption (atomic: ckpt_save)
 *   best.ckpt      when the source-validation accuracy improves (strictly)
 *   summary.json   when the run is complete (atomic: written to .tmp and renamed) */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "cli/json.h"
#include "cli/progress.h"
#include "cli/trainguard.h"
#include "cli/trainloop.h"
#include "data/vec.h"
#include "io/checkpoint.h"
#include "core/core.h"
#include "model/evaluate.h"

#define MAX_EPOCHS 1000000

static volatile sig_atomic_t g_stop;
static const char *g_stop_msg;
static size_t g_stop_len;

static void on_stop_signal(int sig) {
    (void)sig;
    g_stop = 1;
    ssize_t k = write(STDERR_FILENO, g_stop_msg, g_stop_len);
    (void)k;
}

volatile sig_atomic_t *trainloop_catch_stop(trainloop_signals *s, const char *msg) {
    g_stop = 0;
    g_stop_msg = msg;
    g_stop_len = strlen(msg);
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_stop_signal;
    sa.sa_flags = SA_RESTART | SA_RESETHAND;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, &s->old_int);
    sigaction(SIGTERM, &sa, &s->old_term);
    return &g_stop;
}

void trainloop_release_stop(const trainloop_signals *s) {
    sigaction(SIGINT, &s->old_int, NULL);
    sigaction(SIGTERM, &s->old_term, NULL);
}

int trainloop_steps_per_epoch(int n_src, int n_tgt, int batch, int max_steps) {
    DANN_ASSERT(batch > 0 && n_src > 0 && n_tgt > 0);
    int s = (n_src + batch - 1) / batch, t = (n_tgt + batch - 1) / batch;
    int steps = s < t ? s : t;
    return max_steps > 0 && max_steps < steps ? max_steps : steps;
}

uint64_t trainloop_seed(uint64_t seed, int k) {
    /* splitmix64 finaliser of seed + k * golden ratio: distinct, well-mixed stream seeds. */
    uint64_t z = seed + (uint64_t)k * 0x9e3779b97f4a7c15ULL;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

void trainloop_split(int n, int n_val, uint64_t seed, int32_t *train, int32_t *val) {
    DANN_ASSERT(n_val >= 0 && n_val < n);
    /* train doubles as the permutation buffer: its last n_val entries become val, the rest is
     * re-sorted through a membership pass (O(n), no extra allocation beyond val itself). */
    dann_rng r;
    rng_seed(&r, trainloop_seed(seed, 3));
    for (int i = 0; i < n; i++) train[i] = i;
    rng_shuffle(&r, train, n);
    memcpy(val, train + (n - n_val), sizeof(int32_t) * (size_t)n_val);
    for (int i = 0; i < n; i++) train[i] = 0;
    for (int k = 0; k < n_val; k++) train[val[k]] = 1;  /* marks, in the first n entries */
    int m = 0;
    for (int i = 0; i < n; i++)
        if (!train[i]) train[m++] = i;  /* m <= i: overwrites only marks already read */
}

int trainloop_cycle_batch(const int32_t *base, int n, int B, uint64_t seed, int dom, int64_t g,
                          int32_t *perm, int64_t *cached, const int32_t **batch) {
    DANN_ASSERT(n > 0 && B > 0 && g >= 0);
    const int b = B < n ? B : n, per = n / b;
    const int64_t cycle = g / per;
    if (*cached != cycle) {
        /* the cycle's own stream: splitmix of the domain's seed plus cycle * golden ratio */
        uint64_t z = trainloop_seed(seed, 24 + dom) + (uint64_t)cycle * 0x9e3779b97f4a7c15ULL;
        dann_rng r;
        rng_seed(&r, trainloop_seed(z, 0));
        memcpy(perm, base, sizeof(int32_t) * (size_t)n);
        rng_shuffle(&r, perm, n);
        *cached = cycle;
    }
    *batch = perm + (size_t)(g % per) * b;
    return b;
}

/* ---- run-folder files ----------------------------------------------------------------- */

static void path_in(char *out, size_t cap, const char *dir, const char *name) {
    snprintf(out, cap, "%s/%s", dir, name);
}

static int file_nonempty(const char *path) {
    struct stat sb;
    return stat(path, &sb) == 0 && sb.st_size > 0;
}

/* Appends one whole line: a single write on an O_APPEND descriptor, then fsync. *before
 * receives the file's size before the line (to take it back). */
static dann_status append_line(const char *path, const char *line, size_t len, off_t *before,
                               dann_error *err) {
    int fd = open(path, O_WRONLY | O_APPEND | O_CREAT, 0644);
    if (fd < 0) return dann_fail(err, DANN_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    struct stat sb;
    *before = fstat(fd, &sb) == 0 ? sb.st_size : 0;
    size_t done = 0;
    while (done < len) {
        ssize_t k = write(fd, line + done, len - done);
        if (k < 0 && errno == EINTR) continue;
        if (k <= 0) {
            int e = errno;
            close(fd);
            return dann_fail(err, DANN_ERR_IO, "%s: write failed: %s", path, strerror(e));
        }
        done += (size_t)k;
    }
    if (fsync(fd) != 0 || close(fd) != 0)
        return dann_fail(err, DANN_ERR_IO, "%s: cannot flush: %s", path, strerror(errno));
    return DANN_OK;
}

/* Writes text to path atomically (path.tmp, fsync, rename). */
static dann_status write_atomic(const char *path, const char *text, size_t len, dann_error *err) {
    char tmp[4200];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0) return dann_fail(err, DANN_ERR_IO, "%s: cannot create: %s", tmp, strerror(errno));
    size_t done = 0;
    int ok = 1;
    while (ok && done < len) {
        ssize_t k = write(fd, text + done, len - done);
        if (k < 0 && errno == EINTR) continue;
        if (k <= 0) ok = 0;
        else done += (size_t)k;
    }
    if (ok && fsync(fd) != 0) ok = 0;
    int e = errno;
    if (close(fd) != 0) ok = 0;
    if (!ok || rename(tmp, path) != 0) {
        if (ok) e = errno;
        unlink(tmp);
        return dann_fail(err, DANN_ERR_IO, "%s: cannot write: %s", path, strerror(e));
    }
    return DANN_OK;
}

/* On resume: keeps the lines of epochs 1..done (dropping any later ones, e.g. from a crash
 * between the metrics line and the checkpoint) and reports what they hold. The target accuracy
 * at best_epoch goes to r->best_tgt_acc. */
static dann_status metrics_resume(const char *path, int done, int best_epoch, trainloop_result *r,
                                  dann_error *err) {
    FILE *f;
    struct stat sb;
    if (stat(path, &sb) != 0 && errno == ENOENT) return DANN_OK;
    dann_status os = file_fopen_regular(path, &f, NULL, err);
    if (os) return os;
    char *keep = NULL;
    size_t keep_n = 0, keep_cap = 0;
    char line[8192];
    int dropped = 0;
    dann_status st = DANN_OK;
    while (fgets(line, sizeof line, f)) {
        size_t len = strlen(line);
        double e, v;
        if (len == 0 || line[len - 1] != '\n' || !json_get_num(line, "epoch", &e)) {
            dropped = 1;  /* a torn or foreign line */
            continue;
        }
        if ((int)e < 1 || (int)e > done) {
            dropped = 1;
            continue;
        }
        if (keep_n + len + 1 > keep_cap) {
            size_t cap = (keep_cap + len + 1) * 2;
            char *g = realloc(keep, cap);
            if (!g) {
                st = dann_fail(err, DANN_ERR_NOMEM, "%s: out of memory", path);
                break;
            }
            keep = g;
            keep_cap = cap;
        }
        memcpy(keep + keep_n, line, len);
        keep_n += len;
        r->src_acc = json_get_num(line, "source_test_acc", &v) ? v : -1;
        r->tgt_acc = json_get_num(line, "target_test_acc", &v) ? v : -1;
        r->val_acc = json_get_num(line, "source_val_acc", &v) ? v : -1;
        if (r->tgt_acc >= 0 && r->tgt_acc > r->oracle_tgt_acc) {
            r->oracle_tgt_acc = r->tgt_acc;
            r->oracle_epoch = (int)e;
        }
        if ((int)e == best_epoch) r->best_tgt_acc = r->tgt_acc;
    }
    if (!st && ferror(f)) st = dann_fail(err, DANN_ERR_IO, "%s: read error", path);
    fclose(f);
    if (!st && dropped) st = write_atomic(path, keep ? keep : "", keep_n, err);
    free(keep);
    return st;
}

/* ---- the loop ----------------------------------------------------------------------------- */

typedef struct {
    dann_model *m;
    dann_trainer *t;
    dataset val;              /* copy of the held-out source images */
    int32_t *train_idx, *val_idx, *perm_s, *perm_t, *base_t, *ys, *yt;
    data_batch bs, bt;        /* the source and target batches (dense, or sparse rows) */
} loop_mem;

static void mem_free(loop_mem *L) {
    dann_trainer_free(L->t);
    dataset_free(&L->val);
    free(L->train_idx), free(L->val_idx), free(L->perm_s), free(L->perm_t), free(L->base_t);
    free(L->ys), free(L->yt);
    data_batch_free(&L->bs), data_batch_free(&L->bt);
}

static dann_status check_inputs(const trainloop_opts *o, const trainloop_data *d, int c, int h,
                                int w, int vec, int n_classes, dann_mode mode, dann_error *err) {
    if (o->epochs < 1 || o->epochs > MAX_EPOCHS)
        return dann_fail(err, DANN_ERR_ARG, "epochs must be in [1, %d], got %d", MAX_EPOCHS, o->epochs);
    if (o->batch < 1) return dann_fail(err, DANN_ERR_ARG, "batch must be >= 1, got %d", o->batch);
    if (o->max_steps < 0 || o->eval_max < 0 || o->source_val < 0 || o->iters_per_epoch < 0)
        return dann_fail(err, DANN_ERR_ARG, "max-steps, eval-max, source-val and iters-per-epoch "
                         "must be >= 0");
    const dataset *all[4] = {d->src, d->tgt, d->src_test, d->tgt_test};
    for (int k = 0; k < 4; k++) {
        const dataset *ds = all[k];
        if (k == 1 && !ds && mode == DANN_MODE_SOURCE_ONLY) continue;  /* no target needed */
        if (k < 2 && (!ds || ds->n < 1))
            return dann_fail(err, DANN_ERR_ARG, "the %s training set is empty", k ? "target" : "source");
        if (ds && !ds->vec != !vec)
            return dann_fail(err, DANN_ERR_ARG, "%s: %s, but the model takes %s", ds->name,
                             ds->vec ? "feature vectors" : "images", vec ? "feature vectors" : "images");
        if (ds && (ds->h != h || ds->w != w || (ds->c != c && !(ds->c == 1 && c == 3 && !vec))))
            return dann_fail(err, DANN_ERR_ARG, "%s: images are %dx%dx%d, the model takes %dx%dx%d",
                             ds->name, ds->c, ds->h, ds->w, c, h, w);
    }
    const dataset *lab = mode == DANN_MODE_TARGET_ONLY ? d->tgt : d->src;
    for (int i = 0; i < lab->n; i++)
        if (lab->y[i] < 0 || lab->y[i] >= n_classes)
            return dann_fail(err, DANN_ERR_ARG, "%s: image %d has no class label in [0, %d) (label %d)",
                             lab->name, i, n_classes, lab->y[i]);
    if (o->patience < 0 || (o->patience > 0 && o->source_val == 0))
        return dann_fail(err, DANN_ERR_ARG, "patience %d: early stopping needs a source validation "
                         "split (source-val N)", o->patience);
    if (o->source_val >= d->src->n)
        return dann_fail(err, DANN_ERR_ARG, "source-val %d leaves no source training image (%s has %d)",
                         o->source_val, d->src->name, d->src->n);
    return DANN_OK;
}

/* The held-out images as a dataset of their own (a copy; evaluation reads it like a test set). */
static dann_status make_val(dataset *val, const dataset *src, const int32_t *idx, int n,
                            dann_error *err) {
    dann_status st = dataset_subset(val, src, idx, n, err);
    if (!st) snprintf(val->name, sizeof val->name, "source-val");
    return st;
}

/* Evaluates ds (NULL: skipped, returns -1); n_max caps the images; -1 when nothing is labelled. */
static dann_status eval_acc(dann_model *m, const dataset *ds, int n_max, double *acc,
                            dann_error *err) {
    *acc = -1;
    if (!ds) return DANN_OK;
    eval_result r;
    dann_status st = model_evaluate(m, ds, n_max, NULL, NULL, &r, err);
    if (st) return st;
    if (r.n > 0) *acc = r.accuracy;
    return DANN_OK;
}

static const char *mode_name(dann_mode mode) {
    return mode == DANN_MODE_DANN ? "dann" : mode == DANN_MODE_SOURCE_ONLY ? "source-only"
                                                                          : "target-only";
}

static void fmt_acc(char *buf, size_t cap, const char *name, double acc) {
    if (acc >= 0) snprintf(buf, cap, "  %s %.4f", name, acc);
    else buf[0] = 0;
}

/* DANN_ERR_NUMERIC when the model or optimizer holds a NaN, an infinity or a negative variance
 * after `step` steps of epoch (0-based); saved says what last.ckpt keeps. */
static dann_status check_values(const loop_mem *L, int epoch, int step, const char *saved,
                                int files, dann_error *err) {
    char why[256];
    if (!ckpt_values_bad(L->m, L->t, why, sizeof why)) return DANN_OK;
    return dann_fail(err, DANN_ERR_NUMERIC, "epoch %d step %d: training diverged: %s%s%s%s",
                     epoch + 1, step, why, files ? "; not saved (" : "", files ? saved : "",
                     files ? ")" : "");
}

/* last.ckpt with the thread count (the CLI resumes with it) and the position in meta; on
 * success saved says what it now holds. */
static dann_status save_last(const char *path, const loop_mem *L, ckpt_meta *meta, char *saved,
                             size_t cap, dann_error *err) {
    char v[16];
    snprintf(v, sizeof v, "%d", dann_get_threads());
    dann_status st = ckpt_kv_set(meta->kv, "threads", v, err);
    if (!st) st = ckpt_save(path, L->m, L->t, meta, err);
    if (st) return st;
    if (meta->step_in_epoch)
        snprintf(saved, cap, "%s keeps the state at epoch %u step %u", path, meta->epoch + 1,
                 meta->step_in_epoch);
    else
        snprintf(saved, cap, "%s keeps the state after epoch %u", path, meta->epoch);
    return DANN_OK;
}

dann_status trainloop_run(const trainloop_opts *o, const dann_train_config *cfg,
                          const trainloop_data *d, dann_model **model_out, trainloop_result *res,
                          dann_error *err) {
    loop_mem L;
    memset(&L, 0, sizeof L);
    trainloop_result R;
    memset(&R, 0, sizeof R);
    R.src_acc = R.tgt_acc = R.val_acc = R.best_val_acc = R.best_tgt_acc = R.oracle_tgt_acc = -1;
    if (model_out) *model_out = NULL;
    char p_metrics[4200] = "", p_last[4200] = "", p_best[4200] = "", p_summary[4200] = "";
    if (o->out_dir) {
        path_in(p_metrics, sizeof p_metrics, o->out_dir, "metrics.jsonl");
        path_in(p_last, sizeof p_last, o->out_dir, "last.ckpt");
        path_in(p_best, sizeof p_best, o->out_dir, "best.ckpt");
        path_in(p_summary, sizeof p_summary, o->out_dir, "summary.json");
    }
    ckpt_meta meta;
    memset(&meta, 0, sizeof meta);
    dann_status st;
    /* What last.ckpt holds, for messages that must be true about it. */
    char saved[4400] = "no checkpoint was written";
    if (o->out_dir) guard_clean_tmp(o->out_dir, o->quiet);

    /* Model and trainer: fresh, or everything restored from the checkpoint. */
    if (o->resume) {
        if ((st = ckpt_load(o->resume, o->batch, &L.m, &L.t, &meta, err))) goto done;
        if (o->dist && (st = dann_trainer_set_dist(L.t, o->dist, err))) goto done;
        snprintf(saved, sizeof saved, "%s keeps the state it was resumed from", o->resume);
    } else {
        if (!cfg) {
            st = dann_fail(err, DANN_ERR_ARG, "a fresh run needs a training configuration");
            goto done;
        }
        if (o->out_dir && (file_nonempty(p_metrics) || file_nonempty(p_last))) {
            if (file_nonempty(p_last))
                st = dann_fail(err, DANN_ERR_ARG, "%s: a run already exists there (continue it "
                               "with --resume %s, or choose another --out)", o->out_dir, p_last);
            else
                st = dann_fail(err, DANN_ERR_ARG, "%s: holds the metrics of a run that has no "
                               "last.ckpt (it stopped before its first checkpoint): remove it or "
                               "choose another --out", o->out_dir);
            goto done;
        }
        if ((st = dann_model_new(&L.m, o->arch ? o->arch : "py3", o->seed, o->batch, err))) goto done;
        if ((st = dann_trainer_new(&L.t, L.m, cfg, trainloop_seed(o->seed, 1), err))) goto done;
        if (o->dist && (st = dann_trainer_set_dist(L.t, o->dist, err))) goto done;
        rng_seed((dann_rng *)meta.shuffle_rng, trainloop_seed(o->seed, 2));
        snprintf(meta.preset, sizeof meta.preset, "%s", o->preset ? o->preset : "");
        meta.epochs = (uint32_t)o->epochs;
        meta.batch = (uint32_t)o->batch;
        meta.seed = o->seed;
        meta.best_val_acc = -1.0f;
        if (o->kv) snprintf(meta.kv, sizeof meta.kv, "%s", o->kv);
        if (o->iters_per_epoch > 0) {
            char v[32];
            snprintf(v, sizeof v, "%d", o->iters_per_epoch);
            if ((st = ckpt_kv_set(meta.kv, "iters_per_epoch", v, err))) goto done;
        }
    }
    if (o->resume) {
        long long ipe = 0;
        if (guard_kv_int(meta.kv, "iters_per_epoch", 1, 100000000, &ipe) < 0) {
            st = dann_fail(err, DANN_ERR_FORMAT, "%s: key iters_per_epoch is not a count in [1, "
                           "100000000]", o->resume);
            goto done;
        }
        if (ipe != o->iters_per_epoch) {
            char was[32] = "data-sized";
            if (ipe) snprintf(was, sizeof was, "%lld", ipe);
            st = dann_fail(err, DANN_ERR_ARG, "%s: written by a run of %s iterations per epoch; this "
                           "run asks for %d", o->resume, was, o->iters_per_epoch);
            goto done;
        }
    }
    const dann_mode mode = dann_trainer_config(L.t)->mode;
    int C, H, W, NC;
    dann_model_shape(L.m, &C, &H, &W, &NC);
    const int vec = dann_model_input_is_vector(L.m);
    if ((st = check_inputs(o, d, C, H, W, vec, NC, mode, err))) goto done;

    /* Index sets and buffers, allocated once. */
    const int B = o->batch, n_val = o->source_val, ns = d->src->n - n_val;
    const int nt = d->tgt ? d->tgt->n : 0, cyc = o->iters_per_epoch > 0;
    const int S = cyc ? (o->max_steps > 0 && o->max_steps < o->iters_per_epoch ? o->max_steps
                                                                              : o->iters_per_epoch)
                      : trainloop_steps_per_epoch(ns, nt > 0 ? nt : ns, B, o->max_steps);
    if (o->dist && o->dist->n_ranks > 1) {
        // every pass's batch must give each process at least one chunk, the last (shortest) too
        const int last_s = cyc ? (ns < B ? ns : B) : ns - (S - 1) * B < B ? ns - (S - 1) * B : B;
        const int last_t = cyc ? (nt < B ? nt : B) : nt - (S - 1) * B < B ? nt - (S - 1) * B : B;
        int shortest = mode == DANN_MODE_SOURCE_ONLY ? last_s : mode == DANN_MODE_TARGET_ONLY ? last_t
                       : last_s < last_t ? last_s : last_t;
        const int K = (shortest + o->dist->chunk - 1) / o->dist->chunk;
        if (K < o->dist->n_ranks) {
            st = dann_fail(err, DANN_ERR_ARG, "%d processes need %d chunks in every batch, but the "
                           "shortest batch (%d examples) has %d chunks of %d: use --chunk %d or "
                           "fewer processes", o->dist->n_ranks, o->dist->n_ranks, shortest, K,
                           o->dist->chunk, shortest / o->dist->n_ranks > 0 ? shortest / o->dist->n_ranks : 1);
            goto done;
        }
    }
    if (o->resume) {
        /* every field of the checkpoint against this run, before any of them is used */
        const guard_run gr = {o->epochs, B, S, n_val, o->seed};
        if ((st = guard_check_resume(o->resume, &meta, dann_trainer_steps(L.t), &gr, err))) goto done;
    }
    R.steps_per_epoch = S;
    L.train_idx = dann_calloc((size_t)d->src->n, sizeof(int32_t), err);
    L.val_idx = dann_calloc((size_t)(n_val ? n_val : 1), sizeof(int32_t), err);
    L.perm_s = dann_calloc((size_t)ns, sizeof(int32_t), err);
    L.perm_t = dann_calloc((size_t)(nt ? nt : 1), sizeof(int32_t), err);
    L.base_t = dann_calloc((size_t)(nt ? nt : 1), sizeof(int32_t), err);
    L.ys = dann_calloc((size_t)B, sizeof(int32_t), err);
    L.yt = dann_calloc((size_t)B, sizeof(int32_t), err);
    if (!L.train_idx || !L.val_idx || !L.perm_s || !L.perm_t || !L.base_t || !L.ys || !L.yt ||
        data_batch_init(&L.bs, d->src, B, C, vec == 2, err) ||
        (d->tgt && data_batch_init(&L.bt, d->tgt, B, C, vec == 2, err))) {
        st = DANN_ERR_NOMEM;
        goto done;
    }
    trainloop_split(d->src->n, n_val, o->seed, L.train_idx, L.val_idx);
    if (n_val && (st = make_val(&L.val, d->src, L.val_idx, n_val, err))) goto done;

    if (o->resume && o->out_dir &&
        (st = metrics_resume(p_metrics, (int)meta.epoch, (int)meta.best_epoch, &R, err)))
        goto done;
    R.epochs_done = (int)meta.epoch;
    R.best_epoch = (int)meta.best_epoch;
    if (R.best_epoch) R.best_val_acc = meta.best_val_acc;
    char early[32];
    if (o->resume && ckpt_kv_get(meta.kv, "early_stop", early, sizeof early))
        R.stopped_early = atoi(early);  /* an epoch in [1, epoch]: guard_check_resume */
    for (int k = 0; k < o->n_ext; k++)
        if (o->ext[k].start && (st = o->ext[k].start(o->ext[k].ctx, L.m, meta.kv,
                                                     dann_trainer_steps(L.t), o->out_dir, err))) {
            if (st == DANN_ERR_FORMAT && o->resume) {  /* its lines came from that file */
                char msg[sizeof err->msg];
                snprintf(msg, sizeof msg, "%s", err->msg);
                dann_fail(err, st, "%s: %s", o->resume, msg);
            }
            goto done;
        }

    progress pg;
    progress_init(&pg, o->quiet ? PROGRESS_OFF : o->progress,
                  o->progress_out ? o->progress_out : stdout, o->label);
    const int dann = mode == DANN_MODE_DANN;
    const char *lab = o->label ? o->label : "";
    const char *sep = o->label ? ": " : "";
    dann_rng data_rng;
    memcpy(data_rng.s, meta.shuffle_rng, sizeof data_rng.s);
    int start_step = (int)meta.step_in_epoch;  /* < S: guard_check_resume */
    guard_watch watch;
    guard_watch_init(&watch, NC);

    for (int i = 0; i < nt; i++) L.base_t[i] = i;
    int64_t cached_s = -1, cached_t = -1;  /* the cycles in perm_s / perm_t (iters_per_epoch) */
    for (int epoch = (int)meta.epoch; epoch < o->epochs && !R.stopped_early; epoch++) {
        /* The state before the shuffles is what a mid-epoch checkpoint stores. */
        dann_rng epoch_rng = data_rng;
        if (!cyc) {  /* iters_per_epoch's cycles live across epochs, in perm_s / perm_t */
            memcpy(L.perm_s, L.train_idx, sizeof(int32_t) * (size_t)ns);
            rng_shuffle(&data_rng, L.perm_s, ns);
            for (int i = 0; i < nt; i++) L.perm_t[i] = i;
            rng_shuffle(&data_rng, L.perm_t, nt);
        }

        double sum_c = 0, sum_d = 0, t0 = progress_now();
        long dom_ok = 0, dom_n = 0, cls_ok = 0, cls_n = 0, images = 0;
        int run = 0;
        dann_step_stats sst;
        memset(&sst, 0, sizeof sst);
        const int first = start_step;
        start_step = 0;
        progress_epoch_begin(&pg, epoch + 1, o->epochs, S, first, dann);
        for (int i = first; i < S; i++) {
            int Bs = ns - i * B < B ? ns - i * B : B;
            int Bt = nt - i * B < B ? nt - i * B : B;
            const int32_t *is = mode != DANN_MODE_TARGET_ONLY ? L.perm_s + (size_t)i * B : NULL;
            const int32_t *it = mode != DANN_MODE_SOURCE_ONLY ? L.perm_t + (size_t)i * B : NULL;
            if (cyc) {
                const int64_t g = (int64_t)epoch * S + i;
                Bs = trainloop_cycle_batch(L.train_idx, ns, B, o->seed, 0, g, L.perm_s, &cached_s, &is);
                if (nt) Bt = trainloop_cycle_batch(L.base_t, nt, B, o->seed, 1, g, L.perm_t, &cached_t, &it);
                if (mode == DANN_MODE_TARGET_ONLY) is = NULL;
                if (mode == DANN_MODE_SOURCE_ONLY) it = NULL;
            }
            if (!nt) Bt = 0;
            // this process's part of each batch (all of it without dist)
            int fs, cs, ft, ct;
            dann_dist_slice(o->dist, Bs, &fs, &cs);
            dann_dist_slice(o->dist, Bt, &ft, &ct);
            if (is) data_batch_gather(&L.bs, L.ys, d->src, is + fs, cs);
            if (it) data_batch_gather(&L.bt, L.yt, d->tgt, it + ft, ct);
            if (o->on_batch) o->on_batch(o->hook_ctx, L.m, epoch, i, is, is ? Bs : 0, it, it ? Bt : 0);
            const double p = (double)(i + epoch * S) / o->epochs / S;
            dann_input in_s = L.bs.in, in_t = L.bt.in;
            in_s.B = cs, in_s.B_total = Bs, in_t.B = ct, in_t.B_total = Bt;
            st = dann_train_step_input(L.t, &in_s, L.ys, &in_t, L.yt, p, &sst, err);
            if (st) {
                progress_clear(&pg);
                char msg[sizeof err->msg];
                snprintf(msg, sizeof msg, "%s", err->msg);
                if (st == DANN_ERR_NUMERIC && o->out_dir)
                    dann_fail(err, st, "epoch %d step %d: %s (%s)", epoch + 1, i + 1, msg, saved);
                else
                    dann_fail(err, st, "epoch %d step %d: %s", epoch + 1, i + 1, msg);
                goto done;
            }
            if (guard_watch_step(&watch, sst.loss_class)) {
                progress_clear(&pg);
                st = dann_fail(err, DANN_ERR_NUMERIC, "epoch %d step %d: training diverged: the "
                               "class loss stayed above %g ln(%d) = %.4g for %d steps (now %.4g); "
                               "a lower learning rate may train%s%s%s", epoch + 1, i + 1,
                               GUARD_LOSS_FACTOR, NC, watch.limit, GUARD_LOSS_STEPS,
                               sst.loss_class, o->out_dir ? " (" : "", o->out_dir ? saved : "",
                               o->out_dir ? ")" : "");
                goto done;
            }
            for (int k = 0; k < o->n_ext; k++)
                if (o->ext[k].step) o->ext[k].step(o->ext[k].ctx, L.m);
            run++;
            R.steps_run++;
            sum_c += sst.loss_class;
            sum_d += (double)sst.loss_domain_src + (double)sst.loss_domain_tgt;
            dom_ok += sst.domain_correct;
            dom_n += sst.domain_total;
            cls_ok += sst.class_correct;
            cls_n += mode == DANN_MODE_TARGET_ONLY ? Bt : Bs;
            images += (mode != DANN_MODE_TARGET_ONLY ? Bs : 0) + (mode != DANN_MODE_SOURCE_ONLY ? Bt : 0);
            progress_update(&pg, i + 1, images, sum_c / run, sum_d / run);
            int stop = (o->stop && *o->stop) ||
                       (o->stop_after_steps > 0 && R.steps_run >= o->stop_after_steps);
            if (o->agree && (stop = o->agree(stop)) < 0) {
                progress_clear(&pg);
                st = dann_fail(err, DANN_ERR_IO, "epoch %d step %d: the other processes did not "
                               "answer", epoch + 1, i + 1);
                goto done;
            }
            if (stop && i + 1 < S) {
                progress_clear(&pg);
                R.train_seconds += progress_now() - t0;
                meta.epoch = (uint32_t)epoch;
                meta.step_in_epoch = (uint32_t)(i + 1);
                memcpy(meta.shuffle_rng, epoch_rng.s, sizeof meta.shuffle_rng);
                for (int k = 0; k < o->n_ext; k++)
                    if (o->ext[k].save && (st = o->ext[k].save(o->ext[k].ctx, meta.kv,
                                                               dann_trainer_steps(L.t), err)))
                        goto done;
                if ((st = check_values(&L, epoch, i + 1, saved, o->out_dir != NULL, err)) ||
                    (o->out_dir && (st = save_last(p_last, &L, &meta, saved, sizeof saved, err))))
                    goto done;
                st = dann_fail(err, DANN_ERR_INTERRUPTED, "stopped at epoch %d step %d of %d",
                               epoch + 1, i + 1, S);
                goto done;
            }
        }
        progress_clear(&pg);
        const double train_s = progress_now() - t0;
        R.train_seconds += train_s;
        /* The last update may have made a parameter non-finite while its loss was finite: no
         * evaluation, metrics line or checkpoint of such a model. */
        if ((st = check_values(&L, epoch, S, saved, o->out_dir != NULL, err))) goto done;

        /* Evaluation (eval mode: no state changes, so it cannot disturb an exact resume). */
        const double t1 = progress_now();
        const int ev = !o->no_eval && (o->eval_every <= 1 || (epoch + 1) % o->eval_every == 0 ||
                                       epoch + 1 == o->epochs);
        if ((st = eval_acc(L.m, ev ? d->src_test : NULL, o->eval_max, &R.src_acc, err))) goto done;
        if ((st = eval_acc(L.m, ev ? d->tgt_test : NULL, o->eval_max, &R.tgt_acc, err))) goto done;
        if ((st = eval_acc(L.m, ev && n_val ? &L.val : NULL, 0, &R.val_acc, err))) goto done;
        const double eval_s = progress_now() - t1;
        R.eval_seconds += eval_s;
        R.epochs_done = epoch + 1;
        if (R.tgt_acc >= 0 && R.tgt_acc > R.oracle_tgt_acc) {
            R.oracle_tgt_acc = R.tgt_acc;
            R.oracle_epoch = epoch + 1;
        }
        const int improved = R.val_acc >= 0 && (float)R.val_acc > meta.best_val_acc;
        if (improved) {
            meta.best_val_acc = (float)R.val_acc;
            meta.best_epoch = (uint32_t)(epoch + 1);
            R.best_epoch = epoch + 1;
            R.best_val_acc = R.val_acc;
            R.best_tgt_acc = R.tgt_acc;
        }
        if (ev && o->patience > 0 && R.best_epoch > 0 && epoch + 1 - R.best_epoch >= o->patience &&
            epoch + 1 < o->epochs) {
            R.stopped_early = epoch + 1;
            snprintf(early, sizeof early, "%d", epoch + 1);
            if ((st = ckpt_kv_set(meta.kv, "early_stop", early, err))) goto done;
        }

        /* The metrics line (written only with a run folder; the extensions add to it). */
        json_buf j;
        char note[256] = "";
        {
            json_begin(&j);
            json_int(&j, "epoch", epoch + 1);
            json_str(&j, "mode", mode_name(mode));
            json_int(&j, "steps", S);
            if (first) json_int(&j, "resumed_at_step", first);
            json_num_or_null(&j, "source_test_acc", R.src_acc, R.src_acc >= 0);
            json_num_or_null(&j, "target_test_acc", R.tgt_acc, R.tgt_acc >= 0);
            json_num_or_null(&j, "source_val_acc", R.val_acc, R.val_acc >= 0);
            json_num_or_null(&j, "domain_acc", dom_n ? (double)dom_ok / dom_n : 0, dann && dom_n);
            json_num_or_null(&j, "loss_class", run ? sum_c / run : 0, run > 0);
            json_num_or_null(&j, "loss_domain", run ? sum_d / run : 0, run > 0);
            json_num_or_null(&j, "train_class_acc", cls_n ? (double)cls_ok / cls_n : 0, cls_n > 0);
            json_f32(&j, "lambda", sst.lambda);
            json_f32(&j, "lr", sst.lr);
            json_num(&j, "seconds", train_s);
            json_num(&j, "eval_seconds", eval_s);
            json_int(&j, "eval_max", o->eval_max);
            if (R.stopped_early) json_bool(&j, "stopped_early", 1);
            trainloop_epoch te = {d, n_val ? &L.val : NULL, L.train_idx, ns, epoch + 1, o->epochs,
                                  B, o->eval_max, ev, R.src_acc, R.tgt_acc, R.val_acc,
                                  sst.lambda, sst.lr, o->seed, o->out_dir,
                                  dann_trainer_config(L.t), o->quiet};
            for (int k = 0; k < o->n_ext; k++) {
                const size_t used = strlen(note);
                if (o->ext[k].epoch_end &&
                    (st = o->ext[k].epoch_end(o->ext[k].ctx, L.m, &te, &j, meta.kv, note + used,
                                              sizeof note - used, err)))
                    goto done;
            }
            json_end(&j);
            DANN_ASSERT(!j.overflow);
        }
        if (o->out_dir) {
            /* The metrics line first (a crash before the checkpoint leaves a line that resume
             * drops), then last.ckpt; a save that fails takes its line back, so the folder
             * never shows an epoch that last.ckpt does not hold. */
            off_t before = 0;
            if ((st = append_line(p_metrics, j.buf, j.n, &before, err))) goto done;
            meta.epoch = (uint32_t)(epoch + 1);
            meta.step_in_epoch = 0;
            memcpy(meta.shuffle_rng, data_rng.s, sizeof meta.shuffle_rng);
            if ((st = save_last(p_last, &L, &meta, saved, sizeof saved, err))) {
                if (truncate(p_metrics, before) != 0) {
                    char msg[sizeof err->msg];
                    snprintf(msg, sizeof msg, "%s", err->msg);
                    dann_fail(err, st, "%s; and %s keeps the line of epoch %d: %s", msg, p_metrics,
                              epoch + 1, strerror(errno));
                }
                goto done;
            }
            if (improved && (st = ckpt_save(p_best, L.m, L.t, &meta, err))) goto done;
        }
        if (!o->quiet) {
            char a_s[32], a_t[32], a_v[32], dom[64] = "", oracle[64] = "";
            fmt_acc(a_s, sizeof a_s, "src", R.src_acc);
            fmt_acc(a_t, sizeof a_t, "tgt", R.tgt_acc);
            fmt_acc(a_v, sizeof a_v, "val", R.val_acc);
            if (dann)
                snprintf(dom, sizeof dom, "  dom %.4f  dom_acc %.3f  lambda %.3f",
                         run ? sum_d / run : 0.0, dom_n ? (double)dom_ok / dom_n : 0.0, sst.lambda);
            if (R.oracle_epoch)
                snprintf(oracle, sizeof oracle, "  | oracle best tgt %.4f @ep%d", R.oracle_tgt_acc,
                         R.oracle_epoch);
            printf("%s%sepoch %3d/%d  cls %.4f%s%s%s%s%s  %.1f s + eval %.1f s%s%s%s\n", lab, sep,
                   epoch + 1, o->epochs, run ? sum_c / run : 0.0, dom, a_s, a_t, a_v,
                   improved ? " *" : "", train_s, eval_s, note, oracle,
                   R.stopped_early ? "  | early stop" : "");
            fflush(stdout);
        }
        int stop = (o->stop && *o->stop) ||
                   (o->stop_after_steps > 0 && R.steps_run >= o->stop_after_steps);
        if (o->agree && (stop = o->agree(stop)) < 0) {
            st = dann_fail(err, DANN_ERR_IO, "after epoch %d: the other processes did not answer",
                           epoch + 1);
            goto done;
        }
        if (stop && epoch + 1 < o->epochs && !R.stopped_early) {
            st = dann_fail(err, DANN_ERR_INTERRUPTED, "stopped after epoch %d", epoch + 1);
            goto done;
        }
    }

    if (o->out_dir) {
        json_buf j;
        json_begin(&j);
        json_str(&j, "mode", mode_name(mode));
        json_int(&j, "epochs", o->epochs);
        json_int(&j, "steps_per_epoch", S);
        json_int(&j, "batch", B);
        json_u64(&j, "seed", o->seed);
        json_num_or_null(&j, "final_source_test_acc", R.src_acc, R.src_acc >= 0);
        json_num_or_null(&j, "final_target_test_acc", R.tgt_acc, R.tgt_acc >= 0);
        json_num_or_null(&j, "final_source_val_acc", R.val_acc, R.val_acc >= 0);
        json_num_or_null(&j, "best_epoch", R.best_epoch, R.best_epoch > 0);
        json_num_or_null(&j, "best_source_val_acc", R.best_val_acc, R.best_epoch > 0);
        json_num_or_null(&j, "best_target_test_acc", R.best_tgt_acc,
                         R.best_epoch > 0 && R.best_tgt_acc >= 0);
        json_num_or_null(&j, "oracle_best_epoch", R.oracle_epoch, R.oracle_epoch > 0);
        json_num_or_null(&j, "oracle_best_target_test_acc", R.oracle_tgt_acc, R.oracle_epoch > 0);
        json_str(&j, "oracle_note", "best epoch by TARGET test labels: for reference only, never used for selection");
        json_num_or_null(&j, "stopped_early", R.stopped_early, R.stopped_early > 0);
        for (int k = 0; k < o->n_ext; k++)
            if (o->ext[k].summary) o->ext[k].summary(o->ext[k].ctx, &j);
        json_end(&j);
        DANN_ASSERT(!j.overflow);
        if ((st = write_atomic(p_summary, j.buf, j.n, err))) goto done;
    }
    st = DANN_OK;

done:
    if (res) *res = R;
    if (model_out && (st == DANN_OK || st == DANN_ERR_INTERRUPTED)) {
        *model_out = L.m;
        L.m = NULL;
    }
    mem_free(&L);
    dann_model_free(L.m);
    return st;
}
