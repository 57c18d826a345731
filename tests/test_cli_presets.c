/* test_cli_presets.c - every preset through the `dann` binary on generated data of its own shape
 * (image folders of random PNGs at the preset's input size and class count: 28x28 and 10 classes
 * for py3 and paper-mnist, 32x32 for paper-svhn, 40x40 and 43 classes for paper-gtsrb, and the
 * user image description of preset_cases.h at 24x32 with 5 classes):
 *   train (2 steps of its recipe; the checkpoint must hold the preset unchanged, since the data
 *   fits it), eval, predict (an image of the input size and a grey one of another size), export,
 *   bench --arch (one step) and demo --arch (one step per run on the embedded sample);
 * and the shallow preset, which takes feature vectors: bench --arch, demo --arch (refused with a
 * pointer to `demo moons`), demo moons (a few hundred steps), and - once `dann train` reads
 * svmlight: files (issue 9, item 4; the test says "skipped" until then) - train and eval on
 * generated sparse vectors. Each command must exit 0 and print what it promises. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "cli_testutil.h"
#include "data_testutil.h"
#include "dann.h"
#include "io/checkpoint.h"
#include "preset_cases.h"
#include "test.h"

typedef struct {
    const char *arch, *recipe;
    int h, w, classes;
} img_case;

static const img_case IMG[] = {
    {"py3", "py3", 28, 28, 10},
    {"paper-mnist", "paper", 28, 28, 10},
    {"paper-svhn", "paper", 32, 32, 10},
    {"paper-gtsrb", "paper", 40, 40, 43},
    {USER_IMG, "paper", 24, 32, 5},
};

static uint64_t lcg(uint64_t *s) {
    *s = *s * 6364136223846793005ULL + 1442695040888963407ULL;
    return *s >> 33;
}

/* An h x w PNG (c = 3 RGB, 1 grey) of noise in [lo, lo + 100). */
static void noise_png(const char *path, int h, int w, int c, int lo, uint64_t *s) {
    const size_t n = (size_t)h * w * c;
    uint8_t *px = malloc(n);
    if (!px) abort();
    for (size_t k = 0; k < n; k++) px[k] = (uint8_t)(lo + lcg(s) % 100);
    tu_buf b = {0};
    tu_png_encode(&b, w, h, c == 3 ? PNG_COLOR_TYPE_RGB : PNG_COLOR_TYPE_GRAY, 8, 0, px, NULL, 0, NULL, 0);
    tu_write(path, b.p, b.n);
    free(b.p), free(px);
}

/* root/c<k>/<i>.png: `per` images of each class. */
static void noise_folder(const char *root, const img_case *ic, int per, int lo, uint64_t seed) {
    tu_mkdir(root);
    for (int k = 0; k < ic->classes; k++) {
        char dir[700], path[760];
        snprintf(dir, sizeof dir, "%s/c%02d", root, k);
        tu_mkdir(dir);
        for (int i = 0; i < per; i++) {
            snprintf(path, sizeof path, "%s/%d.png", dir, i);
            noise_png(path, ic->h, ic->w, 3, lo, &seed);
        }
    }
}

static int count(const char *s, const char *word) {
    int n = 0;
    for (const char *p = s; (p = strstr(p, word)); p += strlen(word)) n++;
    return n;
}

static void image_preset(const img_case *ic, int idx) {
    const char *tmp = test_tmpdir();
    char dir[600], src[700], tgt[700], run[700], ckpt[760], spec_s[760], spec_t[760];
    snprintf(dir, sizeof dir, "%s/p%d", tmp, idx);
    tu_mkdir(dir);
    snprintf(src, sizeof src, "%s/src", dir), snprintf(tgt, sizeof tgt, "%s/tgt", dir);
    snprintf(run, sizeof run, "%s/run", dir), snprintf(ckpt, sizeof ckpt, "%s/last.ckpt", run);
    noise_folder(src, ic, 2, 0, 11 + (uint64_t)idx);
    noise_folder(tgt, ic, 2, 120, 97 + (uint64_t)idx);
    snprintf(spec_s, sizeof spec_s, "folder:%s", src), snprintf(spec_t, sizeof spec_t, "folder:%s", tgt);
    const char *name = dann_net_is_preset(ic->arch) ? ic->arch : "the user description";

    const char *tr[] = {"train", "--arch", ic->arch, "--preset", ic->recipe, "--source", spec_s,
                        "--target", spec_t, "--source-test", spec_s, "--target-test", spec_t,
                        "--out", run, "--epochs", "1", "--max-steps", "2", "--batch", "4",
                        "--eval-max", "8", "--threads", "1", "--quiet", NULL};
    run_result *r = run_dann(tr);
    CHECK(r->rc == 0 && exists(ckpt), "%s: train: exit %d: %s", name, r->rc, r->err);
    if (r->rc) return;
    ckpt_info info;
    dann_error err = {0};
    dann_model *m = NULL;
    if (ckpt_peek(ckpt, &info, &err) || dann_model_new(&m, ic->arch, 1, 1, &err)) {
        CHECK(0, "%s: %s", name, err.msg);
        return;
    }
    CHECK(!strcmp(info.net, dann_model_description(m)), "%s: the checkpoint holds '%s', not the "
          "network itself '%s' (the data fits it)", name, info.net, dann_model_description(m));
    CHECK(!strcmp(info.arch, dann_net_is_preset(ic->arch) ? ic->arch : "custom"),
          "%s: checkpoint architecture '%s'", name, info.arch);
    dann_model_free(m);

    const char *ev[] = {"eval", "--model", ckpt, "--data", spec_t, "--max", "8", "--json", NULL};
    r = run_dann(ev);
    CHECK(r->rc == 0 && strstr(r->out, "\"n\": 8") && strstr(r->out, "\"accuracy\""),
          "%s: eval: exit %d: %s %s", name, r->rc, r->out, r->err);

    char a[760], g[760], wts[760], cls[16];
    snprintf(a, sizeof a, "%s/a.png", dir), snprintf(g, sizeof g, "%s/g.png", dir);
    uint64_t s = 5;
    noise_png(a, ic->h, ic->w, 3, 30, &s);
    noise_png(g, 19, 23, 1, 30, &s);
    const char *pr[] = {"predict", "--model", ckpt, a, g, NULL};
    r = run_dann(pr);
    int labels_ok = 1;
    for (const char *p = r->out; (p = strstr(p, " label ")); p += 7) labels_ok &= atoi(p + 7) < ic->classes;
    CHECK(r->rc == 0 && count(r->out, " label ") == 2 && labels_ok, "%s: predict: exit %d: %s %s",
          name, r->rc, r->out, r->err);

    snprintf(wts, sizeof wts, "%s/w.safetensors", dir);
    const char *ex[] = {"export", "--model", ckpt, wts, NULL};
    r = run_dann(ex);
    CHECK(r->rc == 0 && exists(wts), "%s: export: exit %d: %s", name, r->rc, r->err);

    const char *be[] = {"bench", "--arch", ic->arch, "--reps", "1", "--warmup", "0", "--no-epoch",
                        "--batch", "2", "--eval-batch", "2", "--threads", "1", NULL};
    r = run_dann(be);
    char head[96];
    snprintf(head, sizeof head, "dann bench: %s,", dann_net_is_preset(ic->arch) ? ic->arch : "custom");
    CHECK(r->rc == 0 && strstr(r->out, head) && strstr(r->out, "train step") && strstr(r->out, "images/s"),
          "%s: bench --arch: exit %d: %s %s", name, r->rc, r->out, r->err);

    const char *de[] = {"demo", "--arch", ic->arch, "--epochs", "1", "--max-steps", "1", "--batch",
                        "4", "--eval-max", "16", "--threads", "1", "--progress", "off", NULL};
    r = run_dann(de);
    snprintf(cls, sizeof cls, "%d outputs", ic->classes);
    if (ic->classes == 10 || dann_net_is_preset(ic->arch))
        CHECK(r->rc == 0 && strstr(r->out, "MNIST-M test (target)") && strstr(r->out, "1 epochs x 1 steps"),
              "%s: demo --arch: exit %d: %s %s", name, r->rc, r->out, r->err);
    else  /* a description whose class head does not fit the sample's 10 digits */
        CHECK_FAILS(r, 2, cls, "10 classes", "demo with a 5-class description");
}

TEST(cli_preset_py3_smoke) { image_preset(&IMG[0], 0); }
TEST(cli_preset_paper_mnist_smoke) { image_preset(&IMG[1], 1); }
TEST(cli_preset_paper_svhn_smoke) { image_preset(&IMG[2], 2); }
TEST(cli_preset_paper_gtsrb_smoke) { image_preset(&IMG[3], 3); }
TEST(cli_preset_user_description_smoke) { image_preset(&IMG[4], 4); }

/* n lines "label idx:value ..." of D features (1-based indices), labels 0/1. */
static void svmlight_file(const char *path, int n, int D, uint64_t seed) {
    FILE *f = fopen(path, "w");
    if (!f) abort();
    for (int i = 0; i < n; i++) {
        fprintf(f, "%d", i % 2);
        for (int j = 0; j < D; j++) fprintf(f, " %d:%.4f", j + 1, (double)(lcg(&seed) % 2000) / 1000.0 - 1.0);
        fprintf(f, "\n");
    }
    fclose(f);
}

TEST(cli_preset_shallow_smoke) {
    if (!dann_bin()) SKIP("build/dann not found");
    const char *be[] = {"bench", "--arch", "shallow", "--reps", "1", "--warmup", "0", "--no-epoch",
                        "--batch", "2", "--eval-batch", "2", "--threads", "1", NULL};
    run_result *r = run_dann(be);
    CHECK(r->rc == 0 && strstr(r->out, "shallow") && strstr(r->out, "train step"),
          "bench --arch shallow: exit %d: %s %s", r->rc, r->out, r->err);
    const char *de[] = {"demo", "--arch", "shallow", NULL};
    r = run_dann(de);
    CHECK_FAILS(r, 2, "feature vectors", "demo moons", "demo --arch shallow");
    char png[600];
    snprintf(png, sizeof png, "%s/moons.png", test_tmpdir());
    const char *mo[] = {"demo", "moons", "--steps", "300", "--out", png, NULL};
    r = run_dann(mo);
    CHECK(r->rc == 0 && exists(png), "demo moons: exit %d: %s", r->rc, r->err);

    const char *help[] = {"train", "--help", NULL};
    r = run_dann(help);
    if (!strstr(r->out, "svmlight:"))
        SKIP("dann train reads no svmlight: vectors yet (issue 9, item 4), so shallow's "
             "train and eval were not run (its bench, demo moons and export/import were)");
    char s[600], t[600], spec_s[620], spec_t[620], run[600], ckpt[620];
    snprintf(s, sizeof s, "%s/s.svm", test_tmpdir()), snprintf(t, sizeof t, "%s/t.svm", test_tmpdir());
    snprintf(run, sizeof run, "%s/shallow", test_tmpdir()), snprintf(ckpt, sizeof ckpt, "%s/last.ckpt", run);
    svmlight_file(s, 40, 2, 1), svmlight_file(t, 40, 2, 2);
    snprintf(spec_s, sizeof spec_s, "svmlight:%s", s), snprintf(spec_t, sizeof spec_t, "svmlight:%s", t);
    const char *tr[] = {"train", "--arch", "shallow", "--preset", "shallow", "--source", spec_s,
                        "--target", spec_t, "--out", run, "--epochs", "1", "--max-steps", "3",
                        "--threads", "1", "--quiet", NULL};
    r = run_dann(tr);
    CHECK(r->rc == 0 && exists(ckpt), "train --arch shallow on svmlight: exit %d: %s", r->rc, r->err);
    if (r->rc) return;
    const char *ev[] = {"eval", "--model", ckpt, "--data", spec_t, "--json", NULL};
    r = run_dann(ev);
    CHECK(r->rc == 0 && strstr(r->out, "\"accuracy\""), "eval of shallow: exit %d: %s %s", r->rc,
          r->out, r->err);
}
