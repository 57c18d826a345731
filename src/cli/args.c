/* args.c - the option cursor and value parsers of args.h. Numbers are parsed with strtol /
 * strtoull / strtod and must consume the whole string; every failure prints one line naming the
 * subcommand and the option and marks the cursor failed (the caller exits with status 2). */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "cli/args.h"
#include "core/core.h"

void args_init(args_parser *p, const char *cmd, int argc, char **argv) {
    memset(p, 0, sizeof *p);
    p->cmd = cmd;
    p->argc = argc;
    p->argv = argv;
    p->i = 0;
}

static void perr(args_parser *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void perr(args_parser *p, const char *fmt, ...) {
    va_list ap;
    fprintf(stderr, "dann %s: ", p->cmd);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    p->failed = 1;
}

int args_next(args_parser *p) {
    if (p->failed) return 0;
    for (;;) {
        p->i++;
        if (p->i >= p->argc) {
            p->cur = NULL;
            return 0;
        }
        p->cur = p->argv[p->i];
        p->inline_val = NULL;
        p->name[0] = 0;
        if (!p->opts_done && !strcmp(p->cur, "--")) {
            p->opts_done = 1;
            continue;
        }
        break;
    }
    p->is_option = !p->opts_done && p->cur[0] == '-' && p->cur[1] != 0;
    if (p->is_option) {
        const char *eq = strchr(p->cur, '=');
        size_t len = eq ? (size_t)(eq - p->cur) : strlen(p->cur);
        if (len >= sizeof p->name) len = sizeof p->name - 1;
        memcpy(p->name, p->cur, len);
        p->name[len] = 0;
        p->inline_val = eq ? eq + 1 : NULL;
    }
    return 1;
}

int args_is(const args_parser *p, const char *name) {
    return p->is_option && !strcmp(p->name, name);
}

/* The raw value of the current option: inline or the next argv entry. */
static const char *take_value(args_parser *p) {
    if (p->inline_val) return p->inline_val;
    if (p->i + 1 >= p->argc) {
        perr(p, "%s: missing value", p->name);
        return NULL;
    }
    p->i++;
    return p->argv[p->i];
}

int args_str(args_parser *p, const char **out) {
    const char *v = take_value(p);
    if (!v) return -1;
    if (!*v) {
        perr(p, "%s: empty value", p->name);
        return -1;
    }
    *out = v;
    return 0;
}

int args_parse_long(const char *s, long lo, long hi, long *out) {
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (!*s || *end || errno == ERANGE || v < lo || v > hi) return -1;
    *out = v;
    return 0;
}

int args_parse_double(const char *s, double lo, double hi, double *out) {
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (!*s || *end || errno == ERANGE || !isfinite(v) || v < lo || v > hi) return -1;
    *out = v;
    return 0;
}

int args_int(args_parser *p, long lo, long hi, int *out) {
    const char *v = take_value(p);
    if (!v) return -1;
    char *end;
    errno = 0;
    long x = strtol(v, &end, 10);
    if (!*v || *end || errno == ERANGE) {
        perr(p, "%s: '%s' is not an integer", p->name, v);
        return -1;
    }
    if (x < lo || x > hi) {
        perr(p, "%s: %s is out of range [%ld, %ld]", p->name, v, lo, hi);
        return -1;
    }
    *out = (int)x;
    return 0;
}

int args_u64(args_parser *p, uint64_t *out) {
    const char *v = take_value(p);
    if (!v) return -1;
    char *end;
    errno = 0;
    unsigned long long x = strtoull(v, &end, 10);
    if (!*v || *end || errno == ERANGE || v[0] == '-' || v[0] == '+' || v[0] == ' ') {
        perr(p, "%s: '%s' is not a non-negative integer below 2^64", p->name, v);
        return -1;
    }
    *out = (uint64_t)x;
    return 0;
}

int args_double(args_parser *p, double lo, double hi, double *out) {
    const char *v = take_value(p);
    if (!v) return -1;
    char *end;
    errno = 0;
    double x = strtod(v, &end);
    if (!*v || *end || errno == ERANGE || !isfinite(x)) {
        perr(p, "%s: '%s' is not a finite number", p->name, v);
        return -1;
    }
    if (x < lo || x > hi) {
        perr(p, "%s: %s is out of range [%g, %g]", p->name, v, lo, hi);
        return -1;
    }
    *out = x;
    return 0;
}

int args_flag(args_parser *p, int *out) {
    if (p->inline_val) {
        perr(p, "%s takes no value", p->name);
        return -1;
    }
    *out = 1;
    return 0;
}

int args_choice(args_parser *p, const char *const *choices, int *out) {
    const char *v = take_value(p);
    if (!v) return -1;
    for (int k = 0; choices[k]; k++)
        if (!strcmp(v, choices[k])) {
            *out = k;
            return 0;
        }
    char list[256] = "";
    for (int k = 0; choices[k]; k++) {
        size_t len = strlen(list);
        snprintf(list + len, sizeof list - len, "%s%s", k ? ", " : "", choices[k]);
    }
    perr(p, "%s: '%s' is not one of %s", p->name, v, list);
    return -1;
}

void args_unknown(args_parser *p) {
    if (p->is_option)
        perr(p, "unknown option '%s' (dann %s --help lists the options)", p->name, p->cmd);
    else
        perr(p, "unexpected argument '%s' (dann %s --help lists the options)", p->cur, p->cmd);
}

int args_usage(const char *cmd, const char *fmt, ...) {
    va_list ap;
    fprintf(stderr, "dann %s: ", cmd);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    return 2;
}

int args_fail(const char *cmd, const dann_error *err) {
    fprintf(stderr, "dann %s: %s\n", cmd,
            err && err->msg[0] ? err->msg : dann_status_str(err ? err->status : DANN_ERR_IO));
    return 1;
}

int args_threads(const char *cmd, int wanted) {
    const int usable = dann_threads_usable();
    if (wanted > usable) {
        fprintf(stderr, "dann %s: note: %d threads instead of %d (%d CPUs%s)\n", cmd, usable,
                wanted, dann_cpus_usable(), dann_threads_address_cap() < dann_cpus_usable()
                    ? " and the address-space limit, ulimit -v" : " for this process");
        wanted = usable;
    }
    dann_threads_set(wanted);
    return dann_threads_get();
}
