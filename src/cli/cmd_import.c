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
            "usage: dann import IN.safetensors --out CKPT [--arch NET]\n"
            "\n"
            "Makes a weights-only checkpoint from safetensors weights with PyTorch state_dict\n"
            "names (every tensor of the network: parameters and running statistics as F32,\n"
            "num_batches_tracked as 0-d I64; missing, extra or mis-shaped tensors are errors;\n"
            "py3 has 39). The names follow docs/NETWORKS.md (tools/netdesc.py builds the same\n"
            "PyTorch module).\n"
            "\n"
            "  --out CKPT      checkpoint to write (atomically)\n"
            "  --arch NET      the network the weights belong to: a preset or a description\n"
            "                  (default py3; --preset is an older name of this option)\n"
            "  --help          this text\n");
}

int cmd_import(int argc, char **argv) {
    const char *in = NULL, *out = NULL, *arch = "py3", *opt = "--arch";
    args_parser ap;
    args_init(&ap, "import", argc, argv);
    while (args_next(&ap)) {
        if (args_is(&ap, "--out")) args_str(&ap, &out);
        else if (args_is(&ap, "--arch") || args_is(&ap, "--preset")) {
            opt = args_is(&ap, "--arch") ? "--arch" : "--preset";
            args_str(&ap, &arch);
        }
        else if (args_is(&ap, "--help") || args_is(&ap, "-h")) {
            usage(stdout);
            return 0;
        } else if (!ap.is_option && !in) in = ap.cur;
        else args_unknown(&ap);
        if (ap.failed) return 2;
    }
    if (!in) return args_usage("import", "the input file IN.safetensors is required (dann import --help)");
    if (!out) return args_usage("import", "--out CKPT is required (dann import --help)");

    dann_error err = {0};
    dann_model *m = NULL;
    static ckpt_meta meta;
    memset(&meta, 0, sizeof meta);
    if (dann_model_new(&m, arch, 0, 1, &err))
        return args_usage("import", "%s: %s", opt, err.msg);
    if (!strcmp(dann_model_arch(m), "py3")) snprintf(meta.preset, sizeof meta.preset, "py3");
    if (interchange_import(m, in, &err) ||
        ckpt_save(out, m, NULL, &meta, &err)) {
        dann_model_free(m);
        return args_fail("import", &err);
    }
    printf("import: %s -> %s (%s, %d tensors, weights only)\n", in, out, dann_model_arch(m),
           dann_model_tensors(m, -1, NULL));
    dann_model_free(m);
    return 0;
}
