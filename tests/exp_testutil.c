/* exp_testutil.c - tiny sets and run-file readers for the experiment-side tests. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "cli/json.h"
#include "exp_testutil.h"

void exp_make_ds(dataset *ds, int n, int c, int s, int n_classes, uint32_t seed, int shift,
                 const char *name) {
    memset(ds, 0, sizeof *ds);
    ds->n = n, ds->c = c, ds->h = s, ds->w = s, ds->n_classes = n_classes;
    const size_t plane = (size_t)s * s;
    ds->pix = malloc((size_t)n * c * plane);
    ds->y = malloc(sizeof(int32_t) * (size_t)n);
    uint32_t r = seed * 2654435761u + 7;
    const int cells = n_classes <= 4 ? 2 : 4, cw = s / cells;
    for (int i = 0; i < n; i++) {
        const int k = i % n_classes, r0 = (k / cells) * cw, c0 = (k % cells) * cw;
        ds->y[i] = k;
        for (int ch = 0; ch < c; ch++)
            for (size_t p = 0; p < plane; p++) {
                r = r * 1664525u + 1013904223u;
                const int y = (int)(p / s), x = (int)(p % s);
                const int on = y >= r0 && y < r0 + cw && x >= c0 && x < c0 + cw;
                const int v = (on ? 200 : 20) + (int)(r >> 27) + shift * (ch + 1);
                ds->pix[((size_t)i * c + ch) * plane + p] = (uint8_t)(v > 255 ? 255 : v);
            }
    }
    for (int ch = 0; ch < 3; ch++) ds->mean[ch] = 0.5f, ds->std[ch] = 0.5f;
    snprintf(ds->name, sizeof ds->name, "%s", name);
}

trainloop_opts exp_opts(int epochs, int batch, const char *out) {
    trainloop_opts o;
    memset(&o, 0, sizeof o);
    o.epochs = epochs;
    o.batch = batch;
    o.seed = 5;
    o.preset = "py3";
    o.out_dir = out;
    o.progress = PROGRESS_OFF;
    o.quiet = 1;
    return o;
}

dann_train_config exp_cfg(const char *preset, dann_mode mode) {
    dann_train_config cfg;
    dann_error err;
    if (dann_train_config_preset(&cfg, preset, &err)) abort();
    cfg.mode = mode;
    return cfg;
}

int exp_metrics(const char *path, const char *key, double *v, int max) {
    FILE *f = fopen(path, "rb");
    if (!f) return -1;
    static char line[8192];
    int n = 0;
    while (fgets(line, sizeof line, f) && n < max) {
        double x;
        v[n++] = json_get_num(line, key, &x) ? x : NAN;
    }
    fclose(f);
    return n;
}

double exp_json_num(const char *path, const char *key) {
    FILE *f = fopen(path, "rb");
    if (!f) return NAN;
    static char buf[16384];
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    buf[n] = 0;
    fclose(f);
    double x;
    return json_get_num(buf, key, &x) ? x : NAN;
}
