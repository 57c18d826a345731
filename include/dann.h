/* dann.h - public API of libdann: domain-adversarial neural networks (Ganin & Lempitsky 2015).
 *
 * A model is a fixed architecture ("py3": the fungtion/DANN_py3 network) with its parameters in
 * one flat float buffer and its BatchNorm running statistics in a separate state buffer.
 * A trainer owns the gradients, optimizer moments and RNG and performs one DANN step at a time:
 * the source batch and the target batch are forwarded as two separate passes, the loss
 *   NLL(class(source), y_source) + NLL(domain(source), 0) + NLL(domain(target), 1)
 * is back-propagated once (through a gradient reversal layer in front of the domain head) and the
 * optimizer steps.
 *
 * Errors: every function that can fail because of its input returns a dann_status and, when the
 * caller passes a dann_error, a one-line message naming the file and the problem. The library
 * never exits the process; programmer errors (broken contracts) abort with file:line.
 * Images are float32 (B, C, H, W), already normalised; labels are int32. */
#ifndef DANN_H
#define DANN_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The version of this header. The shared library's soname is libdann.so.MAJOR: MAJOR changes
 * with any change that breaks programs built against an earlier header (a removed or changed
 * function, a public struct or enum laid out differently), MINOR with additions, PATCH with
 * fixes (docs/VERSIONING.md). */
#define DANN_VERSION_MAJOR 0
#define DANN_VERSION_MINOR 1
#define DANN_VERSION_PATCH 0
#define DANN_VERSION_STRING "0.1.0"
/* One number for comparisons: MAJOR * 10000 + MINOR * 100 + PATCH. */
#define DANN_VERSION (DANN_VERSION_MAJOR * 10000 + DANN_VERSION_MINOR * 100 + DANN_VERSION_PATCH)

/* Marks the functions the shared library exports; everything else in it is hidden (it is built
 * with -fvisibility=hidden and the export list src/libdann.map). */
#if defined(__GNUC__) && __GNUC__ >= 4
#define DANN_API __attribute__((visibility("default")))
#else
#define DANN_API
#endif


typedef enum {
    DANN_OK = 0,
    DANN_ERR_IO,          /* a file could not be opened, read or written */
    DANN_ERR_FORMAT,      /* a file's contents are malformed (magic, sizes, values) */
    DANN_ERR_ARG,         /* an option or argument is invalid */
    DANN_ERR_NOMEM,       /* an allocation failed */
    DANN_ERR_NUMERIC,     /* training diverged: a loss or parameter became NaN or infinite */
    DANN_ERR_INTERRUPTED  /* the caller asked to stop */
} dann_status;

typedef struct {
    dann_status status;
    char msg[512];        /* one line, no trailing newline */
} dann_error;

/* A short English name for a status ("I/O error", ...). */
DANN_API const char *dann_status_str(dann_status s);

/* The version of the library actually linked, as DANN_VERSION computes it; *str (when not NULL)
 * receives its "MAJOR.MINOR.PATCH" text. A program built against this header can compare it with
 * DANN_VERSION: a different MAJOR means the header and the library disagree on the ABI. */
DANN_API int dann_version(const char **str);

/* A batch of B inputs: dense x (B, C, H, W) floats (a vector input as (B, D)), or, for a network
 * whose first layer is fc on a vector input, a sparse batch in CSR form: the non-zeros of row b
 * are col/val[rowptr[b] .. rowptr[b+1]). */
typedef struct {
    int B;
    int B_total;             /* data-parallel steps: the whole batch of which these B examples
                                are this process's part (see dann_dist); 0 = B */
    const float *x;          /* dense, or NULL when sparse */
    const int64_t *rowptr;   /* sparse: B+1 offsets into col/val */
    const int32_t *col;      /* column indices in [0, D), increasing within a row */
    const float *val;
} dann_input;

/* ------------------------------------------------------------------------------------------ */
/* Models                                                                                     */

typedef struct dann_model dann_model;

/* Creates a model of architecture `arch` - a preset name ("py3", "paper-mnist", "paper-svhn",
 * "paper-gtsrb", "shallow") or a network description (docs/NETWORKS.md) - with PyTorch's default
 * initialisation drawn from an RNG seeded with `seed`. max_batch bounds the batch size of every
 * later call (the activation memory is allocated once, here). A description that does not
 * compile gives DANN_ERR_ARG with a one-line message naming the layer. */
DANN_API dann_status dann_model_new(dann_model **out, const char *arch, uint64_t seed,
                                    int max_batch, dann_error *err);
DANN_API void dann_model_free(dann_model *m);

/* The preset the model was made from, or "custom" for a description. */
DANN_API const char *dann_model_arch(const dann_model *m);
/* The model's network as canonical description text (the same network compiles from it). */
DANN_API const char *dann_model_description(const dann_model *m);
/* Writes into buf (cap bytes) the canonical description of `arch` (a preset name or a
 * description) with its input changed to (c, h, w) - for a vector network c numbers, h = w = 1 -
 * and the class head's output to n_classes, each only when > 0. Returns DANN_ERR_ARG (message
 * naming the layer) when the result does not compile or does not fit in buf. */
DANN_API dann_status dann_net_adapt(char *buf, size_t cap, const char *arch, int c, int h, int w,
                                    int n_classes, dann_error *err);
/* 1 when arch names a preset. */
DANN_API int dann_net_is_preset(const char *arch);
/* The input shape and class count of `arch` (preset or description), checked by compiling it;
 * *is_vector is 1 for a feature-vector input (of c numbers). Any output pointer may be NULL. */
DANN_API dann_status dann_net_info(const char *arch, int *c, int *h, int *w, int *n_classes,
                                   int *is_vector, dann_error *err);
/* Input shape (channels, height, width; a vector input of D numbers is (D, 1, 1)) and number
 * of classes. */
DANN_API void dann_model_shape(const dann_model *m, int *c, int *h, int *w, int *n_classes);
DANN_API int dann_model_max_batch(const dann_model *m);

/* The flat parameter buffer (n floats) and BatchNorm state buffer (running means and
 * variances). Both may be read and written by the caller (e.g. to load weights). */
DANN_API float *dann_model_params(dann_model *m, size_t *n);
DANN_API float *dann_model_state(dann_model *m, size_t *n);

/* Named tensors of the model, in PyTorch state_dict() order and naming. kind 0 = parameter
 * (offset into params), 1 = BatchNorm running statistic (offset into state), 2 = a BatchNorm
 * layer's num_batches_tracked (an int64 counter, read with dann_model_bn_count). Returns the
 * number of tensors; fills *info for index i when i is in range and info is not NULL. */
typedef struct {
    const char *name;
    int kind;
    int ndim;
    int64_t shape[4];
    size_t offset, numel;
} dann_tensor_info;
DANN_API int dann_model_tensors(const dann_model *m, int i, dann_tensor_info *info);
/* The num_batches_tracked counter of tensor i (kind 2): how many training-mode forwards have
 * updated that BatchNorm layer's running statistics. */
DANN_API int64_t dann_model_bn_count(const dann_model *m, int i);
DANN_API void dann_model_set_bn_count(dann_model *m, int i, int64_t count);

/* Eval-mode forward (running BatchNorm statistics, no dropout): class log-probabilities
 * logp (B, n_classes) for images x (B, C, H, W). Any B >= 0; large B is processed in chunks. */
DANN_API void dann_model_predict(dann_model *m, const float *x, int B, float *logp);
/* The same for a dense or sparse batch (sparse: a vector network whose first layer is fc). */
DANN_API void dann_model_predict_input(dann_model *m, const dann_input *in, float *logp);
/* 1 when the network's input is a feature vector; 2 when it also accepts sparse batches. */
DANN_API int dann_model_input_is_vector(const dann_model *m);

/* Size of the feature extractor's output (the input of both heads), per example. */
DANN_API int dann_model_feature_dim(const dann_model *m);
/* Eval-mode features (B, dann_model_feature_dim) for images x (B, C, H, W): what both heads see
 * (for t-SNE pictures, the proxy A-distance, ...). Any B >= 0. */
DANN_API void dann_model_features(dann_model *m, const float *x, int B, float *feat);
DANN_API void dann_model_features_input(dann_model *m, const dann_input *in, float *feat);

/* ------------------------------------------------------------------------------------------ */
/* Training                                                                                   */

typedef enum {
    DANN_MODE_DANN = 0,     /* class loss on source + domain loss on both domains (GRL) */
    DANN_MODE_SOURCE_ONLY,  /* class loss on source only: the "no adaptation" baseline */
    DANN_MODE_TARGET_ONLY   /* class loss on target labels: the "train on target" bound */
} dann_mode;

typedef enum { DANN_OPT_ADAM = 0, DANN_OPT_SGD } dann_optimizer;

/* Hyper-parameters are doubles, as Python floats are in torch.optim: the same decimal values
 * then round to the same float32 scalars inside the update. */
typedef struct {
    dann_mode mode;
    dann_optimizer optimizer;
    double lr;            /* base learning rate */
    double beta1, beta2;  /* Adam */
    double eps;           /* Adam, added outside the square root as in torch.optim.Adam */
    double momentum;      /* SGD (torch formulation: buf = m*buf + g; p -= lr*buf) */
    double weight_decay;  /* L2 added to the gradient, both optimizers */
    int32_t lr_schedule;  /* 0: constant; 1: mu_p = lr / (1 + lr_alpha*p)^lr_beta */
    double lr_alpha, lr_beta;
    double gamma;         /* lambda_p = 2/(1+exp(-gamma*p)) - 1 */
    double lambda_max;    /* lambda_p is multiplied by this (1 in py3 and paper) */
    int32_t lambda_schedule; /* 0: lambda_p = lambda_max * (2/(1+exp(-gamma*p)) - 1);
                                1: constant, lambda_p = lambda_max for every p */
    int32_t domain_lambda;   /* 0: the domain head's own gradient is not scaled (GRL: the deep
                                recipe); 1: it is multiplied by lambda_p too (JMLR Algorithm 1,
                                whose domain regressor steps by mu*lambda) */
} dann_train_config;

/* Fills cfg with a preset's hyper-parameters (docs/RECIPES.md): "py3" (Adam 1e-3, constant lr),
 * "paper" (SGD momentum 0.9, mu0 0.01, alpha 10, beta 0.75, lambda ramp with gamma 10) or
 * "shallow" (JMLR Algorithm 1: plain SGD, constant lr 1e-3, constant lambda 0.1 that also
 * scales the domain regressor's step). Returns DANN_ERR_ARG for an unknown name. */
DANN_API dann_status dann_train_config_preset(dann_train_config *cfg, const char *preset,
                                              dann_error *err);

/* The schedules of DANN.md, p in [0, 1]. */
DANN_API float dann_lambda_schedule(double p, double gamma);
DANN_API float dann_lr_schedule(double lr0, double p, double alpha, double beta);

typedef struct dann_trainer dann_trainer;

/* A trainer for model m (which it does not own). seed drives dropout. */
DANN_API dann_status dann_trainer_new(dann_trainer **out, dann_model *m, const dann_train_config *cfg,
                                      uint64_t seed, dann_error *err);
DANN_API void dann_trainer_free(dann_trainer *t);

typedef struct {
    float loss_class;       /* NLL of the class head on the labelled batch */
    float loss_domain_src;  /* NLL of the domain head on source (label 0); 0 unless DANN */
    float loss_domain_tgt;  /* NLL of the domain head on target (label 1); 0 unless DANN */
    int domain_correct;     /* domain head's correct decisions over both batches (DANN) */
    int domain_total;
    int class_correct;      /* class head's correct decisions on the labelled batch */
    float lambda, lr;       /* the schedule values used */
} dann_step_stats;

/* One training step at progress p in [0,1]. xs/ys: source batch (Bs images, labels); xt: target
 * batch (Bt images; yt its labels, used only in DANN_MODE_TARGET_ONLY, may be NULL otherwise).
 * In SOURCE_ONLY mode xt is ignored; in TARGET_ONLY mode xs/ys are ignored. Returns
 * DANN_ERR_NUMERIC if a loss is not finite: parameters, BatchNorm statistics and optimizer
 * state are then as before the call (only the dropout RNG has moved on). */
DANN_API dann_status dann_train_step(dann_trainer *t, const float *xs, const int32_t *ys, int Bs,
                                     const float *xt, const int32_t *yt, int Bt, double p,
                                     dann_step_stats *stats, dann_error *err);

/* dann_train_step on dense or sparse batches: src (with labels ys) and tgt (labels yt, used only
 * in target-only mode); the same contract. */
DANN_API dann_status dann_train_step_input(dann_trainer *t, const dann_input *src, const int32_t *ys,
                                           const dann_input *tgt, const int32_t *yt, double p,
                                           dann_step_stats *stats, dann_error *err);

/* Optimizer state for checkpoints: step count and the moment buffers (each n_params floats;
 * m2 is NULL for SGD). */
DANN_API int64_t dann_trainer_steps(const dann_trainer *t);
DANN_API void dann_trainer_set_steps(dann_trainer *t, int64_t steps);
DANN_API float *dann_trainer_moments(dann_trainer *t, float **m2);
/* The trainer's RNG state (4 words), for bit-exact resume. */
DANN_API uint64_t *dann_trainer_rng(dann_trainer *t);
DANN_API const dann_train_config *dann_trainer_config(const dann_trainer *t);

/* ------------------------------------------------------------------------------------------ */
/* Data-parallel steps (docs/SCALING.md)                                                      */

/* With chunk > 0 a training step cuts each pass's batch into chunks of `chunk` examples (the
 * last may be shorter). Every sum over the batch - BatchNorm statistics forward and backward,
 * weight gradients, losses - is computed chunk by chunk, and the chunks' partial sums are added
 * in chunk order. Where a chunk is computed does not change its partial, so n_ranks processes,
 * each holding a contiguous range of whole chunks (dann_dist_slice), compute exactly what one
 * process computes with the same chunk size. allgather must give every rank the bytes of every
 * rank, in rank order: rank r contributes bytes[r] bytes at send (bytes[] lists all ranks);
 * recv receives their concatenation. It returns 0, or non-zero when the exchange failed (the
 * step then fails with DANN_ERR_IO). n_ranks 1 needs no allgather. */
typedef struct {
    int rank, n_ranks;
    int chunk;
    int (*allgather)(void *ctx, const void *send, void *recv, const size_t *bytes);
    void *ctx;
} dann_dist;
/* Sets t's distribution (chunk 0: none, the default). The model's max batch must hold the whole
 * batch of a step (every rank draws the dropout masks of the whole batch). */
DANN_API dann_status dann_trainer_set_dist(dann_trainer *t, const dann_dist *d, dann_error *err);
/* The examples [*first, *first + *count) of a batch of B that rank d->rank holds. */
DANN_API void dann_dist_slice(const dann_dist *d, int B, int *first, int *count);

/* Threads used by kernels (OpenMP and BLAS). n is capped so that the threads' BLAS buffers and
 * stacks (about 136 MiB each with OpenBLAS) take at most half of the address-space limit
 * (ulimit -v), if there is one: beyond it OpenBLAS would wait forever for its memory. */
DANN_API void dann_threads_set(int n);
/* The thread count in use (after that cap). */
DANN_API int dann_threads_get(void);
/* The most threads worth asking for: the CPUs this process may run on, within the cap above
 * (more threads than CPUs only take turns). */
DANN_API int dann_threads_usable(void);

#ifdef __cplusplus
}
#endif
#endif
