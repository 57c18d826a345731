/* safetensors_write.c - the safetensors writer (format in safetensors.h).
 *
 * Tensors are laid out in the order they were added, back to back; the JSON header is padded
 * with spaces to a multiple of 8 bytes, as tools/st.py and the reference writer do, so the data
 * section starts 8-byte aligned. Strings are escaped for JSON (quote, backslash, control
 * characters); other bytes are written as they are (UTF-8 passes through).
 * The file appears atomically: everything goes to path.tmp, which is flushed, fsync'd and then
 * renamed over path; on any failure path.tmp is removed and path is left untouched. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "core/core.h"
#include "io/safetensors.h"

void st_writer_init(st_writer *w) { memset(w, 0, sizeof *w); }

void st_writer_free(st_writer *w) {
    for (int i = 0; i < w->n; i++) free(w->t[i].name);
    for (int i = 0; i < w->n_meta; i++) {
        free(w->meta[i].key);
        free(w->meta[i].value);
    }
    free(w->t);
    free(w->meta);
    memset(w, 0, sizeof *w);
}

static char *dup_str(const char *s, dann_error *err) {
    size_t n = strlen(s) + 1;
    char *d = malloc(n);
    if (!d) dann_fail(err, DANN_ERR_NOMEM, "out of memory copying a tensor name");
    else memcpy(d, s, n);
    return d;
}

dann_status st_writer_add(st_writer *w, const char *name, st_dtype dtype, int ndim,
                          const int64_t *shape, const void *data, dann_error *err) {
    if (!name[0]) return dann_fail(err, DANN_ERR_ARG, "safetensors writer: empty tensor name");
    if (!strcmp(name, "__metadata__"))
        return dann_fail(err, DANN_ERR_ARG, "safetensors writer: '__metadata__' is reserved");
    if (ndim < 0 || ndim > ST_MAX_DIMS)
        return dann_fail(err, DANN_ERR_ARG, "safetensors writer: tensor '%s' has %d dimensions (max %d)",
                         name, ndim, ST_MAX_DIMS);
    for (int i = 0; i < w->n; i++)
        if (!strcmp(w->t[i].name, name))
            return dann_fail(err, DANN_ERR_ARG, "safetensors writer: duplicate tensor name '%s'", name);
    size_t numel = 1;
    for (int d = 0; d < ndim; d++) {
        if (shape[d] < 0 || (shape[d] && numel > SIZE_MAX / 8 / (size_t)shape[d]))
            return dann_fail(err, DANN_ERR_ARG, "safetensors writer: tensor '%s' has a bad dimension %lld",
                             name, (long long)shape[d]);
        numel *= (size_t)shape[d];
    }
    if (w->n == w->cap) {
        int cap = w->cap ? 2 * w->cap : 16;
        st_tensor *t = realloc(w->t, (size_t)cap * sizeof *t);
        if (!t) return dann_fail(err, DANN_ERR_NOMEM, "safetensors writer: out of memory");
        w->t = t;
        w->cap = cap;
    }
    st_tensor *t = &w->t[w->n];
    memset(t, 0, sizeof *t);
    if (!(t->name = dup_str(name, err))) return DANN_ERR_NOMEM;
    t->dtype = dtype;
    t->ndim = ndim;
    for (int d = 0; d < ndim; d++) t->shape[d] = shape[d];
    t->numel = numel;
    t->nbytes = numel * st_dtype_size(dtype);
    t->data = data;
    w->n++;
    return DANN_OK;
}

dann_status st_writer_meta(st_writer *w, const char *key, const char *value, dann_error *err) {
    for (int i = 0; i < w->n_meta; i++)
        if (!strcmp(w->meta[i].key, key))
            return dann_fail(err, DANN_ERR_ARG, "safetensors writer: duplicate metadata key '%s'", key);
    if (w->n_meta == w->cap_meta) {
        int cap = w->cap_meta ? 2 * w->cap_meta : 8;
        st_meta *m = realloc(w->meta, (size_t)cap * sizeof *m);
        if (!m) return dann_fail(err, DANN_ERR_NOMEM, "safetensors writer: out of memory");
        w->meta = m;
        w->cap_meta = cap;
    }
    st_meta *m = &w->meta[w->n_meta];
    m->key = dup_str(key, err);
    m->value = m->key ? dup_str(value, err) : NULL;
    if (!m->value) {
        free(m->key);
        return DANN_ERR_NOMEM;
    }
    w->n_meta++;
    return DANN_OK;
}

/* A growing text buffer for the header; `bad` records an allocation failure. */
typedef struct { char *s; size_t n, cap; int bad; } sbuf;

static void sb_put(sbuf *b, const char *s, size_t n) {
    if (b->bad) return;
    if (b->n + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap < b->n + n + 1) cap *= 2;
        char *p = realloc(b->s, cap);
        if (!p) { b->bad = 1; return; }
        b->s = p;
        b->cap = cap;
    }
    memcpy(b->s + b->n, s, n);
    b->n += n;
    b->s[b->n] = 0;
}

static void sb_str(sbuf *b, const char *s) { sb_put(b, s, strlen(s)); }

static void sb_json_string(sbuf *b, const char *s) {
    sb_put(b, "\"", 1);
    for (; *s; s++) {
        unsigned char ch = (unsigned char)*s;
        char esc[8];
        if (ch == '"' || ch == '\\') {
            esc[0] = '\\';
            esc[1] = (char)ch;
            sb_put(b, esc, 2);
        } else if (ch < 0x20) {
            snprintf(esc, sizeof esc, "\\u%04x", ch);
            sb_put(b, esc, 6);
        } else {
            sb_put(b, s, 1);
        }
    }
    sb_put(b, "\"", 1);
}

/* The padded JSON header for w's tensors laid out back to back. */
static dann_status build_header(const st_writer *w, sbuf *b, dann_error *err) {
    char num[64];
    size_t off = 0;
    sb_str(b, "{");
    for (int i = 0; i < w->n; i++) {
        const st_tensor *t = &w->t[i];
        if (i) sb_str(b, ",");
        sb_json_string(b, t->name);
        sb_str(b, ":{\"dtype\":\"");
        sb_str(b, st_dtype_name(t->dtype));
        sb_str(b, "\",\"shape\":[");
        for (int d = 0; d < t->ndim; d++) {
            snprintf(num, sizeof num, "%s%lld", d ? "," : "", (long long)t->shape[d]);
            sb_str(b, num);
        }
        snprintf(num, sizeof num, "],\"data_offsets\":[%zu,%zu]}", off, off + t->nbytes);
        sb_str(b, num);
        off += t->nbytes;
    }
    if (w->n_meta) {
        sb_str(b, w->n ? ",\"__metadata__\":{" : "\"__metadata__\":{");
        for (int i = 0; i < w->n_meta; i++) {
            if (i) sb_str(b, ",");
            sb_json_string(b, w->meta[i].key);
            sb_str(b, ":");
            sb_json_string(b, w->meta[i].value);
        }
        sb_str(b, "}");
    }
    sb_str(b, "}");
    while (!b->bad && b->n % 8) sb_str(b, " ");
    if (b->bad) return dann_fail(err, DANN_ERR_NOMEM, "safetensors writer: out of memory for the header");
    return DANN_OK;
}

static dann_status write_fail(FILE *fp, const char *tmp, const char *path, const char *what,
                              dann_error *err) {
    int e = errno;
    if (fp) fclose(fp);
    remove(tmp);
    return dann_fail(err, DANN_ERR_IO, "%s: cannot write (%s): %s", path, what, strerror(e));
}

dann_status st_write(const st_writer *w, const char *path, dann_error *err) {
    sbuf b = {0};
    dann_status s = build_header(w, &b, err);
    if (s) { free(b.s); return s; }
    size_t plen = strlen(path);
    char *tmp = malloc(plen + 5);
    if (!tmp) {
        free(b.s);
        return dann_fail(err, DANN_ERR_NOMEM, "%s: out of memory", path);
    }
    memcpy(tmp, path, plen);
    memcpy(tmp + plen, ".tmp", 5);
    unsigned char len8[8];
    for (int k = 0; k < 8; k++) len8[k] = (unsigned char)((uint64_t)b.n >> (8 * k));
    FILE *fp = fopen(tmp, "wb");
    if (!fp) {
        s = dann_fail(err, DANN_ERR_IO, "%s: cannot create %s: %s", path, tmp, strerror(errno));
    } else if (fwrite(len8, 1, 8, fp) != 8 || fwrite(b.s, 1, b.n, fp) != b.n) {
        s = write_fail(fp, tmp, path, "header", err);
    } else {
        for (int i = 0; i < w->n && !s; i++)
            if (w->t[i].nbytes && fwrite(w->t[i].data, 1, w->t[i].nbytes, fp) != w->t[i].nbytes)
                s = write_fail(fp, tmp, path, w->t[i].name, err);
        if (!s && (fflush(fp) != 0 || fsync(fileno(fp)) != 0)) s = write_fail(fp, tmp, path, "flush", err);
        if (!s && fclose(fp) != 0) s = write_fail(NULL, tmp, path, "close", err);
        if (!s && rename(tmp, path) != 0) s = write_fail(NULL, tmp, path, "rename", err);
    }
    free(tmp);
    free(b.s);
    return s;
}
