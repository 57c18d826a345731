/* test_cli_data.c - image data and training options of `dann train`, `eval` and `predict`
 * (src/cli/domains.c, src/data/classes.c), on folders of PNG and JPEG files generated here:
 *   - a 20-class folder of 64x64 images trains with the class count of the data; eval and
 *     predict name the classes; paper-svhn trains on 32x32 RGB folder: / images: sets;
 *   - classes are matched by name (a test folder lacking a class keeps its labels; an unknown
 *     class is refused naming both folders);
 *   - normalisation choices (auto = the data's own mean/std, given values) are stored and used;
 *     predict gives the numbers eval computes, on the same grey images;
 *   - --eval-max samples a folder across its classes; split:F holds out a disjoint seeded part;
 *   - --iters-per-epoch (resumable bit for bit), --lambda-max / --gamma, source-only without a
 *     target, train.log. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "cli/domains.h"
#include "cli/trainloop.h"
#include "cli_testutil.h"
#include "data_testutil.h"
#include "io/checkpoint.h"
#include "model/evaluate.h"
#include "test.h"

/* A folder of n_cls classes ("c00", ...; first_cls shifts the names), `per` images each of
 * h x w with c channels; class k's brightness is 20 + 200 k / n_cls plus noise; every third
 * image is a JPEG. labelled = 0 writes every image into dir itself (images:). */
static void make_folder(const char *dir, int n_cls, int first_cls, int per, int h, int w, int c,
                        int labelled, uint32_t seed) {
    char sub[900], file[1000];
    tu_mkdir(dir);
    uint8_t *px = malloc((size_t)h * w * c);
    uint32_t s = seed * 2654435761u + 1;
    for (int k = 0; k < n_cls; k++) {
        snprintf(sub, sizeof sub, "%s/c%02d", dir, k + first_cls);
        if (labelled) tu_mkdir(sub);
        for (int i = 0; i < per; i++) {
            for (int p = 0; p < h * w * c; p++) {
                s = s * 1664525u + 1013904223u;
                int v = 20 + 200 * (k + first_cls) / (n_cls + first_cls) + (int)(s >> 28);
                px[p] = (uint8_t)(v > 255 ? 255 : v);
            }
            snprintf(file, sizeof file, "%s/%s%d.%s", labelled ? sub : dir, labelled ? "" : sub + strlen(dir) + 1,
                     i, i % 3 == 2 ? "jpg" : "png");
            if (i % 3 == 2) {
                tu_jpeg_write(file, w, h, c, px, 95);
            } else {
                tu_buf b = {0};
                tu_png_encode(&b, w, h, c == 3 ? PNG_COLOR_TYPE_RGB : PNG_COLOR_TYPE_GRAY, 8, 0, px,
                              NULL, 0, NULL, 0);
                tu_write(file, b.p, b.n);
                free(b.p);
            }
        }
    }
    free(px);
}

static char *spec(const char *kind, const char *dir) {
    static char bufs[8][1024];
    static int k;
    char *b = bufs[k++ % 8];
    snprintf(b, sizeof bufs[0], "%s:%s", kind, dir);
    return b;
}

static const char *kv_of(const char *ckpt, const char *key, char *out, size_t cap) {
    static ckpt_info info;
    dann_error err = {0};
    out[0] = 0;
    if (ckpt_peek(ckpt, &info, &err) || !ckpt_kv_get(info.meta.kv, key, out, cap)) return NULL;
    return out;
}

/* ---- the done-means --------------------------------------------------------------- */

TEST(cli_data_twenty_classes_from_the_data) {
    if (!dann_bin()) SKIP("build/dann not found");
    const char *dir = test_tmpdir();
    char a[700], b[700], run[700];
    snprintf(a, sizeof a, "%s/A", dir);
    snprintf(b, sizeof b, "%s/B", dir);
    snprintf(run, sizeof run, "%s/run", dir);
    make_folder(a, 20, 0, 2, 64, 64, 3, 1, 1);
    make_folder(b, 1, 0, 10, 64, 64, 3, 0, 2);
    const char *args[] = {"train", "--source", spec("folder", a), "--target", spec("images", b),
                          "--out", run, "--epochs", "1", "--batch", "8", "--threads", "1", NULL};
    run_result *r = run_dann(args);
    CHECK(r->rc == 0, "train: exit %d: %s", r->rc, r->err);
    if (r->rc) return;
    CHECK(strstr(r->out, "20 classes") && strstr(r->out, "64x64 -> 28x28"),
          "data: line without the class count or the resize: %s", r->out);
    char *ckpt = pathf(run, "last.ckpt"), v[256];
    ckpt_info info;
    dann_error err = {0};
    CHECK(ckpt_peek(ckpt, &info, &err) == DANN_OK && strstr(info.net, "fc(20); domain"),
          "stored network '%s' has no 20-way class head", info.net);
    CHECK(kv_of(ckpt, "classes", v, sizeof v) && !strcmp(v, "20"), "classes=%s", v);
    CHECK(kv_of(ckpt, "class.19", v, sizeof v) && !strcmp(v, "c19"), "class.19=%s", v);
    /* eval and predict name the classes */
    const char *ev[] = {"eval", "--model", ckpt, "--data", spec("folder", a), NULL};
    r = run_dann(ev);
    CHECK(r->rc == 0 && strstr(r->out, "c19") && strstr(r->out, "40 labelled"), "eval: %s %s",
          r->out, r->err);
    char img[1100];
    snprintf(img, sizeof img, "%s/c07/1.png", a);
    const char *pr[] = {"predict", "--model", ckpt, "--json", img, NULL};
    r = run_dann(pr);
    CHECK(r->rc == 0 && strstr(r->out, "\"class\": \"c"), "predict names no class: %s %s", r->out,
          r->err);
}

TEST(cli_data_paper_svhn_on_32px_rgb_folders) {
    if (!dann_bin()) SKIP("build/dann not found");
    const char *dir = test_tmpdir();
    char a[700], b[700], run[700];
    snprintf(a, sizeof a, "%s/A", dir);
    snprintf(b, sizeof b, "%s/B", dir);
    snprintf(run, sizeof run, "%s/run", dir);
    make_folder(a, 10, 0, 2, 32, 32, 3, 1, 3);
    make_folder(b, 1, 0, 12, 32, 32, 1, 0, 4);  /* grey target, RGB source: mixed domains */
    const char *args[] = {"train", "--arch", "paper-svhn", "--source", spec("folder", a), "--target",
                          spec("images", b), "--out", run, "--epochs", "1", "--batch", "8",
                          "--threads", "1", NULL};
    run_result *r = run_dann(args);
    CHECK(r->rc == 0, "paper-svhn on folders: exit %d: %s", r->rc, r->err);
    CHECK(strstr(r->out, "32x32 as stored, RGB") && strstr(r->out, "grey -> 3 channels"),
          "data: lines: %s", r->out);
    ckpt_info info;
    dann_error err = {0};
    CHECK(!r->rc && ckpt_peek(pathf(run, "last.ckpt"), &info, &err) == DANN_OK &&
              !strncmp(info.net, "in 3x32x32;", 11), "stored network '%s'", info.net);
}

/* ---- classes by name ------------------------------------------------------------------------ */

TEST(cli_data_classes_matched_by_name) {
    const char *dir = test_tmpdir();
    char a[700], t[700], u[700];
    snprintf(a, sizeof a, "%s/A", dir);
    snprintf(t, sizeof t, "%s/T", dir);
    snprintf(u, sizeof u, "%s/U", dir);
    make_folder(a, 3, 0, 2, 8, 8, 1, 1, 5);   /* c00 c01 c02 */
    make_folder(t, 2, 1, 2, 8, 8, 1, 1, 6);   /* c01 c02 only: ranks 0, 1 here */
    make_folder(u, 2, 2, 1, 8, 8, 1, 1, 7);   /* c02 c03: c03 is no class of A */
    dataset src, tst, unk;
    dann_error err = {0};
    CHECK(dataset_load(&src, spec("folder", a), DATA_TRAIN, 8, 8, &err) == DANN_OK, "%s", err.msg);
    CHECK(dataset_load(&tst, spec("folder", t), DATA_TEST, 8, 8, &err) == DANN_OK, "%s", err.msg);
    int absent = -1;
    CHECK(dataset_match_classes(&tst, (const char *const *)src.class_names, src.n_classes, "source",
                                &absent, &err) == DANN_OK, "%s", err.msg);
    /* its images of c01 / c02 now carry the source's labels 1 / 2 (not 0 / 1) */
    CHECK(tst.n == 4 && tst.y[0] == 1 && tst.y[1] == 1 && tst.y[2] == 2 && tst.y[3] == 2 &&
              tst.n_classes == 3 && absent == 1, "labels %d %d %d %d, classes %d, absent %d",
          tst.y[0], tst.y[1], tst.y[2], tst.y[3], tst.n_classes, absent);
    CHECK(dataset_load(&unk, spec("folder", u), DATA_TEST, 8, 8, &err) == DANN_OK, "%s", err.msg);
    CHECK(dataset_match_classes(&unk, (const char *const *)src.class_names, src.n_classes,
                                "source A", NULL, &err) == DANN_ERR_ARG &&
              strstr(err.msg, "c03") && strstr(err.msg, "source A"), "unknown class: %s", err.msg);
    dataset_free(&src), dataset_free(&tst), dataset_free(&unk);
    if (!dann_bin()) SKIP("build/dann not found");
    /* through train: refused naming both folders; a lacking class is a note */
    const char *args[] = {"train", "--source", spec("folder", a), "--source-test", spec("folder", u),
                          "--mode", "source-only", "--out", pathf(dir, "r1"), "--epochs", "1",
                          "--threads", "1", NULL};
    run_result *r = run_dann(args);
    CHECK(r->rc == 1 && strstr(r->err, u) && strstr(r->err, a) && strstr(r->err, "c03"),
          "unknown test class: exit %d: %s", r->rc, r->err);
    args[4] = spec("folder", t), args[8] = pathf(dir, "r2");
    r = run_dann(args);
    CHECK(r->rc == 0 && strstr(r->out, "has no image of 1 of the 3 classes"), "lacking class: %d %s %s",
          r->rc, r->out, r->err);
}

/* ---- normalisation ------------------------------------------------------------------------- */

static void parse6(const char *v, double out[6]) {
    memset(out, 0, 6 * sizeof *out);
    sscanf(v, "%lf,%lf,%lf/%lf,%lf,%lf", &out[0], &out[1], &out[2], &out[3], &out[4], &out[5]);
}

TEST(cli_data_norm_auto_and_given_are_stored) {
    if (!dann_bin()) SKIP("build/dann not found");
    const char *dir = test_tmpdir();
    char a[700], b[700], run[700];
    snprintf(a, sizeof a, "%s/A", dir);
    snprintf(b, sizeof b, "%s/B", dir);
    snprintf(run, sizeof run, "%s/run", dir);
    make_folder(a, 2, 0, 3, 28, 28, 3, 1, 8);
    make_folder(b, 1, 0, 6, 28, 28, 1, 0, 9);
    const char *args[] = {"train", "--source", spec("folder", a), "--target", spec("images", b),
                          "--source-norm", "auto", "--target-norm", "0.25/0.5", "--out", run,
                          "--epochs", "1", "--batch", "4", "--threads", "1", NULL};
    run_result *r = run_dann(args);
    CHECK(r->rc == 0 && strstr(r->out, "norm auto") && strstr(r->out, "norm 0.25/0.5 0.25/0.5"),
          "train: %d %s %s", r->rc, r->out, r->err);
    if (r->rc) return;
    /* auto: the mean and population std of pix/255 per channel, computed here directly */
    dataset ds;
    dann_error err = {0};
    CHECK(dataset_load(&ds, spec("folder", a), DATA_TRAIN, 28, 28, &err) == DANN_OK, "%s", err.msg);
    char v[256];
    double got[6], t[6];
    parse6(kv_of(pathf(run, "last.ckpt"), "norm.source", v, sizeof v) ? v : "", got);
    for (int c = 0; c < 3 && ds.n; c++) {
        double s = 0, ss = 0, n = (double)ds.n * 784;
        for (int i = 0; i < ds.n; i++)
            for (int p = 0; p < 784; p++) s += ds.pix[((size_t)i * 3 + c) * 784 + p] / 255.0;
        for (int i = 0; i < ds.n; i++)
            for (int p = 0; p < 784; p++) {
                double d = ds.pix[((size_t)i * 3 + c) * 784 + p] / 255.0 - s / n;
                ss += d * d;
            }
        CHECK(fabs(got[c] - s / n) < 1e-6 && fabs(got[3 + c] - sqrt(ss / n)) < 1e-6,
              "channel %d: stored %.9g/%.9g, data %.9g/%.9g", c, got[c], got[3 + c], s / n,
              sqrt(ss / n));
    }
    dataset_free(&ds);
    parse6(kv_of(pathf(run, "last.ckpt"), "norm.target", v, sizeof v) ? v : "", t);
    CHECK(t[0] == 0.25 && t[2] == 0.25 && t[3] == 0.5 && t[5] == 0.5, "norm.target=%s", v);
    const char *bad[] = {"train", "--source", spec("folder", a), "--target", spec("images", b),
                         "--source-norm", "0.5", "--out", pathf(dir, "x"), NULL};
    r = run_dann(bad);
    CHECK_FAILS(r, 2, "--source-norm", "MEAN/STD", "a normalisation without a std");
}

/* predict and eval give the same images the same numbers: the grey target images of a model
 * trained with --target-norm auto, through `dann predict`, against eval's pipeline (dataset_load
 * + the stored normalisation + dataset_gather + dann_model_predict, as model_evaluate runs it). */
TEST(cli_data_predict_equals_eval) {
    if (!dann_bin()) SKIP("build/dann not found");
    const char *dir = test_tmpdir();
    char a[700], b[700], run[700];
    snprintf(a, sizeof a, "%s/A", dir);
    snprintf(b, sizeof b, "%s/B", dir);
    snprintf(run, sizeof run, "%s/run", dir);
    make_folder(a, 2, 0, 4, 28, 28, 3, 1, 10);
    make_folder(b, 2, 0, 3, 20, 24, 1, 1, 11);   /* grey, labelled, another size */
    const char *args[] = {"train", "--source", spec("folder", a), "--target", spec("folder", b),
                          "--target-norm", "auto", "--out", run, "--epochs", "1", "--batch", "4",
                          "--threads", "1", NULL};
    run_result *r = run_dann(args);
    CHECK(r->rc == 0, "train: %s", r->err);
    if (r->rc) return;
    char *ckpt = pathf(run, "last.ckpt");
    dann_model *m = NULL;
    static ckpt_info info;
    dataset ds;
    dann_error err = {0};
    if (ckpt_peek(ckpt, &info, &err) || ckpt_load(ckpt, 8, &m, NULL, NULL, &err) ||
        dataset_load(&ds, spec("folder", b), DATA_TEST, 28, 28, &err)) {
        CHECK(0, "%s", err.msg);
        dann_model_free(m);
        return;
    }
    CHECK(domain_kv_norm(info.meta.kv, "target", ds.mean, ds.std), "no stored target norm");
    float x[6 * 3 * 784], lp[6 * 2];
    int32_t idx[6] = {0, 1, 2, 3, 4, 5}, y[6];
    dataset_gather(x, y, &ds, idx, 6, 3);
    dann_model_predict(m, x, 6, lp);
    const char *names[6] = {"c00/0.png", "c00/1.png", "c00/2.jpg", "c01/0.png", "c01/1.png", "c01/2.jpg"};
    char files[6][1100];
    const char *pa[12] = {"predict", "--model", ckpt, "--json"};
    for (int i = 0; i < 6; i++) {
        snprintf(files[i], sizeof files[i], "%s/%s", b, names[i]);
        pa[4 + i] = files[i];
    }
    pa[10] = NULL;
    r = run_dann(pa);
    CHECK(r->rc == 0 && strstr(r->out, "\"domain\": \"target\""), "predict: %s %s", r->out, r->err);
    const char *p = r->out;
    double worst = 0;
    for (int i = 0; i < 6 && !r->rc; i++) {
        const char *q = strstr(p, "\"probs\": [");
        if (!q) {
            CHECK(0, "prediction %d missing: %s", i, r->out);
            break;
        }
        char *e;
        double p0 = strtod(q + 10, &e), p1 = strtod(e + 2, &e);
        double d0 = fabs(p0 - exp((double)lp[2 * i])), d1 = fabs(p1 - exp((double)lp[2 * i + 1]));
        if (d0 > worst) worst = d0;
        if (d1 > worst) worst = d1;
        p = e;
    }
    CHECK(worst <= 1e-7, "predict's probabilities differ from eval's pipeline by %.3g", worst);
    dataset_free(&ds);
    dann_model_free(m);
}

/* ---- test sets: samples and held-out splits ----------------------------------------------- */

TEST(cli_data_eval_max_samples_across_classes) {
    const char *dir = test_tmpdir();
    char a[700];
    snprintf(a, sizeof a, "%s/A", dir);
    make_folder(a, 4, 0, 10, 8, 8, 1, 1, 12);   /* 40 images sorted by class */
    domain_sets d1, d2, d3;
    dann_error err = {0};
    CHECK(domain_load(&d1, "source", spec("folder", a), spec("folder", a), 3, 8, 8, 7, 12, &err) == 0 &&
              domain_load(&d2, "source", spec("folder", a), spec("folder", a), 3, 8, 8, 7, 12, &err) == 0 &&
              domain_load(&d3, "source", spec("folder", a), spec("folder", a), 3, 8, 8, 8, 12, &err) == 0,
          "%s", err.msg);
    int seen[4] = {0}, same = d1.test.n == d2.test.n, other = 0;
    for (int i = 0; i < d1.test.n; i++) seen[d1.test.y[i]]++;
    for (int i = 0; i < d1.test.n && same; i++)
        same = !memcmp(d1.test.pix + i * 64, d2.test.pix + i * 64, 64);
    for (int i = 0; i < d1.test.n && i < d3.test.n; i++)
        other |= memcmp(d1.test.pix + i * 64, d3.test.pix + i * 64, 64) != 0;
    CHECK(d1.test.n == 12 && d1.train.n == 40, "test %d train %d", d1.test.n, d1.train.n);
    CHECK(seen[0] && seen[1] && seen[2] && seen[3], "sample by class: %d %d %d %d (the first 12 "
          "would be classes 0 and 1 only)", seen[0], seen[1], seen[2], seen[3]);
    CHECK(same && other, "the sample is not seeded (same seed equal: %d, another seed differs: %d)",
          same, other);
    domain_free(&d1), domain_free(&d2), domain_free(&d3);
}

TEST(cli_data_split_is_held_out_and_disjoint) {
    const char *dir = test_tmpdir();
    char a[700];
    snprintf(a, sizeof a, "%s/A", dir);
    make_folder(a, 3, 0, 10, 6, 6, 1, 1, 13);   /* noise makes every image distinct */
    domain_sets d, e;
    dann_error err = {0};
    dataset all;
    CHECK(dataset_load(&all, spec("folder", a), DATA_TRAIN, 6, 6, &err) == DANN_OK, "%s", err.msg);
    CHECK(domain_load(&d, "source", spec("folder", a), "split:0.2", 3, 6, 6, 3, 0, &err) == DANN_OK &&
              domain_load(&e, "source", spec("folder", a), "split:0.2", 3, 6, 6, 3, 0, &err) == DANN_OK,
          "%s", err.msg);
    CHECK(d.has_test && d.test.n == 6 && d.train.n == 24, "split: test %d train %d", d.test.n,
          d.train.n);
    int shared = 0, missing = 0;
    for (int i = 0; i < all.n; i++) {
        int in_tr = 0, in_te = 0;
        for (int k = 0; k < d.train.n; k++) in_tr += !memcmp(all.pix + i * 36, d.train.pix + k * 36, 36);
        for (int k = 0; k < d.test.n; k++) in_te += !memcmp(all.pix + i * 36, d.test.pix + k * 36, 36);
        shared += in_tr && in_te;
        missing += !in_tr && !in_te;
    }
    CHECK(shared == 0 && missing == 0, "%d images in both, %d in neither", shared, missing);
    CHECK(d.test.n == e.test.n && !memcmp(d.test.pix, e.test.pix, (size_t)d.test.n * 36),
          "the split is not the same for the same seed");
    CHECK(!strcmp(d.test.name, "source-test") && !strcmp(d.train.name, "source"), "names %s / %s",
          d.train.name, d.test.name);
    domain_free(&d), domain_free(&e), dataset_free(&all);
    CHECK(domain_load(&d, "source", spec("folder", a), "split:1.5", 3, 6, 6, 3, 0, &err) == DANN_ERR_ARG &&
              strstr(err.msg, "split:1.5"), "bad fraction: %s", err.msg);
    domain_free(&d);
}

/* ---- training options ---------------------------------------------------------------------- */

TEST(cli_data_iters_per_epoch_cycles) {
    /* each cycle is a permutation cut into full batches; the batches depend on g alone */
    int32_t base[10], perm[10], perm2[10];
    for (int i = 0; i < 10; i++) base[i] = 100 + i;
    int64_t cached = -1, cached2 = -1;
    const int32_t *bt, *bt2;
    int count[10] = {0}, ok = 1;
    for (int64_t g = 0; g < 9; g++) {  /* 3 batches of 3 a cycle (one index left out) */
        int b = trainloop_cycle_batch(base, 10, 3, 42, 1, g, perm, &cached, &bt);
        trainloop_cycle_batch(base, 10, 3, 42, 1, g, perm2, &cached2, &bt2);
        cached2 = -1;  /* recomputed from scratch every time */
        ok &= b == 3 && !memcmp(bt, bt2, 3 * sizeof *bt);
        for (int k = 0; k < 3; k++) count[bt[k] - 100]++;
        if (g % 3 == 2) {
            int dup = 0;
            for (int k = 0; k < 10; k++) dup |= count[k] > (int)(g / 3) + 1;
            CHECK(!dup, "cycle %d repeats an index", (int)(g / 3));
        }
    }
    CHECK(ok, "batches depend on the cache, not on g alone");
    int64_t c3 = -1;
    CHECK(trainloop_cycle_batch(base, 2, 8, 42, 0, 5, perm, &c3, &bt) == 2, "a set smaller than the batch");

    if (!dann_bin()) SKIP("build/dann not found");
    const char *dir = test_tmpdir();
    char a[700], b[700], ra[700], rb[700];
    snprintf(a, sizeof a, "%s/A", dir);
    snprintf(b, sizeof b, "%s/B", dir);
    snprintf(ra, sizeof ra, "%s/ra", dir);
    snprintf(rb, sizeof rb, "%s/rb", dir);
    make_folder(a, 2, 0, 12, 28, 28, 1, 1, 14);
    make_folder(b, 1, 0, 5, 28, 28, 1, 0, 15);   /* 5 target images: 1 step an epoch without */
    const char *args[] = {"train", "--source", spec("folder", a), "--target", spec("images", b),
                          "--iters-per-epoch", "4", "--out", ra, "--epochs", "2", "--batch", "4",
                          "--threads", "1", "--quiet", NULL};
    run_result *r = run_dann(args);
    CHECK(r->rc == 0, "train: %s", r->err);
    unsigned char *mj = NULL;
    CHECK(file_bytes(pathf(ra, "metrics.jsonl"), &mj) > 0 && mj && strstr((char *)mj, "\"steps\": 4"),
          "metrics: %s", mj ? (char *)mj : "(none)");
    free(mj);
    /* stopped after 5 steps (mid epoch 2), resumed: the same bits as the uninterrupted run */
    args[8] = rb;
    setenv("DANN_TEST_STOP_AFTER", "5", 1);
    r = run_dann(args);
    unsetenv("DANN_TEST_STOP_AFTER");
    CHECK(r->rc == 130, "interrupted run: exit %d %s", r->rc, r->err);
    const char *res[] = {"train", "--resume", pathf(rb, "last.ckpt"), "--threads", "1", "--quiet", NULL};
    r = run_dann(res);
    CHECK(r->rc == 0, "resume: %s", r->err);
    dann_model *m1 = NULL, *m2 = NULL;
    dann_error err = {0};
    if (!ckpt_load(pathf(ra, "last.ckpt"), 4, &m1, NULL, NULL, &err) &&
        !ckpt_load(pathf(rb, "last.ckpt"), 4, &m2, NULL, NULL, &err)) {
        size_t n1, n2;
        const float *p1 = dann_model_params(m1, &n1), *p2 = dann_model_params(m2, &n2);
        CHECK(n1 == n2 && !memcmp(p1, p2, n1 * sizeof *p1), "the resumed run's weights differ");
    } else {
        CHECK(0, "%s", err.msg);
    }
    dann_model_free(m1), dann_model_free(m2);
    const char *chg[] = {"train", "--resume", pathf(rb, "last.ckpt"), "--iters-per-epoch", "3", NULL};
    r = run_dann(chg);
    CHECK_FAILS(r, 2, "--iters-per-epoch 3", "resumed", "another --iters-per-epoch on resume");
}

TEST(cli_data_lambda_max_gamma_and_source_only) {
    if (!dann_bin()) SKIP("build/dann not found");
    const char *dir = test_tmpdir();
    char a[700], b[700], run[700];
    snprintf(a, sizeof a, "%s/A", dir);
    snprintf(b, sizeof b, "%s/B", dir);
    snprintf(run, sizeof run, "%s/run", dir);
    make_folder(a, 2, 0, 8, 28, 28, 1, 1, 16);
    make_folder(b, 1, 0, 16, 28, 28, 1, 0, 17);
    const char *args[] = {"train", "--source", spec("folder", a), "--target", spec("images", b),
                          "--lambda-max", "0.5", "--gamma", "4", "--out", run, "--epochs", "2",
                          "--batch", "8", "--threads", "1", "--quiet", NULL};
    run_result *r = run_dann(args);
    CHECK(r->rc == 0, "train: %s", r->err);
    ckpt_info info;
    dann_error err = {0};
    CHECK(!r->rc && ckpt_peek(pathf(run, "last.ckpt"), &info, &err) == DANN_OK &&
              info.cfg.lambda_max == 0.5 && info.cfg.gamma == 4, "stored lambda_max %g gamma %g",
          info.cfg.lambda_max, info.cfg.gamma);
    /* the last step of epoch 2 (p = 3/4 of 2 x 2 steps): 0.5 (2 / (1 + e^(-4 p)) - 1) */
    unsigned char *mj = NULL;
    file_bytes(pathf(run, "metrics.jsonl"), &mj);
    const char *l2 = mj ? strstr((char *)mj, "\"epoch\": 2") : NULL, *lam = l2 ? strstr(l2, "\"lambda\": ") : NULL;
    const double want = 0.5 * (2.0 / (1.0 + exp(-4.0 * 0.75)) - 1.0);
    CHECK(lam && fabs(atof(lam + 10) - want) < 1e-6, "lambda %s, want %.7f", lam ? lam + 10 : "?", want);
    free(mj);
    const char *rs[] = {"train", "--resume", pathf(run, "last.ckpt"), "--gamma", "3", NULL};
    r = run_dann(rs);
    CHECK_FAILS(r, 2, "--gamma", "--resume", "another gamma on resume");
    /* source-only needs no target; DANN does */
    const char *so[] = {"train", "--mode", "source-only", "--source", spec("folder", a),
                        "--source-test", "split:0.25", "--out", pathf(dir, "so"), "--epochs", "1",
                        "--batch", "8", "--threads", "1", NULL};
    r = run_dann(so);
    CHECK(r->rc == 0 && strstr(r->out, "source-test") && strstr(r->out, "final: source test"),
          "source-only without a target: %d %s %s", r->rc, r->out, r->err);
    char so_ckpt[800];
    snprintf(so_ckpt, sizeof so_ckpt, "%s/so/last.ckpt", dir);
    const char *sr[] = {"train", "--resume", so_ckpt, "--threads", "1", "--quiet", NULL};
    r = run_dann(sr);
    CHECK(r->rc == 0, "resuming a source-only run without a target: %d %s", r->rc, r->err);
    const char *dn[] = {"train", "--source", spec("folder", a), "--out", pathf(dir, "dn"), NULL};
    r = run_dann(dn);
    CHECK_FAILS(r, 2, "--target", "source-only", "dann without a target");
}

TEST(cli_data_train_log) {
    if (!dann_bin()) SKIP("build/dann not found");
    const char *dir = test_tmpdir();
    char a[700], b[700], run[700];
    snprintf(a, sizeof a, "%s/A", dir);
    snprintf(b, sizeof b, "%s/B", dir);
    snprintf(run, sizeof run, "%s/run", dir);
    make_folder(a, 2, 0, 20, 28, 28, 1, 1, 18);
    make_folder(b, 1, 0, 40, 28, 28, 1, 0, 19);
    const char *args[] = {"train", "--source", spec("folder", a), "--target", spec("images", b),
                          "--out", run, "--epochs", "2", "--batch", "4", "--threads", "1",
                          "--progress", "bar", NULL};
    run_result *r = run_dann(args);
    CHECK(r->rc == 0, "train: %s", r->err);
    unsigned char *log = NULL;
    CHECK(file_bytes(pathf(run, "train.log"), &log) > 0 && log, "no train.log");
    if (!log) return;
    const char *L = (const char *)log;
    CHECK(strstr(r->out, "img/s"), "the run printed no progress lines to check against: %s", r->out);
    CHECK(!strstr(L, "img/s") && !strchr(L, '\r'), "train.log holds the progress: %s", L);
    CHECK(strstr(L, "data: source ") && strstr(L, "data: target ") && strstr(L, "epoch   2/2") &&
              strstr(L, "final: "), "train.log lacks what the terminal showed: %s", L);
    /* every line of the log is a line the terminal showed, in the same order */
    const char *o = r->out;
    int lost = 0;
    for (const char *s = L; *s;) {
        const char *e = strchr(s, '\n');
        size_t n = e ? (size_t)(e - s + 1) : strlen(s);
        char line[2048];
        snprintf(line, sizeof line, "%.*s", (int)(n < sizeof line ? n : sizeof line - 1), s);
        const char *at = strstr(o, line);
        if (!at) lost++;
        else o = at + strlen(line);
        s += n;
    }
    CHECK(lost == 0, "%d lines of train.log are not the terminal's, in order", lost);
    free(log);
}
