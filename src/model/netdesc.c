/* netdesc.c - the network description language of docs/NETWORKS.md: parser, canonical printer
 * and the presets.
 *
 *   in 3x28x28; features: conv(64,5) bn maxpool(2) relu ...; class: fc(100) relu fc(10); domain: fc(2)
 *
 * The parser is a hand-written scanner over the text (no allocation): sections in a fixed order,
 * layers separated by spaces, arguments positional or key=value. Every error says where. Sizes are
 * bounded here so that later arithmetic on them cannot overflow (shapes are checked against each
 * other by net_compile). */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "model/net.h"

#define MAX_SIZE 65536        /* channels, widths, input sides */
#define MAX_KERNEL 64

static const struct { const char *name, *text; } PRESETS[] = {
    {"py3", "in 3x28x28; features: conv(64,5) bn maxpool(2) relu conv(50,5) bn dropout2d(0.5) "
            "maxpool(2) relu; class: fc(100) bn relu dropout(0.5) fc(100) bn relu fc(10); "
            "domain: fc(100) bn relu fc(2)"},
    {"paper-mnist", "in 3x28x28; features: conv(32,5) relu maxpool(2) conv(48,5) relu maxpool(2); "
                    "class: fc(100) relu fc(100) relu fc(10); domain: fc(100) relu fc(2)"},
    {"paper-svhn", "in 3x32x32; features: conv(64,5) relu maxpool(3,stride=2) conv(64,5) relu "
                   "maxpool(3,stride=2) conv(128,5,pad=2) dropout2d(0.5) relu; class: fc(3072) "
                   "relu fc(2048) relu fc(10); domain: fc(1024) relu fc(1024) relu fc(2)"},
    {"paper-gtsrb", "in 3x40x40; features: conv(96,5) relu maxpool(2) conv(144,3) relu maxpool(2) "
                    "conv(256,5) relu maxpool(2); class: fc(512) relu fc(43); "
                    "domain: fc(1024) relu fc(1024) relu fc(2)"},
    {"shallow", "in 2; features: fc(15) sigmoid; class: fc(2); domain: fc(2)"},
};
#define N_PRESETS (sizeof PRESETS / sizeof *PRESETS)

const char *net_preset(const char *name) {
    for (size_t i = 0; i < N_PRESETS; i++)
        if (!strcmp(PRESETS[i].name, name)) return PRESETS[i].text;
    return NULL;
}

const char *net_preset_of(const char *canonical) {
    for (size_t i = 0; i < N_PRESETS; i++) {
        net_desc d;
        char text[NET_TEXT_MAX];
        if (net_parse(&d, PRESETS[i].text, NULL) == DANN_OK &&
            net_format(&d, text, sizeof text) < sizeof text && !strcmp(text, canonical))
            return PRESETS[i].name;
    }
    return NULL;
}

const char *net_preset_names(void) { return "py3, paper-mnist, paper-svhn, paper-gtsrb, shallow"; }

static const char *const KIND_NAMES[LK_N] = {
    [LK_CONV] = "conv", [LK_MAXPOOL] = "maxpool", [LK_FC] = "fc", [LK_BN] = "bn",
    [LK_RELU] = "relu", [LK_SIGMOID] = "sigmoid", [LK_DROPOUT] = "dropout",
    [LK_DROPOUT2D] = "dropout2d",
};
static const char *const SEC_NAMES[SEC_N] = {"features", "class", "domain"};

/* ---- scanner ---- */

typedef struct {
    const char *s;     /* current position */
    const char *where; /* section name for messages */
    dann_error *err;
} scan;

static void skip_space(scan *c) {
    while (*c->s && isspace((unsigned char)*c->s)) c->s++;
}

static int accept(scan *c, char ch) {
    skip_space(c);
    if (*c->s != ch) return 0;
    c->s++;
    return 1;
}

/* A word [a-z0-9_-] into w (cap bytes); 0 when none. */
static int word(scan *c, char *w, size_t cap) {
    skip_space(c);
    size_t n = 0;
    while (isalnum((unsigned char)*c->s) || *c->s == '_' || *c->s == '-') {
        if (n + 1 < cap) w[n++] = (char)tolower((unsigned char)*c->s);
        c->s++;
    }
    w[n] = 0;
    return n > 0;
}

/* A near-token excerpt for messages. */
static const char *near(const char *s) {
    static _Thread_local char buf[24];
    size_t n = 0;
    while (s[n] && n < sizeof buf - 1) {
        buf[n] = s[n];
        n++;
    }
    buf[n] = 0;
    return n ? buf : "end of text";
}

/* A decimal number: [+-] digits [. digits] [e [+-] digits] (no hex, inf or nan, which strtod
 * would also take). */
static int number(scan *c, double *v) {
    skip_space(c);
    const char *p = c->s;
    if (*p == '+' || *p == '-') p++;
    const char *d = p;
    while (isdigit((unsigned char)*p)) p++;
    if (*p == '.') {
        p++;
        while (isdigit((unsigned char)*p)) p++;
    }
    if (p == d || (p == d + 1 && *d == '.')) return 0;
    if ((*p == 'e' || *p == 'E') && (isdigit((unsigned char)p[1]) ||
                                      ((p[1] == '+' || p[1] == '-') && isdigit((unsigned char)p[2])))) {
        p += 2;
        while (isdigit((unsigned char)*p)) p++;
    }
    char buf[64];
    if ((size_t)(p - c->s) >= sizeof buf) return 0;
    memcpy(buf, c->s, (size_t)(p - c->s));
    buf[p - c->s] = 0;
    errno = 0;
    *v = strtod(buf, NULL);
    if (errno || !isfinite(*v)) return 0;
    c->s = p;
    return 1;
}

static dann_status bad(scan *c, const char *what) {
    return dann_fail(c->err, DANN_ERR_ARG, "network description, %s: %s near '%s'", c->where, what,
                     near(c->s));
}

static int as_int(double v, int lo, int hi, int *out) {
    if (v != floor(v) || v < lo || v > hi) return 0;
    *out = (int)v;
    return 1;
}

/* LAYER := NAME | NAME "(" ARG {"," ARG} ")" */
static dann_status parse_layer(scan *c, net_layer *l) {
    char name[32];
    const char *start = c->s;
    if (!word(c, name, sizeof name)) return bad(c, "expected a layer");
    int k = -1;
    for (int i = 0; i < LK_N; i++)
        if (!strcmp(name, KIND_NAMES[i])) k = i;
    if (k < 0) {
        c->s = start;
        return bad(c, "unknown layer (conv, maxpool, fc, bn, relu, sigmoid, dropout, dropout2d)");
    }
    memset(l, 0, sizeof *l);
    l->kind = (layer_kind)k;
    l->stride = -1;
    double pos[2];
    int npos = 0, has_stride = 0, has_pad = 0;
    if (accept(c, '(')) {
        do {
            char key[16] = "";
            const char *arg = c->s;
            double v;
            if (word(c, key, sizeof key) && !isdigit((unsigned char)key[0])) {
                if (!accept(c, '=')) return bad(c, "expected '=' after an argument name");
                if (!number(c, &v)) return bad(c, "expected a number");
                if (!strcmp(key, "stride") && (k == LK_CONV || k == LK_MAXPOOL)) {
                    if (!as_int(v, 1, MAX_KERNEL, &l->stride)) return bad(c, "stride must be 1..64");
                    has_stride = 1;
                } else if (!strcmp(key, "pad") && (k == LK_CONV || k == LK_MAXPOOL)) {
                    if (!as_int(v, 0, MAX_KERNEL, &l->pad)) return bad(c, "pad must be 0..64");
                    has_pad = 1;
                } else {
                    c->s = arg;
                    return bad(c, "unknown argument");
                }
            } else {
                c->s = arg;
                if (!number(c, &v)) return bad(c, "expected a number");
                if (has_stride || has_pad) return bad(c, "positional argument after a named one");
                if (npos == 2) return bad(c, "too many arguments");
                pos[npos++] = v;
            }
        } while (accept(c, ','));
        if (!accept(c, ')')) return bad(c, "expected ',' or ')'");
    }
    int want = k == LK_CONV ? 2 : k == LK_MAXPOOL || k == LK_FC || k == LK_DROPOUT || k == LK_DROPOUT2D ? 1 : 0;
    if (npos != want) {
        char msg[96];
        snprintf(msg, sizeof msg, "%s takes %d positional argument%s, got %d", name, want,
                 want == 1 ? "" : "s", npos);
        c->s = start;
        return bad(c, msg);
    }
    if ((has_stride || has_pad) && k != LK_CONV && k != LK_MAXPOOL) return bad(c, "unexpected argument");
    switch (l->kind) {
    case LK_CONV:
        if (!as_int(pos[0], 1, MAX_SIZE, &l->n)) return bad(c, "conv: channels must be 1..65536");
        if (!as_int(pos[1], 1, MAX_KERNEL, &l->k)) return bad(c, "conv: kernel must be 1..64");
        if (l->stride < 0) l->stride = 1;
        break;
    case LK_MAXPOOL:
        if (!as_int(pos[0], 1, MAX_KERNEL, &l->k)) return bad(c, "maxpool: kernel must be 1..64");
        if (l->stride < 0) l->stride = l->k;
        if (2 * l->pad > l->k) return bad(c, "maxpool: pad must be at most half the kernel");
        break;
    case LK_FC:
        if (!as_int(pos[0], 1, MAX_SIZE, &l->n)) return bad(c, "fc: width must be 1..65536");
        break;
    case LK_DROPOUT:
    case LK_DROPOUT2D:
        if (!(pos[0] >= 0 && pos[0] < 1)) return bad(c, "dropout probability must be in [0, 1)");
        l->p = pos[0];
        break;
    default: break;
    }
    return DANN_OK;
}

static dann_status parse_shape(scan *c, net_desc *d) {
    double v[3];
    int n = 0;
    for (;;) {
        if (!number(c, &v[n])) return bad(c, "expected the input shape (CxHxW or D)");
        n++;
        skip_space(c);
        if (n < 3 && (*c->s == 'x' || *c->s == 'X')) {
            c->s++;
            continue;
        }
        break;
    }
    if (n == 2) return bad(c, "the input is CxHxW (an image) or D (a vector)");
    int ok = as_int(v[0], 1, MAX_SIZE, &d->c);
    if (n == 3) ok = ok && as_int(v[1], 1, MAX_SIZE, &d->h) && as_int(v[2], 1, MAX_SIZE, &d->w);
    else d->h = d->w = 1, d->vec = 1;
    if (!ok) return bad(c, "input sizes must be whole numbers in 1..65536");
    if (!d->vec && d->c > 4096) return bad(c, "an image has at most 4096 channels");
    return DANN_OK;
}

dann_status net_parse(net_desc *d, const char *text, dann_error *err) {
    memset(d, 0, sizeof *d);
    scan c = {text, "input", err};
    char w[32];
    if (strlen(text) >= NET_TEXT_MAX)
        return dann_fail(err, DANN_ERR_ARG, "network description longer than %d characters",
                         NET_TEXT_MAX - 1);
    if (!word(&c, w, sizeof w) || strcmp(w, "in"))
        return dann_fail(err, DANN_ERR_ARG,
                         "'%s' is neither a preset (%s) nor a network description (starting 'in "
                         "CxHxW;', see docs/NETWORKS.md)", near(text), net_preset_names());
    dann_status st = parse_shape(&c, d);
    if (st) return st;
    for (int s = 0; s < SEC_N; s++) {
        if (!accept(&c, ';')) return bad(&c, "expected ';'");
        const char *at = c.s;
        if (!word(&c, w, sizeof w) || strcmp(w, SEC_NAMES[s]) || !accept(&c, ':')) {
            c.s = at;
            char msg[64];
            snprintf(msg, sizeof msg, "expected '%s:'", SEC_NAMES[s]);
            return bad(&c, msg);
        }
        c.where = SEC_NAMES[s];
        for (;;) {
            skip_space(&c);
            if (!*c.s || *c.s == ';') break;
            if (d->n[s] == NET_MAX_LAYERS) return bad(&c, "more than 32 layers in a section");
            if ((st = parse_layer(&c, &d->l[s][d->n[s]]))) return st;
            d->n[s]++;
        }
    }
    skip_space(&c);
    if (*c.s) return bad(&c, "unexpected text after the domain head");
    return DANN_OK;
}

static size_t put(char *buf, size_t cap, size_t at, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static size_t put(char *buf, size_t cap, size_t at, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(at < cap ? buf + at : NULL, at < cap ? cap - at : 0, fmt, ap);
    va_end(ap);
    return at + (n > 0 ? (size_t)n : 0);
}

size_t net_format(const net_desc *d, char *buf, size_t cap) {
    size_t at = d->vec ? put(buf, cap, 0, "in %d", d->c) : put(buf, cap, 0, "in %dx%dx%d", d->c, d->h, d->w);
    for (int s = 0; s < SEC_N; s++) {
        at = put(buf, cap, at, "; %s:", SEC_NAMES[s]);
        for (int i = 0; i < d->n[s]; i++) {
            const net_layer *l = &d->l[s][i];
            at = put(buf, cap, at, " %s", KIND_NAMES[l->kind]);
            switch (l->kind) {
            case LK_CONV:
                at = put(buf, cap, at, "(%d,%d", l->n, l->k);
                if (l->stride != 1) at = put(buf, cap, at, ",stride=%d", l->stride);
                if (l->pad) at = put(buf, cap, at, ",pad=%d", l->pad);
                at = put(buf, cap, at, ")");
                break;
            case LK_MAXPOOL:
                at = put(buf, cap, at, "(%d", l->k);
                if (l->stride != l->k) at = put(buf, cap, at, ",stride=%d", l->stride);
                if (l->pad) at = put(buf, cap, at, ",pad=%d", l->pad);
                at = put(buf, cap, at, ")");
                break;
            case LK_FC: at = put(buf, cap, at, "(%d)", l->n); break;
            case LK_DROPOUT:
            case LK_DROPOUT2D: {
                // the shortest decimal that reads back as the same double
                char num[32];
                for (int prec = 1; prec <= 17; prec++) {
                    snprintf(num, sizeof num, "%.*g", prec, l->p);
                    if (strtod(num, NULL) == l->p) break;
                }
                at = put(buf, cap, at, "(%s)", num);
                break;
            }
            default: break;
            }
        }
    }
    return at;
}
