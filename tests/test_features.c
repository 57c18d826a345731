/* test_features.c - dann_model_features: the eval-mode features both heads read.
 *
 * With PyTorch-trained weights (tests/fixtures/torch_py3_weights.safetensors) the features of 16
 * synthetic images are pushed through the class head written out here as plain loops (Linear,
 * BatchNorm with running statistics, ReLU, log-softmax, in double); the result must equal the
 * log-probabilities PyTorch computed (torch_py3_eval.safetensors) and dann_model_predict's. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "data/data.h"
#include "io/interchange.h"
#include "io/safetensors.h"
#include "test.h"

#define WEIGHTS_FIXTURE "tests/fixtures/torch_py3_weights.safetensors"
#define EVAL_FIXTURE "tests/fixtures/torch_py3_eval.safetensors"

static const float *tensor(dann_model *m, const char *name) {
    size_t np, ns;
    float *p = dann_model_params(m, &np), *s = dann_model_state(m, &ns);
    for (int i = 0; i < dann_model_tensors(m, 0, NULL); i++) {
        dann_tensor_info ti;
        dann_model_tensors(m, i, &ti);
        if (!strcmp(ti.name, name)) return (ti.kind == 0 ? p : s) + ti.offset;
    }
    return NULL;
}

/* out (OUT) = W (OUT,IN) x + b, in double */
static void fc(double *out, const double *x, const float *w, const float *b, int IN, int OUT) {
    for (int o = 0; o < OUT; o++) {
        double s = b[o];
        for (int i = 0; i < IN; i++) s += (double)w[(size_t)o * IN + i] * x[i];
        out[o] = s;
    }
}

/* eval BatchNorm1d then ReLU, in place */
static void bn_relu(double *x, dann_model *m, const char *prefix, int N) {
    char n[128];
    snprintf(n, sizeof n, "%s.weight", prefix);
    const float *g = tensor(m, n);
    snprintf(n, sizeof n, "%s.bias", prefix);
    const float *b = tensor(m, n);
    snprintf(n, sizeof n, "%s.running_mean", prefix);
    const float *rm = tensor(m, n);
    snprintf(n, sizeof n, "%s.running_var", prefix);
    const float *rv = tensor(m, n);
    for (int i = 0; i < N; i++) {
        double y = (x[i] - rm[i]) / sqrt((double)rv[i] + 1e-5) * g[i] + b[i];
        x[i] = y > 0 ? y : 0;
    }
}

TEST(model_features_feed_the_class_head) {
    dann_model *m = NULL;
    dann_error err = {0};
    st_file f = {0};
    if (dann_model_new(&m, "py3", 1, 16, &err) || interchange_import(m, WEIGHTS_FIXTURE, &err) ||
        st_read(&f, EVAL_FIXTURE, &err)) {
        CHECK(0, "setup: %s", err.msg);
        dann_model_free(m);
        return;
    }
    const st_tensor *u8 = st_find(&f, "synth_u8"), *want = st_find(&f, "synth_logp");
    CHECK(u8 && want && u8->numel == 16 * 3 * 28 * 28, "fixture lacks synth_u8/synth_logp");
    if (!u8 || !want || u8->numel != 16 * 3 * 28 * 28) goto done;
    int B = 16, F = dann_model_feature_dim(m);
    static float x[16 * 3 * 28 * 28];
    dataset ds = {.n = B, .c = 3, .h = 28, .w = 28, .pix = (uint8_t *)u8->data, .n_classes = 10,
                  .mean = {0.5f, 0.5f, 0.5f}, .std = {0.5f, 0.5f, 0.5f}};
    int32_t idx[16];
    for (int i = 0; i < B; i++) idx[i] = i;
    dataset_gather(x, NULL, &ds, idx, B, 3);
    CHECK(F == 800, "py3 feature dim %d, want 800", F);
    float *feat = calloc((size_t)B * F, sizeof(float)), *logp = calloc((size_t)B * 10, sizeof(float));
    float *mine = calloc((size_t)B * 10, sizeof(float));
    dann_model_features(m, x, B, feat);
    dann_model_predict(m, x, B, logp);
    for (int b = 0; b < B; b++) {
        double in[800], h1[100], h2[100], o[10];
        for (int i = 0; i < F; i++) in[i] = feat[(size_t)b * F + i];
        fc(h1, in, tensor(m, "class_classifier.c_fc1.weight"), tensor(m, "class_classifier.c_fc1.bias"), 800, 100);
        bn_relu(h1, m, "class_classifier.c_bn1", 100);
        fc(h2, h1, tensor(m, "class_classifier.c_fc2.weight"), tensor(m, "class_classifier.c_fc2.bias"), 100, 100);
        bn_relu(h2, m, "class_classifier.c_bn2", 100);
        fc(o, h2, tensor(m, "class_classifier.c_fc3.weight"), tensor(m, "class_classifier.c_fc3.bias"), 100, 10);
        double mx = o[0], s = 0;
        for (int k = 1; k < 10; k++) mx = o[k] > mx ? o[k] : mx;
        for (int k = 0; k < 10; k++) s += exp(o[k] - mx);
        for (int k = 0; k < 10; k++) mine[b * 10 + k] = (float)(o[k] - mx - log(s));
    }
    double w1 = CHECK_CLOSE("class head on features vs PyTorch", mine, (const float *)want->data,
                            (size_t)B * 10, 1e-4, 1e-4);
    double w2 = CHECK_CLOSE("class head on features vs predict", mine, logp, (size_t)B * 10, 1e-4, 1e-4);
    printf("    worst |a-b| vs PyTorch %.3g, vs dann_model_predict %.3g\n", w1, w2);
    free(feat);
    free(logp);
    free(mine);
done:
    st_free(&f);
    dann_model_free(m);
}
