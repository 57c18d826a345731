/* test_safetensors.c - the safetensors reader and writer: C->C round trip, a file written by
 * tools/st.py (tests/fixtures/st_small.safetensors, made by tools/make_fixtures.py), and every
 * kind of malformed file failing cleanly with the file's name in the message. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "io/safetensors.h"
#include "test.h"

#define ST_FIXTURE "tests/fixtures/st_small.safetensors"

static int write_bytes(const char *path, const void *buf, size_t n) {
    FILE *fp = fopen(path, "wb");
    if (!fp) return 0;
    int ok = fwrite(buf, 1, n, fp) == n;
    return fclose(fp) == 0 && ok;
}

/* Writes an 8-byte length, the JSON header and data_len zero bytes. */
static int write_st(const char *path, const char *json, size_t data_len) {
    size_t n = strlen(json), total = 8 + n + data_len;
    unsigned char *buf = calloc(total, 1);
    if (!buf) return 0;
    for (int k = 0; k < 8; k++) buf[k] = (unsigned char)((uint64_t)n >> (8 * k));
    memcpy(buf + 8, json, n);
    int ok = write_bytes(path, buf, total);
    free(buf);
    return ok;
}

static unsigned char *slurp(const char *path, size_t *n) {
    FILE *fp = fopen(path, "rb");
    if (!fp) return NULL;
    unsigned char *buf = malloc(1 << 20);
    *n = buf ? fread(buf, 1, 1 << 20, fp) : 0;
    fclose(fp);
    return buf;
}

TEST(st_roundtrip_c_to_c) {
    char path[512];
    snprintf(path, sizeof path, "%s/rt.safetensors", test_tmpdir());
    float f[6] = {1.5f, -2.0f, 0.0f, 3.25f, -0.125f, 1e-30f};
    int64_t i64[2] = {-5, (int64_t)1 << 50};
    int32_t i32[3] = {7, -8, 2147483647};
    uint8_t u8[5] = {0, 1, 2, 254, 255};
    float scalar = 42.0f;
    int64_t s_f[2] = {2, 3}, s_i64[1] = {2}, s_i32[3] = {1, 3, 1}, s_u8[1] = {5}, s_empty[2] = {0, 7};
    const char *odd = "we\"ird\\name\n\x01 caf\xc3\xa9";
    st_writer w;
    dann_error err = {0};
    st_writer_init(&w);
    CHECK(!st_writer_add(&w, "u8", ST_U8, 1, s_u8, u8, &err), "%s", err.msg);
    CHECK(!st_writer_add(&w, "f", ST_F32, 2, s_f, f, &err), "%s", err.msg);
    CHECK(!st_writer_add(&w, "i64", ST_I64, 1, s_i64, i64, &err), "%s", err.msg);
    CHECK(!st_writer_add(&w, "i32", ST_I32, 3, s_i32, i32, &err), "%s", err.msg);
    CHECK(!st_writer_add(&w, "scalar", ST_F32, 0, NULL, &scalar, &err), "%s", err.msg);
    CHECK(!st_writer_add(&w, "empty", ST_F32, 2, s_empty, NULL, &err), "%s", err.msg);
    CHECK(!st_writer_add(&w, odd, ST_U8, 1, s_u8, u8, &err), "%s", err.msg);
    CHECK(st_writer_add(&w, "f", ST_U8, 1, s_u8, u8, &err) == DANN_ERR_ARG, "duplicate name accepted");
    CHECK(!st_writer_meta(&w, "arch", "py3", &err), "%s", err.msg);
    CHECK(!st_writer_meta(&w, "k\"ey", "v\\al\tue\n", &err), "%s", err.msg);
    CHECK(st_writer_meta(&w, "arch", "x", &err) == DANN_ERR_ARG, "duplicate metadata key accepted");
    CHECK(!st_write(&w, path, &err), "write: %s", err.msg);
    st_writer_free(&w);
    char tmp[520];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    CHECK(access(tmp, F_OK) != 0, "%s left behind", tmp);

    st_file sf;
    if (st_read(&sf, path, &err)) {
        CHECK(0, "read back: %s", err.msg);
        return;
    }
    CHECK(sf.n == 7 && sf.n_meta == 2, "%d tensors, %d metadata entries", sf.n, sf.n_meta);
    const st_tensor *t = st_find(&sf, "f");
    CHECK(t && t->dtype == ST_F32 && t->ndim == 2 && t->shape[0] == 2 && t->shape[1] == 3 &&
          t->numel == 6 && !memcmp(t->data, f, sizeof f), "tensor f differs");
    t = st_find(&sf, "i64");
    CHECK(t && t->dtype == ST_I64 && !memcmp(t->data, i64, sizeof i64), "tensor i64 differs");
    CHECK(t && ((uintptr_t)t->data % 8) == 0, "i64 data not aligned");
    t = st_find(&sf, "i32");
    CHECK(t && t->dtype == ST_I32 && t->ndim == 3 && t->shape[1] == 3 && !memcmp(t->data, i32, sizeof i32),
          "tensor i32 differs");
    t = st_find(&sf, "scalar");
    CHECK(t && t->ndim == 0 && t->numel == 1 && *(const float *)t->data == 42.0f, "scalar differs");
    t = st_find(&sf, "empty");
    CHECK(t && t->numel == 0 && t->nbytes == 0 && t->shape[1] == 7, "empty tensor differs");
    t = st_find(&sf, odd);
    CHECK(t && t->dtype == ST_U8 && !memcmp(t->data, u8, 5), "escaped name not found or data differs");
    CHECK(!st_find(&sf, "nope"), "found a missing tensor");
    const char *v = st_meta_get(&sf, "k\"ey");
    CHECK(v && !strcmp(v, "v\\al\tue\n"), "metadata differs: %s", v ? v : "(null)");
    CHECK(!st_meta_get(&sf, "missing"), "found a missing key");
    st_free(&sf);
}

TEST(st_reads_python_file) {
    st_file sf;
    dann_error err = {0};
    if (st_read(&sf, ST_FIXTURE, &err)) {
        CHECK(0, "%s", err.msg);
        return;
    }
    static const float f32[6] = {-1.0f, -0.5f, 0.0f, 0.5f, 1.0f, 1.5f};
    static const int64_t i64[3] = {-1, 0, (int64_t)1 << 40};
    static const int32_t i32[2] = {-7, 123456};
    static const uint8_t b3[3] = {1, 2, 255};
    const st_tensor *t = st_find(&sf, "f32");
    CHECK(t && t->dtype == ST_F32 && t->ndim == 2 && t->shape[1] == 3 && !memcmp(t->data, f32, sizeof f32),
          "f32 differs");
    CHECK(t && t->offset == 3, "f32 should start at the odd offset 3");
    CHECK(t && (uintptr_t)t->data % 4 == 0, "f32 data not aligned");
    t = st_find(&sf, "i64");
    CHECK(t && t->dtype == ST_I64 && !memcmp(t->data, i64, sizeof i64), "i64 differs");
    t = st_find(&sf, "i32");
    CHECK(t && t->dtype == ST_I32 && t->ndim == 2 && !memcmp(t->data, i32, sizeof i32), "i32 differs");
    t = st_find(&sf, "bytes3");
    CHECK(t && t->dtype == ST_U8 && !memcmp(t->data, b3, 3), "bytes3 differs");
    t = st_find(&sf, "scalar");
    CHECK(t && t->ndim == 0 && *(const float *)t->data == 3.25f, "scalar differs");
    t = st_find(&sf, "empty");
    CHECK(t && t->ndim == 2 && t->numel == 0 && t->shape[1] == 4, "empty differs");
    t = st_find(&sf, "caf\xc3\xa9 \"q\"");  /* written by Python as "caf\u00e9 \"q\"" */
    CHECK(t && *(const uint8_t *)t->data == 42, "escaped unicode name not decoded");
    const char *note = st_meta_get(&sf, "note");
    CHECK(note && !strcmp(note, "line\nbreak \\ \xc3\xa9 \xf0\x9f\x98\x80"), "note: %s", note ? note : "(null)");
    CHECK(st_meta_get(&sf, "format") && !strcmp(st_meta_get(&sf, "format"), "pt"), "format metadata");
    st_free(&sf);
}

/* Each case: a header (and data length) that must be refused as DANN_ERR_FORMAT. */
static const struct { const char *why, *json; size_t data; } g_bad[] = {
    {"bad JSON: missing brace", "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}", 4},
    {"bad JSON: trailing comma", "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},}", 4},
    {"bad JSON: not an object", "[1,2]   ", 0},
    {"bad JSON: float in shape", "{\"a\":{\"dtype\":\"F32\",\"shape\":[1.0],\"data_offsets\":[0,4]}}", 4},
    {"bad JSON: negative offset", "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[-1,4]}}", 4},
    {"bad JSON: leading zero", "{\"a\":{\"dtype\":\"F32\",\"shape\":[01],\"data_offsets\":[0,4]}}", 4},
    {"bad JSON: bare word", "{\"a\":true}", 0},
    {"bad JSON: unterminated string", "{\"a", 0},
    {"bad JSON: bad escape", "{\"a\\q\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}", 4},
    {"bad JSON: lone surrogate", "{\"a\\udc00\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}", 4},
    {"bad JSON: control character", "{\"a\tb\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}", 4},
    {"bad JSON: trailing garbage", "{} x", 0},
    {"huge integer", "{\"a\":{\"dtype\":\"F32\",\"shape\":[99999999999999999999],\"data_offsets\":[0,4]}}", 4},
    {"unknown dtype", "{\"a\":{\"dtype\":\"F16\",\"shape\":[2],\"data_offsets\":[0,4]}}", 4},
    {"unknown field", "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4],\"x\":[]}}", 4},
    {"missing field", "{\"a\":{\"dtype\":\"F32\",\"shape\":[1]}}", 4},
    {"repeated field", "{\"a\":{\"dtype\":\"F32\",\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}", 4},
    {"three offsets", "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4,8]}}", 8},
    {"too many dims", "{\"a\":{\"dtype\":\"U8\",\"shape\":[1,1,1,1,1,1,1,1,1],\"data_offsets\":[0,1]}}", 1},
    {"wrong dtype size", "{\"a\":{\"dtype\":\"F32\",\"shape\":[2,3],\"data_offsets\":[0,20]}}", 20},
    {"I64 counted as 4 bytes", "{\"a\":{\"dtype\":\"I64\",\"shape\":[2],\"data_offsets\":[0,8]}}", 8},
    {"offsets reversed", "{\"a\":{\"dtype\":\"U8\",\"shape\":[0],\"data_offsets\":[4,0]}}", 4},
    {"offsets out of range", "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}", 4},
    {"overlapping offsets", "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
                            "\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]}}", 12},
    {"gap between tensors", "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},"
                            "\"b\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[8,12]}}", 12},
    {"trailing data bytes", "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}", 8},
    {"duplicate name", "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},"
                       "\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}", 8},
    {"metadata value not a string", "{\"__metadata__\":{\"k\":1}}", 0},
    {"repeated metadata", "{\"__metadata__\":{},\"__metadata__\":{}}", 0},
    {"header length 1", "{", 0},
};

static void expect_fail(const char *path, dann_status want, const char *why) {
    st_file sf;
    dann_error err = {0};
    dann_status s = st_read(&sf, path, &err);
    CHECK(s == want, "%s: got status %d (%s), want %d", why, (int)s, s ? err.msg : "accepted", (int)want);
    CHECK(!s || strstr(err.msg, path), "%s: message does not name the file: %s", why, err.msg);
    CHECK(sf.n == 0 && sf.t == NULL && sf.data == NULL, "%s: st_file not left empty", why);
    if (!s) st_free(&sf);
}

TEST(st_rejects_malformed_headers) {
    char path[512];
    snprintf(path, sizeof path, "%s/bad.safetensors", test_tmpdir());
    for (size_t i = 0; i < sizeof g_bad / sizeof *g_bad; i++) {
        CHECK(write_st(path, g_bad[i].json, g_bad[i].data), "cannot write %s", path);
        expect_fail(path, DANN_ERR_FORMAT, g_bad[i].why);
    }
    /* The same well-formed header is accepted, so the cases above fail for their stated reason. */
    CHECK(write_st(path, "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}   ", 4), "write");
    st_file sf;
    dann_error err = {0};
    CHECK(!st_read(&sf, path, &err), "control case refused: %s", err.msg);
    st_free(&sf);
}

TEST(st_rejects_truncated_and_empty_files) {
    const char *dir = test_tmpdir();
    char path[512];
    size_t n = 0;
    unsigned char *buf = slurp(ST_FIXTURE, &n);
    if (!buf) {
        CHECK(0, "cannot read %s", ST_FIXTURE);
        return;
    }
    snprintf(path, sizeof path, "%s/empty.safetensors", dir);
    CHECK(write_bytes(path, buf, 0), "write");
    expect_fail(path, DANN_ERR_FORMAT, "empty file");
    snprintf(path, sizeof path, "%s/short.safetensors", dir);
    CHECK(write_bytes(path, buf, 5), "write");
    expect_fail(path, DANN_ERR_FORMAT, "5-byte file");
    snprintf(path, sizeof path, "%s/cut.safetensors", dir);
    CHECK(write_bytes(path, buf, n - 1), "write");
    expect_fail(path, DANN_ERR_FORMAT, "file one byte short");
    CHECK(write_bytes(path, buf, 8 + 40), "write");
    expect_fail(path, DANN_ERR_FORMAT, "file cut inside the header");
    unsigned char big[16] = {0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0, '{', '}'};
    snprintf(path, sizeof path, "%s/biglen.safetensors", dir);
    CHECK(write_bytes(path, big, sizeof big), "write");
    expect_fail(path, DANN_ERR_FORMAT, "header length too big");
    snprintf(path, sizeof path, "%s/does-not-exist.safetensors", dir);
    expect_fail(path, DANN_ERR_IO, "missing file");
    /* Every prefix of a valid file is refused, without a crash. */
    int accepted = 0;
    for (size_t k = 0; k < n; k++) {
        st_file sf;
        dann_error err = {0};
        if (!st_parse(&sf, buf, k, "prefix", &err)) { accepted++; st_free(&sf); }
    }
    CHECK(accepted == 0, "%d truncated prefixes accepted", accepted);
    /* Corrupting any header byte never crashes (the result may be valid or not). */
    unsigned char *mut = malloc(n);
    for (size_t k = 0; mut && k < n; k++) {
        static const unsigned char vals[] = {0, '"', '\\', '9', '}', 0xff};
        for (size_t v = 0; v < sizeof vals; v++) {
            st_file sf;
            dann_error err = {0};
            memcpy(mut, buf, n);
            mut[k] = vals[v];
            if (!st_parse(&sf, mut, n, "mutant", &err)) st_free(&sf);
        }
    }
    free(mut);
    free(buf);
}

TEST(st_write_failure_leaves_nothing) {
    char path[512];
    snprintf(path, sizeof path, "%s/no/such/dir/out.safetensors", test_tmpdir());
    float x = 1.0f;
    int64_t shape[1] = {1};
    st_writer w;
    dann_error err = {0};
    st_writer_init(&w);
    CHECK(!st_writer_add(&w, "x", ST_F32, 1, shape, &x, &err), "%s", err.msg);
    CHECK(st_writer_add(&w, "", ST_F32, 1, shape, &x, &err) == DANN_ERR_ARG, "empty name accepted");
    CHECK(st_writer_add(&w, "__metadata__", ST_F32, 1, shape, &x, &err) == DANN_ERR_ARG, "reserved name accepted");
    dann_status s = st_write(&w, path, &err);
    CHECK(s == DANN_ERR_IO && strstr(err.msg, path), "status %d: %s", (int)s, err.msg);
    CHECK(access(path, F_OK) != 0, "output exists after a failed write");
    st_writer_free(&w);
}
