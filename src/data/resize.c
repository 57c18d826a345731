/* resize.c - PIL's Image.resize(size, Image.BILINEAR) on uint8 planes, byte for byte.
 *
 * This is what torchvision's Resize does to a PIL image, so a dataset resized here equals the
 * reference's tensors exactly. It follows Pillow 9.4's libImaging/Resample.c:
 *   - separable: a horizontal pass (width) into a uint8 intermediate, then a vertical pass;
 *     a pass is skipped when its size is unchanged (the other pass alone runs; both unchanged
 *     is a copy);
 *   - coefficients per output position: scale = in/out, filterscale = max(scale, 1) (when
 *     shrinking the triangle's support widens by the reduction factor: antialiasing),
 *     center = (o + 0.5) * scale, taps [xmin, xmin + xmax) with xmin = (int)(center - support
 *     + 0.5) clamped to 0 and the end (int)(center + support + 0.5) clamped to the input size,
 *     weight = tri((x + xmin - center + 0.5) / filterscale), normalised to sum 1 in double;
 *   - fixed point: k = (int)(0.5 + w * 2^22) (PRECISION_BITS = 32 - 8 - 2), an accumulator
 *     that starts at 2^21 (rounding) and the result clipped to [0, 255] after >> 22.
 * Planes are independent, so (c, h, w) planar storage gives the same bytes as PIL's
 * interleaved RGB. The coefficient code is compiled without floating-point contraction: an
 * FMA would round differently from the double arithmetic PIL is built with. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "data/data.h"

#define PRECISION_BITS (32 - 8 - 2)

#if defined(__GNUC__) && !defined(__clang__)
#define NO_FP_CONTRACT __attribute__((optimize("fp-contract=off")))
#else
#define NO_FP_CONTRACT
#endif

static double tri(double x) {
    if (x < 0.0) x = -x;
    return x < 1.0 ? 1.0 - x : 0.0;
}

/* Max taps per output position for a pass in -> out (PIL's ksize). */
static int pass_ksize(int in, int out) {
    double filterscale = (double)(float)in / out;
    if (filterscale < 1.0) filterscale = 1.0;
    return (int)ceil(filterscale) * 2 + 1;
}

/* Fills bounds (out, 2) = {first tap, tap count} and kk (out, ksize) fixed-point weights. */
NO_FP_CONTRACT static void pass_coeffs(int in, int out, int ksize, int *bounds, int32_t *kk,
                                       double *w) {
    double scale = (double)(float)in / out, filterscale = scale < 1.0 ? 1.0 : scale;
    double support = 1.0 * filterscale, ss = 1.0 / filterscale;
    for (int o = 0; o < out; o++) {
        double center = 0.0 + (o + 0.5) * scale, ww = 0.0;
        int xmin = (int)(center - support + 0.5), xmax = (int)(center + support + 0.5);
        if (xmin < 0) xmin = 0;
        if (xmax > in) xmax = in;
        xmax -= xmin;
        DANN_ASSERT(xmax <= ksize);
        for (int x = 0; x < xmax; x++) {
            w[x] = tri((x + xmin - center + 0.5) * ss);
            ww += w[x];
        }
        for (int x = 0; x < ksize; x++) {
            double k = x < xmax ? (ww != 0.0 ? w[x] / ww : w[x]) : 0.0;
            kk[o * ksize + x] = (int32_t)(k < 0 ? -0.5 + k * (1 << PRECISION_BITS)
                                                : 0.5 + k * (1 << PRECISION_BITS));
        }
        bounds[2 * o] = xmin;
        bounds[2 * o + 1] = xmax;
    }
}

static uint8_t clip8(int32_t v) {
    v >>= PRECISION_BITS;
    return (uint8_t)(v < 0 ? 0 : v > 255 ? 255 : v);
}

size_t resize_scratch_bytes(int oh, int ow, int c, int h, int w) {
    size_t kh = (size_t)pass_ksize(w, ow), kv = (size_t)pass_ksize(h, oh);
    size_t kmax = kh > kv ? kh : kv;
    return (kh * ow + kv * oh) * sizeof(int32_t) + 2 * (size_t)(ow + oh) * sizeof(int) +
           kmax * sizeof(double) + (size_t)c * h * ow;
}

void resize_bilinear_pil_ws(uint8_t *out, int oh, int ow, const uint8_t *inp, int c, int h,
                            int w, void *scratch) {
    DANN_ASSERT(oh > 0 && ow > 0 && c > 0 && h > 0 && w > 0);
    if (oh == h && ow == w) {
        memcpy(out, inp, (size_t)c * h * w);
        return;
    }
    int kh = pass_ksize(w, ow), kv = pass_ksize(h, oh), kmax = kh > kv ? kh : kv;
    double *wtmp = scratch;  // doubles first, where malloc alignment holds
    int32_t *kk_h = (int32_t *)(void *)(wtmp + kmax), *kk_v = kk_h + (size_t)kh * ow;
    int *b_h = (int *)(kk_v + (size_t)kv * oh), *b_v = b_h + 2 * ow;
    uint8_t *tmp = (uint8_t *)(b_v + 2 * oh);
    const uint8_t *src = inp;

    if (ow != w) {  // inp (c,h,w) -> tmp (c,h,ow)
        pass_coeffs(w, ow, kh, b_h, kk_h, wtmp);
        uint8_t *dst = oh != h ? tmp : out;
        for (int ch = 0; ch < c; ch++)
            for (int y = 0; y < h; y++) {
                const uint8_t *row = inp + ((size_t)ch * h + y) * w;
                uint8_t *orow = dst + ((size_t)ch * h + y) * ow;
                for (int o = 0; o < ow; o++) {
                    const int32_t *k = kk_h + (size_t)o * kh;
                    const uint8_t *p = row + b_h[2 * o];
                    int32_t acc = 1 << (PRECISION_BITS - 1);
                    for (int t = 0; t < b_h[2 * o + 1]; t++) acc += p[t] * k[t];
                    orow[o] = clip8(acc);
                }
            }
        src = dst;
    }
    if (oh != h) {  // src (c,h,ow) -> out (c,oh,ow)
        pass_coeffs(h, oh, kv, b_v, kk_v, wtmp);
        for (int ch = 0; ch < c; ch++) {
            const uint8_t *plane = src + (size_t)ch * h * ow;
            for (int o = 0; o < oh; o++) {
                const int32_t *k = kk_v + (size_t)o * kv;
                const uint8_t *p = plane + (size_t)b_v[2 * o] * ow;
                uint8_t *orow = out + ((size_t)ch * oh + o) * ow;
                for (int x = 0; x < ow; x++) {
                    int32_t acc = 1 << (PRECISION_BITS - 1);
                    for (int t = 0; t < b_v[2 * o + 1]; t++) acc += p[(size_t)t * ow + x] * k[t];
                    orow[x] = clip8(acc);
                }
            }
        }
    }
}

void resize_bilinear_pil(uint8_t *out, int oh, int ow, const uint8_t *inp, int c, int h, int w) {
    void *scratch = malloc(resize_scratch_bytes(oh, ow, c, h, w));
    DANN_ASSERT(scratch != NULL);
    resize_bilinear_pil_ws(out, oh, ow, inp, c, h, w, scratch);
    free(scratch);
}
