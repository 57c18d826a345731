/* evaluate.c - eval-mode accuracy and confusion matrix over an in-memory dataset, gathering and
 * normalising one batch at a time (the dataset stays uint8; sparse vectors stay sparse for a
 * network that takes sparse batches). */
#include <stdlib.h>
#include <string.h>
#include "data/vec.h"
#include "model/evaluate.h"

dann_status model_evaluate(dann_model *m, const dataset *ds, int n_max, int64_t *confusion,
                           int32_t *pred, eval_result *res, dann_error *err) {
    const net_plan *a = m->net;
    const int NC = a->n_classes, cap = m->max_batch;
    const int n = n_max > 0 && n_max < ds->n ? n_max : ds->n;
    DANN_ASSERT(ds->h == a->in_h && ds->w == a->in_w);
    data_batch bt;
    float *logp = dann_calloc((size_t)cap * NC, sizeof(float), err);
    int32_t *idx = dann_calloc((size_t)cap, sizeof(int32_t), err);
    int32_t *y = dann_calloc((size_t)cap, sizeof(int32_t), err);
    if (!logp || !idx || !y ||
        data_batch_init(&bt, ds, cap, a->in_c, dann_model_input_is_vector(m) == 2, err)) {
        free(logp), free(idx), free(y);
        return DANN_ERR_NOMEM;
    }
    if (confusion) memset(confusion, 0, sizeof(int64_t) * (size_t)NC * NC);
    memset(res, 0, sizeof *res);
    for (int start = 0; start < n; start += cap) {
        int B = n - start < cap ? n - start : cap;
        for (int i = 0; i < B; i++) idx[i] = start + i;
        data_batch_gather(&bt, y, ds, idx, B);
        dann_model_predict_input(m, &bt.in, logp);
        for (int b = 0; b < B; b++) {
            int best = 0;
            for (int c = 1; c < NC; c++)
                if (logp[(size_t)b * NC + c] > logp[(size_t)b * NC + best]) best = c;
            if (pred) pred[start + b] = best;
            if (y[b] < 0 || y[b] >= NC) continue;
            res->n++;
            res->correct += best == y[b];
            if (confusion) confusion[(size_t)y[b] * NC + best]++;
        }
    }
    res->accuracy = res->n ? (double)res->correct / (double)res->n : 0.0;
    data_batch_free(&bt);
    free(logp), free(idx), free(y);
    return DANN_OK;
}
