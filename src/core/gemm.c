/* gemm.c - the one seam between the kernels and matrix-multiply libraries, and the thread count
 * they share. With DANN_USE_CBLAS it calls cblas_sgemm (OpenBLAS); otherwise a portable,
 * cache-blocked loop that gives the same results up to float rounding.
 *
 * Threads and address space: for each of its threads OpenBLAS maps a work buffer when its thread
 * count is set, and when the mapping fails (an address-space limit, ulimit -v) it retries
 * forever: `--threads 63` under an 8 GB limit hung. Measured with OpenBLAS 0.3.21 (Debian's
 * OpenMP build, Haswell kernels): VmSize grows by 136 MiB per thread (the 128 MiB buffer and an
 * 8 MiB thread stack). dann_set_threads therefore caps the count so that the threads' share,
 * THREAD_BLAS_BYTES plus a stack (RLIMIT_STACK, 8 MiB when unlimited) each, takes at most half
 * of RLIMIT_AS. Without a limit nothing is capped here; the CLI also caps at the CPUs
 * (dann_threads_usable). */
#include <sys/resource.h>
#include <unistd.h>
#include "core/core.h"
#ifdef DANN_USE_CBLAS
#include <cblas.h>
#endif
#ifdef _OPENMP
#include <omp.h>
#endif

static int g_threads = 1;

#ifdef DANN_USE_CBLAS
#define THREAD_BLAS_BYTES ((uint64_t)128 << 20)
#else
#define THREAD_BLAS_BYTES 0
#endif

int dann_threads_address_cap(void) {
    struct rlimit as, stack;
    if (getrlimit(RLIMIT_AS, &as) != 0 || as.rlim_cur == RLIM_INFINITY) return 1 << 20;
    uint64_t st = getrlimit(RLIMIT_STACK, &stack) == 0 && stack.rlim_cur != RLIM_INFINITY
                      ? (uint64_t)stack.rlim_cur : (uint64_t)8 << 20;
    uint64_t n = (uint64_t)as.rlim_cur / 2 / (THREAD_BLAS_BYTES + st);
    return n < 1 ? 1 : n > (1 << 20) ? 1 << 20 : (int)n;
}

int dann_cpus_usable(void) {
#ifdef _OPENMP
    int n = omp_get_num_procs();  // the CPUs of this process's affinity mask
#else
    long n = sysconf(_SC_NPROCESSORS_ONLN);
#endif
    return n < 1 ? 1 : n > 4096 ? 4096 : (int)n;
}

void dann_set_threads(int n) {
    const int cap = dann_threads_address_cap();
    if (n < 1) n = 1;
    if (n > cap) n = cap;
    g_threads = n;
#ifdef _OPENMP
    omp_set_num_threads(n);
#endif
#ifdef DANN_USE_CBLAS
    openblas_set_num_threads(n);
#endif
}

int dann_get_threads(void) { return g_threads; }

void gemm(int transA, int transB, int M, int N, int K, float alpha, const float *A, int lda,
          const float *B, int ldb, float beta, float *C, int ldc) {
#ifdef DANN_USE_CBLAS
    cblas_sgemm(CblasRowMajor, transA ? CblasTrans : CblasNoTrans, transB ? CblasTrans : CblasNoTrans,
                M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
#else
    for (int i = 0; i < M; i++) {
        float *c = C + (size_t)i * ldc;
        if (beta == 0.0f)
            for (int j = 0; j < N; j++) c[j] = 0.0f;
        else if (beta != 1.0f)
            for (int j = 0; j < N; j++) c[j] *= beta;
        for (int k = 0; k < K; k++) {
            float a = alpha * (transA ? A[(size_t)k * lda + i] : A[(size_t)i * lda + k]);
            if (!transB) {
                const float *b = B + (size_t)k * ldb;
                for (int j = 0; j < N; j++) c[j] += a * b[j];
            } else {
                for (int j = 0; j < N; j++) c[j] += a * B[(size_t)j * ldb + k];
            }
        }
    }
#endif
}
