/* fuzz_args.c - libFuzzer target: the command-line parsers on arbitrary argument vectors.
 * The input is split at NUL bytes into argv (after the command name "train") and given to
 * cmd_train_parse_only: `dann train`'s option loop over src/cli/args.c (every value reader:
 * integers, doubles, u64, choices, flags, "--name=value"), then the value parsers that read no
 * file (--preset, --select, --average, --input, and the network description language of --arch,
 * which checkpoints also carry). Nothing is trained, loaded or written. Seeds: fuzz/corpus/args/
 * (command lines from README and the tests). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "cli/cli.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_MAX_ARGS 64

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    char *s = malloc(size + 1), *argv[FUZZ_MAX_ARGS + 2];
    if (!s) return 0;
    memcpy(s, data, size);
    s[size] = 0;
    int argc = 0;
    argv[argc++] = "train";
    for (size_t i = 0; i < size && argc <= FUZZ_MAX_ARGS; i += strlen(s + i) + 1)
        argv[argc++] = s + i;
    argv[argc] = NULL;
    cmd_train_parse_only(argc, argv);
    free(s);
    return 0;
}
