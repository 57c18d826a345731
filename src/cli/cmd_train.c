/* cmd_train.c - placeholder until the 'train' subcommand lands (being written now). */
#include <stdio.h>
#include "cli/cli.h"

int cmd_train(int argc, char **argv) {
    (void)argc;
    (void)argv;
    fprintf(stderr, "dann train: not available in this build yet\n");
    return 2;
}
