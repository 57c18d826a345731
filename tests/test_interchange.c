/* test_interchange.c - weights interchange with PyTorch (src/io/interchange.c):
 *   - C export -> C import restores every parameter, statistic and counter bit for bit, and the
 *     exported file has the reference's 39 state_dict names in the reference's order (read from
 *     the PyTorch-made fixture), dtypes and shapes;
 *   - weights saved by PyTorch (tests/fixtures/torch_py3_weights.safetensors, made by
 *     tools/make_interchange_fixture.py) import, and the C eval forward reproduces the
 *     log-probabilities PyTorch computed for 16 synthetic images (torch_py3_eval.safetensors);
 *   - on real data (when ../shared/data is present): the first 512 MNIST-M test images go through
 *     the C data pipeline and the imported model; predictions and log-probabilities are compared
 *     with the twin's (tools/dann_torch.py predict) stored in the fixture;
 *   - malformed weight files (missing, extra, mis-shaped, wrong dtype, non-finite tensors, other
 *     architecture) are rejected with the file and tensor named, leaving the model untouched. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "data/data.h"
#include "io/interchange.h"
#include "io/safetensors.h"
#include "model/evaluate.h"
#include "test.h"

#define WEIGHTS_FIXTURE "tests/fixtures/torch_py3_weights.safetensors"
#define EVAL_FIXTURE "tests/fixtures/torch_py3_eval.safetensors"
#define LOGP_ATOL 1e-4
#define LOGP_RTOL 1e-4

static dann_model *new_py3(uint64_t seed, int max_batch) {
    dann_model *m = NULL;
    dann_error err = {0};
    if (dann_model_new(&m, "py3", seed, max_batch, &err)) CHECK(0, "model: %s", err.msg);
    return m;
}

/* Gives the model statistics and counters that differ from the initial ones. */
static void perturb_state(dann_model *m, uint64_t seed) {
    dann_rng r;
    rng_seed(&r, seed);
    size_t ns;
    float *s = dann_model_state(m, &ns);
    for (size_t i = 0; i < ns; i++) s[i] = 0.05f + 2.0f * rng_uniform(&r);
    int n = dann_model_tensors(m, -1, NULL);
    for (int i = 0; i < n; i++) {
        dann_tensor_info ti;
        dann_model_tensors(m, i, &ti);
        if (ti.kind == 2) dann_model_set_bn_count(m, i, ((int64_t)1 << 33) + 1000 * i);
    }
}

static int64_t argmax(const float *v, int n) {
    int best = 0;
    for (int k = 1; k < n; k++)
        if (v[k] > v[best]) best = k;
    return best;
}

TEST(interchange_export_import_bit_exact) {
    char path[512], tmp[520];
    snprintf(path, sizeof path, "%s/w.safetensors", test_tmpdir());
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    dann_error err = {0};
    dann_model *a = new_py3(3, 1), *b = new_py3(99, 1);
    if (!a || !b) goto out;
    perturb_state(a, 5);
    const char *extra[2] = {"note", "round trip"};
    CHECK(!interchange_export(a, path, extra, 1, &err), "export: %s", err.msg);
    CHECK(access(tmp, F_OK) != 0, "%s left behind", tmp);

    /* Names, order, dtypes and shapes as PyTorch's state_dict (the fixture) has them. */
    st_file got, ref;
    if (st_read(&got, path, &err)) {
        CHECK(0, "read back: %s", err.msg);
        goto out;
    }
    if (st_read(&ref, WEIGHTS_FIXTURE, &err)) {
        CHECK(0, "fixture: %s", err.msg);
        st_free(&got);
        goto out;
    }
    CHECK(got.n == 39 && ref.n == 39, "%d tensors exported, %d in the PyTorch state_dict", got.n, ref.n);
    for (int i = 0; i < got.n && i < ref.n; i++) {
        const st_tensor *g = &got.t[i], *r = &ref.t[i];
        int same = !strcmp(g->name, r->name) && g->dtype == r->dtype && g->ndim == r->ndim;
        for (int d = 0; same && d < g->ndim; d++) same = g->shape[d] == r->shape[d];
        CHECK(same, "tensor %d: exported '%s' %s ndim %d, PyTorch has '%s' %s ndim %d", i, g->name,
              st_dtype_name(g->dtype), g->ndim, r->name, st_dtype_name(r->dtype), r->ndim);
    }
    const char *fmt = st_meta_get(&got, "format"), *arch = st_meta_get(&got, "dann_arch");
    const char *note = st_meta_get(&got, "note");
    CHECK(fmt && !strcmp(fmt, "pt"), "metadata format is %s", fmt ? fmt : "(missing)");
    CHECK(arch && !strcmp(arch, "py3"), "metadata dann_arch is %s", arch ? arch : "(missing)");
    CHECK(note && !strcmp(note, "round trip"), "extra metadata lost");
    const st_tensor *cnt = st_find(&got, "feature.f_bn2.num_batches_tracked");
    int64_t c = -1;
    if (cnt) memcpy(&c, cnt->data, sizeof c);
    CHECK(cnt && cnt->ndim == 0 && cnt->dtype == ST_I64 && c == ((int64_t)1 << 33) + 1000 * 13,
          "num_batches_tracked stored as %lld", (long long)c);
    st_free(&got);
    st_free(&ref);

    CHECK(!interchange_import(b, path, &err), "import: %s", err.msg);
    size_t npa, npb, nsa, nsb;
    float *pa = dann_model_params(a, &npa), *pb = dann_model_params(b, &npb);
    float *sa = dann_model_state(a, &nsa), *sb = dann_model_state(b, &nsb);
    CHECK(npa == npb && !memcmp(pa, pb, npa * sizeof *pa), "parameters differ after the round trip");
    CHECK(nsa == nsb && !memcmp(sa, sb, nsa * sizeof *sa), "running statistics differ after the round trip");
    int n = dann_model_tensors(a, -1, NULL);
    for (int i = 0; i < n; i++) {
        dann_tensor_info ti;
        dann_model_tensors(a, i, &ti);
        if (ti.kind == 2)
            CHECK(dann_model_bn_count(a, i) == dann_model_bn_count(b, i), "%s: %lld vs %lld", ti.name,
                  (long long)dann_model_bn_count(a, i), (long long)dann_model_bn_count(b, i));
    }
out:
    dann_model_free(a);
    dann_model_free(b);
}

/* Normalises uint8 images (n, 3, 28, 28) with MNIST-M's 0.5/0.5 through the data module. */
static void gather_u8(float *x, const uint8_t *u8, int n) {
    dataset ds = {.n = n, .c = 3, .h = 28, .w = 28, .pix = (uint8_t *)u8, .n_classes = 10,
                  .mean = {0.5f, 0.5f, 0.5f}, .std = {0.5f, 0.5f, 0.5f}};
    int32_t idx[64];
    for (int i = 0; i < n; i++) idx[i] = i;
    dataset_gather(x, NULL, &ds, idx, n, 3);
}

TEST(interchange_torch_weights_eval_logp) {
    dann_error err = {0};
    st_file ev;
    dann_model *m = new_py3(1, 16);
    if (!m) return;
    if (interchange_import(m, WEIGHTS_FIXTURE, &err)) {
        CHECK(0, "import: %s", err.msg);
        dann_model_free(m);
        return;
    }
    int n = dann_model_tensors(m, -1, NULL);
    for (int i = 0; i < n; i++) {
        dann_tensor_info ti;
        dann_model_tensors(m, i, &ti);
        /* 30 training steps, each forwarding the source and the target batch through every
         * BatchNorm (the class head runs on the target batch too, as in the reference). */
        if (ti.kind == 2)
            CHECK(dann_model_bn_count(m, i) == 60, "%s = %lld, PyTorch counted 60", ti.name,
                  (long long)dann_model_bn_count(m, i));
    }
    if (st_read(&ev, EVAL_FIXTURE, &err)) {
        CHECK(0, "%s", err.msg);
        dann_model_free(m);
        return;
    }
    const st_tensor *u8 = st_find(&ev, "synth_u8"), *want = st_find(&ev, "synth_logp");
    if (!u8 || !want || u8->numel != 16 * 3 * 28 * 28 || want->numel != 16 * 10) {
        CHECK(0, "%s: synth_u8 / synth_logp missing or mis-sized", EVAL_FIXTURE);
    } else {
        float *x = malloc(sizeof(float) * 16 * 3 * 28 * 28), logp[16 * 10];
        if (x) {
            gather_u8(x, u8->data, 16);
            dann_model_predict(m, x, 16, logp);
            double worst = CHECK_CLOSE("synthetic log-probabilities vs PyTorch", logp, want->data,
                                       160, LOGP_ATOL, LOGP_RTOL);
            printf("    synthetic: worst |logp - torch| = %.3g over 16 images\n", worst);
            for (int i = 0; i < 16; i++)
                CHECK(argmax(logp + 10 * i, 10) == argmax((const float *)want->data + 10 * i, 10),
                      "image %d: C predicts %lld, PyTorch %lld", i, (long long)argmax(logp + 10 * i, 10),
                      (long long)argmax((const float *)want->data + 10 * i, 10));
        }
        free(x);
    }
    st_free(&ev);
    dann_model_free(m);
}

TEST(interchange_torch_weights_mnistm_predictions) {
    enum { N = 512 };
    const char *root = test_shared_data();
    if (!root) SKIP("../shared/data not found");
    dann_error err = {0};
    st_file ev;
    if (st_read(&ev, EVAL_FIXTURE, &err)) {
        CHECK(0, "%s", err.msg);
        return;
    }
    const st_tensor *lab = st_find(&ev, "mnistm_label"), *tp = st_find(&ev, "mnistm_pred");
    const st_tensor *tl = st_find(&ev, "mnistm_logp"), *tm = st_find(&ev, "mnistm_margin");
    if (!lab || !tp || !tl || !tm) {
        st_free(&ev);
        SKIP("%s holds no MNIST-M predictions (made without the data)", EVAL_FIXTURE);
    }
    char spec[600];
    snprintf(spec, sizeof spec, "mnistm:%s/mnist_m", root);
    dataset ds = {0};
    dann_model *m = NULL;
    float *x = NULL, *logp = NULL;
    int32_t *pred = NULL;
    if (dataset_load(&ds, spec, DATA_TEST, 28, 28, &err)) {
        CHECK(0, "%s", err.msg);
        goto out;
    }
    if (!(m = new_py3(1, 64))) goto out;
    if (interchange_import(m, WEIGHTS_FIXTURE, &err)) {
        CHECK(0, "import: %s", err.msg);
        goto out;
    }
    CHECK(ds.n >= N && lab->numel == N, "%d images, %zu fixture labels", ds.n, lab->numel);
    if (ds.n < N || lab->numel != N) goto out;
    const int32_t *want_y = lab->data, *want_p = tp->data;
    const float *want_l = tl->data, *margin = tm->data;
    for (int i = 0; i < N; i++)
        if (ds.y[i] != want_y[i]) {
            CHECK(0, "image %d: label %d here, %d in the twin's labels-file order", i, ds.y[i], want_y[i]);
            goto out;
        }
    x = malloc(sizeof(float) * N * 3 * 28 * 28);
    logp = malloc(sizeof(float) * N * 10);
    pred = malloc(sizeof(int32_t) * N);
    if (!x || !logp || !pred) {
        CHECK(0, "out of memory");
        goto out;
    }
    int32_t idx[N];
    for (int i = 0; i < N; i++) idx[i] = i;
    dataset_gather(x, NULL, &ds, idx, N, 3);
    dann_model_predict(m, x, N, logp);
    double worst = CHECK_CLOSE("MNIST-M log-probabilities vs the twin", logp, want_l, N * 10,
                               LOGP_ATOL, LOGP_RTOL);
    /* The predictions may differ only where the twin's top-2 margin is within float summation
     * noise (the logps agree to ~1e-6): at most 3 images, each with a margin below 1e-4. */
    int differ = 0;
    float closest = INFINITY;
    for (int i = 0; i < N; i++) {
        if (margin[i] < closest) closest = margin[i];
        if (argmax(logp + 10 * i, 10) == want_p[i]) continue;
        differ++;
        CHECK(margin[i] < 1e-4f, "image %d: C predicts %lld, twin %d with a margin of %g", i,
              (long long)argmax(logp + 10 * i, 10), want_p[i], (double)margin[i]);
    }
    CHECK(differ <= 3, "%d of %d predictions differ", differ, N);
    /* The evaluation path (model_evaluate, batch by batch) gives the same predictions. */
    eval_result r;
    CHECK(!model_evaluate(m, &ds, N, NULL, pred, &r, &err), "%s", err.msg);
    int same = 0;
    for (int i = 0; i < N; i++) same += pred[i] == argmax(logp + 10 * i, 10);
    CHECK(same == N && r.n == N, "model_evaluate: %d of %d predictions as predicted directly", same, N);
    printf("    mnist-m test[:%d]: worst |logp - twin| = %.3g, %d predictions differ, smallest twin margin %.3g, accuracy %.4f\n",
           N, worst, differ, (double)closest, r.accuracy);
out:
    free(x);
    free(logp);
    free(pred);
    dann_model_free(m);
    dataset_free(&ds);
    st_free(&ev);
}

/* Rewrites the fixture's tensors into path with one change: `drop` omitted, `reshape` given
 * one element less in its first dimension, `retype` stored as I32, `extra` added, `nan_in`
 * holding a NaN, `arch_meta` as dann_arch metadata (NULL: none). */
typedef struct {
    const char *drop, *reshape, *retype, *extra, *nan_in, *arch_meta;
} edit;

static int write_edited(const st_file *src, const char *path, edit e, float *nanbuf) {
    st_writer w;
    dann_error err = {0};
    int ok = 1;
    int32_t i32 = 60;
    st_writer_init(&w);
    for (int i = 0; i < src->n && ok; i++) {
        const st_tensor *t = &src->t[i];
        int64_t shape[ST_MAX_DIMS];
        memcpy(shape, t->shape, sizeof shape);
        const void *data = t->data;
        st_dtype dt = t->dtype;
        if (e.drop && !strcmp(t->name, e.drop)) continue;
        if (e.reshape && !strcmp(t->name, e.reshape)) shape[0]--;
        if (e.retype && !strcmp(t->name, e.retype)) dt = ST_I32, data = &i32;
        if (e.nan_in && !strcmp(t->name, e.nan_in)) {
            memcpy(nanbuf, t->data, t->nbytes);
            nanbuf[t->numel / 2] = NAN;
            data = nanbuf;
        }
        ok = !st_writer_add(&w, t->name, dt, t->ndim, shape, data, &err);
    }
    float one = 1.0f;
    if (ok && e.extra) ok = !st_writer_add(&w, e.extra, ST_F32, 0, NULL, &one, &err);
    if (ok && e.arch_meta) ok = !st_writer_meta(&w, "dann_arch", e.arch_meta, &err);
    if (ok) ok = !st_write(&w, path, &err);
    st_writer_free(&w);
    return ok;
}

TEST(interchange_import_rejects_mismatched_files) {
    static const struct {
        edit e;
        const char *want1, *want2;
    } cases[] = {
        {{.drop = "class_classifier.c_fc2.bias"}, "class_classifier.c_fc2.bias", "missing"},
        {{.drop = "domain_classifier.d_bn1.num_batches_tracked"}, "d_bn1.num_batches_tracked", "missing"},
        {{.reshape = "feature.f_conv1.weight"}, "feature.f_conv1.weight", "[63, 3, 5, 5]"},
        {{.retype = "feature.f_bn1.num_batches_tracked"}, "f_bn1.num_batches_tracked", "I32"},
        {{.extra = "feature.f_conv3.weight"}, "feature.f_conv3.weight", "unexpected"},
        {{.nan_in = "class_classifier.c_fc1.weight"}, "class_classifier.c_fc1.weight", "non-finite"},
        {{.arch_meta = "paper_svhn"}, "paper_svhn", "architecture"},
    };
    dann_error err = {0};
    st_file src;
    if (st_read(&src, WEIGHTS_FIXTURE, &err)) {
        CHECK(0, "%s", err.msg);
        return;
    }
    float *nanbuf = malloc(100 * 800 * sizeof(float));
    dann_model *m = new_py3(4, 1);
    const char *dir = test_tmpdir();
    size_t np;
    float *p = dann_model_params(m, &np);
    float *before = malloc(np * sizeof *before);
    if (!nanbuf || !m || !before) goto out;
    memcpy(before, p, np * sizeof *p);
    for (size_t k = 0; k < sizeof cases / sizeof *cases; k++) {
        char path[512];
        snprintf(path, sizeof path, "%s/bad%zu.safetensors", dir, k);
        if (!write_edited(&src, path, cases[k].e, nanbuf)) {
            CHECK(0, "case %zu: could not write %s", k, path);
            continue;
        }
        memset(&err, 0, sizeof err);
        dann_status st = interchange_import(m, path, &err);
        CHECK(st == DANN_ERR_FORMAT, "case %zu: status %d (%s)", k, (int)st, err.msg);
        CHECK(strstr(err.msg, path) && strstr(err.msg, cases[k].want1) && strstr(err.msg, cases[k].want2),
              "case %zu: message '%s' should name the file, '%s' and '%s'", k, err.msg,
              cases[k].want1, cases[k].want2);
        CHECK(!strchr(err.msg, '\n'), "case %zu: message spans lines", k);
        CHECK(!memcmp(before, p, np * sizeof *p), "case %zu: a rejected file changed the model", k);
    }
out:
    free(before);
    free(nanbuf);
    dann_model_free(m);
    st_free(&src);
}
