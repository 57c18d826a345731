/* test_cli_diverge.c - runs that go wrong, and what they leave (README "Reliability"):
 *   - a learning rate that explodes the loss while it stays finite (--lr 10 and 1000, Adam and
 *     SGD, on the embedded demo data) stops the run with one line naming the step, instead of
 *     an exit 0 with a useless checkpoint; a NaN stops it too;
 *   - a class loss that explodes in epoch 2 (a hook scales the class head) stops it there, and
 *     the message's claim about last.ckpt is true (it holds epoch 1 and loads);
 *   - a NaN made by the last update of an epoch (its loss was finite) never reaches last.ckpt,
 *     at an epoch's end or on an interruption;
 *   - a first save that fails (a file-size limit: a full disk) leaves no metrics line for an
 *     epoch last.ckpt does not hold, so the next --out run on that folder starts;
 *   - NaN weights do not load into eval or predict, and predict --json never prints a bare nan
 *     (a model whose outputs are not finite gets null probabilities and a non-zero exit). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "ckpt_testutil.h"
#include "cli/trainloop.h"
#include "data_testutil.h"
#include "exp_testutil.h"
#include "io/checkpoint.h"
#include "run_testutil.h"

static char g_src[4200], g_tgt[4200];

/* `dann train` on the demo data into run: 2 epochs of 12 steps of 32 + 32 images, 1 thread,
 * plus the NULL-terminated extra arguments. */
static run_result *demo_train(const char *run, const char *const *extra, const run_opts *o) {
    const char *args[40] = {"train", "--source", g_src, "--target", g_tgt, "--epochs", "2",
                            "--batch", "32", "--max-steps", "12", "--eval-max", "100",
                            "--threads", "1", "--quiet", "--out", run};
    int n = 18;
    for (int k = 0; extra && extra[k] && n < 39; k++) args[n++] = extra[k];
    args[n] = NULL;
    static const run_opts none = {0};
    return run_dann_opts(o ? o : &none, args);
}

TEST(cli_train_divergence_stops_with_the_step) {
    if (!dann_bin() || demo_specs(g_src, g_tgt, sizeof g_src)) SKIP("no dann binary or no data/demo");
    const char *dir = test_tmpdir();
    /* measured on the demo data (batch 32, seed 1, 1 thread): Adam at lr 10 has class losses
     * 4179, 1854, 848, ... and at 1000 above 1e6 for the first 10 steps; SGD with py3's network
     * at 1000 likewise; SGD with paper-mnist at 10 reaches NaN at step 5 */
    const struct { const char *args[7], *words[2]; } cases[] = {
        {{"--lr", "10", NULL}, {"diverged", "epoch 1 step 11"}},
        {{"--lr", "1000", NULL}, {"diverged", "epoch 1 step 11"}},
        {{"--preset", "paper", "--arch", "py3", "--lr", "1000", NULL}, {"diverged", "epoch 1 step 11"}},
        {{"--preset", "paper", "--lr", "10", NULL}, {"diverged", "not finite"}},
    };
    for (size_t k = 0; k < sizeof cases / sizeof *cases; k++) {
        char run[600];
        snprintf(run, sizeof run, "%s/r%zu", dir, k);
        run_result *r = demo_train(run, cases[k].args, NULL);
        const char *nl = strchr(r->err, '\n');
        CHECK(r->rc == 1 && nl && nl[1] == 0, "case %zu: exit %d (want 1, one line): %s", k, r->rc,
              r->err);
        CHECK(strstr(r->err, cases[k].words[0]) && strstr(r->err, cases[k].words[1]) &&
              strstr(r->err, "no checkpoint was written"), "case %zu: message: %s", k, r->err);
        CHECK(!exists(pathf(run, "last.ckpt")) && file_lines(pathf(run, "metrics.jsonl")) <= 0,
              "case %zu: a diverged first epoch left last.ckpt or metrics", k);
    }
    /* the default learning rate on the same data: no false alarm */
    run_result *r = demo_train(pathf(dir, "ok"), NULL, NULL);
    CHECK(r->rc == 0, "py3 at its own lr: exit %d: %s", r->rc, r->err);
}

/* ---- library level: what last.ckpt keeps ---- */

typedef struct {
    int epoch, step;           /* when (0-based) */
    const char *tensor;        /* whose values */
    float scale, set;          /* multiply by scale (when != 0), else set to `set` */
} poison;

static void poison_hook(void *ctx, dann_model *m, int epoch, int step, const int32_t *is, int Bs,
                        const int32_t *it, int Bt) {
    (void)is, (void)Bs, (void)it, (void)Bt;
    const poison *p = ctx;
    if (epoch != p->epoch || step != p->step) return;
    float *w = dann_model_params(m, NULL);
    for (int i = 0; i < dann_model_tensors(m, 0, NULL); i++) {
        dann_tensor_info ti;
        dann_model_tensors(m, i, &ti);
        if (strcmp(ti.name, p->tensor)) continue;
        for (size_t k = 0; k < ti.numel; k++)
            w[ti.offset + k] = p->scale != 0 ? w[ti.offset + k] * p->scale : p->set;
    }
}

/* Runs 3 epochs of 13 steps (200 + 200 images at batch 16) with the poison; returns the status
 * and checks that last.ckpt (when want_epoch >= 0) loads and holds epoch want_epoch, and that
 * metrics.jsonl has that many lines. */
static dann_status poisoned_run(const poison *p, dann_mode mode, int64_t stop_after, int want_epoch,
                                char *msg, size_t cap) {
    dann_threads_set(1);
    dataset src, tgt;
    exp_make_ds(&src, 200, 1, 28, 10, 61, 0, "src");
    exp_make_ds(&tgt, 200, 3, 28, 10, 62, 40, "tgt");
    trainloop_data d = {&src, &tgt, NULL, NULL};
    char dir[512];
    snprintf(dir, sizeof dir, "%s", test_tmpdir());
    trainloop_opts o = exp_opts(3, 16, dir);
    o.on_batch = poison_hook;
    o.hook_ctx = (void *)p;
    o.stop_after_steps = stop_after;
    dann_train_config cfg = exp_cfg("py3", mode);
    dann_error err = {0};
    trainloop_result r;
    dann_status st = trainloop_run(&o, &cfg, &d, NULL, &r, &err);
    snprintf(msg, cap, "%s", err.msg);
    CHECK(!strchr(err.msg, '\n'), "message is not one line: %s", err.msg);
    char ckpt[600];
    snprintf(ckpt, sizeof ckpt, "%s/last.ckpt", dir);
    if (want_epoch >= 0) {
        dann_model *m = NULL;
        dann_trainer *t = NULL;
        ckpt_meta *meta = calloc(1, sizeof *meta);
        CHECK(ckpt_load(ckpt, 0, &m, &t, meta, &err) == DANN_OK && meta->epoch == (uint32_t)want_epoch &&
              meta->step_in_epoch == 0, "last.ckpt should load and hold the end of epoch %d: %s "
              "(epoch %u step %u)", want_epoch, err.msg, meta->epoch, meta->step_in_epoch);
        CHECK(strstr(msg, ckpt), "the message should name %s: %s", ckpt, msg);
        dann_trainer_free(t), dann_model_free(m), free(meta);
    }
    CHECK(file_lines(pathf(dir, "metrics.jsonl")) == (want_epoch > 0 ? want_epoch : -1) ||
          (want_epoch <= 0 && file_lines(pathf(dir, "metrics.jsonl")) <= 0),
          "metrics.jsonl has %d lines, last.ckpt epoch %d", file_lines(pathf(dir, "metrics.jsonl")),
          want_epoch);
    dataset_free(&src), dataset_free(&tgt);
    return st;
}

TEST(cli_train_divergence_in_epoch_2_keeps_epoch_1) {
    /* class head scaled by 1e4 before epoch 2's first step: its loss jumps to hundreds and
     * stays there (Adam moves each weight by about lr = 1e-3 a step) */
    const poison p = {1, 0, "class_classifier.c_fc3.weight", 1e4f, 0};
    char msg[512];
    dann_status st = poisoned_run(&p, DANN_MODE_DANN, 0, 1, msg, sizeof msg);
    CHECK(st == DANN_ERR_NUMERIC && strstr(msg, "epoch 2 step 10") && strstr(msg, "diverged") &&
          strstr(msg, "keeps the state after epoch 1"), "status %d: %s", st, msg);
}

TEST(cli_train_nan_from_the_last_update_never_saved) {
    /* Source-only training never runs the domain head: a NaN there (as a last update of an
     * epoch could make) leaves every loss finite. At the end of epoch 2 it must not be saved. */
    const poison p = {1, 12, "domain_classifier.d_fc1.weight", 0, NAN};
    char msg[512];
    dann_status st = poisoned_run(&p, DANN_MODE_SOURCE_ONLY, 0, 1, msg, sizeof msg);
    CHECK(st == DANN_ERR_NUMERIC && strstr(msg, "epoch 2 step 13") &&
          strstr(msg, "domain_classifier.d_fc1.weight") && strstr(msg, "not saved") &&
          strstr(msg, "keeps the state after epoch 1"), "status %d: %s", st, msg);
    /* nor on an interruption in the middle of epoch 2 (after 13 + 3 steps) */
    const poison q = {1, 1, "domain_classifier.d_fc1.weight", 0, NAN};
    st = poisoned_run(&q, DANN_MODE_SOURCE_ONLY, 16, 1, msg, sizeof msg);
    CHECK(st == DANN_ERR_NUMERIC && strstr(msg, "epoch 2 step 3") && strstr(msg, "not saved"),
          "interrupted: status %d: %s", st, msg);
    /* in epoch 1 nothing has been saved, and the message says so */
    const poison e1 = {0, 12, "domain_classifier.d_fc1.weight", 0, INFINITY};
    st = poisoned_run(&e1, DANN_MODE_SOURCE_ONLY, 0, -1, msg, sizeof msg);
    CHECK(st == DANN_ERR_NUMERIC && strstr(msg, "no checkpoint was written"), "epoch 1: %s", msg);
}

/* ---- a failed first save ---- */

TEST(cli_train_failed_first_save_leaves_the_folder_usable) {
    if (!dann_bin() || demo_specs(g_src, g_tgt, sizeof g_src)) SKIP("no dann binary or no data/demo");
    const char *dir = test_tmpdir();
    char run[600];
    snprintf(run, sizeof run, "%s/run", dir);
    /* 1 MB: run.json and the metrics line fit, the 3 MB checkpoint does not */
    const run_opts full = {.fsize_limit = 1 << 20};
    static const char *const two[] = {"--max-steps", "2", NULL};
    run_result *r = demo_train(run, two, &full);
    const char *nl = strchr(r->err, '\n');
    CHECK(r->rc == 1 && nl && nl[1] == 0 && strstr(r->err, "last.ckpt") && strstr(r->err, "not saved"),
          "failed save: exit %d: %s", r->rc, r->err);
    CHECK(!exists(pathf(run, "last.ckpt")) && !exists(pathf(run, "last.ckpt.tmp")),
          "a failed save left a checkpoint file");
    CHECK(file_lines(pathf(run, "metrics.jsonl")) <= 0, "metrics.jsonl keeps %d lines of an epoch "
          "that was never saved", file_lines(pathf(run, "metrics.jsonl")));
    /* the same command with room: it starts (it is not told to --resume a missing file) */
    r = demo_train(run, two, NULL);
    CHECK(r->rc == 0 && file_lines(pathf(run, "metrics.jsonl")) == 2 && exists(pathf(run, "last.ckpt")),
          "the next run in that folder: exit %d: %s", r->rc, r->err);
}

/* ---- NaN weights and non-finite outputs ---- */

TEST(cli_nan_weights_refused_and_predict_json_never_nan) {
    if (!dann_bin()) SKIP("no dann binary");
    const char *dir = test_tmpdir();
    char png[600], nan_ckpt[600], huge_ckpt[600];
    snprintf(png, sizeof png, "%s/seven.png", dir);
    snprintf(nan_ckpt, sizeof nan_ckpt, "%s/nan.ckpt", dir);
    snprintf(huge_ckpt, sizeof huge_ckpt, "%s/huge.ckpt", dir);
    const uint8_t colour[3] = {40, 200, 90};
    tu_png_solid(png, 28, 28, 3, colour);
    dann_model *m;
    dann_error err;
    if (dann_model_new(&m, "py3", 1, 8, &err)) {
        CHECK(0, "model: %s", err.msg);
        return;
    }
    CHECK(ckpt_save(nan_ckpt, m, NULL, NULL, &err) == DANN_OK, "save: %s", err.msg);
    /* The class head's last weights at 3e38, finite: every logit overflows to +inf and the
     * log-softmax gives inf - inf = NaN. The checkpoint is valid; its outputs are not. */
    float *w = dann_model_params(m, NULL);
    for (int i = 0; i < dann_model_tensors(m, 0, NULL); i++) {
        dann_tensor_info ti;
        dann_model_tensors(m, i, &ti);
        if (!strcmp(ti.name, "class_classifier.c_fc3.weight"))
            for (size_t k = 0; k < ti.numel; k++) w[ti.offset + k] = 3e38f;
    }
    CHECK(ckpt_save(huge_ckpt, m, NULL, NULL, &err) == DANN_OK, "save: %s", err.msg);
    dann_model_free(m);
    /* a NaN weight written by hand (CRCs recomputed): eval and predict refuse the file */
    size_t len;
    unsigned char *b = read_all(nan_ckpt, &len);
    if (b) {
        set_f32(b + 320 + le32(b + 272) + 4 * 10, NAN);
        fix_crcs(b, len);
        write_all(nan_ckpt, b, len);
        free(b);
    }
    static const run_opts none = {0};
    const char *pa[] = {"predict", "--model", nan_ckpt, "--json", png, NULL};
    run_result *r = run_dann_opts(&none, pa);
    CHECK(r->rc == 1 && strstr(r->err, nan_ckpt) && strstr(r->err, "non-finite") && !r->out[0],
          "predict with a NaN weight: exit %d, out '%s', err %s", r->rc, r->out, r->err);
    const char *ea[] = {"eval", "--model", nan_ckpt, "--data", "mnist:/nonexistent", NULL};
    r = run_dann_opts(&none, ea);
    CHECK(r->rc == 1 && strstr(r->err, nan_ckpt) && strstr(r->err, "non-finite"),
          "eval with a NaN weight: exit %d: %s", r->rc, r->err);
    /* outputs that are not finite: valid JSON (null), a line on stderr, exit 1 */
    const char *ph[] = {"predict", "--model", huge_ckpt, "--json", png, png, NULL};
    r = run_dann_opts(&none, ph);
    CHECK(!strstr(r->out, "nan") && !strstr(r->out, "inf") && strstr(r->out, "null") &&
          strstr(r->out, "]}\n"), "predict --json printed: %s", r->out);
    CHECK(r->rc == 1 && strstr(r->err, png) && strstr(r->err, "not finite"),
          "predict --json with non-finite outputs: exit %d: %s", r->rc, r->err);
}
