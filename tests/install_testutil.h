/* install_testutil.h - helpers of the tests on the installed library (test_install.c,
 * test_manpage.c): shell command lines with their output captured, the build folder, the
 * functions the public header declares, and the check of the example program's output. */
#ifndef DANN_INSTALL_TESTUTIL_H
#define DANN_INSTALL_TESTUTIL_H

#include "cli_testutil.h"

/* Runs `/bin/sh -c CMD` (printf-formatted) with stdout and stderr captured, make's variables
 * from a surrounding `make test` removed from its environment. The result is run_prog's. */
run_result *sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* The folder of the test binary (build or build-san), relative to the working directory when
 * it lies under it; NULL when unknown. */
const char *build_dir(void);

/* 1 when the working directory is the repository root (the suite's normal place). */
int at_repo_root(void);

/* The names of the functions include/dann.h declares (comments stripped; every identifier
 * dann_* followed by '('), sorted, each in a 64-byte slot of names; returns their number or -1
 * when the header cannot be read. */
int header_functions(char (*names)[64], int cap);

/* 1 when `name` is one of the n sorted names. */
int name_in(const char (*names)[64], int n, const char *name);

/* Checks the output of examples/train_custom (default seed) against what it must show;
 * `what` names the run in messages. */
void check_train_custom_output(const run_result *r, const char *what);

#endif
