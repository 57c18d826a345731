/* test_model_step.c - properties of a model and its training step that need no reference
 * implementation, beside test_model_props.c's gradients: PyTorch-default initialisation
 * statistics, bit-exact determinism of the step (1 and 2 threads) and the NaN guard of
 * dann_train_step (nothing moves on a non-finite batch). */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "dann.h"
#include "layers/layers.h"
#include "model/model.h"
#include "model_testutil.h"
#include "test.h"

/* ---- initialisation ---- */

/* The module prefix of a tensor name ("feature.f_bn1" of "feature.f_bn1.weight"). */
static size_t prefix_len(const char *name) {
    const char *dot = strrchr(name, '.');
    return dot ? (size_t)(dot - name) : 0;
}

static int is_batchnorm_module(const dann_model *m, const char *name) {
    size_t pl = prefix_len(name);
    dann_tensor_info info;
    for (int i = 0; i < dann_model_tensors(m, 0, NULL); i++) {
        dann_model_tensors(m, i, &info);
        if (info.kind == 1 && prefix_len(info.name) == pl && strncmp(info.name, name, pl) == 0)
            return 1;
    }
    return 0;
}

TEST(model_init_pytorch_defaults) {
    dann_threads_set(1);
    dann_error err = {0};
    dann_model *m;
    if (dann_model_new(&m, "py3", 42, 4, &err) != DANN_OK) {
        CHECK(0, "dann_model_new: %s", err.msg);
        return;
    }
    size_t np, ns;
    const float *par = dann_model_params(m, &np), *state = dann_model_state(m, &ns);
    int nt = dann_model_tensors(m, 0, NULL);
    int fan_in = 0;       /* of the last conv/linear weight: its bias shares the bound */
    int n_uniform = 0, n_bn = 0;
    size_t covered = 0;
    for (int i = 0; i < nt; i++) {
        dann_tensor_info info;
        dann_model_tensors(m, i, &info);
        if (info.kind == 2) {
            CHECK(dann_model_bn_count(m, i) == 0, "%s = %lld", info.name,
                  (long long)dann_model_bn_count(m, i));
            continue;
        }
        const float *x = (info.kind == 0 ? par : state) + info.offset;
        size_t n = info.numel;
        if (info.kind == 1) {
            float want = strstr(info.name, "running_var") ? 1.0f : 0.0f;
            int bad = 0;
            for (size_t k = 0; k < n; k++) bad += x[k] != want;
            CHECK(bad == 0, "%s: %d elements differ from %g", info.name, bad, want);
            continue;
        }
        covered += n;
        if (is_batchnorm_module(m, info.name)) {
            n_bn++;
            float want = strstr(info.name, ".weight") ? 1.0f : 0.0f;
            int bad = 0;
            for (size_t k = 0; k < n; k++) bad += x[k] != want;
            CHECK(bad == 0, "%s: %d elements differ from %g", info.name, bad, want);
            continue;
        }
        /* conv (OC,C,K,K): fan_in C*K*K; linear (OUT,IN): IN; a bias uses its weight's. */
        if (info.ndim >= 2) {
            fan_in = 1;
            for (int d = 1; d < info.ndim; d++) fan_in *= (int)info.shape[d];
        }
        CHECK(fan_in > 0, "%s: bias without a preceding weight", info.name);
        if (fan_in <= 0) continue;
        n_uniform++;
        double bound = 1.0 / sqrt((double)fan_in), mx = 0, s1 = 0, s2 = 0;
        int out = 0;
        for (size_t k = 0; k < n; k++) {
            double v = x[k];
            out += !(fabs(v) <= bound * (1 + 1e-6));  /* the float bound may round up */
            mx = fmax(mx, fabs(v));
            s1 += v;
            s2 += v * v;
        }
        CHECK(out == 0, "%s: %d elements outside +-1/sqrt(%d) = %g", info.name, out, fan_in, bound);
        double mean = s1 / n, msq = s2 / n, var = bound * bound / 3;
        /* U(-b, b): mean 0 with sd b/sqrt(3n); E[x^2] = b^2/3 with sd b^2 sqrt(4/(45n)).
         * 5 sd bounds: a false alarm has probability < 1e-6 per tensor. */
        double mean_tol = 5 * bound / sqrt(3.0 * n), msq_tol = 5 * bound * bound * sqrt(4.0 / (45.0 * n));
        CHECK(fabs(mean) <= mean_tol, "%s: mean %.4g, |mean| should be <= %.3g", info.name, mean,
              mean_tol);
        CHECK(fabs(msq - var) <= msq_tol, "%s: mean square %.5g, want %.5g +- %.3g", info.name, msq,
              var, msq_tol);
        /* The largest of n > 100 uniform draws falls below 0.95 b with probability 0.95^n
         * < 0.6% (n = 101), < 4e-5 for the smallest such tensor here (200). */
        if (n > 100)
            CHECK(mx > 0.95 * bound, "%s: max |w| %.4g, bound %.4g: range too narrow", info.name, mx,
                  bound);
        if (verbose())
            printf("    init %-34s n=%-6zu bound %.4f max/bound %.4f mean/tol %+.3f (msq-var)/tol %+.3f\n",
                   info.name, n, bound, mx / bound, mean / mean_tol, (msq - var) / msq_tol);
    }
    CHECK(covered == np, "tensor table covers %zu of %zu parameters", covered, np);
    CHECK(n_uniform == 14 && n_bn == 10, "expected 14 conv/linear and 10 BN tensors, got %d, %d",
          n_uniform, n_bn);
    (void)ns;

    /* Same seed: same bits; another seed: different weights. */
    dann_model *m2, *m3;
    CHECK(dann_model_new(&m2, "py3", 42, 4, &err) == DANN_OK, "model: %s", err.msg);
    CHECK(dann_model_new(&m3, "py3", 43, 4, &err) == DANN_OK, "model: %s", err.msg);
    CHECK(memcmp(par, dann_model_params(m2, NULL), np * sizeof(float)) == 0,
          "the same seed gave different parameters");
    const float *p3 = dann_model_params(m3, NULL);
    size_t same = 0, random_elems = 0;
    for (size_t k = 0; k < np; k++) {
        if (par[k] == 1.0f || par[k] == 0.0f) continue;  /* BN weights/biases */
        random_elems++;
        same += par[k] == p3[k];
    }
    CHECK(random_elems > 0 && same < random_elems / 1000,
          "seeds 42 and 43 share %zu of %zu random weights", same, random_elems);
    dann_model_free(m);
    dann_model_free(m2);
    dann_model_free(m3);
}

/* ---- determinism of the training step ---- */

/* Two 10-step runs from the same seeds on the same synthetic batches must end bit-identical
 * (parameters, BN running statistics, Adam moments), with 1 thread and again with 2. */

typedef struct { float *params, *state, *m1, *m2; size_t np, ns; } run_out;

static void run_out_free(run_out *r) { free(r->params); free(r->state); free(r->m1); free(r->m2); }

static int train_run(run_out *out, int steps, int B) {
    dann_error err = {0};
    dann_model *m;
    dann_trainer *t;
    dann_train_config cfg;
    memset(out, 0, sizeof *out);
    if (dann_model_new(&m, "py3", 3, B, &err) || dann_train_config_preset(&cfg, "py3", &err) ||
        dann_trainer_new(&t, m, &cfg, 4, &err)) {
        test_fail(__FILE__, __LINE__, "setup: %s", err.msg);
        return 0;
    }
    float *xs = xmalloc(sizeof(float) * B * IMG), *xt = xmalloc(sizeof(float) * B * IMG);
    int32_t *ys = xmalloc(sizeof(int32_t) * B);
    int ok = 1;
    for (int s = 0; s < steps && ok; s++) {
        synth_images(xs, B, 3, 28, 28, 10 + 2 * s);
        synth_images(xt, B, 3, 28, 28, 11 + 2 * s);
        synth_labels(ys, B, s, 10);
        ok = dann_train_step(t, xs, ys, B, xt, NULL, B, (double)s / steps, NULL, &err) == DANN_OK;
        CHECK(ok, "step %d: %s", s, err.msg);
    }
    float *m2;
    float *m1 = dann_trainer_moments(t, &m2);
    out->params = xmalloc(m->n_params * sizeof(float));
    out->state = xmalloc(m->n_state * sizeof(float));
    out->m1 = xmalloc(m->n_params * sizeof(float));
    out->m2 = xmalloc(m->n_params * sizeof(float));
    out->np = m->n_params;
    out->ns = m->n_state;
    memcpy(out->params, dann_model_params(m, NULL), m->n_params * sizeof(float));
    memcpy(out->state, dann_model_state(m, NULL), m->n_state * sizeof(float));
    memcpy(out->m1, m1, m->n_params * sizeof(float));
    if (m2) memcpy(out->m2, m2, m->n_params * sizeof(float));
    free(xs); free(xt); free(ys);
    dann_trainer_free(t);
    dann_model_free(m);
    return ok;
}

static void check_same_run(const run_out *a, const run_out *b, const char *tag) {
    CHECK(memcmp(a->params, b->params, a->np * sizeof(float)) == 0, "%s: parameters differ", tag);
    CHECK(memcmp(a->state, b->state, a->ns * sizeof(float)) == 0, "%s: BN running stats differ", tag);
    CHECK(memcmp(a->m1, b->m1, a->np * sizeof(float)) == 0 &&
              memcmp(a->m2, b->m2, a->np * sizeof(float)) == 0,
          "%s: Adam moments differ", tag);
}

TEST(model_training_is_deterministic) {
    const int steps = 10, B = 32;
    run_out a, b;
    for (int threads = 1; threads <= 2; threads++) {
        dann_threads_set(threads);
        if (!train_run(&a, steps, B) || !train_run(&b, steps, B)) {
            run_out_free(&a);
            run_out_free(&b);
            break;
        }
        check_same_run(&a, &b, threads == 1 ? "1 thread" : "2 threads");
        /* The run must have moved the parameters (otherwise equality says nothing). */
        dann_model *m0;
        dann_error err = {0};
        if (dann_model_new(&m0, "py3", 3, 1, &err) == DANN_OK) {
            const float *p0 = dann_model_params(m0, NULL);
            size_t moved = 0;
            for (size_t k = 0; k < a.np; k++) moved += p0[k] != a.params[k];
            CHECK(moved > a.np / 2, "only %zu of %zu parameters moved in %d steps", moved, a.np,
                  steps);
            dann_model_free(m0);
        }
        run_out_free(&a);
        run_out_free(&b);
    }
    dann_threads_set(1);
}

/* ---- NaN guard ---- */

/* A NaN or an infinity anywhere in a batch must stop the step before the optimizer moves
 * anything (dann.h: DANN_ERR_NUMERIC, parameters untouched). torch propagates NaN through every
 * layer of this network (ReLU and max-pooling included), so the losses are NaN. */

TEST(model_step_nan_leaves_parameters) {
    dann_threads_set(1);
    dann_error err = {0};
    dann_model *m;
    dann_trainer *t;
    dann_train_config cfg;
    const int B = 8;
    if (dann_model_new(&m, "py3", 9, B, &err) || dann_train_config_preset(&cfg, "py3", &err) ||
        dann_trainer_new(&t, m, &cfg, 10, &err)) {
        CHECK(0, "setup: %s", err.msg);
        return;
    }
    size_t np;
    float *par = dann_model_params(m, &np);
    float *xs = xmalloc(sizeof(float) * B * IMG), *xt = xmalloc(sizeof(float) * B * IMG);
    int32_t ys[8];
    synth_images(xs, B, 3, 28, 28, 20);
    synth_images(xt, B, 3, 28, 28, 21);
    synth_labels(ys, B, 0, 10);
    /* One good step first, so the optimizer has non-trivial state to protect. */
    CHECK(dann_train_step(t, xs, ys, B, xt, NULL, B, 0.1, NULL, &err) == DANN_OK, "step: %s", err.msg);
    float *before = xmalloc(np * sizeof(float)), *m1_before = xmalloc(np * sizeof(float));
    float *m2_before = xmalloc(np * sizeof(float));
    float *m2, *m1 = dann_trainer_moments(t, &m2);
    memcpy(before, par, np * sizeof(float));
    memcpy(m1_before, m1, np * sizeof(float));
    memcpy(m2_before, m2, np * sizeof(float));

    for (int where = 0; where < 3; where++) {
        float *x = where == 1 ? xt : xs;
        size_t at = where == 2 ? (size_t)3 * IMG + 500 : 100;
        float keep = x[at];
        x[at] = where == 2 ? INFINITY : NAN;
        err = (dann_error){0};
        dann_status s = dann_train_step(t, xs, ys, B, xt, NULL, B, 0.2, NULL, &err);
        x[at] = keep;
        const char *tag = where == 0 ? "NaN in source" : where == 1 ? "NaN in target" : "Inf in source";
        CHECK(s == DANN_ERR_NUMERIC, "%s: status %d (%s), want DANN_ERR_NUMERIC", tag, (int)s,
              dann_status_str(s));
        CHECK(err.status == DANN_ERR_NUMERIC && err.msg[0], "%s: no error message", tag);
        CHECK(memcmp(before, par, np * sizeof(float)) == 0, "%s: parameters changed", tag);
        CHECK(memcmp(m1_before, m1, np * sizeof(float)) == 0 &&
                  memcmp(m2_before, m2, np * sizeof(float)) == 0,
              "%s: optimizer moments changed", tag);
        CHECK(dann_trainer_steps(t) == 1, "%s: step counter %lld, want 1", tag,
              (long long)dann_trainer_steps(t));
        if (verbose()) printf("    nan: %s -> \"%s\"\n", tag, err.msg);
        /* Undo whatever a failing step did, so the next case starts from the same state. */
        memcpy(par, before, np * sizeof(float));
        memcpy(m1, m1_before, np * sizeof(float));
        memcpy(m2, m2_before, np * sizeof(float));
        dann_trainer_set_steps(t, 1);
    }
    free(xs); free(xt); free(before); free(m1_before); free(m2_before);
    dann_trainer_free(t);
    dann_model_free(m);
}
