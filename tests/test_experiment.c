/* test_experiment.c - `dann experiment` (docs/EXPERIMENTS.md):
 *   - the grid: seed lists and ranges, pairs and their names, modes, the refused train options,
 *     the expansion's size, order (seeds outermost) and folder names, the dry run's commands;
 *   - the tables from planted run folders (run.json, summary.json, metrics.jsonl written here):
 *     means and sample standard deviations (n - 1) worked by hand, the rule columns, the oracle,
 *     the time, the paper's column, each rule's gap to the oracle, unfinished runs left out;
 *   - resume on tiny real runs (the embedded demo data): a second invocation starts nothing and
 *     touches no finished folder; interrupted runs are resumed to the bits of uninterrupted ones;
 *     a folder holding another run is refused and left as it was;
 *   - under mpirun (when present): 3 ranks share a grid, each run once, all ranks used, and the
 *     table equals the one-process table. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include "cli/exp.h"
#include "cli_testutil.h"
#include "io/checkpoint.h"
#include "test.h"

#define SRC "mnist:data/demo/mnist"
#define TGT "mnistm:data/demo"

/* ---- the grid ------------------------------------------------------------------------------- */

TEST(experiment_grid_parsing) {
    static exp_grid g;
    char msg[512];
    memset(&g, 0, sizeof g);
    CHECK(exp_parse_seeds(&g, "1-3,7,10-11", msg, sizeof msg) == 0, "seeds: %s", msg);
    const uint64_t want[] = {1, 2, 3, 7, 10, 11};
    CHECK(g.n_seeds == 6, "1-3,7,10-11 gave %d seeds", g.n_seeds);
    for (int k = 0; k < 6 && k < g.n_seeds; k++) CHECK(g.seeds[k] == want[k], "seed %d: %llu", k, (unsigned long long)g.seeds[k]);
    const char *bad[] = {"3-1", "1,1", "1-3,2", "x", "1,", "", "-3", "1-", NULL};
    for (int k = 0; bad[k]; k++) {
        memset(&g, 0, sizeof g);
        msg[0] = 0;
        CHECK(exp_parse_seeds(&g, bad[k], msg, sizeof msg) == -1 && strstr(msg, "--seeds"),
              "seeds '%s' accepted (%s)", bad[k], msg);
    }
    memset(&g, 0, sizeof g);
    CHECK(exp_parse_pairs(&g, "mnist:a>mnistm:b,mm=mnist:c>mnistm:d,mnist:e>mnistm:f", msg, sizeof msg) == 0,
          "pairs: %s", msg);
    CHECK(g.n_pairs == 3, "%d pairs", g.n_pairs);
    if (g.n_pairs == 3) {
        CHECK(!strcmp(g.pairs[0].name, "mnist-mnistm") && !strcmp(g.pairs[0].source, "mnist:a") &&
              !strcmp(g.pairs[0].target, "mnistm:b"), "pair 0: %s %s %s", g.pairs[0].name, g.pairs[0].source, g.pairs[0].target);
        CHECK(!strcmp(g.pairs[1].name, "mm") && !strcmp(g.pairs[1].source, "mnist:c"), "pair 1: %s %s",
              g.pairs[1].name, g.pairs[1].source);
        CHECK(!strcmp(g.pairs[2].name, "mnist-mnistm-2"), "pair 2 named %s", g.pairs[2].name);
    }
    const char *badp[] = {"mnist:a", "=mnist:a>mnistm:b", "mnist:a>", "x=mnist:a>mnistm:b,x=mnist:c>mnistm:d", NULL};
    for (int k = 0; badp[k]; k++) {
        memset(&g, 0, sizeof g);
        CHECK(exp_parse_pairs(&g, badp[k], msg, sizeof msg) == -1, "pairs '%s' accepted", badp[k]);
    }
    char modes[] = "source-only,dann,target-only", badm[] = "dann,adapt";
    memset(&g, 0, sizeof g);
    CHECK(exp_parse_modes(&g, modes, msg, sizeof msg) == 0 && g.n_modes == 3 && g.modes[0] == 1 &&
          g.modes[1] == 0 && g.modes[2] == 2, "modes: %d (%s)", g.n_modes, msg);
    memset(&g, 0, sizeof g);
    CHECK(exp_parse_modes(&g, badm, msg, sizeof msg) == -1 && strstr(msg, "adapt"), "mode 'adapt' accepted");
    const char *refused[] = {"--seed", "--out=x", "--mode", "--threads", "--resume", NULL};
    for (int k = 0; refused[k]; k++) {
        memset(&g, 0, sizeof g);
        g.extra[0] = "--epochs", g.extra[1] = "3", g.extra[2] = refused[k], g.n_extra = 3;
        CHECK(exp_check_extra(&g, msg, sizeof msg) == -1, "train option %s accepted after --", refused[k]);
    }
    memset(&g, 0, sizeof g);
    g.extra[0] = "--epochs", g.extra[1] = "3", g.extra[2] = "--seeds-file", g.n_extra = 2;
    CHECK(exp_check_extra(&g, msg, sizeof msg) == 0, "--epochs 3 refused: %s", msg);
}

TEST(experiment_grid_expansion) {
    static exp_grid g;
    char msg[512], p1[] = "py3,paper", m[] = "source-only,dann";
    memset(&g, 0, sizeof g);
    g.out = "/o";
    CHECK(!exp_parse_list(p1, g.presets, &g.n_presets, "--presets", msg, sizeof msg), "%s", msg);
    CHECK(!exp_parse_modes(&g, m, msg, sizeof msg), "%s", msg);
    CHECK(!exp_parse_seeds(&g, "1-3", msg, sizeof msg), "%s", msg);
    CHECK(!exp_parse_pairs(&g, "a=mnist:x>mnistm:y,b=mnist:z>mnistm:w", msg, sizeof msg), "%s", msg);
    g.archs[0] = "py3", g.archs[1] = "in 3x28x28; features: conv(8,5) relu; class: fc(10); domain: fc(2)";
    g.n_archs = 2;
    exp_run *r;
    int n;
    CHECK(!exp_expand(&g, &r, &n, msg, sizeof msg), "%s", msg);
    CHECK(n == 3 * 2 * 2 * 2 * 2, "%d runs, expected 48", n);
    if (n != 48) return;
    /* order: seed, pair, preset, arch, mode (mode fastest) */
    int k = 0, ok = 1;
    for (int s = 0; s < 3; s++)
        for (int p = 0; p < 2; p++)
            for (int q = 0; q < 2; q++)
                for (int a = 0; a < 2; a++)
                    for (int mm = 0; mm < 2; mm++, k++)
                        ok &= r[k].seed == (uint64_t)(s + 1) && r[k].pair == p && r[k].preset == q && r[k].arch == a &&
                              r[k].mode == g.modes[mm];
    CHECK(ok, "the runs are not in the order seeds, pairs, presets, archs, modes");
    CHECK(!strcmp(r[0].name, "a-py3-py3-source-only-s1"), "run 0 named %s", r[0].name);
    CHECK(!strcmp(r[3].name, "a-py3-arch2-dann-s1"), "run 3 named %s", r[3].name);
    CHECK(!strcmp(r[47].name, "b-paper-arch2-dann-s3") && !strcmp(r[47].dir, "/o/b-paper-arch2-dann-s3"),
          "run 47: %s %s", r[47].name, r[47].dir);
    char *argv[64], buf[8192];
    int argc = exp_train_argv(&g, &r[3], 0, 2, argv, 64, buf, sizeof buf);
    const char *want[] = {"train", "--preset", "py3", "--arch", g.archs[1], "--mode", "dann", "--seed", "1",
                          "--source", "mnist:x", "--target", "mnistm:y", "--out", "/o/a-py3-arch2-dann-s1",
                          "--threads", "2", "--progress", "lines", NULL};
    CHECK(argc == 19, "argc %d", argc);
    for (int i = 0; i < argc && want[i]; i++) CHECK(!strcmp(argv[i], want[i]), "argv[%d] '%s', expected '%s'", i, argv[i], want[i]);
    argc = exp_train_argv(&g, &r[3], 1, 0, argv, 64, buf, sizeof buf);
    CHECK(argc == 5 && !strcmp(argv[1], "--resume") && !strcmp(argv[2], "/o/a-py3-arch2-dann-s1/last.ckpt"),
          "resume argv: %d %s %s", argc, argv[1], argv[2]);
    free(r);
    /* one value per dimension: just mode and seed, the layout of a hand-made DIR/dann-s1 */
    memset(&g, 0, sizeof g);
    g.out = "o";
    g.presets[0] = "py3", g.n_presets = 1, g.modes[0] = 0, g.n_modes = 1;
    CHECK(!exp_parse_seeds(&g, "2,5", msg, sizeof msg) && !exp_parse_pairs(&g, "mnist:x>mnistm:y", msg, sizeof msg), "%s", msg);
    CHECK(!exp_expand(&g, &r, &n, msg, sizeof msg) && n == 2, "%s", msg);
    if (n == 2) CHECK(!strcmp(r[0].name, "dann-s2") && !strcmp(r[1].name, "dann-s5"), "names %s %s", r[0].name, r[1].name);
    free(r);
}

TEST(experiment_dry_run_lists_every_run) {
    if (!dann_bin()) SKIP("skipped: build/dann not built");
    char dir[512];
    snprintf(dir, sizeof dir, "%s", test_tmpdir());  // run_dann may reuse test_tmpdir's buffer
    const char *a[] = {"experiment", "--out", dir, "--modes", "dann,source-only,target-only", "--seeds", "1-3,9",
                       "--source", SRC, "--target", TGT, "--threads", "1", "--dry-run", "--", "--epochs", "1", NULL};
    run_result *r = run_dann(a);
    CHECK(r->rc == 0, "exit %d: %s", r->rc, r->err);
    int runs = 0;
    for (const char *p = r->out; (p = strstr(p, " --epochs 1 --threads 1 --progress lines\n")); p++) runs++;
    CHECK(runs == 12, "dry run listed %d commands, expected 3 modes x 4 seeds = 12:\n%s", runs, r->out);
    const char *names[] = {"dann-s1:", "target-only-s3:", "source-only-s9:", " --seed 9 ", NULL};
    for (int k = 0; names[k]; k++) CHECK(strstr(r->out, names[k]), "dry run lacks '%s'", names[k]);
    CHECK(!exists(pathf(dir, "dann-s1")), "the dry run created a run folder");
    const char *b[] = {"experiment", "--out", dir, "--source", SRC, "--target", TGT, "--", "--seed", "4", NULL};
    r = run_dann(b);
    CHECK_FAILS(r, 2, "--seed", "--seeds", "--seed after --");
    char *file = strdup(pathf(dir, "a-file"));
    write_bytes(file, "x", 1);
    const char *c[] = {"experiment", "--out", file, "--source", SRC, "--target", TGT, NULL};
    r = run_dann(c);
    CHECK_FAILS(r, 1, file, "not a folder", "--out naming a file");
    const char *d[] = {"experiment", "--out", dir, "--seeds", "3-1", "--source", SRC, "--target", TGT, NULL};
    r = run_dann(d);
    CHECK_FAILS(r, 2, "--seeds", "3-1", "an empty seed range");
    const char *e[] = {"experiment", "--table-only", "--out", file, NULL};
    r = run_dann(e);
    CHECK_FAILS(r, 1, file, "not a folder", "--table-only on a file");
    free(file);
}

/* ---- the tables from planted folders ------------------------------------------------------- */

static void put(const char *dir, const char *name, const char *text) {
    mkdir(dir, 0755);
    CHECK(write_bytes(pathf(dir, name), text, strlen(text)), "cannot write %s/%s", dir, name);
}

/* A run folder: run.json of (source, target, mode, seed, epochs), metrics lines of `secs`
 * seconds each (split over the four time keys), and a summary (NULL: unfinished). */
static void plant(const char *root, const char *name, const char *source, const char *target,
                  const char *mode, int seed, const char *arch, int epochs_done, const char *summary) {
    char dir[1024], buf[8192];
    snprintf(dir, sizeof dir, "%s/%s", root, name);
    char *slash = strrchr(dir, '/');
    *slash = 0;
    mkdir(dir, 0755);  // "other/dann-s1": a run two levels down
    *slash = '/';
    snprintf(buf, sizeof buf,
             "{\"preset\": \"paper\", \"arch\": \"%s\", \"mode\": \"%s\", \"source\": \"%s\", \"target\": \"%s\", "
             "\"epochs\": 3, \"batch\": 64, \"seed\": %d, \"seed_lo\": %d, \"seed_hi\": 0, \"max_steps\": 0, "
             "\"eval_max\": 0, \"source_val\": 2000, \"lr\": 0.01, \"lambda\": null, \"select\": \"val,ent\", "
             "\"average\": \"ema\"}\n", arch, mode, source, target, seed, seed);
    put(dir, "run.json", buf);
    size_t n = 0;
    for (int e = 1; e <= epochs_done; e++)
        n += (size_t)snprintf(buf + n, sizeof buf - n,
                              "{\"epoch\": %d, \"target_test_acc\": 0.5, \"seconds\": %d, \"eval_seconds\": 2, "
                              "\"select_seconds\": 3, \"avg_seconds\": 1}\n", e, 10 * seed);
    put(dir, "metrics.jsonl", buf);
    if (summary) put(dir, "summary.json", summary);
}

static char *summary(double last, double src, double oracle, double val, double ent, double avg) {
    static char b[4][1024];
    static int k;
    char *s = b[k++ % 4];
    snprintf(s, 1024,
             "{\"final_target_test_acc\": %g, \"final_source_test_acc\": %g, \"oracle_best_epoch\": 2, "
             "\"oracle_best_target_test_acc\": %g, \"select_val_target_test_acc\": %g, "
             "\"select_ent_target_test_acc\": %g, \"avg_final_target_test_acc\": %g}\n",
             last, src, oracle, val, ent, avg);
    return s;
}

/* The CSV field `col` of the first row whose field `key_col` is key_val, or NULL. */
static const char *csv_get(const char *csv, const char *key_col, const char *key_val, const char *col) {
    static char out[256];
    char head[4096];
    const char *nl = strchr(csv, '\n');
    if (!nl || (size_t)(nl - csv) >= sizeof head) return NULL;
    memcpy(head, csv, (size_t)(nl - csv));
    head[nl - csv] = 0;
    int kc = -1, cc = -1, i = 0;
    for (char *save = NULL, *t = strtok_r(head, ",", &save); t; t = strtok_r(NULL, ",", &save), i++) {
        if (!strcmp(t, key_col)) kc = i;
        if (!strcmp(t, col)) cc = i;
    }
    if (kc < 0 || cc < 0) return NULL;
    for (const char *row = nl + 1; *row; row = strchr(row, '\n') ? strchr(row, '\n') + 1 : row + strlen(row)) {
        char f[64][256];
        int nf = 0, q = 0;
        size_t len = 0;
        const char *c = row;
        for (; *c && *c != '\n' && nf < 64; c++) {
            if (q && *c == '"' && c[1] == '"') f[nf][len < 255 ? len++ : len] = '"', c++;
            else if (*c == '"') q = !q;
            else if (*c == ',' && !q) f[nf][len] = 0, nf++, len = 0;
            else if (len < 255) f[nf][len++] = *c;
        }
        if (nf < 64) f[nf][len] = 0, nf++;
        if (kc < nf && cc < nf && !strcmp(f[kc], key_val)) {
            snprintf(out, sizeof out, "%s", f[cc]);
            return out;
        }
    }
    return NULL;
}

static double csv_num(const char *csv, const char *key_col, const char *key_val, const char *col) {
    const char *v = csv_get(csv, key_col, key_val, col);
    return v && *v ? atof(v) : NAN;
}

#define NEAR(a, b) (fabs((a) - (b)) < 1e-6)

TEST(experiment_table_from_planted_runs) {
    if (!dann_bin()) SKIP("skipped: build/dann not built");
    char root[512];
    snprintf(root, sizeof root, "%s", test_tmpdir());  // run_dann may reuse test_tmpdir's buffer
    char arch[4096];
    dann_error err;
    CHECK(!dann_net_adapt(arch, sizeof arch, "paper-mnist", 3, 28, 28, 10, &err), "%s", err.msg);
    const char *S = "mnist:/d/mnist", *T = "mnistm:/d";
    /* DANN, seeds 1-3 (last, source, oracle, val, ent, avg) */
    plant(root, "dann-s1", S, T, "dann", 1, arch, 3, summary(0.70, 0.98, 0.82, 0.81, 0.70, 0.71));
    plant(root, "dann-s2", S, T, "dann", 2, arch, 3, summary(0.80, 0.97, 0.85, 0.80, 0.85, 0.79));
    plant(root, "dann-s3", S, T, "dann", 3, arch, 3, summary(0.75, 0.99, 0.80, 0.80, 0.78, 0.77));
    /* source-only: two finished seeds and an unfinished third */
    plant(root, "source-only-s1", S, T, "source-only", 1, arch, 3, summary(0.50, 0.99, 0.55, 0.52, 0.55, 0.50));
    plant(root, "source-only-s2", S, T, "source-only", 2, arch, 3, summary(0.54, 0.99, 0.56, 0.56, 0.50, 0.54));
    plant(root, "source-only-s3", S, T, "source-only", 3, arch, 1, NULL);
    /* another pair, one run: no paper number */
    plant(root, "other/dann-s1", "folder:/a", "folder:/b", "dann", 1, arch, 3, summary(0.6, 0.9, 0.6, 0.6, 0.6, 0.6));
    /* the DANN cell's settings with another gamma (a key older run.json files lack): its own cell */
    plant(root, "gamma5/dann-s4", S, T, "dann", 4, arch, 3, summary(0.1, 0.9, 0.1, 0.1, 0.1, 0.1));
    {
        char p[1024];
        snprintf(p, sizeof p, "%s/gamma5/dann-s4/run.json", root);
        unsigned char *rj;
        char text[8192];
        file_bytes(p, &rj);
        char *end = rj ? strrchr((char *)rj, '}') : NULL;
        CHECK(end, "planted run.json");
        if (end) {
            *end = 0;
            snprintf(text, sizeof text, "%s, \"gamma\": 5}\n", (char *)rj);
            write_bytes(p, text, strlen(text));
        }
        free(rj);
    }
    const char *a[] = {"experiment", "--table-only", "--out", root, NULL};
    run_result *r = run_dann(a);
    CHECK(r->rc == 0, "exit %d: %s", r->rc, r->err);
    CHECK(strstr(r->out, "| *oracle* (ref.) |") && strstr(r->out, "JMLR 2016") &&
          strstr(r->out, "source-only-s3`, 1 of 3 epochs"), "the Markdown lacks the oracle/paper columns or "
          "the unfinished run:\n%s", r->out);
    unsigned char *csv;
    CHECK(file_bytes(pathf(root, "results.csv"), &csv) > 0, "no results.csv");
    if (!csv) return;
    const char *c = (const char *)csv;
    /* DANN last: (0.70 + 0.80 + 0.75)/3 = 0.75; deviations -0.05, 0.05, 0: sum of squares 0.005,
     * / (3 - 1) = 0.0025, std 0.05 (with n: sqrt(0.005/3) = 0.0408) */
    CHECK(NEAR(csv_num(c, "mode", "dann", "last_mean"), 0.75), "dann last mean %s", csv_get(c, "mode", "dann", "last_mean"));
    CHECK(NEAR(csv_num(c, "mode", "dann", "last_std"), 0.05), "dann last std %s (expected 0.05: n - 1)",
          csv_get(c, "mode", "dann", "last_std"));
    CHECK(!strcmp(csv_get(c, "mode", "dann", "n") ?: "", "3"), "dann n %s", csv_get(c, "mode", "dann", "n"));
    /* val: 0.81, 0.80, 0.80 -> mean 0.803333, std sqrt((0.00667^2 + 2*0.00333^2)/2) = 0.0057735 */
    CHECK(NEAR(csv_num(c, "mode", "dann", "val_mean"), 2.41 / 3), "val mean %s", csv_get(c, "mode", "dann", "val_mean"));
    CHECK(fabs(csv_num(c, "mode", "dann", "val_std") - 0.0057735) < 2e-6, "val std %s", csv_get(c, "mode", "dann", "val_std"));
    /* ent: 0.70, 0.85, 0.78 -> 0.776667; std: devs -0.076667, 0.073333, 0.003333: ss 0.011267, /2 -> 0.0750555 */
    CHECK(fabs(csv_num(c, "mode", "dann", "ent_std") - 0.0750555) < 2e-6, "ent std %s", csv_get(c, "mode", "dann", "ent_std"));
    CHECK(isnan(csv_num(c, "mode", "dann", "rev_mean")), "a rev column without rev picks");
    /* oracle 0.82, 0.85, 0.80 -> 0.823333; avg 0.71, 0.79, 0.77 -> 0.756667; source -> 0.98 */
    CHECK(NEAR(csv_num(c, "mode", "dann", "oracle_mean"), 2.47 / 3), "oracle mean");
    CHECK(NEAR(csv_num(c, "mode", "dann", "avg_mean"), 2.27 / 3), "avg mean");
    CHECK(NEAR(csv_num(c, "mode", "dann", "source_mean"), 0.98) && NEAR(csv_num(c, "mode", "dann", "source_std"), 0.01),
          "source mean/std %s %s", csv_get(c, "mode", "dann", "source_mean"), csv_get(c, "mode", "dann", "source_std"));
    /* time: 3 epochs x (10 s + 2 + 3 + 1) for seed 1 = 48 s; seed 2: 3 x 26 = 78; seed 3: 108 -> 78 +- 30 */
    CHECK(NEAR(csv_num(c, "mode", "dann", "wall_s_mean"), 78) && NEAR(csv_num(c, "mode", "dann", "wall_s_std"), 30),
          "wall %s +- %s", csv_get(c, "mode", "dann", "wall_s_mean"), csv_get(c, "mode", "dann", "wall_s_std"));
    /* gaps in points: last 12, 5, 5 -> 7.3333, within 1: 0; val 1, 5, 0 -> 2, within 1: 2 (seed 1's 0.82 -
     * 0.81 counts as 1 point); ent 12, 0, 2 -> 4.6667, within 1: 1 */
    CHECK(NEAR(csv_num(c, "mode", "dann", "gap_last"), 22.0 / 3) && !strcmp(csv_get(c, "mode", "dann", "within1_last") ?: "", "0"),
          "gap last %s / %s", csv_get(c, "mode", "dann", "gap_last"), csv_get(c, "mode", "dann", "within1_last"));
    CHECK(fabs(csv_num(c, "mode", "dann", "gap_val") - 2.0) < 1e-4 && !strcmp(csv_get(c, "mode", "dann", "within1_val") ?: "", "2"),
          "gap val %s / %s", csv_get(c, "mode", "dann", "gap_val"), csv_get(c, "mode", "dann", "within1_val"));
    CHECK(fabs(csv_num(c, "mode", "dann", "gap_ent") - 14.0 / 3) < 1e-4 && !strcmp(csv_get(c, "mode", "dann", "within1_ent") ?: "", "1"),
          "gap ent %s / %s", csv_get(c, "mode", "dann", "gap_ent"), csv_get(c, "mode", "dann", "within1_ent"));
    /* the paper's column: Table 2's MNIST -> MNIST-M row for each mode; none for other pairs */
    CHECK(NEAR(csv_num(c, "mode", "dann", "paper"), 0.7666) && NEAR(csv_num(c, "mode", "source-only", "paper"), 0.5225),
          "paper column %s %s", csv_get(c, "mode", "dann", "paper"), csv_get(c, "mode", "source-only", "paper"));
    CHECK(isnan(csv_num(c, "pair", "folder -> folder", "paper")) &&
          NEAR(csv_num(c, "pair", "folder -> folder", "last_mean"), 0.6), "the folder pair's row: paper %s last %s",
          csv_get(c, "pair", "folder -> folder", "paper"), csv_get(c, "pair", "folder -> folder", "last_mean"));
    /* source-only: the unfinished seed is left out: (0.50 + 0.54)/2 = 0.52 +- 0.028284 */
    CHECK(!strcmp(csv_get(c, "mode", "source-only", "n") ?: "", "2") && !strcmp(csv_get(c, "mode", "source-only", "n_runs") ?: "", "3"),
          "source-only n %s of %s", csv_get(c, "mode", "source-only", "n"), csv_get(c, "mode", "source-only", "n_runs"));
    CHECK(NEAR(csv_num(c, "mode", "source-only", "last_mean"), 0.52) &&
          fabs(csv_num(c, "mode", "source-only", "last_std") - 0.0282843) < 2e-6, "source-only last %s +- %s",
          csv_get(c, "mode", "source-only", "last_mean"), csv_get(c, "mode", "source-only", "last_std"));
    CHECK(!strcmp(csv_get(c, "mode", "dann", "net") ?: "", "paper-mnist"), "net %s", csv_get(c, "mode", "dann", "net"));
    int rows = 0;
    for (const char *p = c; *p; p++) rows += *p == '\n';
    CHECK(rows == 1 + 4, "results.csv has %d lines, expected a header and 4 cells (dann, source-only, the "
          "folder pair, dann with gamma 5)", rows);
    CHECK(strstr(r->out, "gamma 5"), "the Markdown does not show the gamma that sets a cell apart");
    free(csv);
    unsigned char *runs;
    CHECK(file_bytes(pathf(root, "runs.csv"), &runs) > 0, "no runs.csv");
    if (runs) {
        int lines = 0;
        for (const char *p = (const char *)runs; *p; p++) lines += *p == '\n';
        CHECK(lines == 1 + 8, "runs.csv has %d lines, expected a header and 8 runs", lines);
        free(runs);
    }
    CHECK(exp_paper_number("mnist:x", "mnistm:y", "target-only") == 0.9596 &&
          isnan(exp_paper_number("mnistm:y", "mnist:x", "dann")), "paper numbers");
}
