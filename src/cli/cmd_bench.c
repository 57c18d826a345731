/* cmd_bench.c - placeholder until the 'bench' subcommand lands (being written now). */
#include <stdio.h>
#include "cli/cli.h"

int cmd_bench(int argc, char **argv) {
    (void)argc;
    (void)argv;
    fprintf(stderr, "dann bench: not available in this build yet\n");
    return 2;
}
