/* core.h - internal helpers shared by every module: always-on asserts, error reporting,
 * the explicit-state RNG, the gemm seam and small allocation helpers.
 *
 * Conventions used across the project:
 *   - tensors are float32, row-major, PyTorch's NCHW layout; dimension letters are fixed:
 *     B (batch), C (channels), H, W, OC (out channels), OH, OW, K (kernel size);
 *   - a kernel is a pair of free functions on caller-owned memory, outputs first; it never
 *     allocates; backward *accumulates* (+=) into gradient buffers; dinp == NULL means
 *     "do not propagate to the input";
 *   - anything caused by input returns a dann_status with a message naming the file and the
 *     problem; programmer errors hit DANN_ASSERT, which is always on. */
#ifndef DANN_CORE_H
#define DANN_CORE_H

#include <stddef.h>
#include <stdint.h>
#include "dann.h"

/* Always-on assertion for programmer errors (never for input validation). */
#define DANN_ASSERT(cond)                                                            \
    do {                                                                             \
        if (!(cond)) dann_assert_fail(#cond, __FILE__, __LINE__);                    \
    } while (0)
_Noreturn void dann_assert_fail(const char *expr, const char *file, int line);

/* Sets err (when non-NULL) to status and a printf-style message; returns status. */
dann_status dann_fail(dann_error *err, dann_status status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Checked allocation: NULL on failure (with err set), zero-filled. */
void *dann_calloc(size_t n, size_t size, dann_error *err);

/* ---- RNG: xoshiro256** seeded by splitmix64; state is explicit and serialisable. ---- */
typedef struct { uint64_t s[4]; } dann_rng;
void     rng_seed(dann_rng *r, uint64_t seed);
uint64_t rng_next(dann_rng *r);
/* Uniform float in [0, 1) with 24 random bits. */
float    rng_uniform(dann_rng *r);
/* Uniform integer in [0, n) without modulo bias. */
uint32_t rng_below(dann_rng *r, uint32_t n);
/* Fisher-Yates shuffle of idx[0..n). */
void     rng_shuffle(dann_rng *r, int32_t *idx, int n);

/* ---- gemm seam: C (M,N) = alpha * op(A) op(B) + beta * C, row-major. ----
 * Uses CBLAS (OpenBLAS) when built with BLAS=1, a portable loop otherwise. */
void gemm(int transA, int transB, int M, int N, int K, float alpha, const float *A, int lda,
          const float *B, int ldb, float beta, float *C, int ldc);
/* Number of threads kernels may use (OpenMP and BLAS); set once at start-up. */
void dann_set_threads(int n);
int  dann_get_threads(void);

#endif
