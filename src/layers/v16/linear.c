/* v16/linear.c - the Linear layers of the v16 kernel sets, on the NN tile of v16.h (16 lanes
 * wide: NV = 1), compiled once per ISA like conv.c:
 *   forward  out (B, OUT) = b + inp @ w^T    lanes: outputs; w^T packed by panels on the stack
 *   input    dinp (B, IN) += dout @ w        lanes: inputs
 *   weights  dw (OUT, IN) += dout^T @ inp    lanes: inputs, dout read transposed in place
 * Panels of 16*NVMAX lanes. Threads split output panels (forward) or input panels (backward);
 * each output element is one chain, so no result depends on their number. */
#include "layers/v16/v16.h"
#ifdef _OPENMP
#include <omp.h>
#endif

TILE_FN(tile_acc, INIT_LOAD, 0)

#define PW (16 * NVMAX)       // panel width: NVMAX vectors
#define LIN_KB (512 / NVMAX)  // rows of a packed w^T panel block (32 KiB on the stack)

/* rows [0, M) of C (row stride ldc) in row tiles as even as they go, one panel of n <= PW
 * columns: C += A @ Bm, A(m,k) at A[m*ams + k*aks] */
static void panel_acc(int M, int n, int K, const float *A, size_t ams, size_t aks, const float *Bm,
                      size_t ldb, float *C, size_t ldc) {
    const int tiles = (M + MRMAX - 1) / MRMAX, nv = (n + 15) / 16;
    for (int t = 0; t < tiles; t++) {
        const int m0 = (int)((long)M * t / tiles), mr = (int)((long)M * (t + 1) / tiles) - m0;
        tile_acc(mr, nv, K, A + (size_t)m0 * ams, ams, aks, Bm, ldb, n - 16 * (nv - 1),
                 C + (size_t)m0 * ldc, ldc, NULL);
    }
}

void V16_NAME(v16_linear_forward)(float *out, const float *inp, const float *w, const float *b,
                                  int B, int IN, int OUT) {
    const int panels = (OUT + PW - 1) / PW;
    #pragma omp parallel for schedule(static)
    for (int q = 0; q < panels; q++) {
        const int o0 = q * PW, n = OUT - o0 < PW ? OUT - o0 : PW;
        float wt[LIN_KB * PW];
        for (int i = 0; i < B; i++) memcpy(out + (size_t)i * OUT + o0, b + o0, (size_t)n * sizeof(float));
        for (int k0 = 0; k0 < IN; k0 += LIN_KB) {
            const int kb = IN - k0 < LIN_KB ? IN - k0 : LIN_KB;
            for (int k = 0; k < kb; k++)
                for (int l = 0; l < PW; l++) wt[k * PW + l] = l < n ? w[(size_t)(o0 + l) * IN + k0 + k] : 0.0f;
            panel_acc(B, n, kb, inp + k0, (size_t)IN, 1, wt, PW, out + o0, (size_t)OUT);
        }
    }
}

void V16_NAME(v16_linear_backward)(float *dinp, float *dw, const float *dout, const float *inp,
                                   const float *w, int B, int IN, int OUT) {
    const int panels = (IN + PW - 1) / PW;
    #pragma omp parallel for schedule(static)
    for (int q = 0; q < panels; q++) {
        const int k0 = q * PW, n = IN - k0 < PW ? IN - k0 : PW;
        panel_acc(OUT, n, B, dout, 1, (size_t)OUT, inp + k0, (size_t)IN, dw + k0, (size_t)IN);
        if (dinp) panel_acc(B, n, OUT, dout, (size_t)OUT, 1, w + k0, (size_t)IN, dinp + k0, (size_t)IN);
    }
}
