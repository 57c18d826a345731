/* linear.c - fully connected layer, torch.nn.Linear: out = inp @ w^T + b.
 * inp (B,IN)  w (OUT,IN)  b (OUT)  out (B,OUT). Products go through the kernel set of the
 * convolutions (kernels_use): the v16 tiles, dann's AVX-512 tiles, or the gemm seam (OpenBLAS).
 * The bias gradient is summed here in double, in batch order, for every set. */
#include "layers/conv2d_impl.h"
#include "layers/kernels.h"

void linear_forward(float *out, const float *inp, const float *w, const float *b,
                    int B, int IN, int OUT) {
    const int k = kernels_use(-1);
    const kernel_set *s = kernels_v16_set(k);
    if (s) {
        s->linear_forward(out, inp, w, b, B, IN, OUT);
        return;
    }
    if (k == KERNELS_AVX512) {
        avx512_linear_forward(out, inp, w, b, B, IN, OUT);
        return;
    }
    gemm(0, 1, B, OUT, IN, 1.0f, inp, IN, w, IN, 0.0f, out, OUT);
    for (int i = 0; i < B; i++)
        for (int o = 0; o < OUT; o++) out[(size_t)i * OUT + o] += b[o];
}

void linear_backward(float *dinp, float *dw, float *db, const float *dout, const float *inp,
                     const float *w, int B, int IN, int OUT) {
    const int k = kernels_use(-1);
    const kernel_set *s = kernels_v16_set(k);
    if (s) {
        s->linear_backward(dinp, dw, dout, inp, w, B, IN, OUT);
    } else if (k == KERNELS_AVX512) {
        avx512_linear_backward(dinp, dw, dout, inp, w, B, IN, OUT);
    } else {
        if (dinp) gemm(0, 0, B, IN, OUT, 1.0f, dout, OUT, w, IN, 1.0f, dinp, IN);
        gemm(1, 0, OUT, IN, B, 1.0f, dout, OUT, inp, IN, 1.0f, dw, IN);
    }
    for (int o = 0; o < OUT; o++) {
        double s = 0.0;
        for (int i = 0; i < B; i++) s += dout[(size_t)i * OUT + o];
        db[o] += (float)s;
    }
}
