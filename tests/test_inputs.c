/* test_inputs.c - a directory or a FIFO given where a file is read is refused at once, by every
 * reader (one shared check, src/core/file.c): IDX images and labels, mnist: and mnistm: label
 * files, MNIST-M archives and images, PNGs of image folders, checkpoints, safetensors,
 * metrics.jsonl; and on the command line `dann import DIR`, `dann eval --model FIFO`, `dann
 * predict` of a FIFO image and `dann train --resume` whose run.json is a FIFO.
 *
 * A FIFO with no writer blocks an ordinary open or read forever, so every library call runs in a
 * child process with a 10 s alarm and every command under timeout(1): a reader that waits is
 * reported as hung instead of hanging the suite. Each refusal must name the path and its kind
 * ("directory" / "FIFO"). */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include "ckpt_testutil.h"
#include "cli/exp.h"
#include "cli_testutil.h"
#include "data/data.h"
#include "data_testutil.h"
#include "io/checkpoint.h"
#include "io/safetensors.h"
#include "test.h"
#include "viz/metrics.h"

typedef dann_status (*reader_fn)(const char *path, dann_error *err);

static dann_status rd_idx_images(const char *p, dann_error *err) {
    uint8_t *pix;
    int n, r, c;
    dann_status st = idx_read_images(p, &pix, &n, &r, &c, err);
    if (!st) free(pix);
    return st;
}

static dann_status rd_idx_labels(const char *p, dann_error *err) {
    int32_t *y;
    int n;
    dann_status st = idx_read_labels(p, &y, &n, 10, err);
    if (!st) free(y);
    return st;
}

static dann_status rd_spec(const char *spec, dann_error *err) {
    dataset ds;
    dann_status st = dataset_load(&ds, spec, DATA_TRAIN, 28, 28, err);
    if (!st) dataset_free(&ds);
    return st;
}

static dann_status rd_ckpt(const char *p, dann_error *err) {
    dann_model *m;
    dann_status st = ckpt_load(p, 0, &m, NULL, NULL, err);
    if (!st) dann_model_free(m);
    return st;
}

static dann_status rd_ckpt_peek(const char *p, dann_error *err) {
    static ckpt_info info;
    return ckpt_peek(p, &info, err);
}

static dann_status rd_st(const char *p, dann_error *err) {
    st_file f;
    dann_status st = st_read(&f, p, err);
    if (!st) st_free(&f);
    return st;
}

static dann_status rd_metrics(const char *p, dann_error *err) {
    metrics_run r;
    dann_status st = metrics_read(&r, p, err);
    if (!st) metrics_free(&r);
    return st;
}

/* Runs fn(arg) in a child with an alarm; checks it failed at once with a message holding both
 * words. */
static void expect_refused(const char *what, reader_fn fn, const char *arg, const char *word1,
                           const char *word2) {
    int fds[2];
    if (pipe(fds) != 0) {
        CHECK(0, "%s: pipe failed", what);
        return;
    }
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
        close(fds[0]);
        alarm(10);
        dann_error err = {0};
        dann_status st = fn(arg, &err);
        char out[sizeof err.msg + 16];
        int n = snprintf(out, sizeof out, "%d %s", (int)st, err.msg);
        ssize_t w = write(fds[1], out, (size_t)n);
        _exit(w == n ? 0 : 3);
    }
    close(fds[1]);
    char msg[600] = "";
    ssize_t n = pid > 0 ? read(fds[0], msg, sizeof msg - 1) : -1;
    msg[n > 0 ? n : 0] = 0;
    close(fds[0]);
    int status = 0;
    if (pid > 0) waitpid(pid, &status, 0);
    if (WIFSIGNALED(status)) {
        CHECK(0, "%s: the reader %s", what,
              WTERMSIG(status) == SIGALRM ? "hung (still waiting after 10 s)" : "crashed");
        return;
    }
    int st = atoi(msg);
    CHECK(st != 0 && strstr(msg, word1) && strstr(msg, word2),
          "%s: status %d, message '%s' should name '%s' and say '%s'", what, st, msg, word1,
          word2);
    CHECK(!strchr(msg, '\n'), "%s: message is not one line: '%s'", what, msg);
}

TEST(inputs_directory_or_fifo_refused_by_every_reader) {
    const char *root = test_tmpdir();
    char dir[600], fifo[600], p[700], spec[800];
    snprintf(dir, sizeof dir, "%s/adir", root);
    snprintf(fifo, sizeof fifo, "%s/afifo", root);
    tu_mkdir(dir);
    CHECK(mkfifo(fifo, 0600) == 0, "mkfifo %s failed", fifo);
    struct { const char *what; reader_fn fn; } direct[] = {
        {"idx images", rd_idx_images}, {"idx labels", rd_idx_labels}, {"checkpoint", rd_ckpt},
        {"checkpoint header", rd_ckpt_peek}, {"safetensors", rd_st}, {"metrics.jsonl", rd_metrics},
    };
    for (size_t i = 0; i < sizeof direct / sizeof *direct; i++) {
        char what[128];
        snprintf(what, sizeof what, "%s of a FIFO", direct[i].what);
        expect_refused(what, direct[i].fn, fifo, "afifo", "FIFO");
        if (direct[i].fn == rd_metrics) continue;  // a folder is a run folder there
        snprintf(what, sizeof what, "%s of a directory", direct[i].what);
        expect_refused(what, direct[i].fn, dir, "adir", "directory");
    }

    /* mnist:D with a FIFO as the label file and a directory as the image file. */
    const uint32_t dims[3] = {1, 28, 28};
    uint8_t pix[784] = {0};
    snprintf(p, sizeof p, "%s/mnist", root);
    tu_mkdir(p);
    tu_write_idx(tu_path(p, "train-images-idx3-ubyte"), 0, 0x803, dims, 3, pix, 784, 0);
    CHECK(mkfifo(tu_path(p, "train-labels-idx1-ubyte"), 0600) == 0, "mkfifo");
    snprintf(spec, sizeof spec, "mnist:%s", p);
    expect_refused("mnist: label file a FIFO", rd_spec, spec, "train-labels-idx1-ubyte", "FIFO");
    tu_mkdir(tu_path(p, "t10k-images-idx3-ubyte"));
    CHECK(mkfifo(tu_path(p, "t10k-labels-idx1-ubyte"), 0600) == 0, "mkfifo");

    /* mnistm:D (unpacked): the label file a FIFO; then a listed image a FIFO, a directory. */
    snprintf(p, sizeof p, "%s/mm", root);
    tu_mkdir(p);
    tu_mkdir(tu_path(p, "mnist_m_train"));
    CHECK(mkfifo(tu_path(p, "mnist_m_train_labels.txt"), 0600) == 0, "mkfifo");
    snprintf(spec, sizeof spec, "mnistm:%s", p);
    expect_refused("mnistm: label file a FIFO", rd_spec, spec, "mnist_m_train_labels.txt", "FIFO");
    unlink(tu_path(p, "mnist_m_train_labels.txt"));
    tu_write(tu_path(p, "mnist_m_train_labels.txt"), "a.png 1\nb.png 2\n", 16);
    uint8_t grey = 90;
    tu_png_solid(tu_path(p, "mnist_m_train/a.png"), 32, 32, 3, (uint8_t[3]){1, 2, 3});
    CHECK(mkfifo(tu_path(p, "mnist_m_train/b.png"), 0600) == 0, "mkfifo");
    expect_refused("mnistm: image a FIFO", rd_spec, spec, "b.png", "FIFO");
    unlink(tu_path(p, "mnist_m_train/b.png"));
    tu_mkdir(tu_path(p, "mnist_m_train/b.png"));
    expect_refused("mnistm: image a directory", rd_spec, spec, "b.png", "directory");

    /* mnistm:ARCHIVE where the archive is a FIFO. */
    snprintf(spec, sizeof spec, "mnistm:%s", fifo);
    expect_refused("mnistm: archive a FIFO", rd_spec, spec, "afifo", "FIFO");

    /* images:D and folder:D: a .png that is a FIFO, one that is a directory. */
    snprintf(p, sizeof p, "%s/imgs", root);
    tu_mkdir(p);
    tu_png_solid(tu_path(p, "a.png"), 8, 8, 1, &grey);
    CHECK(mkfifo(tu_path(p, "b.png"), 0600) == 0, "mkfifo");
    snprintf(spec, sizeof spec, "images:%s", p);
    expect_refused("images: a FIFO .png", rd_spec, spec, "b.png", "FIFO");
    unlink(tu_path(p, "b.png"));
    tu_mkdir(tu_path(p, "c.png"));
    expect_refused("images: a directory .png", rd_spec, spec, "c.png", "directory");
    snprintf(p, sizeof p, "%s/classes", root);
    tu_mkdir(p);
    tu_mkdir(tu_path(p, "k0"));
    tu_png_solid(tu_path(p, "k0/a.png"), 8, 8, 1, &grey);
    CHECK(mkfifo(tu_path(p, "k0/z.png"), 0600) == 0, "mkfifo");
    snprintf(spec, sizeof spec, "folder:%s", p);
    expect_refused("folder: a FIFO .png", rd_spec, spec, "z.png", "FIFO");
}

/* The command line: one line on stderr naming the path and its kind, exit status 1, nothing on
 * stdout, and no output file. */
TEST(inputs_directory_or_fifo_refused_by_the_commands) {
    if (!dann_bin()) SKIP("no build/dann");
    const char *root = test_tmpdir();
    char dir[600], fifo[600], out[700], model[700], run[700];
    snprintf(dir, sizeof dir, "%s/adir", root);
    snprintf(fifo, sizeof fifo, "%s/afifo", root);
    snprintf(out, sizeof out, "%s/out.ckpt", root);
    tu_mkdir(dir);
    CHECK(mkfifo(fifo, 0600) == 0, "mkfifo %s failed", fifo);

    run_result *r = run_prog("timeout", (const char *[]){"-s", "KILL", "20", dann_bin(), "import",
                                                         dir, "--out", out, NULL});
    CHECK_FAILS(r, 1, "adir", "directory", "dann import DIR");
    CHECK(!exists(out), "dann import DIR wrote %s", out);
    r = run_prog("timeout", (const char *[]){"-s", "KILL", "20", dann_bin(), "import", fifo,
                                             "--out", out, NULL});
    CHECK_FAILS(r, 1, "afifo", "FIFO", "dann import FIFO");

    r = run_prog("timeout", (const char *[]){"-s", "KILL", "20", dann_bin(), "eval", "--model",
                                             fifo, "--data", "images:.", NULL});
    CHECK_FAILS(r, 1, "afifo", "FIFO", "dann eval --model FIFO");

    /* predict: a real (weights-only) model, the image a FIFO. */
    dann_model *m;
    dann_error err;
    snprintf(model, sizeof model, "%s/m.ckpt", root);
    if (dann_model_new(&m, "in 1x4x4; features: fc(3); class: fc(2); domain: fc(2)", 1, 2, &err) ||
        ckpt_save(model, m, NULL, NULL, &err)) {
        CHECK(0, "model: %s", err.msg);
        return;
    }
    dann_model_free(m);
    r = run_prog("timeout", (const char *[]){"-s", "KILL", "20", dann_bin(), "predict", "--model",
                                             model, fifo, NULL});
    CHECK_FAILS(r, 1, "afifo", "FIFO", "dann predict FIFO");

    /* train --resume: run.json a FIFO. */
    snprintf(run, sizeof run, "%s/run", root);
    tu_mkdir(run);
    CHECK(mkfifo(tu_path(run, "run.json"), 0600) == 0, "mkfifo");
    char ckpt[800];
    snprintf(ckpt, sizeof ckpt, "%s/last.ckpt", run);
    /* a checkpoint that passes ckpt_peek, which --resume runs before reading run.json */
    size_t len;
    unsigned char *b = read_all(model, &len);
    CHECK(b && write_all(ckpt, b, len) == 0, "copy %s", model);
    free(b);
    r = run_prog("timeout", (const char *[]){"-s", "KILL", "20", dann_bin(), "train", "--resume",
                                             ckpt, NULL});
    CHECK_FAILS(r, 1, "run.json", "FIFO", "dann train --resume with run.json a FIFO");

    /* experiment --table-only: a run folder (a valid run.json) whose metrics.jsonl, then whose
     * summary.json, is a FIFO: the run is left out with one line naming it, nothing waits. */
    const char *names[] = {"metrics.jsonl", "summary.json"};
    char grid[800], rdir[850];
    snprintf(grid, sizeof grid, "%s/grid", root);
    snprintf(rdir, sizeof rdir, "%s/r1", grid);
    tu_mkdir(grid);
    tu_mkdir(rdir);
    static const char RUN_JSON[] = "{\"preset\": \"py3\", \"arch\": \"py3\", \"mode\": \"dann\", "
        "\"source\": \"mnist:/d/mnist\", \"target\": \"mnistm:/d/mnistm\", \"epochs\": 3, "
        "\"batch\": 64, \"seed\": 1, \"seed_lo\": 1, \"seed_hi\": 0, \"max_steps\": 0, "
        "\"eval_max\": 0, \"source_val\": 0}\n";
    tu_write(tu_path(rdir, "run.json"), RUN_JSON, sizeof RUN_JSON - 1);
    for (int k = 0; k < 2; k++) {
        CHECK(mkfifo(tu_path(rdir, names[k]), 0600) == 0, "mkfifo %s", names[k]);
        r = run_prog("timeout", (const char *[]){"-s", "KILL", "20", dann_bin(), "experiment",
                                                 "--table-only", "--out", grid, NULL});
        CHECK(r->rc == 1 && strstr(r->err, names[k]) && strstr(r->err, "FIFO"),
              "dann experiment --table-only with %s a FIFO: status %d, stderr '%s'", names[k],
              r->rc, r->err);
        unlink(tu_path(rdir, names[k]));
    }
}

/* dann experiment's run.json reader: the seed's halves are checked before they are cast to
 * integers (seed_lo 1e300 was undefined behaviour, found by fuzz/fuzz_json.c; a plain build
 * accepted it as some seed). Values just inside the range are read exactly. */
TEST(inputs_experiment_run_json_seed_checked) {
    const char *root = test_tmpdir();
    static const char *const BAD[] = {"1e300", "-1", "4294967296", "0.5", "-1e300"};
    static exp_result x;
    char msg[512], text[512];
    for (int k = 0; k < 6; k++) {
        snprintf(text, sizeof text, "{\"mode\": \"dann\", \"source\": \"a\", \"target\": \"b\", "
                 "\"epochs\": 1, \"seed_lo\": %s, \"seed_hi\": 1}\n", k < 5 ? BAD[k] : "4294967295");
        tu_write(tu_path(root, "run.json"), text, strlen(text));
        const int rc = exp_read_run(root, &x, msg, sizeof msg);
        if (k < 5)
            CHECK(rc == -1 && strstr(msg, "run.json") && strstr(msg, "seed"),
                  "seed_lo %s: status %d, message '%s'", BAD[k], rc, rc ? msg : "");
        else
            CHECK(rc == 0 && x.seed == 0x1ffffffffull, "seed 2^33-1: status %d, seed %llu", rc,
                  (unsigned long long)x.seed);
    }
}
