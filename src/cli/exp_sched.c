/* exp_sched.c - running a grid's runs for `dann experiment` (exp.h, docs/EXPERIMENTS.md).
 *
 * Each run is `dann train` in a child process (this binary, /proc/self/exe), its output (progress
 * lines included; train writes its own train.log without them) appended to RUN/console.log.
 * Before starting a run its folder decides:
 *   summary.json present  finished: not run again;
 *   last.ckpt present     interrupted: `dann train --resume RUN/last.ckpt`;
 *   otherwise             a fresh run (a folder holding only run.json may be reused).
 * RUN/experiment.cmd keeps the run's command (without --out, --threads, --progress); a folder
 * whose command or run.json says it holds another run is refused, never overwritten. While a run
 * trains, RUN/.experiment.lock is locked (flock) by the child, so a second experiment on the
 * same folder leaves that run alone.
 *
 * One process runs -j runs at a time. Under mpirun rank 0 is also the dispatcher: every other
 * rank asks for a run (REQ, carrying the run it just finished and its exit status) whenever
 * one of its -j slots is free, and rank 0 answers with the next run's index (ASSIGN; -1: none
 * left); a rank that was told to stop reports its last runs with BYE. Every rank expands the same
 * grid (the command lines are checked to be equal), so only indices travel. The run folders must
 * be on a file system every rank sees (the usual shared home or scratch of a cluster).
 *
 * Children get their own process group, so Ctrl-C reaches this process only: the first
 * SIGINT/SIGTERM stops starting runs and passes one SIGTERM to each running child (which saves
 * last.ckpt after its step and exits 130: the same command later resumes it); a second one
 * passes another (the child then quits at once; its last.ckpt of the previous epoch stays).
 * A child whose parent dies gets SIGTERM (PR_SET_PDEATHSIG). The launcher's variables (OMPI_*,
 * PMI_*, PMIX_*) are removed from a child's environment: each run is one process. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include "cli/exp.h"
#include "core/core.h"
#include "cli/mpi.h"
#include "cli/progress.h"

extern char **environ;

enum { ST_PENDING = 0, ST_RUNNING, ST_DONE, ST_SKIPPED, ST_FAILED, ST_INTERRUPTED };
enum { TAG_REQ = 11, TAG_BYE = 12, TAG_ASSIGN = 13 };
#define RC_NOSTART (-2)   /* a rank could not start the run it was given */

static volatile sig_atomic_t g_signals;
static void on_signal(int sig) {
    (void)sig;
    g_signals++;
}

/* ---- one run: the decision, the child -------------------------------------------------------- */

typedef struct {
    int run;            /* index, -1: free */
    pid_t pid;
    int lock_fd;
    int signalled;      /* SIGTERMs passed on */
    double t0;
    int open;           /* workers: the slot still asks for runs */
    int fin_run, fin_rc; /* workers: the run to report when the slot asks next (-1: none) */
} slot;

static int mkdir_p(const char *dir) {
    char p[EXP_PATH];
    snprintf(p, sizeof p, "%s", dir);
    for (char *s = p + 1; *s; s++)
        if (*s == '/') {
            *s = 0;
            if (mkdir(p, 0755) != 0 && errno != EEXIST) return -1;
            *s = '/';
        }
    return mkdir(p, 0755) != 0 && errno != EEXIST ? -1 : 0;
}

static int file_exists(const char *dir, const char *name) {
    char p[EXP_PATH + 32];
    struct stat sb;
    snprintf(p, sizeof p, "%s/%s", dir, name);
    return stat(p, &sb) == 0 && S_ISREG(sb.st_mode);
}

/* Whether two data specs name the same data: equal, or the same kind and paths that resolve to
 * the same file or folder (dann train writes an existing relative path into run.json as an
 * absolute one). */
static int same_spec(const char *a, const char *b) {
    if (!strcmp(a, b)) return 1;
    const char *ca = strchr(a, ':'), *cb = strchr(b, ':');
    if (!ca || !cb || ca - a != cb - b || strncmp(a, b, (size_t)(ca - a))) return 0;
    char ra[PATH_MAX], rb[PATH_MAX];
    return realpath(ca + 1, ra) && realpath(cb + 1, rb) && !strcmp(ra, rb);
}

/* What to do with run r: 0 start fresh, 1 resume, 2 finished before, -1 refuse (msg). */
static int decide(const exp_grid *g, const exp_run *r, char *msg, size_t cap) {
    char want[4 * EXP_PATH + 8192], have[4 * EXP_PATH + 8192], p[EXP_PATH + 32];
    if (exp_run_identity(g, r, want, sizeof want))
        return snprintf(msg, cap, "%s: the run's command line is too long", r->dir), -1;
    snprintf(p, sizeof p, "%s/experiment.cmd", r->dir);
    FILE *f;
    dann_error err;
    if (file_fopen_regular(p, &f, NULL, &err) && errno != ENOENT)
        return snprintf(msg, cap, "%s", err.msg), -1;  /* a folder or a FIFO: never waited on */
    if (f) {
        size_t n = fread(have, 1, sizeof have - 1, f);
        fclose(f);
        have[n] = 0;
        if (n && have[n - 1] == '\n') have[n - 1] = 0;
        if (strcmp(have, want))
            return snprintf(msg, cap, "%.1000s holds another run (experiment.cmd: '%.3000s'; this grid: '%.3000s')",
                            r->dir, have, want), -1;
    } else if (file_exists(r->dir, "run.json")) {
        /* a run started by hand: its settings must be the grid's */
        exp_result *x = malloc(sizeof *x);
        char m[512];
        if (!x) return snprintf(msg, cap, "out of memory"), -1;
        int bad = exp_read_run(r->dir, x, m, sizeof m);
        if (bad) snprintf(msg, cap, "%s", m);
        else if (strcmp(x->preset, g->presets[r->preset]) || strcmp(x->mode, EXP_MODES[r->mode]) ||
                 !same_spec(x->source, g->pairs[r->pair].source) ||
                 !same_spec(x->target, g->pairs[r->pair].target) || x->seed != r->seed)
            bad = 1, snprintf(msg, cap, "%s holds another run (run.json: preset %s, mode %s, seed %llu, "
                              "%s > %s)", r->dir, x->preset, x->mode, (unsigned long long)x->seed,
                              x->source, x->target);
        free(x);
        if (bad) return -1;
    }
    if (file_exists(r->dir, "summary.json")) return 2;
    return file_exists(r->dir, "last.ckpt") ? 1 : 0;
}

/* The environment without the MPI launcher's variables (built once, before any fork). */
static char **child_env(void) {
    static char **env;
    if (env) return env;
    size_t n = 0;
    while (environ[n]) n++;
    env = calloc(n + 1, sizeof *env);
    if (!env) return environ;
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        if (strncmp(environ[i], "OMPI_", 5) && strncmp(environ[i], "PMI_", 4) &&
            strncmp(environ[i], "PMIX_", 5) && strncmp(environ[i], "MPI_LOCAL", 9))
            env[k++] = environ[i];
    env[k] = NULL;
    return env;
}

/* Starts run r in slot s; 0, or -1 with msg. */
static int start(const exp_grid *g, const exp_run *runs, int r, int resume, int threads,
                 const char *self, slot *s, char *msg, size_t cap) {
    const exp_run *x = &runs[r];
    if (mkdir_p(x->dir)) return snprintf(msg, cap, "%s: cannot create: %s", x->dir, strerror(errno)), -1;
    char p[EXP_PATH + 32];
    snprintf(p, sizeof p, "%s/.experiment.lock", x->dir);
    int lock = open(p, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (lock < 0) return snprintf(msg, cap, "%s: cannot create: %s", p, strerror(errno)), -1;
    if (flock(lock, LOCK_EX | LOCK_NB) != 0) {
        close(lock);
        return snprintf(msg, cap, "%s is in use by another process (its lock is held)", x->dir), -1;
    }
    if (!resume) {
        char id[4 * EXP_PATH + 8192];
        snprintf(p, sizeof p, "%s/experiment.cmd", x->dir);
        FILE *f = file_exists(x->dir, "experiment.cmd") ? NULL : fopen(p, "wb");
        if (f) {
            exp_run_identity(g, x, id, sizeof id);
            int ok = fprintf(f, "%s\n", id) > 0;
            if (fclose(f) != 0 || !ok) {
                close(lock);
                return snprintf(msg, cap, "%s: cannot write", p), -1;
            }
        }
    }
    snprintf(p, sizeof p, "%s/console.log", x->dir);
    int log = open(p, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (log < 0) {
        close(lock);
        return snprintf(msg, cap, "%s: cannot open: %s", p, strerror(errno)), -1;
    }
    static char buf[4 * EXP_PATH + 16384];
    char *argv[EXP_MAX_EXTRA + 40];
    argv[0] = "dann";
    if (exp_train_argv(g, x, resume, threads, argv + 1, EXP_MAX_EXTRA + 39, buf, sizeof buf) < 0) {
        close(lock), close(log);
        return snprintf(msg, cap, "%s: the command line is too long", x->dir), -1;
    }
    char **env = child_env();
    const pid_t parent = getpid();
    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    if (pid == 0) {
        /* only system calls from here to exec */
        setpgid(0, 0);
        prctl(PR_SET_PDEATHSIG, SIGTERM);
        if (getppid() != parent) _exit(130);
        int nul = open("/dev/null", O_RDONLY);
        if (nul < 0 || dup2(nul, 0) < 0 || dup2(log, 1) < 0 || dup2(log, 2) < 0 || dup2(lock, 3) < 0)
            _exit(127);
        if (syscall(SYS_close_range, 4u, ~0u, 0) != 0)
            for (int fd = 4; fd < 4096; fd++) close(fd);
        signal(SIGINT, SIG_DFL);
        signal(SIGTERM, SIG_DFL);
        execve(self, argv, env);
        _exit(127);
    }
    close(log);
    if (pid < 0) {
        close(lock);
        return snprintf(msg, cap, "cannot start a process: %s", strerror(errno)), -1;
    }
    s->run = r, s->pid = pid, s->lock_fd = lock, s->signalled = 0;
    s->t0 = progress_now();
    return 0;
}

/* The last non-empty line of RUN/console.log (for a failure's message). */
static void last_log_line(const char *dir, char *out, size_t cap) {
    char p[EXP_PATH + 32], line[1024];
    snprintf(p, sizeof p, "%s/console.log", dir);
    out[0] = 0;
    FILE *f;
    dann_error err;
    if (file_fopen_regular(p, &f, NULL, &err)) return;
    if (fseek(f, -4096, SEEK_END) != 0) rewind(f);
    while (fgets(line, sizeof line, f)) {
        size_t n = strlen(line);
        while (n && (line[n - 1] == '\n' || line[n - 1] == '\r')) line[--n] = 0;
        if (n) snprintf(out, cap, "%s", line);
    }
    fclose(f);
}

/* ---- progress lines (rank 0) ------------------------------------------------------------- */

typedef struct {
    const exp_grid *g;
    const exp_run *runs;
    int n;
    int *st;
    int started, resumed, skipped, failed, interrupted, done;
    int usage_error;      /* a run failed on its options: all would */
} book;

static void line_head(const book *b, int r) {
    printf("[%*d/%d] %s: ", b->n >= 1000 ? 4 : b->n >= 100 ? 3 : b->n >= 10 ? 2 : 1, r + 1, b->n,
           b->runs[r].name);
}

static void result_text(const char *dir, char *out, size_t cap) {
    exp_result *x = malloc(sizeof *x);
    char m[256];
    out[0] = 0;
    if (!x) return;
    if (!exp_read_run(dir, x, m, sizeof m) && x->finished) {
        size_t u = 0;
        if (isfinite(x->v[EXP_COL_LAST]))
            u += (size_t)snprintf(out + u, cap - u, "target %.4f", x->v[EXP_COL_LAST]);
        if (isfinite(x->v[EXP_COL_SOURCE]) && u < cap)
            u += (size_t)snprintf(out + u, cap - u, "%ssource %.4f", u ? ", " : "", x->v[EXP_COL_SOURCE]);
        if (isfinite(x->v[EXP_COL_WALL]) && u < cap) {
            char t[32];
            progress_fmt_time(t, sizeof t, x->v[EXP_COL_WALL]);
            snprintf(out + u, cap - u, "%s%s of training and evaluation", u ? ", " : "", t);
        }
    }
    free(x);
}

/* Records that run r ended with exit status rc on rank `rank` after `secs` seconds. */
static void finish(book *b, int r, int rc, int rank, double secs) {
    const exp_run *x = &b->runs[r];
    char t[32], res[256], last[512];
    progress_fmt_time(t, sizeof t, secs);
    line_head(b, r);
    if (rc == 0) {
        b->st[r] = ST_DONE, b->done++;
        result_text(x->dir, res, sizeof res);
        printf("done in %s (rank %d)%s%s\n", t, rank, res[0] ? ": " : "", res);
    } else if (rc == 130) {
        b->st[r] = ST_INTERRUPTED, b->interrupted++;
        printf("interrupted after %s (rank %d); last.ckpt kept: the same command resumes it\n", t, rank);
    } else {
        b->st[r] = ST_FAILED, b->failed++;
        if (rc == 2) b->usage_error = 1;
        last_log_line(x->dir, last, sizeof last);
        if (rc == RC_NOSTART) printf("FAILED: rank %d could not start it (its stderr says why)\n", rank);
        else printf("FAILED (exit %d, rank %d): %s (%s/console.log)\n", rc, rank, last[0] ? last : "?", x->dir);
    }
    fflush(stdout);
}

/* The next run to start, deciding on rank 0 (finished ones are reported and passed over;
 * refused ones fail); *resume says how it will start. -1 when none is left. */
static int next_run(book *b, int *cursor, int *resume) {
    while (*cursor < b->n) {
        const int r = (*cursor)++;
        char msg[8192 + 2 * EXP_PATH];
        const int d = decide(b->g, &b->runs[r], msg, sizeof msg);
        if (d == 2) {
            char res[256];
            b->st[r] = ST_SKIPPED, b->skipped++;
            result_text(b->runs[r].dir, res, sizeof res);
            line_head(b, r);
            printf("finished before, not run again%s%s\n", res[0] ? ": " : "", res);
            fflush(stdout);
        } else if (d < 0) {
            b->st[r] = ST_FAILED, b->failed++;
            line_head(b, r);
            printf("FAILED: %s\n", msg);
            fflush(stdout);
        } else {
            *resume = d == 1;
            return r;
        }
    }
    return -1;
}

static void started(book *b, int r, int resume, int rank, int threads) {
    b->st[r] = ST_RUNNING;
    b->started++, b->resumed += resume;
    line_head(b, r);
    if (threads > 0) printf("%s on rank %d, %d thread%s\n", resume ? "resumed" : "started", rank, threads,
                            threads == 1 ? "" : "s");
    else printf("%s on rank %d\n", resume ? "resumed" : "started", rank);
    fflush(stdout);
}

/* ---- the loops ----------------------------------------------------------------------------- */

static void nap(void) {
    struct timespec ts = {0, 50 * 1000 * 1000};
    nanosleep(&ts, NULL);
}

/* Passes the signals received so far to the running children (once each). */
static void pass_signals(slot *sl, int j) {
    for (int k = 0; k < j; k++)
        while (sl[k].run >= 0 && sl[k].signalled < (int)g_signals) {
            kill(sl[k].pid, SIGTERM);
            sl[k].signalled++;
        }
}

/* Whether the child of slot k ended: its slot is freed, *r and *rc set. */
static int reap(slot *s, int *r, int *rc, double *secs) {
    if (s->run < 0) return 0;
    int status;
    pid_t p = waitpid(s->pid, &status, WNOHANG);
    if (p == 0 || (p < 0 && errno == EINTR)) return 0;
    *rc = p < 0 ? 1 : WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    if (*rc == 128 + SIGTERM) *rc = 130;  // ended by the second signal: resumable
    *secs = progress_now() - s->t0;
    close(s->lock_fd);
    *r = s->run;
    s->run = -1;
    return 1;
}

/* Ranks > 0: ask rank 0 for runs while a slot is free, run them, report them. */
static int worker(const exp_grid *g, const exp_run *runs, int n, const exp_sched_opts *o, int threads) {
    const int j = o->jobs;
    slot *sl = calloc((size_t)j, sizeof *sl);
    if (!sl) {
        fprintf(stderr, "dann experiment: rank %d: out of memory\n", mpi_rank());
        return 1;
    }
    for (int k = 0; k < j; k++) sl[k].run = sl[k].fin_run = -1, sl[k].open = 1;
    int rc = 0;
    for (;;) {
        int busy = 0;
        for (int k = 0; k < j; k++) {
            slot *s = &sl[k];
            while (s->open && s->run < 0) {
                const int rep[2] = {s->fin_run, s->fin_rc};
                if (g_signals) {  // stopping: report, ask for nothing more
                    if (mpi_send_ints(0, TAG_BYE, rep, 2)) goto comm;
                    s->open = 0;
                    break;
                }
                int a[2];
                if (mpi_send_ints(0, TAG_REQ, rep, 2) || mpi_recv_ints(0, TAG_ASSIGN, a, 2)) goto comm;
                s->fin_run = -1;
                if (a[0] < 0 || a[0] >= n) {
                    s->open = 0;
                    break;
                }
                char m[8192 + 2 * EXP_PATH];
                const int d = decide(g, &runs[a[0]], m, sizeof m);
                if (d == 2) {  // finished in the meantime
                    s->fin_run = a[0], s->fin_rc = 0;
                } else if (d < 0 || start(g, runs, a[0], d == 1, threads, o->self, s, m, sizeof m)) {
                    fprintf(stderr, "dann experiment: rank %d: %s\n", mpi_rank(), m);
                    s->fin_run = a[0], s->fin_rc = RC_NOSTART;
                }
            }
        }
        pass_signals(sl, j);
        int ended = 0;
        for (int k = 0; k < j; k++) {
            int r, crc;
            double secs;
            if (reap(&sl[k], &r, &crc, &secs)) sl[k].fin_run = r, sl[k].fin_rc = crc, ended = 1;
            busy |= sl[k].open || sl[k].run >= 0;
        }
        if (!busy) break;
        if (!ended) nap();
    }
    free(sl);
    return rc;
comm:
    fprintf(stderr, "dann experiment: %s\n", mpi_error());
    for (int k = 0; k < j; k++)
        if (sl[k].run >= 0) kill(sl[k].pid, SIGTERM);
    free(sl);
    return 1;
}

/* Rank 0 (or the only process): starts runs in its own slots, answers the other ranks, prints. */
static int dispatcher(book *b, const exp_sched_opts *o, int threads) {
    const int j = o->jobs, ranks = mpi_size(), remote = (ranks - 1) * j;
    slot *sl = calloc((size_t)j, sizeof *sl);
    double *t_assign = calloc((size_t)b->n, sizeof *t_assign);
    if (!sl || !t_assign) {
        free(sl), free(t_assign);
        fprintf(stderr, "dann experiment: out of memory\n");
        return 1;
    }
    for (int k = 0; k < j; k++) sl[k].run = -1;
    int cursor = 0, closed = 0, rc = 0;
    for (;;) {
        int acted = 0, resume;
        const int stopping = g_signals || b->usage_error;
        for (int k = 0; k < j && !stopping; k++) {
            if (sl[k].run >= 0) continue;
            const int r = next_run(b, &cursor, &resume);
            if (r < 0) break;
            char m[8192 + 2 * EXP_PATH];
            if (start(b->g, b->runs, r, resume, threads, o->self, &sl[k], m, sizeof m)) {
                b->st[r] = ST_FAILED, b->failed++;
                line_head(b, r);
                printf("FAILED: %s\n", m);
                fflush(stdout);
                k--;
                continue;
            }
            started(b, r, resume, 0, threads);
            acted = 1;
        }
        for (int got = 1; got && ranks > 1;) {
            int src, tag, v[2];
            if (mpi_poll_ints(&src, &tag, v, 2, &got)) goto comm;
            if (!got) break;
            acted = 1;
            if (v[0] >= 0 && v[0] < b->n) finish(b, v[0], v[1], src, progress_now() - t_assign[v[0]]);
            if (tag == TAG_BYE) {
                closed++;
                continue;
            }
            int a[2] = {-1, 0};
            if (!g_signals && !b->usage_error) a[0] = next_run(b, &cursor, &a[1]);
            if (mpi_send_ints(src, TAG_ASSIGN, a, 2)) goto comm;
            if (a[0] < 0) closed++;
            else t_assign[a[0]] = progress_now(), started(b, a[0], a[1], src, o->threads);  // its CPUs are its own
        }
        pass_signals(sl, j);
        int busy = 0;
        for (int k = 0; k < j; k++) {
            int r, crc;
            double secs;
            if (reap(&sl[k], &r, &crc, &secs)) finish(b, r, crc, 0, secs), acted = 1;
            busy |= sl[k].run >= 0;
        }
        const int more = !g_signals && !b->usage_error && cursor < b->n;
        if (!busy && !more && closed >= remote) break;
        if (!acted) nap();
    }
    free(sl), free(t_assign);
    return rc;
comm:
    fprintf(stderr, "dann experiment: %s\n", mpi_error());
    for (int k = 0; k < j; k++)
        if (sl[k].run >= 0) kill(sl[k].pid, SIGTERM);
    free(sl), free(t_assign);
    return 1;
}

int exp_run_grid(const exp_grid *g, const exp_run *runs, int n, const exp_sched_opts *o) {
    const int rank = mpi_rank();
    /* threads of each run: the CPUs this process may use (shared with the other ranks on this
     * node), divided among its -j runs */
    int threads = o->threads;
    if (threads <= 0) {
        long cpus = sysconf(_SC_NPROCESSORS_ONLN);
        const char *local = getenv("OMPI_COMM_WORLD_LOCAL_SIZE"), *slurm = getenv("SLURM_CPUS_PER_TASK");
        if (!local) local = getenv("MPI_LOCALNRANKS");
        if (!local) local = getenv("SLURM_NTASKS_PER_NODE");  // "2" or "2(x4)"
        if (slurm && atoi(slurm) > 0) cpus = atoi(slurm);
        else if (local && atoi(local) > 1) cpus /= atoi(local);
        threads = (int)(cpus / o->jobs);
        if (threads < 1) threads = 1;
    }
    if (o->dry_run) {
        if (rank == 0)
            for (int r = 0; r < n; r++) {
                static char buf[4 * EXP_PATH + 16384];
                char *argv[EXP_MAX_EXTRA + 40], msg[8192 + 2 * EXP_PATH];
                const int d = decide(g, &runs[r], msg, sizeof msg);
                printf("%s: %s\n  dann", runs[r].name, d == 2 ? "finished before" : d == 1 ? "resume" :
                       d == 0 ? "fresh" : msg);
                if (d >= 0 && d < 2 && exp_train_argv(g, &runs[r], d == 1, threads, argv, EXP_MAX_EXTRA + 40,
                                                     buf, sizeof buf) > 0)
                    for (char **a = argv; *a; a++) printf(" %s", *a);
                printf("\n");
            }
        return 0;
    }
    struct sigaction sa, old_int, old_term;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, &old_int);
    sigaction(SIGTERM, &sa, &old_term);
    g_signals = 0;
    int rc;
    if (rank > 0) {
        rc = worker(g, runs, n, o, threads);
    } else {
        book b = {g, runs, n, calloc((size_t)n, sizeof(int)), 0, 0, 0, 0, 0, 0, 0};
        if (!b.st) {
            fprintf(stderr, "dann experiment: out of memory\n");
            return 1;
        }
        printf("experiment: %d runs in %s, %d at a time on each of %d process%s, %d thread%s each\n", n,
               g->out, o->jobs, mpi_size(), mpi_size() == 1 ? "" : "es", threads, threads == 1 ? "" : "s");
        fflush(stdout);
        rc = dispatcher(&b, o, threads);
        printf("experiment: %d runs: %d started (%d of them resumed), %d done, %d finished before, %d "
               "failed, %d interrupted\n", n, b.started, b.resumed, b.done, b.skipped, b.failed,
               b.interrupted);
        if (b.usage_error)
            printf("experiment: a run failed on its options (exit 2), so the others were not started: "
                   "see its console.log\n");
        if (b.interrupted || g_signals)
            printf("experiment: run the same command again to resume the interrupted runs\n");
        if (!rc) rc = g_signals ? 130 : b.failed || b.interrupted || b.done + b.skipped < n ? 1 : 0;
        free(b.st);
    }
    sigaction(SIGINT, &old_int, NULL);
    sigaction(SIGTERM, &old_term, NULL);
    return rc;
}
