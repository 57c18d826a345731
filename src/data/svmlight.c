/* svmlight.c - the svmlight / libsvm sparse format, read into CSR rows (vec.h).
 *
 * A line is `LABEL [qid:N] INDEX:VALUE INDEX:VALUE ... [# comment]`, tokens separated by
 * whitespace, indices strictly increasing within a line (scikit-learn's load_svmlight_file
 * refuses unsorted or repeated ones too). Indices are 1-based as libsvm writes them unless the
 * spec says base=0; stored 0-based. A line whose first token is INDEX:VALUE has no label; a
 * file is either labelled throughout or not at all. With label=none any leading label is
 * skipped unread. Explicit zeros are kept as stored non-zeros (the product is the same).
 * Messages: "FILE:LINE: problem", the offending token shown (printable characters only). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "data/vec_impl.h"

typedef struct {
    int64_t *rowptr;
    int32_t *col, *y, *line;
    float *val;
    size_t cap_row, cap_col, cap_val, cap_y, cap_line;
} svm_bufs;

static void bufs_free(svm_bufs *b) {
    free(b->rowptr), free(b->col), free(b->y), free(b->line), free(b->val);
    memset(b, 0, sizeof *b);
}

/* The next whitespace-separated token of [*p, e): [*a, *b); 0 when none is left. */
static int next_token(const char **p, const char *e, const char **a, const char **b) {
    const char *q = *p;
    while (q < e && vec_is_space(*q)) q++;
    if (q == e) return 0;
    *a = q;
    while (q < e && !vec_is_space(*q)) q++;
    *b = q;
    *p = q;
    return 1;
}

/* A non-negative decimal integer of [s, e) up to `max`; -1 when not digits, -2 when larger. */
static int64_t parse_index(const char *s, const char *e, int64_t max) {
    if (s == e) return -1;
    int64_t v = 0;
    for (const char *p = s; p < e; p++) {
        if (*p < '0' || *p > '9') return -1;
        v = v * 10 + (*p - '0');
        if (v > max) return -2;
    }
    return v;
}

dann_status svmlight_parse(vec_data *v, int32_t **y, int *n, int *n_classes, const char *name,
                           const char *buf, size_t len, const vec_opts *o, dann_error *err) {
    memset(v, 0, sizeof *v);
    *y = NULL;
    *n = *n_classes = 0;
    svm_bufs B = {0};
    vec_lines L = {buf, buf + len, 0};
    const char *s, *e, *a, *b;
    char show[64];
    int64_t nnz = 0;
    int rows = 0, labelled = -1, max_col = -1, max_row = 0;
    dann_status st = DANN_OK;
#define FAIL(status, ...) do { st = dann_fail(err, status, __VA_ARGS__); goto fail; } while (0)
#define NOMEM() FAIL(DANN_ERR_NOMEM, "%s: out of memory (%d examples, %lld non-zeros read)", \
                     name, rows, (long long)nnz)
    if (vec_reserve((void **)&B.rowptr, &B.cap_row, 1, sizeof *B.rowptr)) NOMEM();
    B.rowptr[0] = 0;
    while (vec_next_line(&L, &s, &e)) {
        const char *p = s;
        if (!next_token(&p, e, &a, &b)) continue;  // blank or comment only
        const long long ln = (long long)L.line;
        if (rows == VEC_MAX_ROWS) FAIL(DANN_ERR_FORMAT, "%s:%lld: more than %d examples", name, ln, VEC_MAX_ROWS);
        if (L.line > INT32_MAX) FAIL(DANN_ERR_FORMAT, "%s: more than %d lines", name, INT32_MAX);
        const int has_label = memchr(a, ':', (size_t)(b - a)) == NULL;
        int32_t label = -1;
        if (o->label != VEC_LABEL_NONE) {
            if (labelled < 0) labelled = has_label;
            else if (labelled != has_label)
                FAIL(DANN_ERR_FORMAT, "%s:%lld: %s, but the lines before %s (a file is labelled "
                     "throughout or not at all)", name, ln, has_label ? "a label" : "no label",
                     labelled ? "have one" : "have none");
            const char *bad = has_label ? vec_parse_label(a, b, &label) : NULL;
            if (bad) FAIL(DANN_ERR_FORMAT, "%s:%lld: label '%s': %s", name, ln,
                          vec_show(show, sizeof show, a, b), bad);
        }
        int have = has_label ? next_token(&p, e, &a, &b) : 1;
        if (have && b - a >= 4 && !memcmp(a, "qid:", 4)) {
            if (parse_index(a + 4, b, INT64_MAX / 10) < 0)
                FAIL(DANN_ERR_FORMAT, "%s:%lld: bad query id '%s'", name, ln,
                     vec_show(show, sizeof show, a, b));
            have = next_token(&p, e, &a, &b);
        }
        int prev = -1, row_nnz = 0;
        for (; have; have = next_token(&p, e, &a, &b)) {
            const char *colon = memchr(a, ':', (size_t)(b - a));
            if (!colon)
                FAIL(DANN_ERR_FORMAT, "%s:%lld: expected INDEX:VALUE, got '%s'", name, ln,
                     vec_show(show, sizeof show, a, b));
            const int64_t idx = parse_index(a, colon, (int64_t)VEC_MAX_DIM - 1 + o->base);
            if (idx == -1)
                FAIL(DANN_ERR_FORMAT, "%s:%lld: bad feature index in '%s' (a non-negative integer)",
                     name, ln, vec_show(show, sizeof show, a, b));
            if (idx == -2)
                FAIL(DANN_ERR_FORMAT, "%s:%lld: feature index in '%s' too large (at most %lld)",
                     name, ln, vec_show(show, sizeof show, a, b),
                     (long long)VEC_MAX_DIM - 1 + o->base);
            if (idx < o->base)
                FAIL(DANN_ERR_FORMAT, "%s:%lld: feature index 0 in a 1-based file (libsvm indices "
                     "start at 1; write svmlight:FILE,base=0 for 0-based indices)", name, ln);
            const int c = (int)(idx - o->base);
            if (c <= prev)
                FAIL(DANN_ERR_FORMAT, "%s:%lld: feature index %lld %s (indices must increase "
                     "within a line)", name, ln, (long long)idx,
                     c == prev ? "repeated" : "after a larger one");
            float x;
            const char *bad = vec_parse_value(colon + 1, b, &x);
            if (bad) FAIL(DANN_ERR_FORMAT, "%s:%lld: value '%s': %s", name, ln,
                          vec_show(show, sizeof show, a, b), bad);
            if (vec_reserve((void **)&B.col, &B.cap_col, (size_t)nnz + 1, sizeof *B.col) ||
                vec_reserve((void **)&B.val, &B.cap_val, (size_t)nnz + 1, sizeof *B.val))
                NOMEM();
            B.col[nnz] = c;
            B.val[nnz] = x;
            nnz++;
            row_nnz++;
            prev = c;
            if (c > max_col) max_col = c;
        }
        if (vec_reserve((void **)&B.rowptr, &B.cap_row, (size_t)rows + 2, sizeof *B.rowptr) ||
            vec_reserve((void **)&B.y, &B.cap_y, (size_t)rows + 1, sizeof *B.y) ||
            vec_reserve((void **)&B.line, &B.cap_line, (size_t)rows + 1, sizeof *B.line))
            NOMEM();
        B.rowptr[rows + 1] = nnz;
        B.y[rows] = label;
        B.line[rows] = (int32_t)L.line;
        if (row_nnz > max_row) max_row = row_nnz;
        rows++;
    }
    if (rows == 0)
        FAIL(DANN_ERR_FORMAT, "%s: no examples (%s)", name,
             len == 0 ? "empty file" : "only blank or comment lines");
    v->format = VEC_SVMLIGHT;
    v->sparse = 1;
    v->dim = max_col + 1;
    v->rowptr = B.rowptr;
    v->col = B.col;
    v->val = B.val;
    v->line = B.line;
    v->max_row_nnz = max_row;
    v->opts = *o;
    v->label_col = -1;
    v->labelled = labelled == 1;
    int32_t *lab = B.y;
    memset(&B, 0, sizeof B);
    if (!v->labelled) {
        snprintf(v->label_desc, sizeof v->label_desc, "%s",
                 o->label == VEC_LABEL_NONE ? "labels ignored (label=none)" : "unlabelled");
        for (int i = 0; i < rows; i++) lab[i] = -1;
    } else if ((st = vec_map_labels(v, lab, rows, n_classes, name, err))) {
        free(lab);
        vec_data_free(v);
        return st;
    }
    *y = lab;
    *n = rows;
    return DANN_OK;
fail:
    bufs_free(&B);
    return st;
#undef FAIL
#undef NOMEM
}
