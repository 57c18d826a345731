/* test_interchange_presets.c - `dann export` / `dann import` of every preset and of the two user
 * descriptions of preset_cases.h, through the binary, against PyTorch:
 *   - with PyTorch at hand (/usr/bin/python3 imports torch; the test says "skipped" otherwise):
 *     a C model (BatchNorm parameters, statistics and counters off their defaults) is saved,
 *     exported with `dann export`, and tools/torch_interchange_check.py loads the file into the
 *     module tools/netdesc.py builds from the file's dann_net metadata with
 *     load_state_dict(strict=True) and requires the C eval log-probabilities of generated
 *     inputs from it; it then writes PyTorch-made weights of the same network (a plain
 *     state_dict), which `dann import --arch` turns into a checkpoint whose eval outputs must be
 *     torch's, and whose `dann export` gives back torch's tensors bit for bit (names, order,
 *     dtypes, shapes, bytes);
 *   - without PyTorch: the same import / outputs / re-export checks on the committed
 *     PyTorch-made weights of the small cases (tests/fixtures/torch_io_*.safetensors, made by
 *     tools/make_preset_fixtures.py; the presets' state_dict names and shapes are checked
 *     against torch in test_torch_presets).
 * Tolerance of log-probabilities: |a-b| <= 1e-5 + 1e-4 |b|. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "cli_testutil.h"
#include "dann.h"
#include "fixture_gen.h"
#include "io/checkpoint.h"
#include "io/safetensors.h"
#include "preset_cases.h"
#include "test.h"

#define ATOL 1e-5
#define RTOL 1e-4
#define PY "/usr/bin/python3"
#define FX "tests/fixtures/torch_presets.safetensors"

static int have_torch(void) {
    if (access(PY, X_OK) != 0) return 0;
    const char *args[] = {"-c", "import torch", NULL};
    return run_prog(PY, args)->rc == 0;
}

/* The case's eval inputs (seed) as a (B, in...) float tensor; *n_out its element count. */
static float *case_inputs(const preset_case *pc, const dann_model *m, uint64_t seed, int64_t *shape,
                          int *ndim, size_t *n_out) {
    int C, H, W, NC;
    dann_model_shape(m, &C, &H, &W, &NC);
    const int vec = dann_model_input_is_vector(m) != 0;
    const size_t n = (size_t)pc->BE * C * H * W;
    float *x = malloc(n * sizeof(float));
    if (!x) return NULL;
    preset_input(x, pc, pc->BE, C, (size_t)H * W, seed, pc->grey);
    shape[0] = pc->BE, shape[1] = C, shape[2] = H, shape[3] = W;
    *ndim = vec ? 2 : 4;
    *n_out = n;
    return x;
}

/* BatchNorm weights and biases, running statistics and counters moved off their defaults. */
static void perturb_bn(dann_model *m) {
    size_t np, ns;
    float *params = dann_model_params(m, &np), *state = dann_model_state(m, &ns);
    for (int i = 0; i < dann_model_tensors(m, -1, NULL); i++) {
        dann_tensor_info ti;
        dann_model_tensors(m, i, &ti);
        if (!strstr(ti.name, "_bn")) continue;
        if (ti.kind == 2) {
            dann_model_set_bn_count(m, i, ((int64_t)1 << 33) + i);
            continue;
        }
        float *x = (ti.kind == 0 ? params : state) + ti.offset;
        const int var = strstr(ti.name, "running_var") != NULL;
        for (size_t k = 0; k < ti.numel; k++) x[k] = (var ? 0.5f : -0.5f) + fixture_u(4242 + (uint64_t)i, k);
    }
}

/* Both files hold the same tensors in the same order, bit for bit. */
static void same_tensors(const char *what, const char *a_path, const char *b_path) {
    st_file a, b;
    dann_error err = {0};
    if (st_read(&a, a_path, &err)) {
        CHECK(0, "%s: %s", what, err.msg);
        return;
    }
    if (st_read(&b, b_path, &err)) {
        CHECK(0, "%s: %s", what, err.msg);
        st_free(&a);
        return;
    }
    CHECK(a.n == b.n, "%s: %d tensors, torch's file %d", what, a.n, b.n);
    int diff = 0;
    for (int i = 0; i < a.n && i < b.n; i++) {
        const st_tensor *x = &a.t[i], *y = &b.t[i];
        int same = !strcmp(x->name, y->name) && x->dtype == y->dtype && x->ndim == y->ndim &&
                   x->nbytes == y->nbytes && !memcmp(x->shape, y->shape, sizeof(int64_t) * (size_t)x->ndim);
        if (same && memcmp(x->data, y->data, x->nbytes)) same = 0;
        if (!same && !diff++)
            CHECK(0, "%s: tensor %d is %s (%s), torch's file has %s (%s), or their bytes differ", what, i,
                  x->name, st_dtype_name(x->dtype), y->name, st_dtype_name(y->dtype));
    }
    st_free(&a), st_free(&b);
}

/* `dann import TORCH --arch ARCH`, the imported model's eval outputs of x against want, and its
 * `dann export` against TORCH bit for bit. */
static void import_and_compare(const preset_case *pc, const char *dir, const char *torch_path,
                               const float *x, size_t nx, const float *want) {
    char ckpt[600], back[600], label[96];
    snprintf(ckpt, sizeof ckpt, "%s/%s.imported.ckpt", dir, pc->name);
    snprintf(back, sizeof back, "%s/%s.back.safetensors", dir, pc->name);
    const char *im[] = {"import", torch_path, "--arch", pc->arch, "--out", ckpt, NULL};
    run_result *r = run_dann(im);
    CHECK(r->rc == 0, "%s: dann import: exit %d: %s", pc->name, r->rc, r->err);
    if (r->rc) return;
    dann_model *m = NULL;
    dann_error err = {0};
    if (ckpt_load(ckpt, pc->BE, &m, NULL, NULL, &err)) {
        CHECK(0, "%s: %s", pc->name, err.msg);
        return;
    }
    CHECK(!strcmp(dann_model_arch(m), dann_net_is_preset(pc->arch) ? pc->arch : "custom"),
          "%s: the imported checkpoint holds '%s'", pc->name, dann_model_arch(m));
    int C, H, W, NC;
    dann_model_shape(m, &C, &H, &W, &NC);
    float *logp = malloc((size_t)pc->BE * NC * sizeof(float));
    if (logp && nx == (size_t)pc->BE * C * H * W) {
        dann_model_predict(m, x, pc->BE, logp);
        snprintf(label, sizeof label, "%s: imported PyTorch weights, eval log-probs", pc->name);
        double w = CHECK_CLOSE(label, logp, want, (size_t)pc->BE * NC, ATOL, RTOL);
        printf("    worst |a-b| %-52s %.3g\n", label, w);
    } else {
        CHECK(0, "%s: the imported model's input is %dx%dx%d", pc->name, C, H, W);
    }
    free(logp);
    dann_model_free(m);
    const char *ex[] = {"export", "--model", ckpt, back, NULL};
    r = run_dann(ex);
    CHECK(r->rc == 0, "%s: dann export of the import: exit %d: %s", pc->name, r->rc, r->err);
    snprintf(label, sizeof label, "%s: export of the imported weights", pc->name);
    if (!r->rc) same_tensors(label, back, torch_path);
    unlink(ckpt), unlink(back);
}

/* Writes the C side of case pc into dir: NAME.c.safetensors (`dann export` of a seeded model)
 * and NAME.x.safetensors (inputs x, the model's eval log-probabilities). Returns 1 on success. */
static int write_c_side(const preset_case *pc, const char *dir) {
    dann_model *m = NULL;
    dann_error err = {0};
    char ckpt[600], path[600];
    if (dann_model_new(&m, pc->arch, 5, pc->BE, &err)) {
        CHECK(0, "%s: %s", pc->name, err.msg);
        return 0;
    }
    perturb_bn(m);
    snprintf(ckpt, sizeof ckpt, "%s/%s.c.ckpt", dir, pc->name);
    int ok = ckpt_save(ckpt, m, NULL, NULL, &err) == DANN_OK;
    CHECK(ok, "%s: %s", pc->name, err.msg);
    snprintf(path, sizeof path, "%s/%s.c.safetensors", dir, pc->name);
    const char *ex[] = {"export", "--model", ckpt, path, NULL};
    run_result *r = ok ? run_dann(ex) : NULL;
    CHECK(!r || r->rc == 0, "%s: dann export: exit %d: %s", pc->name, r ? r->rc : -1, r ? r->err : "");
    ok = ok && r->rc == 0;
    unlink(ckpt);
    int64_t xs[4], ls[2];
    int nd, C, H, W, NC;
    size_t nx;
    dann_model_shape(m, &C, &H, &W, &NC);
    float *x = ok ? case_inputs(pc, m, 10000 * (uint64_t)(pc - PRESET_CASES + 1) + 970, xs, &nd, &nx) : NULL;
    float *logp = malloc((size_t)pc->BE * NC * sizeof(float));
    if (x && logp) {
        dann_model_predict(m, x, pc->BE, logp);
        ls[0] = pc->BE, ls[1] = NC;
        snprintf(path, sizeof path, "%s/%s.x.safetensors", dir, pc->name);
        st_writer w;
        st_writer_init(&w);
        ok = !st_writer_add(&w, "x", ST_F32, nd, xs, x, &err) &&
             !st_writer_add(&w, "logp", ST_F32, 2, ls, logp, &err) && !st_write(&w, path, &err);
        CHECK(ok, "%s: %s", pc->name, err.msg);
        st_writer_free(&w);
    } else {
        ok = 0;
    }
    free(x), free(logp);
    dann_model_free(m);
    return ok;
}

TEST(interchange_presets_with_pytorch) {
    if (!dann_bin()) SKIP("build/dann not found");
    if (!have_torch())
        SKIP("%s cannot import torch (Debian's python3-torch): the presets' export and "
             "import were not checked against PyTorch itself (interchange_torch_made_small_nets "
             "and test_torch_presets still ran)", PY);
    const char *dir = test_tmpdir();
    const char *args[N_PRESET_CASES + 4] = {"tools/torch_interchange_check.py", dir};
    int n = 2, ok = 1;
    for (int c = 0; c < N_PRESET_CASES; c++) {
        ok &= write_c_side(&PRESET_CASES[c], dir);
        args[n++] = PRESET_CASES[c].name;
    }
    args[n] = NULL;
    if (!ok) return;
    run_result *r = run_prog(PY, args);
    printf("%s", r->out);
    CHECK(r->rc == 0, "tools/torch_interchange_check.py: exit %d: %s", r->rc, r->err);
    if (r->rc) return;
    for (int c = 0; c < N_PRESET_CASES; c++) {
        const preset_case *pc = &PRESET_CASES[c];
        char xp[600], tp[600], lp[600];
        snprintf(xp, sizeof xp, "%s/%s.x.safetensors", dir, pc->name);
        snprintf(tp, sizeof tp, "%s/%s.torch.safetensors", dir, pc->name);
        snprintf(lp, sizeof lp, "%s/%s.torch_logp.safetensors", dir, pc->name);
        st_file fx, fl;
        dann_error err = {0};
        if (st_read(&fx, xp, &err) || st_read(&fl, lp, &err)) {
            CHECK(0, "%s", err.msg);
            continue;
        }
        const st_tensor *x = st_find(&fx, "x"), *want = st_find(&fl, "logp");
        CHECK(x && want, "%s: x or logp missing", pc->name);
        if (x && want) import_and_compare(pc, dir, tp, x->data, x->numel, want->data);
        st_free(&fx), st_free(&fl);
        char cp[600];
        snprintf(cp, sizeof cp, "%s/%s.c.safetensors", dir, pc->name);
        unlink(cp), unlink(tp);
    }
}

TEST(interchange_torch_made_small_nets) {
    if (!dann_bin()) SKIP("build/dann not found");
    st_file f;
    dann_error err = {0};
    if (st_read(&f, FX, &err)) {
        CHECK(0, "%s (regenerate with `make fixtures`)", err.msg);
        return;
    }
    int done = 0;
    for (int c = 0; c < N_PRESET_CASES; c++) {
        const preset_case *pc = &PRESET_CASES[c];
        char tp[200], name[96];
        snprintf(tp, sizeof tp, "tests/fixtures/torch_io_%s.safetensors", pc->name);
        if (access(tp, F_OK) != 0) continue;
        snprintf(name, sizeof name, "%s.io_logp", pc->name);
        const st_tensor *want = st_find(&f, name);
        dann_model *m = NULL;
        if (!want || dann_model_new(&m, pc->arch, 1, pc->BE, &err)) {
            CHECK(0, "%s: %s", pc->name, want ? err.msg : "io_logp missing from " FX);
            continue;
        }
        int64_t xs[4];
        int nd;
        size_t nx;
        float *x = case_inputs(pc, m, 10000 * (uint64_t)(c + 1) + 950, xs, &nd, &nx);
        dann_model_free(m);
        if (x) import_and_compare(pc, test_tmpdir(), tp, x, nx, want->data);
        free(x);
        done++;
    }
    CHECK(done == 3, "%d of the 3 committed PyTorch-made weight files found", done);
    st_free(&f);
}
