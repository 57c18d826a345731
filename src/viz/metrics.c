/* metrics.c - metrics.jsonl into columns (see metrics.h). Each line is walked once by a small
 * parser of flat JSON objects that checks the syntax and picks the numbers of the known keys, so
 * a key's name inside some string value can never be taken for the key. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include "core/core.h"
#include "viz/metrics.h"

const char *const metrics_keys[MET_NKEYS] = {
    "source_test_acc", "target_test_acc", "source_val_acc", "domain_acc", "loss_class",
    "loss_domain", "lambda", "lr", "seconds"};

static const char *skip_ws(const char *p) {
    while (*p == ' ' || *p == '\t' || *p == '\r') p++;
    return p;
}

/* A JSON string at p (the opening quote); copies up to cap-1 bytes of it (escapes kept as
 * written, enough to compare plain key names). Returns the character after it or NULL. */
static const char *parse_string(const char *p, char *out, size_t cap) {
    size_t n = 0;
    if (*p++ != '"') return NULL;
    for (; *p != '"'; p++) {
        if ((unsigned char)*p < 0x20) return NULL;  /* end of line or a raw control character */
        if (*p == '\\') {
            p++;
            if (*p == 'u') {
                for (int i = 1; i <= 4; i++)
                    if (!strchr("0123456789abcdefABCDEF", p[i]) || !p[i]) return NULL;
                p += 4;
            } else if (!*p || !strchr("\"\\/bfnrt", *p)) return NULL;
        }
        if (out && n + 1 < cap) out[n++] = *p;
    }
    if (out) out[n] = 0;
    return p + 1;
}

/* A JSON number at p (RFC 8259 grammar); *v its value. Returns the character after it or NULL. */
static const char *parse_number(const char *p, double *v) {
    const char *s = p;
    if (*p == '-') p++;
    if (*p == '0') p++;
    else if (*p >= '1' && *p <= '9') while (*p >= '0' && *p <= '9') p++;
    else return NULL;
    if (*p == '.') {
        p++;
        if (!(*p >= '0' && *p <= '9')) return NULL;
        while (*p >= '0' && *p <= '9') p++;
    }
    if (*p == 'e' || *p == 'E') {
        p++;
        if (*p == '+' || *p == '-') p++;
        if (!(*p >= '0' && *p <= '9')) return NULL;
        while (*p >= '0' && *p <= '9') p++;
    }
    *v = strtod(s, NULL);
    return p;
}

/* Walks one flat object. For each key that holds a number, calls found(ctx, key, value); keys
 * holding strings, booleans or null are passed over. Returns 1 when the whole line parses. */
static int walk_object(const char *s, void (*found)(void *, const char *, double), void *ctx) {
    const char *p = skip_ws(s);
    char key[64];
    if (*p++ != '{') return 0;
    p = skip_ws(p);
    if (*p == '}') return *skip_ws(p + 1) == 0 || *skip_ws(p + 1) == '\n';
    for (;;) {
        if (!(p = parse_string(p, key, sizeof key))) return 0;
        p = skip_ws(p);
        if (*p++ != ':') return 0;
        p = skip_ws(p);
        double v;
        if (*p == '"') p = parse_string(p, NULL, 0);
        else if (!strncmp(p, "true", 4)) p += 4;
        else if (!strncmp(p, "false", 5)) p += 5;
        else if (!strncmp(p, "null", 4)) p += 4;
        else if ((p = parse_number(p, &v)) && found) found(ctx, key, v);
        if (!p) return 0;
        p = skip_ws(p);
        if (*p == '}') break;
        if (*p++ != ',') return 0;
        p = skip_ws(p);
    }
    p = skip_ws(p + 1);
    return *p == 0 || *p == '\n';
}

int json_flat_object_valid(const char *s) { return walk_object(s, NULL, NULL); }

typedef struct {
    double epoch, v[MET_NKEYS];
} row;

static void take(void *ctx, const char *key, double v) {
    row *r = ctx;
    if (!strcmp(key, "epoch")) r->epoch = v;
    for (int k = 0; k < MET_NKEYS; k++)
        if (!strcmp(key, metrics_keys[k])) r->v[k] = v;
}

void metrics_free(metrics_run *r) {
    free(r->epoch);
    for (int k = 0; k < MET_NKEYS; k++) free(r->col[k]);
    memset(r, 0, sizeof *r);
}

static dann_status append(metrics_run *r, int *cap, const row *w, dann_error *err) {
    if (r->n == *cap) {
        int nc = *cap ? *cap * 2 : 64;
        double *e = realloc(r->epoch, sizeof(double) * (size_t)nc);
        if (!e) return dann_fail(err, DANN_ERR_NOMEM, "%s: out of memory", r->path);
        r->epoch = e;
        for (int k = 0; k < MET_NKEYS; k++) {
            double *c = realloc(r->col[k], sizeof(double) * (size_t)nc);
            if (!c) return dann_fail(err, DANN_ERR_NOMEM, "%s: out of memory", r->path);
            r->col[k] = c;
        }
        *cap = nc;
    }
    r->epoch[r->n] = isfinite(w->epoch) ? w->epoch : (r->n ? r->epoch[r->n - 1] + 1 : 1);
    for (int k = 0; k < MET_NKEYS; k++) r->col[k][r->n] = w->v[k];
    r->n++;
    return DANN_OK;
}

dann_status metrics_read(metrics_run *r, const char *where, dann_error *err) {
    memset(r, 0, sizeof *r);
    struct stat st;
    int is_dir = stat(where, &st) == 0 && S_ISDIR(st.st_mode);
    size_t wl = strlen(where);
    while (is_dir && wl > 1 && where[wl - 1] == '/') wl--;
    if (snprintf(r->path, sizeof r->path, is_dir ? "%.*s/metrics.jsonl" : "%.*s", (int)wl,
                 where) >= (int)sizeof r->path)
        return dann_fail(err, DANN_ERR_ARG, "%s: path too long", where);
    FILE *f;
    dann_status os = file_fopen_regular(r->path, &f, NULL, err);
    if (os) {
        if (is_dir && err) snprintf(err->msg + strlen(err->msg), sizeof err->msg - strlen(err->msg),
                             " (not a run folder of dann train?)");
        return os;
    }
    char *line = NULL;
    size_t lcap = 0;
    ssize_t len;
    int cap = 0, lineno = 0, bad_line = 0;
    dann_status s = DANN_OK;
    while (!s && (len = getline(&line, &lcap, f)) >= 0) {
        lineno++;
        if ((size_t)len != strlen(line)) {
            s = dann_fail(err, DANN_ERR_FORMAT, "%s:%d: a NUL byte inside the line", r->path, lineno);
            break;
        }
        const char *p = skip_ws(line);
        if (*p == '\n' || *p == 0) continue;  /* blank lines are allowed */
        row w;
        w.epoch = NAN;
        for (int k = 0; k < MET_NKEYS; k++) w.v[k] = NAN;
        if (!walk_object(line, take, &w)) {
            bad_line = lineno;
            if (line[len - 1] != '\n') break;  /* the last line, torn: judged below */
            s = dann_fail(err, DANN_ERR_FORMAT, "%s:%d: not a flat JSON object", r->path, lineno);
            break;
        }
        s = append(r, &cap, &w, err);
    }
    if (!s && ferror(f)) s = dann_fail(err, DANN_ERR_IO, "%s: read error", r->path);
    fclose(f);
    free(line);
    if (!s && bad_line)
        snprintf(r->warning, sizeof r->warning, "%s: line %d is truncated (ignored)", r->path,
                 bad_line);
    if (!s && r->n == 0)
        s = dann_fail(err, DANN_ERR_FORMAT, "%s: %s", r->path,
                      bad_line ? "no complete line (only a truncated one)" : "empty: no epochs recorded");
    if (s) metrics_free(r);
    return s;
}
