/* fuzz_jpeg.c - libFuzzer target: image_decode (the folders' PNG/JPEG dispatch; JPEG when the
 * bytes start with FF D8 FF) on arbitrary bytes must return a status (and free everything)
 * without crashing or reading out of bounds. Seeds: fuzz/corpus/jpeg (tiny JPEGs made by
 * tools/make_jpeg_fixtures.py). Build and run with make fuzz FUZZ_TARGETS=jpeg. */
#include <stdlib.h>
#include "data/data.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    uint8_t *pix;
    int c, h, w;
    dann_error err;
    if (image_decode(data, size, "fuzz.jpg", &pix, &c, &h, &w, &err) == DANN_OK) {
        /* Exercise the resizer on what was decoded, shrinking and growing. */
        if ((size_t)c * h * w <= (1u << 20)) {
            uint8_t out[3 * 28 * 28];
            resize_bilinear_pil(out, 28, 28, pix, c, h, w);
        }
        free(pix);
    }
    return 0;
}
