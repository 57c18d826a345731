/* net.h - networks as data: the description language of docs/NETWORKS.md, its presets, and the
 * compiled plan the pipeline (netrun.c) executes.
 *
 * A description is parsed into a net_desc (three layer sequences and the input shape), checked
 * and compiled into a net_plan: one op per kernel call in forward order, with every shape, the
 * tensor table (PyTorch state_dict names and order, from the naming rule of NETWORKS.md), and
 * the offsets of each op's buffers inside a pass. Hot patterns are recognised here, once:
 * conv -> bn -> [dropout2d] -> maxpool(2) -> relu becomes one fused BatchNorm-pool-ReLU op
 * (bn_mask_maxpool2), and a first convolution over 3 channels runs on grey batches as a
 * one-channel convolution with the channel-summed kernel. The description stays the single truth:
 * the plan is derived from it and never stored. */
#ifndef DANN_NET_H
#define DANN_NET_H

#include <stddef.h>
#include "core/core.h"

#define NET_MAX_LAYERS 32     /* per section */
#define NET_TEXT_MAX 4096     /* longest description text */

enum { SEC_FEATURES, SEC_CLASS, SEC_DOMAIN, SEC_N };

typedef enum {
    LK_CONV, LK_MAXPOOL, LK_FC, LK_BN, LK_RELU, LK_SIGMOID, LK_DROPOUT, LK_DROPOUT2D, LK_N
} layer_kind;

typedef struct {
    layer_kind kind;
    int n;              /* conv: output channels; fc: output width */
    int k;              /* conv, maxpool: kernel size */
    int stride, pad;    /* conv (default 1, 0), maxpool (default k, 0) */
    double p;           /* dropout probability */
} net_layer;

typedef struct {
    int vec;            /* 1: a feature vector of c numbers (h = w = 1); 0: a c x h x w image */
    int c, h, w;
    int n[SEC_N];       /* layers per section */
    net_layer l[SEC_N][NET_MAX_LAYERS];
} net_desc;

/* Parses a description (docs/NETWORKS.md). Syntax errors name the section and the token. */
dann_status net_parse(net_desc *d, const char *text, dann_error *err);
/* The canonical one-line text of d into buf (cap bytes, truncated if short). Returns the length. */
size_t net_format(const net_desc *d, char *buf, size_t cap);
/* A preset's description text, or NULL when `name` is not a preset. */
const char *net_preset(const char *name);
/* The preset whose canonical text is `canonical`, or NULL. */
const char *net_preset_of(const char *canonical);
/* The names of all presets, comma-separated (for messages). */
const char *net_preset_names(void);

/* ---- the compiled plan ---------------------------------------------------------------- */

enum { OP_CONV, OP_BNPOOL, OP_BN, OP_MAXPOOL, OP_RELU, OP_SIGMOID, OP_DROPOUT, OP_FC };
enum { TENSOR_PARAM = 0, TENSOR_STATE = 1, TENSOR_BN_COUNT = 2 };
enum { INIT_KAIMING = 0, INIT_FANIN, INIT_ONE, INIT_ZERO };

typedef struct {
    const char *name;   /* PyTorch state_dict name */
    int kind;           /* TENSOR_PARAM, TENSOR_STATE or TENSOR_BN_COUNT */
    int ndim;
    int shape[4];
    int init;           /* for params: INIT_KAIMING (weights), INIT_FANIN (biases), INIT_ONE, INIT_ZERO */
    int fan_in;         /* for INIT_KAIMING / INIT_FANIN */
} tensor_spec;

/* One kernel call of the forward pass (and its backward). Sizes are per image; buffer fields are
 * offsets in floats per image of capacity (acts: times the pass capacity B) or -1. */
typedef struct {
    int kind, sec;
    const char *name;        /* the PyTorch module name of the layer (of the bn for OP_BNPOOL) */
    int C, H, W;             /* input shape */
    int OC, OH, OW;          /* output shape */
    int K, stride, pad;      /* conv, maxpool */
    float p;                 /* dropout */
    int dropout2d;           /* OP_DROPOUT: 1 = whole channels (units of H*W) */
    int first;               /* 1: reads the network input (no input gradient) */
    int grey_ok;             /* OP_CONV first over 3 channels: may run as one channel on grey input */
    int produce_into;        /* OP_BNPOOL after the first conv: feeds its weight gradient directly */
    int w, b;                /* tensor indices: conv/fc weight, bias; bn gamma, beta */
    int rm, rv, cnt;         /* bn running mean, variance, counter */
    int mask;                /* index of the pass's dropout mask, -1 */
    int in, out;             /* act offsets (per image) of input (-1: network input / features) and output */
    int xsel, idx;           /* OP_BNPOOL: saved conv values at winners; argmax (idx buffer), -1 */
    int gin, gout;           /* grad offsets of the input and output gradient, -1 = none */
    int stat;                /* offset in the pass's stats area: bn mean, rstd (2*C), then coef (2*C) */
    int writes_gin;          /* its backward writes (not accumulates) the input gradient */
} net_op;

#define NET_MAX_OPS (SEC_N * NET_MAX_LAYERS + 8)
#define NET_MAX_TENSORS (SEC_N * NET_MAX_LAYERS * 5)
#define NET_MAX_MASKS (SEC_N * NET_MAX_LAYERS)

typedef struct net_plan {
    net_desc desc;
    char text[NET_TEXT_MAX];          /* canonical description */
    char preset[32];                  /* the preset it came from, or "" */
    int in_c, in_h, in_w, vec, n_classes, feature_dim;
    int n_ops, sec_begin[SEC_N + 1];  /* ops of section s: [sec_begin[s], sec_begin[s+1]) */
    net_op ops[NET_MAX_OPS];
    int n_tensors;
    tensor_spec tensors[NET_MAX_TENSORS];
    char names[NET_MAX_TENSORS][64];
    int n_masks;
    int mask_units[NET_MAX_MASKS];    /* factors per image */
    int mask_sec[NET_MAX_MASKS];      /* the section whose forward draws it */
    int mask_off[NET_MAX_MASKS];      /* act offset (per image) */
    float mask_p[NET_MAX_MASKS];      /* its dropout probability */
    char layer_names[SEC_N * NET_MAX_LAYERS][48];
    /* per-image floats of the pass buffers, and batch-independent floats of the stats area */
    size_t act_per_image, grad_per_image, idx_per_image, stats_floats;
    int feat;                         /* act offset of the features */
    int featgrad, featrev;            /* grad offsets of their gradient (-1: none needed) and of
                                         the domain head's, before the GRL */
    int logp[2], dlogit[2];           /* act offsets of each head's log-probabilities and
                                         of the loss gradient w.r.t. its logits (0 class, 1 domain) */
    int grey_in;                      /* act offset of the one-channel copy of a grey input, -1 */
    int grey_w;                       /* stats offset of the channel-summed weights (+ their grads) */
} net_plan;

/* Compiles d into plan (heap-free; plan is large). Shape errors name the layer. */
dann_status net_compile(net_plan *plan, const net_desc *d, dann_error *err);
/* Scratch floats the plan's convolutions need at batch B for `slots` threads. */
size_t net_scratch_floats(const net_plan *plan, int B, int slots);
/* Multiply-add counted as 2 flops: one DANN step with Bs source and Bt target examples. */
double net_step_flops(const net_plan *plan, int Bs, int Bt);

#endif
