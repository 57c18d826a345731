/* mpi.h - the tool's MPI layer (mpi.c): start/stop, rank and size, the all-gather a data-parallel
 * run gives its trainer (dann_dist), and small collectives for agreement. Without MPI in the
 * build (or without a launcher) everything reports one process. Collectives give up after
 * DANN_MPI_TIMEOUT seconds (default 600) with mpi_error() saying so. */
#ifndef DANN_CLI_MPI_H
#define DANN_CLI_MPI_H

#include <stddef.h>

/* MPI_Init when started by an MPI launcher; 0, or -1 (message printed) on failure. */
int mpi_start(int *argc, char ***argv);
void mpi_stop(void);
/* Ends every process of the job (after an error one rank cannot recover from). */
void mpi_abort(int code);
int mpi_rank(void);
int mpi_size(void);
/* The last failure's message. */
const char *mpi_error(void);
/* dann_dist's all-gather (ctx unused). */
int mpi_allgather(void *ctx, const void *send, void *recv, const size_t *bytes);
/* *any = OR of every rank's flag. */
int mpi_any(int flag, int *any);
/* *same = whether every rank holds the same n bytes. */
int mpi_same(const void *buf, size_t n, int *same);
/* A message of n ints to rank dest (tag >= 0), waited on with the timeout. */
int mpi_send_ints(int dest, int tag, const int *v, int n);
/* A message of n ints from any rank with any tag when one is waiting: *got 1 and its source and
 * tag; *got 0 when none is (returns at once). */
int mpi_poll_ints(int *src, int *tag, int *v, int n, int *got);
/* The next message of n ints from rank src with tag, waited for with the timeout. */
int mpi_recv_ints(int src, int tag, int *v, int n);

#endif
