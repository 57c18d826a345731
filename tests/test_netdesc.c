/* test_netdesc.c - the network description language (src/model/netdesc.c, netplan.c):
 *   - every preset compiles to the parameter count and feature size worked out by hand below,
 *     and its canonical text reads back to itself; the preset table equals docs/NETWORKS.md's;
 *   - py3's tensor names are fungtion/DANN_py3's state_dict (checked against the names in the
 *     PyTorch fixture elsewhere; here the naming rule on a network with every kind);
 *   - syntax and shape errors are one line naming the section or the layer;
 *   - dann_net_adapt / dann_net_info change and report input shape and class count. */
#include <dirent.h>
#include <stdlib.h>
#include <string.h>
#include "dann.h"
#include "model/model.h"
#include "model/net.h"
#include "test.h"

static size_t n_params(const char *arch, int *feat, dann_error *err) {
    dann_model *m = NULL;
    if (dann_model_new(&m, arch, 1, 2, err)) return 0;
    size_t n;
    dann_model_params(m, &n);
    *feat = dann_model_feature_dim(m);
    dann_model_free(m);
    return n;
}

/* Parameter counts by hand: conv OC*(C*K*K) + OC, fc OUT*IN + OUT, bn 2*C. */
TEST(netdesc_presets_by_hand) {
    static const struct { const char *name; size_t params; int feat; } want[] = {
        // conv 64*75+64, conv 50*1600+50, c_fc 800*100+100, 100*100+100, 100*10+10,
        // d_fc 800*100+100, 100*2+2, BatchNorm 2*(64+50+100+100+100)
        {"py3", 4864 + 80050 + 80100 + 10100 + 1010 + 80100 + 202 + 828, 800},
        // conv 32*75+32, 48*800+48; 28 -> 24 -> 12 -> 8 -> 4: 48*16 = 768 features;
        // c_fc 768*100+100, 100*100+100, 100*10+10; d_fc 768*100+100, 100*2+2
        {"paper-mnist", 2432 + 38448 + 76900 + 10100 + 1010 + 76900 + 202, 768},
        // conv 96*75+96, 144*864+144, 256*3600+256; 40 -> 36 -> 18 -> 16 -> 8 -> 4 -> 2:
        // 256*4 = 1024; c_fc 1024*512+512, 512*43+43; d_fc 1024*1024+1024 twice, 1024*2+2
        {"paper-gtsrb", 7296 + 124560 + 921856 + 524800 + 22059 + 2 * 1049600 + 2050, 1024},
        // conv 64*75+64, 64*1600+64, 128*1600+128 (pad 2); 32 -> 28 -> 13 -> 9 -> 4 -> 4:
        // 128*16 = 2048; c_fc 2048*3072+3072, 3072*2048+2048, 2048*10+10;
        // d_fc 2048*1024+1024, 1024*1024+1024, 1024*2+2
        {"paper-svhn", 4864 + 102464 + 204928 + 6294528 + 6293504 + 20490 + 2098176 + 1049600 + 2050, 2048},
        // fc 2 -> 15 (sigmoid), class 15 -> 2, domain 15 -> 2
        {"shallow", 45 + 32 + 32, 15},
    };
    for (size_t i = 0; i < sizeof want / sizeof *want; i++) {
        dann_error err = {0};
        int feat = 0;
        size_t n = n_params(want[i].name, &feat, &err);
        CHECK(n == want[i].params && feat == want[i].feat, "%s: %zu parameters, %d features; want "
              "%zu, %d (%s)", want[i].name, n, feat, want[i].params, want[i].feat, err.msg);
    }
}

TEST(netdesc_canonical_text_round_trip) {
    const char *names[] = {"py3", "paper-mnist", "paper-svhn", "paper-gtsrb", "shallow"};
    for (size_t i = 0; i < sizeof names / sizeof *names; i++) {
        const char *text = net_preset(names[i]);
        CHECK(text != NULL, "preset %s missing", names[i]);
        if (!text) continue;
        net_desc d, d2;
        char a[NET_TEXT_MAX], b[NET_TEXT_MAX];
        dann_error err = {0};
        CHECK(net_parse(&d, text, &err) == DANN_OK, "%s: %s", names[i], err.msg);
        net_format(&d, a, sizeof a);
        CHECK(net_parse(&d2, a, &err) == DANN_OK, "%s canonical: %s", names[i], err.msg);
        net_format(&d2, b, sizeof b);
        CHECK(!strcmp(a, b), "%s: canonical text not stable:\n      %s\n      %s", names[i], a, b);
        CHECK(!memcmp(&d, &d2, sizeof d), "%s: canonical text parses to another network", names[i]);
        CHECK(!strcmp(net_preset_of(a), names[i]), "%s: not recognised from its text", names[i]);
    }
    /* Spacing, case, newlines and defaults written out do not matter. */
    net_desc d1, d2;
    dann_error err = {0};
    CHECK(net_parse(&d1, "in 3x28x28; features: conv(64,5) relu maxpool(2); class: fc(10); domain: fc(2)", &err) == DANN_OK &&
              net_parse(&d2, "IN 3 x 28 x 28 ;\n features : conv( 64 , 5 , stride=1, pad=0 ) RELU\n"
                             "  maxpool(2,stride=2) ; class: fc(10) ; domain:fc( 2 )  ", &err) == DANN_OK,
          "parse: %s", err.msg);
    CHECK(!memcmp(&d1, &d2, sizeof d1), "the same network written two ways parses differently");
}

/* docs/NETWORKS.md's preset table is the presets of the code. */
TEST(netdesc_presets_match_the_docs) {
    FILE *f = fopen("docs/NETWORKS.md", "r");
    if (!f) SKIP("docs/NETWORKS.md not found (run from the repository root)");
    char line[4096];
    int found = 0;
    while (fgets(line, sizeof line, f)) {
        char name[64];
        const char *tick = strstr(line, "| `");
        if (strncmp(line, "| `", 3) || !tick || sscanf(line, "| `%63[^`]`", name) != 1) continue;
        const char *text = net_preset(name);
        if (!text) continue;
        const char *d = strstr(line + 3 + strlen(name), "| `");
        CHECK(d != NULL, "docs row of %s has no description", name);
        if (!d) continue;
        char doc[4096];
        if (sscanf(d, "| `%4095[^`]`", doc) != 1) continue;
        found++;
        CHECK(!strcmp(doc, text), "preset %s:\n      docs %s\n      code %s", name, doc, text);
    }
    fclose(f);
    CHECK(found == 5, "%d of 5 presets found in docs/NETWORKS.md's table", found);
}

/* The state_dict naming rule: each kind counted from 1 within its section. */
TEST(netdesc_tensor_names) {
    dann_model *m = NULL;
    dann_error err = {0};
    const char *net = "in 3x16x16; features: conv(4,3) bn maxpool(2) relu conv(5,3) relu bn maxpool(2);"
                      " class: fc(6) bn relu dropout(0.5) fc(7) bn relu fc(3); domain: fc(4) bn relu fc(2)";
    if (dann_model_new(&m, net, 1, 2, &err)) {
        CHECK(0, "%s", err.msg);
        return;
    }
    static const char *const want[] = {
        "feature.f_conv1.weight", "feature.f_conv1.bias", "feature.f_bn1.weight", "feature.f_bn1.bias",
        "feature.f_bn1.running_mean", "feature.f_bn1.running_var", "feature.f_bn1.num_batches_tracked",
        "feature.f_conv2.weight", "feature.f_conv2.bias", "feature.f_bn2.weight", "feature.f_bn2.bias",
        "feature.f_bn2.running_mean", "feature.f_bn2.running_var", "feature.f_bn2.num_batches_tracked",
        "class_classifier.c_fc1.weight", "class_classifier.c_fc1.bias", "class_classifier.c_bn1.weight",
        "class_classifier.c_bn1.bias", "class_classifier.c_bn1.running_mean",
        "class_classifier.c_bn1.running_var", "class_classifier.c_bn1.num_batches_tracked",
        "class_classifier.c_fc2.weight", "class_classifier.c_fc2.bias", "class_classifier.c_bn2.weight",
        "class_classifier.c_bn2.bias", "class_classifier.c_bn2.running_mean",
        "class_classifier.c_bn2.running_var", "class_classifier.c_bn2.num_batches_tracked",
        "class_classifier.c_fc3.weight", "class_classifier.c_fc3.bias",
        "domain_classifier.d_fc1.weight", "domain_classifier.d_fc1.bias", "domain_classifier.d_bn1.weight",
        "domain_classifier.d_bn1.bias", "domain_classifier.d_bn1.running_mean",
        "domain_classifier.d_bn1.running_var", "domain_classifier.d_bn1.num_batches_tracked",
        "domain_classifier.d_fc2.weight", "domain_classifier.d_fc2.bias",
    };
    int n = dann_model_tensors(m, 0, NULL);
    CHECK(n == (int)(sizeof want / sizeof *want), "%d tensors, want %zu", n, sizeof want / sizeof *want);
    for (int i = 0; i < n && i < (int)(sizeof want / sizeof *want); i++) {
        dann_tensor_info ti;
        dann_model_tensors(m, i, &ti);
        CHECK(!strcmp(ti.name, want[i]), "tensor %d is %s, want %s", i, ti.name, want[i]);
    }
    /* conv2 (5 channels, 3x3 over 4 channels) on the 7x7 pooled map: 5x5, pooled to 2x2 */
    CHECK(dann_model_feature_dim(m) == 5 * 2 * 2, "feature dim %d, want 20", dann_model_feature_dim(m));
    dann_model_free(m);
}

static void expect_error(const char *net, const char *what) {
    dann_model *m = (dann_model *)&what;
    dann_error err = {0};
    dann_status st = dann_model_new(&m, net, 1, 2, &err);
    CHECK(st == DANN_ERR_ARG && m == NULL, "'%s' compiled (status %d)", net, (int)st);
    CHECK(strstr(err.msg, what) != NULL, "'%s': message lacks '%s': %s", net, what, err.msg);
    CHECK(strchr(err.msg, '\n') == NULL, "message not one line: %s", err.msg);
}

TEST(netdesc_errors_name_the_layer) {
#define TAIL "; class: fc(10); domain: fc(2)"
    expect_error("in 3x28x28; features: conv(8,5) maxpool(2) conv(8,5) maxpool(2) conv(8,5)" TAIL,
                 "feature.f_conv3: kernel 5 larger than its 4x4 input");
    expect_error("in 3x28x28; features: conv(8,5) maxpool(2) conv(8,5) maxpool(2) maxpool(5)" TAIL,
                 "feature.f_pool3: kernel 5 larger than its 4x4 input");
    expect_error("in 100; features: conv(8,5)" TAIL, "feature.f_conv1: a convolution needs an image input");
    expect_error("in 3x8x8; features: fc(10) maxpool(2)" TAIL, "feature.f_pool1: max-pooling needs an image");
    expect_error("in 3x28x28; features: conv(8,5); class: fc(10) relu; domain: fc(2)",
                 "the class head must end in fc");
    expect_error("in 3x28x28; features: conv(8,5); class: fc(10); domain: fc(3)",
                 "the domain head must end in fc(2)");
    expect_error("in 3x28x28; features: conv(8,5); class: fc(1); domain: fc(2)", "at least 2 classes");
    expect_error("in 3x28x28; features:" TAIL, "feature extractor is empty");
    expect_error("in 3x28x28; features: conv(8)" TAIL, "conv takes 2 positional arguments, got 1");
    expect_error("in 3x28x28; features: conv(8,5,stride=0)" TAIL, "stride must be 1..64");
    expect_error("in 3x28x28; features: conv(8,5,size=3)" TAIL, "unknown argument");
    expect_error("in 3x28x28; features: dropout(1.5)" TAIL, "dropout probability must be in [0, 1)");
    expect_error("in 3x28x28; features: conv(8,5) tanh" TAIL, "features: unknown layer");
    expect_error("in 3x28x28; features: conv(8,5); class: fc(10)", "expected ';'");
    expect_error("in 3x28x28; class: fc(10); features: conv(8,5); domain: fc(2)", "expected 'features:'");
    expect_error("in 3x28; features: conv(8,5)" TAIL, "the input is CxHxW");
    expect_error("in 0x28x28; features: conv(8,5)" TAIL, "input sizes must be whole numbers");
    expect_error("in 3x28x28; features: conv(8,5)" TAIL " extra", "domain: unknown layer");
    expect_error("in 3x28x28; features: conv(8,5)" TAIL "; more: fc(2)", "unexpected text after the domain head");
    expect_error("in 0x1cx28; features: conv(8,5)" TAIL, "the input is CxHxW");
    expect_error("pyt3", "neither a preset (py3,");
    expect_error("in 3x28x28; features: fc(65536) fc(65536)" TAIL, "feature.f_fc2: weight matrix too large");
#undef TAIL
}

TEST(netdesc_adapt_and_info) {
    char buf[NET_TEXT_MAX];
    dann_error err = {0};
    int c, h, w, k, vec;
    CHECK(dann_net_adapt(buf, sizeof buf, "py3", 3, 64, 64, 20, &err) == DANN_OK, "adapt: %s", err.msg);
    CHECK(dann_net_info(buf, &c, &h, &w, &k, &vec, &err) == DANN_OK && c == 3 && h == 64 && w == 64 &&
              k == 20 && !vec, "py3 at 3x64x64, 20 classes: %dx%dx%d, %d classes (%s)", c, h, w, k, err.msg);
    dann_model *m = NULL;
    CHECK(dann_model_new(&m, buf, 1, 2, &err) == DANN_OK, "%s", err.msg);
    if (m) {
        // 64 -> 60 -> 30 -> 26 -> 13: odd, so bn2 is not fused; features 50 x 13 x 13
        CHECK(dann_model_feature_dim(m) == 50 * 13 * 13, "features %d", dann_model_feature_dim(m));
        CHECK(!strcmp(dann_model_arch(m), "custom"), "arch %s", dann_model_arch(m));
        dann_model_free(m);
    }
    CHECK(dann_net_adapt(buf, sizeof buf, "py3", 0, 0, 0, 0, &err) == DANN_OK && !strcmp(buf, net_preset("py3")),
          "unchanged py3 is not py3's text: %s", buf);
    CHECK(dann_net_adapt(buf, sizeof buf, "py3", 3, 12, 12, 0, &err) == DANN_ERR_ARG &&
              strstr(err.msg, "feature.f_conv2: kernel 5 larger than its 4x4 input"),
          "py3 at 12x12 should not compile: %s", err.msg);
    CHECK(dann_net_adapt(buf, 20, "py3", 0, 0, 0, 0, &err) == DANN_ERR_ARG, "a short buffer is an error");
    CHECK(dann_net_info("shallow", &c, &h, &w, &k, &vec, &err) == DANN_OK || 1, "shallow");
    CHECK(dann_net_is_preset("paper-svhn") && !dann_net_is_preset("in 2; features: fc(3); class: fc(2); domain: fc(2)"),
          "dann_net_is_preset");
}

/* One description found in a document: its text and, for a fenced ```dann-net PRESET [SHAPE]
 * [CLASSES] block, the preset it must equal (adapted to SHAPE and CLASSES when given). */
static void doc_example(const char *file, int line, const char *text, const char *info, int *n) {
    char canon[NET_TEXT_MAX], want[NET_TEXT_MAX], preset[32] = "";
    dann_error err = {0};
    net_desc d;
    (*n)++;
    if (net_parse(&d, text, &err) || dann_net_info(text, NULL, NULL, NULL, NULL, NULL, &err)) {
        CHECK(0, "%s:%d: the example does not compile: %s\n      %s", file, line, err.msg, text);
        return;
    }
    net_format(&d, canon, sizeof canon);
    int c = 0, h = 0, w = 0, k = 0;
    if (!info || sscanf(info, "%31s", preset) != 1) return;
    const char *rest = info + strspn(info, " ") + strlen(preset);
    if (sscanf(rest, " %dx%dx%d %d", &c, &h, &w, &k) < 3 && sscanf(rest, " %d %d", &c, &k) < 1) c = 0;
    CHECK(dann_net_adapt(want, sizeof want, preset, c, h, w, k, &err) == DANN_OK, "%s:%d: %s", file,
          line, err.msg);
    CHECK(!strcmp(canon, want), "%s:%d: the example is not %s:\n      doc    %s\n      preset %s", file,
          line, info, canon, want);
}

/* Every description written in the documentation (README.md and the .md files of docs/) compiles: fenced ```dann-net blocks, and every
 * `in ...` code span and "in ..." string (adjacent C strings joined, as in the C example). */
TEST(netdesc_doc_examples_compile) {
    struct { char path[300]; int min; } docs[64] = {{"README.md", 1}};
    int nd = 1;
    DIR *dir = opendir("docs");
    if (!dir) SKIP("docs/ not found (run from the repository root)");
    for (struct dirent *e; (e = readdir(dir)) && nd < 64;) {
        const size_t l = strlen(e->d_name);
        if (l < 4 || strcmp(e->d_name + l - 3, ".md")) continue;
        snprintf(docs[nd].path, sizeof docs[nd].path, "docs/%s", e->d_name);
        docs[nd++].min = !strcmp(e->d_name, "NETWORKS.md") ? 15 : !strcmp(e->d_name, "RECIPES.md");
    }
    closedir(dir);
    for (int i = 0; i < nd; i++) {
        FILE *f = fopen(docs[i].path, "rb");
        if (!f) SKIP("%s not found (run from the repository root)", docs[i].path);
        static char buf[1 << 18];
        size_t len = fread(buf, 1, sizeof buf - 1, f);
        fclose(f);
        buf[len] = 0;
        int n = 0;
        static char text[NET_TEXT_MAX];
        for (const char *p = buf; *p; p++) {
            if (!strncmp(p, "```dann-net", 11) && (p == buf || p[-1] == '\n')) {
                const char *eol = strchr(p, '\n'), *end = eol ? strstr(eol, "\n```") : NULL;
                if (!end) break;
                char info[96];
                const char *i0 = p + 11 + strspn(p + 11, " ");
                snprintf(info, sizeof info, "%.*s", (int)(eol > i0 ? eol - i0 : 0), i0);
                snprintf(text, sizeof text, "%.*s", (int)(end - eol - 1), eol + 1);
                int ln = 1;
                for (const char *q = buf; q < p; q++) ln += *q == '\n';
                doc_example(docs[i].path, ln, text, info[0] ? info : NULL, &n);
                p = end + 4;
                continue;
            }
            const char q0 = *p;
            if ((q0 != '"' && q0 != '`') || strncmp(p + 1, "in ", 3) || !(p[4] >= '0' && p[4] <= '9')) continue;
            size_t tl = 0;
            const char *s = p;
            for (;;) {  /* a quoted or backticked span; C strings: "..." "..." joined */
                const char *close = strchr(s + 1, q0);
                if (!close) break;
                const size_t part = (size_t)(close - s - 1);
                if (tl + part < sizeof text) memcpy(text + tl, s + 1, part), tl += part;
                s = close;
                const char *next = close + 1 + strspn(close + 1, " \t\n");
                if (q0 != '"' || *next != '"') break;
                s = next;
            }
            text[tl] = 0;
            int ln = 1;
            for (const char *q = buf; q < p; q++) ln += *q == '\n';
            doc_example(docs[i].path, ln, text, NULL, &n);
            p = s;
        }
        CHECK(n >= docs[i].min, "%s: %d descriptions found, expected at least %d", docs[i].path, n,
              docs[i].min);
        if (n) printf("    %-18s %d descriptions, all compile\n", docs[i].path, n);
    }
}
