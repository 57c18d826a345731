/* test_schedule_run.c - the schedule values a real multi-epoch `dann train` run used, against
 * the formulas (docs/RECIPES.md): progress p = (i + e S) / (E S) for step i of epoch e (S steps
 * an epoch, E epochs), lambda_p = 2 / (1 + exp(-10 p)) - 1 and mu_p = mu0 / (1 + 10 p)^0.75.
 * metrics.jsonl records each epoch's last step's lambda and lr, so p = (S - 1 + e S) / (E S)
 * there. The run is also interrupted in the middle of epoch 2 and resumed: a p that restarted
 * every epoch, or on a resume, would repeat or shift these values. */
#include <math.h>
#include <stdio.h>
#include <string.h>
#include "cli/json.h"
#include "run_testutil.h"

/* Checks the E lines of metrics.jsonl in run against the formulas. */
static void check_schedule(const char *run, int E, int S, const char *what) {
    FILE *f = fopen(pathf(run, "metrics.jsonl"), "rb");
    CHECK(f != NULL, "%s: no metrics.jsonl", what);
    if (!f) return;
    char line[8192];
    int e = 0;
    while (fgets(line, sizeof line, f) && e < E) {
        double lam = -1, lr = -1, steps = -1;
        json_get_num(line, "lambda", &lam);
        json_get_num(line, "lr", &lr);
        json_get_num(line, "steps", &steps);
        const double p = (double)(S - 1 + e * S) / E / S;
        const double want_lam = 2.0 / (1.0 + exp(-10.0 * p)) - 1.0;
        const double want_lr = 0.01 / pow(1.0 + 10.0 * p, 0.75);
        CHECK(steps == S, "%s: epoch %d has %g steps, want %d", what, e + 1, steps, S);
        CHECK(fabs(lam - want_lam) <= 1e-6, "%s: epoch %d lambda %.9g, formula %.9g (p = %g)", what,
              e + 1, lam, want_lam, p);
        CHECK(fabs(lr - want_lr) <= 1e-6 * want_lr, "%s: epoch %d lr %.9g, formula %.9g (p = %g)",
              what, e + 1, lr, want_lr, p);
        e++;
    }
    fclose(f);
    CHECK(e == E, "%s: %d metrics lines, want %d", what, e, E);
}

TEST(schedule_values_of_a_multi_epoch_run_and_its_resume) {
    char src[4200], tgt[4200];
    if (!dann_bin() || demo_specs(src, tgt, sizeof src)) SKIP("no dann binary or no data/demo");
    const char *dir = test_tmpdir();
    char a[512], b[512];
    snprintf(a, sizeof a, "%s/a", dir);
    snprintf(b, sizeof b, "%s/b", dir);
    /* the paper recipe (lambda_p and mu_p) on py3's network: 3 epochs of 4 steps of 16 + 16 */
    const int E = 3, S = 4;
    const char *args[] = {"train", "--source", src, "--target", tgt, "--preset", "paper", "--arch",
                          "py3", "--epochs", "3", "--batch", "16", "--max-steps", "4",
                          "--eval-max", "20", "--threads", "1", "--quiet", "--out", a, NULL};
    static const run_opts none = {0};
    run_result *r = run_dann_opts(&none, args);
    CHECK(r->rc == 0, "run: exit %d: %s", r->rc, r->err);
    check_schedule(a, E, S, "uninterrupted");
    /* the same run stopped after 6 steps (epoch 2, step 2) and resumed */
    args[21] = b;
    static const char *const stop[] = {"DANN_TEST_STOP_AFTER=6", NULL};
    const run_opts o = {.env = stop};
    r = run_dann_opts(&o, args);
    CHECK(r->rc == 130, "interrupted run: exit %d: %s", r->rc, r->err);
    const char *res[] = {"train", "--resume", pathf(b, "last.ckpt"), "--quiet", NULL};
    r = run_dann_opts(&none, res);
    CHECK(r->rc == 0, "resume: exit %d: %s", r->rc, r->err);
    check_schedule(b, E, S, "resumed");
}
