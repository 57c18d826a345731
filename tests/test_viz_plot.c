/* test_viz_plot.c - the plotting layer (src/viz/plot.h), the metrics.jsonl reader and `dann
 * plot`. Pictures are decoded with the project's PNG reader and checked where the data must
 * land: a data point's mapped pixel carries its series' colour, lines are long enough to be the
 * data (not only a legend sample), a log axis puts 10 midway between 1 and 100. Error paths: a
 * file that cannot be written leaves nothing behind, metrics with a bad line in the middle, only
 * a torn line, an empty or a missing file each fail with one line naming the file. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "cli_testutil.h"
#include "test.h"
#include "viz/metrics.h"
#include "viz/plot.h"
#include "viz_testutil.h"

/* 1 when some pixel within r of (px, py) has palette colour ci (antialiasing tolerance). */
static int colour_near(const vt_image *im, double px, double py, int r, int ci) {
    uint8_t rgb[3];
    plot_palette(ci, rgb);
    int x = (int)px, y = (int)py;
    return vt_count(im, x - r, y - r, x + r + 1, y + r + 1, rgb, 40) > 0;
}

TEST(viz_plot_lines_and_points_land_where_mapped) {
    dann_error err = {0};
    plot_canvas *c;
    CHECK(plot_canvas_new(&c, 640, 360, &err) == DANN_OK, "canvas: %s", err.msg);
    if (!c) return;
    plot_canvas_title(c, "test picture");
    double x[5] = {0, 1, 2, 3, 4}, y[5] = {0, 1, NAN, 3, 4};
    plot_range xr = PLOT_RANGE_EMPTY, yr = PLOT_RANGE_EMPTY;
    plot_range_add(&xr, x, 5, 0);
    plot_range_add(&yr, y, 5, 0);
    CHECK(yr.lo == 0 && yr.hi == 4, "range skips NaN: [%g, %g]", yr.lo, yr.hi);
    plot_axes a1, a2;
    plot_axes_opts o1 = {.title = "lines", .xlabel = "x", .ylabel = "y"};
    plot_axes_begin(&a1, c, plot_canvas_cell(c, 1, 2, 0), &o1, xr, yr);
    plot_line(&a1, x, y, 5, (plot_style){.color = 2, .width = 3});
    plot_legend_add(&a1, "series", (plot_style){.color = 2, .width = 3, .marker = -1}, 1);
    plot_axes_end(&a1);
    /* a log axis: 1 .. 100 symmetric in log10, so 10 maps to the middle of the frame */
    double ly[2] = {1, 100}, lx[2] = {0, 1};
    plot_range lyr = PLOT_RANGE_EMPTY, lxr = PLOT_RANGE_EMPTY;
    plot_range_add(&lyr, ly, 2, 1);
    plot_range_add(&lxr, lx, 2, 0);
    plot_axes_opts o2 = {.title = "points", .ylog = 1};
    plot_axes_begin(&a2, c, plot_canvas_cell(c, 1, 2, 1), &o2, lxr, lyr);
    double mx, my;
    plot_axes_map(&a2, 0.5, 10, &mx, &my);
    CHECK(fabs(my - (a2.frame.y + a2.frame.h / 2)) < 1e-6, "log axis: 10 at y %.3f, middle %.3f", my,
          a2.frame.y + a2.frame.h / 2);
    plot_axes_map(&a2, 0.5, -1, &mx, &my);
    CHECK(isnan(my), "log axis: -1 has no position (got %g)", my);
    float px[3] = {0.2f, 0.5f, 0.8f}, py[3] = {2, 10, 50};
    plot_points(&a2, px, py, 3, (plot_style){.color = 1, .marker = PLOT_SQUARE, .size = 9});
    plot_axes_end(&a2);
    const char *path = pathf(test_tmpdir(), "p.png");
    CHECK(plot_canvas_save(c, path, &err) == DANN_OK, "save: %s", err.msg);
    CHECK(!exists(pathf(test_tmpdir(), "p.png.tmp")), "the temporary file is left behind");
    vt_image im;
    if (vt_load(&im, path)) {
        CHECK(im.w == 640 && im.h == 360, "size %dx%d", im.w, im.h);
        for (int i = 0; i < 5; i++) {
            if (isnan(y[i])) continue;
            double qx, qy;
            plot_axes_map(&a1, x[i], y[i], &qx, &qy);
            CHECK(colour_near(&im, qx, qy, 2, 2), "no line colour at point %d (%.0f, %.0f)", i, qx, qy);
        }
        /* the gap: the line from 1 to 3 is broken at NaN, so the middle of (1,1)-(3,3) is bare */
        double gx, gy;
        plot_axes_map(&a1, 2, 2, &gx, &gy);
        CHECK(!colour_near(&im, gx, gy, 1, 2), "the line crosses the missing point");
        for (int i = 0; i < 3; i++) {
            double qx, qy;
            plot_axes_map(&a2, px[i], py[i], &qx, &qy);
            CHECK(colour_near(&im, qx, qy, 1, 1), "no marker at point %d (%.0f, %.0f)", i, qx, qy);
        }
        CHECK(vt_nonwhite(&im, 0, 0, 640, 30) > 100, "the title band is blank");
        vt_free(&im);
    }
    plot_canvas_free(c);
}

TEST(viz_plot_save_errors_leave_nothing) {
    dann_error err = {0};
    plot_canvas *c = NULL;
    CHECK(plot_canvas_new(&c, 8, 100, &err) == DANN_ERR_ARG && !c, "an 8-pixel-wide canvas was made");
    CHECK(plot_canvas_new(&c, 100, 100, &err) == DANN_OK, "canvas: %s", err.msg);
    if (!c) return;
    const char *dir = test_tmpdir();
    const char *bad = pathf(dir, "no-such-dir/x.png");
    CHECK(plot_canvas_save(c, bad, &err) == DANN_ERR_IO, "saving into a missing folder succeeded");
    CHECK(strstr(err.msg, "no-such-dir/x.png") && !strchr(err.msg, '\n'), "message '%s'", err.msg);
    /* an existing picture is replaced whole or kept: a directory in the way of the rename */
    const char *blocked = pathf(dir, "blocked.png");
    CHECK(mkdir(blocked, 0700) == 0, "mkdir");
    CHECK(plot_canvas_save(c, blocked, &err) == DANN_ERR_IO, "renamed over a directory");
    CHECK(!exists(pathf(dir, "blocked.png.tmp")), "the temporary file is left behind");
    plot_canvas_free(c);
}

/* ---- metrics.jsonl --------------------------------------------------------------------- */

static const char *write_text(const char *dir, const char *name, const char *text) {
    const char *p = pathf(dir, name);
    CHECK(write_bytes(p, text, strlen(text)), "cannot write %s", p);
    return p;
}

TEST(viz_metrics_reader_nulls_missing_keys_and_torn_lines) {
    static const struct { const char *s; int ok; } cases[] = {
        {"{}", 1}, {"{\"a\": 1}\n", 1}, {" { \"a\" : -1.5e-3 , \"b\":null,\"c\":true,\"d\":\"x\\\"y\"}", 1},
        {"{\"a\": 1,}", 0}, {"{\"a\": 01}", 0}, {"{\"a\": 1", 0}, {"{\"a\" 1}", 0}, {"[1]", 0},
        {"{\"a\": nul}", 0}, {"{\"a\": {\"b\": 1}}", 0}, {"{\"a\": 1} x", 0}, {"{\"a\": \"x", 0},
        {"{\"a\": 1.}", 0}, {"{\"a\": -}", 0}, {"", 0}};
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++)
        CHECK(json_flat_object_valid(cases[i].s) == cases[i].ok, "validator on '%s': %d", cases[i].s,
              !cases[i].ok);
    const char *dir = test_tmpdir();
    write_text(dir, "metrics.jsonl",
               "{\"epoch\": 1, \"target_test_acc\": 0.25, \"lr\": 0.001, \"mode\": \"lr\\\": 7\"}\n"
               "\n"
               "{\"epoch\": 2, \"target_test_acc\": null, \"source_test_acc\": 0.5, \"new_key\": 3}\n"
               "{\"target_test_acc\": 0.75}\n"
               "{\"epoch\": 4, \"target_te");
    metrics_run r;
    dann_error err = {0};
    CHECK(metrics_read(&r, dir, &err) == DANN_OK, "read: %s", err.msg);
    CHECK(r.n == 3, "%d rows, expected 3 (the torn last line dropped)", r.n);
    CHECK(strstr(r.warning, "line 5") && strstr(r.warning, "truncated"), "warning '%s'", r.warning);
    if (r.n == 3) {
        CHECK(r.epoch[0] == 1 && r.epoch[1] == 2 && r.epoch[2] == 3, "epochs %g %g %g", r.epoch[0],
              r.epoch[1], r.epoch[2]);
        double *t = r.col[MET_TARGET_TEST_ACC], *s = r.col[MET_SOURCE_TEST_ACC];
        CHECK(t[0] == 0.25 && isnan(t[1]) && t[2] == 0.75, "target acc %g %g %g", t[0], t[1], t[2]);
        CHECK(isnan(s[0]) && s[1] == 0.5 && isnan(s[2]), "source acc %g %g %g", s[0], s[1], s[2]);
        CHECK(r.col[MET_LR][0] == 0.001 && isnan(r.col[MET_LR][1]),
              "lr %g %g (a key inside a string value is not the key)", r.col[MET_LR][0], r.col[MET_LR][1]);
    }
    metrics_free(&r);
}

TEST(viz_metrics_reader_errors_name_the_file) {
    const char *dir = test_tmpdir();
    static const struct { const char *name, *text, *want; } bad[] = {
        {"middle.jsonl", "{\"epoch\": 1}\n{\"epoch\": 2,,}\n{\"epoch\": 3}\n", "middle.jsonl:2"},
        {"garbage.jsonl", "epoch 1 acc 0.5\n", "garbage.jsonl:1"},
        {"empty.jsonl", "", "empty"},
        {"blank.jsonl", "\n\n", "empty"},
        {"torn.jsonl", "{\"epoch\": 1, \"lr\"", "truncated"},
    };
    dann_error err;
    metrics_run r;
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        const char *p = write_text(dir, bad[i].name, bad[i].text);
        memset(&err, 0, sizeof err);
        CHECK(metrics_read(&r, p, &err) == DANN_ERR_FORMAT, "%s was accepted", bad[i].name);
        CHECK(strstr(err.msg, bad[i].name) && strstr(err.msg, bad[i].want) && !strchr(err.msg, '\n'),
              "%s: message '%s' should name '%s'", bad[i].name, err.msg, bad[i].want);
        metrics_free(&r);
    }
    CHECK(metrics_read(&r, pathf(dir, "none"), &err) == DANN_ERR_IO && strstr(err.msg, "none"),
          "a missing file: '%s'", err.msg);
    CHECK(metrics_read(&r, dir, &err) == DANN_ERR_IO && strstr(err.msg, "metrics.jsonl"),
          "a folder without metrics.jsonl: '%s'", err.msg);
}

/* ---- dann plot -------------------------------------------------------------------------- */

static void write_run(const char *dir, int dann, int epochs) {
    mkdir(dir, 0700);
    char *text = malloc((size_t)epochs * 400 + 1), *p = text;
    for (int e = 1; e <= epochs; e++) {
        double q = (double)e / epochs;
        p += sprintf(p,
                     "{\"epoch\": %d, \"mode\": \"%s\", \"source_test_acc\": %.4f, "
                     "\"target_test_acc\": %.4f, \"domain_acc\": %s, \"loss_class\": %.4f, "
                     "\"loss_domain\": %s, \"lambda\": %.5f, \"lr\": %.6f, \"seconds\": 18}\n",
                     e, dann ? "dann" : "source-only", 0.9 + 0.09 * q, (dann ? 0.5 : 0.3) + 0.3 * q,
                     dann ? "0.6" : "null", 0.5 / e, dann ? "0.65" : "null",
                     dann ? 2 / (1 + exp(-10 * q)) - 1 : 0, 0.01 / pow(1 + 10 * q, 0.75));
    }
    CHECK(write_bytes(pathf(dir, "metrics.jsonl"), text, (size_t)(p - text)), "write run");
    free(text);
}

TEST(viz_cli_plot_overlays_runs) {
    if (!dann_bin()) SKIP("no dann binary next to the test binary (make builds it)");
    const char *dir = test_tmpdir();
    char a[512], b[512], out[512];
    snprintf(a, sizeof a, "%s/dann-run", dir);
    snprintf(b, sizeof b, "%s/so-run", dir);
    snprintf(out, sizeof out, "%s/curves.png", dir);
    write_run(a, 1, 40);
    write_run(b, 0, 25);
    const char *args[] = {"plot", a, b, "--out", out, "--size", "1200x800", NULL};
    run_result *r = run_dann(args);
    CHECK(r->rc == 0, "dann plot failed (%d): %s", r->rc, r->err);
    CHECK(strstr(r->out, "2 runs") != NULL, "stdout: %s", r->out);
    vt_image im;
    if (r->rc || !vt_load(&im, out)) return;
    CHECK(im.w == 1200 && im.h == 800, "size %dx%d", im.w, im.h);
    /* six panels below a 34-pixel title band, 400 x 383 each; a run's line over 25..40 epochs
     * is hundreds of pixels long, its legend sample a few dozen */
    uint8_t c0[3], c1[3];
    plot_palette(0, c0);
    plot_palette(1, c1);
    for (int i = 0; i < 6; i++) {
        int x0 = (i % 3) * 400, y0 = 34 + (i / 3) * 383;
        long n0 = vt_count(&im, x0, y0, x0 + 400, y0 + 383, c0, 40);
        long n1 = vt_count(&im, x0, y0, x0 + 400, y0 + 383, c1, 40);
        CHECK(n0 > 300, "panel %d: %ld pixels of the first run's colour", i, n0);
        /* the source-only run has no domain accuracy: panel 3 shows it nowhere, not even in
         * the legend */
        if (i == 3) CHECK(n1 == 0, "panel 3: %ld pixels of the source-only run's colour", n1);
        else CHECK(n1 > 200, "panel %d: %ld pixels of the second run's colour", i, n1);
        CHECK(vt_nonwhite(&im, x0, y0, x0 + 400, y0 + 383) > 3000, "panel %d is nearly blank", i);
    }
    CHECK(vt_colours(&im) > 20, "only %d colours", vt_colours(&im));
    vt_free(&im);
}

TEST(viz_cli_plot_errors) {
    if (!dann_bin()) SKIP("no dann binary next to the test binary (make builds it)");
    const char *dir = test_tmpdir();
    char run[512], bad[512], out[512], badfile[600];
    snprintf(run, sizeof run, "%s/ok", dir);
    snprintf(bad, sizeof bad, "%s/bad", dir);
    snprintf(out, sizeof out, "%s/x.png", dir);
    write_run(run, 1, 3);
    mkdir(bad, 0700);
    snprintf(badfile, sizeof badfile, "%s/metrics.jsonl", bad);
    write_bytes(badfile, "{\"epoch\": 1}\nnot json\n", 22);
    const char *a1[] = {"plot", run, bad, "--out", out, NULL};
    run_result *r = run_dann(a1);
    CHECK_FAILS(r, 1, "bad/metrics.jsonl:2", "JSON", "a bad line");
    CHECK(!exists(out), "a picture was written from a bad run");
    const char *a2[] = {"plot", pathf(dir, "missing"), "--out", out, NULL};
    r = run_dann(a2);
    CHECK_FAILS(r, 1, "missing", "cannot open", "a missing run");
    const char *a3[] = {"plot", run, NULL};
    r = run_dann(a3);
    CHECK_FAILS(r, 2, "--out", "required", "no --out");
    const char *a4[] = {"plot", run, "--out", out, "--size", "12x", NULL};
    r = run_dann(a4);
    CHECK_FAILS(r, 2, "--size", "WxH", "a bad size");
    write_bytes(badfile, "", 0);
    const char *a5[] = {"plot", bad, "--out", out, NULL};
    r = run_dann(a5);
    CHECK_FAILS(r, 1, "metrics.jsonl", "empty", "an empty file");
    /* a torn last line is only a warning */
    const char *torn = "{\"epoch\": 1, \"lr\": 0.1}\n{\"epoch\": 2, \"l";
    write_bytes(badfile, torn, strlen(torn));
    r = run_dann(a5);
    CHECK(r->rc == 0 && strstr(r->err, "warning") && strstr(r->err, "truncated") && exists(out),
          "a torn last line: rc %d, stderr '%s'", r->rc, r->err);
}

/* palette colour i blended with white at strength s, as plot_field paints a saturated cell */
static void blend(uint8_t out[3], int i, double s) {
    uint8_t c[3];
    plot_palette(i, c);
    for (int k = 0; k < 3; k++) out[k] = (uint8_t)lround(255 * (1 - s) + c[k] * s);
}

TEST(viz_plot_field_orientation_and_contour) {
    enum { GW = 40, GH = 30 };
    float v[GW * GH];
    for (int j = 0; j < GH; j++)  /* row 0 is the bottom: 0 below the middle, 1 above */
        for (int i = 0; i < GW; i++) v[j * GW + i] = j < GH / 2 ? 0.0f : 1.0f;
    dann_error err = {0};
    plot_canvas *c;
    CHECK(plot_canvas_new(&c, 400, 300, &err) == DANN_OK, "canvas: %s", err.msg);
    if (!c) return;
    plot_axes ax;
    plot_axes_begin(&ax, c, plot_canvas_cell(c, 1, 1, 0), NULL, (plot_range){0, 1}, (plot_range){0, 1});
    plot_field(&ax, v, GW, GH, 2, 4, 0.5, 1);
    plot_axes_end(&ax);
    const char *path = pathf(test_tmpdir(), "field.png");
    CHECK(plot_canvas_save(c, path, &err) == DANN_OK, "save: %s", err.msg);
    vt_image im;
    if (vt_load(&im, path)) {
        uint8_t lo[3], hi[3], dark[3] = {38, 38, 38};
        blend(lo, 2, 0.5);
        blend(hi, 4, 0.5);
        plot_rect f = ax.frame;
        int x0 = (int)f.x + 3, x1 = (int)(f.x + f.w) - 3, ymid = (int)(f.y + f.h / 2);
        long bottom = vt_count(&im, x0, ymid + 6, x1, (int)(f.y + f.h) - 3, lo, 6);
        long top = vt_count(&im, x0, (int)f.y + 3, x1, ymid - 6, hi, 6);
        long area = (long)(x1 - x0) * ((int)(f.h / 2) - 9);
        CHECK(bottom > area * 9 / 10, "bottom half: %ld of %ld pixels in colour 2", bottom, area);
        CHECK(top > area * 9 / 10, "top half: %ld of %ld pixels in colour 4", top, area);
        CHECK(vt_count(&im, x0, ymid - 2, x1, ymid + 3, dark, 50) > (x1 - x0), "no contour line at the middle");
        vt_free(&im);
    }
    plot_canvas_free(c);
}
