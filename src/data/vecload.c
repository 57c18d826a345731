/* vecload.c - csv:/svmlight: specs and their options, reading the file (regular files only,
 * plain or gzip through zlib), the dataset a vector file becomes, and fixing its feature
 * dimension (vec.h). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>
#include "data/gzsrc.h"
#include "data/vec_impl.h"

static const struct { const char *prefix; int format; } PREFIXES[] = {
    {"csv:", VEC_CSV}, {"svmlight:", VEC_SVMLIGHT}, {"libsvm:", VEC_SVMLIGHT},
};

int vec_spec_is_vector(const char *spec) {
    for (size_t k = 0; k < sizeof PREFIXES / sizeof *PREFIXES; k++)
        if (!strncmp(spec, PREFIXES[k].prefix, strlen(PREFIXES[k].prefix))) return 1;
    return 0;
}

void vec_opts_default(vec_opts *o) {
    memset(o, 0, sizeof *o);
    o->base = 1;
    o->label = VEC_LABEL_FIRST;
    o->header = -1;
}

/* Applies option KEY=VALUE ([k, eq) and (eq, end)); 1 when KEY is the format's, 0 when it is
 * not an option of the format (the text is then part of the file name), -1 for a bad value. */
static int apply_opt(vec_opts *o, int format, const char *k, const char *eq, const char *val) {
    const size_t kn = (size_t)(eq - k);
    if (format == VEC_SVMLIGHT && kn == 4 && !memcmp(k, "base", 4)) {
        if (!strcmp(val, "0") || !strcmp(val, "1")) return o->base = val[0] - '0', 1;
        return -1;
    }
    if (kn == 5 && !memcmp(k, "label", 5)) {
        if (!strcmp(val, "none")) return o->label = VEC_LABEL_NONE, 1;
        if (format == VEC_SVMLIGHT) return -1;
        if (!strcmp(val, "first")) return o->label = VEC_LABEL_FIRST, 1;
        if (!strcmp(val, "last")) return o->label = VEC_LABEL_LAST, 1;
        if (!*val || strlen(val) >= sizeof o->label_name) return -1;
        snprintf(o->label_name, sizeof o->label_name, "%s", val);
        return o->label = VEC_LABEL_NAMED, 1;
    }
    if (format == VEC_CSV && kn == 6 && !memcmp(k, "header", 6)) {
        if (!strcmp(val, "auto")) return o->header = -1, 1;
        if (!strcmp(val, "yes")) return o->header = 1, 1;
        if (!strcmp(val, "no")) return o->header = 0, 1;
        return -1;
    }
    return 0;
}

dann_status vec_parse_spec(const char *spec, int *format, char *path, size_t cap, vec_opts *o,
                           dann_error *err) {
    vec_opts_default(o);
    size_t k = 0;
    while (k < sizeof PREFIXES / sizeof *PREFIXES &&
           strncmp(spec, PREFIXES[k].prefix, strlen(PREFIXES[k].prefix)))
        k++;
    if (k == sizeof PREFIXES / sizeof *PREFIXES)
        return dann_fail(err, DANN_ERR_ARG, "%s: not a csv: or svmlight: spec", spec);
    *format = PREFIXES[k].format;
    const char *p = spec + strlen(PREFIXES[k].prefix);
    if (strlen(p) >= cap) return dann_fail(err, DANN_ERR_ARG, "%s: path too long", spec);
    strcpy(path, p);
    /* Options are taken from the right while the last ",KEY=VALUE" is one of the format's. */
    vec_opts tmp = *o;
    int seen = 0;
    for (char *comma; (comma = strrchr(path, ','));) {
        char *eq = strchr(comma + 1, '=');
        if (!eq) break;
        const int r = apply_opt(&tmp, *format, comma + 1, eq, eq + 1);
        if (r == 0) break;
        if (r < 0)
            return dann_fail(err, DANN_ERR_ARG, "%s: bad option '%s' (%s)", spec, comma + 1,
                             *format == VEC_CSV ? "csv: takes label=first|last|none|NAME and "
                             "header=auto|yes|no" : "svmlight: takes base=0|1 and label=none");
        const size_t kn = (size_t)(eq - comma - 1);
        const int bit = kn == 4 ? 1 : kn == 5 ? 2 : 4;
        if (seen & bit)
            return dann_fail(err, DANN_ERR_ARG, "%s: option '%.*s' given twice", spec, (int)kn,
                             comma + 1);
        seen |= bit;
        *comma = 0;
    }
    *o = tmp;
    if (!*path) return dann_fail(err, DANN_ERR_ARG, "%s: missing path after the prefix", spec);
    return DANN_OK;
}

/* Reads the whole file (gzip or plain, gzsrc.c) into a malloc'd buffer. A directory, FIFO,
 * device or socket is refused before any read, so a FIFO never blocks; a gzip file may
 * decompress to at most DANN_MAX_GZIP_BYTES, a file to at most VEC_MAX_BYTES. */
static dann_status read_whole(const char *path, char **out, size_t *len, dann_error *err) {
    *out = NULL;
    *len = 0;
    gz_src gs;
    uint64_t fsize, max = VEC_MAX_BYTES;
    dann_status st = gz_open(&gs, path, &fsize, err);
    if (st) return st;
    if (fsize > VEC_MAX_BYTES) {
        gz_close(&gs);
        return dann_fail(err, DANN_ERR_FORMAT, "%s: %llu bytes, more than %llu: not a data file "
                         "dann reads", path, (unsigned long long)fsize,
                         (unsigned long long)VEC_MAX_BYTES);
    }
    if (gs.gz && (st = gz_max_bytes(&max, err))) {
        gz_close(&gs);
        return st;
    }
    if (max > VEC_MAX_BYTES) max = VEC_MAX_BYTES;
    size_t cap = (size_t)fsize + 1 > (1 << 16) ? (size_t)fsize + 1 : (1 << 16), n = 0;
    if (cap > max + 1) cap = (size_t)max + 1;
    char *b = malloc(cap);
    for (;;) {
        if (!b) {
            st = dann_fail(err, DANN_ERR_NOMEM, "%s: out of memory reading the file", path);
            break;
        }
        if (n > max) {
            st = dann_fail(err, DANN_ERR_FORMAT, "%s: more than %llu bytes%s: not a data file "
                           "dann reads%s", path, (unsigned long long)max,
                           gs.gz ? " decompressed" : "",
                           gs.gz ? " (DANN_MAX_GZIP_BYTES raises the limit)" : "");
            break;
        }
        if (n == cap) {
            size_t ncap = cap <= SIZE_MAX / 2 ? cap * 2 : SIZE_MAX;
            if (ncap > max + 1) ncap = (size_t)max + 1;
            char *g = realloc(b, ncap);
            if (!g) free(b);
            b = g;
            cap = ncap;
            continue;
        }
        size_t got;
        if ((st = gz_read(&gs, (uint8_t *)b + n, cap - n, &got, err))) break;
        n += got;
        if (n < cap) {  // the end of the data
            if (gs.cut) st = dann_fail(err, DANN_ERR_FORMAT, "%s: truncated gzip data", path);
            break;
        }
    }
    gz_close(&gs);
    if (st) {
        free(b);
        return st;
    }
    *out = b;
    *len = n;
    return DANN_OK;
}

void vec_data_free(vec_data *v) {
    if (!v) return;
    free(v->x), free(v->rowptr), free(v->col), free(v->val), free(v->line), free(v->path);
    memset(v, 0, sizeof *v);
}

dann_status vec_load_mem(dataset *ds, const char *name, int format, const char *buf, size_t len,
                         const vec_opts *o, int split, dann_error *err) {
    memset(ds, 0, sizeof *ds);
    int n = 0, n_classes = 0;
    char *path = malloc(strlen(name) + 1);
    vec_data *v = calloc(1, sizeof *v);
    if (!path || !v) {
        free(path), free(v);
        return dann_fail(err, DANN_ERR_NOMEM, "%s: out of memory", name);
    }
    strcpy(path, name);
    dann_status st = format == VEC_CSV
                         ? csv_parse(v, &ds->y, &n, &n_classes, name, buf, len, o, err)
                         : svmlight_parse(v, &ds->y, &n, &n_classes, name, buf, len, o, err);
    if (st) {
        free(path), free(v);
        memset(ds, 0, sizeof *ds);
        return st;
    }
    v->path = path;
    ds->vec = v;
    ds->n = n;
    ds->c = v->dim;
    ds->h = ds->w = 1;
    ds->n_classes = n_classes;
    for (int c = 0; c < 3; c++) ds->mean[c] = 0, ds->std[c] = 1;
    snprintf(ds->name, sizeof ds->name, "%s-%s", format == VEC_CSV ? "csv" : "svmlight",
             split == DATA_TEST ? "test" : "train");
    /* The classes' names, which checkpoints keep and eval / predict print: the labels as the
     * file wrote them, "-1" and "+1" in a -1/+1 file, else "0" ... "C-1". */
    if (n_classes > 0) {
        char **names = malloc(sizeof *names * (size_t)n_classes), (*txt)[16] = NULL;
        if (names) txt = malloc(sizeof *txt * (size_t)n_classes);
        for (int k = 0; txt && k < n_classes; k++) {
            if (v->pm1 && k < 2) snprintf(txt[k], sizeof txt[k], "%s", k ? "+1" : "-1");
            else snprintf(txt[k], sizeof txt[k], "%d", k);
            names[k] = txt[k];
        }
        st = txt ? dataset_set_class_names(ds, (const char *const *)names, n_classes, err)
                 : dann_fail(err, DANN_ERR_NOMEM, "%s: out of memory", name);
        free(names), free(txt);
        if (st) {
            dataset_free(ds);
            return st;
        }
    }
    return DANN_OK;
}

dann_status vec_load(dataset *ds, const char *spec, int split, dann_error *err) {
    memset(ds, 0, sizeof *ds);
    char *path = malloc(strlen(spec) + 1), *buf = NULL;
    int format;
    vec_opts o;
    size_t len = 0;
    if (!path) return dann_fail(err, DANN_ERR_NOMEM, "%s: out of memory", spec);
    dann_status st = vec_parse_spec(spec, &format, path, strlen(spec) + 1, &o, err);
    if (!st) st = read_whole(path, &buf, &len, err);
    if (!st) st = vec_load_mem(ds, path, format, buf, len, &o, split, err);
    free(buf);
    free(path);
    return st;
}

dann_status vec_set_dim(dataset *ds, int D, dann_error *err) {
    vec_data *v = ds->vec;
    DANN_ASSERT(v && D >= 1);
    if (!v->sparse && v->dim != D)
        return dann_fail(err, DANN_ERR_ARG, "%s: %d feature columns, but the input has %d",
                         v->path, v->dim, D);
    if (v->sparse && v->dim > D) {
        for (int i = 0; i < ds->n; i++)
            for (int64_t k = v->rowptr[i]; k < v->rowptr[i + 1]; k++)
                if (v->col[k] >= D)
                    return dann_fail(err, DANN_ERR_ARG, "%s:%d: feature index %lld is beyond the "
                                     "input's %d features (%d-based)", v->path, v->line[i],
                                     (long long)v->col[k] + v->opts.base, D, v->opts.base);
        DANN_ASSERT(0);
    }
    ds->c = D;
    return DANN_OK;
}

void vec_describe(const dataset *ds, char *buf, size_t cap) {
    const vec_data *v = ds->vec;
    if (v->sparse)
        snprintf(buf, cap, "svmlight, %d-based, highest index %d (%d features), <= %d non-zeros "
                 "a row; %s", v->opts.base, v->dim - 1 + v->opts.base, v->dim, v->max_row_nnz,
                 v->label_desc);
    else
        snprintf(buf, cap, "csv, %d features; %s", v->dim, v->label_desc);
}
