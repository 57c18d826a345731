/* cmd_demo_moons.c - `dann demo moons`: the inter-twinning moons toy of Ganin et al., JMLR 2016,
 * section 5.1.1 and Figure 2, on the library's `shallow` network (one hidden layer of 15 sigmoid
 * units; a 2-way class head and a 2-way domain head on it).
 *
 * Data: two half-moons as scikit-learn's make_moons draws them (the upper moon class 0, the
 * lower class 1; Gaussian noise of MOONS_NOISE, which the paper does not state), 150 points per
 * moon for the labelled source; the target is a fresh draw of the same 300 points rotated by 35
 * degrees about the source's centre (its labels are used only to score). Training: Algorithm 1's
 * per-example SGD - each step one random source and one random target example - with a constant
 * learning rate and a constant lambda: 6 for DANN, 0 for the plain network (NN). With lambda 0
 * the features get no reversed gradient but the domain head still learns on them, so NN's
 * domain boundary can be drawn too. (The library's gradient reversal layer updates the domain
 * head with its own gradient at the full learning rate; Algorithm 1 scales that update by lambda
 * as well.) The schedule's lambda_p = 2/(1 + exp(-gamma p)) - 1 is held at 1 by a huge gamma.
 *
 * The picture (one PNG): for NN and for DANN, the label classifier's decision boundary with the
 * source (by class) and target points, the domain classifier's boundary with the points by
 * domain, and a PCA of the hidden layer. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "cli/args.h"
#include "cli/cli.h"
#include "core/core.h"
#include "viz/dimred.h"
#include "viz/plot.h"

#define MOONS_PER 150
#define MOONS_N (2 * MOONS_PER)
#define MOONS_NOISE 0.05
#define MOONS_ANGLE 35.0
#define MOONS_LAMBDA 6.0
#define MOONS_LR 0.1
#define MOONS_STEPS 100000
#define GRID_W 200
#define GRID_H 150

static void usage(FILE *f) {
    fprintf(f,
            "usage: dann demo moons [--out FILE.png] [--seed S] [--steps N] [--lambda L] [--lr X]\n"
            "\n"
            "The JMLR paper's inter-twinning moons (section 5.1.1): a shallow network (15 sigmoid\n"
            "hidden units) trained by per-example SGD on 300 labelled source points and 300\n"
            "unlabelled target points (the same moons rotated by %g degrees), once without\n"
            "adaptation (lambda 0, NN) and once with DANN (lambda %g). Draws the label and domain\n"
            "decision boundaries and a PCA of the hidden layer for both.\n"
            "\n"
            "  --out FILE.png   the picture (default moons.png)\n"
            "  --seed S         data, initialisation and example order (default 1)\n"
            "  --steps N        SGD steps, one source + one target example each (default %d)\n"
            "  --lambda L       DANN's constant lambda (default %g)\n"
            "  --lr X           learning rate (default %g)\n",
            MOONS_ANGLE, MOONS_LAMBDA, MOONS_STEPS, MOONS_LAMBDA, MOONS_LR);
}

static double gauss(dann_rng *r) {
    double u = 1 - rng_uniform(r), v = rng_uniform(r);
    return sqrt(-2 * log(u)) * cos(2 * M_PI * v);
}

/* make_moons(n_samples = MOONS_N, noise): x (MOONS_N, 2), labels y. */
static void moons(float *x, int32_t *y, dann_rng *r) {
    for (int i = 0; i < MOONS_N; i++) {
        int lower = i >= MOONS_PER, k = i % MOONS_PER;
        double t = M_PI * k / (MOONS_PER - 1);
        double px = lower ? 1 - cos(t) : cos(t), py = lower ? 0.5 - sin(t) : sin(t);
        x[2 * i] = (float)(px + MOONS_NOISE * gauss(r));
        x[2 * i + 1] = (float)(py + MOONS_NOISE * gauss(r));
        y[i] = lower;
    }
}

typedef struct {
    dann_model *m;
    double src_acc, tgt_acc;
    float *label_p, *domain_p;   /* (GRID_H, GRID_W): P(class 1), P(target) */
    float *hid_pca;              /* (2 * MOONS_N, 2): source then target */
} moons_run;

/* P(target) from the domain head, read from the model's tensors: the shallow network's domain
 * head is one fc(2) on the features. feat (B, F) -> p (B). Returns -1 when the head is not. */
static int domain_prob(dann_model *m, const float *feat, int B, float *p) {
    size_t np;
    const float *params = dann_model_params(m, &np);
    const float *W = NULL, *b = NULL;
    int F = dann_model_feature_dim(m), heads = 0;
    for (int i = 0, n = dann_model_tensors(m, -1, NULL); i < n; i++) {
        dann_tensor_info t;
        dann_model_tensors(m, i, &t);
        if (strncmp(t.name, "domain_classifier.", 18)) continue;
        heads++;
        if (!strcmp(t.name, "domain_classifier.d_fc1.weight") && t.numel == (size_t)2 * F) W = params + t.offset;
        if (!strcmp(t.name, "domain_classifier.d_fc1.bias") && t.numel == 2) b = params + t.offset;
    }
    if (!W || !b || heads != 2) return -1;
    for (int i = 0; i < B; i++) {
        double z[2];
        for (int k = 0; k < 2; k++) {
            z[k] = b[k];
            for (int j = 0; j < F; j++) z[k] += (double)W[k * F + j] * feat[(size_t)i * F + j];
        }
        p[i] = (float)(1 / (1 + exp(z[0] - z[1])));
    }
    return 0;
}

static double accuracy(dann_model *m, const float *x, const int32_t *y, int n, float *logp) {
    dann_model_predict(m, x, n, logp);
    int ok = 0;
    for (int i = 0; i < n; i++) ok += (logp[2 * i + 1] > logp[2 * i]) == (y[i] == 1);
    return (double)ok / n;
}

static dann_status train_one(moons_run *R, double lambda, const float *xs, const int32_t *ys,
                             const float *xt, const int32_t *yt, const float *grid, uint64_t seed,
                             long steps, double lr, dann_error *err) {
    dann_train_config cfg;
    dann_status st;
    if ((st = dann_train_config_preset(&cfg, "paper", err))) return st;
    cfg.mode = DANN_MODE_DANN;
    cfg.optimizer = DANN_OPT_SGD;
    cfg.momentum = 0;
    cfg.lr = lr;
    cfg.lr_schedule = 0;
    cfg.gamma = 1e12;          /* lambda_p = 1 from the first step on: a constant lambda */
    cfg.lambda_max = lambda;
    if ((st = dann_model_new(&R->m, "shallow", seed, GRID_W * GRID_H, err))) return st;
    dann_trainer *t = NULL;
    if ((st = dann_trainer_new(&t, R->m, &cfg, seed + 1, err))) return st;
    dann_rng rng;
    rng_seed(&rng, seed + 2);
    for (long s = 0; s < steps && !st; s++) {
        int i = (int)rng_below(&rng, MOONS_N), j = (int)rng_below(&rng, MOONS_N);
        st = dann_train_step(t, xs + 2 * i, ys + i, 1, xt + 2 * j, NULL, 1,
                             (double)(s + 1) / steps, NULL, err);
    }
    dann_trainer_free(t);
    if (st) return st;
    int G = GRID_W * GRID_H, F = dann_model_feature_dim(R->m);
    float *logp = malloc(sizeof(float) * 2 * G), *feat = malloc(sizeof(float) * (size_t)G * F);
    R->label_p = malloc(sizeof(float) * G);
    R->domain_p = malloc(sizeof(float) * G);
    R->hid_pca = malloc(sizeof(float) * 4 * MOONS_N);
    float *hid = malloc(sizeof(float) * 2 * MOONS_N * F);
    if (!logp || !feat || !R->label_p || !R->domain_p || !R->hid_pca || !hid) {
        st = dann_fail(err, DANN_ERR_NOMEM, "out of memory");
        goto done;
    }
    R->src_acc = accuracy(R->m, xs, ys, MOONS_N, logp);
    R->tgt_acc = accuracy(R->m, xt, yt, MOONS_N, logp);
    dann_model_predict(R->m, grid, G, logp);
    for (int g = 0; g < G; g++) R->label_p[g] = expf(logp[2 * g + 1]);
    dann_model_features(R->m, grid, G, feat);
    if (domain_prob(R->m, feat, G, R->domain_p)) {
        st = dann_fail(err, DANN_ERR_ARG, "shallow: the domain head is not a single fc(2)");
        goto done;
    }
    dann_model_features(R->m, xs, MOONS_N, hid);
    dann_model_features(R->m, xt, MOONS_N, hid + (size_t)MOONS_N * F);
    st = pca_fit(R->hid_pca, NULL, NULL, hid, 2 * MOONS_N, F, 2, err);
done:
    free(logp), free(feat), free(hid);
    return st;
}

/* Points of one set by class (markers) in colours c0 / c1 (palette; negative: grey). */
static void draw_points(plot_axes *ax, const float *x, const int32_t *y, int n, int c0, int c1,
                        int marker0, int marker1, double alpha) {
    float px[MOONS_N], py[MOONS_N];
    for (int k = 0; k < 2; k++) {
        int m = 0;
        for (int i = 0; i < n; i++)
            if ((y ? y[i] : 0) == k) px[m] = x[2 * i], py[m++] = x[2 * i + 1];
        plot_points(ax, px, py, m, (plot_style){.color = k ? c1 : c0, .marker = k ? marker1 : marker0,
                                                .size = 6, .alpha = alpha});
    }
}

static void draw_row(plot_canvas *c, int row, const char *name, const moons_run *R,
                     const float *xs, const int32_t *ys, const float *xt, plot_range xr,
                     plot_range yr) {
    char t[128];
    plot_axes ax;
    plot_axes_opts o = {.title = t, .equal = 1};
    /* label classifier: P(class 1) field, source by class, target as grey crosses */
    snprintf(t, sizeof t, "%s: label classifier (target accuracy %.1f %%)", name, 100 * R->tgt_acc);
    plot_axes_begin(&ax, c, plot_canvas_cell(c, 2, 3, row * 3), &o, xr, yr);
    plot_field(&ax, R->label_p, GRID_W, GRID_H, 0, 1, 0.35, 1);
    float tx[MOONS_N], ty[MOONS_N];
    for (int i = 0; i < MOONS_N; i++) tx[i] = xt[2 * i], ty[i] = xt[2 * i + 1];
    plot_points(&ax, tx, ty, MOONS_N, (plot_style){.color = -1, .marker = PLOT_CROSS, .size = 6, .alpha = 0.7});
    draw_points(&ax, xs, ys, MOONS_N, 0, 1, PLOT_CIRCLE, PLOT_SQUARE, 0.85);
    plot_legend_add(&ax, "source, class 0", (plot_style){.color = 0, .marker = PLOT_CIRCLE, .size = 7}, 0);
    plot_legend_add(&ax, "source, class 1", (plot_style){.color = 1, .marker = PLOT_SQUARE, .size = 7}, 0);
    plot_legend_add(&ax, "target (unlabelled)", (plot_style){.color = -1, .marker = PLOT_CROSS, .size = 7}, 0);
    plot_axes_end(&ax);
    /* domain classifier: P(target) field, points by domain */
    snprintf(t, sizeof t, "%s: domain classifier", name);
    plot_axes_begin(&ax, c, plot_canvas_cell(c, 2, 3, row * 3 + 1), &o, xr, yr);
    plot_field(&ax, R->domain_p, GRID_W, GRID_H, 2, 3, 0.35, 1);
    draw_points(&ax, xs, NULL, MOONS_N, 2, 2, PLOT_CIRCLE, PLOT_CIRCLE, 0.8);
    draw_points(&ax, xt, NULL, MOONS_N, 3, 3, PLOT_TRIANGLE, PLOT_TRIANGLE, 0.8);
    plot_legend_add(&ax, "source", (plot_style){.color = 2, .marker = PLOT_CIRCLE, .size = 7}, 0);
    plot_legend_add(&ax, "target", (plot_style){.color = 3, .marker = PLOT_TRIANGLE, .size = 7}, 0);
    plot_axes_end(&ax);
    /* PCA of the hidden layer: source by class, target grey */
    snprintf(t, sizeof t, "%s: hidden layer (PCA)", name);
    plot_range pr = PLOT_RANGE_EMPTY, qr = PLOT_RANGE_EMPTY;
    float hx[2 * MOONS_N], hy[2 * MOONS_N];
    for (int i = 0; i < 2 * MOONS_N; i++) hx[i] = R->hid_pca[2 * i], hy[i] = R->hid_pca[2 * i + 1];
    plot_range_addf(&pr, hx, 2 * MOONS_N, 0);
    plot_range_addf(&qr, hy, 2 * MOONS_N, 0);
    plot_axes_opts po = {.title = t, .no_ticks = 1};
    plot_axes_begin(&ax, c, plot_canvas_cell(c, 2, 3, row * 3 + 2), &po, pr, qr);
    plot_points(&ax, hx + MOONS_N, hy + MOONS_N, MOONS_N,
                (plot_style){.color = -1, .marker = PLOT_CROSS, .size = 6, .alpha = 0.7});
    draw_points(&ax, R->hid_pca, ys, MOONS_N, 0, 1, PLOT_CIRCLE, PLOT_SQUARE, 0.85);
    plot_axes_end(&ax);
}

int cmd_demo_moons(int argc, char **argv) {
    const char *out = "moons.png";
    uint64_t seed = 1;
    int steps = MOONS_STEPS;
    double lambda = MOONS_LAMBDA, lr = MOONS_LR;
    args_parser ap;
    args_init(&ap, "demo moons", argc, argv);
    while (args_next(&ap)) {
        if (args_is(&ap, "--out")) args_str(&ap, &out);
        else if (args_is(&ap, "--seed")) args_u64(&ap, &seed);
        else if (args_is(&ap, "--steps")) args_int(&ap, 1, 100000000, &steps);
        else if (args_is(&ap, "--lambda")) args_double(&ap, 0, 1000, &lambda);
        else if (args_is(&ap, "--lr")) args_double(&ap, 1e-9, 100, &lr);
        else if (args_is(&ap, "--help") || args_is(&ap, "-h")) {
            usage(stdout);
            return 0;
        } else args_unknown(&ap);
        if (ap.failed) return 2;
    }
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    dann_threads_set(1);
    float xs[2 * MOONS_N], xt[2 * MOONS_N];
    int32_t ys[MOONS_N], yt[MOONS_N];
    dann_rng rng;
    rng_seed(&rng, seed);
    moons(xs, ys, &rng);
    moons(xt, yt, &rng);
    double cx = 0, cy = 0, a = MOONS_ANGLE * M_PI / 180;
    for (int i = 0; i < MOONS_N; i++) cx += xs[2 * i] / MOONS_N, cy += xs[2 * i + 1] / MOONS_N;
    for (int i = 0; i < MOONS_N; i++) {
        double dx = xt[2 * i] - cx, dy = xt[2 * i + 1] - cy;
        xt[2 * i] = (float)(cx + cos(a) * dx - sin(a) * dy);
        xt[2 * i + 1] = (float)(cy + sin(a) * dx + cos(a) * dy);
    }
    plot_range xr = PLOT_RANGE_EMPTY, yr = PLOT_RANGE_EMPTY;
    for (int i = 0; i < MOONS_N; i++) {
        plot_range_addf(&xr, &xs[2 * i], 1, 0), plot_range_addf(&xr, &xt[2 * i], 1, 0);
        plot_range_addf(&yr, &xs[2 * i + 1], 1, 0), plot_range_addf(&yr, &xt[2 * i + 1], 1, 0);
    }
    double mx = 0.15 * (xr.hi - xr.lo), my = 0.15 * (yr.hi - yr.lo);
    xr.lo -= mx, xr.hi += mx, yr.lo -= my, yr.hi += my;
    dann_error err = {0};
    moons_run R[2] = {{0}};
    plot_canvas *c = NULL;
    float *grid = NULL;
    int rc = 1;
    if (plot_canvas_new(&c, 1500, 960, &err)) goto done;
    char title[160];
    snprintf(title, sizeof title, "Inter-twinning moons: target rotated %g degrees; NN (lambda 0) "
             "and DANN (lambda %g), 15 sigmoid hidden units", MOONS_ANGLE, lambda);
    plot_canvas_title(c, title);
    /* the fields are evaluated on a grid over exactly the range the panels will show */
    plot_axes lay;
    plot_axes_opts lo = {.title = "", .equal = 1};
    plot_axes_layout(&lay, c, plot_canvas_cell(c, 2, 3, 0), &lo, xr, yr);
    if (!(grid = malloc(sizeof(float) * 2 * GRID_W * GRID_H))) {
        dann_fail(&err, DANN_ERR_NOMEM, "out of memory");
        goto done;
    }
    for (int j = 0; j < GRID_H; j++)
        for (int i = 0; i < GRID_W; i++) {
            grid[2 * (j * GRID_W + i)] = (float)(lay.x0 + (i + 0.5) / GRID_W * (lay.x1 - lay.x0));
            grid[2 * (j * GRID_W + i) + 1] = (float)(lay.y0 + (j + 0.5) / GRID_H * (lay.y1 - lay.y0));
        }
    for (int k = 0; k < 2; k++)
        if (train_one(&R[k], k ? lambda : 0, xs, ys, xt, yt, grid, seed, steps, lr, &err)) goto done;
    draw_row(c, 0, "NN", &R[0], xs, ys, xt, xr, yr);
    draw_row(c, 1, "DANN", &R[1], xs, ys, xt, xr, yr);
    if (plot_canvas_save(c, out, &err)) goto done;
    clock_gettime(CLOCK_MONOTONIC, &t1);
    printf("                      NN (lambda 0)   DANN (lambda %g)\n", lambda);
    printf("  target accuracy         %5.1f %%         %5.1f %%\n", 100 * R[0].tgt_acc, 100 * R[1].tgt_acc);
    printf("  source accuracy         %5.1f %%         %5.1f %%\n", 100 * R[0].src_acc, 100 * R[1].src_acc);
    printf("wrote %s (%d SGD steps per run, %.1f s)\n", out, steps,
           (double)(t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) * 1e-9);
    rc = 0;
done:
    if (rc) args_fail("demo moons", &err);
    for (int k = 0; k < 2; k++) {
        dann_model_free(R[k].m);
        free(R[k].label_p), free(R[k].domain_p), free(R[k].hid_pca);
    }
    free(grid);
    plot_canvas_free(c);
    return rc;
}
