/* test_mpi.c - `mpirun -np N dann train` (docs/SCALING.md), when mpirun and an MPI build are
 * present (skipped, saying so, otherwise). On the embedded demo sample, 1 thread per process:
 *   - 1, 2 and 3 processes train to the parameters, statistics and counters of one process with
 *     the same --chunk, bit for bit; the run folder is written by rank 0 only;
 *   - a run interrupted on 2 processes resumes on 3 to the bits of the uninterrupted run;
 *   - processes started with different options refuse to start, naming the problem;
 *   - a process killed mid-run ends the job with a message, and last.ckpt stays loadable. */
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include "cli_testutil.h"
#include "io/checkpoint.h"
#include "test.h"

#define SRC "mnist:data/demo/mnist"
#define TGT "mnistm:data/demo"

static int have_mpi(void) {
    if (!dann_bin() || system("command -v mpirun >/dev/null 2>&1") != 0) return 0;
    const char *a[] = {"--version", NULL};
    run_result *r = run_dann(a);
    (void)r;
    // the build has MPI when mpi.o references it (MPI=1 needs mpicc at build time)
    return system("nm build/obj/src/cli/mpi.o 2>/dev/null | grep -q MPI_Iallgatherv") == 0;
}

static void mpi_env(void) {
    setenv("OMPI_ALLOW_RUN_AS_ROOT", "1", 1);  // CI runs as root
    setenv("OMPI_ALLOW_RUN_AS_ROOT_CONFIRM", "1", 1);
    setenv("OMPI_MCA_btl", "self,vader", 1);    // one machine: shared memory only
    setenv("OMPI_MCA_rmaps_base_oversubscribe", "1", 1);
    // The sanitizer build: Open MPI's own allocations outlive MPI_Finalize; suppress leaks whose
    // stack passes through its libraries (full stacks, so those frames are seen) and keep
    // checking ours.
    static char supp[512];
    char cwd[400];
    if (!supp[0] && getcwd(cwd, sizeof cwd))
        snprintf(supp, sizeof supp, "suppressions=%s/tests/lsan_mpi.supp:print_suppressions=0", cwd);
    setenv("LSAN_OPTIONS", supp, 1);
    setenv("ASAN_OPTIONS", "fast_unwind_on_malloc=0", 1);
}

/* dann train on n processes (n = 0: no mpirun) into out. */
static run_result *train(int n, const char *out, const char *resume) {
    static char np[12];
    snprintf(np, sizeof np, "%d", n);
    const char *args[40];
    int k = 0;
    if (n > 0) args[k++] = "--oversubscribe", args[k++] = "-np", args[k++] = np, args[k++] = dann_bin();
    args[k++] = "train";
    if (resume) {
        args[k++] = "--resume", args[k++] = resume;
    } else {
        const char *rest[] = {"--source", SRC, "--target", TGT, "--out", out, "--epochs", "2",
                              "--max-steps", "3", "--batch", "32", "--eval-max", "50", NULL};
        for (int i = 0; rest[i]; i++) args[k++] = rest[i];
    }
    const char *tail[] = {"--threads", "1", "--chunk", "8", "--quiet", NULL};
    for (int i = 0; tail[i]; i++) args[k++] = tail[i];
    args[k] = NULL;
    return n > 0 ? run_prog("mpirun", args) : run_dann(args);
}

static int same_weights(const char *a, const char *b) {
    dann_model *ma = NULL, *mb = NULL;
    dann_error err;
    int same = 0;
    if (ckpt_load(a, 0, &ma, NULL, NULL, &err) == DANN_OK && ckpt_load(b, 0, &mb, NULL, NULL, &err) == DANN_OK) {
        size_t np, ns;
        float *pa = dann_model_params(ma, &np), *sa = dann_model_state(ma, &ns);
        same = !memcmp(pa, dann_model_params(mb, NULL), np * 4) &&
               !memcmp(sa, dann_model_state(mb, NULL), ns * 4);
        for (int i = 0; same && i < dann_model_tensors(ma, 0, NULL); i++) {
            dann_tensor_info ti;
            dann_model_tensors(ma, i, &ti);
            if (ti.kind == 2) same = dann_model_bn_count(ma, i) == dann_model_bn_count(mb, i);
        }
    } else {
        test_fail(__FILE__, __LINE__, "load: %s", err.msg);
    }
    dann_model_free(ma);
    dann_model_free(mb);
    return same;
}

TEST(mpi_train_same_bits_on_1_2_3_processes) {
    if (!have_mpi()) SKIP("skipped: no mpirun, or dann built without MPI (make MPI=1 needs libopenmpi-dev)");
    mpi_env();
    const char *dir = test_tmpdir();
    char *one = strdup(pathf(dir, "one")), *ref = strdup(pathf(one, "last.ckpt"));
    run_result *r = train(0, one, NULL);
    CHECK(r->rc == 0, "one process: exit %d: %s", r->rc, r->err);
    for (int n = 1; n <= 3 && !r->rc; n++) {
        char name[16];
        snprintf(name, sizeof name, "np%d", n);
        char *out = strdup(pathf(dir, name));
        r = train(n, out, NULL);
        CHECK(r->rc == 0, "mpirun -np %d: exit %d: %s", n, r->rc, r->err);
        if (!r->rc) CHECK(same_weights(pathf(out, "last.ckpt"), ref), "-np %d: weights differ from one process's", n);
        free(out);
    }
    free(one);
    free(ref);
}

TEST(mpi_resume_on_another_process_count) {
    if (!have_mpi()) SKIP("skipped: no mpirun, or dann built without MPI");
    mpi_env();
    const char *dir = test_tmpdir();
    char *whole = strdup(pathf(dir, "whole")), *cut = strdup(pathf(dir, "cut"));
    run_result *r = train(0, whole, NULL);
    CHECK(r->rc == 0, "uninterrupted: %s", r->err);
    setenv("DANN_TEST_STOP_AFTER", "4", 1);  // in the second epoch
    r = train(2, cut, NULL);
    unsetenv("DANN_TEST_STOP_AFTER");
    CHECK(r->rc != 0 && exists(pathf(cut, "last.ckpt")), "interrupted -np 2 run: exit %d: %s", r->rc, r->err);
    char *ck = strdup(pathf(cut, "last.ckpt"));
    r = train(3, NULL, ck);
    CHECK(r->rc == 0, "resume on 3 processes: exit %d: %s", r->rc, r->err);
    if (!r->rc) CHECK(same_weights(ck, pathf(whole, "last.ckpt")), "resumed on 3 processes: weights differ");
    free(whole), free(cut), free(ck);
}

TEST(mpi_refuses_mismatched_processes) {
    if (!have_mpi()) SKIP("skipped: no mpirun, or dann built without MPI");
    mpi_env();
    const char *dir = test_tmpdir();
    char *out = strdup(pathf(dir, "x"));
    const char *args[] = {"-np", "1", dann_bin(), "train", "--source", SRC, "--target", TGT, "--out", out,
                          "--epochs", "1", "--max-steps", "1", "--batch", "32", "--threads", "1", ":",
                          "-np", "1", dann_bin(), "train", "--source", SRC, "--target", TGT, "--out", out,
                          "--epochs", "2", "--max-steps", "1", "--batch", "32", "--threads", "1", NULL};
    run_result *r = run_prog("mpirun", args);
    CHECK(r->rc != 0 && strstr(r->err, "different options or builds"),
          "mismatched processes: exit %d: %s", r->rc, r->err);
    CHECK(!exists(pathf(out, "last.ckpt")), "mismatched processes trained anyway");
    free(out);
}

/* A process dies (SIGKILL, as a crashed node) in the second epoch: the job ends with the
 * launcher naming the dead rank, non-zero, and the checkpoint of the first epoch is intact: it
 * loads and the run resumes from it (on one process). */
TEST(mpi_dead_process_ends_the_run_checkpoint_intact) {
    if (!have_mpi()) SKIP("skipped: no mpirun, or dann built without MPI");
    mpi_env();
    const char *dir = test_tmpdir();
    char *out = strdup(pathf(dir, "dead"));
    setenv("DANN_TEST_DIE", "1 5", 1);  // rank 1, before its 5th step (epochs of 3 steps)
    run_result *r = train(2, out, NULL);
    unsetenv("DANN_TEST_DIE");
    CHECK(r->rc != 0, "a run that lost a process exited 0");
    CHECK(strstr(r->err, "rank 1") != NULL, "no message names the dead rank: %s", r->err);
    char *ck = strdup(pathf(out, "last.ckpt"));
    ckpt_meta *meta = calloc(1, sizeof *meta);
    dann_model *m = NULL;
    dann_trainer *t = NULL;
    dann_error err = {0};
    CHECK(ckpt_load(ck, 0, &m, &t, meta, &err) == DANN_OK, "last.ckpt after the crash: %s", err.msg);
    CHECK(meta->epoch == 1 && meta->step_in_epoch == 0, "last.ckpt at epoch %u step %u, want 1, 0",
          meta->epoch, meta->step_in_epoch);
    dann_trainer_free(t);
    dann_model_free(m);
    free(meta);
    r = train(0, NULL, ck);
    CHECK(r->rc == 0, "resume after the crash: exit %d: %s", r->rc, r->err);
    free(out), free(ck);
}
