/* test_model_props.c - properties of the py3 model and its training step that need no reference
 * implementation: whole-model directional derivatives against finite differences, the gradient
 * reversal layer's semantics, the step applying exactly that gradient, on py3 and on networks
 * built from descriptions (test_model_step.c has initialisation, determinism and the NaN guard).
 *
 * The gradient tests drive the architecture directly (m->net->forward/backward on m->pass[0]
 * (source) and m->pass[1] (target)) the way src/model/step.c does, with the dropout masks fixed
 * (masks_given, factors 0 or 2) and BatchNorm in training mode, so the losses
 *   Lc = NLL(class(source), y)    Ld = NLL(domain(source), 0) + NLL(domain(target), 1)
 * are deterministic functions of the parameters. The source batch is grey (channel-repeated,
 * as MNIST is fed) and the target colour, so both conv1 paths of py3 are covered. Training
 * forwards update the BN running statistics and counters; every evaluation saves and restores
 * them.
 *
 * Directional check. Along a direction d, with the float steps actually taken
 * D+ = fl(theta + eps d) - theta and D- = theta - fl(theta - eps d):
 *   fd = L(theta + D+) - L(theta - D-)     vs     an = g . (D+ + D-)
 * where g is the gradient backward computes. For L = Lc + Ld the backward runs with lambda = -1:
 * the GRL then multiplies by +1 and g is the true gradient of L. Directions, steps and
 * tolerances: see "Directions and step" below. Set DANN_FD_VERBOSE=1 to print every
 * comparison. Every test but the determinism one runs with one thread. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "dann.h"
#include "layers/layers.h"
#include "model/model.h"
#include "model_testutil.h"
#include "test.h"



/* Which tensor-table entries belong to which part, by the reference's module prefixes. */
static int starts(const char *s, const char *prefix) { return strncmp(s, prefix, strlen(prefix)) == 0; }
enum { PART_FEATURE = 1, PART_CLASS = 2, PART_DOMAIN = 4 };
static int tensor_part(const char *name) {
    if (starts(name, "feature.")) return PART_FEATURE;
    if (starts(name, "class_classifier.")) return PART_CLASS;
    if (starts(name, "domain_classifier.")) return PART_DOMAIN;
    return 0;
}

/* ---- a model, two fixed batches and fixed dropout masks ---- */

typedef struct {
    dann_model *m;
    int B, C, H, W;
    float *xs, *xt;
    int32_t *ys, *zeros, *ones;
    float *state_save;
    int64_t bn_save[MODEL_MAX_TENSORS];
    uint64_t base_sig;  /* kink pattern at the current parameters, set by compute_grad */
} fixture;

static int fixture_new_net(fixture *f, const char *arch, int B, uint64_t seed) {
    dann_error err = {0};
    memset(f, 0, sizeof *f);
    if (dann_model_new(&f->m, arch, seed, B, &err) != DANN_OK) {
        test_fail(__FILE__, __LINE__, "dann_model_new: %s", err.msg);
        return 0;
    }
    dann_model *m = f->m;
    int NC;
    dann_model_shape(m, &f->C, &f->H, &f->W, &NC);
    const size_t img = (size_t)f->C * f->H * f->W, plane = (size_t)f->H * f->W;
    f->B = B;
    f->xs = xmalloc(sizeof(float) * B * img);
    f->xt = xmalloc(sizeof(float) * B * img);
    f->ys = xmalloc(sizeof(int32_t) * B);
    f->zeros = xmalloc(sizeof(int32_t) * B);
    f->ones = xmalloc(sizeof(int32_t) * B);
    f->state_save = xmalloc(sizeof(float) * (m->n_state + 1));
    /* Source grey (one plane repeated over the 3 channels, as MNIST is fed), target colour:
     * the model takes a one-channel conv1 path on grey batches, so both paths are covered. */
    synth_images(f->xs, B, f->C, f->H, f->W, 1);
    for (int b = 0; b < B; b++)
        for (int c = 1; c < f->C && f->C == 3; c++)
            memcpy(f->xs + ((size_t)b * 3 + c) * plane, f->xs + (size_t)b * 3 * plane, plane * sizeof(float));
    synth_images(f->xt, B, f->C, f->H, f->W, 2);
    for (size_t i = 0; i < (size_t)B * img; i++) f->xt[i] = 0.8f * f->xt[i] + 0.3f;  /* a shift */
    synth_labels(f->ys, B, 0, NC);
    for (int b = 0; b < B; b++) f->ones[b] = 1;
    /* BN affine parameters away from their initial 1 / 0, so that their roles are distinct. */
    dann_rng rng;
    rng_seed(&rng, seed + 100);
    for (int i = 0; i < m->net->n_tensors; i++) {
        const tensor_spec *t = &m->net->tensors[i];
        if (t->kind != TENSOR_PARAM || t->ndim != 1 || t->init == INIT_FANIN) continue;
        for (int k = 0; k < t->shape[0]; k++)
            m->t[i][k] = t->init == INIT_ONE ? 0.5f + rng_uniform(&rng) : rng_uniform(&rng) - 0.5f;
    }
    /* Fixed dropout masks: factor 0 or 2 (p = 0.5), both passes. */
    for (int p = 0; p < 2; p++) {
        pass_t *ps = &m->pass[p];
        ps->masks_given = 1;
        for (int k = 0; k < ps->n_masks; k++)
            for (size_t u = 0; u < (size_t)B * ps->mask_units[k]; u++)
                ps->mask[k][u] = rng_uniform(&rng) < 0.5f ? 0.0f : 2.0f;
    }
    return 1;
}

static int fixture_new(fixture *f, int B, uint64_t seed) { return fixture_new_net(f, "py3", B, seed); }

static void fixture_free(fixture *f) {
    dann_model_free(f->m);
    free(f->xs); free(f->xt); free(f->ys); free(f->zeros); free(f->ones); free(f->state_save);
}

static void save_bn(fixture *f) {
    memcpy(f->state_save, f->m->state, f->m->n_state * sizeof(float));
    memcpy(f->bn_save, f->m->bn_count, sizeof f->bn_save);
}
static void restore_bn(fixture *f) {
    memcpy(f->m->state, f->state_save, f->m->n_state * sizeof(float));
    memcpy(f->m->bn_count, f->bn_save, sizeof f->bn_save);
}

/* Both training forwards, as step.c runs them. */
static void forward_both(fixture *f) {
    dann_model *m = f->m;
    dann_rng unused;
    rng_seed(&unused, 0);
    model_forward_dense(m, &m->pass[0], f->xs, f->B, 1, HEAD_CLASS | HEAD_DOMAIN, &unused);
    model_forward_dense(m, &m->pass[1], f->xt, f->B, 1, HEAD_CLASS | HEAD_DOMAIN, &unused);
}

static double nll_double(const float *logp, const int32_t *y, int B, int C) {
    double s = 0;
    for (int b = 0; b < B; b++) s -= logp[(size_t)b * C + y[b]];
    return s / B;
}

/* A hash of the last forwards' kink pattern: which activations are exactly zero (ReLU outputs
 * that were clipped; dropped units are fixed) and every maxpool winner, over both passes. Two
 * parameter vectors with the same pattern lie in one smooth piece of the loss. */
static uint64_t kink_signature(const dann_model *m) {
    uint64_t h = 1469598103934665603ULL;
    size_t na = model_acts_floats(m), ni = model_idx_count(m);
    for (int p = 0; p < 2; p++) {
        const float *a = m->pass[p].acts;
        const int32_t *idx = m->pass[p].idx;
        for (size_t i = 0; i < na; i++) h = (h ^ (uint64_t)(a[i] == 0.0f)) * 1099511628211ULL;
        for (size_t i = 0; i < ni; i++) h = (h ^ (uint32_t)idx[i]) * 1099511628211ULL;
    }
    return h;
}

/* Lc and Ld at the current parameters (BN state untouched); sig (may be NULL) receives the
 * kink pattern. */
static void eval_losses(fixture *f, double *lc, double *ld, uint64_t *sig) {
    dann_model *m = f->m;
    save_bn(f);
    forward_both(f);
    *lc = nll_double(m->pass[0].logp_class, f->ys, f->B, m->net->n_classes);
    *ld = nll_double(m->pass[0].logp_domain, f->zeros, f->B, 2) +
          nll_double(m->pass[1].logp_domain, f->ones, f->B, 2);
    if (sig) *sig = kink_signature(m);
    restore_bn(f);
}

enum { LOSS_CLASS = 1, LOSS_DOMAIN = 2 };
/* m->grad after the backward of step.c for the chosen losses; the domain loss is scaled by
 * dom_scale (1 normally; -1 to negate it instead of reversing it). BN state untouched. */
static void compute_grad(fixture *f, int losses, float lambda, float dom_scale) {
    dann_model *m = f->m;
    const net_plan *a = m->net;
    pass_t *ps = &m->pass[0], *pt = &m->pass[1];
    save_bn(f);
    memset(m->grad, 0, m->n_params * sizeof(float));
    forward_both(f);
    /* The dlogits are zeroed, then accumulated (the arch's backward clears its own workspace). */
    memset(ps->dlogit_class, 0, sizeof(float) * (size_t)f->B * a->n_classes);
    memset(ps->dlogit_domain, 0, sizeof(float) * (size_t)f->B * 2);
    memset(pt->dlogit_domain, 0, sizeof(float) * (size_t)f->B * 2);
    int heads = 0;
    if (losses & LOSS_CLASS) {
        logsoftmax_nll_backward(ps->dlogit_class, ps->logp_class, f->ys, f->B, a->n_classes, 1.0f);
        heads |= HEAD_CLASS;
    }
    if (losses & LOSS_DOMAIN) {
        logsoftmax_nll_backward(ps->dlogit_domain, ps->logp_domain, f->zeros, f->B, 2, dom_scale);
        logsoftmax_nll_backward(pt->dlogit_domain, pt->logp_domain, f->ones, f->B, 2, dom_scale);
        model_backward(m, pt, HEAD_DOMAIN, lambda);
        heads |= HEAD_DOMAIN;
    }
    model_backward(m, ps, heads, lambda);
    restore_bn(f);
    /* The kink pattern at these parameters, with the dlogit buffers (inside the activations)
     * as they now stay. */
    double lc, ld;
    eval_losses(f, &lc, &ld, &f->base_sig);
}

/* ---- directional derivatives ---- */

/* Directions and step. The forward is float32 and the losses O(1), so L+ - L- carries a
 * rounding noise of ~2e-7 (about one ulp of L; measured). A ReLU or maxpool kink crossed by the
 * perturbation adds an error that does not shrink relative to an with the step (the unit's
 * slope jump times its overshoot): one crossing can cost 1-2% of an, only its probability
 * falls with the step. So every evaluation records the kink pattern (kink_signature), and a
 * step whose theta + D+ or theta - D- has another pattern than theta is divided by 4 and
 * retried, down to |an| = DD_MIN_AN, where a crossing costs less than the noise floor.
 *   - Per tensor: ALIGNED directions d_i = u_i sign(g_i) s_t, u_i uniform in (0, 1] (a random
 *     sign where g_i = 0), s_t the tensor's largest magnitude. an = sum u_i |g_i| s_t is
 *     coherent, so a small step gives a measurable change: the first step is set so that
 *     |an| = DD_TARGET = 1.6e-3, capped at DD_EPS_MAX = 5e-2 s_t. The finite difference still
 *     measures the true loss along d: a wrong sign, a wrong magnitude or a missing term in g
 *     shows. Three directions per tensor, each must pass.
 *   - Random-sign directions over all parameters at once (an is a sum of terms of random sign,
 *     and every unit moves, so some kink is always crossed): a fixed step DD_EPS_RANDOM = 3e-5
 *     of each tensor's magnitude, no retries.
 * Tolerance |fd - an| <= tol |an| + DD_FLOOR with tol 5e-3 (aligned) and 2e-2 (random),
 * DD_FLOOR 1e-6 (5x the rounding noise). Over 16 fixture seeds (DANN_FD_VERBOSE=1 prints every
 * comparison) the worst aligned error was 0.42 of its tolerance and the worst random one
 * 5.1e-7 absolute (0.39 of its tolerance). Planted mistakes fail: a GRL with the wrong sign
 * (the feature gradients of Lc + Ld are then off by 25-35%), or fc2's weight gradient taken
 * from the activations before the dropout instead of after. */
#define DD_TARGET 1.6e-3
#define DD_MIN_AN 2.5e-5
#define DD_EPS_MAX 5e-2
#define DD_EPS_RANDOM 3e-5
#define DD_TOL_ALIGNED 5e-3
#define DD_TOL_RANDOM 2e-2
#define DD_FLOOR 1e-6

typedef struct { double fd_c, fd_d, an, eps; int shrinks, kinked; } dd_result;
enum { DIR_ALIGNED = 0, DIR_RANDOM = 1 };

/* Moves the parameter tensors among [t0, t1) to theta + D+ and theta - D-, with D+- the float
 * steps actually taken along the direction: eps_fixed if > 0, else the DD_TARGET step shrunk
 * while it crosses a kink (see above); an = g . (D+ + D-) with the gradient
 * currently in m->grad. The parameters are restored exactly. kinked: the accepted step still
 * crosses a kink. */
static dd_result directional(fixture *f, int t0, int t1, int mode, double eps_fixed, uint64_t seed) {
    dann_model *m = f->m;
    size_t o0 = SIZE_MAX, o1 = 0;
    for (int i = t0; i < t1; i++) {
        if (m->net->tensors[i].kind != TENSOR_PARAM) continue;
        dann_tensor_info info;
        dann_model_tensors(m, i, &info);
        if (info.offset < o0) o0 = info.offset;
        if (info.offset + info.numel > o1) o1 = info.offset + info.numel;
    }
    size_t n = o1 - o0;
    float *th = m->params + o0, *g = m->grad + o0;
    float *x0 = xmalloc(n * sizeof(float));
    double *unit = xmalloc(n * sizeof(double)), *step = xmalloc(n * sizeof(double));
    memcpy(x0, th, n * sizeof(float));
    dann_rng rng;
    rng_seed(&rng, seed);
    double an_unit = 0;
    for (int i = t0; i < t1; i++) {
        if (m->net->tensors[i].kind != TENSOR_PARAM) continue;
        dann_tensor_info info;
        dann_model_tensors(m, i, &info);
        size_t a = info.offset - o0, b = a + info.numel;
        double scale = 0;
        for (size_t k = a; k < b; k++) scale = fmax(scale, fabs(x0[k]));
        if (scale == 0) scale = 1;
        for (size_t k = a; k < b; k++) {
            double u = 1.0 - rng_uniform(&rng), sign = rng_uniform(&rng) < 0.5f ? -1.0 : 1.0;
            if (mode == DIR_ALIGNED && g[k] != 0.0f) sign = g[k] > 0 ? 1.0 : -1.0;
            unit[k] = scale * u * sign;
            an_unit += g[k] * unit[k];
        }
    }
    double eps = an_unit != 0 ? fmin(DD_TARGET / (2 * fabs(an_unit)), DD_EPS_MAX) : DD_EPS_MAX;
    if (eps_fixed > 0) eps = eps_fixed;
    const uint64_t base = f->base_sig;
    dd_result r = {0};
    for (int attempt = 0;; attempt++) {
        double lcp, ldp, lcm, ldm;
        uint64_t sp, sm;
        for (size_t i = 0; i < n; i++) th[i] = (float)(x0[i] + (float)(eps * unit[i]));
        for (size_t i = 0; i < n; i++) step[i] = (double)th[i] - x0[i];
        eval_losses(f, &lcp, &ldp, &sp);
        for (size_t i = 0; i < n; i++) th[i] = (float)(x0[i] - (float)(eps * unit[i]));
        for (size_t i = 0; i < n; i++) step[i] += (double)x0[i] - th[i];
        eval_losses(f, &lcm, &ldm, &sm);
        memcpy(th, x0, n * sizeof(float));
        r = (dd_result){lcp - lcm, ldp - ldm, 0, eps, attempt, sp != base || sm != base};
        if (!r.kinked || eps_fixed > 0 || 2 * eps * fabs(an_unit) / 4 < DD_MIN_AN) break;
        eps /= 4;
    }
    for (size_t i = 0; i < n; i++) r.an += (double)g[i] * step[i];
    free(x0); free(unit); free(step);
    return r;
}

static int dd_close(double fd, double an, double tol, double *ratio) {
    *ratio = fabs(fd - an) / (tol * fabs(an) + DD_FLOOR);
    return *ratio <= 1;
}

/* Three aligned directions on tensor ti; the finite difference compared with an is
 * cc fd_c + cd fd_d. Returns the worst (and best) error/tolerance ratio, the worst's relative error, the
 * extreme |fd| and |an|, the most step shrinks and whether a kink-free step was not found. */
typedef struct { double worst, best, rel, fd_max, an_min, an_max, eps; int shrinks, kinked; } dd3_result;

static dd3_result aligned3(fixture *f, int ti, double cc, double cd, uint64_t seed) {
    dd3_result r = {.an_min = INFINITY, .best = INFINITY};
    for (int k = 0; k < 3; k++) {
        dd_result d = directional(f, ti, ti + 1, DIR_ALIGNED, 0, seed + 7919 * (uint64_t)k);
        double fd = cc * d.fd_c + cd * d.fd_d, ratio;
        dd_close(fd, d.an, DD_TOL_ALIGNED, &ratio);
        r.best = fmin(r.best, ratio);
        if (ratio >= r.worst) {
            r.worst = ratio;
            r.rel = d.an != 0 ? (fd - d.an) / d.an : INFINITY;
        }
        r.fd_max = fmax(r.fd_max, fabs(fd));
        r.an_min = fmin(r.an_min, fabs(d.an));
        r.an_max = fmax(r.an_max, fabs(d.an));
        r.eps = d.eps;
        if (d.shrinks > r.shrinks) r.shrinks = d.shrinks;
        r.kinked |= d.kinked;
    }
    return r;
}

/* A bias feeding a BatchNorm (conv/linear bias followed by a BN weight in the table) has a zero
 * true gradient: the batch mean subtraction removes any per-channel constant. */
static int bias_before_bn(const dann_model *m, int i) {
    const tensor_spec *t = m->net->tensors;
    if (i + 1 >= m->net->n_tensors || !strstr(t[i].name, ".bias")) return 0;
    return t[i + 1].kind == TENSOR_PARAM && t[i + 1].init == INIT_ONE;
}

TEST(model_directional_derivatives_total_loss) {
    dann_threads_set(1);
    fixture f;
    if (!fixture_new(&f, 8, 5)) return;
    dann_model *m = f.m;
    /* lambda = -1: the GRL passes the domain gradient through unreversed, so the backward is
     * the true gradient of Lc + Ld. */
    compute_grad(&f, LOSS_CLASS | LOSS_DOMAIN, -1.0f, 1.0f);
    double worst = 0, worst_rel = 0;
    int n_checked = 0, n_zero = 0, shrinks = 0, kinked = 0;
    for (int i = 0; i < m->net->n_tensors; i++) {
        const char *name = m->net->tensors[i].name;
        if (m->net->tensors[i].kind != TENSOR_PARAM) continue;
        dd3_result r = aligned3(&f, i, 1.0, 1.0, 1000 + 10 * (uint64_t)i);
        kinked += r.kinked;
        if (bias_before_bn(m, i)) {
            /* Moved by 5% of its magnitude, L must not change beyond its noise, and g . d must
             * be as small (a real gradient of this size would give ~1e-4). */
            n_zero++;
            if (verbose())
                printf("    dd %-34s max |fd| %.2e max |an| %.2e (true value 0)\n", name, r.fd_max,
                       r.an_max);
            CHECK(r.fd_max <= DD_FLOOR && r.an_max <= DD_FLOOR,
                  "%s feeds a BatchNorm: gradient . d %.3g and fd %.3g should vanish", name,
                  r.an_max, r.fd_max);
            continue;
        }
        n_checked++;
        shrinks += r.shrinks;
        worst = fmax(worst, r.worst);
        worst_rel = fmax(worst_rel, fabs(r.rel));
        if (verbose())
            printf("    dd %-34s eps %.1e (shrunk %d) |an| %.2e worst rel %+.2e err/tol %.3f\n",
                   name, r.eps, r.shrinks, r.an_max, r.rel, r.worst);
        CHECK(r.worst <= 1, "%s: directional derivative vs gradient: err/tol %.3g (rel %.3g)",
              name, r.worst, r.rel);
        CHECK(r.an_min > 10 * DD_FLOOR, "%s: directional change %.3g too small to test", name,
              r.an_min);
    }
    CHECK(n_checked == 19 && n_zero == 5, "py3: 19 + 5 parameter tensors, checked %d + %d",
          n_checked, n_zero);
    /* Random-sign directions over all parameters at once. */
    double worst_rnd = 0, worst_abs = 0;
    int n_big = 0;  /* directions whose change is well above the noise floor */
    for (int k = 0; k < 8; k++) {
        dd_result r = directional(&f, 0, m->net->n_tensors, DIR_RANDOM, DD_EPS_RANDOM, 77 + k);
        double fd = r.fd_c + r.fd_d, ratio;
        int ok = dd_close(fd, r.an, DD_TOL_RANDOM, &ratio);
        worst_rnd = fmax(worst_rnd, ratio);
        worst_abs = fmax(worst_abs, fabs(fd - r.an));
        if (verbose())
            printf("    dd random direction %d: eps %.1e (shrunk %d) fd %+.6e an %+.6e rel %+.2e "
                   "err/tol %.3f\n", k, r.eps, r.shrinks, fd, r.an, (fd - r.an) / r.an, ratio);
        CHECK(ok, "random direction %d: fd %.7g vs gradient %.7g", k, fd, r.an);
        n_big += fabs(r.an) > 10 * DD_FLOOR;
    }
    CHECK(n_big >= 4, "only %d of 8 random directions change L by more than %g", n_big,
          10 * DD_FLOOR);
    if (verbose())
        printf("    dd aligned: worst err/tol %.3f (rel %.2e), %d step shrinks, %d of 57 still "
               "kinked; random: worst err/tol %.3f, worst |fd-an| %.2e\n", worst, worst_rel, shrinks,
               kinked, worst_rnd, worst_abs);
    fixture_free(&f);
}

/* With lambda != 0 the backward is NOT the gradient of the loss: from the domain loss Ld, the
 * feature extractor gets -lambda times its gradient (it ascends Ld), the domain classifier the
 * plain gradient (it descends Ld). Checked with the domain loss alone, so the feature share is
 * all GRL and the unreversed alternative (+fd_d) is far off. */
TEST(model_directional_derivatives_grl) {
    dann_threads_set(1);
    fixture f;
    if (!fixture_new(&f, 8, 6)) return;
    dann_model *m = f.m;
    const float lambda = 0.7f;
    compute_grad(&f, LOSS_DOMAIN, lambda, 1.0f);
    const char *names[] = {"feature.f_conv1.weight", "feature.f_bn1.weight", "feature.f_bn1.bias",
                           "feature.f_conv2.weight", "feature.f_bn2.weight", "feature.f_bn2.bias",
                           "domain_classifier.d_fc1.weight", "domain_classifier.d_bn1.weight",
                           "domain_classifier.d_bn1.bias", "domain_classifier.d_fc2.weight",
                           "domain_classifier.d_fc2.bias"};
    double worst = 0, least_power = INFINITY;
    for (size_t k = 0; k < sizeof names / sizeof *names; k++) {
        int i = model_tensor_index(m, names[k]);
        CHECK(i >= 0, "no tensor %s", names[k]);
        if (i < 0) continue;
        int feature = tensor_part(names[k]) == PART_FEATURE;
        const char *combo = feature ? "-0.7 fd_d" : "fd_d";
        /* Only the domain loss entered the gradient: compare with cd fd_d alone. */
        dd3_result r = aligned3(&f, i, 0.0, feature ? -lambda : 1.0, 2000 + 10 * (uint64_t)i);
        worst = fmax(worst, r.worst);
        if (verbose())
            printf("    grl %-32s vs %s: worst rel %+.2e err/tol %.3f\n", names[k], combo, r.rel,
                   r.worst);
        CHECK(r.worst <= 1, "%s: gradient . d vs %s: err/tol %.3g (rel %.3g)", names[k], combo,
              r.worst, r.rel);
        /* The feature extractor's gradient is not the plain gradient of Ld. */
        if (feature) {
            dd3_result w = aligned3(&f, i, 0.0, 1.0, 2000 + 10 * (uint64_t)i);
            least_power = fmin(least_power, w.best);
            CHECK(w.best > 3, "%s: the reversed gradient also matches the plain one (err/tol %.3g)",
                  names[k], w.best);
        }
    }
    if (verbose())
        printf("    grl directional: worst err/tol %.3f; against the unreversed gradient at least "
               "%.0f\n", worst, least_power);
    fixture_free(&f);
}

/* ---- the GRL: exact properties of the backward ---- */

static float *grad_snapshot(fixture *f, int losses, float lambda, float dom_scale) {
    compute_grad(f, losses, lambda, dom_scale);
    float *g = xmalloc(f->m->n_params * sizeof(float));
    memcpy(g, f->m->grad, f->m->n_params * sizeof(float));
    return g;
}

/* Gradients of the domain loss alone for several lambdas. The domain classifier's must not
 * depend on lambda at all (bit for bit); the features' must be -lambda times the unreversed
 * one (lambda = -1 makes the GRL the identity): bit for bit for lambda 0, 1 and 2, whose
 * factors are exact in float, up to rounding for 0.7. Negating the domain loss instead of
 * reversing gives the features the same gradient as lambda = 1 but flips the domain
 * classifier's: it would train the classifier to confuse the domains, which DANN does not. */
TEST(model_grl_properties) {
    dann_threads_set(1);
    fixture f;
    if (!fixture_new(&f, 8, 7)) return;
    dann_model *m = f.m;
    float *g07 = grad_snapshot(&f, LOSS_DOMAIN, 0.7f, 1.0f);
    float *g0 = grad_snapshot(&f, LOSS_DOMAIN, 0.0f, 1.0f);
    float *gm1 = grad_snapshot(&f, LOSS_DOMAIN, -1.0f, 1.0f);
    float *g1 = grad_snapshot(&f, LOSS_DOMAIN, 1.0f, 1.0f);
    float *g2 = grad_snapshot(&f, LOSS_DOMAIN, 2.0f, 1.0f);
    /* Negating the domain loss instead of reversing its gradient (GRL off: lambda = -1). */
    float *gneg = grad_snapshot(&f, LOSS_DOMAIN, -1.0f, -1.0f);
    int n_dom = 0, n_feat = 0;
    double worst07 = 0, feat_max = 0;
    /* Scale of the feature gradients, for the rounding tolerance of the lambda 0.7 check (the
     * biases feeding a BatchNorm have a true gradient of 0 and hold rounding noise only). */
    for (int i = 0; i < m->net->n_tensors; i++) {
        dann_tensor_info info;
        dann_model_tensors(m, i, &info);
        if (info.kind != 0 || tensor_part(info.name) != PART_FEATURE) continue;
        for (size_t k = 0; k < info.numel; k++) feat_max = fmax(feat_max, fabs(gm1[info.offset + k]));
    }
    for (int i = 0; i < m->net->n_tensors; i++) {
        const tensor_spec *t = &m->net->tensors[i];
        if (t->kind != TENSOR_PARAM) continue;
        dann_tensor_info info;
        dann_model_tensors(m, i, &info);
        size_t o = info.offset, n = info.numel;
        int part = tensor_part(t->name);
        double gmax = 0;
        for (size_t k = 0; k < n; k++) gmax = fmax(gmax, fabs(gm1[o + k]));
        if (part == PART_DOMAIN) {
            n_dom++;
            /* The domain classifier descends its own loss whatever lambda is. */
            CHECK(gmax > 0, "%s: zero gradient", t->name);
            CHECK(memcmp(g07 + o, g0 + o, n * sizeof(float)) == 0,
                  "%s: gradient with lambda 0.7 differs from lambda 0", t->name);
            CHECK(memcmp(gm1 + o, g0 + o, n * sizeof(float)) == 0,
                  "%s: gradient with lambda -1 differs from lambda 0", t->name);
            /* Negating the loss flips the domain classifier's own gradient: not a GRL. */
            int flipped = 1;
            for (size_t k = 0; k < n; k++) flipped &= gneg[o + k] == -g0[o + k];
            CHECK(flipped, "%s: negated domain loss should give exactly the negated gradient",
                  t->name);
        } else if (part == PART_CLASS) {
            int zero = 1;
            for (size_t k = 0; k < n; k++) zero &= g07[o + k] == 0.0f;
            CHECK(zero, "%s: the domain loss reached the class head", t->name);
        } else {
            n_feat++;
            CHECK(gmax > 0, "%s: zero feature gradient from the domain loss", t->name);
            int zero = 1, neg1 = 1, neg2 = 1, same_as_negloss = 1;
            for (size_t k = 0; k < n; k++) {
                zero &= g0[o + k] == 0.0f;
                /* Scaling by -1 and -2 is exact in float, so these hold bit for bit. */
                neg1 &= g1[o + k] == -gm1[o + k];
                neg2 &= g2[o + k] == -2.0f * gm1[o + k];
                same_as_negloss &= gneg[o + k] == g1[o + k];
            }
            CHECK(zero, "%s: lambda 0 must cut the domain gradient off the features", t->name);
            CHECK(neg1, "%s: lambda 1 is not exactly the negated lambda -1 gradient", t->name);
            CHECK(neg2, "%s: lambda 2 is not exactly -2 x the lambda -1 gradient", t->name);
            CHECK(same_as_negloss,
                  "%s: for the features, negating the loss and reversing agree (both -grad)",
                  t->name);
            /* -0.7 is not exact in float: equal up to rounding through the backward (relative
             * ~1e-6; the biases feeding a BatchNorm hold pure rounding noise ~1e-6 of feat_max,
             * hence the absolute part). A wrong factor would be off by ~|g|. */
            float *want = xmalloc(n * sizeof(float));
            for (size_t k = 0; k < n; k++) want[k] = -0.7f * gm1[o + k];
            double w = CHECK_CLOSE(t->name, g07 + o, want, n, 1e-5 * feat_max, 1e-4);
            worst07 = fmax(worst07, w / feat_max);
            free(want);
        }
    }
    CHECK(n_dom == 6 && n_feat == 8, "expected 6 domain and 8 feature tensors, got %d and %d",
          n_dom, n_feat);
    if (verbose()) printf("    grl lambda 0.7 vs -0.7 x (lambda -1): worst |diff| / max |feature g| %.3g\n", worst07);
    free(g07); free(g0); free(gm1); free(g1); free(g2); free(gneg);
    fixture_free(&f);
}

/* ---- the training step applies exactly the gradient checked above ---- */

/* dann_train_step with plain SGD (lr 1, no momentum, no weight decay) moves every parameter
 * by minus the gradient, so before - after recovers the gradient the step used; with the
 * fixture's dropout masks (masks_given also holds inside the step) it must equal the
 * gradient compute_grad finds with the step's lambda: the one the directional checks tie to
 * finite differences. This covers the step's orchestration (two passes, the three losses,
 * both backwards, lambda from the schedule), which compute_grad only mirrors. */
TEST(model_step_applies_checked_gradient) {
    dann_threads_set(1);
    fixture f;
    if (!fixture_new(&f, 8, 8)) return;
    dann_model *m = f.m;
    dann_error err = {0};
    dann_train_config cfg;
    dann_trainer *t;
    CHECK(dann_train_config_preset(&cfg, "paper", &err) == DANN_OK, "preset: %s", err.msg);
    cfg.optimizer = DANN_OPT_SGD;
    cfg.lr = 1.0;
    cfg.momentum = 0.0;
    cfg.weight_decay = 0.0;
    cfg.lr_schedule = 0;
    if (dann_trainer_new(&t, m, &cfg, 1, &err) != DANN_OK) {
        CHECK(0, "trainer: %s", err.msg);
        fixture_free(&f);
        return;
    }
    const double progress = 0.3;
    const float lambda = (float)(cfg.lambda_max * dann_lambda_schedule(progress, cfg.gamma));
    size_t np = m->n_params;
    compute_grad(&f, LOSS_CLASS | LOSS_DOMAIN, lambda, 1.0f);
    float *want = xmalloc(np * sizeof(float)), *before = xmalloc(np * sizeof(float));
    memcpy(want, m->grad, np * sizeof(float));
    memcpy(before, m->params, np * sizeof(float));
    dann_step_stats st;
    CHECK(dann_train_step(t, f.xs, f.ys, f.B, f.xt, NULL, f.B, progress, &st, &err) == DANN_OK,
          "step: %s", err.msg);
    CHECK(st.lambda == lambda, "step used lambda %.9g, schedule gives %.9g", st.lambda, lambda);
    /* before - after = before - fl(before - g): exact up to half an ulp of the result, whose
     * magnitude is at most |before| + |g|; one such ulp is allowed. */
    int bad = 0;
    size_t worst_i = 0;
    double worst = 0;
    for (size_t i = 0; i < np; i++) {
        double got = (double)before[i] - (double)m->params[i];
        float mag = fabsf(before[i]) + fabsf(want[i]);
        double tol = (double)(nextafterf(mag, INFINITY) - mag) + 1e-6 * fabs(want[i]);
        double d = fabs(got - want[i]);
        if (!(d <= tol)) bad++;
        if (d / tol > worst) worst = d / tol, worst_i = i;
    }
    CHECK(bad == 0, "%d of %zu parameters moved by other than the checked gradient; worst [%zu] "
          "moved %.9g, gradient %.9g", bad, np, worst_i,
          (double)before[worst_i] - (double)m->params[worst_i], (double)want[worst_i]);
    if (verbose()) printf("    step vs checked gradient: worst err/tol %.3f\n", worst);
    free(want);
    free(before);
    dann_trainer_free(t);
    fixture_free(&f);
}

/* The same directional checks on networks other than py3, built from descriptions: every layer
 * path of the pipeline (non-fused BatchNorm on images and vectors, ReLU and dropout in place or
 * not, max-pool on odd sizes, a fused BatchNorm-pool block after a one-channel first conv, heads
 * of one layer) must compute the gradient of its loss. */
static void check_network(const char *arch, int B, uint64_t seed) {
    dann_threads_set(1);
    fixture f;
    if (!fixture_new_net(&f, arch, B, seed)) return;
    dann_model *m = f.m;
    compute_grad(&f, LOSS_CLASS | LOSS_DOMAIN, -1.0f, 1.0f);
    int n_checked = 0;
    double worst = 0;
    for (int i = 0; i < m->net->n_tensors; i++) {
        const char *name = m->net->tensors[i].name;
        if (m->net->tensors[i].kind != TENSOR_PARAM) continue;
        dd3_result r = aligned3(&f, i, 1.0, 1.0, 2000 + 10 * (uint64_t)i);
        if (bias_before_bn(m, i)) {
            CHECK(r.fd_max <= DD_FLOOR && r.an_max <= DD_FLOOR,
                  "%s: %s feeds a BatchNorm: gradient . d %.3g and fd %.3g should vanish", arch,
                  name, r.an_max, r.fd_max);
            continue;
        }
        n_checked++;
        worst = fmax(worst, r.worst);
        if (verbose())
            printf("    dd %-34s eps %.1e (shrunk %d) |an| %.2e worst rel %+.2e err/tol %.3f\n",
                   name, r.eps, r.shrinks, r.an_max, r.rel, r.worst);
        CHECK(r.worst <= 1, "%s: %s: directional derivative vs gradient: err/tol %.3g (rel %.3g)",
              arch, name, r.worst, r.rel);
        CHECK(r.an_min > 10 * DD_FLOOR, "%s: %s: directional change %.3g too small to test", arch,
              name, r.an_min);
    }
    double worst_rnd = 0;
    for (int k = 0; k < 4; k++) {
        dd_result r = directional(&f, 0, m->net->n_tensors, DIR_RANDOM, DD_EPS_RANDOM, 177 + k);
        double ratio;
        CHECK(dd_close(r.fd_c + r.fd_d, r.an, DD_TOL_RANDOM, &ratio),
              "%s: random direction %d: fd %.7g vs gradient %.7g", arch, k, r.fd_c + r.fd_d, r.an);
        worst_rnd = fmax(worst_rnd, ratio);
    }
    printf("    %s: %d tensors, worst err/tol aligned %.3f random %.3f\n", arch, n_checked, worst,
           worst_rnd);
    fixture_free(&f);
}

TEST(model_directional_derivatives_other_networks) {
    check_network("paper-mnist", 4, 3);
    check_network("in 3x12x12; features: conv(6,3) bn relu maxpool(2) conv(8,3) relu dropout2d(0.25); "
                  "class: fc(12) bn relu dropout(0.5) fc(5); domain: fc(10) relu fc(2)", 6, 4);
    check_network("in 1x10x10; features: conv(4,3) bn maxpool(2) relu conv(6,2) bn dropout2d(0.5) "
                  "maxpool(2) relu; class: fc(7) relu fc(3); domain: fc(2)", 5, 5);
}

/* The general layers: stride and padding, overlapping and padded pools, sigmoid, vector inputs
 * with BatchNorm1d in the features. */
TEST(model_directional_derivatives_general_layers) {
    check_network("in 3x16x16; features: conv(6,5) relu maxpool(3,stride=2) conv(8,3,pad=1) relu "
                  "maxpool(3,stride=2,pad=1) conv(8,3,stride=2,pad=1) dropout2d(0.5) relu; "
                  "class: fc(12) relu fc(4); domain: fc(10) relu fc(2)", 4, 6);
    check_network("in 6; features: fc(5) sigmoid; class: fc(3); domain: fc(2)", 8, 7);
    check_network("in 10; features: fc(8) bn sigmoid dropout(0.2) fc(6) relu; class: fc(3); "
                  "domain: fc(4) sigmoid fc(2)", 8, 8);
}

/* A vector network whose first layer is fc takes sparse (CSR) batches: the same outputs and the
 * same training step as the dense batch holding the same numbers (up to summation order), and
 * batches larger than the model's max batch are cut into chunks correctly. */
TEST(model_sparse_input_equals_dense) {
    const char *net = "in 50; features: fc(8) relu; class: fc(3); domain: fc(6) relu fc(2)";
    enum { B = 12, D = 50 };
    dann_model *m = NULL, *m2 = NULL;
    dann_trainer *t = NULL, *t2 = NULL;
    dann_error err = {0};
    dann_train_config cfg;
    dann_train_config_preset(&cfg, "paper", &err);
    if (dann_model_new(&m, net, 3, B, &err) || dann_model_new(&m2, net, 3, B, &err) ||
        dann_trainer_new(&t, m, &cfg, 4, &err) || dann_trainer_new(&t2, m2, &cfg, 4, &err)) {
        CHECK(0, "setup: %s", err.msg);
        goto out;
    }
    CHECK(dann_model_input_is_vector(m) == 2, "a first fc on a vector input takes sparse batches");
    static float xs[B * D], xt[B * D], vs[B * D], vt[B * D];
    static int64_t rs[B + 1], rt[B + 1];
    static int32_t cs[B * D], ct[B * D], ys[B];
    dann_rng r;
    rng_seed(&r, 9);
    int64_t ns = 0, nt = 0;
    for (int b = 0; b < B; b++) {
        rs[b] = ns, rt[b] = nt;
        ys[b] = b % 3;
        for (int j = 0; j < D; j++) {
            float u = rng_uniform(&r), w = rng_uniform(&r);
            xs[b * D + j] = u < 0.2f ? 2 * w - 1 : 0.0f;
            xt[b * D + j] = w < 0.15f ? u + 0.5f : 0.0f;
            if (xs[b * D + j] != 0) cs[ns] = j, vs[ns++] = xs[b * D + j];
            if (xt[b * D + j] != 0) ct[nt] = j, vt[nt++] = xt[b * D + j];
        }
    }
    rs[B] = ns, rt[B] = nt;
    const dann_input ds = {.B = B, .x = xs}, dt = {.B = B, .x = xt};
    const dann_input ss = {.B = B, .rowptr = rs, .col = cs, .val = vs},
                     st = {.B = B, .rowptr = rt, .col = ct, .val = vt};
    float lp_dense[B * 3], lp_sparse[B * 3];
    dann_model_predict_input(m, &ds, lp_dense);
    dann_model_predict_input(m2, &ss, lp_sparse);
    CHECK_CLOSE("sparse vs dense log-probabilities", lp_sparse, lp_dense, B * 3, 1e-6, 1e-5);
    for (int k = 0; k < 3; k++) {
        CHECK(dann_train_step_input(t, &ds, ys, &dt, NULL, 0.3, NULL, &err) == DANN_OK, "%s", err.msg);
        CHECK(dann_train_step_input(t2, &ss, ys, &st, NULL, 0.3, NULL, &err) == DANN_OK, "%s", err.msg);
    }
    size_t np;
    float *p1 = dann_model_params(m, &np), *p2 = dann_model_params(m2, NULL);
    CHECK_CLOSE("parameters after 3 steps, sparse vs dense", p2, p1, np, 1e-6, 1e-5);
    /* 12 rows through a model of max batch 5: chunks of 5, 5, 2 with rebased row offsets */
    dann_model *m3 = NULL;
    if (dann_model_new(&m3, net, 3, 5, &err) == DANN_OK) {
        memcpy(dann_model_params(m3, NULL), p2, np * sizeof(float));
        size_t nst;
        float *s3 = dann_model_state(m3, &nst);  /* nst set before it is used (argument order) */
        if (nst) memcpy(s3, dann_model_state(m2, NULL), nst * sizeof(float));
        float lp_chunked[B * 3];
        dann_model_predict_input(m2, &ss, lp_sparse);
        dann_model_predict_input(m3, &ss, lp_chunked);
        CHECK_CLOSE("sparse batch in chunks vs whole", lp_chunked, lp_sparse, B * 3, 0, 0);
        dann_model_free(m3);
    } else {
        CHECK(0, "%s", err.msg);
    }
out:
    dann_trainer_free(t);
    dann_trainer_free(t2);
    dann_model_free(m);
    dann_model_free(m2);
}
