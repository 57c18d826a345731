/* cmd_export.c - placeholder until the 'export' subcommand lands (being written now). */
#include <stdio.h>
#include "cli/cli.h"

int cmd_export(int argc, char **argv) {
    (void)argc;
    (void)argv;
    fprintf(stderr, "dann export: not available in this build yet\n");
    return 2;
}
