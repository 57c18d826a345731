/* cmd_demo.c - `dann demo`: source-only vs DANN on the embedded MNIST -> MNIST-M sample.
 *
 * The sample (demo_data.c; tools/make_demo_data.py) is written to a fresh temporary folder
 * (mkdtemp under $TMPDIR or /tmp), loaded with the ordinary readers (mnist:DIR and
 * mnistm:ARCHIVE) and the folder is removed straight away: the datasets live in memory. The py3
 * model is then trained twice from the same initialisation with the same batches - once on
 * the labelled MNIST images only, once with DANN (which also sees the unlabelled MNIST-M
 * images) - and the two are compared on the MNIST-M test images, whose labels neither run used.
 *
 * Budget: DEMO_EPOCHS x ceil(1000 / DEMO_BATCH) = 512 steps per run, about 40 s in total on 2
 * cores (under 2 minutes at 0.25 s per 128+128 step). Measured with the default settings
 * (MNIST-M test accuracy, source-only -> DANN): seed 1 15.8% -> 51.2%, seed 2 23.5% -> 51.5%,
 * seed 3 17.7% -> 43.8%; MNIST test accuracy stays at 96-98% in both. Evaluation runs every
 * DEMO_EVAL_EVERY epochs and at the end. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "cli/args.h"
#include "cli/cli.h"
#include "cli/demo_data.h"
#include "cli/progress.h"
#include "cli/trainloop.h"

#define CMD "demo"
#define DEMO_EPOCHS 32
#define DEMO_BATCH 64
#define DEMO_EVAL_EVERY 8

static void usage(FILE *f) {
    fprintf(f,
"usage: dann demo [--threads T] [--seed S] [--epochs N] [--batch B] [--progress MODE]\n"
"                 [--arch NET] [--max-steps K] [--eval-max N]\n"
"       dann demo moons [options]   (the shallow network on the JMLR toy: dann demo moons --help)\n"
"\n"
"Trains a network (default py3) on a small sample embedded in the program (2500 labelled\n"
"MNIST digits, 1000 unlabelled MNIST-M digits) twice from the same start: on MNIST alone\n"
"(source-only), then with DANN. Both are tested on 1000 MNIST-M test digits whose labels\n"
"neither run saw.\n"
"\n"
"  --threads T    kernel threads (default: all CPUs)\n"
"  --seed S       initialisation, dropout and shuffling (default 1)\n"
"  --epochs N     epochs per run (default %d; %d steps each at the default batch)\n"
"  --batch B      images per domain per step (default %d)\n"
"  --arch NET     the network: a preset or a description (docs/NETWORKS.md) taking images;\n"
"                 they are resized to its input (default py3)\n"
"  --max-steps K  at most K steps per epoch (a quick look at a large network)\n"
"  --eval-max N   test on the first N images of each test set only\n"
"  --progress auto|bar|lines|off\n",
            DEMO_EPOCHS, (1000 + DEMO_BATCH - 1) / DEMO_BATCH, DEMO_BATCH);
}

/* Writes the embedded files under dir; on failure prints the error and returns 1. */
static int unpack(const char *dir) {
    char p[4200];
    snprintf(p, sizeof p, "%s/mnist", dir);
    if (mkdir(p, 0700) != 0) {
        fprintf(stderr, "dann %s: %s: cannot create: %s\n", CMD, p, strerror(errno));
        return 1;
    }
    for (const demo_file *f = demo_files; f->name; f++) {
        snprintf(p, sizeof p, "%s/%s", dir, f->name);
        FILE *o = fopen(p, "wb");
        size_t n = (size_t)(f->end - f->start);
        int ok = o && fwrite(f->start, 1, n, o) == n;
        if (o && fclose(o) != 0) ok = 0;
        if (!ok) {
            fprintf(stderr, "dann %s: %s: cannot write: %s\n", CMD, p, strerror(errno));
            return 1;
        }
    }
    return 0;
}

static void remove_tree(const char *dir) {
    char p[4200];
    for (const demo_file *f = demo_files; f->name; f++) {
        snprintf(p, sizeof p, "%s/%s", dir, f->name);
        unlink(p);
    }
    snprintf(p, sizeof p, "%s/mnist", dir);
    rmdir(p);
    rmdir(dir);
}

static int load_all(dataset ds[4], const char *dir, int h, int w, dann_error *err) {
    char mnist[4200], mnistm[4200];
    snprintf(mnist, sizeof mnist, "mnist:%s/mnist", dir);
    snprintf(mnistm, sizeof mnistm, "mnistm:%s/mnist_m.tar.gz", dir);
    if (dataset_load(&ds[0], mnist, DATA_TRAIN, h, w, err) ||
        dataset_load(&ds[1], mnistm, DATA_TRAIN, h, w, err) ||
        dataset_load(&ds[2], mnist, DATA_TEST, h, w, err) ||
        dataset_load(&ds[3], mnistm, DATA_TEST, h, w, err))
        return 1;
    return 0;
}

int cmd_demo(int argc, char **argv) {
    if (argc > 1 && !strcmp(argv[1], "moons")) return cmd_demo_moons(argc - 1, argv + 1);
    int threads = 0, epochs = DEMO_EPOCHS, batch = DEMO_BATCH, prog = PROGRESS_AUTO;
    int max_steps = 0, eval_max = 0;
    uint64_t seed = 1;
    const char *arch = "py3";
    static const char *const PROGRESS[] = {"auto", "bar", "lines", "off", NULL};
    args_parser ap;
    args_init(&ap, CMD, argc, argv);
    while (args_next(&ap)) {
        if (args_is(&ap, "--help") || args_is(&ap, "-h")) {
            usage(stdout);
            return 0;
        } else if (args_is(&ap, "--threads")) args_int(&ap, 1, 1024, &threads);
        else if (args_is(&ap, "--seed")) args_u64(&ap, &seed);
        else if (args_is(&ap, "--epochs")) args_int(&ap, 1, 100000, &epochs);
        else if (args_is(&ap, "--batch")) args_int(&ap, 1, 1000, &batch);
        else if (args_is(&ap, "--progress")) args_choice(&ap, PROGRESS, &prog);
        else if (args_is(&ap, "--arch")) args_str(&ap, &arch);
        else if (args_is(&ap, "--max-steps")) args_int(&ap, 1, 100000000, &max_steps);
        else if (args_is(&ap, "--eval-max")) args_int(&ap, 1, 100000000, &eval_max);
        else args_unknown(&ap);
    }
    if (ap.failed) return 2;
    /* The network, with a preset's class head fitted to the sample's 10 digits. */
    static char net[4096];
    int NH, NW, NC, vec;
    dann_error aerr = {0};
    if (dann_net_adapt(net, sizeof net, arch, 0, 0, 0, dann_net_is_preset(arch) ? 10 : 0, &aerr) ||
        dann_net_info(net, NULL, &NH, &NW, &NC, &vec, &aerr))
        return args_fail(CMD, &aerr);
    if (vec)
        return args_usage(CMD, "--arch %s takes feature vectors; the demo sample is images (`dann "
                               "demo moons` trains the shallow network on the JMLR toy)", arch);
    if (NC != 10)
        return args_usage(CMD, "--arch: the network's class head has %d outputs; the demo sample has "
                               "10 classes (digits)", NC);
    threads = args_threads("demo", threads ? threads : dann_threads_usable());

    /* Installed before the temporary folder exists, so a Ctrl-C cannot leave it behind. */
    trainloop_signals sig;
    volatile sig_atomic_t *stop =
        trainloop_catch_stop(&sig, "\ndann demo: stopping (again to quit at once)\n");

    const char *tmp = getenv("TMPDIR");
    char dir[4096];
    snprintf(dir, sizeof dir, "%s/dann-demo-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (!mkdtemp(dir)) {
        fprintf(stderr, "dann %s: %s: cannot create a temporary folder: %s\n", CMD, dir,
                strerror(errno));
        trainloop_release_stop(&sig);
        return 1;
    }
    dann_error err = {0};
    dataset ds[4];
    memset(ds, 0, sizeof ds);
    const double t0 = progress_now();
    int bad = unpack(dir) || load_all(ds, dir, NH, NW, &err);
    remove_tree(dir);
    if (bad || *stop) {
        trainloop_release_stop(&sig);
        for (int k = 0; k < 4; k++) dataset_free(&ds[k]);
        if (!bad) return fprintf(stderr, "dann %s: interrupted\n", CMD), 130;
        if (err.msg[0]) args_fail(CMD, &err);
        return 1;
    }
    const int S = trainloop_steps_per_epoch(ds[0].n, ds[1].n, batch, max_steps);
    printf("dann demo: MNIST (labelled) -> MNIST-M (unlabelled), embedded sample\n"
           "  train: %d MNIST digits with labels, %d MNIST-M digits without labels\n"
           "  test:  %d MNIST digits, %d MNIST-M digits (labels used only to score)\n"
           "  model %s (Adam 1e-3), %d epochs x %d steps of %d images per domain, seed %llu, "
           "%d threads\n"
           "Two runs from the same initialisation: source-only (MNIST only), then DANN.\n\n",
           ds[0].n, ds[1].n, eval_max && eval_max < ds[2].n ? eval_max : ds[2].n,
           eval_max && eval_max < ds[3].n ? eval_max : ds[3].n, dann_net_is_preset(arch) ? arch : "(description)",
           epochs, S, batch, (unsigned long long)seed, threads);
    fflush(stdout);

    trainloop_data d = {&ds[0], &ds[1], &ds[2], &ds[3]};
    trainloop_result r[2];
    static const dann_mode modes[2] = {DANN_MODE_SOURCE_ONLY, DANN_MODE_DANN};
    static const char *const labels[2] = {"source-only", "dann"};
    dann_status st = DANN_OK;
    for (int k = 0; k < 2 && !st; k++) {
        dann_train_config cfg;
        dann_train_config_preset(&cfg, "py3", &err);
        cfg.mode = modes[k];
        trainloop_opts o;
        memset(&o, 0, sizeof o);
        o.epochs = epochs;
        o.batch = batch;
        o.max_steps = max_steps;
        o.eval_max = eval_max;
        o.eval_every = DEMO_EVAL_EVERY;
        o.seed = seed;
        o.preset = "py3";
        o.arch = net;
        o.label = labels[k];
        o.progress = prog;
        o.stop = stop;
        st = trainloop_run(&o, &cfg, &d, NULL, &r[k], &err);
    }
    trainloop_release_stop(&sig);
    for (int k = 0; k < 4; k++) dataset_free(&ds[k]);
    if (st == DANN_ERR_INTERRUPTED) {
        fprintf(stderr, "dann %s: interrupted\n", CMD);
        return 130;
    }
    if (st) return args_fail(CMD, &err);

    char t[32];
    progress_fmt_time(t, sizeof t, progress_now() - t0);
    const double gain = r[1].tgt_acc - r[0].tgt_acc, dsrc = r[1].src_acc - r[0].src_acc;
    printf("\n                            source-only     DANN\n"
           "  MNIST-M test (target)        %6.1f %%   %6.1f %%\n"
           "  MNIST test   (source)        %6.1f %%   %6.1f %%\n\n",
           100 * r[0].tgt_acc, 100 * r[1].tgt_acc, 100 * r[0].src_acc, 100 * r[1].src_acc);
    if (gain > 0.02)
        printf("DANN classifies the unlabelled domain %.1f points better than training on MNIST "
               "alone, without using a single MNIST-M label%s.\n", 100 * gain,
               dsrc > -0.02 ? ", and keeps its MNIST accuracy" : "");
    else
        printf("On this short run DANN did not beat source-only on MNIST-M (%+.1f points); "
               "longer training (dann train) usually shows the gap.\n", 100 * gain);
    printf("(total %s; the full experiment: dann train --source mnist:DIR --target mnistm:PATH)\n", t);
    return 0;
}
