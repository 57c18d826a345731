/* test_cli_io.c - `dann eval`, `predict`, `export` and `import` run as the real binary (found next
 * to the test binary through /proc/self/exe; `make test` builds it first):
 *   - end to end against PyTorch: weights saved by PyTorch are imported, and `dann predict` on
 *     PNG files (28x28 colour, 28x28 grey, 32x32 colour that must be resized) reproduces the
 *     probabilities PyTorch computed with the reference pipeline (fixture made by
 *     tools/make_interchange_fixture.py); `dann export` gives PyTorch's tensors back bit for bit;
 *     on real data `dann eval --json` counts what the twin counted;
 *   - error paths: missing, truncated, foreign-version and non-checkpoint files, safetensors with
 *     a missing or mis-shaped tensor, a non-PNG image, unknown options. Each exits non-zero with
 *     ONE line on stderr naming the file and the problem, prints nothing on stdout, and leaves no
 *     output file behind (an existing one is left as it was). */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <png.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include "cli_testutil.h"
#include "io/safetensors.h"
#include "test.h"

#define WEIGHTS_FIXTURE "tests/fixtures/torch_py3_weights.safetensors"
#define EVAL_FIXTURE "tests/fixtures/torch_py3_eval.safetensors"

/* A weights-only checkpoint of the PyTorch fixture, made by `dann import`. */
static int make_checkpoint(const char *path) {
    const char *args[] = {"import", WEIGHTS_FIXTURE, "--out", path, NULL};
    run_result *r = run_dann(args);
    CHECK(r->rc == 0 && exists(path), "dann import %s failed (%d): %s", WEIGHTS_FIXTURE, r->rc, r->err);
    return r->rc == 0;
}

/* Planar (c, h, w) uint8 -> PNG file (RGB or grey) with libpng's simplified writer. */
static int write_png(const char *path, const uint8_t *planes, int c, int h, int w) {
    uint8_t *px = malloc((size_t)c * h * w);
    if (!px) return 0;
    for (int k = 0; k < c; k++)
        for (int i = 0; i < h * w; i++) px[(size_t)i * c + k] = planes[(size_t)k * h * w + i];
    png_image im;
    memset(&im, 0, sizeof im);
    im.version = PNG_IMAGE_VERSION;
    im.width = (png_uint_32)w;
    im.height = (png_uint_32)h;
    im.format = c == 3 ? PNG_FORMAT_RGB : PNG_FORMAT_GRAY;
    int ok = png_image_write_to_file(&im, path, 0, px, 0, NULL);
    free(px);
    return ok;
}

static int argmax10(const float *v) {
    int b = 0;
    for (int k = 1; k < 10; k++)
        if (v[k] > v[b]) b = k;
    return b;
}

TEST(cli_predict_and_export_match_pytorch) {
    if (!dann_bin()) SKIP("no dann binary next to the test binary (make builds it)");
    char dir[256];
    snprintf(dir, sizeof dir, "%s", test_tmpdir());
    char ckpt[512];
    snprintf(ckpt, sizeof ckpt, "%s", pathf(dir, "torch.ckpt"));
    if (!make_checkpoint(ckpt)) return;
    dann_error err = {0};
    st_file ev;
    if (st_read(&ev, EVAL_FIXTURE, &err)) {
        CHECK(0, "%s", err.msg);
        return;
    }
    /* 4 colour 28x28, 4 grey 28x28 and 4 colour 32x32 images with PyTorch's log-probabilities. */
    static const struct { const char *u8, *logp; int c, side; } sets[] = {
        {"synth_u8", "synth_logp", 3, 28}, {"grey_u8", "grey_logp", 1, 28}, {"rgb32_u8", "rgb32_logp", 3, 32}};
    char files[12][512];
    const float *want[12];
    const char *args[20] = {"predict", "--model", ckpt, "--json"};
    int na = 4, n = 0;
    for (int s = 0; s < 3; s++) {
        const st_tensor *u8 = st_find(&ev, sets[s].u8), *lp = st_find(&ev, sets[s].logp);
        size_t img = (size_t)sets[s].c * sets[s].side * sets[s].side;
        if (!u8 || !lp || u8->numel < 4 * img || lp->numel < 40) {
            CHECK(0, "%s: %s / %s missing", EVAL_FIXTURE, sets[s].u8, sets[s].logp);
            st_free(&ev);
            return;
        }
        for (int i = 0; i < 4; i++, n++) {
            snprintf(files[n], sizeof files[n], "%s/%s%d.png", dir, sets[s].u8, i);
            CHECK(write_png(files[n], (const uint8_t *)u8->data + i * img, sets[s].c, sets[s].side,
                            sets[s].side), "cannot write %s", files[n]);
            want[n] = (const float *)lp->data + 10 * i;
            args[na++] = files[n];
        }
    }
    args[na] = NULL;
    run_result *r = run_dann(args);
    CHECK(r->rc == 0, "dann predict failed (%d): %s", r->rc, r->err);
    /* Each prediction in order: "label": L ... "probs": [p0, ..., p9]. */
    const char *p = r->out;
    double worst = 0;
    for (int i = 0; i < n && r->rc == 0; i++) {
        const char *f = strstr(p, "\"file\": ");
        const char *lab = f ? strstr(f, "\"label\": ") : NULL;
        const char *pr = lab ? strstr(lab, "\"probs\": [") : NULL;
        if (!pr) {
            CHECK(0, "prediction %d not found in: %s", i, r->out);
            break;
        }
        CHECK(!strncmp(f + 9, files[i], strlen(files[i])), "prediction %d is not for %s", i, files[i]);
        int label = atoi(lab + 9);
        CHECK(label == argmax10(want[i]), "%s: dann predicts %d, PyTorch %d", files[i], label, argmax10(want[i]));
        char *q = (char *)pr + 10;
        for (int k = 0; k < 10; k++) {
            double prob = strtod(q, &q), ref = exp((double)want[i][k]);
            if (fabs(prob - ref) > worst) worst = fabs(prob - ref);
            CHECK(fabs(prob - ref) <= 2e-6 + 2e-5 * ref, "%s: p[%d] = %.9g, PyTorch %.9g", files[i], k, prob, ref);
            q += strspn(q, ", ");
        }
        p = q;
    }
    printf("    predict: worst |p - p_torch| = %.3g over %d PNG files\n", worst, n);

    /* Export gives back PyTorch's tensors bit for bit, in its order, with its dtypes. */
    char *out = pathf(dir, "back.safetensors");
    const char *eargs[] = {"export", "--model", ckpt, out, NULL};
    r = run_dann(eargs);
    CHECK(r->rc == 0, "dann export failed (%d): %s", r->rc, r->err);
    st_file a, b;
    if (!st_read(&a, out, &err)) {
        if (!st_read(&b, WEIGHTS_FIXTURE, &err)) {
            CHECK(a.n == b.n, "%d tensors exported, PyTorch saved %d", a.n, b.n);
            for (int i = 0; i < a.n && i < b.n; i++)
                CHECK(!strcmp(a.t[i].name, b.t[i].name) && a.t[i].dtype == b.t[i].dtype &&
                      a.t[i].nbytes == b.t[i].nbytes && !memcmp(a.t[i].data, b.t[i].data, a.t[i].nbytes),
                      "tensor %d (%s) differs from PyTorch's %s", i, a.t[i].name, b.t[i].name);
            st_free(&b);
        } else CHECK(0, "%s", err.msg);
        st_free(&a);
    } else CHECK(0, "%s", err.msg);
    st_free(&ev);
}

TEST(cli_eval_mnistm_matches_twin) {
    enum { N = 512 };
    if (!dann_bin()) SKIP("no dann binary next to the test binary (make builds it)");
    const char *root = test_shared_data();
    if (!root) SKIP("../shared/data not found");
    dann_error err = {0};
    st_file ev;
    if (st_read(&ev, EVAL_FIXTURE, &err)) {
        CHECK(0, "%s", err.msg);
        return;
    }
    const st_tensor *lab = st_find(&ev, "mnistm_label"), *tp = st_find(&ev, "mnistm_pred");
    if (!lab || !tp || lab->numel != N) {
        st_free(&ev);
        SKIP("%s holds no MNIST-M predictions", EVAL_FIXTURE);
    }
    int twin_correct = 0, per_class_n[10] = {0};
    for (int i = 0; i < N; i++) {
        int32_t y = ((const int32_t *)lab->data)[i];
        twin_correct += ((const int32_t *)tp->data)[i] == y;
        if (y >= 0 && y < 10) per_class_n[y]++;
    }
    st_free(&ev);
    char dir[256];
    snprintf(dir, sizeof dir, "%s", test_tmpdir());
    char ckpt[512], spec[600];
    snprintf(ckpt, sizeof ckpt, "%s", pathf(dir, "torch.ckpt"));
    snprintf(spec, sizeof spec, "mnistm:%s/mnist_m", root);
    if (!make_checkpoint(ckpt)) return;
    const char *args[] = {"eval", "--model", ckpt, "--data", spec, "--max", "512", "--json", NULL};
    run_result *r = run_dann(args);
    CHECK(r->rc == 0, "dann eval failed (%d): %s", r->rc, r->err);
    const char *c = strstr(r->out, "\"correct\": "), *n = strstr(r->out, "\"n\": ");
    const char *pcn = strstr(r->out, "\"per_class_n\": [");
    CHECK(c && n && pcn && atoi(n + 5) == N, "unexpected JSON: %s", r->out);
    if (!c || !n || !pcn) return;
    /* The predictions may differ only at near-ties (test_interchange.c): at most 3. */
    CHECK(abs(atoi(c + 11) - twin_correct) <= 3, "dann eval counts %d correct, the twin %d", atoi(c + 11),
          twin_correct);
    char *q = (char *)pcn + 16;
    for (int k = 0; k < 10; k++) {
        long v = strtol(q, &q, 10);
        CHECK(v == per_class_n[k], "class %d: %ld images counted, the twin's labels have %d", k, v, per_class_n[k]);
        q += strspn(q, ", ");
    }
    CHECK(strstr(r->out, "\"confusion\": [[") != NULL, "no confusion matrix in %s", r->out);
}

TEST(cli_checkpoint_errors) {
    if (!dann_bin()) SKIP("no dann binary next to the test binary (make builds it)");
    char dir[256];
    snprintf(dir, sizeof dir, "%s", test_tmpdir());
    char good[512];
    snprintf(good, sizeof good, "%s", pathf(dir, "good.ckpt"));
    if (!make_checkpoint(good)) return;
    unsigned char *bytes;
    long len = file_bytes(good, &bytes);
    CHECK(len > 400, "checkpoint of %ld bytes", len);
    if (len <= 400) {
        free(bytes);
        return;
    }
    char missing[512], truncated[512], version[512], text[512];
    snprintf(missing, sizeof missing, "%s", pathf(dir, "missing.ckpt"));
    snprintf(truncated, sizeof truncated, "%s", pathf(dir, "truncated.ckpt"));
    snprintf(version, sizeof version, "%s", pathf(dir, "v7.ckpt"));
    snprintf(text, sizeof text, "%s", pathf(dir, "notes.txt"));
    CHECK(write_bytes(truncated, bytes, (size_t)len / 2), "write %s", truncated);
    bytes[8] = 7;  /* version field: u32 little-endian at offset 8 (docs/CHECKPOINT.md) */
    CHECK(write_bytes(version, bytes, (size_t)len), "write %s", version);
    CHECK(write_bytes(text, "just some text, long enough to look like a file header, really\n", 63),
          "write %s", text);
    free(bytes);
    static const char *const problem[] = {"cannot open", "truncated", "version", "checkpoint"};
    const char *paths[] = {missing, truncated, version, text};
    for (int k = 0; k < 4; k++) {
        char what[600], *out = pathf(dir, "out.safetensors");
        snprintf(what, sizeof what, "eval %s", paths[k]);
        const char *ea[] = {"eval", "--model", paths[k], "--data", "mnist:/nonexistent", NULL};
        run_result *r = run_dann(ea);
        CHECK_FAILS(r, 1, paths[k], problem[k], what);
        snprintf(what, sizeof what, "predict %s", paths[k]);
        const char *pa[] = {"predict", "--model", paths[k], text, NULL};
        r = run_dann(pa);
        CHECK_FAILS(r, 1, paths[k], problem[k], what);
        snprintf(what, sizeof what, "export %s", paths[k]);
        const char *xa[] = {"export", "--model", paths[k], out, NULL};
        r = run_dann(xa);
        CHECK_FAILS(r, 1, paths[k], problem[k], what);
        CHECK(!exists(out) && !exists(pathf(dir, "out.safetensors.tmp")), "%s: output file left behind", what);
    }
    /* An output folder that does not exist. */
    char *out = pathf(dir, "no/such/dir/w.safetensors");
    const char *xa[] = {"export", "--model", good, out, NULL};
    run_result *r = run_dann(xa);
    CHECK_FAILS(r, 1, out, "", "export into a missing folder");
    CHECK(!exists(pathf(dir, "no")), "export created a folder");
}

/* The fixture's tensors with `drop` left out or `shrink` one element shorter. */
static int write_variant(const char *path, const char *drop, const char *shrink) {
    dann_error err = {0};
    st_file f;
    if (st_read(&f, WEIGHTS_FIXTURE, &err)) return 0;
    st_writer w;
    st_writer_init(&w);
    int ok = 1;
    for (int i = 0; i < f.n && ok; i++) {
        int64_t shape[ST_MAX_DIMS];
        memcpy(shape, f.t[i].shape, sizeof shape);
        if (drop && !strcmp(f.t[i].name, drop)) continue;
        if (shrink && !strcmp(f.t[i].name, shrink)) shape[f.t[i].ndim - 1]--;
        ok = !st_writer_add(&w, f.t[i].name, f.t[i].dtype, f.t[i].ndim, shape, f.t[i].data, &err);
    }
    ok = ok && !st_write(&w, path, &err);
    st_writer_free(&w);
    st_free(&f);
    return ok;
}

TEST(cli_import_errors) {
    if (!dann_bin()) SKIP("no dann binary next to the test binary (make builds it)");
    char dir[256];
    snprintf(dir, sizeof dir, "%s", test_tmpdir());
    char miss[512], shape[512], text[512], out[512], tmp[520], kept[512];
    snprintf(miss, sizeof miss, "%s", pathf(dir, "missing_tensor.safetensors"));
    snprintf(shape, sizeof shape, "%s", pathf(dir, "bad_shape.safetensors"));
    snprintf(text, sizeof text, "%s", pathf(dir, "weights.txt"));
    snprintf(out, sizeof out, "%s", pathf(dir, "out.ckpt"));
    snprintf(tmp, sizeof tmp, "%s.tmp", out);
    snprintf(kept, sizeof kept, "%s", pathf(dir, "kept.ckpt"));
    CHECK(write_variant(miss, "class_classifier.c_bn2.running_var", NULL), "write %s", miss);
    CHECK(write_variant(shape, NULL, "domain_classifier.d_fc2.weight"), "write %s", shape);
    CHECK(write_bytes(text, "{\"not\": \"safetensors\"}\n", 23), "write %s", text);
    CHECK(write_bytes(kept, "old contents", 12), "write %s", kept);
    static const struct { const char *file_name, *w1, *w2; } cases[] = {
        {"missing_tensor.safetensors", "class_classifier.c_bn2.running_var", "missing"},
        {"bad_shape.safetensors", "domain_classifier.d_fc2.weight", "[2, 99]"},
        {"weights.txt", "weights.txt", ""},
        {"absent.safetensors", "absent.safetensors", "cannot open"},
    };
    for (size_t k = 0; k < sizeof cases / sizeof *cases; k++) {
        char in[512], what[600];
        snprintf(in, sizeof in, "%s", pathf(dir, cases[k].file_name));
        snprintf(what, sizeof what, "import %s", cases[k].file_name);
        const char *ia[] = {"import", in, "--out", out, NULL};
        run_result *r = run_dann(ia);
        CHECK_FAILS(r, 1, in, cases[k].w1, what);
        CHECK(strstr(r->err, cases[k].w2) != NULL, "%s: '%s' does not say '%s'", what, r->err, cases[k].w2);
        CHECK(!exists(out) && !exists(tmp), "%s: output file left behind", what);
        /* An existing output file is left as it was. */
        const char *ja[] = {"import", in, "--out", kept, NULL};
        r = run_dann(ja);
        CHECK(r->rc == 1, "%s over an existing file: status %d", what, r->rc);
        unsigned char *b;
        long n = file_bytes(kept, &b);
        CHECK(n == 12 && !memcmp(b, "old contents", 12), "%s: the existing output file changed", what);
        free(b);
    }
    const char *pa[] = {"import", WEIGHTS_FIXTURE, "--preset", "paper_svhn", "--out", out, NULL};
    run_result *r = run_dann(pa);
    CHECK_FAILS(r, 2, "--preset", "paper_svhn", "import --preset paper_svhn");
    CHECK(!exists(out), "import with an unknown preset wrote %s", out);
}

TEST(cli_predict_errors) {
    if (!dann_bin()) SKIP("no dann binary next to the test binary (make builds it)");
    char dir[256];
    snprintf(dir, sizeof dir, "%s", test_tmpdir());
    char ckpt[512], notpng[512], png[512], missing[512];
    snprintf(ckpt, sizeof ckpt, "%s", pathf(dir, "m.ckpt"));
    snprintf(notpng, sizeof notpng, "%s", pathf(dir, "photo.png"));
    snprintf(png, sizeof png, "%s", pathf(dir, "ok.png"));
    snprintf(missing, sizeof missing, "%s", pathf(dir, "nowhere.png"));
    if (!make_checkpoint(ckpt)) return;
    uint8_t grey[28 * 28];
    for (int i = 0; i < 28 * 28; i++) grey[i] = (uint8_t)(i * 7);
    CHECK(write_png(png, grey, 1, 28, 28), "write %s", png);
    CHECK(write_bytes(notpng, "GIF89a this is not a PNG at all", 31), "write %s", notpng);
    /* The bad file comes after a good one: still no partial output. */
    const char *a1[] = {"predict", "--model", ckpt, png, notpng, NULL};
    run_result *r = run_dann(a1);
    CHECK_FAILS(r, 1, notpng, "not a PNG", "predict on a non-PNG file");
    const char *a2[] = {"predict", "--model", ckpt, "--json", png, missing, NULL};
    r = run_dann(a2);
    CHECK_FAILS(r, 1, missing, "cannot open", "predict on a missing file");
    const char *a3[] = {"predict", "--model", ckpt, "--std", "0", png, NULL};
    r = run_dann(a3);
    CHECK_FAILS(r, 2, "--std", "'0'", "predict --std 0");
    const char *a4[] = {"predict", "--model", ckpt, png, NULL};
    r = run_dann(a4);
    CHECK(r->rc == 0 && strstr(r->out, png) && strstr(r->out, "label"), "predict on a good PNG: %d %s%s",
          r->rc, r->out, r->err);
}

TEST(cli_io_usage_errors) {
    if (!dann_bin()) SKIP("no dann binary next to the test binary (make builds it)");
    static const char *const cmds[] = {"eval", "predict", "export", "import"};
    for (int k = 0; k < 4; k++) {
        char what[64];
        snprintf(what, sizeof what, "%s --frobnicate", cmds[k]);
        const char *a[] = {cmds[k], "--frobnicate", "x", NULL};
        run_result *r = run_dann(a);
        CHECK_FAILS(r, 2, "--frobnicate", cmds[k], what);
        snprintf(what, sizeof what, "%s without arguments", cmds[k]);
        const char *b[] = {cmds[k], NULL};
        r = run_dann(b);
        CHECK_FAILS(r, 2, "required", cmds[k], what);
        const char *h[] = {cmds[k], "--help", NULL};
        r = run_dann(h);
        CHECK(r->rc == 0 && strstr(r->out, "usage: dann") && !r->err[0], "%s --help: %d", cmds[k], r->rc);
    }
    const char *s[] = {"eval", "--model", "m.ckpt", "--data", "mnist:x", "--split", "validation", NULL};
    run_result *r = run_dann(s);
    CHECK_FAILS(r, 2, "--split", "validation", "eval --split validation");
}
