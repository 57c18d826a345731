/* fuzz_idx.c - libFuzzer target: the IDX readers on arbitrary bytes, plain and gzipped (the
 * input is written to a temporary file, since the readers take a path). */
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

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    char path[64];
    snprintf(path, sizeof path, "/tmp/fuzz-idx-%d", (int)getpid());
    FILE *f = fopen(path, "wb");
    if (!f) return 0;
    fwrite(data, 1, size, f);
    fclose(f);
    run(path);
    /* The same bytes gzipped: exercises the decompressed path with a valid stream. */
    gzFile g = gzopen(path, "wb");
    if (g) {
        if (size) gzwrite(g, data, (unsigned)size);
        gzclose(g);
        run(path);
    }
    unlink(path);
    return 0;
}
