/* py3.c - the network of fungtion/DANN_py3 (preset "py3"), input 3x28x28:
 *   feature: conv1 3->64 k5 -> bn1 -> maxpool2 -> relu -> conv2 64->50 k5 -> bn2 -> dropout2d ->
 *            maxpool2 -> relu -> flatten (800)
 *   class:   fc1 800->100 -> bn -> relu -> dropout -> fc2 100->100 -> bn -> relu -> fc3 100->10
 *            -> logsoftmax
 *   domain:  GRL -> fc1 800->100 -> bn -> relu -> fc2 100->2 -> logsoftmax
 * (the reference's c_drop1 is nn.Dropout2d applied to a (B,100) tensor, which torch 1.13 treats
 *  element-wise: the same as Dropout.) Forward calls the kernels in order, backward in reverse. */
#include <string.h>
#include "layers/layers.h"
#include "core/prof.h"
#include "model/model.h"

// Tensor table, in the reference's state_dict() order: its names are the interchange names.
enum {
    F_CONV1_W, F_CONV1_B, F_BN1_W, F_BN1_B, F_BN1_RM, F_BN1_RV, F_BN1_N,
    F_CONV2_W, F_CONV2_B, F_BN2_W, F_BN2_B, F_BN2_RM, F_BN2_RV, F_BN2_N,
    C_FC1_W, C_FC1_B, C_BN1_W, C_BN1_B, C_BN1_RM, C_BN1_RV, C_BN1_N,
    C_FC2_W, C_FC2_B, C_BN2_W, C_BN2_B, C_BN2_RM, C_BN2_RV, C_BN2_N,
    C_FC3_W, C_FC3_B,
    D_FC1_W, D_FC1_B, D_BN1_W, D_BN1_B, D_BN1_RM, D_BN1_RV, D_BN1_N,
    D_FC2_W, D_FC2_B, N_TENSORS
};

#define P TENSOR_PARAM
#define S TENSOR_STATE
#define BN_TENSORS(prefix, C)                                                        \
    {prefix ".weight", P, 1, {C}, INIT_ONE, 0}, {prefix ".bias", P, 1, {C}, INIT_ZERO, 0},  \
    {prefix ".running_mean", S, 1, {C}, INIT_ZERO, 0},                               \
    {prefix ".running_var", S, 1, {C}, INIT_ONE, 0},                                 \
    {prefix ".num_batches_tracked", TENSOR_BN_COUNT, 0, {0}, INIT_ZERO, 0}

static const tensor_spec py3_tensors[N_TENSORS] = {
    {"feature.f_conv1.weight", P, 4, {64, 3, 5, 5}, INIT_KAIMING, 75},
    {"feature.f_conv1.bias", P, 1, {64}, INIT_FANIN, 75},
    BN_TENSORS("feature.f_bn1", 64),
    {"feature.f_conv2.weight", P, 4, {50, 64, 5, 5}, INIT_KAIMING, 1600},
    {"feature.f_conv2.bias", P, 1, {50}, INIT_FANIN, 1600},
    BN_TENSORS("feature.f_bn2", 50),
    {"class_classifier.c_fc1.weight", P, 2, {100, 800}, INIT_KAIMING, 800},
    {"class_classifier.c_fc1.bias", P, 1, {100}, INIT_FANIN, 800},
    BN_TENSORS("class_classifier.c_bn1", 100),
    {"class_classifier.c_fc2.weight", P, 2, {100, 100}, INIT_KAIMING, 100},
    {"class_classifier.c_fc2.bias", P, 1, {100}, INIT_FANIN, 100},
    BN_TENSORS("class_classifier.c_bn2", 100),
    {"class_classifier.c_fc3.weight", P, 2, {10, 100}, INIT_KAIMING, 100},
    {"class_classifier.c_fc3.bias", P, 1, {10}, INIT_FANIN, 100},
    {"domain_classifier.d_fc1.weight", P, 2, {100, 800}, INIT_KAIMING, 800},
    {"domain_classifier.d_fc1.bias", P, 1, {100}, INIT_FANIN, 800},
    BN_TENSORS("domain_classifier.d_bn1", 100),
    {"domain_classifier.d_fc2.weight", P, 2, {2, 100}, INIT_KAIMING, 100},
    {"domain_classifier.d_fc2.bias", P, 1, {2}, INIT_FANIN, 100},
};
#undef P
#undef S

// Buffers of one pass: per-image floats plus a batch-independent part (BN stats). Activations
// and their gradients use separate size tables (0 = not stored): BatchNorm, dropout, pooling and
// ReLU of the feature blocks are fused (bn_mask_maxpool2), so only the block outputs are stored,
// with the conv outputs at the pool winners (A_XS1/A_XS2) for the backward. Gradient-only entry:
// A_FEATREV (the domain head's feature gradient before the GRL scales it into A_FEAT's).
// A_DLOGC/A_DLOGD hold the pass's loss gradients w.r.t. the logits.
enum {
    A_C1, A_XS1, A_R1, A_C2, A_XS2, A_FEAT, A_FEATREV,
    A_CFC1, A_CBN1, A_CR1, A_CD1, A_CFC2, A_CBN2, A_CR2, A_CFC3, A_LOGPC,
    A_DFC1, A_DBN1, A_DR1, A_DFC2, A_LOGPD,
    A_MASK_F, A_MASK_C, A_DLOGC, A_DLOGD, A_GREY,
    A_STATS, N_ACTS
};
static const size_t act_per_image[N_ACTS] = {
    [A_C1] = 64 * 24 * 24, [A_XS1] = 64 * 12 * 12, [A_R1] = 64 * 12 * 12, [A_C2] = 50 * 8 * 8,
    [A_XS2] = 800, [A_FEAT] = 800, [A_CFC1] = 100, [A_CBN1] = 100, [A_CR1] = 100, [A_CD1] = 100, [A_CFC2] = 100,
    [A_CBN2] = 100, [A_CR2] = 100, [A_CFC3] = 10, [A_LOGPC] = 10,
    [A_DFC1] = 100, [A_DBN1] = 100, [A_DR1] = 100, [A_DFC2] = 2, [A_LOGPD] = 2,
    [A_MASK_F] = 50, [A_MASK_C] = 100, [A_DLOGC] = 10, [A_DLOGD] = 2, [A_GREY] = 28 * 28,
};
static const size_t grad_per_image[N_ACTS] = {
    [A_C1] = 64 * 24 * 24, [A_R1] = 64 * 12 * 12, [A_C2] = 50 * 8 * 8,
    [A_FEAT] = 800, [A_FEATREV] = 800,
    [A_CFC1] = 100, [A_CBN1] = 100, [A_CR1] = 100, [A_CD1] = 100, [A_CFC2] = 100,
    [A_CBN2] = 100, [A_CR2] = 100, [A_DFC1] = 100, [A_DBN1] = 100, [A_DR1] = 100,
};
// Batch-independent floats in A_STATS: mean and rstd of each of the 5 BatchNorm layers.
enum { ST_BN1 = 0, ST_BN2 = 2 * 64, ST_CBN1 = ST_BN2 + 2 * 50, ST_CBN2 = ST_CBN1 + 200,
       ST_DBN1 = ST_CBN2 + 200,
       // conv1 on grey input: channel-summed weights, and the weight/bias gradients of that
       // one-channel convolution before they are spread back over the 3 input channels
       ST_W1 = ST_DBN1 + 200, ST_DW1 = ST_W1 + 64 * 25, ST_DB1 = ST_DW1 + 64 * 25,
       // the fused backwards' per-channel coefficients (bn_pool_grad.coef) of bn1 and bn2
       ST_COEF1 = ST_DB1 + 64, ST_COEF2 = ST_COEF1 + 2 * 64,
       ST_END = ST_COEF2 + 2 * 50 };

static size_t offset(const size_t *per_image, int a, int B) {
    size_t off = 0;
    for (int i = 0; i < a; i++) off += per_image[i] * (size_t)B;
    return off;
}
static size_t py3_acts_floats(int B) { return offset(act_per_image, A_STATS, B) + ST_END; }
static size_t py3_grads_floats(int B) { return offset(grad_per_image, A_STATS, B); }
static size_t py3_idx_count(int B) { return (size_t)B * (64 * 12 * 12 + 800); }

static conv_dims conv1_dims(int B, int slots) { return (conv_dims){B, 3, 28, 28, 64, 5, slots}; }
static conv_dims conv1_grey_dims(int B, int slots) { return (conv_dims){B, 1, 28, 28, 64, 5, slots}; }

// A grey image repeated over 3 channels (MNIST as the reference feeds it): conv1 then equals a
// one-channel convolution with the channel-summed kernel, a third of the work. Same function,
// different float rounding (checked against PyTorch by the three-step fixture, whose source
// batch is grey).
static int all_grey(const float *x, int B) {
    for (int b = 0; b < B; b++) {
        const float *img = x + (size_t)b * 3 * 784;
        if (memcmp(img, img + 784, 784 * sizeof(float)) || memcmp(img, img + 2 * 784, 784 * sizeof(float)))
            return 0;
    }
    return 1;
}
static conv_dims conv2_dims(int B, int slots) { return (conv_dims){B, 64, 12, 12, 50, 5, slots}; }
static conv_dims conv1_grey_dims(int B, int slots);
static size_t py3_scratch_floats(int B, int slots) {
    // Every convolution the model runs shares the scratch: size it for the largest.
    conv_dims d[3] = {conv1_dims(B, slots), conv1_grey_dims(B, slots), conv2_dims(B, slots)};
    size_t most = 0;
    for (int i = 0; i < 3; i++) {
        size_t n = conv2d_scratch_floats(&d[i]);
        most = n > most ? n : most;
    }
    return most;
}

// Pointers to pass buffers for the batch capacity the pass was allocated with. Offsets depend on
// that capacity only, so a smaller batch uses a prefix of each buffer.
typedef struct { float *a[N_ACTS], *g[N_ACTS]; int32_t *idx1, *idx2; } py3_view;
static py3_view view(pass_t *p, int cap) {
    py3_view v;
    for (int i = 0; i < N_ACTS; i++) {
        v.a[i] = p->acts + offset(act_per_image, i, cap);
        v.g[i] = p->grads + offset(grad_per_image, i, cap);
    }
    v.idx1 = p->idx;
    v.idx2 = p->idx + (size_t)cap * 64 * 12 * 12;
    return v;
}

static void py3_bind(pass_t *p, int cap) {
    py3_view v = view(p, cap);
    p->feat = v.a[A_FEAT];
    p->logp_class = v.a[A_LOGPC];
    p->logp_domain = v.a[A_LOGPD];
    p->dlogit_class = v.a[A_DLOGC];
    p->dlogit_domain = v.a[A_DLOGD];
    p->n_masks = 2;
    p->mask[0] = v.a[A_MASK_F];
    p->mask_units[0] = 50;
    p->mask[1] = v.a[A_MASK_C];
    p->mask_units[1] = 100;
}

#define BN_MOMENTUM 0.1f
#define BN_EPS 1e-5f

static void py3_forward(dann_model *m, pass_t *p, const float *x, int B, int training,
                        int heads, dann_rng *rng) {
    DANN_ASSERT(B >= 1 && B <= m->max_batch);
    py3_view v = view(p, m->max_batch);
    float **t = m->t, **a = v.a, *st = a[A_STATS];
    conv_dims d1 = conv1_dims(B, model_slots(m)), d2 = conv2_dims(B, model_slots(m));
    const size_t nB = (size_t)B;
    p->B = B;
    p->heads = heads;
    if (training && !p->masks_given) {
        dropout_draw(p->mask[0], nB * 50, 0.5f, rng);
        if (heads & HEAD_CLASS) dropout_draw(p->mask[1], nB * 100, 0.5f, rng);
    }
    // feature extractor: conv -> [bn -> dropout2d -> maxpool -> relu] fused
    PROF(PROF_CONV1_FWD, {
        p->grey = all_grey(x, B);
        if (p->grey) {
            conv_dims dg = conv1_grey_dims(B, model_slots(m));
            const float *w = t[F_CONV1_W];
            for (int oc = 0; oc < 64; oc++)
                for (int k = 0; k < 25; k++)
                    st[ST_W1 + oc * 25 + k] = w[(oc * 3 + 0) * 25 + k] + w[(oc * 3 + 1) * 25 + k] + w[(oc * 3 + 2) * 25 + k];
            for (int b = 0; b < B; b++) memcpy(a[A_GREY] + (size_t)b * 784, x + (size_t)b * 3 * 784, 784 * sizeof(float));
            conv2d_forward(a[A_C1], a[A_GREY], st + ST_W1, t[F_CONV1_B], &dg, m->scratch);
        } else {
            conv2d_forward(a[A_C1], x, t[F_CONV1_W], t[F_CONV1_B], &d1, m->scratch);
        }
    });
    PROF(PROF_BN1_STATS, batchnorm_stats(st + ST_BN1, st + ST_BN1 + 64, t[F_BN1_RM], t[F_BN1_RV],
                                         a[A_C1], B, 64, 24 * 24, training, BN_MOMENTUM, BN_EPS));
    PROF(PROF_BN1_APPLY, bn_mask_maxpool2_forward(a[A_R1], v.idx1, a[A_XS1], a[A_C1], st + ST_BN1,
                                                  st + ST_BN1 + 64, t[F_BN1_W], t[F_BN1_B], NULL,
                                                  B, 64, 24, 24));
    PROF(PROF_CONV2_FWD, conv2d_forward(a[A_C2], a[A_R1], t[F_CONV2_W], t[F_CONV2_B], &d2,
                                        m->scratch));
    PROF(PROF_BN2_STATS, batchnorm_stats(st + ST_BN2, st + ST_BN2 + 50, t[F_BN2_RM], t[F_BN2_RV],
                                         a[A_C2], B, 50, 8 * 8, training, BN_MOMENTUM, BN_EPS));
    PROF(PROF_BN2_APPLY, bn_mask_maxpool2_forward(a[A_FEAT], v.idx2, a[A_XS2], a[A_C2],
                                                  st + ST_BN2, st + ST_BN2 + 50, t[F_BN2_W],
                                                  t[F_BN2_B], training ? p->mask[0] : NULL, B, 50,
                                                  8, 8));
    if (training) m->bn_count[F_BN1_N]++, m->bn_count[F_BN2_N]++;
    PROF(PROF_HEADS_FWD, {
        // class head
        if (heads & HEAD_CLASS) {
            linear_forward(a[A_CFC1], a[A_FEAT], t[C_FC1_W], t[C_FC1_B], B, 800, 100);
            batchnorm_forward(a[A_CBN1], st + ST_CBN1, st + ST_CBN1 + 100, t[C_BN1_RM], t[C_BN1_RV],
                              a[A_CFC1], t[C_BN1_W], t[C_BN1_B], B, 100, 1, training, BN_MOMENTUM, BN_EPS);
            relu_forward(a[A_CR1], a[A_CBN1], nB * 100);
            if (training) dropout_forward(a[A_CD1], a[A_CR1], p->mask[1], nB * 100, 1);
            linear_forward(a[A_CFC2], training ? a[A_CD1] : a[A_CR1], t[C_FC2_W], t[C_FC2_B], B, 100, 100);
            batchnorm_forward(a[A_CBN2], st + ST_CBN2, st + ST_CBN2 + 100, t[C_BN2_RM], t[C_BN2_RV],
                              a[A_CFC2], t[C_BN2_W], t[C_BN2_B], B, 100, 1, training, BN_MOMENTUM, BN_EPS);
            relu_forward(a[A_CR2], a[A_CBN2], nB * 100);
            linear_forward(a[A_CFC3], a[A_CR2], t[C_FC3_W], t[C_FC3_B], B, 100, 10);
            logsoftmax_forward(a[A_LOGPC], a[A_CFC3], B, 10);
            if (training) m->bn_count[C_BN1_N]++, m->bn_count[C_BN2_N]++;
        }
        // domain head (the GRL is the identity going forward: it reads the features directly)
        if (heads & HEAD_DOMAIN) {
            linear_forward(a[A_DFC1], a[A_FEAT], t[D_FC1_W], t[D_FC1_B], B, 800, 100);
            batchnorm_forward(a[A_DBN1], st + ST_DBN1, st + ST_DBN1 + 100, t[D_BN1_RM], t[D_BN1_RV],
                              a[A_DFC1], t[D_BN1_W], t[D_BN1_B], B, 100, 1, training, BN_MOMENTUM, BN_EPS);
            relu_forward(a[A_DR1], a[A_DBN1], nB * 100);
            linear_forward(a[A_DFC2], a[A_DR1], t[D_FC2_W], t[D_FC2_B], B, 100, 2);
            logsoftmax_forward(a[A_LOGPD], a[A_DFC2], B, 2);
            if (training) m->bn_count[D_BN1_N]++;
        }
    });
}

static void py3_backward(dann_model *m, pass_t *p, const float *x, int heads, float lambda) {
    py3_view v = view(p, m->max_batch);
    float **t = m->t, **g = m->g, **a = v.a, **da = v.g, *st = a[A_STATS];
    const int B = p->B;
    const size_t nB = (size_t)B;
    conv_dims d1 = conv1_dims(B, model_slots(m)), d2 = conv2_dims(B, model_slots(m));
    DANN_ASSERT((heads & p->heads) == heads);
    // zero what the kernels accumulate into; the fused BatchNorm backwards write theirs
    for (int i = 0; i < A_STATS; i++)
        if (i != A_C1 && i != A_C2)
            memset(v.g[i], 0, grad_per_image[i] * nB * sizeof(float));
    PROF(PROF_HEADS_BWD, {
        if (heads & HEAD_DOMAIN) {
            linear_backward(da[A_DR1], g[D_FC2_W], g[D_FC2_B], p->dlogit_domain, a[A_DR1], t[D_FC2_W], B, 100, 2);
            relu_backward(da[A_DBN1], da[A_DR1], a[A_DR1], nB * 100);
            batchnorm_backward(da[A_DFC1], g[D_BN1_W], g[D_BN1_B], da[A_DBN1], a[A_DFC1], st + ST_DBN1,
                               st + ST_DBN1 + 100, t[D_BN1_W], B, 100, 1);
            linear_backward(da[A_FEATREV], g[D_FC1_W], g[D_FC1_B], da[A_DFC1], a[A_FEAT], t[D_FC1_W], B, 800, 100);
            grl_backward(da[A_FEAT], da[A_FEATREV], nB * 800, lambda);
        }
        if (heads & HEAD_CLASS) {
            linear_backward(da[A_CR2], g[C_FC3_W], g[C_FC3_B], p->dlogit_class, a[A_CR2], t[C_FC3_W], B, 100, 10);
            relu_backward(da[A_CBN2], da[A_CR2], a[A_CR2], nB * 100);
            batchnorm_backward(da[A_CFC2], g[C_BN2_W], g[C_BN2_B], da[A_CBN2], a[A_CFC2], st + ST_CBN2,
                               st + ST_CBN2 + 100, t[C_BN2_W], B, 100, 1);
            linear_backward(da[A_CD1], g[C_FC2_W], g[C_FC2_B], da[A_CFC2], a[A_CD1], t[C_FC2_W], B, 100, 100);
            dropout_backward(da[A_CR1], da[A_CD1], p->mask[1], nB * 100, 1);
            relu_backward(da[A_CBN1], da[A_CR1], a[A_CR1], nB * 100);
            batchnorm_backward(da[A_CFC1], g[C_BN1_W], g[C_BN1_B], da[A_CBN1], a[A_CFC1], st + ST_CBN1,
                               st + ST_CBN1 + 100, t[C_BN1_W], B, 100, 1);
            linear_backward(da[A_FEAT], g[C_FC1_W], g[C_FC1_B], da[A_CFC1], a[A_FEAT], t[C_FC1_W], B, 800, 100);
        }
    });
    PROF(PROF_BN2_BWD, bn_mask_maxpool2_backward(da[A_C2], g[F_BN2_W], g[F_BN2_B], da[A_FEAT],
                                                 a[A_FEAT], v.idx2, a[A_XS2], a[A_C2], st + ST_BN2,
                                                 st + ST_BN2 + 50, t[F_BN2_W], p->mask[0],
                                                 st + ST_COEF2, B, 50, 8, 8));
    PROF(PROF_CONV2_BWD, conv2d_backward(da[A_R1], g[F_CONV2_W], g[F_CONV2_B], da[A_C2], a[A_R1],
                                         t[F_CONV2_W], &d2, m->scratch));
    // bn1's input gradient goes straight into conv1's weight gradient, image by image
    const bn_pool_grad bg = {da[A_R1], a[A_R1], v.idx1, a[A_XS1], a[A_C1], st + ST_BN1,
                             st + ST_BN1 + 64, t[F_BN1_W], NULL, st + ST_COEF1, B, 64, 24, 24};
    PROF(PROF_BN1_BWD, bn_pool_backward_sums(&bg, g[F_BN1_W], g[F_BN1_B]));
    PROF(PROF_CONV1_BWD, {
        if (p->grey) {
            // d loss / d w[oc,c,k] is the same for the 3 channels: the one-channel kernel's gradient
            conv_dims dg = conv1_grey_dims(B, model_slots(m));
            memset(st + ST_DW1, 0, (64 * 25 + 64) * sizeof(float));
            conv2d_backward_weights_from(st + ST_DW1, st + ST_DB1, bn_pool_backward_image, &bg,
                                         a[A_GREY], &dg, m->scratch, da[A_C1]);
            for (int oc = 0; oc < 64; oc++) {
                for (int c = 0; c < 3; c++)
                    for (int k = 0; k < 25; k++) g[F_CONV1_W][(oc * 3 + c) * 25 + k] += st[ST_DW1 + oc * 25 + k];
                g[F_CONV1_B][oc] += st[ST_DB1 + oc];
            }
        } else {
            conv2d_backward_weights_from(g[F_CONV1_W], g[F_CONV1_B], bn_pool_backward_image, &bg, x,
                                         &d1, m->scratch, da[A_C1]);
        }
    });
}

// Per image: conv1 2*64*576*75, conv2 2*50*64*1600, linears 2*IN*OUT each; a layer's weight
// gradient costs as much as its forward, and so does its input gradient (not for conv1).
static double py3_step_flops(int Bs, int Bt) {
    const double conv1 = 2.0 * 64 * 576 * 75, conv2 = 2.0 * 50 * 64 * 1600;
    const double cls = 2.0 * (800 * 100 + 100 * 100 + 100 * 10), dom = 2.0 * (800 * 100 + 100 * 2);
    const double fwd = conv1 + conv2 + cls + dom;
    const double bwd_features = conv1 + 2 * conv2;
    return Bs * (fwd + bwd_features + 2 * cls + 2 * dom) + Bt * (fwd + bwd_features + 2 * dom);
}

const arch_ops arch_py3 = {
    .name = "py3",
    .in_c = 3, .in_h = 28, .in_w = 28, .n_classes = 10, .feature_dim = 800,
    .tensors = py3_tensors,
    .n_tensors = N_TENSORS,
    .acts_floats = py3_acts_floats,
    .grads_floats = py3_grads_floats,
    .idx_count = py3_idx_count,
    .scratch_floats = py3_scratch_floats,
    .bind = py3_bind,
    .forward = py3_forward,
    .backward = py3_backward,
    .step_flops = py3_step_flops,
};
