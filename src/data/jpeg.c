/* jpeg.c - JPEG decoding from memory with libjpeg(-turbo), to the 8-bit planes the datasets
 * store, and the decoder dispatch by signature (image_decode) that the image folders use.
 *
 * Output is planar (c, h, w): greyscale JPEGs give c = 1, YCbCr / RGB ones c = 3 (converted to
 * RGB by libjpeg). The decoder runs with libjpeg's defaults - the accurate integer IDCT
 * (JDCT_ISLOW) and "fancy" upsampling of subsampled chroma - which are also what Pillow asks
 * of the same library, so on Debian (Pillow 9.4 linked to libjpeg62-turbo 2.1.5) the pixels
 * equal PIL's Image.open(...).convert("RGB") exactly (docs/DATA.md has the measurement). CMYK
 * and YCCK files (Adobe's print JPEGs) are refused: PIL keeps them as CMYK, and a dataset
 * image in them is a mistake worth a message rather than a silent colour conversion. EXIF
 * orientation is ignored, as PIL's open() ignores it.
 * libjpeg reports errors through error_exit, which must not return: the handler formats
 * libjpeg's message and longjmps back, and everything allocated is freed on that path. Warnings
 * (e.g. "premature end of JPEG file", after which libjpeg fills the rest with grey) are
 * errors here, except stray bytes between markers: a dataset should not learn from half an
 * image. The header's width * height must be at most DANN_MAX_IMAGE_PIXELS, as for PNG (png.c),
 * checked before libjpeg allocates anything for the image. */
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <jpeglib.h>
#include <jerror.h>
#include "data/data.h"

/* Largest accepted side, as for PNG: far above any dataset image, h*w*3 cannot wrap. */
#define JPEG_MAX_SIDE 16384

typedef struct {
    struct jpeg_error_mgr pub;
    jmp_buf jb;
    char msg[JMSG_LENGTH_MAX + 32];
} jpeg_err;

static void on_error_exit(j_common_ptr ci) {
    jpeg_err *e = (jpeg_err *)ci->err;
    char m[JMSG_LENGTH_MAX];
    (*ci->err->format_message)(ci, m);
    snprintf(e->msg, sizeof e->msg, "%s", m);
    longjmp(e->jb, 1);
}

/* A warning (corrupt data libjpeg would paper over, e.g. a truncated file filled with grey) is
 * an error, as PIL refuses a truncated file; stray bytes between markers are not (PIL reads such
 * files). Trace messages are ignored. */
static void on_emit(j_common_ptr ci, int level) {
    if (level < 0 && ci->err->msg_code != JWRN_EXTRANEOUS_DATA) on_error_exit(ci);
}

int jpeg_is_jpeg(const uint8_t *buf, size_t len) {
    return len >= 3 && buf[0] == 0xFF && buf[1] == 0xD8 && buf[2] == 0xFF;
}

dann_status jpeg_decode(const uint8_t *buf, size_t len, const char *name, uint8_t **pix, int *c,
                        int *h, int *w, dann_error *err) {
    *pix = NULL;
    if (!jpeg_is_jpeg(buf, len))
        return dann_fail(err, DANN_ERR_FORMAT, "%s: not a JPEG file (bad signature)", name);
    if (len > (size_t)0xffffffffu)
        return dann_fail(err, DANN_ERR_FORMAT, "%s: JPEG file too large", name);
    uint64_t max_pixels;
    dann_status lst = env_limit("DANN_MAX_IMAGE_PIXELS", IMAGE_DEFAULT_MAX_PIXELS, &max_pixels, err);
    if (lst) return lst;
    struct jpeg_decompress_struct ci;
    jpeg_err je;
    memset(&ci, 0, sizeof ci);
    ci.err = jpeg_std_error(&je.pub);
    je.pub.error_exit = on_error_exit;
    je.pub.emit_message = on_emit;
    je.msg[0] = 0;
    /* Locals written after setjmp and read after a longjmp must be volatile. */
    uint8_t *volatile inter = NULL;
    uint8_t *volatile planes = NULL;
    volatile int nomem = 0, too_big = 0;
    if (setjmp(je.jb)) {
        free(inter);
        free(planes);
        jpeg_destroy_decompress(&ci);
        if (nomem) return dann_fail(err, DANN_ERR_NOMEM, "%s: out of memory decoding", name);
        if (too_big)
            return dann_fail(err, DANN_ERR_FORMAT, "%s: %s pixels, more than the limit of %llu "
                             "(DANN_MAX_IMAGE_PIXELS raises it)", name, je.msg,
                             (unsigned long long)max_pixels);
        return dann_fail(err, DANN_ERR_FORMAT, "%s: corrupt JPEG: %s", name, je.msg);
    }
    jpeg_create_decompress(&ci);
    jpeg_mem_src(&ci, buf, (unsigned long)len);
    jpeg_read_header(&ci, TRUE);
    if (ci.jpeg_color_space == JCS_CMYK || ci.jpeg_color_space == JCS_YCCK) {
        snprintf(je.msg, sizeof je.msg, "CMYK JPEGs are not supported (convert it to RGB)");
        longjmp(je.jb, 1);
    }
    if (ci.image_width > JPEG_MAX_SIDE || ci.image_height > JPEG_MAX_SIDE) {
        snprintf(je.msg, sizeof je.msg, "image %ux%u is larger than %dx%d", ci.image_width,
                 ci.image_height, JPEG_MAX_SIDE, JPEG_MAX_SIDE);
        longjmp(je.jb, 1);
    }
    if ((uint64_t)ci.image_width * ci.image_height > max_pixels) {
        too_big = 1;
        snprintf(je.msg, sizeof je.msg, "%ux%u", ci.image_width, ci.image_height);
        longjmp(je.jb, 1);
    }
    const int ch = ci.num_components == 1 ? 1 : 3;
    ci.out_color_space = ch == 1 ? JCS_GRAYSCALE : JCS_RGB;
    jpeg_start_decompress(&ci);
    if (ci.output_components != ch) {
        snprintf(je.msg, sizeof je.msg, "unsupported layout (%d components)", ci.output_components);
        longjmp(je.jb, 1);
    }
    const size_t W = ci.output_width, H = ci.output_height, row = W * (size_t)ch, npix = W * H;
    inter = malloc(npix * ch);
    planes = malloc(npix * ch);
    if (!inter || !planes) {
        nomem = 1;
        longjmp(je.jb, 1);
    }
    while (ci.output_scanline < ci.output_height) {
        JSAMPROW r = inter + (size_t)ci.output_scanline * row;
        jpeg_read_scanlines(&ci, &r, 1);
    }
    jpeg_finish_decompress(&ci);
    jpeg_destroy_decompress(&ci);
    for (int k = 0; k < ch; k++)  // interleaved (h, w, c) -> planar (c, h, w)
        for (size_t i = 0; i < npix; i++) planes[k * npix + i] = inter[i * ch + k];
    free(inter);
    *pix = planes;
    *c = ch;
    *h = (int)H;
    *w = (int)W;
    return DANN_OK;
}

dann_status image_decode(const uint8_t *buf, size_t len, const char *name, uint8_t **pix, int *c,
                         int *h, int *w, dann_error *err) {
    static const uint8_t png_sig[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
    if (jpeg_is_jpeg(buf, len)) return jpeg_decode(buf, len, name, pix, c, h, w, err);
    if (len >= 8 && !memcmp(buf, png_sig, 8)) return png_decode(buf, len, name, pix, c, h, w, err);
    *pix = NULL;
    return dann_fail(err, DANN_ERR_FORMAT, "%s: not a PNG or JPEG file (unknown signature)",
                     name);
}
