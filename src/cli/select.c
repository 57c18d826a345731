/* select.c - the selection rules as a loop extension (select.h): per evaluated epoch, each rule's
 * score; per rule, the best epoch so far, its checkpoint and its state in last.ckpt. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "cli/args.h"
#include "cli/extutil.h"
#include "cli/progress.h"
#include "cli/select.h"
#include "io/checkpoint.h"

static const struct {
    const char *name;
    int higher, needs_val;
} RULES[SEL_N] = {
    [SEL_VAL] = {"val", 1, 1}, [SEL_REV] = {"rev", 1, 1}, [SEL_DEV] = {"dev", 0, 1},
    [SEL_ENT] = {"ent", 0, 0}, [SEL_SND] = {"snd", 1, 0},
};

const char *select_rule_name(int rule) { return RULES[rule].name; }
int select_rule_higher(int rule) { return RULES[rule].higher; }
int select_rule_needs_val(int rule) { return RULES[rule].needs_val; }

dann_status select_parse(select_opts *o, const char *spec, dann_error *err) {
    memset(o, 0, sizeof *o);
    o->rev_steps = SELECT_REV_STEPS;
    o->n_sel = SELECT_N_DEFAULT;
    char buf[256];
    if (snprintf(buf, sizeof buf, "%s", spec) >= (int)sizeof buf)
        return dann_fail(err, DANN_ERR_ARG, "--select: too long");
    int any = 0;
    for (char *save = NULL, *t = strtok_r(buf, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
        char *colon = strchr(t, ':');
        if (colon) *colon = 0;
        int rule = -1;
        for (int k = 0; k < SEL_N; k++)
            if (!strcmp(t, RULES[k].name)) rule = k;
        if (!strcmp(t, "all") && !colon) {
            for (int k = 0; k < SEL_N; k++) o->on[k] = 1;
            any = 1;
            continue;
        }
        if (rule < 0)
            return dann_fail(err, DANN_ERR_ARG, "--select: unknown rule '%s' (val, rev[:STEPS], dev, "
                             "ent, snd or all)", t);
        if (colon) {
            long v;
            if (rule != SEL_REV || args_parse_long(colon + 1, 0, 1000000, &v))
                return dann_fail(err, DANN_ERR_ARG, "--select: '%s:%s': only rev takes a number "
                                 "(its steps, 0 to 1000000)", t, colon + 1);
            o->rev_steps = (int)v;
        }
        o->on[rule] = 1;
        any = 1;
    }
    if (!any) return dann_fail(err, DANN_ERR_ARG, "--select: no rule given");
    return DANN_OK;
}

void select_format(char *buf, size_t cap, const select_opts *o) {
    size_t n = 0;
    buf[0] = 0;
    for (int k = 0; k < SEL_N && n < cap; k++) {
        if (!o->on[k]) continue;
        if (k == SEL_REV)
            n += (size_t)snprintf(buf + n, cap - n, "%s%s:%d", n ? "," : "", RULES[k].name, o->rev_steps);
        else
            n += (size_t)snprintf(buf + n, cap - n, "%s%s", n ? "," : "", RULES[k].name);
    }
}

typedef struct {
    int epoch;                /* 0: no choice yet */
    double score, src, tgt;
} choice;

struct select_state {
    select_opts o;
    choice best[SEL_N];
    double last[SEL_N];       /* this epoch's scores */
    const char *dir;
    int32_t *tidx, *sidx;     /* the selection sets (drawn at the first epoch_end) */
    int nt, ns;
};

dann_status select_new(select_state **out, const select_opts *o, dann_error *err) {
    *out = dann_calloc(1, sizeof **out, err);
    if (!*out) return DANN_ERR_NOMEM;
    (*out)->o = *o;
    return DANN_OK;
}

void select_free(select_state *s) {
    if (!s) return;
    free(s->tidx), free(s->sidx);
    free(s);
}

void select_choice(const select_state *s, int rule, int *epoch, double *score, double *src,
                   double *tgt) {
    const choice *c = &s->best[rule];
    if (epoch) *epoch = c->epoch;
    if (score) *score = c->score;
    if (src) *src = c->src;
    if (tgt) *tgt = c->tgt;
}

static dann_status ext_start(void *ctx, dann_model *m, const char *kv, int64_t steps,
                             const char *out_dir, dann_error *err) {
    (void)m, (void)steps;
    select_state *s = ctx;
    s->dir = out_dir;
    for (int k = 0; k < SEL_N; k++) {
        char key[32], v[256];
        snprintf(key, sizeof key, "select.%s", RULES[k].name);
        choice *c = &s->best[k];
        memset(c, 0, sizeof *c);
        if (!ckpt_kv_get(kv, key, v, sizeof v)) continue;
        char tail;
        if (sscanf(v, "%lf,%d,%lf,%lf%c", &c->score, &c->epoch, &c->src, &c->tgt, &tail) != 4 ||
            !isfinite(c->score) || c->epoch < 1 || c->epoch > 1000000 ||
            !(c->src >= -1 && c->src <= 1) || !(c->tgt >= -1 && c->tgt <= 1))
            return dann_fail(err, DANN_ERR_FORMAT, "checkpoint line %s=%s: malformed or out of "
                             "range (score,epoch,source acc,target acc)", key, v);
    }
    return DANN_OK;
}

/* The selection sets: n_sel target training images and source training images. */
static dann_status draw_sets(select_state *s, const trainloop_epoch *e, dann_error *err) {
    if (s->tidx) return DANN_OK;
    s->nt = s->o.n_sel < e->d->tgt->n ? s->o.n_sel : e->d->tgt->n;
    s->ns = s->o.n_sel < e->n_train ? s->o.n_sel : e->n_train;
    s->tidx = dann_calloc((size_t)s->nt, sizeof(int32_t), err);
    s->sidx = dann_calloc((size_t)s->ns, sizeof(int32_t), err);
    if (!s->tidx || !s->sidx) return DANN_ERR_NOMEM;
    ext_pick(s->tidx, s->nt, e->d->tgt->n, trainloop_seed(e->seed, 6));
    ext_pick(s->sidx, s->ns, e->n_train, trainloop_seed(e->seed, 7));
    for (int i = 0; i < s->ns; i++) s->sidx[i] = e->train_idx[s->sidx[i]];
    return DANN_OK;
}

static dann_status dev_score(select_state *s, dann_model *m, const trainloop_epoch *e,
                             double *risk, dann_error *err) {
    float *fs = NULL, *ft = NULL, *fv = NULL, *lv = NULL;
    const int nv = e->val->n, D = dann_model_feature_dim(m);
    int C, H, W, NC;
    dann_model_shape(m, &C, &H, &W, &NC);
    int32_t *yv = dann_calloc((size_t)nv, sizeof(int32_t), err);
    double *w = dann_calloc((size_t)nv, sizeof(double), err), *loss = dann_calloc((size_t)nv, sizeof(double), err);
    dann_status st = !yv || !w || !loss ? DANN_ERR_NOMEM : DANN_OK;
    if (!st) st = ext_predict(m, e->d->src, s->sidx, s->ns, 1, &fs, NULL, err);
    if (!st) st = ext_predict(m, e->d->tgt, s->tidx, s->nt, 1, &ft, NULL, err);
    if (!st) st = ext_predict(m, e->val, NULL, nv, 1, &fv, NULL, err);
    if (!st) st = ext_predict(m, e->val, NULL, nv, 0, &lv, yv, err);
    if (!st) st = select_dev_weights(fs, s->ns, ft, s->nt, fv, nv, D,
                                     trainloop_seed(e->seed, 8) + (uint64_t)e->epoch, w, NULL, err);
    if (!st) {
        for (int i = 0; i < nv; i++) loss[i] = -(double)lv[(size_t)i * NC + yv[i]];
        *risk = select_dev_risk(w, loss, nv);
    }
    free(fs), free(ft), free(fv), free(lv), free(yv), free(w), free(loss);
    return st;
}

static dann_status ext_epoch_end(void *ctx, dann_model *m, const trainloop_epoch *e, json_buf *j,
                                 char *kv, char *note, size_t note_cap, dann_error *err) {
    select_state *s = ctx;
    if (!e->evaluated) return DANN_OK;
    const double t0 = progress_now();
    dann_status st = draw_sets(s, e, err);
    if (st) return st;
    float *lt = NULL;
    int C, H, W, NC;
    dann_model_shape(m, &C, &H, &W, &NC);
    if ((s->o.on[SEL_ENT] || s->o.on[SEL_SND]) &&
        (st = ext_predict(m, e->d->tgt, s->tidx, s->nt, 0, &lt, NULL, err)))
        return st;
    size_t nn = 0;
    note[0] = 0;
    for (int k = 0; k < SEL_N && !st; k++) {
        if (!s->o.on[k]) continue;
        double v = 0;
        switch (k) {
        case SEL_VAL: v = e->val_acc; break;
        case SEL_ENT: v = select_entropy(lt, s->nt, NC); break;
        case SEL_SND: v = select_snd(lt, s->nt, NC, SND_TEMPERATURE); break;
        case SEL_DEV: st = dev_score(s, m, e, &v, err); break;
        case SEL_REV:
            st = select_reverse_score(m, e->cfg, e->lr, e->lambda, e->d->tgt, s->tidx, s->nt,
                                      e->d->src, s->sidx, s->ns, e->val, s->o.rev_steps, e->batch,
                                      trainloop_seed(e->seed, 9) + (uint64_t)e->epoch, &v, err);
            break;
        }
        if (st) break;
        s->last[k] = v;
        char field[32];
        snprintf(field, sizeof field, "sel_%s", RULES[k].name);
        json_num(j, field, v);
        choice *c = &s->best[k];
        /* a score that is not a number never wins (nor is stored: resume refuses one) */
        const int better = isfinite(v) && (!c->epoch || (RULES[k].higher ? v > c->score : v < c->score));
        if (better) {
            c->epoch = e->epoch, c->score = v, c->src = e->src_acc, c->tgt = e->tgt_acc;
            if (s->dir) {
                char name[32], line[128];
                snprintf(name, sizeof name, "best-%s.ckpt", RULES[k].name);
                snprintf(line, sizeof line, "select.rule=%s\nselect.score=%.17g\n", RULES[k].name, v);
                if ((st = ext_save_weights(s->dir, name, m, e->epoch, line, err))) break;
            }
        }
        char key[32], val[160];
        snprintf(key, sizeof key, "select.%s", RULES[k].name);
        snprintf(val, sizeof val, "%.17g,%d,%.17g,%.17g", c->score, c->epoch, c->src, c->tgt);
        if (c->epoch && (st = ckpt_kv_set(kv, key, val, err))) break;
        if (nn < note_cap)
            nn += (size_t)snprintf(note + nn, note_cap - nn, "%s%s %.4g%s", nn ? " " : "  sel ",
                                   RULES[k].name, v, better ? "*" : "");
    }
    free(lt);
    if (!st) json_num(j, "select_seconds", progress_now() - t0);
    return st;
}

static void ext_summary(void *ctx, json_buf *j) {
    select_state *s = ctx;
    char spec[128];
    select_format(spec, sizeof spec, &s->o);
    json_str(j, "select", spec);
    for (int k = 0; k < SEL_N; k++) {
        if (!s->o.on[k]) continue;
        const choice *c = &s->best[k];
        char f[64];
        snprintf(f, sizeof f, "select_%s_epoch", RULES[k].name);
        json_num_or_null(j, f, c->epoch, c->epoch > 0);
        snprintf(f, sizeof f, "select_%s_score", RULES[k].name);
        json_num_or_null(j, f, c->score, c->epoch > 0);
        snprintf(f, sizeof f, "select_%s_source_test_acc", RULES[k].name);
        json_num_or_null(j, f, c->src, c->epoch > 0 && c->src >= 0);
        snprintf(f, sizeof f, "select_%s_target_test_acc", RULES[k].name);
        json_num_or_null(j, f, c->tgt, c->epoch > 0 && c->tgt >= 0);
    }
}

trainloop_ext select_ext(select_state *s) {
    trainloop_ext x = {s, ext_start, NULL, ext_epoch_end, NULL, ext_summary};
    return x;
}
