/* test_kill9.c - what a checkpoint guarantees after a crash (README "Reliability"), in a short
 * form of the audit's test: a training process on the embedded demo data (6 epochs of 2 steps,
 * 1 thread) is killed with SIGKILL at random moments once it has loaded its data - training,
 * evaluating, appending metrics, in the middle of a save - and restarted each time (--resume
 * when last.ckpt exists, else afresh in an emptied folder, as the tool tells a user to). After
 * every kill last.ckpt, when present, must load completely (CRCs, every field, finite values).
 * A chain that reaches its last epoch runs to the end, and its last.ckpt must be byte-identical
 * to that of the same run never interrupted, its metrics.jsonl one line per epoch with the same
 * accuracies; then a new chain starts.
 *
 * Each process is killed in a random one of its remaining epochs, after a random part of the
 * measured length of an epoch of an uninterrupted run (both drawn from a seeded generator; the
 * epochs are counted by the lines the process prints, so a slow or sanitized build or a loaded
 * machine moves the moments, not the coverage). DANN_KILL9_ROUNDS sets the number of kills
 * (default 8); the test also insists on at least one kill of a resumed process after it saved
 * an epoch of its own, and on at least one chain completed. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>
#include "cli/json.h"
#include "io/checkpoint.h"
#include "run_testutil.h"

static double now_s(void) {
    struct timeval tv;
    gettimeofday(&tv, NULL);
    return tv.tv_sec + tv.tv_usec * 1e-6;
}

/* Starts `dann args` with stdout to out_path and stderr discarded; returns its pid. */
static pid_t spawn(const char *const *args, const char *out_path) {
    const char *argv[40];
    int n = 0;
    argv[n++] = dann_bin();
    for (int i = 0; args[i] && n < 39; i++) argv[n++] = args[i];
    argv[n] = NULL;
    fflush(stdout);
    unlink(out_path);  /* the previous process's "train:" line must not be read as this one's */
    pid_t pid = fork();
    if (pid == 0) {
        if (!freopen(out_path, "w", stdout) || !freopen("/dev/null", "w", stderr)) _exit(126);
        setvbuf(stdout, NULL, _IOLBF, 0);
        execv(argv[0], (char *const *)argv);
        _exit(127);
    }
    return pid;
}

/* Waits (up to 60 s) until the process has printed `what` at least n times (its "train: " line
 * once the data is loaded; "  cls " is in each epoch's line, printed after that epoch's save);
 * returns the seconds since t0, or -1 when it ended first. */
static double wait_for(pid_t pid, const char *out_path, const char *what, int n, double t0) {
    for (int k = 0; k < 30000; k++) {
        unsigned char *b = NULL;
        int seen = 0;
        if (file_bytes(out_path, &b) > 0)
            for (const char *p = (char *)b; (p = strstr(p, what)); p += strlen(what)) seen++;
        free(b);
        if (seen >= n) return now_s() - t0;
        int ws;
        if (waitpid(pid, &ws, WNOHANG) == pid) return -1;
        usleep(2000);
    }
    return -1;
}

/* The epoch last.ckpt at path continues in (0 when there is none). */
static int ckpt_epoch(const char *path) {
    static ckpt_info info;
    dann_error err;
    return exists(path) && ckpt_peek(path, &info, &err) == DANN_OK ? (int)info.meta.epoch : 0;
}

/* The accuracies of each metrics line, "src/tgt;" per epoch, into out. */
static void accuracies(const char *path, char *out, size_t cap) {
    out[0] = 0;
    FILE *f = fopen(path, "rb");
    if (!f) return;
    char line[8192];
    size_t used = 0;
    while (fgets(line, sizeof line, f) && used < cap) {
        double s = -1, t = -1;
        json_get_num(line, "source_test_acc", &s);
        json_get_num(line, "target_test_acc", &t);
        used += (size_t)snprintf(out + used, cap - used, "%.4f/%.4f;", s, t);
    }
    fclose(f);
}

TEST(kill9_at_random_moments_checkpoint_loads_and_resume_is_exact) {
    char src[4200], tgt[4200];
    if (!dann_bin() || demo_specs(src, tgt, sizeof src)) SKIP("no dann binary or no data/demo");
    const char *dir = test_tmpdir();
    char ref[512], run[512], ckpt[600];
    snprintf(ref, sizeof ref, "%s/ref", dir);
    snprintf(run, sizeof run, "%s/run", dir);
    snprintf(ckpt, sizeof ckpt, "%s/last.ckpt", run);
    const char *fresh[] = {"train", "--source", src, "--target", tgt, "--epochs", "6", "--batch",
                           "16", "--max-steps", "2", "--eval-max", "20", "--threads", "1",
                           "--out", ref, NULL};
    const char *resume[] = {"train", "--resume", ckpt, NULL};
    char out_path[600];
    snprintf(out_path, sizeof out_path, "%s/stdout.txt", dir);
    /* the uninterrupted run; T: the time of one epoch (steps, evaluation, metrics, save) */
    double t0 = now_s();
    pid_t pid = spawn(fresh, out_path);
    const double load = wait_for(pid, out_path, "train: ", 1, t0);
    const double T = (wait_for(pid, out_path, "  cls ", 6, t0) - load) / 6;
    int ws = 0;
    waitpid(pid, &ws, 0);
    CHECK(load >= 0 && T > 0 && WIFEXITED(ws) && WEXITSTATUS(ws) == 0, "uninterrupted run: status %d",
          ws);
    if (test_failed_now()) return;
    fresh[16] = run;
    const char *env = getenv("DANN_KILL9_ROUNDS");
    const int rounds = env && atoi(env) > 0 ? atoi(env) : 8;
    uint32_t seed = 12345;
    /* chains: resumed to their end and compared with the uninterrupted run; resumed: kills of
     * a process that had resumed and saved an epoch of its own, the part an error in the
     * resume state would show in */
    int kills = 0, loaded = 0, restarts = 0, resumed = 0, chains = 0;
    for (int k = 0; k < rounds + 40 && (kills < rounds || !resumed || !chains || exists(ckpt)); k++) {
        const int e0 = ckpt_epoch(ckpt);
        t0 = now_s();
        pid = spawn(exists(ckpt) ? resume : fresh, out_path);
        if (e0 >= 5 || kills >= rounds) {
            /* the last epoch left (or none: a process killed after its last save but before it
             * exited), or enough kills: the chain runs to its end, which must be the
             * uninterrupted run's */
            waitpid(pid, &ws, 0);
            chains++;
            CHECK(WIFEXITED(ws) && WEXITSTATUS(ws) == 0, "chain %d: the last resume ended with "
                  "status %d", chains, ws);
            CHECK(same_file(pathf(ref, "last.ckpt"), ckpt), "chain %d: after %d kills the resumed "
                  "run's last.ckpt differs from the uninterrupted run's", chains, kills);
            char acc_ref[512], acc_run[512];
            accuracies(pathf(ref, "metrics.jsonl"), acc_ref, sizeof acc_ref);
            accuracies(pathf(run, "metrics.jsonl"), acc_run, sizeof acc_run);
            CHECK(file_lines(pathf(run, "metrics.jsonl")) == 6 && !strcmp(acc_ref, acc_run),
                  "chain %d: metrics: %d lines, accuracies %s, uninterrupted %s", chains,
                  file_lines(pathf(run, "metrics.jsonl")), acc_run, acc_ref);
            if (test_failed_now()) return;
            char cmd[600];
            snprintf(cmd, sizeof cmd, "rm -rf '%s'", run);
            if (system(cmd) != 0) break;
            continue;
        }
        /* a random moment of a random epoch still to do: after `lines` of this process's epoch
         * lines (each printed after its save), a random part of an epoch's time - in its steps,
         * evaluation, metrics line or save */
        seed = seed * 1664525u + 1013904223u;
        const int lines = (int)((seed >> 8) % (uint32_t)(6 - e0));
        seed = seed * 1664525u + 1013904223u;
        const double delay = T * (seed >> 8) / 16777216.0;
        if (wait_for(pid, out_path, "train: ", 1, t0) >= 0 &&
            (lines == 0 || wait_for(pid, out_path, "  cls ", lines, t0) >= 0))
            usleep((useconds_t)(delay * 1e6));
        kill(pid, SIGKILL);
        waitpid(pid, &ws, 0);
        if (WIFEXITED(ws)) {  /* it had finished (a slow moment): that chain is done */
            CHECK(WEXITSTATUS(ws) == 0, "a run ended with status %d", WEXITSTATUS(ws));
            CHECK(same_file(pathf(ref, "last.ckpt"), ckpt), "a chain's last.ckpt differs");
            char cmd[600];
            snprintf(cmd, sizeof cmd, "rm -rf '%s'", run);
            if (system(cmd) != 0) break;
            continue;
        }
        kills++;
        if (exists(ckpt)) {
            dann_model *m = NULL;
            dann_trainer *t = NULL;
            dann_error err;
            CHECK(ckpt_load(ckpt, 0, &m, &t, NULL, &err) == DANN_OK,
                  "kill %d (%d epochs and %.2f s into a process): last.ckpt does not load: %s",
                  kills, lines, delay, err.msg);
            loaded += m != NULL;
            resumed += e0 > 0 && ckpt_epoch(ckpt) > e0;
            dann_trainer_free(t), dann_model_free(m);
        } else {
            /* killed before the first checkpoint: nothing to resume, start afresh */
            char cmd[600];
            snprintf(cmd, sizeof cmd, "rm -rf '%s'", run);
            if (system(cmd) != 0) break;
            restarts++;
        }
    }
    CHECK(kills >= rounds && resumed > 0 && chains > 0, "%d kills, %d of a resumed process that "
          "had saved, %d chains completed", kills, resumed, chains);
    printf("    %d kills (an epoch: %.2f s): last.ckpt present and loaded after %d (%d in a resumed "
           "process that had saved), %d restarts afresh; %d chains resumed to the end, each "
           "byte-identical to the uninterrupted run\n", kills, T, loaded, resumed, restarts,
           chains);
}
