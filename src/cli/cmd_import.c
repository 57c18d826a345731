/* cmd_import.c - `dann import`: a weights-only checkpoint from safetensors weights saved under
 * the reference's PyTorch state_dict() names (e.g. by tools/dann_torch.py or tools/st.py).
 * The file must match the architecture exactly (io/interchange.h: every tensor present with its
 * dtype and shape, nothing extra); the checkpoint holds the model and no optimizer state, so it
 * serves `dann eval`, `dann predict`, `dann export` and as the starting point of `dann train`. */
#include <stdio.h>
#include <string.h>
#include "cli/args.h"
#include "cli/cli.h"
#include "io/checkpoint.h"
#include "io/interchange.h"

static void usage(FILE *f) {
    fprintf(f,
            "usage: dann import IN.safetensors --out CKPT [--preset py3]\n"
            "\n"
            "Makes a weights-only checkpoint from safetensors weights with PyTorch state_dict\n"
            "names (all 39 tensors of the py3 model: parameters and running statistics as F32,\n"
            "num_batches_tracked as 0-d I64; missing, extra or mis-shaped tensors are errors).\n"
            "\n"
            "  --out CKPT      checkpoint to write (atomically)\n"
            "  --preset NAME   the model the weights belong to (default py3, the only one)\n"
            "  --help          this text\n");
}

int cmd_import(int argc, char **argv) {
    const char *in = NULL, *out = NULL, *preset = "py3";
    args_parser ap;
    args_init(&ap, "import", argc, argv);
    while (args_next(&ap)) {
        if (args_is(&ap, "--out")) args_str(&ap, &out);
        else if (args_is(&ap, "--preset")) args_str(&ap, &preset);
        else if (args_is(&ap, "--help") || args_is(&ap, "-h")) {
            usage(stdout);
            return 0;
        } else if (!ap.is_option && !in) in = ap.cur;
        else args_unknown(&ap);
        if (ap.failed) return 2;
    }
    if (!in) return args_usage("import", "the input file IN.safetensors is required (dann import --help)");
    if (!out) return args_usage("import", "--out CKPT is required (dann import --help)");
    if (strcmp(preset, "py3"))
        return args_usage("import", "--preset: '%s' is not a known model (known: py3)", preset);

    dann_error err = {0};
    dann_model *m = NULL;
    ckpt_meta meta;
    memset(&meta, 0, sizeof meta);
    snprintf(meta.preset, sizeof meta.preset, "%s", preset);
    if (dann_model_new(&m, preset, 0, 1, &err) || interchange_import(m, in, &err) ||
        ckpt_save(out, m, NULL, &meta, &err)) {
        dann_model_free(m);
        return args_fail("import", &err);
    }
    printf("import: %s -> %s (%s, %d tensors, weights only)\n", in, out, preset,
           dann_model_tensors(m, -1, NULL));
    dann_model_free(m);
    return 0;
}
