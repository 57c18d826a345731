/* fuzz_vec.h - what fuzz_csv.c and fuzz_svmlight.c share: the first input byte picks the reader's
 * options, the rest is the file; a file that loads is put through everything that reads a vector
 * dataset afterwards (a wider dimension, dense and sparse batches, a subset), so that a dataset
 * the reader accepts is one the rest of dann can use. */
#ifndef DANN_FUZZ_VEC_H
#define DANN_FUZZ_VEC_H

#include <stdlib.h>
#include <string.h>
#include "data/vec.h"

static void fuzz_vec_use(dataset *ds) {
    dann_error err;
    if (vec_set_dim(ds, ds->c + 3, &err) != DANN_OK) abort();  /* a sparse file widens */
    const int B = ds->n < 8 ? ds->n : 8;
    int32_t idx[8], y[8];
    for (int b = 0; b < B; b++) idx[b] = (int32_t)((size_t)b * 7919 % (size_t)ds->n);
    if ((size_t)B * (size_t)ds->c <= (1u << 16)) {  /* dense rows of modest width only: speed */
        float *x = malloc(sizeof(float) * (size_t)B * (size_t)ds->c + 4);
        if (x) dataset_gather(x, y, ds, idx, B, ds->c);
        free(x);
    }
    data_batch bt;
    if (data_batch_init(&bt, ds, B ? B : 1, ds->c, 1, &err) == DANN_OK) {
        data_batch_gather(&bt, y, ds, idx, B);
        data_batch_free(&bt);
    }
    dataset sub;
    if (dataset_subset(&sub, ds, idx, B, &err) == DANN_OK) dataset_free(&sub);
}

static void fuzz_vec_run(int format, const uint8_t *data, size_t size) {
    if (size < 1) return;
    vec_opts o;
    vec_opts_default(&o);
    const uint8_t k = data[0];
    o.base = k & 1;
    o.header = (int)((k >> 1) % 3) - 1;
    o.label = format == VEC_SVMLIGHT ? ((k >> 3) & 1 ? VEC_LABEL_NONE : VEC_LABEL_FIRST)
                                     : (int)((k >> 3) % 4);
    if (o.label == VEC_LABEL_NAMED) strcpy(o.label_name, "y");
    dataset ds;
    dann_error err;
    if (vec_load_mem(&ds, "fuzz", format, (const char *)data + 1, size - 1, &o, DATA_TRAIN,
                     &err) == DANN_OK) {
        if (!ds.vec->sparse && vec_set_dim(&ds, ds.c + 1, &err) == DANN_OK)
            abort();  /* a CSV file keeps its width */
        if (ds.vec->sparse) fuzz_vec_use(&ds);
        dataset_free(&ds);
    }
}

#endif
