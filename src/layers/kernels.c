/* kernels.c - which kernel set the convolutions and Linear layers use (layers.h: kernels_use).
 * AUTO takes the DANN_KERNELS environment variable when it names a set this CPU can run, else
 * a v16 set (the same bits on every ISA): AVX-512 where the CPU has AVX-512F (as fast as the
 * hand-written AVX-512 kernels, which stay available as "avx512"), AVX2 where it has AVX2+FMA,
 * NEON on aarch64, and otherwise im2col + OpenBLAS (x86-64 without FMA, where the portable
 * set's fmaf is a library call) or the portable set. */
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "layers/conv2d_impl.h"
#include "layers/kernels.h"
#ifdef _OPENMP
#include <omp.h>
#endif

static const char *const names[KERNELS_N] = {
    [KERNELS_AUTO] = "auto",  [KERNELS_PORTABLE] = "portable", [KERNELS_AVX512] = "avx512",
    [KERNELS_AVX2] = "avx2",  [KERNELS_NEON] = "neon",         [KERNELS_AVX512_V16] = "avx512-v16",
    [KERNELS_BLAS] = "blas",
};

const char *kernels_name(int impl) { return impl >= 0 && impl < KERNELS_N ? names[impl] : "?"; }

int kernels_available(int impl) {
    switch (impl) {
    case KERNELS_AUTO:
    case KERNELS_PORTABLE:
    case KERNELS_BLAS: return 1;
    case KERNELS_AVX512: return conv2d_avx512_available();
#if defined(__x86_64__)
    case KERNELS_AVX2: return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    case KERNELS_AVX512_V16: return __builtin_cpu_supports("avx512f");
#endif
#if defined(__aarch64__)
    case KERNELS_NEON: return 1;
#endif
    default: return 0;
    }
}

const kernel_set *kernels_v16_set(int impl) {
    switch (impl) {
    case KERNELS_PORTABLE: return &kernels_v16_portable;
#if defined(__x86_64__)
    case KERNELS_AVX2: return &kernels_v16_avx2;
    case KERNELS_AVX512_V16: return &kernels_v16_avx512;
#endif
#if defined(__aarch64__)
    case KERNELS_NEON: return &kernels_v16_neon;
#endif
    default: return NULL;
    }
}

static int choose(void) {
    const char *env = getenv("DANN_KERNELS");
    if (env && *env)
        for (int i = 1; i < KERNELS_N; i++)
            if (!strcmp(env, names[i]) && kernels_available(i)) return i;
    static const int order[] = {KERNELS_AVX512_V16, KERNELS_AVX2, KERNELS_NEON};
    for (size_t i = 0; i < sizeof order / sizeof *order; i++)
        if (kernels_available(order[i])) return order[i];
#if defined(__x86_64__) && defined(DANN_USE_CBLAS)
    return KERNELS_BLAS;
#else
    return KERNELS_PORTABLE;
#endif
}

static int g_impl = KERNELS_AUTO, g_auto = -1;

int kernels_use(int impl) {
    if (impl >= KERNELS_AUTO && impl < KERNELS_N) g_impl = impl;
    if (g_impl != KERNELS_AUTO && kernels_available(g_impl)) return g_impl;
    if (g_auto < 0) g_auto = choose();
    return g_auto;
}

double kernels_fma_gflops(int threads) {
    const int k = kernels_use(-1);
    const kernel_set *s = kernels_v16_set(k == KERNELS_AVX512 ? KERNELS_AVX512_V16 : k);
    static const int fallback[] = {KERNELS_AVX2, KERNELS_NEON, KERNELS_PORTABLE};
    for (int i = 0; i < 3 && !s; i++)
        if (kernels_available(fallback[i])) s = kernels_v16_set(fallback[i]);
    const long n = 1L << 23;
    double best = 1e30;
    volatile float sink = 0.0f;
    for (int r = 0; r < 6; r++) {
        struct timespec t0, t1;
        clock_gettime(CLOCK_MONOTONIC, &t0);
        #pragma omp parallel num_threads(threads)
        {
            const float x = s->fma_loop(n);
            #pragma omp atomic
            sink += x;
        }
        clock_gettime(CLOCK_MONOTONIC, &t1);
        const double dt = (double)(t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) * 1e-9;
        if (r > 0 && dt < best) best = dt;
    }
    (void)sink;
    return (double)threads * n * s->fma_flops_per_iter / best / 1e9;
}
