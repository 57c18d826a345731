/* test_torch_layers.c - every layer kernel against PyTorch 1.13 (CPU, float32) on small odd
 * shapes: forward outputs, saved statistics, and the input and parameter gradients torch
 * autograd computed for a random upstream gradient (tests/fixtures/torch_layers.safetensors,
 * made by tools/make_fixtures.py). Tolerance |a-b| <= 1e-5 + 1e-4|b| everywhere.
 * Backward kernels accumulate, so each backward runs twice without zeroing and the second result
 * must be twice the reference. Each comparison prints its worst |a-b|. */
#include <stdlib.h>
#include <string.h>
#include "fxcheck.h"
#include "layers/layers.h"
#include "test.h"

#define LAYERS_FIXTURE "tests/fixtures/torch_layers.safetensors"
#define ATOL 1e-5
#define RTOL 1e-4

static int open_fx(st_file *f) { return fx_open(f, LAYERS_FIXTURE); }
static const st_tensor *get(const st_file *f, const char *c, const char *what, st_dtype dt, size_t n) {
    return fx_get(f, LAYERS_FIXTURE, c, what, dt, n);
}
#define F32(c, what, n) fx_f32(f, LAYERS_FIXTURE, c, what, (size_t)(n))
#define zeros fx_zeros
#define cmp(c, what, got, want, n) fx_cmp(c, what, got, want, n, ATOL, RTOL)
#define cmp2(c, what, got, want, n) fx_cmp2(c, what, got, want, n, ATOL, RTOL)

/* slots: threads the kernel may use (results may depend on it only through rounding). */
static void conv_case(const st_file *f, const char *c, int slots) {
    const st_tensor *dt = get(f, c, "dims", ST_I32, 6);
    if (!dt) return;
    const int32_t *dm = dt->data;
    conv_dims d = {.B = dm[0], .C = dm[1], .H = dm[2], .W = dm[3], .OC = dm[4], .K = dm[5], .slots = slots};
    size_t OH = (size_t)(d.H - d.K + 1), OW = (size_t)(d.W - d.K + 1);
    size_t n_in = (size_t)d.B * d.C * d.H * d.W, n_w = (size_t)d.OC * d.C * d.K * d.K;
    size_t n_out = (size_t)d.B * d.OC * OH * OW;
    const float *inp = F32(c, "inp", n_in), *w = F32(c, "w", n_w), *b = F32(c, "b", (size_t)d.OC);
    const float *out = F32(c, "out", n_out), *dout = F32(c, "dout", n_out);
    const float *dinp = F32(c, "dinp", n_in), *dw = F32(c, "dw", n_w), *db = F32(c, "db", (size_t)d.OC);
    if (!inp || !w || !b || !out || !dout || !dinp || !dw || !db) return;
    char tag[64];
    snprintf(tag, sizeof tag, "%s slots=%d %s", c, slots,
             kernels_name(kernels_use(-1)));
    float *scratch = zeros(conv2d_scratch_floats(&d)), *y = zeros(n_out);
    float *gx = zeros(n_in), *gw = zeros(n_w), *gb = zeros((size_t)d.OC);
    float *gw1 = zeros(n_w), *gb1 = zeros((size_t)d.OC);
    conv2d_forward(y, inp, w, b, &d, scratch);
    cmp(tag, "out", y, out, n_out);
    conv2d_backward(gx, gw, gb, dout, inp, w, &d, scratch);
    cmp(tag, "dinp", gx, dinp, n_in);
    cmp(tag, "dw", gw, dw, n_w);
    cmp(tag, "db", gb, db, (size_t)d.OC);
    conv2d_backward(gx, gw, gb, dout, inp, w, &d, scratch);
    cmp2(tag, "dinp", gx, dinp, n_in);
    cmp2(tag, "dw", gw, dw, n_w);
    cmp2(tag, "db", gb, db, (size_t)d.OC);
    conv2d_backward(NULL, gw1, gb1, dout, inp, w, &d, scratch);
    CHECK_CLOSE("conv2d dw with dinp=NULL", gw1, dw, n_w, ATOL, RTOL);
    CHECK_CLOSE("conv2d db with dinp=NULL", gb1, db, (size_t)d.OC, ATOL, RTOL);
    free(scratch), free(y), free(gx), free(gw), free(gb), free(gw1), free(gb1);
}

TEST(torch_conv2d) {
    st_file file;
    const st_file *f = &file;
    if (!open_fx(&file)) return;
    // both implementations where this CPU has the AVX-512 one (the portable one otherwise twice)
    const int impls[2] = {KERNELS_PORTABLE, KERNELS_AUTO};
    for (int i = 0; i < 2; i++) {
        kernels_use(impls[i]);
        conv_case(f, "conv2d_a", 1);
        conv_case(f, "conv2d_b", 1);
        conv_case(f, "conv2d_a", 2);
        conv_case(f, "conv2d_b", 3);
    }
    st_free(&file);
}

static void bn_case(const st_file *f, const char *c, int training) {
    const st_tensor *dt = get(f, c, "dims", ST_I32, 3);
    if (!dt) return;
    const int32_t *dm = dt->data;
    const int B = dm[0], C = dm[1], S = dm[2];
    const size_t n = (size_t)B * C * S;
    const float *inp = F32(c, "inp", n), *gamma = F32(c, "gamma", C), *beta = F32(c, "beta", C);
    const float *rm0 = F32(c, "run_mean0", C), *rv0 = F32(c, "run_var0", C);
    const float *out = F32(c, "out", n), *rm1 = F32(c, "run_mean", C), *rv1 = F32(c, "run_var", C);
    const float *mean_ref = F32(c, "mean", C), *rstd_ref = F32(c, "rstd", C);
    if (!inp || !gamma || !beta || !rm0 || !rv0 || !out || !rm1 || !rv1 || !mean_ref || !rstd_ref) return;
    float *y = zeros(n), *mean = zeros(C), *rstd = zeros(C), *rm = zeros(C), *rv = zeros(C);
    memcpy(rm, rm0, C * sizeof(float));
    memcpy(rv, rv0, C * sizeof(float));
    batchnorm_forward(y, mean, rstd, rm, rv, inp, gamma, beta, B, C, S, training, 0.1f, 1e-5f);
    cmp(c, "out", y, out, n);
    cmp(c, "batch mean", mean, mean_ref, C);
    cmp(c, "batch rstd", rstd, rstd_ref, C);
    cmp(c, "running_mean", rm, rm1, C);
    cmp(c, "running_var", rv, rv1, C);
    if (training) {
        const float *dout = F32(c, "dout", n), *dinp = F32(c, "dinp", n);
        const float *dgamma = F32(c, "dgamma", C), *dbeta = F32(c, "dbeta", C);
        float *gx = zeros(n), *gg = zeros(C), *gbt = zeros(C);
        if (dout && dinp && dgamma && dbeta) {
            batchnorm_backward(gx, gg, gbt, dout, inp, mean, rstd, gamma, B, C, S);
            cmp(c, "dinp", gx, dinp, n);
            cmp(c, "dgamma", gg, dgamma, C);
            cmp(c, "dbeta", gbt, dbeta, C);
            batchnorm_backward(gx, gg, gbt, dout, inp, mean, rstd, gamma, B, C, S);
            cmp2(c, "dinp", gx, dinp, n);
            cmp2(c, "dgamma", gg, dgamma, C);
            cmp2(c, "dbeta", gbt, dbeta, C);
        }
        free(gx), free(gg), free(gbt);
    }
    free(y), free(mean), free(rstd), free(rm), free(rv);
}

TEST(torch_batchnorm) {
    st_file file;
    const st_file *f = &file;
    if (!open_fx(&file)) return;
    bn_case(f, "bn2d_train", 1);
    bn_case(f, "bn2d_eval", 0);
    bn_case(f, "bn1d_train", 1);
    bn_case(f, "bn1d_eval", 0);
    st_free(&file);
}

static void pool_case(const st_file *f, const char *c) {
    const st_tensor *dt = get(f, c, "dims", ST_I32, 4);
    if (!dt) return;
    const int32_t *dm = dt->data;
    const int B = dm[0], C = dm[1], H = dm[2], W = dm[3];
    const size_t n_in = (size_t)B * C * H * W, n_out = (size_t)B * C * (H / 2) * (W / 2);
    const float *inp = F32(c, "inp", n_in), *out = F32(c, "out", n_out);
    const float *dout = F32(c, "dout", n_out), *dinp = F32(c, "dinp", n_in);
    const st_tensor *am = get(f, c, "argmax", ST_I32, n_out);
    if (!inp || !out || !dout || !dinp || !am) return;
    float *y = zeros(n_out), *gx = zeros(n_in);
    int32_t *idx = calloc(n_out, sizeof *idx);
    maxpool2_forward(y, idx, inp, B, C, H, W);
    cmp(c, "out", y, out, n_out);
    int bad = 0;
    for (size_t i = 0; i < n_out; i++) bad += idx[i] != ((const int32_t *)am->data)[i];
    CHECK(bad == 0, "%s: %d of %zu argmax indices differ from torch's", c, bad, n_out);
    maxpool2_backward(gx, dout, idx, B, C, H, W);
    cmp(c, "dinp", gx, dinp, n_in);
    maxpool2_backward(gx, dout, idx, B, C, H, W);
    cmp2(c, "dinp", gx, dinp, n_in);
    free(y), free(gx), free(idx);
}

TEST(torch_maxpool2) {
    st_file file;
    const st_file *f = &file;
    if (!open_fx(&file)) return;
    pool_case(f, "maxpool_even");
    pool_case(f, "maxpool_odd");   /* H=9, W=7: the last row/column is dropped (floor) */
    pool_case(f, "maxpool_ties");  /* integer-valued input: ties go to the first element */
    st_free(&file);
}

TEST(torch_relu) {
    st_file file;
    const st_file *f = &file;
    if (!open_fx(&file)) return;
    const st_tensor *t = get(f, "relu", "inp", ST_F32, 0);
    const size_t n = t ? t->numel : 0;
    const float *inp = F32("relu", "inp", n), *out = F32("relu", "out", n);
    const float *dout = F32("relu", "dout", n), *dinp = F32("relu", "dinp", n);
    if (inp && out && dout && dinp) {
        float *y = zeros(n), *gx = zeros(n);
        relu_forward(y, inp, n);
        cmp("relu", "out", y, out, n);
        memcpy(y, inp, n * sizeof(float));
        relu_forward(y, y, n);
        CHECK_CLOSE("relu in place", y, out, n, ATOL, RTOL);
        relu_backward(gx, dout, y, n);
        cmp("relu", "dinp", gx, dinp, n);
        relu_backward(gx, dout, y, n);
        cmp2("relu", "dinp", gx, dinp, n);
        free(y), free(gx);
    }
    st_free(&file);
}

/* Replays the mask torch drew (factors 0 or 1/(1-p) per unit). */
static void drop_case(const st_file *f, const char *c) {
    const st_tensor *ti = get(f, c, "inp", ST_F32, 0), *tm = get(f, c, "mask", ST_F32, 0);
    if (!ti || !tm) return;
    const size_t n = ti->numel, units = tm->numel, unit_size = n / units;
    const float *inp = ti->data, *mask = tm->data, *out = F32(c, "out", n);
    const float *dout = F32(c, "dout", n), *dinp = F32(c, "dinp", n);
    if (!out || !dout || !dinp) return;
    float *y = zeros(n), *gx = zeros(n);
    dropout_forward(y, inp, mask, units, unit_size);
    cmp(c, "out", y, out, n);
    dropout_backward(gx, dout, mask, units, unit_size);
    cmp(c, "dinp", gx, dinp, n);
    dropout_backward(gx, dout, mask, units, unit_size);
    cmp2(c, "dinp", gx, dinp, n);
    free(y), free(gx);
}

TEST(torch_dropout) {
    st_file file;
    const st_file *f = &file;
    if (!open_fx(&file)) return;
    drop_case(f, "dropout");
    drop_case(f, "dropout_p03");
    drop_case(f, "dropout2d");
    st_free(&file);
}

TEST(torch_linear) {
    st_file file;
    const st_file *f = &file;
    if (!open_fx(&file)) return;
    const st_tensor *ti = get(f, "linear", "inp", ST_F32, 0), *tw = get(f, "linear", "w", ST_F32, 0);
    if (ti && tw && ti->ndim == 2 && tw->ndim == 2) {
        const int B = (int)ti->shape[0], IN = (int)ti->shape[1], OUT = (int)tw->shape[0];
        const size_t nI = (size_t)B * IN, nO = (size_t)B * OUT, nW = (size_t)OUT * IN;
        const float *b = F32("linear", "b", OUT), *out = F32("linear", "out", nO);
        const float *dout = F32("linear", "dout", nO), *dinp = F32("linear", "dinp", nI);
        const float *dw = F32("linear", "dw", nW), *db = F32("linear", "db", OUT);
        if (b && out && dout && dinp && dw && db) {
            float *y = zeros(nO), *gx = zeros(nI), *gw = zeros(nW), *gb = zeros(OUT);
            linear_forward(y, ti->data, tw->data, b, B, IN, OUT);
            cmp("linear", "out", y, out, nO);
            linear_backward(gx, gw, gb, dout, ti->data, tw->data, B, IN, OUT);
            cmp("linear", "dinp", gx, dinp, nI);
            cmp("linear", "dw", gw, dw, nW);
            cmp("linear", "db", gb, db, OUT);
            linear_backward(gx, gw, gb, dout, ti->data, tw->data, B, IN, OUT);
            cmp2("linear", "dinp", gx, dinp, nI);
            cmp2("linear", "dw", gw, dw, nW);
            cmp2("linear", "db", gb, db, OUT);
            free(y), free(gx), free(gw), free(gb);
        }
    }
    st_free(&file);
}

static void nll_case(const st_file *f, const char *c) {
    const st_tensor *ti = get(f, c, "inp", ST_F32, 0);
    if (!ti || ti->ndim != 2) return;
    const int B = (int)ti->shape[0], C = (int)ti->shape[1];
    const size_t n = (size_t)B * C;
    const st_tensor *ty = get(f, c, "y", ST_I32, B);
    const float *logp_ref = F32(c, "logp", n), *loss = F32(c, "loss", 1);
    const float *scale = F32(c, "scale", 1), *dinp = F32(c, "dinp", n);
    if (!ty || !logp_ref || !loss || !scale || !dinp) return;
    float *logp = zeros(n), *gx = zeros(n);
    logsoftmax_forward(logp, ti->data, B, C);
    cmp(c, "logp", logp, logp_ref, n);
    float l = nll_loss(logp, ty->data, B, C);
    cmp(c, "loss", &l, loss, 1);
    logsoftmax_nll_backward(gx, logp, ty->data, B, C, *scale);
    cmp(c, "dinp", gx, dinp, n);
    logsoftmax_nll_backward(gx, logp, ty->data, B, C, *scale);
    cmp2(c, "dinp", gx, dinp, n);
    free(logp), free(gx);
}

TEST(torch_logsoftmax_nll) {
    st_file file;
    const st_file *f = &file;
    if (!open_fx(&file)) return;
    nll_case(f, "nll10");  /* C = 10, scale 1 */
    nll_case(f, "nll2");   /* C = 2, scale 0.7 */
    st_free(&file);
}

TEST(torch_grl) {
    st_file file;
    const st_file *f = &file;
    if (!open_fx(&file)) return;
    const st_tensor *ti = get(f, "grl", "inp", ST_F32, 0);
    const size_t n = ti ? ti->numel : 0;
    const float *out = F32("grl", "out", n), *lam = F32("grl", "lam", 1);
    const float *dout = F32("grl", "dout", n), *dinp = F32("grl", "dinp", n);
    if (ti && out && lam && dout && dinp) {
        CHECK(!memcmp(out, ti->data, n * sizeof(float)), "torch's GRL forward is not the identity");
        float *gx = zeros(n);
        grl_backward(gx, dout, n, *lam);
        cmp("grl", "dinp", gx, dinp, n);
        grl_backward(gx, dout, n, *lam);
        cmp2("grl", "dinp", gx, dinp, n);
        free(gx);
    }
    st_free(&file);
}
