/* netplan.c - compiles a network description into the plan netrun.c executes.
 *
 * One walk over the three sections tracks the shape (C,H,W) of the tensor flowing through,
 * checks every layer against it (messages name the layer by its PyTorch module name), emits the
 * ops, the tensor table and the buffer offsets:
 *   - acts (per pass, per image): each op's output; ReLU, sigmoid and dropout run in place when
 *     the op that made their input does not need that output for its own backward, and the
 *     input is not the network input or the features (both heads read those);
 *   - grads (one workspace, per image): the gradient of each op's output that some parameter
 *     upstream needs; the features' gradient and the domain head's own copy before the GRL;
 *   - idx: max-pool winners; stats (batch-independent floats): BatchNorm mean/rstd and the
 *     fused backward's coefficients, the channel-summed first kernel for grey batches.
 * Recognised patterns: conv -> bn -> [dropout2d] -> maxpool(2) -> relu runs as OP_CONV + one
 * OP_BNPOOL (the fused bn_mask_maxpool2 kernels; the normalised tensor is never stored), and
 * when that conv is the first layer its weight gradient takes the BatchNorm gradient image by
 * image (produce_into). The names count each kind from 1 within a section (NETWORKS.md), which
 * reproduces fungtion/DANN_py3's state_dict for py3. */
#include <stdio.h>
#include <string.h>
#include "layers/layers.h"
#include "model/net.h"

static const char *const SEC_MODULE[SEC_N] = {"feature", "class_classifier", "domain_classifier"};
static const char SEC_LETTER[SEC_N] = {'f', 'c', 'd'};
enum { NK_CONV, NK_FC, NK_BN, NK_POOL, NK_RELU, NK_SIGMOID, NK_DROP, NK_N };
static const char *const NK_NAMES[NK_N] = {"conv", "fc", "bn", "pool", "relu", "sigmoid", "drop"};

typedef struct {
    net_plan *P;
    dann_error *err;
    size_t A, G, I, S;             /* next free offsets: acts, grads, idx (per image), stats */
    int count[NK_N];               /* layers of each kind named so far in the section */
    int n_names;
} builder;

typedef struct {
    int C, H, W, img;              /* shape; img: 1 for (C,H,W) maps, 0 for vectors (C numbers) */
    int val;                       /* act offset, or -1 for the network input */
    int grad;                      /* grad offset of its gradient, -1 when nothing needs it */
    int shared;                    /* read by more than the next op (input, features) */
    int keep;                      /* its producer's backward needs it (no in-place change) */
} flow;

static size_t numel(const flow *f) { return (size_t)f->C * f->H * f->W; }

/* The PyTorch module name of the next layer of kind nk in section sec ("feature.f_conv2"). */
static const char *modname(builder *b, int sec, int nk) {
    DANN_ASSERT(b->n_names < SEC_N * NET_MAX_LAYERS);
    char *s = b->P->layer_names[b->n_names++];
    snprintf(s, sizeof b->P->layer_names[0], "%s.%c_%s%d", SEC_MODULE[sec], SEC_LETTER[sec], NK_NAMES[nk],
             ++b->count[nk]);
    return s;
}

static int add_tensor(builder *b, const char *mod, const char *field, int kind, int ndim,
                      const int *shape, int init, int fan_in) {
    net_plan *P = b->P;
    int i = P->n_tensors++;
    DANN_ASSERT(i < NET_MAX_TENSORS);
    snprintf(P->names[i], sizeof P->names[i], "%s.%s", mod, field);
    tensor_spec *t = &P->tensors[i];
    memset(t, 0, sizeof *t);
    t->name = P->names[i];
    t->kind = kind;
    t->ndim = ndim;
    for (int d = 0; d < ndim; d++) t->shape[d] = shape[d];
    t->init = init;
    t->fan_in = fan_in;
    return i;
}

static void add_bn_tensors(builder *b, net_op *op, const char *mod, int C) {
    op->w = add_tensor(b, mod, "weight", TENSOR_PARAM, 1, &C, INIT_ONE, 0);
    op->b = add_tensor(b, mod, "bias", TENSOR_PARAM, 1, &C, INIT_ZERO, 0);
    op->rm = add_tensor(b, mod, "running_mean", TENSOR_STATE, 1, &C, INIT_ZERO, 0);
    op->rv = add_tensor(b, mod, "running_var", TENSOR_STATE, 1, &C, INIT_ONE, 0);
    op->cnt = add_tensor(b, mod, "num_batches_tracked", TENSOR_BN_COUNT, 0, NULL, INIT_ZERO, 0);
}

static net_op *new_op(builder *b, int kind, int sec, const char *name, const flow *in) {
    net_plan *P = b->P;
    DANN_ASSERT(P->n_ops < NET_MAX_OPS);
    net_op *op = &P->ops[P->n_ops++];
    memset(op, 0, sizeof *op);
    op->kind = kind;
    op->sec = sec;
    op->name = name;
    op->C = in->C, op->H = in->H, op->W = in->W;
    op->in = in->val;
    op->gin = in->grad;
    op->first = in->val < 0;
    op->w = op->b = op->rm = op->rv = op->cnt = op->mask = op->xsel = op->idx = op->stat = -1;
    op->gout = -1;
    return op;
}

static int new_act(builder *b, size_t n) {
    int off = (int)b->A;
    b->A += n;
    return off;
}

/* The output of op: a fresh act of n floats per image, or its input's when it runs in place. */
static void set_output(builder *b, net_op *op, flow *f, int C, int H, int W, int img, int in_place,
                       int needs_grad) {
    size_t n = (size_t)C * H * W;
    op->OC = C, op->OH = H, op->OW = W;
    op->out = in_place ? f->val : new_act(b, n);
    if (needs_grad) {
        op->gout = (int)b->G;
        b->G += n;
    }
    f->C = C, f->H = H, f->W = W, f->img = img;
    f->val = op->out;
    f->grad = op->gout;
    f->shared = 0;
    f->keep = 0;
}

static int can_run_in_place(const flow *f) { return f->val >= 0 && !f->shared && !f->keep; }

static dann_status fail(builder *b, const char *name, const char *fmt, const flow *f) {
    if (f->img)
        return dann_fail(b->err, DANN_ERR_ARG, "%s: %s (its input is %dx%dx%d)", name, fmt, f->C, f->H, f->W);
    return dann_fail(b->err, DANN_ERR_ARG, "%s: %s (its input is a vector of %d)", name, fmt, f->C);
}

/* Is layers[i..] bn [dropout2d] maxpool(2) relu on an even-sized map? Returns the layers it spans. */
static int bnpool_span(const net_layer *l, int n, int i, const flow *f) {
    if (!f->img || f->H % 2 || f->W % 2 || f->val < 0 || l[i].kind != LK_BN) return 0;
    int j = i + 1;
    if (j < n && l[j].kind == LK_DROPOUT2D) j++;
    if (j + 1 < n && l[j].kind == LK_MAXPOOL && l[j].k == 2 && l[j].stride == 2 && l[j].pad == 0 &&
        l[j + 1].kind == LK_RELU)
        return j + 2 - i;
    return 0;
}

static int new_mask(builder *b, net_op *op, int sec, int units, double p) {
    net_plan *P = b->P;
    int k = P->n_masks++;
    DANN_ASSERT(k < NET_MAX_MASKS);
    P->mask_p[k] = (float)p;
    P->mask_units[k] = units;
    P->mask_sec[k] = sec;
    P->mask_off[k] = new_act(b, (size_t)units);
    op->mask = k;
    return k;
}

static dann_status section(builder *b, int sec, flow *f) {
    net_plan *P = b->P;
    const net_desc *d = &P->desc;
    const net_layer *L = d->l[sec];
    const int n = d->n[sec];
    memset(b->count, 0, sizeof b->count);
    P->sec_begin[sec] = P->n_ops;
    for (int i = 0; i < n; i++) {
        const net_layer *l = &L[i];
        const int last = i == n - 1;
        int span;
        switch (l->kind) {
        case LK_CONV: {
            const char *name = modname(b, sec, NK_CONV);
            if (!f->img) return fail(b, name, "a convolution needs an image input", f);
            if (l->k > f->H + 2 * l->pad || l->k > f->W + 2 * l->pad) {
                char msg[96];
                snprintf(msg, sizeof msg, "kernel %d larger than its %dx%d input%s", l->k, f->H, f->W,
                         l->pad ? " with its padding" : "");
                return dann_fail(b->err, DANN_ERR_ARG, "%s: %s", name, msg);
            }
            net_op *op = new_op(b, OP_CONV, sec, name, f);
            op->K = l->k, op->stride = l->stride, op->pad = l->pad;
            int w_shape[4] = {l->n, f->C, l->k, l->k}, fan = f->C * l->k * l->k;
            op->w = add_tensor(b, name, "weight", TENSOR_PARAM, 4, w_shape, INIT_KAIMING, fan);
            op->b = add_tensor(b, name, "bias", TENSOR_PARAM, 1, &l->n, INIT_FANIN, fan);
            op->grey_ok = op->first && f->C == 3 && !P->vec && l->stride == 1 && l->pad == 0;
            int OH = (f->H + 2 * l->pad - l->k) / l->stride + 1, OW = (f->W + 2 * l->pad - l->k) / l->stride + 1;
            set_output(b, op, f, l->n, OH, OW, 1, 0, 1);
            if (op->grey_ok) {
                P->grey_in = new_act(b, (size_t)op->H * op->W);
                P->grey_w = (int)b->S;
                b->S += (size_t)2 * l->n * l->k * l->k + l->n;  // kernel, its gradient, bias gradient
            }
            break;
        }
        case LK_BN:
            if (f->C > BN_MAX_CHANNELS)
                return fail(b, modname(b, sec, NK_BN), "BatchNorm takes at most 4096 channels", f);
            if ((span = bnpool_span(L, n, i, f))) {
                const char *name = modname(b, sec, NK_BN);
                net_op *op = new_op(b, OP_BNPOOL, sec, name, f);
                add_bn_tensors(b, op, name, f->C);
                if (L[i + 1].kind == LK_DROPOUT2D) {
                    modname(b, sec, NK_DROP);
                    op->p = L[i + 1].p;
                    new_mask(b, op, sec, f->C, op->p);
                }
                modname(b, sec, NK_POOL);
                modname(b, sec, NK_RELU);
                op->stat = (int)b->S;
                b->S += (size_t)4 * f->C;  // mean, rstd, then the backward's coefficients
                op->writes_gin = 1;
                net_op *prev = op - 1;
                op->produce_into = P->n_ops >= 2 && prev->kind == OP_CONV && prev->first && prev->out == op->in;
                const int OH = f->H / 2, OW = f->W / 2, C = f->C;
                op->xsel = new_act(b, (size_t)C * OH * OW);
                op->idx = (int)b->I;
                b->I += (size_t)C * OH * OW;
                set_output(b, op, f, C, OH, OW, 1, 0, 1);
                f->keep = 1;  // its backward reads its output
                i += span - 1;
            } else {
                const char *name = modname(b, sec, NK_BN);
                net_op *op = new_op(b, OP_BN, sec, name, f);
                add_bn_tensors(b, op, name, f->C);
                op->stat = (int)b->S;
                b->S += (size_t)2 * f->C;
                set_output(b, op, f, f->C, f->H, f->W, f->img, 0, 1);
            }
            break;
        case LK_MAXPOOL: {
            const char *name = modname(b, sec, NK_POOL);
            if (!f->img) return fail(b, name, "max-pooling needs an image input", f);
            if (l->k > f->H + 2 * l->pad || l->k > f->W + 2 * l->pad) {
                char msg[96];
                snprintf(msg, sizeof msg, "kernel %d larger than its %dx%d input", l->k, f->H, f->W);
                return dann_fail(b->err, DANN_ERR_ARG, "%s: %s", name, msg);
            }
            if (2 * l->pad > l->k) return fail(b, name, "padding larger than half the kernel", f);
            net_op *op = new_op(b, OP_MAXPOOL, sec, name, f);
            op->K = l->k, op->stride = l->stride, op->pad = l->pad;
            const int OH = (f->H + 2 * l->pad - l->k) / l->stride + 1, OW = (f->W + 2 * l->pad - l->k) / l->stride + 1;
            op->idx = (int)b->I;
            b->I += (size_t)f->C * OH * OW;
            set_output(b, op, f, f->C, OH, OW, 1, 0, f->grad >= 0);
            break;
        }
        case LK_RELU:
        case LK_SIGMOID: {
            const int relu = l->kind == LK_RELU;
            const char *name = modname(b, sec, relu ? NK_RELU : NK_SIGMOID);
            net_op *op = new_op(b, relu ? OP_RELU : OP_SIGMOID, sec, name, f);
            set_output(b, op, f, f->C, f->H, f->W, f->img, can_run_in_place(f), f->grad >= 0);
            f->keep = 1;  // the backward reads the output
            break;
        }
        case LK_DROPOUT:
        case LK_DROPOUT2D: {
            const char *name = modname(b, sec, NK_DROP);
            net_op *op = new_op(b, OP_DROPOUT, sec, name, f);
            op->p = l->p;
            // torch 1.13's Dropout2d on a (B, N) tensor drops elements, like Dropout
            op->dropout2d = l->kind == LK_DROPOUT2D && f->img;
            new_mask(b, op, sec, op->dropout2d ? f->C : (int)numel(f), op->p);
            set_output(b, op, f, f->C, f->H, f->W, f->img, can_run_in_place(f), f->grad >= 0);
            break;
        }
        case LK_FC: {
            const char *name = modname(b, sec, NK_FC);
            const int IN = (int)numel(f);
            if ((size_t)IN * l->n > (size_t)1 << 31)
                return fail(b, name, "weight matrix too large", f);
            net_op *op = new_op(b, OP_FC, sec, name, f);
            int w_shape[2] = {l->n, IN};
            op->w = add_tensor(b, name, "weight", TENSOR_PARAM, 2, w_shape, INIT_KAIMING, IN);
            op->b = add_tensor(b, name, "bias", TENSOR_PARAM, 1, &l->n, INIT_FANIN, IN);
            op->C = IN, op->H = op->W = 1;
            if (last && sec != SEC_FEATURES) {
                // the head's logits; their loss gradient lives in the pass (dlogit)
                int h = sec == SEC_CLASS ? 0 : 1;
                op->OC = l->n, op->OH = op->OW = 1;
                op->out = new_act(b, (size_t)l->n);
                P->logp[h] = new_act(b, (size_t)l->n);
                P->dlogit[h] = new_act(b, (size_t)l->n);
                op->gout = -1;
                f->C = l->n, f->H = f->W = 1, f->img = 0, f->val = op->out, f->grad = -1;
            } else {
                set_output(b, op, f, l->n, 1, 1, 0, 0, 1);
            }
            break;
        }
        default: DANN_ASSERT(0);
        }
    }
    P->sec_begin[sec + 1] = P->n_ops;
    return DANN_OK;
}

dann_status net_compile(net_plan *P, const net_desc *d, dann_error *err) {
    memset(P, 0, sizeof *P);
    P->desc = *d;
    net_format(d, P->text, sizeof P->text);
    P->in_c = d->c, P->in_h = d->h, P->in_w = d->w, P->vec = d->vec;
    P->grey_in = P->grey_w = -1;
    builder b = {.P = P, .err = err};
    if (d->n[SEC_FEATURES] == 0)
        return dann_fail(err, DANN_ERR_ARG, "network description: the feature extractor is empty");
    for (int s = SEC_CLASS; s <= SEC_DOMAIN; s++) {
        const char *head = s == SEC_CLASS ? "class" : "domain";
        if (d->n[s] == 0 || d->l[s][d->n[s] - 1].kind != LK_FC)
            return dann_fail(err, DANN_ERR_ARG, "network description: the %s head must end in fc(%s)",
                             head, s == SEC_CLASS ? "N classes" : "2");
    }
    if (d->l[SEC_DOMAIN][d->n[SEC_DOMAIN] - 1].n != 2)
        return dann_fail(err, DANN_ERR_ARG, "network description: the domain head must end in "
                         "fc(2) (source and target), not fc(%d)", d->l[SEC_DOMAIN][d->n[SEC_DOMAIN] - 1].n);
    P->n_classes = d->l[SEC_CLASS][d->n[SEC_CLASS] - 1].n;
    if (P->n_classes < 2)
        return dann_fail(err, DANN_ERR_ARG, "network description: the class head needs at least 2 classes");
    flow f = {.C = d->c, .H = d->h, .W = d->w, .img = !d->vec, .val = -1, .grad = -1, .shared = 1};
    dann_status st = section(&b, SEC_FEATURES, &f);
    if (st) return st;
    P->feat = f.val;
    P->feature_dim = (int)numel(&f);
    // the features: read by both heads; their gradient is the sum of both heads' (the domain
    // head's through the GRL, from its own buffer)
    const int featgrad = f.grad >= 0 ? f.grad : -1;
    P->featrev = (int)b.G;
    b.G += numel(&f);
    flow fc = f, fd = f;
    fc.shared = fd.shared = 1;
    fc.grad = featgrad;
    fd.grad = P->featrev;
    if ((st = section(&b, SEC_CLASS, &fc)) || (st = section(&b, SEC_DOMAIN, &fd))) return st;
    P->featgrad = featgrad;
    P->act_per_image = b.A;
    P->grad_per_image = b.G;
    P->idx_per_image = b.I;
    P->stats_floats = b.S;
    return DANN_OK;
}

size_t net_scratch_floats(const net_plan *P, int B, int slots) {
    size_t most = 0;
    for (int i = 0; i < P->n_ops; i++) {
        const net_op *op = &P->ops[i];
        if (op->kind != OP_CONV) continue;
        if (op->stride != 1 || op->pad != 0) {
            convg_dims g = {B, op->C, op->H, op->W, op->OC, op->K, op->stride, op->pad, slots};
            size_t n = convg_scratch_floats(&g);
            most = n > most ? n : most;
            continue;
        }
        for (int grey = 0; grey <= op->grey_ok; grey++) {
            conv_dims d = {B, grey ? 1 : op->C, op->H, op->W, op->OC, op->K, slots};
            size_t n = conv2d_scratch_floats(&d);
            most = n > most ? n : most;
        }
    }
    return most;
}

// Per image: a convolution or Linear layer costs 2*MACs forward, as much for its weight gradient
// and as much again for its input gradient (none for the first layer). The target batch runs
// the class head forward only (its output is unused, as in the reference).
double net_step_flops(const net_plan *P, int Bs, int Bt) {
    double fwd[SEC_N] = {0}, bwd[SEC_N] = {0};
    for (int i = 0; i < P->n_ops; i++) {
        const net_op *op = &P->ops[i];
        double macs;
        if (op->kind == OP_CONV) macs = (double)op->OC * op->OH * op->OW * op->C * op->K * op->K;
        else if (op->kind == OP_FC) macs = (double)op->C * op->OC;
        else continue;
        fwd[op->sec] += 2 * macs;
        bwd[op->sec] += 2 * macs * (op->first ? 1 : 2);
    }
    const double all_fwd = fwd[0] + fwd[1] + fwd[2];
    return Bs * (all_fwd + bwd[0] + bwd[1] + bwd[2]) + Bt * (all_fwd + bwd[0] + bwd[2]);
}
