/* dataset.c - dataset_load's dispatch on the spec prefix, the MNIST loader, the batch gatherer
 * and the helpers the loaders share.
 *
 * The gatherer turns stored uint8 pixels into the model's float input the way torchvision's
 * ToTensor + Normalize do in float32, v = ((float)pix / 255.0f - mean) / std, evaluated through
 * a 256-entry table per channel that holds exactly those values (same operations, same
 * rounding), so a batch is a table lookup per pixel. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include "data/data.h"
#include "data/load.h"

#define DATA_MAX_SIDE 4096

dann_status read_file(const char *path, uint8_t **buf, size_t *len, dann_error *err) {
    *buf = NULL;
    FILE *f = fopen(path, "rb");
    if (!f) return dann_fail(err, DANN_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
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

dann_status png_to_slot(uint8_t *dst, int c_out, int h, int w, const uint8_t *buf, size_t len,
                        const char *name, int *c, int *in_h, int *in_w, data_scratch *scratch,
                        dann_error *err) {
    uint8_t *img;
    dann_status st = png_decode(buf, len, name, &img, c, in_h, in_w, err);
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

/* ---- MNIST ------------------------------------------------------------------------------ */

/* DIR/BASE or DIR/BASE.gz, whichever exists (the uncompressed one first). */
static dann_status find_idx(char *out, size_t cap, const char *dir, const char *base,
                            dann_error *err) {
    struct stat st;
    snprintf(out, cap, "%s/%s", dir, base);
    if (stat(out, &st) == 0) return DANN_OK;
    snprintf(out, cap, "%s/%s.gz", dir, base);
    if (stat(out, &st) == 0) return DANN_OK;
    return dann_fail(err, DANN_ERR_IO, "%s/%s[.gz]: no such file (mnist:DIR needs the IDX files)",
                     dir, base);
}

dann_status mnist_load(dataset *ds, const char *dir, int split, int h, int w, dann_error *err) {
    const char *pre = split == DATA_TEST ? "t10k" : "train";
    char ipath[4096], lpath[4096], base[64];
    int n, rows, cols, nl;
    uint8_t *pix = NULL;
    int32_t *y = NULL;
    dann_status st;
    snprintf(base, sizeof base, "%s-images-idx3-ubyte", pre);
    if ((st = find_idx(ipath, sizeof ipath, dir, base, err))) return st;
    snprintf(base, sizeof base, "%s-labels-idx1-ubyte", pre);
    if ((st = find_idx(lpath, sizeof lpath, dir, base, err))) return st;
    if ((st = idx_read_images(ipath, &pix, &n, &rows, &cols, err))) return st;
    if ((st = idx_read_labels(lpath, &y, &nl, 10, err))) goto fail;
    if (rows != 28 || cols != 28) {
        st = dann_fail(err, DANN_ERR_FORMAT, "%s: images are %dx%d, MNIST's are 28x28", ipath,
                       rows, cols);
        goto fail;
    }
    if (nl != n) {
        st = dann_fail(err, DANN_ERR_FORMAT, "%s: %d labels for the %d images of %s", lpath, nl, n,
                       ipath);
        goto fail;
    }
    if (h != rows || w != cols) {
        uint8_t *out = malloc((size_t)n * h * w);
        void *ws = malloc(resize_scratch_bytes(h, w, 1, rows, cols));
        if (!out || !ws) {
            free(out);
            free(ws);
            st = dann_fail(err, DANN_ERR_NOMEM, "%s: out of memory resizing to %dx%d", ipath, h, w);
            goto fail;
        }
        for (int i = 0; i < n; i++)
            resize_bilinear_pil_ws(out + (size_t)i * h * w, h, w, pix + (size_t)i * rows * cols, 1,
                                   rows, cols, ws);
        free(ws);
        free(pix);
        pix = out;
    }
    ds->n = n;
    ds->c = 1;
    ds->h = h;
    ds->w = w;
    ds->pix = pix;
    ds->y = y;
    ds->n_classes = 10;
    return DANN_OK;
fail:
    free(pix);
    free(y);
    return st;
}

/* ---- dispatch --------------------------------------------------------------------------- */

dann_status dataset_load(dataset *ds, const char *spec, int split, int h, int w, dann_error *err) {
    static const struct { const char *prefix, *kind; float mean, std; } kinds[] = {
        {"mnist:", "mnist", 0.1307f, 0.3081f},
        {"mnistm:", "mnistm", 0.5f, 0.5f},
        {"folder:", "folder", 0.5f, 0.5f},
        {"images:", "images", 0.5f, 0.5f},
    };
    memset(ds, 0, sizeof *ds);
    if (split != DATA_TRAIN && split != DATA_TEST)
        return dann_fail(err, DANN_ERR_ARG, "%s: bad split %d", spec, split);
    if (h < 1 || w < 1 || h > DATA_MAX_SIDE || w > DATA_MAX_SIDE)
        return dann_fail(err, DANN_ERR_ARG, "%s: bad image size %dx%d (1..%d)", spec, h, w,
                         DATA_MAX_SIDE);
    int k = -1;
    for (int i = 0; i < (int)(sizeof kinds / sizeof *kinds); i++)
        if (strncmp(spec, kinds[i].prefix, strlen(kinds[i].prefix)) == 0) k = i;
    if (k < 0)
        return dann_fail(err, DANN_ERR_ARG,
                         "%s: unknown dataset spec (expected mnist:DIR, mnistm:PATH, folder:DIR "
                         "or images:DIR)", spec);
    const char *path = spec + strlen(kinds[k].prefix);
    struct stat sb;
    if (!*path) return dann_fail(err, DANN_ERR_ARG, "%s: missing path after the prefix", spec);
    if (stat(path, &sb) != 0)
        return dann_fail(err, DANN_ERR_IO, "%s: cannot access: %s", path, strerror(errno));
    dann_status st;
    switch (k) {
    case 0: st = mnist_load(ds, path, split, h, w, err); break;
    case 1: st = mnistm_load(ds, path, split, h, w, err); break;
    default: st = folder_load(ds, path, k == 2, h, w, err); break;
    }
    if (st) {
        dataset_free(ds);
        return st;
    }
    for (int c = 0; c < 3; c++) {
        ds->mean[c] = kinds[k].mean;
        ds->std[c] = kinds[k].std;
    }
    snprintf(ds->name, sizeof ds->name, "%s-%s", kinds[k].kind,
             split == DATA_TEST ? "test" : "train");
    return DANN_OK;
}

void dataset_free(dataset *ds) {
    free(ds->pix);
    free(ds->y);
    memset(ds, 0, sizeof *ds);
}

/* ---- batches ---------------------------------------------------------------------------- */

void dataset_gather(float *x, int32_t *y, const dataset *ds, const int32_t *idx, int B,
                    int out_c) {
    DANN_ASSERT(out_c == ds->c || (out_c == 3 && ds->c == 1));
    DANN_ASSERT(ds->c >= 1 && ds->c <= 3);
    float lut[3][256];
    for (int c = 0; c < ds->c; c++)
        for (int p = 0; p < 256; p++) {
            float v = (float)p / 255.0f;
            lut[c][p] = (v - ds->mean[c]) / ds->std[c];
        }
    size_t hw = (size_t)ds->h * ds->w;
    for (int b = 0; b < B; b++) {
        DANN_ASSERT(idx[b] >= 0 && idx[b] < ds->n);
        const uint8_t *src = ds->pix + (size_t)idx[b] * ds->c * hw;
        for (int oc = 0; oc < out_c; oc++) {
            int c = ds->c == 1 ? 0 : oc;
            const uint8_t *p = src + (size_t)c * hw;
            float *o = x + ((size_t)b * out_c + oc) * hw;
            for (size_t i = 0; i < hw; i++) o[i] = lut[c][p[i]];
        }
        if (y) y[b] = ds->y[idx[b]];
    }
}
