/* test_train.c - end-to-end sanity of the training step on a synthetic, learnable problem:
 * class k is a bright 6x6 square at a position that depends on k, plus noise. A working model,
 * loss and optimizer must drive the class loss well below chance (ln 10 = 2.30) in a few steps;
 * a broken gradient sign, a wrong loss or a frozen optimizer cannot. */
#include <stdlib.h>
#include <string.h>
#include "dann.h"
#include "test.h"

static void make_batch(float *x, int32_t *y, int B, uint32_t seed, float shift) {
    uint32_t s = seed * 2654435761u + 1;
    for (int b = 0; b < B; b++) {
        int k = b % 10;
        y[b] = k;
        int r0 = 2 + (k / 5) * 12, c0 = 2 + (k % 5) * 5;
        for (int c = 0; c < 3; c++)
            for (int i = 0; i < 28; i++)
                for (int j = 0; j < 28; j++) {
                    s = s * 1664525u + 1013904223u;
                    float noise = ((float)(s >> 8) / 16777216.0f - 0.5f) * 0.5f;
                    int on = i >= r0 && i < r0 + 6 && j >= c0 && j < c0 + 6;
                    x[((size_t)(b * 3 + c) * 28 + i) * 28 + j] = (on ? 2.0f : -0.5f) + noise + shift;
                }
    }
}

TEST(train_dann_step_learns_synthetic_classes) {
    dann_error err = {0};
    dann_model *m;
    dann_trainer *t;
    dann_train_config cfg;
    const int B = 32;
    CHECK(dann_model_new(&m, "py3", 1, B, &err) == DANN_OK, "model: %s", err.msg);
    CHECK(dann_train_config_preset(&cfg, "py3", &err) == DANN_OK, "preset: %s", err.msg);
    CHECK(dann_trainer_new(&t, m, &cfg, 2, &err) == DANN_OK, "trainer: %s", err.msg);
    float *xs = malloc(sizeof(float) * B * 3 * 784), *xt = malloc(sizeof(float) * B * 3 * 784);
    int32_t ys[32], yt[32];
    float first = 0, last = 0;
    for (int step = 0; step < 30; step++) {
        dann_step_stats st;
        make_batch(xs, ys, B, (uint32_t)step, 0.0f);
        make_batch(xt, yt, B, (uint32_t)step + 1000, 0.3f);
        CHECK(dann_train_step(t, xs, ys, B, xt, NULL, B, step / 30.0, &st, &err) == DANN_OK,
              "step: %s", err.msg);
        if (step == 0) first = st.loss_class;
        last = st.loss_class;
        CHECK(st.domain_total == 2 * B, "domain_total %d", st.domain_total);
    }
    CHECK(first > 1.8f && first < 3.5f, "initial class loss %g should be near ln 10", first);
    // PyTorch running the same task and loop reaches 0.68 at step 30 (measured once); chance is 2.30.
    CHECK(last < 1.0f, "class loss after 30 steps %g (from %g) should fall below 1.0", last, first);
    // Eval forward on fresh images must classify them.
    float logp[32 * 10];
    make_batch(xs, ys, B, 777, 0.0f);
    dann_model_predict(m, xs, B, logp);
    int correct = 0;
    for (int b = 0; b < B; b++) {
        int best = 0;
        for (int c = 1; c < 10; c++)
            if (logp[b * 10 + c] > logp[b * 10 + best]) best = c;
        correct += best == ys[b];
    }
    printf("    eval accuracy %d/32\n", correct);
    CHECK(correct >= 24, "eval accuracy %d/32 on the synthetic task", correct);
    CHECK(dann_trainer_steps(t) == 30, "steps %lld", (long long)dann_trainer_steps(t));
    free(xs);
    free(xt);
    dann_trainer_free(t);
    dann_model_free(m);
}
