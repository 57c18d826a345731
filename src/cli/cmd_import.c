/* cmd_import.c - placeholder until the 'import' subcommand lands (being written now). */
#include <stdio.h>
#include "cli/cli.h"

int cmd_import(int argc, char **argv) {
    (void)argc;
    (void)argv;
    fprintf(stderr, "dann import: not available in this build yet\n");
    return 2;
}
