/* json.c - the flat-object JSON writer and reader of json.h. */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "cli/json.h"

static void put(json_buf *j, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void put(json_buf *j, const char *fmt, ...) {
    if (j->overflow) return;
    va_list ap;
    va_start(ap, fmt);
    int k = vsnprintf(j->buf + j->n, sizeof j->buf - j->n, fmt, ap);
    va_end(ap);
    if (k < 0 || (size_t)k >= sizeof j->buf - j->n) {
        j->overflow = 1;
        return;
    }
    j->n += (size_t)k;
}

static void put_string(json_buf *j, const char *s) {
    put(j, "\"");
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\') put(j, "\\%c", c);
        else if (c < 0x20) put(j, "\\u%04x", c);
        else put(j, "%c", c);
    }
    put(j, "\"");
}

static void key(json_buf *j, const char *k) {
    put(j, "%s", j->fields++ ? ", " : "");
    put_string(j, k);
    put(j, ": ");
}

void json_begin(json_buf *j) {
    memset(j, 0, sizeof *j);
    put(j, "{");
}

void json_int(json_buf *j, const char *k, int64_t v) {
    key(j, k);
    put(j, "%lld", (long long)v);
}

void json_u64(json_buf *j, const char *k, uint64_t v) {
    key(j, k);
    put(j, "%llu", (unsigned long long)v);
}

void json_f32(json_buf *j, const char *k, float v) {
    key(j, k);
    if (isfinite(v)) put(j, "%.8g", (double)v);
    else put(j, "null");
}

void json_num(json_buf *j, const char *k, double v) { json_num_or_null(j, k, v, 1); }

void json_num_or_null(json_buf *j, const char *k, double v, int present) {
    key(j, k);
    if (present && isfinite(v)) put(j, "%.10g", v);
    else put(j, "null");
}

void json_str(json_buf *j, const char *k, const char *v) {
    key(j, k);
    if (v) put_string(j, v);
    else put(j, "null");
}

void json_bool(json_buf *j, const char *k, int v) {
    key(j, k);
    put(j, "%s", v ? "true" : "false");
}

void json_end(json_buf *j) { put(j, "}\n"); }

/* The first character of the value of "key", or NULL. */
static const char *find_value(const char *obj, const char *k) {
    size_t kl = strlen(k);
    for (const char *p = strchr(obj, '"'); p; p = strchr(p + 1, '"')) {
        if (strncmp(p + 1, k, kl) == 0 && p[1 + kl] == '"') {
            const char *q = p + 2 + kl;
            while (*q == ' ' || *q == '\t') q++;
            if (*q != ':') continue;
            q++;
            while (*q == ' ' || *q == '\t') q++;
            return q;
        }
    }
    return NULL;
}

int json_get_num(const char *obj, const char *k, double *out) {
    const char *v = find_value(obj, k);
    if (!v || !(*v == '-' || (*v >= '0' && *v <= '9'))) return 0;
    char *end;
    double x = strtod(v, &end);
    if (end == v) return 0;
    *out = x;
    return 1;
}

int json_get_str(const char *obj, const char *k, char *out, size_t cap) {
    const char *v = find_value(obj, k);
    if (!v || *v != '"' || cap == 0) return 0;
    size_t n = 0;
    for (v++; *v && *v != '"'; v++) {
        char c = *v;
        if (c == '\\') {
            v++;
            if (*v == 'u') {
                unsigned code = 0;
                for (int i = 1; i <= 4; i++) {
                    char h = v[i];
                    int d = h >= '0' && h <= '9' ? h - '0' : h >= 'a' && h <= 'f' ? h - 'a' + 10
                          : h >= 'A' && h <= 'F' ? h - 'A' + 10 : -1;
                    if (d < 0) return 0;
                    code = code * 16 + (unsigned)d;
                }
                c = (char)code;
                v += 4;
            } else if (*v == 'n') c = '\n';
            else if (*v == 't') c = '\t';
            else if (*v) c = *v;
            else return 0;
        }
        if (n + 1 < cap) out[n++] = c;
    }
    if (*v != '"') return 0;
    out[n] = 0;
    return 1;
}
