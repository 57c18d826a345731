/* test_fused.c - the fused BatchNorm -> dropout2d -> maxpool -> ReLU kernels must give what the
 * separate kernels give: the forward bit for bit, the backward up to summation order (and its
 * input gradient overwrites what the buffer held). The separate kernels are themselves checked
 * against PyTorch (test_torch_layers.c) and finite differences (test_gradcheck.c). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "layers/layers.h"
#include "test.h"

static float *rnd(size_t n, dann_rng *r, float lo, float hi) {
    float *v = malloc(n * sizeof *v);
    for (size_t i = 0; i < n; i++) v[i] = lo + (hi - lo) * rng_uniform(r);
    return v;
}

static void fused_case(int B, int C, int H, int W, int use_mask) {
    dann_rng r;
    rng_seed(&r, (uint64_t)(B * 1000 + C * 10 + use_mask));
    const size_t n = (size_t)B * C * H * W, no = (size_t)B * C * (H / 2) * (W / 2);
    float *x = rnd(n, &r, -2, 3), *gamma = rnd((size_t)C, &r, 0.5f, 1.5f), *beta = rnd((size_t)C, &r, -1, 1);
    float *dout = rnd(no, &r, -1, 1), *mask = calloc((size_t)B * C, sizeof(float));
    dropout_draw(mask, (size_t)B * C, 0.5f, &r);
    const float *mk = use_mask ? mask : NULL;
    float rm[64] = {0}, rv[64], rm2[64] = {0}, rv2[64], mean[64], rstd[64], mean2[64], rstd2[64];
    for (int c = 0; c < C; c++) rv[c] = rv2[c] = 1.0f;
    // separate kernels
    float *bn = calloc(n, sizeof(float)), *dr = calloc(n, sizeof(float)), *out = calloc(no, sizeof(float));
    int32_t *am = calloc(no, sizeof(int32_t)), *am2 = calloc(no, sizeof(int32_t));
    batchnorm_forward(bn, mean, rstd, rm, rv, x, gamma, beta, B, C, H * W, 1, 0.1f, 1e-5f);
    if (mk) dropout_forward(dr, bn, mk, (size_t)B * C, (size_t)H * W);
    maxpool2_forward(out, am, mk ? dr : bn, B, C, H, W);
    relu_forward(out, out, no);
    float *dpool = calloc(n, sizeof(float)), *dbn = calloc(n, sizeof(float)), *dx = calloc(n, sizeof(float));
    float *drelu = calloc(no, sizeof(float));
    float dg[64] = {0}, db[64] = {0}, dg2[64] = {0}, db2[64] = {0};
    relu_backward(drelu, dout, out, no);
    maxpool2_backward(dpool, drelu, am, B, C, H, W);
    if (mk) dropout_backward(dbn, dpool, mk, (size_t)B * C, (size_t)H * W);
    batchnorm_backward(dx, dg, db, mk ? dbn : dpool, x, mean, rstd, gamma, B, C, H * W);
    // fused
    float *out2 = calloc(no, sizeof(float)), *xsel = calloc(no, sizeof(float)), *dx2 = malloc(n * sizeof(float));
    for (size_t i = 0; i < n; i++) dx2[i] = 7.0f;  // overwritten, not added to
    batchnorm_stats(mean2, rstd2, rm2, rv2, x, B, C, H * W, 1, 0.1f, 1e-5f);
    bn_mask_maxpool2_forward(out2, am2, xsel, x, mean2, rstd2, gamma, beta, mk, B, C, H, W);
    float coef[128];
    bn_mask_maxpool2_backward(dx2, dg2, db2, dout, out2, am2, xsel, x, mean2, rstd2, gamma, mk, coef, B, C, H, W);
    int xsel_ok = 1;
    for (size_t k = 0; k < no; k++) xsel_ok &= xsel[k] == x[(k / ((H / 2) * (W / 2))) * H * W + (size_t)am2[k]];
    CHECK(xsel_ok, "xsel is not the input at the winners (mask %d)", use_mask);
    CHECK(!memcmp(mean, mean2, C * sizeof(float)) && !memcmp(rstd, rstd2, C * sizeof(float)), "stats differ");
    CHECK(!memcmp(rm, rm2, C * sizeof(float)) && !memcmp(rv, rv2, C * sizeof(float)), "running stats differ");
    CHECK(!memcmp(out, out2, no * sizeof(float)), "pooled outputs differ (mask %d)", use_mask);
    CHECK(!memcmp(am, am2, no * sizeof(int32_t)), "argmax differs (mask %d)", use_mask);
    float *out3 = malloc(no * sizeof(float));  // inference: no winners kept, the same values
    bn_mask_maxpool2_forward(out3, NULL, NULL, x, mean2, rstd2, gamma, beta, mk, B, C, H, W);
    CHECK(!memcmp(out, out3, no * sizeof(float)), "outputs without argmax differ (mask %d)", use_mask);
    free(out3);
    CHECK_CLOSE("fused dinp vs separate kernels", dx2, dx, n, 1e-6, 1e-5);
    CHECK_CLOSE("fused dgamma vs separate kernels", dg2, dg, (size_t)C, 1e-6, 1e-5);
    CHECK_CLOSE("fused dbeta vs separate kernels", db2, db, (size_t)C, 1e-6, 1e-5);
    free(x), free(gamma), free(beta), free(dout), free(mask), free(bn), free(dr), free(out);
    free(am), free(am2), free(dpool), free(dbn), free(dx), free(out2), free(dx2);
    free(drelu), free(xsel);
}

/* Every size through each plane kernel this CPU runs (bn_pool_x86.c: AVX-512 with the AVX-512
 * sets, AVX2 with the AVX2 set) and the C loop (NEON and portable sets); py3's planes (24x24, 8x8), widths
 * in no plain-load case (10, 18: a second chunk of 2 for AVX2), 30 and 32 (two AVX2 chunks, the
 * second partial or whole), an odd width (window by window), odd heights (the last input row
 * unused) and a width over 32 (the C loop for every set). */
static void fused_cases(int use_mask) {
    static const int sizes[][4] = {{3, 5, 8, 6},  {4, 7, 8, 8},  {2, 3, 24, 24}, {3, 4, 7, 10},
                                   {2, 3, 6, 9},  {2, 2, 5, 32}, {2, 3, 5, 18},  {2, 2, 6, 30},
                                   {2, 2, 4, 34}};
    static const int sets[] = {KERNELS_AVX512_V16, KERNELS_AVX2, KERNELS_NEON, KERNELS_PORTABLE};
    static unsigned said;  // the sets said to be skipped
    for (size_t s = 0; s < sizeof sets / sizeof *sets; s++) {
        if (!kernels_available(sets[s])) {
            if (!(said & 1u << s)) said |= 1u << s, printf("    (fused: %s not run, this CPU lacks it)\n", kernels_name(sets[s]));
            continue;
        }
        kernels_use(sets[s]);
        for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++)
            fused_case(sizes[i][0], sizes[i][1], sizes[i][2], sizes[i][3], use_mask);
    }
    kernels_use(KERNELS_AUTO);
}

TEST(fused_bn_maxpool_relu_equals_separate_kernels) { fused_cases(0); }
TEST(fused_bn_dropout2d_maxpool_relu_equals_separate_kernels) { fused_cases(1); }

/* conv2d_backward_weights_from with bn_pool_backward_image as the producer (py3's conv1 -> bn1
 * backward, where the input gradient is never stored whole) must give the weight and bias
 * gradients of storing that gradient and calling conv2d_backward, bit for bit: through both
 * convolution implementations, for 1 and 3 threads, with channel counts that fill the weight
 * gradient's tiles (8) and that do not (7), at conv1's size (one image per weight-gradient
 * block) and conv2's (8x8 outputs: several images per block, the gradient produced in place). */
static void produced_case(int OC, int slots, int IH) {
    dann_rng r;
    rng_seed(&r, (uint64_t)(OC * 10 + slots + IH));
    conv_dims d = {5, 3, IH, IH, OC, 5, slots};
    const int H = IH - 4, W = IH - 4;
    const size_t n_in = (size_t)d.B * 3 * IH * IH, n = (size_t)d.B * OC * H * W, no = n / 4;
    float *inp = rnd(n_in, &r, -1, 1), *x = rnd(n, &r, -2, 3), *dout = rnd(no, &r, -1, 1);
    float *gamma = rnd((size_t)OC, &r, 0.5f, 1.5f), *beta = rnd((size_t)OC, &r, -1, 1);
    float mean[8], rstd[8], rm[8] = {0}, rv[8] = {1, 1, 1, 1, 1, 1, 1, 1}, coef[16], coef2[16];
    float *out = calloc(no, sizeof(float)), *xsel = calloc(no, sizeof(float));
    int32_t *am = calloc(no, sizeof(int32_t));
    batchnorm_stats(mean, rstd, rm, rv, x, d.B, OC, H * W, 1, 0.1f, 1e-5f);
    bn_mask_maxpool2_forward(out, am, xsel, x, mean, rstd, gamma, beta, NULL, d.B, OC, H, W);
    const size_t nw = (size_t)OC * 75;
    float *scratch = calloc(conv2d_scratch_floats(&d), sizeof(float)), *dinp = calloc(n, sizeof(float));
    float *buf = calloc(n, sizeof(float));
    for (int impl = 0; impl < 2; impl++) {
        kernels_use(impl ? KERNELS_PORTABLE : KERNELS_AUTO);
        float *dw = calloc(nw, sizeof(float)), *db = calloc((size_t)OC, sizeof(float));
        float *dw2 = calloc(nw, sizeof(float)), *db2 = calloc((size_t)OC, sizeof(float));
        float dg[8] = {0}, dbt[8] = {0}, dg2[8] = {0}, dbt2[8] = {0};
        bn_mask_maxpool2_backward(dinp, dg, dbt, dout, out, am, xsel, x, mean, rstd, gamma, NULL, coef,
                                  d.B, OC, H, W);
        conv2d_backward(NULL, dw, db, dinp, inp, NULL, &d, scratch);
        const bn_pool_grad p = {dout, out, am, xsel, x, mean, rstd, gamma, NULL, coef2, d.B, OC, H, W};
        bn_pool_backward_sums(&p, dg2, dbt2);
        conv2d_backward_weights_from(dw2, db2, bn_pool_backward_image, &p, inp, &d, scratch, buf);
        CHECK(!memcmp(dg, dg2, (size_t)OC * sizeof(float)) && !memcmp(dbt, dbt2, (size_t)OC * sizeof(float)),
              "bn sums differ (OC %d)", OC);
        CHECK(!memcmp(dw, dw2, nw * sizeof(float)), "produced dw differs (OC %d, %d slots, %s)", OC,
              slots, impl ? "portable" : "auto");
        CHECK(!memcmp(db, db2, (size_t)OC * sizeof(float)), "produced db differs (OC %d, %d slots, %s)",
              OC, slots, impl ? "portable" : "auto");
        float s = 0.0f;
        for (size_t i = 0; i < nw; i++) s += dw[i] * dw[i];
        CHECK(s > 0.0f, "the weight gradient is zero: nothing was compared");
        free(dw), free(db), free(dw2), free(db2);
    }
    kernels_use(KERNELS_AUTO);
    free(inp), free(x), free(dout), free(gamma), free(beta), free(out), free(xsel), free(am);
    free(scratch), free(dinp), free(buf);
}

TEST(conv_weights_from_produced_bn_gradient_equal_stored) {
    for (int IH = 28; IH >= 12; IH -= 16) {
        produced_case(8, 1, IH);
        produced_case(8, 3, IH);
        produced_case(7, 1, IH);
        produced_case(7, 3, IH);
    }
}
