/* args.h - small option-parsing helpers shared by the subcommands (train, demo, eval, ...).
 *
 * A cursor walks argv (argv[0] is the subcommand name and is skipped). Options are "--name
 * VALUE" or "--name=VALUE"; flags are "--name" alone. Every helper that fails prints ONE line
 * on stderr naming the subcommand and the option, e.g.
 *     dann train: --epochs: 'x1' is not an integer
 *     dann train: --batch: 0 is out of range [1, 4096]
 *     dann train: --source: missing value
 *     dann train: unknown option '--sorce' (dann train --help lists the options)
 * and sets p->failed; the command then returns 2 (usage error). Typical loop:
 *
 *     args_parser ap;
 *     args_init(&ap, "train", argc, argv);
 *     while (args_next(&ap)) {
 *         if (args_is(&ap, "--epochs")) args_int(&ap, 1, 1000000, &epochs);
 *         else if (args_is(&ap, "--out")) args_str(&ap, &out_dir);
 *         else if (args_is(&ap, "--quiet")) args_flag(&ap, &quiet);
 *         else if (args_is(&ap, "--help")) { usage(stdout); return 0; }
 *         else if (!ap.is_option) positional(ap.cur);   (or args_unknown(&ap) when none allowed)
 *         else args_unknown(&ap);
 *         if (ap.failed) return 2;
 *     }
 *
 * Nothing here allocates; returned strings point into argv. A lone "-" is positional; "--"
 * ends options (everything after it is positional). */
#ifndef DANN_CLI_ARGS_H
#define DANN_CLI_ARGS_H

#include <stdint.h>
#include "dann.h"

typedef struct {
    const char *cmd;      /* subcommand name used in messages ("train") */
    int argc;
    char **argv;
    int i;                /* index of the current argument in argv */
    const char *cur;      /* the current argument as given ("--epochs=3" or "file.png") */
    char name[64];        /* the current option's name without "=VALUE" ("--epochs") */
    const char *inline_val; /* the text after '=' or NULL */
    int is_option;        /* cur starts with "-" (and is not "-" or after "--") */
    int failed;           /* set by any helper that printed an error */
    int opts_done;        /* "--" was seen */
} args_parser;

/* Starts a cursor before argv[1]. */
void args_init(args_parser *p, const char *cmd, int argc, char **argv);

/* Advances to the next argument; returns 0 at the end (or once p->failed is set). */
int args_next(args_parser *p);

/* 1 when the current argument is option `name` (e.g. "--epochs"), in either form. */
int args_is(const args_parser *p, const char *name);

/* Value readers for the current option. Each consumes the value (the next argv entry unless it
 * was given inline), stores it in *out and returns 0; on error prints the line, sets
 * p->failed, leaves *out unchanged and returns -1. Numbers must be complete (no trailing
 * characters), finite and inside [lo, hi]. */
int args_str(args_parser *p, const char **out);
int args_int(args_parser *p, long lo, long hi, int *out);
int args_u64(args_parser *p, uint64_t *out);
int args_double(args_parser *p, double lo, double hi, double *out);
/* A flag: sets *out = 1; an inline value ("--quiet=1") is an error. */
int args_flag(args_parser *p, int *out);
/* One of the words in `choices` (NULL-terminated); stores its index. The message lists them. */
int args_choice(args_parser *p, const char *const *choices, int *out);

/* Reports the current argument as unknown (or as an unexpected positional argument). */
void args_unknown(args_parser *p);

/* Prints "dann <cmd>: <message>" on stderr; returns 2 (usage error) for `return args_usage(...)`. */
int args_usage(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Prints "dann <cmd>: <err->msg>" (or the status name when the message is empty); returns 1
 * (runtime error). */
int args_fail(const char *cmd, const dann_error *err);

/* Sets the kernels' thread count for `dann <cmd>`: `wanted` (the --threads value or the
 * command's default), capped at dann_threads_usable() - the CPUs this process may run on, and
 * what an address-space limit leaves room for - with a note on stderr when it is cut. Returns
 * the count in use. */
int args_threads(const char *cmd, int wanted);

/* Plain parsers without a cursor, for values that come from elsewhere (0 on success, -1 when
 * `s` is not a complete number in range; nothing printed). */
int args_parse_long(const char *s, long lo, long hi, long *out);
int args_parse_double(const char *s, double lo, double hi, double *out);

#endif
