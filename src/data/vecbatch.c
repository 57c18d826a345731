/* vecbatch.c - batches of a dataset as a model's input (vec.h): dense rows of vectors, CSR rows
 * for a network that takes sparse batches (so a 5,000-wide bag of words costs its non-zeros,
 * not a dense product), images through dataset_gather; and copies of a subset of examples. */
#include <stdlib.h>
#include <string.h>
#include "data/vec.h"

void vec_gather_dense(float *x, int32_t *y, const dataset *ds, const int32_t *idx, int B) {
    const vec_data *v = ds->vec;
    const size_t D = (size_t)ds->c;
    DANN_ASSERT(v && ds->c >= v->dim);
    for (int b = 0; b < B; b++) {
        DANN_ASSERT(idx[b] >= 0 && idx[b] < ds->n);
        float *row = x + (size_t)b * D;
        if (v->sparse) {
            memset(row, 0, sizeof(float) * D);
            for (int64_t k = v->rowptr[idx[b]]; k < v->rowptr[idx[b] + 1]; k++)
                row[v->col[k]] = v->val[k];
        } else {
            memcpy(row, v->x + (size_t)idx[b] * D, sizeof(float) * D);
        }
        if (y) y[b] = ds->y[idx[b]];
    }
}

dann_status data_batch_init(data_batch *b, const dataset *ds, int cap, int in_c, int sparse_ok,
                            dann_error *err) {
    memset(b, 0, sizeof *b);
    b->cap = cap;
    b->in_c = in_c;
    b->sparse = sparse_ok && ds->vec && ds->vec->sparse;
    if (b->sparse) {
        const size_t nnz = (size_t)cap * (size_t)(ds->vec->max_row_nnz ? ds->vec->max_row_nnz : 1);
        b->rowptr = dann_calloc((size_t)cap + 1, sizeof *b->rowptr, err);
        b->col = b->rowptr ? dann_calloc(nnz, sizeof *b->col, err) : NULL;
        b->val = b->col ? dann_calloc(nnz, sizeof *b->val, err) : NULL;
        if (!b->val) {
            data_batch_free(b);
            return DANN_ERR_NOMEM;
        }
    } else {
        const size_t per = (size_t)(ds->vec ? ds->c : in_c) * ds->h * ds->w;
        if (!(b->x = dann_calloc((size_t)cap * per, sizeof *b->x, err))) return DANN_ERR_NOMEM;
    }
    return DANN_OK;
}

void data_batch_gather(data_batch *b, int32_t *y, const dataset *ds, const int32_t *idx, int B) {
    DANN_ASSERT(B >= 0 && B <= b->cap);
    memset(&b->in, 0, sizeof b->in);
    b->in.B = B;
    if (!b->sparse) {
        dataset_gather(b->x, y, ds, idx, B, ds->vec ? ds->c : b->in_c);
        b->in.x = b->x;
        return;
    }
    const vec_data *v = ds->vec;
    int64_t k = 0;
    b->rowptr[0] = 0;
    for (int i = 0; i < B; i++) {
        DANN_ASSERT(idx[i] >= 0 && idx[i] < ds->n);
        const int64_t a = v->rowptr[idx[i]], n = v->rowptr[idx[i] + 1] - a;
        if (n) {
            memcpy(b->col + k, v->col + a, sizeof *b->col * (size_t)n);
            memcpy(b->val + k, v->val + a, sizeof *b->val * (size_t)n);
        }
        k += n;
        b->rowptr[i + 1] = k;
        if (y) y[i] = ds->y[idx[i]];
    }
    b->in.rowptr = b->rowptr;
    b->in.col = b->col;
    b->in.val = b->val;
}

void data_batch_free(data_batch *b) {
    free(b->x), free(b->rowptr), free(b->col), free(b->val);
    memset(b, 0, sizeof *b);
}

dann_status dataset_subset(dataset *out, const dataset *ds, const int32_t *idx, int n,
                           dann_error *err) {
    memset(out, 0, sizeof *out);
    *out = *ds;
    out->n = n;
    out->pix = NULL;
    out->vec = NULL;
    out->class_names = NULL;
    out->y = NULL;
    if (ds->class_names &&
        dataset_set_class_names(out, (const char *const *)ds->class_names, ds->n_classes, err))
        goto nomem;
    if (!(out->y = dann_calloc((size_t)(n ? n : 1), sizeof(int32_t), err))) goto nomem;
    for (int k = 0; k < n; k++) out->y[k] = ds->y[idx[k]];
    if (!ds->vec) {
        const size_t img = (size_t)ds->c * ds->h * ds->w;
        if (!(out->pix = dann_calloc((size_t)(n ? n : 1) * img, 1, err))) goto nomem;
        for (int k = 0; k < n; k++)
            memcpy(out->pix + (size_t)k * img, ds->pix + (size_t)idx[k] * img, img);
        return DANN_OK;
    }
    const vec_data *v = ds->vec;
    vec_data *w = dann_calloc(1, sizeof *w, err);
    if (!(out->vec = w)) goto nomem;
    *w = *v;
    w->x = NULL, w->rowptr = NULL, w->col = NULL, w->val = NULL, w->line = NULL, w->path = NULL;
    w->path = dann_calloc(strlen(v->path) + 1, 1, err);
    w->line = dann_calloc((size_t)(n ? n : 1), sizeof *w->line, err);
    if (!w->path || !w->line) goto nomem;
    strcpy(w->path, v->path);
    for (int k = 0; k < n; k++) w->line[k] = v->line[idx[k]];
    if (!v->sparse) {
        const size_t D = (size_t)v->dim;
        if (!(w->x = dann_calloc((size_t)(n ? n : 1) * D, sizeof *w->x, err))) goto nomem;
        for (int k = 0; k < n; k++)
            memcpy(w->x + (size_t)k * D, v->x + (size_t)idx[k] * D, sizeof *w->x * D);
        return DANN_OK;
    }
    int64_t nnz = 0;
    for (int k = 0; k < n; k++) nnz += v->rowptr[idx[k] + 1] - v->rowptr[idx[k]];
    w->rowptr = dann_calloc((size_t)n + 1, sizeof *w->rowptr, err);
    w->col = dann_calloc((size_t)(nnz ? nnz : 1), sizeof *w->col, err);
    w->val = dann_calloc((size_t)(nnz ? nnz : 1), sizeof *w->val, err);
    if (!w->rowptr || !w->col || !w->val) goto nomem;
    nnz = 0;
    for (int k = 0; k < n; k++) {
        const int64_t a = v->rowptr[idx[k]], m = v->rowptr[idx[k] + 1] - a;
        if (m) {
            memcpy(w->col + nnz, v->col + a, sizeof *w->col * (size_t)m);
            memcpy(w->val + nnz, v->val + a, sizeof *w->val * (size_t)m);
        }
        nnz += m;
        w->rowptr[k + 1] = nnz;
    }
    return DANN_OK;
nomem:
    dataset_free(out);
    return DANN_ERR_NOMEM;
}
