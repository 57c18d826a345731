/* mnist.c - mnist:DIR, MNIST's four IDX files (plain or .gz) as a dataset.
 *
 * DATA_TRAIN reads train-images-idx3-ubyte / train-labels-idx1-ubyte, DATA_TEST the t10k-
 * pair; either name may carry .gz (the uncompressed file wins when both exist). Images must be
 * 28x28 and as many as the labels; they are stored 1-channel and resized (PIL bilinear) when
 * the model's h x w differ, as torchvision's Resize would. */
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include "data/load.h"

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
