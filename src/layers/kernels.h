/* kernels.h - the kernel sets behind layers.h's convolution and Linear functions, and the choice
 * between them (kernels.c). Internal to src/layers.
 *
 * A v16 set (src/layers/v16/ compiled once per ISA over simd.h's 16-lane vector) computes
 * the same bits on every ISA and for any thread count: portable C (the reference, every
 * build), AVX2+FMA (x86-64), AVX-512 (x86-64) and NEON (aarch64). Besides them: dann's
 * hand-written AVX-512 kernels (conv2d_avx512.c, opt-in) and im2col + sgemm (conv2d.c,
 * linear.c through the gemm seam: OpenBLAS). */
#ifndef DANN_KERNELS_H
#define DANN_KERNELS_H

#include "layers/layers.h"

typedef struct {
    const char *name;
    size_t (*conv_scratch_floats)(const conv_dims *d);
    void (*conv_forward)(float *out, const float *inp, const float *w, const float *b,
                         const conv_dims *d, float *scratch);
    void (*conv_backward)(float *dinp, float *dw, float *db, const float *dout, const float *inp,
                          const float *w, const conv_dims *d, float *scratch);
    void (*conv_weights_from)(float *dw, float *db, conv_dout_fn produce, const void *ctx,
                              const float *inp, const conv_dims *d, float *scratch);
    void (*linear_forward)(float *out, const float *inp, const float *w, const float *b, int B,
                           int IN, int OUT);
    /* dinp (when non-NULL) and dw accumulate; the bias gradient is linear.c's */
    void (*linear_backward)(float *dinp, float *dw, const float *dout, const float *inp,
                            const float *w, int B, int IN, int OUT);
    /* n iterations of independent FMA chains, fma_flops_per_iter FLOPs each (kernels_fma_gflops) */
    float (*fma_loop)(long n);
    int fma_flops_per_iter;
} kernel_set;

/* The v16 instantiations built into this binary (NULL where not built for this architecture). */
extern const kernel_set kernels_v16_portable;
#if defined(__x86_64__)
extern const kernel_set kernels_v16_avx2, kernels_v16_avx512;
#endif
#if defined(__aarch64__)
extern const kernel_set kernels_v16_neon;
#endif

/* The set for a KERNELS_* v16 choice, or NULL for the others (AVX512, BLAS). */
const kernel_set *kernels_v16_set(int impl);

#endif
