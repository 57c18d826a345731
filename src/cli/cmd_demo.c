/* cmd_demo.c - placeholder until the 'demo' subcommand lands (being written now). */
#include <stdio.h>
#include "cli/cli.h"

int cmd_demo(int argc, char **argv) {
    (void)argc;
    (void)argv;
    fprintf(stderr, "dann demo: not available in this build yet\n");
    return 2;
}
