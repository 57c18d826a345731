/* test_viz_moons.c - `dann demo moons` (the JMLR inter-twinning moons) as the real binary: it
 * trains two shallow networks in seconds and writes one picture of six panels, each painted
 * (the decision fields in the two class colours and the two domain colours, blended with white
 * as plot_field paints them) and marked with its points. Skipped while the library cannot build
 * the `shallow` network (its sigmoid layer). */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "cli_testutil.h"
#include "test.h"
#include "viz/plot.h"
#include "viz_testutil.h"

static void blended(uint8_t out[3], int i, double s) {
    uint8_t c[3];
    plot_palette(i, c);
    for (int k = 0; k < 3; k++) out[k] = (uint8_t)lround(255 * (1 - s) + c[k] * s);
}

TEST(viz_demo_moons_picture) {
    if (!dann_bin()) SKIP("no dann binary next to the test binary (make builds it)");
    dann_error err = {0};
    dann_model *m = NULL;
    if (dann_model_new(&m, "shallow", 1, 4, &err)) SKIP("the shallow network cannot be built yet: %s", err.msg);
    dann_model_free(m);
    char out[600];
    snprintf(out, sizeof out, "%s/moons.png", test_tmpdir());
    const char *a[] = {"demo", "moons", "--steps", "20000", "--out", out, NULL};
    run_result *r = run_dann(a);
    CHECK(r->rc == 0 && strstr(r->out, "target accuracy") && strstr(r->out, "source accuracy"),
          "demo moons (%d): %s %s", r->rc, r->out, r->err);
    vt_image im;
    if (r->rc || !vt_load(&im, out)) return;
    CHECK(im.w == 1500 && im.h == 960, "size %dx%d", im.w, im.h);
    uint8_t f0[3], f1[3], d0[3], d1[3];
    blended(f0, 0, 0.35), blended(f1, 1, 0.35), blended(d0, 2, 0.35), blended(d1, 3, 0.35);
    for (int p = 0; p < 6; p++) {
        int x0 = (p % 3) * 500, y0 = 34 + (p / 3) * 463;
        long nw = vt_nonwhite(&im, x0, y0, x0 + 500, y0 + 463);
        CHECK(nw > 5000, "panel %d: %ld painted pixels", p, nw);
        if (p % 3 == 2) continue;  /* the PCA panels have no field */
        const uint8_t *a0 = p % 3 ? d0 : f0, *a1 = p % 3 ? d1 : f1;
        long n0 = vt_count(&im, x0, y0, x0 + 500, y0 + 463, a0, 40);
        long n1 = vt_count(&im, x0, y0, x0 + 500, y0 + 463, a1, 40);
        /* the label field shows both classes; NN's domain field at least one side (DANN's is
         * meant to be pale: its domain classifier is confused) */
        if (p % 3 == 0) CHECK(n0 > 2000 && n1 > 2000, "panel %d: field %ld / %ld pixels", p, n0, n1);
        else if (p == 1) CHECK(n0 + n1 > 2000, "panel %d: field %ld + %ld pixels", p, n0, n1);
    }
    vt_free(&im);
}
