/* test_vec_train.c - training on feature vectors below the command line: the same svmlight data
 * given to a network as sparse CSR batches (data_batch with sparse rows, the first fc's sparse
 * kernel) and as dense rows must train to the same parameters step after step, and evaluate to
 * the same predictions. The command-line runs are in test_cli_vec.c. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "core/core.h"
#include "data/vec.h"
#include "data_testutil.h"
#include "model/evaluate.h"
#include "test.h"

#define NET "in 500; features: fc(15) sigmoid; class: fc(3); domain: fc(2)"

/* n random sparse rows of D features (about nnz each, values in (-2, 2)), labels 0..2 or none. */
static void write_svm(const char *path, int n, int D, int nnz, int labelled, uint64_t seed) {
    FILE *f = fopen(path, "w");
    if (!f) abort();
    dann_rng r;
    rng_seed(&r, seed);
    for (int i = 0; i < n; i++) {
        if (labelled) fprintf(f, "%u", rng_below(&r, 3));
        for (int c = 0; c < D; c++)
            if (rng_below(&r, (uint32_t)D) < (uint32_t)nnz)
                fprintf(f, "%s%d:%.6f", labelled || c ? " " : "", c + 1, 4 * rng_uniform(&r) - 2);
        fprintf(f, "\n");
    }
    fclose(f);
}

TEST(vec_sparse_batches_train_like_dense_ones) {
    const char *dir = test_tmpdir();
    char ps[512], pt[512], spec[600];
    snprintf(ps, sizeof ps, "%s/s.svm", dir);
    snprintf(pt, sizeof pt, "%s/t.svm", dir);
    write_svm(ps, 96, 500, 20, 1, 3);
    write_svm(pt, 96, 500, 20, 0, 4);
    dataset src, tgt;
    dann_error err = {0};
    snprintf(spec, sizeof spec, "svmlight:%s", ps);
    CHECK(dataset_load(&src, spec, DATA_TRAIN, 1, 1, &err) == DANN_OK, "%s", err.msg);
    snprintf(spec, sizeof spec, "svmlight:%s", pt);
    CHECK(dataset_load(&tgt, spec, DATA_TRAIN, 1, 1, &err) == DANN_OK, "%s", err.msg);
    if (test_failed_now()) return;
    CHECK(vec_set_dim(&src, 500, &err) == DANN_OK && vec_set_dim(&tgt, 500, &err) == DANN_OK,
          "dim: %s", err.msg);
    const int B = 16;
    dann_model *m[2];
    dann_trainer *t[2];
    data_batch bs[2], bt[2];
    dann_train_config cfg;
    CHECK(dann_train_config_preset(&cfg, "shallow", &err) == DANN_OK, "%s", err.msg);
    cfg.lr = 0.2;           /* large steps, so that the parameters move far in a few steps */
    cfg.lambda_max = 0.5;
    for (int k = 0; k < 2; k++) {  /* k = 0: sparse batches, 1: dense */
        CHECK(dann_model_new(&m[k], NET, 7, B, &err) == DANN_OK, "%s", err.msg);
        CHECK(dann_trainer_new(&t[k], m[k], &cfg, 8, &err) == DANN_OK, "%s", err.msg);
        CHECK(data_batch_init(&bs[k], &src, B, 500, k == 0, &err) == DANN_OK &&
                  data_batch_init(&bt[k], &tgt, B, 500, k == 0, &err) == DANN_OK, "batches");
    }
    if (test_failed_now()) return;
    CHECK(dann_model_input_is_vector(m[0]) == 2 && bs[0].sparse && !bs[1].sparse,
          "the network should take sparse batches");
    int32_t idx_s[16], idx_t[16], ys[2][16];
    float loss[2][3] = {{0}};
    for (int step = 0; step < 24; step++) {
        for (int b = 0; b < B; b++) {
            idx_s[b] = (step * B + b * 5) % src.n;
            idx_t[b] = (step * B + b * 7 + 3) % tgt.n;
        }
        for (int k = 0; k < 2; k++) {
            data_batch_gather(&bs[k], ys[k], &src, idx_s, B);
            data_batch_gather(&bt[k], NULL, &tgt, idx_t, B);
            dann_step_stats st;
            CHECK(dann_train_step_input(t[k], &bs[k].in, ys[k], &bt[k].in, NULL, step / 24.0, &st,
                                        &err) == DANN_OK, "step %d: %s", step, err.msg);
            loss[k][0] = st.loss_class, loss[k][1] = st.loss_domain_src, loss[k][2] = st.loss_domain_tgt;
        }
        CHECK(!memcmp(ys[0], ys[1], sizeof ys[0]), "labels differ");
    }
    /* The sparse product adds the same terms as the dense one, minus the zero ones, in another
     * order: equal up to float rounding. */
    size_t n0, n1;
    const float *p0 = dann_model_params(m[0], &n0), *p1 = dann_model_params(m[1], &n1);
    CHECK(n0 == n1, "parameter counts");
    float *init = malloc(sizeof(float) * n0);
    dann_model *fresh;
    CHECK(dann_model_new(&fresh, NET, 7, B, &err) == DANN_OK, "%s", err.msg);
    memcpy(init, dann_model_params(fresh, &n1), sizeof(float) * n0);
    double moved = 0;
    for (size_t i = 0; i < n0; i++) moved += fabs((double)p1[i] - init[i]);
    CHECK(moved / (double)n0 > 1e-3, "the parameters hardly moved (mean |change| %g)", moved / (double)n0);
    CHECK_CLOSE("parameters after 24 steps, sparse vs dense", p0, p1, n0, 1e-6, 1e-4);
    CHECK_CLOSE("last step's losses", loss[0], loss[1], 3, 1e-6, 1e-5);
    /* Evaluation takes the sparse path for m[0] (model_evaluate) and the dense one for m[1]. */
    int32_t *pr[2] = {malloc(sizeof(int32_t) * (size_t)src.n), malloc(sizeof(int32_t) * (size_t)src.n)};
    eval_result er[2];
    for (int k = 0; k < 2; k++) {
        if (k == 1) {  /* a dense copy of the data: what a dense-only reader would give */
            float *x = malloc(sizeof(float) * (size_t)src.n * 500), *lp = malloc(sizeof(float) * (size_t)src.n * 3);
            int32_t *all = malloc(sizeof(int32_t) * (size_t)src.n), ok = 0;
            for (int i = 0; i < src.n; i++) all[i] = i;
            dataset_gather(x, NULL, &src, all, src.n, 500);
            dann_model_predict(m[1], x, src.n, lp);
            for (int i = 0; i < src.n; i++) {
                int best = 0;
                for (int c = 1; c < 3; c++)
                    if (lp[i * 3 + c] > lp[i * 3 + best]) best = c;
                pr[1][i] = best;
                ok += best == src.y[i];
            }
            er[1].n = src.n, er[1].correct = ok;
            free(x), free(lp), free(all);
        } else {
            CHECK(model_evaluate(m[0], &src, 0, NULL, pr[0], &er[0], &err) == DANN_OK, "%s", err.msg);
        }
    }
    int same = 0;
    for (int i = 0; i < src.n; i++) same += pr[0][i] == pr[1][i];
    CHECK(same == src.n && er[0].correct == er[1].correct,
          "predictions: %d of %d equal; correct %lld vs %lld", same, src.n,
          (long long)er[0].correct, (long long)er[1].correct);
    free(pr[0]), free(pr[1]), free(init);
    dann_model_free(fresh);
    for (int k = 0; k < 2; k++) {
        data_batch_free(&bs[k]), data_batch_free(&bt[k]);
        dann_trainer_free(t[k]);
        dann_model_free(m[k]);
    }
    dataset_free(&src);
    dataset_free(&tgt);
}
