/* test_ckpt_values.c - a checkpoint with valid checksums but values no training produces
 * (docs/CHECKPOINT.md, "Reading and errors"): the reader refuses each with a one-line message
 * naming the file and the field or tensor, and the writer never writes one.
 *
 * Every file here is a real py3 checkpoint (Adam, so both moments are present) edited at the
 * documented offsets with its CRCs recomputed (ckpt_testutil.c): the checksums prove only that
 * the bytes are intact, so each field must also be checked against its range. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "ckpt_testutil.h"
#include "core/core.h"
#include "io/checkpoint.h"
#include "test.h"

/* A py3 model and Adam trainer after one step on noise (so the moments are not all zero). */
static int make_pair(dann_model **m, dann_trainer **t) {
    dann_error err;
    dann_train_config cfg;
    *m = NULL, *t = NULL;
    if (dann_train_config_preset(&cfg, "py3", &err) || dann_model_new(m, "py3", 3, 4, &err) ||
        dann_trainer_new(t, *m, &cfg, 4, &err)) {
        CHECK(0, "setup: %s", err.msg);
        return -1;
    }
    static float xs[4 * 3 * 28 * 28], xt[4 * 3 * 28 * 28];
    int32_t ys[4] = {1, 2, 3, 4};
    for (size_t i = 0; i < sizeof xs / sizeof *xs; i++)
        xs[i] = (float)((i * 7919) % 255) / 128.0f - 1, xt[i] = (float)((i * 104729) % 251) / 126.0f - 1;
    const int threads = dann_get_threads();
    dann_threads_set(1);
    dann_status st = dann_train_step(*t, xs, ys, 4, xt, NULL, 4, 0.1, NULL, &err);
    dann_threads_set(threads);
    CHECK(st == DANN_OK, "step: %s", err.msg);
    return st == DANN_OK ? 0 : -1;
}

/* Offset in a checkpoint file of payload element k: params (0), state (1), moment1 (3),
 * moment2 (4) of a file whose header says so. */
static size_t payload_off(const unsigned char *b, int which, size_t k) {
    const uint64_t np = le64(b + 192), ns = le64(b + 200), nc = le32(b + 172);
    size_t off = 320 + le32(b + 272);
    const uint64_t before[5] = {0, 4 * np, 4 * (np + ns), 4 * (np + ns) + 8 * nc,
                                4 * (2 * np + ns) + 8 * nc};
    return off + (size_t)before[which] + 4 * k;
}

/* The state offset and name of the first tensor of kind `kind` whose name ends with suffix. */
static size_t tensor_off(dann_model *m, int kind, const char *suffix, const char **name) {
    for (int i = 0; i < dann_model_tensors(m, 0, NULL); i++) {
        dann_tensor_info ti;
        dann_model_tensors(m, i, &ti);
        const size_t nl = strlen(ti.name), sl = strlen(suffix);
        if (ti.kind == kind && nl >= sl && !strcmp(ti.name + nl - sl, suffix)) {
            *name = ti.name;
            return ti.offset;
        }
    }
    *name = "?";
    return 0;
}

TEST(ckpt_values_config_fields_out_of_range) {
    dann_model *m;
    dann_trainer *t;
    if (make_pair(&m, &t)) return;
    const char *dir = test_tmpdir();
    char good[512], bad[512];
    snprintf(good, sizeof good, "%s/good.ckpt", dir);
    snprintf(bad, sizeof bad, "%s/bad.ckpt", dir);
    dann_error err;
    CHECK(ckpt_save(good, m, t, NULL, &err) == DANN_OK, "save: %s", err.msg);
    size_t len;
    unsigned char *b = read_all(good, &len), *e = malloc(len);
    if (!b || !e) goto out;
    /* Each configuration field at its documented offset, set just outside its range. */
    const struct { int off; double v; const char *field; } cases[] = {
        {64, -1e-3, "lr"},         {64, NAN, "lr"},          {72, 1.0, "beta1"},
        {72, -0.5, "beta1"},       {80, 1.0, "beta2"},       {80, INFINITY, "beta2"},
        {88, 0.0, "eps"},          {88, -1e-8, "eps"},       {96, NAN, "momentum"},
        {96, 1.0, "momentum"},     {104, -1.0, "weight_decay"}, {112, INFINITY, "lr_alpha"},
        {120, -0.75, "lr_beta"},   {128, NAN, "gamma"},      {136, -1.0, "lambda_max"},
        {136, 1e300, "lambda_max"},
    };
    for (size_t k = 0; k < sizeof cases / sizeof *cases; k++) {
        char label[64], what[64];
        memcpy(e, b, len);
        set_f64(e + cases[k].off, cases[k].v);
        fix_crcs(e, len);
        snprintf(label, sizeof label, "%s = %g", cases[k].field, cases[k].v);
        snprintf(what, sizeof what, "field %s out of range", cases[k].field);
        expect_load_fail(bad, e, len, DANN_ERR_FORMAT, what, label);
    }
    /* The trainer's RNG all zero: xoshiro256** would draw zeros for ever. */
    memcpy(e, b, len);
    memset(e + 208, 0, 32);
    fix_crcs(e, len);
    expect_load_fail(bad, e, len, DANN_ERR_FORMAT, "trainer_rng", "trainer RNG all zero");
    /* The edits are the only difference: the good file loads. */
    dann_model *m2;
    dann_trainer *t2;
    CHECK(ckpt_load(good, 0, &m2, &t2, NULL, &err) == DANN_OK, "good file: %s", err.msg);
    if (!test_failed_now()) dann_trainer_free(t2), dann_model_free(m2);
out:
    free(b), free(e);
    dann_trainer_free(t), dann_model_free(m);
}

TEST(ckpt_values_nonfinite_payloads_refused) {
    dann_model *m;
    dann_trainer *t;
    if (make_pair(&m, &t)) return;
    const char *dir = test_tmpdir();
    char good[512], bad[512];
    snprintf(good, sizeof good, "%s/good.ckpt", dir);
    snprintf(bad, sizeof bad, "%s/bad.ckpt", dir);
    dann_error err;
    CHECK(ckpt_save(good, m, t, NULL, &err) == DANN_OK, "save: %s", err.msg);
    size_t len;
    unsigned char *b = read_all(good, &len), *e = malloc(len);
    if (!b || !e) goto out;
    const char *w_name, *v_name, *b_name;
    const size_t w = tensor_off(m, 0, "c_fc3.weight", &w_name);
    const size_t v = tensor_off(m, 1, "running_var", &v_name);
    const size_t bias = tensor_off(m, 0, "f_conv1.bias", &b_name);
    const struct { int which; size_t k; float x; const char *name, *what; } cases[] = {
        {0, w + 5, NAN, w_name, "non-finite"},
        {0, bias, INFINITY, b_name, "non-finite"},
        {0, bias + 1, -INFINITY, b_name, "non-finite"},
        {1, v, NAN, v_name, "non-finite"},
        {1, v + 2, -0.25f, v_name, "negative"},       /* a variance below zero */
        {3, w, NAN, w_name, "first moment"},
        {4, w + 1, INFINITY, w_name, "second moment"},
        {4, w + 2, -1e-9f, w_name, "negative"},      /* Adam's v is a sum of squares */
    };
    for (size_t k = 0; k < sizeof cases / sizeof *cases; k++) {
        char label[96];
        memcpy(e, b, len);
        set_f32(e + payload_off(e, cases[k].which, cases[k].k), cases[k].x);
        fix_crcs(e, len);
        snprintf(label, sizeof label, "payload %d element %zu = %g", cases[k].which, cases[k].k,
                 (double)cases[k].x);
        expect_load_fail(bad, e, len, DANN_ERR_FORMAT, cases[k].name, label);
        expect_load_fail(bad, NULL, 0, DANN_ERR_FORMAT, cases[k].what, label);
    }
    /* The same holds for a weights-only file, as eval and predict load it. */
    CHECK(ckpt_save(good, m, NULL, NULL, &err) == DANN_OK, "save: %s", err.msg);
    free(b);
    b = read_all(good, &len);
    if (b) {
        set_f32(b + payload_off(b, 0, w), NAN);
        fix_crcs(b, len);
        write_all(bad, b, len);
        dann_model *m2 = NULL;
        CHECK(ckpt_load(bad, 0, &m2, NULL, NULL, &err) == DANN_ERR_FORMAT && strstr(err.msg, w_name),
              "weights-only file with a NaN weight: %s", m2 ? "loaded" : err.msg);
        dann_model_free(m2);
    }
out:
    free(b), free(e);
    dann_trainer_free(t), dann_model_free(m);
}

TEST(ckpt_values_never_written) {
    dann_model *m;
    dann_trainer *t;
    if (make_pair(&m, &t)) return;
    const char *dir = test_tmpdir();
    char path[512], tmp[520];
    snprintf(path, sizeof path, "%s/last.ckpt", dir);
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    dann_error err;
    CHECK(ckpt_save(path, m, t, NULL, &err) == DANN_OK, "save: %s", err.msg);
    size_t len0, len1;
    unsigned char *before = read_all(path, &len0);
    /* A NaN weight, then an infinite Adam moment: DANN_ERR_NUMERIC, the old file untouched. */
    size_t n;
    float *p = dann_model_params(m, &n), *m2;
    float *m1 = dann_trainer_moments(t, &m2);
    float *where[3] = {p + n / 2, m1 + 7, m2 + n - 1};
    const float vals[3] = {NAN, INFINITY, -1.0f};
    for (int k = 0; k < 3; k++) {
        const float keep = *where[k];
        *where[k] = vals[k];
        dann_status st = ckpt_save(path, m, t, NULL, &err);
        CHECK(st == DANN_ERR_NUMERIC && strstr(err.msg, path) && strstr(err.msg, "not saved") &&
              !strchr(err.msg, '\n'), "case %d: status %d, message %s", k, st, err.msg);
        CHECK(access(tmp, F_OK) != 0, "case %d: %s left behind", k, tmp);
        *where[k] = keep;
    }
    unsigned char *after = read_all(path, &len1);
    CHECK(before && after && len0 == len1 && !memcmp(before, after, len0),
          "a refused save changed the existing checkpoint");
    /* A configuration the reader would refuse is not written either. */
    dann_train_config cfg = *dann_trainer_config(t);
    cfg.beta1 = 1.0;
    dann_trainer *t1 = NULL;
    CHECK(dann_trainer_new(&t1, m, &cfg, 1, &err) == DANN_OK, "trainer: %s", err.msg);
    if (t1) {
        CHECK(ckpt_save(path, m, t1, NULL, &err) == DANN_ERR_ARG && strstr(err.msg, "beta1"),
              "beta1 = 1 saved: %s", err.msg);
        dann_trainer_free(t1);
    }
    free(before), free(after);
    dann_trainer_free(t), dann_model_free(m);
}
