/* test_kernels_isa.c - the v16 kernel sets (layers.h: one source over a 16-lane vector, built
 * for portable C, AVX2+FMA, NEON and AVX-512) must compute the same bits as the portable
 * reference: every convolution and Linear kernel at the py3 network's sizes and at awkward ones,
 * at 1 and 3 threads, and whole training steps. Each set this CPU and build can run is checked;
 * the skip line names the others. (Their agreement with exact sums is test_conv_impl.c's, with
 * PyTorch test_torch_layers.c's.)
 * kernels_cross_isa_resume checks one ISA against another through a checkpoint: `make test-arm`
 * runs it natively with DANN_XISA_WRITE=DIR (k steps, save, k more, save) and then in the
 * aarch64 build under qemu with DANN_XISA_CHECK=DIR (load, the same k steps, compare). */
#include <stdlib.h>
#include <string.h>
#include "core/core.h"
#include "io/checkpoint.h"
#include "layers/layers.h"
#include "test.h"

static const int v16_sets[] = {KERNELS_AVX2, KERNELS_NEON, KERNELS_AVX512_V16};
#define N_SETS (int)(sizeof v16_sets / sizeof *v16_sets)

/* The sets to compare with the portable one; the others are listed in skipped. */
static void report(const int *sets, int n, const char *skipped);
static int runnable_sets(int *out, char *skipped, size_t cap) {
    int n = 0;
    skipped[0] = 0;
    for (int i = 0; i < N_SETS; i++) {
        const int k = v16_sets[i];
        const char *why = NULL;
        if (!kernels_available(k))
            why = "not built for this architecture or not on this CPU";
        if (why) {
            size_t len = strlen(skipped);
            snprintf(skipped + len, cap - len, "%s%s (%s)", len ? ", " : "", kernels_name(k), why);
        } else {
            out[n++] = k;
        }
    }
    return n;
}

/* One line naming what ran and what did not; skipped (the test counts as skipped) when no set
 * but the portable one could run. */
static void report(const int *sets, int n, const char *skipped) {
    char ran[256] = "";
    for (int i = 0; i < n; i++)
        snprintf(ran + strlen(ran), sizeof ran - strlen(ran), "%s%s", i ? ", " : "", kernels_name(sets[i]));
    if (n == 0) SKIP("no v16 set but the portable one runs here (%s); portable 1 vs more threads passed", skipped);
    printf("    checked against portable: %s%s%s\n", ran, skipped[0] ? "; not run: " : "", skipped);
}

static float *rnd(size_t n, dann_rng *r) {
    float *v = malloc(n * sizeof *v);
    for (size_t i = 0; i < n; i++) v[i] = 2.0f * rng_uniform(r) - 1.0f;
    return v;
}

static int same(const float *a, const float *b, size_t n) { return memcmp(a, b, n * sizeof(float)) == 0; }

/* ---- convolution ---- */

typedef struct { float *out, *dinp, *dw, *db, *dw2, *db2; } conv_bits;
typedef struct { const float *dout; int OC; size_t OHW; } stored_grad;

// a producer that hands out the stored gradient (conv2d_backward_weights_from's contract)
static void produce_stored(float *dst, int b, int c0, int c1, const void *ctx) {
    const stored_grad *s = ctx;
    memcpy(dst + (size_t)c0 * s->OHW, s->dout + ((size_t)b * s->OC + c0) * s->OHW,
           (size_t)(c1 - c0) * s->OHW * sizeof(float));
}

static conv_bits conv_run(int impl, conv_dims d, const float *inp, const float *w, const float *b,
                          const float *dout) {
    kernels_use(impl);
    const size_t OHW = (size_t)(d.H - d.K + 1) * (d.W - d.K + 1);
    const size_t n_in = (size_t)d.B * d.C * d.H * d.W, n_w = (size_t)d.OC * d.C * d.K * d.K;
    const size_t n_out = (size_t)d.B * d.OC * OHW;
    conv_bits r = {calloc(n_out, 4), calloc(n_in, 4), calloc(n_w, 4), calloc((size_t)d.OC, 4),
                   calloc(n_w, 4), calloc((size_t)d.OC, 4)};
    for (size_t i = 0; i < n_w; i++) r.dw[i] = r.dw2[i] = 0.25f;
    float *scratch = calloc(conv2d_scratch_floats(&d), sizeof(float)), *buf = calloc(n_out, 4);
    conv2d_forward(r.out, inp, w, b, &d, scratch);
    conv2d_backward(r.dinp, r.dw, r.db, dout, inp, w, &d, scratch);
    conv2d_backward(r.dinp, r.dw, r.db, dout, inp, w, &d, scratch);
    const stored_grad sg = {dout, d.OC, OHW};
    conv2d_backward_weights_from(r.dw2, r.db2, produce_stored, &sg, inp, &d, scratch, buf);
    free(scratch), free(buf);
    kernels_use(KERNELS_AUTO);
    return r;
}

static void conv_free(conv_bits r) { free(r.out), free(r.dinp), free(r.dw), free(r.db), free(r.dw2), free(r.db2); }

static void conv_case(const char *name, conv_dims d, uint64_t seed, const int *sets, int n_sets) {
    dann_rng g;
    rng_seed(&g, seed);
    const size_t OHW = (size_t)(d.H - d.K + 1) * (d.W - d.K + 1);
    const size_t n_in = (size_t)d.B * d.C * d.H * d.W, n_w = (size_t)d.OC * d.C * d.K * d.K;
    const size_t n_out = (size_t)d.B * d.OC * OHW;
    float *inp = rnd(n_in, &g), *w = rnd(n_w, &g), *b = rnd((size_t)d.OC, &g), *dout = rnd(n_out, &g);
    d.slots = 1;
    conv_bits ref = conv_run(KERNELS_PORTABLE, d, inp, w, b, dout);
    for (int s = -1; s < n_sets; s++)
        for (int slots = 1; slots <= 3; slots += 2) {
            if (s < 0 && slots == 1) continue;  // the reference itself
            const int impl = s < 0 ? KERNELS_PORTABLE : sets[s];
            conv_dims ds = d;
            ds.slots = slots;
            conv_bits r = conv_run(impl, ds, inp, w, b, dout);
            const char *bad = !same(r.out, ref.out, n_out)           ? "out"
                              : !same(r.dinp, ref.dinp, n_in)        ? "dinp"
                              : !same(r.dw, ref.dw, n_w)             ? "dw"
                              : !same(r.db, ref.db, (size_t)d.OC)    ? "db"
                              : !same(r.dw2, ref.dw2, n_w)           ? "dw (produced gradient)"
                              : !same(r.db2, ref.db2, (size_t)d.OC)  ? "db (produced gradient)"
                                                                     : NULL;
            CHECK(!bad, "%s: %s at %d threads: %s differs from portable at 1 thread", name,
                  kernels_name(impl), slots, bad);
            conv_free(r);
        }
    conv_free(ref);
    free(inp), free(w), free(b), free(dout);
}

TEST(kernels_v16_conv_bits_match_portable) {
    int sets[N_SETS];
    char skipped[512];
    const int n = runnable_sets(sets, skipped, sizeof skipped);
    conv_case("py3 conv1", (conv_dims){.B = 3, .C = 3, .H = 28, .W = 28, .OC = 64, .K = 5}, 1, sets, n);
    conv_case("py3 conv1 grey", (conv_dims){.B = 4, .C = 1, .H = 28, .W = 28, .OC = 64, .K = 5}, 2, sets, n);
    conv_case("py3 conv2", (conv_dims){.B = 9, .C = 64, .H = 12, .W = 12, .OC = 50, .K = 5}, 3, sets, n);
    conv_case("wide rows", (conv_dims){.B = 2, .C = 3, .H = 9, .W = 30, .OC = 7, .K = 5}, 4, sets, n);
    conv_case("narrow planes", (conv_dims){.B = 3, .C = 2, .H = 4, .W = 10, .OC = 6, .K = 3}, 7, sets, n);
    conv_case("9x9 kernel", (conv_dims){.B = 2, .C = 3, .H = 10, .W = 16, .OC = 5, .K = 9}, 8, sets, n);
    conv_case("2x2 kernel", (conv_dims){.B = 3, .C = 4, .H = 5, .W = 9, .OC = 7, .K = 2}, 9, sets, n);
    conv_case("odd sizes", (conv_dims){.B = 5, .C = 2, .H = 7, .W = 9, .OC = 3, .K = 3}, 5, sets, n);
    // several weight-gradient blocks of images, the last one short
    conv_case("many images", (conv_dims){.B = 70, .C = 2, .H = 6, .W = 6, .OC = 11, .K = 2}, 6, sets, n);
    report(sets, n, skipped);
}

/* ---- Linear layers ---- */

static void linear_case(int B, int IN, int OUT, uint64_t seed, const int *sets, int n_sets) {
    dann_rng g;
    rng_seed(&g, seed);
    const size_t n_in = (size_t)B * IN, n_out = (size_t)B * OUT, n_w = (size_t)OUT * IN;
    float *inp = rnd(n_in, &g), *w = rnd(n_w, &g), *b = rnd((size_t)OUT, &g), *dout = rnd(n_out, &g);
    float *res[2][4];
    const int threads = dann_get_threads();
    for (int s = -1; s < n_sets; s++)
        for (int th = 1; th <= 2; th++) {
            const int impl = s < 0 ? KERNELS_PORTABLE : sets[s], k = s < 0 && th == 1 ? 0 : 1;
            float *out = calloc(n_out, 4), *dinp = calloc(n_in, 4), *dw = calloc(n_w, 4), *db = calloc((size_t)OUT, 4);
            for (size_t i = 0; i < n_w; i++) dw[i] = 0.25f;
            dann_threads_set(th);
            kernels_use(impl);
            linear_forward(out, inp, w, b, B, IN, OUT);
            linear_backward(dinp, dw, db, dout, inp, w, B, IN, OUT);
            linear_backward(dinp, dw, db, dout, inp, w, B, IN, OUT);
            kernels_use(KERNELS_AUTO);
            res[k][0] = out, res[k][1] = dinp, res[k][2] = dw, res[k][3] = db;
            if (k == 0) continue;
            const char *bad = !same(out, res[0][0], n_out) ? "out" : !same(dinp, res[0][1], n_in) ? "dinp"
                              : !same(dw, res[0][2], n_w) ? "dw" : !same(db, res[0][3], (size_t)OUT) ? "db" : NULL;
            CHECK(!bad, "linear %d x %d -> %d: %s at %d threads: %s differs from portable", B, IN, OUT,
                  kernels_name(impl), th, bad);
            for (int j = 0; j < 4; j++) free(res[1][j]);
        }
    dann_threads_set(threads);
    for (int j = 0; j < 4; j++) free(res[0][j]);
    free(inp), free(w), free(b), free(dout);
}

TEST(kernels_v16_linear_bits_match_portable) {
    int sets[N_SETS];
    char skipped[512];
    const int n = runnable_sets(sets, skipped, sizeof skipped);
    linear_case(128, 800, 100, 11, sets, n);  // py3's c_fc1 / d_fc1
    linear_case(128, 100, 10, 12, sets, n);   // c_fc3
    linear_case(37, 100, 2, 13, sets, n);     // d_fc2
    linear_case(3, 37, 13, 14, sets, n);      // nothing a multiple of 16
    linear_case(5, 600, 33, 15, sets, n);     // more inputs than one packed block of w^T
    report(sets, n, skipped);
}

/* ---- whole training steps ---- */

#define SB 16
#define IMG (3 * 28 * 28)

// The synthetic batch of step k: grey source images (conv1's one-channel path), colour target.
static void batch(int k, float *xs, int32_t *ys, float *xt) {
    dann_rng r;
    rng_seed(&r, 500 + (uint64_t)k);
    for (int b = 0; b < SB; b++) {
        for (int i = 0; i < 784; i++) xs[b * IMG + i] = (rng_uniform(&r) - 0.1307f) / 0.3081f;
        memcpy(xs + b * IMG + 784, xs + b * IMG, 784 * sizeof(float));
        memcpy(xs + b * IMG + 1568, xs + b * IMG, 784 * sizeof(float));
        ys[b] = (int32_t)rng_below(&r, 10);
    }
    for (int i = 0; i < SB * IMG; i++) xt[i] = 2.0f * rng_uniform(&r) - 1.0f;
}

static int train_steps(dann_trainer *t, int from, int to) {
    static float xs[SB * IMG], xt[SB * IMG];
    int32_t ys[SB];
    dann_error err;
    for (int k = from; k < to; k++) {
        batch(k, xs, ys, xt);
        if (dann_train_step(t, xs, ys, SB, xt, NULL, SB, 0.1 * k, NULL, &err) != DANN_OK) {
            CHECK(0, "step %d: %s", k, err.msg);
            return -1;
        }
    }
    return 0;
}

// parameters, BatchNorm state and Adam moments of two models, bit for bit (NULL: the same)
static const char *differs(dann_model *a, dann_trainer *ta, dann_model *b, dann_trainer *tb) {
    size_t np, ns;
    float *pa = dann_model_params(a, &np), *sa = dann_model_state(a, &ns), *va, *vb;
    float *ma = dann_trainer_moments(ta, &va), *mb = dann_trainer_moments(tb, &vb);
    if (!same(pa, dann_model_params(b, NULL), np)) return "parameters";
    if (!same(sa, dann_model_state(b, NULL), ns)) return "BatchNorm statistics";
    if (!same(ma, mb, np) || !same(va, vb, np)) return "Adam moments";
    return NULL;
}

static int new_run(dann_model **m, dann_trainer **t) {
    dann_error err;
    dann_train_config cfg;
    *m = NULL, *t = NULL;
    if (dann_train_config_preset(&cfg, "py3", &err) || dann_model_new(m, "py3", 7, SB, &err) ||
        dann_trainer_new(t, *m, &cfg, 8, &err)) {
        CHECK(0, "setup: %s", err.msg);
        dann_model_free(*m);
        *m = NULL;
        return -1;
    }
    return 0;
}

static void free_run(dann_model *m, dann_trainer *t) { dann_trainer_free(t), dann_model_free(m); }

TEST(kernels_v16_training_steps_bits_match_portable) {
    int sets[N_SETS];
    char skipped[512];
    const int n = runnable_sets(sets, skipped, sizeof skipped), threads = dann_get_threads();
    dann_model *m0, *m;
    dann_trainer *t0, *t;
    dann_threads_set(1);
    kernels_use(KERNELS_PORTABLE);
    if (new_run(&m0, &t0) || train_steps(t0, 0, 3)) goto out;
    for (int s = -1; s < n; s++)
        for (int th = 1; th <= 2; th++) {
            if (s < 0 && th == 1) continue;
            const int impl = s < 0 ? KERNELS_PORTABLE : sets[s];
            dann_threads_set(th);
            kernels_use(impl);
            if (new_run(&m, &t)) goto out;
            if (train_steps(t, 0, 3) == 0) {
                const char *what = differs(m0, t0, m, t);
                CHECK(!what, "3 DANN steps with %s at %d threads: %s differ from portable at 1 thread",
                      kernels_name(impl), th, what);
            }
            free_run(m, t);
        }
out:
    free_run(m0, t0);
    kernels_use(KERNELS_AUTO);
    dann_threads_set(threads);
    report(sets, n, skipped);
}

/* ---- one ISA against another, through a checkpoint ---- */

// The fastest v16 set this machine runs (the one make test-arm compares across ISAs).
static int best_v16(void) {
    static const int order[] = {KERNELS_AVX512_V16, KERNELS_AVX2, KERNELS_NEON};
    for (int i = 0; i < 3; i++)
        if (kernels_available(order[i])) return order[i];
    return KERNELS_PORTABLE;
}

TEST(kernels_cross_isa_resume) {
    const char *wdir = getenv("DANN_XISA_WRITE"), *cdir = getenv("DANN_XISA_CHECK");
    if (!wdir && !cdir) SKIP("make test-arm runs it (DANN_XISA_WRITE=DIR natively, DANN_XISA_CHECK=DIR on another ISA)");
    const char *dir = wdir ? wdir : cdir;
    char a[1024], b[1024];
    snprintf(a, sizeof a, "%s/after2.ckpt", dir);
    snprintf(b, sizeof b, "%s/after4.ckpt", dir);
    const int threads = dann_get_threads(), impl = best_v16();
    dann_error err;
    dann_model *m = NULL, *mb = NULL;
    dann_trainer *t = NULL, *tb = NULL;
    dann_threads_set(2);
    kernels_use(impl);
    if (wdir) {  // 2 steps, save, 2 more, save: the native continuation
        if (new_run(&m, &t) || train_steps(t, 0, 2)) goto out;
        CHECK(ckpt_save(a, m, t, NULL, &err) == DANN_OK, "save %s: %s", a, err.msg);
        if (train_steps(t, 2, 4)) goto out;
        CHECK(ckpt_save(b, m, t, NULL, &err) == DANN_OK, "save %s: %s", b, err.msg);
        printf("    wrote %s and %s with the %s kernels\n", a, b, kernels_name(impl));
    } else {  // resume the first here, compare with the second
        if (ckpt_load(a, SB, &m, &t, NULL, &err) || ckpt_load(b, SB, &mb, &tb, NULL, &err)) {
            CHECK(0, "load: %s", err.msg);
            goto out;
        }
        if (train_steps(t, 2, 4)) goto out;
        const char *what = differs(m, t, mb, tb);
        CHECK(!what, "resumed with the %s kernels, 2 steps: %s differ from the other ISA's", kernels_name(impl), what);
        printf("    resumed %s with the %s kernels: 2 steps bit-identical to %s\n", a, kernels_name(impl), b);
    }
out:
    if (tb) free_run(mb, tb);
    if (t) free_run(m, t);
    kernels_use(KERNELS_AUTO);
    dann_threads_set(threads);
}
