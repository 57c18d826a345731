/* test_experiment_run.c - `dann experiment` running tiny grids on the embedded demo data
 * (test_experiment.c tests the grid and the tables):
 *   - resume: a second invocation starts no run and leaves every finished folder as it was
 *     (summary.json's, train.log's and console.log's times and sizes); runs interrupted after a
 *     few steps are resumed by the same command to the bits of uninterrupted runs; a folder
 *     holding another run is refused and left alone;
 *   - MPI (when mpirun and an MPI build are present): 3 ranks share 6 runs, each run once, every
 *     rank runs some, and the table equals the one-process table. */
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "cli_testutil.h"
#include "io/checkpoint.h"
#include "test.h"

#define SRC "mnist:data/demo/mnist"
#define TGT "mnistm:data/demo"

/* dann experiment over out: modes x seeds, 1 epoch (or `epochs`) of 2 steps, under n ranks
 * (0: no mpirun). */
static run_result *grid(int n, const char *out, const char *modes, const char *seeds, const char *epochs) {
    static char np[12];
    snprintf(np, sizeof np, "%d", n);
    const char *args[48];
    int k = 0;
    if (n > 0) args[k++] = "--oversubscribe", args[k++] = "-np", args[k++] = np, args[k++] = dann_bin();
    const char *rest[] = {"experiment", "--out", out, "--modes", modes, "--seeds", seeds, "--source", SRC,
                          "--target", TGT, "--threads", "1", "--", "--epochs", epochs, "--max-steps", "2",
                          "--batch", "16", "--eval-max", "60", NULL};
    for (int i = 0; rest[i]; i++) args[k++] = rest[i];
    args[k] = NULL;
    return n > 0 ? run_prog("mpirun", args) : run_dann(args);
}

static int count(const char *s, const char *what) {
    int n = 0;
    for (const char *p = s; (p = strstr(p, what)); p++) n++;
    return n;
}

typedef struct {
    struct timespec mtime;
    off_t size;
} stamp;

static stamp stamp_of(const char *path) {
    struct stat sb;
    stamp s = {{0, 0}, -1};
    if (stat(path, &sb) == 0) s.mtime = sb.st_mtim, s.size = sb.st_size;
    return s;
}

static int same_stamp(stamp a, stamp b) {
    return a.size == b.size && a.mtime.tv_sec == b.mtime.tv_sec && a.mtime.tv_nsec == b.mtime.tv_nsec;
}

static int same_weights(const char *a, const char *b) {
    dann_model *ma = NULL, *mb = NULL;
    dann_error err;
    int same = 0;
    if (ckpt_load(a, 0, &ma, NULL, NULL, &err) == DANN_OK && ckpt_load(b, 0, &mb, NULL, NULL, &err) == DANN_OK) {
        size_t np, ns;
        float *pa = dann_model_params(ma, &np), *sa = dann_model_state(ma, &ns);
        same = !memcmp(pa, dann_model_params(mb, NULL), np * 4) && !memcmp(sa, dann_model_state(mb, NULL), ns * 4);
    } else {
        test_fail(__FILE__, __LINE__, "load: %s", err.msg);
    }
    dann_model_free(ma);
    dann_model_free(mb);
    return same;
}

TEST(experiment_resume_skips_finished_runs) {
    if (!dann_bin()) SKIP("skipped: build/dann not built");
    char dir[512];
    snprintf(dir, sizeof dir, "%s", test_tmpdir());  // run_dann may reuse test_tmpdir's buffer
    char *out = strdup(pathf(dir, "grid"));
    run_result *r = grid(0, out, "dann,source-only", "1-2", "1");
    CHECK(r->rc == 0, "first run: exit %d: %s\n%s", r->rc, r->err, r->out);
    CHECK(strstr(r->out, "4 started (0 of them resumed), 4 done, 0 finished before"), "first run:\n%s", r->out);
    const char *names[] = {"dann-s1", "source-only-s1", "dann-s2", "source-only-s2"};
    stamp sum[4], log[4], con[4];
    for (int k = 0; k < 4; k++) {
        char *d = strdup(pathf(out, names[k]));
        CHECK(exists(pathf(d, "summary.json")), "%s: no summary.json", names[k]);
        sum[k] = stamp_of(pathf(d, "summary.json")), log[k] = stamp_of(pathf(d, "train.log"));
        con[k] = stamp_of(pathf(d, "console.log"));
        CHECK(log[k].size > 0 && con[k].size > 0, "%s: no train.log or console.log", names[k]);
        free(d);
    }
    r = grid(0, out, "dann,source-only", "1-2", "1");
    CHECK(r->rc == 0, "second run: exit %d: %s", r->rc, r->err);
    CHECK(strstr(r->out, "0 started (0 of them resumed), 0 done, 4 finished before"), "second run:\n%s", r->out);
    CHECK(count(r->out, "finished before, not run again") == 4, "second run:\n%s", r->out);
    for (int k = 0; k < 4; k++) {
        char *d = strdup(pathf(out, names[k]));
        CHECK(same_stamp(sum[k], stamp_of(pathf(d, "summary.json"))) && same_stamp(log[k], stamp_of(pathf(d, "train.log"))) &&
              same_stamp(con[k], stamp_of(pathf(d, "console.log"))),
              "%s was touched by the second invocation", names[k]);
        free(d);
    }
    /* a third seed joins the same folder: only it runs */
    r = grid(0, out, "dann,source-only", "1-3", "1");
    CHECK(r->rc == 0 && strstr(r->out, "2 started (0 of them resumed), 2 done, 4 finished before"),
          "seeds 1-3 after 1-2: exit %d\n%s", r->rc, r->out);
    unsigned char *csv;
    CHECK(file_bytes(pathf(out, "runs.csv"), &csv) > 0 && count((char *)csv, "\n") == 7, "runs.csv: %s", csv ? (char *)csv : "none");
    free(csv);
    free(out);
}

TEST(experiment_resumes_interrupted_runs) {
    if (!dann_bin()) SKIP("skipped: build/dann not built");
    char dir[512];
    snprintf(dir, sizeof dir, "%s", test_tmpdir());  // run_dann may reuse test_tmpdir's buffer
    char *whole = strdup(pathf(dir, "whole")), *cut = strdup(pathf(dir, "cut"));
    run_result *r = grid(0, whole, "dann", "1-2", "2");
    CHECK(r->rc == 0, "uninterrupted: exit %d: %s", r->rc, r->err);
    setenv("DANN_TEST_STOP_AFTER", "3", 1);  // every run stops in its second epoch
    r = grid(0, cut, "dann", "1-2", "2");
    unsetenv("DANN_TEST_STOP_AFTER");
    CHECK(r->rc == 1 && count(r->out, "interrupted after") == 2 && strstr(r->out, "2 interrupted"),
          "interrupted grid: exit %d\n%s", r->rc, r->out);
    CHECK(!exists(pathf(pathf(cut, "dann-s1"), "summary.json")), "an interrupted run has a summary.json");
    r = grid(0, cut, "dann", "1-2", "2");
    CHECK(r->rc == 0 && strstr(r->out, "2 started (2 of them resumed), 2 done"), "resume: exit %d\n%s", r->rc, r->out);
    CHECK(count(r->out, "resumed on rank 0") == 2, "resume:\n%s", r->out);
    const char *names[] = {"dann-s1", "dann-s2"};
    for (int k = 0; k < 2 && !r->rc; k++) {
        char *a = strdup(pathf(pathf(cut, names[k]), "last.ckpt"));
        CHECK(same_weights(a, pathf(pathf(whole, names[k]), "last.ckpt")), "%s: the resumed run differs from "
              "the uninterrupted one", names[k]);
        free(a);
    }
    free(whole), free(cut);
}

TEST(experiment_refuses_a_folder_of_another_run) {
    if (!dann_bin()) SKIP("skipped: build/dann not built");
    char dir[512];
    snprintf(dir, sizeof dir, "%s", test_tmpdir());  // run_dann may reuse test_tmpdir's buffer
    char *out = strdup(pathf(dir, "g"));
    run_result *r = grid(0, out, "dann", "1", "1");
    CHECK(r->rc == 0, "exit %d: %s", r->rc, r->err);
    char *d = strdup(pathf(out, "dann-s1"));
    stamp s = stamp_of(pathf(d, "summary.json"));
    /* the same folder name, another run: 2 epochs instead of 1 */
    r = grid(0, out, "dann", "1", "2");
    CHECK(r->rc == 1 && strstr(r->out, "FAILED") && strstr(r->out, "holds another run") && strstr(r->out, "0 started"),
          "another run in the folder: exit %d\n%s", r->rc, r->out);
    CHECK(same_stamp(s, stamp_of(pathf(d, "summary.json"))), "the other run's folder was touched");
    /* a folder made by hand (no experiment.cmd) whose run.json names another seed */
    unlink(pathf(d, "experiment.cmd"));
    r = grid(0, out, "dann", "1", "1");
    CHECK(r->rc == 0 && strstr(r->out, "1 finished before"), "hand-made folder of the same run: exit %d\n%s", r->rc, r->out);
    unsigned char *rj;
    long n = file_bytes(pathf(d, "run.json"), &rj);
    char *p = rj ? strstr((char *)rj, "\"seed_lo\": 1") : NULL;
    if (p) p[11] = '7', write_bytes(pathf(d, "run.json"), rj, (size_t)n);
    r = grid(0, out, "dann", "1", "1");
    CHECK(p && r->rc == 1 && strstr(r->out, "holds another run (run.json"), "run.json of seed 7: exit %d\n%s", r->rc, r->out);
    free(rj), free(d), free(out);
}

/* ---- MPI ------------------------------------------------------------------------------------ */

static int have_mpi(void) {
    if (!dann_bin() || system("command -v mpirun >/dev/null 2>&1") != 0) return 0;
    return system("nm build/obj/src/cli/mpi.o 2>/dev/null | grep -q MPI_Iallgatherv") == 0;
}

static void mpi_env(void) {
    setenv("OMPI_ALLOW_RUN_AS_ROOT", "1", 1);
    setenv("OMPI_ALLOW_RUN_AS_ROOT_CONFIRM", "1", 1);
    setenv("OMPI_MCA_btl", "self,vader", 1);
    setenv("OMPI_MCA_rmaps_base_oversubscribe", "1", 1);
    static char supp[512];
    char cwd[400];
    if (!supp[0] && getcwd(cwd, sizeof cwd))
        snprintf(supp, sizeof supp, "suppressions=%s/tests/lsan_mpi.supp:print_suppressions=0", cwd);
    setenv("LSAN_OPTIONS", supp, 1);
    setenv("ASAN_OPTIONS", "fast_unwind_on_malloc=0", 1);
}

/* runs.csv without its dir and wall_s columns (the folders and times differ) */
static void strip_runs_csv(char *s) {
    char *w = s;
    for (char *line = s; *line;) {
        char *nl = strchr(line, '\n');
        size_t len = nl ? (size_t)(nl - line) : strlen(line);
        char *comma = memchr(line, ',', len), *last = NULL;
        for (char *c = line; c < line + len; c++)
            if (*c == ',') last = c;
        if (comma && last) {
            memmove(w, comma + 1, (size_t)(last - comma - 1));
            w += last - comma - 1;
            *w++ = '\n';
        }
        line += len + (nl ? 1 : 0);
    }
    *w = 0;
}

TEST(experiment_mpi_spreads_runs_over_ranks) {
    if (!have_mpi()) SKIP("skipped: no mpirun, or dann built without MPI (make MPI=1 needs libopenmpi-dev)");
    mpi_env();
    char dir[512];
    snprintf(dir, sizeof dir, "%s", test_tmpdir());  // run_dann may reuse test_tmpdir's buffer
    char *one = strdup(pathf(dir, "one")), *three = strdup(pathf(dir, "three"));
    run_result *r = grid(3, three, "dann,source-only", "1-3", "1");
    CHECK(r->rc == 0, "mpirun -np 3: exit %d: %s\n%s", r->rc, r->err, r->out);
    CHECK(strstr(r->out, "6 started (0 of them resumed), 6 done"), "mpirun -np 3:\n%s", r->out);
    const char *names[] = {"dann-s1", "source-only-s1", "dann-s2", "source-only-s2", "dann-s3", "source-only-s3"};
    for (int k = 0; k < 6; k++) {
        char started[64], done[64];
        snprintf(started, sizeof started, "] %s: started on rank", names[k]);
        snprintf(done, sizeof done, "] %s: done in", names[k]);
        CHECK(count(r->out, started) == 1 && count(r->out, done) == 1, "%s started %d times, done %d times",
              names[k], count(r->out, started), count(r->out, done));
        CHECK(exists(pathf(pathf(three, names[k]), "summary.json")), "%s: no summary.json", names[k]);
    }
    for (int rank = 0; rank < 3; rank++) {
        char s[32];
        snprintf(s, sizeof s, "on rank %d,", rank);
        CHECK(count(r->out, s) >= 1, "rank %d ran no run:\n%s", rank, r->out);
    }
    r = grid(0, one, "dann,source-only", "1-3", "1");
    CHECK(r->rc == 0, "one process: exit %d: %s", r->rc, r->err);
    unsigned char *a = NULL, *b = NULL;
    CHECK(file_bytes(pathf(one, "runs.csv"), &a) > 0 && file_bytes(pathf(three, "runs.csv"), &b) > 0, "runs.csv missing");
    if (a && b) {
        strip_runs_csv((char *)a), strip_runs_csv((char *)b);
        CHECK(!strcmp((char *)a, (char *)b), "the 3-rank table differs from the one-process table:\n%s\n---\n%s", a, b);
    }
    free(a), free(b), free(one), free(three);
}
