/* test_dropout_stats.c - the dropout masks the C code draws, against the formula. The PyTorch
 * fixtures replay torch's masks, so without these tests the mask-drawing code (dropout_draw and
 * the model's use of it) would be compared with nothing: a mask drawn with another p, or kept
 * units not scaled by 1/(1-p), would pass the suite.
 *
 * Inverted dropout (torch.nn.Dropout / Dropout2d): each unit is kept with probability 1 - p,
 * independently, and a kept unit is multiplied by 1/(1-p) (so the expectation is unchanged).
 * The kept count K of n units is Binomial(n, 1-p): the tests accept |K - n(1-p)| <= 5 sd,
 * sd = sqrt(n p (1-p)) (a false alarm about once in 1.7 million), and check every factor is 0
 * or 1/(1-p). Masks drawn twice must be independent: units kept in both draws number about
 * n (1-p)^2 (the same bound). The model-level tests read the expected p from the network
 * description, never from the compiled plan, so a plan that stores another p fails them. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "layers/layers.h"
#include "model/model.h"
#include "test.h"

/* Checks n factors against p: every one 0 or 1/(1-p), the kept count within 5 sd. With prev
 * (the previous draw of the same units, or NULL) also the count kept in both. */
static void check_mask(const float *mask, const float *prev, size_t n, double p, const char *what) {
    const double scale = 1.0 / (1.0 - p);
    size_t kept = 0, both = 0, odd = 0;
    for (size_t i = 0; i < n; i++) {
        if (mask[i] == 0.0f) continue;
        kept++;
        if (fabs(mask[i] - scale) > 1e-6 * scale) odd++;
        if (prev && prev[i] != 0.0f) both++;
    }
    CHECK(odd == 0, "%s: %zu kept factors are not 1/(1-p) = %.9g (e.g. %.9g)", what, odd, scale,
          (double)mask[0] ? (double)mask[0] : (double)mask[1]);
    const double mean = (double)n * (1 - p), sd = sqrt((double)n * p * (1 - p));
    CHECK(fabs((double)kept - mean) <= 5 * sd, "%s: kept %zu of %zu units, expected %.0f +- %.0f "
          "(5 sd) for p = %g", what, kept, n, mean, 5 * sd, p);
    if (prev) {
        const double q = (1 - p) * (1 - p), m2 = (double)n * q, sd2 = sqrt((double)n * q * (1 - q));
        CHECK(fabs((double)both - m2) <= 5 * sd2, "%s: %zu units kept in two draws, expected %.0f "
              "+- %.0f if the draws are independent", what, both, m2, 5 * sd2);
    }
}

TEST(dropout_draw_keeps_1_minus_p_and_scales_by_its_inverse) {
    const double ps[] = {0.5, 0.1, 0.25, 0.8};
    const size_t n = 200000;
    float *a = malloc(n * sizeof *a), *b = malloc(n * sizeof *b);
    dann_rng r;
    rng_seed(&r, 42);
    for (size_t k = 0; k < sizeof ps / sizeof *ps; k++) {
        char what[64];
        snprintf(what, sizeof what, "dropout_draw p=%g", ps[k]);
        dropout_draw(a, n, (float)ps[k], &r);
        check_mask(a, NULL, n, ps[k], what);
        dropout_draw(b, n, (float)ps[k], &r);
        check_mask(b, a, n, ps[k], what);
    }
    /* The mask is applied as given: out = inp * factor, and backward adds dout * factor. */
    float inp[6] = {1.5f, -2, 3, 0.25f, -7, 9}, out[6], dinp[6] = {1, 1, 1, 1, 1, 1};
    const float mask[3] = {2.0f, 0.0f, 2.0f};
    dropout_forward(out, inp, mask, 3, 2);
    dropout_backward(dinp, inp, mask, 3, 2);
    for (int i = 0; i < 6; i++) {
        CHECK(out[i] == inp[i] * mask[i / 2], "forward [%d] %g, want %g", i, out[i], inp[i] * mask[i / 2]);
        CHECK(dinp[i] == 1 + inp[i] * mask[i / 2], "backward [%d] %g", i, dinp[i]);
    }
    free(a), free(b);
}

/* Runs `draws` training forwards of network desc (B images of noise) and checks every mask of
 * the source pass against want_p[k] (from the description). */
static void check_model_masks(const char *desc, int B, int draws, const double *want_p, int n_want) {
    dann_model *m = NULL;
    dann_error err;
    if (dann_model_new(&m, desc, 7, B, &err)) {
        CHECK(0, "%s: %s", desc, err.msg);
        return;
    }
    int C, H, W, NC;
    dann_model_shape(m, &C, &H, &W, &NC);
    const size_t img = (size_t)C * H * W;
    float *x = malloc((size_t)B * img * sizeof *x);
    dann_rng data, drop;
    rng_seed(&data, 1);
    rng_seed(&drop, 2);
    for (size_t i = 0; i < (size_t)B * img; i++) x[i] = 2 * rng_uniform(&data) - 1;
    pass_t *p = &m->pass[0];
    float *all[8] = {0}, *prev[8] = {0};
    size_t per[8] = {0};
    const int threads = dann_get_threads();
    dann_threads_set(1);
    for (int t = 0; t < draws; t++) {
        model_forward_dense(m, p, x, B, 1, HEAD_CLASS | HEAD_DOMAIN, &drop);
        CHECK(p->n_masks == n_want, "%s: %d masks, the description has %d dropouts", desc,
              p->n_masks, n_want);
        for (int k = 0; k < p->n_masks && k < n_want && k < 8; k++) {
            per[k] = (size_t)B * p->mask_units[k];
            if (!all[k]) all[k] = malloc((size_t)draws * per[k] * sizeof(float));
            if (!prev[k]) prev[k] = malloc(per[k] * sizeof(float));
            memcpy(all[k] + (size_t)t * per[k], p->mask[k], per[k] * sizeof(float));
            if (t == draws - 1) memcpy(prev[k], p->mask[k], per[k] * sizeof(float));
        }
    }
    dann_threads_set(threads);
    for (int k = 0; k < n_want && k < 8 && all[k]; k++) {
        char what[96];
        snprintf(what, sizeof what, "mask %d of '%.40s...', %d draws", k, desc, draws);
        check_mask(all[k], NULL, (size_t)draws * per[k], want_p[k], what);
        /* the last draw against the one before it: drawn afresh, not reused */
        check_mask(prev[k], all[k] + (size_t)(draws - 2) * per[k], per[k], want_p[k], what);
        free(all[k]), free(prev[k]);
    }
    free(x);
    dann_model_free(m);
}

TEST(dropout_masks_of_py3_training_forward) {
    /* py3: dropout2d(0.5) over 50 channels, dropout(0.5) over 100 units; 64 images, 40 draws:
     * 128000 and 256000 units. */
    const double want[2] = {0.5, 0.5};
    check_model_masks("py3", 64, 40, want, 2);
}

TEST(dropout_masks_of_a_described_network) {
    /* other p for each kind and place, so a p taken from anywhere but the description fails */
    const char *desc = "in 1x12x12; features: conv(16,3) dropout2d(0.3) relu maxpool(2); "
                       "class: fc(64) relu dropout(0.2) fc(5); domain: fc(32) relu dropout(0.7) fc(2)";
    const double want[3] = {0.3, 0.2, 0.7};
    check_model_masks(desc, 64, 60, want, 3);
}
