/* test_torch_optim.c - the optimizers against torch.optim and the schedules against the DANN.md
 * formulas, from tests/fixtures/torch_optim.safetensors (tools/make_fixtures.py): five steps of
 * SGD (momentum 0.9, weight decay 5e-4), plain SGD, Adam and Adam with weight decay and other
 * betas/eps, on one 37-element tensor fed gradients from 1e-6 to O(1).
 * Tolerance 1e-7 + 1e-6|b| on parameters: the updates are the same float operations as torch's,
 * so only libm/rounding differences remain. */
#include <stdlib.h>
#include <string.h>
#include "io/safetensors.h"
#include "optim/optim.h"
#include "test.h"

#define OPTIM_FIXTURE "tests/fixtures/torch_optim.safetensors"
#define N 37

static const float *get(const st_file *f, const char *name, size_t n) {
    const st_tensor *t = st_find(f, name);
    CHECK(t && t->dtype == ST_F32 && t->numel == n, "%s: %s missing or wrong size", OPTIM_FIXTURE, name);
    return t && t->dtype == ST_F32 && t->numel == n ? t->data : NULL;
}

static void run_case(const st_file *f, const char *name, int adam, double lr, double b1, double b2,
                     double eps, double mom, double wd) {
    const float *p0 = get(f, "p0", N), *g = get(f, "grads", 5 * N), *want = get(f, name, 5 * N);
    if (!p0 || !g || !want) return;
    float p[N], m1[N] = {0}, m2[N] = {0};
    memcpy(p, p0, sizeof p);
    double worst = 0;
    for (int t = 1; t <= 5; t++) {
        if (adam) adam_step(p, g + (t - 1) * N, m1, m2, N, lr, b1, b2, eps, wd, t);
        else sgd_step(p, g + (t - 1) * N, m1, N, lr, mom, wd, t);
        char label[64];
        snprintf(label, sizeof label, "%s step %d", name, t);
        double w = CHECK_CLOSE(label, p, want + (t - 1) * N, N, 1e-7, 1e-6);
        worst = w > worst ? w : worst;
    }
    printf("    worst |a-b| %-10s %.3g\n", name, worst);
}

TEST(torch_optim_sgd_and_adam_trajectories) {
    st_file f;
    dann_error err = {0};
    if (st_read(&f, OPTIM_FIXTURE, &err)) {
        CHECK(0, "%s", err.msg);
        return;
    }
    run_case(&f, "sgd", 0, 0.01, 0, 0, 0, 0.9, 5e-4);
    run_case(&f, "sgd_plain", 0, 0.05, 0, 0, 0, 0.0, 0.0);
    run_case(&f, "adam", 1, 1e-3, 0.9, 0.999, 1e-8, 0, 0);
    run_case(&f, "adam_wd", 1, 3e-3, 0.8, 0.99, 1e-6, 0, 1e-2);
    st_free(&f);
}

TEST(schedules_match_formulas) {
    st_file f;
    dann_error err = {0};
    if (st_read(&f, OPTIM_FIXTURE, &err)) {
        CHECK(0, "%s", err.msg);
        return;
    }
    const float *p = get(&f, "sched_p", 6), *lam = get(&f, "sched_lambda", 6), *mu = get(&f, "sched_mu", 6);
    if (p && lam && mu) {
        float got_l[6], got_m[6];
        for (int i = 0; i < 6; i++) {
            got_l[i] = dann_lambda_schedule(p[i], 10.0);
            got_m[i] = dann_lr_schedule(0.01, p[i], 10.0, 0.75);
        }
        CHECK_CLOSE("lambda_p", got_l, lam, 6, 1e-7, 1e-6);
        CHECK_CLOSE("mu_p", got_m, mu, 6, 1e-9, 1e-6);
    }
    // Hand-worked ends: lambda_0 = 0, lambda_1 = 2/(1+e^-10) - 1 = 0.999909; mu_0 = 0.01,
    // mu_1 = 0.01 / 11^0.75 = 0.01 / 6.03977 = 0.0016557.
    CHECK(dann_lambda_schedule(0.0, 10.0) == 0.0f, "lambda_0 = %g", dann_lambda_schedule(0.0, 10.0));
    CHECK(fabsf(dann_lambda_schedule(1.0, 10.0) - 0.999909f) < 1e-6f, "lambda_1 = %g", dann_lambda_schedule(1.0, 10.0));
    CHECK(fabsf(dann_lr_schedule(0.01, 1.0, 10.0, 0.75) - 0.0016557f) < 1e-7f, "mu_1 = %g",
          dann_lr_schedule(0.01, 1.0, 10.0, 0.75));
    st_free(&f);
}
