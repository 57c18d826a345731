/* gzsrc.c - an input file read plain or, when it starts with gzip's magic (1f 8b), inflated with
 * zlib as `gzip -d` reads it (concatenated members are one stream), for the readers that accept
 * either (IDX, CSV, svmlight). Stricter than zlib's gzread at the stream's ends: anything after
 * the last member that is not another member is refused ("junk after the gzip stream"; gzread
 * ignores it), and a stream whose end is missing is flagged (gz_src.cut) for the caller to report.
 * The file is opened through file_open_regular (no directory, no FIFO). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "data/gzsrc.h"

#define GZ_IN_BYTES (1 << 16)

void gz_close(gz_src *s) {
    if (s->gz) inflateEnd(&s->zs);
    free(s->in);
    if (s->fd >= 0) close(s->fd);
}

/* Reads up to n raw bytes of the file (fewer only at its end). */
static dann_status raw_read(gz_src *s, uint8_t *dst, size_t n, size_t *got, dann_error *err) {
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

static dann_status refill(gz_src *s, dann_error *err) {
    size_t got;
    dann_status st = raw_read(s, s->in, GZ_IN_BYTES, &got, err);
    if (st) return st;
    s->zs.next_in = s->in;
    s->zs.avail_in = (uInt)got;
    s->in_eof = got == 0;
    return DANN_OK;
}

dann_status gz_open(gz_src *s, const char *path, uint64_t *size, dann_error *err) {
    memset(s, 0, sizeof *s);
    s->path = path;
    dann_status st = file_open_regular(path, &s->fd, size, err);
    if (st) return st;
    uint8_t magic[2];
    size_t got;
    if ((st = raw_read(s, magic, 2, &got, err))) goto fail;
    if (got == 2 && magic[0] == 0x1f && magic[1] == 0x8b) {
        s->gz = 1;
        if (!(s->in = malloc(GZ_IN_BYTES)) || inflateInit2(&s->zs, 16 + MAX_WBITS) != Z_OK) {
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
    gz_close(s);
    s->fd = -1;
    return st;
}

/* After a member's end: another member follows (inflate goes on), the file ends (the data
 * ends), or junk follows (an error). */
static dann_status next_member(gz_src *s, dann_error *err) {
    dann_status st;
    while (s->zs.avail_in < 2 && !s->in_eof) {
        if (s->zs.avail_in == 1) {  // keep the one byte left while reading the next
            s->in[0] = s->zs.next_in[0];
            size_t got;
            if ((st = raw_read(s, s->in + 1, GZ_IN_BYTES - 1, &got, err))) return st;
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

dann_status gz_read(gz_src *s, uint8_t *dst, size_t n, size_t *got, dann_error *err) {
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

dann_status gz_max_bytes(uint64_t *max, dann_error *err) {
    return env_limit("DANN_MAX_GZIP_BYTES", GZ_DEFAULT_MAX_BYTES, max, err);
}
