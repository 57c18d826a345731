/* test_gradcheck_net.c - central finite-difference checks (fdcheck.h: method, step, tolerances)
 * of the kernels of described networks: convolution with stride and padding, max-pool with any
 * kernel, stride and padding, sigmoid, and Linear on a sparse CSR input. Each also checks that
 * its backward ACCUMULATES into pre-filled buffers and that dinp NULL leaves the parameter
 * gradients as they were. Kinks are avoided: pool inputs are distinct values on a 0.05 grid
 * (> 2 eps apart), so no perturbation changes a window's winner, overlapping windows included.
 * Shapes are non-square, with stride and padding together, and pooling windows at the edges
 * that hold a single plane element (K 2, pad 1). Kernels run with one thread except where a
 * case says otherwise. */
#include <stdlib.h>
#include <string.h>
#include "fdcheck.h"
#include "layers/layers.h"
#include "test.h"

/* ---- convolution with stride and padding ---- */

typedef struct {
    convg_dims d;
    float *inp, *w, *b, *out, *r, *scratch;
    size_t n_out;
} convg_ctx;

static double convg_loss(void *p) {
    convg_ctx *c = p;
    convg_forward(c->out, c->inp, c->w, c->b, &c->d, c->scratch);
    return dot(c->out, c->r, c->n_out);
}

static void convg_case(convg_dims d, uint64_t seed) {
    char tag[96], what[128];
    snprintf(tag, sizeof tag, "convg B%d C%d %dx%d OC%d K%d s%d p%d slots%d", d.B, d.C, d.H, d.W,
             d.OC, d.K, d.stride, d.pad, d.slots);
    dann_rng rng;
    rng_seed(&rng, seed);
    int OH, OW;
    convg_out_shape(&d, &OH, &OW);
    size_t n_in = (size_t)d.B * d.C * d.H * d.W, n_w = (size_t)d.OC * d.C * d.K * d.K;
    convg_ctx c = {.d = d, .n_out = (size_t)d.B * d.OC * OH * OW};
    c.inp = fvec(n_in); c.w = fvec(n_w); c.b = fvec(d.OC);
    c.out = fvec(c.n_out); c.r = fvec(c.n_out);
    c.scratch = fvec(convg_scratch_floats(&d));
    fill(c.inp, n_in, &rng, -1, 1);
    fill(c.w, n_w, &rng, -0.5f, 0.5f);
    fill(c.b, d.OC, &rng, -0.5f, 0.5f);
    fill(c.r, c.n_out, &rng, -1, 1);

    float *dinp = fvec(n_in), *dw = fvec(n_w), *db = fvec(d.OC);
    convg_loss(&c);
    convg_backward(dinp, dw, db, c.r, c.inp, c.w, &d, c.scratch);

    float *dw2 = fvec(n_w), *db2 = fvec(d.OC);
    convg_backward(NULL, dw2, db2, c.r, c.inp, c.w, &d, c.scratch);
    snprintf(what, sizeof what, "%s dw with dinp NULL", tag);
    CHECK_CLOSE(what, dw2, dw, n_w, 1e-6, 1e-6);
    snprintf(what, sizeof what, "%s db with dinp NULL", tag);
    CHECK_CLOSE(what, db2, db, d.OC, 1e-6, 1e-6);

    float *pi = fvec(n_in), *pw = fvec(n_w), *pb = fvec(d.OC);
    fill(pi, n_in, &rng, -1, 1); fill(pw, n_w, &rng, -1, 1); fill(pb, d.OC, &rng, -1, 1);
    float *ai = fdup(pi, n_in), *aw = fdup(pw, n_w), *ab = fdup(pb, d.OC);
    convg_backward(ai, aw, ab, c.r, c.inp, c.w, &d, c.scratch);
    snprintf(what, sizeof what, "%s dinp accumulates", tag);
    check_accum(what, ai, pi, dinp, n_in);
    snprintf(what, sizeof what, "%s dw accumulates", tag);
    check_accum(what, aw, pw, dw, n_w);
    snprintf(what, sizeof what, "%s db accumulates", tag);
    check_accum(what, ab, pb, db, d.OC);

    snprintf(what, sizeof what, "%s dinp", tag);
    FD_CHECK(what, c.inp, n_in, dinp, convg_loss, &c, seed + 1);
    snprintf(what, sizeof what, "%s dw", tag);
    FD_CHECK(what, c.w, n_w, dw, convg_loss, &c, seed + 2);
    snprintf(what, sizeof what, "%s db", tag);
    FD_CHECK(what, c.b, d.OC, db, convg_loss, &c, seed + 3);

    free(c.inp); free(c.w); free(c.b); free(c.out); free(c.r); free(c.scratch);
    free(dinp); free(dw); free(db); free(dw2); free(db2);
    free(pi); free(pw); free(pb); free(ai); free(aw); free(ab);
}

TEST(gradcheck_convg) {
    dann_set_threads(1);
    /* stride 1: the plain kernel (pad 0), then on a zero-padded copy (pad 1, 2) */
    convg_case((convg_dims){.B = 2, .C = 3, .H = 6, .W = 7, .OC = 4, .K = 3, .stride = 1}, 101);
    convg_case((convg_dims){.B = 2, .C = 2, .H = 5, .W = 6, .OC = 3, .K = 3, .stride = 1, .pad = 1}, 102);
    convg_case((convg_dims){.B = 1, .C = 3, .H = 4, .W = 5, .OC = 2, .K = 5, .stride = 1, .pad = 2}, 103);
    /* stride > 1, with and without padding; K = 1; the last rows/columns cut off by the floor */
    convg_case((convg_dims){.B = 2, .C = 2, .H = 7, .W = 8, .OC = 3, .K = 3, .stride = 2, .pad = 1}, 104);
    convg_case((convg_dims){.B = 2, .C = 3, .H = 9, .W = 6, .OC = 2, .K = 2, .stride = 3}, 105);
    convg_case((convg_dims){.B = 2, .C = 3, .H = 5, .W = 4, .OC = 2, .K = 1, .stride = 2, .pad = 1}, 106);
    /* a kernel as large as the padded plane: one output position */
    convg_case((convg_dims){.B = 2, .C = 2, .H = 3, .W = 2, .OC = 2, .K = 4, .stride = 2, .pad = 1}, 107);
    /* several slots (threads), stride 1 padded and stride 2 */
    dann_set_threads(2);
    convg_case((convg_dims){.B = 3, .C = 2, .H = 5, .W = 6, .OC = 3, .K = 3, .stride = 1, .pad = 1, .slots = 2}, 108);
    convg_case((convg_dims){.B = 3, .C = 2, .H = 7, .W = 5, .OC = 3, .K = 3, .stride = 2, .pad = 1, .slots = 2}, 109);
    dann_set_threads(1);
}

/* ---- max-pool with any kernel, stride and padding ---- */

typedef struct {
    maxpoolg_dims d;
    float *inp, *out, *r;
    int32_t *argmax;
    size_t n_out;
} poolg_ctx;

static double poolg_loss(void *p) {
    poolg_ctx *c = p;
    maxpoolg_forward(c->out, c->argmax, c->inp, &c->d);
    return dot(c->out, c->r, c->n_out);
}

static void poolg_case(maxpoolg_dims d, uint64_t seed) {
    char tag[96], what[128];
    snprintf(tag, sizeof tag, "maxpoolg %dx%d K%d s%d p%d", d.H, d.W, d.K, d.stride, d.pad);
    dann_rng rng;
    rng_seed(&rng, seed);
    int OH, OW;
    maxpoolg_out_shape(&d, &OH, &OW);
    const size_t n = (size_t)d.B * d.C * d.H * d.W;
    poolg_ctx c = {.d = d, .n_out = (size_t)d.B * d.C * OH * OW};
    c.inp = fvec(n); c.out = fvec(c.n_out); c.r = fvec(c.n_out);
    c.argmax = calloc(c.n_out, sizeof *c.argmax);
    int32_t *perm = malloc(n * sizeof *perm);
    if (!c.argmax || !perm) abort();
    for (size_t i = 0; i < n; i++) perm[i] = (int32_t)i;
    rng_shuffle(&rng, perm, (int)n);
    for (size_t i = 0; i < n; i++) c.inp[i] = 0.05f * (float)(perm[i] - (int)n / 2);
    fill(c.r, c.n_out, &rng, -1, 1);

    float *dinp = fvec(n);
    poolg_loss(&c);
    maxpoolg_backward(dinp, c.r, c.argmax, &d);
    /* Each window's winner is the largest plane element it covers (independent of the kernel's
     * scan), and every argmax lies in the plane. */
    int bad = 0;
    for (int bc = 0; bc < d.B * d.C; bc++)
        for (int i = 0; i < OH; i++)
            for (int j = 0; j < OW; j++) {
                const float *x = c.inp + (size_t)bc * d.H * d.W;
                float best = -INFINITY;
                for (int r = i * d.stride - d.pad; r < i * d.stride - d.pad + d.K; r++)
                    for (int q = j * d.stride - d.pad; q < j * d.stride - d.pad + d.K; q++)
                        if (r >= 0 && r < d.H && q >= 0 && q < d.W && x[r * d.W + q] > best)
                            best = x[r * d.W + q];
                const size_t o = ((size_t)bc * OH + i) * OW + j;
                bad += c.out[o] != best || c.argmax[o] < 0 || c.argmax[o] >= d.H * d.W ||
                       x[c.argmax[o]] != best;
            }
    CHECK(bad == 0, "%s: %d windows whose output or argmax is not the window's maximum", tag, bad);

    float *pi = fvec(n);
    fill(pi, n, &rng, -1, 1);
    float *ai = fdup(pi, n);
    maxpoolg_backward(ai, c.r, c.argmax, &d);
    snprintf(what, sizeof what, "%s dinp accumulates", tag);
    check_accum(what, ai, pi, dinp, n);
    snprintf(what, sizeof what, "%s dinp", tag);
    FD_CHECK(what, c.inp, n, dinp, poolg_loss, &c, seed + 1);
    free(c.inp); free(c.out); free(c.r); free(c.argmax); free(perm); free(dinp); free(pi); free(ai);
}

TEST(gradcheck_maxpoolg) {
    dann_set_threads(1);
    poolg_case((maxpoolg_dims){.B = 2, .C = 2, .H = 5, .W = 7, .K = 2, .stride = 2}, 111);
    /* overlapping 3x3 windows at stride 2 (paper-svhn's pool): shared elements get both sums */
    poolg_case((maxpoolg_dims){.B = 2, .C = 2, .H = 9, .W = 8, .K = 3, .stride = 2}, 112);
    poolg_case((maxpoolg_dims){.B = 1, .C = 3, .H = 7, .W = 6, .K = 3, .stride = 1}, 113);
    /* padding with stride; K 2 pad 1: the corner windows hold a single plane element */
    poolg_case((maxpoolg_dims){.B = 2, .C = 2, .H = 6, .W = 7, .K = 3, .stride = 2, .pad = 1}, 114);
    poolg_case((maxpoolg_dims){.B = 2, .C = 2, .H = 5, .W = 4, .K = 2, .stride = 2, .pad = 1}, 115);
    poolg_case((maxpoolg_dims){.B = 1, .C = 2, .H = 4, .W = 5, .K = 2, .stride = 1, .pad = 1}, 116);
    /* a window as large as the padded plane; a kernel longer than the stride by 2 */
    poolg_case((maxpoolg_dims){.B = 2, .C = 1, .H = 3, .W = 4, .K = 4, .stride = 3, .pad = 1}, 117);
    poolg_case((maxpoolg_dims){.B = 1, .C = 2, .H = 8, .W = 9, .K = 5, .stride = 3, .pad = 2}, 118);
}

/* ---- sigmoid ---- */

typedef struct { size_t n; float *inp, *out, *r; } sig_ctx;

static double sig_loss(void *p) {
    sig_ctx *c = p;
    sigmoid_forward(c->out, c->inp, c->n);
    return dot(c->out, c->r, c->n);
}

TEST(gradcheck_sigmoid) {
    dann_set_threads(1);
    dann_rng rng;
    rng_seed(&rng, 121);
    sig_ctx c = {.n = 200};
    c.inp = fvec(c.n); c.out = fvec(c.n); c.r = fvec(c.n);
    fill(c.inp, c.n, &rng, -6, 6);
    fill(c.r, c.n, &rng, -1, 1);
    float *dinp = fvec(c.n);
    sig_loss(&c);
    sigmoid_backward(dinp, c.r, c.out, c.n);
    float *pi = fvec(c.n);
    fill(pi, c.n, &rng, -1, 1);
    float *ai = fdup(pi, c.n);
    sigmoid_backward(ai, c.r, c.out, c.n);
    check_accum("sigmoid dinp accumulates", ai, pi, dinp, c.n);
    FD_CHECK("sigmoid dinp", c.inp, c.n, dinp, sig_loss, &c, 122);

    /* Large |x|: exact limits, no inf/NaN; tiny outputs keep their relative precision
     * (sigmoid(-80) = e^-80 to float rounding); in place; NaN stays NaN. */
    float x[8] = {-1e30f, -200.0f, -80.0f, -20.0f, 20.0f, 200.0f, 1e30f, NAN};
    float y[8];
    sigmoid_forward(y, x, 8);
    CHECK(y[0] == 0.0f && y[1] == 0.0f && y[5] == 1.0f && y[6] == 1.0f,
          "sigmoid limits: %g %g %g %g", y[0], y[1], y[5], y[6]);
    CHECK(fabs(y[2] / exp(-80.0) - 1) < 1e-6, "sigmoid(-80) = %g, e^-80 = %g", y[2], exp(-80.0));
    CHECK(fabs(y[3] * (1 + exp(20.0)) - 1) < 1e-6 && y[4] == 1.0f, "sigmoid(+-20) = %.9g %.9g",
          y[3], y[4]);
    CHECK(isnan(y[7]), "sigmoid(NaN) = %g", y[7]);
    sigmoid_forward(x, x, 8);
    CHECK(!memcmp(x, y, 7 * sizeof *x), "sigmoid in place differs");
    free(c.inp); free(c.out); free(c.r); free(dinp); free(pi); free(ai);
}

/* ---- Linear on a sparse CSR input ---- */

typedef struct {
    int B, IN, OUT;
    int64_t *rowptr;
    int32_t *col;
    float *val, *w, *b, *out, *r;
} sp_ctx;

static double sp_loss(void *p) {
    sp_ctx *c = p;
    linear_sparse_forward(c->out, c->rowptr, c->col, c->val, c->w, c->b, c->B, c->IN, c->OUT);
    return dot(c->out, c->r, (size_t)c->B * c->OUT);
}

/* A random CSR batch: row i keeps each column with probability density; row 1 is empty. */
static void sp_setup(sp_ctx *c, float density, dann_rng *rng) {
    c->rowptr = calloc((size_t)c->B + 1, sizeof *c->rowptr);
    c->col = calloc((size_t)c->B * c->IN, sizeof *c->col);
    c->val = fvec((size_t)c->B * c->IN);
    if (!c->rowptr || !c->col) abort();
    int64_t k = 0;
    for (int i = 0; i < c->B; i++) {
        for (int j = 0; j < c->IN; j++)
            if (i != 1 && rng_uniform(rng) < density) {
                c->col[k] = j;
                c->val[k++] = 2 * rng_uniform(rng) - 1;
            }
        c->rowptr[i + 1] = k;
    }
    c->w = fvec((size_t)c->OUT * c->IN); c->b = fvec(c->OUT);
    c->out = fvec((size_t)c->B * c->OUT); c->r = fvec((size_t)c->B * c->OUT);
    fill(c->w, (size_t)c->OUT * c->IN, rng, -0.5f, 0.5f);
    fill(c->b, c->OUT, rng, -0.5f, 0.5f);
    fill(c->r, (size_t)c->B * c->OUT, rng, -1, 1);
}

static void sp_case(int B, int IN, int OUT, float density, uint64_t seed) {
    char tag[64], what[128];
    snprintf(tag, sizeof tag, "linear_sparse B%d IN%d OUT%d", B, IN, OUT);
    dann_rng rng;
    rng_seed(&rng, seed);
    sp_ctx c = {.B = B, .IN = IN, .OUT = OUT};
    sp_setup(&c, density, &rng);
    const size_t n_w = (size_t)OUT * IN, n_out = (size_t)B * OUT;
    float *dw = fvec(n_w), *db = fvec(OUT);
    sp_loss(&c);
    linear_sparse_backward(dw, db, c.r, c.rowptr, c.col, c.val, B, IN, OUT);

    /* The dense layer on the densified batch: the same function (different summation order). */
    float *x = fvec((size_t)B * IN), *y = fvec(n_out), *dwd = fvec(n_w), *dbd = fvec(OUT);
    for (int i = 0; i < B; i++)
        for (int64_t k = c.rowptr[i]; k < c.rowptr[i + 1]; k++) x[(size_t)i * IN + c.col[k]] = c.val[k];
    linear_forward(y, x, c.w, c.b, B, IN, OUT);
    linear_backward(NULL, dwd, dbd, c.r, x, c.w, B, IN, OUT);
    snprintf(what, sizeof what, "%s out vs dense", tag);
    CHECK_CLOSE(what, c.out, y, n_out, 1e-5, 1e-5);
    snprintf(what, sizeof what, "%s dw vs dense", tag);
    CHECK_CLOSE(what, dw, dwd, n_w, 1e-5, 1e-5);
    snprintf(what, sizeof what, "%s db vs dense", tag);
    CHECK_CLOSE(what, db, dbd, OUT, 1e-5, 1e-5);

    float *pw = fvec(n_w), *pb = fvec(OUT);
    fill(pw, n_w, &rng, -1, 1); fill(pb, OUT, &rng, -1, 1);
    float *aw = fdup(pw, n_w), *ab = fdup(pb, OUT);
    linear_sparse_backward(aw, ab, c.r, c.rowptr, c.col, c.val, B, IN, OUT);
    snprintf(what, sizeof what, "%s dw accumulates", tag);
    check_accum(what, aw, pw, dw, n_w);
    snprintf(what, sizeof what, "%s db accumulates", tag);
    check_accum(what, ab, pb, db, OUT);

    snprintf(what, sizeof what, "%s dw", tag);
    FD_CHECK(what, c.w, n_w, dw, sp_loss, &c, seed + 1);
    snprintf(what, sizeof what, "%s db", tag);
    FD_CHECK(what, c.b, OUT, db, sp_loss, &c, seed + 2);
    /* the input's own values: the layer is linear in them too (d/dval[k] = r[i,:] . w[:,col]) */
    float *dval = fvec((size_t)c.rowptr[B]);
    for (int i = 0; i < B; i++)
        for (int64_t k = c.rowptr[i]; k < c.rowptr[i + 1]; k++)
            for (int o = 0; o < OUT; o++) dval[k] += c.r[(size_t)i * OUT + o] * c.w[(size_t)o * IN + c.col[k]];
    snprintf(what, sizeof what, "%s forward in val", tag);
    FD_CHECK(what, c.val, (size_t)c.rowptr[B], dval, sp_loss, &c, seed + 3);

    free(c.rowptr); free(c.col); free(c.val); free(c.w); free(c.b); free(c.out); free(c.r);
    free(dw); free(db); free(x); free(y); free(dwd); free(dbd); free(pw); free(pb); free(aw);
    free(ab); free(dval);
}

TEST(gradcheck_linear_sparse) {
    dann_set_threads(1);
    sp_case(4, 23, 9, 0.3f, 131);  /* OUT 9: two 4-row blocks and a single row */
    sp_case(3, 40, 3, 0.2f, 132);  /* OUT < 4: the remainder path only */
    dann_set_threads(2);
    sp_case(5, 30, 13, 0.25f, 133);
    dann_set_threads(1);
}
