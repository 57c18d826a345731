/* fuzz_ckpt.c - libFuzzer target: the checkpoint reader (ckpt_peek, then ckpt_load with and
 * without the trainer) on arbitrary bytes, written to a temporary file (the reader takes a path).
 *
 * Random bytes rarely pass three CRC-32s, so most inputs would stop at "checksum mismatch".
 * When the input's first byte is odd, the target first recomputes the header, text-block and
 * file CRCs of the rest (as a crafted file would have them), so the fuzzer reaches the field
 * checks, the network compiler and the payload decoding behind them. Seeds: fuzz/make_corpus.c. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>
#include "dann.h"
#include "io/checkpoint.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static uint32_t get_u32(const uint8_t *p) {
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static void put_u32(uint8_t *p, uint32_t v) {
    for (int i = 0; i < 4; i++) p[i] = (uint8_t)(v >> (8 * i));
}

/* The three checksums of docs/CHECKPOINT.md, made to match the bytes. */
static void fix_crcs(uint8_t *b, size_t n) {
    if (n < CKPT_HEADER_SIZE) return;
    uint32_t text_len = get_u32(b + 272);
    if (text_len <= n - CKPT_HEADER_SIZE)
        put_u32(b + 276, (uint32_t)crc32(0, b + CKPT_HEADER_SIZE, text_len));
    put_u32(b + 316, (uint32_t)crc32(0, b, 316));
    if (n >= CKPT_HEADER_SIZE + 4) put_u32(b + n - 4, (uint32_t)crc32(0, b, (uInt)(n - 4)));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size == 0) return 0;
    char path[64];
    snprintf(path, sizeof path, "/tmp/fuzz-ckpt-%d", (int)getpid());
    uint8_t *b = malloc(size);
    if (!b) return 0;
    memcpy(b, data + 1, size - 1);
    if (data[0] & 1) fix_crcs(b, size - 1);
    FILE *f = fopen(path, "wb");
    if (!f) {
        free(b);
        return 0;
    }
    fwrite(b, 1, size - 1, f);
    fclose(f);
    free(b);

    static ckpt_info info;
    static ckpt_meta meta;
    dann_error err;
    dann_model *m;
    dann_trainer *t;
    ckpt_peek(path, &info, &err);
    if (ckpt_load(path, 4, &m, NULL, &meta, &err) == DANN_OK) dann_model_free(m);
    if (ckpt_load(path, 4, &m, &t, NULL, &err) == DANN_OK) {
        dann_trainer_free(t);
        dann_model_free(m);
    }
    unlink(path);
    return 0;
}
