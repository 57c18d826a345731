/* test_recipes.c - the recipes behind --preset (src/cli/recipe.c, src/optim/schedule.c,
 * docs/RECIPES.md): the paper preset's schedules and batches as a short run records them, the
 * mean subtraction, a constant lambda and Algorithm 1's scaled domain step, their checkpoint
 * fields, and early stopping with --patience. Values are checked against the formulas written
 * out here again, not against the code's own helpers. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>
#include "cli/recipe.h"
#include "cli/trainloop.h"
#include "exp_testutil.h"
#include "io/checkpoint.h"
#include "test.h"

typedef struct {
    int calls, bs[64], bt[64];
} batches;

static void note_batch(void *ctx, dann_model *m, int epoch, int step, const int32_t *is, int Bs,
                       const int32_t *it, int Bt) {
    (void)m, (void)epoch, (void)step, (void)is, (void)it;
    batches *b = ctx;
    if (b->calls < 64) b->bs[b->calls] = Bs, b->bt[b->calls] = Bt;
    b->calls++;
}

TEST(recipe_presets_hold_the_papers_values) {
    dann_train_config c = exp_cfg("paper", DANN_MODE_DANN);
    CHECK(c.optimizer == DANN_OPT_SGD && c.momentum == 0.9 && c.lr == 0.01 && c.lr_schedule == 1 &&
              c.lr_alpha == 10 && c.lr_beta == 0.75 && c.gamma == 10 && c.lambda_max == 1 &&
              c.lambda_schedule == 0 && c.domain_lambda == 0 && c.weight_decay == 0,
          "paper: JMLR 5.2.2's SGD 0.9, mu0 0.01 / (1+10p)^0.75, lambda ramp gamma 10");
    const recipe *r = recipe_find("paper");
    CHECK(r && r->batch == 64 && !strcmp(r->arch, "paper-mnist") && r->norm == RECIPE_NORM_MEAN &&
              r->patience == 0,
          "paper recipe: 64 + 64 a step, paper-mnist, mean subtraction");
    c = exp_cfg("shallow", DANN_MODE_DANN);
    CHECK(c.optimizer == DANN_OPT_SGD && c.momentum == 0 && c.lr == 1e-3 && c.lr_schedule == 0 &&
              c.lambda_schedule == 1 && c.lambda_max == 0.1 && c.domain_lambda == 1,
          "shallow: Algorithm 1's plain SGD, constant mu and lambda");
    r = recipe_find("shallow");
    CHECK(r && r->batch == 1 && !strcmp(r->arch, "shallow") && r->source_val_pct == 10 &&
              r->patience > 0,
          "shallow recipe: one example per domain a step, early stopping on a tenth");
    r = recipe_find("py3");
    CHECK(r && r->batch == 128 && r->epochs == 100 && r->norm == RECIPE_NORM_REF, "py3 recipe");
    CHECK(recipe_find("nope") == NULL, "unknown preset");
}

TEST(recipe_paper_schedules_and_batches_in_a_run) {
    // 192 source and 192 target images at the preset's batch of 64: 3 full 64 + 64 steps an
    // epoch; the lr and lambda of each epoch's last step land in metrics.jsonl.
    dann_threads_set(1);
    const recipe *rp = recipe_find("paper");
    dataset src, tgt;
    exp_make_ds(&src, 192, 1, 28, 10, 1, 0, "src");
    exp_make_ds(&tgt, 192, 3, 28, 10, 2, 40, "tgt");
    trainloop_data d = {&src, &tgt, NULL, NULL};
    char dir[512];
    snprintf(dir, sizeof dir, "%s/paper", test_tmpdir());
    if (system(NULL)) {
        char cmd[600];
        snprintf(cmd, sizeof cmd, "mkdir -p %s", dir);
        if (system(cmd)) SKIP("cannot create %s", dir);
    }
    const int E = 4;
    trainloop_opts o = exp_opts(E, rp->batch, dir);
    o.arch = rp->arch;
    o.preset = "paper";
    batches b = {0};
    o.on_batch = note_batch;
    o.hook_ctx = &b;
    dann_train_config cfg = exp_cfg("paper", DANN_MODE_DANN);
    dann_error err = {0};
    trainloop_result r;
    CHECK(trainloop_run(&o, &cfg, &d, NULL, &r, &err) == DANN_OK, "run: %s", err.msg);
    const int S = r.steps_per_epoch;
    CHECK(S == 3 && b.calls == E * S, "%d steps an epoch, %d calls", S, b.calls);
    int full = 1;
    for (int k = 0; k < b.calls && k < 64; k++) full &= b.bs[k] == 64 && b.bt[k] == 64;
    CHECK(full, "every step takes 64 source + 64 target images");
    double lr[8], lam[8];
    const char *mp = "metrics.jsonl";
    char path[600];
    snprintf(path, sizeof path, "%s/%s", dir, mp);
    CHECK(exp_metrics(path, "lr", lr, 8) == E && exp_metrics(path, "lambda", lam, 8) == E,
          "%d metrics lines", E);
    for (int e = 0; e < E; e++) {
        const double p = (double)(S - 1 + e * S) / E / S;      /* the epoch's last step */
        const double want_lr = 0.01 / pow(1.0 + 10.0 * p, 0.75);
        const double want_lam = 2.0 / (1.0 + exp(-10.0 * p)) - 1.0;
        CHECK(fabs(lr[e] - want_lr) <= 1e-7 * want_lr, "epoch %d: lr %.9g, mu_p formula %.9g", e + 1,
              lr[e], want_lr);
        CHECK(fabs(lam[e] - want_lam) <= 1e-7, "epoch %d: lambda %.9g, lambda_p formula %.9g", e + 1,
              lam[e], want_lam);
    }
    dataset_free(&src);
    dataset_free(&tgt);
}

TEST(recipe_mean_subtraction_uses_each_domains_training_mean) {
    dataset tr, te;
    exp_make_ds(&tr, 7, 3, 4, 2, 3, 10, "tr");
    exp_make_ds(&te, 5, 3, 4, 2, 4, 90, "te");
    double want[3] = {0, 0, 0};
    for (int c = 0; c < 3; c++) {
        for (int i = 0; i < 7; i++)
            for (int p = 0; p < 16; p++) want[c] += tr.pix[((size_t)i * 3 + c) * 16 + p];
        want[c] /= 7.0 * 16 * 255;
    }
    dataset *others[1] = {&te};
    float got[3];
    recipe_mean_subtract(&tr, others, 1, got);
    for (int c = 0; c < 3; c++) {
        CHECK(fabs(got[c] - want[c]) < 1e-6, "channel %d mean %.7f, hand sum %.7f", c, got[c], want[c]);
        CHECK(tr.mean[c] == got[c] && te.mean[c] == got[c] && tr.std[c] == 1 && te.std[c] == 1,
              "channel %d: the test split takes the training mean, std 1", c);
    }
    // The gathered values are pix/255 - mean: no scaling.
    float x[48];
    int32_t idx = 2;
    dataset_gather(x, NULL, &te, &idx, 1, 3);
    for (int c = 0; c < 3; c++) {
        const float v = (float)te.pix[((size_t)2 * 3 + c) * 16 + 5] / 255.0f - got[c];
        CHECK(fabsf(x[c * 16 + 5] - v) < 1e-7f, "gathered %g, want %g", x[c * 16 + 5], v);
    }
    // A grey set: one mean, used for the three copies.
    dataset g;
    exp_make_ds(&g, 3, 1, 4, 2, 5, 0, "g");
    recipe_mean_subtract(&g, NULL, 0, got);
    CHECK(got[0] == got[1] && got[1] == got[2] && g.mean[2] == got[0], "grey mean repeated");
    dataset_free(&tr), dataset_free(&te), dataset_free(&g);
}

/* One step of a fresh tiny paper-mnist model with cfg at progress p; params after it (malloc'd). */
static float *one_step(const dann_train_config *cfg, double p, float *lambda_out, size_t *n_out) {
    dann_model *m;
    dann_trainer *t;
    dann_error err;
    if (dann_model_new(&m, "paper-mnist", 3, 8, &err) || dann_trainer_new(&t, m, cfg, 4, &err))
        return NULL;
    dataset s, g;
    exp_make_ds(&s, 8, 3, 28, 10, 6, 0, "s");
    exp_make_ds(&g, 8, 3, 28, 10, 7, 50, "t");
    float *xs = malloc(sizeof(float) * 8 * 3 * 784), *xt = malloc(sizeof(float) * 8 * 3 * 784);
    int32_t idx[8] = {0, 1, 2, 3, 4, 5, 6, 7}, ys[8];
    dataset_gather(xs, ys, &s, idx, 8, 3);
    dataset_gather(xt, NULL, &g, idx, 8, 3);
    dann_step_stats st;
    float *out = NULL;
    if (dann_train_step(t, xs, ys, 8, xt, NULL, 8, p, &st, &err) == DANN_OK) {
        size_t n;
        const float *w = dann_model_params(m, &n);
        out = malloc(n * sizeof(float));
        memcpy(out, w, n * sizeof(float));
        *n_out = n;
        *lambda_out = st.lambda;
    }
    free(xs), free(xt);
    dataset_free(&s), dataset_free(&g);
    dann_trainer_free(t);
    dann_model_free(m);
    return out;
}

TEST(recipe_constant_lambda_and_algorithm1_domain_step) {
    dann_threads_set(1);
    // A constant lambda of 0.3 at p = 0 must move the weights exactly as the ramp does at the p
    // where the ramp reaches 0.3 (lr constant in both).
    dann_train_config ramp = exp_cfg("paper", DANN_MODE_DANN), cst = ramp;
    ramp.lr_schedule = cst.lr_schedule = 0;
    ramp.momentum = cst.momentum = 0;
    const double pstar = -log(2.0 / 1.3 - 1.0) / 10.0;   /* 2/(1+e^{-10p}) - 1 = 0.3 */
    cst.lambda_schedule = 1;
    cst.lambda_max = (double)(float)(2.0 / (1.0 + exp(-10.0 * pstar)) - 1.0);
    size_t n = 0, n2 = 0;
    float l1 = 0, l2 = 0;
    float *a = one_step(&ramp, pstar, &l1, &n), *b = one_step(&cst, 0.0, &l2, &n2);
    if (!a || !b) {
        CHECK(0, "steps failed");
        free(a), free(b);
        return;
    }
    CHECK(fabsf(l2 - 0.3f) < 1e-6f && l1 == l2, "lambda %g (constant) vs %g (ramp at p*)", l2, l1);
    CHECK(n == n2 && memcmp(a, b, n * sizeof(float)) == 0,
          "constant lambda 0.3 and the ramp at lambda 0.3 must give identical weights");
    free(b);
    float l3;
    b = one_step(&cst, 0.9, &l3, &n2);   /* the constant does not move with p */
    CHECK(b && l3 == l2 && memcmp(a, b, n * sizeof(float)) == 0, "constant lambda at p = 0.9: %g", l3);
    free(b);
    // Algorithm 1 (domain_lambda): the domain head's own step is lambda times the GRL's, the
    // other layers' steps are the same. One plain SGD step from the same weights: compare the
    // moves w1 - w0.
    dann_train_config big = cst, alg = cst, none = cst;
    big.lr = alg.lr = 1.0;   /* large moves: float rounding of w1 - w0 stays far below them */
    alg.domain_lambda = 1;
    none.lr = 1e-30;         /* the starting weights, as near as a step can leave them */
    free(a);
    a = one_step(&big, 0.0, &l3, &n2);
    float *c = one_step(&alg, 0.0, &l3, &n2);
    float *w0 = one_step(&none, 0.0, &l3, &n2);
    dann_model *m;
    dann_error err;
    if (!a || !c || !w0 || dann_model_new(&m, "paper-mnist", 3, 8, &err)) {
        CHECK(0, "setup");
        free(a), free(c), free(w0);
        return;
    }
    const int nt = dann_model_tensors(m, 0, NULL);
    double worst_d = 0, worst_o = 0;
    int n_dom = 0;
    for (int i = 0; i < nt; i++) {
        dann_tensor_info ti;
        dann_model_tensors(m, i, &ti);
        if (ti.kind != 0) continue;
        const int dom = !strncmp(ti.name, "domain_classifier.", 18);
        n_dom += dom;
        double top = 0, off = 0;
        for (size_t k = ti.offset; k < ti.offset + ti.numel; k++) {
            const double ga = (double)a[k] - w0[k], gc = (double)c[k] - w0[k];
            const double want = dom ? 0.3 * ga : ga;
            if (fabs(want) > top) top = fabs(want);
            if (fabs(gc - want) > off) off = fabs(gc - want);
        }
        const double e = top > 0 ? off / top : off;
        if (dom && e > worst_d) worst_d = e;
        if (!dom && e > worst_o) worst_o = e;
    }
    CHECK(n_dom == 4, "%d domain-head tensors, want 4 (d_fc1, d_fc2 weight and bias)", n_dom);
    CHECK(worst_d < 1e-3, "domain head: step %.3g off lambda times the GRL's", worst_d);
    CHECK(worst_o < 1e-3, "other layers: step %.3g off the GRL's", worst_o);
    dann_model_free(m);
    free(a), free(c), free(w0);
}

TEST(recipe_lambda_fields_in_the_checkpoint) {
    dann_model *m, *m2;
    dann_trainer *t, *t2;
    dann_error err;
    dann_train_config cfg = exp_cfg("shallow", DANN_MODE_DANN);
    if (dann_model_new(&m, "paper-mnist", 1, 4, &err) || dann_trainer_new(&t, m, &cfg, 2, &err)) {
        CHECK(0, "setup: %s", err.msg);
        return;
    }
    char path[512];
    snprintf(path, sizeof path, "%s/lam.ckpt", test_tmpdir());
    CHECK(ckpt_save(path, m, t, NULL, &err) == DANN_OK, "save: %s", err.msg);
    FILE *f = fopen(path, "rb");
    unsigned char h[320];
    CHECK(f && fread(h, 1, 320, f) == 320, "read header");
    if (f) fclose(f);
    CHECK(h[280] == 1 && h[281] == 0 && h[284] == 1 && h[285] == 0, "lambda_schedule at 280, "
          "domain_lambda at 284 (docs/CHECKPOINT.md)");
    if (ckpt_load(path, 0, &m2, &t2, NULL, &err) == DANN_OK) {
        const dann_train_config *c2 = dann_trainer_config(t2);
        CHECK(c2->lambda_schedule == 1 && c2->domain_lambda == 1 && c2->lambda_max == 0.1,
              "constant lambda restored");
        dann_trainer_free(t2);
        dann_model_free(m2);
    } else {
        CHECK(0, "load: %s", err.msg);
    }
    // A value out of range is refused by name (both CRCs recomputed, so only the field is wrong),
    // and so is a lambda field in a file without a trainer.
    FILE *g = fopen(path, "rb");
    unsigned char *b = NULL;
    long len = 0;
    if (g && fseek(g, 0, SEEK_END) == 0 && (len = ftell(g)) > 324) {
        rewind(g);
        b = malloc((size_t)len);
        if (fread(b, 1, (size_t)len, g) != (size_t)len) len = 0;
    }
    if (g) fclose(g);
    const struct { int off; unsigned char v; int clear_trainer; const char *want; } bad[] = {
        {280, 2, 0, "unknown lambda schedule 2"},
        {284, 3, 0, "domain-lambda switch 3"},
        {280, 1, 1, "lambda fields set without a trainer"},
    };
    for (size_t k = 0; b && len > 324 && k < sizeof bad / sizeof *bad; k++) {
        unsigned char *e = malloc((size_t)len);
        memcpy(e, b, (size_t)len);
        e[bad[k].off] = bad[k].v;
        if (bad[k].clear_trainer) e[48] = 0;   /* flags: weights only */
        uint32_t hc = (uint32_t)crc32(0L, e, 316);
        for (int i = 0; i < 4; i++) e[316 + i] = (unsigned char)(hc >> (8 * i));
        uint32_t fc = (uint32_t)crc32(0L, e, (uInt)(len - 4));
        for (int i = 0; i < 4; i++) e[len - 4 + i] = (unsigned char)(fc >> (8 * i));
        char bp[600];
        snprintf(bp, sizeof bp, "%s/lam_bad%zu.ckpt", test_tmpdir(), k);
        FILE *w = fopen(bp, "wb");
        if (w) fwrite(e, 1, (size_t)len, w), fclose(w);
        dann_model *mb = NULL;
        dann_error e2 = {0};
        const dann_status st = ckpt_load(bp, 0, &mb, NULL, NULL, &e2);
        CHECK(st == DANN_ERR_FORMAT && strstr(e2.msg, bad[k].want) && strstr(e2.msg, bp),
              "byte %d = %d: '%s', want '%s' naming the file", bad[k].off, bad[k].v, e2.msg,
              bad[k].want);
        dann_model_free(mb);
        free(e);
    }
    CHECK(b != NULL, "could not read %s back", path);
    free(b);
    dann_trainer_free(t);
    dann_model_free(m);
}

TEST(recipe_patience_stops_early_and_resume_keeps_it) {
    // lr so small that the weights never move (paper-mnist has no BatchNorm): the source-val
    // accuracy stays that of epoch 1, so patience K ends the run after epoch 1 + K.
    dann_threads_set(1);
    dataset src, tgt;
    exp_make_ds(&src, 48, 1, 28, 10, 1, 0, "src");
    exp_make_ds(&tgt, 40, 3, 28, 10, 2, 40, "tgt");
    trainloop_data d = {&src, &tgt, NULL, NULL};
    dann_train_config cfg = exp_cfg("paper", DANN_MODE_DANN);
    cfg.lr = 1e-12;
    for (int K = 1; K <= 2; K++) {
        char dir[512], cmd[600];
        snprintf(dir, sizeof dir, "%s/pat%d", test_tmpdir(), K);
        snprintf(cmd, sizeof cmd, "mkdir -p %s", dir);
        if (system(cmd)) SKIP("mkdir");
        trainloop_opts o = exp_opts(10, 8, dir);
        o.arch = "paper-mnist";
        o.source_val = 8;
        o.patience = K;
        dann_error err = {0};
        trainloop_result r;
        CHECK(trainloop_run(&o, &cfg, &d, NULL, &r, &err) == DANN_OK, "run: %s", err.msg);
        CHECK(r.stopped_early == 1 + K && r.epochs_done == 1 + K && r.best_epoch == 1,
              "patience %d: stopped after epoch %d (done %d, best %d), want %d", K, r.stopped_early,
              r.epochs_done, r.best_epoch, 1 + K);
        char p[600];
        snprintf(p, sizeof p, "%s/summary.json", dir);
        CHECK(exp_json_num(p, "stopped_early") == 1 + K, "summary.json stopped_early %g",
              exp_json_num(p, "stopped_early"));
        double v[16];
        snprintf(p, sizeof p, "%s/metrics.jsonl", dir);
        CHECK(exp_metrics(p, "epoch", v, 16) == 1 + K, "metrics lines");
        // Resuming a run that stopped early runs nothing more.
        snprintf(p, sizeof p, "%s/last.ckpt", dir);
        o.resume = p;
        CHECK(trainloop_run(&o, NULL, &d, NULL, &r, &err) == DANN_OK, "resume: %s", err.msg);
        CHECK(r.steps_run == 0 && r.stopped_early == 1 + K && r.epochs_done == 1 + K,
              "resumed early-stopped run ran %lld steps (done %d)", (long long)r.steps_run,
              r.epochs_done);
    }
    // Without patience the same run goes the whole way; patience without a split is refused.
    trainloop_opts o = exp_opts(3, 8, NULL);
    o.arch = "paper-mnist";
    o.source_val = 8;
    dann_error err = {0};
    trainloop_result r;
    CHECK(trainloop_run(&o, &cfg, &d, NULL, &r, &err) == DANN_OK && r.epochs_done == 3 &&
              !r.stopped_early, "no patience: %d epochs", r.epochs_done);
    o.source_val = 0;
    o.patience = 2;
    CHECK(trainloop_run(&o, &cfg, &d, NULL, &r, &err) == DANN_ERR_ARG &&
              strstr(err.msg, "source-val"), "patience without a split: %s", err.msg);
    dataset_free(&src);
    dataset_free(&tgt);
}
