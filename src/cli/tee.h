/* tee.h - RUN_DIR/train.log for `dann train`: a copy of everything the command prints on stdout
 * and stderr, in order, without the progress bar (which goes to the real stdout only).
 *
 * tee_start replaces stdout and stderr with streams (glibc's fopencookie) that pass every byte to
 * the original streams and keep a copy - in memory until tee_attach names the file (the run
 * folder exists only after the data is loaded), then in the file. tee_stop puts the original
 * streams back. Rank 0 alone does this under mpirun. */
#ifndef DANN_CLI_TEE_H
#define DANN_CLI_TEE_H

#include <stdio.h>
#include "dann.h"

/* 0 on success; on failure nothing changed (the command runs without a log). */
int tee_start(void);
/* The original stdout (for the progress bar); stdout itself when the tee is not running. */
FILE *tee_real_stdout(void);
/* Opens path (appending when `append`, e.g. on --resume; else truncating) and writes what was
 * kept so far. DANN_ERR_IO naming the file. */
dann_status tee_attach(const char *path, int append, dann_error *err);
/* Flushes, closes the log and restores stdout / stderr. Harmless when not started. */
void tee_stop(void);

#endif
