/* idx.c - MNIST's IDX files, plain or gzipped.
 *
 * Layout (big-endian): images magic 0x00000803, n, rows, cols, then n*rows*cols uint8;
 * labels magic 0x00000801, n, then n uint8. Every file is checked for its magic, non-zero
 * sizes, its full payload (truncation) and nothing after it (trailing bytes); labels for
 * their range. The payload buffer grows as bytes arrive, so a header that claims a huge count
 * costs memory only for the bytes the file really holds. Messages start with the file's path,
 * e.g. "DIR/train-images-idx3-ubyte.gz: truncated: expected 47040000 pixel bytes, got 1234".
 *
 * A file starting with gzip's magic (1f 8b) is inflated with zlib as `gzip -d` does
 * (concatenated members are one stream), with two differences: anything after the last member
 * that is not another member is refused ("junk after the gzip stream"; zlib's gzread ignores
 * it), and so is a stream whose end is missing. A gzip file may decompress to at most
 * DANN_MAX_GZIP_BYTES (default IDX_GZIP_DEFAULT_MAX, 1 GiB: 20 times MNIST's training images),
 * checked against the header before any payload is read: a 3 MB file can claim 3 GiB. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>
#include "data/data.h"

#define IDX_MAGIC_IMAGES 0x00000803u
#define IDX_MAGIC_LABELS 0x00000801u
#define IDX_MAX_SIDE 4096
#define IDX_FIRST_CHUNK ((size_t)1 << 20)
#define IDX_GZIP_DEFAULT_MAX ((uint64_t)1 << 30)
#define IDX_IN_BYTES (1 << 16)

/* An open IDX file: plain bytes, or a gzip stream being inflated. */
typedef struct {
    int fd;
    int gz;              /* gzip (inflating through zs) */
    int in_eof;          /* gz: the file has no more compressed bytes */
    int member_done;     /* gz: the current member ended (Z_STREAM_END) */
    int cut;             /* gz: the file ended inside a member */
    z_stream zs;
    uint8_t *in;         /* gz: IDX_IN_BYTES of compressed input */
    const char *path;
} idx_src;

static void src_close(idx_src *s) {
    if (s->gz) inflateEnd(&s->zs);
    free(s->in);
    if (s->fd >= 0) close(s->fd);
}

/* Reads up to n raw bytes of the file (fewer only at its end). */
static dann_status raw_read(idx_src *s, uint8_t *dst, size_t n, size_t *got, dann_error *err) {
    *got = 0;
    while (*got < n) {
        ssize_t r = read(s->fd, dst + *got, n - *got);
        if (r < 0 && errno == EINTR) continue;
        if (r < 0) return dann_fail(err, DANN_ERR_IO, "%s: read error: %s", s->path, strerror(errno));
        if (r == 0) break;
        *got += (size_t)r;
    }
    return DANN_OK;
}

static dann_status refill(idx_src *s, dann_error *err) {
    size_t got;
    dann_status st = raw_read(s, s->in, IDX_IN_BYTES, &got, err);
    if (st) return st;
    s->zs.next_in = s->in;
    s->zs.avail_in = (uInt)got;
    s->in_eof = got == 0;
    return DANN_OK;
}

static dann_status src_open(idx_src *s, const char *path, dann_error *err) {
    memset(s, 0, sizeof *s);
    s->path = path;
    dann_status st = file_open_regular(path, &s->fd, NULL, err);
    if (st) return st;
    uint8_t magic[2];
    size_t got;
    if ((st = raw_read(s, magic, 2, &got, err))) goto fail;
    if (got == 2 && magic[0] == 0x1f && magic[1] == 0x8b) {
        s->gz = 1;
        if (!(s->in = malloc(IDX_IN_BYTES)) || inflateInit2(&s->zs, 16 + MAX_WBITS) != Z_OK) {
            s->gz = 0;
            st = dann_fail(err, DANN_ERR_NOMEM, "%s: out of memory starting zlib", path);
            goto fail;
        }
        memcpy(s->in, magic, 2);
        s->zs.next_in = s->in;
        s->zs.avail_in = 2;
        return DANN_OK;
    }
    if (lseek(s->fd, 0, SEEK_SET) != 0) {
        st = dann_fail(err, DANN_ERR_IO, "%s: cannot seek: %s", path, strerror(errno));
        goto fail;
    }
    return DANN_OK;
fail:
    src_close(s);
    s->fd = -1;
    return st;
}

/* After a member's end: another member follows (inflate goes on), the file ends (the data
 * ends), or junk follows (an error). */
static dann_status next_member(idx_src *s, dann_error *err) {
    dann_status st;
    while (s->zs.avail_in < 2 && !s->in_eof) {
        if (s->zs.avail_in == 1) {  // keep the one byte left while reading the next
            s->in[0] = s->zs.next_in[0];
            size_t got;
            if ((st = raw_read(s, s->in + 1, IDX_IN_BYTES - 1, &got, err))) return st;
            s->zs.next_in = s->in;
            s->zs.avail_in = 1 + (uInt)got;
            s->in_eof = got == 0;
        } else if ((st = refill(s, err))) {
            return st;
        }
    }
    if (s->zs.avail_in == 0) return DANN_OK;  // the end of the file: done
    if (s->zs.avail_in >= 2 && s->zs.next_in[0] == 0x1f && s->zs.next_in[1] == 0x8b) {
        if (inflateReset(&s->zs) != Z_OK)
            return dann_fail(err, DANN_ERR_FORMAT, "%s: corrupt gzip data", s->path);
        s->member_done = 0;
        return DANN_OK;
    }
    return dann_fail(err, DANN_ERR_FORMAT, "%s: junk after the gzip stream (not another gzip "
                     "member)", s->path);
}

/* Reads up to n bytes of the (decompressed) data into dst, *got of them: fewer only at the
 * end of the data. A gzip stream cut short ends the data too, with s->cut set, so the caller
 * reports truncation. */
static dann_status read_some(idx_src *s, uint8_t *dst, size_t n, size_t *got, dann_error *err) {
    dann_status st;
    if (!s->gz) return raw_read(s, dst, n, got, err);
    *got = 0;
    while (*got < n) {
        if (s->member_done) {
            if ((st = next_member(s, err))) return st;
            if (s->member_done) break;  // no member followed: the end of the data
        }
        if (s->zs.avail_in == 0) {
            if (s->in_eof) {
                s->cut = 1;
                break;
            }
            if ((st = refill(s, err))) return st;
            if (s->in_eof) {
                s->cut = 1;
                break;
            }
        }
        size_t want = n - *got > (1u << 30) ? (1u << 30) : n - *got;
        s->zs.next_out = dst + *got;
        s->zs.avail_out = (uInt)want;
        int r = inflate(&s->zs, Z_NO_FLUSH);
        *got += want - s->zs.avail_out;
        if (r == Z_STREAM_END) s->member_done = 1;
        else if (r == Z_MEM_ERROR)
            return dann_fail(err, DANN_ERR_NOMEM, "%s: out of memory inflating", s->path);
        else if (r != Z_OK && r != Z_BUF_ERROR)
            return dann_fail(err, DANN_ERR_FORMAT, "%s: corrupt gzip data: %s", s->path,
                             s->zs.msg ? s->zs.msg : "inflate failed");
    }
    return DANN_OK;
}

/* The payload limit of a gzip file (checked against what the header claims). */
static dann_status check_gzip_size(const idx_src *s, uint64_t bytes, const char *what,
                                   dann_error *err) {
    uint64_t max;
    dann_status st;
    if (!s->gz) return DANN_OK;
    if ((st = env_limit("DANN_MAX_GZIP_BYTES", IDX_GZIP_DEFAULT_MAX, &max, err))) return st;
    if (bytes > max)
        return dann_fail(err, DANN_ERR_FORMAT, "%s: the header claims %llu %s bytes, more than a "
                         "gzip file may decompress to (%llu; DANN_MAX_GZIP_BYTES raises it)",
                         s->path, (unsigned long long)bytes, what, (unsigned long long)max);
    return DANN_OK;
}

/* Reads a header of `nwords` big-endian uint32s. */
static dann_status read_header(idx_src *gz, uint32_t *words, int nwords, const char *path,
                               const char *what, dann_error *err) {
    uint8_t b[16];
    size_t got;
    dann_status st = read_some(gz, b, (size_t)nwords * 4, &got, err);
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
static dann_status read_payload(idx_src *gz, size_t want, const char *what, const char *path,
                                uint8_t **out, dann_error *err) {
    size_t cap = want < IDX_FIRST_CHUNK ? want : IDX_FIRST_CHUNK, have = 0, r;
    uint8_t *buf = malloc(cap), *grown;
    dann_status st;
    if (!buf) return dann_fail(err, DANN_ERR_NOMEM, "%s: out of memory (%zu bytes)", path, cap);
    for (;;) {
        if ((st = read_some(gz, buf + have, cap - have, &r, err))) goto fail;
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
    if ((st = read_some(gz, extra, sizeof extra, &r, err))) goto fail;
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
    idx_src src, *gz = &src;
    dann_status st = src_open(gz, path, err);
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
    src_close(gz);
    return st;
}

dann_status idx_read_labels(const char *path, int32_t **y, int *n, int n_classes,
                            dann_error *err) {
    uint32_t hd[2];
    uint8_t *raw = NULL;
    idx_src src, *gz = &src;
    dann_status st = src_open(gz, path, err);
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
    src_close(gz);
    return st;
}
