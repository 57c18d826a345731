/* exp.h - `dann experiment`: grids of training runs and their tables (docs/EXPERIMENTS.md).
 *
 *   exp_grid.c   the grid: its dimensions from the command line, the runs it expands to (seeds
 *                outermost, so every finished seed is a complete set of cells), each run's
 *                folder name and `dann train` command line
 *   exp_sched.c  running the runs: child processes of `dann train` (fresh, resumed or skipped as
 *                the folder says), -j of them at a time, and under mpirun a dispatcher on rank 0
 *                that hands runs to the ranks as they free up
 *   exp_table.c  reading run folders (run.json, summary.json, metrics.jsonl), grouping them into
 *                cells (every setting but the seed), mean and sample standard deviation over the
 *                seeds, the Markdown and CSV tables and the selection rules against the oracle
 * Runs are never executed in this process: each is `dann train` in its own process, so the
 * experiment calls the training code as a user would and a crash ends one run only. */
#ifndef DANN_CLI_EXP_H
#define DANN_CLI_EXP_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include "cli/select.h"

#define EXP_PATH 4096
#define EXP_MAX_VALUES 64     /* presets, archs, pairs */
#define EXP_MAX_SEEDS 1000
#define EXP_MAX_EXTRA 128     /* train options passed through */

/* ---- the grid (exp_grid.c) ------------------------------------------------------------------ */

typedef struct {
    char name[64];            /* short name (folder prefix and table column) */
    char source[EXP_PATH], target[EXP_PATH];
} exp_pair;

typedef struct {
    const char *presets[EXP_MAX_VALUES];
    int n_presets;
    const char *archs[EXP_MAX_VALUES];   /* none: each preset's own network */
    int n_archs;
    int modes[3];                        /* 0 dann, 1 source-only, 2 target-only */
    int n_modes;
    uint64_t seeds[EXP_MAX_SEEDS];
    int n_seeds;
    exp_pair pairs[EXP_MAX_VALUES];
    int n_pairs;
    const char *extra[EXP_MAX_EXTRA];    /* options given to every `dann train` */
    int n_extra;
    const char *out;                     /* the grid's folder */
} exp_grid;

typedef struct {
    int pair, preset, arch, mode;        /* indices into the grid; arch -1: the preset's own */
    uint64_t seed;
    char name[256];                      /* folder name under out, e.g. "dann-s1" */
    char dir[EXP_PATH];                  /* out/name */
} exp_run;

extern const char *const EXP_MODES[];    /* "dann", "source-only", "target-only", NULL */

/* Each parser appends to g and returns 0, or -1 with a one-line message in msg. */
/* "1-3,7,10-12": seeds (decimal, a range lo-hi with lo <= hi), in the order given; a seed given
 * twice is an error. */
/* Writes the message into msg[0, cap) and returns -1 (every exp_* error path). */
int exp_fail(char *msg, size_t cap, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

int exp_parse_seeds(exp_grid *g, const char *text, char *msg, size_t cap);
/* "[NAME=]SRC>TGT[,...]": domain pairs; a pair without a name is named "<srckind>-<tgtkind>"
 * (e.g. "mnist-mnistm"), with "-2", "-3" added when that name is taken. */
int exp_parse_pairs(exp_grid *g, const char *text, char *msg, size_t cap);
/* "a,b,c" into list (at most EXP_MAX_VALUES; text is kept, cut in place at the commas). */
int exp_parse_list(char *text, const char **list, int *n, const char *what, char *msg, size_t cap);
/* "dann,source-only,target-only" into g->modes. */
int exp_parse_modes(exp_grid *g, char *text, char *msg, size_t cap);
/* Checks the options passed to `dann train`: those the grid sets itself are refused. */
int exp_check_extra(const exp_grid *g, char *msg, size_t cap);

/* The runs of g in order: seeds outermost, then pairs, presets, archs, modes (so each seed's
 * cells complete before the next seed starts). Folder names join the values of the dimensions
 * that have more than one value (pair, preset, arch: the preset name or "arch<k>"), then the mode
 * and "s<seed>": "dann-s1", "paper-source-only-s2". *runs is malloc'd. */
int exp_expand(const exp_grid *g, exp_run **runs, int *n, char *msg, size_t cap);

/* The `dann train` arguments of run r (without the program name) into argv (NULL-terminated,
 * pointers into buf): a fresh run's full command, or `--resume DIR/last.ckpt`; both with
 * `--threads threads` (when > 0) and `--progress lines`. Returns argc, or -1 when it does not
 * fit. */
int exp_train_argv(const exp_grid *g, const exp_run *r, int resume, int threads, char **argv,
                   int argv_cap, char *buf, size_t buf_cap);
/* The run's identity, kept in its folder (experiment.cmd): the fresh command without --out,
 * --threads and --progress, one line. */
int exp_run_identity(const exp_grid *g, const exp_run *r, char *buf, size_t cap);

/* ---- one run folder (exp_table.c) ----------------------------------------------------------- */

enum { EXP_COL_LAST = 0, EXP_COL_RULE0 = 1, EXP_COL_AVG = 1 + SEL_N, EXP_COL_ORACLE,
       EXP_COL_SOURCE, EXP_COL_WALL, EXP_NCOL };

typedef struct {
    char dir[EXP_PATH];
    char source[EXP_PATH], target[EXP_PATH];
    char preset[32], mode[32], net[64], arch[4096], select[128], average[64];
    uint64_t seed;
    double epochs, batch, max_steps, source_val, lr, lambda, eval_max;
    int has_lambda;
    /* settings that older run.json files lack: absent, they take the values dann train gave them
     * before they were options (the recipe's lambda_max and gamma, its normalisation, 0 for
     * iters-per-epoch, patience and chunk, the default selection-set size) */
    double lambda_max, gamma, iters_per_epoch, patience, chunk, select_n;
    char source_norm[128], target_norm[128];
    int finished;            /* summary.json present */
    int epochs_done;         /* metrics lines (distinct epochs) */
    double v[EXP_NCOL];      /* NAN where absent; accuracies as fractions, wall in seconds */
} exp_result;

/* Reads dir/run.json (required), dir/summary.json and dir/metrics.jsonl (optional). 0, or -1
 * with a one-line message naming the file. */
int exp_read_run(const char *dir, exp_result *r, char *msg, size_t cap);
/* Every run folder (one holding run.json) under root, at most 3 levels down, sorted by path.
 * *rs is malloc'd. Folders that cannot be read are reported on stderr and left out. */
int exp_scan(const char *root, exp_result **rs, int *n, char *msg, size_t cap);

/* ---- the tables (exp_table.c) --------------------------------------------------------------- */

/* The paper's number for a cell (JMLR 2016 Table 2), or NAN: MNIST -> MNIST-M only. */
double exp_paper_number(const char *source, const char *target, const char *mode);
/* Sample mean and standard deviation (n - 1 in the denominator; NAN std when n < 2) of the
 * finite values among x[0..n); returns how many there were. */
int exp_mean_std(const double *x, int n, double *mean, double *std);

/* Writes dir/results.md, dir/results.csv (one row per cell), dir/runs.csv (one row per run) and
 * the Markdown on md (may be NULL) from the n results. 0, or -1 with a message. */
int exp_write_tables(const exp_result *rs, int n, const char *dir, FILE *md, char *msg,
                     size_t cap);

/* ---- running (exp_sched.c) ------------------------------------------------------------------ */

typedef struct {
    int jobs;              /* runs at a time on each process (-j) */
    int threads;           /* --threads of each run; 0: the CPUs of this process / jobs */
    int dry_run;
    const char *self;      /* the dann binary (/proc/self/exe) */
} exp_sched_opts;

/* Runs the grid's runs (skipping finished ones, resuming interrupted ones), over the MPI ranks
 * when there are several. Returns 0 when every run finished, 1 when some failed, 130 when
 * interrupted. Only rank 0 prints. */
int exp_run_grid(const exp_grid *g, const exp_run *runs, int n, const exp_sched_opts *o);

#endif
