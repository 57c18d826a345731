/* train_custom.c - libdann through its public header alone: a network of your own, written as a
 * description string, trained with DANN on small generated data, then scored.
 *
 * The data (made here, no files): points in the plane, two classes drawn around (-1,-1) and
 * (1,1) with standard deviation 0.5. The target domain is the same draw moved down by 2.5 along
 * the second coordinate, so that a classifier fitted to the source alone puts much of the
 * target's class 1 on the wrong side; the first coordinate still separates the classes in both
 * domains. Target labels are used only to score.
 *
 * The program trains the same network twice from the same initialisation: source-only (no
 * adaptation) and DANN (a gradient reversal layer in front of a domain classifier pushes the
 * features to look the same in both domains), and prints for each the accuracy on held-out
 * source and target points and, for DANN, the domain classifier's accuracy over the last 100
 * steps (0.5 = it cannot tell the domains apart).
 *
 *   build:  cc train_custom.c $(pkg-config --cflags --libs dann) -o train_custom
 *   run:    ./train_custom [SEED]
 *
 * Every library call that can fail returns a dann_status with a one-line message in err.msg. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <dann.h>

/* The network: a two-layer feature extractor on 2 numbers, a linear class head with 2 outputs
 * and a two-layer domain head (the gradient reversal layer in front of it is implied). */
static const char *const NET = "in 2; features: fc(16) relu fc(16) relu; class: fc(2); "
                               "domain: fc(16) relu fc(2)";

enum { D = 2, N_TRAIN = 1024, N_TEST = 512, BATCH = 32, STEPS = 1000 };
#define SHIFT 2.5

/* xorshift64*: the data's own RNG (the library draws from the seeds it is given). */
static uint64_t rnd_state;
static double rnd(void) {
    rnd_state ^= rnd_state >> 12, rnd_state ^= rnd_state << 25, rnd_state ^= rnd_state >> 27;
    return (double)((rnd_state * 2685821657736338717ull) >> 11) / 9007199254740992.0;
}
static double gauss(void) {  /* sum of 12 uniforms - 6: mean 0, variance 1, within +-6 */
    double s = -6;
    for (int i = 0; i < 12; i++) s += rnd();
    return s;
}

/* n points x (n, 2) with labels y; target = 1 moves them down by SHIFT. */
static void make_points(float *x, int32_t *y, int n, int target) {
    for (int i = 0; i < n; i++) {
        y[i] = rnd() < 0.5;
        const double centre = y[i] ? 1 : -1;
        x[D * i] = (float)(centre + 0.5 * gauss());
        x[D * i + 1] = (float)(centre + 0.5 * gauss() - (target ? SHIFT : 0));
    }
}

/* Fraction of the n points x that the model (eval mode) labels y. */
static double accuracy(dann_model *m, const float *x, const int32_t *y, int n) {
    static float logp[2 * N_TEST];
    dann_model_predict(m, x, n, logp);
    int correct = 0;
    for (int i = 0; i < n; i++) correct += (logp[2 * i + 1] > logp[2 * i]) == y[i];
    return (double)correct / n;
}

static float xs[N_TRAIN * D], xt[N_TRAIN * D], xs_test[N_TEST * D], xt_test[N_TEST * D];
static int32_t ys[N_TRAIN], yt[N_TRAIN], ys_test[N_TEST], yt_test[N_TEST];

/* Trains NET from initialisation seed `seed` in `mode`; prints one line of results. */
static int run(const char *name, dann_mode mode, uint64_t seed) {
    dann_error err = {0};
    dann_model *m = NULL;
    dann_trainer *t = NULL;
    dann_train_config cfg;
    int rc = 1;
    if (dann_model_new(&m, NET, seed, BATCH, &err) ||
        dann_train_config_preset(&cfg, "py3", &err))  /* Adam; lambda_p ramps from 0 to 1 */
        goto out;
    cfg.mode = mode;
    cfg.lr = 3e-3;
    if (dann_trainer_new(&t, m, &cfg, seed + 1, &err)) goto out;
    int dom_correct = 0, dom_total = 0;
    for (int step = 0; step < STEPS; step++) {
        /* batches cycle through the training sets; p, the progress in [0, 1], drives lambda_p */
        const int off = (step * BATCH) % N_TRAIN;
        dann_step_stats st;
        if (dann_train_step(t, xs + D * off, ys + off, BATCH, xt + D * off, NULL, BATCH,
                            (double)step / STEPS, &st, &err))
            goto out;
        if (step >= STEPS - 100) dom_correct += st.domain_correct, dom_total += st.domain_total;
    }
    printf("%-12s source accuracy %.3f  target accuracy %.3f", name,
           accuracy(m, xs_test, ys_test, N_TEST), accuracy(m, xt_test, yt_test, N_TEST));
    if (dom_total) printf("  domain accuracy %.3f", (double)dom_correct / dom_total);
    printf("\n");
    rc = 0;
out:
    if (rc) fprintf(stderr, "train_custom: %s: %s\n", name, err.msg);
    dann_trainer_free(t);
    dann_model_free(m);
    return rc;
}

int main(int argc, char **argv) {
    const uint64_t seed = argc > 1 ? strtoull(argv[1], NULL, 10) : 1;

    /* The library found at run time must have this header's ABI (the same major version). */
    const char *lib_version;
    const int v = dann_version(&lib_version);
    printf("libdann %s (header %s)\n", lib_version, DANN_VERSION_STRING);
    if (v / 10000 != DANN_VERSION_MAJOR) {
        fprintf(stderr, "train_custom: libdann %s does not match the header's major version %d\n",
                lib_version, DANN_VERSION_MAJOR);
        return 1;
    }

    /* A description that does not compile is refused with a message naming the layer. */
    dann_error err = {0};
    dann_model *m = NULL;
    if (dann_model_new(&m, "in 2; features: fc(16); class: fc(2); domain: fc(3)", 1, 1, &err) ==
        DANN_OK) {
        fprintf(stderr, "train_custom: a domain head of 3 outputs was accepted\n");
        dann_model_free(m);
        return 1;
    }
    printf("refused: %s\n", err.msg);

    if (dann_model_new(&m, NET, seed, BATCH, &err)) {
        fprintf(stderr, "train_custom: %s\n", err.msg);
        return 1;
    }
    int c, h, w, classes;
    size_t n_params;
    dann_model_shape(m, &c, &h, &w, &classes);
    dann_model_params(m, &n_params);
    printf("network: %s\n", dann_model_description(m));
    printf("input %d numbers, %d classes, %zu parameters, %d features\n", c, classes, n_params,
           dann_model_feature_dim(m));
    dann_model_free(m);

    rnd_state = 0x9E3779B97F4A7C15ull ^ seed;
    make_points(xs, ys, N_TRAIN, 0);
    make_points(xt, yt, N_TRAIN, 1);
    make_points(xs_test, ys_test, N_TEST, 0);
    make_points(xt_test, yt_test, N_TEST, 1);
    dann_threads_set(1);  /* a network this small gains nothing from threads */
    if (run("source-only", DANN_MODE_SOURCE_ONLY, seed) || run("dann", DANN_MODE_DANN, seed))
        return 1;
    return 0;
}
