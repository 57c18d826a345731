/* model.h - internal model machinery shared by the architectures, the training step and I/O.
 *
 * An architecture (py3.c, later paper_mnist.c, ...) is an arch_ops table: its tensor table (names
 * and shapes in PyTorch state_dict order), how much activation memory one pass needs, its
 * initialisation, and a forward and a backward that call the layer kernels in order / in
 * reverse, one line per kernel (llm.c style). Adding an architecture is adding a file and one
 * line in arch_find(). */
#ifndef DANN_MODEL_H
#define DANN_MODEL_H

#include "core/core.h"

enum { HEAD_CLASS = 1, HEAD_DOMAIN = 2 };
enum { TENSOR_PARAM = 0, TENSOR_STATE = 1, TENSOR_BN_COUNT = 2 };

typedef struct {
    const char *name;   /* PyTorch state_dict name */
    int kind;           /* TENSOR_PARAM, TENSOR_STATE or TENSOR_BN_COUNT */
    int ndim;
    int shape[4];
    int init;           /* for params: INIT_KAIMING (weights), INIT_FANIN (biases), INIT_ONE, INIT_ZERO */
    int fan_in;         /* for INIT_KAIMING / INIT_FANIN */
} tensor_spec;
enum { INIT_KAIMING = 0, INIT_FANIN, INIT_ONE, INIT_ZERO };

#define PASS_MAX_MASKS 4
#define MODEL_MAX_TENSORS 64

/* One forward pass: activations saved for backward, their gradients, and the outputs. */
typedef struct {
    int B;                         /* batch of the last forward */
    int heads;                     /* heads run by the last forward */
    int grey;                      /* the last forward's input had 3 equal channels */
    float *acts;                   /* arch-defined layout, acts_floats(max_batch) floats */
    float *grads;                  /* activation gradients (arch-defined layout, grads_floats):
                                      a workspace shared by both passes (one backward at a time) */
    int32_t *idx;                  /* maxpool argmax, idx_count(max_batch) */
    float *feat;                   /* (B, feature dim): the features both heads read */
    float *logp_class;             /* (B, n_classes), inside acts */
    float *logp_domain;            /* (B, 2), inside acts */
    float *dlogit_class;           /* (B, n_classes), this pass's own (inside acts) */
    float *dlogit_domain;          /* (B, 2), inside acts */
    int n_masks;                   /* dropout masks, in forward order */
    float *mask[PASS_MAX_MASKS];
    size_t mask_units[PASS_MAX_MASKS];  /* units per image */
    int masks_given;               /* 1: forward uses the masks as they are (tests replay torch) */
} pass_t;

typedef struct dann_model dann_model;

typedef struct arch_ops {
    const char *name;
    int in_c, in_h, in_w, n_classes, feature_dim;
    const tensor_spec *tensors;
    int n_tensors;
    size_t (*acts_floats)(int B);
    size_t (*grads_floats)(int B);
    size_t (*idx_count)(int B);
    size_t (*scratch_floats)(int B, int slots);
    /* Points p->logp_*, p->dlogit_*, p->mask[] into the pass buffers for batch capacity B. */
    void (*bind)(pass_t *p, int B);
    /* Forward x (B,C,H,W). training: batch-statistics BN (running stats updated) and dropout
     * (masks drawn from rng unless p->masks_given). heads: HEAD_CLASS | HEAD_DOMAIN. */
    void (*forward)(dann_model *m, pass_t *p, const float *x, int B, int training, int heads,
                    dann_rng *rng);
    /* Backward of the last training forward of p, from p->dlogit_class (if heads has
     * HEAD_CLASS) and p->dlogit_domain (if HEAD_DOMAIN, reversed by -lambda at the GRL);
     * accumulates into m->grad. It clears the shared activation-gradient workspace first; the
     * caller fills the dlogits (zeroed, then accumulated). The first layer's input gradient is
     * never computed. */
    void (*backward)(dann_model *m, pass_t *p, const float *x, int heads, float lambda);
    /* Floating-point operations (multiply and add counted separately) of the matrix products
     * and convolutions of one DANN step with Bs source and Bt target images, counting only
     * what the step computes (no input gradient for the first layer, no backward for the
     * target batch's class head). */
    double (*step_flops)(int Bs, int Bt);
} arch_ops;

struct dann_model {
    const arch_ops *arch;
    int max_batch;
    size_t n_params, n_state;
    float *params;                 /* flat, tensor-table order */
    float *grad;                   /* same layout as params */
    float *agrad;                  /* activation-gradient workspace shared by the passes */
    float *state;                  /* BN running mean/var, tensor-table order */
    int64_t bn_count[MODEL_MAX_TENSORS]; /* per TENSOR_BN_COUNT entry: torch num_batches_tracked */
    float *scratch;                /* shared im2col scratch, sized for `slots` threads */
    int slots;                     /* most threads a kernel may use (fixed at creation) */
    pass_t pass[2];                /* [0] source (and eval), [1] target */
    /* Per tensor-table entry: its data (in params or state) and, for parameters, its gradient
     * (in grad); NULL where not applicable. Architectures index these with their own enum. */
    float *t[MODEL_MAX_TENSORS];
    float *g[MODEL_MAX_TENSORS];
};

const arch_ops *arch_find(const char *name);
/* Threads the kernels may use now: the current setting, capped by the model's slots. */
int model_slots(const dann_model *m);
extern const arch_ops arch_py3;

/* Index of tensor `name` in the architecture's table, or -1. */
int model_tensor_index(const dann_model *m, const char *name);

#endif
