/* extutil.c - model copies, weights-only checkpoints and batched eval-mode passes for the loop's
 * extensions (extutil.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "cli/extutil.h"
#include "cli/trainloop.h"
#include "data/vec.h"
#include "io/checkpoint.h"

void ext_copy_weights(dann_model *dst, dann_model *src) {
    size_t n, ns, n2, ns2;
    float *p = dann_model_params(src, &n), *s = dann_model_state(src, &ns);
    float *q = dann_model_params(dst, &n2), *r = dann_model_state(dst, &ns2);
    DANN_ASSERT(n == n2 && ns == ns2);
    memcpy(q, p, n * sizeof(float));
    if (ns) memcpy(r, s, ns * sizeof(float));
    const int nt = dann_model_tensors(src, 0, NULL);
    for (int i = 0; i < nt; i++) {
        dann_tensor_info ti;
        dann_model_tensors(src, i, &ti);
        if (ti.kind == 2) dann_model_set_bn_count(dst, i, dann_model_bn_count(src, i));
    }
}

dann_status ext_clone(dann_model **out, dann_model *m, int max_batch, dann_error *err) {
    dann_status st = dann_model_new(out, dann_model_description(m), 0, max_batch, err);
    if (st) return st;
    ext_copy_weights(*out, m);
    return DANN_OK;
}

void ext_path(char *out, size_t cap, const char *dir, const char *name) {
    snprintf(out, cap, "%s/%s", dir, name);
}

static const char *g_data_kv = "";

void ext_data_kv(const char *kv) { g_data_kv = kv ? kv : ""; }

dann_status ext_save_weights(const char *dir, const char *name, const dann_model *m, int epoch,
                             const char *kv, dann_error *err) {
    static ckpt_meta meta;  /* 64 KiB of kv: not on the stack */
    memset(&meta, 0, sizeof meta);
    meta.epoch = (uint32_t)epoch;
    meta.best_val_acc = -1.0f;
    snprintf(meta.kv, sizeof meta.kv, "%s%s", g_data_kv, kv ? kv : "");
    char path[4200];
    ext_path(path, sizeof path, dir, name);
    return ckpt_save(path, m, NULL, &meta, err);
}

void ext_pick(int32_t *idx, int n, int N, uint64_t seed) {
    DANN_ASSERT(n >= 0 && n <= N);
    int32_t *all = malloc(sizeof(int32_t) * (size_t)(N ? N : 1));
    DANN_ASSERT(all);
    dann_rng r;
    rng_seed(&r, seed);
    for (int i = 0; i < N; i++) all[i] = i;
    rng_shuffle(&r, all, N);
    memcpy(idx, all, sizeof(int32_t) * (size_t)n);
    free(all);
}

dann_status ext_predict(dann_model *m, const dataset *ds, const int32_t *idx, int n, int features,
                        float **out, int32_t *y, dann_error *err) {
    int C, H, W, NC;
    dann_model_shape(m, &C, &H, &W, &NC);
    const int D = features ? dann_model_feature_dim(m) : NC, cap = dann_model_max_batch(m);
    data_batch b;
    *out = dann_calloc((size_t)(n ? n : 1) * D, sizeof(float), err);
    int32_t *bi = dann_calloc((size_t)cap, sizeof(int32_t), err);
    if (!*out || !bi || data_batch_init(&b, ds, cap, C, dann_model_input_is_vector(m) == 2, err)) {
        free(*out), free(bi);
        *out = NULL;
        return DANN_ERR_NOMEM;
    }
    for (int s = 0; s < n; s += cap) {
        const int B = n - s < cap ? n - s : cap;
        for (int k = 0; k < B; k++) bi[k] = idx ? idx[s + k] : s + k;
        data_batch_gather(&b, y ? y + s : NULL, ds, bi, B);
        if (features) dann_model_features_input(m, &b.in, *out + (size_t)s * D);
        else dann_model_predict_input(m, &b.in, *out + (size_t)s * D);
    }
    data_batch_free(&b);
    free(bi);
    return DANN_OK;
}
