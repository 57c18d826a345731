/* vec.h - feature-vector datasets: dense CSV (`csv:FILE`) and sparse svmlight/libsvm
 * (`svmlight:FILE`) files, read into a dataset whose `vec` member holds the rows; the batches
 * they give a network (dense rows, or CSR rows for a network whose first layer is fc).
 *
 * A vector dataset has c = D (its feature dimension), h = w = 1, pix = NULL and vec set. D is
 * the file's own until the caller fixes a common one (vec_set_dim: the highest index over the
 * source and target files, or the network's input). Labels are classes in [0, n_classes), or
 * -1 when the file has none. The label rule (docs/VECTORS.md, the same for both formats): a label
 * is an integer; -1 is class 0 (so -1/+1 files are the classes 0/1), any other k >= 0 is class
 * k; a file holding both -1 and 0 is refused as ambiguous. n_classes is the highest class + 1.
 *
 * Spec options follow the file after commas, `svmlight:FILE,base=0`, `csv:FILE,label=y`
 * (vec_parse_spec): a trailing ",KEY=VALUE" is an option when KEY is one of the format's, so a
 * file name with commas still works.
 *   svmlight:  base=1 (default: libsvm's 1-based indices; an index 0 is an error that names
 *              this option) | base=0 (0-based, as scikit-learn's zero_based=True);
 *              label=none (labels ignored: every line's leading label, if any, is skipped).
 *              Lines without a label (first token INDEX:VALUE) make an unlabelled file; a
 *              file mixing both is refused.
 *   csv:       label=first (default) | last | none | NAME (the header's column NAME);
 *              header=auto (default: the first line is a header when one of its fields is
 *              not a number) | yes | no.
 * Both formats: '#' starts a comment to the end of the line; blank lines are skipped; CRLF
 * line ends are accepted; the file may be gzip-compressed. Values are parsed as decimal
 * numbers (Python's float() syntax without inf/nan: [+-]digits[.digits][e[+-]digits]) to double
 * and rounded to float32; NaN, Inf, values beyond float32, hex and empty fields are errors.
 * Every error is one line "FILE:LINE: problem" (or "FILE: problem"). */
#ifndef DANN_DATA_VEC_H
#define DANN_DATA_VEC_H

#include <stddef.h>
#include <stdint.h>
#include "dann.h"
#include "data/data.h"

#define VEC_MAX_DIM (1 << 24)       /* feature indices, CSV columns */
#define VEC_MAX_CLASSES 65536       /* labels 0..65535 (the widest fc a network has) */
#define VEC_MAX_ROWS (INT32_MAX - 1)
#define VEC_MAX_TOKEN 128           /* longest number token, in characters */
#define VEC_MAX_BYTES ((uint64_t)1 << 34)  /* a plain file's size (gzip: DANN_MAX_GZIP_BYTES) */

enum { VEC_CSV = 1, VEC_SVMLIGHT = 2 };
enum { VEC_LABEL_FIRST = 0, VEC_LABEL_LAST, VEC_LABEL_NONE, VEC_LABEL_NAMED };

typedef struct {
    int base;                /* svmlight: 1 or 0 */
    int label;               /* VEC_LABEL_*; svmlight: FIRST (its label) or NONE */
    char label_name[128];    /* csv: label=NAME */
    int header;              /* csv: -1 auto, 0 no, 1 yes */
} vec_opts;

/* The rows of a vector dataset. */
typedef struct vec_data {
    int format;              /* VEC_CSV or VEC_SVMLIGHT */
    int dim;                 /* the file's own D: CSV feature columns, svmlight max index + 1 */
    int sparse;              /* 1: CSR rows (svmlight), 0: dense x (CSV) */
    float *x;                /* dense (n, dim) */
    int64_t *rowptr;         /* sparse: n + 1 offsets into col / val */
    int32_t *col;            /* 0-based feature indices, increasing within a row */
    float *val;
    int max_row_nnz;         /* the largest row's non-zeros (sparse) */
    int32_t *line;           /* each example's line in the file (1-based), for messages */
    int labelled;            /* 0: no labels (the dataset's y are all -1) */
    int pm1;                 /* a -1 label was read (mapped to class 0) */
    int label_col;           /* csv: the label column, 0-based (-1: none) */
    char label_desc[160];    /* "labels -1/+1 -> classes 0/1", "label column 'y'", ... */
    vec_opts opts;
    char *path;              /* the file, for messages */
} vec_data;

/* 1 when spec names a vector format (csv:, svmlight: or libsvm:). */
int vec_spec_is_vector(const char *spec);

/* Splits a spec "svmlight:FILE,KEY=VALUE..." into its format (VEC_*), the file path (into path,
 * cap bytes) and the options; DANN_ERR_ARG naming the spec for an unknown or bad option. */
dann_status vec_parse_spec(const char *spec, int *format, char *path, size_t cap, vec_opts *o,
                           dann_error *err);
void vec_opts_default(vec_opts *o);

/* The in-memory parsers (also the fuzz targets' entry points): buf holds len bytes (no NUL
 * needed); name prefixes every message. y receives a malloc'd array of *n labels (classes, or
 * -1); *n_classes the highest class + 1 (0 when unlabelled). On error v and *y are left empty. */
dann_status svmlight_parse(vec_data *v, int32_t **y, int *n, int *n_classes, const char *name,
                           const char *buf, size_t len, const vec_opts *o, dann_error *err);
dann_status csv_parse(vec_data *v, int32_t **y, int *n, int *n_classes, const char *name,
                      const char *buf, size_t len, const vec_opts *o, dann_error *err);
void vec_data_free(vec_data *v);

/* Loads a csv:/svmlight: spec into ds (c = the file's D, h = w = 1). The file must be a regular
 * file (a directory or FIFO is refused without blocking), plain or gzipped. On error *ds is
 * left empty. */
dann_status vec_load(dataset *ds, const char *spec, int split, dann_error *err);
/* The same from len bytes in memory (the fuzz targets' entry point): format VEC_*, options o,
 * name used in messages. */
dann_status vec_load_mem(dataset *ds, const char *name, int format, const char *buf, size_t len,
                         const vec_opts *o, int split, dann_error *err);

/* Fixes ds's feature dimension to D: a sparse file whose highest index is below D takes it (its
 * missing features are zeros), a dense file must have exactly D columns. */
dann_status vec_set_dim(dataset *ds, int D, dann_error *err);

/* A one-line description of a vector dataset for the `data:` lines ("svmlight, 1-based, 4998
 * features, 312 non-zeros per row at most; labels -1/+1 -> classes 0/1"). */
void vec_describe(const dataset *ds, char *buf, size_t cap);

/* Dense rows idx[0..B) of a vector dataset into x (B, ds->c), labels into y (may be NULL). */
void vec_gather_dense(float *x, int32_t *y, const dataset *ds, const int32_t *idx, int B);

/* A copy of the examples idx[0..n) of ds (images or vectors) as a dataset of their own. */
dann_status dataset_subset(dataset *out, const dataset *ds, const int32_t *idx, int n,
                           dann_error *err);

/* Batch buffers for one dataset: data_batch_gather fills b->in (dense x, or CSR rows when the
 * model accepts sparse batches and the data is sparse) with the examples idx[0..B), B <= cap.
 * Allocated once (the CSR buffers hold cap rows of the dataset's longest row). in_c is the
 * model's input channels (grey images are repeated, as dataset_gather does). */
typedef struct {
    dann_input in;
    int cap, sparse, in_c;
    float *x;
    int64_t *rowptr;
    int32_t *col;
    float *val;
} data_batch;
dann_status data_batch_init(data_batch *b, const dataset *ds, int cap, int in_c, int sparse_ok,
                            dann_error *err);
void data_batch_gather(data_batch *b, int32_t *y, const dataset *ds, const int32_t *idx, int B);
void data_batch_free(data_batch *b);

#endif
