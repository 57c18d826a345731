/* safetensors.c - the safetensors reader: a strict parser for the JSON header and the checks
 * that tie it to the data section (see safetensors.h for the format).
 *
 * The JSON parser accepts exactly what the format needs: one top-level object whose members are
 * tensor objects {"dtype", "shape", "data_offsets"} (each once, nothing else) and at most one
 * "__metadata__" object of string values; strings with the JSON escapes (\uXXXX decoded to
 * UTF-8, surrogate pairs joined, \u0000 refused since names are C strings); non-negative
 * integers without sign, fraction or leading zeros. Anything else is refused with the byte
 * offset of the problem. After parsing, the tensors must tile the data section exactly. */
#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "core/core.h"
#include "io/safetensors.h"

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "safetensors.c assumes a little-endian host"
#endif

#define ST_MAX_HEADER (100u << 20) /* the reference implementation's limit */

static const char *const g_dtype_names[] = {"F32", "I64", "I32", "U8"};
static const size_t g_dtype_sizes[] = {4, 8, 4, 1};

size_t st_dtype_size(st_dtype dt) { return g_dtype_sizes[dt]; }
const char *st_dtype_name(st_dtype dt) { return g_dtype_names[dt]; }

typedef struct {
    const char *s;
    size_t n, i;
    const char *path;
    dann_error *err;
} json_cur;

static dann_status jfail(json_cur *c, const char *what) {
    return dann_fail(c->err, DANN_ERR_FORMAT, "%s: safetensors header: %s at byte %zu of %zu",
                     c->path, what, c->i, c->n);
}

static void skip_ws(json_cur *c) {
    while (c->i < c->n && (c->s[c->i] == ' ' || c->s[c->i] == '\t' || c->s[c->i] == '\n' ||
                           c->s[c->i] == '\r'))
        c->i++;
}

/* Skips whitespace and consumes ch if it is next; returns 1 when it was. */
static int accept(json_cur *c, char ch) {
    skip_ws(c);
    if (c->i < c->n && c->s[c->i] == ch) { c->i++; return 1; }
    return 0;
}

static dann_status expect(json_cur *c, char ch) {
    char msg[32];
    if (accept(c, ch)) return DANN_OK;
    snprintf(msg, sizeof msg, "expected '%c'", ch);
    return jfail(c, msg);
}

static int hex4(json_cur *c, unsigned *v) {
    *v = 0;
    if (c->n - c->i < 4) return 0;
    for (int k = 0; k < 4; k++) {
        char h = c->s[c->i++];
        int d = h >= '0' && h <= '9' ? h - '0' : h >= 'a' && h <= 'f' ? h - 'a' + 10
              : h >= 'A' && h <= 'F' ? h - 'A' + 10 : -1;
        if (d < 0) return 0;
        *v = *v << 4 | (unsigned)d;
    }
    return 1;
}

/* Parses a JSON string into a fresh NUL-terminated UTF-8 buffer (*out, owned by the caller). */
static dann_status parse_string(json_cur *c, char **out) {
    *out = NULL;
    if (!accept(c, '"')) return jfail(c, "expected a string");
    /* Decoded text is never longer than its escaped form. */
    size_t start = c->i, len = 0;
    while (c->i < c->n && c->s[c->i] != '"') c->i += c->s[c->i] == '\\' ? 2 : 1;
    if (c->i >= c->n) { c->i = start; return jfail(c, "unterminated string"); }
    char *buf = malloc(c->i - start + 1);
    if (!buf) return dann_fail(c->err, DANN_ERR_NOMEM, "%s: out of memory", c->path);
    for (c->i = start; c->s[c->i] != '"';) {
        unsigned char ch = (unsigned char)c->s[c->i++];
        if (ch < 0x20) { c->i--; free(buf); return jfail(c, "control character in string"); }
        if (ch != '\\') { buf[len++] = (char)ch; continue; }
        char e = c->s[c->i++];
        const char *simple = strchr("\"\\/bfnrt", e);
        if (e && simple) { buf[len++] = "\"\\/\b\f\n\r\t"[simple - "\"\\/bfnrt"]; continue; }
        unsigned cp, lo;
        if (e != 'u' || !hex4(c, &cp)) { free(buf); return jfail(c, "bad escape in string"); }
        if (cp >= 0xDC00 && cp <= 0xDFFF) { free(buf); return jfail(c, "lone low surrogate"); }
        if (cp >= 0xD800 && cp <= 0xDBFF) {
            if (c->n - c->i < 2 || c->s[c->i] != '\\' || c->s[c->i + 1] != 'u' ||
                (c->i += 2, !hex4(c, &lo)) || lo < 0xDC00 || lo > 0xDFFF) {
                free(buf);
                return jfail(c, "unpaired high surrogate");
            }
            cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
        }
        if (cp == 0) { free(buf); return jfail(c, "\\u0000 in string"); }
        if (cp < 0x80) {
            buf[len++] = (char)cp;
        } else if (cp < 0x800) {
            buf[len++] = (char)(0xC0 | cp >> 6);
            buf[len++] = (char)(0x80 | (cp & 0x3F));
        } else if (cp < 0x10000) {
            buf[len++] = (char)(0xE0 | cp >> 12);
            buf[len++] = (char)(0x80 | (cp >> 6 & 0x3F));
            buf[len++] = (char)(0x80 | (cp & 0x3F));
        } else {
            buf[len++] = (char)(0xF0 | cp >> 18);
            buf[len++] = (char)(0x80 | (cp >> 12 & 0x3F));
            buf[len++] = (char)(0x80 | (cp >> 6 & 0x3F));
            buf[len++] = (char)(0x80 | (cp & 0x3F));
        }
    }
    c->i++;
    buf[len] = 0;
    *out = buf;
    return DANN_OK;
}

static dann_status parse_uint(json_cur *c, int64_t *v) {
    skip_ws(c);
    size_t start = c->i;
    *v = 0;
    while (c->i < c->n && c->s[c->i] >= '0' && c->s[c->i] <= '9') {
        int d = c->s[c->i] - '0';
        if (*v > (INT64_MAX - d) / 10) return jfail(c, "integer too large");
        *v = *v * 10 + d;
        c->i++;
    }
    if (c->i == start) return jfail(c, "expected a non-negative integer");
    if (c->i - start > 1 && c->s[start] == '0') { c->i = start; return jfail(c, "leading zero"); }
    if (c->i < c->n && c->s[c->i] && strchr(".eE", c->s[c->i])) return jfail(c, "expected an integer");
    return DANN_OK;
}

/* [int, ...] with at most max entries. */
static dann_status parse_uint_array(json_cur *c, int64_t *v, int max, int *count) {
    dann_status s;
    *count = 0;
    if ((s = expect(c, '['))) return s;
    if (accept(c, ']')) return DANN_OK;
    do {
        if (*count == max) return jfail(c, "too many array elements");
        if ((s = parse_uint(c, &v[(*count)++]))) return s;
    } while (accept(c, ','));
    return expect(c, ']');
}

/* {"dtype": .., "shape": .., "data_offsets": ..} in any order, each exactly once. */
static dann_status parse_tensor(json_cur *c, st_tensor *t, int64_t off[2]) {
    dann_status s;
    int seen = 0, noff = 0;
    if ((s = expect(c, '{'))) return s;
    do {
        char *key;
        if ((s = parse_string(c, &key))) return s;
        int bit = !strcmp(key, "dtype") ? 1 : !strcmp(key, "shape") ? 2
                : !strcmp(key, "data_offsets") ? 4 : 0;
        free(key);
        if (!bit) return jfail(c, "unknown tensor field");
        if (seen & bit) return jfail(c, "repeated tensor field");
        seen |= bit;
        if ((s = expect(c, ':'))) return s;
        if (bit == 1) {
            char *dt;
            if ((s = parse_string(c, &dt))) return s;
            int k = 0;
            while (k < 4 && strcmp(dt, g_dtype_names[k])) k++;
            if (k == 4) {
                char msg[96];
                snprintf(msg, sizeof msg, "unknown dtype \"%.40s\" (expected F32, I64, I32 or U8)", dt);
                free(dt);
                return jfail(c, msg);
            }
            free(dt);
            t->dtype = (st_dtype)k;
        } else if (bit == 2) {
            if ((s = parse_uint_array(c, t->shape, ST_MAX_DIMS, &t->ndim))) return s;
        } else {
            if ((s = parse_uint_array(c, off, 2, &noff))) return s;
            if (noff != 2) return jfail(c, "data_offsets needs two integers");
        }
    } while (accept(c, ','));
    if (seen != 7) return jfail(c, "tensor lacks dtype, shape or data_offsets");
    return expect(c, '}');
}

static dann_status parse_meta(json_cur *c, st_file *f) {
    dann_status s;
    if ((s = expect(c, '{'))) return s;
    if (accept(c, '}')) return DANN_OK;
    do {
        st_meta *m = realloc(f->meta, (size_t)(f->n_meta + 1) * sizeof *m);
        if (!m) return dann_fail(c->err, DANN_ERR_NOMEM, "%s: out of memory", c->path);
        f->meta = m;
        m = &f->meta[f->n_meta++];
        m->key = m->value = NULL;
        if ((s = parse_string(c, &m->key))) return s;
        if ((s = expect(c, ':'))) return s;
        if ((s = parse_string(c, &m->value))) return s;
        for (int k = 0; k < f->n_meta - 1; k++)
            if (!strcmp(f->meta[k].key, m->key)) return jfail(c, "duplicate metadata key");
    } while (accept(c, ','));
    return expect(c, '}');
}

static int cmp_offset(const void *a, const void *b) {
    const st_tensor *x = *(st_tensor *const *)a, *y = *(st_tensor *const *)b;
    return x->offset < y->offset ? -1 : x->offset > y->offset;
}

/* Checks shapes against offsets and that the tensors tile [0, data_size); then copies each
 * tensor to an 8-byte aligned place in f->data. ends[i] = data_offsets[1] of tensor i. */
static dann_status check_and_copy(st_file *f, const int64_t *ends, const unsigned char *data,
                                  size_t data_size, const char *path, dann_error *err) {
    size_t total = 0;
    for (int i = 0; i < f->n; i++) {
        st_tensor *t = &f->t[i];
        size_t numel = 1, esz = st_dtype_size(t->dtype);
        for (int d = 0; d < t->ndim; d++) {
            if (t->shape[d] != 0 && numel > SIZE_MAX / 8 / (size_t)t->shape[d])
                return dann_fail(err, DANN_ERR_FORMAT, "%s: tensor '%s': shape too large", path, t->name);
            numel *= (size_t)t->shape[d];
        }
        t->numel = numel;
        t->nbytes = numel * esz;
        if ((uint64_t)ends[i] < t->offset || (uint64_t)ends[i] - t->offset != t->nbytes)
            return dann_fail(err, DANN_ERR_FORMAT,
                             "%s: tensor '%s': data_offsets [%zu, %lld] hold %lld bytes but %s x %zu elements need %zu",
                             path, t->name, t->offset, (long long)ends[i],
                             (long long)(ends[i] - (int64_t)t->offset), st_dtype_name(t->dtype), numel, t->nbytes);
        total += (t->nbytes + 7) & ~(size_t)7;
    }
    st_tensor **order = malloc((f->n > 0 ? (size_t)f->n : 1) * sizeof *order);
    if (!order) return dann_fail(err, DANN_ERR_NOMEM, "%s: out of memory", path);
    for (int i = 0; i < f->n; i++) order[i] = &f->t[i];
    qsort(order, (size_t)f->n, sizeof *order, cmp_offset);
    size_t pos = 0;
    for (int i = 0; i < f->n; i++) {
        if (order[i]->offset != pos) {
            dann_status s = dann_fail(err, DANN_ERR_FORMAT,
                "%s: tensor '%s' starts at data offset %zu, expected %zu (%s)", path, order[i]->name,
                order[i]->offset, pos, order[i]->offset < pos ? "overlap" : "gap");
            free(order);
            return s;
        }
        pos += order[i]->nbytes;
    }
    free(order);
    if (pos != data_size)
        return dann_fail(err, DANN_ERR_FORMAT, "%s: the tensors cover %zu bytes but the data section has %zu%s",
                         path, pos, data_size, pos > data_size ? " (truncated file?)" : "");
    unsigned char *dst = dann_calloc(total ? total : 1, 1, err);
    if (!dst) return DANN_ERR_NOMEM;
    f->data = dst;
    for (int i = 0; i < f->n; i++) {
        if (f->t[i].nbytes) memcpy(dst, data + f->t[i].offset, f->t[i].nbytes);
        f->t[i].data = dst;
        dst += (f->t[i].nbytes + 7) & ~(size_t)7;
    }
    return DANN_OK;
}

static dann_status parse_header(st_file *f, json_cur *c, int64_t **ends) {
    dann_status s;
    int have_meta = 0;
    if ((s = expect(c, '{'))) return s;
    if (!accept(c, '}')) {
        do {
            char *name;
            if ((s = parse_string(c, &name))) return s;
            if ((s = expect(c, ':'))) { free(name); return s; }
            if (!strcmp(name, "__metadata__")) {
                free(name);
                if (have_meta++) return jfail(c, "repeated __metadata__");
                if ((s = parse_meta(c, f))) return s;
                continue;
            }
            st_tensor *t = realloc(f->t, (size_t)(f->n + 1) * sizeof *t);
            int64_t *e = realloc(*ends, (size_t)(f->n + 1) * sizeof *e);
            if (t) f->t = t;
            if (e) *ends = e;
            if (!t || !e) { free(name); return dann_fail(c->err, DANN_ERR_NOMEM, "%s: out of memory", c->path); }
            t = &f->t[f->n++];
            memset(t, 0, sizeof *t);
            t->name = name;
            for (int k = 0; k < f->n - 1; k++)
                if (!strcmp(f->t[k].name, name))
                    return dann_fail(c->err, DANN_ERR_FORMAT, "%s: duplicate tensor name '%s'", c->path, name);
            int64_t off[2];
            if ((s = parse_tensor(c, t, off))) return s;
            t->offset = (size_t)off[0];
            (*ends)[f->n - 1] = off[1];
        } while (accept(c, ','));
        if ((s = expect(c, '}'))) return s;
    }
    skip_ws(c);
    if (c->i != c->n) return jfail(c, "trailing bytes after the header object");
    return DANN_OK;
}

dann_status st_parse(st_file *f, const unsigned char *buf, size_t size, const char *path,
                     dann_error *err) {
    memset(f, 0, sizeof *f);
    if (size == 0) return dann_fail(err, DANN_ERR_FORMAT, "%s: empty file, not safetensors", path);
    if (size < 8)
        return dann_fail(err, DANN_ERR_FORMAT, "%s: truncated: %zu bytes, the header length alone needs 8", path, size);
    uint64_t n = 0;
    for (int k = 7; k >= 0; k--) n = n << 8 | buf[k];
    if (n > size - 8)
        return dann_fail(err, DANN_ERR_FORMAT, "%s: header length %llu exceeds the %zu bytes after it (truncated or not safetensors)",
                         path, (unsigned long long)n, size - 8);
    if (n > ST_MAX_HEADER || n < 2)
        return dann_fail(err, DANN_ERR_FORMAT, "%s: implausible header length %llu", path, (unsigned long long)n);
    json_cur c = {(const char *)buf + 8, (size_t)n, 0, path, err};
    int64_t *ends = NULL;
    dann_status s = parse_header(f, &c, &ends);
    if (!s) s = check_and_copy(f, ends, buf + 8 + n, size - 8 - (size_t)n, path, err);
    free(ends);
    if (s) st_free(f);
    return s;
}

dann_status st_read(st_file *f, const char *path, dann_error *err) {
    memset(f, 0, sizeof *f);
    FILE *fp;
    uint64_t fsize;
    dann_status st = file_fopen_regular(path, &fp, &fsize, err);
    if (st) return st;
    if (fsize > (uint64_t)LONG_MAX || fsize > SIZE_MAX) {
        fclose(fp);
        return dann_fail(err, DANN_ERR_NOMEM, "%s: too large (%llu bytes)", path,
                         (unsigned long long)fsize);
    }
    long size = (long)fsize;
    unsigned char *buf = malloc(size ? (size_t)size : 1);
    if (!buf) {
        fclose(fp);
        return dann_fail(err, DANN_ERR_NOMEM, "%s: out of memory for %ld bytes", path, size);
    }
    size_t got = fread(buf, 1, (size_t)size, fp);
    int bad = ferror(fp);
    fclose(fp);
    if (got != (size_t)size || bad) {
        free(buf);
        return dann_fail(err, DANN_ERR_IO, "%s: read error after %zu of %ld bytes", path, got, size);
    }
    dann_status s = st_parse(f, buf, (size_t)size, path, err);
    free(buf);
    return s;
}

void st_free(st_file *f) {
    for (int i = 0; i < f->n; i++) free(f->t[i].name);
    for (int i = 0; i < f->n_meta; i++) {
        free(f->meta[i].key);
        free(f->meta[i].value);
    }
    free(f->t);
    free(f->meta);
    free(f->data);
    memset(f, 0, sizeof *f);
}

const st_tensor *st_find(const st_file *f, const char *name) {
    for (int i = 0; i < f->n; i++)
        if (!strcmp(f->t[i].name, name)) return &f->t[i];
    return NULL;
}

const char *st_meta_get(const st_file *f, const char *key) {
    for (int i = 0; i < f->n_meta; i++)
        if (!strcmp(f->meta[i].key, key)) return f->meta[i].value;
    return NULL;
}
