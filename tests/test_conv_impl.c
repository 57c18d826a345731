/* test_conv_impl.c - every convolution implementation this CPU runs (layers.h: the v16 sets,
 * the hand-written AVX-512 kernels, im2col + sgemm) against a plain double-precision convolution, at the py3 network's sizes (thousands of terms
 * per sum, where a float result can only be judged against the size of its terms) and at
 * awkward ones (tails of 16-lane vectors, rows wider than one vector, tiles that do not divide
 * the channel counts); and the promise of all but im2col + sgemm that results do not depend on
 * the thread count, bit for bit. The Linear layers, which follow the same choice of implementation, are checked the
 * same way. (Small cases are also checked against PyTorch in test_torch_layers.c.) */
#include <stdlib.h>
#include <string.h>
#include "layers/layers.h"
#include "test.h"

/* A float sum of n terms may differ from the exact one by a few ulps of the sum of |terms|
 * (more when n is large); one missing or wrong term moves it by about mag/n, far more. */
#define TOL 1e-5

typedef struct { float *out, *dinp, *dw, *db; } conv_result;

static float *rnd(size_t n, dann_rng *r) {
    float *v = malloc(n * sizeof *v);
    for (size_t i = 0; i < n; i++) v[i] = 2.0f * rng_uniform(r) - 1.0f;
    return v;
}

// forward, then backward twice (accumulating) with an input gradient, from fixed start values
static conv_result run(int impl, conv_dims d, const float *inp, const float *w, const float *b,
                       const float *dout) {
    kernels_use(impl);
    const size_t OHW = (size_t)(d.H - d.K + 1) * (d.W - d.K + 1);
    const size_t n_in = (size_t)d.B * d.C * d.H * d.W, n_w = (size_t)d.OC * d.C * d.K * d.K;
    conv_result r = {calloc((size_t)d.B * d.OC * OHW, sizeof(float)), calloc(n_in, sizeof(float)),
                     calloc(n_w, sizeof(float)), calloc((size_t)d.OC, sizeof(float))};
    for (size_t i = 0; i < n_w; i++) r.dw[i] = 0.25f;  // backward accumulates onto what is there
    float *scratch = calloc(conv2d_scratch_floats(&d), sizeof(float));
    conv2d_forward(r.out, inp, w, b, &d, scratch);
    conv2d_backward(r.dinp, r.dw, r.db, dout, inp, w, &d, scratch);
    conv2d_backward(r.dinp, r.dw, r.db, dout, inp, w, &d, scratch);
    free(scratch);
    kernels_use(KERNELS_AUTO);
    return r;
}

static void release(conv_result r) { free(r.out), free(r.dinp), free(r.dw), free(r.db); }

/* The exact result and the size of its terms (sum of |term|), in double, one loop nest per
 * quantity. dw starts at 0.25 and dinp at 0, as in run(); both backward calls add. */
typedef struct { double *out, *out_mag, *dinp, *dinp_mag, *dw, *dw_mag, *db, *db_mag; } reference;

static reference exact(conv_dims d, const float *inp, const float *w, const float *b, const float *dout) {
    const int OH = d.H - d.K + 1, OW = d.W - d.K + 1;
    const size_t n_in = (size_t)d.B * d.C * d.H * d.W, n_w = (size_t)d.OC * d.C * d.K * d.K;
    reference r = {calloc((size_t)d.B * d.OC * OH * OW, 8), calloc((size_t)d.B * d.OC * OH * OW, 8),
                   calloc(n_in, 8), calloc(n_in, 8), calloc(n_w, 8), calloc(n_w, 8),
                   calloc((size_t)d.OC, 8), calloc((size_t)d.OC, 8)};
    for (size_t i = 0; i < n_w; i++) r.dw[i] = r.dw_mag[i] = 0.25;
    for (int n = 0; n < d.B; n++)
        for (int o = 0; o < d.OC; o++)
            for (int y = 0; y < OH; y++)
                for (int x = 0; x < OW; x++) {
                    const size_t oi = (((size_t)n * d.OC + o) * OH + y) * OW + x;
                    double acc = b[o], mag = fabs(b[o]);
                    const double g = dout[oi];
                    for (int c = 0; c < d.C; c++)
                        for (int ki = 0; ki < d.K; ki++)
                            for (int kj = 0; kj < d.K; kj++) {
                                const size_t ii = (((size_t)n * d.C + c) * d.H + y + ki) * d.W + x + kj;
                                const size_t wi = (((size_t)o * d.C + c) * d.K + ki) * d.K + kj;
                                acc += (double)w[wi] * inp[ii], mag += fabs((double)w[wi] * inp[ii]);
                                r.dinp[ii] += 2 * g * w[wi], r.dinp_mag[ii] += 2 * fabs(g * w[wi]);
                                r.dw[wi] += 2 * g * inp[ii], r.dw_mag[wi] += 2 * fabs(g * inp[ii]);
                            }
                    r.out[oi] = acc, r.out_mag[oi] = mag;
                    r.db[o] += 2 * g, r.db_mag[o] += 2 * fabs(g);
                }
    return r;
}

static void free_reference(reference r) {
    free(r.out), free(r.out_mag), free(r.dinp), free(r.dinp_mag);
    free(r.dw), free(r.dw_mag), free(r.db), free(r.db_mag);
}

static void check_exact(const char *name, const char *what, const float *got, const double *want,
                        const double *mag, size_t n) {
    size_t bad = 0, worst = 0;
    double worst_ratio = 0;
    for (size_t i = 0; i < n; i++) {
        const double ratio = fabs(got[i] - want[i]) / (mag[i] + 1e-30);
        if (!(ratio <= TOL)) bad++;
        if (!(ratio <= worst_ratio)) worst_ratio = ratio, worst = i;
    }
    CHECK(bad == 0, "%s %s: %zu of %zu outside |a-b| <= %g * sum|terms|; worst [%zu] got %.9g want %.9g (%.2g)",
          name, what, bad, n, TOL, worst, got[worst], want[worst], worst_ratio);
}

/* The implementations to check here: all this CPU and build run. */
static int impls_here(int *out) {
    static const int all[] = {KERNELS_PORTABLE, KERNELS_BLAS, KERNELS_AVX2, KERNELS_NEON, KERNELS_AVX512,
                              KERNELS_AVX512_V16};
    int n = 0;
    for (size_t i = 0; i < sizeof all / sizeof *all; i++)
        if (kernels_available(all[i])) out[n++] = all[i];
    return n;
}

static void impl_case(const char *name, conv_dims d, uint64_t seed) {
    dann_rng g;
    rng_seed(&g, seed);
    const size_t OHW = (size_t)(d.H - d.K + 1) * (d.W - d.K + 1);
    const size_t n_in = (size_t)d.B * d.C * d.H * d.W, n_w = (size_t)d.OC * d.C * d.K * d.K;
    const size_t n_out = (size_t)d.B * d.OC * OHW;
    float *inp = rnd(n_in, &g), *w = rnd(n_w, &g), *b = rnd((size_t)d.OC, &g), *dout = rnd(n_out, &g);
    reference ref = exact(d, inp, w, b, dout);
    int impls[8];
    const int n_impls = impls_here(impls);
    for (int i = 0; i < n_impls; i++) {
        const int impl = impls[i];
        conv_dims d1 = d;
        d1.slots = 1;
        conv_result r = run(impl, d1, inp, w, b, dout);
        char label[96];
        snprintf(label, sizeof label, "%s (%s)", name, kernels_name(impl));
        check_exact(label, "out", r.out, ref.out, ref.out_mag, n_out);
        check_exact(label, "dinp", r.dinp, ref.dinp, ref.dinp_mag, n_in);
        check_exact(label, "dw", r.dw, ref.dw, ref.dw_mag, n_w);
        check_exact(label, "db", r.db, ref.db, ref.db_mag, (size_t)d.OC);
        if (impl != KERNELS_BLAS) {
            conv_dims d3 = d;
            d3.slots = 3;
            conv_result s3 = run(impl, d3, inp, w, b, dout);
            CHECK(!memcmp(r.out, s3.out, n_out * sizeof(float)) &&
                      !memcmp(r.dinp, s3.dinp, n_in * sizeof(float)) &&
                      !memcmp(r.dw, s3.dw, n_w * sizeof(float)) &&
                      !memcmp(r.db, s3.db, (size_t)d.OC * sizeof(float)),
                  "%s: 1 and 3 threads give different bits", label);
            release(s3);
        }
        release(r);
    }
    free_reference(ref);
    free(inp), free(w), free(b), free(dout);
}

TEST(conv_both_implementations_match_exact_sums) {
    impl_case("py3 conv1", (conv_dims){.B = 3, .C = 3, .H = 28, .W = 28, .OC = 64, .K = 5}, 1);
    impl_case("py3 conv1 grey", (conv_dims){.B = 4, .C = 1, .H = 28, .W = 28, .OC = 64, .K = 5}, 2);
    impl_case("py3 conv2", (conv_dims){.B = 37, .C = 64, .H = 12, .W = 12, .OC = 50, .K = 5}, 3);
    // 26-wide rows (two vectors, a tail), 7 channels (tiles of 4 and 5 leave remainders)
    impl_case("wide rows", (conv_dims){.B = 2, .C = 3, .H = 9, .W = 30, .OC = 7, .K = 5}, 4);
    // 8-wide output rows in planes under 16 wide (the slotted input gradient): stores that
    // straddle rows, the plane's last rows masked, 9x9 and 2x2 kernels
    impl_case("narrow planes", (conv_dims){.B = 3, .C = 2, .H = 4, .W = 10, .OC = 6, .K = 3}, 7);
    impl_case("9x9 kernel", (conv_dims){.B = 2, .C = 3, .H = 10, .W = 16, .OC = 5, .K = 9}, 8);
    impl_case("2x2 kernel", (conv_dims){.B = 3, .C = 4, .H = 5, .W = 9, .OC = 7, .K = 2}, 9);
    // OH*OW = 35: positions not a multiple of 16; 3x3 kernel
    impl_case("odd sizes", (conv_dims){.B = 5, .C = 2, .H = 7, .W = 9, .OC = 3, .K = 3}, 5);
    // more images than one weight-gradient block of 1024 positions
    impl_case("many images", (conv_dims){.B = 70, .C = 2, .H = 6, .W = 6, .OC = 11, .K = 2}, 6);
    int impls[8];
    const int n = impls_here(impls);
    char ran[128] = "";
    for (int i = 0; i < n; i++) snprintf(ran + strlen(ran), sizeof ran - strlen(ran), " %s", kernels_name(impls[i]));
    printf("    implementations checked:%s%s\n", ran,
           kernels_available(KERNELS_AVX512) ? "" : " (not avx512: this CPU lacks AVX-512F)");
}

/* Linear layers take the same paths (v16 tiles, AVX-512 tiles, OpenBLAS), chosen with the convolutions.
 * A Linear layer is a 1x1 convolution of a 1x1 image (IN channels in, OUT out), so the same
 * exact reference judges it: forward, then backward twice (accumulating) as in run(). */
static void linear_case(int B, int IN, int OUT, uint64_t seed) {
    dann_rng g;
    rng_seed(&g, seed);
    const conv_dims d = {.B = B, .C = IN, .H = 1, .W = 1, .OC = OUT, .K = 1};
    const size_t n_in = (size_t)B * IN, n_out = (size_t)B * OUT, n_w = (size_t)OUT * IN;
    float *inp = rnd(n_in, &g), *w = rnd(n_w, &g), *b = rnd((size_t)OUT, &g), *dout = rnd(n_out, &g);
    reference ref = exact(d, inp, w, b, dout);
    int impls[8];
    const int n_impls = impls_here(impls);
    for (int i = 0; i < n_impls; i++) {
        const int impl = impls[i];
        kernels_use(impl);
        conv_result r = {calloc(n_out, sizeof(float)), calloc(n_in, sizeof(float)),
                         calloc(n_w, sizeof(float)), calloc((size_t)OUT, sizeof(float))};
        for (size_t i = 0; i < n_w; i++) r.dw[i] = 0.25f;
        linear_forward(r.out, inp, w, b, B, IN, OUT);
        linear_backward(r.dinp, r.dw, r.db, dout, inp, w, B, IN, OUT);
        linear_backward(r.dinp, r.dw, r.db, dout, inp, w, B, IN, OUT);
        char label[96];
        snprintf(label, sizeof label, "linear %d x %d -> %d (%s)", B, IN, OUT, kernels_name(impl));
        check_exact(label, "out", r.out, ref.out, ref.out_mag, n_out);
        check_exact(label, "dinp", r.dinp, ref.dinp, ref.dinp_mag, n_in);
        check_exact(label, "dw", r.dw, ref.dw, ref.dw_mag, n_w);
        check_exact(label, "db", r.db, ref.db, ref.db_mag, (size_t)OUT);
        release(r);
    }
    kernels_use(KERNELS_AUTO);
    free_reference(ref);
    free(inp), free(w), free(b), free(dout);
}

TEST(linear_both_implementations_match_exact_sums) {
    linear_case(128, 800, 100, 11);  // py3's c_fc1 / d_fc1
    linear_case(128, 100, 10, 12);   // c_fc3: a tile of 4 outputs and a tail of 2
    linear_case(37, 100, 2, 13);     // d_fc2; 37 rows: tiles of 5 and a tail
    linear_case(3, 37, 13, 14);      // IN not a multiple of 16, OUT not of 4
}
