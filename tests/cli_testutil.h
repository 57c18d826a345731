/* cli_testutil.h - helpers for the tests that run the real `dann` binary (build/dann, found
 * next to the test binary through /proc/self/exe; `make test` builds it first): run it with
 * stdout and stderr captured, check the CLI's failure promise, small file helpers. */
#ifndef DANN_CLI_TESTUTIL_H
#define DANN_CLI_TESTUTIL_H

#include <stddef.h>
#include <string.h>
#include "test.h"

/* build/dann next to build/test_dann, or NULL. */
const char *dann_bin(void);

typedef struct {
    int rc;                 /* exit status, or 128 + signal */
    char out[1 << 16];      /* stdout (truncated) */
    char err[4096];         /* stderr (truncated) */
} run_result;

/* Runs `dann args...` (NULL-terminated) with stdout and stderr captured. The result is a
 * static buffer, overwritten by the next call. */
run_result *run_dann(const char *const *args);
/* The same for another program (found on PATH when bin has no slash). */
run_result *run_prog(const char *bin, const char *const *args);

/* A failure as the CLI promises: status want_rc, nothing on stdout, exactly one line on stderr
 * containing both words. */
#define CHECK_FAILS(r, want_rc, word1, word2, what)                                           \
    do {                                                                                     \
        const char *nl_ = strchr((r)->err, '\n');                                            \
        CHECK((r)->rc == (want_rc), "%s: exit status %d, expected %d (stderr: %s)", what,    \
              (r)->rc, want_rc, (r)->err);                                                   \
        CHECK(nl_ && nl_[1] == 0, "%s: stderr is not one line: '%s'", what, (r)->err);       \
        CHECK(strstr((r)->err, word1) && strstr((r)->err, word2),                            \
              "%s: stderr '%s' should name '%s' and '%s'", what, (r)->err, word1, word2);    \
        CHECK((r)->out[0] == 0, "%s: printed on stdout: %s", what, (r)->out);                \
    } while (0)

int exists(const char *path);
/* dir/name in one of 8 rotating static buffers. */
char *pathf(const char *dir, const char *name);
/* Reads a whole file into a malloc'd *buf (NUL-terminated); returns its size or -1. */
long file_bytes(const char *path, unsigned char **buf);
/* Writes n bytes to path; 1 on success. */
int write_bytes(const char *path, const void *p, size_t n);

#endif
