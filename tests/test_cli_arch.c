/* test_cli_arch.c - networks as data through the `dann` binary, on the embedded demo sample
 * (data/demo: MNIST and MNIST-M, 28x28, 10 classes):
 *   - `train --arch DESCRIPTION` trains that network, the checkpoint carries it (eval and export
 *     report it), and a resumed run refuses another --arch naming both networks;
 *   - a preset takes --input and the data's class count; a description must match the data;
 *   - export/import keep the network: weights of one network do not import into another. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "cli_testutil.h"
#include "io/checkpoint.h"
#include "io/safetensors.h"
#include "test.h"

#define SRC "mnist:data/demo/mnist"
#define TGT "mnistm:data/demo"
#define NET "in 3x28x28; features: conv(4,5) relu maxpool(2) conv(6,5) bn maxpool(2) relu; " \
            "class: fc(16) relu dropout(0.5) fc(10); domain: fc(8) relu fc(2)"

static run_result *train(const char *out, const char *arch, const char *input) {
    const char *args[24] = {"train", "--source", SRC, "--target", TGT, "--out", out, "--epochs",
                            "1", "--max-steps", "2", "--batch", "16", "--eval-max", "40",
                            "--threads", "1", "--quiet"};
    int n = 18;
    if (arch) args[n++] = "--arch", args[n++] = arch;
    if (input) args[n++] = "--input", args[n++] = input;
    args[n] = NULL;
    return run_dann(args);
}

TEST(cli_train_arch_description) {
    if (!dann_bin()) SKIP("build/dann not found");
    const char *dir = test_tmpdir();
    char *run = pathf(dir, "run");
    run_result *r = train(run, NET, NULL);
    CHECK(r->rc == 0, "train --arch: exit %d: %s", r->rc, r->err);
    if (r->rc) return;
    ckpt_info info;
    dann_error err = {0};
    char *ckpt = pathf(run, "last.ckpt");
    CHECK(ckpt_peek(ckpt, &info, &err) == DANN_OK, "peek: %s", err.msg);
    CHECK(!strcmp(info.net, NET), "stored network '%s', want '%s'", info.net, NET);
    CHECK(!strcmp(info.arch, "custom"), "arch field '%s', want custom", info.arch);

    const char *ev[] = {"eval", "--model", ckpt, "--data", TGT, "--max", "40", NULL};
    r = run_dann(ev);
    CHECK(r->rc == 0 && strstr(r->out, "custom"), "eval: exit %d, out %s err %s", r->rc, r->out, r->err);

    /* another network on resume: refused, naming both */
    const char *rs[] = {"train", "--resume", ckpt, "--arch", "py3", "--quiet", NULL};
    r = run_dann(rs);
    CHECK_FAILS(r, 2, "--arch py3", "conv(4,5)", "resume with another --arch");

    /* export keeps the network; import into another refuses, into the same works */
    char *st = pathf(dir, "w.safetensors"), *back = pathf(dir, "back.ckpt");
    const char *ex[] = {"export", "--model", ckpt, st, NULL};
    r = run_dann(ex);
    CHECK(r->rc == 0, "export: %s", r->err);
    st_file f = {0};
    if (st_read(&f, st, &err) == DANN_OK) {
        const char *net = st_meta_get(&f, "dann_net");
        CHECK(net && !strcmp(net, NET), "dann_net metadata '%s'", net ? net : "(none)");
        st_free(&f);
    } else {
        CHECK(0, "read %s: %s", st, err.msg);
    }
    const char *im[] = {"import", st, "--arch", NET, "--out", back, NULL};
    r = run_dann(im);
    CHECK(r->rc == 0 && exists(back), "import --arch NET: %s", r->err);
    char *other = pathf(dir, "other.ckpt");
    const char *im2[] = {"import", st, "--arch", "paper-mnist", "--out", other, NULL};
    r = run_dann(im2);
    CHECK_FAILS(r, 1, "architecture 'custom'", "paper-mnist", "import into another network");
    CHECK(!exists(other), "a refused import wrote %s", other);
}

TEST(cli_train_arch_shapes_and_classes) {
    if (!dann_bin()) SKIP("build/dann not found");
    const char *dir = test_tmpdir();
    /* a preset at another input size: the images are resized to it */
    run_result *r = train(pathf(dir, "a"), "paper-mnist", "3x32x32");
    CHECK(r->rc == 0, "paper-mnist --input 3x32x32: exit %d: %s", r->rc, r->err);
    ckpt_info info;
    dann_error err = {0};
    if (!r->rc && ckpt_peek(pathf(pathf(dir, "a"), "last.ckpt"), &info, &err) == DANN_OK)
        CHECK(!strncmp(info.net, "in 3x32x32;", 11), "stored network '%s'", info.net);
    /* a description's class head must match the data's 10 classes */
    r = train(pathf(dir, "b"), "in 3x28x28; features: conv(4,5) relu; class: fc(7); domain: fc(2)", NULL);
    CHECK(r->rc == 1 && strstr(r->err, "10 classes") && strstr(r->err, "7 outputs"),
          "class count mismatch: exit %d: %s", r->rc, r->err);
    /* --input is for presets */
    r = train(pathf(dir, "c"), NET, "3x32x32");
    CHECK_FAILS(r, 2, "--input", "preset", "--input with a description");
    /* a preset that does not fit the input: the layer is named */
    r = train(pathf(dir, "d"), "py3", "3x12x12");
    CHECK_FAILS(r, 2, "feature.f_conv2", "larger than its 4x4 input", "py3 at 12x12");
    r = train(pathf(dir, "e"), "in 3x28x28; features: conv(4,5) frob; class: fc(10); domain: fc(2)", NULL);
    CHECK_FAILS(r, 2, "unknown layer", "frob", "a bad description");
}
