/* test_checkpoint.c - the checkpoint format (src/io/checkpoint.c, docs/CHECKPOINT.md).
 *
 * Round trips compare every restored buffer with memcmp (bit-exact); the layout test decodes the
 * file's bytes independently at the offsets of the documented table and checks the two CRC-32s
 * with zlib; resume equivalence trains N steps, saves, loads into a fresh model and trainer,
 * trains M more and compares bit for bit with N+M uninterrupted steps (1 thread, batch 8 of
 * synthetic images); every corruption (truncation at many points, flipped bytes, bad magic,
 * version, architecture, layout, sizes) must give the documented status and a one-line message
 * naming the file; failed saves must leave no file behind and an older checkpoint intact. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>
#include "core/core.h"
#include "io/checkpoint.h"
#include "ckpt_testutil.h"
#include "test.h"

#define TB 8                    /* batch size of the synthetic steps */
#define IMG (3 * 28 * 28)

/* ---- helpers ---- */

/* The synthetic source/target batch of global step k: a pure function of k, so an interrupted
 * run sees the same data as an uninterrupted one. */
static void synth_batch(int k, float *xs, int32_t *ys, float *xt) {
    dann_rng r;
    rng_seed(&r, 1000 + (uint64_t)k);
    for (int i = 0; i < TB * IMG; i++) xs[i] = 2.0f * rng_uniform(&r) - 1.0f;
    for (int i = 0; i < TB * IMG; i++) xt[i] = 1.5f * rng_uniform(&r) - 0.5f;
    for (int b = 0; b < TB; b++) ys[b] = (int32_t)rng_below(&r, 10);
}

/* Trains steps [from, to) of a run of `total` steps on one thread (deterministic, and fastest
 * for batch 8 on a shared machine); returns 0 on success. */
static int train_range(dann_trainer *t, int from, int to, int total) {
    static float xs[TB * IMG], xt[TB * IMG];
    int32_t ys[TB];
    dann_error err;
    const int threads = dann_get_threads();
    int rc = 0;
    dann_threads_set(1);
    for (int k = from; k < to && rc == 0; k++) {
        synth_batch(k, xs, ys, xt);
        double p = (double)k / total;
        if (dann_train_step(t, xs, ys, TB, xt, NULL, TB, p, NULL, &err) != DANN_OK) {
            CHECK(0, "train step %d: %s", k, err.msg);
            rc = -1;
        }
    }
    dann_threads_set(threads);
    return rc;
}

static int new_pair(dann_model **m, dann_trainer **t, const char *preset, uint64_t seed) {
    dann_error err;
    dann_train_config cfg;
    *m = NULL;
    *t = NULL;
    if (dann_train_config_preset(&cfg, preset, &err) != DANN_OK ||
        dann_model_new(m, "py3", seed, TB, &err) != DANN_OK ||
        dann_trainer_new(t, *m, &cfg, seed + 1, &err) != DANN_OK) {
        CHECK(0, "setup: %s", err.msg);
        dann_model_free(*m);
        *m = NULL;
        return -1;
    }
    return 0;
}

static void free_pair(dann_model *m, dann_trainer *t) {
    dann_trainer_free(t);
    dann_model_free(m);
}

static ckpt_meta sample_meta(void) {
    ckpt_meta meta;
    memset(&meta, 0, sizeof meta);
    strcpy(meta.preset, "py3");
    meta.epoch = 7;
    meta.step_in_epoch = 123;
    meta.epochs = 100;
    meta.batch = TB;
    meta.seed = UINT64_C(0x0123456789abcdef);
    meta.shuffle_rng[0] = UINT64_C(0xfedcba9876543210);
    meta.shuffle_rng[1] = 1;
    meta.shuffle_rng[2] = UINT64_C(0x8000000000000000);
    meta.shuffle_rng[3] = UINT64_C(0xdeadbeefcafef00d);
    meta.best_val_acc = 0.8765f;
    meta.best_epoch = 5;
    snprintf(meta.kv, sizeof meta.kv, "classes=[\"zero\",\"ein\",\"δύο\"]\nnorm.source=0.1307,0.3081\n");
    return meta;
}

/* 1 if model/trainer pairs a and b hold bit-identical state (reports what differs). */
static int same_state(dann_model *ma, dann_trainer *ta, dann_model *mb, dann_trainer *tb,
                      const char *what) {
    const int before = test_failed_now();
    size_t na, nb, sa, sb;
    float *pa = dann_model_params(ma, &na), *pb = dann_model_params(mb, &nb);
    float *qa = dann_model_state(ma, &sa), *qb = dann_model_state(mb, &sb);
    CHECK(na == nb && memcmp(pa, pb, na * sizeof(float)) == 0, "%s: params differ", what);
    CHECK(sa == sb && memcmp(qa, qb, sa * sizeof(float)) == 0, "%s: state differs", what);
    int n = dann_model_tensors(ma, 0, NULL);
    for (int i = 0; i < n; i++) {
        dann_tensor_info ti;
        dann_model_tensors(ma, i, &ti);
        if (ti.kind == 2)
            CHECK(dann_model_bn_count(ma, i) == dann_model_bn_count(mb, i), "%s: %s differs",
                  what, ti.name);
    }
    if (ta && tb) {
        float *a2, *b2;
        float *a1 = dann_trainer_moments(ta, &a2), *b1 = dann_trainer_moments(tb, &b2);
        CHECK(memcmp(a1, b1, na * sizeof(float)) == 0, "%s: moment1 differs", what);
        CHECK((a2 == NULL) == (b2 == NULL) && (!a2 || memcmp(a2, b2, na * sizeof(float)) == 0),
              "%s: moment2 differs", what);
        CHECK(dann_trainer_steps(ta) == dann_trainer_steps(tb), "%s: steps %lld vs %lld", what,
              (long long)dann_trainer_steps(ta), (long long)dann_trainer_steps(tb));
        CHECK(memcmp(dann_trainer_rng(ta), dann_trainer_rng(tb), 4 * sizeof(uint64_t)) == 0,
              "%s: trainer RNG differs", what);
        const dann_train_config *ca = dann_trainer_config(ta), *cb = dann_trainer_config(tb);
        const double da[] = {ca->lr, ca->beta1, ca->beta2, ca->eps, ca->momentum, ca->weight_decay,
                             ca->lr_alpha, ca->lr_beta, ca->gamma, ca->lambda_max};
        const double db[] = {cb->lr, cb->beta1, cb->beta2, cb->eps, cb->momentum, cb->weight_decay,
                             cb->lr_alpha, cb->lr_beta, cb->gamma, cb->lambda_max};
        CHECK(ca->mode == cb->mode && ca->optimizer == cb->optimizer &&
                  ca->lr_schedule == cb->lr_schedule && memcmp(da, db, sizeof da) == 0,
              "%s: training configuration differs", what);
    }
    return test_failed_now() == before;
}

/* ---- tests ---- */

TEST(ckpt_roundtrip_adam_bit_exact) {
    dann_model *m, *m2;
    dann_trainer *t, *t2;
    if (new_pair(&m, &t, "py3", 11)) return;
    if (train_range(t, 0, 3, 10)) goto out;
    char path[512];
    snprintf(path, sizeof path, "%s/a.ckpt", test_tmpdir());
    ckpt_meta meta = sample_meta(), back;
    memset(&back, 0xa5, sizeof back);
    dann_error err;
    CHECK(ckpt_save(path, m, t, &meta, &err) == DANN_OK, "save: %s", err.msg);
    if (ckpt_load(path, 0, &m2, &t2, &back, &err) != DANN_OK) {
        CHECK(0, "load: %s", err.msg);
        goto out;
    }
    same_state(m, t, m2, t2, "adam round trip");
    /* Hand values: 3 DANN steps forward source and target through every BatchNorm layer. */
    CHECK(dann_trainer_steps(t2) == 3, "steps %lld, want 3", (long long)dann_trainer_steps(t2));
    int n = dann_model_tensors(m2, 0, NULL), counters = 0;
    for (int i = 0; i < n; i++) {
        dann_tensor_info ti;
        dann_model_tensors(m2, i, &ti);
        if (ti.kind != 2) continue;
        counters++;
        CHECK(dann_model_bn_count(m2, i) == 6, "%s = %lld, want 6", ti.name,
              (long long)dann_model_bn_count(m2, i));
    }
    CHECK(counters == 5, "%d BatchNorm counters, want 5", counters);
    CHECK(strcmp(dann_model_arch(m2), "py3") == 0, "arch %s", dann_model_arch(m2));
    CHECK(dann_model_max_batch(m2) == TB, "max batch %d, want the stored %d",
          dann_model_max_batch(m2), TB);
    CHECK(strcmp(back.kv, meta.kv) == 0, "key/value lines '%s', want '%s'", back.kv, meta.kv);
    CHECK(strcmp(dann_model_description(m2), dann_model_description(m)) == 0, "network '%s'",
          dann_model_description(m2));
    CHECK(strcmp(back.preset, "py3") == 0 && back.epoch == 7 && back.step_in_epoch == 123 &&
              back.epochs == 100 && back.batch == TB && back.seed == meta.seed &&
              memcmp(back.shuffle_rng, meta.shuffle_rng, sizeof meta.shuffle_rng) == 0 &&
              back.best_epoch == 5 && memcmp(&back.best_val_acc, &meta.best_val_acc, 4) == 0,
          "meta fields not restored");
    struct stat st;
    char tmp[600];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    CHECK(stat(tmp, &st) != 0, "%s left behind after a successful save", tmp);
    free_pair(m2, t2);
out:
    free_pair(m, t);
}

TEST(ckpt_roundtrip_sgd_and_explicit_batch) {
    dann_model *m, *m2;
    dann_trainer *t, *t2;
    if (new_pair(&m, &t, "paper", 21)) return;
    if (train_range(t, 0, 2, 10)) goto out;
    char path[512];
    snprintf(path, sizeof path, "%s/s.ckpt", test_tmpdir());
    dann_error err;
    CHECK(ckpt_save(path, m, t, NULL, &err) == DANN_OK, "save: %s", err.msg);
    if (ckpt_load(path, 32, &m2, &t2, NULL, &err) != DANN_OK) {
        CHECK(0, "load: %s", err.msg);
        goto out;
    }
    same_state(m, t, m2, t2, "sgd round trip");
    float *m2b;
    dann_trainer_moments(t2, &m2b);
    CHECK(m2b == NULL, "SGD trainer has a second moment");
    CHECK(dann_model_max_batch(m2) == 32, "max batch %d, want 32", dann_model_max_batch(m2));
    CHECK(dann_trainer_config(t2)->optimizer == DANN_OPT_SGD &&
              dann_trainer_config(t2)->lr_schedule == 1 && dann_trainer_config(t2)->lr == 0.01 &&
              dann_trainer_config(t2)->momentum == 0.9,
          "paper configuration not restored");
    ckpt_info info;
    CHECK(ckpt_peek(path, &info, &err) == DANN_OK, "peek: %s", err.msg);
    size_t len;
    unsigned char *b = read_all(path, &len);
    CHECK(b && info.file_size == len, "peek file_size %llu, file %zu",
          (unsigned long long)info.file_size, len);
    CHECK(info.has_trainer && !info.has_moment2 && info.steps == 2 && info.meta.batch == 0,
          "peek fields");
    free(b);
    free_pair(m2, t2);
out:
    free_pair(m, t);
}

TEST(ckpt_weights_only) {
    dann_model *m, *m2;
    dann_trainer *t, *t2;
    if (new_pair(&m, &t, "py3", 31)) return;
    if (train_range(t, 0, 1, 10)) goto out;
    char path[512];
    snprintf(path, sizeof path, "%s/w.ckpt", test_tmpdir());
    dann_error err;
    CHECK(ckpt_save(path, m, NULL, NULL, &err) == DANN_OK, "save: %s", err.msg);
    size_t n_params, n_state, len;
    dann_model_params(m, &n_params);
    dann_model_state(m, &n_state);
    unsigned char *b = read_all(path, &len);
    const size_t T = b && len > 320 ? le32(b + 272) : 0;  /* the version-2 text block */
    CHECK(b && len == 320 + T + 4 * (n_params + n_state) + 8 * 5 + 4, "weights-only size %zu", len);
    free(b);
    if (ckpt_load(path, 0, &m2, NULL, NULL, &err) != DANN_OK) {
        CHECK(0, "load: %s", err.msg);
        goto out;
    }
    same_state(m, NULL, m2, NULL, "weights only");
    dann_model_free(m2);
    expect_load_fail(path, NULL, 0, DANN_ERR_FORMAT, "weights only", "resume from weights");
    t2 = NULL;
    (void)t2;
out:
    free_pair(m, t);
}

/* The bytes at the documented offsets (docs/CHECKPOINT.md), decoded here independently. */
TEST(ckpt_layout_matches_doc) {
    dann_model *m;
    dann_trainer *t;
    if (new_pair(&m, &t, "py3", 41)) return;
    if (train_range(t, 0, 3, 10)) goto out;
    char path[512];
    snprintf(path, sizeof path, "%s/l.ckpt", test_tmpdir());
    ckpt_meta meta = sample_meta();
    dann_error err;
    CHECK(ckpt_save(path, m, t, &meta, &err) == DANN_OK, "save: %s", err.msg);
    size_t len, n_params, n_state;
    float *p = dann_model_params(m, &n_params), *s = dann_model_state(m, &n_state);
    /* py3 by hand: conv1 64*75+64, conv2 50*1600+50, c_fc1 800*100+100, c_fc2 100*100+100,
     * c_fc3 100*10+10, d_fc1 800*100+100, d_fc2 100*2+2, BatchNorm weight+bias 2*(64+50+300);
     * state: running mean+var of the same 414 channels. */
    CHECK(n_params == 257254 && n_state == 828, "py3 sizes %zu/%zu", n_params, n_state);
    unsigned char *b = read_all(path, &len);
    if (!b) {
        CHECK(0, "cannot read %s", path);
        goto out;
    }
    /* the text block: the network, then the caller's key/value lines */
    static char text[CKPT_TEXT_MAX + 1];
    snprintf(text, sizeof text, "net=%s\n%s", dann_model_description(m), meta.kv);
    const size_t T = strlen(text);
    const size_t want = 320 + T + 4 * (3 * n_params + n_state) + 8 * 5 + 4;
    CHECK(len == want, "file size %zu, want %zu", len, want);
    if (len != want) goto done;
    CHECK(memcmp(b, "DANNCKPT", 8) == 0, "magic");
    CHECK(le32(b + 8) == 2 && le32(b + 12) == 320, "version %u header size %u", le32(b + 8),
          le32(b + 12));
    CHECK(le32(b + 272) == T, "text length %u, want %zu", le32(b + 272), T);
    CHECK(memcmp(b + 320, text, T) == 0, "text block differs from '%s'", text);
    CHECK(le32(b + 276) == (uint32_t)crc32(0L, (const unsigned char *)text, (uInt)T), "text crc");
    CHECK(memcmp(b + 16, "py3\0\0\0\0\0\0\0\0\0\0\0\0\0", 16) == 0, "arch field");
    CHECK(memcmp(b + 32, "py3\0\0\0\0\0\0\0\0\0\0\0\0\0", 16) == 0, "preset field");
    CHECK(le32(b + 48) == 3, "flags %u, want 3 (trainer + moment2)", le32(b + 48));
    /* 0x6ec8cc68: zlib.crc32 of the documented encoding of py3's state_dict table, computed in
     * Python from the PyTorch names and shapes (docs/CHECKPOINT.md). */
    CHECK(le32(b + 52) == 0x6ec8cc68u && ckpt_fingerprint(m) == 0x6ec8cc68u,
          "fingerprint %08x, want 6ec8cc68", le32(b + 52));
    CHECK(le32(b + 56) == 0 && le32(b + 60) == 0, "mode/optimizer");
    CHECK(f64_at(b + 64) == 1e-3 && f64_at(b + 72) == 0.9 && f64_at(b + 80) == 0.999 &&
              f64_at(b + 88) == 1e-8 && f64_at(b + 96) == 0.0 && f64_at(b + 104) == 0.0 &&
              f64_at(b + 112) == 10.0 && f64_at(b + 120) == 0.75 && f64_at(b + 128) == 10.0 &&
              f64_at(b + 136) == 1.0,
          "config doubles");
    CHECK(le32(b + 144) == 0, "lr_schedule");
    CHECK(le32(b + 148) == 7 && le32(b + 152) == 123 && le32(b + 156) == 100 &&
              le32(b + 160) == TB && le32(b + 164) == 5 && f32_at(b + 168) == 0.8765f,
          "run position fields");
    CHECK(le32(b + 172) == 5, "bn counter count %u", le32(b + 172));
    CHECK(le64(b + 176) == 3, "steps %llu", (unsigned long long)le64(b + 176));
    CHECK(le64(b + 184) == UINT64_C(0x0123456789abcdef), "seed");
    CHECK(le64(b + 192) == n_params && le64(b + 200) == n_state, "sizes");
    const uint64_t *rng = dann_trainer_rng(t);
    for (int i = 0; i < 4; i++) {
        CHECK(le64(b + 208 + 8 * i) == rng[i], "trainer rng word %d", i);
        CHECK(le64(b + 240 + 8 * i) == meta.shuffle_rng[i], "shuffle rng word %d", i);
    }
    int zero = 1;
    for (int i = 280; i < 316; i++) zero &= b[i] == 0;
    CHECK(zero, "reserved bytes not zero");
    CHECK(le32(b + 316) == (uint32_t)crc32(0L, b, 316), "header crc");
    CHECK(le32(b + len - 4) == (uint32_t)crc32(0L, b, (uInt)(len - 4)), "file crc");
    size_t off = 320 + T;
    CHECK(f32_at(b + off) == p[0] && f32_at(b + off + 4 * (n_params - 1)) == p[n_params - 1],
          "first/last parameter");
    off += 4 * n_params;
    CHECK(f32_at(b + off) == s[0] && f32_at(b + off + 4 * (n_state - 1)) == s[n_state - 1],
          "first/last state value");
    off += 4 * n_state;
    for (int i = 0; i < 5; i++) CHECK(le64(b + off + 8 * i) == 6, "bn counter %d", i);
    off += 40;
    float *v, *mo = dann_trainer_moments(t, &v);
    CHECK(f32_at(b + off) == mo[0] && f32_at(b + off + 4 * n_params) == v[0], "moments");
done:
    free(b);
out:
    free_pair(m, t);
}

/* Train N, save, load into fresh objects, train M == train N+M uninterrupted, bit for bit. */
static void resume_case(const char *preset, int N, int M) {
    const int total = N + M;
    dann_model *mu = NULL, *mr = NULL, *ml = NULL;
    dann_trainer *tu = NULL, *tr = NULL, *tl = NULL;
    char path[512];
    snprintf(path, sizeof path, "%s/r.ckpt", test_tmpdir());
    dann_error err;
    if (new_pair(&mu, &tu, preset, 51) || train_range(tu, 0, total, total)) goto out;
    if (new_pair(&mr, &tr, preset, 51) || train_range(tr, 0, N, total)) goto out;
    CHECK(ckpt_save(path, mr, tr, NULL, &err) == DANN_OK, "save: %s", err.msg);
    if (ckpt_load(path, TB, &ml, &tl, NULL, &err) != DANN_OK) {
        CHECK(0, "load: %s", err.msg);
        goto out;
    }
    /* The loaded trainer continues; so does the original, to show the test is sensitive: a
     * trainer whose RNG is perturbed after the save must end elsewhere. */
    if (train_range(tl, N, total, total)) goto out;
    char what[64];
    snprintf(what, sizeof what, "%s resume %d+%d", preset, N, M);
    same_state(mu, tu, ml, tl, what);
    dann_trainer_rng(tr)[0] ^= 1;
    if (train_range(tr, N, total, total)) goto out;
    size_t n;
    float *pu = dann_model_params(mu, &n), *pr = dann_model_params(mr, NULL);
    CHECK(memcmp(pu, pr, n * sizeof(float)) != 0, "%s: a different dropout RNG went unnoticed",
          preset);
out:
    free_pair(mu, tu);
    free_pair(mr, tr);
    free_pair(ml, tl);
}

TEST(ckpt_resume_equivalence_adam) { resume_case("py3", 3, 2); }
TEST(ckpt_resume_equivalence_sgd) { resume_case("paper", 1, 2); }

TEST(ckpt_corruption) {
    dann_model *m;
    dann_trainer *t;
    if (new_pair(&m, &t, "py3", 61)) return;
    const char *dir = test_tmpdir();
    char good[512], bad[512];
    snprintf(good, sizeof good, "%s/good.ckpt", dir);
    snprintf(bad, sizeof bad, "%s/bad.ckpt", dir);
    ckpt_meta meta = sample_meta();
    dann_error err;
    size_t len;
    unsigned char *b = NULL;
    if (train_range(t, 0, 1, 10)) goto out;
    CHECK(ckpt_save(good, m, t, &meta, &err) == DANN_OK, "save: %s", err.msg);
    b = read_all(good, &len);
    if (!b) {
        CHECK(0, "cannot read %s", good);
        goto out;
    }
    size_t n_params, n_state;
    dann_model_params(m, &n_params);
    dann_model_state(m, &n_state);
    const size_t T = le32(b + 272), o_text = 320, o_params = o_text + T;
    const size_t o_state = o_params + 4 * n_params, o_count = o_state + 4 * n_state;
    const size_t o_m1 = o_count + 40, o_m2 = o_m1 + 4 * n_params;

    char missing[600];
    snprintf(missing, sizeof missing, "%s/nope.ckpt", dir);
    expect_load_fail(missing, NULL, 0, DANN_ERR_IO, "cannot open", "missing file");
    ckpt_info info;
    CHECK(ckpt_peek(missing, &info, &err) == DANN_ERR_IO && strstr(err.msg, missing),
          "peek of a missing file: %s", err.msg);
    expect_load_fail(bad, b, 0, DANN_ERR_FORMAT, "empty", "empty file");

    /* Truncations: inside the magic, the header, each payload, the final CRC. */
    const size_t cuts[] = {3, 8, 11, 12, 100, 315, 319, 320, 321, o_params - 1, o_params,
                           o_params + 1000, o_state - 1, o_state + 5,
                           o_count + 3, o_m1, o_m1 + 4 * 1000, o_m2 - 1, o_m2 + 12345,
                           len - 4, len - 1};
    for (size_t i = 0; i < sizeof cuts / sizeof *cuts; i++) {
        char label[64];
        snprintf(label, sizeof label, "truncated at %zu", cuts[i]);
        expect_load_fail(bad, b, cuts[i], DANN_ERR_FORMAT, "truncated", label);
    }
    /* One byte too many. */
    unsigned char *big = malloc(len + 1);
    if (big) {
        memcpy(big, b, len);
        big[len] = 0;
        expect_load_fail(bad, big, len + 1, DANN_ERR_FORMAT, "unexpected bytes", "trailing byte");
        free(big);
    }
    /* Flipped payload bytes (and the final CRC itself): the file checksum. */
    for (size_t at = o_text; at < o_params; at += T / 3) {
        char label[64];
        snprintf(label, sizeof label, "flipped text byte %zu", at);
        b[at] ^= 0x10;
        expect_load_fail(bad, b, len, DANN_ERR_FORMAT, "text block checksum mismatch", label);
        b[at] ^= 0x10;
    }
    const size_t flips[] = {o_params, o_params + 4 * 1000 + 2,
                            o_state + 7, o_count, o_count + 39,
                            o_m1 + 3, o_m2 + 4 * (n_params - 1) + 3, len - 4, len - 1};
    for (size_t i = 0; i < sizeof flips / sizeof *flips; i++) {
        char label[64];
        snprintf(label, sizeof label, "flipped byte %zu", flips[i]);
        b[flips[i]] ^= 0x10;
        expect_load_fail(bad, b, len, DANN_ERR_FORMAT, "checksum mismatch", label);
        b[flips[i]] ^= 0x10;
    }
    /* Header bytes: the header checksum. */
    b[70] ^= 0x01;
    expect_load_fail(bad, b, len, DANN_ERR_FORMAT, "corrupt header", "flipped lr byte");
    b[70] ^= 0x01;
    b[316] ^= 0x80;
    expect_load_fail(bad, b, len, DANN_ERR_FORMAT, "corrupt header", "flipped header crc");
    b[316] ^= 0x80;
    /* Wrong magic, unsupported version. */
    b[0] = 'X';
    expect_load_fail(bad, b, len, DANN_ERR_FORMAT, "not a dann checkpoint", "bad magic");
    CHECK(ckpt_peek(bad, &info, &err) == DANN_ERR_FORMAT && strstr(err.msg, "bad magic"),
          "peek of bad magic: %s", err.msg);
    b[0] = 'D';
    set_le32(b + 8, 99);
    expect_load_fail(bad, b, len, DANN_ERR_FORMAT, "unsupported checkpoint version 99",
                     "version 99");
    expect_load_fail(bad, b, 40, DANN_ERR_FORMAT, "version 99", "version 99, truncated");
    set_le32(b + 8, 2);
    /* Edits with valid CRCs reach the semantic checks. */
    unsigned char *e = malloc(len);
    if (!e) goto out;
    memcpy(e, b, len);
    memcpy(e + 16, "nonesuch", 8);
    fix_crcs(e, len);
    expect_load_fail(bad, e, len, DANN_ERR_FORMAT, "architecture field 'nonesuch'", "arch name");
    /* The stored network must compile, and be the one the tensors were written for. */
    memcpy(e, b, len);
    {
        unsigned char *net = find_bytes(e + o_text, T, "conv(50,5)");
        CHECK(net != NULL, "py3's text lacks conv(50,5)");
        if (net) memcpy(net, "conv(50,9)", 10);  /* 12x12 input: still compiles, other shapes */
        memcpy(e + 16, "custom\0\0\0\0\0\0\0\0\0\0", 16);
        fix_crcs(e, len);
        expect_load_fail(bad, e, len, DANN_ERR_FORMAT, "tensor layout differs", "edited network");
        memcpy(e, b, len);
        net = find_bytes(e + o_text, T, "conv(50,5)");
        if (net) memcpy(net, "conv(50,99", 10);
        fix_crcs(e, len);
        expect_load_fail(bad, e, len, DANN_ERR_FORMAT, "stored network", "broken network text");
        memcpy(e, b, len);
        e[o_text] = 'x';  /* "xet=": no network line */
        fix_crcs(e, len);
        expect_load_fail(bad, e, len, DANN_ERR_FORMAT, "malformed text block", "text key");
        memcpy(e, b, len);
        e[o_text + 10] = '\0';
        fix_crcs(e, len);
        expect_load_fail(bad, e, len, DANN_ERR_FORMAT, "malformed text block", "NUL in text");
        memcpy(e, b, len);
        set_le32(e + 272, 0x7fffffff);
        fix_crcs(e, len);
        expect_load_fail(bad, e, len, DANN_ERR_FORMAT, "text block of", "huge text length");
        memcpy(e, b, len);
        set_le32(e + 272, (uint32_t)T + 4);
        fix_crcs(e, len);
        expect_load_fail(bad, e, len, DANN_ERR_FORMAT, "", "text length past its end");
    }
    memcpy(e, b, len);
    set_le32(e + 52, le32(e + 52) ^ 1);
    fix_crcs(e, len);
    expect_load_fail(bad, e, len, DANN_ERR_FORMAT, "tensor layout differs", "fingerprint");
    memcpy(e, b, len);
    e[192] ^= 1;     /* n_params + 1 */
    fix_crcs(e, len);
    expect_load_fail(bad, e, len, DANN_ERR_FORMAT, "sizes do not match", "n_params");
    memcpy(e, b, len);
    e[172] = 4;      /* 4 BatchNorm counters instead of 5 */
    fix_crcs(e, len);
    expect_load_fail(bad, e, len, DANN_ERR_FORMAT, "sizes do not match", "counter count");
    memcpy(e, b, len);
    e[300] = 1;
    fix_crcs(e, len);
    expect_load_fail(bad, e, len, DANN_ERR_FORMAT, "reserved", "reserved byte");
    memcpy(e, b, len);
    set_le32(e + 8, 1);  /* version 1 has no text block: its length field must be zero */
    fix_crcs(e, len);
    expect_load_fail(bad, e, len, DANN_ERR_FORMAT, "reserved", "version 1 with a text block");
    memcpy(e, b, len);
    e[60] = 7;
    fix_crcs(e, len);
    expect_load_fail(bad, e, len, DANN_ERR_FORMAT, "unknown optimizer 7", "optimizer");
    memcpy(e, b, len);
    e[48] = 1;       /* Adam without its second moment */
    fix_crcs(e, len);
    expect_load_fail(bad, e, len, DANN_ERR_FORMAT, "second-moment flag", "flags");
    memcpy(e, b, len);
    e[o_count + 7] = 0x80;  /* a negative BatchNorm counter */
    fix_crcs(e, len);
    expect_load_fail(bad, e, len, DANN_ERR_FORMAT, "counter out of range", "counter sign");
    memcpy(e, b, len);
    set_le32(e + 64, 0);
    set_le32(e + 68, 0);    /* lr 0: the header's field check rejects the configuration */
    fix_crcs(e, len);
    expect_load_fail(bad, e, len, DANN_ERR_FORMAT, "field lr out of range", "lr 0");
    free(e);
    /* The good file still loads. */
    dann_model *m2;
    dann_trainer *t2;
    CHECK(ckpt_load(good, 0, &m2, &t2, NULL, &err) == DANN_OK, "good file: %s", err.msg);
    if (!test_failed_now()) free_pair(m2, t2);
out:
    free(b);
    free_pair(m, t);
}

/* Random single-byte changes and truncations of a weights-only file never load and never crash
 * (run under SANITIZE=1 to catch out-of-bounds accesses). */
TEST(ckpt_fuzz_flips) {
    dann_model *m;
    dann_error err;
    if (dann_model_new(&m, "py3", 71, TB, &err) != DANN_OK) {
        CHECK(0, "model: %s", err.msg);
        return;
    }
    const char *dir = test_tmpdir();
    char good[512], bad[512];
    snprintf(good, sizeof good, "%s/good.ckpt", dir);
    snprintf(bad, sizeof bad, "%s/bad.ckpt", dir);
    ckpt_meta meta = sample_meta();
    size_t len;
    unsigned char *b = NULL;
    CHECK(ckpt_save(good, m, NULL, &meta, &err) == DANN_OK, "save: %s", err.msg);
    if (!(b = read_all(good, &len))) goto out;
    dann_rng r;
    rng_seed(&r, 2024);
    for (int i = 0; i < 48 && !test_failed_now(); i++) {
        /* Half the flips land in the header, where the decoder does the most work. */
        size_t pos = i % 2 ? rng_below(&r, 320) : rng_below(&r, (uint32_t)len);
        unsigned char x = (unsigned char)(1 + rng_below(&r, 255));
        b[pos] ^= x;
        dann_model *m2 = NULL;
        if (write_all(bad, b, len) == 0) {
            dann_status s = ckpt_load(bad, 0, &m2, NULL, NULL, &err);
            CHECK(s == DANN_ERR_FORMAT && m2 == NULL && strstr(err.msg, bad),
                  "byte %zu ^ 0x%02x: status %d, %s", pos, x, (int)s, err.msg);
            if (s == DANN_OK) dann_model_free(m2);
        }
        b[pos] ^= x;
    }
    for (int i = 0; i < 16 && !test_failed_now(); i++) {
        size_t cut = rng_below(&r, (uint32_t)len);
        dann_model *m2 = NULL;
        if (write_all(bad, b, cut) == 0) {
            dann_status s = ckpt_load(bad, 0, &m2, NULL, NULL, &err);
            CHECK(s == DANN_ERR_FORMAT && m2 == NULL, "cut at %zu: status %d, %s", cut, (int)s,
                  err.msg);
            if (s == DANN_OK) dann_model_free(m2);
        }
    }
out:
    free(b);
    dann_model_free(m);
}

TEST(ckpt_atomic_save) {
    dann_model *m, *m2;
    dann_trainer *t;
    if (new_pair(&m, &t, "py3", 81)) return;
    const char *dir = test_tmpdir();
    char path[512], tmp[600], nodir[600];
    dann_error err;
    struct stat st;
    size_t n;
    float *p = dann_model_params(m, &n);
    float *orig = malloc(n * sizeof(float));
    if (!orig) goto out;
    memcpy(orig, p, n * sizeof(float));

    /* A directory that does not exist: clean failure, nothing created. */
    snprintf(nodir, sizeof nodir, "%s/no/such/dir/x.ckpt", dir);
    CHECK(ckpt_save(nodir, m, t, NULL, &err) == DANN_ERR_IO, "save into a missing dir");
    CHECK(strstr(err.msg, nodir) != NULL && strchr(err.msg, '\n') == NULL, "message: %s", err.msg);
    snprintf(tmp, sizeof tmp, "%s/no", dir);
    CHECK(stat(tmp, &st) != 0, "%s was created", tmp);

    /* Failed saves over a good checkpoint leave it intact. */
    snprintf(path, sizeof path, "%s/keep.ckpt", dir);
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    CHECK(ckpt_save(path, m, t, NULL, &err) == DANN_OK, "first save: %s", err.msg);
    for (size_t i = 0; i < n; i++) p[i] += 1.0f;
    /* (a) the write fails midway: path.tmp is a link to /dev/full (ENOSPC on write). */
    if (stat("/dev/full", &st) == 0 && symlink("/dev/full", tmp) == 0) {
        dann_status s = ckpt_save(path, m, t, NULL, &err);
        CHECK(s == DANN_ERR_IO && strstr(err.msg, path) && strstr(err.msg, "No space"),
              "save onto /dev/full: status %d, %s", (int)s, err.msg);
        CHECK(lstat(tmp, &st) != 0, "%s left behind after a failed write", tmp);
    }
    /* (b) path.tmp cannot be created (a directory is in the way). */
    if (mkdir(tmp, 0700) == 0) {
        dann_status s = ckpt_save(path, m, t, NULL, &err);
        CHECK(s == DANN_ERR_IO && strstr(err.msg, path), "save with a blocked tmp: %s", err.msg);
        rmdir(tmp);
    }
    if (ckpt_load(path, 0, &m2, NULL, NULL, &err) == DANN_OK) {
        CHECK(memcmp(dann_model_params(m2, NULL), orig, n * sizeof(float)) == 0,
              "the old checkpoint was modified by a failed save");
        dann_model_free(m2);
    } else {
        CHECK(0, "old checkpoint no longer loads: %s", err.msg);
    }
    /* (c) the rename fails (path is a non-empty directory): tmp removed, directory untouched. */
    char sub[540], inner[560];
    snprintf(sub, sizeof sub, "%s/adir", dir);
    snprintf(inner, sizeof inner, "%s/f", sub);
    snprintf(tmp, sizeof tmp, "%s.tmp", sub);
    if (mkdir(sub, 0700) == 0 && write_all(inner, (const unsigned char *)"x", 1) == 0) {
        CHECK(ckpt_save(sub, m, t, NULL, &err) == DANN_ERR_IO && strstr(err.msg, "rename"),
              "save over a directory: %s", err.msg);
        CHECK(lstat(tmp, &st) != 0, "%s left behind after a failed rename", tmp);
        CHECK(stat(inner, &st) == 0, "the directory was changed");
    }
    /* Names that do not fit the 16-byte field. */
    ckpt_meta meta = sample_meta();
    memset(meta.preset, 'x', sizeof meta.preset);
    CHECK(ckpt_save(path, m, t, &meta, &err) == DANN_ERR_ARG, "over-long preset accepted");
out:
    free(orig);
    free_pair(m, t);
}

/* ckpt_kv_set / ckpt_kv_get on hand-made text; malformed keys and values refused. */
TEST(ckpt_kv_lines) {
    static char kv[CKPT_KV_MAX];
    char v[64];
    dann_error err;
    kv[0] = 0;
    CHECK(ckpt_kv_set(kv, "classes", "[\"a\",\"b\"]", &err) == DANN_OK, "set: %s", err.msg);
    CHECK(ckpt_kv_set(kv, "norm.source", "0.5,0.5", &err) == DANN_OK, "set: %s", err.msg);
    CHECK(ckpt_kv_set(kv, "classes", "[\"c\"]", &err) == DANN_OK, "reset: %s", err.msg);
    CHECK(strcmp(kv, "norm.source=0.5,0.5\nclasses=[\"c\"]\n") == 0, "text '%s'", kv);
    CHECK(ckpt_kv_get(kv, "classes", v, sizeof v) && !strcmp(v, "[\"c\"]"), "get classes '%s'", v);
    CHECK(ckpt_kv_get(kv, "norm.source", v, sizeof v) && !strcmp(v, "0.5,0.5"), "get norm");
    CHECK(!ckpt_kv_get(kv, "norm", v, sizeof v), "a key's prefix is not the key");
    CHECK(!ckpt_kv_get(kv, "classes", v, 3), "a value that does not fit is not returned");
    CHECK(ckpt_kv_set(kv, "Bad Key", "1", &err) == DANN_ERR_ARG, "key with a space accepted");
    CHECK(ckpt_kv_set(kv, "k", "a\nb", &err) == DANN_ERR_ARG, "value with a newline accepted");
    static char big[CKPT_KV_MAX];
    memset(big, 'x', sizeof big - 10);
    big[sizeof big - 10] = 0;
    CHECK(ckpt_kv_set(kv, "big", big, &err) == DANN_ERR_ARG, "overflow accepted");
}

/* A version-1 file (no text block; written by earlier builds, py3 only) still loads. */
TEST(ckpt_reads_version_1) {
    dann_model *m, *m2;
    dann_trainer *t, *t2;
    if (new_pair(&m, &t, "py3", 71)) return;
    if (train_range(t, 0, 2, 10)) goto out;
    char path[512], old[512];
    snprintf(path, sizeof path, "%s/v2.ckpt", test_tmpdir());
    snprintf(old, sizeof old, "%s/v1.ckpt", test_tmpdir());
    dann_error err;
    CHECK(ckpt_save(path, m, t, NULL, &err) == DANN_OK, "save: %s", err.msg);
    size_t len;
    unsigned char *b = read_all(path, &len);
    if (!b) goto out;
    const size_t T = le32(b + 272);
    memmove(b + 320, b + 320 + T, len - 320 - T);
    len -= T;
    set_le32(b + 8, 1);
    set_le32(b + 272, 0);
    set_le32(b + 276, 0);
    fix_crcs(b, len);
    CHECK(write_all(old, b, len) == 0, "write %s", old);
    if (ckpt_load(old, 0, &m2, &t2, NULL, &err) != DANN_OK) {
        CHECK(0, "version 1: %s", err.msg);
    } else {
        same_state(m, t, m2, t2, "version 1");
        free_pair(m2, t2);
    }
    memcpy(b + 16, "paper-mnist\0", 12);  /* version 1 knew only py3 */
    fix_crcs(b, len);
    expect_load_fail(old, b, len, DANN_ERR_FORMAT, "unknown architecture", "version 1, other arch");
    free(b);
out:
    free_pair(m, t);
}
