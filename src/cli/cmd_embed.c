/* cmd_embed.c - `dann embed`: t-SNE (or PCA) of the feature extractor's output for N source and
 * N target examples, one panel per checkpoint side by side (source-only next to DANN, as in the
 * JMLR paper's Figure 5), points coloured by domain and shaped by class. The same examples are
 * embedded for every checkpoint. Prints, per checkpoint, the embedding's time, its KL (t-SNE)
 * and its trustworthiness (k = 5) against the features. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "cli/args.h"
#include "cli/cli.h"
#include "cli/vecfit.h"
#include "io/checkpoint.h"
#include "viz/dimred.h"
#include "viz/plot.h"
#include "viz/samples.h"

#define MAX_MODELS 4
#define PANEL 560

static void usage(FILE *f) {
    fprintf(f,
            "usage: dann embed --model CKPT [--model CKPT2 ...] --source SPEC --target SPEC\n"
            "                  --out FILE.png [options]\n"
            "\n"
            "Embeds the features of each checkpoint (eval mode) for the same N source and N\n"
            "target examples in 2-D and draws them side by side: colour = domain, marker = class.\n"
            "\n"
            "  --model CKPT        a checkpoint (repeat for up to %d, e.g. source-only then DANN)\n"
            "  --label NAME        a panel's name, in --model order (default: the file's folder\n"
            "                      and name)\n"
            "  --source SPEC       source dataset (mnist:DIR, mnistm:PATH, folder:DIR, images:DIR,\n"
            "                      or csv:FILE / svmlight:FILE for a feature-vector model)\n"
            "  --target SPEC       target dataset\n"
            "  --out FILE.png      the picture (written atomically)\n"
            "  --method M          tsne (default), pca, or both (two rows)\n"
            "  --n N               examples drawn per domain (default 500)\n"
            "  --split test|train  which split of mnist:/mnistm: (default test)\n"
            "  --perplexity P      t-SNE perplexity (default 30)\n"
            "  --iters N           t-SNE iterations (default 1000)\n"
            "  --seed S            seed of the draw (default 1)\n"
            "  --title TEXT        the picture's title\n"
            "  --threads T         threads (default 2)\n"
            "  --help              this text\n",
            MAX_MODELS);
}

static double now_s(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec * 1e-9;
}

/* "runs/dann/last.ckpt" -> "dann/last.ckpt" */
static void model_label(char *out, size_t cap, const char *path) {
    const char *end = path + strlen(path), *b = end;
    int slashes = 0;
    while (b > path && !(b[-1] == '/' && ++slashes == 2)) b--;
    snprintf(out, cap, "%s", b);
}

typedef struct {
    const sample_set *S, *T;
    int n_classes;
} embed_data;

/* One panel: the points of each (class, domain) group drawn together, the groups interleaved
 * (class by class, source then target) so that neither domain is painted over the other
 * wholesale. */
static dann_status draw_panel(plot_canvas *c, plot_rect cell, const char *title, const float *Y,
                              const embed_data *e, plot_axes *ax, dann_error *err) {
    int ns = e->S->n, n = ns + e->T->n;
    float *buf = dann_calloc((size_t)n * 4, sizeof *buf, err);
    if (!buf) return DANN_ERR_NOMEM;
    float *px = buf, *py = buf + n, *gx = buf + 2 * n, *gy = buf + 3 * n;
    plot_range xr = PLOT_RANGE_EMPTY, yr = PLOT_RANGE_EMPTY;
    for (int i = 0; i < n; i++) px[i] = Y[2 * i], py[i] = Y[2 * i + 1];
    plot_range_addf(&xr, px, n, 0);
    plot_range_addf(&yr, py, n, 0);
    plot_axes_opts o = {.title = title, .no_ticks = 1, .equal = 1};
    plot_axes_begin(ax, c, cell, &o, xr, yr);
    for (int k = -1; k < e->n_classes; k++)
        for (int dom = 0; dom < 2; dom++) {
            const sample_set *s = dom ? e->T : e->S;
            int off = dom ? ns : 0, g = 0;
            for (int i = 0; i < s->n; i++) {
                int yk = s->y[i] >= 0 && s->y[i] < e->n_classes ? s->y[i] : -1;
                if (yk != k) continue;
                gx[g] = px[off + i];
                gy[g++] = py[off + i];
            }
            plot_style st = {.color = dom, .marker = k < 0 ? PLOT_CIRCLE : k % PLOT_MARKERS,
                             .size = 6, .alpha = 0.6};
            plot_points(ax, gx, gy, g, st);
        }
    free(buf);
    return DANN_OK;
}

int cmd_embed(int argc, char **argv) {
    const char *models[MAX_MODELS], *labels[MAX_MODELS], *src = NULL, *tgt = NULL, *out = NULL;
    const char *title = NULL;
    static const char *const splits[] = {"train", "test", NULL};
    static const char *const methods[] = {"tsne", "pca", "both", NULL};
    int nm = 0, nl = 0, split = 1, method = 0, n = 500, threads = 2, iters = 1000;
    double perplexity = 30;
    uint64_t seed = 1;
    args_parser ap;
    args_init(&ap, "embed", argc, argv);
    while (args_next(&ap)) {
        if (args_is(&ap, "--model") || args_is(&ap, "--label")) {
            int is_model = args_is(&ap, "--model");
            if ((is_model ? nm : nl) == MAX_MODELS)
                return args_usage("embed", "at most %d checkpoints", MAX_MODELS);
            args_str(&ap, is_model ? &models[nm++] : &labels[nl++]);
        } else if (args_is(&ap, "--source")) args_str(&ap, &src);
        else if (args_is(&ap, "--target")) args_str(&ap, &tgt);
        else if (args_is(&ap, "--out")) args_str(&ap, &out);
        else if (args_is(&ap, "--title")) args_str(&ap, &title);
        else if (args_is(&ap, "--method")) args_choice(&ap, methods, &method);
        else if (args_is(&ap, "--n")) args_int(&ap, 2, TSNE_MAX_POINTS / 2, &n);
        else if (args_is(&ap, "--split")) args_choice(&ap, splits, &split);
        else if (args_is(&ap, "--perplexity")) args_double(&ap, 1, 1000, &perplexity);
        else if (args_is(&ap, "--iters")) args_int(&ap, 1, 100000, &iters);
        else if (args_is(&ap, "--seed")) args_u64(&ap, &seed);
        else if (args_is(&ap, "--threads")) args_int(&ap, 1, 1024, &threads);
        else if (args_is(&ap, "--help") || args_is(&ap, "-h")) {
            usage(stdout);
            return 0;
        } else args_unknown(&ap);
        if (ap.failed) return 2;
    }
    if (!nm) return args_usage("embed", "--model CKPT is required (dann embed --help)");
    if (!src || !tgt) return args_usage("embed", "--source SPEC and --target SPEC are required");
    if (!out) return args_usage("embed", "--out FILE.png is required (dann embed --help)");
    if (nl > nm) return args_usage("embed", "%d --label for %d --model", nl, nm);
    threads = args_threads("embed", threads);

    dann_error err = {0};
    dann_model *m[MAX_MODELS] = {0};
    sample_set S = {0}, T = {0};
    float *feat = NULL, *Y = NULL;
    plot_canvas *c = NULL;
    int rc = 1, C = 0, H = 0, W = 0, NC = 0;
    for (int k = 0; k < nm; k++) {
        int c2, h2, w2, nc2;
        if (ckpt_load(models[k], 64, &m[k], NULL, NULL, &err)) goto done;
        dann_model_shape(m[k], &c2, &h2, &w2, &nc2);
        if (k && (c2 != C || h2 != H || w2 != W)) {
            dann_fail(&err, DANN_ERR_ARG, "%s: input %dx%dx%d, but %s takes %dx%dx%d", models[k],
                      c2, h2, w2, models[0], C, H, W);
            goto done;
        }
        C = c2, H = h2, W = w2, NC = nc2;
    }
    const char *specs[2] = {src, tgt};
    if (vecfit_kinds("embed", dann_model_input_is_vector(m[0]), specs, 2,
                     dann_model_description(m[0]))) {
        rc = 2;
        goto done;
    }
    if (sample_load(&S, src, split, n, seed, C, H, W, &err)) goto done;
    if (sample_load(&T, tgt, split, n, seed + 1, C, H, W, &err)) goto done;
    int N = S.n + T.n, rows = method == 2 ? 2 : 1;
    if (method != 1 && !(perplexity < N - 1)) {
        dann_fail(&err, DANN_ERR_ARG, "perplexity %g needs more than %d examples (%d drawn)",
                  perplexity, (int)perplexity + 1, N);
        goto done;
    }
    if (!(Y = malloc(sizeof(float) * (size_t)N * 2))) {
        dann_fail(&err, DANN_ERR_NOMEM, "out of memory");
        goto done;
    }
    if (plot_canvas_new(&c, PANEL * nm + 190, (PANEL - 20) * rows + 40, &err)) goto done;
    char auto_title[256];
    snprintf(auto_title, sizeof auto_title, "%s of the features: %d source + %d target examples",
             method == 0 ? "t-SNE" : method == 1 ? "PCA" : "t-SNE and PCA", S.n, T.n);
    plot_canvas_title(c, title ? title : auto_title);
    embed_data e = {&S, &T, S.ds.n_classes > T.ds.n_classes ? S.ds.n_classes : T.ds.n_classes};
    if (e.n_classes > NC) e.n_classes = NC;
    plot_axes ax = {0};
    for (int k = 0; k < nm; k++) {
        int F = dann_model_feature_dim(m[k]);
        float *fs = NULL, *ft = NULL;
        if (sample_features(&fs, &S, m[k], &err) || sample_features(&ft, &T, m[k], &err)) {
            free(fs);
            goto done;
        }
        free(feat);
        feat = malloc(sizeof(float) * (size_t)N * F);
        if (feat) {
            memcpy(feat, fs, sizeof(float) * (size_t)S.n * F);
            memcpy(feat + (size_t)S.n * F, ft, sizeof(float) * (size_t)T.n * F);
        }
        free(fs);
        free(ft);
        if (!feat) {
            dann_fail(&err, DANN_ERR_NOMEM, "out of memory");
            goto done;
        }
        char name[128], ptitle[200];
        if (k < nl) snprintf(name, sizeof name, "%s", labels[k]);
        else model_label(name, sizeof name, models[k]);
        for (int r = 0; r < rows; r++) {
            int use_pca = method == 1 || r == 1;
            double t0 = now_s();
            tsne_stats ts = {0};
            if (use_pca) {
                if (pca_fit(Y, NULL, NULL, feat, N, F, 2, &err)) goto done;
            } else {
                tsne_opts o;
                tsne_opts_default(&o);
                o.perplexity = perplexity;
                o.iters = iters;
                o.seed = seed;
                if (tsne_run(Y, feat, N, F, &o, &ts, &err)) goto done;
            }
            double secs = now_s() - t0, tw = trustworthiness(feat, F, Y, 2, N, 5);
            printf("%-24s %s of %d points (%d-d features) in %.1f s", name, use_pca ? "PCA  " : "t-SNE",
                   N, F, secs);
            if (!use_pca) printf(", KL %.4f", ts.kl);
            printf(", trustworthiness (k=5) %.4f\n", tw);
            snprintf(ptitle, sizeof ptitle, "%s%s", name, rows == 2 ? (use_pca ? " (PCA)" : " (t-SNE)") : "");
            plot_rect cell = {k * PANEL, plot_canvas_top(c) + r * (PANEL - 20), PANEL, PANEL - 20};
            if (draw_panel(c, cell, ptitle, Y, &e, &ax, &err)) goto done;
        }
    }
    /* the legend, once, in the strip right of the panels */
    char lab[96];
    snprintf(lab, sizeof lab, "source (%s)", S.ds.name);
    plot_legend_add(&ax, lab, (plot_style){.color = 0, .marker = PLOT_CIRCLE, .size = 8}, 0);
    snprintf(lab, sizeof lab, "target (%s)", T.ds.name);
    plot_legend_add(&ax, lab, (plot_style){.color = 1, .marker = PLOT_CIRCLE, .size = 8}, 0);
    for (int k = 0; k < e.n_classes && k < PLOT_MAX_LEGEND - 2; k++) {
        snprintf(lab, sizeof lab, "class %d", k);
        plot_legend_add(&ax, lab, (plot_style){.color = -1, .marker = k % PLOT_MARKERS, .size = 8}, 0);
    }
    plot_legend_at(&ax, PANEL * nm + 4, plot_canvas_top(c) + 30);
    if (plot_canvas_save(c, out, &err)) goto done;
    printf("wrote %s\n", out);
    rc = 0;
done:
    if (rc == 1) args_fail("embed", &err);
    free(feat);
    free(Y);
    plot_canvas_free(c);
    sample_free(&S);
    sample_free(&T);
    for (int k = 0; k < nm; k++) dann_model_free(m[k]);
    return rc;
}
