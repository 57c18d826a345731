/* revval.c - reverse validation (JMLR 2016, section 4.4; select.h): self-label the target with
 * the model, train a copy of it the other way round (the self-labelled target as its labelled
 * source, the source images as its target domain) for a fixed budget of steps, and score the
 * copy on the held-out source split. A model whose target labels are right trains a reverse
 * model that still knows the source; a model whose target labels are wrong does not. */
#include <stdlib.h>
#include <string.h>
#include "cli/extutil.h"
#include "cli/select.h"
#include "model/evaluate.h"

dann_status select_reverse_score(dann_model *m, const dann_train_config *cfg, float lr, float lambda,
                                 const dataset *tgt, const int32_t *tgt_idx, int n_t,
                                 const dataset *src, const int32_t *src_idx, int n_s,
                                 const dataset *val, int steps, int batch, uint64_t seed,
                                 double *score, dann_error *err) {
    *score = 0;
    if (n_t < 1 || n_s < 1 || !val || val->n < 1 || steps < 0 || batch < 1)
        return dann_fail(err, DANN_ERR_ARG, "reverse validation: needs target and source images "
                         "and a source validation split");
    int C, H, W, NC;
    dann_model_shape(m, &C, &H, &W, &NC);
    const size_t img = (size_t)C * H * W;
    float *logp = NULL;
    int32_t *yhat = dann_calloc((size_t)n_t, sizeof(int32_t), err);
    int32_t *bi = dann_calloc((size_t)batch, sizeof(int32_t), err);
    int32_t *ys = dann_calloc((size_t)batch, sizeof(int32_t), err);
    float *xs = dann_calloc((size_t)batch * img, sizeof(float), err);
    float *xt = dann_calloc((size_t)batch * img, sizeof(float), err);
    dann_model *r = NULL;
    dann_trainer *t = NULL;
    dann_status st = DANN_OK;
    if (!yhat || !bi || !ys || !xs || !xt) {
        st = DANN_ERR_NOMEM;
        goto out;
    }
    if ((st = ext_predict(m, tgt, tgt_idx, n_t, 0, &logp, NULL, err))) goto out;
    for (int i = 0; i < n_t; i++) {
        int best = 0;
        for (int c = 1; c < NC; c++)
            if (logp[(size_t)i * NC + c] > logp[(size_t)i * NC + best]) best = c;
        yhat[i] = best;
    }
    if ((st = ext_clone(&r, m, batch, err))) goto out;
    dann_train_config c = *cfg;
    c.mode = cfg->mode == DANN_MODE_DANN ? DANN_MODE_DANN : DANN_MODE_SOURCE_ONLY;
    c.lr = lr > 0 ? lr : cfg->lr;
    c.lr_schedule = 0;
    c.lambda_schedule = 1;
    c.lambda_max = lambda;
    if ((st = dann_trainer_new(&t, r, &c, seed, err))) goto out;
    dann_rng rng;
    rng_seed(&rng, seed ^ 0x5eed5eedULL);
    for (int s = 0; s < steps; s++) {
        for (int b = 0; b < batch; b++) {
            const int k = (int)rng_below(&rng, (uint32_t)n_t);
            bi[b] = tgt_idx[k];
            ys[b] = yhat[k];
        }
        dataset_gather(xs, NULL, tgt, bi, batch, C);
        for (int b = 0; b < batch; b++) bi[b] = src_idx[rng_below(&rng, (uint32_t)n_s)];
        dataset_gather(xt, NULL, src, bi, batch, C);
        dann_error e2;
        const dann_status ss = dann_train_step(t, xs, ys, batch, xt, NULL, batch, 1.0, NULL, &e2);
        if (ss == DANN_ERR_NUMERIC) goto out;  /* a reverse model that diverges scores 0 */
        if (ss) {
            st = dann_fail(err, ss, "reverse validation: %s", e2.msg);
            goto out;
        }
    }
    eval_result er;
    if ((st = model_evaluate(r, val, 0, NULL, NULL, &er, err))) goto out;
    *score = er.accuracy;
out:
    dann_trainer_free(t);
    dann_model_free(r);
    free(logp), free(yhat), free(bi), free(ys), free(xs), free(xt);
    return st;
}
