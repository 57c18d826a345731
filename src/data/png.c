/* png.c - PNG decoding from memory with libpng, to the 8-bit planes the datasets store.
 *
 * Output is planar (c, h, w): grey and grey+alpha give c = 1, RGB, RGBA and palette give c = 3.
 * The transforms match what PIL's Image.open(...).convert("RGB") / "L" keeps: alpha and tRNS
 * transparency are dropped (not composited), palettes are expanded, 1/2/4-bit grey is scaled
 * to 0..255, 16-bit samples keep their high byte (png_set_strip_16, as PIL reads RGB;16B).
 * libpng reports errors by longjmp; the handler copies libpng's message so the caller gets
 * "NAME: corrupt PNG: <libpng's reason>", and everything allocated is freed on that path.
 *
 * Limits, checked on the header before any pixel is decoded: each side at most PNG_MAX_SIDE
 * (16384), and width * height at most DANN_MAX_IMAGE_PIXELS (default
 * IMAGE_DEFAULT_MAX_PIXELS, 2^25 = 33.5 million pixels, e.g. 8192x4096, about 200 MB while
 * decoding an RGB image; a 783 KB PNG of 16384x16384 would take 1.5 GiB). */
#include <png.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "data/data.h"

/* Largest accepted side: far above any dataset image, small enough that h*w*3 cannot wrap. */
#define PNG_MAX_SIDE 16384

typedef struct {
    const uint8_t *buf;
    size_t len, pos;
    int nomem, too_big;
    char msg[200];
} png_src;

static void on_read(png_structp png, png_bytep out, size_t n) {
    png_src *s = png_get_io_ptr(png);
    if (n > s->len - s->pos) png_error(png, "file ends early (truncated)");
    memcpy(out, s->buf + s->pos, n);
    s->pos += n;
}

static void on_error(png_structp png, png_const_charp msg) {
    png_src *s = png_get_error_ptr(png);
    snprintf(s->msg, sizeof s->msg, "%s", msg);
    png_longjmp(png, 1);
}

static void on_warning(png_structp png, png_const_charp msg) {
    (void)png;
    (void)msg;
}

dann_status png_decode(const uint8_t *buf, size_t len, const char *name, uint8_t **pix,
                       int *c, int *h, int *w, dann_error *err) {
    *pix = NULL;
    if (len < 8 || png_sig_cmp(buf, 0, 8) != 0)
        return dann_fail(err, DANN_ERR_FORMAT, "%s: not a PNG file (bad signature)", name);
    uint64_t max_pixels;
    dann_status lst = env_limit("DANN_MAX_IMAGE_PIXELS", IMAGE_DEFAULT_MAX_PIXELS, &max_pixels, err);
    if (lst) return lst;
    png_src src = {buf, len, 0, 0, 0, ""};
    png_structp png = png_create_read_struct(PNG_LIBPNG_VER_STRING, &src, on_error, on_warning);
    png_infop info = png ? png_create_info_struct(png) : NULL;
    if (!info) {
        png_destroy_read_struct(&png, NULL, NULL);
        return dann_fail(err, DANN_ERR_NOMEM, "%s: out of memory starting the PNG decoder", name);
    }
    /* Locals written after setjmp and read after a longjmp must be volatile. */
    uint8_t *volatile rgb = NULL;
    png_bytep *volatile rows = NULL;
    uint8_t *volatile planes = NULL;
    if (setjmp(png_jmpbuf(png))) {
        free(rgb);
        free(rows);
        free(planes);
        png_destroy_read_struct(&png, &info, NULL);
        if (src.nomem) return dann_fail(err, DANN_ERR_NOMEM, "%s: out of memory decoding", name);
        if (src.too_big)
            return dann_fail(err, DANN_ERR_FORMAT, "%s: %s pixels, more than the limit of %llu "
                             "(DANN_MAX_IMAGE_PIXELS raises it)", name, src.msg,
                             (unsigned long long)max_pixels);
        return dann_fail(err, DANN_ERR_FORMAT, "%s: corrupt PNG: %s", name, src.msg);
    }
    png_set_read_fn(png, &src, on_read);
    png_set_user_limits(png, PNG_MAX_SIDE, PNG_MAX_SIDE);
    png_read_info(png, info);

    png_uint_32 pw, ph;
    int depth, type;
    png_get_IHDR(png, info, &pw, &ph, &depth, &type, NULL, NULL, NULL);
    if ((uint64_t)pw * ph > max_pixels) {
        src.too_big = 1;
        snprintf(src.msg, sizeof src.msg, "%lux%lu", (unsigned long)pw, (unsigned long)ph);
        png_longjmp(png, 1);
    }
    if (depth == 16) png_set_strip_16(png);
    if (type == PNG_COLOR_TYPE_PALETTE) png_set_palette_to_rgb(png);
    if (type == PNG_COLOR_TYPE_GRAY && depth < 8) png_set_expand_gray_1_2_4_to_8(png);
    /* palette_to_rgb also turns tRNS into an alpha channel: strip that one as well. */
    if ((type & PNG_COLOR_MASK_ALPHA) || png_get_valid(png, info, PNG_INFO_tRNS))
        png_set_strip_alpha(png);
    png_set_interlace_handling(png);
    png_read_update_info(png, info);

    int ch = png_get_channels(png, info);
    size_t rowbytes = png_get_rowbytes(png, info);
    if ((ch != 1 && ch != 3) || png_get_bit_depth(png, info) != 8 || rowbytes != (size_t)pw * ch)
        png_error(png, "unsupported pixel layout after conversion");
    size_t npix = (size_t)pw * ph;
    rgb = malloc(npix * ch);
    rows = malloc(ph * sizeof(png_bytep));
    planes = malloc(npix * ch);
    if (!rgb || !rows || !planes) {
        src.nomem = 1;
        png_error(png, "out of memory");
    }
    for (png_uint_32 y = 0; y < ph; y++) rows[y] = rgb + y * rowbytes;
    png_read_image(png, rows);
    png_read_end(png, NULL);

    for (int k = 0; k < ch; k++)  // interleaved (h, w, c) -> planar (c, h, w)
        for (size_t i = 0; i < npix; i++) planes[k * npix + i] = rgb[i * ch + k];
    free(rgb);
    free(rows);
    png_destroy_read_struct(&png, &info, NULL);
    *pix = planes;
    *c = ch;
    *h = (int)ph;
    *w = (int)pw;
    return DANN_OK;
}
