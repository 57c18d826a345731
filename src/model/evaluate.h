/* evaluate.h - eval-mode accuracy of a model over an in-memory dataset. */
#ifndef DANN_EVALUATE_H
#define DANN_EVALUATE_H

#include "data/data.h"
#include "model/model.h"

typedef struct {
    int64_t n;            /* labelled images evaluated */
    int64_t correct;
    double accuracy;      /* correct / n (0 when n == 0) */
} eval_result;

/* Runs the model in eval mode (running BatchNorm statistics, no dropout) over the first n_max
 * images of ds (all when n_max <= 0), in batches of the model's max batch. confusion, when
 * non-NULL, receives n_classes x n_classes counts (row = true label, column = prediction) and
 * must hold that many int64. pred, when non-NULL, receives each image's argmax. Unlabelled
 * images (label -1) get predictions but are not counted. Returns DANN_ERR_NOMEM or DANN_OK. */
dann_status model_evaluate(dann_model *m, const dataset *ds, int n_max, int64_t *confusion,
                           int32_t *pred, eval_result *res, dann_error *err);

#endif
