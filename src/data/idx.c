/* idx.c - MNIST's IDX files, plain or gzipped.
 *
 * Layout (big-endian): images magic 0x00000803, n, rows, cols, then n*rows*cols uint8;
 * labels magic 0x00000801, n, then n uint8. Every file is checked for its magic, non-zero
 * sizes, its full payload (truncation) and nothing after it (trailing bytes); labels for
 * their range. The payload buffer grows as bytes arrive, so a header that claims a huge count
 * costs memory only for the bytes the file really holds. Messages start with the file's path,
 * e.g. "DIR/train-images-idx3-ubyte.gz: truncated: expected 47040000 pixel bytes, got 1234".
 *
 * The file is read plain or gzip-inflated by gzsrc.c (junk after the gzip stream, or a stream
 * whose end is missing, is refused). A gzip file may decompress to at most DANN_MAX_GZIP_BYTES
 * (default 1 GiB), checked against the header before any payload is read: a 3 MB file can claim
 * 3 GiB. */
#include <stdlib.h>
#include <string.h>
#include "data/data.h"
#include "data/gzsrc.h"

#define IDX_MAGIC_IMAGES 0x00000803u
#define IDX_MAGIC_LABELS 0x00000801u
#define IDX_MAX_SIDE 4096
#define IDX_FIRST_CHUNK ((size_t)1 << 20)

/* The payload limit of a gzip file (checked against what the header claims). */
static dann_status check_gzip_size(const gz_src *s, uint64_t bytes, const char *what,
                                   dann_error *err) {
    uint64_t max;
    dann_status st;
    if (!s->gz) return DANN_OK;  // a plain file holds what it claims, or is truncated
    if ((st = gz_max_bytes(&max, err))) return st;
    if (bytes > max)
        return dann_fail(err, DANN_ERR_FORMAT, "%s: the header claims %llu %s bytes, more than a "
                         "gzip file may decompress to (%llu; DANN_MAX_GZIP_BYTES raises it)",
                         s->path, (unsigned long long)bytes, what, (unsigned long long)max);
    return DANN_OK;
}

/* Reads a header of `nwords` big-endian uint32s. */
static dann_status read_header(gz_src *gz, uint32_t *words, int nwords, const char *path,
                               const char *what, dann_error *err) {
    uint8_t b[16];
    size_t got;
    dann_status st = gz_read(gz, b, (size_t)nwords * 4, &got, err);
    if (st) return st;
    if (got == 0) return dann_fail(err, DANN_ERR_FORMAT, "%s: empty file", path);
    if (got < (size_t)nwords * 4)
        return dann_fail(err, DANN_ERR_FORMAT, "%s: truncated %s header: %zu of %zu bytes", path,
                         what, got, (size_t)nwords * 4);
    for (int i = 0; i < nwords; i++)
        words[i] = (uint32_t)b[4 * i] << 24 | (uint32_t)b[4 * i + 1] << 16 |
                   (uint32_t)b[4 * i + 2] << 8 | b[4 * i + 3];
    return DANN_OK;
}

/* Reads exactly `want` payload bytes into a fresh buffer and checks nothing follows. */
static dann_status read_payload(gz_src *gz, size_t want, const char *what, const char *path,
                                uint8_t **out, dann_error *err) {
    size_t cap = want < IDX_FIRST_CHUNK ? want : IDX_FIRST_CHUNK, have = 0, r;
    uint8_t *buf = malloc(cap), *grown;
    dann_status st;
    if (!buf) return dann_fail(err, DANN_ERR_NOMEM, "%s: out of memory (%zu bytes)", path, cap);
    for (;;) {
        if ((st = gz_read(gz, buf + have, cap - have, &r, err))) goto fail;
        have += r;
        if (have < cap || cap == want) break;
        cap = cap > want / 2 ? want : 2 * cap;
        if (!(grown = realloc(buf, cap))) {
            st = dann_fail(err, DANN_ERR_NOMEM, "%s: out of memory (%zu bytes)", path, cap);
            goto fail;
        }
        buf = grown;
    }
    if (have < want) {
        st = dann_fail(err, DANN_ERR_FORMAT, "%s: truncated: expected %zu %s bytes, got %zu", path,
                  want, what, have);
        goto fail;
    }
    uint8_t extra[64];
    if ((st = gz_read(gz, extra, sizeof extra, &r, err))) goto fail;
    if (r > 0) {
        st = dann_fail(err, DANN_ERR_FORMAT, "%s: trailing bytes after the %zu %s bytes", path, want,
                  what);
        goto fail;
    }
    if (gz->cut) {
        st = dann_fail(err, DANN_ERR_FORMAT, "%s: truncated gzip stream (the file ends before "
                       "the stream does)", path);
        goto fail;
    }
    *out = buf;
    return DANN_OK;
fail:
    free(buf);
    return st;
}

dann_status idx_read_images(const char *path, uint8_t **pix, int *n, int *rows, int *cols,
                            dann_error *err) {
    uint32_t hd[4];
    gz_src src, *gz = &src;
    dann_status st = gz_open(gz, path, NULL, err);
    *pix = NULL;
    if (st) return st;
    if ((st = read_header(gz, hd, 4, path, "image", err))) goto done;
    if (hd[0] != IDX_MAGIC_IMAGES) {
        st = dann_fail(err, DANN_ERR_FORMAT, "%s: bad magic 0x%08x (IDX images need 0x%08x)", path,
                       hd[0], IDX_MAGIC_IMAGES);
        goto done;
    }
    if (hd[1] == 0 || hd[1] > INT32_MAX) {
        st = dann_fail(err, DANN_ERR_FORMAT, "%s: bad image count %u", path, hd[1]);
        goto done;
    }
    if (hd[2] == 0 || hd[3] == 0 || hd[2] > IDX_MAX_SIDE || hd[3] > IDX_MAX_SIDE) {
        st = dann_fail(err, DANN_ERR_FORMAT, "%s: bad image size %ux%u (1..%d each)", path, hd[2],
                       hd[3], IDX_MAX_SIDE);
        goto done;
    }
    const uint64_t bytes = (uint64_t)hd[1] * hd[2] * hd[3];
    if ((st = check_gzip_size(gz, bytes, "pixel", err))) goto done;
    if ((st = read_payload(gz, (size_t)bytes, "pixel", path, pix, err))) goto done;
    *n = (int)hd[1];
    *rows = (int)hd[2];
    *cols = (int)hd[3];
done:
    gz_close(gz);
    return st;
}

dann_status idx_read_labels(const char *path, int32_t **y, int *n, int n_classes,
                            dann_error *err) {
    uint32_t hd[2];
    uint8_t *raw = NULL;
    gz_src src, *gz = &src;
    dann_status st = gz_open(gz, path, NULL, err);
    *y = NULL;
    if (st) return st;
    if ((st = read_header(gz, hd, 2, path, "label", err))) goto done;
    if (hd[0] != IDX_MAGIC_LABELS) {
        st = dann_fail(err, DANN_ERR_FORMAT, "%s: bad magic 0x%08x (IDX labels need 0x%08x)", path,
                       hd[0], IDX_MAGIC_LABELS);
        goto done;
    }
    if (hd[1] == 0 || hd[1] > INT32_MAX) {
        st = dann_fail(err, DANN_ERR_FORMAT, "%s: bad label count %u", path, hd[1]);
        goto done;
    }
    if ((st = check_gzip_size(gz, hd[1], "label", err))) goto done;
    if ((st = read_payload(gz, hd[1], "label", path, &raw, err))) goto done;
    for (uint32_t i = 0; i < hd[1]; i++)
        if (n_classes > 0 && raw[i] >= n_classes) {
            st = dann_fail(err, DANN_ERR_FORMAT, "%s: label %u at index %u is out of range [0, %d)",
                           path, raw[i], i, n_classes);
            goto done;
        }
    if (!(*y = malloc(hd[1] * sizeof(int32_t)))) {
        st = dann_fail(err, DANN_ERR_NOMEM, "%s: out of memory (%u labels)", path, hd[1]);
        goto done;
    }
    for (uint32_t i = 0; i < hd[1]; i++) (*y)[i] = raw[i];
    *n = (int)hd[1];
done:
    free(raw);
    gz_close(gz);
    return st;
}
