/* average.c - EMA and SWA weight averages as a loop extension (average.h). The average lives in
 * a second model of the same network; its updates are plain float loops in the order of the
 * formulas in average.h, so a run and its resumed twin give the same bits. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "cli/args.h"
#include "cli/average.h"
#include "cli/extutil.h"
#include "cli/trainguard.h"
#include "io/checkpoint.h"
#include "model/evaluate.h"
#include "model/model.h"
#include "cli/progress.h"

struct avg_state {
    avg_opts o;
    dann_model *m;          /* the average (allocated at start) */
    int64_t count;          /* updates so far */
    int64_t steps;          /* optimizer steps of the run it has seen */
    int from;               /* SWA's first epoch, resolved */
    const char *dir;        /* run folder or NULL */
    double src, tgt, val;   /* the last evaluation (-1: none) */
};

void avg_ema_update(float *avg, const float *x, size_t n, double decay, int64_t count) {
    if (count == 0) {
        memcpy(avg, x, n * sizeof(float));
        return;
    }
    const float d = (float)decay, e = (float)(1.0 - decay);
    for (size_t i = 0; i < n; i++) avg[i] = d * avg[i] + e * x[i];
}

void avg_swa_update(float *avg, const float *x, size_t n, int64_t count) {
    const float inv = (float)(1.0 / (double)(count + 1));
    for (size_t i = 0; i < n; i++) avg[i] = avg[i] + (x[i] - avg[i]) * inv;
}

dann_status avg_parse(avg_opts *o, const char *spec, dann_error *err) {
    memset(o, 0, sizeof *o);
    const char *colon = strchr(spec, ':');
    const size_t kl = colon ? (size_t)(colon - spec) : strlen(spec);
    if (kl == 3 && !strncmp(spec, "ema", 3)) {
        o->kind = AVG_EMA;
        o->decay = 0.999;
        if (colon && args_parse_double(colon + 1, 0.0, 1.0, &o->decay))
            return dann_fail(err, DANN_ERR_ARG, "--average %s: the EMA decay must be a number in "
                             "[0, 1]", spec);
    } else if (kl == 3 && !strncmp(spec, "swa", 3)) {
        o->kind = AVG_SWA;
        long from = 0;
        if (colon && args_parse_long(colon + 1, 1, 1000000, &from))
            return dann_fail(err, DANN_ERR_ARG, "--average %s: SWA's first epoch must be an "
                             "integer >= 1", spec);
        o->from_epoch = (int)from;
    } else {
        return dann_fail(err, DANN_ERR_ARG, "--average %s: expected ema[:DECAY] or swa[:FROM_EPOCH]",
                         spec);
    }
    return DANN_OK;
}

static int swa_from(const avg_opts *o, int epochs) {
    return o->from_epoch > 0 ? o->from_epoch : (int)floor(0.75 * epochs) + 1;
}

void avg_format(char *buf, size_t cap, const avg_opts *o, int epochs) {
    if (o->kind == AVG_EMA) snprintf(buf, cap, "ema:%g", o->decay);
    else if (o->kind == AVG_SWA) snprintf(buf, cap, "swa:%d", swa_from(o, epochs));
    else snprintf(buf, cap, "none");
}

dann_status avg_new(avg_state **out, const avg_opts *o, dann_error *err) {
    *out = dann_calloc(1, sizeof **out, err);
    if (!*out) return DANN_ERR_NOMEM;
    (*out)->o = *o;
    (*out)->src = (*out)->tgt = (*out)->val = -1;
    return DANN_OK;
}

void avg_free(avg_state *a) {
    if (!a) return;
    dann_model_free(a->m);
    free(a);
}

dann_model *avg_model(const avg_state *a) { return a->count ? a->m : NULL; }

void avg_last(const avg_state *a, double *src, double *tgt, double *val) {
    if (src) *src = a->src;
    if (tgt) *tgt = a->tgt;
    if (val) *val = a->val;
}

/* The state lines in kv (last.ckpt and avg.ckpt). */
static dann_status put_kv(const avg_state *a, char *kv, int64_t steps, dann_error *err) {
    char v[64];
    dann_status st = ckpt_kv_set(kv, "avg.kind", a->o.kind == AVG_EMA ? "ema" : "swa", err);
    snprintf(v, sizeof v, "%lld", (long long)a->count);
    if (!st) st = ckpt_kv_set(kv, "avg.count", v, err);
    snprintf(v, sizeof v, "%lld", (long long)steps);
    if (!st) st = ckpt_kv_set(kv, "avg.steps", v, err);
    return st;
}

/* avg.ckpt after rotating the previous one to avg.prev.ckpt (see average.h). */
static dann_status save_avg(avg_state *a, int64_t steps, int epoch, dann_error *err) {
    if (!a->dir || a->count == 0) return DANN_OK;
    char cur[4200], prev[4200];
    static char kv[CKPT_KV_MAX];
    kv[0] = 0;
    dann_status st = put_kv(a, kv, steps, err);
    if (st) return st;
    ext_path(cur, sizeof cur, a->dir, "avg.ckpt");
    ext_path(prev, sizeof prev, a->dir, "avg.prev.ckpt");
    if (rename(cur, prev) != 0 && errno != ENOENT)
        return dann_fail(err, DANN_ERR_IO, "%s: cannot rename to %s: %s", cur, prev, strerror(errno));
    return ext_save_weights(a->dir, "avg.ckpt", a->m, epoch, kv, err);
}

/* Reads the average of step `steps` back from avg.ckpt or avg.prev.ckpt. */
static dann_status load_avg(avg_state *a, int64_t steps, dann_error *err) {
    const char *names[2] = {"avg.ckpt", "avg.prev.ckpt"};
    char path[4200], v[64];
    static ckpt_meta meta;
    for (int k = 0; k < 2; k++) {
        ext_path(path, sizeof path, a->dir, names[k]);
        dann_model *t = NULL;
        dann_error e2;
        if (ckpt_load(path, 0, &t, NULL, &meta, &e2)) continue;
        const int ok = ckpt_kv_get(meta.kv, "avg.steps", v, sizeof v) && atoll(v) == steps &&
                       !strcmp(dann_model_description(t), dann_model_description(a->m));
        if (ok) ext_copy_weights(a->m, t);
        dann_model_free(t);
        if (ok) return DANN_OK;
    }
    ext_path(path, sizeof path, a->dir, "avg.ckpt");
    return dann_fail(err, DANN_ERR_FORMAT, "%s: no weight average at step %lld of the run being "
                     "resumed (missing or from another step)", path, (long long)steps);
}

static dann_status ext_start(void *ctx, dann_model *m, const char *kv, int64_t steps,
                             const char *out_dir, dann_error *err) {
    avg_state *a = ctx;
    a->dir = out_dir;
    a->steps = steps;
    a->count = 0;
    dann_status st = ext_clone(&a->m, m, dann_model_max_batch(m), err);
    if (st) return st;
    char v[64];
    if (ckpt_kv_get(kv, "avg.kind", v, sizeof v)) {
        const char *want = a->o.kind == AVG_EMA ? "ema" : "swa";
        if (strcmp(v, want))
            return dann_fail(err, DANN_ERR_ARG, "the run being resumed averages with %s, not %s", v,
                             want);
        long long count = 0;
        if (guard_kv_int(kv, "avg.count", 0, steps, &count) < 0)
            return dann_fail(err, DANN_ERR_FORMAT, "checkpoint line avg.count: out of range (a "
                             "count of averaged steps in [0, %lld])", (long long)steps);
        a->count = count;
        if (a->count > 0) {
            if (!a->dir)
                return dann_fail(err, DANN_ERR_ARG, "resuming a weight average needs the run folder");
            if ((st = load_avg(a, steps, err))) return st;
        }
    }
    return DANN_OK;
}

static void ext_step(void *ctx, const dann_model *mc) {
    avg_state *a = ctx;
    a->steps++;
    if (a->o.kind != AVG_EMA) return;
    dann_model *m = (dann_model *)mc;
    size_t n, ns;
    float *p = dann_model_params(m, &n), *s = dann_model_state(m, &ns);
    avg_ema_update(dann_model_params(a->m, NULL), p, n, a->o.decay, a->count);
    if (ns) avg_ema_update(dann_model_state(a->m, NULL), s, ns, a->o.decay, a->count);
    const int nt = dann_model_tensors(m, 0, NULL);
    for (int i = 0; i < nt; i++) {
        dann_tensor_info ti;
        dann_model_tensors(m, i, &ti);
        if (ti.kind == 2) dann_model_set_bn_count(a->m, i, dann_model_bn_count(m, i));
    }
    a->count++;
}

/* update_bn: the cumulative mean of the batch statistics of AVG_BN_BATCHES training-mode batches
 * of each trained domain. A forward from zeroed running statistics leaves momentum * (batch
 * statistic) in them, so the statistic is read back as state / momentum (exact to an ulp). */
static dann_status recompute_bn(avg_state *a, const trainloop_epoch *e, dann_error *err) {
    dann_model *m = a->m;
    size_t ns;
    float *state = dann_model_state(m, &ns);
    if (!ns) return DANN_OK;
    int C, H, W, NC;
    dann_model_shape(m, &C, &H, &W, &NC);
    const int B = e->batch < dann_model_max_batch(m) ? e->batch : dann_model_max_batch(m);
    const size_t img = (size_t)C * H * W;
    double *acc = dann_calloc(ns, sizeof(double), err);
    float *x = dann_calloc((size_t)B * img, sizeof(float), err);
    int32_t *idx = dann_calloc((size_t)B, sizeof(int32_t), err);
    const int nt = dann_model_tensors(m, 0, NULL);
    int64_t *cnt = dann_calloc((size_t)nt, sizeof(int64_t), err);
    if (!acc || !x || !idx || !cnt) {
        free(acc), free(x), free(idx), free(cnt);
        return DANN_ERR_NOMEM;
    }
    for (int i = 0; i < nt; i++) {
        dann_tensor_info ti;
        dann_model_tensors(m, i, &ti);
        if (ti.kind == 2) cnt[i] = dann_model_bn_count(m, i);
    }
    const dann_mode mode = e->cfg->mode;
    const int heads = mode == DANN_MODE_DANN ? HEAD_CLASS | HEAD_DOMAIN : HEAD_CLASS;
    dann_rng r;
    rng_seed(&r, trainloop_seed(e->seed, 5) + (uint64_t)e->epoch);
    int batches = 0;
    for (int k = 0; k < AVG_BN_BATCHES; k++)
        for (int dom = 0; dom < 2; dom++) {
            if ((dom == 0 && mode == DANN_MODE_TARGET_ONLY) || (dom == 1 && mode == DANN_MODE_SOURCE_ONLY))
                continue;
            const dataset *ds = dom ? e->d->tgt : e->d->src;
            const int N = dom ? ds->n : e->n_train;
            const int b = B < N ? B : N;
            for (int i = 0; i < b; i++) {
                const int j = (int)rng_below(&r, (uint32_t)N);
                idx[i] = dom ? j : e->train_idx[j];
            }
            dataset_gather(x, NULL, ds, idx, b, C);
            memset(state, 0, ns * sizeof(float));
            model_forward_dense(m, &m->pass[0], x, b, 1, heads, &r);
            for (size_t i = 0; i < ns; i++) acc[i] += (double)(state[i] / 0.1f);
            batches++;
        }
    for (size_t i = 0; i < ns; i++) state[i] = (float)(acc[i] / batches);
    for (int i = 0; i < nt; i++) {
        dann_tensor_info ti;
        dann_model_tensors(m, i, &ti);
        if (ti.kind == 2) dann_model_set_bn_count(m, i, cnt[i]);
    }
    free(acc), free(x), free(idx), free(cnt);
    return DANN_OK;
}

static dann_status eval_on(dann_model *m, const dataset *ds, int n_max, double *acc,
                           dann_error *err) {
    *acc = -1;
    if (!ds) return DANN_OK;
    eval_result r;
    dann_status st = model_evaluate(m, ds, n_max, NULL, NULL, &r, err);
    if (!st && r.n > 0) *acc = r.accuracy;
    return st;
}

static dann_status ext_epoch_end(void *ctx, dann_model *m, const trainloop_epoch *e, json_buf *j,
                                 char *kv, char *note, size_t note_cap, dann_error *err) {
    avg_state *a = ctx;
    const double t0 = progress_now();
    dann_status st;
    a->from = swa_from(&a->o, e->epochs);
    if (a->o.kind == AVG_SWA && e->epoch >= a->from) {
        size_t n;
        float *p = dann_model_params(m, &n);
        avg_swa_update(dann_model_params(a->m, NULL), p, n, a->count);
        a->count++;
    }
    if (e->evaluated) {
        a->src = a->tgt = a->val = -1;
        if (a->count > 0) {
            if (a->o.kind == AVG_SWA && (st = recompute_bn(a, e, err))) return st;
            if ((st = eval_on(a->m, e->d->src_test, e->eval_max, &a->src, err)) ||
                (st = eval_on(a->m, e->d->tgt_test, e->eval_max, &a->tgt, err)) ||
                (st = eval_on(a->m, e->val, 0, &a->val, err)))
                return st;
        }
        json_num_or_null(j, "avg_source_test_acc", a->src, a->src >= 0);
        json_num_or_null(j, "avg_target_test_acc", a->tgt, a->tgt >= 0);
        json_num_or_null(j, "avg_source_val_acc", a->val, a->val >= 0);
        if (a->tgt >= 0) snprintf(note, note_cap, "  avg tgt %.4f", a->tgt);
    }
    if ((st = save_avg(a, a->steps, e->epoch, err))) return st;
    if ((st = put_kv(a, kv, a->steps, err))) return st;
    json_num(j, "avg_seconds", progress_now() - t0);
    return DANN_OK;
}

static dann_status ext_save(void *ctx, char *kv, int64_t steps, dann_error *err) {
    avg_state *a = ctx;
    dann_status st = save_avg(a, steps, 0, err);
    return st ? st : put_kv(a, kv, steps, err);
}

static void ext_summary(void *ctx, json_buf *j) {
    avg_state *a = ctx;
    char spec[64];
    avg_format(spec, sizeof spec, &a->o, 0);
    if (a->o.kind == AVG_SWA) snprintf(spec, sizeof spec, "swa:%d", a->from);
    json_str(j, "average", spec);
    json_num_or_null(j, "avg_final_source_test_acc", a->src, a->src >= 0);
    json_num_or_null(j, "avg_final_target_test_acc", a->tgt, a->tgt >= 0);
    json_num_or_null(j, "avg_final_source_val_acc", a->val, a->val >= 0);
}

trainloop_ext avg_ext(avg_state *a) {
    trainloop_ext x = {a, ext_start, ext_step, ext_epoch_end, ext_save, ext_summary};
    return x;
}
