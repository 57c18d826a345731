/* cmd_plot.c - `dann plot RUN_DIR [RUN_DIR...] --out FILE.png`: the training curves of one or
 * more runs from their metrics.jsonl (src/viz/metrics.h), as one PNG of six panels: target and
 * source accuracy, the two losses, the domain classifier's accuracy, lambda and the learning
 * rate, each run in its own colour (named by its folder). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "cli/args.h"
#include "cli/cli.h"
#include "viz/metrics.h"
#include "viz/plot.h"

#define MAX_RUNS 10

static void usage(FILE *f) {
    fprintf(f,
            "usage: dann plot RUN_DIR [RUN_DIR...] --out FILE.png [options]\n"
            "\n"
            "Training curves of one or more runs of `dann train`, from RUN_DIR/metrics.jsonl (a\n"
            ".jsonl file may be named instead of its folder): target and source test accuracy\n"
            "(source validation dashed when recorded), the class and domain losses, the domain\n"
            "classifier's accuracy, lambda and the learning rate. Runs are overlaid, one colour\n"
            "each, named by their folder (at most %d).\n"
            "\n"
            "  --out FILE.png      the picture (written atomically)\n"
            "  --title TEXT        its title (default: Training curves)\n"
            "  --log-loss          the losses on a log axis\n"
            "  --size WxH          picture size in pixels (default 1350x900)\n"
            "  --help              this text\n",
            MAX_RUNS);
}

/* The folder name of a run: the last path component (of the folder, for a .jsonl path). */
static void run_name(char *out, size_t cap, const char *arg) {
    size_t n = strlen(arg);
    while (n > 1 && arg[n - 1] == '/') n--;
    const char *end = arg + n;
    if (n > 6 && !strncmp(end - 6, ".jsonl", 6)) {
        while (end > arg && end[-1] != '/') end--;
        if (end > arg) end--;
        if (end == arg) end = arg + n;
    }
    const char *b = end;
    while (b > arg && b[-1] != '/') b--;
    snprintf(out, cap, "%.*s", (int)(end - b), b);
}

typedef struct {
    const char *title, *ylabel;
    int key, key2;       /* columns: solid line, dashed line (-1: none) */
    const char *label1, *label2;  /* legend words for the two line styles */
    int log;             /* 1: log y; 2: log y when the values span more than 10x */
    double ref;          /* a dotted reference line (NaN: none) */
} panel;

static int any_finite(const double *v, int n) {
    for (int i = 0; i < n; i++)
        if (isfinite(v[i])) return 1;
    return 0;
}

static void draw_panel(plot_canvas *c, plot_rect cell, const panel *p, const metrics_run *runs,
                       char names[][64], int nr) {
    plot_range xr = PLOT_RANGE_EMPTY, yr = PLOT_RANGE_EMPTY, pos = PLOT_RANGE_EMPTY;
    int has2 = 0, any = 0;
    for (int r = 0; r < nr; r++) {
        plot_range_add(&xr, runs[r].epoch, runs[r].n, 0);
        for (int k = 0; k < 2; k++) {
            int key = k ? p->key2 : p->key;
            if (key < 0 || !any_finite(runs[r].col[key], runs[r].n)) continue;
            any = 1;
            has2 |= k;
            plot_range_add(&yr, runs[r].col[key], runs[r].n, 0);
            plot_range_add(&pos, runs[r].col[key], runs[r].n, 1);
        }
    }
    int log = p->log == 1 || (p->log == 2 && pos.lo <= pos.hi && pos.hi > 10 * pos.lo);
    if (log) yr = pos;
    if (isfinite(p->ref) && any) plot_range_add(&yr, &p->ref, 1, log);
    plot_axes_opts o = {.title = p->title, .xlabel = "epoch", .ylabel = p->ylabel, .ylog = log};
    plot_axes ax;
    plot_axes_begin(&ax, c, cell, &o, xr, yr);
    if (!any) {
        plot_text(c, ax.frame.x + ax.frame.w / 2, ax.frame.y + ax.frame.h / 2, "not recorded", 13,
                  1, 0);
        return;
    }
    if (isfinite(p->ref)) plot_hline(&ax, p->ref, (plot_style){.color = -1, .dash = 2});
    for (int r = 0; r < nr; r++)
        for (int k = 0; k < 2; k++) {
            int key = k ? p->key2 : p->key;
            if (key < 0) continue;
            plot_line(&ax, runs[r].epoch, runs[r].col[key], runs[r].n,
                      (plot_style){.color = r, .width = 2, .dash = k});
        }
    if (nr > 1 || !has2)
        for (int r = 0; r < nr; r++) {
            int shown = any_finite(runs[r].col[p->key], runs[r].n) ||
                        (p->key2 >= 0 && any_finite(runs[r].col[p->key2], runs[r].n));
            if (shown)
                plot_legend_add(&ax, names[r], (plot_style){.color = r, .width = 2.5, .marker = -1}, 1);
        }
    if (has2) {
        plot_legend_add(&ax, p->label1, (plot_style){.color = -1, .width = 2, .marker = -1}, 1);
        plot_legend_add(&ax, p->label2, (plot_style){.color = -1, .width = 2, .dash = 1, .marker = -1}, 1);
    }
    plot_axes_end(&ax);
}

int cmd_plot(int argc, char **argv) {
    const char *out = NULL, *title = "Training curves", *size = NULL;
    const char *dirs[MAX_RUNS];
    int nr = 0, log_loss = 0;
    args_parser ap;
    args_init(&ap, "plot", argc, argv);
    while (args_next(&ap)) {
        if (args_is(&ap, "--out")) args_str(&ap, &out);
        else if (args_is(&ap, "--title")) args_str(&ap, &title);
        else if (args_is(&ap, "--size")) args_str(&ap, &size);
        else if (args_is(&ap, "--log-loss")) args_flag(&ap, &log_loss);
        else if (args_is(&ap, "--help") || args_is(&ap, "-h")) {
            usage(stdout);
            return 0;
        } else if (!ap.is_option) {
            if (nr == MAX_RUNS) return args_usage("plot", "at most %d runs in one picture", MAX_RUNS);
            dirs[nr++] = ap.cur;
        } else args_unknown(&ap);
        if (ap.failed) return 2;
    }
    if (!nr) return args_usage("plot", "name at least one RUN_DIR (dann plot --help)");
    if (!out) return args_usage("plot", "--out FILE.png is required (dann plot --help)");
    int W = 1350, H = 900;
    if (size) {
        char tail;
        if (sscanf(size, "%dx%d%c", &W, &H, &tail) != 2)
            return args_usage("plot", "--size: '%s' is not WxH", size);
    }
    dann_error err = {0};
    metrics_run runs[MAX_RUNS];
    char names[MAX_RUNS][64];
    memset(runs, 0, sizeof runs);
    plot_canvas *c = NULL;
    int rc = 1, loaded = 0;
    for (; loaded < nr; loaded++) {
        if (metrics_read(&runs[loaded], dirs[loaded], &err)) goto done;
        if (runs[loaded].warning[0]) fprintf(stderr, "dann plot: warning: %s\n", runs[loaded].warning);
        run_name(names[loaded], sizeof names[0], dirs[loaded]);
    }
    if (plot_canvas_new(&c, W, H, &err)) goto done;
    plot_canvas_title(c, title);
    const panel panels[6] = {
        {"Target test accuracy", "accuracy", MET_TARGET_TEST_ACC, -1, NULL, NULL, 0, NAN},
        {"Source accuracy", "accuracy", MET_SOURCE_TEST_ACC, MET_SOURCE_VAL_ACC, "test",
         "validation", 0, NAN},
        {"Losses", "NLL", MET_LOSS_CLASS, MET_LOSS_DOMAIN, "class", "domain", log_loss, NAN},
        {"Domain classifier accuracy", "accuracy", MET_DOMAIN_ACC, -1, NULL, NULL, 0, 0.5},
        {"lambda (reversed gradient weight)", "lambda", MET_LAMBDA, -1, NULL, NULL, 0, NAN},
        {"Learning rate", "lr", MET_LR, -1, NULL, NULL, 2, NAN}};
    for (int i = 0; i < 6; i++) draw_panel(c, plot_canvas_cell(c, 2, 3, i), &panels[i], runs, names, nr);
    if (plot_canvas_save(c, out, &err)) goto done;
    int most = 0;
    for (int r = 0; r < nr; r++) most = runs[r].n > most ? runs[r].n : most;
    printf("wrote %s (%d run%s, up to %d epochs)\n", out, nr, nr > 1 ? "s" : "", most);
    rc = 0;
done:
    if (rc) args_fail("plot", &err);
    for (int r = 0; r < loaded && r < nr; r++) metrics_free(&runs[r]);
    plot_canvas_free(c);
    return rc;
}
