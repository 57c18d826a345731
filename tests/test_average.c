/* test_average.c - weight averages (src/cli/average.c): the EMA and SWA updates on known
 * sequences; in a run, the EMA against the same average recomputed here from the weights the
 * loop trained (BatchNorm statistics included), SWA as the mean of the epoch-end weights across
 * an interruption and resume, and SWA's recomputed BatchNorm statistics where they are known. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "cli/average.h"
#include "exp_testutil.h"
#include "io/checkpoint.h"
#include "test.h"

TEST(avg_updates_on_known_sequences) {
    // EMA with decay 0.5 over 1, 2, 3, 4: 1 (the first update copies), 1.5, 2.25, 3.125.
    float avg[2] = {0, 0}, x[2];
    const float want[4] = {1, 1.5f, 2.25f, 3.125f};
    for (int t = 0; t < 4; t++) {
        x[0] = (float)(t + 1), x[1] = -(float)(t + 1);
        avg_ema_update(avg, x, 2, 0.5, t);
        CHECK(avg[0] == want[t] && avg[1] == -want[t], "EMA after %d: %g %g, want %g", t + 1, avg[0],
              avg[1], want[t]);
    }
    // SWA of 10 values is their mean.
    float s[1] = {123}, v[1];
    double mean = 0;
    for (int t = 0; t < 10; t++) {
        v[0] = (float)(0.3 * t * t - 2.0 * t + 1.0);
        mean += v[0] / 10.0;
        avg_swa_update(s, v, 1, t);
    }
    CHECK(fabs(s[0] - mean) < 1e-5 * fabs(mean) + 1e-6, "SWA %g, mean %g", s[0], mean);
    avg_opts o;
    dann_error err = {0};
    CHECK(avg_parse(&o, "ema", &err) == DANN_OK && o.kind == AVG_EMA && o.decay == 0.999, "ema");
    CHECK(avg_parse(&o, "ema:0.9", &err) == DANN_OK && o.decay == 0.9, "ema:0.9");
    CHECK(avg_parse(&o, "swa:7", &err) == DANN_OK && o.kind == AVG_SWA && o.from_epoch == 7, "swa:7");
    CHECK(avg_parse(&o, "ema:2", &err) == DANN_ERR_ARG && strstr(err.msg, "decay"), "ema:2: %s", err.msg);
    CHECK(avg_parse(&o, "mean", &err) == DANN_ERR_ARG && strstr(err.msg, "ema"), "mean: %s", err.msg);
    char buf[64];
    avg_parse(&o, "swa", &err);
    avg_format(buf, sizeof buf, &o, 100);
    CHECK(!strcmp(buf, "swa:76"), "swa over 100 epochs starts at 76: %s", buf);
}

#define BN_NET "in 3x28x28; features: conv(4,5) bn relu maxpool(2); class: fc(10); domain: fc(2)"

typedef struct {
    double *p, *s;     /* the EMA kept here, in double */
    int n_seen;
    size_t np, ns;
    double decay;
} ema_track;

static void track(ema_track *e, dann_model *m) {
    size_t np, ns;
    const float *p = dann_model_params(m, &np), *s = dann_model_state(m, &ns);
    if (!e->p) {
        e->np = np, e->ns = ns;
        e->p = calloc(np, sizeof(double)), e->s = calloc(ns, sizeof(double));
    }
    for (size_t i = 0; i < np; i++) e->p[i] = e->n_seen ? e->decay * e->p[i] + (1 - e->decay) * p[i] : p[i];
    for (size_t i = 0; i < ns; i++) e->s[i] = e->n_seen ? e->decay * e->s[i] + (1 - e->decay) * s[i] : s[i];
    e->n_seen++;
}

/* Called before every step: the weights then are those after the previous step. */
static void before_step(void *ctx, dann_model *m, int epoch, int step, const int32_t *is, int Bs,
                        const int32_t *it, int Bt) {
    (void)is, (void)Bs, (void)it, (void)Bt;
    if (epoch || step) track(ctx, m);
}

static double worst_rel(const float *a, const double *b, size_t n) {
    double top = 0, off = 0;
    for (size_t i = 0; i < n; i++) {
        if (fabs(b[i]) > top) top = fabs(b[i]);
        if (fabs(a[i] - b[i]) > off) off = fabs(a[i] - b[i]);
    }
    return top > 0 ? off / top : off;
}

static dann_status avg_run(const char *dir, const char *spec, const char *arch, dataset *src,
                           dataset *tgt, int epochs, int stop_after, const char *resume,
                           trainloop_batch_hook hook, void *hctx, trainloop_result *r,
                           dann_error *err) {
    trainloop_data d = {src, tgt, NULL, tgt};
    trainloop_opts o = exp_opts(epochs, 16, dir);
    o.arch = arch;
    o.stop_after_steps = stop_after;
    o.resume = resume;
    o.on_batch = hook;
    o.hook_ctx = hctx;
    avg_opts ao;
    avg_parse(&ao, spec, err);
    avg_state *a;
    avg_new(&a, &ao, err);
    trainloop_ext x = avg_ext(a);
    o.ext = &x;
    o.n_ext = 1;
    dann_train_config cfg = exp_cfg("py3", DANN_MODE_DANN);
    const dann_status st = trainloop_run(&o, resume ? NULL : &cfg, &d, NULL, r, err);
    avg_free(a);
    return st;
}

static int mkdirs(const char *a, const char *b) {
    char cmd[1200];
    snprintf(cmd, sizeof cmd, "mkdir -p %s %s", a, b ? b : "");
    return system(cmd) == 0;
}

TEST(avg_ema_in_a_run_equals_the_ema_of_the_trained_weights) {
    dann_threads_set(1);
    dataset src, tgt;
    exp_make_ds(&src, 64, 1, 28, 10, 31, 0, "src");
    exp_make_ds(&tgt, 64, 3, 28, 10, 32, 40, "tgt");
    char dir[512];
    snprintf(dir, sizeof dir, "%s/ema", test_tmpdir());
    if (!mkdirs(dir, NULL)) SKIP("mkdir");
    ema_track e = {.decay = 0.9};
    dann_error err = {0};
    trainloop_result r;
    CHECK(avg_run(dir, "ema:0.9", BN_NET, &src, &tgt, 2, 0, NULL, before_step, &e, &r, &err) == DANN_OK,
          "run: %s", err.msg);
    char p[600];
    snprintf(p, sizeof p, "%s/last.ckpt", dir);
    dann_model *last = NULL, *avg = NULL;
    if (ckpt_load(p, 0, &last, NULL, NULL, &err) == DANN_OK) track(&e, last);  /* the last step */
    snprintf(p, sizeof p, "%s/avg.ckpt", dir);
    if (!last || ckpt_load(p, 0, &avg, NULL, NULL, &err) != DANN_OK) {
        CHECK(0, "checkpoints: %s", err.msg);
    } else {
        size_t np, ns;
        const float *ap = dann_model_params(avg, &np), *as = dann_model_state(avg, &ns);
        CHECK(e.n_seen == 2 * r.steps_per_epoch && np == e.np && ns == e.ns && ns > 0,
              "%d updates, %d steps", e.n_seen, 2 * r.steps_per_epoch);
        const double ep = worst_rel(ap, e.p, np), es = worst_rel(as, e.s, ns);
        CHECK(ep < 1e-5, "EMA of the parameters off by %.3g (relative to the largest)", ep);
        CHECK(es < 1e-5, "EMA of the BatchNorm statistics off by %.3g", es);
        // and it is not simply the last weights
        size_t nl;
        const float *lp = dann_model_params(last, &nl);
        double d = 0;
        for (size_t i = 0; i < np; i++) d += fabs(lp[i] - ap[i]);
        CHECK(d > 1e-3, "the average equals the last weights");
    }
    double v[4];
    snprintf(p, sizeof p, "%s/metrics.jsonl", dir);
    CHECK(exp_metrics(p, "avg_target_test_acc", v, 4) == 2 && v[0] >= 0 && v[1] >= 0,
          "avg_target_test_acc in metrics.jsonl");
    dann_model_free(last), dann_model_free(avg);
    free(e.p), free(e.s);
    dataset_free(&src), dataset_free(&tgt);
}

TEST(avg_swa_is_the_mean_of_epoch_ends_across_a_resume) {
    dann_threads_set(1);
    dataset src, tgt;
    exp_make_ds(&src, 48, 1, 28, 10, 41, 0, "src");
    exp_make_ds(&tgt, 48, 3, 28, 10, 42, 40, "tgt");
    char a[512], b[512], p[600];
    snprintf(a, sizeof a, "%s/swa_a", test_tmpdir());
    snprintf(b, sizeof b, "%s/swa_b", test_tmpdir());
    if (!mkdirs(a, b)) SKIP("mkdir");
    dann_error err = {0};
    trainloop_result r;
    CHECK(avg_run(a, "swa:2", "paper-mnist", &src, &tgt, 3, 0, NULL, NULL, NULL, &r, &err) == DANN_OK,
          "run: %s", err.msg);
    const int S = r.steps_per_epoch;
    // b stops after epoch 2 (w2), then finishes epoch 3 (w3): SWA from epoch 2 is (w2 + w3) / 2.
    CHECK(avg_run(b, "swa:2", "paper-mnist", &src, &tgt, 3, 2 * S, NULL, NULL, NULL, &r, &err) ==
              DANN_ERR_INTERRUPTED, "stop: %s", err.msg);
    dann_model *w2 = NULL, *w3 = NULL, *sa = NULL, *sb = NULL;
    snprintf(p, sizeof p, "%s/last.ckpt", b);
    ckpt_load(p, 0, &w2, NULL, NULL, &err);
    CHECK(avg_run(b, "swa:2", "paper-mnist", &src, &tgt, 3, 0, p, NULL, NULL, &r, &err) == DANN_OK,
          "resume: %s", err.msg);
    ckpt_load(p, 0, &w3, NULL, NULL, &err);
    snprintf(p, sizeof p, "%s/avg.ckpt", a);
    ckpt_load(p, 0, &sa, NULL, NULL, &err);
    snprintf(p, sizeof p, "%s/avg.ckpt", b);
    ckpt_load(p, 0, &sb, NULL, NULL, &err);
    if (!w2 || !w3 || !sa || !sb) {
        CHECK(0, "checkpoints: %s", err.msg);
    } else {
        size_t n;
        const float *x2 = dann_model_params(w2, &n), *x3 = dann_model_params(w3, NULL);
        const float *pa = dann_model_params(sa, NULL), *pb = dann_model_params(sb, NULL);
        double *mean = malloc(n * sizeof(double));
        for (size_t i = 0; i < n; i++) mean[i] = 0.5 * ((double)x2[i] + x3[i]);
        CHECK(worst_rel(pb, mean, n) < 1e-6, "SWA off the mean of the epoch-2 and epoch-3 weights by %.3g",
              worst_rel(pb, mean, n));
        CHECK(memcmp(pa, pb, n * sizeof(float)) == 0, "the resumed run's SWA differs from the "
              "uninterrupted run's");
        free(mean);
    }
    snprintf(p, sizeof p, "%s/summary.json", a);
    CHECK(exp_json_num(p, "avg_final_target_test_acc") >= 0, "summary avg_final_target_test_acc");
    dann_model_free(w2), dann_model_free(w3), dann_model_free(sa), dann_model_free(sb);
    dataset_free(&src), dataset_free(&tgt);
}

TEST(avg_swa_recomputes_batchnorm_statistics) {
    // Every source image is grey 100, every target image grey 200: the first layer's output is
    // the same vector h_a (resp. h_b) for every image of a domain, so each batch's per-unit mean
    // at the BatchNorm behind it is h_a or h_b and its variance 0. A DANN run forwards both
    // domains, so the recomputed running mean is (h_a + h_b) / 2, computed here from the
    // average's own fc weights.
    dann_threads_set(1);
    dataset src, tgt;
    exp_make_ds(&src, 32, 3, 8, 4, 51, 0, "src");
    exp_make_ds(&tgt, 32, 3, 8, 4, 52, 0, "tgt");
    memset(src.pix, 100, (size_t)32 * 3 * 64);
    memset(tgt.pix, 200, (size_t)32 * 3 * 64);
    char dir[512], p[600];
    snprintf(dir, sizeof dir, "%s/swabn", test_tmpdir());
    if (!mkdirs(dir, NULL)) SKIP("mkdir");
    dann_error err = {0};
    trainloop_result r;
    CHECK(avg_run(dir, "swa:1", "in 3x8x8; features: fc(8) bn relu; class: fc(4); domain: fc(2)",
                  &src, &tgt, 1, 0, NULL, NULL, NULL, &r, &err) == DANN_OK, "run: %s", err.msg);
    snprintf(p, sizeof p, "%s/avg.ckpt", dir);
    dann_model *m = NULL;
    if (ckpt_load(p, 0, &m, NULL, NULL, &err) != DANN_OK) {
        CHECK(0, "%s", err.msg);
    } else {
        const double a = (100.0 / 255.0 - 0.5) / 0.5, b = (200.0 / 255.0 - 0.5) / 0.5;
        const float *w = NULL, *bias = NULL, *prm = dann_model_params(m, NULL);
        const int nt = dann_model_tensors(m, 0, NULL);
        for (int i = 0; i < nt; i++) {
            dann_tensor_info t;
            dann_model_tensors(m, i, &t);
            if (!strcmp(t.name, "feature.f_fc1.weight")) w = prm + t.offset;
            if (!strcmp(t.name, "feature.f_fc1.bias")) bias = prm + t.offset;
        }
        size_t ns;
        const float *s = dann_model_state(m, &ns);
        CHECK(w && bias && ns == 16, "feature.f_fc1 and 8 BatchNorm units (%zu state floats)", ns);
        for (int j = 0; j < 8 && w && bias && ns == 16; j++) {
            double row = 0;
            for (int k = 0; k < 192; k++) row += w[j * 192 + k];
            const double want = 0.5 * ((row * a + bias[j]) + (row * b + bias[j]));
            CHECK(fabs(s[j] - want) < 1e-4 * (1 + fabs(want)), "unit %d running mean %.6f, want %.6f",
                  j, s[j], want);
            CHECK(fabs(s[8 + j]) < 1e-5, "unit %d running var %.3g, want 0", j, s[8 + j]);
        }
        dann_model_free(m);
    }
    dataset_free(&src), dataset_free(&tgt);
}
