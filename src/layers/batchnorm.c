/* batchnorm.c - batch normalisation as torch.nn.BatchNorm2d (S = H*W) / BatchNorm1d (S = 1).
 * inp, out (B,C,S); statistics per channel over the B*S values.
 *
 * Training mode normalises with the batch mean and the BIASED variance (divide by n), but updates
 * the running variance with the UNBIASED one (divide by n-1), exactly as torch does:
 *   run_mean = (1-momentum)*run_mean + momentum*mean
 *   run_var  = (1-momentum)*run_var  + momentum*var*n/(n-1)
 * Sums over a (b, c) row run in float (vectorisable), row sums accumulate in double, close to
 * torch's CPU kernel, which accumulates in double (acc_type<float>).
 * eps sits inside the square root: rstd = 1/sqrt(var + eps). */
#include <math.h>
#include <string.h>
#include "layers/layers.h"
#include "layers/bnpool.h"
#include "layers/pool2.h"

// Sums in 16 independent float lanes (vectorisable without reassociation flags), then the lanes.
#define LANES 16
static inline float row_sum(const float *x, int n) {
    float acc[LANES] = {0};
    int s = 0;
    for (; s + LANES <= n; s += LANES)
        for (int l = 0; l < LANES; l++) acc[l] += x[s + l];
    float r = 0.0f;
    for (; s < n; s++) r += x[s];
    for (int l = 0; l < LANES; l++) r += acc[l];
    return r;
}
static inline float row_sqdev(const float *x, float m, int n) {
    float acc[LANES] = {0};
    int s = 0;
    for (; s + LANES <= n; s += LANES)
        for (int l = 0; l < LANES; l++) acc[l] += (x[s + l] - m) * (x[s + l] - m);
    float r = 0.0f;
    for (; s < n; s++) r += (x[s] - m) * (x[s] - m);
    for (int l = 0; l < LANES; l++) r += acc[l];
    return r;
}
// sum(dy) and sum(dy * (x - m) * rs) over a row.
static inline void row_dsums(const float *dy, const float *x, float m, float rs, int n,
                             float *s1, float *s2) {
    float a1[LANES] = {0}, a2[LANES] = {0};
    int s = 0;
    for (; s + LANES <= n; s += LANES)
        for (int l = 0; l < LANES; l++) {
            a1[l] += dy[s + l];
            a2[l] += dy[s + l] * ((x[s + l] - m) * rs);
        }
    float r1 = 0.0f, r2 = 0.0f;
    for (; s < n; s++) r1 += dy[s], r2 += dy[s] * ((x[s] - m) * rs);
    for (int l = 0; l < LANES; l++) r1 += a1[l], r2 += a2[l];
    *s1 = r1;
    *s2 = r2;
}

/* ---- sums in parts (data-parallel steps, docs/SCALING.md): each over the B images at inp, into
 * double partials the caller adds in a fixed order; the one-call kernels are these with one part,
 * bit for bit. ---- */
void batchnorm_part_sum(double *sum, const float *inp, int B, int C, int S) {
    #pragma omp parallel for schedule(static)
    for (int c = 0; c < C; c++) {
        double a = 0.0;
        for (int b = 0; b < B; b++) a += row_sum(inp + ((size_t)b * C + c) * S, S);
        sum[c] = a;
    }
}

void batchnorm_part_sqdev(double *sq, const float *inp, const float *mean, int B, int C, int S) {
    #pragma omp parallel for schedule(static)
    for (int c = 0; c < C; c++) {
        double a = 0.0;
        for (int b = 0; b < B; b++) a += row_sqdev(inp + ((size_t)b * C + c) * S, mean[c], S);
        sq[c] = a;
    }
}

void batchnorm_mean_of(float *mean, const double *sum, double n, int C) {
    for (int c = 0; c < C; c++) mean[c] = (float)(sum[c] / n);
}

void batchnorm_stats_finish(float *rstd, float *run_mean, float *run_var, const float *mean,
                            const double *sq, double n, int C, float momentum, float eps) {
    for (int c = 0; c < C; c++) {
        const double var = sq[c] / n;
        rstd[c] = (float)(1.0 / sqrt(var + eps));
        run_mean[c] = (1.0f - momentum) * run_mean[c] + momentum * mean[c];
        const float unbiased = n > 1 ? (float)(sq[c] / (n - 1)) : (float)var;
        run_var[c] = (1.0f - momentum) * run_var[c] + momentum * unbiased;
    }
}

void batchnorm_stats(float *mean, float *rstd, float *run_mean, float *run_var, const float *inp,
                     int B, int C, int S, int training, float momentum, float eps) {
    if (!training) {
        for (int c = 0; c < C; c++) {
            mean[c] = run_mean[c];
            rstd[c] = (float)(1.0 / sqrt((double)run_var[c] + eps));
        }
        return;
    }
    double part[2 * BN_MAX_CHANNELS];
    DANN_ASSERT(C <= BN_MAX_CHANNELS);
    const double n = (double)B * S;
    batchnorm_part_sum(part, inp, B, C, S);
    batchnorm_mean_of(mean, part, n, C);
    batchnorm_part_sqdev(part + C, inp, mean, B, C, S);
    batchnorm_stats_finish(rstd, run_mean, run_var, mean, part + C, n, C, momentum, eps);
}

void batchnorm_forward(float *out, float *mean, float *rstd, float *run_mean, float *run_var,
                       const float *inp, const float *gamma, const float *beta,
                       int B, int C, int S, int training, float momentum, float eps) {
    batchnorm_stats(mean, rstd, run_mean, run_var, inp, B, C, S, training, momentum, eps);
    batchnorm_apply(out, inp, mean, rstd, gamma, beta, B, C, S);
}

void batchnorm_apply(float *out, const float *inp, const float *mean, const float *rstd,
                     const float *gamma, const float *beta, int B, int C, int S) {
    #pragma omp parallel for schedule(static)
    for (int c = 0; c < C; c++) {
        const float mu = mean[c], scale = rstd[c] * gamma[c], shift = beta[c];
        for (int b = 0; b < B; b++) {
            const float *x = inp + ((size_t)b * C + c) * S;
            float *y = out + ((size_t)b * C + c) * S;
            for (int s = 0; s < S; s++) y[s] = (x[s] - mu) * scale + shift;
        }
    }
}

void batchnorm_part_dsums(double *s1, double *s2, const float *dout, const float *inp,
                         const float *mean, const float *rstd, int B, int C, int S) {
    #pragma omp parallel for schedule(static)
    for (int c = 0; c < C; c++) {
        const float mu = mean[c], rs = rstd[c];
        double sum_dy = 0.0, sum_dy_xhat = 0.0;
        for (int b = 0; b < B; b++) {
            float r1, r2;
            row_dsums(dout + ((size_t)b * C + c) * S, inp + ((size_t)b * C + c) * S, mu, rs, S, &r1, &r2);
            sum_dy += r1;
            sum_dy_xhat += r2;
        }
        s1[c] = sum_dy;
        s2[c] = sum_dy_xhat;
    }
}

// dinp = gamma*rstd * (dout - mean(dout) - xhat*mean(dout*xhat)), per channel (training mode),
// the means over n values (the whole batch's, when B images of it are here).
void batchnorm_backward_finish(float *dinp, float *dgamma, float *dbeta, const float *dout,
                               const float *inp, const float *mean, const float *rstd,
                               const float *gamma, const double *s1, const double *s2, double n,
                               int B, int C, int S) {
    #pragma omp parallel for schedule(static)
    for (int c = 0; c < C; c++) {
        const float mu = mean[c], rs = rstd[c];
        dbeta[c] += (float)s1[c];
        dgamma[c] += (float)s2[c];
        if (!dinp) continue;
        const float k = gamma[c] * rs;
        const float mdy = (float)(s1[c] / n), mdyx = (float)(s2[c] / n);
        for (int b = 0; b < B; b++) {
            const float *x = inp + ((size_t)b * C + c) * S;
            const float *dy = dout + ((size_t)b * C + c) * S;
            float *dx = dinp + ((size_t)b * C + c) * S;
            for (int s = 0; s < S; s++) dx[s] += k * (dy[s] - mdy - (x[s] - mu) * rs * mdyx);
        }
    }
}

void batchnorm_backward(float *dinp, float *dgamma, float *dbeta, const float *dout,
                        const float *inp, const float *mean, const float *rstd,
                        const float *gamma, int B, int C, int S) {
    double part[2 * BN_MAX_CHANNELS];
    DANN_ASSERT(C <= BN_MAX_CHANNELS);
    batchnorm_part_dsums(part, part + C, dout, inp, mean, rstd, B, C, S);
    batchnorm_backward_finish(dinp, dgamma, dbeta, dout, inp, mean, rstd, gamma, part, part + C,
                              (double)B * S, B, C, S);
}

/* ---- fused BatchNorm-apply -> [channel dropout] -> maxpool 2x2 -> ReLU ----
 * The forward does the float operations of the separate kernels in their order (bit-identical
 * output and argmax) without writing the normalised tensor. The backward's sums run over the
 * pooled winners only (every other element's gradient is 0), from the input values the forward
 * saved at the winners, so only the input gradient itself touches full-size planes; summation
 * order differs from batchnorm_backward's, the elementwise formula does not. */

/* The fast path (even W, so an input row pair is 2W contiguous values): the horizontal pair max
 * of every two adjacent values, over whole runs of input rows at once, then the vertical max
 * of the two pair rows: pool2_window's comparisons in its order, in long contiguous loops.
 * Odd W takes the window-by-window loop. am NULL (inference): the values only. */
#define POOL_RUN 1024  // horizontal pairs per run (stack buffers of the fast path)

static void bn_pool_plane(float *restrict y, int32_t *restrict am, float *restrict xs,
                          const float *restrict x, float mu, float scale, float shift, float f,
                          int OH, int W) {
    const int OW = W / 2, rows = POOL_RUN / W;  // output rows per run (W pairs each)
    float hv[POOL_RUN], hx[POOL_RUN];
    int32_t hk[POOL_RUN];
    for (int i0 = 0; i0 < OH; i0 += rows) {
        const int n = OH - i0 < rows ? OH - i0 : rows, base = 2 * i0 * W;
        const float *src = x + base;
        #pragma omp simd
        for (int q = 0; q < n * W; q++) {
            // x * 1.0f is exact: without a mask this computes the same bits as no multiply.
            const float a = ((src[2 * q] - mu) * scale + shift) * f;
            const float b = ((src[2 * q + 1] - mu) * scale + shift) * f;
            const int32_t t = b > a;
            hv[q] = t ? b : a;
            hx[q] = t ? src[2 * q + 1] : src[2 * q];
            hk[q] = base + 2 * q + t;
        }
        for (int i = 0; i < n; i++) {
            const float *tv = hv + 2 * i * OW, *tx = hx + 2 * i * OW;
            const int32_t *tk = hk + 2 * i * OW;
            float *yo = y + (size_t)(i0 + i) * OW, *xo = am ? xs + (size_t)(i0 + i) * OW : NULL;
            int32_t *ko = am ? am + (size_t)(i0 + i) * OW : NULL;
            if (!am) {  // inference: the values only
                #pragma omp simd
                for (int j = 0; j < OW; j++) {
                    const float v = tv[OW + j] > tv[j] ? tv[OW + j] : tv[j];
                    yo[j] = (v > 0.0f || v != v) ? v : 0.0f;  // relu_forward's rule
                }
                continue;
            }
            #pragma omp simd
            for (int j = 0; j < OW; j++) {
                const int32_t t = tv[OW + j] > tv[j];
                const float v = t ? tv[OW + j] : tv[j];
                yo[j] = (v > 0.0f || v != v) ? v : 0.0f;  // relu_forward's rule
                ko[j] = t ? tk[OW + j] : tk[j];
                xo[j] = t ? tx[OW + j] : tx[j];
            }
        }
    }
}

void bn_mask_maxpool2_forward(float *out, int32_t *argmax, float *xsel, const float *inp,
                              const float *mean, const float *rstd, const float *gamma,
                              const float *beta, const float *mask, int B, int C, int H, int W) {
    const int OH = H / 2, OW = W / 2;
    // the AVX-512 or AVX2 plane kernel of the kernel set in use (bn_pool_x86.c: bn_pool_plane's
    // bits; test_fused.c and the v16 training-step test compare it with the portable set)
    const bn_plane_fn plane = bn_pool_plane_simd(kernels_use(-1), W);
    #pragma omp parallel for schedule(static)
    for (int bc = 0; bc < B * C; bc++) {
        const int c = bc % C;
        const float mu = mean[c], scale = rstd[c] * gamma[c], shift = beta[c];
        const float f = mask ? mask[bc] : 1.0f;
        const float *restrict x = inp + (size_t)bc * H * W;
        float *restrict y = out + (size_t)bc * OH * OW;
        float *restrict xs = argmax ? xsel + (size_t)bc * OH * OW : NULL;
        int32_t *restrict am = argmax ? argmax + (size_t)bc * OH * OW : NULL;
        if (plane) {
            plane(y, am, xs, x, mu, scale, shift, f, OH, W);
            continue;
        }
        if (W % 2 == 0 && W <= POOL_RUN) {
            bn_pool_plane(y, am, xs, x, mu, scale, shift, f, OH, W);
            continue;
        }
        for (int i = 0; i < OH; i++) {
            const float *r0 = x + (size_t)(2 * i) * W, *r1 = r0 + W;
            #pragma omp simd
            for (int j = 0; j < OW; j++) {
                // x * 1.0f is exact: without a mask this computes the same bits as no multiply.
                const float a = ((r0[2 * j] - mu) * scale + shift) * f;
                const float b = ((r0[2 * j + 1] - mu) * scale + shift) * f;
                const float c2 = ((r1[2 * j] - mu) * scale + shift) * f;
                const float e = ((r1[2 * j + 1] - mu) * scale + shift) * f;
                float v;
                int32_t k;
                pool2_window(a, b, c2, e, 2 * i * W + 2 * j, W, &v, &k);
                y[i * OW + j] = (v > 0.0f || v != v) ? v : 0.0f;  // relu_forward's rule
                if (am) am[i * OW + j] = k, xs[i * OW + j] = x[k];
            }
        }
    }
}

/* The gradient at the winners of one plane, g[k] for k < OHW: dout through the ReLU (out > 0)
 * and the dropout factor f (mask ? 0 + dout*f, as dropout_backward adds it to a zeroed buffer). */
static void winner_grads(float *restrict g, const float *restrict dout, const float *restrict out,
                         const float *mask, int bc, int OHW) {
    if (mask) {
        const float f = mask[bc];
        #pragma omp simd
        for (int k = 0; k < OHW; k++) g[k] = out[k] > 0.0f ? 0.0f + dout[k] * f : 0.0f;
    } else {
        #pragma omp simd
        for (int k = 0; k < OHW; k++) g[k] = out[k] > 0.0f ? dout[k] : 0.0f;
    }
}

void bn_pool_part_sums(const bn_pool_grad *p, double *s1, double *s2) {
    const int C = p->C, OHW = (p->H / 2) * (p->W / 2);
    #pragma omp parallel for schedule(static)
    for (int c = 0; c < C; c++) {
        const float mu = p->mean[c], rs = p->rstd[c];
        float g[POOL_RUN];
        double sum_dy = 0.0, sum_dy_xhat = 0.0;
        for (int b = 0; b < p->B; b++) {
            const int bc = b * C + c;
            const float *xs = p->xsel + (size_t)bc * OHW;
            float a1[LANES] = {0}, a2[LANES] = {0}, r1 = 0.0f, r2 = 0.0f;
            for (int k0 = 0; k0 < OHW; k0 += POOL_RUN) {
                const int nk = OHW - k0 < POOL_RUN ? OHW - k0 : POOL_RUN;
                winner_grads(g, p->dout + (size_t)bc * OHW + k0, p->out + (size_t)bc * OHW + k0,
                             p->mask, bc, nk);
                int k = 0;
                for (; k + LANES <= nk; k += LANES)
                    for (int l = 0; l < LANES; l++) {
                        a1[l] += g[k + l];
                        a2[l] += g[k + l] * ((xs[k0 + k + l] - mu) * rs);
                    }
                for (; k < nk; k++) {
                    r1 += g[k];
                    r2 += g[k] * ((xs[k0 + k] - mu) * rs);
                }
            }
            for (int l = 0; l < LANES; l++) r1 += a1[l], r2 += a2[l];
            sum_dy += r1;
            sum_dy_xhat += r2;
        }
        s1[c] = sum_dy;
        s2[c] = sum_dy_xhat;
    }
}

void bn_pool_sums_finish(const bn_pool_grad *p, const double *s1, const double *s2, double n,
                         float *dgamma, float *dbeta) {
    for (int c = 0; c < p->C; c++) {
        dbeta[c] += (float)s1[c];
        dgamma[c] += (float)s2[c];
        p->coef[2 * c] = (float)(s1[c] / n);
        p->coef[2 * c + 1] = (float)(s2[c] / n);
    }
}

void bn_pool_backward_sums(const bn_pool_grad *p, float *dgamma, float *dbeta) {
    double part[2 * BN_MAX_CHANNELS];
    DANN_ASSERT(p->C <= BN_MAX_CHANNELS);
    bn_pool_part_sums(p, part, part + p->C);
    bn_pool_sums_finish(p, part, part + p->C, (double)p->B * p->H * p->W, dgamma, dbeta);
}

void bn_pool_backward_image(float *dst, int b, int c0, int c1, const void *ctx) {
    const bn_pool_grad *p = ctx;
    const int C = p->C, HW = p->H * p->W, OHW = (p->H / 2) * (p->W / 2);
    float g[POOL_RUN], dy[POOL_RUN];
    for (int c = c0; c < c1; c++) {
        const int bc = b * C + c;
        const float mu = p->mean[c], rs = p->rstd[c], kk = p->gamma[c] * rs;
        const float mdy = p->coef[2 * c], mdyx = p->coef[2 * c + 1];
        const float *restrict x = p->inp + (size_t)bc * HW;
        const int32_t *am = p->argmax + (size_t)bc * OHW;
        const float *dout = p->dout + (size_t)bc * OHW, *out = p->out + (size_t)bc * OHW;
        float *restrict dx = dst + (size_t)c * HW;
        // batchnorm_backward's formula with dy = 0 off the winners and dy at them: the
        // winners' gradients spread over a zeroed copy of the plane, then one contiguous pass
        if (HW <= POOL_RUN) {
            winner_grads(g, dout, out, p->mask, bc, OHW);
            memset(dy, 0, (size_t)HW * sizeof(float));
            for (int k = 0; k < OHW; k++) dy[am[k]] = g[k];  // plain stores: scatters are slow
            #pragma omp simd
            for (int s = 0; s < HW; s++) dx[s] = kk * (dy[s] - mdy - (x[s] - mu) * rs * mdyx);
            continue;
        }
        #pragma omp simd
        for (int s = 0; s < HW; s++) dx[s] = kk * (0.0f - mdy - (x[s] - mu) * rs * mdyx);
        for (int k0 = 0; k0 < OHW; k0 += POOL_RUN) {
            const int nk = OHW - k0 < POOL_RUN ? OHW - k0 : POOL_RUN;
            winner_grads(g, dout + k0, out + k0, p->mask, bc, nk);
            for (int k = 0; k < nk; k++) {
                const int32_t s = am[k0 + k];
                dx[s] = kk * (g[k] - mdy - (x[s] - mu) * rs * mdyx);
            }
        }
    }
}

void bn_mask_maxpool2_backward(float *dinp, float *dgamma, float *dbeta, const float *dout,
                               const float *out, const int32_t *argmax, const float *xsel,
                               const float *inp, const float *mean, const float *rstd,
                               const float *gamma, const float *mask, float *coef, int B, int C,
                               int H, int W) {
    const bn_pool_grad p = {dout, out, argmax, xsel, inp, mean, rstd, gamma, mask, coef, B, C, H, W};
    bn_pool_backward_sums(&p, dgamma, dbeta);
    if (!dinp) return;
    #pragma omp parallel for schedule(static)
    for (int b = 0; b < B; b++) bn_pool_backward_image(dinp + (size_t)b * C * H * W, b, 0, C, &p);
}
