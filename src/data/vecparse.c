/* vecparse.c - what the CSV and svmlight readers share: lines and comments, decimal numbers,
 * labels and the label rule, growable arrays (vec_impl.h).
 *
 * Numbers: the token must match [+-]? (D+ [. D*] | . D+) ([eE] [+-]? D+)? - Python's float()
 * and numpy's syntax for decimals, without inf/nan, underscores or hex - and is then converted
 * by strtod (correctly rounded to double) and rounded to float32, the value numpy's
 * np.float64(text).astype(np.float32) and scikit-learn's load_svmlight_file(dtype=float32)
 * give. The grammar check comes first, so strtod never sees hex, "inf" or locale surprises. */
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include "data/vec_impl.h"

int vec_next_line(vec_lines *L, const char **s, const char **e) {
    if (L->p >= L->end) return 0;
    const char *a = L->p, *nl = memchr(a, '\n', (size_t)(L->end - a));
    const char *b = nl ? nl : L->end;
    L->p = nl ? nl + 1 : L->end;
    L->line++;
    const char *hash = memchr(a, '#', (size_t)(b - a));
    if (hash) b = hash;
    else if (b > a && b[-1] == '\r') b--;
    *s = a;
    *e = b;
    return 1;
}

const char *vec_show(char *out, size_t cap, const char *s, const char *e) {
    size_t k = 0, n = (size_t)(e - s);
    for (size_t i = 0; i < n && i < 40 && k + 1 < cap; i++)
        out[k++] = s[i] >= 0x20 && s[i] < 0x7f ? s[i] : '?';
    if (n > 40 && k + 4 < cap) out[k++] = '.', out[k++] = '.', out[k++] = '.';
    out[k] = 0;
    return out;
}

static int digits(const char **p, const char *e) {
    const char *a = *p;
    while (*p < e && **p >= '0' && **p <= '9') (*p)++;
    return *p > a;
}

/* The grammar of a decimal number over [s, e): 1 when it matches. */
static int is_decimal(const char *s, const char *e) {
    const char *p = s;
    if (p < e && (*p == '+' || *p == '-')) p++;
    int intd = digits(&p, e), fracd = 0;
    if (p < e && *p == '.') {
        p++;
        fracd = digits(&p, e);
    }
    if (!intd && !fracd) return 0;
    if (p < e && (*p == 'e' || *p == 'E')) {
        p++;
        if (p < e && (*p == '+' || *p == '-')) p++;
        if (!digits(&p, e)) return 0;
    }
    return p == e;
}

static int is_nonfinite_word(const char *s, const char *e) {
    if (s < e && (*s == '+' || *s == '-')) s++;
    static const char *const words[] = {"nan", "inf", "infinity"};
    for (int k = 0; k < 3; k++) {
        size_t n = strlen(words[k]);
        if ((size_t)(e - s) == n && strncasecmp(s, words[k], n) == 0) return 1;
    }
    return 0;
}

/* Parses a decimal token to double; NULL or the problem. */
static const char *parse_double(const char *s, const char *e, double *out) {
    if (s == e) return "empty value";
    if (is_nonfinite_word(s, e)) return "NaN or infinite value";
    if (!is_decimal(s, e)) return "not a number";
    char tmp[VEC_MAX_TOKEN + 1];
    if ((size_t)(e - s) > VEC_MAX_TOKEN) return "number longer than 128 characters";
    memcpy(tmp, s, (size_t)(e - s));
    tmp[e - s] = 0;
    char *end;
    const double d = strtod(tmp, &end);
    if (end != tmp + (e - s)) return "not a number";
    if (!isfinite(d)) return "beyond float32 range";
    *out = d;
    return NULL;
}

const char *vec_parse_value(const char *s, const char *e, float *out) {
    double d;
    const char *bad = parse_double(s, e, &d);
    if (bad) return bad;
    /* Doubles below FLT_MAX + half an ulp round to +-FLT_MAX; from there on to infinity. The
     * cast itself is only done on values in float's range. */
    const double round_to_inf = 0x1.ffffffp127;
    if (fabs(d) >= round_to_inf) return "beyond float32 range";
    *out = fabs(d) > FLT_MAX ? (d < 0 ? -FLT_MAX : FLT_MAX) : (float)d;
    return NULL;
}

const char *vec_parse_label(const char *s, const char *e, int32_t *out) {
    double d;
    const char *bad = parse_double(s, e, &d);
    if (bad) return bad;
    if (d != floor(d)) return "not an integer (labels are -1/+1 or classes 0..C-1)";
    if (d < -1 || d >= VEC_MAX_CLASSES) return "out of range (labels are -1/+1 or classes 0..65535)";
    *out = (int32_t)d;
    return NULL;
}

int vec_reserve(void **p, size_t *cap, size_t need, size_t size) {
    if (need <= *cap) return 0;
    size_t c = *cap ? *cap : 1024;
    while (c < need) {
        if (c > SIZE_MAX / 2 / size) return -1;
        c *= 2;
    }
    void *q = realloc(*p, c * size);
    if (!q) return -1;
    *p = q;
    *cap = c;
    return 0;
}

dann_status vec_map_labels(vec_data *v, int32_t *y, int n, int *n_classes, const char *name,
                           dann_error *err) {
    int first_m1 = -1, first_0 = -1, top = -1;
    for (int i = 0; i < n; i++) {
        if (y[i] == -1 && first_m1 < 0) first_m1 = i;
        if (y[i] == 0 && first_0 < 0) first_0 = i;
        if (y[i] > top) top = y[i];
    }
    if (first_m1 >= 0 && first_0 >= 0)
        return dann_fail(err, DANN_ERR_FORMAT, "%s:%d: label 0, but line %d has label -1: -1/+1 "
                         "labels map -1 to class 0, so a file may not hold both", name,
                         v->line[first_0], v->line[first_m1]);
    if (first_m1 >= 0) {
        for (int i = 0; i < n; i++)
            if (y[i] == -1) y[i] = 0;
        if (top < 0) top = 0;
        v->pm1 = 1;
    }
    *n_classes = top + 1;
    const size_t k = strlen(v->label_desc);
    if (v->pm1 && top <= 1)
        snprintf(v->label_desc + k, sizeof v->label_desc - k, "labels -1/+1 -> classes 0/1");
    else if (v->pm1)
        snprintf(v->label_desc + k, sizeof v->label_desc - k, "labels -1 -> class 0, 1..%d as "
                 "classes", top);
    else
        snprintf(v->label_desc + k, sizeof v->label_desc - k, "labels 0..%d as classes", top);
    return DANN_OK;
}
