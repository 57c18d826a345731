/* test_torch_model.c - the whole py3 model and its training step against PyTorch 1.13: three
 * consecutive Adam steps of fungtion/DANN_py3's loop from the same initial weights, replaying
 * the dropout masks torch drew (tests/fixtures/torch_py3.safetensors, tools/make_fixtures.py).
 * Initial weights and inputs are not stored: both sides generate them (tests/fixture_gen.c).
 *
 * Compared: the three losses of each step, the class log-probabilities of the first source
 * pass, every parameter gradient of step 1 (large ones subsampled), every parameter after step 3
 * (large weights subsampled), all BatchNorm running statistics and counters, and eval-mode
 * log-probabilities of 8 images after step 3.
 * Tolerances (b is torch's value; each comparison prints its worst |a-b|):
 *   losses of all steps, step-1 log-probs         1e-5 + 1e-4|b|
 *   step-1 gradients                              1e-6 + 1e-4|b| (gradients are ~1e-2)
 *   running statistics, eval log-probs            1e-4 + 1e-3|b| (after three updates)
 *   parameters after step 3                      1e-4 + 1e-3|b|, i.e. 0.1 lr: Adam moves every
 *     parameter by about lr per step whatever the gradient's size, so a float32 rounding
 *     difference in a near-zero gradient can change a step by up to ~lr. Up to PARAM_OUTLIERS
 *     elements may exceed it but must stay within 3.5 lr (three steps of at most ~lr).
 *   biases feeding a training-mode BatchNorm (conv1, conv2, c_fc1, c_fc2, d_fc1): their true
 *     gradient is exactly 0 (BN removes any constant), so both sides hold pure rounding noise
 *     (~1e-9; the C step-1 gradient must be below 1e-6) that Adam turns into steps of up to
 *     lr. After each step the test checks them
 *     within 3 lr of torch's and then copies torch's values in, so that the running means
 *     and the eval outputs (which see these biases) stay comparable. */
#include <stdlib.h>
#include <string.h>
#include "dann.h"
#include "fixture_gen.h"
#include "io/safetensors.h"
#include "model/model.h"
#include "test.h"

#define PY3_FIXTURE "tests/fixtures/torch_py3.safetensors"
#define BATCH 16
#define IMG (28 * 28)
#define LR 1e-3
#define PARAM_OUTLIERS 8
#define GRAD_ATOL 1e-6
#define GRAD_RTOL 1e-4

static const float *tens(const st_file *f, const char *name, st_dtype dt, size_t n) {
    const st_tensor *t = st_find(f, name);
    int ok = t && t->dtype == dt && t->numel == n;
    CHECK(ok, "%s: tensor %s missing or not %s x %zu", PY3_FIXTURE, name, st_dtype_name(dt), n);
    return ok ? t->data : NULL;
}

static double report(const char *what, const float *a, const float *b, size_t n, double atol,
                     double rtol) {
    double worst = check_close(what, a, b, n, atol, rtol, __FILE__, __LINE__);
    printf("    worst |a-b| %-40s %.3g\n", what, worst);
    return worst;
}

static int is_bias_before_bn(const char *name) {
    static const char *const names[] = {"feature.f_conv1.bias", "feature.f_conv2.bias",
        "class_classifier.c_fc1.bias", "class_classifier.c_fc2.bias", "domain_classifier.d_fc1.bias"};
    for (size_t i = 0; i < sizeof names / sizeof *names; i++)
        if (!strcmp(name, names[i])) return 1;
    return 0;
}

/* The generated initial state of make_fixtures.py: tensor k of the state_dict gets seed 1000+k. */
static void init_model(dann_model *m) {
    size_t np, ns;
    float *params = dann_model_params(m, &np), *state = dann_model_state(m, &ns);
    int fan_in = 0;
    for (int i = 0; i < dann_model_tensors(m, -1, NULL); i++) {
        dann_tensor_info ti;
        dann_model_tensors(m, i, &ti);
        const char *leaf = strrchr(ti.name, '.') + 1;
        if (ti.kind == 0 && !strcmp(leaf, "weight")) {
            fan_in = 1;  /* conv (OC,C,K,K) / linear (OUT,IN): fan_in = prod(shape[1:]); BN: 0 */
            for (int d = 1; d < ti.ndim; d++) fan_in *= (int)ti.shape[d];
            if (ti.ndim == 1) fan_in = 0;
        }
        if (ti.kind == 0 && fan_in > 0) fixture_uniform(params + ti.offset, ti.numel, 1000 + (uint64_t)i, fan_in);
        float fill = !strcmp(leaf, "weight") || !strcmp(leaf, "running_var") ? 1.0f : 0.0f;
        if (ti.kind == 0 && fan_in == 0)
            for (size_t k = 0; k < ti.numel; k++) params[ti.offset + k] = fill;
        if (ti.kind == 1)
            for (size_t k = 0; k < ti.numel; k++) state[ti.offset + k] = fill;
        if (ti.kind == 2) dann_model_set_bn_count(m, i, 0);
    }
}

/* Mask keep flags (U8) -> factors 0 or 2 (p = 0.5). */
static int set_mask(const st_file *f, int step, const char *which, const char *layer, float *dst,
                    size_t units) {
    char name[96];
    snprintf(name, sizeof name, "mask.s%d.%s.%s", step, which, layer);
    const st_tensor *t = st_find(f, name);
    CHECK(t && t->dtype == ST_U8 && t->numel == BATCH * units, "%s: %s missing", PY3_FIXTURE, name);
    if (!t || t->dtype != ST_U8 || t->numel != BATCH * units) return 0;
    for (size_t k = 0; k < BATCH * units; k++) dst[k] = ((const uint8_t *)t->data)[k] ? 2.0f : 0.0f;
    return 1;
}

static void check_generator(const st_file *f) {
    const float *g = tens(f, "gen_check", ST_F32, 24);
    if (!g) return;
    float want[24];
    for (int i = 0; i < 8; i++) want[i] = fixture_u(12345, (uint64_t)i);
    fixture_uniform(want + 8, 8, 1000, 75);
    fixture_images(want + 16, 8, 1, 0.1307f, 0.3081f);
    CHECK(!memcmp(want, g, sizeof want), "fixture_gen.c differs from make_fixtures.py's u()");
}

static void check_names(const st_file *f, const dann_model *m) {
    const char *list = st_meta_get(f, "state_dict");
    CHECK(list != NULL, "%s: no state_dict metadata", PY3_FIXTURE);
    int n = dann_model_tensors(m, -1, NULL), i = 0;
    for (const char *s = list; list && *s && i < n; i++) {
        dann_tensor_info ti;
        dann_model_tensors(m, i, &ti);
        size_t len = strcspn(s, ",");
        CHECK(len == strlen(ti.name) && !strncmp(s, ti.name, len), "tensor %d: %s, torch has %.*s",
              i, ti.name, (int)len, s);
        s += len + (s[len] == ',');
        if (i == n - 1) CHECK(!*s, "torch's state_dict has more entries than the model");
    }
    CHECK(i == n, "torch's state_dict has %d entries, the model %d", i, n);
}

/* The gradients of step 1 (m->grad still holds them after the step). */
static void check_grad1(const st_file *f, dann_model *m) {
    const char *gs = st_meta_get(f, "grad_stride");
    const size_t stride = gs ? (size_t)atoi(gs) : 0;
    CHECK(stride > 0, "%s: no grad_stride metadata", PY3_FIXTURE);
    float *got = malloc(m->n_params * sizeof(float));
    for (int i = 0; got && stride && i < dann_model_tensors(m, -1, NULL); i++) {
        dann_tensor_info ti;
        char name[128], label[160];
        dann_model_tensors(m, i, &ti);
        if (ti.kind != 0) continue;
        const size_t step = ti.numel > 1000 ? stride : 1, n = (ti.numel + step - 1) / step;
        snprintf(name, sizeof name, "grad1.%s", ti.name);
        const float *want = tens(f, name, ST_F32, n);
        if (!want) continue;
        for (size_t k = 0; k < n; k++) got[k] = m->grad[ti.offset + k * step];
        snprintf(label, sizeof label, "step 1 grad %s%s", ti.name, step > 1 ? " (sub)" : "");
        if (is_bias_before_bn(ti.name)) {  /* true gradient 0: both sides must be ~0 */
            double w = 0;
            for (size_t k = 0; k < n; k++) w = fmax(w, fabs(got[k]));
            CHECK(w <= 1e-6, "%s: |g| up to %.3g, should be ~0 (BatchNorm follows)", ti.name, w);
            printf("    max |grad| %-42s %.3g (torch ~1e-7: rounding noise)\n", label, w);
        } else {
            report(label, got, want, n, GRAD_ATOL, GRAD_RTOL);
        }
    }
    free(got);
}

/* After step s (0-based): the biases before BatchNorm within 3 lr of torch's, then set to
 * torch's values (they reach the running means and, in eval mode, the outputs). */
static void sync_noisy_biases(const st_file *f, dann_model *m, int s) {
    size_t np;
    float *params = dann_model_params(m, &np);
    for (int i = 0; i < dann_model_tensors(m, -1, NULL); i++) {
        dann_tensor_info ti;
        char name[128];
        dann_model_tensors(m, i, &ti);
        if (!is_bias_before_bn(ti.name)) continue;
        if (s < 2) snprintf(name, sizeof name, "noisy.s%d.%s", s, ti.name);
        else snprintf(name, sizeof name, "final.%s", ti.name);
        const float *want = tens(f, name, ST_F32, ti.numel);
        if (!want) continue;
        double w = 0;
        for (size_t k = 0; k < ti.numel; k++) {
            double d = fabs((double)params[ti.offset + k] - want[k]);
            if (d > w) w = d;
        }
        CHECK(w <= 3 * LR, "step %d: %s: |a-b| %.3g exceeds 3 lr", s + 1, ti.name, w);
        printf("    worst |a-b| step %d %-33s %.3g (%.3g lr) [bias before BN]\n", s + 1, ti.name, w, w / LR);
        memcpy(params + ti.offset, want, ti.numel * sizeof(float));
    }
}

/* Parameters, running statistics and counters after step 3. */
static void check_final(const st_file *f, dann_model *m) {
    size_t np, ns;
    float *params = dann_model_params(m, &np), *state = dann_model_state(m, &ns);
    const char *st = st_meta_get(f, "subsample_stride");
    const size_t stride = st ? (size_t)atoi(st) : 0;
    CHECK(stride > 0, "%s: no subsample_stride metadata", PY3_FIXTURE);
    double worst_lr = 0;
    int outliers = 0;
    float *got = malloc(np * sizeof(float));
    for (int i = 0; got && stride && i < dann_model_tensors(m, -1, NULL); i++) {
        dann_tensor_info ti;
        char name[128], label[160];
        dann_model_tensors(m, i, &ti);
        snprintf(name, sizeof name, "final.%s", ti.name);
        const st_tensor *t = st_find(f, name);
        CHECK(t != NULL, "%s: %s missing", PY3_FIXTURE, name);
        if (!t) continue;
        if (ti.kind == 2) {
            int64_t want = t->dtype == ST_I64 && t->numel == 1 ? *(const int64_t *)t->data : -1;
            CHECK(dann_model_bn_count(m, i) == want, "%s: %lld, torch %lld", ti.name,
                  (long long)dann_model_bn_count(m, i), (long long)want);
            continue;
        }
        if (is_bias_before_bn(ti.name)) continue;  /* checked by sync_noisy_biases */
        const float *src = (ti.kind == 0 ? params : state) + ti.offset;
        size_t n = t->numel, step = n == ti.numel ? 1 : stride;
        CHECK(t->dtype == ST_F32 && (n - 1) * step < ti.numel && n * step >= ti.numel,
              "%s: %zu elements do not match %zu at stride %zu", name, n, ti.numel, step);
        if (t->dtype != ST_F32 || (n - 1) * step >= ti.numel) continue;
        for (size_t k = 0; k < n; k++) got[k] = src[k * step];
        const float *want = t->data;
        snprintf(label, sizeof label, "%s%s", ti.name, step > 1 ? " (every 7th)" : "");
        if (ti.kind == 1) {
            report(label, got, want, n, 1e-4, 1e-3);
            continue;
        }
        double w = 0;
        int out = 0;
        for (size_t k = 0; k < n; k++) {
            double d = fabs((double)got[k] - want[k]);
            if (d > w) w = d;
            out += d > 1e-4 + 1e-3 * fabs(want[k]);
        }
        outliers += out;
        CHECK(w <= 3.5 * LR, "%s: |a-b| %.3g exceeds 3.5 lr", ti.name, w);
        if (w > worst_lr) worst_lr = w;
        printf("    worst |a-b| %-40s %.3g (%.3g lr, %d over 1e-4+1e-3|b|)\n", label, w, w / LR, out);
    }
    free(got);
    CHECK(outliers <= PARAM_OUTLIERS, "%d parameters outside 1e-4 + 1e-3|b| (at most %d allowed)",
          outliers, PARAM_OUTLIERS);
    printf("    parameters: worst |a-b| %.3g = %.3g lr (biases before BN aside), %d outliers\n",
           worst_lr, worst_lr / LR, outliers);
}

TEST(torch_py3_three_adam_steps) {
    st_file fx;
    const st_file *f = &fx;
    dann_error err = {0};
    if (st_read(&fx, PY3_FIXTURE, &err)) {
        CHECK(0, "%s (regenerate with `make fixtures`)", err.msg);
        return;
    }
    check_generator(f);
    dann_model *m = NULL;
    dann_trainer *t = NULL;
    dann_train_config cfg;
    float *xs = malloc(BATCH * 3 * IMG * sizeof(float)), *xt = malloc(BATCH * 3 * IMG * sizeof(float));
    float *x1 = malloc(BATCH * IMG * sizeof(float));
    const float *losses = tens(f, "losses", ST_F32, 9), *lambdas = tens(f, "lambdas", ST_F32, 3);
    const float *logp1 = tens(f, "logp_src_step1", ST_F32, BATCH * 10);
    const float *eval = tens(f, "eval_logp", ST_F32, 8 * 10);
    if (!xs || !xt || !x1 || !losses || !lambdas || !logp1 || !eval ||
        dann_model_new(&m, "py3", 0, BATCH, &err) || dann_train_config_preset(&cfg, "py3", &err) ||
        dann_trainer_new(&t, m, &cfg, 0, &err)) {
        CHECK(0, "setup failed: %s", err.msg);
        goto done;
    }
    check_names(f, m);
    init_model(m);
    static const double progress[3] = {0.1, 0.5, 0.9};
    for (int s = 0; s < 3; s++) {
        int32_t ys[BATCH];
        fixture_images(x1, BATCH * IMG, 10 * (uint64_t)s + 1, 0.1307f, 0.3081f);
        for (int b = 0; b < BATCH; b++)  /* the 1-channel source image repeated over 3 channels */
            for (int c = 0; c < 3; c++) memcpy(xs + ((size_t)b * 3 + c) * IMG, x1 + (size_t)b * IMG, IMG * sizeof(float));
        fixture_images(xt, BATCH * 3 * IMG, 10 * (uint64_t)s + 2, 0.5f, 0.5f);
        fixture_labels(ys, BATCH, 10 * (uint64_t)s + 3, 10);
        int ok = 1;
        for (int p = 0; p < 2; p++) {
            const char *which = p ? "tgt" : "src";
            m->pass[p].masks_given = 1;
            ok &= set_mask(f, s, which, "f_drop1", m->pass[p].mask[0], 50);
            ok &= set_mask(f, s, which, "c_drop1", m->pass[p].mask[1], 100);
        }
        dann_step_stats stats;
        if (!ok || dann_train_step(t, xs, ys, BATCH, xt, NULL, BATCH, progress[s], &stats, &err)) {
            CHECK(0, "step %d: %s", s + 1, ok ? err.msg : "masks missing");
            goto done;
        }
        char what[64];
        float got[3] = {stats.loss_class, stats.loss_domain_src, stats.loss_domain_tgt};
        snprintf(what, sizeof what, "step %d losses (class, dom src, dom tgt)", s + 1);
        report(what, got, losses + 3 * s, 3, 1e-5, 1e-4);
        CHECK(stats.lambda == lambdas[s], "step %d: lambda %.9g, torch %.9g", s + 1, stats.lambda, lambdas[s]);
        if (s == 0) check_grad1(f, m);
        sync_noisy_biases(f, m, s);
        if (s == 0) report("step 1 source class log-probs", m->pass[0].logp_class, logp1, BATCH * 10, 1e-5, 1e-4);
    }
    check_final(f, m);
    float logp[8 * 10];
    fixture_images(xt, 8 * 3 * IMG, 100, 0.5f, 0.5f);
    dann_model_predict(m, xt, 8, logp);
    report("eval class log-probs after step 3", logp, eval, 8 * 10, 1e-4, 1e-3);
done:
    dann_trainer_free(t);
    dann_model_free(m);
    free(xs), free(xt), free(x1);
    st_free(&fx);
}
