/* cmd_bench.c - `dann bench`: how fast the py3 step runs on this machine, and how close to the
 * hardware. Measures (a) one training step at Bs + Bt (median/min/max over --reps after
 * --warmup), (b) eval throughput at --eval-batch, (c) one full epoch on the real data when it is
 * present (--data, default ../shared/data; --no-epoch skips it), (d) peak resident memory,
 * (e) the step's exact FLOP count, the machine's FMA peak measured here (independent fused
 * multiply-add chains in the ISA of the kernels in effect), the matrix-product rates (OpenBLAS
 * sgemm and dann's own conv kernel) and the fraction of the arithmetic bound (FLOPs / the FMA
 * peak) the step reaches. Prints a table, or one JSON object
 * with --json. Inputs are synthetic but shaped and normalised like MNIST (grey, repeated to 3
 * channels) and MNIST-M (colour). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include "cli/args.h"
#include "cli/cli.h"
#include "cli/trainloop.h"
#include "core/prof.h"
#include "data/data.h"
#include "layers/layers.h"
#include "model/model.h"

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median(double *v, int n) {
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

static double peak_rss_mb(void) {
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return ru.ru_maxrss / 1024.0;  // Linux reports KiB
}

// Best-of-5 rate of a square sgemm large enough to reach BLAS's peak (GFLOP/s).
static double sgemm_gflops(void) {
    const int n = 1024;
    float *a = malloc(sizeof(float) * n * n), *b = malloc(sizeof(float) * n * n);
    float *c = malloc(sizeof(float) * n * n);
    if (!a || !b || !c) {
        free(a), free(b), free(c);
        return NAN;
    }
    for (int i = 0; i < n * n; i++) a[i] = (float)(i % 7) * 0.1f, b[i] = (float)(i % 5) * 0.1f;
    double best = 1e30;
    for (int r = 0; r < 6; r++) {
        double t0 = now_s();
        gemm(0, 0, n, n, n, 1.0f, a, n, b, n, 0.0f, c, n);
        double dt = now_s() - t0;
        if (r > 0 && dt < best) best = dt;
    }
    free(a), free(b), free(c);
    return 2.0 * n * n * n / best / 1e9;
}

/* Best-of-5 rate of dann's own convolution kernel on py3's conv2 forward at batch 128 (a
 * 50 x 1600 x 64 matrix product per image), GFLOP/s: the other matrix-multiply rate this
 * machine reaches (with the AVX-512 kernels it does not depend on OPENBLAS_CORETYPE). */
static double conv_gflops(int threads) {
    const conv_dims d = {128, 64, 12, 12, 50, 5, threads};
    const size_t n_in = (size_t)d.B * d.C * d.H * d.W, n_out = (size_t)d.B * d.OC * 64;
    float *in = malloc(sizeof(float) * n_in), *w = malloc(sizeof(float) * 50 * 1600);
    float *bias = calloc(50, sizeof(float)), *out = malloc(sizeof(float) * n_out);
    float *scratch = calloc(conv2d_scratch_floats(&d), sizeof(float));
    double best = 1e30;
    if (in && w && bias && out && scratch) {
        for (size_t i = 0; i < n_in; i++) in[i] = (float)(i % 7) * 0.1f;
        for (int i = 0; i < 50 * 1600; i++) w[i] = (float)(i % 5) * 0.1f;
        for (int r = 0; r < 6; r++) {
            double t0 = now_s();
            conv2d_forward(out, in, w, bias, &d, scratch);
            double dt = now_s() - t0;
            if (r > 0 && dt < best) best = dt;
        }
    }
    free(in), free(w), free(bias), free(out), free(scratch);
    return best < 1e30 ? 2.0 * d.B * 50 * 64 * 1600 / best / 1e9 : NAN;
}

/* Source: grey MNIST-like images repeated over the channels (the network's C of them, each
 * plane P pixels); target: colour noise normalised as MNIST-M. */
static void fill_inputs(float *xs, int32_t *ys, float *xt, int Bs, int Bt, int C, size_t P,
                        int n_classes) {
    dann_rng r;
    rng_seed(&r, 12345);
    for (int b = 0; b < Bs; b++) {
        ys[b] = (int32_t)rng_below(&r, (uint32_t)n_classes);
        float *img = xs + (size_t)b * C * P;
        for (size_t i = 0; i < P; i++) {
            float v = (rng_uniform(&r) * (rng_uniform(&r) < 0.2f) - 0.1307f) / 0.3081f;
            for (int c = 0; c < C; c++) img[c * P + i] = v;
        }
    }
    for (size_t i = 0; i < (size_t)Bt * C * P; i++) xt[i] = (rng_uniform(&r) - 0.5f) / 0.5f;
}

// (c) Loads MNIST train and MNIST-M train from data_dir (load_s) and runs one full py3 DANN epoch
// through the same loop as `dann train` (batch gathering and normalisation included, evaluation
// and checkpoints excluded): epoch_s. Returns 0 when done, 1 when the data is absent.
static int bench_epoch(const char *data_dir, int B, double *load_s, double *epoch_s) {
    char spec_s[4200], spec_t[4200];
    struct stat sb;
    snprintf(spec_s, sizeof spec_s, "%s/mnist", data_dir);
    if (stat(spec_s, &sb) != 0) return 1;
    snprintf(spec_s, sizeof spec_s, "mnist:%s/mnist", data_dir);
    snprintf(spec_t, sizeof spec_t, "mnistm:%s", data_dir);
    dataset src, tgt;
    dann_error err = {0};
    memset(&src, 0, sizeof src);
    memset(&tgt, 0, sizeof tgt);
    double t0 = now_s();
    if (dataset_load(&src, spec_s, DATA_TRAIN, 28, 28, &err) || dataset_load(&tgt, spec_t, DATA_TRAIN, 28, 28, &err)) {
        fprintf(stderr, "dann bench: %s (epoch timing skipped)\n", err.msg);
        dataset_free(&src);
        dataset_free(&tgt);
        return 1;
    }
    *load_s = now_s() - t0;
    dann_train_config cfg;
    dann_train_config_preset(&cfg, "py3", &err);
    trainloop_opts o;
    memset(&o, 0, sizeof o);
    o.epochs = 1;
    o.batch = B;
    o.seed = 1;
    o.preset = "py3";
    o.progress = PROGRESS_OFF;
    o.quiet = 1;
    trainloop_data d = {&src, &tgt, NULL, NULL};
    trainloop_result res;
    t0 = now_s();
    dann_status st = trainloop_run(&o, &cfg, &d, NULL, &res, &err);
    *epoch_s = now_s() - t0;
    dataset_free(&src);
    dataset_free(&tgt);
    if (st) {
        fprintf(stderr, "dann bench: %s (epoch timing skipped)\n", err.msg);
        return 1;
    }
    return 0;
}

static void usage(FILE *f) {
    fprintf(f,
            "usage: dann bench [--threads N] [--batch B] [--reps R] [--warmup W] [--eval-batch E]\n"
            "                  [--data DIR] [--no-epoch] [--json] [--profile] [--arch NET]\n"
            "Times the py3 training step (B source + B target images, Adam), eval throughput,\n"
            "one epoch on MNIST -> MNIST-M when DIR (default ../shared/data) holds it, and peak\n"
            "memory; reports FLOPs, the measured FMA peak and the fraction of that bound reached.\n"
            "--profile also times each phase of the step over --reps more steps, and of eval over\n"
            "5 more passes (tables only).\n");
}

enum { EVAL_PASSES = 5 };

/* One profile table: each timed op's mean time per call of the whole (step or eval pass). */
static void print_profile(const dann_prof_t *p, const char *title, const char *what_n, int n,
                          double total) {
    double sum = 0.0;
    printf("  %-15s (mean of %d %s, timers on: %.1f ms each)\n", title, n, what_n, total / n * 1e3);
    for (int i = 0; i < PROF_N; i++) {
        if (!p->label[i] && (i != PROF_OPTIM || p->s[i] == 0.0)) continue;
        sum += p->s[i];
        char what[80];
        snprintf(what, sizeof what, "%s %s", i == PROF_OPTIM ? "optimizer" : p->label[i],
                 i == PROF_OPTIM ? "" : p->backward[i] ? "backward" : "forward");
        printf("    %-40s %6.2f ms  %4.1f%%\n", what, p->s[i] / n * 1e3, 100.0 * p->s[i] / total);
    }
    printf("    %-40s %6.2f ms  %4.1f%%\n", "other", (total - sum) / n * 1e3,
           100.0 * (total - sum) / total);
}

int cmd_bench(int argc, char **argv) {
    int threads = 2, B = 128, reps = 30, warmup = 3, eval_batch = 256, json = 0, no_epoch = 0;
    int profile = 0;
    const char *data = "../shared/data", *arch = "py3";
    args_parser ap;
    args_init(&ap, "bench", argc, argv);
    while (args_next(&ap)) {
        if (args_is(&ap, "--threads")) args_int(&ap, 1, 256, &threads);
        else if (args_is(&ap, "--batch")) args_int(&ap, 1, 4096, &B);
        else if (args_is(&ap, "--reps")) args_int(&ap, 1, 100000, &reps);
        else if (args_is(&ap, "--warmup")) args_int(&ap, 0, 100000, &warmup);
        else if (args_is(&ap, "--eval-batch")) args_int(&ap, 1, 65536, &eval_batch);
        else if (args_is(&ap, "--data")) args_str(&ap, &data);
        else if (args_is(&ap, "--no-epoch")) args_flag(&ap, &no_epoch);
        else if (args_is(&ap, "--json")) args_flag(&ap, &json);
        else if (args_is(&ap, "--profile")) args_flag(&ap, &profile);
        else if (args_is(&ap, "--arch")) args_str(&ap, &arch);
        else if (args_is(&ap, "--help")) {
            usage(stdout);
            return 0;
        } else args_unknown(&ap);
        if (ap.failed) return 2;
    }
    threads = args_threads("bench", threads);
    dann_error err = {0};
    dann_model *m = NULL;
    dann_trainer *t = NULL;
    dann_train_config cfg;
    int cap = B > eval_batch ? B : eval_batch;
    if (dann_model_new(&m, arch, 1, cap, &err) || dann_train_config_preset(&cfg, "py3", &err) ||
        dann_trainer_new(&t, m, &cfg, 1, &err)) {
        dann_model_free(m);
        return args_fail("bench", &err);
    }
    int C, H, W, NCLS;
    dann_model_shape(m, &C, &H, &W, &NCLS);
    if (strcmp(dann_model_arch(m), "py3")) no_epoch = 1;  // the real-data epoch is py3's
    const size_t img = (size_t)C * H * W;
    float *xs = malloc(sizeof(float) * (size_t)cap * img);
    float *xt = malloc(sizeof(float) * (size_t)cap * img);
    float *logp = malloc(sizeof(float) * (size_t)cap * NCLS);
    int32_t *ys = malloc(sizeof(int32_t) * (size_t)cap);
    double *times = malloc(sizeof(double) * (size_t)(reps > EVAL_PASSES ? reps : EVAL_PASSES));
    if (!xs || !xt || !logp || !ys || !times) {
        fprintf(stderr, "dann bench: out of memory\n");
        return 1;
    }
    fill_inputs(xs, ys, xt, cap, cap, C, (size_t)H * W, NCLS);

    // (a) training step
    for (int r = 0; r < warmup + reps; r++) {
        double t0 = now_s();
        if (dann_train_step(t, xs, ys, B, xt, NULL, B, 0.5, NULL, &err)) return args_fail("bench", &err);
        if (r >= warmup) times[r - warmup] = now_s() - t0;
    }
    double step_min = times[0], step_max = times[0];
    for (int r = 1; r < reps; r++) {
        step_min = times[r] < step_min ? times[r] : step_min;
        step_max = times[r] > step_max ? times[r] : step_max;
    }
    double step_med = median(times, reps);
    double prof_total = 0.0;
    dann_prof_t step_prof = {0};  // the step's timers, kept while eval's run
    if (profile) {  // the same steps again with the phase timers on (they add a little overhead)
        memset(&dann_prof, 0, sizeof dann_prof);
        dann_prof.on = 1;
        double t0 = now_s();
        for (int r = 0; r < reps; r++)
            if (dann_train_step(t, xs, ys, B, xt, NULL, B, 0.5, NULL, &err)) return args_fail("bench", &err);
        prof_total = now_s() - t0;
        dann_prof.on = 0;
        step_prof = dann_prof;
    }

    // (b) eval throughput: median of EVAL_PASSES timed passes over one batch, after one warm-up
    dann_model_predict(m, xt, eval_batch, logp);
    for (int r = 0; r < EVAL_PASSES; r++) {
        double t0 = now_s();
        dann_model_predict(m, xt, eval_batch, logp);
        times[r] = now_s() - t0;
    }
    double eval_ips = eval_batch / median(times, EVAL_PASSES);
    double eval_prof_total = 0.0;
    if (profile) {  // the eval passes again with the phase timers on
        memset(&dann_prof, 0, sizeof dann_prof);
        dann_prof.on = 1;
        double t0 = now_s();
        for (int r = 0; r < EVAL_PASSES; r++) dann_model_predict(m, xt, eval_batch, logp);
        eval_prof_total = now_s() - t0;
        dann_prof.on = 0;
    }

    // (e) FLOPs and the arithmetic bound
    double flops = net_step_flops(m->net, B, B);
    double gf = sgemm_gflops(), cf = conv_gflops(threads);
    double peak = kernels_fma_gflops(threads);  // the hardware's arithmetic peak for these kernels
    double bound_s = flops / (peak * 1e9);
    const char *impl = kernels_name(kernels_use(-1));

    double rss = peak_rss_mb();  // before (c): the step and eval alone

    // (c) one epoch on the real data
    double epoch_s = NAN, load_s = NAN;
    if (!no_epoch && bench_epoch(data, B, &load_s, &epoch_s)) epoch_s = load_s = NAN;
    double rss_epoch = peak_rss_mb();
    const char *ct = getenv("OPENBLAS_CORETYPE");
    if (json) {
        printf("{\"threads\": %d, \"batch\": %d, \"reps\": %d, \"train_step_s\": %.6f, "
               "\"train_step_min_s\": %.6f, \"train_step_max_s\": %.6f, \"eval_batch\": %d, "
               "\"eval_images_per_s\": %.1f, \"epoch_s\": ",
               threads, B, reps, step_med, step_min, step_max, eval_batch, eval_ips);
        if (isnan(epoch_s)) printf("null, \"data_load_s\": null, \"peak_rss_epoch_mb\": null");
        else printf("%.3f, \"data_load_s\": %.3f, \"peak_rss_epoch_mb\": %.1f", epoch_s, load_s, rss_epoch);
        printf(", \"peak_rss_mb\": %.1f, \"step_gflop\": %.4f, \"fma_peak_gflops\": %.1f, "
               "\"sgemm_gflops\": %.1f, \"conv_kernel_gflops\": %.1f, \"bound_s\": %.6f, "
               "\"bound_fraction\": %.3f, \"conv_kernels\": \"%s\", \"openblas_coretype\": \"%s\"}\n",
               rss, flops / 1e9, peak, gf, cf, bound_s, bound_s / step_med, impl, ct ? ct : "");
    } else {
        printf("dann bench: %s, %d + %d images per step, %d thread%s, kernels %s, "
               "OPENBLAS_CORETYPE=%s\n", dann_model_arch(m), B, B, threads,
               threads == 1 ? "" : "s", impl, ct ? ct : "(unset)");
        printf("  train step      median %7.1f ms   min %7.1f   max %7.1f   (%d reps)\n",
               step_med * 1e3, step_min * 1e3, step_max * 1e3, reps);
        printf("  eval            %7.0f images/s at batch %d\n", eval_ips, eval_batch);
        printf("  peak RSS        %7.1f MiB (step and eval)\n", rss);
        if (!isnan(epoch_s))
            printf("  epoch           %7.1f s on MNIST -> MNIST-M (461 steps; data loading %.1f s "
                   "more; peak RSS with the data %.0f MiB)\n", epoch_s, load_s, rss_epoch);
        else
            printf("  epoch           skipped (no data at %s, or --no-epoch)\n", data);
        printf("  step FLOPs      %7.3f GFLOP; FMA peak %.0f GFLOP/s; sgemm %.0f GFLOP/s, conv "
               "kernel (%s) %.0f GFLOP/s\n"
               "                  -> bound %.1f ms at the FMA peak; step at %.0f%% of it (%.2fx the bound)\n",
               flops / 1e9, peak, gf, impl, cf, bound_s * 1e3, 100.0 * bound_s / step_med,
               step_med / bound_s);
    }
    if (profile && !json) {
        print_profile(&step_prof, "step profile", "steps", reps, prof_total);
        print_profile(&dann_prof, "eval profile", "passes", EVAL_PASSES, eval_prof_total);
    }
    free(xs), free(xt), free(logp), free(ys), free(times);
    dann_trainer_free(t);
    dann_model_free(m);
    return 0;
}
