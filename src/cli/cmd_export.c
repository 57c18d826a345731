/* cmd_export.c - `dann export`: a checkpoint's weights as safetensors under the reference's
 * PyTorch state_dict() names (io/interchange.h), loadable with tools/st.py +
 * model.load_state_dict. Only the model travels (parameters, BatchNorm running statistics and
 * num_batches_tracked), not the optimizer state. The file is written atomically. */
#include <stdio.h>
#include <string.h>
#include "cli/args.h"
#include "cli/cli.h"
#include "io/checkpoint.h"
#include "io/interchange.h"

static void usage(FILE *f) {
    fprintf(f,
            "usage: dann export --model CKPT OUT.safetensors\n"
            "\n"
            "Writes the checkpoint's model as safetensors with PyTorch state_dict names and order\n"
            "(feature.f_conv1.weight, ..., feature.f_bn1.num_batches_tracked, ...): F32 tensors,\n"
            "num_batches_tracked as 0-d I64, metadata format=pt, dann_arch, producer, dann_preset.\n"
            "Load it in PyTorch with tools/st.py: model.load_state_dict(st.load(path)[0]), or\n"
            "`python3 tools/dann_torch.py eval --weights OUT.safetensors`.\n"
            "\n"
            "  --model CKPT   checkpoint to export\n"
            "  --help         this text\n");
}

int cmd_export(int argc, char **argv) {
    const char *model_path = NULL, *out = NULL;
    args_parser ap;
    args_init(&ap, "export", argc, argv);
    while (args_next(&ap)) {
        if (args_is(&ap, "--model")) args_str(&ap, &model_path);
        else if (args_is(&ap, "--help") || args_is(&ap, "-h")) {
            usage(stdout);
            return 0;
        } else if (!ap.is_option && !out) out = ap.cur;
        else args_unknown(&ap);
        if (ap.failed) return 2;
    }
    if (!model_path) return args_usage("export", "--model CKPT is required (dann export --help)");
    if (!out) return args_usage("export", "the output file OUT.safetensors is required (dann export --help)");

    dann_error err = {0};
    dann_model *m = NULL;
    ckpt_meta meta;
    if (ckpt_load(model_path, 1, &m, NULL, &meta, &err)) return args_fail("export", &err);
    char preset[CKPT_NAME_LEN + 1] = {0};
    memcpy(preset, meta.preset, CKPT_NAME_LEN);
    const char *extra[2] = {"dann_preset", preset};
    int n_extra = preset[0] ? 1 : 0;
    if (interchange_export(m, out, extra, n_extra, &err)) {
        dann_model_free(m);
        return args_fail("export", &err);
    }
    printf("export: %s -> %s (%d tensors, %s)\n", model_path, out, dann_model_tensors(m, -1, NULL),
           dann_model_arch(m));
    dann_model_free(m);
    return 0;
}
