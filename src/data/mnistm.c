/* mnistm.c - MNIST-M, from its unpacked folder or straight from the distributed mnist_m.tar.gz.
 *
 * Layout (names relative to the folder, or to any prefix such as "mnist_m/" in the archive):
 *   mnist_m_train/00000000.png ...   mnist_m_train_labels.txt  ("00000000.png 5" per line)
 *   mnist_m_test/00000000.png ...    mnist_m_test_labels.txt
 * The dataset's order is the label file's line order; every image is decoded once, resized
 * (PIL bilinear, so 32x32 -> 28x28 equals torchvision's Resize(28)) and stored as RGB; grey
 * PNGs are repeated over 3 channels as PIL's convert("RGB") does. All images of a split must
 * share one size.
 *
 * The label files are parsed by mnistm_labels.c; the archive is read by mnistm_archive.c (one
 * streaming pass, checks independent of the members' order). In a folder the images are read
 * in label order, and files that the labels do not list are never opened. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include "data/load.h"

/* Checks one decoded image's size against the split's first one. */
static dann_status same_size(int *h0, int *w0, int h, int w, const char *name, dann_error *err) {
    if (*h0 == 0) {
        *h0 = h;
        *w0 = w;
    }
    if (h != *h0 || w != *w0)
        return dann_fail(err, DANN_ERR_FORMAT, "%s: image is %dx%d but the split's first is %dx%d",
                         name, h, w, *h0, *w0);
    return DANN_OK;
}

/* ---- unpacked folder ---------------------------------------------------------------------- */

static dann_status load_folder(dataset *ds, const char *dir, const char *sub, int h, int w,
                               dann_error *err) {
    char path[4096];
    label_list L = {0};
    uint8_t *text, *buf = NULL;
    size_t len, slot = (size_t)3 * h * w;
    data_scratch scratch = {0};
    int c, ih, iw, h0 = 0, w0 = 0;
    snprintf(path, sizeof path, "%s/%s_labels.txt", dir, sub);
    dann_status st = read_file(path, &text, &len, err);
    if (st) return st;
    if ((st = labels_parse(&L, (char *)text, len, path, err))) goto done;
    ds->pix = malloc((size_t)L.n * slot);
    ds->y = malloc((size_t)L.n * sizeof *ds->y);
    if (!ds->pix || !ds->y) {
        st = dann_fail(err, DANN_ERR_NOMEM, "%s: out of memory for %d images", path, L.n);
        goto done;
    }
    for (int i = 0; i < L.n; i++) {
        snprintf(path, sizeof path, "%s/%s/%s", dir, sub, L.names[i]);
        if ((st = read_file(path, &buf, &len, err))) goto done;
        st = png_to_slot(ds->pix + (size_t)i * slot, 3, h, w, buf, len, path, &c, &ih, &iw,
                         &scratch, err);
        free(buf);
        if (st || (st = same_size(&h0, &w0, ih, iw, path, err))) goto done;
        ds->y[i] = L.y[i];
    }
    ds->n = L.n;
done:
    data_scratch_free(&scratch);
    labels_free(&L);
    return st;
}

/* ---- entry point -------------------------------------------------------------------------- */

static int is_dir(const char *p) {
    struct stat sb;
    return stat(p, &sb) == 0 && S_ISDIR(sb.st_mode);
}

/* Anything but a folder: a file to read (a FIFO or a device is refused by the reader). */
static int is_file(const char *p) {
    struct stat sb;
    return stat(p, &sb) == 0 && !S_ISDIR(sb.st_mode);
}

dann_status mnistm_load(dataset *ds, const char *path, int split, int h, int w, dann_error *err) {
    const char *sub = split == DATA_TEST ? "mnist_m_test" : "mnist_m_train";
    char p[4096];
    dann_status st;
    if (is_file(path)) st = mnistm_load_archive(ds, path, sub, h, w, err);
    else if (snprintf(p, sizeof p, "%s/%s_labels.txt", path, sub), is_file(p))
        st = load_folder(ds, path, sub, h, w, err);
    else if (snprintf(p, sizeof p, "%s/mnist_m", path), is_dir(p))
        return mnistm_load(ds, p, split, h, w, err);  // a data root: its mnist_m/ folder (unpacked or holding the archive)
    else if (snprintf(p, sizeof p, "%s/mnist_m.tar.gz", path), is_file(p))
        st = mnistm_load_archive(ds, p, sub, h, w, err);
    else
        return dann_fail(err, DANN_ERR_IO,
                         "%s: not MNIST-M (no %s_labels.txt, mnist_m/ or mnist_m.tar.gz in it)",
                         path, sub);
    if (st) return st;
    ds->c = 3;
    ds->h = h;
    ds->w = w;
    ds->n_classes = MNISTM_CLASSES;
    return DANN_OK;
}
