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
#include <stdio.h>
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

/* ---- input files (file.c) ----
 * Every reader opens its input through these: anything but a regular file (a directory, a
 * FIFO, a device, a socket) is refused at once with "PATH: is a directory, not a regular
 * file" (DANN_ERR_IO), without blocking on a FIFO. *size (may be NULL) gets the file's size.
 * The caller closes the descriptor / FILE. On failure errno is ENOENT only for a missing file. */
dann_status file_open_regular(const char *path, int *fd, uint64_t *size, dann_error *err);
dann_status file_fopen_regular(const char *path, FILE **f, uint64_t *size, dann_error *err);
/* A resource limit from environment variable `name` ("4096", "64M", "1G"; K/M/G are powers of
 * 1024), dflt when unset or empty; DANN_ERR_ARG naming the variable when malformed or 0. */
dann_status env_limit(const char *name, uint64_t dflt, uint64_t *out, dann_error *err);

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
/* Number of threads kernels may use (OpenMP and BLAS); set once at start-up. n is capped at
 * dann_threads_address_cap() (see gemm.c). */
void dann_set_threads(int n);
int  dann_get_threads(void);
/* The most threads whose BLAS buffers and stacks fit in half the address-space limit (RLIMIT_AS;
 * a large number when there is none). */
int  dann_threads_address_cap(void);
/* The CPUs this process may run on. */
int  dann_cpus_usable(void);

#endif
