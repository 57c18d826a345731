/* step.c - the trainer: one DANN training step as fungtion/DANN_py3 performs it.
 *
 *   zero grads
 *   forward source (pass 0, training mode)       -> NLL(class, y_s) + NLL(domain, 0)
 *   forward target (pass 1, training mode)       -> NLL(domain, 1)
 *     (the class head also runs on the target batch, as in the reference: it updates that
 *      head's BatchNorm running statistics and draws its dropout mask; its output is unused)
 *   backward once through both passes; GRL scales the domain head's feature gradient by -lambda
 *   (cfg->domain_lambda: the domain head's own parameter gradients are scaled by lambda too)
 *   optimizer step
 *
 * Source-only trains the class head on the source batch alone; target-only on the target batch
 * with its labels. The losses are checked before any parameter moves; a step whose loss is not
 * finite also leaves the BatchNorm running statistics as they were. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "core/prof.h"
#include "layers/layers.h"
#include "model/model.h"
#include "optim/optim.h"

struct dann_trainer {
    dann_model *m;
    dann_train_config cfg;
    dann_rng rng;
    int64_t steps;
    float *m1, *m2;           /* Adam first/second moments, or SGD momentum buffer (m1) */
    int32_t *zeros, *ones;    /* domain labels */
    float *state_backup;      /* BatchNorm state before the step, restored if it diverges */
    int64_t count_backup[MODEL_MAX_TENSORS];
};

dann_status dann_trainer_new(dann_trainer **out, dann_model *m, const dann_train_config *cfg,
                             uint64_t seed, dann_error *err) {
    *out = NULL;
    if (cfg->lr <= 0 || !isfinite(cfg->lr))
        return dann_fail(err, DANN_ERR_ARG, "learning rate must be positive, got %g", cfg->lr);
    if (cfg->optimizer != DANN_OPT_ADAM && cfg->optimizer != DANN_OPT_SGD)
        return dann_fail(err, DANN_ERR_ARG, "unknown optimizer %d", (int)cfg->optimizer);
    if (cfg->mode < DANN_MODE_DANN || cfg->mode > DANN_MODE_TARGET_ONLY)
        return dann_fail(err, DANN_ERR_ARG, "unknown mode %d", (int)cfg->mode);
    if (cfg->lambda_schedule < 0 || cfg->lambda_schedule > 1 || cfg->domain_lambda < 0 ||
        cfg->domain_lambda > 1)
        return dann_fail(err, DANN_ERR_ARG, "lambda schedule %d / domain-lambda %d: 0 or 1",
                         (int)cfg->lambda_schedule, (int)cfg->domain_lambda);
    if (!isfinite(cfg->lambda_max) || !isfinite(cfg->gamma))
        return dann_fail(err, DANN_ERR_ARG, "lambda %g / gamma %g must be finite", cfg->lambda_max,
                         cfg->gamma);
    dann_trainer *t = dann_calloc(1, sizeof *t, err);
    if (!t) return DANN_ERR_NOMEM;
    t->m = m;
    t->cfg = *cfg;
    rng_seed(&t->rng, seed);
    t->m1 = dann_calloc(m->n_params, sizeof(float), err);
    if (cfg->optimizer == DANN_OPT_ADAM) t->m2 = dann_calloc(m->n_params, sizeof(float), err);
    t->zeros = dann_calloc((size_t)m->max_batch, sizeof(int32_t), err);
    t->ones = dann_calloc((size_t)m->max_batch, sizeof(int32_t), err);
    t->state_backup = dann_calloc(m->n_state, sizeof(float), err);
    if (!t->m1 || (cfg->optimizer == DANN_OPT_ADAM && !t->m2) || !t->zeros || !t->ones ||
        !t->state_backup) {
        dann_trainer_free(t);
        return DANN_ERR_NOMEM;
    }
    for (int i = 0; i < m->max_batch; i++) t->ones[i] = 1;
    *out = t;
    return DANN_OK;
}

void dann_trainer_free(dann_trainer *t) {
    if (!t) return;
    free(t->m1);
    free(t->m2);
    free(t->zeros);
    free(t->ones);
    free(t->state_backup);
    free(t);
}

static int count_correct(const float *logp, const int32_t *y, int B, int C) {
    int n = 0;
    for (int b = 0; b < B; b++) {
        int best = 0;
        for (int c = 1; c < C; c++)
            if (logp[(size_t)b * C + c] > logp[(size_t)b * C + best]) best = c;
        n += best == y[b];
    }
    return n;
}

/* NLL and correct decisions of a pass over the whole batch: the local sums, or (data-parallel)
 * each chunk's NLL sum gathered and folded in chunk order and the ranks' counts added. */
static float pass_nll(dann_model *m, const pass_t *p, const float *logp, const int32_t *y, int C,
                      int *correct) {
    int ok = count_correct(logp, y, p->B, C);
    if (p->k1 == 0) {
        *correct = ok;
        return nll_loss(logp, y, p->B, C);
    }
    const int K = dist_chunks(m, p), L = p->k1 - p->k0;
    double *mine = m->dpart, *all = mine + L, acc;
    for (int j = 0; j < L; j++) {
        int b0, n;
        dist_chunk(m, p, p->k0 + j, &b0, &n);
        double s = 0.0;
        for (int b = b0; b < b0 + n; b++) s -= logp[(size_t)b * C + y[b]];
        mine[j] = s;
    }
    dist_gather(m, p, mine, sizeof(double), all);
    dist_fold_d(&acc, all, K, 1);
    int counts[1024];
    dist_gather_int(m, ok, counts);
    *correct = 0;
    for (int r = 0; r < (m->dist.n_ranks > 1 ? m->dist.n_ranks : 1); r++) *correct += counts[r];
    return (float)(acc / p->Bg);
}

dann_status dann_trainer_set_dist(dann_trainer *t, const dann_dist *d, dann_error *err) {
    dann_model *m = t->m;
    if (d->chunk < 0 || d->n_ranks < 1 || d->n_ranks > 1024 || d->rank < 0 || d->rank >= d->n_ranks ||
        (d->n_ranks > 1 && (!d->allgather || d->chunk == 0)))
        return dann_fail(err, DANN_ERR_ARG, "data-parallel settings: rank %d of %d, chunk %d",
                         d->rank, d->n_ranks, d->chunk);
    free(m->part);
    free(m->dpart);
    m->part = NULL, m->dpart = NULL;
    m->dist = *d;
    if (d->chunk == 0) return DANN_OK;
    const net_plan *P = m->net;
    size_t per = 1, cmax = 1;
    for (int i = 0; i < P->n_ops; i++) {
        const net_op *op = &P->ops[i];
        if (op->kind == OP_CONV || op->kind == OP_FC) {
            size_t n = (size_t)op->OC * op->C * (op->kind == OP_FC ? 1 : op->K * op->K) + op->OC;
            per = n > per ? n : per;
        }
        if (op->kind == OP_BN || op->kind == OP_BNPOOL) cmax = (size_t)op->C > cmax ? (size_t)op->C : cmax;
    }
    const size_t K = (size_t)(m->max_batch + d->chunk - 1) / d->chunk;
    m->part_per_chunk = per;
    m->dpart_per_chunk = 2 * cmax;
    m->part = dann_calloc((2 * K + 1) * per, sizeof(float), err);
    m->dpart = dann_calloc((2 * K + 1) * 2 * cmax, sizeof(double), err);
    if (!m->part || !m->dpart) {
        m->dist.chunk = 0;
        return DANN_ERR_NOMEM;
    }
    return DANN_OK;
}

/* Algorithm 1 of the JMLR paper steps the domain regressor by mu*lambda: its parameters'
 * gradients (the domain head's tensors, named domain_classifier.*) times lambda. */
static void scale_domain_grads(dann_model *m, float lambda) {
    const net_plan *a = m->net;
    for (int i = 0; i < a->n_tensors; i++) {
        if (a->tensors[i].kind != TENSOR_PARAM ||
            strncmp(a->tensors[i].name, "domain_classifier.", 18) != 0)
            continue;
        const tensor_spec *ts = &a->tensors[i];
        size_t n = 1;
        for (int d = 0; d < ts->ndim; d++) n *= (size_t)ts->shape[d];
        float *g = m->g[i];
        for (size_t k = 0; k < n; k++) g[k] *= lambda;
    }
}

static int labels_ok(const int32_t *y, int B, int C) {
    for (int b = 0; b < B; b++)
        if (y[b] < 0 || y[b] >= C) return 0;
    return 1;
}

dann_status dann_train_step(dann_trainer *t, const float *xs, const int32_t *ys, int Bs,
                            const float *xt, const int32_t *yt, int Bt, double p,
                            dann_step_stats *stats, dann_error *err) {
    const dann_input src = {.B = Bs, .x = xs}, tgt = {.B = Bt, .x = xt};
    return dann_train_step_input(t, &src, ys, &tgt, yt, p, stats, err);
}

dann_status dann_train_step_input(dann_trainer *t, const dann_input *src, const int32_t *ys,
                                  const dann_input *tgt, const int32_t *yt, double p,
                                  dann_step_stats *stats, dann_error *err) {
    dann_model *m = t->m;
    const dann_train_config *cfg = &t->cfg;
    const int NC = m->net->n_classes, Bs = src ? src->B : 0, Bt = tgt ? tgt->B : 0;
    const int Bs_all = src && src->B_total ? src->B_total : Bs, Bt_all = tgt && tgt->B_total ? tgt->B_total : Bt;
    pass_t *ps = &m->pass[0], *pt = &m->pass[1];
    dann_step_stats st = {0};
    st.lambda = cfg->lambda_schedule ? (float)cfg->lambda_max
                                     : (float)(cfg->lambda_max * dann_lambda_schedule(p, cfg->gamma));
    st.lr = cfg->lr_schedule ? dann_lr_schedule(cfg->lr, p, cfg->lr_alpha, cfg->lr_beta)
                             : (float)cfg->lr;
    const int dann = cfg->mode == DANN_MODE_DANN;
    // The labelled batch: source, or target in target-only mode.
    const dann_input *xl = cfg->mode == DANN_MODE_TARGET_ONLY ? tgt : src;
    const int32_t *yl = cfg->mode == DANN_MODE_TARGET_ONLY ? yt : ys;
    const int Bl = cfg->mode == DANN_MODE_TARGET_ONLY ? Bt : Bs;
    const int Bl_all = cfg->mode == DANN_MODE_TARGET_ONLY ? Bt_all : Bs_all;
    if (Bl < 1 || Bl_all > m->max_batch || (dann && (Bt < 1 || Bt_all > m->max_batch)))
        return dann_fail(err, DANN_ERR_ARG, "batch sizes %d/%d out of range [1, %d]", Bs_all,
                         Bt_all, m->max_batch);
    if (m->dist.chunk == 0 && (Bl_all != Bl || (dann && Bt_all != Bt)))
        return dann_fail(err, DANN_ERR_ARG, "a part of a batch (B_total) needs dann_trainer_set_dist");
    if (!xl || (!xl->x && !xl->rowptr) || (dann && (!tgt->x && !tgt->rowptr)))
        return dann_fail(err, DANN_ERR_ARG, "training batch missing");
    if (!yl || !labels_ok(yl, Bl, NC))
        return dann_fail(err, DANN_ERR_ARG, "training labels missing or outside [0, %d)", NC);

    memset(m->grad, 0, m->n_params * sizeof(float));
    memcpy(t->state_backup, m->state, m->n_state * sizeof(float));
    memcpy(t->count_backup, m->bn_count, sizeof m->bn_count);
    m->dist_failed = 0;
    model_forward(m, ps, xl, 1, dann ? HEAD_CLASS | HEAD_DOMAIN : HEAD_CLASS, &t->rng);
    st.loss_class = pass_nll(m, ps, ps->logp_class, yl, NC, &st.class_correct);
    if (dann) {
        int ds, dt;
        model_forward(m, pt, tgt, 1, HEAD_CLASS | HEAD_DOMAIN, &t->rng);
        st.loss_domain_src = pass_nll(m, ps, ps->logp_domain, t->zeros, 2, &ds);
        st.loss_domain_tgt = pass_nll(m, pt, pt->logp_domain, t->ones, 2, &dt);
        st.domain_correct = ds + dt;
        st.domain_total = Bs_all + Bt_all;
    }
    if (stats) *stats = st;
    if (m->dist_failed) {
        memcpy(m->state, t->state_backup, m->n_state * sizeof(float));
        memcpy(m->bn_count, t->count_backup, sizeof m->bn_count);
        return dann_fail(err, DANN_ERR_IO, "step %lld: the exchange with the other processes failed",
                         (long long)t->steps + 1);
    }
    if (!isfinite(st.loss_class) || !isfinite(st.loss_domain_src) || !isfinite(st.loss_domain_tgt)) {
        memcpy(m->state, t->state_backup, m->n_state * sizeof(float));
        memcpy(m->bn_count, t->count_backup, sizeof m->bn_count);
        return dann_fail(err, DANN_ERR_NUMERIC,
                         "training diverged at step %lld: loss is not finite (class %g, domain %g/%g)",
                         (long long)t->steps + 1, st.loss_class, st.loss_domain_src, st.loss_domain_tgt);
    }

    // the gradients of means over the whole batch (B_total), of which these are this part's
    memset(ps->dlogit_class, 0, sizeof(float) * (size_t)Bl * NC);
    logsoftmax_nll_backward_n(ps->dlogit_class, ps->logp_class, yl, Bl, NC, 1.0f, Bl_all);
    if (dann) {
        memset(ps->dlogit_domain, 0, sizeof(float) * (size_t)Bs * 2);
        memset(pt->dlogit_domain, 0, sizeof(float) * (size_t)Bt * 2);
        logsoftmax_nll_backward_n(ps->dlogit_domain, ps->logp_domain, t->zeros, Bs, 2, 1.0f, Bs_all);
        logsoftmax_nll_backward_n(pt->dlogit_domain, pt->logp_domain, t->ones, Bt, 2, 1.0f, Bt_all);
        model_backward(m, pt, HEAD_DOMAIN, st.lambda);
        model_backward(m, ps, HEAD_CLASS | HEAD_DOMAIN, st.lambda);
        if (cfg->domain_lambda) scale_domain_grads(m, st.lambda);
    } else {
        model_backward(m, ps, HEAD_CLASS, st.lambda);
    }
    if (m->dist_failed) {
        memcpy(m->state, t->state_backup, m->n_state * sizeof(float));
        memcpy(m->bn_count, t->count_backup, sizeof m->bn_count);
        return dann_fail(err, DANN_ERR_IO, "step %lld: the exchange with the other processes failed",
                         (long long)t->steps + 1);
    }

    t->steps++;
    PROF(PROF_OPTIM, {
        if (cfg->optimizer == DANN_OPT_ADAM)
            adam_step(m->params, m->grad, t->m1, t->m2, m->n_params, st.lr, cfg->beta1, cfg->beta2,
                      cfg->eps, cfg->weight_decay, t->steps);
        else
            sgd_step(m->params, m->grad, t->m1, m->n_params, st.lr, cfg->momentum,
                     cfg->weight_decay, t->steps);
    });
    return DANN_OK;
}

int64_t dann_trainer_steps(const dann_trainer *t) { return t->steps; }
void dann_trainer_set_steps(dann_trainer *t, int64_t steps) { t->steps = steps; }
float *dann_trainer_moments(dann_trainer *t, float **m2) {
    if (m2) *m2 = t->m2;
    return t->m1;
}
uint64_t *dann_trainer_rng(dann_trainer *t) { return t->rng.s; }
const dann_train_config *dann_trainer_config(const dann_trainer *t) { return &t->cfg; }
