/* dataset.c - dataset_load's dispatch on the spec prefix, dataset_free and the batch gatherer.
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
#include "data/vec.h"

#define DATA_MAX_SIDE 4096

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
    if (vec_spec_is_vector(spec)) return vec_load(ds, spec, split, err);
    if (h < 1 || w < 1 || h > DATA_MAX_SIDE || w > DATA_MAX_SIDE)
        return dann_fail(err, DANN_ERR_ARG, "%s: bad image size %dx%d (1..%d)", spec, h, w,
                         DATA_MAX_SIDE);
    int k = -1;
    for (int i = 0; i < (int)(sizeof kinds / sizeof *kinds); i++)
        if (strncmp(spec, kinds[i].prefix, strlen(kinds[i].prefix)) == 0) k = i;
    if (k < 0)
        return dann_fail(err, DANN_ERR_ARG,
                         "%s: unknown dataset spec (expected mnist:DIR, mnistm:PATH, folder:DIR, "
                         "images:DIR, csv:FILE or svmlight:FILE)", spec);
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
    if (k < 2) {  /* MNIST and MNIST-M: the digits, 28x28 files, all grey or all colour */
        static const char *const digits[10] = {"0", "1", "2", "3", "4", "5", "6", "7", "8", "9"};
        if ((st = dataset_set_class_names(ds, digits, 10, err))) {
            dataset_free(ds);
            return st;
        }
        ds->in_h_min = ds->in_h_max = ds->in_w_min = ds->in_w_max = 28;
        ds->n_grey = ds->c == 1 ? ds->n : 0;
    }
    return DANN_OK;
}

void dataset_free(dataset *ds) {
    free(ds->pix);
    free(ds->y);
    free(ds->class_names);
    vec_data_free(ds->vec);
    free(ds->vec);
    memset(ds, 0, sizeof *ds);
}

/* ---- batches ---------------------------------------------------------------------------- */

void dataset_gather(float *x, int32_t *y, const dataset *ds, const int32_t *idx, int B,
                    int out_c) {
    if (ds->vec) {
        DANN_ASSERT(out_c == ds->c);
        vec_gather_dense(x, y, ds, idx, B);
        return;
    }
    DANN_ASSERT(out_c == ds->c || (out_c == 3 && ds->c == 1));
    DANN_ASSERT(ds->c >= 1 && ds->c <= 3);
    /* one table per output channel: a grey image repeated over 3 channels takes each channel's
     * own mean / std (as torchvision normalises the repeated tensor) */
    float lut[3][256];
    for (int c = 0; c < out_c; c++)
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
            for (size_t i = 0; i < hw; i++) o[i] = lut[oc][p[i]];
        }
        if (y) y[b] = ds->y[idx[b]];
    }
}
