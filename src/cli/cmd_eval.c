/* cmd_eval.c - placeholder until the 'eval' subcommand lands (being written now). */
#include <stdio.h>
#include "cli/cli.h"

int cmd_eval(int argc, char **argv) {
    (void)argc;
    (void)argv;
    fprintf(stderr, "dann eval: not available in this build yet\n");
    return 2;
}
