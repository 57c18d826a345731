/* run_testutil.h - helpers for the tests of `dann train` runs as a user meets them (the
 * reliability tests: resume, crafted run files, divergence, failed saves, kill -9): the
 * embedded demo data as specs, the binary run in another folder, with extra environment, a
 * file-size limit (a full disk) or stdout sent elsewhere, and small readers of a run folder. */
#ifndef DANN_RUN_TESTUTIL_H
#define DANN_RUN_TESTUTIL_H

#include <stddef.h>
#include "cli_testutil.h"

/* mnist:ROOT/data/demo/mnist and mnistm:ROOT/data/demo/mnist_m.tar.gz (ROOT: the repository,
 * the folder above the test binary's); 0, or -1 when the demo data is not there. */
int demo_specs(char *src, char *tgt, size_t cap);

typedef struct {
    const char *cwd;          /* run in this folder (NULL: the current one) */
    const char *const *env;   /* NAME=VALUE entries added to the environment (NULL-terminated) */
    long fsize_limit;         /* RLIMIT_FSIZE in bytes (SIGXFSZ ignored, so writes past it fail
                                 with EFBIG as on a full disk); 0: none */
    const char *stdout_path;  /* stdout to this file (e.g. /dev/full) instead of captured */
    int timeout_s;            /* killed (SIGALRM: exit status 142) after this; 0: 300 s */
} run_opts;

/* run_dann with those options; the same static result. */
run_result *run_dann_opts(const run_opts *o, const char *const *args);

/* Lines of a text file (-1 when it cannot be opened). */
int file_lines(const char *path);
/* 1 when the files exist and hold the same bytes. */
int same_file(const char *a, const char *b);
/* Names in dir, sorted, joined by spaces into out (cap bytes); "" when dir cannot be read. */
void dir_listing(const char *dir, char *out, size_t cap);

#endif
