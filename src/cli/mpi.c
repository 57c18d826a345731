/* mpi.c - the command-line tool's MPI layer (docs/SCALING.md): one training run over the
 * processes of `mpirun -np N dann train ...`, and grids of runs over them.
 *
 * Built with Open MPI when the Makefile finds mpicc (MPI=1); otherwise every function here
 * reports a single process. The library knows nothing of MPI: a run gives its trainer a dann_dist
 * whose all-gather is mpi_allgather, an MPI_Iallgatherv (placement only, no arithmetic, so the
 * order is fixed) waited on with a timeout, so that a rank that died or a broken network ends
 * the run with a message instead of a hang. Rank 0 alone prints and writes files. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "cli/mpi.h"

#ifdef DANN_MPI
#include <mpi.h>

static int g_rank, g_size = 1, g_on;
static double g_timeout = 600.0;
static char g_error[256];
/* DANN_MPI_STATS=1: the all-gathers' count and bytes, printed by mpi_stop (docs/SCALING.md) */
static long g_gathers;
static double g_gathered, g_from_others;

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* Started by an MPI launcher? (Open MPI, MPICH/Hydra, Slurm's PMI) */
static int launched(void) {
    return getenv("OMPI_COMM_WORLD_SIZE") || getenv("PMI_SIZE") || getenv("PMIX_RANK");
}

int mpi_start(int *argc, char ***argv) {
    if (!launched()) return 0;
    int provided;
    if (MPI_Init_thread(argc, argv, MPI_THREAD_FUNNELED, &provided) != MPI_SUCCESS) {
        fprintf(stderr, "dann: MPI_Init failed\n");
        return -1;
    }
    MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
    MPI_Comm_rank(MPI_COMM_WORLD, &g_rank);
    MPI_Comm_size(MPI_COMM_WORLD, &g_size);
    g_on = 1;
    const char *t = getenv("DANN_MPI_TIMEOUT");
    if (t && atof(t) > 0) g_timeout = atof(t);
    return 0;
}

void mpi_stop(void) {
    const char *stats = getenv("DANN_MPI_STATS");
    if (g_on && stats && *stats && strcmp(stats, "0"))
        fprintf(stderr, "dann: rank %d of %d: %ld all-gathers, %.0f bytes gathered, %.0f of them from "
                "other ranks\n", g_rank, g_size, g_gathers, g_gathered, g_from_others);
    if (g_on) MPI_Finalize();
    g_on = 0;
}

void mpi_abort(int code) {
    if (g_on && g_size > 1) MPI_Abort(MPI_COMM_WORLD, code);
}

int mpi_rank(void) { return g_rank; }
int mpi_size(void) { return g_size; }
const char *mpi_error(void) { return g_error; }

/* Waits for req, giving up after the timeout. */
static int wait_for(MPI_Request *req, const char *what) {
    const double t0 = now();
    for (;;) {
        int done = 0;
        if (MPI_Test(req, &done, MPI_STATUS_IGNORE) != MPI_SUCCESS) {
            snprintf(g_error, sizeof g_error, "rank %d: MPI %s failed", g_rank, what);
            return 1;
        }
        if (done) return 0;
        if (now() - t0 > g_timeout) {
            snprintf(g_error, sizeof g_error, "rank %d: no answer from the other processes for "
                     "%.0f s in an MPI %s (a process died or the network failed)", g_rank,
                     g_timeout, what);
            return 1;
        }
        struct timespec ts = {0, 20000};  // 20 us between polls
        nanosleep(&ts, NULL);
    }
}

int mpi_allgather(void *ctx, const void *send, void *recv, const size_t *bytes) {
    (void)ctx;
    int counts[1024], displs[1024];
    long off = 0;
    for (int r = 0; r < g_size; r++) {
        if (bytes[r] > 0x7fffffff || off > 0x7fffffff) {
            snprintf(g_error, sizeof g_error, "rank %d: an exchange of more than 2 GiB", g_rank);
            return 1;
        }
        counts[r] = (int)bytes[r];
        displs[r] = (int)off;
        off += (long)bytes[r];
    }
    g_gathers++;
    g_gathered += (double)off;
    g_from_others += (double)(off - counts[g_rank]);
    MPI_Request req;
    if (MPI_Iallgatherv(send, counts[g_rank], MPI_BYTE, recv, counts, displs, MPI_BYTE,
                        MPI_COMM_WORLD, &req) != MPI_SUCCESS) {
        snprintf(g_error, sizeof g_error, "rank %d: MPI all-gather failed", g_rank);
        return 1;
    }
    return wait_for(&req, "all-gather");
}

int mpi_any(int flag, int *any) {
    if (g_size <= 1) {
        *any = flag;
        return 0;
    }
    MPI_Request req;
    if (MPI_Iallreduce(&flag, any, 1, MPI_INT, MPI_LOR, MPI_COMM_WORLD, &req) != MPI_SUCCESS) {
        snprintf(g_error, sizeof g_error, "rank %d: MPI all-reduce failed", g_rank);
        return 1;
    }
    return wait_for(&req, "all-reduce");
}

int mpi_same(const void *buf, size_t n, int *same) {
    if (g_size <= 1) {
        *same = 1;
        return 0;
    }
    char *mine = malloc(n ? n : 1), *all = malloc((n ? n : 1) * (size_t)g_size);
    size_t bytes[1024];
    for (int r = 0; r < g_size; r++) bytes[r] = n;
    int rc = !mine || !all;
    if (!rc) {
        memcpy(mine, buf, n);
        rc = mpi_allgather(NULL, mine, all, bytes);
    }
    *same = 1;
    for (int r = 1; !rc && r < g_size; r++)
        if (memcmp(all, all + (size_t)r * n, n)) *same = 0;
    free(mine);
    free(all);
    return rc;
}

/* ---- point-to-point messages of a few ints (dann experiment's dispatcher) ------------------ */

int mpi_send_ints(int dest, int tag, const int *v, int n) {
    MPI_Request req;
    if (MPI_Isend(v, n, MPI_INT, dest, tag, MPI_COMM_WORLD, &req) != MPI_SUCCESS) {
        snprintf(g_error, sizeof g_error, "rank %d: MPI send to rank %d failed", g_rank, dest);
        return 1;
    }
    return wait_for(&req, "send");
}

int mpi_poll_ints(int *src, int *tag, int *v, int n, int *got) {
    int flag = 0;
    MPI_Status st;
    *got = 0;
    if (MPI_Iprobe(MPI_ANY_SOURCE, MPI_ANY_TAG, MPI_COMM_WORLD, &flag, &st) != MPI_SUCCESS) {
        snprintf(g_error, sizeof g_error, "rank %d: MPI probe failed", g_rank);
        return 1;
    }
    if (!flag) return 0;
    *src = st.MPI_SOURCE, *tag = st.MPI_TAG;
    if (mpi_recv_ints(*src, *tag, v, n)) return 1;
    *got = 1;
    return 0;
}

int mpi_recv_ints(int src, int tag, int *v, int n) {
    MPI_Request req;
    if (MPI_Irecv(v, n, MPI_INT, src, tag, MPI_COMM_WORLD, &req) != MPI_SUCCESS) {
        snprintf(g_error, sizeof g_error, "rank %d: MPI receive from rank %d failed", g_rank, src);
        return 1;
    }
    return wait_for(&req, "receive");
}

#else  /* built without MPI: one process */

int mpi_start(int *argc, char ***argv) {
    (void)argc, (void)argv;
    if (getenv("OMPI_COMM_WORLD_SIZE") && atoi(getenv("OMPI_COMM_WORLD_SIZE")) > 1) {
        fprintf(stderr, "dann: started by mpirun, but this build has no MPI (rebuild with "
                "libopenmpi-dev installed: make MPI=1)\n");
        return -1;
    }
    return 0;
}
void mpi_stop(void) {}
void mpi_abort(int code) { (void)code; }
int mpi_rank(void) { return 0; }
int mpi_size(void) { return 1; }
const char *mpi_error(void) { return ""; }
int mpi_allgather(void *ctx, const void *send, void *recv, const size_t *bytes) {
    (void)ctx;
    memcpy(recv, send, bytes[0]);
    return 0;
}
int mpi_any(int flag, int *any) {
    *any = flag;
    return 0;
}
int mpi_same(const void *buf, size_t n, int *same) {
    (void)buf, (void)n;
    *same = 1;
    return 0;
}
int mpi_send_ints(int dest, int tag, const int *v, int n) {
    (void)dest, (void)tag, (void)v, (void)n;
    return 1;
}
int mpi_poll_ints(int *src, int *tag, int *v, int n, int *got) {
    (void)src, (void)tag, (void)v, (void)n;
    *got = 0;
    return 0;
}
int mpi_recv_ints(int src, int tag, int *v, int n) {
    (void)src, (void)tag, (void)v, (void)n;
    return 1;
}

#endif
