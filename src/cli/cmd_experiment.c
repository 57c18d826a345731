/* cmd_experiment.c - `dann experiment`: a grid of training runs (recipes x networks x modes x
 * seeds x domain pairs, plus fixed `dann train` options), run one after another, -j at a time
 * or over the ranks of mpirun, resumable, and its tables (docs/EXPERIMENTS.md). The grid, the
 * scheduling and the tables live in exp_grid.c, exp_sched.c, exp_read.c and exp_table.c. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "cli/args.h"
#include "cli/cli.h"
#include "cli/exp.h"
#include "cli/mpi.h"

#define CMD "experiment"

static void usage(FILE *f) {
    fprintf(f,
"usage: dann experiment --out DIR [grid options] [-- dann train options]\n"
"       dann experiment --table-only --out DIR [--tables DIR]\n"
"\n"
"Runs every combination of the grid's values as `dann train` into DIR/<name> (e.g.\n"
"DIR/dann-s1), skips runs whose summary.json says they finished, resumes interrupted ones,\n"
"then writes DIR/results.md, results.csv (mean +- std over seeds per cell) and runs.csv.\n"
"Under mpirun -np N, rank 0 hands runs to the ranks as they free up (DIR on a shared disk).\n"
"\n"
"  --out DIR             the grid's folder (runs, tables)\n"
"  --presets LIST        recipes, e.g. py3,paper,shallow (default py3)\n"
"  --archs LIST          networks by preset name, e.g. py3,paper-mnist (default: each\n"
"                        recipe's own)\n"
"  --arch NET            a network (a preset or a description); may be given several times\n"
"  --modes LIST          dann,source-only,target-only (default dann)\n"
"  --seeds LIST          e.g. 1-3 or 1,2,5-7 (default 1)\n"
"  --pairs LIST          domain pairs [NAME=]SOURCE>TARGET, comma-separated, e.g.\n"
"                        'mnist:data/mnist>mnistm:data' (quote the '>' in a shell)\n"
"  --source SPEC --target SPEC   one pair (instead of --pairs)\n"
"  -j, --jobs N          runs at a time in each process (default 1)\n"
"  --threads T           threads of each run (default: this process's CPUs / jobs)\n"
"  --dry-run             print each run's folder, state and command; run nothing\n"
"  --table-only          only the tables, from every run folder under --out (any run made\n"
"                        by dann train, finished or not: unfinished ones are listed apart)\n"
"  --tables DIR          write the tables there instead of --out\n"
"  -- OPTIONS            given to every dann train (e.g. -- --epochs 30 --select all)\n"
"\n"
"Runs go in order seeds, pairs, presets, archs, modes (each seed's cells complete before the\n"
"next seed starts). A run's output goes to its console.log (and train's own train.log);\n"
"one line per run here.\n");
}

static char *g_list_text[6];

int cmd_experiment(int argc, char **argv) {
    static exp_grid g;
    memset(&g, 0, sizeof g);
    args_parser ap;
    args_init(&ap, CMD, argc, argv);
    const char *presets = NULL, *archs = NULL, *modes = NULL, *seeds = NULL, *pairs = NULL,
               *source = NULL, *target = NULL, *tables = NULL;
    int table_only = 0, dry = 0, jobs = 1, threads = 0, rc;
    char msg[8192];
    while (args_next(&ap)) {
        if (args_is(&ap, "--help") || args_is(&ap, "-h")) {
            usage(stdout);
            return 0;
        } else if (!ap.is_option) {
            if (!ap.opts_done) {
                args_unknown(&ap);
                break;
            }
            if (g.n_extra >= EXP_MAX_EXTRA) return args_usage(CMD, "more than %d options after --", EXP_MAX_EXTRA);
            g.extra[g.n_extra++] = ap.cur;
        } else if (args_is(&ap, "--out")) args_str(&ap, &g.out);
        else if (args_is(&ap, "--presets")) args_str(&ap, &presets);
        else if (args_is(&ap, "--archs")) args_str(&ap, &archs);
        else if (args_is(&ap, "--arch")) {
            const char *a;
            if (!args_str(&ap, &a)) {
                if (g.n_archs >= EXP_MAX_VALUES) return args_usage(CMD, "--arch: more than %d networks", EXP_MAX_VALUES);
                g.archs[g.n_archs++] = a;
            }
        } else if (args_is(&ap, "--modes")) args_str(&ap, &modes);
        else if (args_is(&ap, "--seeds")) args_str(&ap, &seeds);
        else if (args_is(&ap, "--pairs")) args_str(&ap, &pairs);
        else if (args_is(&ap, "--source")) args_str(&ap, &source);
        else if (args_is(&ap, "--target")) args_str(&ap, &target);
        else if (args_is(&ap, "-j") || args_is(&ap, "--jobs")) args_int(&ap, 1, 1024, &jobs);
        else if (args_is(&ap, "--threads")) args_int(&ap, 1, 1024, &threads);
        else if (args_is(&ap, "--dry-run")) args_flag(&ap, &dry);
        else if (args_is(&ap, "--table-only")) args_flag(&ap, &table_only);
        else if (args_is(&ap, "--tables")) args_str(&ap, &tables);
        else args_unknown(&ap);
    }
    if (ap.failed) return 2;
    if (!g.out) return args_usage(CMD, "--out DIR is required (dann experiment --help)");
    struct stat sb;
    if (stat(g.out, &sb) == 0 && !S_ISDIR(sb.st_mode))
        return fprintf(stderr, "dann %s: %s: not a folder\n", CMD, g.out), 1;

    if (table_only) {
        if (mpi_rank() > 0) return 0;
        exp_result *rs;
        int n;
        if (exp_scan(g.out, &rs, &n, msg, sizeof msg)) return fprintf(stderr, "dann %s: %s\n", CMD, msg), 1;
        if (!n) {
            free(rs);
            return fprintf(stderr, "dann %s: %s: no run folders (run.json) found\n", CMD, g.out), 1;
        }
        rc = exp_write_tables(rs, n, tables ? tables : g.out, stdout, msg, sizeof msg);
        free(rs);
        if (rc) return fprintf(stderr, "dann %s: %s\n", CMD, msg), 1;
        return 0;
    }

    /* the grid */
    const char *lists[] = {presets ? presets : "py3", archs, modes ? modes : "dann"};
    for (int k = 0; k < 3; k++) {
        free(g_list_text[k]);
        g_list_text[k] = lists[k] ? strdup(lists[k]) : NULL;
        if (lists[k] && !g_list_text[k]) return fprintf(stderr, "dann %s: out of memory\n", CMD), 1;
    }
    if (exp_parse_list(g_list_text[0], g.presets, &g.n_presets, "--presets", msg, sizeof msg) ||
        (archs && exp_parse_list(g_list_text[1], g.archs, &g.n_archs, "--archs", msg, sizeof msg)) ||
        exp_parse_modes(&g, g_list_text[2], msg, sizeof msg) ||
        exp_parse_seeds(&g, seeds ? seeds : "1", msg, sizeof msg) ||
        exp_check_extra(&g, msg, sizeof msg))
        return args_usage(CMD, "%s", msg);
    if (pairs && (source || target)) return args_usage(CMD, "give --pairs or --source/--target, not both");
    if (pairs) {
        if (exp_parse_pairs(&g, pairs, msg, sizeof msg)) return args_usage(CMD, "%s", msg);
    } else {
        if (!source || !target)
            return args_usage(CMD, "the data: --source SPEC and --target SPEC, or --pairs (dann experiment --help)");
        char one[2 * EXP_PATH + 8];
        if (snprintf(one, sizeof one, "%s>%s", source, target) >= (int)sizeof one)
            return args_usage(CMD, "--source/--target: too long");
        if (exp_parse_pairs(&g, one, msg, sizeof msg)) return args_usage(CMD, "%s", msg);
        snprintf(g.pairs[0].source, sizeof g.pairs[0].source, "%s", source);  // a '>' or ',' in a path
        snprintf(g.pairs[0].target, sizeof g.pairs[0].target, "%s", target);
    }
    for (int k = 0; k < g.n_presets; k++)
        if (strcmp(g.presets[k], "py3") && strcmp(g.presets[k], "paper") && strcmp(g.presets[k], "shallow"))
            return args_usage(CMD, "--presets: unknown recipe '%s' (py3, paper, shallow)", g.presets[k]);
    exp_run *runs;
    int n;
    if (exp_expand(&g, &runs, &n, msg, sizeof msg)) return args_usage(CMD, "%s", msg);

    /* every rank must expand the same grid: the same command line and build */
    if (mpi_size() > 1) {
        unsigned long h = 5381;
        for (int i = 0; i < argc; i++)
            for (const char *c = argv[i];; c++) {
                h = h * 33 + (unsigned char)*c;
                if (!*c) break;
            }
        for (const char *c = DANN_VERSION_STRING; *c; c++) h = h * 33 + (unsigned char)*c;
        int same = 0;
        if (mpi_same(&h, sizeof h, &same) || !same) {
            fprintf(stderr, "dann %s: rank %d: %s\n", CMD, mpi_rank(),
                    same ? mpi_error() : "the processes were started with different options or builds");
            free(runs);
            return 2;
        }
    }
    static char self[4096];
    ssize_t len = readlink("/proc/self/exe", self, sizeof self - 1);
    if (len <= 0) {
        free(runs);
        return fprintf(stderr, "dann %s: /proc/self/exe: cannot find this program\n", CMD), 1;
    }
    self[len] = 0;
    exp_sched_opts o = {jobs, threads, dry, self};
    rc = exp_run_grid(&g, runs, n, &o);
    free(runs);
    if (dry || mpi_rank() > 0) return rc;

    /* the tables, from every run folder under --out */
    exp_result *rs;
    int nr;
    if (exp_scan(g.out, &rs, &nr, msg, sizeof msg)) {
        fprintf(stderr, "dann %s: %s\n", CMD, msg);
        return rc ? rc : 1;
    }
    if (nr) {
        const char *dir = tables ? tables : g.out;
        printf("\n");
        if (exp_write_tables(rs, nr, dir, stdout, msg, sizeof msg)) {
            fprintf(stderr, "dann %s: %s\n", CMD, msg);
            if (!rc) rc = 1;
        } else {
            printf("\ntables: %s/results.md, results.csv, runs.csv\n", dir);
        }
    }
    free(rs);
    return rc;
}
