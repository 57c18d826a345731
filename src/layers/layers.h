/* layers.h - the layer kernels. Each layer is a forward and a backward free function on
 * caller-owned memory (outputs first, then inputs, then sizes); none allocates.
 * Backward functions ACCUMULATE (+=) into every gradient buffer; a NULL input-gradient pointer
 * means "do not propagate" (the first layer). Layouts are PyTorch's (NCHW, Linear weight (OUT,IN)),
 * so parameters and activations compare element for element with torch. */
#ifndef DANN_LAYERS_H
#define DANN_LAYERS_H

#include <stddef.h>
#include <stdint.h>
#include "core/core.h"

/* ---- Which implementation the convolutions and Linear layers use (kernels.c) ----
 *   PORTABLE    the v16 kernels in portable C (explicit fmaf): the reference, every build
 *   AVX2        the v16 kernels on AVX2+FMA (x86-64)            | the same bits as PORTABLE,
 *   NEON        the v16 kernels on NEON (aarch64)               | for any number of threads
 *   AVX512_V16  the v16 kernels on AVX-512 (x86-64)             |
 *   AVX512      dann's hand-written AVX-512 kernels (conv2d_avx512.c): opt-in; same bits for any
 *               number of threads, not the same bits as the v16 sets
 *   BLAS        im2col + sgemm through the gemm seam (OpenBLAS): deterministic per machine and
 *               thread count only
 * kernels_use(impl) selects (AUTO: the DANN_KERNELS environment variable when it names one this
 * CPU runs, else AVX512_V16, AVX2, NEON, then BLAS on x86-64 / PORTABLE elsewhere;
 * -1 only asks) and returns the one in effect; a set the CPU cannot run falls back to AUTO's.
 * All give the same results up to float rounding. kernels_available(impl): this CPU and build
 * can run it; kernels_name(impl): "portable", "avx2", ... (DANN_KERNELS's spelling). */
enum { KERNELS_AUTO, KERNELS_PORTABLE, KERNELS_AVX512, KERNELS_AVX2, KERNELS_NEON,
       KERNELS_AVX512_V16, KERNELS_BLAS, KERNELS_N };
int kernels_use(int impl);
int kernels_available(int impl);
const char *kernels_name(int impl);
/* The measured FMA throughput (GFLOP/s, best of 5 runs of about 20 ms) of `threads` threads
 * running independent fused multiply-add chains in the vector ISA of the kernels in effect
 * (AVX512: AVX-512, BLAS: the best v16 set here): the machine's arithmetic peak for them. */
double kernels_fma_gflops(int threads);

/* ---- conv2d: stride 1, no padding, bias; cross-correlation as torch.nn.Conv2d. ----
 * inp (B,C,H,W)  w (OC,C,K,K)  b (OC)  out (B,OC,OH,OW) with OH = H-K+1, OW = W-K+1.
 * slots: how many threads may work on it at once (0 means 1); the scratch is sized for them.
 * scratch: conv2d_scratch_floats(d) floats of caller memory (im2col buffers, per slot).
 * Implementations (kernels_use above), same contract: the v16 and hand-written AVX-512 kernels
 * (direct micro-kernels over per-image column panels; results do not depend on the slot count
 * at all), and im2col + sgemm (deterministic for a given slot count; the forward does not
 * depend on it). */
typedef struct { int B, C, H, W, OC, K, slots; } conv_dims;
size_t conv2d_scratch_floats(const conv_dims *d);
void conv2d_forward(float *out, const float *inp, const float *w, const float *b,
                    const conv_dims *d, float *scratch);
void conv2d_backward(float *dinp, float *dw, float *db, const float *dout, const float *inp,
                     const float *w, const conv_dims *d, float *scratch);
/* conv2d_backward(NULL, dw, db, dout, ...) for an output gradient made image by image:
 * produce(dst, b, c0, c1, ctx) writes channels [c0, c1) of image b's gradient, (OH*OW) planes at
 * dst + c*OH*OW, as a pure function of its arguments; it is called from inside the kernel's
 * threads (it must not start threads of its own). The v16 and AVX-512 kernels give each thread
 * the images' gradients of its own output channels in cache, so the whole gradient is never
 * written; the BLAS path produces all of it into dout_buf (B*OC*OH*OW floats) first.
 * dw and db are bit-identical to producing dout_buf and calling conv2d_backward. */
typedef void (*conv_dout_fn)(float *dst, int b, int c0, int c1, const void *ctx);
void conv2d_backward_weights_from(float *dw, float *db, conv_dout_fn produce, const void *ctx,
                                  const float *inp, const conv_dims *d, float *scratch,
                                  float *dout_buf);

/* ---- batchnorm over (B,S) per channel: 2-D BN uses S = H*W, 1-D BN uses S = 1. ----
 * inp, out (B,C,S)  gamma, beta (C)  run_mean, run_var (C)  mean, rstd (C) saved for backward.
 * training: normalise with the batch mean and the BIASED batch variance; update the running
 *   statistics as torch does: run = (1-momentum)*run + momentum*batch, with the UNBIASED
 *   variance (n/(n-1)) for run_var. mean/rstd receive the batch values.
 * eval: normalise with run_mean/run_var; mean/rstd receive those (backward not defined). */
void batchnorm_forward(float *out, float *mean, float *rstd, float *run_mean, float *run_var,
                       const float *inp, const float *gamma, const float *beta,
                       int B, int C, int S, int training, float momentum, float eps);
void batchnorm_backward(float *dinp, float *dgamma, float *dbeta, const float *dout,
                        const float *inp, const float *mean, const float *rstd,
                        const float *gamma, int B, int C, int S);
/* The statistics half of batchnorm_forward (same mean/rstd and running-stat update), for the
 * fused kernels below, which apply the normalisation on the fly. */
void batchnorm_stats(float *mean, float *rstd, float *run_mean, float *run_var, const float *inp,
                     int B, int C, int S, int training, float momentum, float eps);
/* Channels a BatchNorm layer may have (the one-call kernels keep their partial sums on the
 * stack). */
#define BN_MAX_CHANNELS 4096
/* The sums over the batch in parts, for data-parallel steps (docs/SCALING.md): each part sums
 * the B images at inp into double partials (sum[c] = sum of x; sq[c] = sum of (x - mean[c])^2;
 * s1/s2 = sums of dout and dout*xhat), the caller adds the parts' partials in a fixed order and
 * finishes with the whole batch's n = B_total * S values. With one part these are exactly the
 * one-call kernels (which are written as one part). */
void batchnorm_part_sum(double *sum, const float *inp, int B, int C, int S);
/* The normalisation half of batchnorm_forward: out = (inp - mean) * (rstd*gamma) + beta. */
void batchnorm_apply(float *out, const float *inp, const float *mean, const float *rstd,
                     const float *gamma, const float *beta, int B, int C, int S);
void batchnorm_part_sqdev(double *sq, const float *inp, const float *mean, int B, int C, int S);
void batchnorm_mean_of(float *mean, const double *sum, double n, int C);
void batchnorm_stats_finish(float *rstd, float *run_mean, float *run_var, const float *mean,
                            const double *sq, double n, int C, float momentum, float eps);
void batchnorm_part_dsums(double *s1, double *s2, const float *dout, const float *inp,
                         const float *mean, const float *rstd, int B, int C, int S);
void batchnorm_backward_finish(float *dinp, float *dgamma, float *dbeta, const float *dout,
                               const float *inp, const float *mean, const float *rstd,
                               const float *gamma, const double *s1, const double *s2, double n,
                               int B, int C, int S);

/* ---- fused BatchNorm-apply -> [channel dropout] -> maxpool 2x2 -> ReLU (py3's feature blocks) ----
 * out = relu(maxpool2(dropout2d(bn(inp)))) with bn(x) = (x - mean[c]) * (rstd[c]*gamma[c]) + beta[c],
 * mask (B*C factors) or NULL; the same float operations as the separate kernels, so out and argmax
 * are bit-identical to batchnorm_forward + dropout_forward + maxpool2_forward + relu_forward,
 * without writing the normalised tensor. inp (B,C,H,W); out, argmax and xsel (B,C,H/2,W/2), xsel
 * receiving inp at each window's winner for the backward; argmax and xsel NULL (inference: no
 * backward follows) skips them, out unchanged.
 * Backward (training mode): from the gradient dout of out, WRITES dinp (it does not accumulate:
 * it is the only gradient of the BatchNorm input) and accumulates dgamma, dbeta, as the separate
 * backwards would up to summation order. dinp NULL: dgamma and dbeta only. */
void bn_mask_maxpool2_forward(float *out, int32_t *argmax, float *xsel, const float *inp,
                              const float *mean, const float *rstd, const float *gamma,
                              const float *beta, const float *mask, int B, int C, int H, int W);
void bn_mask_maxpool2_backward(float *dinp, float *dgamma, float *dbeta, const float *dout,
                               const float *out, const int32_t *argmax, const float *xsel,
                               const float *inp, const float *mean, const float *rstd,
                               const float *gamma, const float *mask, float *coef, int B, int C,
                               int H, int W);
/* The backward in two halves, so that a convolution's weight gradient can take the input
 * gradient image by image without it ever being stored whole (conv2d_backward_weights_from):
 * bn_pool_backward_sums accumulates dgamma and dbeta and leaves in p->coef (2*C floats) what
 * bn_pool_backward_image needs to write channels [c0, c1) of image b's input gradient, planes
 * of H*W at dst + c*H*W. bn_mask_maxpool2_backward is the two in turn (coef: 2*C floats). */
typedef struct {
    const float *dout, *out;
    const int32_t *argmax;
    const float *xsel, *inp, *mean, *rstd, *gamma, *mask;
    float *coef;
    int B, C, H, W;
} bn_pool_grad;
void bn_pool_backward_sums(const bn_pool_grad *p, float *dgamma, float *dbeta);
/* bn_pool_backward_sums in parts (see batchnorm_part_sum): the sums of p's B images into s1, s2
 * (C doubles each); the finish adds the whole batch's (n = B_total*H*W values) to dgamma and
 * dbeta and sets p->coef. */
void bn_pool_part_sums(const bn_pool_grad *p, double *s1, double *s2);
void bn_pool_sums_finish(const bn_pool_grad *p, const double *s1, const double *s2, double n,
                         float *dgamma, float *dbeta);
void bn_pool_backward_image(float *dst, int b, int c0, int c1, const void *p);

/* ---- maxpool 2x2, stride 2 (floor), as torch.nn.MaxPool2d(2). ----
 * inp (B,C,H,W)  out (B,C,H/2,W/2)  argmax (B,C,H/2,W/2): index into the (H,W) plane of the
 * winner; ties go to the first element in row-major order, as torch's CPU kernel does. */
void maxpool2_forward(float *out, int32_t *argmax, const float *inp, int B, int C, int H, int W);
void maxpool2_backward(float *dinp, const float *dout, const int32_t *argmax,
                       int B, int C, int H, int W);

/* ---- ReLU. out may alias inp (in place). Backward uses the forward OUTPUT, as torch does:
 * dinp += dout where out > 0. dinp may alias dout only if dinp was zero before. ---- */
void relu_forward(float *out, const float *inp, size_t n);
void relu_backward(float *dinp, const float *dout, const float *out, size_t n);

/* ---- dropout with inverted scaling. The tensor is n_units units of unit_size contiguous
 * elements: Dropout uses unit_size 1, Dropout2d one unit per (b, c) channel plane (unit_size =
 * H*W). mask (n_units) holds each unit's factor: 0 or 1/(1-p).
 * dropout_draw fills mask from the RNG (one rng_uniform per unit, kept when u >= p);
 * dropout_forward/backward apply a given mask, so a test can replay torch's masks. ---- */
void dropout_draw(float *mask, size_t n_units, float p, dann_rng *rng);
void dropout_forward(float *out, const float *inp, const float *mask, size_t n_units,
                     size_t unit_size);
void dropout_backward(float *dinp, const float *dout, const float *mask, size_t n_units,
                      size_t unit_size);

/* ---- linear, as torch.nn.Linear: inp (B,IN)  w (OUT,IN)  b (OUT)  out (B,OUT). ---- */
void linear_forward(float *out, const float *inp, const float *w, const float *b,
                    int B, int IN, int OUT);
void linear_backward(float *dinp, float *dw, float *db, const float *dout, const float *inp,
                     const float *w, int B, int IN, int OUT);

/* ---- log-softmax over C, and the NLL loss averaged over the batch. ----
 * logsoftmax_forward: inp (B,C) -> logp (B,C). nll_loss: mean of -logp[b, y[b]].
 * logsoftmax_nll_backward: dinp += scale * (softmax - onehot(y)) / B, i.e. the gradient of
 * scale * nll_loss(logsoftmax(inp), y). Labels must be in [0, C). */
void  logsoftmax_forward(float *logp, const float *inp, int B, int C);
float nll_loss(const float *logp, const int32_t *y, int B, int C);
void  logsoftmax_nll_backward(float *dinp, const float *logp, const int32_t *y, int B, int C,
                              float scale);
/* The same for B examples of a mean over n (a part of a larger batch): scale * (...) / n. */
void  logsoftmax_nll_backward_n(float *dinp, const float *logp, const int32_t *y, int B, int C,
                                float scale, int n);

/* ---- gradient reversal: identity forward (callers read the input directly);
 * backward dinp += -lambda * dout. ---- */
void grl_backward(float *dinp, const float *dout, size_t n, float lambda);

/* ==== Layers of the described networks (docs/NETWORKS.md): general convolution and pooling,
 * sigmoid, sparse-input Linear. Same conventions as above: caller memory, outputs first,
 * backward accumulates, dinp NULL = do not propagate. ==== */

/* ---- convolution with stride and zero padding, bias: torch.nn.Conv2d(C, OC, K, stride, pad).
 * inp (B,C,H,W)  w (OC,C,K,K)  b (OC)  out (B,OC,OH,OW), OH = (H+2*pad-K)/stride + 1 (floor),
 * OW likewise. Contract: stride >= 1, pad >= 0, K <= H+2*pad and K <= W+2*pad (asserted).
 * slots: as conv_dims (threads that may work at once; 0 means 1).
 * scratch: convg_scratch_floats(d) floats; the forward and backward may use it freely (the
 * backward recomputes what it needs from inp, so the scratch need not survive in between).
 * Stride 1 runs on conv2d_forward/backward (on a zero-padded copy when pad > 0), with their
 * speed and results; stride > 1 on a portable im2col + gemm path. ---- */
typedef struct { int B, C, H, W, OC, K, stride, pad, slots; } convg_dims;
void convg_out_shape(const convg_dims *d, int *OH, int *OW);
size_t convg_scratch_floats(const convg_dims *d);
void convg_forward(float *out, const float *inp, const float *w, const float *b,
                   const convg_dims *d, float *scratch);
void convg_backward(float *dinp, float *dw, float *db, const float *dout, const float *inp,
                    const float *w, const convg_dims *d, float *scratch);

/* ---- max-pool, any kernel K, stride and padding: torch.nn.MaxPool2d(K, stride, pad), floor
 * mode. inp (B,C,H,W)  out, argmax (B,C,OH,OW), OH = (H+2*pad-K)/stride + 1. The margin is
 * -inf; argmax is the winner's index into the unpadded (H,W) plane; ties go to the first
 * element in row-major order and a NaN wins, as in torch's CPU kernel. Contract (asserted, as
 * torch): stride >= 1, 0 <= 2*pad <= K, K <= H+2*pad, K <= W+2*pad. Overlapping windows
 * (stride < K): the backward adds each window's gradient into its winner. ---- */
typedef struct { int B, C, H, W, K, stride, pad; } maxpoolg_dims;
void maxpoolg_out_shape(const maxpoolg_dims *d, int *OH, int *OW);
void maxpoolg_forward(float *out, int32_t *argmax, const float *inp, const maxpoolg_dims *d);
void maxpoolg_backward(float *dinp, const float *dout, const int32_t *argmax,
                       const maxpoolg_dims *d);

/* ---- sigmoid, torch.nn.Sigmoid: out = 1/(1+exp(-inp)), no overflow for any |inp|. out may
 * alias inp. Backward from the forward OUTPUT: dinp += dout * out * (1 - out). ---- */
void sigmoid_forward(float *out, const float *inp, size_t n);
void sigmoid_backward(float *dinp, const float *dout, const float *out, size_t n);

/* ---- Linear on a sparse CSR batch (a first layer: no input gradient).
 * x (B,IN) as rowptr (B+1; rowptr[0] = 0, non-decreasing), col (rowptr[B]; each in [0, IN),
 * asserted by the forward), val (rowptr[B]); w (OUT,IN), b (OUT) as torch.nn.Linear;
 * out (B,OUT) = x w^T + b. Backward accumulates dw (OUT,IN) and db (OUT) from dout (B,OUT).
 * One multiply-add per non-zero and output; results do not depend on the thread count. ---- */
void linear_sparse_forward(float *out, const int64_t *rowptr, const int32_t *col,
                           const float *val, const float *w, const float *b, int B, int IN,
                           int OUT);
void linear_sparse_backward(float *dw, float *db, const float *dout, const int64_t *rowptr,
                            const int32_t *col, const float *val, int B, int IN, int OUT);

#endif
