/* ckpt_testutil.c - byte-level helpers for the tests that edit checkpoint files (see
 * ckpt_testutil.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>
#include "ckpt_testutil.h"
#include "io/checkpoint.h"
#include "test.h"

unsigned char *read_all(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    unsigned char *b = malloc(n > 0 ? (size_t)n : 1);
    if (b && fread(b, 1, (size_t)n, f) != (size_t)n) {
        free(b);
        b = NULL;
    }
    fclose(f);
    *len = (size_t)n;
    return b;
}

int write_all(const char *path, const unsigned char *b, size_t len) {
    FILE *f = fopen(path, "wb");
    if (!f) return -1;
    int ok = fwrite(b, 1, len, f) == len;
    return (fclose(f) == 0 && ok) ? 0 : -1;
}

unsigned char *find_bytes(unsigned char *hay, size_t n, const char *needle) {
    size_t k = strlen(needle);
    for (size_t i = 0; i + k <= n; i++)
        if (!memcmp(hay + i, needle, k)) return hay + i;
    return NULL;
}

uint32_t le32(const unsigned char *p) {
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}
uint64_t le64(const unsigned char *p) { return le32(p) | (uint64_t)le32(p + 4) << 32; }
void set_le32(unsigned char *p, uint32_t v) {
    p[0] = (unsigned char)v, p[1] = (unsigned char)(v >> 8), p[2] = (unsigned char)(v >> 16),
    p[3] = (unsigned char)(v >> 24);
}
double f64_at(const unsigned char *p) {
    uint64_t u = le64(p);
    double d;
    memcpy(&d, &u, 8);
    return d;
}
float f32_at(const unsigned char *p) {
    uint32_t u = le32(p);
    float f;
    memcpy(&f, &u, 4);
    return f;
}

/* Recomputes the CRCs after a deliberate edit, so the reader's later checks are reached: the
 * text block's (version 2, with a plausible length), the header's, the whole file's. */
void fix_crcs(unsigned char *b, size_t len) {
    uint32_t T = le32(b + 272);
    if (le32(b + 8) == 2 && T > 0 && 320 + (size_t)T < len) set_le32(b + 276, (uint32_t)crc32(0L, b + 320, T));
    set_le32(b + 316, (uint32_t)crc32(0L, b, 316));
    set_le32(b + len - 4, (uint32_t)crc32(0L, b, (uInt)(len - 4)));
}

/* Writes bytes to path and expects ckpt_load (and, for header problems, ckpt_peek) to fail
 * with status and a one-line message naming path and containing `what`. */
void expect_load_fail(const char *path, const unsigned char *b, size_t len,
                             dann_status status, const char *what, const char *label) {
    if (b && write_all(path, b, len) != 0) {
        CHECK(0, "%s: cannot write %s", label, path);
        return;
    }
    dann_error err = {0};
    dann_model *m = (dann_model *)&err;     /* must be reset to NULL */
    dann_trainer *t = (dann_trainer *)&err;
    ckpt_meta meta;
    dann_status s = ckpt_load(path, 0, &m, &t, &meta, &err);
    CHECK(s == status, "%s: status %d (%s), want %d; message: %s", label, (int)s,
          dann_status_str(s), (int)status, err.msg);
    CHECK(m == NULL && t == NULL, "%s: outputs not NULL after a failure", label);
    CHECK(err.status == s, "%s: err.status %d, returned %d", label, (int)err.status, (int)s);
    CHECK(strstr(err.msg, path) != NULL, "%s: message does not name the file: %s", label, err.msg);
    CHECK(strstr(err.msg, what) != NULL, "%s: message lacks '%s': %s", label, what, err.msg);
    CHECK(strchr(err.msg, '\n') == NULL, "%s: message is not one line: %s", label, err.msg);
}


void set_le64(unsigned char *p, uint64_t v) {
    set_le32(p, (uint32_t)v);
    set_le32(p + 4, (uint32_t)(v >> 32));
}

void set_f32(unsigned char *p, float f) {
    uint32_t u;
    memcpy(&u, &f, 4);
    set_le32(p, u);
}

void set_f64(unsigned char *p, double d) {
    uint64_t u;
    memcpy(&u, &d, 8);
    set_le64(p, u);
}

int ckpt_file_set_kv(const char *path, const char *key, const char *value) {
    size_t len;
    unsigned char *b = read_all(path, &len);
    if (!b || len < 324 || le32(b + 8) != 2) {
        free(b);
        return -1;
    }
    const uint32_t T = le32(b + 272);
    static char text[CKPT_TEXT_MAX + 1], kv[CKPT_KV_MAX];
    if (320 + (size_t)T + 4 > len || T > CKPT_TEXT_MAX) {
        free(b);
        return -1;
    }
    memcpy(text, b + 320, T);
    text[T] = 0;
    char *nl = strchr(text, '\n');
    dann_error err;
    int rc = -1;
    if (nl) {
        snprintf(kv, sizeof kv, "%s", nl + 1);
        nl[1] = 0;
        if (value) rc = ckpt_kv_set(kv, key, value, &err) == DANN_OK ? 0 : -1;
        else {
            // ckpt_kv_set drops the old line and appends "key=x\n": cut that last line off
            rc = ckpt_kv_set(kv, key, "x", &err) == DANN_OK ? 0 : -1;
            if (!rc) kv[strlen(kv) - strlen(key) - 3] = 0;
        }
    }
    if (!rc) {
        const size_t nt = strlen(text) + strlen(kv), rest = len - 320 - T;
        unsigned char *o = malloc(320 + nt + rest);
        memcpy(o, b, 320);
        memcpy(o + 320, text, strlen(text));
        memcpy(o + 320 + strlen(text), kv, strlen(kv));
        memcpy(o + 320 + nt, b + 320 + T, rest);
        set_le32(o + 272, (uint32_t)nt);
        fix_crcs(o, 320 + nt + rest);
        rc = write_all(path, o, 320 + nt + rest);
        free(o);
    }
    free(b);
    return rc;
}
