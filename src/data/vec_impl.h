/* vec_impl.h - private to the vector readers (csv.c, svmlight.c, vecload.c): a line cursor
 * over a byte buffer, decimal-number and label parsing with the messages they share, growable
 * arrays, and the label rule's second pass. */
#ifndef DANN_DATA_VEC_IMPL_H
#define DANN_DATA_VEC_IMPL_H

#include <stddef.h>
#include <stdint.h>
#include "data/vec.h"

/* Lines of a buffer: vec_next_line gives [*s, *e) of the next line without its '\n', a trailing
 * '\r' and anything from '#' on; L->line is its 1-based number. Returns 0 at the end. */
typedef struct {
    const char *p, *end;
    int64_t line;
} vec_lines;
int vec_next_line(vec_lines *L, const char **s, const char **e);

/* bytes.split()'s whitespace: space, \t, \n, \r, \v, \f. */
static inline int vec_is_space(char c) {
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

/* A token as it may be printed in a one-line message: printable ASCII, others as '?', at most
 * 40 characters (then "..."). Returns out. */
const char *vec_show(char *out, size_t cap, const char *s, const char *e);

/* Parses [s, e) as a decimal number (docs in vec.h) into *out, rounded to float32. Returns NULL
 * or the problem ("not a number", "NaN or infinite", "beyond float32 range", "empty"). */
const char *vec_parse_value(const char *s, const char *e, float *out);
/* A label: a decimal number with an integral value in [-1, VEC_MAX_CLASSES). */
const char *vec_parse_label(const char *s, const char *e, int32_t *out);

/* Makes room for `need` elements of `size` bytes in *p (capacity *cap, doubled); 0 or -1. */
int vec_reserve(void **p, size_t *cap, size_t need, size_t size);

/* The label rule on n raw labels (in place): -1 becomes class 0 unless a 0 occurs too (then an
 * error naming both lines); sets *n_classes, v->pm1 and v->label_desc's label part. */
dann_status vec_map_labels(vec_data *v, int32_t *y, int n, int *n_classes, const char *name,
                           dann_error *err);

#endif
