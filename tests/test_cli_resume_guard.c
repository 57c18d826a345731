/* test_cli_resume_guard.c - `dann train --resume` against run files that lie, and the run
 * folder's other promises (README "Reliability"), with the real binary on the embedded demo
 * data (data/demo; 6 steps of 16 + 16 images an epoch, 50 test images):
 *   - a last.ckpt whose CRCs are recomputed after a field was set out of range (position beyond
 *     the epoch, run length, batch, optimizer steps, best-so-far, RNG states, configuration,
 *     the loop's key/value lines) is refused with one line naming the file and the field, never
 *     an assert or an overflow (run it under SANITIZE=1);
 *   - run.json numbers out of range (1e300 epochs, negatives, fractions) likewise;
 *   - --resume works from another working folder (run.json keeps absolute data paths);
 *   - --resume of a folder refuses and writes nothing anywhere;
 *   - the thread count is stored and used on resume, another one refused; a 1-thread run
 *     resumed ends bit-identical to the uninterrupted 1-thread run;
 *   - stdout write errors exit 1, --out is checked before the data loads, stale *.tmp files of
 *     a killed save are removed when a run starts. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "ckpt_testutil.h"
#include "cli/json.h"
#include "io/checkpoint.h"
#include "layers/layers.h"
#include "run_testutil.h"

static char g_src[4200], g_tgt[4200];

/* The demo specs, or 0 (the caller skips). */
static int have_demo(void) {
    return dann_bin() && demo_specs(g_src, g_tgt, sizeof g_src) == 0;
}

/* `dann train` on the demo data into run with the common short settings plus up to 6 more
 * arguments (NULL-terminated); stop_after > 0 interrupts it after that many steps. */
static run_result *train(const char *run, int stop_after, const run_opts *base, const char *a0,
                         const char *a1, const char *a2, const char *a3) {
    const char *args[32] = {"train", "--source", g_src, "--target", g_tgt, "--epochs", "2",
                            "--batch", "16", "--max-steps", "6", "--eval-max", "50", "--quiet",
                            "--out", run};
    int n = 16;
    const char *more[4] = {a0, a1, a2, a3};
    for (int k = 0; k < 4 && more[k]; k++) args[n++] = more[k];
    args[n] = NULL;
    static char stop[64];
    const char *env[4] = {NULL};
    run_opts o = base ? *base : (run_opts){0};
    if (stop_after > 0) {
        snprintf(stop, sizeof stop, "DANN_TEST_STOP_AFTER=%d", stop_after);
        env[0] = stop;
        if (base && base->env) env[1] = base->env[0];
        o.env = env;
    }
    return run_dann_opts(&o, args);
}

static run_result *resume(const char *ckpt, const char *a0, const char *a1) {
    const char *args[] = {"train", "--resume", ckpt, "--quiet", a0, a1, NULL};
    static const run_opts none = {0};
    return run_dann_opts(&none, args);
}

/* One line on stderr, naming both words, exit status want, no crash. */
static void expect_refused(const run_result *r, int want, const char *w1, const char *w2,
                           const char *label) {
    const char *nl = strchr(r->err, '\n');
    CHECK(r->rc == want, "%s: exit %d, want %d: %s", label, r->rc, want, r->err);
    CHECK(nl && nl[1] == 0 && strstr(r->err, w1) && strstr(r->err, w2),
          "%s: want one line naming '%s' and '%s', got: %s", label, w1, w2, r->err);
}

/* ---- 1: every field of the checkpoint checked against the run ---- */

TEST(cli_resume_crafted_checkpoint_fields_refused) {
    if (!have_demo()) SKIP("no dann binary or no data/demo");
    const char *dir = test_tmpdir();
    char run[512], ckpt[600], good[600];
    snprintf(run, sizeof run, "%s/run", dir);
    snprintf(ckpt, sizeof ckpt, "%s/last.ckpt", run);
    snprintf(good, sizeof good, "%s/good.ckpt", dir);
    run_result *r = train(run, 3, NULL, "--threads", "1", NULL, NULL);
    CHECK(r->rc == 130, "interrupted run: exit %d: %s", r->rc, r->err);
    size_t len;
    unsigned char *b = read_all(ckpt, &len), *e = b ? malloc(len) : NULL;
    if (!e) {
        CHECK(0, "no %s", ckpt);
        free(b);
        return;
    }
    write_all(good, b, len);
    CHECK(le32(b + 148) == 0 && le32(b + 152) == 3, "saved at epoch %u step %u, want 0/3",
          le32(b + 148), le32(b + 152));
    /* header fields: offset, width (4 or 8; 0 = f32, 1 = f64, 32 = zero the 32 bytes) */
    const struct { int off, width; double v; int rc; const char *field; } cases[] = {
        {152, 4, 4294967295.0, 1, "step_in_epoch"},   /* the audit's crash: -1 as an int */
        {152, 4, 6, 1, "step_in_epoch"},              /* = S: no such step */
        {152, 4, 1000, 1, "step_in_epoch"},
        {148, 4, 3, 1, "epoch"},                      /* beyond the 2 epochs */
        {148, 4, 4294967295.0, 1, "epoch"},
        {148, 4, 2, 1, "step_in_epoch"},              /* at the end, but mid-epoch */
        {156, 4, 4294967295.0, 1, "epochs"},
        {156, 4, 0, 1, "epochs"},
        {160, 4, 0, 1, "batch"},
        {160, 4, 4294967295.0, 1, "batch"},
        {176, 8, 12345, 1, "steps"},                  /* not epoch * S + step */
        {176, 8, 9.2e18, 1, "steps"},
        {164, 4, 1, 1, "best_epoch"},                 /* ahead of the epochs done */
        {168, 0, NAN, 1, "best_val_acc"},
        {168, 0, 7.0, 1, "best_val_acc"},
        {184, 8, 99, 1, "seed"},
        {240, 32, 0, 1, "shuffle_rng"},
        {208, 32, 0, 1, "trainer_rng"},
        {72, 1, 1.0, 1, "beta1"},
        {88, 1, -1.0, 1, "eps"},
        {52, 4, 12345, 1, "tensor layout"},           /* the dims: another fingerprint */
    };
    for (size_t k = 0; k < sizeof cases / sizeof *cases; k++) {
        memcpy(e, b, len);
        unsigned char *p = e + cases[k].off;
        switch (cases[k].width) {
        case 0: set_f32(p, (float)cases[k].v); break;
        case 1: set_f64(p, cases[k].v); break;
        case 4: set_le32(p, (uint32_t)cases[k].v); break;
        case 8: set_le64(p, (uint64_t)cases[k].v); break;
        default: memset(p, 0, 32);
        }
        fix_crcs(e, len);
        write_all(ckpt, e, len);
        char label[96];
        snprintf(label, sizeof label, "%s = %g", cases[k].field, cases[k].v);
        expect_refused(resume(ckpt, NULL, NULL), cases[k].rc, ckpt, cases[k].field, label);
    }
    /* the loop's key/value lines */
    const struct { const char *key, *value, *word; } kv[] = {
        {"threads", "0", "threads"}, {"threads", "1e9", "threads"}, {"threads", "two", "threads"},
        {"early_stop", "5", "early_stop"}, {"early_stop", "-1", "early_stop"},
        {"iters_per_epoch", "99999999999999999999", "iters_per_epoch"},
    };
    for (size_t k = 0; k < sizeof kv / sizeof *kv; k++) {
        write_all(ckpt, b, len);
        CHECK(ckpt_file_set_kv(ckpt, kv[k].key, kv[k].value) == 0, "cannot edit %s", ckpt);
        char label[96];
        snprintf(label, sizeof label, "%s=%s", kv[k].key, kv[k].value);
        expect_refused(resume(ckpt, NULL, NULL), 1, ckpt, kv[k].word, label);
    }
    /* The untouched file resumes and finishes. */
    write_all(ckpt, b, len);
    r = resume(ckpt, NULL, NULL);
    CHECK(r->rc == 0, "the good checkpoint: exit %d: %s", r->rc, r->err);
    free(b), free(e);
}

TEST(cli_resume_crafted_selection_and_average_lines_refused) {
    if (!have_demo()) SKIP("no dann binary or no data/demo");
    const char *dir = test_tmpdir();
    char run[512], ckpt[600];
    snprintf(run, sizeof run, "%s/run", dir);
    snprintf(ckpt, sizeof ckpt, "%s/last.ckpt", run);
    /* stopped after the first epoch (6 steps), so both lines are in last.ckpt */
    run_result *r = train(run, 6, NULL, "--select", "ent", "--average", "ema");
    CHECK(r->rc == 130, "interrupted run: exit %d: %s", r->rc, r->err);
    size_t len;
    unsigned char *b = read_all(ckpt, &len);
    if (!b) return;
    char v[128];
    CHECK(find_bytes(b, len, "select.ent=") && find_bytes(b, len, "avg.count="),
          "expected select.ent and avg.count lines in %s", ckpt);
    const struct { const char *key, *value; } kv[] = {
        {"select.ent", "nan,1,0.5,0.5"}, {"select.ent", "0.1,-7,0.5,0.5"},
        {"select.ent", "0.1,1,0.5"}, {"select.ent", "0.1,1,0.5,9"},
        {"avg.count", "-1"}, {"avg.count", "99999"}, {"avg.count", "3x"},
    };
    for (size_t k = 0; k < sizeof kv / sizeof *kv; k++) {
        write_all(ckpt, b, len);
        CHECK(ckpt_file_set_kv(ckpt, kv[k].key, kv[k].value) == 0, "cannot edit %s", ckpt);
        snprintf(v, sizeof v, "%s=%s", kv[k].key, kv[k].value);
        r = resume(ckpt, NULL, NULL);
        expect_refused(r, 1, ckpt, kv[k].key, v);
        CHECK(strstr(r->err, "range"), "%s: %s", v, r->err);
    }
    free(b);
}

/* ---- 12: run.json numbers ---- */

TEST(cli_resume_run_json_numbers_out_of_range) {
    if (!have_demo()) SKIP("no dann binary or no data/demo");
    const char *dir = test_tmpdir();
    char run[512], ckpt[600], rj[600];
    snprintf(run, sizeof run, "%s/run", dir);
    snprintf(ckpt, sizeof ckpt, "%s/last.ckpt", run);
    snprintf(rj, sizeof rj, "%s/run.json", run);
    run_result *r = train(run, 3, NULL, "--threads", "1", NULL, NULL);
    CHECK(r->rc == 130, "interrupted run: exit %d: %s", r->rc, r->err);
    unsigned char *orig;
    long n = file_bytes(rj, &orig);
    if (n < 0) return;
    const struct { const char *key, *value; } cases[] = {
        {"epochs", "1e300"}, {"epochs", "-2"}, {"epochs", "2.5"}, {"epochs", "0"},
        {"batch", "-16"}, {"batch", "1e9"}, {"max_steps", "-1"}, {"eval_max", "1e19"},
        {"source_val", "0.5"}, {"seed_lo", "-1"}, {"seed_hi", "4294967296"}, {"chunk", "1e300"},
        {"patience", "-3"}, {"select_n", "1e300"}, {"threads", "100000"}, {"threads", "-1"},
    };
    for (size_t k = 0; k < sizeof cases / sizeof *cases; k++) {
        /* replace the key's number in the original text */
        char key[64], text[16384];
        snprintf(key, sizeof key, "\"%s\": ", cases[k].key);
        const char *at = strstr((const char *)orig, key);
        if (!at) {
            CHECK(0, "run.json lacks %s", key);
            continue;
        }
        const char *num = at + strlen(key), *end = num + strcspn(num, ",}");
        snprintf(text, sizeof text, "%.*s%s%s", (int)(num - (const char *)orig), (const char *)orig,
                 cases[k].value, end);
        write_bytes(rj, text, strlen(text));
        char label[96];
        snprintf(label, sizeof label, "run.json %s %s", cases[k].key, cases[k].value);
        expect_refused(resume(ckpt, NULL, NULL), 1, rj, cases[k].key, label);
    }
    write_bytes(rj, orig, (size_t)n);
    r = resume(ckpt, NULL, NULL);
    CHECK(r->rc == 0, "the original run.json: exit %d: %s", r->rc, r->err);
    free(orig);
}

/* ---- 3: resume from another working folder ---- */

TEST(cli_resume_from_another_folder) {
    if (!have_demo()) SKIP("no dann binary or no data/demo");
    char dir[512], here[600], elsewhere[600], data[700], ckpt[700];
    snprintf(dir, sizeof dir, "%s", test_tmpdir());
    snprintf(here, sizeof here, "%s/here", dir);
    snprintf(elsewhere, sizeof elsewhere, "%s/elsewhere", dir);
    mkdir(here, 0755), mkdir(elsewhere, 0755);
    /* the data under relative paths: here/data -> the demo folder */
    snprintf(data, sizeof data, "%s/data", here);
    char demo[4200];
    snprintf(demo, sizeof demo, "%s", g_src + strlen("mnist:"));
    *strrchr(demo, '/') = 0;    /* ROOT/data/demo */
    CHECK(symlink(demo, data) == 0, "symlink %s", data);
    snprintf(g_src, sizeof g_src, "mnist:data/mnist");
    snprintf(g_tgt, sizeof g_tgt, "mnistm:data/mnist_m.tar.gz");
    run_opts in_here = {.cwd = here};
    run_result *r = train("run", 3, &in_here, "--threads", "1", NULL, NULL);
    CHECK(r->rc == 130, "interrupted run in %s: exit %d: %s", here, r->rc, r->err);
    snprintf(ckpt, sizeof ckpt, "%s/run/last.ckpt", here);
    const char *args[] = {"train", "--resume", ckpt, "--quiet", NULL};
    run_opts there = {.cwd = elsewhere};
    r = run_dann_opts(&there, args);
    CHECK(r->rc == 0, "resume from %s: exit %d: %s", elsewhere, r->rc, r->err);
    CHECK(file_lines(pathf(here, "run/metrics.jsonl")) == 2, "metrics lines %d after the resume",
          file_lines(pathf(here, "run/metrics.jsonl")));
    /* run.json holds absolute paths and the folder they were given in */
    unsigned char *rj;
    char v[4200];
    if (file_bytes(pathf(here, "run/run.json"), &rj) > 0) {
        CHECK(json_get_str((char *)rj, "source", v, sizeof v) && !strncmp(v, "mnist:/", 7) &&
              strstr(v, "/here/data/mnist"), "run.json source: %s", v);
        CHECK(json_get_str((char *)rj, "cwd", v, sizeof v) && strstr(v, "/here"), "cwd: %s", v);
        free(rj);
    }
    /* An older run.json with relative paths and its cwd resolves them against that folder. */
    r = train("run2", 3, &in_here, "--threads", "1", NULL, NULL);
    char rj2[700];
    snprintf(rj2, sizeof rj2, "%s/run2/run.json", here);
    long n = file_bytes(rj2, &rj);
    if (n > 0) {
        char text[16384], *p;
        snprintf(text, sizeof text, "%s", (char *)rj);
        while ((p = strstr(text, here)) && p[strlen(here)] == '/' && strncmp(p + strlen(here) + 1, "run", 3)) {
            /* "HERE/data/..." -> "data/..." inside the specs, keep "cwd": "HERE" */
            memmove(p, p + strlen(here) + 1, strlen(p + strlen(here) + 1) + 1);
        }
        write_bytes(rj2, text, strlen(text));
        CHECK(strstr(text, "\"mnist:data/mnist\""), "edited run.json: %s", text);
        free(rj);
        snprintf(ckpt, sizeof ckpt, "%s/run2/last.ckpt", here);
        r = run_dann_opts(&there, args);
        CHECK(r->rc == 0, "resume of a relative run.json from %s: exit %d: %s", elsewhere, r->rc,
              r->err);
    }
}

/* ---- 4: --resume of a folder ---- */

TEST(cli_resume_of_a_folder_writes_nothing) {
    if (!have_demo()) SKIP("no dann binary or no data/demo");
    const char *dir = test_tmpdir();
    char run[512], empty[512], before_run[2048], before_dir[2048], after[2048];
    snprintf(run, sizeof run, "%s/run", dir);
    snprintf(empty, sizeof empty, "%s/empty", dir);
    mkdir(empty, 0755);
    run_result *r = train(run, 3, NULL, "--threads", "1", NULL, NULL);
    CHECK(r->rc == 130, "interrupted run: exit %d", r->rc);
    unlink(pathf(run, "metrics.jsonl"));   /* mid-epoch 1: none yet, keep it that way */
    dir_listing(run, before_run, sizeof before_run);
    dir_listing(dir, before_dir, sizeof before_dir);
    char slash[600], dot[600];
    snprintf(slash, sizeof slash, "%s/", run);
    snprintf(dot, sizeof dot, "%s/.", run);
    const char *targets[] = {run, slash, dot, empty, dir};
    for (int k = 0; k < 5; k++) {
        r = resume(targets[k], NULL, NULL);
        expect_refused(r, 1, targets[k], "folder", targets[k]);
        r = resume(targets[k], "--source", g_src);  /* the same with data given */
        CHECK(r->rc != 0 && r->rc < 128, "%s with --source: exit %d", targets[k], r->rc);
    }
    dir_listing(run, after, sizeof after);
    CHECK(!strcmp(after, before_run), "the run folder changed: '%s' -> '%s'", before_run, after);
    dir_listing(dir, after, sizeof after);
    CHECK(!strcmp(after, before_dir), "its parent changed: '%s' -> '%s'", before_dir, after);
    dir_listing(empty, after, sizeof after);
    CHECK(!after[0], "the empty folder got: %s", after);
}

/* ---- 6: the thread count ---- */

TEST(cli_resume_keeps_the_thread_count) {
    if (!have_demo()) SKIP("no dann binary or no data/demo");
    /* The blas kernels' bits depend on the thread count (docs/KERNELS.md), so a resume at
     * another count than the run's would end with other bits (at least 2 CPUs: the default is
     * all of them). */
    const char *dir = test_tmpdir();
    char a[512], b[512];
    snprintf(a, sizeof a, "%s/a", dir);
    snprintf(b, sizeof b, "%s/b", dir);
    static const char *const blas[] = {"DANN_KERNELS=blas", NULL};
    const run_opts ob = {.env = blas};
    run_result *r = train(a, 0, &ob, "--threads", "1", NULL, NULL);
    CHECK(r->rc == 0, "uninterrupted: exit %d: %s", r->rc, r->err);
    r = train(b, 4, &ob, "--threads", "1", NULL, NULL);
    CHECK(r->rc == 130, "interrupted: exit %d: %s", r->rc, r->err);
    /* stored in run.json and in last.ckpt */
    unsigned char *rj;
    double th = 0;
    if (file_bytes(pathf(b, "run.json"), &rj) > 0) {
        CHECK(json_get_num((char *)rj, "threads", &th) && th == 1, "run.json threads %g", th);
        free(rj);
    }
    ckpt_info info;
    dann_error err;
    char v[32] = "";
    CHECK(ckpt_peek(pathf(b, "last.ckpt"), &info, &err) == DANN_OK &&
          ckpt_kv_get(info.meta.kv, "threads", v, sizeof v) && !strcmp(v, "1"),
          "last.ckpt threads '%s' (%s)", v, err.msg);
    /* another count is refused, with a message */
    char ck[600];
    snprintf(ck, sizeof ck, "%s/last.ckpt", b);
    const char *args2[] = {"train", "--resume", ck, "--threads", "2", NULL};
    r = run_dann_opts(&ob, args2);
    expect_refused(r, 2, "--threads 2", "thread count", "--threads 2 on resume");
    /* the command the tool prints (no --threads) resumes at 1 thread and ends bit-identical */
    const char *args[] = {"train", "--resume", ck, NULL};
    r = run_dann_opts(&ob, args);
    CHECK(r->rc == 0 && strstr(r->out, " 1 threads"), "resume: exit %d, %s%s", r->rc, r->out, r->err);
    CHECK(same_file(pathf(a, "last.ckpt"), pathf(b, "last.ckpt")),
          "the resumed 1-thread run's last.ckpt differs from the uninterrupted one's");
}

TEST(cli_resume_at_another_thread_count_with_v16_kernels) {
    if (!have_demo()) SKIP("no dann binary or no data/demo");
    if (kernels_use(KERNELS_AUTO) == KERNELS_BLAS) SKIP("this CPU's default kernels are blas");
    /* The default (v16) kernels give the same bits at any thread count (docs/KERNELS.md): a run
     * interrupted at 1 thread and resumed at 2 ends where the uninterrupted 1-thread run ends. */
    const char *dir = test_tmpdir();
    char a[512], b[512];
    snprintf(a, sizeof a, "%s/a", dir);
    snprintf(b, sizeof b, "%s/b", dir);
    run_result *r = train(a, 0, NULL, "--threads", "1", NULL, NULL);
    CHECK(r->rc == 0, "uninterrupted: exit %d: %s", r->rc, r->err);
    r = train(b, 4, NULL, "--threads", "1", NULL, NULL);
    CHECK(r->rc == 130, "interrupted: exit %d: %s", r->rc, r->err);
    char ck[600];
    snprintf(ck, sizeof ck, "%s/last.ckpt", b);
    const char *args[] = {"train", "--resume", ck, "--threads", "2", NULL};
    static const run_opts none = {0};
    r = run_dann_opts(&none, args);
    CHECK(r->rc == 0 && strstr(r->out, " 2 threads"), "resume at 2 threads: exit %d, %s%s", r->rc,
          r->out, r->err);
    /* the checkpoint records the count it last trained with; all else must be the same bytes */
    CHECK(ckpt_file_set_kv(pathf(b, "last.ckpt"), "threads", "1") == 0, "rewriting threads");
    CHECK(same_file(pathf(a, "last.ckpt"), pathf(b, "last.ckpt")),
          "resumed at 2 threads, last.ckpt differs from the uninterrupted 1-thread run's");
}

/* ---- 15: stdout, --out, stale temporary files ---- */

TEST(cli_train_stdout_write_error_exits_1) {
    if (!have_demo()) SKIP("no dann binary or no data/demo");
    if (access("/dev/full", W_OK) != 0) SKIP("no /dev/full");
    const char *dir = test_tmpdir();
    const run_opts full = {.stdout_path = "/dev/full"};
    const char *args[] = {"train", "--source", g_src, "--target", g_tgt, "--epochs", "1", "--batch",
                          "16", "--max-steps", "2", "--eval-max", "20", "--threads", "1", "--out",
                          pathf(dir, "run"), NULL};
    run_result *r = run_dann_opts(&full, args);
    expect_refused(r, 1, "stdout", "write error", "train > /dev/full");
}

TEST(cli_train_out_checked_before_the_data) {
    if (!dann_bin()) SKIP("no dann binary");
    const char *dir = test_tmpdir();
    char file[512], under[600];
    snprintf(file, sizeof file, "%s/a-file", dir);
    snprintf(under, sizeof under, "%s/sub/run", file);
    write_bytes(file, "x", 1);
    /* The data does not exist: an error about it would mean it was read before --out. */
    const char *outs[] = {file, under};
    for (int k = 0; k < 2; k++) {
        const char *args[] = {"train", "--source", "mnist:/nonexistent/data", "--target",
                              "mnist:/nonexistent/too", "--out", outs[k], NULL};
        static const run_opts none = {0};
        run_result *r = run_dann_opts(&none, args);
        expect_refused(r, 1, "--out", "not a folder", outs[k]);
        CHECK(!strstr(r->err, "nonexistent"), "%s: the data was looked at first: %s", outs[k], r->err);
    }
}

TEST(cli_train_removes_stale_tmp_files) {
    if (!have_demo()) SKIP("no dann binary or no data/demo");
    const char *dir = test_tmpdir();
    char run[512], fresh[512];
    snprintf(run, sizeof run, "%s/run", dir);
    snprintf(fresh, sizeof fresh, "%s/fresh", dir);
    run_result *r = train(run, 3, NULL, "--threads", "1", NULL, NULL);
    CHECK(r->rc == 130, "interrupted: exit %d", r->rc);
    /* what a save killed half-way leaves, and a file of the user's that must stay */
    const char *stale[] = {"last.ckpt.tmp", "best.ckpt.tmp", "avg.ckpt.tmp", "summary.json.tmp"};
    for (int k = 0; k < 4; k++) write_bytes(pathf(run, stale[k]), "half", 4);
    write_bytes(pathf(run, "notes.tmp"), "mine", 4);
    r = resume(pathf(run, "last.ckpt"), NULL, NULL);
    CHECK(r->rc == 0, "resume: exit %d: %s", r->rc, r->err);
    for (int k = 0; k < 4; k++) CHECK(!exists(pathf(run, stale[k])), "%s left in the run folder", stale[k]);
    CHECK(exists(pathf(run, "notes.tmp")), "a file not the run's own was removed");
    /* a fresh run into a folder with a stale last.ckpt.tmp (a first save killed) starts */
    mkdir(fresh, 0755);
    write_bytes(pathf(fresh, "last.ckpt.tmp"), "half", 4);
    r = train(fresh, 0, NULL, "--threads", "1", NULL, NULL);
    CHECK(r->rc == 0 && !exists(pathf(fresh, "last.ckpt.tmp")) && exists(pathf(fresh, "last.ckpt")),
          "fresh run over a stale tmp: exit %d: %s", r->rc, r->err);
}
