/* step.c - the trainer: one DANN training step as fungtion/DANN_py3 performs it.
 *
 *   zero grads
 *   forward source (pass 0, training mode)       -> NLL(class, y_s) + NLL(domain, 0)
 *   forward target (pass 1, training mode)       -> NLL(domain, 1)
 *     (the class head also runs on the target batch, as in the reference: it updates that
 *      head's BatchNorm running statistics and draws its dropout mask; its output is unused)
 *   backward once through both passes; GRL scales the domain head's feature gradient by -lambda
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
    pass_t *ps = &m->pass[0], *pt = &m->pass[1];
    dann_step_stats st = {0};
    st.lambda = (float)(cfg->lambda_max * dann_lambda_schedule(p, cfg->gamma));
    st.lr = cfg->lr_schedule ? dann_lr_schedule(cfg->lr, p, cfg->lr_alpha, cfg->lr_beta)
                             : (float)cfg->lr;
    const int dann = cfg->mode == DANN_MODE_DANN;
    // The labelled batch: source, or target in target-only mode.
    const dann_input *xl = cfg->mode == DANN_MODE_TARGET_ONLY ? tgt : src;
    const int32_t *yl = cfg->mode == DANN_MODE_TARGET_ONLY ? yt : ys;
    const int Bl = cfg->mode == DANN_MODE_TARGET_ONLY ? Bt : Bs;
    if (Bl < 1 || Bl > m->max_batch || (dann && (Bt < 1 || Bt > m->max_batch)))
        return dann_fail(err, DANN_ERR_ARG, "batch sizes %d/%d out of range [1, %d]", Bs, Bt,
                         m->max_batch);
    if (!xl || (!xl->x && !xl->rowptr) || (dann && (!tgt->x && !tgt->rowptr)))
        return dann_fail(err, DANN_ERR_ARG, "training batch missing");
    if (!yl || !labels_ok(yl, Bl, NC))
        return dann_fail(err, DANN_ERR_ARG, "training labels missing or outside [0, %d)", NC);

    memset(m->grad, 0, m->n_params * sizeof(float));
    memcpy(t->state_backup, m->state, m->n_state * sizeof(float));
    memcpy(t->count_backup, m->bn_count, sizeof m->bn_count);
    model_forward(m, ps, xl, 1, dann ? HEAD_CLASS | HEAD_DOMAIN : HEAD_CLASS, &t->rng);
    st.loss_class = nll_loss(ps->logp_class, yl, Bl, NC);
    st.class_correct = count_correct(ps->logp_class, yl, Bl, NC);
    if (dann) {
        model_forward(m, pt, tgt, 1, HEAD_CLASS | HEAD_DOMAIN, &t->rng);
        st.loss_domain_src = nll_loss(ps->logp_domain, t->zeros, Bs, 2);
        st.loss_domain_tgt = nll_loss(pt->logp_domain, t->ones, Bt, 2);
        st.domain_correct = count_correct(ps->logp_domain, t->zeros, Bs, 2) +
                            count_correct(pt->logp_domain, t->ones, Bt, 2);
        st.domain_total = Bs + Bt;
    }
    if (stats) *stats = st;
    if (!isfinite(st.loss_class) || !isfinite(st.loss_domain_src) || !isfinite(st.loss_domain_tgt)) {
        memcpy(m->state, t->state_backup, m->n_state * sizeof(float));
        memcpy(m->bn_count, t->count_backup, sizeof m->bn_count);
        return dann_fail(err, DANN_ERR_NUMERIC,
                         "training diverged at step %lld: loss is not finite (class %g, domain %g/%g)",
                         (long long)t->steps + 1, st.loss_class, st.loss_domain_src, st.loss_domain_tgt);
    }

    memset(ps->dlogit_class, 0, sizeof(float) * (size_t)Bl * NC);
    logsoftmax_nll_backward(ps->dlogit_class, ps->logp_class, yl, Bl, NC, 1.0f);
    if (dann) {
        memset(ps->dlogit_domain, 0, sizeof(float) * (size_t)Bs * 2);
        memset(pt->dlogit_domain, 0, sizeof(float) * (size_t)Bt * 2);
        logsoftmax_nll_backward(ps->dlogit_domain, ps->logp_domain, t->zeros, Bs, 2, 1.0f);
        logsoftmax_nll_backward(pt->dlogit_domain, pt->logp_domain, t->ones, Bt, 2, 1.0f);
        model_backward(m, pt, HEAD_DOMAIN, st.lambda);
        model_backward(m, ps, HEAD_CLASS | HEAD_DOMAIN, st.lambda);
    } else {
        model_backward(m, ps, HEAD_CLASS, st.lambda);
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
