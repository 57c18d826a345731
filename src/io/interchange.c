/* interchange.c - model <-> safetensors under PyTorch state_dict names (contract in
 * interchange.h). The tensor table of the architecture is the single source of names, order,
 * kinds and shapes; this file only maps each entry to a safetensors tensor and back. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "io/interchange.h"
#include "model/model.h"

/* "[64, 3, 5, 5]" (at most 4 dimensions in the tensor table, 8 in a file). */
static void shape_str(char *buf, size_t cap, int ndim, const int64_t *shape) {
    size_t len = (size_t)snprintf(buf, cap, "[");
    for (int d = 0; d < ndim && len < cap; d++)
        len += (size_t)snprintf(buf + len, cap - len, "%s%lld", d ? ", " : "", (long long)shape[d]);
    if (len < cap) snprintf(buf + len, cap - len, "]");
}

static st_dtype expected_dtype(int kind) { return kind == TENSOR_BN_COUNT ? ST_I64 : ST_F32; }

dann_status interchange_export(const dann_model *m, const char *path,
                               const char *const *extra_meta, int n_extra, dann_error *err) {
    const int n = dann_model_tensors(m, -1, NULL);
    int64_t counts[MODEL_MAX_TENSORS];
    st_writer w;
    st_writer_init(&w);
    dann_status st = DANN_OK;
    for (int i = 0; i < n && !st; i++) {
        dann_tensor_info ti;
        dann_model_tensors(m, i, &ti);
        const void *data;
        if (ti.kind == TENSOR_PARAM) data = m->params + ti.offset;
        else if (ti.kind == TENSOR_STATE) data = m->state + ti.offset;
        else {
            counts[i] = dann_model_bn_count(m, i);
            data = &counts[i];
        }
        st = st_writer_add(&w, ti.name, expected_dtype(ti.kind), ti.ndim, ti.shape, data, err);
    }
    if (!st) st = st_writer_meta(&w, "format", "pt", err);
    if (!st) st = st_writer_meta(&w, "dann_arch", dann_model_arch(m), err);
    if (!st) st = st_writer_meta(&w, "dann_net", dann_model_description(m), err);
    if (!st) st = st_writer_meta(&w, "producer", "dann " DANN_VERSION_STRING, err);
    for (int k = 0; k < n_extra && !st; k++)
        st = st_writer_meta(&w, extra_meta[2 * k], extra_meta[2 * k + 1], err);
    if (!st) st = st_write(&w, path, err);
    st_writer_free(&w);
    return st;
}

/* Checks one expected tensor of the table against the file. */
static dann_status check_tensor(const st_file *f, const dann_tensor_info *ti, const char *path,
                                const char *arch, dann_error *err) {
    char want[96], got[160];
    const st_dtype dt = expected_dtype(ti->kind);
    shape_str(want, sizeof want, ti->ndim, ti->shape);
    const st_tensor *t = st_find(f, ti->name);
    if (!t)
        return dann_fail(err, DANN_ERR_FORMAT, "%s: tensor '%s' is missing (the %s model needs %s %s)",
                         path, ti->name, arch, st_dtype_name(dt), want);
    int same = t->dtype == dt && t->ndim == ti->ndim;
    for (int d = 0; same && d < ti->ndim; d++) same = t->shape[d] == ti->shape[d];
    if (!same) {
        shape_str(got, sizeof got, t->ndim, t->shape);
        return dann_fail(err, DANN_ERR_FORMAT, "%s: tensor '%s' is %s %s, expected %s %s", path,
                         ti->name, st_dtype_name(t->dtype), got, st_dtype_name(dt), want);
    }
    if (dt == ST_F32) {
        const float *v = t->data;
        for (size_t k = 0; k < t->numel; k++)
            if (!isfinite(v[k]))
                return dann_fail(err, DANN_ERR_FORMAT, "%s: tensor '%s' holds a non-finite value (%g) at element %zu",
                                 path, ti->name, (double)v[k], k);
        if (ti->kind == TENSOR_STATE && strstr(ti->name, "running_var"))
            for (size_t k = 0; k < t->numel; k++)
                if (v[k] < 0)
                    return dann_fail(err, DANN_ERR_FORMAT, "%s: tensor '%s' holds a negative variance (%g) at element %zu",
                                     path, ti->name, (double)v[k], k);
    } else {
        int64_t c;
        memcpy(&c, t->data, sizeof c);
        if (c < 0)
            return dann_fail(err, DANN_ERR_FORMAT, "%s: tensor '%s' is negative (%lld)", path,
                             ti->name, (long long)c);
    }
    return DANN_OK;
}

dann_status interchange_load(dann_model *m, const st_file *f, const char *path, dann_error *err) {
    const int n = dann_model_tensors(m, -1, NULL);
    const char *arch = dann_model_arch(m);
    const char *file_arch = st_meta_get(f, "dann_arch");
    if (file_arch && strcmp(file_arch, arch))
        return dann_fail(err, DANN_ERR_FORMAT, "%s: weights of architecture '%s', expected '%s'",
                         path, file_arch, arch);
    const char *file_net = st_meta_get(f, "dann_net"), *net = dann_model_description(m);
    if (file_net && strcmp(file_net, net))
        return dann_fail(err, DANN_ERR_FORMAT, "%s: weights of the network '%s', expected '%s'",
                         path, file_net, net);
    /* Validate everything before touching the model. */
    for (int i = 0; i < n; i++) {
        dann_tensor_info ti;
        dann_model_tensors(m, i, &ti);
        dann_status st = check_tensor(f, &ti, path, arch, err);
        if (st) return st;
    }
    for (int k = 0; k < f->n; k++)
        if (model_tensor_index(m, f->t[k].name) < 0)
            return dann_fail(err, DANN_ERR_FORMAT, "%s: unexpected tensor '%s' (not part of the %s model)",
                             path, f->t[k].name, arch);
    for (int i = 0; i < n; i++) {
        dann_tensor_info ti;
        dann_model_tensors(m, i, &ti);
        const st_tensor *t = st_find(f, ti.name);
        if (ti.kind == TENSOR_PARAM) memcpy(m->params + ti.offset, t->data, t->nbytes);
        else if (ti.kind == TENSOR_STATE) memcpy(m->state + ti.offset, t->data, t->nbytes);
        else {
            int64_t c;
            memcpy(&c, t->data, sizeof c);
            dann_model_set_bn_count(m, i, c);
        }
    }
    return DANN_OK;
}

dann_status interchange_import(dann_model *m, const char *path, dann_error *err) {
    st_file f;
    dann_status st = st_read(&f, path, err);
    if (!st) st = interchange_load(m, &f, path, err);
    st_free(&f);
    return st;
}
