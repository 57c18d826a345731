/* fuzz_png.c - libFuzzer target: png_decode on arbitrary bytes must return a status (and free
 * everything) without crashing; what decodes goes through the resizer.
 *
 * libpng refuses a chunk whose CRC-32 does not match, so most mutations of a seed would stop
 * there, in libpng, before any of png.c's transforms. Each input is therefore decoded twice:
 * as given (the CRC errors reach png.c's error path), and, when some chunk's CRC differs, with
 * every chunk CRC recomputed (as a crafted file would have them), so the fuzzer reaches the
 * header checks, the pixel limit and the colour-type, bit-depth, palette and interlace paths.
 * Seeds: fuzz/corpus/png/ (fuzz/make_corpus.sh). Build and run: make fuzz FUZZ_TARGETS=png. */
#include <stdlib.h>
#include <string.h>
#include <zlib.h>
#include "data/data.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static uint32_t be32(const uint8_t *p) {
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* Recomputes the CRC of every whole chunk after the 8-byte signature; 1 when one changed. */
static int fix_chunk_crcs(uint8_t *b, size_t n) {
    int changed = 0;
    for (size_t off = 8; off + 12 <= n;) {
        const uint32_t len = be32(b + off);
        if (len > n - off - 12) break;
        const uint32_t crc = (uint32_t)crc32(0, b + off + 4, (uInt)len + 4);
        uint8_t *p = b + off + 8 + len;
        if (be32(p) != crc) {
            p[0] = (uint8_t)(crc >> 24), p[1] = (uint8_t)(crc >> 16);
            p[2] = (uint8_t)(crc >> 8), p[3] = (uint8_t)crc;
            changed = 1;
        }
        off += 12 + (size_t)len;
    }
    return changed;
}

static void decode(const uint8_t *data, size_t size) {
    uint8_t *pix;
    int c, h, w;
    dann_error err;
    if (png_decode(data, size, "fuzz.png", &pix, &c, &h, &w, &err) == DANN_OK) {
        /* Exercise the resizer on what was decoded, shrinking and growing. */
        if ((size_t)c * h * w <= (1u << 20)) {
            uint8_t out[3 * 28 * 28];
            resize_bilinear_pil(out, 28, 28, pix, c, h, w);
        }
        free(pix);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    decode(data, size);
    uint8_t *b = malloc(size ? size : 1);
    if (!b) return 0;
    memcpy(b, data, size);
    if (fix_chunk_crcs(b, size)) decode(b, size);
    free(b);
    return 0;
}
