/* model.h - internal model machinery shared by the pipeline, the training step and I/O.
 *
 * A model is a compiled network plan (net.h: ops, tensor table, buffer offsets) plus its memory:
 * one flat parameter buffer addressed by the tensor table, a gradient buffer of the same layout,
 * the BatchNorm state buffer, and two passes (source and target) of activations. netrun.c runs
 * the plan's ops forward in order and backward in reverse, one kernel call per op (llm.c style). */
#ifndef DANN_MODEL_H
#define DANN_MODEL_H

#include "core/core.h"
#include "model/net.h"

enum { HEAD_CLASS = 1, HEAD_DOMAIN = 2 };

#define PASS_MAX_MASKS NET_MAX_MASKS
#define MODEL_MAX_TENSORS NET_MAX_TENSORS

/* One forward pass: activations saved for backward, their gradients, and the outputs. */
typedef struct {
    int B;                         /* batch of the last forward (this process's part) */
    int Bg, first;                 /* the whole batch, and the first example held here */
    int k0, k1;                    /* chunks held here (data-parallel; k1 = 0: not chunked) */
    int cap;                       /* batch capacity the buffers were allocated for */
    int heads;                     /* heads run by the last forward */
    int grey;                      /* the last forward's input had 3 equal channels */
    dann_input in;                 /* the last forward's input: the caller keeps it alive until
                                      the backward of that pass */
    float *acts;                   /* act_per_image * cap floats, then the stats area */
    float *stats;                  /* batch-independent floats (BatchNorm mean/rstd, ...) */
    float *grads;                  /* activation gradients: a workspace shared by both passes
                                      (one backward at a time) */
    int32_t *idx;                  /* max-pool winners */
    float *feat;                   /* (B, feature dim): the features both heads read */
    float *logp_class;             /* (B, n_classes) */
    float *logp_domain;            /* (B, 2) */
    float *dlogit_class;           /* (B, n_classes), this pass's own */
    float *dlogit_domain;          /* (B, 2) */
    int n_masks;                   /* dropout masks, in forward order (features, class, domain) */
    float *mask[PASS_MAX_MASKS];
    size_t mask_units[PASS_MAX_MASKS];  /* units per image: channels (dropout2d) or elements */
    int masks_given;               /* 1: forward uses the masks as they are (tests replay torch) */
} pass_t;

typedef struct dann_model dann_model;

struct dann_model {
    net_plan *net;
    int max_batch;
    size_t n_params, n_state;
    float *params;                 /* flat, tensor-table order */
    float *grad;                   /* same layout as params */
    float *agrad;                  /* activation-gradient workspace shared by the passes */
    float *state;                  /* BN running mean/var, tensor-table order */
    int64_t bn_count[MODEL_MAX_TENSORS]; /* per TENSOR_BN_COUNT entry: torch num_batches_tracked */
    float *scratch;                /* shared convolution scratch, sized for `slots` threads */
    int64_t *rowbuf;               /* max_batch + 1 row offsets: a chunk of a sparse batch */
    dann_dist dist;                /* data-parallel steps (chunk 0: none) */
    int dist_failed;               /* an exchange failed during the current step */
    float *part;                   /* chunk partials of one op's weight gradient (and the fold) */
    double *dpart;                 /* chunk partials of BatchNorm sums */
    size_t part_per_chunk, dpart_per_chunk;
    int slots;                     /* most threads a kernel may use (fixed at creation) */
    pass_t pass[2];                /* [0] source (and eval), [1] target */
    /* Per tensor-table entry: its data (in params or state) and, for parameters, its gradient
     * (in grad); NULL where not applicable. */
    float *t[MODEL_MAX_TENSORS];
    float *g[MODEL_MAX_TENSORS];
};

/* Threads the kernels may use now: the current setting, capped by the model's slots. */
int model_slots(const dann_model *m);
/* Index of tensor `name` in the tensor table, or -1. */
int model_tensor_index(const dann_model *m, const char *name);

/* Forward in into pass p. training: batch-statistics BatchNorm (running statistics updated) and
 * dropout (masks drawn from rng unless p->masks_given). heads: HEAD_CLASS | HEAD_DOMAIN (0: the
 * features only). in->B must be in [1, max_batch]. */
void model_forward(dann_model *m, pass_t *p, const dann_input *in, int training, int heads,
                   dann_rng *rng);
/* model_forward on a dense batch x (B, C, H, W). */
void model_forward_dense(dann_model *m, pass_t *p, const float *x, int B, int training, int heads,
                         dann_rng *rng);
/* Backward of the last training forward of p, from p->dlogit_class (if heads has HEAD_CLASS) and
 * p->dlogit_domain (if HEAD_DOMAIN, reversed by -lambda at the GRL); accumulates into m->grad.
 * It clears the shared activation-gradient workspace first; the caller fills the dlogits. The
 * first layer's input gradient is never computed. */
void model_backward(dann_model *m, pass_t *p, int heads, float lambda);
/* Floats of a pass's acts and idx buffers (for tests that compare whole passes). */
size_t model_acts_floats(const dann_model *m);
size_t model_idx_count(const dann_model *m);
/* Chunked sums of data-parallel steps (netdist.c). dist_layout sets p's whole batch and chunk
 * range for a training forward of B examples (B_total: the whole batch; 0 = B); the rest are
 * used only when p->k1 > 0. dist_chunk gives chunk k's first example relative to p->first and
 * its length; dist_gather collects every chunk's `per` bytes in chunk order (this rank's are at
 * mine); the folds add K partials of n values left to right. */
void dist_layout(dann_model *m, pass_t *p, int B, int B_total);
int dist_chunks(const dann_model *m, const pass_t *p);
void dist_chunk(const dann_model *m, const pass_t *p, int k, int *b0, int *n);
void dist_gather(dann_model *m, const pass_t *p, const void *mine, size_t per, void *all);
void dist_gather_int(dann_model *m, int mine, int *all);
void dist_fold_d(double *acc, const double *all, int K, size_t n);
void dist_fold_f(float *acc, const float *all, int K, size_t n);

/* Binds p's output pointers for its capacity (netrun.c). */
void model_bind_pass(const dann_model *m, pass_t *p);

#endif
