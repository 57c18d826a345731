/* loadutil.c - what the loaders share: whole-file reads, reusable scratch memory, and one PNG
 * (or JPEG) decoded and resized (PIL bilinear) into a dataset slot. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "data/load.h"

dann_status read_file(const char *path, uint8_t **buf, size_t *len, dann_error *err) {
    *buf = NULL;
    FILE *f;
    dann_status st = file_fopen_regular(path, &f, NULL, err);
    if (st) return st;
    size_t cap = 1 << 12, n = 0, r;
    uint8_t *b = malloc(cap);
    while (b && (r = fread(b + n, 1, cap - 1 - n, f)) > 0) {
        n += r;
        if (n == cap - 1) {
            uint8_t *grown = realloc(b, 2 * cap);
            if (!grown) free(b);
            b = grown;
            cap *= 2;
        }
    }
    if (!b) {
        fclose(f);
        return dann_fail(err, DANN_ERR_NOMEM, "%s: out of memory reading the file", path);
    }
    if (ferror(f)) {
        fclose(f);
        free(b);
        return dann_fail(err, DANN_ERR_IO, "%s: read error", path);
    }
    fclose(f);
    b[n] = 0;
    *buf = b;
    *len = n;
    return DANN_OK;
}

void *data_scratch_get(data_scratch *s, size_t n, dann_error *err) {
    if (n > s->cap) {
        free(s->p);
        s->cap = 0;
        if (!(s->p = malloc(n))) {
            dann_fail(err, DANN_ERR_NOMEM, "out of memory (%zu bytes of scratch)", n);
            return NULL;
        }
        s->cap = n;
    }
    return s->p;
}

void data_scratch_free(data_scratch *s) {
    free(s->p);
    s->p = NULL;
    s->cap = 0;
}

typedef dann_status (*decoder)(const uint8_t *, size_t, const char *, uint8_t **, int *, int *,
                               int *, dann_error *);

static dann_status decode_to_slot(decoder decode, uint8_t *dst, int c_out, int h, int w,
                                  const uint8_t *buf, size_t len, const char *name, int *c,
                                  int *in_h, int *in_w, data_scratch *scratch, dann_error *err) {
    uint8_t *img;
    dann_status st = decode(buf, len, name, &img, c, in_h, in_w, err);
    if (st) return st;
    void *ws = data_scratch_get(scratch, resize_scratch_bytes(h, w, *c, *in_h, *in_w), err);
    if (!ws) {
        free(img);
        return DANN_ERR_NOMEM;
    }
    resize_bilinear_pil_ws(dst, h, w, img, *c, *in_h, *in_w, ws);
    free(img);
    /* PIL's convert("RGB") of a grey image repeats it: resizing commutes with that. */
    if (c_out == 3 && *c == 1)
        for (int k = 1; k < 3; k++) memcpy(dst + (size_t)k * h * w, dst, (size_t)h * w);
    return DANN_OK;
}

dann_status png_to_slot(uint8_t *dst, int c_out, int h, int w, const uint8_t *buf, size_t len,
                        const char *name, int *c, int *in_h, int *in_w, data_scratch *scratch,
                        dann_error *err) {
    return decode_to_slot(png_decode, dst, c_out, h, w, buf, len, name, c, in_h, in_w, scratch,
                          err);
}

dann_status image_to_slot(uint8_t *dst, int c_out, int h, int w, const uint8_t *buf, size_t len,
                          const char *name, int *c, int *in_h, int *in_w, data_scratch *scratch,
                          dann_error *err) {
    return decode_to_slot(image_decode, dst, c_out, h, w, buf, len, name, c, in_h, in_w, scratch,
                          err);
}
