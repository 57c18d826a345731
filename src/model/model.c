/* model.c - model machinery: a network (preset or description) compiled into its plan, the
 * allocation from the plan's tensor table (one flat parameter buffer, one flat gradient buffer
 * with the same layout, one BatchNorm state buffer), PyTorch-default initialisation, accessors
 * and the eval forward. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "model/model.h"
#ifdef _OPENMP
#include <omp.h>
#endif

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
    for (int i = 0; i < m->net->n_tensors; i++)
        if (strcmp(m->net->tensors[i].name, name) == 0) return i;
    return -1;
}

static dann_status pass_alloc(const dann_model *m, pass_t *p, dann_error *err) {
    memset(p, 0, sizeof *p);
    p->cap = m->max_batch;
    p->acts = dann_calloc(model_acts_floats(m), sizeof(float), err);
    p->idx = dann_calloc(model_idx_count(m) + 1, sizeof(int32_t), err);
    p->grads = m->agrad;
    if (!p->acts || !p->idx) return DANN_ERR_NOMEM;
    model_bind_pass(m, p);
    return DANN_OK;
}

/* Parses `arch` (preset name or description) into d; *preset receives the preset name or "". */
static dann_status resolve(net_desc *d, const char *arch, const char **preset, dann_error *err) {
    const char *text = net_preset(arch);
    *preset = text ? arch : "";
    return net_parse(d, text ? text : arch, err);
}

int dann_net_is_preset(const char *arch) { return net_preset(arch) != NULL; }

dann_status dann_net_info(const char *arch, int *c, int *h, int *w, int *n_classes,
                          int *is_vector, dann_error *err) {
    net_desc d;
    const char *preset;
    dann_status st = resolve(&d, arch, &preset, err);
    if (st) return st;
    net_plan *P = dann_calloc(1, sizeof *P, err);
    if (!P) return DANN_ERR_NOMEM;
    if (!(st = net_compile(P, &d, err))) {
        if (c) *c = P->in_c;
        if (h) *h = P->in_h;
        if (w) *w = P->in_w;
        if (n_classes) *n_classes = P->n_classes;
        if (is_vector) *is_vector = P->vec;
    }
    free(P);
    return st;
}

dann_status dann_net_adapt(char *buf, size_t cap, const char *arch, int c, int h, int w,
                           int n_classes, dann_error *err) {
    net_desc d;
    const char *preset;
    dann_status st = resolve(&d, arch, &preset, err);
    if (st) return st;
    if (c > 0) d.c = c;
    if (!d.vec && h > 0) d.h = h;
    if (!d.vec && w > 0) d.w = w;
    if (n_classes > 0) d.l[SEC_CLASS][d.n[SEC_CLASS] - 1].n = n_classes;
    net_plan *P = dann_calloc(1, sizeof *P, err);
    if (!P) return DANN_ERR_NOMEM;
    st = net_compile(P, &d, err);
    if (!st && net_format(&d, buf, cap) >= cap)
        st = dann_fail(err, DANN_ERR_ARG, "network description longer than %zu characters", cap - 1);
    free(P);
    return st;
}

static void pass_free(pass_t *p) {
    free(p->acts);
    free(p->idx);
}

dann_status dann_model_new(dann_model **out, const char *arch, uint64_t seed, int max_batch,
                           dann_error *err) {
    *out = NULL;
    if (max_batch < 1 || max_batch > (1 << 16))
        return dann_fail(err, DANN_ERR_ARG, "batch size %d out of range [1, 65536]", max_batch);
    net_desc d;
    const char *preset;
    dann_status st = resolve(&d, arch, &preset, err);
    if (st) return st;
    dann_model *m = dann_calloc(1, sizeof *m, err);
    if (!m) return DANN_ERR_NOMEM;
    m->net = dann_calloc(1, sizeof *m->net, err);
    if (!m->net) {
        free(m);
        return DANN_ERR_NOMEM;
    }
    if ((st = net_compile(m->net, &d, err))) {
        dann_model_free(m);
        return st;
    }
    const net_plan *a = m->net;
    const char *same = preset[0] ? preset : net_preset_of(m->net->text);
    snprintf(m->net->preset, sizeof m->net->preset, "%s", same ? same : "");
    m->max_batch = max_batch;
    double bytes = 0;
    for (int i = 0; i < a->n_tensors; i++) {
        if (a->tensors[i].kind == TENSOR_PARAM) m->n_params += spec_numel(&a->tensors[i]);
        if (a->tensors[i].kind == TENSOR_STATE) m->n_state += spec_numel(&a->tensors[i]);
    }
    bytes = 4.0 * (3.0 * m->n_params + m->n_state) +
            4.0 * max_batch * (2.0 * a->act_per_image + a->grad_per_image + 2.0 * a->idx_per_image);
    if (bytes > 64e9) {
        dann_model_free(m);
        return dann_fail(err, DANN_ERR_ARG, "network too large: %.1f GB of parameters and "
                         "activations at batch %d", bytes / 1e9, max_batch);
    }
    m->params = dann_calloc(m->n_params, sizeof(float), err);
    m->grad = dann_calloc(m->n_params, sizeof(float), err);
    m->state = dann_calloc(m->n_state, sizeof(float), err);
    // Scratch for every processor (about 1 MB each), so raising the thread count later is safe.
    m->slots = dann_get_threads() > omp_procs() ? dann_get_threads() : omp_procs();
    m->scratch = dann_calloc(net_scratch_floats(a, max_batch, m->slots) + 1, sizeof(float), err);
    m->agrad = dann_calloc(a->grad_per_image * (size_t)max_batch + 1, sizeof(float), err);
    m->rowbuf = dann_calloc((size_t)max_batch + 1, sizeof(int64_t), err);
    if (!m->params || !m->grad || !m->state || !m->scratch || !m->agrad || !m->rowbuf ||
        pass_alloc(m, &m->pass[0], err) || pass_alloc(m, &m->pass[1], err)) {
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
    free(m->rowbuf);
    free(m->part);
    free(m->dpart);
    pass_free(&m->pass[0]);
    pass_free(&m->pass[1]);
    free(m->net);
    free(m);
}

const char *dann_model_arch(const dann_model *m) {
    return m->net->preset[0] ? m->net->preset : "custom";
}

const char *dann_model_description(const dann_model *m) { return m->net->text; }

void dann_model_shape(const dann_model *m, int *c, int *h, int *w, int *n_classes) {
    if (c) *c = m->net->in_c;
    if (h) *h = m->net->in_h;
    if (w) *w = m->net->in_w;
    if (n_classes) *n_classes = m->net->n_classes;
}

int dann_model_input_is_vector(const dann_model *m) {
    if (!m->net->vec) return 0;
    return m->net->ops[0].kind == OP_FC ? 2 : 1;
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
    const net_plan *a = m->net;
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
    DANN_ASSERT(i >= 0 && i < m->net->n_tensors && m->net->tensors[i].kind == TENSOR_BN_COUNT);
    return m->bn_count[i];
}

void dann_model_set_bn_count(dann_model *m, int i, int64_t count) {
    DANN_ASSERT(i >= 0 && i < m->net->n_tensors && m->net->tensors[i].kind == TENSOR_BN_COUNT);
    m->bn_count[i] = count;
}

/* Runs the eval forward over in in chunks of the model's max batch; out receives, per example,
 * `per` floats from the pass buffer that pick() names. */
static void eval_chunks(dann_model *m, const dann_input *in, int heads, float *out, size_t per,
                        float *(*pick)(pass_t *)) {
    const net_plan *a = m->net;
    const size_t img = (size_t)a->in_c * a->in_h * a->in_w;
    for (int done = 0; done < in->B; done += m->max_batch) {
        const int n = in->B - done < m->max_batch ? in->B - done : m->max_batch;
        dann_input chunk = {.B = n};
        if (in->x) {
            chunk.x = in->x + (size_t)done * img;
        } else {  // the chunk's rows, their offsets rebased to its first non-zero
            const int64_t base = in->rowptr[done];
            for (int b = 0; b <= n; b++) m->rowbuf[b] = in->rowptr[done + b] - base;
            chunk.rowptr = m->rowbuf, chunk.col = in->col + base, chunk.val = in->val + base;
        }
        pass_t *p = &m->pass[0];
        model_forward(m, p, &chunk, 0, heads, NULL);
        memcpy(out + (size_t)done * per, pick(p), (size_t)n * per * sizeof(float));
    }
}
static float *pick_logp(pass_t *p) { return p->logp_class; }
static float *pick_feat(pass_t *p) { return p->feat; }

void dann_model_predict_input(dann_model *m, const dann_input *in, float *logp) {
    eval_chunks(m, in, HEAD_CLASS, logp, (size_t)m->net->n_classes, pick_logp);
}

void dann_model_predict(dann_model *m, const float *x, int B, float *logp) {
    const dann_input in = {.B = B, .x = x};
    dann_model_predict_input(m, &in, logp);
}

int dann_model_feature_dim(const dann_model *m) { return m->net->feature_dim; }

void dann_model_features_input(dann_model *m, const dann_input *in, float *feat) {
    eval_chunks(m, in, 0, feat, (size_t)m->net->feature_dim, pick_feat);
}

void dann_model_features(dann_model *m, const float *x, int B, float *feat) {
    const dann_input in = {.B = B, .x = x};
    dann_model_features_input(m, &in, feat);
}

void dann_threads_set(int n) { dann_set_threads(n); }
int dann_threads_get(void) { return dann_get_threads(); }
int dann_threads_usable(void) {
    const int cpus = dann_cpus_usable(), cap = dann_threads_address_cap();
    return cpus < cap ? cpus : cap;
}
