/* cmd_predict.c - placeholder until the 'predict' subcommand lands (being written now). */
#include <stdio.h>
#include "cli/cli.h"

int cmd_predict(int argc, char **argv) {
    (void)argc;
    (void)argv;
    fprintf(stderr, "dann predict: not available in this build yet\n");
    return 2;
}
