/* fuzz_idx.c - libFuzzer target: the IDX readers (images and labels) on arbitrary bytes, as a
 * file (the readers take a path), and on the same bytes gzipped (so the decompressed path sees
 * every mutation through a valid gzip stream; the raw input reaches the gzip checks itself when
 * it starts with 1f 8b: junk after the stream, cut streams, several members). Seeds:
 * fuzz/corpus/idx/. */
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
#include <zlib.h>
#include "data/data.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void run(const char *path) {
    uint8_t *pix;
    int32_t *y;
    int n, r, c;
    dann_error err;
    if (idx_read_images(path, &pix, &n, &r, &c, &err) == DANN_OK) free(pix);
    if (idx_read_labels(path, &y, &n, 10, &err) == DANN_OK) free(y);
}

static void put(const char *path, const uint8_t *p, size_t n) {
    FILE *f = fopen(path, "wb");
    if (!f) return;
    fwrite(p, 1, n, f);
    fclose(f);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    char path[64];
    snprintf(path, sizeof path, "/tmp/fuzz-idx-%d", (int)getpid());
    put(path, data, size);
    run(path);
    /* The same bytes as one gzip member (a small window: cheap to set up for every input). */
    z_stream z = {0};
    size_t cap = size + size / 8 + 128;
    uint8_t *gz = malloc(cap);
    if (gz && deflateInit2(&z, 1, Z_DEFLATED, 16 + 9, 1, Z_DEFAULT_STRATEGY) == Z_OK) {
        z.next_in = (Bytef *)data;
        z.avail_in = (uInt)size;
        z.next_out = gz;
        z.avail_out = (uInt)cap;
        if (deflate(&z, Z_FINISH) == Z_STREAM_END) {
            put(path, gz, cap - z.avail_out);
            run(path);
        }
        deflateEnd(&z);
    }
    free(gz);
    unlink(path);
    return 0;
}
