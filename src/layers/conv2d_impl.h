/* conv2d_impl.h - the hand-written AVX-512 conv2d kernels (conv2d_avx512.c), which kernels.c
 * offers on CPUs that have AVX-512F (DANN_KERNELS=avx512), and the thread helpers every
 * convolution kernel uses.
 * Internal to src/layers. */
#ifndef DANN_CONV2D_IMPL_H
#define DANN_CONV2D_IMPL_H

#include "layers/layers.h"
#ifdef _OPENMP
#include <omp.h>
#endif

/* The calling thread's number in the current parallel region, and the region's size (0 and 1
 * without OpenMP): the kernels' scratch slots and work splits. */
static inline int thread_id(void) {
#ifdef _OPENMP
    return omp_get_thread_num();
#else
    return 0;
#endif
}
static inline int thread_count(void) {
#ifdef _OPENMP
    return omp_get_num_threads();
#else
    return 1;
#endif
}

/* The AVX-512 kernels (conv2d_avx512.c). available() is 0 where the CPU lacks AVX-512F or the
 * file was built without it; the other functions are then never called. Same contracts as
 * conv2d_forward/backward; results do not depend on the slot count. */
int conv2d_avx512_available(void);
size_t conv2d_avx512_scratch_floats(const conv_dims *d);
void conv2d_avx512_forward(float *out, const float *inp, const float *w, const float *b,
                           const conv_dims *d, float *scratch);
void conv2d_avx512_backward(float *dinp, float *dw, float *db, const float *dout,
                            const float *inp, const float *w, const conv_dims *d, float *scratch);
/* Linear layers on the same micro-kernels: linear_forward / linear_backward without the bias
 * gradient (avx512_linear_backward accumulates dinp when non-NULL, and dw). */
void avx512_linear_forward(float *out, const float *inp, const float *w, const float *b, int B,
                           int IN, int OUT);
void avx512_linear_backward(float *dinp, float *dw, const float *dout, const float *inp,
                            const float *w, int B, int IN, int OUT);
void conv2d_avx512_weights_from(float *dw, float *db, conv_dout_fn produce, const void *ctx,
                                const float *inp, const conv_dims *d, float *scratch);

#endif
