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

/* A convolution over the n images from b0 of the pass. */
static void conv_forward(dann_model *m, pass_t *p, const net_op *op, const view *v, int b0, int n) {
    const net_plan *P = m->net;
    float **t = m->t;
    const size_t in_img = (size_t)op->C * op->H * op->W, out_img = (size_t)op->OC * op->OH * op->OW;
    float *y = A(v, op->out) + b0 * out_img;
    const float *x = op_input(P, op, v, p) + b0 * in_img;
    if (op->grey_ok && p->grey) {
        const int OC = op->OC, KK = op->K * op->K;
        const size_t plane = (size_t)op->H * op->W;
        const float *w = t[op->w];
        float *w1 = v->stats + P->grey_w, *gin = A(v, P->grey_in) + b0 * plane;
        for (int oc = 0; oc < OC; oc++)
            for (int k = 0; k < KK; k++)
                w1[oc * KK + k] = w[(oc * 3 + 0) * KK + k] + w[(oc * 3 + 1) * KK + k] + w[(oc * 3 + 2) * KK + k];
        for (int b = 0; b < n; b++)
            memcpy(gin + (size_t)b * plane, x + (size_t)b * 3 * plane, plane * sizeof(float));
        conv_dims dg = conv_of(m, op, n, 1);
        conv2d_forward(y, gin, w1, t[op->b], &dg, m->scratch);
    } else if (conv_general(op)) {
        convg_dims g = convg_of(m, op, n);
        convg_forward(y, x, t[op->w], t[op->b], &g, m->scratch);
    } else {
        conv_dims d = conv_of(m, op, n, 0);
        conv2d_forward(y, x, t[op->w], t[op->b], &d, m->scratch);
    }
}

/* A training BatchNorm's statistics: in one call, or (data-parallel) from the chunks' partial
 * sums added in chunk order over the whole batch. */
static void bn_stats(dann_model *m, pass_t *p, const net_op *op, const float *x, float *mean,
                     float *rstd, int training) {
    float **t = m->t;
    const int C = op->C, S = op->H * op->W;
    if (!training || p->k1 == 0) {
        batchnorm_stats(mean, rstd, t[op->rm], t[op->rv], x, p->B, C, S, training, BN_MOMENTUM,
                        BN_EPS);
        return;
    }
    const int K = dist_chunks(m, p), L = p->k1 - p->k0;
    double *mine = m->dpart, *all = mine + (size_t)L * C, *acc = all + (size_t)K * C;
    const double n = (double)p->Bg * S;
    const size_t img = (size_t)C * S;
    for (int j = 0; j < L; j++) {
        int b0, nb;
        dist_chunk(m, p, p->k0 + j, &b0, &nb);
        batchnorm_part_sum(mine + (size_t)j * C, x + (size_t)b0 * img, nb, C, S);
    }
    dist_gather(m, p, mine, sizeof(double) * C, all);
    dist_fold_d(acc, all, K, (size_t)C);
    batchnorm_mean_of(mean, acc, n, C);
    for (int j = 0; j < L; j++) {
        int b0, nb;
        dist_chunk(m, p, p->k0 + j, &b0, &nb);
        batchnorm_part_sqdev(mine + (size_t)j * C, x + (size_t)b0 * img, mean, nb, C, S);
    }
    dist_gather(m, p, mine, sizeof(double) * C, all);
    dist_fold_d(acc, all, K, (size_t)C);
    batchnorm_stats_finish(rstd, t[op->rm], t[op->rv], mean, acc, n, C, BN_MOMENTUM, BN_EPS);
}

/* Op op over the n images from b0 of the pass; a BatchNorm's statistics are the whole
 * batch's, set before (bn_stats). */
static void op_forward_range(dann_model *m, pass_t *p, const net_op *op, const view *v, int b0,
                             int n, int training) {
    const net_plan *P = m->net;
    float **t = m->t;
    const size_t in_img = (size_t)op->C * op->H * op->W, out_img = (size_t)op->OC * op->OH * op->OW;
    const float *x0 = op_input(P, op, v, p), *x = x0 ? x0 + b0 * in_img : NULL;
    float *y = A(v, op->out) + b0 * out_img;
    const size_t nn = (size_t)n * in_img;
    switch (op->kind) {
    case OP_CONV: conv_forward(m, p, op, v, b0, n); break;
    case OP_BNPOOL: {
        const float *mean = v->stats + op->stat, *rstd = mean + op->C;
        const float *mask = training && op->mask >= 0 ? p->mask[op->mask] + (size_t)b0 * op->C : NULL;
        // inference keeps no winners (no backward follows)
        int32_t *am = training ? I(v, op->idx) + b0 * out_img : NULL;
        float *xsel = training ? A(v, op->xsel) + b0 * out_img : NULL;
        bn_mask_maxpool2_forward(y, am, xsel, x, mean, rstd, t[op->w], t[op->b], mask, n, op->C,
                                 op->H, op->W);
        break;
    }
    case OP_BN: {
        const float *mean = v->stats + op->stat, *rstd = mean + op->C;
        batchnorm_apply(y, x, mean, rstd, t[op->w], t[op->b], n, op->C, op->H * op->W);
        break;
    }
    case OP_MAXPOOL:
        if (pool2(op)) {
            maxpool2_forward(y, I(v, op->idx) + b0 * out_img, x, n, op->C, op->H, op->W);
        } else {
            maxpoolg_dims g = pool_of(op, n);
            maxpoolg_forward(y, I(v, op->idx) + b0 * out_img, x, &g);
        }
        break;
    case OP_RELU: relu_forward(y, x, nn); break;
    case OP_SIGMOID: sigmoid_forward(y, x, nn); break;
    case OP_DROPOUT:
        if (training) {
            const size_t unit = op->dropout2d ? (size_t)op->H * op->W : 1;
            dropout_forward(y, x, p->mask[op->mask] + b0 * (in_img / unit), nn / unit, unit);
        } else if (y != x) {
            memcpy(y, x, nn * sizeof(float));
        }
        break;
    case OP_FC:
        if (op->first && !p->in.x) {  // a sparse batch: the range's rows, rebased
            const int64_t base = p->in.rowptr[b0];
            for (int b = 0; b <= n; b++) m->rowbuf[b] = p->in.rowptr[b0 + b] - base;
            linear_sparse_forward(y, m->rowbuf, p->in.col + base, p->in.val + base, t[op->w],
                                  t[op->b], n, op->C, op->OC);
        } else {
            linear_forward(y, x, t[op->w], t[op->b], n, op->C, op->OC);
        }
        break;
    default: DANN_ASSERT(0);
    }
}

/* Op op over the pass: the whole batch in one call each, or (data-parallel) chunk by chunk, so
 * that every chunk is computed the same way wherever it is. */
static void op_forward(dann_model *m, pass_t *p, const net_op *op, const view *v, int B,
                       int training) {
    float **t = m->t;
    if (op->kind == OP_BN || op->kind == OP_BNPOOL) {
        float *mean = v->stats + op->stat, *rstd = mean + op->C;
        const float *x = A(v, op->in);
        if (op->kind == OP_BN && p->k1 == 0) {  // the one-call kernel (statistics and apply)
            batchnorm_forward(A(v, op->out), mean, rstd, t[op->rm], t[op->rv], x, t[op->w],
                              t[op->b], B, op->C, op->H * op->W, training, BN_MOMENTUM, BN_EPS);
            if (training) m->bn_count[op->cnt]++;
            return;
        }
        bn_stats(m, p, op, x, mean, rstd, training);
        if (training) m->bn_count[op->cnt]++;
    }
    if (p->k1 == 0) {
        op_forward_range(m, p, op, v, 0, B, training);
        return;
    }
    for (int k = p->k0; k < p->k1; k++) {
        int b0, n;
        dist_chunk(m, p, k, &b0, &n);
        op_forward_range(m, p, op, v, b0, n, training);
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
    if (training) dist_layout(m, p, B, in->B_total);
    else p->Bg = B, p->first = p->k0 = p->k1 = 0;
    DANN_ASSERT(p->Bg <= p->cap);
    if (training && !p->masks_given) {
        // the whole batch's masks, from the one RNG every rank holds; this rank keeps its part
        for (int k = 0; k < P->n_masks; k++)
            if (sec_runs(P->mask_sec[k], heads)) {
                const size_t u = p->mask_units[k];
                dropout_draw(p->mask[k], (size_t)p->Bg * u, P->mask_p[k], rng);
                if (p->first) memmove(p->mask[k], p->mask[k] + p->first * u, (size_t)B * u * sizeof(float));
            }
    }
    p->grey = !P->vec && P->in_c == 3 && P->ops[0].grey_ok && in->x &&
              all_grey(in->x, B, (size_t)P->in_h * P->in_w);
    if (p->k1 > 0 && m->dist.n_ranks > 1 && P->ops[0].grey_ok) {
        // the one-channel path changes the rounding: every rank must take the same one
        int flags[1024];
        dist_gather_int(m, p->grey, flags);
        for (int r = 0; r < m->dist.n_ranks; r++) p->grey &= flags[r];
    }
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
 * channels: the one-channel kernel's gradient (dw1, db1), spread back into gw, gb. */
static void spread_grey_grads(const net_op *op, float *gw, float *gb, const float *dw1,
                              const float *db1) {
    const int KK = op->K * op->K;
    for (int oc = 0; oc < op->OC; oc++) {
        for (int c = 0; c < 3; c++)
            for (int k = 0; k < KK; k++) gw[(oc * 3 + c) * KK + k] += dw1[oc * KK + k];
        gb[oc] += db1[oc];
    }
}

static const float *op_dout(const net_plan *P, const net_op *op, const view *v) {
    const int last_of_head = op->sec != SEC_FEATURES && op == &P->ops[P->sec_begin[op->sec + 1] - 1];
    return last_of_head ? A(v, P->dlogit[op->sec == SEC_CLASS ? 0 : 1]) : G(v, op->gout);
}

/* The gradients of a conv or fc op over the images [b0, b0 + n) of the pass: the weight
 * gradient accumulated into gw, gb, the input gradient (if any) into its rows. For a conv whose
 * output gradient comes from the fused BatchNorm-pool backward after it, bg (its images already
 * the range's) produces that gradient image by image. */
static void param_grad_range(dann_model *m, pass_t *p, const net_op *op, const view *v, int b0,
                             int n, float *gw, float *gb, const bn_pool_grad *bg) {
    const net_plan *P = m->net;
    float **t = m->t;
    const size_t in_img = (size_t)op->C * op->H * op->W, out_img = (size_t)op->OC * op->OH * op->OW;
    const float *x = op_input(P, op, v, p), *dout = op_dout(P, op, v);
    float *dinp = G(v, op->gin);
    const float *xr = x ? x + b0 * in_img : NULL, *dr = dout ? dout + b0 * out_img : NULL;
    float *dinr = dinp ? dinp + b0 * in_img : NULL;
    if (op->kind == OP_FC) {
        if (op->first && !p->in.x) {  // a sparse batch: the range's rows, rebased
            const int64_t base = p->in.rowptr[b0];
            for (int b = 0; b <= n; b++) m->rowbuf[b] = p->in.rowptr[b0 + b] - base;
            linear_sparse_backward(gw, gb, dr, m->rowbuf, p->in.col + base, p->in.val + base, n,
                                   op->C, op->OC);
        } else {
            linear_backward(dinr, gw, gb, dr, xr, t[op->w], n, op->C, op->OC);
        }
        return;
    }
    DANN_ASSERT(op->kind == OP_CONV);
    float *dbuf = G(v, op->gout) + b0 * out_img;
    if (op->grey_ok && p->grey) {
        float *w1 = v->stats + P->grey_w, *dw1 = w1 + op->OC * op->K * op->K,
              *db1 = dw1 + op->OC * op->K * op->K;
        const float *gx = A(v, P->grey_in) + (size_t)b0 * op->H * op->W;
        memset(dw1, 0, ((size_t)op->OC * op->K * op->K + op->OC) * sizeof(float));
        conv_dims dg = conv_of(m, op, n, 1);
        if (bg) conv2d_backward_weights_from(dw1, db1, bn_pool_backward_image, bg, gx, &dg, m->scratch, dbuf);
        else conv2d_backward(NULL, dw1, db1, dr, gx, w1, &dg, m->scratch);
        spread_grey_grads(op, gw, gb, dw1, db1);
    } else if (bg) {
        conv_dims d = conv_of(m, op, n, 0);
        conv2d_backward_weights_from(gw, gb, bn_pool_backward_image, bg, xr, &d, m->scratch, dbuf);
    } else if (conv_general(op)) {
        convg_dims cg = convg_of(m, op, n);
        convg_backward(dinr, gw, gb, dr, xr, t[op->w], &cg, m->scratch);
    } else {
        conv_dims d = conv_of(m, op, n, 0);
        conv2d_backward(dinr, gw, gb, dr, xr, t[op->w], &d, m->scratch);
    }
}

/* bg restricted to n images from b0. */
static bn_pool_grad bg_range(const bn_pool_grad *bg, int b0, int n) {
    bn_pool_grad r = *bg;
    const size_t in_img = (size_t)bg->C * bg->H * bg->W, out_img = in_img / 4;
    r.dout += b0 * out_img, r.out += b0 * out_img, r.argmax += b0 * out_img, r.xsel += b0 * out_img;
    r.inp += b0 * in_img;
    if (r.mask) r.mask += (size_t)b0 * bg->C;
    r.B = n;
    return r;
}

/* A conv or fc op's gradients: in one call, or (data-parallel) as the fold of the chunks'
 * weight-gradient partials, gathered from the ranks, added to the gradient. */
static void param_grad(dann_model *m, pass_t *p, const net_op *op, const view *v,
                       const bn_pool_grad *bg) {
    float **g = m->g;
    if (p->k1 == 0) {
        param_grad_range(m, p, op, v, 0, p->B, g[op->w], g[op->b], bg);
        return;
    }
    const size_t nw = (size_t)op->OC * op->C * (op->kind == OP_FC ? 1 : op->K * op->K),
                 nb = (size_t)op->OC, per = nw + nb;
    const int K = dist_chunks(m, p), L = p->k1 - p->k0;
    DANN_ASSERT(per <= m->part_per_chunk);
    float *mine = m->part, *all = mine + (size_t)L * per, *acc = all + (size_t)K * per;
    for (int j = 0; j < L; j++) {
        int b0, nb_;
        dist_chunk(m, p, p->k0 + j, &b0, &nb_);
        float *pw = mine + (size_t)j * per;
        memset(pw, 0, per * sizeof(float));
        bn_pool_grad r;
        if (bg) r = bg_range(bg, b0, nb_);
        param_grad_range(m, p, op, v, b0, nb_, pw, pw + nw, bg ? &r : NULL);
    }
    dist_gather(m, p, mine, per * sizeof(float), all);
    dist_fold_f(acc, all, K, per);
    for (size_t i = 0; i < nw; i++) g[op->w][i] += acc[i];
    for (size_t i = 0; i < nb; i++) g[op->b][i] += acc[nw + i];
}

/* The sums of a BatchNorm backward (s1 = sum dout, s2 = sum dout*xhat per channel) over the
 * whole batch: one part, or the chunks' parts gathered and folded. bg: the fused op's. */
static void bn_dsums(dann_model *m, pass_t *p, const net_op *op, const view *v,
                     const bn_pool_grad *bg, double *s1, double *s2) {
    const int C = op->C, S = op->H * op->W;
    const float *mean = v->stats + op->stat, *rstd = mean + C;
    const float *x = A(v, op->in), *dout = op_dout(m->net, op, v);
    const size_t img = (size_t)C * S;
    if (p->k1 == 0) {
        if (bg) bn_pool_part_sums(bg, s1, s2);
        else batchnorm_part_dsums(s1, s2, dout, x, mean, rstd, p->B, C, S);
        return;
    }
    const int K = dist_chunks(m, p), L = p->k1 - p->k0;
    double *mine = m->dpart, *all = mine + (size_t)L * 2 * C, *acc = all + (size_t)K * 2 * C;
    for (int j = 0; j < L; j++) {
        int b0, n;
        dist_chunk(m, p, p->k0 + j, &b0, &n);
        double *a = mine + (size_t)j * 2 * C;
        if (bg) {
            const bn_pool_grad r = bg_range(bg, b0, n);
            bn_pool_part_sums(&r, a, a + C);
        } else {
            batchnorm_part_dsums(a, a + C, dout + b0 * img, x + b0 * img, mean, rstd, n, C, S);
        }
    }
    dist_gather(m, p, mine, 2 * C * sizeof(double), all);
    dist_fold_d(acc, all, K, (size_t)2 * C);
    memcpy(s1, acc, C * sizeof(double));
    memcpy(s2, acc + C, C * sizeof(double));
}

/* The fused backward's input gradient, image by image (bn_mask_maxpool2_backward's loop). */
static void bnpool_dinp(float *dinp, const bn_pool_grad *bg) {
    const size_t img = (size_t)bg->C * bg->H * bg->W;
    #pragma omp parallel for schedule(static)
    for (int b = 0; b < bg->B; b++) bn_pool_backward_image(dinp + (size_t)b * img, b, 0, bg->C, bg);
}

/* The fused BatchNorm-pool-ReLU backward; after the first convolution it hands its input
 * gradient to that convolution's weight gradient image by image (never stored whole). */
static void bnpool_backward(dann_model *m, pass_t *p, const net_op *op, const view *v, int B) {
    const net_plan *P = m->net;
    float **t = m->t, **g = m->g;
    float *mean = v->stats + op->stat, *rstd = mean + op->C, *coef = rstd + op->C;
    const float *mask = op->mask >= 0 ? p->mask[op->mask] : NULL;
    const bn_pool_grad bg = {G(v, op->gout), A(v, op->out), I(v, op->idx), A(v, op->xsel),
                             A(v, op->in), mean, rstd, t[op->w], mask, coef, B, op->C, op->H, op->W};
    double sums[2 * BN_MAX_CHANNELS];
    const int i = (int)(op - P->ops);
    PROF(prof_slot(i, 1, op->name), {
        bn_dsums(m, p, op, v, &bg, sums, sums + op->C);
        bn_pool_sums_finish(&bg, sums, sums + op->C, (double)p->Bg * op->H * op->W, g[op->w],
                            g[op->b]);
    });
    if (op->produce_into) {
        const net_op *conv = op - 1;
        PROF(prof_slot(i - 1, 1, conv->name), param_grad(m, p, conv, v, &bg));
        return;
    }
    float *dinp = G(v, op->gin);
    if (!dinp) return;
    PROF(prof_slot(i, 1, op->name), bnpool_dinp(dinp, &bg));
}

static void op_backward(dann_model *m, pass_t *p, const net_op *op, const view *v, int B) {
    const net_plan *P = m->net;
    float **t = m->t, **g = m->g;
    const float *x = op_input(P, op, v, p);
    const size_t n = (size_t)B * op->C * op->H * op->W;
    const float *dout = op_dout(P, op, v);
    float *dinp = G(v, op->gin);
    switch (op->kind) {
    case OP_CONV:
    case OP_FC: param_grad(m, p, op, v, NULL); break;
    case OP_BN: {
        const float *mean = v->stats + op->stat, *rstd = mean + op->C;
        double sums[2 * BN_MAX_CHANNELS];
        bn_dsums(m, p, op, v, NULL, sums, sums + op->C);
        batchnorm_backward_finish(dinp, g[op->w], g[op->b], dout, x, mean, rstd, t[op->w], sums,
                                  sums + op->C, (double)p->Bg * op->H * op->W, B, op->C,
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
                bnpool_backward(m, p, op, &v, B);
            } else if (op->kind == OP_CONV && i + 1 < P->n_ops && P->ops[i + 1].produce_into) {
                continue;  // its weight gradient came with the BatchNorm-pool backward after it
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
