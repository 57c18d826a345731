/* test_torch_presets.c - every preset (paper-mnist, paper-svhn, paper-gtsrb, shallow) and two
 * user descriptions (an image network with a strided padded convolution, a padded convolution,
 * an overlapping padded max-pool with no ReLU after it, BatchNorm with non-default parameters
 * and statistics, sigmoid, dropout and dropout2d; a vector network with BatchNorm1d and dropout,
 * fed as sparse CSR batches) against PyTorch 1.13: three whole training steps of the preset's
 * recipe (paper: SGD momentum 0.9, mu_p, lambda_p at the GRL only; shallow: plain SGD, constant
 * lambda that also scales the domain head's step) from the same initial weights and dropout
 * masks (tests/fixtures/torch_presets.safetensors, tools/make_preset_fixtures.py, which says how
 * both sides generate weights and inputs: nothing large is stored).
 *
 * Per case: the network's canonical text and torch's state_dict names and shapes; the three
 * losses, lambda and lr of every step; the class and domain log-probabilities of step 1 (whole);
 * every parameter's step-1 gradient and its move w_s - w_0 after each step, as a record (n, L1
 * and L2 norms, max |v|, four random-sign projections, and samples at fixed random indices: all
 * values when n <= 256); the BatchNorm running statistics and counters after step 3 (whole); and
 * eval-mode class log-probabilities of generated inputs after step 3.
 *
 * Why records catch real bugs: a wrong index, padding, transposition or skipped term in a layer
 * changes the log-probabilities and losses (compared whole) and the gradient of every tensor
 * before it; a projection with signs independent of the tensor's layout moves by about the L2
 * norm of the error whatever its pattern (an error confined to one row or border still shows),
 * the samples catch local errors, and the moves over three steps catch optimizer errors
 * (momentum, lr schedule, lambda on the domain head) that no single gradient shows. Planted and
 * caught (docs/NETWORKS.md, "Checked against PyTorch"): the kernel window transposed in the
 * strided convolution, square fc weights read transposed, the padded convolution shifted by
 * one column, max-pool padding that wins as 0, SGD without its momentum term, lambda on the
 * domain head in the paper recipe, shallow without it, the last non-zero of a sparse row
 * dropped (either loop), the grey first-conv gradient given to one channel only.
 *
 * The generator checks that torch's float32 step-1 gradients are within 1e-5 (relative L2) of
 * float64's for every case, so the tolerances below sit above rounding with margin (measured
 * worst: 0.3 of a tolerance):
 *   losses, step-1 log-probabilities, eval      1e-5 + 1e-4 |b|    (b: torch's value)
 *   log-probabilities, running statistics
 *   records: L1 norm                            REC_AGG * L1(b)
 *            L2 norm, projections               REC_AGG * L2(b)
 *            max |v|                            REC_AGG * max|b|
 *            samples                            REC_ELEM * (|b| + rms(b))
 *   Moves are differences of float32 weights: each sample and the max also get 2 ulp of the
 *   weight (the largest for the max), L2 and projections that times sqrt(n), L1 times n.
 *   Biases feeding a training-mode BatchNorm have a true gradient of 0 (both sides hold rounding
 *   noise): their gradients and moves must stay below 1e-6 instead. */
#include <stdlib.h>
#include <string.h>
#include "dann.h"
#include "fixture_gen.h"
#include "io/safetensors.h"
#include "model/model.h"
#include "preset_cases.h"
#include "test.h"

#define FX "tests/fixtures/torch_presets.safetensors"
#define REC_HEAD 8
#define REC_FULL 256
#define REC_SAMPLES 128
#define SIGN_SEED 777
#define IDX_SEED 782
#define REC_AGG 1e-4
#define REC_ELEM 1e-3
#define ZERO_GRAD 1e-6
#define LOGP_ATOL 1e-5
#define LOGP_RTOL 1e-4

static const double PROGRESS[3] = {0.1, 0.5, 0.9};

static const st_tensor *get(const st_file *f, const char *c, const char *what, st_dtype dt, size_t n) {
    char name[200];
    snprintf(name, sizeof name, "%s.%s", c, what);
    const st_tensor *t = st_find(f, name);
    const int ok = t && t->dtype == dt && (n == 0 || t->numel == n);
    CHECK(ok, "%s: %s missing or not %s x %zu (regenerate with `make fixtures`)", FX, name,
          st_dtype_name(dt), n);
    return ok ? t : NULL;
}

static const char *meta(const st_file *f, const char *c, const char *key) {
    char name[96];
    snprintf(name, sizeof name, "%s.%s", c, key);
    const char *v = st_meta_get(f, name);
    CHECK(v != NULL, "%s: metadata %s missing", FX, name);
    return v ? v : "";
}

static void cmp(const char *c, const char *what, const float *a, const float *b, size_t n,
                double atol, double rtol) {
    char label[160];
    snprintf(label, sizeof label, "%s %s", c, what);
    double worst = check_close(label, a, b, n, atol, rtol, __FILE__, __LINE__);
    printf("    worst |a-b| %-44s %.3g\n", label, worst);
}

/* ---- the generated initial state and inputs (tools/make_preset_fixtures.py) --------------- */

static int is_bn_tensor(const char *name) {
    const char *dot = strrchr(name, '.'), *prev = dot;
    while (prev > name && prev[-1] != '.') prev--;
    return dot && (size_t)(dot - prev) > 4 && !strncmp(prev + 1, "_bn", 3);
}

static void init_case(dann_model *m, uint64_t sb) {
    size_t np, ns;
    float *params = dann_model_params(m, &np), *state = dann_model_state(m, &ns);
    int fan_in = 1;
    for (int i = 0; i < dann_model_tensors(m, -1, NULL); i++) {
        dann_tensor_info ti;
        dann_model_tensors(m, i, &ti);
        if (ti.kind == 2) {
            dann_model_set_bn_count(m, i, 3);
            continue;
        }
        const char *leaf = strrchr(ti.name, '.') + 1;
        float *x = (ti.kind == 0 ? params : state) + ti.offset;
        const uint64_t seed = sb + (uint64_t)i;
        if (is_bn_tensor(ti.name)) {
            for (size_t k = 0; k < ti.numel; k++) {
                const float u = fixture_u(seed, k);
                x[k] = !strcmp(leaf, "weight") ? 0.75f + 0.5f * u
                     : !strcmp(leaf, "running_var") ? 0.5f + u : 0.25f * (2.0f * u - 1.0f);
            }
            continue;
        }
        if (!strcmp(leaf, "weight")) {
            fan_in = 1;
            for (int d = 1; d < ti.ndim; d++) fan_in *= (int)ti.shape[d];
        }
        fixture_uniform(x, ti.numel, seed, fan_in);
    }
}

/* A dense (B, D) batch as CSR (the sparse path of the first fc layer). */
typedef struct {
    int64_t rowptr[65];
    int32_t *col;
    float *val;
} csr;

static dann_input to_csr(csr *s, const float *x, int B, int D) {
    size_t nz = 0;
    s->col = malloc((size_t)B * D * sizeof(int32_t));
    s->val = malloc((size_t)B * D * sizeof(float));
    s->rowptr[0] = 0;
    for (int b = 0; b < B; b++) {
        for (int j = 0; j < D; j++)
            if (x[(size_t)b * D + j] != 0.0f) s->col[nz] = j, s->val[nz++] = x[(size_t)b * D + j];
        s->rowptr[b + 1] = (int64_t)nz;
    }
    return (dann_input){.B = B, .rowptr = s->rowptr, .col = s->col, .val = s->val};
}

/* ---- records ------------------------------------------------------------------------------ */

/* The record of v = x - x0 (x0 NULL: v = x) over n values; rec holds REC_HEAD + samples. */
static size_t make_record(float *rec, const float *x, const float *x0, size_t n) {
    double l1 = 0, sq = 0, mx = 0, proj[4] = {0, 0, 0, 0};
    for (size_t i = 0; i < n; i++) {
        const double v = (double)x[i] - (x0 ? (double)x0[i] : 0.0);
        l1 += fabs(v), sq += v * v, mx = fabs(v) > mx ? fabs(v) : mx;
        for (int k = 0; k < 4; k++) proj[k] += fixture_u(SIGN_SEED + (uint64_t)k, i) < 0.5f ? -v : v;
    }
    rec[0] = (float)n, rec[1] = (float)l1, rec[2] = (float)sqrt(sq), rec[3] = (float)mx;
    for (int k = 0; k < 4; k++) rec[4 + k] = (float)proj[k];
    const size_t ns = n <= REC_FULL ? n : REC_SAMPLES;
    for (size_t j = 0; j < ns; j++) {
        size_t i = n <= REC_FULL ? j : j == 0 ? 0 : j == 1 ? n - 1
                 : (size_t)floor((double)fixture_u(IDX_SEED, j - 2) * (double)n);
        rec[REC_HEAD + j] = (float)((double)x[i] - (x0 ? (double)x0[i] : 0.0));
    }
    return REC_HEAD + ns;
}

static size_t sample_index(size_t j, size_t n) {
    if (n <= REC_FULL) return j;
    return j == 0 ? 0 : j == 1 ? n - 1 : (size_t)floor((double)fixture_u(IDX_SEED, j - 2) * (double)n);
}

/* 2 ulp of |w| (float32). */
static double ulp2(float w) {
    const float a = fabsf(w);
    return 2.0 * (double)(nextafterf(a, INFINITY) - a);
}

/* The worst comparison of a tensor's records: its error as a fraction of its tolerance, and
 * which statistic it was. */
typedef struct {
    double r;
    char what[48];
} worst_t;

/* Compares record a (C) with b (torch) of tensor `name`; x: the C values after the move (for the
 * ulp allowance; NULL for gradients). Notes the worst error as a fraction of its tolerance. */
static void cmp_record(const char *c, const char *what, const char *name, const float *a,
                       const float *b, size_t len, const float *x, worst_t *w) {
    const size_t n = (size_t)b[0];
    CHECK((size_t)a[0] == n && len == REC_HEAD + (n <= REC_FULL ? n : REC_SAMPLES),
          "%s %s %s: %zu elements, torch %zu", c, name, what, (size_t)a[0], n);
    if ((size_t)a[0] != n) return;
    double wulp = 0;  /* 2 ulp of the largest weight, for the aggregates of moves */
    if (x)
        for (size_t i = 0; i < n; i++) wulp = fmax(wulp, ulp2(x[i]));
    const double l2 = b[2], rms = l2 / sqrt((double)n), rn = sqrt((double)n);
    static const char *const head[REC_HEAD] = {"n", "L1 norm", "L2 norm", "max |v|", "projection 1",
                                               "projection 2", "projection 3", "projection 4"};
    int bad = 0;
    size_t worst_k = 0;
    double worst_r = 0, worst_tol = 0;
    for (size_t k = 1; k < len; k++) {
        double tol;
        if (k == 1) tol = REC_AGG * b[1] + wulp * (double)n;          /* L1 */
        else if (k == 3) tol = REC_AGG * b[3] + wulp;                 /* max |v| */
        else if (k < REC_HEAD) tol = REC_AGG * l2 + wulp * rn;        /* L2, projections */
        else tol = REC_ELEM * (fabs(b[k]) + rms) + (x ? ulp2(x[sample_index(k - REC_HEAD, n)]) : 0);
        const double d = fabs((double)a[k] - b[k]), r = tol > 0 ? d / tol : (d > 0 ? INFINITY : 0);
        bad += r > 1;
        if (r > worst_r || k == 1) worst_r = r, worst_k = k, worst_tol = tol;
    }
    char stat[48];
    if (worst_k < REC_HEAD) snprintf(stat, sizeof stat, "%s %s", what, head[worst_k]);
    else snprintf(stat, sizeof stat, "%s element %zu", what, sample_index(worst_k - REC_HEAD, n));
    CHECK(!bad, "%s %s: %d of %zu statistics outside tolerance; worst %s %.9g, torch %.9g "
          "(|a-b| %.3g > %.3g)", c, name, bad, len - 1, stat, a[worst_k], b[worst_k],
          fabs((double)a[worst_k] - b[worst_k]), worst_tol);
    if (worst_r > w->r) w->r = worst_r, snprintf(w->what, sizeof w->what, "%s", stat);
}

/* Biases whose next op is a training-mode BatchNorm: true gradient 0. */
static int zero_grad_tensor(const dann_model *m, int t) {
    const net_plan *P = m->net;
    for (int i = 0; i + 1 < P->n_ops; i++)
        if ((P->ops[i].kind == OP_CONV || P->ops[i].kind == OP_FC) && P->ops[i].b == t &&
            P->ops[i + 1].sec == P->ops[i].sec &&
            (P->ops[i + 1].kind == OP_BN || P->ops[i + 1].kind == OP_BNPOOL))
            return 1;
    return 0;
}

/* ---- the case ----------------------------------------------------------------------------- */

static void check_names(const st_file *f, const preset_case *pc, const dann_model *m) {
    const char *list = meta(f, pc->name, "state_dict"), *s = list;
    const int n = dann_model_tensors(m, -1, NULL);
    int i = 0;
    for (; *s && i < n; i++) {
        dann_tensor_info ti;
        dann_model_tensors(m, i, &ti);
        char want[160], shape[64] = "";
        size_t len = strcspn(s, ",");
        snprintf(want, sizeof want, "%.*s", (int)len, s);
        for (int d = 0; d < ti.ndim; d++)
            snprintf(shape + strlen(shape), sizeof shape - strlen(shape), "%s%lld", d ? "x" : "",
                     (long long)ti.shape[d]);
        char got[160];
        snprintf(got, sizeof got, "%s:%s", ti.name, shape);
        CHECK(!strcmp(got, want), "%s: tensor %d is %s, torch's state_dict has %s", pc->name, i, got, want);
        s += len + (s[len] == ',');
    }
    CHECK(i == n && !*s, "%s: the model has %d tensors, torch's state_dict %s", pc->name, n,
          *s ? "more" : "fewer");
}

static int set_masks(const st_file *f, const preset_case *pc, dann_model *m, int s) {
    const net_plan *P = m->net;
    int ok = 1;
    for (int p = 0; p < 2; p++) {
        m->pass[p].masks_given = 1;
        for (int k = 0; k < P->n_masks; k++) {
            char what[64];
            snprintf(what, sizeof what, "mask.s%d.%s.%d", s, p ? "tgt" : "src", k);
            const size_t units = (size_t)pc->B * (size_t)P->mask_units[k];
            const st_tensor *t = get(f, pc->name, what, ST_U8, units);
            if (!t) {
                ok = 0;
                continue;
            }
            const float keep = 1.0f / (1.0f - P->mask_p[k]);
            for (size_t j = 0; j < units; j++) m->pass[p].mask[k][j] = ((const uint8_t *)t->data)[j] ? keep : 0.0f;
        }
        char extra[200];
        snprintf(extra, sizeof extra, "%s.mask.s%d.%s.%d", pc->name, s, p ? "tgt" : "src", P->n_masks);
        CHECK(st_find(f, extra) == NULL, "%s: torch drew more dropout masks than the %d of the model",
              pc->name, P->n_masks);
    }
    return ok;
}

/* The parameter records of the step just taken (s = 0, 1, 2): step-1 gradients, then moves. */
static void check_params(const st_file *f, const preset_case *pc, dann_model *m, const float *w0, int s,
                         worst_t *worst) {
    size_t np;
    float *params = dann_model_params(m, &np);
    float *rec = malloc((REC_HEAD + REC_SAMPLES + REC_FULL) * sizeof(float));
    for (int i = 0; rec && i < dann_model_tensors(m, -1, NULL); i++) {
        dann_tensor_info ti;
        dann_model_tensors(m, i, &ti);
        if (ti.kind != 0) continue;
        const int zero = zero_grad_tensor(m, i);
        for (int g = s == 0 ? 1 : 0; g >= 0; g--) {  /* g: the gradient record (step 1 only) */
            char what[160];
            snprintf(what, sizeof what, "%s%d.%s", g ? "grad" : "move", g ? 1 : s + 1, ti.name);
            const st_tensor *t = get(f, pc->name, what, ST_F32, 0);
            if (!t) continue;
            const float *x = g ? m->grad + ti.offset : params + ti.offset;
            const size_t len = make_record(rec, x, g ? NULL : w0 + ti.offset, ti.numel);
            const float *b = t->data;
            if (zero) {
                CHECK(rec[3] <= ZERO_GRAD && b[3] <= ZERO_GRAD, "%s %s: max |v| %.3g, torch %.3g: "
                      "should be ~0 (a BatchNorm follows)", pc->name, what, rec[3], b[3]);
                continue;
            }
            CHECK(t->numel == len, "%s %s: record of %zu values, torch %zu", pc->name, what, len, t->numel);
            if (t->numel != len) continue;
            char rw[16];
            snprintf(rw, sizeof rw, g ? "grad1" : "move%d", s + 1);
            cmp_record(pc->name, rw, ti.name, rec, b, len, g ? NULL : x, &worst[i * 2 + (g ? 0 : 1)]);
        }
    }
    free(rec);
}

static void run_case(int ci) {
    const preset_case *pc = &PRESET_CASES[ci];
    st_file fx;
    dann_error err = {0};
    if (st_read(&fx, FX, &err)) {
        CHECK(0, "%s (regenerate with `make fixtures`)", err.msg);
        return;
    }
    const st_file *f = &fx;
    dann_model *m = NULL;
    dann_trainer *t = NULL;
    dann_train_config cfg;
    float *w0 = NULL, *xs = NULL, *xt = NULL;
    worst_t *worst = NULL;
    if (dann_model_new(&m, pc->arch, 0, pc->B > pc->BE ? pc->B : pc->BE, &err) ||
        dann_train_config_preset(&cfg, pc->recipe, &err) || dann_trainer_new(&t, m, &cfg, 0, &err)) {
        CHECK(0, "%s: setup: %s", pc->name, err.msg);
        goto done;
    }
    CHECK(!strcmp(meta(f, pc->name, "arch"), pc->arch) && !strcmp(meta(f, pc->name, "recipe"), pc->recipe),
          "%s: the fixture was made for another case (%s, %s)", pc->name, meta(f, pc->name, "arch"),
          meta(f, pc->name, "recipe"));
    CHECK(!strcmp(meta(f, pc->name, "net"), dann_model_description(m)),
          "%s: torch's network '%s', the model's '%s'", pc->name, meta(f, pc->name, "net"),
          dann_model_description(m));
    check_names(f, pc, m);
    if (test_failed_now()) goto done;

    int C, H, W, NC;
    dann_model_shape(m, &C, &H, &W, &NC);
    const int vec = dann_model_input_is_vector(m) != 0, D = C * H * W;
    const uint64_t sb = 10000 * (uint64_t)(ci + 1);
    init_case(m, sb);
    size_t np;
    const float *p0 = dann_model_params(m, &np);
    const int nt = dann_model_tensors(m, -1, NULL);
    w0 = malloc(np * sizeof(float));
    worst = calloc((size_t)nt * 2, sizeof(worst_t));
    xs = malloc((size_t)(pc->B > pc->BE ? pc->B : pc->BE) * D * sizeof(float));
    xt = malloc((size_t)pc->B * D * sizeof(float));
    const st_tensor *tloss = get(f, pc->name, "losses", ST_F32, 9);
    const st_tensor *tl = get(f, pc->name, "lambdas", ST_F32, 3), *tr = get(f, pc->name, "lrs", ST_F32, 3);
    if (!w0 || !worst || !xs || !xt || !tloss || !tl || !tr) goto done;
    const float *losses = tloss->data;
    memcpy(w0, p0, np * sizeof(float));
    const size_t plane = (size_t)H * W;
    for (int s = 0; s < 3; s++) {
        const uint64_t base = sb + 500 + 10 * (uint64_t)s;
        int32_t ys[64];
        preset_input(xs, pc, pc->B, C, plane, base + 1, pc->grey);
        preset_input(xt, pc, pc->B, C, plane, base + 2, 0);
        fixture_labels(ys, (size_t)pc->B, base + 3, NC);
        if (!set_masks(f, pc, m, s)) goto done;
        csr cs = {0}, ct = {0};
        dann_input is = {.B = pc->B, .x = xs}, it = {.B = pc->B, .x = xt};
        if (vec && pc->sparsity > 0) is = to_csr(&cs, xs, pc->B, D), it = to_csr(&ct, xt, pc->B, D);
        dann_step_stats stats;
        dann_status st = dann_train_step_input(t, &is, ys, &it, NULL, PROGRESS[s], &stats, &err);
        free(cs.col), free(cs.val), free(ct.col), free(ct.val);
        if (st) {
            CHECK(0, "%s: step %d: %s", pc->name, s + 1, err.msg);
            goto done;
        }
        char what[64];
        const float got[3] = {stats.loss_class, stats.loss_domain_src, stats.loss_domain_tgt};
        snprintf(what, sizeof what, "step %d losses (class, dom src, dom tgt)", s + 1);
        cmp(pc->name, what, got, losses + 3 * s, 3, LOGP_ATOL, LOGP_RTOL);
        const float lam = ((const float *)tl->data)[s], lr = ((const float *)tr->data)[s];
        CHECK(stats.lambda == lam && fabsf(stats.lr - lr) <= 2e-7f * lr,
              "%s: step %d: lambda %.9g lr %.9g, torch %.9g %.9g", pc->name, s + 1, stats.lambda,
              stats.lr, lam, lr);
        if (s == 0) {
            const st_tensor *a = get(f, pc->name, "logp_class_src1", ST_F32, (size_t)pc->B * NC);
            const st_tensor *b = get(f, pc->name, "logp_domain_src1", ST_F32, (size_t)pc->B * 2);
            const st_tensor *c = get(f, pc->name, "logp_domain_tgt1", ST_F32, (size_t)pc->B * 2);
            if (a) cmp(pc->name, "step 1 source class log-probs", m->pass[0].logp_class, a->data, a->numel, LOGP_ATOL, LOGP_RTOL);
            if (b) cmp(pc->name, "step 1 source domain log-probs", m->pass[0].logp_domain, b->data, b->numel, LOGP_ATOL, LOGP_RTOL);
            if (c) cmp(pc->name, "step 1 target domain log-probs", m->pass[1].logp_domain, c->data, c->numel, LOGP_ATOL, LOGP_RTOL);
        }
        check_params(f, pc, m, w0, s, worst);
    }
    double wg = 0, wm = 0;
    for (int i = 0; i < nt; i++) {
        dann_tensor_info ti;
        dann_model_tensors(m, i, &ti);
        if (ti.kind != 0) continue;
        if (zero_grad_tensor(m, i)) {
            printf("    %-12s %-40s gradient ~0 (a BatchNorm follows): checked below 1e-6\n", pc->name, ti.name);
            continue;
        }
        printf("    %-12s %-36s worst error / tolerance %.3f (%s), %.3f (%s)\n", pc->name, ti.name,
               worst[2 * i].r, worst[2 * i].what, worst[2 * i + 1].r, worst[2 * i + 1].what);
        wg = fmax(wg, worst[2 * i].r), wm = fmax(wm, worst[2 * i + 1].r);
    }
    printf("    %-12s all parameters: worst error / tolerance grad1 %.3f, moves %.3f\n", pc->name, wg, wm);
    /* running statistics and counters after step 3 */
    size_t ns;
    const float *state = dann_model_state(m, &ns);
    for (int i = 0; i < nt; i++) {
        dann_tensor_info ti;
        char what[160];
        dann_model_tensors(m, i, &ti);
        if (ti.kind == 0) continue;
        snprintf(what, sizeof what, "final.%s", ti.name);
        if (ti.kind == 2) {
            const st_tensor *c = get(f, pc->name, what, ST_I64, 1);
            CHECK(c && dann_model_bn_count(m, i) == *(const int64_t *)c->data, "%s: %s is %lld, torch %lld",
                  pc->name, ti.name, (long long)dann_model_bn_count(m, i), c ? (long long)*(const int64_t *)c->data : -1LL);
            continue;
        }
        const st_tensor *r = get(f, pc->name, what, ST_F32, ti.numel);
        if (r) cmp(pc->name, ti.name, state + ti.offset, r->data, ti.numel, LOGP_ATOL, LOGP_RTOL);
    }
    /* eval-mode class log-probabilities after step 3 */
    const st_tensor *ev = get(f, pc->name, "eval_logp", ST_F32, (size_t)pc->BE * NC);
    float *logp = malloc((size_t)pc->BE * NC * sizeof(float));
    if (ev && logp) {
        preset_input(xs, pc, pc->BE, C, plane, sb + 900, pc->grey);
        csr ce = {0};
        dann_input in = {.B = pc->BE, .x = xs};
        if (vec && pc->sparsity > 0) in = to_csr(&ce, xs, pc->BE, D);
        dann_model_predict_input(m, &in, logp);
        free(ce.col), free(ce.val);
        cmp(pc->name, "eval class log-probs after step 3", logp, ev->data, ev->numel, LOGP_ATOL, LOGP_RTOL);
    }
    free(logp);
done:
    dann_trainer_free(t);
    dann_model_free(m);
    free(w0), free(xs), free(xt), free(worst);
    st_free(&fx);
}

TEST(torch_preset_paper_mnist) { run_case(0); }
TEST(torch_preset_paper_svhn) { run_case(1); }
TEST(torch_preset_paper_gtsrb) { run_case(2); }
TEST(torch_preset_shallow) { run_case(3); }
TEST(torch_preset_user_image_net) { run_case(4); }
TEST(torch_preset_user_vector_net_sparse) { run_case(5); }
