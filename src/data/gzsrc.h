/* gzsrc.h - private to src/data: an input file read plain or gzip-inflated, with strict stream
 * ends (gzsrc.c). */
#ifndef DANN_DATA_GZSRC_H
#define DANN_DATA_GZSRC_H

#include <stddef.h>
#include <stdint.h>
#include <zlib.h>
#include "core/core.h"

typedef struct {
    int fd;
    int gz;              /* gzip (inflating through zs) */
    int in_eof;          /* gz: the file has no more compressed bytes */
    int member_done;     /* gz: the current member ended (Z_STREAM_END) */
    int cut;             /* gz: the file ended inside a member (a truncated stream) */
    z_stream zs;
    uint8_t *in;         /* gz: compressed input */
    const char *path;    /* for messages; must outlive the gz_src */
} gz_src;

/* Opens path (a regular file; *size, may be NULL, gets its size on disk) and sniffs gzip. On
 * failure nothing is left open. */
dann_status gz_open(gz_src *s, const char *path, uint64_t *size, dann_error *err);
/* Reads up to n bytes of the (decompressed) data into dst, *got of them: fewer only at the end
 * of the data. A gzip stream cut short ends the data too, with s->cut set, so the caller reports
 * truncation; junk after the stream and corrupt data are errors (DANN_ERR_FORMAT). */
dann_status gz_read(gz_src *s, uint8_t *dst, size_t n, size_t *got, dann_error *err);
void gz_close(gz_src *s);
/* The most bytes a gzip input may decompress to: DANN_MAX_GZIP_BYTES, default 1 GiB (20 times
 * MNIST's training images; a 3 MB gzip file can hold 3 GiB of zeros). */
#define GZ_DEFAULT_MAX_BYTES ((uint64_t)1 << 30)
dann_status gz_max_bytes(uint64_t *max, dann_error *err);

#endif
