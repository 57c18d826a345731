/* bench/kernels.c - `make bench-kernels`: the convolution kernels of each kernel set, the whole
 * py3 step and eval, timed by THREAD CPU time (CLOCK_THREAD_CPUTIME_ID) at 1 thread.
 *
 * Why CPU time: on a shared, loaded machine wall-clock times say more about the other
 * processes than about a kernel; a thread's CPU time leaves out the time it was descheduled
 * (not the caches, memory bandwidth and SMT sibling the others take), so the minimum over
 * repeats compares kernel sets with each other. The sets run in turn within each repeat, so a
 * change of load hits them alike. Not a speed result for the machine: `make bench-compare` on
 * a quiet machine is.
 *
 * Phases, batch 128, py3's shapes: conv1 forward and weight gradient (grey: 1 channel, as the
 * source batch; colour: 3), conv2 forward, weight gradient (conv2d_backward without dinp) and
 * input gradient (a backward with dinp less one without); the FMA peak of the set's ISA; the
 * py3 DANN step (128 + 128 images, Adam; --profile adds its phases) and eval at batch 256.
 * Prints the min and median ms of each (GFLOP/s at the min).
 * Usage: build/bench_kernels [--sets avx2,avx512-v16,...] [--reps R] [--only SUBSTRING] [--profile]
 * (the sets default to every one this CPU runs but portable and blas). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "dann.h"
#include "core/core.h"
#include "core/prof.h"
#include "layers/kernels.h"
#include "layers/layers.h"

#define MAXREPS 63
static int reps = 9, profile = 0, n_sets = 0, sets[KERNELS_N];
static const char *only = NULL;

static double cpu_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

static int cmp_d(const void *a, const void *b) {
    const double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static float *filled(size_t n, unsigned seed) {
    float *p = malloc(n * sizeof *p);
    if (!p) {
        fprintf(stderr, "bench_kernels: out of memory\n");
        exit(1);
    }
    for (size_t i = 0; i < n; i++) {
        seed = seed * 1103515245u + 12345u;
        p[i] = (float)((seed >> 9) & 0xFFFF) / 65536.0f - 0.5f;
    }
    return p;
}

static int wanted(const char *name) { return !only || strstr(name, only); }

// t[s][r]: set s, repeat r; one line per set
static void report(const char *name, double t[][MAXREPS], double flops, double images) {
    for (int s = 0; s < n_sets; s++) {
        qsort(t[s], (size_t)reps, sizeof **t, cmp_d);
        printf("  %-12s %-26s min %8.2f ms  median %8.2f ms", kernels_name(sets[s]), name,
               t[s][0] * 1e3, t[s][reps / 2] * 1e3);
        if (flops > 0) printf("  (%5.1f GFLOP/s)", flops / t[s][0] / 1e9);
        if (images > 0) printf("  (%.0f images/s)", images / t[s][0]);
        printf("\n");
    }
    fflush(stdout);
}

typedef struct { const char *name; conv_dims d; int what; } conv_case;
enum { FWD, WGRAD, IGRAD };

static void conv_phase(const conv_case *c) {
    const conv_dims d = c->d;
    const int OH = d.H - d.K + 1, OW = d.W - d.K + 1;
    const size_t n_in = (size_t)d.B * d.C * d.H * d.W, n_w = (size_t)d.OC * d.C * d.K * d.K;
    const size_t n_out = (size_t)d.B * d.OC * OH * OW;
    float *inp = filled(n_in, 1), *w = filled(n_w, 2), *b = filled((size_t)d.OC, 3);
    float *dout = filled(n_out, 4), *out = calloc(n_out, sizeof(float));
    float *dinp = calloc(n_in, sizeof(float)), *dw = calloc(n_w, sizeof(float));
    float *db = calloc((size_t)d.OC, sizeof(float));
    float *scratch = calloc(conv2d_scratch_floats(&d), sizeof(float));
    static double t[KERNELS_N][MAXREPS];
    for (int r = 0; r <= reps; r++)
        for (int s = 0; s < n_sets; s++) {
            kernels_use(sets[s]);
            double t0 = cpu_s();
            if (c->what == FWD) conv2d_forward(out, inp, w, b, &d, scratch);
            else conv2d_backward(NULL, dw, db, dout, inp, w, &d, scratch);
            double dt = cpu_s() - t0;
            if (c->what == IGRAD) {
                t0 = cpu_s();
                conv2d_backward(dinp, dw, db, dout, inp, w, &d, scratch);
                dt = cpu_s() - t0 - dt;
            }
            if (r) t[s][r - 1] = dt;  // the first round warms up
        }
    report(c->name, t, 2.0 * d.B * d.OC * OH * OW * d.C * d.K * d.K, 0);
    free(inp), free(w), free(b), free(dout), free(out), free(dinp), free(dw), free(db), free(scratch);
}

/* The FMA peak of each set's ISA: its fma_loop, independent fused multiply-add chains (the
 * hand-written AVX-512 set and blas: the AVX-512 and AVX2 v16 loops). */
static void fma_phase(void) {
    static double t[KERNELS_N][MAXREPS];
    const long n = 1L << 22;
    volatile float sink = 0.0f;
    int per_iter = 0;
    for (int r = 0; r <= reps; r++)
        for (int s = 0; s < n_sets; s++) {
            const int k = sets[s];
            const kernel_set *ks = kernels_v16_set(k == KERNELS_AVX512 ? KERNELS_AVX512_V16
                                                   : k == KERNELS_BLAS ? KERNELS_AVX2 : k);
            if (!ks) ks = &kernels_v16_portable;
            const double t0 = cpu_s();
            sink += ks->fma_loop(n);
            if (r) t[s][r - 1] = (cpu_s() - t0) / ks->fma_flops_per_iter;  // per FLOP of one
            per_iter = 1;
        }
    (void)sink;
    for (int s = 0; s < n_sets && per_iter; s++) {
        qsort(t[s], (size_t)reps, sizeof **t, cmp_d);
        printf("  %-12s %-26s %6.1f GFLOP/s (best), %6.1f (median)\n", kernels_name(sets[s]),
               "FMA peak (fma_loop)", n / t[s][0] / 1e9, n / t[s][reps / 2] / 1e9);
    }
}

/* The py3 step (128 + 128, Adam, lambda 0.5) and eval at batch 256, as `dann bench` runs them,
 * one model per set. */
static void step_phase(void) {
    const int B = 128, E = 256;
    const size_t img = 3 * 28 * 28;
    dann_model *m[KERNELS_N];
    dann_trainer *tr[KERNELS_N];
    dann_error err = {0};
    dann_train_config cfg;
    for (int s = 0; s < n_sets; s++)
        if (dann_model_new(&m[s], "py3", 1, E, &err) || dann_train_config_preset(&cfg, "py3", &err) ||
            dann_trainer_new(&tr[s], m[s], &cfg, 1, &err)) {
            fprintf(stderr, "bench_kernels: %s\n", err.msg);
            exit(1);
        }
    float *xs = filled((size_t)E * img, 5), *xt = filled((size_t)E * img, 6);
    float *logp = malloc(sizeof(float) * E * 10);
    int32_t *ys = malloc(sizeof(int32_t) * E);
    for (int i = 0; i < B; i++) {  // grey source images, as MNIST's: conv1's one-channel path
        ys[i] = i % 10;
        float *x = xs + (size_t)i * img;
        memcpy(x + 784, x, 784 * sizeof(float));
        memcpy(x + 1568, x, 784 * sizeof(float));
    }
    static double t[KERNELS_N][MAXREPS], best[KERNELS_N][PROF_N];
    if (wanted("py3 step")) {
        for (int r = 0; r <= reps; r++)
            for (int s = 0; s < n_sets; s++) {
                kernels_use(sets[s]);
                const double t0 = cpu_s();
                if (dann_train_step(tr[s], xs, ys, B, xt, NULL, B, 0.5, NULL, &err)) {
                    fprintf(stderr, "bench_kernels: %s\n", err.msg);
                    exit(1);
                }
                if (r) t[s][r - 1] = cpu_s() - t0;
            }
        report("py3 step 128+128", t, 0, 0);
    }
    if (profile && wanted("py3 step")) {  // each phase's CPU time: its minimum over the steps
        for (int s = 0; s < n_sets; s++)
            for (int i = 0; i < PROF_N; i++) best[s][i] = 1e30;
        const char *label[PROF_N] = {0};
        int backward[PROF_N] = {0};
        for (int r = 0; r < reps; r++)
            for (int s = 0; s < n_sets; s++) {
                kernels_use(sets[s]);
                memset(&dann_prof, 0, sizeof dann_prof);
                dann_prof.on = dann_prof.cpu = 1;
                dann_train_step(tr[s], xs, ys, B, xt, NULL, B, 0.5, NULL, &err);
                dann_prof.on = 0;
                for (int i = 0; i < PROF_N; i++) {
                    if (dann_prof.s[i] < best[s][i]) best[s][i] = dann_prof.s[i];
                    if (dann_prof.label[i]) label[i] = dann_prof.label[i], backward[i] = dann_prof.backward[i];
                }
            }
        printf("  step phases, min ms:%-22s", "");
        for (int s = 0; s < n_sets; s++) printf(" %11s", kernels_name(sets[s]));
        printf("\n");
        for (int i = 0; i < PROF_N; i++) {
            if (!label[i] && i != PROF_OPTIM) continue;
            int big = 0;
            for (int s = 0; s < n_sets; s++) big |= best[s][i] >= 0.2e-3;
            if (!big) continue;
            char what[96];
            snprintf(what, sizeof what, "%s %s", i == PROF_OPTIM ? "optimizer" : label[i],
                     i == PROF_OPTIM ? "" : backward[i] ? "backward" : "forward");
            printf("    %-38s", what);
            for (int s = 0; s < n_sets; s++) printf(" %11.2f", best[s][i] * 1e3);
            printf("\n");
        }
    }
    if (wanted("eval")) {
        for (int r = 0; r <= reps; r++)
            for (int s = 0; s < n_sets; s++) {
                kernels_use(sets[s]);
                const double t0 = cpu_s();
                dann_model_predict(m[s], xt, E, logp);
                if (r) t[s][r - 1] = cpu_s() - t0;
            }
        report("eval 256", t, 0, E);
    }
    free(xs), free(xt), free(logp), free(ys);
    for (int s = 0; s < n_sets; s++) dann_trainer_free(tr[s]), dann_model_free(m[s]);
}

int main(int argc, char **argv) {
    const char *list = NULL;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--sets") && i + 1 < argc) list = argv[++i];
        else if (!strcmp(argv[i], "--reps") && i + 1 < argc) reps = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--only") && i + 1 < argc) only = argv[++i];
        else if (!strcmp(argv[i], "--profile")) profile = 1;
        else {
            fprintf(stderr, "usage: bench_kernels [--sets a,b,...] [--reps R] [--only SUBSTRING] [--profile]\n");
            return 2;
        }
    }
    if (reps < 1 || reps > MAXREPS) reps = 9;
    for (int k = 1; k < KERNELS_N; k++) {
        if (!kernels_available(k)) continue;
        if (list) {
            char l[256], want[64];
            snprintf(l, sizeof l, ",%s,", list);
            snprintf(want, sizeof want, ",%s,", kernels_name(k));
            if (!strstr(l, want)) continue;
        } else if (k == KERNELS_PORTABLE || k == KERNELS_BLAS) continue;
        sets[n_sets++] = k;
    }
    if (!n_sets) {
        fprintf(stderr, "bench_kernels: none of the sets asked for runs on this CPU\n");
        return 1;
    }
    dann_threads_set(1);
    static const conv_case cases[] = {
        {"conv1 grey forward", {128, 1, 28, 28, 64, 5, 1}, FWD},
        {"conv1 grey weight grad", {128, 1, 28, 28, 64, 5, 1}, WGRAD},
        {"conv1 colour forward", {128, 3, 28, 28, 64, 5, 1}, FWD},
        {"conv1 colour weight grad", {128, 3, 28, 28, 64, 5, 1}, WGRAD},
        {"conv2 forward", {128, 64, 12, 12, 50, 5, 1}, FWD},
        {"conv2 weight grad", {128, 64, 12, 12, 50, 5, 1}, WGRAD},
        {"conv2 input grad", {128, 64, 12, 12, 50, 5, 1}, IGRAD},
    };
    printf("bench_kernels: thread CPU time at 1 thread, min and median of %d rounds after one more "
           "(the sets in turn within a round)\n", reps);
    if (wanted("FMA peak")) fma_phase();
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++)
        if (wanted(cases[i].name)) conv_phase(&cases[i]);
    step_phase();
    kernels_use(KERNELS_AUTO);
    return 0;
}
