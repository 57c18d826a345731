/* main.c - the `dann` command-line tool: dispatches to one subcommand per file in src/cli/. */
#include <stdio.h>
#include <string.h>
#include "dann.h"
#include "cli/cli.h"
#include "cli/mpi.h"

static const struct {
    const char *name;
    int (*fn)(int, char **);
    const char *help;
} commands[] = {
    {"demo", cmd_demo, "train source-only and DANN on the embedded sample and compare"},
    {"train", cmd_train, "train a model (DANN, source-only or target-only)"},
    {"eval", cmd_eval, "accuracy, per-class accuracy and confusion matrix of a checkpoint"},
    {"predict", cmd_predict, "label and probabilities for image files"},
    {"export", cmd_export, "write a checkpoint's weights as PyTorch-compatible safetensors"},
    {"import", cmd_import, "make a checkpoint from safetensors weights (PyTorch state_dict names)"},
    {"bench", cmd_bench, "time training steps, evaluation and memory"},
    {"plot", cmd_plot, "training curves of runs (metrics.jsonl) as a PNG"},
    {"embed", cmd_embed, "t-SNE / PCA picture of checkpoints' features, coloured by domain"},
    {"experiment", cmd_experiment, "a grid of runs (presets x nets x modes x seeds x pairs) and its tables"},
    {"pad", cmd_pad, "proxy A-distance between two datasets, raw or in a checkpoint's features"},
};

static void usage(FILE *f) {
    fprintf(f, "usage: dann <command> [options]   (dann <command> --help for its options)\n\n");
    for (size_t i = 0; i < sizeof commands / sizeof *commands; i++)
        fprintf(f, "  %-10s %s\n", commands[i].name, commands[i].help);
}

static int run(int argc, char **argv);

int main(int argc, char **argv) {
    if (mpi_start(&argc, &argv)) return 1;
    int rc = run(argc, argv);
    if (rc && rc != 130 && mpi_size() > 1) {
        fflush(stdout);
        mpi_abort(rc);  // the other processes would wait for this one in vain
    }
    mpi_stop();
    return rc;
}

static int run(int argc, char **argv) {
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
        usage(stdout);
        return 0;
    }
    if (!strcmp(argv[1], "--version")) {
        printf("dann %s\n", DANN_VERSION_STRING);
        return 0;
    }
    for (size_t i = 0; i < sizeof commands / sizeof *commands; i++)
        if (!strcmp(argv[1], commands[i].name)) return commands[i].fn(argc - 1, argv + 1);
    fprintf(stderr, "dann: unknown command '%s'\n", argv[1]);
    usage(stderr);
    return 2;
}
