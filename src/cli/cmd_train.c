/* cmd_train.c - `dann train`: options, data loading, the run folder and signals around the
 * epoch loop of trainloop.c.
 *
 * The run folder (--out) receives run.json (the run's settings, written once, atomically:
 * runjson.c, which also checks the folder before the data loads), metrics.jsonl, last.ckpt,
 * best.ckpt and summary.json (see trainloop.h). A fresh run refuses a folder that already
 * holds a run. `--resume RUN/last.ckpt` peeks at the checkpoint, reads RUN/run.json for every
 * setting not given again, insists that those fixing the step sequence (epochs, batch, seed,
 * max-steps, source-val, threads) are unchanged, and continues in RUN (trainloop.c checks the
 * checkpoint's every field against the run before using it, trainguard.c). SIGINT/SIGTERM set
 * a flag: the loop finishes its step, saves last.ckpt and we exit 130 with the command that
 * resumes; a second signal kills at once (checkpoints are atomic, so nothing is left
 * half-written). A failed write to stdout exits 1. */
#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "cli/args.h"
#include "cli/average.h"
#include "cli/cli.h"
#include "cli/domains.h"
#include "cli/extutil.h"
#include "cli/json.h"
#include "cli/mpi.h"
#include "cli/progress.h"
#include "cli/recipe.h"
#include "cli/runjson.h"
#include "cli/select.h"
#include "cli/tee.h"
#include "cli/trainguard.h"
#include "cli/trainloop.h"
#include "cli/vecfit.h"
#include "io/checkpoint.h"
#include "layers/layers.h"

#define CMD "train"

static void usage(FILE *f) {
    fprintf(f,
"usage: dann train --source SPEC --target SPEC --out RUN_DIR [options]\n"
"       dann train --resume RUN_DIR/last.ckpt [options]\n"
"\n"
"Trains a network (default py3, the network of fungtion/DANN_py3) with domain-adversarial\n"
"training or a baseline.\n"
"SPEC is mnist:DIR, mnistm:PATH (folder or mnist_m.tar.gz), folder:DIR (labelled class\n"
"sub-folders of PNG/JPEG images, any size), images:DIR (unlabelled), or, for a vector\n"
"network, csv:FILE[,label=NAME|...] or svmlight:FILE[,base=0] (docs/VECTORS.md).\n"
"\n"
"  --arch NET             network: a preset (py3, paper-mnist, paper-svhn, paper-gtsrb,\n"
"                         shallow) or a description (docs/NETWORKS.md); default py3. A\n"
"                         preset's class head takes the number of classes of the data\n"
"  --input CxHxW          a preset's input size (images are resized to it); default the\n"
"                         preset's own (py3 3x28x28). For a vector preset --input D: the\n"
"                         feature dimension (default: the highest index in the data)\n"
"  --preset py3|paper|shallow   the recipe (docs/RECIPES.md; default py3: Adam 1e-3, 100\n"
"                         epochs, batch 128; paper: JMLR 5.2.2, SGD 0.9 with the mu_p and\n"
"                         lambda_p schedules, batch 64, paper-mnist, mean subtraction;\n"
"                         shallow: JMLR Algorithm 1, plain SGD, batch 1, constant lambda,\n"
"                         early stopping on 10%% of the source)\n"
"  --mode dann|source-only|target-only   (default dann)\n"
"  --source SPEC          labelled source training data\n"
"  --target SPEC          target training data (labels used only by target-only; not\n"
"                         needed by source-only)\n"
"  --source-test SPEC     default: the test split of --source (mnist:/mnistm: only);\n"
"                         split:F holds out a seeded fraction F of the training set\n"
"  --target-test SPEC     default: the test split of --target (mnist:/mnistm: only), or\n"
"                         split:F. Test classes are matched to the training classes by name\n"
"  --source-norm N        the domain's normalisation: ref (the data kind's constants: MNIST\n"
"  --target-norm N        0.1307/0.3081, others 0.5/0.5; default), auto (the training set's\n"
"                         own mean/std), mean (its mean subtracted; --preset paper's\n"
"                         default) or MEAN/STD (one value or three each: 0.5,0.4,0.3/0.2,0.2,0.2)\n"
"  --epochs N             default 100\n"
"  --batch N              images per domain per step (default 128)\n"
"  --lr X                 override the preset's learning rate\n"
"  --seed S               initialisation, dropout and shuffling (default 1)\n"
"  --threads T            kernel threads (default: all CPUs; --resume: the run's)\n"
"  --out RUN_DIR          run folder (created; an existing run is never overwritten)\n"
"  --source-val N         hold out N source training images; best.ckpt = best accuracy there\n"
"  --patience K           stop when the source-val accuracy has not improved for K epochs\n"
"  --lambda X             a constant lambda X instead of the lambda_p ramp\n"
"  --lambda-max X         the ramp's ceiling: lambda = X (2/(1+exp(-gamma p)) - 1) (default 1)\n"
"  --gamma G              the ramp's steepness (default 10)\n"
"  --iters-per-epoch N    N steps an epoch, each domain cycling through its own seeded\n"
"                         shuffles (TLlib's convention; default: min(source, target) batches)\n"
"  --select RULES         label-free model selection, each rule writing best-RULE.ckpt:\n"
"                         val, rev[:STEPS], dev, ent, snd or all (docs/SELECTION.md)\n"
"  --select-n N           size of the selection sets (default 2000)\n"
"  --average ema[:DECAY]|swa[:FROM_EPOCH]   a weight average, evaluated each epoch, avg.ckpt\n"
"  --resume CKPT          continue an interrupted run exactly (RUN_DIR/last.ckpt)\n"
"  --max-steps K          cap steps per epoch (the schedules use the capped length)\n"
"  --chunk C              compute every batch in chunks of C examples (data-parallel runs:\n"
"                         mpirun -np N dann train ... gives the bits of --chunk C in one\n"
"                         process; default 16 under mpirun, else 0 = whole batches)\n"
"  --eval-max N           evaluate on N test images only: the first N of mnist:/mnistm:, a\n"
"                         seeded sample across the classes of a folder\n"
"  --progress auto|bar|lines|off   (default auto: a bar on a terminal, lines otherwise)\n"
"  --quiet                no progress and no per-epoch lines\n"
"\n"
"Writes RUN_DIR/metrics.jsonl (one line per epoch), last.ckpt, best.ckpt, summary.json and\n"
"train.log (what the terminal shows, without the progress bar).\n"
"Ctrl-C stops after the current step and saves last.ckpt for --resume (exit status 130).\n");
}

static const char *const PROGRESS[] = {"auto", "bar", "lines", "off", NULL};

/* "Not given" for every option (0 or NULL, -1 where 0 is a value). */
static void train_defaults(train_args *a) {
    memset(a, 0, sizeof *a);
    a->mode = -1;
    a->source_val = a->max_steps = a->eval_max = a->chunk = a->patience = a->iters_per_epoch = -1;
}

static int parse(train_args *a, int argc, char **argv) {
    args_parser ap;
    args_init(&ap, CMD, argc, argv);
    while (args_next(&ap)) {
        if (args_is(&ap, "--help") || args_is(&ap, "-h")) {
            usage(stdout);
            return 0;
        } else if (args_is(&ap, "--preset")) args_str(&ap, &a->preset);
        else if (args_is(&ap, "--arch")) args_str(&ap, &a->arch);
        else if (args_is(&ap, "--input")) args_str(&ap, &a->input);
        else if (args_is(&ap, "--mode")) args_choice(&ap, TRAIN_MODES, &a->mode);
        else if (args_is(&ap, "--source")) args_str(&ap, &a->source);
        else if (args_is(&ap, "--target")) args_str(&ap, &a->target);
        else if (args_is(&ap, "--source-test")) args_str(&ap, &a->source_test);
        else if (args_is(&ap, "--target-test")) args_str(&ap, &a->target_test);
        else if (args_is(&ap, "--epochs")) args_int(&ap, 1, 1000000, &a->epochs);
        else if (args_is(&ap, "--batch")) args_int(&ap, 1, 65536, &a->batch);
        else if (args_is(&ap, "--lr")) a->has_lr = !args_double(&ap, 1e-12, 1e3, &a->lr);
        else if (args_is(&ap, "--seed")) a->has_seed = !args_u64(&ap, &a->seed);
        else if (args_is(&ap, "--threads")) args_int(&ap, 1, 1024, &a->threads);
        else if (args_is(&ap, "--out")) args_str(&ap, &a->out);
        else if (args_is(&ap, "--source-val")) args_int(&ap, 0, 100000000, &a->source_val);
        else if (args_is(&ap, "--patience")) args_int(&ap, 0, 1000000, &a->patience);
        else if (args_is(&ap, "--lambda")) a->has_lambda = !args_double(&ap, 0, 1e6, &a->lambda);
        else if (args_is(&ap, "--lambda-max"))
            a->has_lambda_max = !args_double(&ap, 0, 1e6, &a->lambda_max);
        else if (args_is(&ap, "--gamma")) a->has_gamma = !args_double(&ap, 1e-6, 1e6, &a->gamma);
        else if (args_is(&ap, "--iters-per-epoch"))
            args_int(&ap, 1, 100000000, &a->iters_per_epoch);
        else if (args_is(&ap, "--source-norm")) args_str(&ap, &a->source_norm);
        else if (args_is(&ap, "--target-norm")) args_str(&ap, &a->target_norm);
        else if (args_is(&ap, "--select")) args_str(&ap, &a->select);
        else if (args_is(&ap, "--select-n")) args_int(&ap, 5, 1000000, &a->select_n);
        else if (args_is(&ap, "--average")) args_str(&ap, &a->average);
        else if (args_is(&ap, "--resume")) args_str(&ap, &a->resume);
        else if (args_is(&ap, "--max-steps")) args_int(&ap, 0, 100000000, &a->max_steps);
        else if (args_is(&ap, "--chunk")) args_int(&ap, 0, 65536, &a->chunk);
        else if (args_is(&ap, "--eval-max")) args_int(&ap, 0, 100000000, &a->eval_max);
        else if (args_is(&ap, "--progress")) args_choice(&ap, PROGRESS, &a->progress);
        else if (args_is(&ap, "--quiet")) args_flag(&ap, &a->quiet);
        else args_unknown(&ap);
    }
    return ap.failed ? 2 : -1;  /* -1: go on */
}

/* ---- helpers ------------------------------------------------------------------------------- */

/* The test split is implied only for mnist: and mnistm: specs. */
static const char *default_test(const char *spec) {
    return !strncmp(spec, "mnist:", 6) || !strncmp(spec, "mnistm:", 7) ? spec : NULL;
}

/* All CPUs, shared among the processes an MPI launcher put on this node. */
static int online_cpus(void) {
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    const char *local = getenv("OMPI_COMM_WORLD_LOCAL_SIZE");
    if (local && atoi(local) > 1) n /= atoi(local);
    return n < 1 ? 1 : n > 1024 ? 1024 : (int)n;
}

static double load_seconds[4];  /* source, source-test, target, target-test */

/* The sets of both domains (domains.c), normalised by their choice; on --resume by the
 * normalisation the checkpoint holds (kv). The target is absent when a->target is NULL. */
static int load_data(const train_args *a, int C, int H, int W, const char *src_test,
                     const char *tgt_test, const norm_choice *ns, const norm_choice *nt,
                     const char *kv, dataset *src, dataset *src_t, dataset *tgt, dataset *tgt_t,
                     dann_error *err) {
    const char *role[2] = {"source", "target"}, *spec[2] = {a->source, a->target};
    const char *test[2] = {src_test, tgt_test};
    const norm_choice *choice[2] = {ns, nt};
    dataset *tr[2] = {src, tgt}, *te[2] = {src_t, tgt_t};
    for (int k = 0; k < 2; k++) {
        if (!spec[k]) continue;
        domain_sets d;
        const double t0 = progress_now();
        if (domain_load(&d, role[k], spec[k], test[k], C, H, W, a->seed, a->eval_max, err)) {
            domain_free(&d);
            return args_fail(CMD, err);
        }
        load_seconds[2 * k] = load_seconds[2 * k + 1] = progress_now() - t0;
        norm_choice stored;
        const norm_choice *nc = choice[k];
        if (kv && domain_kv_norm(kv, role[k], stored.mean, stored.std)) {
            stored.kind = NORM_GIVEN;
            nc = &stored;
        }
        norm_apply(nc, &d.train, d.has_test ? &d.test : NULL);
        *tr[k] = d.train;
        *te[k] = d.test;
    }
    return 0;
}

static void print_summary(const trainloop_result *r, const char *out) {
    char t[32];
    progress_fmt_time(t, sizeof t, r->train_seconds + r->eval_seconds);
    printf("done: %d epochs of %d steps (this session %s)\n", r->epochs_done, r->steps_per_epoch, t);
    printf("final: source test %s", r->src_acc >= 0 ? "" : "-");
    if (r->src_acc >= 0) printf("%.4f", r->src_acc);
    printf("  target test %s", r->tgt_acc >= 0 ? "" : "-");
    if (r->tgt_acc >= 0) printf("%.4f", r->tgt_acc);
    printf("\n");
    if (r->stopped_early) printf("stopped early after epoch %d (patience)\n", r->stopped_early);
    if (r->best_epoch) {
        printf("selected by source-val: epoch %d (val %.4f", r->best_epoch, r->best_val_acc);
        if (r->best_tgt_acc >= 0) printf(", target test %.4f", r->best_tgt_acc);
        printf(")%s%s\n", out ? " -> " : "", out ? "best.ckpt" : "");
    } else {
        printf("selected: the last epoch (no --source-val)\n");
    }
    if (r->oracle_epoch)
        printf("oracle (picked with TARGET test labels; reference only, not a valid selection): "
               "target test %.4f @ epoch %d\n", r->oracle_tgt_acc, r->oracle_epoch);
    if (out) printf("run folder: %s (metrics.jsonl, last.ckpt, summary.json)\n", out);
}

static void die_hook(void *ctx, dann_model *m, int epoch, int step, const int32_t *si, int bs,
                     const int32_t *ti, int bt) {
    (void)m, (void)epoch, (void)step, (void)si, (void)bs, (void)ti, (void)bt;
    int *at = ctx;
    if (--at[1] <= 0) raise(SIGKILL);
}

/* The OR of every process's stop request (trainloop_opts.agree); -1 when they do not answer. */
static int agree_stop(int flag) {
    int any = 0;
    if (mpi_any(flag, &any)) {
        fprintf(stderr, "dann %s: %s\n", CMD, mpi_error());
        return -1;
    }
    return any;
}

/* The selection rules' choices and the average's last evaluation. */
static void print_ext(const select_state *sel, const avg_state *avg, int epochs) {
    for (int k = 0; sel && k < SEL_N; k++) {
        int ep;
        double sc, sa, ta;
        select_choice(sel, k, &ep, &sc, &sa, &ta);
        if (!ep) continue;
        printf("selected by %s: epoch %d (score %.6g", select_rule_name(k), ep, sc);
        if (ta >= 0) printf(", target test %.4f", ta);
        printf(") -> best-%s.ckpt\n", select_rule_name(k));
    }
    if (avg && avg_model(avg)) {
        double s_, t_, v_;
        avg_last(avg, &s_, &t_, &v_);
        printf("weight average: source test %.4f  target test %.4f -> avg.ckpt\n", s_, t_);
    }
    (void)epochs;
}

/* ---- the command --------------------------------------------------------------------------- */

int cmd_train(int argc, char **argv) {
    train_args a;
    train_defaults(&a);
    int rc = parse(&a, argc, argv);
    if (rc >= 0) return rc;

    /* The run folder; on --resume, the checkpoint's folder and its run.json. */
    char out_buf[SPEC_LEN];
    static run_info ri;
    static ckpt_info info;
    dann_error err = {0};
    if (a.resume) {
        snprintf(out_buf, sizeof out_buf, "%s", a.resume);
        char *slash = strrchr(out_buf, '/');
        if (slash) *slash = 0;
        else snprintf(out_buf, sizeof out_buf, ".");
        if (a.out) {
            struct stat s1, s2;
            if (stat(a.out, &s1) != 0 || stat(out_buf, &s2) != 0 || s1.st_ino != s2.st_ino ||
                s1.st_dev != s2.st_dev)
                return args_usage(CMD, "--out %s is not the folder of --resume %s (a resumed run "
                                  "continues in its own folder)", a.out, a.resume);
        }
        a.out = out_buf;
        struct stat sb;
        if (stat(a.resume, &sb) != 0)
            return fprintf(stderr, "dann %s: %s: cannot open: %s\n", CMD, a.resume, strerror(errno)), 1;
        if (S_ISDIR(sb.st_mode))
            return fprintf(stderr, "dann %s: %s: is a folder; --resume takes the checkpoint (e.g. "
                           "%s/last.ckpt)\n", CMD, a.resume, a.resume), 1;
        /* the checkpoint's header and text first: nothing below trusts a file not checked */
        if (ckpt_peek(a.resume, &info, &err)) return args_fail(CMD, &err);
        if (train_read_run_json(a.out, &ri)) return 1;
        if ((rc = train_merge_resume(&a, &ri))) return rc;
        /* the thread count the run trained with, from the checkpoint, else from run.json (older
         * runs: none). Only the blas kernels give other bits at another count (docs/KERNELS.md):
         * with them a resume keeps the count; with any other set --threads may change it. */
        long long stored = 0;
        if (guard_kv_int(info.meta.kv, "threads", 1, 1024, &stored) < 0)
            return fprintf(stderr, "dann %s: %s: key threads is not a thread count in [1, 1024]\n",
                           CMD, a.resume), 1;
        if (!stored) stored = (long long)ri.threads;
        if (stored && a.threads && a.threads != stored && kernels_use(-1) == KERNELS_BLAS)
            return args_usage(CMD, "--threads %d differs from the run being resumed (%lld): with "
                              "the blas kernels a resumed run keeps its thread count, so that it "
                              "ends with the bits of an uninterrupted run", a.threads, stored);
        if (stored && !a.threads) a.threads = (int)stored;
    }
    if (!a.preset) a.preset = "py3";
    const recipe *rcp = recipe_find(a.preset);
    if (!rcp) return args_usage(CMD, "--preset %s: unknown preset (%s)", a.preset, recipe_names());
    if (a.epochs == 0) a.epochs = rcp->epochs;
    if (a.batch == 0) a.batch = rcp->batch;
    const int val_pct = a.source_val < 0 ? rcp->source_val_pct : 0;  /* resolved once loaded */
    if (a.source_val < 0) a.source_val = 0;
    if (a.max_steps < 0) a.max_steps = 0;
    /* Data-parallel over MPI processes (docs/SCALING.md): rank 0 prints and writes; the batch is
     * cut into chunks (default 16 examples), and the result equals `dann train --chunk C` in one
     * process, bit for bit. */
    const int rank = mpi_rank(), ranks = mpi_size();
    if (a.chunk < 0) a.chunk = ranks > 1 ? 16 : 0;
    if (ranks > 1) {
        unsigned long h = 5381;  // the command line and the build: every rank must run the same
        for (int i = 0; i < argc; i++)
            for (const char *c = argv[i]; ; c++) {
                h = h * 33 + (unsigned char)*c;
                if (!*c) break;
            }
        for (const char *c = DANN_VERSION_STRING; *c; c++) h = h * 33 + (unsigned char)*c;
        int same = 0;
        if (mpi_same(&h, sizeof h, &same) || !same) {
            fprintf(stderr, "dann %s: rank %d: %s\n", CMD, rank, same ? mpi_error()
                    : "the processes were started with different options or builds");
            return 2;
        }
        if (rank > 0) a.quiet = 1;
    }
    if (a.eval_max < 0) a.eval_max = 0;
    if (a.iters_per_epoch < 0) a.iters_per_epoch = 0;
    if (!a.has_seed && !a.resume) a.seed = 1;
    if (!a.source) return args_usage(CMD, "--source SPEC is required (dann train --help)");
    if (!a.target && a.mode != 1)
        return args_usage(CMD, "--target SPEC is required (dann train --help; only --mode "
                          "source-only trains without one)");
    if (!a.target && (a.select || a.average))
        return args_usage(CMD, "%s needs --target", a.select ? "--select" : "--average");
    if (a.has_lambda && a.has_lambda_max)
        return args_usage(CMD, "--lambda (a constant) and --lambda-max (the ramp's ceiling) "
                          "exclude each other");
    norm_choice norm_s, norm_t;
    const int norm_given = a.source_norm ? 1 : a.target_norm ? 2 : 0;  /* on this command line */
    const char *norm_word[2] = {a.source_norm, a.target_norm};
    for (int k = 0; k < 2; k++) {
        if (!norm_word[k]) norm_word[k] = rcp->norm == RECIPE_NORM_MEAN ? "mean" : "ref";
        if (norm_parse(k ? &norm_t : &norm_s, norm_word[k]))
            return args_usage(CMD, "--%s-norm %s: expected ref, auto, mean or MEAN/STD (one value "
                              "or three each, e.g. 0.5/0.25)", k ? "target" : "source", norm_word[k]);
    }
    if (!a.source_norm) a.source_norm = norm_word[0];
    if (!a.target_norm) a.target_norm = norm_word[1];
    if (!a.out) return args_usage(CMD, "--out RUN_DIR is required (dann train --help)");

    dann_train_config cfg;
    if (dann_train_config_preset(&cfg, a.preset, &err))
        return args_usage(CMD, "--preset %s: unknown preset (%s)", a.preset, recipe_names());
    if (a.has_lambda) cfg.lambda_schedule = 1, cfg.lambda_max = a.lambda;
    if (a.has_lambda_max) cfg.lambda_max = a.lambda_max;
    if (a.has_gamma) cfg.gamma = a.gamma;
    select_opts so;
    avg_opts ao;
    if (a.select && select_parse(&so, a.select, &err)) return args_usage(CMD, "%s", err.msg);
    if (a.select && a.select_n) so.n_sel = a.select_n;
    if (a.average && avg_parse(&ao, a.average, &err)) return args_usage(CMD, "%s", err.msg);
    cfg.mode = a.mode <= 0 ? DANN_MODE_DANN : a.mode == 1 ? DANN_MODE_SOURCE_ONLY
                                                        : DANN_MODE_TARGET_ONLY;
    if (a.has_lr) cfg.lr = a.lr;
    if (a.resume && a.has_lr)
        return args_usage(CMD, "--lr cannot change on --resume (the checkpoint holds the optimizer)");
    const char *src_test = a.source_test ? a.source_test : default_test(a.source);
    const char *tgt_test = a.target_test ? a.target_test : a.target ? default_test(a.target) : NULL;

    /* The network: on --resume the checkpoint's; else --arch (a preset or a description), a
     * preset with its input changed by --input. */
    static char net[4096];
    int NC, NH, NW, NCLS, NVEC, preset_net = 0;
    if (a.resume) {
        snprintf(net, sizeof net, "%s", info.net);
        if (dann_net_info(net, &NC, &NH, &NW, &NCLS, &NVEC, &err)) return args_fail(CMD, &err);
        if (a.input) return args_usage(CMD, "--input cannot change on --resume");
        if (a.arch) {
            char want[4096];
            if (dann_net_adapt(want, sizeof want, a.arch, NC, NVEC ? 1 : NH, NVEC ? 1 : NW, NCLS, &err))
                return args_fail(CMD, &err);
            if (strcmp(want, net))
                return args_usage(CMD, "--arch %s is not the network of the run being resumed "
                                  "(%s: %s)", a.arch, a.resume, net);
        }
    } else {
        const char *arch = a.arch ? a.arch : rcp->arch;
        int c = 0, h = 0, w = 0;
        preset_net = dann_net_is_preset(arch);
        if (a.input) {
            if (!preset_net)
                return args_usage(CMD, "--input applies to presets; a description gives its own "
                                  "input ('in CxHxW;' or 'in D;')");
            if ((rc = vecfit_parse_input(CMD, arch, a.input, &c, &h, &w))) return rc;
        }
        if (dann_net_adapt(net, sizeof net, arch, c, h, w, 0, &err) ||
            dann_net_info(net, &NC, &NH, &NW, &NCLS, &NVEC, &err))
            return args_usage(CMD, "--arch: %s", err.msg);
    }
    const char *vspecs[4] = {a.source, a.target, src_test, tgt_test};
    if ((rc = vecfit_check_run(CMD, NVEC, vspecs, 4, net, norm_given))) return rc;
    if (NVEC) norm_s.kind = norm_t.kind = NORM_REF, a.source_norm = a.target_norm = "ref";

    /* The run folder is checked before the data loads (seconds on the real data), and a fresh
     * run never touches an existing run's files. */
    if (!a.resume && train_check_run_folder(a.out)) return 1;

    /* the count actually used (capped to the CPUs and the address space) is the one
     * printed and stored in run.json and the checkpoint */
    if (!a.threads) a.threads = online_cpus();
    a.threads = args_threads(CMD, a.threads);
    /* train.log: everything printed from here on (rank 0; the file once the folder exists) */
    const int logged = rank == 0 && tee_start() == 0;
    dataset src = {0}, tgt = {0}, src_t = {0}, tgt_t = {0};
    select_state *sel = NULL;
    avg_state *avg = NULL;
    static char data_kv[CKPT_KV_MAX];
    char **ref_names = NULL;
    rc = 1;
    if (load_data(&a, NC, NH, NW, src_test, tgt_test, &norm_s, &norm_t, a.resume ? info.meta.kv : NULL,
                  &src, &src_t, &tgt, &tgt_t, &err))
        goto out;
    dataset *const vsets[4] = {&src, tgt.n ? &tgt : NULL, src_t.n ? &src_t : NULL,
                               tgt_t.n ? &tgt_t : NULL};
    /* feature vectors: the network's dimension when fixed (a description, --input D, a resumed
     * run), else the data's, which a preset takes */
    if (NVEC && vecfit_net(vsets, 4, a.resume || !preset_net || a.input ? NC : 0, net, sizeof net,
                           &NC, &err)) {
        rc = args_fail(CMD, &err);
        goto out;
    }
    if (val_pct) a.source_val = (int)((int64_t)src.n * val_pct / 100);
    if (a.patience < 0) a.patience = a.source_val > 0 ? rcp->patience : 0;
    if (a.patience > 0 && ranks > 1) {
        /* only rank 0 evaluates, so only it would know when to stop */
        if (rank == 0)
            fprintf(stderr, "dann %s: --patience (early stopping) is not supported under mpirun yet\n", CMD);
        rc = 2;
        goto out;
    }
    if (a.patience > 0 && a.source_val == 0) {
        fprintf(stderr, "dann %s: --patience needs a source validation split (--source-val N)\n", CMD);
        rc = 2;
        goto out;
    }
    for (int k = 0; a.select && k < SEL_N; k++)
        if (so.on[k] && select_rule_needs_val(k) && a.source_val == 0) {
            fprintf(stderr, "dann %s: --select %s needs a source validation split (--source-val N)\n",
                    CMD, select_rule_name(k));
            rc = 2;
            goto out;
        }
    /* Classes by name: the labelled training set's (on --resume the checkpoint's) are the class
     * head's; every other labelled set is mapped onto them. */
    const int tonly = cfg.mode == DANN_MODE_TARGET_ONLY;
    dataset *labelled = tonly ? &tgt : &src;
    const char *lab_spec = tonly ? a.target : a.source;
    int ref_n = labelled->n_classes;
    if (a.resume && !NVEC && domain_kv_classes(info.meta.kv, &ref_names, &ref_n)) {
        char what[64];
        snprintf(what, sizeof what, "the run being resumed (%s)", tonly ? "target" : "source");
        if (domain_match(labelled, lab_spec, (const char *const *)ref_names, ref_n, what, a.quiet, &err)) {
            rc = args_fail(CMD, &err);
            goto out;
        }
    }
    {
        char what[SPEC_LEN + 16];
        snprintf(what, sizeof what, "%s %s", tonly ? "target" : "source", lab_spec);
        const char *const *names = (const char *const *)labelled->class_names;
        struct { dataset *ds; const char *spec; int used; } sets[] = {
            {&src, a.source, !tonly}, {&src_t, src_test, 1}, {&tgt, a.target, tonly},
            {&tgt_t, tgt_test, 1}};
        for (int k = 0; k < 4; k++) {
            dataset *ds = sets[k].ds;
            if (ds == labelled || ds->n == 0 || ds->n_classes == 0) continue;  /* unlabelled */
            if (ds->vec) continue;  /* vectors: labels are classes by one rule (vecfit_classes) */
            if (!domain_match(ds, sets[k].spec, names, labelled->n_classes, what, a.quiet, &err))
                continue;
            if (sets[k].used) {
                rc = args_fail(CMD, &err);
                goto out;
            }
            if (!a.quiet)  /* labels this mode never reads: a warning, not a refusal */
                printf("warning: %s (labels not used by --mode %s)\n", err.msg,
                       TRAIN_MODES[cfg.mode]);
        }
    }
    if (!a.quiet) {
        dataset *all[4] = {&src, &src_t, &tgt, &tgt_t};
        const char *specs[4] = {a.source, src_test, a.target, tgt_test};
        for (int k = 0; k < 4; k++)
            if (all[k]->n) domain_print(all[k], specs[k], NC, NH, NW,
                                        a.resume ? "stored" : k < 2 ? a.source_norm : a.target_norm,
                                        load_seconds[k]);
        if (NVEC) vecfit_print(vsets, 4, NC, a.resume || !preset_net || a.input, a.quiet);
    }
    const char *const specs[4] = {a.source, src_test, a.target, tgt_test};
    if (domain_kv_put(data_kv, labelled, &src, a.target ? &tgt : NULL, specs, &err)) {
        rc = args_fail(CMD, &err);
        goto out;
    }
    /* The class head against the data: a preset takes the data's class count; a description
     * written out must match it. */
    if (labelled->n_classes < 1) {
        fprintf(stderr, "dann %s: %s (%s) has no labels; --mode %s trains on them\n", CMD,
                labelled->name, lab_spec, TRAIN_MODES[cfg.mode]);
        goto out;
    }
    if (labelled->n_classes != NCLS) {
        if (a.resume || !preset_net) {
            fprintf(stderr, "dann %s: %s: %d classes, but the network's class head has %d outputs "
                    "(%s)\n", CMD, labelled->name, labelled->n_classes, NCLS, net);
            goto out;
        }
        if (dann_net_adapt(net, sizeof net, net, 0, 0, 0, labelled->n_classes, &err)) {
            rc = args_fail(CMD, &err);
            goto out;
        }
        NCLS = labelled->n_classes;
    }
    if (NVEC && vecfit_classes(vsets + 2, 2, NCLS, net, &err)) {
        rc = args_fail(CMD, &err);
        goto out;
    }
    if (!a.quiet) printf("net:  %s\n", net);
    if (!a.quiet && (!src_test || !tgt_test))
        printf("note: no %s test set given (--%s-test SPEC); that evaluation is skipped\n",
               !src_test ? "source" : "target", !src_test ? "source" : "target");

    if (rank == 0 && train_mkdir_p(a.out) != 0) {
        fprintf(stderr, "dann %s: %s: cannot create the run folder: %s\n", CMD, a.out, strerror(errno));
        goto out;
    }
    if (logged) {
        char p[SPEC_LEN + 32];
        snprintf(p, sizeof p, "%s/train.log", a.out);
        if (tee_attach(p, a.resume != NULL, &err)) {
            rc = args_fail(CMD, &err);
            goto out;
        }
    }
    if (rank == 0 && !a.resume &&
        train_write_run_json(a.out, &a, TRAIN_MODES[a.mode < 0 ? 0 : a.mode], &cfg, src_test,
                             tgt_test, net, a.threads))
        goto out;

    trainloop_opts o = {0};
    o.epochs = a.epochs;
    o.batch = a.batch;
    o.max_steps = a.max_steps;
    o.eval_max = a.eval_max;
    o.source_val = a.source_val;
    o.patience = a.patience;
    o.seed = a.seed;
    o.preset = a.preset;
    o.arch = net;
    o.out_dir = rank == 0 ? a.out : NULL;
    o.resume = a.resume;
    dann_dist dist = {rank, ranks, a.chunk, ranks > 1 ? mpi_allgather : NULL, NULL};
    if (a.chunk > 0) o.dist = &dist;
    if (ranks > 1) o.agree = agree_stop, o.no_eval = rank > 0;
    if (ranks > 1 && !a.quiet)
        printf("data-parallel: %d processes, chunks of %d examples (the same result as dann "
               "train --chunk %d in one process)\n", ranks, a.chunk, a.chunk);
    o.progress = a.progress;
    o.quiet = a.quiet;
    o.iters_per_epoch = a.iters_per_epoch;
    o.kv = data_kv;
    o.progress_out = tee_real_stdout();
    ext_data_kv(data_kv);
    // test hook: stop as if interrupted after this many steps (the suite's MPI resume tests)
    const char *stop_after = getenv("DANN_TEST_STOP_AFTER");
    if (stop_after) o.stop_after_steps = atoll(stop_after);
    // test hook: "RANK STEP" - that process dies (SIGKILL) before its STEP-th step of the run
    const char *die = getenv("DANN_TEST_DIE");
    static int die_at[2];
    if (die && sscanf(die, "%d %d", &die_at[0], &die_at[1]) == 2 && die_at[0] == rank)
        o.on_batch = die_hook, o.hook_ctx = die_at;
    trainloop_data d = {&src, a.target ? &tgt : NULL, src_test ? &src_t : NULL,
                        tgt_test ? &tgt_t : NULL};

    trainloop_ext ext[2];
    if ((a.select && select_new(&sel, &so, &err)) ||
        (a.average && avg_new(&avg, &ao, &err))) {
        rc = args_fail(CMD, &err);
        goto out;
    }
    if (sel) ext[o.n_ext++] = select_ext(sel);
    if (avg) ext[o.n_ext++] = avg_ext(avg);
    o.ext = ext;
    trainloop_signals sig;
    o.stop =
        trainloop_catch_stop(&sig, "\ndann train: stopping after this step (again to quit at once)\n");
    if (!a.quiet) {
        const int ns = src.n - a.source_val > 0 ? src.n - a.source_val : 1;
        int S = trainloop_steps_per_epoch(ns, a.target ? tgt.n : ns, a.batch, a.max_steps);
        if (a.iters_per_epoch)
            S = a.max_steps && a.max_steps < a.iters_per_epoch ? a.max_steps : a.iters_per_epoch;
        printf("train: %s, preset %s, %d epochs x %d steps, batch %d+%d, seed %llu, %d threads%s\n",
               a.resume ? "resuming" : TRAIN_MODES[a.mode < 0 ? 0 : a.mode], a.preset, a.epochs, S,
               a.batch, a.batch, (unsigned long long)a.seed, a.threads,
               a.source_val ? ", source-val held out" : "");
        fflush(stdout);
    }
    trainloop_result r;
    dann_status st = trainloop_run(&o, &cfg, &d, NULL, &r, &err);
    trainloop_release_stop(&sig);
    if (st == DANN_ERR_INTERRUPTED) {
        fprintf(stderr, "dann %s: %s; saved %s/last.ckpt\n  resume with: dann train --resume "
                "%s/last.ckpt\n", CMD, err.msg, a.out, a.out);
        rc = 130;
    } else if (st) {
        rc = args_fail(CMD, &err);
    } else {
        if (rank == 0) print_summary(&r, a.out);
        if (rank == 0) print_ext(sel, avg, a.epochs);
        rc = 0;
    }
out:
    if (logged) tee_stop();
    free(ref_names);
    /* what was printed must have arrived (a full disk, a closed pipe): as eval and predict */
    if ((fflush(stdout) != 0 || ferror(stdout)) && rc != 2) {
        fprintf(stderr, "dann %s: stdout: write error: %s\n", CMD, strerror(errno ? errno : EIO));
        if (rc == 0) rc = 1;
    }
    select_free(sel);
    avg_free(avg);
    dataset_free(&src);
    dataset_free(&tgt);
    dataset_free(&src_t);
    dataset_free(&tgt_t);
    return rc;
}

/* The option parser alone, then the parsers of option values that read no file (--preset,
 * --select, --average, --arch with --input): for fuzz/fuzz_args.c, which must not train, load
 * data or create folders. Returns 0 when all parse, 2 otherwise (messages on stderr). */
int cmd_train_parse_only(int argc, char **argv) {
    train_args a;
    train_defaults(&a);
    int rc = parse(&a, argc, argv);
    if (rc >= 0) return rc;
    dann_error err;
    select_opts so;
    avg_opts ao;
    static char net[4096];
    int c = 0, h = 0, w = 0, k;
    char tail;
    if (a.preset && !recipe_find(a.preset)) return 2;
    if (a.select && select_parse(&so, a.select, &err)) return 2;
    if (a.average && avg_parse(&ao, a.average, &err)) return 2;
    if (a.input && ((k = sscanf(a.input, "%dx%dx%d%c", &c, &h, &w, &tail)) != 3 || c < 1 ||
                    h < 1 || w < 1 || c > 4096 || h > 65536 || w > 65536))
        return 2;
    if (a.arch && (dann_net_adapt(net, sizeof net, a.arch, c, h, w, 0, &err) ||
                   dann_net_info(net, &c, &h, &w, &k, &k, &err)))
        return 2;
    return 0;
}
