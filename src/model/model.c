/* model.c - architecture-independent model machinery: allocation from the architecture's
 * tensor table (one flat parameter buffer, one flat gradient buffer with the same layout, one
 * BatchNorm state buffer), PyTorch-default initialisation, accessors and the eval forward. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "model/model.h"
#ifdef _OPENMP
#include <omp.h>
#endif

const arch_ops *arch_find(const char *name) {
    static const arch_ops *const all[] = {&arch_py3};
    for (size_t i = 0; i < sizeof all / sizeof *all; i++)
        if (strcmp(all[i]->name, name) == 0) return all[i];
    return NULL;
}

static size_t spec_numel(const tensor_spec *t) {
    size_t n = 1;
    for (int d = 0; d < t->ndim; d++) n *= (size_t)t->shape[d];
    return n;
}

/* torch's defaults: conv/linear weights kaiming_uniform_(a=sqrt(5)), whose bound
 * gain*sqrt(3/fan_in) with gain = sqrt(2/(1+5)) is 1/sqrt(fan_in); biases uniform(+-1/sqrt(fan_in));
 * BatchNorm weight 1, bias 0; running mean 0, running variance 1. */
static void init_tensor(float *x, const tensor_spec *t, dann_rng *rng) {
    size_t n = spec_numel(t);
    float bound = (float)(1.0 / sqrt((double)t->fan_in));
    for (size_t i = 0; i < n; i++) {
        switch (t->init) {
        case INIT_KAIMING:
        case INIT_FANIN: x[i] = (2.0f * rng_uniform(rng) - 1.0f) * bound; break;
        case INIT_ONE: x[i] = 1.0f; break;
        default: x[i] = 0.0f; break;
        }
    }
}

static int omp_procs(void) {
#ifdef _OPENMP
    int n = omp_get_num_procs();
    return n < 1 ? 1 : n > 64 ? 64 : n;
#else
    return 1;
#endif
}

int model_slots(const dann_model *m) {
    int t = dann_get_threads();
    return t < m->slots ? t : m->slots;
}

int model_tensor_index(const dann_model *m, const char *name) {
    for (int i = 0; i < m->arch->n_tensors; i++)
        if (strcmp(m->arch->tensors[i].name, name) == 0) return i;
    return -1;
}

static dann_status pass_alloc(pass_t *p, float *grads, const arch_ops *a, int B, dann_error *err) {
    memset(p, 0, sizeof *p);
    size_t na = a->acts_floats(B), ni = a->idx_count(B);
    p->acts = dann_calloc(na, sizeof(float), err);
    p->idx = dann_calloc(ni, sizeof(int32_t), err);
    p->grads = grads;
    if (!p->acts || !p->idx) return DANN_ERR_NOMEM;
    a->bind(p, B);
    return DANN_OK;
}

static void pass_free(pass_t *p) {
    free(p->acts);
    free(p->idx);
}

dann_status dann_model_new(dann_model **out, const char *arch, uint64_t seed, int max_batch,
                           dann_error *err) {
    *out = NULL;
    const arch_ops *a = arch_find(arch);
    if (!a) return dann_fail(err, DANN_ERR_ARG, "unknown architecture '%s' (known: py3)", arch);
    if (max_batch < 1 || max_batch > (1 << 16))
        return dann_fail(err, DANN_ERR_ARG, "batch size %d out of range [1, 65536]", max_batch);
    DANN_ASSERT(a->n_tensors <= MODEL_MAX_TENSORS);
    dann_model *m = dann_calloc(1, sizeof *m, err);
    if (!m) return DANN_ERR_NOMEM;
    m->arch = a;
    m->max_batch = max_batch;
    for (int i = 0; i < a->n_tensors; i++) {
        if (a->tensors[i].kind == TENSOR_PARAM) m->n_params += spec_numel(&a->tensors[i]);
        if (a->tensors[i].kind == TENSOR_STATE) m->n_state += spec_numel(&a->tensors[i]);
    }
    m->params = dann_calloc(m->n_params, sizeof(float), err);
    m->grad = dann_calloc(m->n_params, sizeof(float), err);
    m->state = dann_calloc(m->n_state, sizeof(float), err);
    // Scratch for every processor (about 1 MB each), so raising the thread count later is safe.
    m->slots = dann_get_threads() > omp_procs() ? dann_get_threads() : omp_procs();
    m->scratch = dann_calloc(a->scratch_floats(max_batch, m->slots), sizeof(float), err);
    m->agrad = dann_calloc(a->grads_floats(max_batch), sizeof(float), err);
    if (!m->params || !m->grad || !m->state || !m->scratch || !m->agrad ||
        pass_alloc(&m->pass[0], m->agrad, a, max_batch, err) ||
        pass_alloc(&m->pass[1], m->agrad, a, max_batch, err)) {
        dann_model_free(m);
        return DANN_ERR_NOMEM;
    }
    size_t po = 0, so = 0;
    dann_rng rng;
    rng_seed(&rng, seed);
    for (int i = 0; i < a->n_tensors; i++) {
        const tensor_spec *t = &a->tensors[i];
        if (t->kind == TENSOR_PARAM) {
            m->t[i] = m->params + po;
            m->g[i] = m->grad + po;
            po += spec_numel(t);
        } else if (t->kind == TENSOR_STATE) {
            m->t[i] = m->state + so;
            so += spec_numel(t);
        }
        if (m->t[i]) init_tensor(m->t[i], t, &rng);
    }
    *out = m;
    return DANN_OK;
}

void dann_model_free(dann_model *m) {
    if (!m) return;
    free(m->params);
    free(m->grad);
    free(m->state);
    free(m->scratch);
    free(m->agrad);
    pass_free(&m->pass[0]);
    pass_free(&m->pass[1]);
    free(m);
}

const char *dann_model_arch(const dann_model *m) { return m->arch->name; }

void dann_model_shape(const dann_model *m, int *c, int *h, int *w, int *n_classes) {
    if (c) *c = m->arch->in_c;
    if (h) *h = m->arch->in_h;
    if (w) *w = m->arch->in_w;
    if (n_classes) *n_classes = m->arch->n_classes;
}

int dann_model_max_batch(const dann_model *m) { return m->max_batch; }

float *dann_model_params(dann_model *m, size_t *n) {
    if (n) *n = m->n_params;
    return m->params;
}

float *dann_model_state(dann_model *m, size_t *n) {
    if (n) *n = m->n_state;
    return m->state;
}

int dann_model_tensors(const dann_model *m, int i, dann_tensor_info *info) {
    const arch_ops *a = m->arch;
    if (info && i >= 0 && i < a->n_tensors) {
        const tensor_spec *t = &a->tensors[i];
        memset(info, 0, sizeof *info);
        info->name = t->name;
        info->kind = t->kind;
        info->ndim = t->ndim;
        for (int d = 0; d < t->ndim; d++) info->shape[d] = t->shape[d];
        info->numel = spec_numel(t);
        if (t->kind == TENSOR_PARAM) info->offset = (size_t)(m->t[i] - m->params);
        if (t->kind == TENSOR_STATE) info->offset = (size_t)(m->t[i] - m->state);
    }
    return a->n_tensors;
}

int64_t dann_model_bn_count(const dann_model *m, int i) {
    DANN_ASSERT(i >= 0 && i < m->arch->n_tensors && m->arch->tensors[i].kind == TENSOR_BN_COUNT);
    return m->bn_count[i];
}

void dann_model_set_bn_count(dann_model *m, int i, int64_t count) {
    DANN_ASSERT(i >= 0 && i < m->arch->n_tensors && m->arch->tensors[i].kind == TENSOR_BN_COUNT);
    m->bn_count[i] = count;
}

void dann_model_predict(dann_model *m, const float *x, int B, float *logp) {
    const arch_ops *a = m->arch;
    const size_t img = (size_t)a->in_c * a->in_h * a->in_w;
    for (int done = 0; done < B; done += m->max_batch) {
        int n = B - done < m->max_batch ? B - done : m->max_batch;
        pass_t *p = &m->pass[0];
        a->forward(m, p, x + (size_t)done * img, n, 0, HEAD_CLASS, NULL);
        memcpy(logp + (size_t)done * a->n_classes, p->logp_class,
               (size_t)n * a->n_classes * sizeof(float));
    }
}

int dann_model_feature_dim(const dann_model *m) { return m->arch->feature_dim; }

void dann_model_features(dann_model *m, const float *x, int B, float *feat) {
    const arch_ops *a = m->arch;
    const size_t img = (size_t)a->in_c * a->in_h * a->in_w, F = (size_t)a->feature_dim;
    for (int done = 0; done < B; done += m->max_batch) {
        int n = B - done < m->max_batch ? B - done : m->max_batch;
        pass_t *p = &m->pass[0];
        a->forward(m, p, x + (size_t)done * img, n, 0, 0, NULL);
        memcpy(feat + (size_t)done * F, p->feat, (size_t)n * F * sizeof(float));
    }
}

void dann_threads_set(int n) { dann_set_threads(n); }
