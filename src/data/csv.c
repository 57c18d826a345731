/* csv.c - dense feature vectors in comma-separated text, read into (n, D) float rows (vec.h).
 *
 * Fields are separated by ',' and trimmed of spaces and tabs; every line has the first line's
 * number of fields. The first non-blank line is a header when header=yes, or, with
 * header=auto, when one of its fields is not a number (its names may be double-quoted). The
 * label column is the first (default), the last, none, or the header's column NAME; the other
 * columns, in order, are the D features. Quoted data fields, other separators and missing
 * values are not read: an empty field is an error naming its line and column. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "data/vec_impl.h"

/* The fields of a line: up to `cap` [a, b) ranges, trimmed; returns their count (which may
 * exceed cap: only the first cap are stored). */
static int64_t split(const char *s, const char *e, const char **fa, const char **fb, int64_t cap) {
    int64_t n = 0;
    for (const char *p = s;; p++) {
        const char *q = memchr(p, ',', (size_t)(e - p));
        const char *end = q ? q : e, *a = p, *b = end;
        while (a < b && (*a == ' ' || *a == '\t')) a++;
        while (b > a && (b[-1] == ' ' || b[-1] == '\t')) b--;
        if (n < cap) fa[n] = a, fb[n] = b;
        n++;
        if (!q) break;
        p = q;
    }
    return n;
}

static int blank(const char *s, const char *e) {
    while (s < e && vec_is_space(*s)) s++;
    return s == e;
}

dann_status csv_parse(vec_data *v, int32_t **y, int *n, int *n_classes, const char *name,
                      const char *buf, size_t len, const vec_opts *o, dann_error *err) {
    memset(v, 0, sizeof *v);
    *y = NULL;
    *n = *n_classes = 0;
    vec_lines L = {buf, buf + len, 0};
    const char *s, *e, **fa = NULL, **fb = NULL;
    char show[64];
    float *x = NULL;
    int32_t *lab = NULL, *line = NULL;
    size_t cap_x = 0, cap_y = 0, cap_l = 0;
    int64_t ncol = 0;
    int rows = 0, D = 0, lc = -1;
    dann_status st = DANN_OK;
#define FAIL(status, ...) do { st = dann_fail(err, status, __VA_ARGS__); goto fail; } while (0)
    while (vec_next_line(&L, &s, &e) && blank(s, e)) {}
    if (L.line == 0 || blank(s, e))
        FAIL(DANN_ERR_FORMAT, "%s: no examples (%s)", name,
             len == 0 ? "empty file" : "only blank or comment lines");
    /* The first line fixes the columns, and is the header or the first example. */
    ncol = split(s, e, NULL, NULL, 0);
    if (ncol > (int64_t)VEC_MAX_DIM + 1)
        FAIL(DANN_ERR_FORMAT, "%s:%lld: %lld columns (at most %d)", name, (long long)L.line,
             (long long)ncol, VEC_MAX_DIM + 1);
    if (!(fa = malloc(sizeof *fa * (size_t)ncol)) || !(fb = malloc(sizeof *fb * (size_t)ncol)))
        FAIL(DANN_ERR_NOMEM, "%s: out of memory (%lld columns)", name, (long long)ncol);
    split(s, e, fa, fb, ncol);
    int header = o->header;
    if (header < 0) {
        header = 0;
        for (int64_t k = 0; k < ncol && !header; k++) {
            float t;
            header = vec_parse_value(fa[k], fb[k], &t) != NULL;
        }
    }
    switch (o->label) {
    case VEC_LABEL_FIRST: lc = 0; break;
    case VEC_LABEL_LAST: lc = (int)(ncol - 1); break;
    case VEC_LABEL_NONE: lc = -1; break;
    default:
        if (!header)
            FAIL(DANN_ERR_FORMAT, "%s:%lld: label=%s names a column, but the file has no header "
                 "line (its first line is all numbers)", name, (long long)L.line, o->label_name);
        for (int64_t k = 0; k < ncol; k++) {
            const char *a = fa[k], *b = fb[k];
            if (b - a >= 2 && *a == '"' && b[-1] == '"') a++, b--;
            if ((size_t)(b - a) == strlen(o->label_name) && !memcmp(a, o->label_name, (size_t)(b - a))) {
                if (lc >= 0)
                    FAIL(DANN_ERR_FORMAT, "%s:%lld: two columns named '%s' (%d and %lld)", name,
                         (long long)L.line, o->label_name, lc + 1, (long long)k + 1);
                lc = (int)k;
            }
        }
        if (lc < 0)
            FAIL(DANN_ERR_FORMAT, "%s:%lld: no column named '%s' in the header", name,
                 (long long)L.line, o->label_name);
    }
    D = (int)(ncol - (lc >= 0));
    if (D < 1)
        FAIL(DANN_ERR_FORMAT, "%s:%lld: no feature columns (%lld column%s, the label's included)",
             name, (long long)L.line, (long long)ncol, ncol == 1 ? "" : "s");
    if (lc < 0) snprintf(v->label_desc, sizeof v->label_desc, "no label column; ");
    else if (header) {
        const char *a = fa[lc], *b = fb[lc];
        snprintf(v->label_desc, sizeof v->label_desc, "label column %d '%s'; ", lc + 1,
                 vec_show(show, sizeof show, a, b));
    } else snprintf(v->label_desc, sizeof v->label_desc, "label column %d; ", lc + 1);

    int more = 1;
    if (header) more = vec_next_line(&L, &s, &e);
    for (; more; more = vec_next_line(&L, &s, &e)) {
        if (blank(s, e)) continue;
        const long long ln = (long long)L.line;
        if (rows == VEC_MAX_ROWS) FAIL(DANN_ERR_FORMAT, "%s:%lld: more than %d examples", name, ln, VEC_MAX_ROWS);
        if (L.line > INT32_MAX) FAIL(DANN_ERR_FORMAT, "%s: more than %d lines", name, INT32_MAX);
        const int64_t nf = split(s, e, fa, fb, ncol);
        if (nf != ncol)
            FAIL(DANN_ERR_FORMAT, "%s:%lld: %lld fields, expected %lld (as the %s)", name, ln,
                 (long long)nf, (long long)ncol, header ? "header" : "first line");
        if (vec_reserve((void **)&x, &cap_x, ((size_t)rows + 1) * (size_t)D, sizeof *x) ||
            vec_reserve((void **)&lab, &cap_y, (size_t)rows + 1, sizeof *lab) ||
            vec_reserve((void **)&line, &cap_l, (size_t)rows + 1, sizeof *line))
            FAIL(DANN_ERR_NOMEM, "%s: out of memory (%d examples of %d features read)", name,
                 rows, D);
        float *row = x + (size_t)rows * D;
        lab[rows] = -1;
        for (int64_t k = 0, j = 0; k < ncol; k++) {
            const char *bad;
            if (k == lc) {
                bad = vec_parse_label(fa[k], fb[k], &lab[rows]);
                if (bad) FAIL(DANN_ERR_FORMAT, "%s:%lld: label '%s' (column %lld): %s", name, ln,
                              vec_show(show, sizeof show, fa[k], fb[k]), (long long)k + 1, bad);
            } else if ((bad = vec_parse_value(fa[k], fb[k], &row[j++]))) {
                FAIL(DANN_ERR_FORMAT, "%s:%lld: column %lld '%s': %s", name, ln, (long long)k + 1,
                     vec_show(show, sizeof show, fa[k], fb[k]), bad);
            }
        }
        line[rows++] = (int32_t)L.line;
    }
    if (rows == 0) FAIL(DANN_ERR_FORMAT, "%s: no examples (a header line only)", name);
    v->format = VEC_CSV;
    v->dim = D;
    v->x = x;
    v->line = line;
    v->opts = *o;
    v->label_col = lc;
    v->labelled = lc >= 0;
    x = NULL, line = NULL;
    free(fa), free(fb);
    fa = fb = NULL;
    if (!v->labelled) {
        const size_t k = strlen(v->label_desc);
        snprintf(v->label_desc + k, sizeof v->label_desc - k, "unlabelled");
    } else if ((st = vec_map_labels(v, lab, rows, n_classes, name, err))) {
        free(lab);
        vec_data_free(v);
        return st;
    }
    *y = lab;
    *n = rows;
    return DANN_OK;
fail:
    free(fa), free(fb), free(x), free(lab), free(line);
    return st;
#undef FAIL
}
