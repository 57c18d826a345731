/* data_testutil.h - helpers for the data tests: write small IDX, PNG, JPEG and archive files.
 * They abort on a failure of the test environment itself (a temporary file that cannot be
 * written), which is not what the tests check. */
#ifndef DANN_DATA_TESTUTIL_H
#define DANN_DATA_TESTUTIL_H

#include <png.h>
#include <stddef.h>
#include <stdint.h>

typedef struct { uint8_t *p; size_t n, cap; } tu_buf;

/* dir/name in one of a few rotating static buffers. */
const char *tu_path(const char *dir, const char *name);
void tu_mkdir(const char *path);
void tu_write(const char *path, const void *p, size_t n);
/* Reads a whole file; returns 0 when it cannot. */
int tu_read(const char *path, tu_buf *b);
void tu_truncate_file(const char *path, long len);
/* An IDX file: big-endian magic and dims, payload, then `trailing` extra bytes; gzip when gz.
 * magic 0 with ndims 0 and no payload writes an empty file. */
void tu_write_idx(const char *path, int gz, uint32_t magic, const uint32_t *dims, int ndims,
                  const uint8_t *payload, size_t len, size_t trailing);
/* Encodes rows of packed samples (libpng's layout for type/depth) as a PNG into b. */
void tu_png_encode(tu_buf *b, int w, int h, int type, int depth, int interlace,
                   const uint8_t *data, const png_color *pal, int npal, const uint8_t *trns,
                   int ntrns);
/* A w x h RGB (c = 3) or grey (c = 1) PNG of one colour, written to path. */
void tu_png_solid(const char *path, int w, int h, int c, const uint8_t *colour);
/* A w x h JPEG of interleaved pixels px (c = 3 RGB or 1 grey), libjpeg's default encoder at
 * `quality`, written to path. */
void tu_jpeg_write(const char *path, int w, int h, int c, const uint8_t *px, int quality);
/* A tar.gz archive: begin, add entries (a NULL data adds a directory), end. */
struct archive *tu_tar_begin(const char *path);
void tu_tar_add(struct archive *a, const char *name, const void *data, size_t len);
void tu_tar_end(struct archive *a);

#endif
