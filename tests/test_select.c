/* test_select.c - model selection without target labels (src/cli/select*.c, revval.c):
 *   - entropy, SND and DEV's risk against numpy (tests/fixtures/select_scores.txt, made by
 *     tools/make_select_fixtures.py with the authors' formulas), DEV's risk by hand;
 *   - DEV's density ratio where it is known: Gaussian features N(0,1) against N(1,1), whose
 *     ratio is exp(x - 1/2);
 *   - reverse validation: a model right on both domains scores near 1, the same model with its
 *     class outputs rotated near 0, one that calls everything one class at chance;
 *   - the rules inside a run: one score per evaluated epoch, the choice is the best one (ties
 *     to the first), best-<rule>.ckpt holds it, and an interrupted, resumed run chooses the same. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "cli/extutil.h"
#include "cli/select.h"
#include "exp_testutil.h"
#include "io/checkpoint.h"
#include "model/evaluate.h"
#include "test.h"

TEST(select_scores_match_numpy) {
    FILE *f = fopen("tests/fixtures/select_scores.txt", "r");
    if (!f) {
        CHECK(0, "tests/fixtures/select_scores.txt missing (tools/make_select_fixtures.py)");
        return;
    }
    int n = 0, C = 0, m = 0;
    double ent = 0, snd = 0, dev = 0;
    int ok = fscanf(f, "%d %d", &n, &C) == 2 && n > 1 && n <= 1000 && C > 1 && C <= 100;
    float *lp = ok ? malloc(sizeof(float) * (size_t)n * C) : NULL;
    for (int i = 0; ok && i < n * C; i++) ok = fscanf(f, "%f", &lp[i]) == 1;
    ok = ok && fscanf(f, " entropy %lf snd %lf %d", &ent, &snd, &m) == 3 && m > 1 && m <= 1000;
    double *w = ok ? malloc(sizeof(double) * (size_t)m) : NULL, *l = ok ? malloc(sizeof(double) * (size_t)m) : NULL;
    for (int i = 0; ok && i < m; i++) ok = fscanf(f, "%lf %lf", &w[i], &l[i]) == 2;
    ok = ok && fscanf(f, " dev %lf", &dev) == 1;
    fclose(f);
    CHECK(ok, "malformed fixture");
    if (ok) {
        const double e = select_entropy(lp, n, C), s = select_snd(lp, n, C, 0.05),
                     r = select_dev_risk(w, l, m);
        CHECK(fabs(e - ent) <= 1e-9 * fabs(ent), "entropy %.12g, numpy %.12g", e, ent);
        CHECK(fabs(s - snd) <= 1e-9 * fabs(snd), "SND %.12g, numpy %.12g", s, snd);
        CHECK(fabs(r - dev) <= 1e-9 * fabs(dev), "DEV risk %.12g, numpy %.12g", r, dev);
    }
    free(lp), free(w), free(l);
}

TEST(select_dev_risk_by_hand) {
    // Equal weights: no correction, the risk is the mean loss (cov = 0).
    double w[4] = {1, 1, 1, 1}, l[4] = {0.5, 1.5, 2.0, 4.0};
    CHECK(fabs(select_dev_risk(w, l, 4) - 2.0) < 1e-12, "risk %g, want 2", select_dev_risk(w, l, 4));
    // Two examples, w = (0.5, 1.5), l = (2, 2): wl = (1, 3), mean 2; cov(wl, w) = 1, var(w) = 0.5,
    // eta = -2; risk = 2 + (-2)(1) - (-2) = 2: the control variate removes the weights' noise.
    double w2[2] = {0.5, 1.5}, l2[2] = {2, 2};
    CHECK(fabs(select_dev_risk(w2, l2, 2) - 2.0) < 1e-12, "risk %g, want 2", select_dev_risk(w2, l2, 2));
}

TEST(select_dev_weights_recover_a_known_density_ratio) {
    // Source features N(0, 1), target N(1, 1), as many of each: p_t/p_s = exp(x - 1/2), which a
    // logistic regression on x represents exactly.
    const int n = 3000, nv = 200;
    float *fs = malloc(sizeof(float) * n), *ft = malloc(sizeof(float) * n), *fv = malloc(sizeof(float) * nv);
    double *w = malloc(sizeof(double) * nv);
    dann_rng r;
    rng_seed(&r, 77);
    for (int i = 0; i < n; i++) {
        const double u1 = rng_uniform(&r) + 1e-12, u2 = rng_uniform(&r);
        const double g1 = sqrt(-2 * log(u1)) * cos(6.283185307179586 * u2);
        const double g2 = sqrt(-2 * log(u1)) * sin(6.283185307179586 * u2);
        fs[i] = (float)g1, ft[i] = (float)(g2 + 1.0);
    }
    for (int i = 0; i < nv; i++) fv[i] = (float)(-1.0 + 3.0 * i / (nv - 1));  /* x in [-1, 2] */
    dann_error err = {0};
    double C;
    CHECK(select_dev_weights(fs, n, ft, n, fv, nv, 1, 5, w, &C, &err) == DANN_OK, "%s", err.msg);
    double worst = 0;
    for (int i = 0; i < nv; i++) {
        const double e = fabs(log(w[i]) - (fv[i] - 0.5));
        if (e > worst) worst = e;
    }
    CHECK(worst < 0.15, "log density ratio off exp(x - 1/2) by up to %.3f (C %g)", worst, C);
    // Twice as many source features as target ones: the classifier's odds carry the prior nt/ns,
    // which the factor ns/nt takes out again; the ratio is still exp(x - 1/2).
    CHECK(select_dev_weights(fs, n, ft, n / 2, fv, nv, 1, 5, w, &C, &err) == DANN_OK, "%s", err.msg);
    worst = 0;
    for (int i = 0; i < nv; i++) {
        const double e = fabs(log(w[i]) - (fv[i] - 0.5));
        if (e > worst) worst = e;
    }
    CHECK(worst < 0.15, "unbalanced: log density ratio off by up to %.3f (C %g)", worst, C);
    free(fs), free(ft), free(fv), free(w);
}

TEST(select_dev_finite_when_the_domains_separate) {
    // 64-dimensional features that a linear classifier separates with a wide margin (source near
    // -1, target near +1 in every dimension), and validation features far out on both sides: the
    // classifier's probabilities reach 0 and 1 in double, and p_t/p_s with them. The weights and
    // the risk must stay finite (a paper-mnist run chose an epoch by a NaN DEV score: weights of
    // 1e300 overflowed the risk's products).
    const int n = 300, nv = 41, d = 64;
    float *fs = malloc(sizeof(float) * n * d), *ft = malloc(sizeof(float) * n * d);
    float *fv = malloc(sizeof(float) * nv * d);
    double *w = malloc(sizeof(double) * nv), *l = malloc(sizeof(double) * nv);
    dann_rng r;
    rng_seed(&r, 5);
    for (int i = 0; i < n * d; i++) {
        fs[i] = (float)(-1.0 + 0.2 * rng_uniform(&r));
        ft[i] = (float)(1.0 - 0.2 * rng_uniform(&r));
    }
    for (int i = 0; i < nv; i++) {
        for (int k = 0; k < d; k++) fv[i * d + k] = (float)(-100.0 + 200.0 * i / (nv - 1));
        l[i] = 0.1 + 3.0 * (i % 3);
    }
    dann_error err = {0};
    CHECK(select_dev_weights(fs, n, ft, n, fv, nv, d, 3, w, NULL, &err) == DANN_OK, "%s", err.msg);
    int finite = 1;
    for (int i = 0; i < nv; i++) finite = finite && isfinite(w[i]) && w[i] >= 0;
    CHECK(finite, "a weight is not finite or negative");
    CHECK(w[0] < w[nv - 1], "the weights do not grow towards the target (%g, %g)", w[0], w[nv - 1]);
    const double risk = select_dev_risk(w, l, nv);
    CHECK(isfinite(risk), "DEV risk %g", risk);
    free(fs), free(ft), free(fv), free(w), free(l);
}

/* ---- reverse validation -------------------------------------------------------------------- */

#define RV_NET "in 3x8x8; features: fc(32) relu; class: fc(4); domain: fc(2)"

TEST(select_reverse_validation_known_answers) {
    dann_threads_set(1);
    dataset src, tgt, val;
    exp_make_ds(&src, 240, 3, 8, 4, 11, 0, "src");
    exp_make_ds(&tgt, 240, 3, 8, 4, 12, 30, "tgt");
    exp_make_ds(&val, 80, 3, 8, 4, 13, 0, "val");
    trainloop_data d = {&src, &tgt, NULL, &tgt};
    trainloop_opts o = exp_opts(6, 16, NULL);
    o.arch = RV_NET;
    dann_train_config cfg = exp_cfg("py3", DANN_MODE_SOURCE_ONLY);
    dann_error err = {0};
    trainloop_result res;
    dann_model *m = NULL;
    if (trainloop_run(&o, &cfg, &d, &m, &res, &err) != DANN_OK) {
        CHECK(0, "training the right model: %s", err.msg);
        goto out;
    }
    eval_result ev, et;
    model_evaluate(m, &val, 0, NULL, NULL, &ev, &err);
    model_evaluate(m, &tgt, 0, NULL, NULL, &et, &err);
    CHECK(ev.accuracy > 0.97 && et.accuracy > 0.97, "precondition: the model is right on both "
          "domains (source %.3f, target %.3f)", ev.accuracy, et.accuracy);
    int32_t ti[240], si[240];
    for (int i = 0; i < 240; i++) ti[i] = si[i] = i;
    double right = -1, rotated = -1, constant = -1;
    dann_train_config rc = exp_cfg("py3", DANN_MODE_DANN);
    CHECK(select_reverse_score(m, &rc, 1e-3f, 0.1f, &tgt, ti, 240, &src, si, 240, &val, 30, 16, 3,
                               &right, &err) == DANN_OK, "%s", err.msg);
    // The same model with its class outputs rotated by one: its target labels are all wrong.
    dann_model *w = NULL;
    ext_clone(&w, m, 16, &err);
    const int nt = dann_model_tensors(w, 0, NULL);
    float *p = dann_model_params(w, NULL);
    for (int i = 0; i < nt; i++) {
        dann_tensor_info t;
        dann_model_tensors(w, i, &t);
        if (strncmp(t.name, "class_classifier.c_fc1.", 23)) continue;
        const size_t row = t.numel / 4;  /* weight (4, 32) or bias (4) */
        float tmp[32];
        memcpy(tmp, p + t.offset + 3 * row, row * sizeof(float));
        memmove(p + t.offset + row, p + t.offset, 3 * row * sizeof(float));
        memcpy(p + t.offset, tmp, row * sizeof(float));
    }
    CHECK(select_reverse_score(w, &rc, 1e-3f, 0.1f, &tgt, ti, 240, &src, si, 240, &val, 30, 16, 3,
                               &rotated, &err) == DANN_OK, "%s", err.msg);
    dann_model_free(w);
    // A model that calls every image class 2 (class head weights 0, bias 10 on class 2): its
    // target labels are right for a quarter of the images; chance is 1/4.
    ext_clone(&w, m, 16, &err);
    p = dann_model_params(w, NULL);
    for (int i = 0; i < nt; i++) {
        dann_tensor_info t;
        dann_model_tensors(w, i, &t);
        if (strncmp(t.name, "class_classifier.c_fc1.", 23)) continue;
        memset(p + t.offset, 0, t.numel * sizeof(float));
        if (t.ndim == 1) p[t.offset + 2] = 10.0f;
    }
    CHECK(select_reverse_score(w, &rc, 1e-3f, 0.1f, &tgt, ti, 240, &src, si, 240, &val, 30, 16, 3,
                               &constant, &err) == DANN_OK, "%s", err.msg);
    dann_model_free(w);
    CHECK(right > 0.95, "right model: reverse validation %.3f, want near 1", right);
    CHECK(rotated < 0.1, "rotated labels: reverse validation %.3f, want near 0", rotated);
    CHECK(fabs(constant - 0.25) < 0.05, "one-class model: reverse validation %.3f, want chance "
          "(0.25)", constant);
    // The model itself is left as it was.
    eval_result again;
    model_evaluate(m, &val, 0, NULL, NULL, &again, &err);
    CHECK(again.correct == ev.correct, "reverse validation changed the model");
out:
    dann_model_free(m);
    dataset_free(&src), dataset_free(&tgt), dataset_free(&val);
}

/* ---- the rules in a run --------------------------------------------------------------------- */

static int run_with_rules(const char *dir, int stop_after, const char *resume, trainloop_result *r,
                          dann_error *err) {
    static dataset src, tgt, tte;
    static int made;
    if (!made) {
        exp_make_ds(&src, 96, 1, 28, 10, 21, 0, "src");
        exp_make_ds(&tgt, 80, 3, 28, 10, 22, 40, "tgt");
        exp_make_ds(&tte, 40, 3, 28, 10, 23, 40, "tgt-test");
        made = 1;
    }
    trainloop_data d = {&src, &tgt, NULL, &tte};
    trainloop_opts o = exp_opts(4, 16, dir);
    o.arch = "paper-mnist";
    o.source_val = 16;
    o.stop_after_steps = stop_after;
    o.resume = resume;
    select_opts so;
    select_parse(&so, "val,rev:4,dev,ent,snd", err);
    so.n_sel = 40;
    select_state *s;
    select_new(&s, &so, err);
    trainloop_ext x = select_ext(s);
    o.ext = &x;
    o.n_ext = 1;
    dann_train_config cfg = exp_cfg("py3", DANN_MODE_DANN);
    const dann_status st = trainloop_run(&o, resume ? NULL : &cfg, &d, NULL, r, err);
    select_free(s);
    return st;
}

TEST(select_rules_choose_the_best_epoch_and_survive_resume) {
    dann_threads_set(1);
    char a[512], b[512], cmd[1200];
    snprintf(a, sizeof a, "%s/sel_a", test_tmpdir());
    snprintf(b, sizeof b, "%s/sel_b", test_tmpdir());
    snprintf(cmd, sizeof cmd, "mkdir -p %s %s", a, b);
    if (system(cmd)) SKIP("mkdir");
    dann_error err = {0};
    trainloop_result r;
    CHECK(run_with_rules(a, 0, NULL, &r, &err) == DANN_OK, "run: %s", err.msg);
    // b: stopped in the middle of epoch 2, then resumed.
    const int S = r.steps_per_epoch;
    CHECK(run_with_rules(b, S + S / 2, NULL, &r, &err) == DANN_ERR_INTERRUPTED, "stop: %s", err.msg);
    char resume[600];
    snprintf(resume, sizeof resume, "%s/last.ckpt", b);
    CHECK(run_with_rules(b, 0, resume, &r, &err) == DANN_OK, "resume: %s", err.msg);
    const char *rules[5] = {"val", "rev", "dev", "ent", "snd"};
    const int higher[5] = {1, 1, 0, 0, 1};
    char pa[600], pb[600], key[64];
    for (int k = 0; k < 5; k++) {
        double v[8];
        snprintf(pa, sizeof pa, "%s/metrics.jsonl", a);
        snprintf(key, sizeof key, "sel_%s", rules[k]);
        const int n = exp_metrics(pa, key, v, 8);
        CHECK(n == 4, "%s: %d metrics lines", rules[k], n);
        int best = 0;
        for (int e = 0; e < n; e++) {
            CHECK(!isnan(v[e]), "%s missing at epoch %d", key, e + 1);
            if (higher[k] ? v[e] > v[best] : v[e] < v[best]) best = e;
        }
        snprintf(pa, sizeof pa, "%s/summary.json", a);
        snprintf(key, sizeof key, "select_%s_epoch", rules[k]);
        const double ea = exp_json_num(pa, key);
        CHECK(ea == best + 1, "%s chose epoch %g, its best score is at epoch %d", rules[k], ea, best + 1);
        snprintf(pb, sizeof pb, "%s/summary.json", b);
        CHECK(exp_json_num(pb, key) == ea, "%s after resume: epoch %g, uninterrupted %g", rules[k],
              exp_json_num(pb, key), ea);
        snprintf(key, sizeof key, "select_%s_score", rules[k]);
        CHECK(exp_json_num(pb, key) == exp_json_num(pa, key), "%s score after resume %.10g vs %.10g",
              rules[k], exp_json_num(pb, key), exp_json_num(pa, key));
        // best-<rule>.ckpt holds that epoch
        char ck[600];
        snprintf(ck, sizeof ck, "%s/best-%s.ckpt", a, rules[k]);
        ckpt_info info;
        CHECK(ckpt_peek(ck, &info, &err) == DANN_OK && (int)info.meta.epoch == best + 1 &&
                  !info.has_trainer, "%s: %s (epoch %u)", ck, err.msg, info.meta.epoch);
    }
    // The entropy of best-ent.ckpt on the selection set is the chosen score.
    snprintf(pa, sizeof pa, "%s/best-ent.ckpt", a);
    dann_model *m = NULL;
    if (ckpt_load(pa, 16, &m, NULL, NULL, &err) == DANN_OK) {
        dataset tgt;
        exp_make_ds(&tgt, 80, 3, 28, 10, 22, 40, "tgt");
        int32_t idx[40];
        ext_pick(idx, 40, 80, trainloop_seed(5, 6));
        float *lp = NULL;
        ext_predict(m, &tgt, idx, 40, 0, &lp, NULL, &err);
        snprintf(pb, sizeof pb, "%s/summary.json", a);
        const double want = exp_json_num(pb, "select_ent_score"), got = select_entropy(lp, 40, 10);
        CHECK(fabs(got - want) < 1e-9, "best-ent.ckpt entropy %.10g, chosen score %.10g", got, want);
        free(lp);
        dataset_free(&tgt);
        dann_model_free(m);
    } else {
        CHECK(0, "%s", err.msg);
    }
}

TEST(select_parse_rules) {
    select_opts o;
    dann_error err = {0};
    CHECK(select_parse(&o, "val,rev:250,snd", &err) == DANN_OK && o.on[SEL_VAL] && o.on[SEL_REV] &&
              o.on[SEL_SND] && !o.on[SEL_DEV] && !o.on[SEL_ENT] && o.rev_steps == 250,
          "val,rev:250,snd: %s", err.msg);
    char buf[128];
    select_format(buf, sizeof buf, &o);
    CHECK(!strcmp(buf, "val,rev:250,snd"), "canonical '%s'", buf);
    CHECK(select_parse(&o, "all", &err) == DANN_OK && o.on[SEL_DEV] && o.on[SEL_ENT] &&
              o.rev_steps == SELECT_REV_STEPS, "all");
    CHECK(select_parse(&o, "val,oracle", &err) == DANN_ERR_ARG && strstr(err.msg, "oracle"),
          "unknown rule: %s", err.msg);
    CHECK(select_parse(&o, "dev:3", &err) == DANN_ERR_ARG && strstr(err.msg, "only rev"),
          "a number on dev: %s", err.msg);
    CHECK(select_parse(&o, "", &err) == DANN_ERR_ARG, "empty");
}
