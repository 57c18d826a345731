/* test_torch_net_layers.c - the kernels of described networks against PyTorch 1.13 (CPU,
 * float32): convolution with stride and padding (F.conv2d), max-pool with any kernel, stride
 * and padding (F.max_pool2d, its argmax indices included, ties and NaN), sigmoid and Linear on
 * a sparse input (F.linear on the dense equivalent), on small odd shapes
 * (tests/fixtures/torch_net_layers.safetensors, made by tools/make_net_fixtures.py).
 * Tolerance |a-b| <= 1e-5 + 1e-4|b| everywhere; each comparison prints its worst |a-b|.
 * Backward kernels accumulate, so each backward runs twice and the second result must be twice
 * the reference. */
#include <stdlib.h>
#include <string.h>
#include "fxcheck.h"
#include "layers/layers.h"
#include "test.h"

#define NET_FIXTURE "tests/fixtures/torch_net_layers.safetensors"
#define ATOL 1e-5
#define RTOL 1e-4

#define GET(c, what, dt, n) fx_get(f, NET_FIXTURE, c, what, dt, (size_t)(n))
#define F32(c, what, n) fx_f32(f, NET_FIXTURE, c, what, (size_t)(n))
#define CMP(c, what, got, want, n) fx_cmp(c, what, got, want, n, ATOL, RTOL)
#define CMP2(c, what, got, want, n) fx_cmp2(c, what, got, want, n, ATOL, RTOL)

static void convg_case(const st_file *f, const char *c, int slots) {
    const st_tensor *dt = GET(c, "dims", ST_I32, 8);
    if (!dt) return;
    const int32_t *dm = dt->data;
    convg_dims d = {.B = dm[0], .C = dm[1], .H = dm[2], .W = dm[3], .OC = dm[4], .K = dm[5],
                    .stride = dm[6], .pad = dm[7], .slots = slots};
    int OH, OW;
    convg_out_shape(&d, &OH, &OW);
    const size_t n_in = (size_t)d.B * d.C * d.H * d.W, n_w = (size_t)d.OC * d.C * d.K * d.K;
    const size_t n_out = (size_t)d.B * d.OC * OH * OW;
    const float *inp = F32(c, "inp", n_in), *w = F32(c, "w", n_w), *b = F32(c, "b", d.OC);
    const float *out = F32(c, "out", n_out), *dout = F32(c, "dout", n_out);
    const float *dinp = F32(c, "dinp", n_in), *dw = F32(c, "dw", n_w), *db = F32(c, "db", d.OC);
    if (!inp || !w || !b || !out || !dout || !dinp || !dw || !db) return;
    char tag[64];
    snprintf(tag, sizeof tag, "%s slots=%d", c, slots);
    float *scratch = fx_zeros(convg_scratch_floats(&d)), *y = fx_zeros(n_out);
    float *gx = fx_zeros(n_in), *gw = fx_zeros(n_w), *gb = fx_zeros(d.OC);
    float *gw1 = fx_zeros(n_w), *gb1 = fx_zeros(d.OC);
    convg_forward(y, inp, w, b, &d, scratch);
    CMP(tag, "out", y, out, n_out);
    convg_backward(gx, gw, gb, dout, inp, w, &d, scratch);
    CMP(tag, "dinp", gx, dinp, n_in);
    CMP(tag, "dw", gw, dw, n_w);
    CMP(tag, "db", gb, db, d.OC);
    convg_backward(gx, gw, gb, dout, inp, w, &d, scratch);
    CMP2(tag, "dinp", gx, dinp, n_in);
    CMP2(tag, "dw", gw, dw, n_w);
    CMP2(tag, "db", gb, db, d.OC);
    convg_backward(NULL, gw1, gb1, dout, inp, w, &d, scratch);
    CHECK_CLOSE("convg dw with dinp NULL", gw1, dw, n_w, ATOL, RTOL);
    CHECK_CLOSE("convg db with dinp NULL", gb1, db, d.OC, ATOL, RTOL);
    free(scratch), free(y), free(gx), free(gw), free(gb), free(gw1), free(gb1);
}

TEST(torch_convg) {
    st_file file;
    const st_file *f = &file;
    if (!fx_open(&file, NET_FIXTURE)) return;
    static const char *const cases[] = {"convg_s1p1", "convg_s1p2", "convg_s2p1", "convg_s3p0",
                                        "convg_s2k1", "convg_s2p2_full"};
    const int impls[2] = {KERNELS_PORTABLE, KERNELS_AUTO};
    for (int i = 0; i < 2; i++) {
        kernels_use(impls[i]);
        for (size_t k = 0; k < sizeof cases / sizeof *cases; k++) {
            convg_case(f, cases[k], 1);
            convg_case(f, cases[k], 2);
        }
    }
    kernels_use(KERNELS_AUTO);
    st_free(&file);
}

static void pool_case(const st_file *f, const char *c, int has_nan) {
    const st_tensor *dt = GET(c, "dims", ST_I32, 7);
    if (!dt) return;
    const int32_t *dm = dt->data;
    maxpoolg_dims d = {.B = dm[0], .C = dm[1], .H = dm[2], .W = dm[3], .K = dm[4],
                       .stride = dm[5], .pad = dm[6]};
    int OH, OW;
    maxpoolg_out_shape(&d, &OH, &OW);
    const size_t n_in = (size_t)d.B * d.C * d.H * d.W, n_out = (size_t)d.B * d.C * OH * OW;
    const float *inp = F32(c, "inp", n_in), *out = F32(c, "out", n_out);
    const float *dout = F32(c, "dout", n_out);
    const st_tensor *am = GET(c, "argmax", ST_I32, n_out);
    if (!inp || !out || !dout || !am) return;
    float *y = fx_zeros(n_out), *gx = fx_zeros(n_in);
    int32_t *idx = calloc(n_out, sizeof *idx);
    maxpoolg_forward(y, idx, inp, &d);
    int bad = 0, nans = 0;
    for (size_t i = 0; i < n_out; i++) {
        bad += idx[i] != ((const int32_t *)am->data)[i];
        nans += isnan(out[i]);
    }
    CHECK(bad == 0, "%s: %d of %zu argmax indices differ from torch's", c, bad, n_out);
    if (has_nan) {  /* same NaN pattern, same values elsewhere */
        int differ = 0;
        for (size_t i = 0; i < n_out; i++)
            differ += isnan(out[i]) ? !isnan(y[i]) : y[i] != out[i];
        CHECK(differ == 0 && nans > 0, "%s: %d outputs differ (torch has %d NaN)", c, differ, nans);
        printf("    %s: %d NaN windows, argmax as torch's\n", c, nans);
    } else {
        const float *dinp = F32(c, "dinp", n_in);
        CMP(c, "out", y, out, n_out);
        if (dinp) {
            maxpoolg_backward(gx, dout, idx, &d);
            CMP(c, "dinp", gx, dinp, n_in);
            maxpoolg_backward(gx, dout, idx, &d);
            CMP2(c, "dinp", gx, dinp, n_in);
        }
    }
    free(y), free(gx), free(idx);
}

TEST(torch_maxpoolg) {
    st_file file;
    const st_file *f = &file;
    if (!fx_open(&file, NET_FIXTURE)) return;
    pool_case(f, "pool_k3s2", 0);    /* overlapping windows */
    pool_case(f, "pool_k3s2p1", 0);  /* padding with stride */
    pool_case(f, "pool_k2s2p1", 0);  /* corner windows of one plane element */
    pool_case(f, "pool_k3s1p1", 0);
    pool_case(f, "pool_k4s3p2", 0);
    pool_case(f, "pool_ties", 0);    /* integer values: ties go to the first element */
    pool_case(f, "pool_nan", 1);
    st_free(&file);
}

TEST(torch_sigmoid) {
    st_file file;
    const st_file *f = &file;
    if (!fx_open(&file, NET_FIXTURE)) return;
    const st_tensor *t = GET("sigmoid", "inp", ST_F32, 0);
    const size_t n = t ? t->numel : 0;
    const float *out = F32("sigmoid", "out", n), *dout = F32("sigmoid", "dout", n);
    const float *dinp = F32("sigmoid", "dinp", n);
    if (t && out && dout && dinp) {
        float *y = fx_zeros(n), *gx = fx_zeros(n);
        sigmoid_forward(y, t->data, n);
        CMP("sigmoid", "out", y, out, n);
        /* the tiny outputs of very negative inputs, relative to their size (where torch's are
         * normal floats: its exp gives 0 where the result would be subnormal, e.g. at -100) */
        for (size_t i = 0; i < n; i++)
            if (out[i] < 1e-6f && out[i] > 1e-30f) CHECK(fabsf(y[i] - out[i]) <= 1e-5f * out[i], "sigmoid(%g) = %g, torch %g",
                                      ((const float *)t->data)[i], y[i], out[i]);
        sigmoid_backward(gx, dout, y, n);
        CMP("sigmoid", "dinp", gx, dinp, n);
        sigmoid_backward(gx, dout, y, n);
        CMP2("sigmoid", "dinp", gx, dinp, n);
        free(y), free(gx);
    }
    st_free(&file);
}

static void sparse_case(const st_file *f, const char *c) {
    const st_tensor *tr = GET(c, "rowptr", ST_I64, 0), *tw = GET(c, "w", ST_F32, 0);
    if (!tr || !tw || tw->ndim != 2) return;
    const int B = (int)tr->numel - 1, OUT = (int)tw->shape[0], IN = (int)tw->shape[1];
    const int64_t *rowptr = tr->data;
    const size_t nnz = (size_t)rowptr[B], nO = (size_t)B * OUT, nW = (size_t)OUT * IN;
    const st_tensor *tc = GET(c, "col", ST_I32, nnz);
    const float *val = F32(c, "val", nnz), *b = F32(c, "b", OUT), *out = F32(c, "out", nO);
    const float *dout = F32(c, "dout", nO), *dw = F32(c, "dw", nW), *db = F32(c, "db", OUT);
    if (!tc || !val || !b || !out || !dout || !dw || !db) return;
    float *y = fx_zeros(nO), *gw = fx_zeros(nW), *gb = fx_zeros(OUT);
    linear_sparse_forward(y, rowptr, tc->data, val, tw->data, b, B, IN, OUT);
    CMP(c, "out", y, out, nO);
    linear_sparse_backward(gw, gb, dout, rowptr, tc->data, val, B, IN, OUT);
    CMP(c, "dw", gw, dw, nW);
    CMP(c, "db", gb, db, OUT);
    linear_sparse_backward(gw, gb, dout, rowptr, tc->data, val, B, IN, OUT);
    CMP2(c, "dw", gw, dw, nW);
    CMP2(c, "db", gb, db, OUT);
    free(y), free(gw), free(gb);
}

TEST(torch_linear_sparse) {
    st_file file;
    const st_file *f = &file;
    if (!fx_open(&file, NET_FIXTURE)) return;
    sparse_case(f, "sparse_a");  /* OUT 9: two row blocks and a remainder row; an empty row */
    sparse_case(f, "sparse_b");  /* IN 300, OUT 3 */
    st_free(&file);
}
