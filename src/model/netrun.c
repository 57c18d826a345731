/* netrun.c - the pipeline: a compiled plan (netplan.c) run forward op by op, backward in reverse.
 *
 * Forward: features, then the class head, then the domain head (the GRL is the identity going
 * forward, so the domain head reads the features directly); each head ends in log-softmax.
 * Backward: the domain head first (into its own feature gradient, which the GRL scales by
 * -lambda into the features' gradient), then the class head (accumulating into the same
 * features' gradient), then the feature extractor; the first layer's input gradient is never
 * computed. This is the order, and the kernel sequence, of the hand-written py3 network this
 * file replaced, so py3's results are bit for bit those of before.
 * Dropout masks are drawn at the start of a training forward, in op order (features, class head
 * if it runs, domain head if it runs), one rng_uniform per unit. */
#include <string.h>
#include "core/prof.h"
#include "layers/layers.h"
#include "model/model.h"

#define BN_MOMENTUM 0.1f
#define BN_EPS 1e-5f

typedef struct {
    float *acts, *grads, *stats;
    int32_t *idx;
    int cap;
} view;

static float *A(const view *v, int off) { return off < 0 ? NULL : v->acts + (size_t)off * v->cap; }
static float *G(const view *v, int off) { return off < 0 ? NULL : v->grads + (size_t)off * v->cap; }
static int32_t *I(const view *v, int off) { return v->idx + (size_t)off * v->cap; }

static view view_of(const pass_t *p) { return (view){p->acts, p->grads, p->stats, p->idx, p->cap}; }

void model_bind_pass(const dann_model *m, pass_t *p) {
    const net_plan *P = m->net;
    view v = view_of(p);
    p->stats = p->acts + P->act_per_image * (size_t)p->cap;
    v.stats = p->stats;
    p->feat = A(&v, P->feat);
    p->logp_class = A(&v, P->logp[0]);
    p->logp_domain = A(&v, P->logp[1]);
    p->dlogit_class = A(&v, P->dlogit[0]);
    p->dlogit_domain = A(&v, P->dlogit[1]);
    p->n_masks = P->n_masks;
    for (int k = 0; k < P->n_masks; k++) {
        p->mask[k] = A(&v, P->mask_off[k]);
        p->mask_units[k] = (size_t)P->mask_units[k];
    }
}

size_t model_acts_floats(const dann_model *m) {
    return m->net->act_per_image * (size_t)m->max_batch + m->net->stats_floats;
}
size_t model_idx_count(const dann_model *m) { return m->net->idx_per_image * (size_t)m->max_batch; }

static int sec_runs(int sec, int heads) {
    return sec == SEC_FEATURES || (sec == SEC_CLASS && (heads & HEAD_CLASS)) ||
           (sec == SEC_DOMAIN && (heads & HEAD_DOMAIN));
}

// A grey image repeated over 3 channels (MNIST as the reference feeds it): a first convolution
// over 3 channels then equals a one-channel convolution with the channel-summed kernel, a third
// of the work. Same function, different float rounding (checked against PyTorch by the py3
// three-step fixture, whose source batch is grey).
static int all_grey(const float *x, int B, size_t plane) {
    for (int b = 0; b < B; b++) {
        const float *img = x + (size_t)b * 3 * plane;
        if (memcmp(img, img + plane, plane * sizeof(float)) ||
            memcmp(img, img + 2 * plane, plane * sizeof(float)))
            return 0;
    }
    return 1;
}

static const float *op_input(const net_plan *P, const net_op *op, const view *v, const pass_t *p) {
    (void)P;
    return op->in < 0 ? p->in.x : A(v, op->in);
}

static conv_dims conv_of(const dann_model *m, const net_op *op, int B, int grey) {
    return (conv_dims){B, grey ? 1 : op->C, op->H, op->W, op->OC, op->K, model_slots(m)};
}
/* Stride or padding: the general convolution (which runs stride 1 on the same kernels). */
static int conv_general(const net_op *op) { return op->stride != 1 || op->pad != 0; }
static convg_dims convg_of(const dann_model *m, const net_op *op, int B) {
    return (convg_dims){B, op->C, op->H, op->W, op->OC, op->K, op->stride, op->pad, model_slots(m)};
}
static int pool2(const net_op *op) { return op->K == 2 && op->stride == 2 && op->pad == 0; }
static maxpoolg_dims pool_of(const net_op *op, int B) {
    return (maxpoolg_dims){B, op->C, op->H, op->W, op->K, op->stride, op->pad};
}

static void conv_forward(dann_model *m, pass_t *p, const net_op *op, const view *v, int B) {
    const net_plan *P = m->net;
    float **t = m->t;
    if (op->grey_ok && p->grey) {
        const int OC = op->OC, KK = op->K * op->K;
        const size_t plane = (size_t)op->H * op->W;
        const float *w = t[op->w];
        float *w1 = v->stats + P->grey_w, *gin = A(v, P->grey_in);
        for (int oc = 0; oc < OC; oc++)
            for (int k = 0; k < KK; k++)
                w1[oc * KK + k] = w[(oc * 3 + 0) * KK + k] + w[(oc * 3 + 1) * KK + k] + w[(oc * 3 + 2) * KK + k];
        for (int b = 0; b < B; b++)
            memcpy(gin + (size_t)b * plane, p->in.x + (size_t)b * 3 * plane, plane * sizeof(float));
        conv_dims dg = conv_of(m, op, B, 1);
        conv2d_forward(A(v, op->out), gin, w1, t[op->b], &dg, m->scratch);
    } else if (conv_general(op)) {
        convg_dims g = convg_of(m, op, B);
        convg_forward(A(v, op->out), op_input(P, op, v, p), t[op->w], t[op->b], &g, m->scratch);
    } else {
        conv_dims d = conv_of(m, op, B, 0);
        conv2d_forward(A(v, op->out), op_input(P, op, v, p), t[op->w], t[op->b], &d, m->scratch);
    }
}

static void op_forward(dann_model *m, pass_t *p, const net_op *op, const view *v, int B,
                       int training) {
    const net_plan *P = m->net;
    float **t = m->t;
    const float *x = op_input(P, op, v, p);
    float *y = A(v, op->out);
    const size_t nB = (size_t)B, n_in = (size_t)op->C * op->H * op->W;
    switch (op->kind) {
    case OP_CONV: conv_forward(m, p, op, v, B); break;
    case OP_BNPOOL: {
        float *mean = v->stats + op->stat, *rstd = mean + op->C;
        batchnorm_stats(mean, rstd, t[op->rm], t[op->rv], x, B, op->C, op->H * op->W, training,
                        BN_MOMENTUM, BN_EPS);
        const float *mask = training && op->mask >= 0 ? p->mask[op->mask] : NULL;
        bn_mask_maxpool2_forward(y, I(v, op->idx), A(v, op->xsel), x, mean, rstd, t[op->w],
                                 t[op->b], mask, B, op->C, op->H, op->W);
        if (training) m->bn_count[op->cnt]++;
        break;
    }
    case OP_BN: {
        float *mean = v->stats + op->stat, *rstd = mean + op->C;
        batchnorm_forward(y, mean, rstd, t[op->rm], t[op->rv], x, t[op->w], t[op->b], B, op->C,
                          op->H * op->W, training, BN_MOMENTUM, BN_EPS);
        if (training) m->bn_count[op->cnt]++;
        break;
    }
    case OP_MAXPOOL:
        if (pool2(op)) {
            maxpool2_forward(y, I(v, op->idx), x, B, op->C, op->H, op->W);
        } else {
            maxpoolg_dims g = pool_of(op, B);
            maxpoolg_forward(y, I(v, op->idx), x, &g);
        }
        break;
    case OP_RELU: relu_forward(y, x, nB * n_in); break;
    case OP_SIGMOID: sigmoid_forward(y, x, nB * n_in); break;
    case OP_DROPOUT:
        if (training) {
            const size_t unit = op->dropout2d ? (size_t)op->H * op->W : 1;
            dropout_forward(y, x, p->mask[op->mask], nB * n_in / unit, unit);
        } else if (y != x) {
            memcpy(y, x, nB * n_in * sizeof(float));
        }
        break;
    case OP_FC:
        if (op->first && !p->in.x)
            linear_sparse_forward(y, p->in.rowptr, p->in.col, p->in.val, t[op->w], t[op->b], B,
                                  op->C, op->OC);
        else
            linear_forward(y, x, t[op->w], t[op->b], B, op->C, op->OC);
        break;
    default: DANN_ASSERT(0);
    }
}

void model_forward(dann_model *m, pass_t *p, const dann_input *in, int training, int heads,
                   dann_rng *rng) {
    const net_plan *P = m->net;
    const int B = in->B;
    DANN_ASSERT(B >= 1 && B <= m->max_batch && B <= p->cap);
    // a sparse batch only where the first layer is fc on a vector input
    DANN_ASSERT(in->x || (P->vec && P->ops[0].kind == OP_FC && in->rowptr && in->col && in->val));
    view v = view_of(p);
    p->B = B;
    p->heads = heads;
    p->in = *in;
    if (training && !p->masks_given) {
        for (int k = 0; k < P->n_masks; k++)
            if (sec_runs(P->mask_sec[k], heads))
                dropout_draw(p->mask[k], (size_t)B * p->mask_units[k], P->mask_p[k], rng);
    }
    p->grey = !P->vec && P->in_c == 3 && P->ops[0].grey_ok && in->x &&
              all_grey(in->x, B, (size_t)P->in_h * P->in_w);
    for (int s = 0; s < SEC_N; s++) {
        if (!sec_runs(s, heads)) continue;
        for (int i = P->sec_begin[s]; i < P->sec_begin[s + 1]; i++) {
            const net_op *op = &P->ops[i];
            PROF(prof_slot(i, 0, op->name), op_forward(m, p, op, &v, B, training));
        }
        if (s != SEC_FEATURES) {
            const int h = s == SEC_CLASS ? 0 : 1;
            const net_op *last = &P->ops[P->sec_begin[s + 1] - 1];
            logsoftmax_forward(A(&v, P->logp[h]), A(&v, last->out), B, last->OC);
        }
    }
}

/* d loss / d w[oc,c,k] of a first convolution run on a grey batch is the same for the 3 input
 * channels: the one-channel kernel's gradient (dw1, db1), spread back. */
static void spread_grey_grads(dann_model *m, const net_op *op, const float *dw1, const float *db1) {
    const int KK = op->K * op->K;
    float *gw = m->g[op->w], *gb = m->g[op->b];
    for (int oc = 0; oc < op->OC; oc++) {
        for (int c = 0; c < 3; c++)
            for (int k = 0; k < KK; k++) gw[(oc * 3 + c) * KK + k] += dw1[oc * KK + k];
        gb[oc] += db1[oc];
    }
}

static void conv_backward(dann_model *m, pass_t *p, const net_op *op, const view *v, int B) {
    const net_plan *P = m->net;
    float **t = m->t, **g = m->g;
    if (op->grey_ok && p->grey) {
        float *w1 = v->stats + P->grey_w, *dw1 = w1 + op->OC * op->K * op->K,
              *db1 = dw1 + op->OC * op->K * op->K;
        memset(dw1, 0, ((size_t)op->OC * op->K * op->K + op->OC) * sizeof(float));
        conv_dims dg = conv_of(m, op, B, 1);
        conv2d_backward(NULL, dw1, db1, G(v, op->gout), A(v, P->grey_in), w1, &dg, m->scratch);
        spread_grey_grads(m, op, dw1, db1);
    } else if (conv_general(op)) {
        convg_dims cg = convg_of(m, op, B);
        convg_backward(G(v, op->gin), g[op->w], g[op->b], G(v, op->gout), op_input(P, op, v, p),
                       t[op->w], &cg, m->scratch);
    } else {
        conv_dims d = conv_of(m, op, B, 0);
        conv2d_backward(G(v, op->gin), g[op->w], g[op->b], G(v, op->gout), op_input(P, op, v, p),
                        t[op->w], &d, m->scratch);
    }
}

/* The fused BatchNorm-pool-ReLU backward; after the first convolution it hands its input
 * gradient to that convolution's weight gradient image by image (never stored whole). */
static void bnpool_backward(dann_model *m, pass_t *p, const net_op *op, const view *v, int B) {
    const net_plan *P = m->net;
    float **t = m->t, **g = m->g;
    float *mean = v->stats + op->stat, *rstd = mean + op->C, *coef = rstd + op->C;
    const float *mask = op->mask >= 0 ? p->mask[op->mask] : NULL;
    const float *x = A(v, op->in);
    if (!op->produce_into) {
        bn_mask_maxpool2_backward(G(v, op->gin), g[op->w], g[op->b], G(v, op->gout), A(v, op->out),
                                  I(v, op->idx), A(v, op->xsel), x, mean, rstd, t[op->w], mask,
                                  coef, B, op->C, op->H, op->W);
        return;
    }
    const net_op *conv = op - 1;
    const bn_pool_grad bg = {G(v, op->gout), A(v, op->out), I(v, op->idx), A(v, op->xsel), x, mean,
                             rstd, t[op->w], mask, coef, B, op->C, op->H, op->W};
    PROF(prof_slot((int)(op - P->ops), 1, op->name), bn_pool_backward_sums(&bg, g[op->w], g[op->b]));
    PROF(prof_slot((int)(conv - P->ops), 1, conv->name), {
        if (conv->grey_ok && p->grey) {
            float *w1 = v->stats + P->grey_w, *dw1 = w1 + conv->OC * conv->K * conv->K,
                  *db1 = dw1 + conv->OC * conv->K * conv->K;
            memset(dw1, 0, ((size_t)conv->OC * conv->K * conv->K + conv->OC) * sizeof(float));
            conv_dims dg = conv_of(m, conv, B, 1);
            conv2d_backward_weights_from(dw1, db1, bn_pool_backward_image, &bg, A(v, P->grey_in),
                                         &dg, m->scratch, G(v, conv->gout));
            spread_grey_grads(m, conv, dw1, db1);
        } else {
            conv_dims d = conv_of(m, conv, B, 0);
            conv2d_backward_weights_from(g[conv->w], g[conv->b], bn_pool_backward_image, &bg,
                                         p->in.x, &d, m->scratch, G(v, conv->gout));
        }
    });
}

static void op_backward(dann_model *m, pass_t *p, const net_op *op, const view *v, int B) {
    const net_plan *P = m->net;
    float **t = m->t, **g = m->g;
    const float *x = op_input(P, op, v, p);
    const size_t n = (size_t)B * op->C * op->H * op->W;
    const int last_of_head = op->sec != SEC_FEATURES && op == &P->ops[P->sec_begin[op->sec + 1] - 1];
    const float *dout = last_of_head ? A(v, P->dlogit[op->sec == SEC_CLASS ? 0 : 1]) : G(v, op->gout);
    float *dinp = G(v, op->gin);
    switch (op->kind) {
    case OP_FC:
        if (op->first && !p->in.x)
            linear_sparse_backward(g[op->w], g[op->b], dout, p->in.rowptr, p->in.col, p->in.val, B,
                                   op->C, op->OC);
        else
            linear_backward(dinp, g[op->w], g[op->b], dout, x, t[op->w], B, op->C, op->OC);
        break;
    case OP_BN: {
        const float *mean = v->stats + op->stat, *rstd = mean + op->C;
        batchnorm_backward(dinp, g[op->w], g[op->b], dout, x, mean, rstd, t[op->w], B, op->C,
                           op->H * op->W);
        break;
    }
    case OP_RELU:
        if (dinp) relu_backward(dinp, dout, A(v, op->out), n);
        break;
    case OP_SIGMOID:
        if (dinp) sigmoid_backward(dinp, dout, A(v, op->out), n);
        break;
    case OP_DROPOUT:
        if (dinp) {
            const size_t unit = op->dropout2d ? (size_t)op->H * op->W : 1;
            dropout_backward(dinp, dout, p->mask[op->mask], n / unit, unit);
        }
        break;
    case OP_MAXPOOL:
        if (!dinp) break;
        if (pool2(op)) {
            maxpool2_backward(dinp, dout, I(v, op->idx), B, op->C, op->H, op->W);
        } else {
            maxpoolg_dims pg = pool_of(op, B);
            maxpoolg_backward(dinp, dout, I(v, op->idx), &pg);
        }
        break;
    default: DANN_ASSERT(0);
    }
}

void model_backward(dann_model *m, pass_t *p, int heads, float lambda) {
    const net_plan *P = m->net;
    view v = view_of(p);
    const int B = p->B;
    DANN_ASSERT((heads & p->heads) == heads);
    // zero what the kernels accumulate into; the fused BatchNorm backwards write theirs
    for (int i = 0; i < P->n_ops; i++) {
        const net_op *op = &P->ops[i];
        if (op->gin >= 0 && !op->writes_gin)
            memset(G(&v, op->gin), 0, (size_t)B * op->C * op->H * op->W * sizeof(float));
    }
    for (int s = SEC_DOMAIN; s >= SEC_FEATURES; s--) {
        if (!sec_runs(s, heads)) continue;
        for (int i = P->sec_begin[s + 1] - 1; i >= P->sec_begin[s]; i--) {
            const net_op *op = &P->ops[i];
            if (op->kind == OP_BNPOOL) {
                if (op->produce_into) bnpool_backward(m, p, op, &v, B);
                else PROF(prof_slot(i, 1, op->name), bnpool_backward(m, p, op, &v, B));
            } else if (op->kind == OP_CONV) {
                if (!(i + 1 < P->n_ops && P->ops[i + 1].produce_into))
                    PROF(prof_slot(i, 1, op->name), conv_backward(m, p, op, &v, B));
            } else {
                PROF(prof_slot(i, 1, op->name), op_backward(m, p, op, &v, B));
            }
        }
        if (s == SEC_DOMAIN && P->featgrad >= 0)
            grl_backward(G(&v, P->featgrad), G(&v, P->featrev), (size_t)B * P->feature_dim, lambda);
    }
}

void model_forward_dense(dann_model *m, pass_t *p, const float *x, int B, int training, int heads,
                         dann_rng *rng) {
    const dann_input in = {.B = B, .x = x};
    model_forward(m, p, &in, training, heads, rng);
}
