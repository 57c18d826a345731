/* exp_grid.c - the grid of `dann experiment` (exp.h): its dimensions parsed from the command
 * line, the runs it expands to, their folder names and their `dann train` command lines. */
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "cli/args.h"
#include "cli/exp.h"

const char *const EXP_MODES[] = {"dann", "source-only", "target-only", NULL};

/* The experiment modules' error return: the message into msg[0, cap), -1. */
int exp_fail(char *msg, size_t cap, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, cap, fmt, ap);
    va_end(ap);
    return -1;
}

static int parse_u64(const char *s, const char *end, uint64_t *v) {
    if (s == end || end - s > 20) return -1;
    char buf[24];
    memcpy(buf, s, (size_t)(end - s));
    buf[end - s] = 0;
    for (const char *c = buf; *c; c++)
        if (!isdigit((unsigned char)*c)) return -1;
    errno = 0;
    unsigned long long x = strtoull(buf, NULL, 10);
    if (errno) return -1;
    *v = (uint64_t)x;
    return 0;
}

int exp_parse_seeds(exp_grid *g, const char *text, char *msg, size_t cap) {
    const char *p = text;
    if (!*p) return exp_fail(msg, cap, "--seeds: empty");
    while (*p) {
        const char *comma = strchr(p, ','), *end = comma ? comma : p + strlen(p);
        const char *dash = memchr(p, '-', (size_t)(end - p));
        uint64_t lo, hi;
        if (dash ? parse_u64(p, dash, &lo) || parse_u64(dash + 1, end, &hi)
                 : parse_u64(p, end, &lo))
            return exp_fail(msg, cap, "--seeds: '%.*s' is not a seed or a range LO-HI", (int)(end - p), p);
        if (!dash) hi = lo;
        if (hi < lo) return exp_fail(msg, cap, "--seeds: '%.*s': the range is empty", (int)(end - p), p);
        for (uint64_t s = lo;; s++) {
            if (g->n_seeds >= EXP_MAX_SEEDS)
                return exp_fail(msg, cap, "--seeds: more than %d seeds", EXP_MAX_SEEDS);
            for (int k = 0; k < g->n_seeds; k++)
                if (g->seeds[k] == s) return exp_fail(msg, cap, "--seeds: seed %" PRIu64 " given twice", s);
            g->seeds[g->n_seeds++] = s;
            if (s == hi) break;
        }
        p = comma ? comma + 1 : end;
        if (comma && !*p) return exp_fail(msg, cap, "--seeds: '%s' ends with a comma", text);
    }
    return 0;
}

/* "mnist:DIR" -> "mnist" */
static void spec_kind(const char *spec, char *out, size_t cap) {
    const char *colon = strchr(spec, ':');
    size_t n = colon ? (size_t)(colon - spec) : strlen(spec);
    if (n >= cap) n = cap - 1;
    memcpy(out, spec, n);
    out[n] = 0;
}

/* Folder-safe: letters, digits, '.', '_', '-'; anything else becomes '_'. */
static void sanitize(char *s) {
    for (; *s; s++)
        if (!isalnum((unsigned char)*s) && *s != '.' && *s != '_' && *s != '-') *s = '_';
}

static int add_pair(exp_grid *g, const char *name, size_t name_n, const char *src, size_t src_n,
                    const char *tgt, size_t tgt_n, char *msg, size_t cap) {
    if (g->n_pairs >= EXP_MAX_VALUES) return exp_fail(msg, cap, "--pairs: more than %d pairs", EXP_MAX_VALUES);
    exp_pair *p = &g->pairs[g->n_pairs];
    if (!src_n || !tgt_n) return exp_fail(msg, cap, "--pairs: '%.*s>%.*s': a pair is SOURCE>TARGET",
                                      (int)src_n, src, (int)tgt_n, tgt);
    if (src_n >= sizeof p->source || tgt_n >= sizeof p->target || name_n >= sizeof p->name - 4)
        return exp_fail(msg, cap, "--pairs: a name or spec is too long");
    memcpy(p->source, src, src_n), p->source[src_n] = 0;
    memcpy(p->target, tgt, tgt_n), p->target[tgt_n] = 0;
    if (name_n) {
        memcpy(p->name, name, name_n), p->name[name_n] = 0;
    } else {
        char a[24], b[24];
        spec_kind(p->source, a, sizeof a);
        spec_kind(p->target, b, sizeof b);
        snprintf(p->name, sizeof p->name, "%s-%s", a, b);
    }
    sanitize(p->name);
    char base[64];
    snprintf(base, sizeof base, "%s", p->name);
    for (int k = 0, dup = 1; k < g->n_pairs; k++)
        if (!strcmp(g->pairs[k].name, p->name)) {
            if (name_n) return exp_fail(msg, cap, "--pairs: the name '%s' is given twice", p->name);
            snprintf(p->name, sizeof p->name, "%.50s-%d", base, ++dup);
            k = -1;  // check the new name against all of them again
        }
    g->n_pairs++;
    return 0;
}

int exp_parse_pairs(exp_grid *g, const char *text, char *msg, size_t cap) {
    const char *p = text;
    if (!*p) return exp_fail(msg, cap, "--pairs: empty");
    while (*p) {
        const char *comma = strchr(p, ','), *end = comma ? comma : p + strlen(p);
        const char *gt = memchr(p, '>', (size_t)(end - p));
        if (!gt) return exp_fail(msg, cap, "--pairs: '%.*s' is not SOURCE>TARGET", (int)(end - p), p);
        /* NAME= before the source's "kind:" */
        const char *eq = memchr(p, '=', (size_t)(gt - p)), *colon = memchr(p, ':', (size_t)(gt - p));
        const char *src = p;
        size_t name_n = 0;
        if (eq && (!colon || eq < colon)) name_n = (size_t)(eq - p), src = eq + 1;
        if (eq && (!colon || eq < colon) && !name_n)
            return exp_fail(msg, cap, "--pairs: '%.*s': an empty name", (int)(end - p), p);
        if (add_pair(g, p, name_n, src, (size_t)(gt - src), gt + 1, (size_t)(end - gt - 1), msg, cap))
            return -1;
        p = comma ? comma + 1 : end;
    }
    return 0;
}

int exp_parse_list(char *text, const char **list, int *n, const char *what, char *msg, size_t cap) {
    for (char *save = NULL, *t = strtok_r(text, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
        if (*n >= EXP_MAX_VALUES) return exp_fail(msg, cap, "%s: more than %d values", what, EXP_MAX_VALUES);
        for (int k = 0; k < *n; k++)
            if (!strcmp(list[k], t)) return exp_fail(msg, cap, "%s: '%s' given twice", what, t);
        list[(*n)++] = t;
    }
    return 0;
}

int exp_parse_modes(exp_grid *g, char *text, char *msg, size_t cap) {
    const char *list[EXP_MAX_VALUES];
    int n = 0;
    if (exp_parse_list(text, list, &n, "--modes", msg, cap)) return -1;
    for (int i = 0; i < n; i++) {
        int m = -1;
        for (int k = 0; EXP_MODES[k]; k++)
            if (!strcmp(list[i], EXP_MODES[k])) m = k;
        if (m < 0) return exp_fail(msg, cap, "--modes: unknown mode '%s' (dann, source-only, target-only)", list[i]);
        if (g->n_modes >= 3) return exp_fail(msg, cap, "--modes: a mode given twice");
        g->modes[g->n_modes++] = m;
    }
    return 0;
}

int exp_check_extra(const exp_grid *g, char *msg, size_t cap) {
    static const struct { const char *opt, *why; } SET[] = {
        {"--out", "the grid names each run's folder under --out"},
        {"--resume", "an interrupted run is resumed by running the experiment again"},
        {"--mode", "use dann experiment --modes"},
        {"--seed", "use dann experiment --seeds"},
        {"--preset", "use dann experiment --presets"},
        {"--arch", "use dann experiment --archs or --arch"},
        {"--source", "use dann experiment --pairs or --source"},
        {"--target", "use dann experiment --pairs or --target"},
        {"--threads", "use dann experiment --threads"},
        {"--progress", "each run's progress goes to its console.log"},
        {"--quiet", "each run's output goes to its train.log and console.log"},
        {"--help", "dann train --help lists the options"},
    };
    for (int i = 0; i < g->n_extra; i++) {
        const char *a = g->extra[i];
        for (size_t k = 0; k < sizeof SET / sizeof *SET; k++) {
            size_t n = strlen(SET[k].opt);
            if (!strncmp(a, SET[k].opt, n) && (a[n] == 0 || a[n] == '='))
                return exp_fail(msg, cap, "%s after --: the experiment sets it (%s)", SET[k].opt, SET[k].why);
        }
    }
    return 0;
}

/* The arch's name in folder names: a preset's own name, else "arch<k>". */
static void arch_name(const exp_grid *g, int a, char *out, size_t cap) {
    const char *s = g->archs[a];
    int simple = strlen(s) < 32;
    for (const char *c = s; *c && simple; c++)
        if (!isalnum((unsigned char)*c) && *c != '-' && *c != '_') simple = 0;
    if (simple) snprintf(out, cap, "%s", s);
    else snprintf(out, cap, "arch%d", a + 1);
}

int exp_expand(const exp_grid *g, exp_run **runs, int *n, char *msg, size_t cap) {
    const int na = g->n_archs ? g->n_archs : 1;
    const long total = (long)g->n_seeds * g->n_pairs * g->n_presets * na * g->n_modes;
    *runs = NULL, *n = 0;
    if (total <= 0) return exp_fail(msg, cap, "the grid is empty");
    if (total > 100000) return exp_fail(msg, cap, "the grid has %ld runs (at most 100000)", total);
    exp_run *r = calloc((size_t)total, sizeof *r);
    if (!r) return exp_fail(msg, cap, "out of memory");
    int k = 0;
    for (int s = 0; s < g->n_seeds; s++)
        for (int p = 0; p < g->n_pairs; p++)
            for (int q = 0; q < g->n_presets; q++)
                for (int a = 0; a < na; a++)
                    for (int m = 0; m < g->n_modes; m++, k++) {
                        exp_run *x = &r[k];
                        x->pair = p, x->preset = q, x->arch = g->n_archs ? a : -1;
                        x->mode = g->modes[m], x->seed = g->seeds[s];
                        char an[40] = "";
                        if (g->n_archs > 1) arch_name(g, a, an, sizeof an);
                        snprintf(x->name, sizeof x->name, "%s%s%s%s%s%s%s-s%" PRIu64,
                                 g->n_pairs > 1 ? g->pairs[p].name : "", g->n_pairs > 1 ? "-" : "",
                                 g->n_presets > 1 ? g->presets[q] : "", g->n_presets > 1 ? "-" : "",
                                 an, an[0] ? "-" : "", EXP_MODES[x->mode], x->seed);
                        sanitize(x->name);
                        if (snprintf(x->dir, sizeof x->dir, "%s/%s", g->out, x->name) >= (int)sizeof x->dir) {
                            free(r);
                            return exp_fail(msg, cap, "--out %s: the path is too long", g->out);
                        }
                    }
    /* distinct names (two arch descriptions cannot collide: they are numbered) */
    for (int i = 0; i < k; i++)
        for (int j = i + 1; j < k; j++)
            if (!strcmp(r[i].name, r[j].name)) {
                exp_fail(msg, cap, "two runs of the grid would share the folder %s", r[i].name);
                free(r);
                return -1;
            }
    *runs = r, *n = k;
    return 0;
}

/* Appends strings to argv/buf. */
typedef struct {
    char **argv;
    int argc, cap;
    char *buf;
    size_t used, buf_cap;
    int overflow;
} argv_b;

static void push(argv_b *b, const char *s) {
    size_t n = strlen(s) + 1;
    if (b->argc + 1 >= b->cap || b->used + n > b->buf_cap) {
        b->overflow = 1;
        return;
    }
    memcpy(b->buf + b->used, s, n);
    b->argv[b->argc++] = b->buf + b->used;
    b->argv[b->argc] = NULL;
    b->used += n;
}

static void push_fresh(argv_b *b, const exp_grid *g, const exp_run *r, int with_out) {
    char seed[24];
    snprintf(seed, sizeof seed, "%" PRIu64, r->seed);
    push(b, "train");
    push(b, "--preset"), push(b, g->presets[r->preset]);
    if (r->arch >= 0) push(b, "--arch"), push(b, g->archs[r->arch]);
    push(b, "--mode"), push(b, EXP_MODES[r->mode]);
    push(b, "--seed"), push(b, seed);
    push(b, "--source"), push(b, g->pairs[r->pair].source);
    push(b, "--target"), push(b, g->pairs[r->pair].target);
    if (with_out) push(b, "--out"), push(b, r->dir);
    for (int i = 0; i < g->n_extra; i++) push(b, g->extra[i]);
}

int exp_train_argv(const exp_grid *g, const exp_run *r, int resume, int threads, char **argv,
                   int argv_cap, char *buf, size_t buf_cap) {
    argv_b b = {argv, 0, argv_cap, buf, 0, buf_cap, 0};
    if (argv_cap < 1) return -1;
    argv[0] = NULL;
    if (resume) {
        char ck[EXP_PATH + 16];
        snprintf(ck, sizeof ck, "%s/last.ckpt", r->dir);
        push(&b, "train"), push(&b, "--resume"), push(&b, ck);
    } else {
        push_fresh(&b, g, r, 1);
    }
    if (threads > 0) {
        char t[16];
        snprintf(t, sizeof t, "%d", threads);
        push(&b, "--threads"), push(&b, t);
    }
    push(&b, "--progress"), push(&b, "lines");
    return b.overflow ? -1 : b.argc;
}

int exp_run_identity(const exp_grid *g, const exp_run *r, char *buf, size_t cap) {
    char *argv[EXP_MAX_EXTRA + 32], tmp[4 * EXP_PATH + 8192];
    argv_b b = {argv, 0, EXP_MAX_EXTRA + 32, tmp, 0, sizeof tmp, 0};
    push_fresh(&b, g, r, 0);
    if (b.overflow) return -1;
    size_t used = 0;
    buf[0] = 0;
    for (int i = 0; i < b.argc; i++) {
        int w = snprintf(buf + used, cap - used, "%s%s", i ? " " : "", argv[i]);
        if (w < 0 || (size_t)w >= cap - used) return -1;
        used += (size_t)w;
    }
    return 0;
}
